//! The admin port (plain HTTP, separate listener): `/livez`, `/readyz`, `/metrics`.
//! Shared by the webhook server and the reconciler.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Named readiness checks; ready when all pass and the process is not draining.
#[derive(Debug, Default)]
pub struct Readiness {
    checks: Mutex<BTreeMap<&'static str, bool>>,
    draining: AtomicBool,
}

impl Readiness {
    /// Readiness that waits for every named check to pass.
    pub fn new(checks: &[&'static str]) -> Arc<Self> {
        Arc::new(Self {
            checks: Mutex::new(checks.iter().map(|c| (*c, false)).collect()),
            draining: AtomicBool::new(false),
        })
    }

    pub fn set(&self, check: &'static str, ok: bool) {
        if let Ok(mut checks) = self.checks.lock() {
            checks.insert(check, ok);
        }
    }

    /// From now on never ready: the process is shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn is_ready(&self) -> bool {
        self.failing().is_empty()
    }

    /// What keeps the process from being ready.
    pub fn failing(&self) -> Vec<String> {
        let mut failing: Vec<String> = match self.checks.lock() {
            Ok(checks) => checks
                .iter()
                .filter(|(_, ok)| !**ok)
                .map(|(name, _)| (*name).to_owned())
                .collect(),
            Err(_) => vec!["readiness state poisoned".to_owned()],
        };
        if self.is_draining() {
            failing.push("shutting down".to_owned());
        }
        failing
    }
}

#[derive(Clone)]
struct AdminState {
    readiness: Arc<Readiness>,
    registry: Arc<Registry>,
}

/// The admin routes.
pub fn router(readiness: Arc<Readiness>, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AdminState {
            readiness,
            registry,
        })
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    let failing = state.readiness.failing();
    if failing.is_empty() {
        (StatusCode::OK, "ok\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", failing.join(", ")),
        )
    }
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Serves the admin routes on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    readiness: Arc<Readiness>,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(readiness, registry))
        .with_graceful_shutdown(shutdown)
        .await
}
