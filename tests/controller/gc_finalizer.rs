//! The GC-lifetime finalizer against the fake apiserver and MariaDB: a Backup that holds
//! the raised value carries `tidb.pingcap.com/gc-life-time` (added before the record and
//! the raise), lets go of it once it no longer holds, and, deleted while holding,
//! releases first (restore as the last holder, else hand off), also under `Retain`;
//! an unreachable TiDB is announced and never keeps it; every interrupted step converges.

use serde_json::{Value, json};
use tidb_backup_webhook::reconcile::clean::FINALIZER as CLEAN_FINALIZER;
use tidb_backup_webhook::reconcile::gc::FINALIZER;

use super::clean::{assert_reconciler_allowed, with_policy};
use super::fake_apiserver::{DELETION_TIMESTAMP, Recorded};
use super::mariadb::MariaDb;
use super::reconcile::{Harness, NS, harness, seed_backup};

const B1: &str = "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/b1";
const B1_STATUS: &str = "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/b1/status";

fn record(original: &str, held: &str, state: &str) -> Value {
    json!({"cluster": "test1/demo1", "original": original, "held": held, "state": state})
}

impl Harness {
    /// The reconciler's merge patches of `name`'s metadata (its finalizers), in order.
    fn finalizer_patches(&self, name: &str) -> Vec<Value> {
        let path = format!("/apis/pingcap.com/v1alpha1/namespaces/{NS}/backups/{name}");
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" && r.path == path)
            .map(|r| {
                assert_eq!(r.content_type, "application/merge-patch+json");
                assert!(
                    r.body["metadata"]["resourceVersion"].is_string(),
                    "guarded by the resourceVersion read: {}",
                    r.body
                );
                r.body["metadata"]["finalizers"].clone()
            })
            .collect()
    }

    /// Notes of the events with `reason`.
    fn notes(&self, reason: &str) -> Vec<String> {
        self.fake
            .list("events.k8s.io/v1", "Event")
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["note"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// A `spec.from` Backup of the given policy that holds the GC life time; its Job runs.
    async fn holding_backup(&self, db: &MariaDb, name: &str, policy: &str, desired: &str) {
        let mut backup = with_policy(seed_backup(name, Some(db.port)), policy);
        backup["spec"]["tikvGCLifeTime"] = json!(desired);
        self.fake.insert(backup);
        self.reconcile(name).await.expect("schedule");
        self.add_pod(name, "Running");
        self.reconcile(name).await.expect("running");
        assert_eq!(self.status(name)["phase"], "Running");
        assert_eq!(self.status(name)["tikvGCLifeTime"]["state"], "Holding");
    }
}

fn position(requests: &[Recorded], what: impl Fn(&Recorded) -> bool) -> usize {
    requests
        .iter()
        .position(what)
        .expect("the request was made")
}

#[tokio::test]
async fn a_retain_backup_deleted_while_holding_restores_the_original_and_disappears() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.holding_backup(&db, "b1", "Retain", "72h").await;
    assert_eq!(db.gc_life_time().await, "72h");
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));
    assert_eq!(
        h.status("b1")["tikvGCLifeTime"],
        record("10m0s", "72h", "Holding")
    );

    // `kubectl delete backup b1` while BR runs: the finalizer keeps the record.
    h.delete_backup("b1").await;
    assert_eq!(
        h.backup("b1")["metadata"]["deletionTimestamp"],
        DELETION_TIMESTAMP
    );
    h.reconcile_any("b1").await;
    assert_eq!(
        db.gc_life_time().await,
        "10m0s",
        "restored before letting go"
    );
    assert!(
        h.backup_opt("b1").is_none(),
        "the finalizer went, so did the Backup"
    );
    assert_eq!(
        h.last_status("b1")["tikvGCLifeTime"],
        record("10m0s", "72h", "Restored")
    );
    assert_eq!(
        h.notes("GCLifeTimeReleased"),
        vec!["restored tikv_gc_life_time of cluster test1/demo1 to \"10m0s\""]
    );
    assert_eq!(
        h.metrics.gc_restore_failures.get(),
        0,
        "restored: no failure"
    );
    // Added once before the hold, removed once after the release was recorded.
    assert_eq!(
        h.finalizer_patches("b1"),
        vec![json!([FINALIZER]), json!([])]
    );
    let requests = h.fake.requests();
    let released = position(&requests, |r| {
        r.path == B1_STATUS && r.body["status"]["tikvGCLifeTime"]["state"] == "Restored"
    });
    let removed = position(&requests, |r| {
        r.method == "PATCH" && r.path == B1 && r.body["metadata"]["finalizers"] == json!([])
    });
    assert!(released < removed, "recorded before the finalizer goes");
    assert_eq!(h.job_creates(), 1);
    assert_reconciler_allowed(&h);
}

#[tokio::test]
async fn the_finalizer_is_present_before_the_record_and_the_raise() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup("b1", Some(db.port)));

    // The finalizer cannot be added: nothing is recorded, nothing raised.
    h.fake.fail_once("PATCH", "/backups/b1", 409, "Conflict");
    h.reconcile("b1").await.expect_err("finalizer refused");
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.status("b1")["tikvGCLifeTime"], Value::Null);
    assert_eq!(h.backup("b1")["metadata"]["finalizers"], Value::Null);
    assert_eq!(
        h.condition("b1", "RetryFailed")["reason"],
        "KubernetesAPIError"
    );

    // Added, then the record cannot be written (as if the reconciler died between the
    // two): the finalizer is there, the value untouched.
    h.fake
        .fail_once("PATCH", "/backups/b1/status", 500, "InternalError");
    h.reconcile("b1").await.expect_err("record refused");
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.status("b1")["tikvGCLifeTime"], Value::Null);

    // The hold resumes with the finalizer it added: recorded, raised, scheduled.
    h.reconcile("b1").await.expect("hold");
    assert_eq!(db.gc_life_time().await, "72h");
    assert_eq!(
        h.status("b1")["tikvGCLifeTime"],
        record("10m0s", "72h", "Holding")
    );
    assert_eq!(h.status("b1")["phase"], "Scheduled");
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));

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
    let job = position(&requests, |r| {
        r.method == "POST" && r.path == format!("/apis/batch/v1/namespaces/{NS}/jobs")
    });
    assert!(records[1] < job);
}

#[tokio::test]
async fn a_finalizer_left_by_an_interrupted_hold_does_not_keep_a_deleted_backup() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    // The reconciler added the finalizer and died before recording anything.
    let mut backup = seed_backup("b1", Some(db.port));
    backup["metadata"]["finalizers"] = json!([FINALIZER]);
    h.fake.insert(backup);
    h.delete_backup("b1").await;
    h.reconcile_any("b1").await;
    assert!(h.backup_opt("b1").is_none());
    assert_eq!(db.gc_life_time().await, "10m0s", "nothing was held");
    assert_eq!(h.job_creates(), 0);
    assert_eq!(h.finalizer_patches("b1"), vec![json!([])]);
    assert!(h.notes("GCLifeTimeReleased").is_empty());
}

#[tokio::test]
async fn every_interrupted_step_of_a_deletion_converges() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.holding_backup(&db, "b1", "Retain", "72h").await;
    h.delete_backup("b1").await;

    // Restored, but the record could not be written: still Holding, so released again.
    h.fake
        .fail_once("PATCH", "/backups/b1/status", 500, "InternalError");
    h.reconcile("b1").await.expect_err("record refused");
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.status("b1")["tikvGCLifeTime"]["state"], "Holding");
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));

    // Released and recorded, but the finalizer could not be removed.
    h.fake.fail_once("PATCH", "/backups/b1", 409, "Conflict");
    h.reconcile("b1").await.expect_err("removal refused");
    assert_eq!(
        h.status("b1")["tikvGCLifeTime"],
        record("10m0s", "72h", "Restored")
    );
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));

    // Nothing is held any more: only the finalizer goes.
    h.reconcile("b1").await.expect("let go");
    assert!(h.backup_opt("b1").is_none());
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.notes("GCLifeTimeReleased").len(), 1);
}

#[tokio::test]
async fn deleting_the_first_of_two_holders_hands_off_and_the_second_restores() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.holding_backup(&db, "b1", "Retain", "72h").await;
    h.holding_backup(&db, "b2", "Retain", "96h").await;
    assert_eq!(db.gc_life_time().await, "96h");
    assert_eq!(
        h.status("b2")["tikvGCLifeTime"],
        record("10m0s", "96h", "Holding"),
        "inherits the first original"
    );

    h.delete_backup("b1").await;
    h.reconcile_any("b1").await;
    assert!(h.backup_opt("b1").is_none());
    assert_eq!(db.gc_life_time().await, "96h", "b2 still holds it");
    assert_eq!(
        h.last_status("b1")["tikvGCLifeTime"],
        record("10m0s", "72h", "HandedOff")
    );
    assert_eq!(
        h.notes("GCLifeTimeReleased"),
        vec![
            "left tikv_gc_life_time of cluster test1/demo1 raised for the other running backups, which restore \"10m0s\""
        ]
    );
    assert_eq!(h.finalizers("b2"), json!([FINALIZER]));

    h.fake.set_log(NS, "backup-b2-x7k2p", "");
    h.finish_job("b2", true);
    h.reconcile("b2").await.expect("finish b2");
    assert_eq!(db.gc_life_time().await, "10m0s");
    let status = h.status("b2");
    assert_eq!(status["phase"], "Complete");
    assert_eq!(status["tikvGCLifeTime"], record("10m0s", "96h", "Restored"));
    assert_eq!(h.finalizers("b2"), json!([]), "released, so let go");
    assert_eq!(
        h.finalizer_patches("b2"),
        vec![json!([FINALIZER]), json!([])]
    );
    assert_reconciler_allowed(&h);
}

#[tokio::test]
async fn a_backup_that_raised_nothing_gets_no_finalizer() {
    let db = MariaDb::start("100h").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup("b1", Some(db.port)));
    h.reconcile("b1").await.expect("schedule");
    assert_eq!(
        h.status("b1")["tikvGCLifeTime"],
        record("100h", "100h", "Unchanged")
    );
    assert_eq!(h.status("b1")["phase"], "Scheduled");
    h.fake.set_log(NS, "backup-b1-x7k2p", "");
    h.finish_job("b1", true);
    h.reconcile("b1").await.expect("finish");
    assert_eq!(h.status("b1")["phase"], "Complete");
    assert!(h.finalizer_patches("b1").is_empty(), "never added");
    assert_eq!(h.backup("b1")["metadata"]["finalizers"], Value::Null);
    h.delete_backup("b1").await;
    assert!(h.backup_opt("b1").is_none(), "gone at once");
    assert_eq!(db.gc_life_time().await, "100h");
}

#[tokio::test]
async fn an_unreachable_tidb_is_announced_and_the_backup_is_deleted_anyway() {
    let mut db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.holding_backup(&db, "b1", "Retain", "72h").await;
    db.stop();

    h.delete_backup("b1").await;
    h.reconcile_any("b1").await;
    assert!(
        h.backup_opt("b1").is_none(),
        "TiDB does not hold up the deletion"
    );
    assert_eq!(
        h.last_status("b1")["tikvGCLifeTime"],
        record("10m0s", "72h", "Holding"),
        "nothing released"
    );
    let events: Vec<Value> = h
        .fake
        .list("events.k8s.io/v1", "Event")
        .into_iter()
        .filter(|e| e["reason"] == "GCLifeTimeNotRestored")
        .collect();
    assert_eq!(events.len(), 1, "announced once");
    assert_eq!(
        h.metrics.gc_restore_failures.get(),
        1,
        "counted for the alert"
    );
    assert_eq!(events[0]["type"], "Warning");
    assert_eq!(events[0]["regarding"]["name"], "b1");
    let note = events[0]["note"].as_str().expect("note");
    let prefix = format!(
        "could not restore tikv_gc_life_time of cluster test1/demo1 to \"10m0s\": cannot connect to TiDB at 127.0.0.1:{} as backup: ",
        db.port
    );
    assert!(note.starts_with(&prefix), "{note}");
    assert!(
        note.ends_with("to restore it by hand, check it with `select VARIABLE_NAME, VARIABLE_VALUE from mysql.tidb where VARIABLE_NAME like \"tikv_gc_life_time\";` and run `update mysql.tidb set VARIABLE_VALUE = '10m0s' where VARIABLE_NAME = 'tikv_gc_life_time';`"),
        "{note}"
    );
    assert_eq!(
        h.finalizer_patches("b1"),
        vec![json!([FINALIZER]), json!([])]
    );
}

#[tokio::test]
async fn a_holding_backup_without_the_finalizer_gets_it() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.holding_backup(&db, "b1", "Retain", "72h").await;
    // As an older version left it: Holding, no finalizer; others' finalizers are kept.
    h.fake.update(
        "pingcap.com/v1alpha1",
        "Backup",
        NS,
        "b1",
        json!({"metadata": {"finalizers": ["example.com/keep"]}}),
    );
    h.reconcile("b1").await.expect("protect");
    assert_eq!(h.finalizers("b1"), json!(["example.com/keep", FINALIZER]));
    assert_eq!(db.gc_life_time().await, "72h");
}

#[tokio::test]
async fn with_clean_policy_delete_the_gc_finalizer_goes_after_the_job_and_the_clean_one_last() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.holding_backup(&db, "b1", "Delete", "72h").await;
    assert_eq!(h.finalizers("b1"), json!([CLEAN_FINALIZER, FINALIZER]));

    // Deleted while BR runs: nothing is released or cleaned before the Job ends.
    h.delete_backup("b1").await;
    h.reconcile("b1").await.expect("waits");
    assert_eq!(db.gc_life_time().await, "72h");
    assert_eq!(h.finalizers("b1"), json!([CLEAN_FINALIZER, FINALIZER]));

    // The Job ends: released with its outcome, then our finalizer goes; the clean Job
    // starts and the cleanPolicy finalizer stays for the data.
    h.fake.set_log(NS, "backup-b1-x7k2p", "");
    h.finish_job("b1", true);
    h.reconcile("b1").await.expect("finish");
    assert_eq!(db.gc_life_time().await, "10m0s");
    assert_eq!(h.status("b1")["tikvGCLifeTime"]["state"], "Restored");
    assert_eq!(h.finalizers("b1"), json!([CLEAN_FINALIZER]));
    assert!(h.fake.get("batch/v1", "Job", NS, "clean-b1").is_some());

    h.finish_clean_job("b1", true, "");
    h.reconcile("b1").await.expect("cleaned");
    assert!(h.backup_opt("b1").is_none());
    assert_eq!(
        h.finalizer_patches("b1"),
        vec![
            json!([CLEAN_FINALIZER]),
            json!([CLEAN_FINALIZER, FINALIZER]),
            json!([CLEAN_FINALIZER]),
            json!([]),
        ]
    );
    assert_reconciler_allowed(&h);
}
