//! A Backup through its whole life, as the reconciler drives it through the apiserver:
//! exactly one Job with the golden BR command line, the status and conditions that
//! `kubectl get bk -o wide` shows, and the Events `kubectl get events` lists.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::mariadb::MariaDb;
use super::{
    BR_SUCCESS, GC_FINALIZER, PATIENCE, apply, backup, backup_rbac, block_on, condition,
    condition_types, event_notes, event_reasons, events_about, example, from_mariadb, names,
    simple_backup, tidb_cluster, tidb_secret, wait_for_backup, wait_for_phase, wide_row,
};
use crate::harness::Env;
use crate::harness::audit::{self, Request};
use crate::harness::crds::repository_path;
use crate::harness::kubelet::PodRun;
use crate::harness::process::wait_for;
use crate::harness::reconciler::Reconcilers;
use crate::harness::webhook::BIN;

const GOLDEN: &str = "tests/reconcile/golden/job-kube2iam-tls.yaml";
const NAME: &str = "demo1-backup-s3";

/// The user guide's kube2iam Backup (applied with `kubectl apply`, so it carries the
/// last-applied annotation) for a TidbCluster with cluster TLS and TiKV v8.5.0, its
/// `spec.from` pointing at MariaDB: exactly one Job, equal to the golden one; the GC life
/// time raised while it runs and restored after; `Scheduled`, `Running` and `Complete`
/// with BR's numbers, read from the pod's log through the apiserver; the Events.
pub fn the_guides_backup_runs_its_golden_job(env: &Env) {
    let namespace = env.namespace("rec-golden");
    let ns = namespace.name.as_str();
    let db = block_on(MariaDb::start("10m0s"));
    tidb_cluster(
        env,
        &namespace,
        "demo1",
        json!({"version": "v8.5.0", "tikv": {"baseImage": "pingcap/tikv"}, "tlsCluster": {"enabled": true}}),
    );
    tidb_secret(&namespace);
    backup_rbac(&namespace);
    let reconciler = Reconcilers::start(env, &namespace, &[]);

    let mut manifest = example("backup-s3-kube2iam", ns);
    manifest["spec"]["from"] = from_mariadb(db.port);
    apply(&namespace, &[&manifest]);
    let scheduled = wait_for_phase(&namespace, &reconciler, NAME, "Scheduled");

    // Exactly one Job, the golden one (the namespace and the Backup's uid are this
    // run's), with BR's command line as `explain` prints it.
    assert_eq!(
        names(&namespace, "jobs", None),
        [format!("backup-{NAME}")],
        "one Job"
    );
    let job = super::get(&namespace, "job", &format!("backup-{NAME}")).expect("the Job");
    let uid = scheduled["metadata"]["uid"].as_str().expect("uid");
    let golden = golden_job(ns, uid);
    assert_contains(&job, &golden, "");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["args"],
        golden["spec"]["template"]["spec"]["containers"][0]["args"]
    );
    let argv: Vec<&str> = container["command"]
        .as_array()
        .into_iter()
        .chain(container["args"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        argv.join(" "),
        explained_command_line(&manifest, "pingcap/tikv:v8.5.0"),
        "the Job runs what `explain` shows"
    );
    assert!(
        job["spec"]["template"]["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none(),
        "kubectl's annotation stays on the Backup: {}",
        job["spec"]["template"]["metadata"]
    );
    assert!(
        scheduled["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_some(),
        "applied with kubectl"
    );

    // The GC life time is held while the Job runs, protected by the finalizer.
    assert_eq!(block_on(db.gc_life_time()), "72h");
    assert_eq!(
        scheduled["status"]["tikvGCLifeTime"],
        json!({"cluster": format!("{ns}/demo1"), "original": "10m0s", "held": "72h", "state": "Holding"})
    );
    assert_eq!(scheduled["metadata"]["finalizers"], json!([GC_FINALIZER]));
    assert_eq!(
        condition(&scheduled, "Prepare")["message"],
        format!(
            "backup path s3://my-bucket/my-folder; raised tikv_gc_life_time of cluster {ns}/demo1 from \"10m0s\" to \"72h\" (\"10m0s\" is restored after the backup)"
        )
    );
    let scheduled_condition = condition(&scheduled, "Scheduled");
    assert_eq!(scheduled_condition["reason"], "JobCreated");
    assert_eq!(
        scheduled_condition["message"],
        format!("created Job {ns}/backup-{NAME}")
    );
    let row = wide_row(&namespace, NAME);
    assert_eq!(row["STATUS"], "Scheduled", "{row:?}");
    assert_eq!(row["BACKUPPATH"], "s3://my-bucket/my-folder", "{row:?}");
    assert_eq!(row["TYPE"], "full", "{row:?}");
    assert_eq!(row["MODE"], "snapshot", "{row:?}");

    let metrics_before_restart = reconciler.metrics("reconciler-0");
    for condition in ["Prepare", "Scheduled"] {
        assert!(
            metrics_before_restart.contains(&format!(
                "tidb_backup_reconcile_transitions_total{{condition=\"{condition}\"}} 1\n"
            )),
            "{metrics_before_restart}"
        );
    }

    // A restarted reconciler starts from what the apiserver holds: still one Job.
    reconciler.kill("reconciler-0");
    reconciler.start_replica("reconciler-0");
    reconciler.wait_for_leader(|leader| leader == "reconciler-0");

    // The job controller creates the pod: Pending changes nothing.
    let pod = PodRun::create(env, ns, &format!("backup-{NAME}"));
    wait_for_pod_list(env, ns, &pod.pod);
    let pending = backup(&namespace, NAME).expect("the Backup");
    assert_eq!(pending["status"]["phase"], "Scheduled");
    assert!(pending["status"].get("timeStarted").is_none(), "{pending}");

    // BR starts: Running, with the container's start as timeStarted.
    pod.running();
    let running = wait_for_phase(&namespace, &reconciler, NAME, "Running");
    let pod_object = super::get(&namespace, "pod", &pod.pod).expect("the pod");
    let started = &pod_object["status"]["containerStatuses"][0]["state"]["running"]["startedAt"];
    assert_eq!(running["status"]["timeStarted"], *started);
    assert_eq!(
        condition(&running, "Running")["message"],
        format!("BR is running in pod {}", pod.pod)
    );

    // BR ends: its summary, read from the pod's log, is the status.
    pod.exited(BR_SUCCESS, 0);
    pod.complete_job();
    let complete = wait_for_phase(&namespace, &reconciler, NAME, "Complete");
    let status = &complete["status"];
    assert_eq!(status["commitTs"], "447518343168000000");
    assert_eq!(status["backupSize"], 102451);
    assert_eq!(status["backupSizeReadable"], "102 kB");
    assert_eq!(status["backupPath"], "s3://my-bucket/my-folder");
    let job = super::get(&namespace, "job", &format!("backup-{NAME}")).expect("the Job");
    assert_eq!(status["timeCompleted"], job["status"]["completionTime"]);
    assert_eq!(status["timeStarted"], *started);
    assert_eq!(
        condition_types(&complete),
        ["Prepare", "Scheduled", "Running", "Complete"]
    );
    let generation = &complete["metadata"]["generation"];
    for c in status["conditions"].as_array().expect("conditions") {
        assert_eq!(c["status"], "True", "{c}");
        assert_eq!(c["observedGeneration"], *generation, "{c}");
    }
    assert_eq!(
        condition(&complete, "Complete")["message"],
        "BR finished the backup"
    );
    assert_eq!(
        condition(&complete, "Scheduled")["lastTransitionTime"],
        scheduled_condition["lastTransitionTime"],
        "moves only when its status flips"
    );

    // Restored after the Job, and the finalizer went with the hold.
    assert_eq!(block_on(db.gc_life_time()), "10m0s");
    assert_eq!(status["tikvGCLifeTime"]["state"], "Restored");
    let released = wait_for_backup(&namespace, &reconciler, NAME, "no finalizer", |b| {
        b.is_some_and(|b| {
            b["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty)
        })
    });
    assert!(released.is_some());

    let row = wide_row(&namespace, NAME);
    assert_eq!(row["STATUS"], "Complete", "{row:?}");
    assert_eq!(row["BACKUPSIZE"], "102 kB", "{row:?}");
    assert_eq!(row["COMMITTS"], "447518343168000000", "{row:?}");

    // The Events, from the one replica.
    let announced = event_reasons(&namespace, NAME);
    assert_eq!(
        announced,
        [
            ("Normal", "GCLifeTimeHeld"),
            ("Normal", "Prepared"),
            ("Normal", "SuccessfulCreate"),
            ("Normal", "Running"),
            ("Normal", "GCLifeTimeReleased"),
            ("Normal", "Complete"),
        ]
        .map(|(t, r)| (t.to_owned(), r.to_owned()))
    );
    for event in events_about(&namespace, NAME) {
        assert_eq!(event["reportingController"], "tidb-backup-reconciler");
        assert_eq!(event["reportingInstance"], "reconciler-0");
        assert_eq!(event["regarding"]["kind"], "Backup");
    }
    let listed = namespace
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={NAME},reason=Complete"),
        ])
        .ok();
    let rows = super::table(&listed.stdout);
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["TYPE"], "Normal");
    assert_eq!(rows[0]["OBJECT"], format!("backup/{NAME}"));
    assert_eq!(
        rows[0]["MESSAGE"],
        "BackupSucceeded: BR finished the backup"
    );

    // What the reconciler asked the apiserver, as its audit log shows.
    let requests = audit::requests_in(env, ns);
    audit::assert_none_forbidden(&requests);
    assert_one_job_created(&requests, &format!("backup-{NAME}"));
    assert_status_written_by_apply(&requests, NAME);
    let finalizers = finalizer_patches(&requests, NAME);
    assert_eq!(finalizers, [json!([GC_FINALIZER]), json!([])]);
    let position = |what: &dyn Fn(&Request) -> bool| {
        requests
            .iter()
            .position(what)
            .expect("the request was made")
    };
    let finalizer_added = position(&|r| {
        r.is("patch", "backups", NAME) && r.body["metadata"]["finalizers"] == json!([GC_FINALIZER])
    });
    let recorded = position(&|r| {
        r.is("patch", "backups/status", NAME)
            && r.body["status"]["tikvGCLifeTime"]["state"] == "Holding"
    });
    let job_created =
        position(&|r| r.is("create", "jobs", &format!("backup-{NAME}")) && r.code == 201);
    assert!(
        finalizer_added < recorded && recorded < job_created,
        "the finalizer, then the record, then the Job"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.is("get", "pods/log", &pod.pod) && r.code == 200),
        "BR's log was read through the apiserver"
    );

    let metrics = reconciler.metrics("reconciler-0");
    for condition in ["Running", "Complete"] {
        assert!(
            metrics.contains(&format!(
                "tidb_backup_reconcile_transitions_total{{condition=\"{condition}\"}} 1\n"
            )),
            "{metrics}"
        );
    }
}

/// The golden Job of `tests/reconcile/golden/`, for this run's namespace and Backup uid.
fn golden_job(namespace: &str, uid: &str) -> Value {
    let text = std::fs::read_to_string(repository_path(GOLDEN)).expect("read the golden Job");
    let mut golden: Value = serde_saphyr::from_str(&text).expect("the golden Job parses");
    golden["metadata"]["namespace"] = json!(namespace);
    golden["metadata"]["ownerReferences"][0]["uid"] = json!(uid);
    for arg in golden["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array_mut()
        .expect("args")
    {
        if arg == "--pd=demo1-pd.test1:2379" {
            *arg = json!(format!("--pd=demo1-pd.{namespace}:2379"));
        }
    }
    golden
}

/// Every field of `expected` is in `actual` with the same value (arrays element by
/// element, of the same length); `actual` may have more (what the apiserver defaults).
#[track_caller]
fn assert_contains(actual: &Value, expected: &Value, path: &str) {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, value) in expected {
                let inner = format!("{path}.{key}");
                let Some(found) = actual.get(key) else {
                    panic!("{inner} is missing; expected {value}");
                };
                assert_contains(found, value, &inner);
            }
        }
        (Value::Array(expected), Value::Array(actual)) => {
            assert_eq!(
                expected.len(),
                actual.len(),
                "{path}: {} items expected, got {}",
                serde_json::to_string(expected).unwrap_or_default(),
                serde_json::to_string(actual).unwrap_or_default()
            );
            for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
                assert_contains(a, e, &format!("{path}[{i}]"));
            }
        }
        (expected, actual) => assert_eq!(actual, expected, "at {path}"),
    }
}

/// BR's command line as `tidb-backup-webhook explain` prints it for `manifest` with a
/// TidbCluster running `tikv_image` with cluster TLS.
fn explained_command_line(manifest: &Value, tikv_image: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["explain", "-", "--tikv-image", tikv_image, "--cluster-tls"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run explain");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(manifest.to_string().as_bytes())
        .expect("write the manifest");
    let output = child.wait_with_output().expect("explain");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("# BR command line: "))
        .unwrap_or_else(|| panic!("no command line in:\n{stdout}"))
        .to_owned()
}

/// Waits until the reconciler has listed the pods after pod `pod` was created (it has
/// seen the pod's watch event).
fn wait_for_pod_list(env: &Env, namespace: &str, pod: &str) {
    let created_at = audit::requests_in(env, namespace).len();
    wait_for(
        &format!("the reconciler to look at pod {pod}"),
        super::PATIENCE,
        &mut [],
        || {
            Ok(audit::requests_in(env, namespace)
                .iter()
                .skip(created_at)
                .any(|r| r.verb == "list" && r.resource == "pods"))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Exactly one successful create of Job `job`.
#[track_caller]
pub fn assert_one_job_created(requests: &[Request], job: &str) {
    let created: Vec<&Request> = requests
        .iter()
        .filter(|r| r.is("create", "jobs", job) && r.code == 201)
        .collect();
    assert_eq!(created.len(), 1, "{created:#?}");
}

/// Every status write of Backup `name` is a server-side apply of the status alone
/// through the status subresource, under the reconciler's field manager, forced.
#[track_caller]
pub fn assert_status_written_by_apply(requests: &[Request], name: &str) {
    let writes: Vec<&Request> = requests
        .iter()
        .filter(|r| r.is_write() && r.resource == "backups" && r.name == name)
        .filter(|r| r.subresource == "status")
        .collect();
    assert!(!writes.is_empty(), "no status write");
    for write in writes {
        assert_eq!(write.verb, "patch", "{write:?}");
        // The apiserver accepts `force` only with an apply patch.
        assert_eq!(write.code, 200, "{:?}", write.event["responseStatus"]);
        assert!(
            write.uri.contains("fieldManager=tidb-backup-webhook")
                && write.uri.contains("force=true"),
            "{}",
            write.uri
        );
        assert_eq!(write.body["apiVersion"], "pingcap.com/v1alpha1");
        assert_eq!(write.body["kind"], "Backup");
        assert!(write.body.get("spec").is_none(), "{}", write.body);
        assert!(write.body.get("status").is_some(), "{}", write.body);
    }
}

/// The finalizer lists the reconciler's merge patches of Backup `name` set, in order;
/// each is guarded by the resourceVersion it was computed from.
#[track_caller]
pub fn finalizer_patches(requests: &[Request], name: &str) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r.is("patch", "backups", name))
        .map(|r| {
            assert!(
                r.body["metadata"]["resourceVersion"].is_string(),
                "guarded by the resourceVersion read: {}",
                r.body
            );
            assert!(
                r.body.get("apiVersion").is_none() && r.body.get("spec").is_none(),
                "a merge patch of the metadata alone: {}",
                r.body
            );
            r.body["metadata"]["finalizers"].clone()
        })
        .collect()
}

/// A log (PITR) Backup is valid and TiDB Operator's to run: one `Unsupported` condition
/// (`LogBackupNotSupported`) and one Warning Event, no Job, no finalizer although its
/// cleanPolicy is Delete, and nothing more when it changes later.
pub fn a_log_backup_is_unsupported_once(env: &Env) {
    let namespace = env.namespace("rec-log");
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut log = simple_backup("pitr");
    log["spec"]["backupMode"] = json!("log");
    log["spec"]["cleanPolicy"] = json!("Delete");
    log["spec"]["backupType"] = Value::Null;
    apply(&namespace, &[&log]);
    let unsupported = wait_for_phase(&namespace, &reconciler, "pitr", "Unsupported");
    let condition = condition(&unsupported, "Unsupported");
    assert_eq!(condition["status"], "True");
    assert_eq!(condition["reason"], "LogBackupNotSupported");
    assert_eq!(
        condition["message"],
        "log (PITR) backups are not run by this reconciler, which runs BR snapshot backups; let TiDB Operator's backup controller run it"
    );
    assert!(
        unsupported["metadata"]["finalizers"].is_null(),
        "no finalizer: nothing was written"
    );
    assert_eq!(
        wide_row(&namespace, "pitr")["STATUS"],
        "Unsupported",
        "kubectl shows it"
    );

    // A later change (a label) is another event: nothing more is written or announced.
    let seen = audit::requests_in(env, &namespace.name).len();
    namespace
        .kubectl(&["label", "backup", "pitr", "team=dba"])
        .ok();
    wait_for_reconcile(env, &namespace.name, seen, "pitr");
    let writes: Vec<String> = audit::requests_in(env, &namespace.name)
        .iter()
        .skip(seen)
        .filter(|r| r.is_write())
        .map(|r| r.uri.clone())
        .collect();
    assert!(writes.is_empty(), "terminal: {writes:?}");
    assert_eq!(
        event_reasons(&namespace, "pitr"),
        [("Warning".to_owned(), "LogBackupNotSupported".to_owned())],
        "announced once"
    );
    assert!(names(&namespace, "jobs", None).is_empty(), "never a Job");
    audit::assert_none_forbidden(&audit::requests_in(env, &namespace.name));
}

/// With the webhook bypassed for the namespace (the README's emergency label), invalid
/// Backups are stored; the reconciler validates them itself: `Invalid` with every
/// `field: problem`, one Event, no Job. An unknown cleanPolicy is invalid too, while an
/// empty one means Retain (no finalizer) as in TiDB Operator.
pub fn invalid_backups_get_no_job(env: &Env) {
    let namespace = env.namespace("rec-invalid");
    bypass_the_webhook(&namespace);
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut invalid = simple_backup("invalid");
    invalid["spec"]["backupType"] = json!("Full");
    invalid["spec"]["s3"]["endpoint"] = json!("minio:9000");
    let mut lower = simple_backup("lower");
    lower["spec"]["cleanPolicy"] = json!("delete");
    let mut empty = simple_backup("empty-policy");
    empty["spec"]["cleanPolicy"] = json!("");
    apply(&namespace, &[&invalid, &lower, &empty]);

    let stored = wait_for_phase(&namespace, &reconciler, "invalid", "Invalid");
    let condition = condition(&stored, "Invalid");
    assert_eq!(condition["reason"], "InvalidSpec");
    assert_eq!(
        condition["observedGeneration"],
        stored["metadata"]["generation"]
    );
    let message = condition["message"].as_str().expect("message");
    assert!(
        message.starts_with("spec.backupType: unsupported value \"Full\": did you mean \"full\"?"),
        "{message}"
    );
    assert!(
        message.contains("; spec.s3.endpoint: host not found in endpoint \"minio:9000\""),
        "{message}"
    );
    let notes = event_notes(&namespace, "invalid", "InvalidSpec");
    assert_eq!(notes, [format!("InvalidSpec: {message}")]);
    let lower = wait_for_phase(&namespace, &reconciler, "lower", "Invalid");
    assert!(
        super::condition(&lower, "Invalid")["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("spec.cleanPolicy: unsupported value \"delete\"")),
        "{lower}"
    );
    assert!(lower["metadata"]["finalizers"].is_null(), "{lower}");
    let empty = wait_for_phase(&namespace, &reconciler, "empty-policy", "Scheduled");
    assert!(empty["metadata"]["finalizers"].is_null(), "Retain: {empty}");
    assert!(
        empty["status"].get("tikvGCLifeTime").is_none(),
        "no spec.from: the GC life time is not touched: {empty}"
    );
    assert_eq!(
        names(&namespace, "jobs", None),
        ["backup-empty-policy"],
        "only the valid Backup gets a Job"
    );
    let row = wide_row(&namespace, "invalid");
    assert_eq!(row["STATUS"], "Invalid", "{row:?}");
    audit::assert_none_forbidden(&audit::requests_in(env, &namespace.name));
}

/// A Job and its Backup go together: a Job deleted before it finished fails its Backup
/// (`JobNotFound`, not retried); a deleted Backup's Job (and its pod) is removed by the
/// garbage collector through its owner reference; and a Job of the Backup's name owned
/// by something else is never adopted: the Backup waits (`RetryFailed`, `JobConflict`)
/// until the garbage collector removes that Job with its owner, then gets its own.
pub fn jobs_and_their_backups_go_together(env: &Env) {
    let namespace = env.namespace("rec-jobs");
    let ns = namespace.name.as_str();
    backup_rbac(&namespace);
    // The Job of an earlier Backup "namesake", whose owner (here a ConfigMap that stands
    // for it) is about to go: the garbage collector has not removed it yet.
    namespace
        .kubectl(&["create", "configmap", "earlier-owner"])
        .ok();
    let owner_uid =
        super::get(&namespace, "configmap", "earlier-owner").expect("owner")["metadata"]["uid"]
            .as_str()
            .expect("uid")
            .to_owned();
    let leftover = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": "backup-namesake", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "earlier-owner", "uid": owner_uid,
            "controller": true,
        }] },
        "spec": { "template": { "spec": { "restartPolicy": "Never",
            "containers": [{ "name": "backup", "image": "pingcap/br:v7.5.0" }] } } },
    });
    namespace
        .kubectl_stdin(&["create"], &leftover.to_string())
        .ok();

    let reconciler = Reconcilers::start(env, &namespace, &[]);
    apply(
        &namespace,
        &[
            &simple_backup("job-deleted"),
            &simple_backup("backup-deleted"),
            &simple_backup("namesake"),
        ],
    );
    // The namesake's Job belongs to someone else: never adopted.
    let waiting = wait_for_phase(&namespace, &reconciler, "namesake", "RetryFailed");
    let conflict = super::condition(&waiting, "RetryFailed");
    assert_eq!(conflict["reason"], "JobConflict");
    assert_eq!(
        conflict["message"],
        format!(
            "Job {ns}/backup-namesake exists but is not owned by this Backup (owner uid {owner_uid}); waiting for it to be garbage-collected or deleted"
        )
    );
    assert!(
        super::condition(&waiting, "Scheduled").is_null(),
        "{waiting}"
    );
    namespace
        .kubectl(&["delete", "configmap", "earlier-owner"])
        .ok();

    wait_for_phase(&namespace, &reconciler, "job-deleted", "Scheduled");
    wait_for_phase(&namespace, &reconciler, "backup-deleted", "Scheduled");

    // Someone deletes the Job while BR runs.
    namespace
        .kubectl(&["delete", "job", "backup-job-deleted"])
        .ok();
    let failed = wait_for_phase(&namespace, &reconciler, "job-deleted", "Failed");
    let condition = condition(&failed, "Failed");
    assert_eq!(condition["reason"], "JobNotFound");
    assert_eq!(
        condition["message"],
        "Job backup-job-deleted was deleted before the backup finished; the backup is not retried: create a new Backup"
    );

    // The Backup is deleted: the garbage collector removes its Job and the Job's pod.
    let pod = PodRun::create(env, ns, "backup-backup-deleted");
    pod.running();
    wait_for_phase(&namespace, &reconciler, "backup-deleted", "Running");
    pod.exited("", 0);
    let deleted = namespace
        .kubectl(&["delete", "backup", "backup-deleted"])
        .ok();
    assert_eq!(
        deleted.stdout.trim(),
        format!("backup.pingcap.com \"backup-deleted\" deleted from {ns} namespace"),
        "no finalizer holds it"
    );
    // The garbage collector learns of a new CRD at its next discovery sync (every 30 s),
    // so right after the harness installed them this may take that long.
    wait_for(
        "the garbage collector to delete the Job and its pod",
        PATIENCE,
        &mut [],
        || {
            Ok(
                super::get(&namespace, "job", "backup-backup-deleted").is_none()
                    && super::get(&namespace, "pod", &pod.pod).is_none(),
            )
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // Its owner went meanwhile, the garbage collector removed that Job: the retry after
    // back-off creates the Backup's own.
    let scheduled = wait_for_phase(&namespace, &reconciler, "namesake", "Scheduled");
    let job = super::get(&namespace, "job", "backup-namesake").expect("its own Job");
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["uid"],
        scheduled["metadata"]["uid"]
    );
    let recovered = super::condition(&scheduled, "RetryFailed");
    assert_eq!(recovered["status"], "False");
    assert_eq!(recovered["reason"], "Recovered");
    let requests = audit::requests_in(env, ns);
    audit::assert_none_forbidden(&requests);
    assert!(
        !requests
            .iter()
            .any(|r| r.verb == "delete" && r.resource == "jobs"),
        "the reconciler never deletes a Job"
    );
}

/// Labels the namespace so that none of the webhooks see it (the README's emergency
/// bypass) and waits until the apiserver's namespace cache has the label.
pub fn bypass_the_webhook(namespace: &crate::harness::Namespace<'_>) {
    namespace
        .kubectl(&[
            "label",
            "namespace",
            &namespace.name,
            "tidb-backup-webhook.pingcap.com/admission=disabled",
        ])
        .ok();
    let mut invalid = simple_backup("probe");
    invalid["spec"]["s3"]["acl"] = json!("Private");
    wait_for(
        "the namespace label to reach the apiserver's cache",
        PATIENCE,
        &mut [],
        || {
            Ok(namespace
                .kubectl_stdin(&["create", "--dry-run=server"], &invalid.to_string())
                .status
                .success())
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until the reconciler has read Backup `name` again after the first `seen` of
/// its audited requests in `namespace` (it reconciled it).
pub fn wait_for_reconcile(env: &Env, namespace: &str, seen: usize, name: &str) {
    wait_for(
        &format!("the reconciler to reconcile {name} again"),
        PATIENCE,
        &mut [],
        || {
            Ok(audit::requests_in(env, namespace)
                .iter()
                .skip(seen)
                .any(|r| r.is("get", "backups", name)))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}
