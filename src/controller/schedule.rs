//! The BackupSchedule reconcile: read the schedule and its Backups fresh, ask
//! [`schedule::plan`] what to do, create the tick's Backup, delete what retention
//! expires, write the status, and come back at the next fire time (or expiry).
//!
//! Creating the tick's Backup is idempotent (its name is derived from the tick, and an
//! existing one counts as created), so duplicate events, restarts and leader changes never
//! create a second Backup for one tick.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{DeleteParams, ListParams, Preconditions};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn};

use super::effects::{Created, create_or_adopt, failed_create, write_status};
use super::{Context, Error};
use crate::api::{Backup, BackupSchedule, BackupScheduleStatus};
use crate::reconcile::schedule::{self, LABEL_SCHEDULE, Plan};

/// Longest requeue: far ticks (`@yearly`) are re-checked hourly, which also bounds the
/// effect of a wall-clock jump, and stays within the scheduler's timer range (~2 years).
pub const MAX_REQUEUE: Duration = Duration::from_secs(3600);

/// The BackupSchedule controller: schedules, and the Backups labelled with a schedule's
/// name (a Backup finishing unblocks the next tick). Runs until `stop` completes.
pub async fn controller(
    ctx: Arc<Context>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    concurrency: u16,
) {
    let client = ctx.client.clone();
    let (schedules, backups): (Api<BackupSchedule>, Api<Backup>) = match &ctx.config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client, ns),
        ),
        None => (Api::all(client.clone()), Api::all(client)),
    };
    Controller::new(schedules, watcher::Config::default())
        .watches(
            backups,
            watcher::Config::default().labels(LABEL_SCHEDULE),
            |backup: Backup| {
                let namespace = backup.namespace();
                backup.labels().get(LABEL_SCHEDULE).map(|name| {
                    ObjectRef::<BackupSchedule>::new(name)
                        .within(namespace.as_deref().unwrap_or_default())
                })
            },
        )
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "schedule reconcile error");
            }
        })
        .await;
}

fn key(schedule: &BackupSchedule) -> String {
    // Prefixed: a Backup may share the schedule's namespace and name.
    format!(
        "backupschedule/{}/{}",
        schedule.namespace().unwrap_or_default(),
        schedule.name_any()
    )
}

/// Reconciles one BackupSchedule.
pub async fn reconcile(schedule: Arc<BackupSchedule>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start();
    let namespace = schedule.namespace().unwrap_or_default();
    let name = schedule.name_any();
    let result = Box::pin(reconcile_once(&namespace, &name, &ctx)).await;
    match &result {
        Ok(_) => ctx.reset_backoff(&key(&schedule)),
        Err(e) => {
            ctx.metrics.failure(e.metric_label());
            warn!(schedule = %format!("{namespace}/{name}"), error = %e, "schedule reconcile failed");
        }
    }
    result
}

/// What [`reconcile`] returns on error: retry with per-schedule exponential back-off.
pub fn error_policy(schedule: Arc<BackupSchedule>, _error: &Error, ctx: Arc<Context>) -> Action {
    Action::requeue(ctx.next_backoff(&key(&schedule)))
}

async fn reconcile_once(namespace: &str, name: &str, ctx: &Context) -> Result<Action, Error> {
    let schedules: Api<BackupSchedule> = Api::namespaced(ctx.client.clone(), namespace);
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), namespace);
    // The cache may lag behind this controller's own status writes: act on a fresh read.
    let Some(schedule) = schedules.get_opt(name).await? else {
        return Ok(Action::await_change());
    };
    if schedule.metadata.deletion_timestamp.is_some() {
        // Its Backups go with it (owner references); nothing new may start.
        return Ok(Action::await_change());
    }
    let owned = backups
        .list(&ListParams::default().labels(&format!("{LABEL_SCHEDULE}={name}")))
        .await?
        .items;
    let now = ctx.now();
    let plan = schedule::plan(&schedule, &owned, now, &ctx.timezone);
    Box::pin(execute(&schedules, &backups, &schedule, &plan, ctx)).await?;
    Ok(match plan.requeue_at {
        Some(at) => Action::requeue(requeue_after(now, at)),
        None => Action::await_change(),
    })
}

/// How long until `at`, at least a millisecond and at most [`MAX_REQUEUE`].
pub fn requeue_after(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now))
        .unwrap_or_default()
        .clamp(Duration::from_millis(1), MAX_REQUEUE)
}

/// Creates, deletes and writes the status as planned. A failed creation stops the round
/// (the status must not claim a Backup that does not exist); a failed deletion is
/// reported after the status is written.
async fn execute(
    schedules: &Api<BackupSchedule>,
    backups: &Api<Backup>,
    schedule: &BackupSchedule,
    plan: &Plan,
    ctx: &Context,
) -> Result<(), Error> {
    let namespace = schedule.namespace().unwrap_or_default();
    if let Some(backup) = &plan.create {
        let backup_name = backup.name_any();
        let tick = plan
            .status
            .last_backup_time
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default();
        match create_or_adopt(backups, backup).await {
            Ok(Created::New) => {
                ctx.metrics.scheduled.inc();
                ctx.metrics.missed_ticks.inc_by(plan.missed_ticks);
                info!(schedule = %schedule.name_any(), backup = %backup_name, %tick, "created the scheduled Backup");
                ctx.publish(
                    &schedule.object_ref(&()),
                    Some(backup.object_ref(&())),
                    "Reconcile",
                    EventType::Normal,
                    "SuccessfulCreate",
                    &format!("created Backup {namespace}/{backup_name} for the tick at {tick}"),
                )
                .await;
            }
            // An earlier attempt or another leader created it: the tick is done.
            Ok(Created::Existing) => {}
            Err(e) => {
                let what = format!("Backup {namespace}/{backup_name}");
                return Err(failed_create(ctx, schedule, &what, e).await.into());
            }
        }
    }

    let mut failed = None;
    for deletion in &plan.delete {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: deletion.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let related = ObjectReference {
            api_version: Some(Backup::api_version(&()).into_owned()),
            kind: Some(Backup::kind(&()).into_owned()),
            namespace: Some(namespace.clone()),
            name: Some(deletion.name.clone()),
            uid: deletion.uid.clone(),
            ..ObjectReference::default()
        };
        match backups.delete(&deletion.name, &params).await {
            Ok(_) => {
                ctx.metrics.expired.inc();
                ctx.publish(
                    &schedule.object_ref(&()),
                    Some(related),
                    "Reconcile",
                    EventType::Normal,
                    "SuccessfulDelete",
                    &format!(
                        "deleted Backup {namespace}/{}: {}",
                        deletion.name, deletion.reason
                    ),
                )
                .await;
            }
            // Gone already, or replaced by a namesake that is not the one judged expired.
            Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => {}
            Err(e) => {
                ctx.publish(
                    &schedule.object_ref(&()),
                    Some(related),
                    "Reconcile",
                    EventType::Warning,
                    "FailedDelete",
                    &format!("cannot delete Backup {namespace}/{}: {e}", deletion.name),
                )
                .await;
                failed.get_or_insert(e);
            }
        }
    }

    let before = schedule.status.clone().unwrap_or_default();
    if plan.status != before {
        let written = write_status(schedules, &schedule.name_any(), &plan.status).await?;
        announce_conditions(ctx, &written, &before, &plan.status).await;
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// An Event for each condition that just turned `True` (Invalid, Unsupported, Paused,
/// Blocked).
async fn announce_conditions(
    ctx: &Context,
    schedule: &BackupSchedule,
    before: &BackupScheduleStatus,
    after: &BackupScheduleStatus,
) {
    for condition in after.conditions.iter().filter(|c| c.status == "True") {
        let was_true = before
            .conditions
            .iter()
            .any(|c| c.type_ == condition.type_ && c.status == "True");
        if was_true {
            continue;
        }
        let type_ =
            if condition.type_ == schedule::INVALID || condition.type_ == schedule::UNSUPPORTED {
                EventType::Warning
            } else {
                EventType::Normal
            };
        ctx.event(schedule, type_, &condition.reason, &condition.message)
            .await;
    }
}
