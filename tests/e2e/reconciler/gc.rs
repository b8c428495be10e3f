//! `spec.from`: the GC life time held in a real MariaDB (TiDB's `mysql.tidb` table) while
//! a Backup's Job runs, through the real apiserver: overlapping backups, a TiDB that
//! cannot be reached (no Job, a retry with back-off and no hot loop), a missing password
//! key, client TLS, a failed restore, and the `tidb.pingcap.com/gc-life-time` finalizer
//! when a holding Backup is deleted.

use serde_json::{Value, json};

use super::mariadb::MariaDb;
use super::{
    BR_FAILURE, GC_FINALIZER, PATIENCE, apply, backup, backup_rbac, block_on, condition,
    demo1_on_mariadb, event_notes, event_reasons, events_about, from_mariadb, names, simple_backup,
    tidb_cluster, tidb_secret, wait_for_backup, wait_for_phase,
};
use crate::harness::Env;
use crate::harness::audit;
use crate::harness::kubelet::{self, PodRun};
use crate::harness::process::wait_for;
use crate::harness::reconciler::Reconcilers;

fn record(ns: &str, original: &str, held: &str, state: &str) -> Value {
    json!({"cluster": format!("{ns}/demo1"), "original": original, "held": held, "state": state})
}

/// A Backup whose TiDB cannot be reached gets `RetryFailed` (`ConnectTidbFailed`) and no
/// Job, and is retried with back-off: the failing reconciles neither rewrite the
/// unchanged status nor trigger each other. Counted over a few seconds through the
/// apiserver's audit log and the reconciler's own metrics. A Secret without the
/// `password` key names it (`KeyNotExist`).
pub fn an_unreachable_tidb_is_retried_with_back_off_and_no_job(env: &Env) {
    let namespace = env.namespace("rec-gc-unreachable");
    let ns = namespace.name.as_str();
    tidb_cluster(env, &namespace, "demo1", json!({"version": "v8.5.0"}));
    tidb_secret(&namespace);
    namespace
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "no-password",
            "--from-literal=pass=x",
        ])
        .ok();
    let reconciler = Reconcilers::start(env, &namespace, &["--tidb-connect-timeout=1s"]);
    let mut unreachable = simple_backup("unreachable");
    // Nothing listens on port 1.
    unreachable["spec"]["from"] = from_mariadb(1);
    let mut keyless = simple_backup("keyless");
    keyless["spec"]["from"] = from_mariadb(4000);
    keyless["spec"]["from"]["secretName"] = json!("no-password");
    apply(&namespace, &[&unreachable, &keyless]);

    let failed = wait_for_phase(&namespace, &reconciler, "unreachable", "RetryFailed");
    let retry = condition(&failed, "RetryFailed");
    assert_eq!(retry["reason"], "ConnectTidbFailed");
    let message = retry["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!(
            "cannot hold the GC life time: cannot connect to TiDB at 127.0.0.1:1 as {}: ",
            super::mariadb::USER
        )) || message.starts_with(&format!(
            "cannot connect to TiDB at 127.0.0.1:1 as {}: ",
            super::mariadb::USER
        )),
        "{message}"
    );
    let keyless = wait_for_phase(&namespace, &reconciler, "keyless", "RetryFailed");
    let retry = condition(&keyless, "RetryFailed");
    assert_eq!(retry["reason"], "KeyNotExist");
    assert_eq!(
        retry["message"],
        format!("secret {ns}/no-password has no key \"password\"")
    );
    assert!(names(&namespace, "jobs", None).is_empty(), "no Job");
    assert_eq!(
        event_reasons(&namespace, "unreachable"),
        [("Warning".to_owned(), "ConnectTidbFailed".to_owned())]
    );

    // Until each Backup has been retried after its back-off: the retries fail the same
    // way, so they store and announce nothing (a rewrite would also be a watch event that
    // starts the next reconcile at once: a hot loop).
    let version = failed["metadata"]["resourceVersion"].clone();
    let runs_before = reconciler.metric("reconciler-0", "tidb_backup_reconcile_runs_total");
    let seen = audit::requests_in(env, ns).len();
    for name in ["unreachable", "keyless"] {
        wait_for(&format!("a retry of {name}"), PATIENCE, &mut [], || {
            Ok(audit::requests_in(env, ns)
                .iter()
                .skip(seen)
                .any(|r| r.is("get", "backups", name)))
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    }
    let runs = reconciler.metric("reconciler-0", "tidb_backup_reconcile_runs_total") - runs_before;
    let writes: Vec<String> = audit::requests_in(env, ns)
        .iter()
        .skip(seen)
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.verb, r.uri))
        .collect();
    assert!(writes.is_empty(), "retries write nothing: {writes:?}");
    let after = backup(&namespace, "unreachable").expect("the Backup");
    assert_eq!(after["metadata"]["resourceVersion"], version);

    // And had it rewritten it: the real apiserver stores no unchanged server-side apply
    // (no new resourceVersion, so no watch event; the fake apiserver the controller tests
    // used stored every write, which made the rewrites a loop there).
    let backups: kube::Api<tidb_backup_webhook::api::Backup> =
        kube::Api::namespaced(env.client(), ns);
    let rewritten = env
        .block_on(backups.patch_status(
            "unreachable",
            &kube::api::PatchParams::apply("tidb-backup-webhook").force(),
            &kube::api::Patch::Apply(json!({
                "apiVersion": "pingcap.com/v1alpha1",
                "kind": "Backup",
                "status": after["status"],
            })),
        ))
        .expect("an apply of the same status");
    assert_eq!(
        rewritten.metadata.resource_version.as_deref(),
        version.as_str(),
        "an unchanged apply is not stored"
    );
    // One retry of each in that time; a hot loop makes hundreds.
    assert!(runs <= 4.0, "{runs} reconciles");
    assert_eq!(
        event_reasons(&namespace, "unreachable"),
        [("Warning".to_owned(), "ConnectTidbFailed".to_owned())],
        "announced once"
    );
    assert!(
        events_about(&namespace, "unreachable")[0]["series"].is_null(),
        "not repeated"
    );
    assert_eq!(
        super::get(&namespace, "backup", "unreachable").expect("backup")["status"]["phase"],
        "RetryFailed"
    );
    assert!(names(&namespace, "jobs", None).is_empty(), "still no Job");
    assert!(
        reconciler
            .metrics("reconciler-0")
            .contains("tidb_backup_reconcile_failures_total{error=\"gc_hold\"}"),
        "counted as gc_hold failures"
    );
    audit::assert_none_forbidden(&audit::requests_in(env, ns));
}

/// The status Backup `name` was last written with (also once the Backup is gone), from
/// the audit log.
pub fn last_status_written(env: &Env, namespace: &str, name: &str) -> Value {
    audit::requests_in(env, namespace)
        .iter()
        .rev()
        .find(|r| r.is("patch", "backups/status", name))
        .map(|r| r.body["status"].clone())
        .unwrap_or_else(|| panic!("no status written for {name}"))
}

/// Two Backups of one cluster started together (reconciled concurrently) agree on the
/// original value; the first to end (completed, no log to read: no summary) hands the
/// raised value off, the last (BR failed, its errors read from its log) restores the
/// original; a failed Backup is terminal.
pub fn overlapping_backups_restore_the_original_after_the_last(env: &Env) {
    let namespace = env.namespace("rec-gc-overlap");
    let ns = namespace.name.as_str();
    let db = demo1_on_mariadb(env, &namespace, "10m0s");
    backup_rbac(&namespace);
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut first = simple_backup("first");
    first["spec"]["from"] = from_mariadb(db.port);
    let mut second = simple_backup("second");
    second["spec"]["from"] = from_mariadb(db.port);
    second["spec"]["tikvGCLifeTime"] = json!("48h");
    apply(&namespace, &[&first, &second]);

    let first = wait_for_phase(&namespace, &reconciler, "first", "Scheduled");
    let second = wait_for_phase(&namespace, &reconciler, "second", "Scheduled");
    assert_eq!(
        first["status"]["tikvGCLifeTime"],
        record(ns, "10m0s", "72h", "Holding")
    );
    assert_eq!(
        second["status"]["tikvGCLifeTime"],
        record(ns, "10m0s", "48h", "Holding"),
        "whichever went first, the original is the value before both"
    );
    assert_eq!(block_on(db.gc_life_time()), "72h");

    // The first completes (its log cannot be read: no pod ran it): the value stays
    // raised for the second.
    kubelet::complete_job(env, ns, "backup-first");
    let complete = wait_for_phase(&namespace, &reconciler, "first", "Complete");
    assert_eq!(
        complete["status"]["tikvGCLifeTime"],
        record(ns, "10m0s", "72h", "HandedOff")
    );
    assert_eq!(
        super::condition(&complete, "Complete")["message"],
        "BR finished the backup (no summary in its log: commitTs and size are unknown)"
    );
    assert!(
        complete["status"].get("commitTs").is_none_or(|c| c == ""),
        "{complete}"
    );
    assert_eq!(block_on(db.gc_life_time()), "72h", "the second still runs");
    assert_eq!(
        event_notes(&namespace, "first", "GCLifeTimeReleased"),
        [format!(
            "left tikv_gc_life_time of cluster {ns}/demo1 raised for the other running backups, which restore \"10m0s\""
        )]
    );

    // BR fails in the second: its error lines are the condition, and the original is back.
    let pod = PodRun::create(env, ns, "backup-second");
    pod.running();
    pod.exited(BR_FAILURE, 1);
    pod.fail_job(
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    );
    let failed = wait_for_phase(&namespace, &reconciler, "second", "Failed");
    let condition = condition(&failed, "Failed");
    assert_eq!(condition["reason"], "BackupDataToRemoteFailed");
    assert_eq!(
        condition["message"],
        "BR failed: [2026/01/01 00:08:59.000 +00:00] [ERROR] [backup.go:40] [\"failed to backup\"] [error=\"[BR:KV:ErrKVStorage]tikv storage occur I/O error\"]\nError: [BR:KV:ErrKVStorage]tikv storage occur I/O error"
    );
    assert_eq!(
        condition["observedGeneration"],
        failed["metadata"]["generation"]
    );
    assert_eq!(
        failed["status"]["tikvGCLifeTime"],
        record(ns, "10m0s", "48h", "Restored")
    );
    assert_eq!(
        block_on(db.gc_life_time()),
        "10m0s",
        "restored after the failure"
    );
    let reasons: Vec<String> = event_reasons(&namespace, "second")
        .into_iter()
        .map(|(_, reason)| reason)
        .collect();
    assert_eq!(
        reasons,
        [
            "GCLifeTimeHeld",
            "Prepared",
            "SuccessfulCreate",
            "Running",
            "GCLifeTimeReleased",
            "Failed"
        ]
    );
    assert_eq!(
        event_reasons(&namespace, "second").last(),
        Some(&("Warning".to_owned(), "Failed".to_owned()))
    );
    for name in ["first", "second"] {
        wait_for_backup(&namespace, &reconciler, name, "no finalizer", |b| {
            b.is_some_and(|b| {
                b["metadata"]["finalizers"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
            })
        });
    }

    // Terminal: a later event writes nothing.
    let seen = audit::requests_in(env, ns).len();
    namespace
        .kubectl(&["label", "backup", "second", "checked=yes"])
        .ok();
    super::backup::wait_for_reconcile(env, ns, seen, "second");
    let writes: Vec<String> = audit::requests_in(env, ns)
        .iter()
        .skip(seen)
        .filter(|r| r.is_write())
        .map(|r| r.uri.clone())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    audit::assert_none_forbidden(&audit::requests_in(env, ns));
}

/// TiDB goes away while a Backup holds the GC life time: when its Job ends the Backup
/// fails with the SQL to run by hand (`ResetTikvGCLifeTimeFailed`), keeps its record and
/// finalizer, and the restore is retried and counted. Deleted then, it announces the
/// value it could not restore (`GCLifeTimeNotRestored`, once) and lets go anyway.
pub fn a_failed_restore_fails_the_backup_and_never_keeps_it(env: &Env) {
    let namespace = env.namespace("rec-gc-restore");
    let ns = namespace.name.as_str();
    let mut db = block_on(MariaDb::start("10m0s"));
    let port = db.port;
    tidb_cluster(env, &namespace, "demo1", json!({"version": "v8.5.0"}));
    tidb_secret(&namespace);
    let reconciler = Reconcilers::start(env, &namespace, &["--tidb-connect-timeout=2s"]);
    let mut manifest = simple_backup("b1");
    manifest["spec"]["from"] = from_mariadb(port);
    apply(&namespace, &[&manifest]);
    wait_for_phase(&namespace, &reconciler, "b1", "Scheduled");
    assert_eq!(block_on(db.gc_life_time()), "72h");
    db.stop();

    kubelet::complete_job(env, ns, "backup-b1");
    let failed = wait_for_phase(&namespace, &reconciler, "b1", "Failed");
    let condition = condition(&failed, "Failed");
    assert_eq!(condition["reason"], "ResetTikvGCLifeTimeFailed");
    let message = condition["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!("BR finished the backup, but could not restore tikv_gc_life_time of cluster {ns}/demo1 to \"10m0s\": cannot connect to TiDB at 127.0.0.1:{port} as backup: ")),
        "{message}"
    );
    assert!(
        message.ends_with("run `update mysql.tidb set VARIABLE_VALUE = '10m0s' where VARIABLE_NAME = 'tikv_gc_life_time';`"),
        "{message}"
    );
    assert_eq!(
        failed["status"]["tikvGCLifeTime"]["state"], "Holding",
        "still to be restored"
    );
    assert_eq!(failed["metadata"]["finalizers"], json!([GC_FINALIZER]));
    const RESTORE_FAILURES: &str = "tidb_backup_reconcile_gc_restore_failures_total";
    assert!(reconciler.metric("reconciler-0", RESTORE_FAILURES) >= 1.0);
    wait_for("the restore to be retried", PATIENCE, &mut [], || {
        Ok(reconciler.metric("reconciler-0", RESTORE_FAILURES) >= 2.0)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    assert!(
        reconciler.metric(
            "reconciler-0",
            "tidb_backup_reconcile_failures_total{error=\"gc_restore\"}"
        ) >= 1.0,
        "the retries fail as gc_restore"
    );

    // Deleted while TiDB is still unreachable: announced with the SQL, then gone.
    let counted = reconciler.metric("reconciler-0", RESTORE_FAILURES);
    namespace
        .kubectl(&["delete", "backup", "b1", "--timeout=60s"])
        .ok();
    assert!(backup(&namespace, "b1").is_none());
    let notes = event_notes(&namespace, "b1", "GCLifeTimeNotRestored");
    assert_eq!(notes.len(), 1, "announced once: {notes:?}");
    let note = &notes[0];
    assert!(
        note.starts_with(&format!("could not restore tikv_gc_life_time of cluster {ns}/demo1 to \"10m0s\": cannot connect to TiDB at 127.0.0.1:{port} as backup: ")),
        "{note}"
    );
    assert!(
        note.ends_with("to restore it by hand, check it with `select VARIABLE_NAME, VARIABLE_VALUE from mysql.tidb where VARIABLE_NAME like \"tikv_gc_life_time\";` and run `update mysql.tidb set VARIABLE_VALUE = '10m0s' where VARIABLE_NAME = 'tikv_gc_life_time';`"),
        "{note}"
    );
    let warning = events_about(&namespace, "b1")
        .into_iter()
        .find(|e| e["reason"] == "GCLifeTimeNotRestored")
        .expect("the event");
    assert_eq!(warning["type"], "Warning");
    assert!(reconciler.metric("reconciler-0", RESTORE_FAILURES) > counted);
    assert_eq!(
        last_status_written(env, ns, "b1")["tikvGCLifeTime"]["state"],
        "Holding",
        "nothing was released"
    );
    let requests = audit::requests_in(env, ns);
    assert_eq!(
        super::backup::finalizer_patches(&requests, "b1"),
        [json!([GC_FINALIZER]), json!([])]
    );
    audit::assert_none_forbidden(&requests);
}

/// With a TidbCluster that enables TiDB client TLS, the SQL goes over TLS with the CA of
/// `<cluster>-tidb-client-secret`; a secret without `ca.crt` is named in `RetryFailed`.
pub fn spec_from_uses_client_tls_when_the_cluster_enables_it(env: &Env) {
    let namespace = env.namespace("rec-gc-tls");
    let ns = namespace.name.as_str();
    let (db, ca) = block_on(MariaDb::start_tls("10m0s"));
    let tls = json!({"version": "v8.5.0", "tidb": {"tlsClient": {"enabled": true}}});
    tidb_cluster(env, &namespace, "demo1", tls.clone());
    tidb_cluster(env, &namespace, "demo2", tls);
    tidb_secret(&namespace);
    let ca_file = env.run_dir().join(format!("{ns}-ca.crt"));
    std::fs::write(&ca_file, &ca).expect("write the CA");
    namespace
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "demo1-tidb-client-secret",
            &format!("--from-file=ca.crt={}", ca_file.display()),
        ])
        .ok();
    namespace
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "demo2-tidb-client-secret",
            "--from-literal=tls.crt=not-a-ca",
        ])
        .ok();
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut over_tls = simple_backup("over-tls");
    over_tls["spec"]["from"] = from_mariadb(db.port);
    let mut no_ca = simple_backup("no-ca");
    no_ca["spec"]["from"] = from_mariadb(db.port);
    no_ca["spec"]["br"]["cluster"] = json!("demo2");
    apply(&namespace, &[&over_tls, &no_ca]);

    wait_for_phase(&namespace, &reconciler, "over-tls", "Scheduled");
    assert_eq!(block_on(db.gc_life_time_with(Some(&ca))), "72h");
    let refused = wait_for_phase(&namespace, &reconciler, "no-ca", "RetryFailed");
    let retry = condition(&refused, "RetryFailed");
    assert_eq!(retry["reason"], "KeyNotExist");
    assert_eq!(
        retry["message"],
        format!("secret {ns}/demo2-tidb-client-secret has no key \"ca.crt\"")
    );
    audit::assert_none_forbidden(&audit::requests_in(env, ns));
}

/// Deleted while they hold the raised value, Backups let go only after releasing it: the
/// first of two holders hands it off to the other, the last restores the original
/// (Retain Backups, their Jobs still running). A holding Backup whose finalizer someone
/// removed gets it back; the others' finalizers are kept.
pub fn deleted_holders_hand_off_then_restore(env: &Env) {
    let namespace = env.namespace("rec-gc-delete");
    let ns = namespace.name.as_str();
    let db = demo1_on_mariadb(env, &namespace, "10m0s");
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut first = simple_backup("first");
    first["spec"]["from"] = from_mariadb(db.port);
    apply(&namespace, &[&first]);
    wait_for_phase(&namespace, &reconciler, "first", "Scheduled");
    let mut second = simple_backup("second");
    second["spec"]["from"] = from_mariadb(db.port);
    second["spec"]["tikvGCLifeTime"] = json!("96h");
    apply(&namespace, &[&second]);
    let second = wait_for_phase(&namespace, &reconciler, "second", "Scheduled");
    assert_eq!(
        second["status"]["tikvGCLifeTime"],
        record(ns, "10m0s", "96h", "Holding"),
        "inherits the first's original"
    );
    assert_eq!(block_on(db.gc_life_time()), "96h");

    // Someone replaces the first's finalizers: ours comes back, theirs stays.
    namespace
        .kubectl(&[
            "patch",
            "backup",
            "first",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/keep"]}}"#,
        ])
        .ok();
    wait_for_backup(
        &namespace,
        &reconciler,
        "first",
        "the finalizer back",
        |b| {
            b.is_some_and(|b| {
                b["metadata"]["finalizers"] == json!(["example.com/keep", GC_FINALIZER])
            })
        },
    );
    namespace
        .kubectl(&[
            "patch",
            "backup",
            "first",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers/0"}]"#,
        ])
        .ok();

    // The first is deleted: it hands off, then goes.
    namespace
        .kubectl(&["delete", "backup", "first", "--timeout=60s"])
        .ok();
    assert_eq!(
        block_on(db.gc_life_time()),
        "96h",
        "the second still holds it"
    );
    assert_eq!(
        last_status_written(env, ns, "first")["tikvGCLifeTime"],
        record(ns, "10m0s", "72h", "HandedOff")
    );
    assert_eq!(
        event_notes(&namespace, "first", "GCLifeTimeReleased"),
        [format!(
            "left tikv_gc_life_time of cluster {ns}/demo1 raised for the other running backups, which restore \"10m0s\""
        )]
    );

    // The second is deleted while BR still runs: it restores, then goes.
    namespace
        .kubectl(&["delete", "backup", "second", "--timeout=60s"])
        .ok();
    assert_eq!(block_on(db.gc_life_time()), "10m0s");
    assert_eq!(
        last_status_written(env, ns, "second")["tikvGCLifeTime"],
        record(ns, "10m0s", "96h", "Restored")
    );
    assert_eq!(
        event_notes(&namespace, "second", "GCLifeTimeReleased"),
        [format!(
            "restored tikv_gc_life_time of cluster {ns}/demo1 to \"10m0s\""
        )]
    );
    assert_eq!(
        reconciler.metric(
            "reconciler-0",
            "tidb_backup_reconcile_gc_restore_failures_total"
        ),
        0.0
    );
    let requests = audit::requests_in(env, ns);
    for name in ["first", "second"] {
        // The record is written before the finalizer goes.
        let released = requests
            .iter()
            .position(|r| {
                r.is("patch", "backups/status", name)
                    && matches!(
                        r.body["status"]["tikvGCLifeTime"]["state"].as_str(),
                        Some("HandedOff" | "Restored")
                    )
            })
            .expect("the release was recorded");
        let removed = requests
            .iter()
            .rposition(|r| r.is("patch", "backups", name))
            .expect("the finalizer was removed");
        assert!(released < removed, "{name}: recorded, then let go");
        super::backup::assert_one_job_created(&requests, &format!("backup-{name}"));
    }
    assert_eq!(
        super::backup::finalizer_patches(&requests, "second"),
        [json!([GC_FINALIZER]), json!([])]
    );
    audit::assert_none_forbidden(&requests);
}

/// A Backup that found the value high enough raised nothing: it records `Unchanged`,
/// never gets the finalizer, and goes at once when deleted; the value is untouched.
pub fn a_backup_that_raised_nothing_gets_no_finalizer(env: &Env) {
    let namespace = env.namespace("rec-gc-unchanged");
    let ns = namespace.name.as_str();
    let db = demo1_on_mariadb(env, &namespace, "100h");
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut manifest = simple_backup("b1");
    manifest["spec"]["from"] = from_mariadb(db.port);
    apply(&namespace, &[&manifest]);
    let scheduled = wait_for_phase(&namespace, &reconciler, "b1", "Scheduled");
    assert_eq!(
        scheduled["status"]["tikvGCLifeTime"],
        record(ns, "100h", "100h", "Unchanged")
    );
    assert_eq!(
        condition(&scheduled, "Prepare")["message"],
        format!(
            "backup path s3://my-bucket/my-folder; tikv_gc_life_time of cluster {ns}/demo1 is already \"100h\", no change needed"
        )
    );
    kubelet::complete_job(env, ns, "backup-b1");
    let complete = wait_for_phase(&namespace, &reconciler, "b1", "Complete");
    assert!(complete["metadata"]["finalizers"].is_null(), "{complete}");
    let deleted = namespace.kubectl(&["delete", "backup", "b1"]).ok();
    assert_eq!(
        deleted.stdout.trim(),
        format!("backup.pingcap.com \"b1\" deleted from {ns} namespace")
    );
    assert!(backup(&namespace, "b1").is_none(), "gone at once");
    assert_eq!(block_on(db.gc_life_time()), "100h");
    let requests = audit::requests_in(env, ns);
    assert!(
        super::backup::finalizer_patches(&requests, "b1").is_empty(),
        "never added"
    );
    audit::assert_none_forbidden(&requests);
}
