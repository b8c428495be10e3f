//! Holding and releasing TiKV's GC life time for Backups: the IO around the pure
//! decisions of [`crate::reconcile::gc`] (whose module doc describes the algorithm).
//!
//! [`hold`] and [`release`] are the guard itself: read, record, raise; later restore or
//! hand off. Persisting the record is a callback so that the order "record before raise"
//! is enforced here, whatever stores it. The rest applies them to a Backup: its TiDB
//! endpoint and secrets, the other holders of its cluster, the GC-lifetime finalizer that
//! keeps a holding Backup until it has released, and the Events announcing each step.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use tracing::warn;

use super::cluster::{cluster_key, read_cluster};
use super::effects::{Transition, record, set_finalizer, write_status};
use super::tidb::{Endpoint, GcLifeTime, SqlError, TlsMaterial};
use super::{Context, Error, RestoreError};
use crate::api::{Backup, GcLifeTimeStatus};
use crate::reconcile::clean::being_deleted;
use crate::reconcile::gc::{self, FinalizerStep, GcError, ReleasePlan};
use crate::reconcile::status;
use crate::reconcile::{GcRelease, defaulted};

/// Why the guard could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum GuardError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error(transparent)]
    Plan(#[from] GcError),
    #[error("cannot record the GC life time in the Backup status: {0}")]
    Persist(#[source] E),
}

impl<E: std::error::Error + 'static> GuardError<E> {
    /// TiDB Operator's condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Sql(e) => e.reason(),
            Self::Plan(e) => e.reason(),
            Self::Persist(_) => "UpdateStatusFailed",
        }
    }
}

impl From<GuardError<kube::Error>> for Error {
    fn from(e: GuardError<kube::Error>) -> Self {
        match e {
            GuardError::Sql(e) => Self::Sql(e),
            GuardError::Plan(e) => Self::Gc(e),
            GuardError::Persist(e) => Self::Kube(e),
        }
    }
}

/// What [`hold`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The record, as persisted.
    pub record: GcLifeTimeStatus,
    /// The cluster's value before this hold.
    pub current: String,
    /// The value written, when it was raised.
    pub raised: Option<String>,
}

/// Holds the GC life time for one Backup before its Job starts. `existing` is the
/// Backup's own record (present after a crash), `holders` the other `Holding` records
/// of the cluster. `persist` must durably store the record; it runs before any raise.
pub async fn hold<E, P>(
    sql: &mut GcLifeTime,
    cluster: &str,
    desired: &str,
    existing: Option<&GcLifeTimeStatus>,
    holders: &[GcLifeTimeStatus],
    persist: P,
) -> Result<Held, GuardError<E>>
where
    E: std::error::Error + 'static,
    P: AsyncFnOnce(GcLifeTimeStatus) -> Result<(), E>,
{
    let current = sql.read().await?;
    let plan = gc::plan_hold(cluster, desired, &current, existing, holders)?;
    if existing != Some(&plan.record) {
        persist(plan.record.clone())
            .await
            .map_err(GuardError::Persist)?;
    }
    if let Some(value) = &plan.raise_to {
        sql.write(value).await?;
    }
    Ok(Held {
        record: plan.record,
        current,
        raised: plan.raise_to,
    })
}

/// Releases the GC life time after a Job ended: hands off to other holders, or restores
/// the original through a connection made by `connect` (only then). Returns the plan
/// carried out and the new record.
pub async fn release<E, C>(
    own: &GcLifeTimeStatus,
    holders: &[GcLifeTimeStatus],
    connect: C,
) -> Result<(ReleasePlan, GcLifeTimeStatus), E>
where
    E: From<SqlError>,
    C: AsyncFnOnce() -> Result<GcLifeTime, E>,
{
    let plan = gc::plan_release(Some(own), holders);
    if let ReleasePlan::Restore { original } = &plan {
        let mut sql = connect().await?;
        let written = sql.write(original).await;
        sql.close().await;
        written?;
    }
    let record = gc::released(own, &plan);
    Ok((plan, record))
}

/// Holds the GC life time for a Backup with `spec.from` (serialised per cluster), with
/// the record and, when it protects anything, the GC-lifetime finalizer written first.
/// Returns the Backup as last written and the note for its `Prepare` condition (also
/// announced as `GCLifeTimeHeld`). A failure is recorded as `RetryFailed` with the
/// cause's reason and returned as [`Error::GcHold`].
pub async fn hold_for_backup(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: Backup,
    now: Timestamp,
) -> Result<(Backup, String), Error> {
    let cluster = cluster_key(&backup);
    let lock = ctx.cluster_lock(&cluster);
    let _serialised = lock.lock().await;
    match hold_serialised(ctx, backups, &backup, &cluster).await {
        Ok((held, recorded)) => {
            let backup = recorded.unwrap_or(backup);
            let note = held_note(&held, &cluster);
            ctx.event(&backup, EventType::Normal, "GCLifeTimeHeld", &note)
                .await;
            Ok((backup, note))
        }
        Err(cause) => {
            let reason = cause.reason();
            let text = cause.to_string();
            let transition = Transition {
                condition: status::RETRY_FAILED,
                reason,
                message: &text,
                event: EventType::Warning,
                event_reason: reason,
            };
            let status = backup.status.clone().unwrap_or_default();
            // Written and announced once per distinct failure: each retry after back-off
            // would otherwise rewrite it, and an apiserver that stores the rewrite sends a
            // watch event that starts the next reconcile at once, bypassing the back-off.
            if !status::reports(&status, status::RETRY_FAILED, reason, &text) {
                // Best effort: the hold's error is what this reconcile reports.
                record(ctx, backups, &backup, status, &transition, now)
                    .await
                    .ok();
            }
            Err(Error::GcHold {
                source: Box::new(cause),
            })
        }
    }
}

/// [`hold`] for `backup` under its cluster's lock: the Held, and the Backup as written
/// when the record was persisted.
async fn hold_serialised(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    cluster: &str,
) -> Result<(Held, Option<Backup>), Error> {
    let spec = defaulted(backup).spec;
    let holders = other_holders(ctx, backup, cluster).await?;
    let endpoint = endpoint(ctx, backup).await?;
    let mut sql = GcLifeTime::connect(&endpoint).await?;
    let existing = backup
        .status
        .as_ref()
        .and_then(|s| s.tikv_gc_life_time.clone());
    let desired = spec.tikv_gc_life_time.clone().unwrap_or_default();
    let name = backup.name_any();
    let mut recorded: Option<Backup> = None;
    let result = hold(
        &mut sql,
        cluster,
        &desired,
        existing.as_ref(),
        &holders,
        async |record: GcLifeTimeStatus| -> Result<(), kube::Error> {
            // The record must not vanish with the Backup: protect it first.
            if gc::protects(&record) && !gc::has_finalizer(backup) {
                set_finalizer(backups, backup, gc::FINALIZER, true).await?;
            }
            let mut status = backup.status.clone().unwrap_or_default();
            status.tikv_gc_life_time = Some(record);
            recorded = Some(write_status(backups, &name, &status).await?);
            Ok(())
        },
    )
    .await;
    sql.close().await;
    Ok((result?, recorded))
}

/// What a hold did, for the `Prepare` condition and the `GCLifeTimeHeld` Event.
fn held_note(held: &Held, cluster: &str) -> String {
    let record = &held.record;
    match &held.raised {
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
    }
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

/// Releases the GC life time if this Backup holds it (serialised per cluster): the new
/// record, or `None` when it held nothing. Every failed restore is counted, whichever path
/// tried it.
pub async fn release_for_backup(
    backup: &Backup,
    ctx: &Context,
) -> Result<Option<GcLifeTimeStatus>, RestoreError> {
    let Some(own) = backup
        .status
        .as_ref()
        .and_then(|s| s.tikv_gc_life_time.clone())
        .filter(|r| r.state == gc::HOLDING)
    else {
        return Ok(None);
    };
    let lock = ctx.cluster_lock(&own.cluster);
    let _serialised = lock.lock().await;
    let released = async {
        let holders = other_holders(ctx, backup, &own.cluster).await?;
        let connect = async || -> Result<GcLifeTime, Error> {
            let endpoint = endpoint(ctx, backup).await?;
            Ok(GcLifeTime::connect(&endpoint).await?)
        };
        release::<Error, _>(&own, &holders, connect).await
    }
    .await;
    match released {
        Ok((_, record)) => Ok(Some(record)),
        Err(cause) => {
            ctx.metrics.gc_restore_failures.inc();
            Err(RestoreError {
                cluster: own.cluster.clone(),
                original: own.original.clone(),
                source: Box::new(cause),
            })
        }
    }
}

/// [`release_for_backup`]'s result as the status planner takes it.
pub fn as_gc_release(released: &Result<Option<GcLifeTimeStatus>, RestoreError>) -> GcRelease {
    match released {
        Ok(None) => GcRelease::NotHeld,
        Ok(Some(record)) => GcRelease::Released(record.clone()),
        Err(e) => GcRelease::RestoreFailed(e.to_string()),
    }
}

/// `GCLifeTimeReleased`: restored, or left raised for the other holders.
pub async fn announce_release(ctx: &Context, backup: &Backup, record: &GcLifeTimeStatus) {
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

/// Writes a released record into the Backup's status and announces it.
pub async fn record_release(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    record: GcLifeTimeStatus,
) -> Result<Backup, kube::Error> {
    let mut status = backup.status.clone().unwrap_or_default();
    status.tikv_gc_life_time = Some(record.clone());
    let updated = write_status(backups, &backup.name_any(), &status).await?;
    announce_release(ctx, &updated, &record).await;
    Ok(updated)
}

/// Releases a held GC life time for a Backup being deleted and records the result; a
/// failed release is announced with the SQL (`GCLifeTimeNotRestored`) and never keeps
/// the Backup: TiDB may be going away with the namespace. Shared by the cleanPolicy and
/// the GC-lifetime finalizers; returns the Backup as last written.
pub async fn release_on_deletion(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    tried: &mut bool,
) -> Result<Backup, Error> {
    *tried = true;
    match Box::pin(release_for_backup(backup, ctx)).await {
        Ok(Some(record)) => Ok(record_release(ctx, backups, backup, record).await?),
        Ok(None) => Ok(backup.clone()),
        Err(e) => {
            let key = format!(
                "{}/{}",
                backup.namespace().unwrap_or_default(),
                backup.name_any()
            );
            let message = e.to_string();
            warn!(backup = %key, error = %message, "deleting a Backup whose GC life time could not be restored");
            ctx.event(
                backup,
                EventType::Warning,
                "GCLifeTimeNotRestored",
                &message,
            )
            .await;
            Ok(backup.clone())
        }
    }
}

/// Carries out a [`FinalizerStep`] of the GC-lifetime finalizer; `None` when the
/// Backup is gone (its last finalizer removed while it was being deleted).
pub async fn finalizer(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    step: FinalizerStep,
    release_tried: &mut bool,
) -> Result<Option<Backup>, Error> {
    let updated = match step {
        FinalizerStep::Keep => backup.clone(),
        FinalizerStep::Add => set_finalizer(backups, backup, gc::FINALIZER, true).await?,
        FinalizerStep::Release => release_on_deletion(ctx, backups, backup, release_tried).await?,
        FinalizerStep::Remove => set_finalizer(backups, backup, gc::FINALIZER, false).await?,
    };
    let gone = being_deleted(&updated)
        && updated
            .metadata
            .finalizers
            .as_ref()
            .is_none_or(Vec::is_empty);
    Ok((!gone).then_some(updated))
}
