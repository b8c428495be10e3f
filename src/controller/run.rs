//! The reconciler process: its admin port (`/livez`, `/readyz`, `/metrics`), the probe
//! that Backups can be listed, the Lease, and [`lead`] until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use kube::runtime::events::Reporter;
use kube::{Api, Client};
use prometheus_client::registry::Registry;
use tracing::info;

use super::leader::{LeaderElector, LeaseConfig, lead};
use super::metrics::Metrics;
use super::{Config, Context};
use crate::api::Backup;
use crate::server::admin::{self, Readiness};
use crate::server::signal;

/// Settings of the reconciler process: the flags of `reconcile`, each defined once.
#[derive(Clone, Debug, clap::Args)]
pub struct ReconcilerConfig {
    /// Plain-HTTP address of /livez, /readyz and /metrics.
    #[arg(long, env = "RECONCILER_ADMIN_LISTEN", default_value = "0.0.0.0:8080")]
    pub admin_listen: SocketAddr,
    #[command(flatten)]
    pub reconcile: Config,
    #[command(flatten)]
    pub lease: LeaseConfig,
    /// Backups reconciled at the same time (and as many BackupSchedules).
    #[arg(long, env = "RECONCILER_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,
    /// Time zone BackupSchedule crons are evaluated in (an IANA name such as
    /// Asia/Shanghai); Backup names and prefixes always use UTC, as TiDB Operator's do.
    #[arg(long, env = "RECONCILER_TIMEZONE", default_value = "UTC", value_parser = time_zone)]
    pub timezone: jiff::tz::TimeZone,
}

/// A time zone for BackupSchedule crons: an IANA name from the system database (read
/// from `/usr/share/zoneinfo`), or `UTC`, which needs none.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, UnknownTimeZone> {
    if name == "UTC" {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    jiff::tz::TimeZone::get(name).map_err(|source| UnknownTimeZone {
        name: name.to_owned(),
        source,
    })
}

/// `--timezone` names no zone the system knows.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {name:?} ({source}); use an IANA name such as Asia/Shanghai, or UTC")]
pub struct UnknownTimeZone {
    name: String,
    source: jiff::Error,
}

/// Why the reconciler could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No kubeconfig or in-cluster configuration, or it does not work.
    #[error(transparent)]
    Client(kube::Error),
    #[error(transparent)]
    Listen(std::io::Error),
    #[error(
        "cannot list Backups (is the backups.pingcap.com CRD installed, and may this service account list Backups?): {0}"
    )]
    BackupsNotListable(#[source] kube::Error),
}

/// Runs the reconciler until SIGTERM/SIGINT.
pub async fn run(args: ReconcilerConfig) -> Result<(), RunError> {
    let client = Client::try_default().await.map_err(RunError::Client)?;
    let listener = tokio::net::TcpListener::bind(args.admin_listen)
        .await
        .map_err(RunError::Listen)?;
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
) -> Result<(), RunError> {
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
        return Err(RunError::BackupsNotListable(e));
    }
    readiness.set("backup CRD", true);

    let identity = args
        .lease
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("tidb-backup-reconciler-{}", std::process::id()));
    let reporter = Reporter {
        controller: "tidb-backup-reconciler".to_owned(),
        instance: Some(identity.clone()),
    };
    let mut ctx = Context::new(client.clone(), args.reconcile, metrics, reporter);
    ctx.timezone = args.timezone;
    let ctx = Arc::new(ctx);
    let elector = LeaderElector::new(
        Api::namespaced(client, &args.lease.namespace),
        &args.lease.name,
        &identity,
        args.lease.timing,
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
