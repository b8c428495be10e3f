//! Network serving: the HTTPS admission server and the admin port.
//!
//! Shutdown follows what a pod behind a Service needs: on SIGTERM the server reports
//! unready, keeps serving for `shutdown_delay` while endpoints are updated, then stops
//! accepting, lets in-flight reviews finish, closes keep-alive connections and exits.

pub mod admin;
pub mod https;
pub mod metrics;
pub mod signal;
pub mod tls;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::admission::Admission;
use crate::certs::{Authority, CertError};
use crate::iam::{Declarations, IamResolver, StaticConfig};
use admin::Readiness;
use metrics::WebhookMetrics;
use tls::{CertFiles, CertStore, TlsError};

/// Where the serving certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// PEM files, reloaded when they change.
    Files(CertFiles),
    /// Generated in memory for `localhost` (development); the CA is written to `ca_out`.
    SelfSigned { ca_out: Option<PathBuf> },
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub certs: CertSource,
    /// Require and verify client certificates signed by this CA (the apiserver's).
    pub client_ca: Option<PathBuf>,
    /// Fallback re-read interval of the certificate files.
    pub cert_poll: Duration,
    /// How long to keep serving after SIGTERM before closing the listener.
    pub shutdown_delay: Duration,
    pub connections: https::ConnectionLimits,
    pub reviews: webhook::Limits,
    /// Roles and service accounts configured per TiDB cluster.
    pub iam: StaticConfig,
    /// Set pods' `serviceAccountName` for IRSA (when empty or `default`).
    pub inject_service_account: bool,
    /// Watch Backups and BackupSchedules (needs a cluster connection); off with `--no-kube`.
    pub watch_cluster: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("cannot connect to the cluster (use --no-kube to run without one): {0}")]
    Kube(#[from] kube::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Names the self-signed development certificate is valid for.
const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// Binds both listeners and serves until SIGTERM or SIGINT.
pub async fn run(config: ServeConfig) -> Result<(), ServeError> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })
    };
    let https = bind(config.listen).await?;
    let admin = bind(config.admin_listen).await?;
    serve(config, https, admin, signal::terminated()).await
}

/// Serves on already bound listeners until `terminate` completes (tests pass their own).
pub async fn serve(
    config: ServeConfig,
    https_listener: TcpListener,
    admin_listener: TcpListener,
    terminate: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let mut registry = Registry::default();
    let metrics = WebhookMetrics::register(&mut registry);
    let registry = Arc::new(registry);
    let checks: &[&'static str] = if config.watch_cluster {
        &["certificate", "https-listener", "iam-cache"]
    } else {
        &["certificate", "https-listener"]
    };
    let readiness = Readiness::new(checks);
    let declarations = if config.watch_cluster {
        Some(watch_iam_declarations(readiness.clone()).await?)
    } else {
        None
    };
    let mut resolver = IamResolver::new(config.iam.clone(), declarations);
    resolver.inject_service_account = config.inject_service_account;

    let (store, files) = load_certificate(&config.certs, metrics.clone())?;
    readiness.set("certificate", true);
    let acceptor = TlsAcceptor::from(Arc::new(tls::server_config(
        store.clone(),
        config.client_ca.as_deref(),
    )?));

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let admin_addr = admin_listener.local_addr().ok();
    let admin_task = tokio::spawn(admin::serve(
        admin_listener,
        readiness.clone(),
        registry,
        stopped(),
    ));
    let watch_task =
        files.map(|files| tokio::spawn(tls::watch(store, files, config.cert_poll, stopped())));

    let app = webhook::router(
        Admission::with_iam(Arc::new(resolver)),
        metrics,
        &config.reviews,
    );
    let https_addr = https_listener.local_addr().ok();
    tracing::info!(
        https = %display_addr(https_addr),
        admin = %display_addr(admin_addr),
        "serving admission reviews"
    );
    readiness.set("https-listener", true);
    let draining = readiness.clone();
    let delay = config.shutdown_delay;
    let shutdown = async move {
        terminate.await;
        draining.start_draining();
        tracing::info!(delay = ?delay, "shutting down: unready, still serving while endpoints update");
        tokio::time::sleep(delay).await;
        tracing::info!("closing the listener and draining connections");
    };
    https::serve(
        https_listener,
        acceptor,
        app,
        config.connections.clone(),
        shutdown,
    )
    .await;

    let _ = stop_tx.send(true);
    if let Some(task) = watch_task {
        let _ = task.await;
    }
    let _ = admin_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the watch cache of IAM declarations; readiness waits for its first LIST.
async fn watch_iam_declarations(
    readiness: Arc<Readiness>,
) -> Result<Box<dyn Declarations>, ServeError> {
    let client = kube::Client::try_default().await?;
    let (declarations, run) = crate::iam::watch::watch(client);
    tokio::spawn(run);
    let synced = declarations.clone();
    tokio::spawn(async move {
        if synced.wait_until_ready().await {
            readiness.set("iam-cache", true);
            tracing::info!("IAM watch cache synced");
        }
    });
    Ok(Box::new(declarations))
}

fn display_addr(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "?".to_owned(), |a| a.to_string())
}

fn load_certificate(
    source: &CertSource,
    metrics: WebhookMetrics,
) -> Result<(Arc<CertStore>, Option<CertFiles>), ServeError> {
    match source {
        CertSource::Files(files) => {
            let (pair, fingerprint) = files.load()?;
            Ok((
                CertStore::new(pair, fingerprint, metrics),
                Some(files.clone()),
            ))
        }
        CertSource::SelfSigned { ca_out } => {
            let ca = Authority::generate("tidb-backup-webhook development CA", 30)?;
            let names: Vec<String> = LOCAL_NAMES.iter().map(|n| (*n).to_owned()).collect();
            let serving = ca.issue(&names, 30)?;
            if let Some(path) = ca_out {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| CertError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                std::fs::write(path, ca.cert_pem()).map_err(|source| CertError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                tracing::info!(ca = %path.display(), "self-signed development certificate; CA written");
            }
            let pair = tls::load_pair(
                serving.cert_pem.as_bytes(),
                serving.key_pem.as_bytes(),
                "self-signed",
                "self-signed",
            )?;
            Ok((CertStore::new(pair, Vec::new(), metrics), None))
        }
    }
}
