//! The Backup controller: a kube-runtime `Controller` over Backups that owns their Jobs
//! (backup and clean) and watches the backup Jobs' pods (event-driven: progress needs no
//! periodic resync). Each reconcile observes (Backup, Job, pod), asks [`next_step`] what
//! to do, does it, and repeats until there is nothing left to do now. Every step is
//! idempotent, so a duplicate event, a restart or a leader change repeats nothing
//! harmful.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ListParams;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use tracing::{info, warn};

use super::clean::{self as clean_policy, Next};
use super::cluster::read_cluster;
use super::effects::{
    Created, Transition, create_or_adopt, failed_create, log_tail, record, write_status,
};
use super::gc::{self as gc_guard, as_gc_release};
use super::{Context, Error, JobConflict};
use crate::api::Backup;
use crate::reconcile::clean::{self, Lifecycle};
use crate::reconcile::gc::{self, FinalizerStep};
use crate::reconcile::job::{self, JobContext, LABEL_MANAGED_BY, MANAGED_BY};
use crate::reconcile::status::{self, condition_message};
use crate::reconcile::{Finished, JobView, PodView, Step, argv, defaulted, finish, next_step};
use crate::rules::labels::{LABEL_BACKUP, LABEL_COMPONENT};

/// Steps one reconcile may take before handing back to the controller (each step
/// changes what is observed, so this bounds a reconcile, it does not cap progress).
const MAX_STEPS: usize = 8;
/// Lines of BR's log read when the Job ends; the summary and errors are at the end.
const LOG_TAIL_LINES: i64 = 2000;

/// Labels that select the reconciler's backup Jobs and their pods.
pub fn job_selector() -> String {
    format!("{LABEL_COMPONENT}=backup,{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// Labels that select every Job the reconciler owns: backup and clean Jobs.
pub fn owned_job_selector() -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// The Backup controller: Backups, their Jobs (owned) and the Jobs' pods (by the
/// `tidb.pingcap.com/backup` label). Runs until `stop` completes.
pub async fn controller(
    ctx: Arc<Context>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    concurrency: u16,
) {
    let client = ctx.client.clone();
    let (backups, jobs, pods): (Api<Backup>, Api<Job>, Api<Pod>) = match &ctx.config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client, ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client),
        ),
    };
    Controller::new(backups, watcher::Config::default())
        .owns(
            jobs,
            watcher::Config::default().labels(&owned_job_selector()),
        )
        .watches(
            pods,
            watcher::Config::default().labels(&job_selector()),
            |pod: Pod| {
                let namespace = pod.namespace();
                pod.labels().get(LABEL_BACKUP).map(|name| {
                    ObjectRef::<Backup>::new(name).within(namespace.as_deref().unwrap_or_default())
                })
            },
        )
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "reconcile error");
            }
        })
        .await;
}

/// Reconciles one Backup.
pub async fn reconcile(backup: Arc<Backup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start();
    let namespace = backup.namespace().unwrap_or_default();
    let name = backup.name_any();
    let key = format!("{namespace}/{name}");
    // Boxed: the steps' futures are large, and a reconcile must not depend on the
    // caller's stack size.
    let result = Box::pin(reconcile_steps(&namespace, &name, &ctx)).await;
    match &result {
        Ok(_) => ctx.reset_backoff(&key),
        Err(e) => {
            ctx.metrics.failure(e.metric_label());
            warn!(backup = %key, error = %e, "reconcile failed");
        }
    }
    result
}

/// What [`reconcile`] returns on error: retry with per-Backup exponential back-off.
pub fn error_policy(backup: Arc<Backup>, _error: &Error, ctx: Arc<Context>) -> Action {
    let key = format!(
        "{}/{}",
        backup.namespace().unwrap_or_default(),
        backup.name_any()
    );
    Action::requeue(ctx.next_backoff(&key))
}

async fn reconcile_steps(namespace: &str, name: &str, ctx: &Context) -> Result<Action, Error> {
    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), namespace);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let job_name = job::job_name(name);
    // The cache may lag behind this reconciler's own status writes: act on a fresh read.
    let Some(mut backup) = backups.get_opt(name).await? else {
        return Ok(Action::await_change());
    };
    let mut gc_release_tried = false;
    for _ in 0..MAX_STEPS {
        let lifecycle = clean::lifecycle(&backup);
        if lifecycle == Lifecycle::AddFinalizer {
            backup = clean_policy::add_finalizer(&backups, &backup).await?;
            continue;
        }
        let job = jobs.get_opt(&job_name).await?;
        let job_view = job.as_ref().map(JobView::of);
        let pod = match &job {
            Some(_) => {
                let selector = format!("{LABEL_BACKUP}={name},{LABEL_COMPONENT}=backup");
                let list = pods.list(&ListParams::default().labels(&selector)).await?;
                PodView::newest(&list.items)
            }
            None => None,
        };
        let step = next_step(&backup, job_view.as_ref(), pod.as_ref());
        let gc_step = gc::plan_finalizer(&backup, &step, gc_release_tried);
        if gc_step != FinalizerStep::Keep {
            match Box::pin(gc_guard::finalizer(
                ctx,
                &backups,
                &backup,
                gc_step,
                &mut gc_release_tried,
            ))
            .await?
            {
                Some(updated) => {
                    backup = updated;
                    continue;
                }
                None => return Ok(Action::await_change()),
            }
        }
        let step = match lifecycle {
            Lifecycle::Deleting => {
                match Box::pin(clean_policy::deletion(
                    ctx,
                    &backups,
                    &backup,
                    step,
                    &mut gc_release_tried,
                ))
                .await?
                {
                    Next::Continue(updated) => {
                        backup = *updated;
                        continue;
                    }
                    Next::Return(action) => return Ok(action),
                    Next::Backup(step) => step,
                }
            }
            // Deleted without our finalizer: record how a Job ended, start nothing.
            Lifecycle::Released
                if matches!(
                    step,
                    Step::Prepare | Step::CreateJob | Step::Invalid(_) | Step::Unsupported(_)
                ) =>
            {
                return Ok(Action::await_change());
            }
            _ => step,
        };
        let generation = backup.metadata.generation;
        let now = ctx.now();
        match step {
            Step::Done | Step::Wait => return Ok(Action::await_change()),
            Step::Invalid(errors) => {
                let mut status = backup.status.clone().unwrap_or_default();
                status::invalid(&mut status, &errors, generation, now);
                let message = condition_message(&status, status::INVALID);
                backup = write_status(&backups, name, &status).await?;
                ctx.transition(
                    &backup,
                    status::INVALID,
                    EventType::Warning,
                    "InvalidSpec",
                    &message,
                )
                .await;
                return Ok(Action::await_change());
            }
            Step::Unsupported(unsupported) => {
                let mut status = backup.status.clone().unwrap_or_default();
                status::unsupported(&mut status, &unsupported, generation, now);
                backup = write_status(&backups, name, &status).await?;
                ctx.transition(
                    &backup,
                    status::UNSUPPORTED,
                    EventType::Warning,
                    unsupported.reason,
                    &unsupported.message,
                )
                .await;
                return Ok(Action::await_change());
            }
            Step::Prepare => backup = Box::pin(prepare(&backups, backup, ctx)).await?,
            Step::CreateJob => {
                Box::pin(create_job(&jobs, &backup, ctx)).await?;
            }
            Step::JobConflict { owner } => {
                let conflict = JobConflict {
                    namespace: namespace.to_owned(),
                    job: job_name.clone(),
                    owner,
                };
                let message = conflict.to_string();
                let status = backup.status.clone().unwrap_or_default();
                if !status::reports(&status, status::RETRY_FAILED, "JobConflict", &message) {
                    let transition = Transition {
                        condition: status::RETRY_FAILED,
                        reason: "JobConflict",
                        message: &message,
                        event: EventType::Warning,
                        event_reason: "JobConflict",
                    };
                    record(ctx, &backups, &backup, status, &transition, now).await?;
                }
                return Err(conflict.into());
            }
            Step::MarkScheduled => {
                let mut status = backup.status.clone().unwrap_or_default();
                let message = format!("created Job {namespace}/{job_name}");
                status::recovered(&mut status, generation, now);
                let transition = Transition {
                    condition: status::SCHEDULED,
                    reason: "JobCreated",
                    message: &message,
                    event: EventType::Normal,
                    event_reason: "SuccessfulCreate",
                };
                backup = record(ctx, &backups, &backup, status, &transition, now).await?;
            }
            Step::MarkRunning { started } => {
                let mut status = backup.status.clone().unwrap_or_default();
                status.time_started = Some(Time(started));
                let pod_name = pod.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
                let message = format!("BR is running in pod {pod_name}");
                let transition = Transition {
                    condition: status::RUNNING,
                    reason: "PodRunning",
                    message: &message,
                    event: EventType::Normal,
                    event_reason: "Running",
                };
                backup = record(ctx, &backups, &backup, status, &transition, now).await?;
            }
            Step::Finish(outcome) => {
                let log = match &pod {
                    Some(pod) => log_tail(&pods, &pod.name, job::CONTAINER, LOG_TAIL_LINES).await,
                    None => None,
                };
                let started = pod
                    .as_ref()
                    .and_then(|p| p.started)
                    .or(job_view.as_ref().and_then(|j| j.started));
                let released = Box::pin(gc_guard::release_for_backup(&backup, ctx)).await;
                let finished = Finished {
                    outcome: &outcome,
                    job_name: &job_name,
                    log: log.as_deref(),
                    started,
                    gc: as_gc_release(&released),
                    generation,
                    now,
                };
                let status = finish(backup.status.as_ref(), &finished);
                backup = write_status(&backups, name, &status).await?;
                if let Ok(Some(record)) = &released {
                    gc_guard::announce_release(ctx, &backup, record).await;
                }
                let (condition, type_, reason) = if status::is_true(Some(&status), status::FAILED) {
                    (status::FAILED, EventType::Warning, "Failed")
                } else {
                    (status::COMPLETE, EventType::Normal, "Complete")
                };
                let message = condition_message(&status, condition);
                ctx.transition(&backup, condition, type_, reason, &message)
                    .await;
                if released.is_err() {
                    return Ok(Action::requeue(
                        ctx.next_backoff(&format!("{namespace}/{name}")),
                    ));
                }
            }
            Step::RetryRelease => {
                match Box::pin(gc_guard::release_for_backup(&backup, ctx)).await? {
                    Some(record) => {
                        backup = gc_guard::record_release(ctx, &backups, &backup, record).await?;
                    }
                    None => return Ok(Action::await_change()),
                }
            }
        }
    }
    // More to do: come back soon rather than loop here.
    Ok(Action::requeue(Duration::from_secs(1)))
}

/// Holds the GC life time when `spec.from` is set, then records `Prepare` with the
/// backup path. Failures are recorded as `RetryFailed` and retried with back-off.
async fn prepare(backups: &Api<Backup>, backup: Backup, ctx: &Context) -> Result<Backup, Error> {
    let spec = defaulted(&backup).spec;
    let generation = backup.metadata.generation;
    let backup_path = argv::remote_path(&spec).map_err(Error::Plan)?;
    let mut backup = backup;
    let mut message = format!("backup path {backup_path}");
    if spec.from.is_some() {
        let (held, note) =
            Box::pin(gc_guard::hold_for_backup(ctx, backups, backup, ctx.now())).await?;
        backup = held;
        message.push_str("; ");
        message.push_str(&note);
    }
    let mut status = backup.status.clone().unwrap_or_default();
    status.backup_path = backup_path;
    // A transient failure before is over now.
    status::recovered(&mut status, generation, ctx.now());
    let transition = Transition {
        condition: status::PREPARE,
        reason: "Prepared",
        message: &message,
        event: EventType::Normal,
        event_reason: "Prepared",
    };
    Ok(record(ctx, backups, &backup, status, &transition, ctx.now()).await?)
}

/// Creates the Job; one that already exists (an earlier attempt, another leader) counts.
async fn create_job(jobs: &Api<Job>, backup: &Backup, ctx: &Context) -> Result<(), Error> {
    let cluster = read_cluster(ctx, backup).await;
    let job = job::backup_job(
        &defaulted(backup),
        &JobContext {
            cluster: cluster.as_ref(),
            default_br_image: &ctx.config.default_br_image,
            tz: ctx.config.tz.as_deref(),
        },
    )
    .map_err(Error::Plan)?;
    match create_or_adopt(jobs, &job).await {
        Ok(Created::New) => {
            info!(backup = %backup.name_any(), job = %job.name_any(), "created the backup Job");
            Ok(())
        }
        Ok(Created::Existing) => Ok(()),
        Err(e) => {
            let what = format!("Job {}", job.name_any());
            Err(failed_create(ctx, backup, &what, e).await.into())
        }
    }
}
