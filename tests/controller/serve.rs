//! `reconcile` as a process runs it (minus the kubeconfig): the admin port answers
//! `/livez`, turns `/readyz` on once Backups can be listed, exports the metrics, and the
//! replica leads, reconciles Backups and BackupSchedules, and gives the Lease up on
//! shutdown. Every reconciler metric the shipped alert rules and dashboard query is on
//! its `/metrics` page.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tidb_backup_webhook::controller::Config;
use tidb_backup_webhook::controller::leader::{LeaseConfig, LeaseTiming};
use tidb_backup_webhook::controller::run::{ReconcilerConfig, serve};
use tidb_backup_webhook::reconcile::job::DEFAULT_BR_IMAGE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fake_apiserver::FakeApiServer;

#[path = "../common/monitoring.rs"]
mod queries;

fn args() -> ReconcilerConfig {
    ReconcilerConfig {
        admin_listen: "127.0.0.1:0".parse().expect("addr"),
        reconcile: Config {
            default_br_image: DEFAULT_BR_IMAGE.into(),
            runner_image: "tidb-backup-webhook:test".into(),
            tz: None,
            namespace: None,
            tidb_connect_timeout: Duration::from_secs(5),
        },
        lease: LeaseConfig {
            name: "tidb-backup-reconciler".into(),
            namespace: "tidb-admin".into(),
            identity: Some("reconciler-0".into()),
            timing: LeaseTiming {
                lease_duration: Duration::from_secs(3),
                renew_deadline: Duration::from_secs(2),
                retry_period: Duration::from_millis(100),
            },
        },
        concurrency: 2,
        timezone: jiff::tz::TimeZone::UTC,
    }
}

/// `(status code, body)` of a plain HTTP GET.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (code, body)
}

async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn admin_port_readiness_metrics_and_shutdown() {
    let fake = FakeApiServer::new();
    fake.insert(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": "b1", "namespace": "test1"},
        "spec": {"br": {"cluster": "demo1"}, "s3": {"provider": "minio", "endpoint": "http://minio:9000", "bucket": "b"}}
    }));
    // One whose TiDB password Secret does not exist: holding the GC life time fails, and
    // so its reconciles (counted by error kind).
    fake.insert(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": "b2", "namespace": "test1"},
        "spec": {"br": {"cluster": "demo1"}, "s3": {"provider": "minio", "endpoint": "http://minio:9000", "bucket": "b"},
                 "from": {"host": "127.0.0.1", "port": 4000, "user": "root", "secretName": "missing"}}
    }));
    // A schedule created two hours ago (real clock): its latest hourly tick is due.
    let created = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(2))
        .expect("in range");
    fake.insert(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "BackupSchedule",
        "metadata": {"name": "hourly", "namespace": "test1", "creationTimestamp": created.to_string()},
        "spec": {"schedule": "0 * * * *", "maxBackups": 2,
                 "backupTemplate": {"br": {"cluster": "demo1"},
                                    "s3": {"provider": "minio", "endpoint": "http://minio:9000", "bucket": "b"}}}
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(fake.client(), args(), listener, async move {
        let _ = stop_rx.await;
    }));

    assert_eq!(get(addr, "/livez").await, (200, "ok\n".to_owned()));
    eventually("/readyz", || async {
        get(addr, "/readyz").await == (200, "ok\n".to_owned())
    })
    .await;
    eventually("the Backup to be scheduled", || async {
        fake.get("pingcap.com/v1alpha1", "Backup", "test1", "b1")
            .is_some_and(|b| b["status"]["phase"] == "Scheduled")
    })
    .await;
    eventually("the schedule's Backup to be scheduled too", || async {
        fake.list("pingcap.com/v1alpha1", "Backup").iter().any(|b| {
            b["metadata"]["labels"]["tidb.pingcap.com/backup-schedule"] == "hourly"
                && b["status"]["phase"] == "Scheduled"
        })
    })
    .await;
    eventually("b2's failed reconcile to be counted", || async {
        get(addr, "/metrics")
            .await
            .1
            .contains("tidb_backup_reconcile_failures_total{error=\"gc_hold\"}")
    })
    .await;
    let (code, metrics) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("tidb_backup_reconcile_leader 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tidb_backup_reconcile_transitions_total{condition=\"Scheduled\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tidb_backup_reconcile_scheduled_backups_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE tidb_backup_reconcile_duration_seconds histogram\n"),
        "{metrics}"
    );
    // Created two hours ago: the 0-minute tick in between got no Backup of its own.
    assert!(
        metrics.contains("tidb_backup_reconcile_missed_ticks_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tidb_backup_reconcile_transitions_total{condition=\"Failed\"} 0\n"),
        "alerted conditions are exported before the first one: {metrics}"
    );
    // Every reconciler metric the alert rules and the dashboard query is exported.
    let missing = queries::missing(
        "tidb_backup_reconcile_",
        &queries::exported_metrics(&metrics),
    );
    assert!(
        missing.is_empty(),
        "queried but not exported by `reconcile`:\n{}\n{metrics}",
        missing.join("\n")
    );

    let _ = stop_tx.send(());
    task.await.expect("join").expect("clean exit");
    let lease = fake
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            "tidb-admin",
            "tidb-backup-reconciler",
        )
        .expect("lease");
    assert!(
        lease["spec"]
            .get("holderIdentity")
            .is_none_or(|h| h.is_null()),
        "released: {lease}"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the admin port is closed"
    );
    super::rbac::assert_all_allowed(&fake.requests());
}

#[tokio::test]
async fn a_missing_crd_is_a_clear_startup_error() {
    let fake = FakeApiServer::new();
    fake.fail_once("GET", "/apis/pingcap.com/v1alpha1/backups", 404, "NotFound");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = serve(fake.client(), args(), listener, std::future::pending())
        .await
        .expect_err("no CRD");
    assert!(
        err.to_string().starts_with("cannot list Backups (is the backups.pingcap.com CRD installed, and may this service account list Backups?): "),
        "{err}"
    );
}
