//! Reconciles interrupted by a failure between two of their steps, against the fake
//! apiserver, because a real one cannot be made to fail there on demand: a read of a
//! Job that exists answers NotFound (a stale cache, another replica's Job), a write is
//! refused right after the previous one succeeded (as when the reconciler dies between
//! them), a schedule's status write is lost after its Backup was created. Each step must
//! converge on the next reconcile. Everything else is tested through the real control
//! plane in `tests/e2e/reconciler/`.

use std::cell::Cell;
use std::sync::Arc;

use base64::Engine;
use jiff::Timestamp;
use serde_json::{Value, json};
use tidb_backup_webhook::api::{Backup, BackupSchedule};
use tidb_backup_webhook::controller::metrics::Metrics;
use tidb_backup_webhook::controller::{Context, Error, backup, schedule};
use tidb_backup_webhook::reconcile::gc::FINALIZER;

use super::fake_apiserver::{DELETION_TIMESTAMP, FakeApiServer};
use super::mariadb::{MariaDb, PASSWORD, USER};
use super::test_context;

const NS: &str = "test1";
const API: &str = "pingcap.com/v1alpha1";
const B1: &str = "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/b1";
const B1_STATUS: &str = "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/b1/status";
const JOBS: &str = "/apis/batch/v1/namespaces/test1/jobs";

thread_local! {
    /// The pinned clock (each test runs on its own current-thread runtime).
    static NOW: Cell<Timestamp> = const { Cell::new(Timestamp::UNIX_EPOCH) };
}

fn set_now(rfc3339: &str) {
    NOW.with(|now| now.set(rfc3339.parse().expect("RFC 3339")));
}

struct Harness {
    fake: FakeApiServer,
    ctx: Arc<Context>,
}

fn harness() -> Harness {
    let fake = FakeApiServer::new();
    let mut ctx = test_context(fake.client(), "test-0", Arc::new(Metrics::default()));
    ctx.clock = || NOW.with(Cell::get);
    set_now("2026-01-01T00:10:00Z");
    fake.insert(json!({
        "apiVersion": API, "kind": "TidbCluster",
        "metadata": {"name": "demo1", "namespace": NS},
        "spec": {"version": "v8.5.0", "tikv": {"baseImage": "pingcap/tikv"}}
    }));
    Harness {
        fake,
        ctx: Arc::new(ctx),
    }
}

/// The guide's access-key Backup; `from_port` adds `spec.from` pointing at MariaDB.
fn seed_backup(from_port: Option<u16>) -> Value {
    let mut spec = json!({
        "backupType": "full",
        "br": {"cluster": "demo1", "clusterNamespace": NS},
        "s3": {"provider": "aws", "secretName": "s3-secret", "region": "us-west-1",
               "bucket": "my-bucket", "prefix": "my-folder"}
    });
    if let Some(port) = from_port {
        spec["from"] = json!({"host": "127.0.0.1", "port": port, "user": USER,
                              "secretName": "backup-demo1-tidb-secret"});
    }
    json!({"apiVersion": API, "kind": "Backup",
           "metadata": {"name": "b1", "namespace": NS, "generation": 2}, "spec": spec})
}

impl Harness {
    fn backup(&self) -> Option<Value> {
        self.fake.get(API, "Backup", NS, "b1")
    }

    fn status(&self) -> Value {
        self.backup().expect("b1")["status"].clone()
    }

    fn finalizers(&self) -> Value {
        self.backup().expect("b1")["metadata"]["finalizers"].clone()
    }

    async fn reconcile(&self) -> Result<(), Error> {
        let Some(stored) = self.backup() else {
            return Ok(());
        };
        let typed: Backup = serde_json::from_value(stored).expect("a Backup");
        backup::reconcile(Arc::new(typed), self.ctx.clone())
            .await
            .map(|_| ())
    }

    fn add_db_secret(&self) {
        self.fake.insert(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "backup-demo1-tidb-secret", "namespace": NS},
            "data": {"password": base64::engine::general_purpose::STANDARD.encode(PASSWORD)}
        }));
    }

    fn job_creates(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == JOBS)
            .count()
    }

    fn released_notes(&self) -> usize {
        self.fake
            .list("events.k8s.io/v1", "Event")
            .iter()
            .filter(|e| e["reason"] == "GCLifeTimeReleased")
            .count()
    }
}

fn record(state: &str) -> Value {
    json!({"cluster": "test1/demo1", "original": "10m0s", "held": "72h", "state": state})
}

/// A read that misses the Job (the Backup's status says `Prepare`, the GET answers
/// NotFound although the Job exists): the create answers AlreadyExists, which counts as
/// created, and still one Job exists.
#[tokio::test]
async fn a_stale_read_of_the_job_still_makes_one_job() {
    let h = harness();
    h.fake.insert(seed_backup(None));
    h.reconcile().await.expect("schedule");
    assert_eq!(h.status()["phase"], "Scheduled");
    let prepared = h.status()["conditions"][0].clone();
    assert_eq!(prepared["type"], "Prepare");
    h.fake.update(
        API,
        "Backup",
        NS,
        "b1",
        json!({"status": {"conditions": [prepared], "phase": "Prepare"}}),
    );
    h.fake.fail_once("GET", "/jobs/backup-b1", 404, "NotFound");
    h.reconcile().await.expect("stale read");
    assert_eq!(h.job_creates(), 2, "the second attempt was made");
    assert_eq!(
        h.fake.list("batch/v1", "Job").len(),
        1,
        "and still only one Job exists"
    );
    assert_eq!(h.status()["phase"], "Scheduled");
}

/// The GC-lifetime finalizer is in place before the record, and the record before the
/// raise: when the finalizer cannot be added nothing is recorded or raised; when the
/// record cannot be written (the reconciler "died" after adding the finalizer) the value
/// is untouched; the next reconcile reuses the finalizer, records, raises, then creates
/// the Job.
#[tokio::test]
async fn the_finalizer_is_present_before_the_record_and_the_raise() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup(Some(db.port)));

    h.fake.fail_once("PATCH", "/backups/b1", 409, "Conflict");
    h.reconcile().await.expect_err("finalizer refused");
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.status()["tikvGCLifeTime"], Value::Null);
    assert_eq!(h.finalizers(), Value::Null);
    let retry = h.status()["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "RetryFailed").cloned())
        .expect("RetryFailed");
    assert_eq!(retry["reason"], "KubernetesAPIError");

    h.fake
        .fail_once("PATCH", "/backups/b1/status", 500, "InternalError");
    h.reconcile().await.expect_err("record refused");
    assert_eq!(h.finalizers(), json!([FINALIZER]));
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.status()["tikvGCLifeTime"], Value::Null);

    h.reconcile().await.expect("hold");
    assert_eq!(db.gc_life_time().await, "72h");
    assert_eq!(h.status()["tikvGCLifeTime"], record("Holding"));
    assert_eq!(h.status()["phase"], "Scheduled");
    assert_eq!(h.finalizers(), json!([FINALIZER]));

    // In request order: the refused patch, the patch that added it, the refused record,
    // the record; the Job only after all of them.
    let requests = h.fake.requests();
    let patches: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "PATCH" && r.path == B1)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(patches.len(), 2, "refused once, added once, then reused");
    let records: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.path == B1_STATUS && r.body["status"]["tikvGCLifeTime"]["state"] == "Holding"
        })
        .map(|(i, _)| i)
        .collect();
    // The refused record, the record, then the `Prepare` and `Scheduled` writes.
    assert_eq!(records.len(), 4, "{records:?}");
    assert!(
        patches[0] < patches[1] && patches[1] < records[0],
        "{patches:?} {records:?}"
    );
    let job = requests
        .iter()
        .position(|r| r.method == "POST" && r.path == JOBS)
        .expect("the Job");
    assert!(records[1] < job);
}

/// A holding Backup deleted while its Job runs: restored but the record not written
/// (still `Holding`, so released again: the value stays restored); released and recorded
/// but the finalizer not removed; then only the finalizer goes. One release announced.
#[tokio::test]
async fn every_interrupted_step_of_a_deletion_converges() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup(Some(db.port)));
    h.reconcile().await.expect("schedule");
    assert_eq!(h.status()["tikvGCLifeTime"], record("Holding"));
    // `kubectl delete backup b1`.
    let api: kube::Api<Backup> = kube::Api::namespaced(h.fake.client(), NS);
    api.delete("b1", &Default::default()).await.expect("delete");
    assert_eq!(
        h.backup().expect("b1")["metadata"]["deletionTimestamp"],
        DELETION_TIMESTAMP
    );

    h.fake
        .fail_once("PATCH", "/backups/b1/status", 500, "InternalError");
    h.reconcile().await.expect_err("record refused");
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.status()["tikvGCLifeTime"]["state"], "Holding");
    assert_eq!(h.finalizers(), json!([FINALIZER]));

    h.fake.fail_once("PATCH", "/backups/b1", 409, "Conflict");
    h.reconcile().await.expect_err("removal refused");
    assert_eq!(h.status()["tikvGCLifeTime"], record("Restored"));
    assert_eq!(h.finalizers(), json!([FINALIZER]));

    h.reconcile().await.expect("let go");
    assert!(h.backup().is_none());
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.released_notes(), 1);
}

/// A schedule's status write is lost after the tick's Backup was created: the retry
/// finds the tick's Backup and records it instead of creating another.
#[tokio::test]
async fn a_lost_schedule_status_write_is_recovered_from_the_ticks_backup() {
    let h = harness();
    h.fake
        .insert(json!({"apiVersion": API, "kind": "BackupSchedule",
        "metadata": {"name": "bsname", "namespace": NS, "generation": 1,
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"schedule": "0 * * * *", "backupTemplate": seed_backup(None)["spec"]}}));
    set_now("2026-01-01T06:00:00.300Z");
    h.fake.fail_once(
        "PATCH",
        "/backupschedules/bsname/status",
        500,
        "InternalError",
    );
    let run = || async {
        let stored = h
            .fake
            .get(API, "BackupSchedule", NS, "bsname")
            .expect("the schedule");
        let typed: BackupSchedule = serde_json::from_value(stored).expect("a BackupSchedule");
        schedule::reconcile(Arc::new(typed), h.ctx.clone()).await
    };
    run().await.expect_err("status write failed");
    run().await.expect("retry");
    let creates = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/backups"))
        .count();
    assert_eq!(
        creates, 1,
        "the retry found the tick's Backup: no second one"
    );
    assert_eq!(h.fake.list(API, "Backup").len(), 1);
    let status = &h.fake.get(API, "BackupSchedule", NS, "bsname").expect("it")["status"];
    assert_eq!(status["lastBackup"], "bsname-2026-01-01t06-00-00");
    assert_eq!(status["lastBackupTime"], "2026-01-01T06:00:00Z");
}
