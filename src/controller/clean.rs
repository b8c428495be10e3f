//! cleanPolicy's IO around [`crate::reconcile::clean`]: the finalizer, the clean Job,
//! its outcome as `Clean`/`CleanFailed`, and the namespace-terminating way out. The GC
//! release on deletion is shared with the GC-lifetime finalizer
//! ([`super::gc::release_on_deletion`]).

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn};

use super::effects::{
    Transition, create_or_adopt, failed_create, pod_log_tail, record, set_finalizer, write_status,
};
use super::gc::release_on_deletion;
use super::{Context, Error, JobConflict};
use crate::api::Backup;
use crate::reconcile::clean::{
    self, CLEAN, CLEAN_FAILED, CleanJobContext, DeletionStep, FINALIZER, NAMESPACE_TERMINATING,
    NAMESPACE_TERMINATING_CAUSE,
};
use crate::reconcile::status::{self, set_condition_status};
use crate::reconcile::{JobView, Step, defaulted};
use crate::rules::labels::{LABEL_BACKUP, LABEL_COMPONENT};

/// Lines of the runner's log read when its Job failed (its reason is the last line).
const LOG_TAIL_LINES: i64 = 50;

/// What the Backup reconcile does after a deletion step.
pub enum Next {
    /// Observe again (the Backup as last written).
    Continue(Box<Backup>),
    /// Stop this reconcile.
    Return(Action),
    /// Run this backup step the usual way (the Backup's Job ended or progressed).
    Backup(Step),
}

/// Adds the finalizer, guarded by the resourceVersion read (a concurrent change makes
/// the patch fail with a conflict, and the reconcile is retried on a fresh read).
pub async fn add_finalizer(backups: &Api<Backup>, backup: &Backup) -> Result<Backup, Error> {
    Ok(set_finalizer(backups, backup, FINALIZER, true).await?)
}

async fn remove_finalizer(backups: &Api<Backup>, backup: &Backup) -> Result<(), Error> {
    set_finalizer(backups, backup, FINALIZER, false).await?;
    Ok(())
}

/// One step for a Backup being deleted with our finalizer. `backup_step` is what
/// [`crate::reconcile::next_step`] said for its Job and pod.
pub async fn deletion(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    backup_step: Step,
    gc_release_tried: &mut bool,
) -> Result<Next, Error> {
    let namespace = backup.namespace().unwrap_or_default();
    let name = backup.name_any();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    let job_name = clean::clean_job_name(&name);
    let clean_job = jobs.get_opt(&job_name).await?;
    let clean_view = clean_job.as_ref().map(JobView::of);
    let step = clean::plan_deletion(backup, backup_step, clean_view.as_ref(), *gc_release_tried);
    let generation = backup.metadata.generation;
    let now = ctx.now();
    let path = clean::data_path(backup);
    match step {
        DeletionStep::Backup(step) => Ok(Next::Backup(step)),
        DeletionStep::WaitForBackupJob => {
            info!(backup = %format!("{namespace}/{name}"), "deleted while its backup Job runs: cleaning waits for the Job to end");
            Ok(Next::Return(Action::await_change()))
        }
        DeletionStep::ReleaseGc => {
            let updated =
                Box::pin(release_on_deletion(ctx, backups, backup, gc_release_tried)).await?;
            Ok(Next::Continue(Box::new(updated)))
        }
        DeletionStep::Retain { reason } => {
            let message = format!("{reason}: the backup data at {path} is kept");
            ctx.event(backup, EventType::Normal, "DataRetained", &message)
                .await;
            remove_finalizer(backups, backup).await?;
            Ok(Next::Return(Action::await_change()))
        }
        DeletionStep::NothingToClean { reason } => {
            let message = format!("nothing to delete: {reason}");
            let transition = Transition {
                condition: CLEAN,
                reason: "NothingToClean",
                message: &message,
                event: EventType::Normal,
                event_reason: "Cleaned",
            };
            let status = backup.status.clone().unwrap_or_default();
            let updated = record(ctx, backups, backup, status, &transition, now).await?;
            remove_finalizer(backups, &updated).await?;
            Ok(Next::Return(Action::await_change()))
        }
        DeletionStep::Unsupported { message } => {
            let transition = Transition {
                condition: CLEAN_FAILED,
                reason: "UnsupportedStorage",
                message: &message,
                event: EventType::Warning,
                event_reason: "UnsupportedStorage",
            };
            let status = backup.status.clone().unwrap_or_default();
            let updated = record(ctx, backups, backup, status, &transition, now).await?;
            remove_finalizer(backups, &updated).await?;
            Ok(Next::Return(Action::await_change()))
        }
        DeletionStep::CreateCleanJob => {
            let job = clean::clean_job(
                &defaulted(backup),
                &CleanJobContext {
                    runner_image: &ctx.config.runner_image,
                    tz: ctx.config.tz.as_deref(),
                },
            )
            .map_err(Error::Plan)?;
            match create_or_adopt(&jobs, &job).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if namespace_terminating(&status) => {
                    return namespace_is_terminating(ctx, backups, backup, &job_name).await;
                }
                Err(e) => {
                    let what = format!("Job {job_name}");
                    return Err(failed_create(ctx, backup, &what, e).await.into());
                }
            }
            let message = format!("created Job {namespace}/{job_name} to delete {path}");
            let mut status = backup.status.clone().unwrap_or_default();
            set_condition_status(
                &mut status,
                CLEAN,
                "False",
                "CleanJobCreated",
                &message,
                generation,
                now,
            );
            let updated = write_status(backups, &name, &status).await?;
            ctx.event(&updated, EventType::Normal, "CleanJobCreated", &message)
                .await;
            Ok(Next::Continue(Box::new(updated)))
        }
        DeletionStep::CleanJobConflict { owner } => {
            let conflict = JobConflict {
                namespace,
                job: job_name,
                owner,
            };
            ctx.event(
                backup,
                EventType::Warning,
                "JobConflict",
                &conflict.to_string(),
            )
            .await;
            Err(conflict.into())
        }
        DeletionStep::WaitForCleanJob => Ok(Next::Return(Action::await_change())),
        DeletionStep::Cleaned => {
            let message = format!("Job {namespace}/{job_name} deleted the backup data at {path}");
            let mut status = backup.status.clone().unwrap_or_default();
            if status::is_true(Some(&status), CLEAN_FAILED) {
                set_condition_status(
                    &mut status,
                    CLEAN_FAILED,
                    "False",
                    "Recovered",
                    "",
                    generation,
                    now,
                );
            }
            let transition = Transition {
                condition: CLEAN,
                reason: "BackupDataDeleted",
                message: &message,
                event: EventType::Normal,
                event_reason: "Cleaned",
            };
            let updated = record(ctx, backups, backup, status, &transition, now).await?;
            remove_finalizer(backups, &updated).await?;
            Ok(Next::Return(Action::await_change()))
        }
        DeletionStep::CleanJobFailed { refused, message } => {
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
            let selector = format!("{LABEL_BACKUP}={name},{LABEL_COMPONENT}=clean");
            let log = pod_log_tail(&pods, &selector, clean::CONTAINER, LOG_TAIL_LINES).await;
            let text = clean::clean_failed_message(backup, &job_name, &message, log.as_deref());
            let reason = if refused {
                "CleanRefused"
            } else {
                "CleanBackupDataFailed"
            };
            let status = backup.status.clone().unwrap_or_default();
            if !status::reports(&status, CLEAN_FAILED, reason, &text) {
                let transition = Transition {
                    condition: CLEAN_FAILED,
                    reason,
                    message: &text,
                    event: EventType::Warning,
                    event_reason: reason,
                };
                record(ctx, backups, backup, status, &transition, now).await?;
            }
            // The finalizer stays: the data is still there.
            Ok(Next::Return(Action::await_change()))
        }
        DeletionStep::RemoveFinalizer => {
            remove_finalizer(backups, backup).await?;
            Ok(Next::Return(Action::await_change()))
        }
    }
}

/// Whether the apiserver refused a create because the namespace is being deleted
/// (NamespaceLifecycle: 403 Forbidden with cause `NamespaceTerminating`).
pub fn namespace_terminating(status: &kube::core::Status) -> bool {
    status.code == 403
        && status.details.as_ref().is_some_and(|d| {
            d.causes
                .iter()
                .any(|c| c.reason == NAMESPACE_TERMINATING_CAUSE)
        })
}

/// The namespace is going away: record `CleanFailed` naming the data left behind,
/// announce it where it can still be seen, and release the finalizer so the namespace
/// can finish deleting.
async fn namespace_is_terminating(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    job_name: &str,
) -> Result<Next, Error> {
    let namespace = backup.namespace().unwrap_or_default();
    let name = backup.name_any();
    let message = clean::namespace_terminating_message(backup, &namespace, job_name);
    warn!(backup = %format!("{namespace}/{name}"), data = %clean::data_path(backup), "{message}");
    let transition = Transition {
        condition: CLEAN_FAILED,
        reason: NAMESPACE_TERMINATING,
        message: &message,
        event: EventType::Warning,
        event_reason: NAMESPACE_TERMINATING,
    };
    // Updates are still allowed in a terminating namespace; creates (events too) are not.
    let status = backup.status.clone().unwrap_or_default();
    let updated = record(ctx, backups, backup, status, &transition, ctx.now()).await?;
    // The Backup's own namespace refuses new events; the Namespace's go to `default`,
    // one per Backup (its related object).
    let note = format!("Backup {namespace}/{name}: {message}");
    let regarding = ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Namespace".to_owned()),
        name: Some(namespace.clone()),
        ..ObjectReference::default()
    };
    ctx.publish(
        &regarding,
        Some(backup.object_ref(&())),
        "Clean",
        EventType::Warning,
        "BackupDataRetained",
        &note,
    )
    .await;
    remove_finalizer(backups, &updated).await?;
    Ok(Next::Return(Action::await_change()))
}
