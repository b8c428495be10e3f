//! The Backup reconcile against the in-memory fake apiserver (and MariaDB where
//! `spec.from` is set): the Job and conditions each observation leads to, exactly one
//! Job across duplicate reconciles, restarts and stale reads, the GC life time restored
//! after the Job ends, and the status written through the status subresource.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jiff::Timestamp;
use kube::runtime::controller::Action;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tidb_backup_webhook::api::Backup;
use tidb_backup_webhook::controller::backup::reconcile;
use tidb_backup_webhook::controller::metrics::Metrics;
use tidb_backup_webhook::controller::{Context, Error};

use super::fake_apiserver::FakeApiServer;
use super::mariadb::{MariaDb, PASSWORD, USER};
use super::test_context;

pub(super) const NS: &str = "test1";
pub(super) const NOW: &str = "2026-01-01T00:10:00Z";

pub(super) struct Harness {
    pub(super) fake: FakeApiServer,
    pub(super) ctx: Arc<Context>,
    pub(super) metrics: Arc<Metrics>,
}

pub(super) fn context(fake: &FakeApiServer, metrics: Arc<Metrics>) -> Arc<Context> {
    let mut ctx = test_context(fake.client(), "test-0", metrics);
    ctx.clock = || NOW.parse().expect("now");
    Arc::new(ctx)
}

pub(super) fn harness() -> Harness {
    let fake = FakeApiServer::new();
    let metrics = Arc::new(Metrics::default());
    let ctx = context(&fake, metrics.clone());
    fake.insert(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "TidbCluster",
        "metadata": {"name": "demo1", "namespace": NS},
        "spec": {"version": "v8.5.0", "tikv": {"baseImage": "pingcap/tikv"}}
    }));
    Harness { fake, ctx, metrics }
}

/// The user guide's access-key Backup; `from_port` adds `spec.from` pointing at MariaDB.
pub(super) fn seed_backup(name: &str, from_port: Option<u16>) -> Value {
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
    json!({"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
           "metadata": {"name": name, "namespace": NS, "generation": 2}, "spec": spec})
}

impl Harness {
    pub(super) fn backup(&self, name: &str) -> Value {
        self.fake
            .get("pingcap.com/v1alpha1", "Backup", NS, name)
            .expect("backup exists")
    }

    pub(super) async fn reconcile(&self, name: &str) -> Result<Action, Error> {
        self.reconcile_with(&self.ctx, name).await
    }

    pub(super) async fn reconcile_with(
        &self,
        ctx: &Arc<Context>,
        name: &str,
    ) -> Result<Action, Error> {
        let backup: Backup = serde_json::from_value(self.backup(name)).expect("typed backup");
        reconcile(Arc::new(backup), ctx.clone()).await
    }

    pub(super) fn status(&self, name: &str) -> Value {
        self.backup(name)["status"].clone()
    }

    pub(super) fn condition(&self, name: &str, type_: &str) -> Value {
        self.status(name)["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
            .unwrap_or(Value::Null)
    }

    pub(super) fn job_creates(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path == format!("/apis/batch/v1/namespaces/{NS}/jobs")
            })
            .count()
    }

    pub(super) fn event_reasons(&self) -> Vec<String> {
        self.fake
            .list("events.k8s.io/v1", "Event")
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub(super) fn add_db_secret(&self) {
        self.fake.insert(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "backup-demo1-tidb-secret", "namespace": NS},
            "data": {"password": base64::engine::general_purpose::STANDARD.encode(PASSWORD)}
        }));
    }

    pub(super) fn add_pod(&self, backup: &str, phase: &str) {
        self.fake.insert(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("backup-{backup}-x7k2p"), "namespace": NS,
                         "creationTimestamp": "2026-01-01T00:01:00Z",
                         "labels": {"app.kubernetes.io/component": "backup", "app.kubernetes.io/managed-by": "backup-operator",
                                    "app.kubernetes.io/name": "backup", "app.kubernetes.io/instance": backup,
                                    "tidb.pingcap.com/backup": backup}},
            "spec": {"containers": [{"name": "backup", "image": "pingcap/br:v8.5.0"}]},
            "status": {"phase": phase, "startTime": "2026-01-01T00:01:01Z",
                       "containerStatuses": [{"name": "backup", "image": "pingcap/br:v8.5.0", "imageID": "",
                           "ready": true, "restartCount": 0,
                           "state": {"running": {"startedAt": "2026-01-01T00:01:30Z"}}}]}
        }));
    }

    pub(super) fn finish_job(&self, backup: &str, succeeded: bool) {
        let condition = if succeeded {
            json!({"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:09:00Z"})
        } else {
            json!({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                   "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-01-01T00:09:00Z"})
        };
        let mut status = json!({"startTime": "2026-01-01T00:01:00Z", "conditions": [condition]});
        if succeeded {
            status["completionTime"] = json!("2026-01-01T00:09:00Z");
        }
        self.fake.update(
            "batch/v1",
            "Job",
            NS,
            &format!("backup-{backup}"),
            json!({"status": status}),
        );
    }
}

#[tokio::test]
async fn a_new_backup_gets_one_job_and_is_scheduled() {
    let h = harness();
    h.fake.insert(seed_backup("b1", None));
    let action = h.reconcile("b1").await.expect("reconcile");
    assert_eq!(action, Action::await_change());

    assert_eq!(h.job_creates(), 1);
    let job = h
        .fake
        .get("batch/v1", "Job", NS, "backup-b1")
        .expect("the Job");
    let backup_uid = h.backup("b1")["metadata"]["uid"].clone();
    assert_eq!(
        job["metadata"]["ownerReferences"],
        json!([{"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "name": "b1",
                "uid": backup_uid, "controller": true, "blockOwnerDeletion": true}])
    );
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"], "pingcap/br:v8.5.0",
        "BR image from the TidbCluster's TiKV version"
    );
    assert_eq!(container["args"][2], "--pd=demo1-pd.test1:2379");

    let status = h.status("b1");
    assert_eq!(status["phase"], "Scheduled");
    assert_eq!(status["backupPath"], "s3://my-bucket/my-folder");
    let scheduled = h.condition("b1", "Scheduled");
    assert_eq!(scheduled["status"], "True");
    assert_eq!(scheduled["reason"], "JobCreated");
    assert_eq!(scheduled["message"], "created Job test1/backup-b1");
    assert_eq!(scheduled["lastTransitionTime"], NOW);
    for condition in status["conditions"].as_array().expect("conditions") {
        assert_eq!(condition["observedGeneration"], 2, "{condition}");
    }
    assert!(
        status.get("tikvGCLifeTime").is_none(),
        "no spec.from: the GC life time is not touched"
    );

    // Status goes through the status subresource, applied under one field manager.
    let status_writes: Vec<_> = h
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert!(!status_writes.is_empty());
    for w in &status_writes {
        assert_eq!(
            w.path,
            "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/b1/status"
        );
        assert_eq!(w.content_type, "application/apply-patch+yaml");
        assert!(
            w.query.contains("fieldManager=tidb-backup-webhook"),
            "{}",
            w.query
        );
        assert!(w.query.contains("force=true"), "{}", w.query);
        assert_eq!(w.body["apiVersion"], "pingcap.com/v1alpha1");
        assert_eq!(w.body["kind"], "Backup");
        assert!(
            w.body.get("spec").is_none(),
            "a status write carries only the status"
        );
    }
    assert_eq!(h.event_reasons(), vec!["Prepared", "SuccessfulCreate"]);
    let prepared = h.condition("b1", "Prepare");
    assert_eq!(prepared["message"], "backup path s3://my-bucket/my-folder");
}

#[tokio::test]
async fn duplicate_reconciles_a_restart_and_a_stale_read_still_make_one_job() {
    let h = harness();
    h.fake.insert(seed_backup("b1", None));
    for _ in 0..5 {
        h.reconcile("b1").await.expect("reconcile");
    }
    // A restarted reconciler (or a new leader) starts from what the apiserver holds.
    let restarted = context(&h.fake, Arc::new(Metrics::default()));
    h.reconcile_with(&restarted, "b1")
        .await
        .expect("after restart");
    assert_eq!(h.job_creates(), 1);

    // A replica whose read of the Job is stale creates it again: AlreadyExists is success.
    let mut stale = h.backup("b1");
    stale["status"]["conditions"] = json!([stale["status"]["conditions"][0].clone()]);
    h.fake.update(
        "pingcap.com/v1alpha1",
        "Backup",
        NS,
        "b1",
        json!({"status": {"conditions": stale["status"]["conditions"], "phase": "Prepare"}}),
    );
    h.fake.fail_once("GET", "/jobs/backup-b1", 404, "NotFound");
    h.reconcile_with(&restarted, "b1")
        .await
        .expect("stale read");
    assert_eq!(h.job_creates(), 2, "the second attempt was made");
    assert_eq!(
        h.fake.list("batch/v1", "Job").len(),
        1,
        "and still only one Job exists"
    );
    assert_eq!(h.status("b1")["phase"], "Scheduled");
}

#[tokio::test]
async fn a_running_pod_marks_the_backup_running_with_time_started() {
    let h = harness();
    h.fake.insert(seed_backup("b1", None));
    h.reconcile("b1").await.expect("schedule");
    h.add_pod("b1", "Pending");
    h.reconcile("b1").await.expect("pending");
    assert_eq!(h.status("b1")["phase"], "Scheduled");
    assert!(h.status("b1").get("timeStarted").is_none());

    h.fake.update(
        "v1",
        "Pod",
        NS,
        "backup-b1-x7k2p",
        json!({"status": {"phase": "Running"}}),
    );
    h.reconcile("b1").await.expect("running");
    let status = h.status("b1");
    assert_eq!(status["phase"], "Running");
    assert_eq!(
        status["timeStarted"], "2026-01-01T00:01:30Z",
        "the BR container's start, written now"
    );
    let running = h.condition("b1", "Running");
    assert_eq!(running["message"], "BR is running in pod backup-b1-x7k2p");
    assert_eq!(running["observedGeneration"], 2);
    assert_eq!(
        h.event_reasons(),
        vec!["Prepared", "SuccessfulCreate", "Running"]
    );
}

const BR_SUCCESS: &str = "[2026/01/01 00:08:59.000 +00:00] [INFO] [collector.go:77] [\"Full Backup success summary\"] [total-ranges=19] [backup-data-size(after-compressed)=102.5kB] [Size=102451] [BackupTS=447518343168000000]\n";
const BR_FAILURE: &str = "[2026/01/01 00:08:00.000 +00:00] [INFO] [backup.go:50] [\"start\"]\n[2026/01/01 00:08:59.000 +00:00] [ERROR] [backup.go:40] [\"failed to backup\"] [error=\"[BR:KV:ErrKVStorage]tikv storage occur I/O error\"]\nError: [BR:KV:ErrKVStorage]tikv storage occur I/O error\n";

#[tokio::test]
async fn a_failed_job_fails_the_backup_and_restores_the_gc_life_time() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup("b1", Some(db.port)));
    h.reconcile("b1").await.expect("schedule");
    assert_eq!(
        db.gc_life_time().await,
        "72h",
        "raised to the default spec.tikvGCLifeTime"
    );
    assert_eq!(
        h.status("b1")["tikvGCLifeTime"],
        json!({"cluster": "test1/demo1", "original": "10m0s", "held": "72h", "state": "Holding"})
    );
    assert_eq!(h.status("b1")["phase"], "Scheduled");
    assert_eq!(
        h.condition("b1", "Prepare")["message"],
        "backup path s3://my-bucket/my-folder; raised tikv_gc_life_time of cluster test1/demo1 from \"10m0s\" to \"72h\" (\"10m0s\" is restored after the backup)"
    );

    h.add_pod("b1", "Failed");
    h.fake.set_log(NS, "backup-b1-x7k2p", BR_FAILURE);
    h.finish_job("b1", false);
    h.reconcile("b1").await.expect("finish");

    assert_eq!(
        db.gc_life_time().await,
        "10m0s",
        "restored after the failure"
    );
    let status = h.status("b1");
    assert_eq!(status["phase"], "Failed");
    assert_eq!(status["tikvGCLifeTime"]["state"], "Restored");
    let failed = h.condition("b1", "Failed");
    assert_eq!(failed["reason"], "BackupDataToRemoteFailed");
    assert_eq!(
        failed["message"],
        "BR failed: [2026/01/01 00:08:59.000 +00:00] [ERROR] [backup.go:40] [\"failed to backup\"] [error=\"[BR:KV:ErrKVStorage]tikv storage occur I/O error\"]\nError: [BR:KV:ErrKVStorage]tikv storage occur I/O error"
    );
    assert_eq!(failed["observedGeneration"], 2);
    assert_eq!(
        h.event_reasons(),
        vec![
            "GCLifeTimeHeld",
            "Prepared",
            "SuccessfulCreate",
            "GCLifeTimeReleased",
            "Failed"
        ]
    );
    // Terminal: nothing more is written.
    let writes = h.fake.requests().len();
    h.reconcile("b1").await.expect("done");
    let new: Vec<_> = h
        .fake
        .requests()
        .into_iter()
        .skip(writes)
        .filter(|r| r.method != "GET")
        .collect();
    assert!(new.is_empty(), "{new:?}");
}

#[tokio::test]
async fn a_successful_job_completes_with_brs_numbers_and_restores_the_gc_life_time() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup("b1", Some(db.port)));
    h.reconcile("b1").await.expect("schedule");
    h.add_pod("b1", "Running");
    h.reconcile("b1").await.expect("running");
    h.fake.update(
        "v1",
        "Pod",
        NS,
        "backup-b1-x7k2p",
        json!({"status": {"phase": "Succeeded"}}),
    );
    h.fake.set_log(NS, "backup-b1-x7k2p", BR_SUCCESS);
    h.finish_job("b1", true);
    h.reconcile("b1").await.expect("finish");

    assert_eq!(db.gc_life_time().await, "10m0s");
    let status = h.status("b1");
    assert_eq!(status["phase"], "Complete");
    assert_eq!(status["backupPath"], "s3://my-bucket/my-folder");
    assert_eq!(status["commitTs"], "447518343168000000");
    assert_eq!(status["backupSize"], 102451);
    assert_eq!(status["backupSizeReadable"], "102 kB");
    assert_eq!(status["timeStarted"], "2026-01-01T00:01:30Z");
    assert_eq!(status["timeCompleted"], "2026-01-01T00:09:00Z");
    let types: Vec<&str> = status["conditions"]
        .as_array()
        .expect("c")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, vec!["Prepare", "Scheduled", "Running", "Complete"]);
    // Secrets, the TidbCluster, pod logs, all Backups: all granted by the shipped RBAC.
    super::rbac::assert_all_allowed(&h.fake.requests());
}

#[tokio::test]
async fn overlapping_backups_of_one_cluster_restore_after_the_last() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup("b1", Some(db.port)));
    h.reconcile("b1").await.expect("schedule b1");
    let mut second = seed_backup("b2", Some(db.port));
    second["spec"]["tikvGCLifeTime"] = json!("48h");
    h.fake.insert(second);
    h.reconcile("b2").await.expect("schedule b2");
    assert_eq!(
        h.status("b2")["tikvGCLifeTime"],
        json!({"cluster": "test1/demo1", "original": "10m0s", "held": "48h", "state": "Holding"})
    );
    assert_eq!(db.gc_life_time().await, "72h");

    h.finish_job("b1", true);
    h.reconcile("b1").await.expect("finish b1");
    assert_eq!(h.status("b1")["tikvGCLifeTime"]["state"], "HandedOff");
    assert_eq!(db.gc_life_time().await, "72h", "b2 still runs");
    h.finish_job("b2", false);
    h.reconcile("b2").await.expect("finish b2");
    assert_eq!(h.status("b2")["tikvGCLifeTime"]["state"], "Restored");
    assert_eq!(db.gc_life_time().await, "10m0s");
}

#[tokio::test]
async fn a_failed_restore_fails_the_backup_with_the_manual_sql_and_is_retried() {
    let mut db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup("b1", Some(db.port)));
    h.reconcile("b1").await.expect("schedule");
    db.stop();
    h.finish_job("b1", true);
    assert_eq!(h.metrics.gc_restore_failures.get(), 0);
    let action = h.reconcile("b1").await.expect("finish");
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(5)),
        "first retry after 5 s"
    );
    let failed = h.condition("b1", "Failed");
    assert_eq!(failed["reason"], "ResetTikvGCLifeTimeFailed");
    let message = failed["message"].as_str().expect("message");
    assert!(message.starts_with("BR finished the backup, but could not restore tikv_gc_life_time of cluster test1/demo1 to \"10m0s\": cannot connect to TiDB"), "{message}");
    assert!(message.ends_with("run `update mysql.tidb set VARIABLE_VALUE = '10m0s' where VARIABLE_NAME = 'tikv_gc_life_time';`"), "{message}");
    assert_eq!(
        h.status("b1")["tikvGCLifeTime"]["state"],
        "Holding",
        "still to be restored"
    );
    assert_eq!(h.metrics.gc_restore_failures.get(), 1, "counted after BR");
    let err = h.reconcile("b1").await.expect_err("still down");
    assert_eq!(err.metric_label(), "gc_restore");
    assert_eq!(h.metrics.gc_restore_failures.get(), 2, "and on each retry");
}

#[tokio::test]
async fn an_invalid_spec_is_marked_invalid_and_gets_no_job() {
    let h = harness();
    let mut b = seed_backup("b1", None);
    b["spec"]["backupType"] = json!("Full");
    b["spec"]["s3"]["endpoint"] = json!("minio:9000");
    h.fake.insert(b);
    h.reconcile("b1").await.expect("reconcile");
    assert_eq!(h.job_creates(), 0);
    let status = h.status("b1");
    assert_eq!(status["phase"], "Invalid");
    let invalid = h.condition("b1", "Invalid");
    assert_eq!(invalid["reason"], "InvalidSpec");
    assert_eq!(invalid["observedGeneration"], 2);
    let message = invalid["message"].as_str().expect("message");
    assert!(
        message.starts_with("spec.backupType: unsupported value \"Full\": did you mean \"full\"?"),
        "{message}"
    );
    assert!(
        message.contains("; spec.s3.endpoint: host not found in endpoint \"minio:9000\""),
        "{message}"
    );
    assert_eq!(h.event_reasons(), vec!["InvalidSpec"]);
    h.reconcile("b1").await.expect("again");
    assert_eq!(h.job_creates(), 0, "terminal: never a Job");
}

/// A log backup is valid, and TiDB Operator's to run: one `Unsupported` condition and one
/// Event, no Job, no finalizer, nothing more on later events.
#[tokio::test]
async fn a_log_backup_is_unsupported_once() {
    let h = harness();
    let mut b = seed_backup("b1", None);
    b["spec"]["backupMode"] = json!("log");
    b["spec"]["cleanPolicy"] = json!("Delete");
    h.fake.insert(b);
    h.reconcile("b1").await.expect("reconcile");
    assert_eq!(h.job_creates(), 0);
    assert_eq!(h.status("b1")["phase"], "Unsupported");
    let unsupported = h.condition("b1", "Unsupported");
    assert_eq!(unsupported["reason"], "LogBackupNotSupported");
    assert_eq!(
        unsupported["message"],
        "log (PITR) backups are not run by this reconciler, which runs BR snapshot backups; let TiDB Operator's backup controller run it"
    );
    assert_eq!(h.event_reasons(), vec!["LogBackupNotSupported"]);
    assert!(
        h.finalizers("b1").as_array().is_none_or(Vec::is_empty),
        "no finalizer: nothing to clean"
    );
    h.reconcile("b1").await.expect("again");
    assert_eq!(h.job_creates(), 0, "terminal: never a Job");
    assert_eq!(
        h.event_reasons(),
        vec!["LogBackupNotSupported"],
        "announced once"
    );
}

#[tokio::test]
async fn an_unreachable_tidb_is_retried_without_a_job() {
    let h = harness();
    h.add_db_secret();
    // Nothing listens on port 1.
    h.fake.insert(seed_backup("b1", Some(1)));
    let err = h.reconcile("b1").await.expect_err("cannot connect");
    assert_eq!(err.metric_label(), "gc_hold");
    assert_eq!(h.job_creates(), 0);
    let retry = h.condition("b1", "RetryFailed");
    assert_eq!(retry["reason"], "ConnectTidbFailed");
    assert!(
        retry["message"]
            .as_str()
            .expect("m")
            .starts_with("cannot connect to TiDB at 127.0.0.1:1 as backup: ")
    );
    assert_eq!(h.status("b1")["phase"], "RetryFailed");
}

#[tokio::test]
async fn a_missing_password_key_names_the_secret() {
    let h = harness();
    h.fake.insert(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "backup-demo1-tidb-secret", "namespace": NS}, "data": {"pass": "eA=="}}));
    h.fake.insert(seed_backup("b1", Some(4000)));
    let err = h.reconcile("b1").await.expect_err("no password");
    assert_eq!(
        err.to_string(),
        "cannot hold the GC life time: secret test1/backup-demo1-tidb-secret has no key \"password\""
    );
    assert_eq!(h.condition("b1", "RetryFailed")["reason"], "KeyNotExist");
}

#[tokio::test]
async fn a_deleted_job_fails_the_backup() {
    let h = harness();
    h.fake.insert(seed_backup("b1", None));
    h.reconcile("b1").await.expect("schedule");
    h.fake.fail_once("GET", "/jobs/backup-b1", 404, "NotFound");
    h.reconcile("b1").await.expect("job gone");
    let failed = h.condition("b1", "Failed");
    assert_eq!(failed["reason"], "JobNotFound");
    assert_eq!(
        failed["message"],
        "Job backup-b1 was deleted before the backup finished; the backup is not retried: create a new Backup"
    );
}

#[tokio::test]
async fn metrics_count_runs_and_transitions() {
    let h = harness();
    h.fake.insert(seed_backup("b1", None));
    h.reconcile("b1").await.expect("reconcile");
    let mut registry = Registry::default();
    h.metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(
        text.contains("tidb_backup_reconcile_runs_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("tidb_backup_reconcile_transitions_total{condition=\"Scheduled\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("tidb_backup_reconcile_transitions_total{condition=\"Prepare\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("tidb_backup_reconcile_duration_seconds_count 1\n"),
        "{text}"
    );
    let _ = Timestamp::now;
}

#[tokio::test]
async fn a_leftover_job_of_a_deleted_namesake_is_not_adopted() {
    let h = harness();
    // The Job of an earlier Backup "b1" (deleted, its Job not yet garbage-collected).
    h.fake.insert(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "backup-b1", "namespace": NS,
            "ownerReferences": [{"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "name": "b1",
                                 "uid": "uid-of-the-deleted-backup", "controller": true}]},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]}
    }));
    h.fake.insert(seed_backup("b1", None));
    let err = h.reconcile("b1").await.expect_err("conflict");
    assert_eq!(err.metric_label(), "job_conflict");
    let retry = h.condition("b1", "RetryFailed");
    assert_eq!(retry["reason"], "JobConflict");
    assert_eq!(
        retry["message"],
        "Job test1/backup-b1 exists but is not owned by this Backup (owner uid uid-of-the-deleted-backup); waiting for it to be garbage-collected or deleted"
    );
    assert_ne!(
        h.status("b1")["phase"],
        "Complete",
        "the old result is not taken"
    );

    // Garbage collection removes the old Job: the Backup gets its own.
    let client = h.fake.client();
    let jobs: kube::Api<k8s_openapi::api::batch::v1::Job> = kube::Api::namespaced(client, NS);
    jobs.delete("backup-b1", &Default::default())
        .await
        .expect("delete");
    h.reconcile("b1").await.expect("after GC");
    let job = h
        .fake
        .get("batch/v1", "Job", NS, "backup-b1")
        .expect("new Job");
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["uid"],
        h.backup("b1")["metadata"]["uid"]
    );
    assert_eq!(h.status("b1")["phase"], "Scheduled");
    assert_eq!(
        h.condition("b1", "RetryFailed")["status"],
        "False",
        "recovered"
    );
}

/// A TidbCluster with `spec.tidb.tlsClient.enabled`: the SQL goes over TLS with the CA
/// of `<cluster>-tidb-client-secret`; without its `ca.crt` the error names the key.
#[tokio::test]
async fn spec_from_uses_client_tls_when_the_cluster_enables_it() {
    let (db, ca) = MariaDb::start_tls("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.update(
        "pingcap.com/v1alpha1",
        "TidbCluster",
        NS,
        "demo1",
        json!({"spec": {"tidb": {"tlsClient": {"enabled": true}}}}),
    );
    h.fake.insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "demo1-tidb-client-secret", "namespace": NS},
        "data": {"tls.crt": "", "tls.key": ""}
    }));
    h.fake.insert(seed_backup("b1", Some(db.port)));
    let err = h.reconcile("b1").await.expect_err("no ca.crt");
    assert_eq!(
        err.to_string(),
        "cannot hold the GC life time: secret test1/demo1-tidb-client-secret has no key \"ca.crt\""
    );

    let encoded = base64::engine::general_purpose::STANDARD.encode(&ca);
    h.fake.update(
        "v1",
        "Secret",
        NS,
        "demo1-tidb-client-secret",
        json!({"data": {"ca.crt": encoded}}),
    );
    h.reconcile("b1").await.expect("over TLS");
    assert_eq!(db.gc_life_time_with(Some(&ca)).await, "72h");
    assert_eq!(h.status("b1")["phase"], "Scheduled");
}

/// Two Backups of one cluster reconciled at the same time: the guard steps are
/// serialised per cluster and read the other records fresh, so the second never takes
/// the raised value for the original, whichever goes first.
#[tokio::test]
async fn concurrent_starts_of_one_cluster_agree_on_the_original() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake.insert(seed_backup("b1", Some(db.port)));
    h.fake.insert(seed_backup("b2", Some(db.port)));
    let (r1, r2) = tokio::join!(h.reconcile("b1"), h.reconcile("b2"));
    r1.expect("b1");
    r2.expect("b2");
    for name in ["b1", "b2"] {
        assert_eq!(
            h.status(name)["tikvGCLifeTime"],
            json!({"cluster": "test1/demo1", "original": "10m0s", "held": "72h", "state": "Holding"}),
            "{name}"
        );
    }
    assert_eq!(db.gc_life_time().await, "72h");
    h.finish_job("b2", true);
    h.finish_job("b1", true);
    let (r1, r2) = tokio::join!(h.reconcile("b1"), h.reconcile("b2"));
    r1.expect("finish b1");
    r2.expect("finish b2");
    let mut states: Vec<String> = ["b1", "b2"]
        .iter()
        .map(|n| {
            h.status(n)["tikvGCLifeTime"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    states.sort();
    assert_eq!(states, vec!["HandedOff", "Restored"]);
    assert_eq!(db.gc_life_time().await, "10m0s");
}

/// The reconcile future boxes its large steps: unboxed (~58 KB in a debug build) two
/// reconciles joined on one test thread overflowed its stack.
#[tokio::test]
async fn the_reconcile_future_is_small() {
    let h = harness();
    h.fake.insert(seed_backup("b1", None));
    let backup: Backup = serde_json::from_value(h.backup("b1")).expect("typed backup");
    let future = reconcile(Arc::new(backup), h.ctx.clone());
    let size = std::mem::size_of_val(&future);
    assert!(size < 4096, "reconcile future is {size} bytes");
}
