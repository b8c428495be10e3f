//! `reconcile`: the Backup controller. A kube-runtime `Controller` over Backups that owns
//! their Jobs (backup and clean) and watches the backup Jobs' pods (event-driven: progress needs no periodic
//! resync), run only on the holder of a Lease, with `/livez`, `/readyz` and `/metrics`
//! on the admin port. The decisions are in [`crate::reconcile`]; this module does IO.
//!
//! The BackupSchedule controller ([`schedule`]) runs next to [`backup_controller`] inside
//! [`lead`], sharing the [`Context`], the Lease and the admin port.

pub mod backup;
pub mod clean;
pub mod guard;
pub mod leader;
pub mod metrics;
pub mod schedule;
pub mod tidb;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use prometheus_client::registry::Registry;
use tracing::{error, info, warn};

use crate::api::Backup;
use crate::reconcile::PlanError;
use crate::reconcile::job::{LABEL_BACKUP, LABEL_COMPONENT, LABEL_MANAGED_BY, MANAGED_BY};
use crate::server::admin::{self, Readiness};
use crate::server::signal;
use leader::{LeaderElector, LeaseTiming};
use metrics::Metrics;

/// Settings of the reconciler process (the `reconcile` command's flags).
#[derive(Clone, Debug)]
pub struct ReconcilerConfig {
    /// Plain-HTTP address of /livez, /readyz and /metrics.
    pub admin_listen: SocketAddr,
    /// Reconcile Backups of this namespace only (default: all namespaces).
    pub namespace: Option<String>,
    /// BR image when neither `spec.toolImage` nor the TidbCluster's TiKV image decides it.
    pub br_image: String,
    /// This project's image, run by clean Jobs (`runner clean`).
    pub runner_image: String,
    /// Name of the leader-election Lease.
    pub lease_name: String,
    /// Namespace of the Lease (normally the reconciler's own, from the downward API).
    pub lease_namespace: String,
    /// This replica's identity in the Lease (the pod name, from the downward API; default
    /// the host name).
    pub identity: Option<String>,
    /// How long a Lease that stopped being renewed stays valid.
    pub lease_duration: Duration,
    /// How long the leader keeps reconciling without a successful renewal.
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew the Lease.
    pub retry_period: Duration,
    /// Time limit for connecting to TiDB.
    pub tidb_connect_timeout: Duration,
    /// Backups reconciled at the same time.
    pub concurrency: u16,
    /// Time zone BackupSchedule crons are evaluated in (names and prefixes stay UTC).
    pub timezone: TimeZone,
}

/// Settings the reconcile steps read.
#[derive(Clone, Debug)]
pub struct Config {
    pub default_br_image: String,
    /// Image of clean Jobs (this project's).
    pub runner_image: String,
    /// `TZ` of the reconciler, passed on to BR as TiDB Operator does.
    pub tz: Option<String>,
    /// The watched namespace (`None`: all).
    pub namespace: Option<String>,
    pub tidb_connect_timeout: Duration,
}

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("cannot build the Job: {0}")]
    Plan(PlanError),
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
    #[error("cannot hold the GC life time: {0}")]
    GcHold(String),
    #[error("{0}")]
    GcRestore(String),
    #[error("{0}")]
    JobConflict(String),
}

impl From<guard::GuardError<kube::Error>> for Error {
    fn from(e: guard::GuardError<kube::Error>) -> Self {
        match e {
            guard::GuardError::Sql(e) => Self::Sql(e),
            guard::GuardError::Plan(e) => Self::Gc(e),
            guard::GuardError::Persist(e) => Self::Kube(e),
        }
    }
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
            Self::GcHold(_) => "SetTikvGCLifeTimeFailed",
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
            Self::GcHold(_) => "gc_hold",
            Self::GcRestore(_) => "gc_restore",
            Self::JobConflict(_) => "job_conflict",
        }
    }
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
}

/// The delay before retry number `attempts` (1-based).
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(6);
    Duration::from_secs(5 * (1u64 << exp)).min(Duration::from_secs(300))
}

/// Labels that select the reconciler's Jobs and their pods.
pub fn job_selector() -> String {
    format!("{LABEL_COMPONENT}=backup,{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// Labels that select every Job the reconciler owns: backup and clean Jobs.
pub fn owned_job_selector() -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// Image of clean Jobs unless `--runner-image` says otherwise: this release's own.
pub const DEFAULT_RUNNER_IMAGE: &str = concat!("tidb-backup-webhook:", env!("CARGO_PKG_VERSION"));

/// The Backup controller: Backups, their Jobs (owned) and the Jobs' pods (by the
/// `tidb.pingcap.com/backup` label). Runs until `stop` completes.
pub async fn backup_controller(
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
    let selector = job_selector();
    Controller::new(backups, watcher::Config::default())
        .owns(
            jobs,
            watcher::Config::default().labels(&owned_job_selector()),
        )
        .watches(
            pods,
            watcher::Config::default().labels(&selector),
            |pod: Pod| {
                let namespace = pod.namespace();
                pod.labels().get(LABEL_BACKUP).map(|name| {
                    ObjectRef::<Backup>::new(name).within(namespace.as_deref().unwrap_or_default())
                })
            },
        )
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .graceful_shutdown_on(stop)
        .run(backup::reconcile, backup::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "reconcile error");
            }
        })
        .await;
}

/// The Backup and BackupSchedule controllers side by side, until `stop` completes.
pub async fn controllers(
    ctx: Arc<Context>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    concurrency: u16,
) {
    let stop = stop.shared();
    futures::join!(
        backup_controller(ctx.clone(), stop.clone(), concurrency),
        schedule::controller(ctx, stop, concurrency),
    );
}

/// Runs the controllers while this replica holds the Lease; returns on `shutdown`.
pub async fn lead(
    ctx: Arc<Context>,
    mut elector: LeaderElector,
    concurrency: u16,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let shutdown = shutdown.shared();
    let timing = elector.timing().clone();
    loop {
        // Standby until the Lease is ours.
        loop {
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => warn!(error = %e, "cannot read or write the leader Lease"),
            }
            tokio::select! {
                () = shutdown.clone() => return,
                () = tokio::time::sleep(timing.retry_period) => {}
            }
        }
        info!("acquired the leader Lease: reconciling");
        ctx.metrics.leader.set(1);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut controller = tokio::spawn(controllers(
            ctx.clone(),
            async move {
                let _ = stop_rx.await;
            },
            concurrency,
        ));
        let mut last_renewal = tokio::time::Instant::now();
        let lost = loop {
            tokio::select! {
                () = shutdown.clone() => break false,
                _ = &mut controller => break true,
                () = tokio::time::sleep(timing.retry_period) => {}
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => break true,
                Err(e) => warn!(error = %e, "cannot renew the leader Lease"),
            }
            if last_renewal.elapsed() > timing.renew_deadline {
                break true;
            }
        };
        let _ = stop_tx.send(());
        if tokio::time::timeout(Duration::from_secs(20), &mut controller)
            .await
            .is_err()
        {
            controller.abort();
        }
        ctx.metrics.leader.set(0);
        if !lost {
            if let Err(e) = elector.release().await {
                warn!(error = %e, "cannot release the leader Lease");
            }
            return;
        }
        warn!("lost the leader Lease: standing by");
    }
}

/// `tidb-backup-webhook reconcile`, on its own runtime.
pub fn run_blocking(args: ReconcilerConfig) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "the reconciler stopped");
            ExitCode::FAILURE
        }
    }
}

/// Runs the reconciler until SIGTERM/SIGINT.
pub async fn run(args: ReconcilerConfig) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let client = Client::try_default().await?;
    let listener = tokio::net::TcpListener::bind(args.admin_listen).await?;
    serve(client, args, listener, async {
        signal::terminated().await;
        info!("shutting down");
    })
    .await
}

/// Runs the reconciler with `client`, its admin port on `listener`, until `shutdown`.
pub async fn serve(
    client: Client,
    args: ReconcilerConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let metrics = Arc::new(Metrics::default());
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let readiness = Readiness::new(&["backup CRD"]);
    let (admin_stop_tx, admin_stop_rx) = tokio::sync::oneshot::channel::<()>();
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "admin port listening");
    }
    let admin = tokio::spawn(admin::serve(
        listener,
        readiness.clone(),
        Arc::new(registry),
        async move {
            let _ = admin_stop_rx.await;
        },
    ));

    // The CRD must be installed before the controller can watch Backups.
    let probe: Api<Backup> = Api::all(client.clone());
    if let Err(e) = probe.list(&kube::api::ListParams::default().limit(1)).await {
        let _ = admin_stop_tx.send(());
        let _ = admin.await;
        return Err(format!(
            "cannot list Backups (is the backups.pingcap.com CRD installed, and may this service account list Backups?): {e}"
        )
        .into());
    }
    readiness.set("backup CRD", true);

    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("tidb-backup-reconciler-{}", std::process::id()));
    let config = Config {
        default_br_image: args.br_image.clone(),
        runner_image: args.runner_image.clone(),
        tz: std::env::var("TZ").ok(),
        namespace: args.namespace.clone(),
        tidb_connect_timeout: args.tidb_connect_timeout,
    };
    let reporter = Reporter {
        controller: "tidb-backup-reconciler".to_owned(),
        instance: Some(identity.clone()),
    };
    let mut ctx = Context::new(client.clone(), config, metrics, reporter);
    ctx.timezone = args.timezone.clone();
    let ctx = Arc::new(ctx);
    let elector = LeaderElector::new(
        Api::namespaced(client, &args.lease_namespace),
        &args.lease_name,
        &identity,
        LeaseTiming {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
        },
    );
    let draining = readiness.clone();
    lead(ctx, elector, args.concurrency, async move {
        shutdown.await;
        draining.start_draining();
    })
    .await;
    let _ = admin_stop_tx.send(());
    let _ = admin.await;
    Ok(())
}

/// Writes an object's whole status through the status subresource (server-side apply
/// under the reconciler's field manager) and returns the stored object.
pub async fn write_status<K>(
    api: &Api<K>,
    name: &str,
    status: &impl serde::Serialize,
) -> Result<K, kube::Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &kube::api::PatchParams::apply(crate::reconcile::FIELD_MANAGER).force(),
        &kube::api::Patch::Apply(&body),
    )
    .await
}
