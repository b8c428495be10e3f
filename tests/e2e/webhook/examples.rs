//! The guide's examples (`manifests/examples/*.yaml`) applied with kubectl: a server-side
//! dry run shows the defaults and stores nothing, the apply stores them, `get -o yaml`
//! shows them, and a second apply changes nothing.
//!
//! Each example runs in a namespace of its own (the files say `test1`; that is the only
//! change made to them). The expected defaults and warnings are what the offline
//! validator (`check -o json`) makes of the same file once the CRDs' own defaults are in
//! it (the apiserver fills those before the webhook sees the object): through the
//! apiserver the webhook must give exactly the same.

use serde_json::Value;

use super::{in_namespace, offline_check, parse_one};
use crate::harness::Env;
use crate::harness::crds::{CrdSet, repository_path};

pub fn backup_s3_irsa(env: &Env) {
    example(env, "backup-s3-irsa.yaml");
}

pub fn backup_s3_kube2iam(env: &Env) {
    example(env, "backup-s3-kube2iam.yaml");
}

pub fn backup_s3_secret(env: &Env) {
    example(env, "backup-s3-secret.yaml");
}

pub fn schedule_s3_irsa(env: &Env) {
    example(env, "schedule-s3-irsa.yaml");
}

pub fn schedule_s3_kube2iam(env: &Env) {
    example(env, "schedule-s3-kube2iam.yaml");
}

pub fn schedule_s3_secret(env: &Env) {
    example(env, "schedule-s3-secret.yaml");
}

/// The defaults the README's table promises, as `kubectl get -o yaml` prints them (the
/// spec of a Backup, or the backupTemplate of a BackupSchedule, indented accordingly).
fn promised_defaults(kind: &str) -> Vec<String> {
    let indent = if kind == "Backup" { "  " } else { "    " };
    [
        "cleanPolicy: Retain",
        "tikvGCLifeTime: 72h",
        "serviceAccount: tidb-backup-manager",
        "backupType: full",
    ]
    .iter()
    .map(|line| format!("\n{indent}{line}\n"))
    .chain(
        ["acl: private", "storageClass: STANDARD_IA"]
            .iter()
            .map(|line| format!("\n{indent}  {line}\n")),
    )
    .collect()
}

fn example(env: &Env, file: &str) {
    let path = repository_path(&format!("manifests/examples/{file}"));
    let shipped = std::fs::read_to_string(&path).expect("read the example");
    assert_eq!(
        parse_one(&shipped)["metadata"]["namespace"],
        "test1",
        "{file}: the guide's examples live in test1"
    );
    let namespace = env.namespace(&format!("example-{}", file.trim_end_matches(".yaml")));
    let manifest = in_namespace(&shipped, &namespace.name);
    let object = parse_one(&manifest);
    let kind = object["kind"].as_str().expect("kind").to_owned();
    let name = object["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let resource = format!("{}.pingcap.com/{name}", kind.to_lowercase());
    let offline = offline_check(&env.crds().with_defaults(&object).to_string());
    assert!(
        offline.errors.is_empty(),
        "{file} is valid offline: {:?}",
        offline.errors
    );

    // A server-side dry run: the defaults, the warnings, nothing stored.
    let dry_run = namespace
        .kubectl_stdin(&["apply", "--dry-run=server", "-o", "json"], &manifest)
        .ok();
    let previewed: Value = serde_json::from_str(&dry_run.stdout).expect("dry run prints JSON");
    assert_eq!(
        previewed["spec"], offline.defaulted["spec"],
        "{file}: the dry run shows the defaults `check` fills\n{dry_run}"
    );
    assert_eq!(
        dry_run.warnings(),
        offline.warnings,
        "{file}: dry-run warnings\n{dry_run}"
    );
    let absent = namespace.kubectl(&["get", &resource]).failed();
    assert!(
        absent.stderr.contains(&format!("\"{name}\" not found")),
        "{file}: the dry run stored nothing\n{absent}"
    );

    // The apply stores the defaults.
    let applied = namespace.kubectl_stdin(&["apply"], &manifest).ok();
    assert_eq!(
        applied.stdout.trim(),
        format!("{resource} created"),
        "{applied}"
    );
    assert_eq!(
        applied.warnings(),
        offline.warnings,
        "{file}: apply warnings\n{applied}"
    );
    let shown = namespace.kubectl(&["get", &resource, "-o", "yaml"]).ok();
    for default in promised_defaults(&kind) {
        assert!(
            shown.stdout.contains(&default),
            "{file}: `kubectl get -o yaml` shows {default:?}\n{shown}"
        );
    }
    let stored = parse_one(&shown.stdout);
    assert_eq!(
        stored["spec"], offline.defaulted["spec"],
        "{file}: the stored spec is the one `check` defaults\n{shown}"
    );
    assert_crd_defaults(env.crds(), &kind, &stored, file);

    // A second apply of the same file changes nothing.
    let again = namespace.kubectl_stdin(&["apply"], &manifest).ok();
    assert_eq!(
        again.stdout.trim(),
        format!("{resource} unchanged"),
        "{again}"
    );
    let after = parse_one(
        &namespace
            .kubectl(&["get", &resource, "-o", "yaml"])
            .ok()
            .stdout,
    );
    assert_eq!(
        after["metadata"]["resourceVersion"], stored["metadata"]["resourceVersion"],
        "{file}: a second apply wrote nothing"
    );
    assert_eq!(
        after["metadata"]["managedFields"],
        stored["metadata"]["managedFields"]
    );
}

/// TiDB Operator's CRDs fill fields the webhook leaves alone for a snapshot backup (it
/// fills them for volume-snapshot backups only, where they matter); the standalone CRDs
/// fill nothing.
fn assert_crd_defaults(crds: CrdSet, kind: &str, stored: &Value, file: &str) {
    let spec = if kind == "Backup" {
        &stored["spec"]
    } else {
        &stored["spec"]["backupTemplate"]
    };
    let (calc_size_level, init_job_seconds) = match crds {
        CrdSet::TidbOperator => (serde_json::json!("all"), serde_json::json!(600)),
        CrdSet::Standalone => (Value::Null, Value::Null),
    };
    assert_eq!(spec["calcSizeLevel"], calc_size_level, "{file}: {spec}");
    assert_eq!(
        spec["volumeBackupInitJobMaxActiveSeconds"], init_job_seconds,
        "{file}: {spec}"
    );
    assert_eq!(spec["backupMode"], "snapshot", "{file}: {spec}");
}

/// Server-side apply, the way the README installs things, twice: the webhook's defaults
/// do not make the second apply write (same resourceVersion, same managedFields).
pub fn server_side_apply_twice_changes_nothing(env: &Env) {
    let shipped =
        std::fs::read_to_string(repository_path("manifests/examples/backup-s3-secret.yaml"))
            .expect("read the example");
    let namespace = env.namespace("example-server-side");
    let manifest = in_namespace(&shipped, &namespace.name);
    let resource = "backup.pingcap.com/demo1-backup-s3";

    let first = namespace
        .kubectl_stdin(&["apply", "--server-side"], &manifest)
        .ok();
    assert_eq!(
        first.stdout.trim(),
        format!("{resource} serverside-applied"),
        "{first}"
    );
    let stored = parse_one(
        &namespace
            .kubectl(&["get", resource, "-o", "yaml"])
            .ok()
            .stdout,
    );
    assert_eq!(
        stored["spec"]["cleanPolicy"], "Retain",
        "defaulted through server-side apply"
    );

    let second = namespace
        .kubectl_stdin(&["apply", "--server-side"], &manifest)
        .ok();
    assert_eq!(
        second.stdout.trim(),
        format!("{resource} serverside-applied"),
        "{second}"
    );
    let after = parse_one(
        &namespace
            .kubectl(&["get", resource, "-o", "yaml"])
            .ok()
            .stdout,
    );
    assert_eq!(
        after["metadata"]["resourceVersion"], stored["metadata"]["resourceVersion"],
        "the second server-side apply wrote the object again:\nbefore: {}\nafter: {}",
        stored["metadata"]["managedFields"], after["metadata"]["managedFields"]
    );
    assert_eq!(
        after["metadata"]["managedFields"],
        stored["metadata"]["managedFields"]
    );
    assert_eq!(after["spec"], stored["spec"]);
}
