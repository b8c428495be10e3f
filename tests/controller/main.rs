//! The reconciler's IO: the GC-lifetime guard against a real MariaDB, the Backup
//! reconcile against an in-memory fake apiserver (plus MariaDB where `spec.from` is set),
//! cleanPolicy (finalizer, clean Job, terminating namespace), the GC-lifetime finalizer
//! and the BackupSchedule reconcile against the same fake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod clean;
mod fake_apiserver;
mod gc;
mod gc_finalizer;
mod leader;
mod mariadb;
mod rbac;
mod reconcile;
mod schedule;
mod serve;

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
