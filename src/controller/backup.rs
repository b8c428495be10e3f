//! The Backup reconcile: observe (Backup, Job, pod), ask [`next_step`] what to do, do it,
//! and repeat until there is nothing left to do now. Every step is idempotent, so a
//! duplicate event, a restart or a leader change repeats nothing harmful.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{
    ApiResource, DynamicObject, ListParams, LogParams, Patch, PatchParams, PostParams,
};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::clean::Next;
use super::guard;
use super::tidb::{Endpoint, GcLifeTime, TlsMaterial};
use super::{Context, Error, write_status};
use crate::api::{Backup, BackupStatus, GcLifeTimeStatus};
use crate::reconcile::clean::{self, Lifecycle};
use crate::reconcile::gc::{self, FinalizerStep};
use crate::reconcile::job::{self, ClusterInfo, JobContext};
use crate::reconcile::status::{self, condition_message, set_condition};
use crate::reconcile::{
    FIELD_MANAGER, Finished, GcRelease, JobView, PodView, Step, argv, defaulted, finalizers_with,
    finish, next_step,
};

/// Steps one reconcile may take before handing back to the controller (each step
/// changes what is observed, so this bounds a reconcile, it does not cap progress).
const MAX_STEPS: usize = 8;
/// Lines of BR's log read when the Job ends; the summary and errors are at the end.
const LOG_TAIL_LINES: i64 = 2000;

/// The TidbCluster resource (read as a dynamic object: only a few fields matter).
pub fn tidbcluster_resource() -> ApiResource {
    ApiResource {
        group: "pingcap.com".into(),
        version: "v1alpha1".into(),
        api_version: "pingcap.com/v1alpha1".into(),
        kind: "TidbCluster".into(),
        plural: "tidbclusters".into(),
    }
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
            backup = super::clean::add_finalizer(&backups, &backup).await?;
            continue;
        }
        let job = jobs.get_opt(&job_name).await?;
        let job_view = job.as_ref().map(JobView::of);
        let pod = match &job {
            Some(_) => {
                let selector = format!(
                    "{}={name},{}=backup",
                    job::LABEL_BACKUP,
                    job::LABEL_COMPONENT
                );
                let list = pods.list(&ListParams::default().labels(&selector)).await?;
                PodView::newest(&list.items)
            }
            None => None,
        };
        let step = next_step(&backup, job_view.as_ref(), pod.as_ref());
        let gc_step = gc::plan_finalizer(&backup, &step, gc_release_tried);
        if gc_step != FinalizerStep::Keep {
            match Box::pin(gc_finalizer(
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
                match Box::pin(super::clean::deletion(
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
                if matches!(step, Step::Prepare | Step::CreateJob | Step::Invalid(_)) =>
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
            Step::Prepare => backup = Box::pin(prepare(&backups, backup, ctx)).await?,
            Step::CreateJob => {
                Box::pin(create_job(&jobs, &backup, ctx)).await?;
            }
            Step::JobConflict { owner } => {
                let message = format!(
                    "Job {namespace}/{job_name} exists but is not owned by this Backup (owner uid {}); waiting for it to be garbage-collected or deleted",
                    owner.as_deref().unwrap_or("none")
                );
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
                return Err(Error::JobConflict(message));
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
                    Some(pod) => read_log(&pods, &pod.name).await,
                    None => None,
                };
                let started = pod
                    .as_ref()
                    .and_then(|p| p.started)
                    .or(job_view.as_ref().and_then(|j| j.started));
                let gc = Box::pin(release_gc(&backup, ctx)).await;
                let finished = Finished {
                    outcome: &outcome,
                    job_name: &job_name,
                    log: log.as_deref(),
                    started,
                    gc: gc.clone(),
                    generation,
                    now,
                };
                let status = finish(backup.status.as_ref(), &finished);
                backup = write_status(&backups, name, &status).await?;
                announce_release(ctx, &backup, &gc).await;
                let (condition, type_, reason) = if status::is_true(Some(&status), status::FAILED) {
                    (status::FAILED, EventType::Warning, "Failed")
                } else {
                    (status::COMPLETE, EventType::Normal, "Complete")
                };
                let message = condition_message(&status, condition);
                ctx.transition(&backup, condition, type_, reason, &message)
                    .await;
                if matches!(gc, GcRelease::RestoreFailed(_)) {
                    return Ok(Action::requeue(
                        ctx.next_backoff(&format!("{namespace}/{name}")),
                    ));
                }
            }
            Step::RetryRelease => {
                let gc = Box::pin(release_gc(&backup, ctx)).await;
                match &gc {
                    GcRelease::Released(record) => {
                        let mut status = backup.status.clone().unwrap_or_default();
                        status.tikv_gc_life_time = Some(record.clone());
                        backup = write_status(&backups, name, &status).await?;
                        announce_release(ctx, &backup, &gc).await;
                    }
                    GcRelease::RestoreFailed(message) => {
                        return Err(Error::GcRestore(message.clone()));
                    }
                    GcRelease::NotHeld => return Ok(Action::await_change()),
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
    let name = backup.name_any();
    let spec = defaulted(&backup).spec;
    let generation = backup.metadata.generation;
    let backup_path = match argv::remote_path(&spec) {
        Ok(path) => path,
        Err(e) => return Err(Error::Plan(e)),
    };
    let mut backup = backup;
    let mut message = format!("backup path {backup_path}");
    if spec.from.is_some() {
        let cluster = cluster_key(&backup);
        let lock = ctx.cluster_lock(&cluster);
        let _serialised = lock.lock().await;
        let held = async {
            let holders = other_holders(ctx, &backup, &cluster).await?;
            let endpoint = endpoint(ctx, &backup).await?;
            let mut sql = GcLifeTime::connect(&endpoint).await?;
            let existing = backup
                .status
                .as_ref()
                .and_then(|s| s.tikv_gc_life_time.clone());
            let desired = spec.tikv_gc_life_time.clone().unwrap_or_default();
            let mut recorded: Option<Backup> = None;
            let result = guard::hold(
                &mut sql,
                &cluster,
                &desired,
                existing.as_ref(),
                &holders,
                async |record: GcLifeTimeStatus| -> Result<(), kube::Error> {
                    // The record must not vanish with the Backup: protect it first.
                    if gc::protects(&record) && !gc::has_finalizer(&backup) {
                        set_finalizer(backups, &backup, gc::FINALIZER, true).await?;
                    }
                    let mut status = backup.status.clone().unwrap_or_default();
                    status.tikv_gc_life_time = Some(record);
                    recorded = Some(write_status(backups, &name, &status).await?);
                    Ok(())
                },
            )
            .await;
            sql.close().await;
            Ok::<_, Error>((result?, recorded))
        }
        .await;
        match held {
            Ok((held, recorded)) => {
                if let Some(updated) = recorded {
                    backup = updated;
                }
                let record = &held.record;
                let note = match &held.raised {
                    Some(value) => format!(
                        "raised {} of cluster {cluster} from {:?} to {value:?} ({:?} is restored after the backup)",
                        gc::GC_VARIABLE,
                        held.current,
                        record.original
                    ),
                    None if record.state == gc::HOLDING => format!(
                        "holding {} of cluster {cluster} at {:?} with the other running backups (original {:?})",
                        gc::GC_VARIABLE,
                        record.held,
                        record.original
                    ),
                    None => format!(
                        "{} of cluster {cluster} is already {:?}, no change needed",
                        gc::GC_VARIABLE,
                        record.held
                    ),
                };
                ctx.event(&backup, EventType::Normal, "GCLifeTimeHeld", &note)
                    .await;
                message.push_str("; ");
                message.push_str(&note);
            }
            Err(e) => {
                let reason = e.reason();
                let text = e.to_string();
                let transition = Transition {
                    condition: status::RETRY_FAILED,
                    reason,
                    message: &text,
                    event: EventType::Warning,
                    event_reason: reason,
                };
                let status = backup.status.clone().unwrap_or_default();
                // Best effort: the hold's error is what this reconcile reports.
                record(ctx, backups, &backup, status, &transition, ctx.now())
                    .await
                    .ok();
                return Err(Error::GcHold(text));
            }
        }
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
    match jobs
        .create(
            &PostParams {
                dry_run: false,
                field_manager: Some(FIELD_MANAGER.to_owned()),
            },
            &job,
        )
        .await
    {
        Ok(_) => {
            info!(backup = %backup.name_any(), job = %job.name_any(), "created the backup Job");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(e) => {
            ctx.event(
                backup,
                EventType::Warning,
                "FailedCreate",
                &format!("cannot create Job {}: {e}", job.name_any()),
            )
            .await;
            Err(e.into())
        }
    }
}

/// The TidbCluster's relevant settings; `None` when it cannot be read (the Job then
/// falls back to the default BR image and no cluster TLS).
async fn read_cluster(ctx: &Context, backup: &Backup) -> Option<ClusterInfo> {
    let (namespace, cluster) = cluster_ref(backup)?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &tidbcluster_resource());
    match api.get_opt(&cluster).await {
        Ok(Some(tc)) => serde_json::to_value(&tc)
            .ok()
            .map(|value| ClusterInfo::from_tidbcluster(&value)),
        Ok(None) => None,
        Err(e) => {
            warn!(cluster = %format!("{namespace}/{cluster}"), error = %e, "cannot read the TidbCluster");
            None
        }
    }
}

fn cluster_ref(backup: &Backup) -> Option<(String, String)> {
    let br = backup.spec.br.as_ref()?;
    let namespace = if br.cluster_namespace.is_empty() {
        backup.namespace().unwrap_or_default()
    } else {
        br.cluster_namespace.clone()
    };
    Some((namespace, br.cluster.clone()))
}

fn cluster_key(backup: &Backup) -> String {
    let (namespace, cluster) = cluster_ref(backup).unwrap_or_default();
    gc::cluster_key(&namespace, &cluster)
}

/// `Holding` records of the other Backups of `cluster`, read fresh from the apiserver
/// (under the cluster lock) so that a just-written record is never missed.
async fn other_holders(
    ctx: &Context,
    backup: &Backup,
    cluster: &str,
) -> Result<Vec<GcLifeTimeStatus>, Error> {
    let api: Api<Backup> = match &ctx.config.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let list = api.list(&ListParams::default()).await?;
    let me = backup.uid();
    let mut holders: Vec<(Option<Timestamp>, GcLifeTimeStatus)> = list
        .items
        .into_iter()
        .filter(|b| b.uid() != me)
        .filter_map(|b| {
            let created = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
            let record = b.status?.tikv_gc_life_time?;
            (record.state == gc::HOLDING && record.cluster == cluster).then_some((created, record))
        })
        .collect();
    // The oldest holder's original is the one inherited.
    holders.sort_by_key(|(created, _)| *created);
    Ok(holders.into_iter().map(|(_, r)| r).collect())
}

/// How to reach TiDB for this Backup: `spec.from`, the password from its secret, and
/// client TLS when the TidbCluster enables it.
async fn endpoint(ctx: &Context, backup: &Backup) -> Result<Endpoint, Error> {
    let spec = defaulted(backup).spec;
    let namespace = backup.namespace().unwrap_or_default();
    let from = spec.from.clone().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let secret = secrets
        .get(&from.secret_name)
        .await
        .map_err(|source| Error::Secret {
            secret: format!("{namespace}/{}", from.secret_name),
            source,
        })?;
    let password = secret_key(&secret, "password").ok_or_else(|| Error::MissingSecretKey {
        secret: format!("{namespace}/{}", from.secret_name),
        key: "password",
    })?;
    let cluster = read_cluster(ctx, backup).await;
    let tls = if cluster.as_ref().is_some_and(|c| c.tidb_client_tls) {
        let cluster_name = spec
            .br
            .as_ref()
            .map(|b| b.cluster.clone())
            .unwrap_or_default();
        let secret_name = from
            .tls_client_secret_name
            .clone()
            .unwrap_or_else(|| format!("{cluster_name}-tidb-client-secret"));
        let tls_secret = secrets
            .get(&secret_name)
            .await
            .map_err(|source| Error::Secret {
                secret: format!("{namespace}/{secret_name}"),
                source,
            })?;
        let ca = secret_bytes(&tls_secret, "ca.crt").ok_or_else(|| Error::MissingSecretKey {
            secret: format!("{namespace}/{secret_name}"),
            key: "ca.crt",
        })?;
        Some(TlsMaterial {
            ca,
            identity: secret_bytes(&tls_secret, "tls.crt")
                .zip(secret_bytes(&tls_secret, "tls.key")),
        })
    } else {
        None
    };
    let port = from.port.unwrap_or(crate::rules::vocab::DEFAULT_TIDB_PORT);
    let port = u16::try_from(port).map_err(|_| {
        Error::Plan(crate::reconcile::PlanError::new(
            "spec.from.port",
            format!("must be between 1 and 65535, got {port}"),
        ))
    })?;
    Ok(Endpoint {
        host: from.host.clone(),
        port,
        user: from.user.clone(),
        password,
        tls,
        connect_timeout: ctx.config.tidb_connect_timeout,
    })
}

/// The value of `key` in `secret` (`data`, else `stringData`); empty counts as absent.
fn secret_bytes(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
        })
        .filter(|value| !value.is_empty())
}

fn secret_key(secret: &Secret, key: &str) -> Option<String> {
    secret_bytes(secret, key).and_then(|b| String::from_utf8(b).ok())
}

/// Releases the GC life time if this Backup holds it (serialised per cluster); every
/// failed restore is counted, whichever path tried it.
pub(super) async fn release_gc(backup: &Backup, ctx: &Context) -> GcRelease {
    let release = Box::pin(try_release_gc(backup, ctx)).await;
    if matches!(release, GcRelease::RestoreFailed(_)) {
        ctx.metrics.gc_restore_failures.inc();
    }
    release
}

async fn try_release_gc(backup: &Backup, ctx: &Context) -> GcRelease {
    let Some(own) = backup
        .status
        .as_ref()
        .and_then(|s| s.tikv_gc_life_time.clone())
        .filter(|r| r.state == gc::HOLDING)
    else {
        return GcRelease::NotHeld;
    };
    let lock = ctx.cluster_lock(&own.cluster);
    let _serialised = lock.lock().await;
    let holders = match other_holders(ctx, backup, &own.cluster).await {
        Ok(holders) => holders,
        Err(e) => {
            return GcRelease::RestoreFailed(gc::restore_failed_message(
                &own.cluster,
                &own.original,
                &e.to_string(),
            ));
        }
    };
    let connect = async || -> Result<GcLifeTime, Error> {
        let endpoint = endpoint(ctx, backup).await?;
        Ok(GcLifeTime::connect(&endpoint).await?)
    };
    match guard::release::<Error, _>(&own, &holders, connect).await {
        Ok((_, record)) => GcRelease::Released(record),
        Err(e) => GcRelease::RestoreFailed(gc::restore_failed_message(
            &own.cluster,
            &own.original,
            &e.to_string(),
        )),
    }
}

pub(super) async fn announce_release(ctx: &Context, backup: &Backup, gc: &GcRelease) {
    if let GcRelease::Released(record) = gc {
        let note = match record.state.as_str() {
            gc::RESTORED => format!(
                "restored {} of cluster {} to {:?}",
                gc::GC_VARIABLE,
                record.cluster,
                record.original
            ),
            _ => format!(
                "left {} of cluster {} raised for the other running backups, which restore {:?}",
                gc::GC_VARIABLE,
                record.cluster,
                record.original
            ),
        };
        ctx.event(backup, EventType::Normal, "GCLifeTimeReleased", &note)
            .await;
    }
}

/// Releases a held GC life time for a Backup being deleted and records the result; a
/// failed release is announced with the SQL (`GCLifeTimeNotRestored`) and never keeps
/// the Backup: TiDB may be going away with the namespace. Shared by the cleanPolicy and
/// the GC-lifetime finalizers; returns the Backup as last written.
pub(super) async fn release_gc_on_deletion(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    tried: &mut bool,
) -> Result<Backup, Error> {
    *tried = true;
    let gc = Box::pin(release_gc(backup, ctx)).await;
    match &gc {
        GcRelease::Released(record) => {
            let mut status = backup.status.clone().unwrap_or_default();
            status.tikv_gc_life_time = Some(record.clone());
            let updated = write_status(backups, &backup.name_any(), &status).await?;
            announce_release(ctx, &updated, &gc).await;
            Ok(updated)
        }
        GcRelease::RestoreFailed(message) => {
            let key = format!(
                "{}/{}",
                backup.namespace().unwrap_or_default(),
                backup.name_any()
            );
            warn!(backup = %key, error = %message, "deleting a Backup whose GC life time could not be restored");
            ctx.event(backup, EventType::Warning, "GCLifeTimeNotRestored", message)
                .await;
            Ok(backup.clone())
        }
        GcRelease::NotHeld => Ok(backup.clone()),
    }
}

/// Carries out a [`FinalizerStep`] of the GC-lifetime finalizer; `None` when the
/// Backup is gone (its last finalizer removed while it was being deleted).
async fn gc_finalizer(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    step: FinalizerStep,
    release_tried: &mut bool,
) -> Result<Option<Backup>, Error> {
    let updated = match step {
        FinalizerStep::Keep => backup.clone(),
        FinalizerStep::Add => set_finalizer(backups, backup, gc::FINALIZER, true).await?,
        FinalizerStep::Release => {
            release_gc_on_deletion(ctx, backups, backup, release_tried).await?
        }
        FinalizerStep::Remove => set_finalizer(backups, backup, gc::FINALIZER, false).await?,
    };
    let gone = clean::being_deleted(&updated)
        && updated
            .metadata
            .finalizers
            .as_ref()
            .is_none_or(Vec::is_empty);
    Ok((!gone).then_some(updated))
}

async fn read_log(pods: &Api<Pod>, pod: &str) -> Option<String> {
    let params = LogParams {
        container: Some(job::CONTAINER.to_owned()),
        tail_lines: Some(LOG_TAIL_LINES),
        ..LogParams::default()
    };
    match pods.logs(pod, &params).await {
        Ok(log) => Some(log),
        Err(e) => {
            warn!(pod, error = %e, "cannot read BR's log");
            None
        }
    }
}

/// Adds (`present`) or removes `finalizer` by a merge patch of `metadata.finalizers`
/// guarded by the resourceVersion read: a concurrent change (another writer, a deletion)
/// makes it fail with a conflict, and the reconcile is retried on a fresh read. The other
/// finalizers are kept as they were read.
pub(super) async fn set_finalizer(
    backups: &Api<Backup>,
    backup: &Backup,
    finalizer: &str,
    present: bool,
) -> Result<Backup, kube::Error> {
    let body = json!({"metadata": {
        "resourceVersion": backup.resource_version(),
        "finalizers": finalizers_with(backup, finalizer, present),
    }});
    let updated = backups
        .patch(
            &backup.name_any(),
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(&body),
        )
        .await?;
    let action = if present { "added" } else { "removed" };
    info!(backup = %backup.name_any(), finalizer, "{action} the finalizer");
    Ok(updated)
}

/// A condition turned `True`, and the Event announcing it.
pub(super) struct Transition<'a> {
    pub condition: &'a str,
    /// The condition's reason.
    pub reason: &'a str,
    pub message: &'a str,
    pub event: EventType,
    /// The Event's reason, TiDB Operator's name, which may differ from the condition's.
    pub event_reason: &'a str,
}

/// Sets the transition's condition on `status` (the Backup's, maybe changed further by
/// the caller), writes it and announces it; returns the Backup as written.
pub(super) async fn record(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    mut status: BackupStatus,
    transition: &Transition<'_>,
    now: Timestamp,
) -> Result<Backup, kube::Error> {
    set_condition(
        &mut status,
        transition.condition,
        transition.reason,
        transition.message,
        backup.metadata.generation,
        now,
    );
    let updated = write_status(backups, &backup.name_any(), &status).await?;
    ctx.transition(
        &updated,
        transition.condition,
        transition.event,
        transition.event_reason,
        transition.message,
    )
    .await;
    Ok(updated)
}

impl Context {
    /// Publishes an Event on the object (failures are logged: events are best effort).
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            // Events allow 1 kB of note.
            note: Some(status::truncate(note, 1000)),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &object.object_ref(&())).await {
            warn!(object = %object.name_any(), reason, error = %e, "cannot publish an event");
        }
    }

    /// Counts a status transition and publishes its Event.
    pub async fn transition(
        &self,
        backup: &Backup,
        condition: &str,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        self.metrics.transition(condition);
        self.event(backup, type_, reason, note).await;
    }
}
