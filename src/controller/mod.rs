//! `reconcile`: the reconciler's IO around the pure decisions of [`crate::reconcile`].
//!
//! Rooms, each using only the ones listed after it:
//!
//! - [`run`]: the process (admin port, CRD probe, the Lease), and [`leader`]: the loop
//!   that runs the controllers while this replica holds the Lease;
//! - [`backup`]: the Backup controller (kube-runtime wiring and reconcile), then
//!   [`clean`]: cleanPolicy when a Backup is deleted, then [`gc`]: holding and releasing
//!   TiKV's GC life time, with [`tidb`] for its SQL;
//! - [`schedule`]: the BackupSchedule controller;
//! - [`effects`]: what the controllers do to the cluster (status, finalizers, conditions
//!   and their Events, Jobs, pod logs) and [`cluster`]: reading the TidbCluster;
//! - this module: what they all share (settings, errors, the per-process context), and
//!   [`metrics`].

pub mod backup;
pub mod clean;
pub mod cluster;
pub mod effects;
pub mod gc;
pub mod leader;
pub mod metrics;
pub mod run;
pub mod schedule;
pub mod tidb;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use tracing::warn;

use crate::reconcile::PlanError;
use crate::reconcile::status;
use metrics::Metrics;

/// Image of clean Jobs unless `--runner-image` says otherwise: this release's own.
pub const DEFAULT_RUNNER_IMAGE: &str = concat!("tidb-backup-webhook:", env!("CARGO_PKG_VERSION"));

/// Settings the reconcile steps read (flags of `reconcile`, flattened into its command).
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// BR image when neither `spec.toolImage` nor the TidbCluster's TiKV image decides it.
    #[arg(
        long = "br-image",
        value_name = "BR_IMAGE",
        env = "RECONCILER_BR_IMAGE",
        default_value = crate::reconcile::job::DEFAULT_BR_IMAGE
    )]
    pub default_br_image: String,
    /// This project's image, which clean Jobs run (`runner clean`); normally the image
    /// the reconciler itself runs from.
    #[arg(long, env = "RECONCILER_RUNNER_IMAGE", default_value = DEFAULT_RUNNER_IMAGE)]
    pub runner_image: String,
    /// `TZ` of the reconciler, passed on to BR as TiDB Operator does.
    #[arg(skip = std::env::var("TZ").ok())]
    pub tz: Option<String>,
    /// Reconcile Backups of this namespace only (default: all namespaces).
    #[arg(long, env = "RECONCILER_NAMESPACE")]
    pub namespace: Option<String>,
    /// Time limit for connecting to TiDB.
    #[arg(long, env = "RECONCILER_TIDB_CONNECT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub tidb_connect_timeout: Duration,
}

/// Errors of one reconcile. Each keeps what caused it; [`Error::reason`] (the condition
/// reason) and [`Error::metric_label`] are derived from the variant and its source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("cannot build the Job: {0}")]
    Plan(#[source] PlanError),
    #[error("cannot read secret {secret}: {source}")]
    Secret {
        secret: String,
        #[source]
        source: kube::Error,
    },
    #[error("secret {secret} has no key {key:?}")]
    MissingSecretKey { secret: String, key: &'static str },
    #[error(transparent)]
    Sql(#[from] tidb::SqlError),
    #[error(transparent)]
    Gc(#[from] crate::reconcile::gc::GcError),
    /// Holding the GC life time before the Job failed; the reason is the cause's.
    #[error("cannot hold the GC life time: {source}")]
    GcHold {
        #[source]
        source: Box<Error>,
    },
    #[error(transparent)]
    GcRestore(#[from] RestoreError),
    #[error(transparent)]
    JobConflict(#[from] JobConflict),
}

impl Error {
    /// TiDB Operator's condition reason for this error (for `RetryFailed`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Kube(_) => "KubernetesAPIError",
            Self::Plan(_) => "InvalidSpec",
            Self::Secret { .. } => "GetTidbSecretFailed",
            Self::MissingSecretKey { .. } => "KeyNotExist",
            Self::Sql(e) => e.reason(),
            Self::Gc(e) => e.reason(),
            Self::GcHold { source } => source.reason(),
            Self::GcRestore(_) => "ResetTikvGCLifeTimeFailed",
            Self::JobConflict(_) => "JobConflict",
        }
    }

    /// A stable metric label.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Plan(_) => "plan",
            Self::Secret { .. } | Self::MissingSecretKey { .. } => "secret",
            Self::Sql(_) => "sql",
            Self::Gc(_) => "gc_value",
            Self::GcHold { .. } => "gc_hold",
            Self::GcRestore(_) => "gc_restore",
            Self::JobConflict(_) => "job_conflict",
        }
    }
}

/// A Job of the name a Backup's Job must have exists but belongs to something else (a
/// deleted namesake whose Job is not garbage-collected yet): the one way it is worded,
/// for the backup and the clean Job alike.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "Job {namespace}/{job} exists but is not owned by this Backup (owner uid {}); waiting for it to be garbage-collected or deleted",
    owner.as_deref().unwrap_or("none")
)]
pub struct JobConflict {
    pub namespace: String,
    pub job: String,
    /// The uid of the Job's controller, if it has one.
    pub owner: Option<String>,
}

/// The GC life time could not be restored when a Backup released it; the message names
/// the SQL to run by hand.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::reconcile::gc::restore_failed_message(cluster, original, &source.to_string()))]
pub struct RestoreError {
    /// The cluster key (`namespace/name`).
    pub cluster: String,
    /// The value to restore.
    pub original: String,
    #[source]
    pub source: Box<Error>,
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub config: Config,
    /// The clock (tests pin it).
    pub clock: fn() -> Timestamp,
    /// Time zone of BackupSchedule crons.
    pub timezone: TimeZone,
    /// GC-lifetime guard steps of one cluster run one at a time.
    cluster_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Consecutive failures per Backup, for back-off.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, config: Config, metrics: Arc<Metrics>, reporter: Reporter) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            config,
            clock: Timestamp::now,
            timezone: TimeZone::UTC,
            cluster_locks: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub fn cluster_lock(&self, cluster: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.cluster_locks.lock() {
            Ok(mut locks) => locks.entry(cluster.to_owned()).or_default().clone(),
            // A poisoned map only means another reconcile panicked; a fresh lock is safe
            // because the status records, not the lock, carry the guard's state.
            Err(_) => Arc::default(),
        }
    }

    /// 5 s, 10 s, 20 s, … up to 5 min for consecutive failures of one Backup.
    pub fn next_backoff(&self, key: &str) -> Duration {
        let attempts = match self.failures.lock() {
            Ok(mut failures) => {
                let n = failures.entry(key.to_owned()).or_default();
                *n = n.saturating_add(1);
                *n
            }
            Err(_) => 1,
        };
        backoff(attempts)
    }

    pub fn reset_backoff(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }

    /// Publishes an Event on the object (failures are logged: events are best effort).
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        self.publish(
            &object.object_ref(&()),
            None,
            "Reconcile",
            type_,
            reason,
            note,
        )
        .await;
    }

    /// Publishes an Event on `regarding` about `related` (a Backup a schedule created or
    /// deleted, a Backup whose namespace goes). kube's recorder folds Events with the
    /// same object, reason and related object into one series that keeps the first
    /// note, so Events about different Backups must name them as `related` to stay
    /// apart.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        related: Option<ObjectReference>,
        action: &str,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            // Events allow 1 kB of note.
            note: Some(status::truncate(note, 1000)),
            action: action.to_owned(),
            secondary: related,
        };
        if let Err(e) = self.recorder.publish(&event, regarding).await {
            let object = regarding.name.as_deref().unwrap_or_default();
            warn!(object, reason, error = %e, "cannot publish an event");
        }
    }

    /// Counts a status transition and publishes its Event.
    pub async fn transition<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        condition: &str,
        type_: EventType,
        reason: &str,
        note: &str,
    ) {
        self.metrics.transition(condition);
        self.event(object, type_, reason, note).await;
    }
}

/// The delay before retry number `attempts` (1-based).
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(6);
    Duration::from_secs(5 * (1u64 << exp)).min(Duration::from_secs(300))
}
