//! cleanPolicy through the apiserver, against a real S3-protocol server on loopback:
//! the `tidb.pingcap.com/backup-protection` finalizer for Delete and OnFailure only; a
//! deleted Backup waits for its Job, then Job `clean-<name>` runs `runner clean` (the test,
//! as the kubelet, runs the container's command on this machine with the Job's
//! environment) and the Backup goes; a failed or refused clean keeps the data and the
//! finalizer.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::backup::{assert_one_job_created, finalizer_patches, wait_for_reconcile};
use super::gc::last_status_written;
use super::mariadb::MariaDb;
use super::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use super::{
    CLEAN_FINALIZER, GC_FINALIZER, PATIENCE, apply, backup, backup_rbac, block_on, condition,
    demo1_on_mariadb, event_notes, event_reasons, from_mariadb, names, tidb_cluster, tidb_secret,
    wait_for_backup, wait_for_phase,
};
use crate::harness::audit;
use crate::harness::kubelet::{self, PodRun};
use crate::harness::process::wait_for;
use crate::harness::reconciler::Reconcilers;
use crate::harness::{Env, Namespace};

/// The runner image the reconciler is told to use for clean Jobs.
const RUNNER_IMAGE: &str = "tidb-backup-webhook:e2e";

/// A Backup of cluster demo1 to `s3://backups/<prefix>` on `s3` (path-style, provider
/// minio), with the keys of Secret `s3-secret`, and `cleanPolicy`.
fn s3_backup(name: &str, s3: &S3Server, prefix: &str, clean_policy: &str) -> Value {
    json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": { "name": name },
        "spec": {
            "cleanPolicy": clean_policy,
            "br": { "cluster": "demo1" },
            "s3": { "provider": "minio", "endpoint": s3.endpoint(), "region": "us-west-1",
                    "secretName": "s3-secret", "bucket": BUCKET, "prefix": prefix },
        },
    })
}

/// Secret `s3-secret` with the server's keys (`secret_key` replaced by `secret_key`).
fn s3_secret(namespace: &Namespace<'_>, secret_key: &str) {
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": "s3-secret" },
        "stringData": { "access_key": ACCESS_KEY, "secret_key": secret_key },
    });
    namespace
        .kubectl_stdin(&["apply"], &secret.to_string())
        .ok();
}

/// The objects BR would have written under `prefix`, and a sibling prefix's.
fn backup_data(s3: &S3Server, prefix: &str) {
    for key in ["backupmeta", "1_2_3.sst", "sub/4_5_6.sst"] {
        s3.put(&format!("{prefix}/{key}"));
    }
    s3.put(&format!("{prefix}-2/backupmeta"));
}

fn keys_under(s3: &S3Server, prefix: &str) -> BTreeSet<String> {
    s3.keys()
        .into_iter()
        .filter(|k| k.starts_with(&format!("{prefix}/")))
        .collect()
}

/// Deletes Backup `name` without waiting for its finalizers.
fn delete(namespace: &Namespace<'_>, name: &str) {
    namespace
        .kubectl(&["delete", "backup", name, "--wait=false"])
        .ok();
}

/// Waits until Backup `name` is gone.
fn wait_until_gone(namespace: &Namespace<'_>, reconcilers: &Reconcilers<'_>, name: &str) {
    wait_for_backup(namespace, reconcilers, name, "gone", |b| b.is_none());
}

/// Only Delete and OnFailure Backups get the finalizer, before anything else and kept
/// next to other finalizers; a Retain Backup is deleted at once and its data stays.
pub fn only_delete_and_on_failure_backups_get_the_finalizer(env: &Env) {
    let namespace = env.namespace("rec-clean-finalizer");
    let ns = namespace.name.as_str();
    let s3 = env.block_on(S3Server::start());
    s3_secret(&namespace, SECRET_KEY);
    backup_data(&s3, "retained");
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut defaulted = s3_backup("defaulted", &s3, "defaulted", "Retain");
    defaulted["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("cleanPolicy");
    let mut shared = s3_backup("shared", &s3, "shared", "Delete");
    shared["metadata"]["finalizers"] = json!(["example.com/keep"]);
    apply(
        &namespace,
        &[
            &s3_backup("delete", &s3, "delete", "Delete"),
            &s3_backup("on-failure", &s3, "on-failure", "OnFailure"),
            &s3_backup("retain", &s3, "retained", "Retain"),
            &defaulted,
            &shared,
        ],
    );
    let finalizers = |name: &str| {
        wait_for_phase(&namespace, &reconciler, name, "Scheduled")["metadata"]["finalizers"].clone()
    };
    assert_eq!(finalizers("delete"), json!([CLEAN_FINALIZER]));
    assert_eq!(finalizers("on-failure"), json!([CLEAN_FINALIZER]));
    assert_eq!(finalizers("retain"), Value::Null);
    assert_eq!(finalizers("defaulted"), Value::Null, "the webhook's Retain");
    assert_eq!(
        finalizers("shared"),
        json!(["example.com/keep", CLEAN_FINALIZER])
    );

    let requests = audit::requests_in(env, ns);
    for name in ["delete", "on-failure"] {
        assert_eq!(
            finalizer_patches(&requests, name),
            [json!([CLEAN_FINALIZER])]
        );
        let added = requests
            .iter()
            .position(|r| r.is("patch", "backups", name))
            .expect("the finalizer patch");
        let job = requests
            .iter()
            .position(|r| r.is("create", "jobs", &format!("backup-{name}")))
            .expect("the Job");
        assert!(added < job, "{name}: the finalizer comes first");
    }
    assert!(finalizer_patches(&requests, "retain").is_empty());

    // A Retain Backup goes at once; its data stays.
    let deleted = namespace.kubectl(&["delete", "backup", "retain"]).ok();
    assert_eq!(
        deleted.stdout.trim(),
        format!("backup.pingcap.com \"retain\" deleted from {ns} namespace")
    );
    assert_eq!(keys_under(&s3, "retained").len(), 3, "the data stays");
    assert!(
        names(&namespace, "jobs", None)
            .iter()
            .all(|j| !j.starts_with("clean-"))
    );

    // Others' finalizers are theirs to remove.
    namespace
        .kubectl(&[
            "patch",
            "backup",
            "shared",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers/0"}]"#,
        ])
        .ok();
    audit::assert_none_forbidden(&audit::requests_in(env, ns));
}

/// The README's cleanPolicy Delete, end to end, for a Backup that also holds the GC life
/// time: deleted while BR runs, it waits for its Job (nothing released, nothing
/// cleaned); when the Job ends its outcome is recorded, the GC life time restored and
/// its finalizer removed, and Job `clean-<name>` created with the Backup's identity (its
/// service account, kube2iam annotation, S3 keys and `spec.env`); the runner, run as the
/// kubelet would, deletes exactly the objects under the prefix from the S3 server; the
/// Job succeeds, the cleanPolicy finalizer goes last and with it the Backup.
pub fn a_deleted_backup_is_cleaned_after_its_job_and_goes(env: &Env) {
    let namespace = env.namespace("rec-clean-delete");
    let ns = namespace.name.as_str();
    let db = demo1_on_mariadb(env, &namespace, "10m0s");
    let s3 = env.block_on(S3Server::start());
    s3_secret(&namespace, SECRET_KEY);
    namespace
        .kubectl(&["create", "serviceaccount", "backup-sa"])
        .ok();
    backup_data(&s3, "my-folder");
    let reconciler = Reconcilers::start(
        env,
        &namespace,
        &[&format!("--runner-image={RUNNER_IMAGE}")],
    );
    let mut manifest = s3_backup("b1", &s3, "my-folder", "Delete");
    manifest["metadata"]["annotations"] =
        json!({"iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/backup"});
    manifest["spec"]["serviceAccount"] = json!("backup-sa");
    manifest["spec"]["env"] = json!([{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}]);
    manifest["spec"]["from"] = from_mariadb(db.port);
    apply(&namespace, &[&manifest]);
    wait_for_phase(&namespace, &reconciler, "b1", "Scheduled");
    let backup_pod = PodRun::create(env, ns, "backup-b1");
    backup_pod.running();
    let running = wait_for_phase(&namespace, &reconciler, "b1", "Running");
    assert_eq!(
        running["metadata"]["finalizers"],
        json!([CLEAN_FINALIZER, GC_FINALIZER])
    );
    assert_eq!(block_on(db.gc_life_time()), "72h");

    // Deleted while BR runs: nothing is cleaned yet.
    let seen = audit::requests_in(env, ns).len();
    delete(&namespace, "b1");
    wait_for_reconcile(env, ns, seen, "b1");
    let deleting = backup(&namespace, "b1").expect("held by the finalizer");
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        deleting["metadata"]["finalizers"],
        json!([CLEAN_FINALIZER, GC_FINALIZER])
    );
    assert!(
        super::get(&namespace, "job", "clean-b1").is_none(),
        "not while the Job runs"
    );
    assert_eq!(keys_under(&s3, "my-folder").len(), 3);
    assert_eq!(block_on(db.gc_life_time()), "72h", "nor released");

    // The Job ends: its outcome is recorded, then the clean Job is created.
    backup_pod.exited(super::BR_SUCCESS, 0);
    backup_pod.complete_job();
    wait_for("the clean Job", PATIENCE, &mut [], || {
        Ok(super::get(&namespace, "job", "clean-b1").is_some())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    let cleaning = backup(&namespace, "b1").expect("still there");
    assert_eq!(condition(&cleaning, "Complete")["status"], "True");
    assert_eq!(
        block_on(db.gc_life_time()),
        "10m0s",
        "released with the Job's end"
    );
    assert_eq!(cleaning["status"]["tikvGCLifeTime"]["state"], "Restored");
    let clean = condition(&cleaning, "Clean");
    assert_eq!(clean["status"], "False");
    assert_eq!(clean["reason"], "CleanJobCreated");
    assert_eq!(
        clean["message"],
        format!("created Job {ns}/clean-b1 to delete s3://backups/my-folder/")
    );
    let job = super::get(&namespace, "job", "clean-b1").expect("the clean Job");
    let uid = &cleaning["metadata"]["uid"];
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
    assert_eq!(
        job["spec"]["podFailurePolicy"],
        json!({"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "clean", "operator": "In", "values": [2]}}]})
    );
    let template = &job["spec"]["template"];
    for (key, value) in labels.as_object().expect("labels") {
        assert_eq!(template["metadata"]["labels"][key], *value, "{key}");
    }
    assert_eq!(
        template["metadata"]["annotations"],
        json!({"iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/backup"}),
        "kube2iam's role reaches the clean pod"
    );
    assert_eq!(
        template["spec"]["serviceAccountName"], "backup-sa",
        "IRSA's account"
    );
    let container = &template["spec"]["containers"][0];
    assert_eq!(container["name"], "clean");
    assert_eq!(container["image"], RUNNER_IMAGE);
    assert_eq!(
        container["args"],
        json!([
            "runner",
            "clean",
            format!("--bucket={BUCKET}"),
            "--prefix=my-folder",
            "--provider=minio",
            "--region=us-west-1",
            format!("--endpoint={}", s3.endpoint())
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
    wait_for_backup(
        &namespace,
        &reconciler,
        "b1",
        "only the cleanPolicy finalizer",
        |b| b.is_some_and(|b| b["metadata"]["finalizers"] == json!([CLEAN_FINALIZER])),
    );

    // The kubelet runs the runner: exactly the prefix's objects go.
    let clean_pod = PodRun::create(env, ns, "clean-b1");
    let (code, log) = clean_pod.run_on_host();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("deleted 3 objects under s3://backups/my-folder/"),
        "{log}"
    );
    assert!(keys_under(&s3, "my-folder").is_empty());
    assert_eq!(
        s3.keys(),
        BTreeSet::from(["my-folder-2/backupmeta".to_owned()])
    );
    clean_pod.complete_job();
    wait_until_gone(&namespace, &reconciler, "b1");

    let status = last_status_written(env, ns, "b1");
    assert_eq!(status["phase"], "Clean");
    let clean = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Clean"))
        .expect("Clean");
    assert_eq!(clean["status"], "True");
    assert_eq!(clean["reason"], "BackupDataDeleted");
    assert_eq!(
        clean["message"],
        format!("Job {ns}/clean-b1 deleted the backup data at s3://backups/my-folder/")
    );
    let reasons: Vec<String> = event_reasons(&namespace, "b1")
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert!(
        reasons.ends_with(&[
            "GCLifeTimeReleased".into(),
            "Complete".into(),
            "CleanJobCreated".into(),
            "Cleaned".into()
        ]),
        "{reasons:?}"
    );
    let requests = audit::requests_in(env, ns);
    assert_one_job_created(&requests, "clean-b1");
    assert_eq!(
        finalizer_patches(&requests, "b1"),
        [
            json!([CLEAN_FINALIZER]),
            json!([CLEAN_FINALIZER, GC_FINALIZER]),
            json!([CLEAN_FINALIZER]),
            json!([]),
        ],
        "the GC finalizer goes after the Job, the cleanPolicy one last"
    );
    audit::assert_none_forbidden(&requests);
}

/// OnFailure: a deleted Complete Backup keeps its data (Event `DataRetained`) and goes;
/// a deleted Failed one is cleaned.
pub fn on_failure_cleans_only_a_failed_backup(env: &Env) {
    let namespace = env.namespace("rec-clean-onfailure");
    let ns = namespace.name.as_str();
    let s3 = env.block_on(S3Server::start());
    backup_rbac(&namespace);
    s3_secret(&namespace, SECRET_KEY);
    backup_data(&s3, "complete");
    backup_data(&s3, "failed");
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    apply(
        &namespace,
        &[
            &s3_backup("complete", &s3, "complete", "OnFailure"),
            &s3_backup("failed", &s3, "failed", "OnFailure"),
        ],
    );
    wait_for_phase(&namespace, &reconciler, "complete", "Scheduled");
    wait_for_phase(&namespace, &reconciler, "failed", "Scheduled");
    kubelet::complete_job(env, ns, "backup-complete");
    kubelet::fail_job(
        env,
        ns,
        "backup-failed",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
        1,
    );
    wait_for_phase(&namespace, &reconciler, "complete", "Complete");
    let failed = wait_for_phase(&namespace, &reconciler, "failed", "Failed");
    assert_eq!(
        condition(&failed, "Failed")["message"],
        "Job backup-failed failed (BackoffLimitExceeded: Job has reached the specified backoff limit)",
        "no pod, no log: the Job's reason"
    );

    delete(&namespace, "complete");
    wait_until_gone(&namespace, &reconciler, "complete");
    assert_eq!(
        keys_under(&s3, "complete").len(),
        3,
        "a Complete backup's data stays"
    );
    assert_eq!(
        event_notes(&namespace, "complete", "DataRetained"),
        [
            "cleanPolicy is OnFailure and the backup did not fail: the backup data at s3://backups/complete/ is kept"
        ]
    );
    assert!(
        event_reasons(&namespace, "complete")
            .contains(&("Normal".to_owned(), "DataRetained".to_owned()))
    );
    assert!(super::get(&namespace, "job", "clean-complete").is_none());

    delete(&namespace, "failed");
    wait_for("the clean Job", PATIENCE, &mut [], || {
        Ok(super::get(&namespace, "job", "clean-failed").is_some())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let clean_pod = PodRun::create(env, ns, "clean-failed");
    let (code, log) = clean_pod.run_on_host();
    assert_eq!(code, 0, "{log}");
    clean_pod.complete_job();
    wait_until_gone(&namespace, &reconciler, "failed");
    assert!(keys_under(&s3, "failed").is_empty());
    audit::assert_none_forbidden(&audit::requests_in(env, ns));
}

/// A clean that fails (wrong S3 keys) keeps the finalizer and the data, quoting the
/// runner's own last line from its pod's log; nothing more is written while nothing
/// changes. Fixing the keys and deleting Job `clean-<name>` retries it, as the README
/// says; success turns `CleanFailed` off and the Backup goes.
pub fn a_failed_clean_is_retried_after_the_fix(env: &Env) {
    let namespace = env.namespace("rec-clean-failed");
    let ns = namespace.name.as_str();
    let s3 = env.block_on(S3Server::start());
    backup_rbac(&namespace);
    s3_secret(&namespace, "not-the-secret");
    backup_data(&s3, "my-folder");
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    apply(&namespace, &[&s3_backup("b1", &s3, "my-folder", "Delete")]);
    wait_for_phase(&namespace, &reconciler, "b1", "Scheduled");
    kubelet::complete_job(env, ns, "backup-b1");
    wait_for_phase(&namespace, &reconciler, "b1", "Complete");
    delete(&namespace, "b1");
    wait_for("the clean Job", PATIENCE, &mut [], || {
        Ok(super::get(&namespace, "job", "clean-b1").is_some())
    })
    .unwrap_or_else(|e| panic!("{e}"));

    let clean_pod = PodRun::create(env, ns, "clean-b1");
    let (code, log) = clean_pod.run_on_host();
    assert_eq!(code, 1, "{log}");
    let last = log.lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("clean failed: cannot list s3://backups/my-folder/: ")
            && last.contains("SignatureDoesNotMatch"),
        "{log}"
    );
    clean_pod.fail_job(
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    );
    let failed = wait_for_phase(&namespace, &reconciler, "b1", "CleanFailed");
    let cause = last
        .strip_prefix("clean failed: ")
        .expect("the runner's prefix");
    let condition = condition(&failed, "CleanFailed");
    assert_eq!(condition["reason"], "CleanBackupDataFailed");
    assert_eq!(
        condition["message"],
        format!(
            "Job clean-b1 could not delete s3://backups/my-folder/: {cause}. The data is retained; fix the cause and delete Job clean-b1 to retry, or set cleanPolicy to Retain to keep the data"
        )
    );
    assert_eq!(failed["metadata"]["finalizers"], json!([CLEAN_FINALIZER]));
    assert_eq!(keys_under(&s3, "my-folder").len(), 3);

    // Level-based: another event changes nothing.
    let seen = audit::requests_in(env, ns).len();
    let events = event_reasons(&namespace, "b1").len();
    namespace
        .kubectl(&["label", "backup", "b1", "retry=later"])
        .ok();
    wait_for_reconcile(env, ns, seen, "b1");
    let writes: Vec<String> = audit::requests_in(env, ns)
        .iter()
        .skip(seen)
        .filter(|r| r.is_write())
        .map(|r| r.uri.clone())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(event_reasons(&namespace, "b1").len(), events);

    // Fix the keys, delete the failed clean Job: a new one runs and succeeds.
    s3_secret(&namespace, SECRET_KEY);
    namespace.kubectl(&["delete", "job", "clean-b1"]).ok();
    wait_for("a new clean Job", PATIENCE, &mut [], || {
        Ok(super::get(&namespace, "job", "clean-b1")
            .is_some_and(|j| j["status"]["conditions"].is_null()))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    let retry_pod = PodRun::create(env, ns, "clean-b1");
    let (code, log) = retry_pod.run_on_host();
    assert_eq!(code, 0, "{log}");
    retry_pod.complete_job();
    wait_until_gone(&namespace, &reconciler, "b1");
    assert!(keys_under(&s3, "my-folder").is_empty());
    let status = last_status_written(env, ns, "b1");
    let conditions = |type_: &str| {
        status["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(conditions("CleanFailed")["status"], "False");
    assert_eq!(conditions("Clean")["status"], "True");
    let requests = audit::requests_in(env, ns);
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.is("create", "jobs", "clean-b1") && r.code == 201)
            .count(),
        2,
        "the first clean Job and its retry"
    );
    audit::assert_none_forbidden(&requests);
}

/// A Backup written to the bucket's root (empty prefix) cannot be cleaned: the runner
/// refuses (exit 2), the clean Job's pod failure policy fails it at once, `CleanFailed`
/// says `CleanRefused` and the data stays. Setting cleanPolicy to Retain, which stays
/// editable, lets the Backup go.
pub fn a_refused_clean_keeps_the_data_until_the_policy_is_retain(env: &Env) {
    let namespace = env.namespace("rec-clean-refused");
    let ns = namespace.name.as_str();
    let s3 = env.block_on(S3Server::start());
    backup_rbac(&namespace);
    s3_secret(&namespace, SECRET_KEY);
    backup_data(&s3, "elsewhere");
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let applied = apply(&namespace, &[&s3_backup("root", &s3, "", "Delete")]);
    assert!(
        applied
            .warnings()
            .iter()
            .any(|w| w.contains("spec.s3.prefix")),
        "the webhook warns: {applied}"
    );
    wait_for_phase(&namespace, &reconciler, "root", "Scheduled");
    kubelet::complete_job(env, ns, "backup-root");
    wait_for_phase(&namespace, &reconciler, "root", "Complete");
    delete(&namespace, "root");
    wait_for("the clean Job", PATIENCE, &mut [], || {
        Ok(super::get(&namespace, "job", "clean-root").is_some())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let clean_pod = PodRun::create(env, ns, "clean-root");
    let (code, log) = clean_pod.run_on_host();
    assert_eq!(code, 2, "refused: {log}");
    clean_pod.fail_job(
        "PodFailurePolicy",
        &format!(
            "Container clean for pod {ns}/{} failed with exit code 2 matching FailJob rule at index 0",
            clean_pod.pod
        ),
    );
    let refused = wait_for_phase(&namespace, &reconciler, "root", "CleanFailed");
    let condition = condition(&refused, "CleanFailed");
    assert_eq!(condition["reason"], "CleanRefused");
    assert_eq!(
        condition["message"],
        "Job clean-root could not delete s3://backups: refusing to clean: the prefix is empty, so every object in bucket \"backups\" would be deleted (BR writes a backup under spec.s3.prefix; with cleanPolicy Delete or OnFailure set a prefix). The data is retained; fix the cause and delete Job clean-root to retry, or set cleanPolicy to Retain to keep the data"
    );
    assert_eq!(refused["metadata"]["finalizers"], json!([CLEAN_FINALIZER]));
    assert_eq!(keys_under(&s3, "elsewhere").len(), 3, "nothing deleted");

    namespace
        .kubectl(&[
            "patch",
            "backup",
            "root",
            "--type=merge",
            "-p",
            r#"{"spec":{"cleanPolicy":"Retain"}}"#,
        ])
        .ok();
    wait_until_gone(&namespace, &reconciler, "root");
    assert_eq!(keys_under(&s3, "elsewhere").len(), 3);
    audit::assert_none_forbidden(&audit::requests_in(env, ns));
}

/// Finalizers left behind by a reconciler that stopped before it did anything else
/// never keep a deleted Backup: a Delete Backup that never got a Job has nothing to
/// clean (`NothingToClean`), and a GC-lifetime finalizer without a record held nothing.
/// The reconciler starts only after both were deleted.
pub fn finalizers_of_backups_that_never_ran_let_go(env: &Env) {
    let namespace = env.namespace("rec-clean-never-ran");
    let ns = namespace.name.as_str();
    let db = demo1_on_mariadb(env, &namespace, "10m0s");
    let s3 = env.block_on(S3Server::start());
    s3_secret(&namespace, SECRET_KEY);
    let mut never_cleaned = s3_backup("no-job", &s3, "no-job", "Delete");
    never_cleaned["metadata"]["finalizers"] = json!([CLEAN_FINALIZER]);
    let mut never_held = s3_backup("no-hold", &s3, "no-hold", "Retain");
    never_held["spec"]["from"] = from_mariadb(db.port);
    never_held["metadata"]["finalizers"] = json!([GC_FINALIZER]);
    apply(&namespace, &[&never_cleaned, &never_held]);
    delete(&namespace, "no-job");
    delete(&namespace, "no-hold");

    let reconciler = Reconcilers::start(env, &namespace, &[]);
    wait_until_gone(&namespace, &reconciler, "no-job");
    wait_until_gone(&namespace, &reconciler, "no-hold");
    let status = last_status_written(env, ns, "no-job");
    let clean = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Clean"))
        .expect("Clean")
        .clone();
    assert_eq!(clean["status"], "True");
    assert_eq!(clean["reason"], "NothingToClean");
    assert_eq!(
        clean["message"],
        "nothing to delete: no backup Job was ever created, so no data was written"
    );
    assert_eq!(block_on(db.gc_life_time()), "10m0s", "nothing was held");
    assert!(event_notes(&namespace, "no-hold", "GCLifeTimeReleased").is_empty());
    let requests = audit::requests_in(env, ns);
    assert_eq!(finalizer_patches(&requests, "no-hold"), [json!([])]);
    assert!(
        !requests
            .iter()
            .any(|r| r.verb == "create" && r.resource == "jobs"),
        "neither a backup nor a clean Job"
    );
    audit::assert_none_forbidden(&requests);
}

/// A Backup that holds the GC life time but whose Job could not be created (a quota
/// refuses Jobs in the namespace) releases it when deleted, and never gets a Job: the
/// last holder restores the original; when TiDB cannot be reached the failure is
/// announced and the Backup goes anyway.
pub fn a_deleted_backup_without_a_job_releases_the_gc_life_time(env: &Env) {
    let namespace = env.namespace("rec-clean-no-job");
    let ns = namespace.name.as_str();
    let restored_db = block_on(MariaDb::start("10m0s"));
    let mut gone_db = block_on(MariaDb::start("10m0s"));
    tidb_cluster(env, &namespace, "demo1", json!({"version": "v8.5.0"}));
    tidb_cluster(env, &namespace, "demo2", json!({"version": "v8.5.0"}));
    tidb_secret(&namespace);
    let s3 = env.block_on(S3Server::start());
    s3_secret(&namespace, SECRET_KEY);
    // A quota of no Jobs; its status is what the quota controller (not run here) would
    // write, and what the apiserver's quota admission enforces.
    namespace
        .kubectl(&["create", "quota", "no-jobs", "--hard=count/jobs.batch=0"])
        .ok();
    namespace
        .kubectl(&[
            "patch",
            "quota",
            "no-jobs",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"hard":{"count/jobs.batch":"0"},"used":{"count/jobs.batch":"0"}}}"#,
        ])
        .ok();
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut restored = s3_backup("restored", &s3, "restored", "Delete");
    restored["spec"]["from"] = from_mariadb(restored_db.port);
    let mut unreachable = s3_backup("unreachable", &s3, "unreachable", "Delete");
    unreachable["spec"]["from"] = from_mariadb(gone_db.port);
    unreachable["spec"]["br"]["cluster"] = json!("demo2");
    apply(&namespace, &[&restored, &unreachable]);
    for name in ["restored", "unreachable"] {
        wait_for_backup(&namespace, &reconciler, name, "holding, no Job", |b| {
            b.is_some_and(|b| {
                b["status"]["tikvGCLifeTime"]["state"] == "Holding"
                    && b["metadata"]["finalizers"] == json!([CLEAN_FINALIZER, GC_FINALIZER])
            })
        });
    }
    wait_for("the refused Job creates", PATIENCE, &mut [], || {
        let requests = audit::requests_in(env, ns);
        Ok(["restored", "unreachable"].iter().all(|name| {
            requests
                .iter()
                .any(|r| r.is("create", "jobs", &format!("backup-{name}")) && r.code == 403)
        }))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(block_on(restored_db.gc_life_time()), "72h");
    assert!(
        event_notes(&namespace, "restored", "FailedCreate")
            .iter()
            .any(|n| n.starts_with("cannot create Job backup-restored: ")),
        "{:?}",
        event_reasons(&namespace, "restored")
    );

    delete(&namespace, "restored");
    wait_until_gone(&namespace, &reconciler, "restored");
    assert_eq!(
        block_on(restored_db.gc_life_time()),
        "10m0s",
        "restored before letting go"
    );
    assert_eq!(
        last_status_written(env, ns, "restored")["tikvGCLifeTime"]["state"],
        "Restored"
    );
    assert_eq!(
        event_notes(&namespace, "restored", "GCLifeTimeReleased"),
        [format!(
            "restored tikv_gc_life_time of cluster {ns}/demo1 to \"10m0s\""
        )]
    );

    gone_db.stop();
    delete(&namespace, "unreachable");
    wait_until_gone(&namespace, &reconciler, "unreachable");
    let notes = event_notes(&namespace, "unreachable", "GCLifeTimeNotRestored");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(&format!(
            "could not restore tikv_gc_life_time of cluster {ns}/demo2 to \"10m0s\": "
        )),
        "{}",
        notes[0]
    );
    assert!(
        notes[0].contains("update mysql.tidb set VARIABLE_VALUE = '10m0s' where VARIABLE_NAME = 'tikv_gc_life_time';"),
        "{}",
        notes[0]
    );

    let requests = audit::requests_in(env, ns);
    for name in ["restored", "unreachable"] {
        assert!(
            !requests
                .iter()
                .any(|r| r.is("create", "jobs", &format!("backup-{name}")) && r.code == 201),
            "{name}: no Job for a deleted Backup"
        );
        assert!(
            !requests
                .iter()
                .any(|r| r.is("create", "jobs", &format!("clean-{name}"))),
            "{name}: nothing was written, nothing to clean"
        );
    }
    audit::assert_none_forbidden(&requests);
}
