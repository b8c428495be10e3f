//! cleanPolicy against the fake apiserver: the finalizer only for Delete/OnFailure,
//! nothing deleted under Retain, cleaning only after the backup Job stopped, OnFailure
//! semantics, the clean Job and its outcome, and a terminating namespace that must not
//! hang (the Backup lets go, the data is named).

use std::sync::Arc;

use kube::Api;
use kube::api::DeleteParams;
use serde_json::{Value, json};
use tidb_backup_webhook::api::Backup;
use tidb_backup_webhook::controller::backup::reconcile;
use tidb_backup_webhook::reconcile::clean::FINALIZER;

use super::fake_apiserver::{DELETION_TIMESTAMP, Recorded};
use super::mariadb::MariaDb;
use super::reconcile::{Harness, NOW, NS, harness, seed_backup};

const CLEAN_JOBS: &str = "/apis/batch/v1/namespaces/test1/jobs";

pub(super) fn with_policy(mut backup: Value, policy: &str) -> Value {
    backup["spec"]["cleanPolicy"] = json!(policy);
    backup
}

impl Harness {
    pub(super) fn backup_opt(&self, name: &str) -> Option<Value> {
        self.fake.get("pingcap.com/v1alpha1", "Backup", NS, name)
    }

    /// A reconcile of whatever the apiserver holds (nothing, once the Backup is gone).
    pub(super) async fn reconcile_any(&self, name: &str) {
        if let Some(stored) = self.backup_opt(name) {
            let backup: Backup = serde_json::from_value(stored).expect("typed backup");
            reconcile(Arc::new(backup), self.ctx.clone())
                .await
                .expect("reconcile");
        }
    }

    /// `kubectl delete backup <name>`, through the API.
    pub(super) async fn delete_backup(&self, name: &str) {
        let api: Api<Backup> = Api::namespaced(self.fake.client(), NS);
        api.delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }

    pub(super) fn finalizers(&self, name: &str) -> Value {
        self.backup(name)["metadata"]["finalizers"].clone()
    }

    fn clean_job(&self, name: &str) -> Option<Value> {
        self.fake
            .get("batch/v1", "Job", NS, &format!("clean-{name}"))
    }

    fn clean_job_creates(&self) -> Vec<Recorded> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| {
                r.method == "POST"
                    && r.path == CLEAN_JOBS
                    && r.body["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("clean-"))
            })
            .collect()
    }

    /// The last status written for `name` (also after the Backup is gone).
    pub(super) fn last_status(&self, name: &str) -> Value {
        self.fake
            .requests()
            .into_iter()
            .rev()
            .find(|r| {
                r.method == "PATCH"
                    && r.path
                        == format!(
                            "/apis/pingcap.com/v1alpha1/namespaces/{NS}/backups/{name}/status"
                        )
            })
            .map(|r| r.body["status"].clone())
            .expect("a status write")
    }

    pub(super) fn finish_clean_job(&self, name: &str, succeeded: bool, reason: &str) {
        let condition = if succeeded {
            json!({"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:21:00Z"})
        } else {
            json!({"type": "Failed", "status": "True", "reason": reason,
                   "message": "Container clean for pod test1/clean-b1-abcde failed with exit code 2 matching FailJob rule at index 0",
                   "lastTransitionTime": "2026-01-01T00:21:00Z"})
        };
        self.fake.update(
            "batch/v1",
            "Job",
            NS,
            &format!("clean-{name}"),
            json!({"status": {"startTime": "2026-01-01T00:20:30Z", "conditions": [condition]}}),
        );
    }

    /// A Backup whose Job ran to an end (`succeeded` or not), by the usual steps.
    pub(super) async fn finished_backup(&self, name: &str, policy: &str, succeeded: bool) {
        self.fake
            .insert(with_policy(seed_backup(name, None), policy));
        self.reconcile(name).await.expect("schedule");
        self.add_pod(name, if succeeded { "Succeeded" } else { "Failed" });
        self.finish_job(name, succeeded);
        self.reconcile(name).await.expect("finish");
        let phase = if succeeded { "Complete" } else { "Failed" };
        assert_eq!(self.status(name)["phase"], phase);
    }
}

/// The reconciler's requests are granted by the shipped RBAC (the test's own DELETEs,
/// standing in for `kubectl delete`, are the user's).
pub(super) fn assert_reconciler_allowed(h: &Harness) {
    let requests: Vec<Recorded> = h
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "DELETE")
        .collect();
    super::rbac::assert_all_allowed(&requests);
}

pub(super) fn condition(status: &Value, type_: &str) -> Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn only_delete_and_on_failure_backups_get_the_finalizer() {
    let h = harness();
    for (name, policy) in [
        ("del", "Delete"),
        ("onf", "OnFailure"),
        ("ret", "Retain"),
        ("lower", "delete"),
        ("none", ""),
    ] {
        h.fake.insert(with_policy(seed_backup(name, None), policy));
        h.reconcile(name).await.expect("reconcile");
    }
    for name in ["del", "onf", "ret", "none"] {
        assert_eq!(
            h.status(name)["phase"],
            "Scheduled",
            "{name}: the backup goes on"
        );
    }
    // An unknown value is a validation error here, and TiDB Operator reads it as Retain.
    assert_eq!(h.status("lower")["phase"], "Invalid");
    assert_eq!(h.finalizers("del"), json!([FINALIZER]));
    assert_eq!(h.finalizers("onf"), json!([FINALIZER]));
    for name in ["ret", "lower", "none"] {
        assert_eq!(
            h.finalizers(name),
            Value::Null,
            "{name}: Retain, no finalizer"
        );
    }

    // A merge patch guarded by the resourceVersion it was computed from, before any Job.
    let requests = h.fake.requests();
    let patches: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == "PATCH" && !r.path.ends_with("/status"))
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    let first = patches[0];
    assert_eq!(
        first.path,
        "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/del"
    );
    assert_eq!(first.content_type, "application/merge-patch+json");
    assert_eq!(first.body["metadata"]["finalizers"], json!([FINALIZER]));
    assert!(first.body["metadata"]["resourceVersion"].is_string());
    let patch_at = requests.iter().position(|r| std::ptr::eq(r, first));
    let job_at = requests
        .iter()
        .position(|r| r.method == "POST" && r.path == CLEAN_JOBS);
    assert!(patch_at < job_at, "the finalizer comes first");

    // Finalizers of others are kept; a re-run adds nothing.
    let mut other = with_policy(seed_backup("shared", None), "Delete");
    other["metadata"]["finalizers"] = json!(["example.com/keep"]);
    h.fake.insert(other);
    h.reconcile("shared").await.expect("reconcile");
    h.reconcile("shared").await.expect("again");
    assert_eq!(
        h.finalizers("shared"),
        json!(["example.com/keep", FINALIZER])
    );
    assert_reconciler_allowed(&h);
}

#[tokio::test]
async fn a_retain_backup_is_deleted_without_touching_its_data() {
    let h = harness();
    h.finished_backup("b1", "Retain", true).await;
    h.delete_backup("b1").await;
    assert!(h.backup_opt("b1").is_none(), "no finalizer: gone at once");
    assert!(h.clean_job_creates().is_empty());
    assert!(h.clean_job("b1").is_none());
}

#[tokio::test]
async fn a_delete_backup_waits_for_its_running_job_then_cleans_and_lets_go() {
    let h = harness();
    h.fake
        .insert(with_policy(seed_backup("b1", None), "Delete"));
    h.fake.update(
        "pingcap.com/v1alpha1",
        "Backup",
        NS,
        "b1",
        json!({"metadata": {"annotations": {"iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/backup"}},
               "spec": {"serviceAccount": "backup-sa", "env": [{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}]}}),
    );
    h.reconcile("b1").await.expect("schedule");
    h.add_pod("b1", "Running");
    h.reconcile("b1").await.expect("running");
    assert_eq!(h.status("b1")["phase"], "Running");

    h.delete_backup("b1").await;
    let deleting = h.backup("b1");
    assert_eq!(
        deleting["metadata"]["deletionTimestamp"],
        DELETION_TIMESTAMP
    );
    h.reconcile("b1").await.expect("while BR runs");
    h.reconcile("b1").await.expect("still running");
    assert!(
        h.clean_job_creates().is_empty(),
        "nothing is deleted while the backup Job runs"
    );
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));

    // The Job ends: its outcome is recorded, then the clean Job starts.
    h.fake.set_log(NS, "backup-b1-x7k2p", "");
    h.finish_job("b1", true);
    h.reconcile("b1").await.expect("finish, then clean");
    assert_eq!(condition(&h.status("b1"), "Complete")["status"], "True");
    let job = h.clean_job("b1").expect("the clean Job");
    let uid = h.backup("b1")["metadata"]["uid"].clone();
    assert_eq!(
        job["metadata"]["ownerReferences"],
        json!([{"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup", "name": "b1",
                "uid": uid, "controller": true, "blockOwnerDeletion": true}])
    );
    let labels = json!({"app.kubernetes.io/component": "clean", "app.kubernetes.io/instance": "b1",
                        "app.kubernetes.io/managed-by": "backup-operator", "app.kubernetes.io/name": "backup",
                        "tidb.pingcap.com/backup": "b1"});
    assert_eq!(job["metadata"]["labels"], labels);
    assert_eq!(job["spec"]["backoffLimit"], 6);
    let pod = &job["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"], labels);
    assert_eq!(
        pod["metadata"]["annotations"],
        json!({"iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/backup"}),
        "kube2iam's role reaches the clean pod"
    );
    assert_eq!(
        pod["spec"]["serviceAccountName"], "backup-sa",
        "IRSA's account"
    );
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["name"], "clean");
    assert_eq!(container["image"], "tidb-backup-webhook:test");
    assert_eq!(
        container["args"],
        json!([
            "runner",
            "clean",
            "--bucket=my-bucket",
            "--prefix=my-folder",
            "--provider=aws",
            "--region=us-west-1"
        ])
    );
    assert_eq!(
        container["env"],
        json!([
            {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s3-secret", "key": "access_key"}}},
            {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s3-secret", "key": "secret_key"}}},
            {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}
        ])
    );
    let clean = condition(&h.status("b1"), "Clean");
    assert_eq!(clean["status"], "False");
    assert_eq!(clean["reason"], "CleanJobCreated");
    assert_eq!(
        clean["message"],
        "created Job test1/clean-b1 to delete s3://my-bucket/my-folder/"
    );

    // Duplicate reconciles keep one clean Job; the finalizer stays until it succeeds.
    h.reconcile("b1").await.expect("waiting");
    h.reconcile("b1").await.expect("waiting");
    assert_eq!(h.clean_job_creates().len(), 1);
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));

    h.finish_clean_job("b1", true, "");
    h.reconcile("b1").await.expect("cleaned");
    assert!(
        h.backup_opt("b1").is_none(),
        "finalizer removed: the Backup is gone"
    );
    let status = h.last_status("b1");
    assert_eq!(status["phase"], "Clean");
    let clean = condition(&status, "Clean");
    assert_eq!(clean["status"], "True");
    assert_eq!(clean["reason"], "BackupDataDeleted");
    assert_eq!(
        clean["message"],
        "Job test1/clean-b1 deleted the backup data at s3://my-bucket/my-folder/"
    );
    assert_eq!(clean["lastTransitionTime"], NOW);
    let reasons = h.event_reasons();
    assert!(
        reasons.ends_with(&[
            "Complete".into(),
            "CleanJobCreated".into(),
            "Cleaned".into()
        ]),
        "{reasons:?}"
    );
    assert_reconciler_allowed(&h);
}

#[tokio::test]
async fn on_failure_keeps_the_data_of_a_backup_that_did_not_fail() {
    let h = harness();
    h.finished_backup("b1", "OnFailure", true).await;
    h.delete_backup("b1").await;
    h.reconcile("b1").await.expect("retain");
    assert!(h.backup_opt("b1").is_none());
    assert!(
        h.clean_job_creates().is_empty(),
        "a Complete backup's data stays"
    );
    let retained = h
        .fake
        .list("events.k8s.io/v1", "Event")
        .into_iter()
        .find(|e| e["reason"] == "DataRetained")
        .expect("an event");
    assert_eq!(
        retained["note"],
        "cleanPolicy is OnFailure and the backup did not fail: the backup data at s3://my-bucket/my-folder/ is kept"
    );
    assert_eq!(retained["type"], "Normal");
}

#[tokio::test]
async fn on_failure_cleans_a_failed_backup() {
    let h = harness();
    h.finished_backup("b1", "OnFailure", false).await;
    h.delete_backup("b1").await;
    h.reconcile("b1").await.expect("clean");
    assert_eq!(h.clean_job_creates().len(), 1);
    assert!(h.clean_job("b1").is_some());
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));
    h.finish_clean_job("b1", true, "");
    h.reconcile("b1").await.expect("cleaned");
    assert!(h.backup_opt("b1").is_none());
}

#[tokio::test]
async fn a_failed_clean_keeps_the_finalizer_and_quotes_the_runner() {
    let h = harness();
    h.finished_backup("b1", "Delete", true).await;
    h.delete_backup("b1").await;
    h.reconcile("b1").await.expect("clean Job");
    h.fake.insert(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "clean-b1-abcde", "namespace": NS, "creationTimestamp": "2026-01-01T00:20:31Z",
                     "labels": {"app.kubernetes.io/component": "clean", "tidb.pingcap.com/backup": "b1"}},
        "status": {"phase": "Failed"}
    }));
    h.fake.set_log(
        NS,
        "clean-b1-abcde",
        "2026-01-01T00:20:32Z INFO listing and deleting every object under the prefix\nclean failed: cannot list s3://my-bucket/my-folder/: AccessDenied\n",
    );
    h.finish_clean_job("b1", false, "BackoffLimitExceeded");
    h.reconcile("b1").await.expect("failed");
    assert_eq!(
        h.finalizers("b1"),
        json!([FINALIZER]),
        "the data is still there"
    );
    let status = h.status("b1");
    assert_eq!(status["phase"], "CleanFailed");
    let failed = condition(&status, "CleanFailed");
    assert_eq!(failed["reason"], "CleanBackupDataFailed");
    assert_eq!(
        failed["message"],
        "Job clean-b1 could not delete s3://my-bucket/my-folder/: cannot list s3://my-bucket/my-folder/: AccessDenied. The data is retained; fix the cause and delete Job clean-b1 to retry, or set cleanPolicy to Retain to keep the data"
    );

    // Level-based: nothing more is written or announced for the same failure.
    let events = h.event_reasons().len();
    let writes = h
        .fake
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    h.reconcile("b1").await.expect("again");
    assert_eq!(
        h.fake
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count(),
        writes
    );
    assert_eq!(h.event_reasons().len(), events);

    // Deleting the failed clean Job retries it; success flips CleanFailed back.
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(h.fake.client(), NS);
    jobs.delete("clean-b1", &DeleteParams::default())
        .await
        .expect("delete the Job");
    h.reconcile("b1").await.expect("retry");
    assert_eq!(h.clean_job_creates().len(), 2);
    h.finish_clean_job("b1", true, "");
    h.reconcile("b1").await.expect("cleaned");
    assert!(h.backup_opt("b1").is_none());
    let status = h.last_status("b1");
    assert_eq!(condition(&status, "CleanFailed")["status"], "False");
    assert_eq!(condition(&status, "Clean")["status"], "True");
}

#[tokio::test]
async fn a_refused_clean_is_reported_as_refused() {
    let h = harness();
    let mut backup = with_policy(seed_backup("b1", None), "Delete");
    backup["spec"]["s3"]["prefix"] = json!("");
    h.fake.insert(backup);
    h.reconcile("b1").await.expect("schedule");
    h.add_pod("b1", "Succeeded");
    h.finish_job("b1", true);
    h.reconcile("b1").await.expect("complete");
    h.delete_backup("b1").await;
    h.reconcile("b1").await.expect("clean Job");
    let job = h.clean_job("b1").expect("created: the runner decides");
    assert_eq!(
        job["spec"]["podFailurePolicy"],
        json!({"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "clean", "operator": "In", "values": [2]}}]})
    );
    h.finish_clean_job("b1", false, "PodFailurePolicy");
    h.reconcile("b1").await.expect("refused");
    let failed = h.condition("b1", "CleanFailed");
    assert_eq!(failed["reason"], "CleanRefused");
    assert_eq!(
        failed["message"],
        "Job clean-b1 could not delete s3://my-bucket: Job failed (PodFailurePolicy: Container clean for pod test1/clean-b1-abcde failed with exit code 2 matching FailJob rule at index 0). The data is retained; fix the cause and delete Job clean-b1 to retry, or set cleanPolicy to Retain to keep the data"
    );
    assert_eq!(h.finalizers("b1"), json!([FINALIZER]));
}

#[tokio::test]
async fn a_terminating_namespace_never_hangs_on_the_finalizer() {
    let h = harness();
    h.finished_backup("b1", "Delete", true).await;
    // `kubectl delete namespace test1`: creates are refused from now on, then the
    // namespace controller deletes the Backup.
    h.fake.terminate_namespace(NS);
    h.delete_backup("b1").await;
    h.reconcile("b1").await.expect("let go");

    let refused = h.clean_job_creates();
    assert_eq!(refused.len(), 1, "the clean Job was tried once");
    assert!(h.clean_job("b1").is_none());
    assert!(
        h.backup_opt("b1").is_none(),
        "the finalizer is gone, so is the Backup"
    );

    let status = h.last_status("b1");
    assert_eq!(status["phase"], "CleanFailed");
    let failed = condition(&status, "CleanFailed");
    assert_eq!(failed["status"], "True");
    assert_eq!(failed["reason"], "NamespaceTerminating");
    let message = "namespace test1 is being deleted, so Job clean-b1 cannot be created: the backup data at s3://my-bucket/my-folder/ is retained and must be deleted by hand if it is not wanted";
    assert_eq!(failed["message"], message);

    // The namespace refuses new events; the Namespace's event lands in `default`.
    let events = h.fake.list("events.k8s.io/v1", "Event");
    assert!(
        events
            .iter()
            .all(|e| e["metadata"]["namespace"] != NS || e["reason"] != "NamespaceTerminating"),
        "an event in the terminating namespace cannot be stored"
    );
    let on_namespace = events
        .iter()
        .find(|e| e["reason"] == "BackupDataRetained")
        .expect("an event on the namespace");
    assert_eq!(on_namespace["metadata"]["namespace"], "default");
    assert_eq!(on_namespace["type"], "Warning");
    assert_eq!(
        on_namespace["regarding"],
        json!({"apiVersion": "v1", "kind": "Namespace", "name": NS})
    );
    assert_eq!(on_namespace["note"], format!("Backup test1/b1: {message}"));
    assert_reconciler_allowed(&h);
}

#[tokio::test]
async fn a_backup_deleted_before_its_job_was_created_cleans_nothing() {
    let h = harness();
    let mut backup = with_policy(seed_backup("b1", None), "Delete");
    backup["metadata"]["finalizers"] = json!([FINALIZER]);
    h.fake.insert(backup);
    h.delete_backup("b1").await;
    h.reconcile("b1").await.expect("nothing to clean");
    assert!(h.backup_opt("b1").is_none());
    assert_eq!(h.job_creates(), 0, "neither a backup nor a clean Job");
    let status = h.last_status("b1");
    let clean = condition(&status, "Clean");
    assert_eq!(clean["status"], "True");
    assert_eq!(clean["reason"], "NothingToClean");
    assert_eq!(
        clean["message"],
        "nothing to delete: no backup Job was ever created, so no data was written"
    );
}

#[tokio::test]
async fn deleting_a_backup_that_holds_the_gc_life_time_restores_it() {
    let db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake
        .insert(with_policy(seed_backup("b1", Some(db.port)), "Delete"));
    // The GC life time is held, then the Job cannot be created.
    h.fake.fail_once("POST", "/jobs", 500, "InternalError");
    h.reconcile("b1").await.expect_err("no Job");
    assert_eq!(db.gc_life_time().await, "72h");
    assert_eq!(h.status("b1")["tikvGCLifeTime"]["state"], "Holding");

    h.delete_backup("b1").await;
    h.reconcile_any("b1").await;
    assert_eq!(
        db.gc_life_time().await,
        "10m0s",
        "restored before letting go"
    );
    assert!(h.backup_opt("b1").is_none());
    assert_eq!(
        h.job_creates(),
        1,
        "only the failed attempt: no Job for a deleted Backup"
    );
    let status = h.last_status("b1");
    assert_eq!(status["tikvGCLifeTime"]["state"], "Restored");
    assert!(h.event_reasons().contains(&"GCLifeTimeReleased".to_owned()));
}

#[tokio::test]
async fn an_unreachable_tidb_does_not_keep_a_deleted_backup() {
    let mut db = MariaDb::start("10m0s").await;
    let h = harness();
    h.add_db_secret();
    h.fake
        .insert(with_policy(seed_backup("b1", Some(db.port)), "Delete"));
    h.fake.fail_once("POST", "/jobs", 500, "InternalError");
    h.reconcile("b1").await.expect_err("no Job");
    db.stop();

    h.delete_backup("b1").await;
    h.reconcile_any("b1").await;
    assert!(
        h.backup_opt("b1").is_none(),
        "deletion is not held up by TiDB"
    );
    let event = h
        .fake
        .list("events.k8s.io/v1", "Event")
        .into_iter()
        .find(|e| e["reason"] == "GCLifeTimeNotRestored")
        .expect("the failed restore is announced");
    let note = event["note"].as_str().expect("note");
    assert!(
        note.starts_with(
            "could not restore tikv_gc_life_time of cluster test1/demo1 to \"10m0s\": "
        ),
        "{note}"
    );
    assert!(
        note.contains("update mysql.tidb set VARIABLE_VALUE = '10m0s' where VARIABLE_NAME = 'tikv_gc_life_time';"),
        "{note}"
    );
}
