//! The reconciler through the real apiserver: the `reconcile` binary as shipped (its
//! ServiceAccount's token, the shipped RBAC; see `harness::reconciler`), Backups and
//! BackupSchedules applied with kubectl, the test standing in for the job controller and
//! the kubelet (`harness::kubelet`), a real MariaDB for the GC life time and a real
//! S3-protocol server for cleanPolicy.
//!
//! These tests replace the controller tests that ran against an in-memory fake
//! apiserver; `tests/controller/` keeps only what needs a fault the apiserver cannot be
//! made to produce on demand.

mod backup;
mod clean;
mod gc;
mod leader;
mod namespace;
mod process;
mod schedule;

#[path = "../../controller/mariadb.rs"]
#[allow(
    dead_code,
    reason = "shared with the controller tests, which use all of it"
)]
mod mariadb;
#[path = "../../common/s3.rs"]
#[allow(
    dead_code,
    reason = "shared with the runner tests, which use all of it"
)]
mod s3;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::crds::repository_path;
use crate::harness::process::wait_for;
use crate::harness::reconciler::Reconcilers;
use crate::harness::{Env, Namespace, Test};
use crate::webhook::{in_namespace, parse_one};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "reconciler::backup::the_guides_backup_runs_its_golden_job",
            backup::the_guides_backup_runs_its_golden_job,
        ),
        Test::new(
            "reconciler::backup::a_log_backup_is_unsupported_once",
            backup::a_log_backup_is_unsupported_once,
        ),
        Test::new(
            "reconciler::backup::invalid_backups_get_no_job",
            backup::invalid_backups_get_no_job,
        ),
        Test::new(
            "reconciler::backup::jobs_and_their_backups_go_together",
            backup::jobs_and_their_backups_go_together,
        ),
        Test::new(
            "reconciler::gc::an_unreachable_tidb_is_retried_with_back_off_and_no_job",
            gc::an_unreachable_tidb_is_retried_with_back_off_and_no_job,
        ),
        Test::new(
            "reconciler::gc::overlapping_backups_restore_the_original_after_the_last",
            gc::overlapping_backups_restore_the_original_after_the_last,
        ),
        Test::new(
            "reconciler::gc::a_failed_restore_fails_the_backup_and_never_keeps_it",
            gc::a_failed_restore_fails_the_backup_and_never_keeps_it,
        ),
        Test::new(
            "reconciler::gc::spec_from_uses_client_tls_when_the_cluster_enables_it",
            gc::spec_from_uses_client_tls_when_the_cluster_enables_it,
        ),
        Test::new(
            "reconciler::gc::deleted_holders_hand_off_then_restore",
            gc::deleted_holders_hand_off_then_restore,
        ),
        Test::new(
            "reconciler::gc::a_backup_that_raised_nothing_gets_no_finalizer",
            gc::a_backup_that_raised_nothing_gets_no_finalizer,
        ),
        Test::new(
            "reconciler::clean::only_delete_and_on_failure_backups_get_the_finalizer",
            clean::only_delete_and_on_failure_backups_get_the_finalizer,
        ),
        Test::new(
            "reconciler::clean::a_deleted_backup_is_cleaned_after_its_job_and_goes",
            clean::a_deleted_backup_is_cleaned_after_its_job_and_goes,
        ),
        Test::new(
            "reconciler::clean::on_failure_cleans_only_a_failed_backup",
            clean::on_failure_cleans_only_a_failed_backup,
        ),
        Test::new(
            "reconciler::clean::a_failed_clean_is_retried_after_the_fix",
            clean::a_failed_clean_is_retried_after_the_fix,
        ),
        Test::new(
            "reconciler::clean::a_refused_clean_keeps_the_data_until_the_policy_is_retain",
            clean::a_refused_clean_keeps_the_data_until_the_policy_is_retain,
        ),
        Test::new(
            "reconciler::clean::finalizers_of_backups_that_never_ran_let_go",
            clean::finalizers_of_backups_that_never_ran_let_go,
        ),
        Test::new(
            "reconciler::clean::a_deleted_backup_without_a_job_releases_the_gc_life_time",
            clean::a_deleted_backup_without_a_job_releases_the_gc_life_time,
        ),
        Test::new(
            "reconciler::namespace::deleting_a_namespace_with_backups_never_hangs",
            namespace::deleting_a_namespace_with_backups_never_hangs,
        ),
        Test::new(
            "reconciler::leader::two_replicas_share_the_lease_and_the_survivor_takes_over",
            leader::two_replicas_share_the_lease_and_the_survivor_takes_over,
        ),
        Test::new(
            "reconciler::process::the_admin_port_serves_health_and_every_queried_metric",
            process::the_admin_port_serves_health_and_every_queried_metric,
        ),
        Test::new(
            "reconciler::process::without_rights_to_list_backups_it_stops_with_the_reason",
            process::without_rights_to_list_backups_it_stops_with_the_reason,
        ),
        Test::new(
            "reconciler::schedule::a_fast_schedule_runs_its_ticks_one_at_a_time_and_prunes",
            schedule::a_fast_schedule_runs_its_ticks_one_at_a_time_and_prunes,
        ),
        Test::new(
            "reconciler::schedule::an_invalid_schedule_creates_and_deletes_nothing",
            schedule::an_invalid_schedule_creates_and_deletes_nothing,
        ),
        Test::new(
            "reconciler::schedule::an_hourly_tick_with_a_pinned_clock",
            schedule::an_hourly_tick_with_a_pinned_clock,
        ),
    ]
}

/// How long a test waits for the reconciler to get somewhere (a bound against hanging,
/// not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The finalizers the reconciler manages.
pub const CLEAN_FINALIZER: &str = "tidb.pingcap.com/backup-protection";
pub const GC_FINALIZER: &str = "tidb.pingcap.com/gc-life-time";

/// A TidbCluster CRD standing in for TiDB Operator's (standalone users run TiDB
/// Operator's cluster controller, or at least its CRDs): the reconciler reads only a
/// few fields of a TidbCluster, so the schema keeps every field. Installed once per run,
/// unless a CRD of that name is there already.
const TIDBCLUSTER_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": { "name": "tidbclusters.pingcap.com" },
  "spec": {
    "group": "pingcap.com",
    "scope": "Namespaced",
    "names": { "kind": "TidbCluster", "listKind": "TidbClusterList", "plural": "tidbclusters",
               "singular": "tidbcluster", "shortNames": ["tc"] },
    "versions": [{
      "name": "v1alpha1", "served": true, "storage": true,
      "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } }
    }]
  }
}"#;

/// Creates TidbCluster `name` in `namespace` with `spec`.
pub fn tidb_cluster(env: &Env, namespace: &Namespace<'_>, name: &str, spec: Value) {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if env
                .kubectl()
                .run(&["get", "crd", "tidbclusters.pingcap.com"])
                .status
                .success()
            {
                return Ok(());
            }
            let created = env
                .kubectl()
                .run_with_stdin(&["create", "-f", "-"], Some(TIDBCLUSTER_CRD));
            if !created.status.success() {
                return Err(created.to_string());
            }
            let established = env.kubectl().run(&[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/tidbclusters.pingcap.com",
            ]);
            if established.status.success() {
                Ok(())
            } else {
                Err(established.to_string())
            }
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("installing the TidbCluster CRD failed: {e}"));
    let cluster = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "TidbCluster",
        "metadata": { "name": name },
        "spec": spec,
    });
    namespace
        .kubectl_stdin(&["apply"], &cluster.to_string())
        .ok();
}

/// TidbCluster `demo1` (v8.5.0) with its password Secret, and the MariaDB that plays its
/// TiDB, started with `tidb_gc_life_time` = `gc_life_time`.
pub fn demo1_on_mariadb(
    env: &Env,
    namespace: &Namespace<'_>,
    gc_life_time: &str,
) -> mariadb::MariaDb {
    let db = block_on(mariadb::MariaDb::start(gc_life_time));
    tidb_cluster(env, namespace, "demo1", json!({"version": "v8.5.0"}));
    tidb_secret(namespace);
    db
}

/// The TiDB password Secret the guide's Backups name (`backup-demo1-tidb-secret`),
/// with MariaDB's backup account's password.
pub fn tidb_secret(namespace: &Namespace<'_>) {
    namespace
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "backup-demo1-tidb-secret",
            &format!("--from-literal=password={}", mariadb::PASSWORD),
        ])
        .ok();
}

/// The guide's `backup-rbac.yaml` (the `tidb-backup-manager` account backup pods run
/// as), applied as the README's "Then, either way" says.
pub fn backup_rbac(namespace: &Namespace<'_>) {
    namespace
        .kubectl(&[
            "apply",
            "-f",
            &repository_path("manifests/rbac/backup-manager/backup-rbac.yaml"),
        ])
        .ok();
}

/// One of the shipped examples (`manifests/examples/NAME.yaml`), moved to `namespace`.
pub fn example(name: &str, namespace: &str) -> Value {
    let text = std::fs::read_to_string(repository_path(&format!("manifests/examples/{name}.yaml")))
        .unwrap_or_else(|e| panic!("read the example {name}: {e}"));
    parse_one(&in_namespace(&text, namespace))
}

/// `spec.from` pointing at MariaDB's backup account on `port`.
pub fn from_mariadb(port: u16) -> Value {
    json!({
        "host": "127.0.0.1",
        "port": port,
        "user": mariadb::USER,
        "secretName": "backup-demo1-tidb-secret",
    })
}

/// A snapshot Backup of cluster demo1 to `s3://my-bucket/my-folder` with access keys
/// (the guide's first example, without `spec.from`) named `name`.
pub fn simple_backup(name: &str) -> Value {
    json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": { "name": name },
        "spec": {
            "backupType": "full",
            "br": { "cluster": "demo1" },
            "s3": { "provider": "aws", "secretName": "s3-secret", "region": "us-west-1",
                    "bucket": "my-bucket", "prefix": "my-folder" },
        },
    })
}

/// `kubectl apply -f -` of `objects` in `namespace`; returns what kubectl printed.
pub fn apply(namespace: &Namespace<'_>, objects: &[&Value]) -> crate::harness::kubectl::Output {
    let list = json!({ "apiVersion": "v1", "kind": "List", "items": objects });
    namespace.kubectl_stdin(&["apply"], &list.to_string()).ok()
}

/// Backup `name` as stored, or `None` when it does not exist.
pub fn backup(namespace: &Namespace<'_>, name: &str) -> Option<Value> {
    get(namespace, "backup.pingcap.com", name)
}

/// `kubectl get KIND NAME -o json`, or `None` when it does not exist.
pub fn get(namespace: &Namespace<'_>, kind: &str, name: &str) -> Option<Value> {
    let output = namespace.kubectl(&["get", kind, name, "-o", "json"]);
    if output.status.success() {
        return Some(serde_json::from_str(&output.stdout).expect("kubectl prints JSON"));
    }
    assert!(output.stderr.contains("NotFound"), "{output}");
    None
}

/// The names of the objects of `kind` in `namespace` (with a label selector, if any).
pub fn names(namespace: &Namespace<'_>, kind: &str, selector: Option<&str>) -> Vec<String> {
    let mut args = vec!["get", kind, "-o", "jsonpath={.items[*].metadata.name}"];
    if let Some(selector) = selector {
        args.extend_from_slice(&["-l", selector]);
    }
    let output = namespace.kubectl(&args).ok();
    let mut names: Vec<String> = output
        .stdout
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// Waits until Backup `name` satisfies `done` (its stored JSON, `None` when gone);
/// returns what it last read. A failure shows the Backup and the reconciler's logs.
#[track_caller]
pub fn wait_for_backup(
    namespace: &Namespace<'_>,
    reconcilers: &Reconcilers<'_>,
    name: &str,
    what: &str,
    done: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    let mut last = None;
    let result = wait_for(&format!("Backup {name}: {what}"), PATIENCE, &mut [], || {
        reconcilers.assert_running();
        last = backup(namespace, name);
        Ok(done(last.as_ref()))
    });
    if let Err(e) = result {
        panic!(
            "{e}\nthe Backup: {}\n{}",
            serde_json::to_string_pretty(&last).unwrap_or_default(),
            reconcilers.logs()
        );
    }
    last
}

/// Waits until Backup `name`'s `status.phase` is `phase`; returns the Backup.
#[track_caller]
pub fn wait_for_phase(
    namespace: &Namespace<'_>,
    reconcilers: &Reconcilers<'_>,
    name: &str,
    phase: &str,
) -> Value {
    wait_for_backup(
        namespace,
        reconcilers,
        name,
        &format!("phase {phase}"),
        |b| b.is_some_and(|b| b["status"]["phase"] == phase),
    )
    .expect("the Backup exists")
}

/// Condition `type_` of an object's status (`null` without it).
pub fn condition(object: &Value, type_: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

/// The condition types of an object's status, in order.
pub fn condition_types(object: &Value) -> Vec<String> {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["type"].as_str().map(str::to_owned))
        .collect()
}

/// The Events (`events.k8s.io/v1`) about object `name` in `namespace`, oldest first.
pub fn events_about(namespace: &Namespace<'_>, name: &str) -> Vec<Value> {
    let output = namespace
        .kubectl(&["get", "events.events.k8s.io", "-o", "json"])
        .ok();
    let list: Value = serde_json::from_str(&output.stdout).expect("kubectl prints JSON");
    let mut events: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["regarding"]["name"] == name)
        .cloned()
        .collect();
    events.sort_by_key(|e| e["eventTime"].as_str().unwrap_or_default().to_owned());
    events
}

/// `(type, reason)` of the Events about `name`, oldest first.
pub fn event_reasons(namespace: &Namespace<'_>, name: &str) -> Vec<(String, String)> {
    events_about(namespace, name)
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The notes of the Events about `name` with `reason`.
pub fn event_notes(namespace: &Namespace<'_>, name: &str, reason: &str) -> Vec<String> {
    events_about(namespace, name)
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["note"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A table kubectl printed, as rows of `column → cell`. kubectl pads columns with at
/// least three spaces, so a column starts after two spaces in the header line, and a
/// header or cell may itself contain single spaces (`LAST SEEN`, `102 kB`).
pub fn table(output: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = output.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let bytes = header.as_bytes();
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i] != b' ' && (i == 0 || (i >= 2 && &bytes[i - 2..i] == b"  ")))
        .collect();
    let cell = |line: &str, k: usize| {
        let start = starts[k].min(line.len());
        let end = starts
            .get(k + 1)
            .map_or(line.len(), |s| (*s).min(line.len()));
        line.get(start..end).unwrap_or_default().trim().to_owned()
    };
    lines
        .map(|line| {
            (0..starts.len())
                .map(|k| (cell(header, k), cell(line, k)))
                .collect()
        })
        .collect()
}

/// The row of `name` in `kubectl get bk -o wide`.
pub fn wide_row(namespace: &Namespace<'_>, name: &str) -> BTreeMap<String, String> {
    let output = namespace.kubectl(&["get", "bk", name, "-o", "wide"]).ok();
    let rows = table(&output.stdout);
    assert_eq!(rows.len(), 1, "{output}");
    rows.into_iter().next().expect("one row")
}

/// Runs `future` on a runtime of its own, on this thread (MariaDB's helpers are async).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

/// The lines of BR's log a successful full backup ends with (BR_LOG_TO_TERM).
pub const BR_SUCCESS: &str = "[2026/01/01 00:08:58.000 +00:00] [INFO] [backup.go:600] [\"finish backup\"]\n[2026/01/01 00:08:59.000 +00:00] [INFO] [collector.go:77] [\"Full Backup success summary\"] [total-ranges=19] [backup-data-size(after-compressed)=102.5kB] [Size=102451] [BackupTS=447518343168000000]\n";

/// BR's log of a failed backup.
pub const BR_FAILURE: &str = "[2026/01/01 00:08:00.000 +00:00] [INFO] [backup.go:50] [\"start\"]\n[2026/01/01 00:08:59.000 +00:00] [ERROR] [backup.go:40] [\"failed to backup\"] [error=\"[BR:KV:ErrKVStorage]tikv storage occur I/O error\"]\nError: [BR:KV:ErrKVStorage]tikv storage occur I/O error\n";
