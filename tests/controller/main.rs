//! The reconciler's IO that needs no apiserver, or a failure no real one produces on
//! demand: the GC-lifetime guard against a real MariaDB (`gc`), the Lease decision
//! (`leader`), the reconcile future's size (`reconcile`), and reconciles interrupted
//! between two steps against an in-memory fake apiserver (`faults`). The reconciler
//! itself runs against the real control plane in `tests/e2e/reconciler/`, which shares
//! `mariadb.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod fake_apiserver;
mod faults;
mod gc;
mod leader;
mod mariadb;
mod reconcile;

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::Reporter;
use tidb_backup_webhook::controller::metrics::Metrics;
use tidb_backup_webhook::controller::{Config, Context};

/// The reconciler's context as the tests run it: pinned images, no TZ, every namespace;
/// `instance` names the replica in Events.
fn test_context(client: Client, instance: &str, metrics: Arc<Metrics>) -> Context {
    let config = Config {
        default_br_image: "pingcap/br:v7.5.0".into(),
        runner_image: "tidb-backup-webhook:test".into(),
        tz: None,
        namespace: None,
        tidb_connect_timeout: Duration::from_secs(5),
    };
    let reporter = Reporter {
        controller: "tidb-backup-reconciler".into(),
        instance: Some(instance.into()),
    };
    Context::new(client, config, metrics, reporter)
}
