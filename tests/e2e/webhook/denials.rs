//! What kubectl prints when the webhook refuses or warns: every field path of a
//! malformed object in one denial, `Warning:` lines for risky settings, the frozen spec
//! of a scheduled Backup, and the namespace bypass. With TiDB Operator's CRDs, what
//! their schema refuses (the `cleanPolicy` enum, a missing `backupTemplate`) is refused
//! by the apiserver before the validating webhook sees it, in the apiserver's words.

use std::time::Duration;

use serde_json::{Value, json};

use super::{offline_check, parse_one, write_status};
use crate::harness::crds::CrdSet;
use crate::harness::process::wait_for;
use crate::harness::{Env, Namespace};

/// How kubectl words a denial whose status carries field causes (as the webhook's do):
/// `The KIND "NAME" is invalid: ` then each cause as `FIELD: message`.
fn invalid(kind: &str, name: &str) -> String {
    format!("The {kind} \"{name}\" is invalid: ")
}

fn malformed_backup() -> Value {
    json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": { "name": "demo1-backup-s3" },
        "spec": {
            "backupType": "Full",
            "cleanPolicy": "delete",
            "tikvGCLifeTime": "3d",
            "br": { "cluster": "demo1", "logLevel": "verbose", "concurrency": 0 },
            "from": { "host": "demo1-tidb", "port": 0, "secretName": "backup-demo1-tidb-secret" },
            "s3": {
                "provider": "aws",
                "region": "us-west-1",
                "bucket": "my-bucket",
                "prefix": "my-folder",
                "acl": "Private",
                "endpoint": "minio:9000",
            },
        },
    })
}

/// `kubectl apply` of `object` fails, kubectl's output carries the webhook's denial
/// with every error `check` finds offline (message and field path), and nothing is
/// stored.
fn assert_denied(env: &Env, namespace: &Namespace<'_>, object: &Value, paths: &[&str]) {
    let manifest = object.to_string();
    let offline = offline_check(&env.crds().with_defaults(object).to_string());
    let kind = object["kind"].as_str().expect("kind");
    let name = object["metadata"]["name"].as_str().expect("name");
    let reported: Vec<&str> = offline
        .errors
        .iter()
        .map(|e| e.split_once(": ").map_or(e.as_str(), |(path, _)| path))
        .collect();
    assert_eq!(reported, paths, "the errors `check` reports offline");

    let applied = namespace.kubectl_stdin(&["apply"], &manifest).failed();
    assert!(
        applied.stderr.starts_with(&invalid(kind, name)),
        "kubectl shows the webhook's denial:\n{applied}"
    );
    for error in &offline.errors {
        assert!(
            applied.stderr.contains(error.as_str()),
            "kubectl's output names {error:?}:\n{applied}"
        );
    }
    let absent = namespace
        .kubectl(&[
            "get",
            &format!("{}.pingcap.com/{name}", kind.to_lowercase()),
        ])
        .failed();
    assert!(
        absent.stderr.contains("not found"),
        "nothing was stored:\n{absent}"
    );
}

/// TiDB Operator's CRDs: `kubectl apply` of `object` fails with the apiserver's own
/// `message` for `field` and nothing else (the validating webhook never saw the object,
/// so none of its findings is there), and nothing is stored.
fn assert_refused_by_the_crd(
    env: &Env,
    namespace: &Namespace<'_>,
    object: &Value,
    field: &str,
    message: &str,
) {
    let kind = object["kind"].as_str().expect("kind");
    let name = object["metadata"]["name"].as_str().expect("name");
    let applied = namespace
        .kubectl_stdin(&["apply"], &object.to_string())
        .failed();
    assert!(
        applied
            .stderr
            .starts_with(&format!("{}\n* {field}: {message}\n", invalid(kind, name))),
        "the apiserver refuses {field} itself:\n{applied}"
    );
    let offline = offline_check(&env.crds().with_defaults(object).to_string());
    for error in offline.errors.iter().filter(|e| !e.starts_with(field)) {
        assert!(
            !applied.stderr.contains(error.as_str()),
            "the validating webhook's {error:?} is not there:\n{applied}"
        );
    }
    let validations = env
        .webhook
        .reviews_logged(&namespace.name, name)
        .into_iter()
        .filter(|line| line.contains("webhook=\"/validate\""))
        .count();
    assert_eq!(validations, 0, "the validating webhook never saw {name}");
    let absent = namespace
        .kubectl(&[
            "get",
            &format!("{}.pingcap.com/{name}", kind.to_lowercase()),
        ])
        .failed();
    assert!(absent.stderr.contains("not found"), "{absent}");
}

/// What the apiserver says of a value outside the `cleanPolicy` enum.
fn clean_policy_not_in_the_enum(value: &str) -> String {
    format!(
        "Unsupported value: \"{value}\": supported values: \"Retain\", \"OnFailure\", \"Delete\""
    )
}

pub fn malformed_backup_names_every_field_path(env: &Env) {
    let namespace = env.namespace("denials-backup");
    let mut backup = malformed_backup();
    let mut paths = vec![
        "spec.backupType",
        "spec.cleanPolicy",
        "spec.s3.endpoint",
        "spec.s3.acl",
        "spec.br.logLevel",
        "spec.br.concurrency",
        "spec.from.port",
        "spec.tikvGCLifeTime",
    ];
    if env.crds() == CrdSet::TidbOperator {
        assert_refused_by_the_crd(
            env,
            &namespace,
            &backup,
            "spec.cleanPolicy",
            &clean_policy_not_in_the_enum("delete"),
        );
        // Without it, the webhook reports everything else.
        backup["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("cleanPolicy");
        paths.retain(|path| *path != "spec.cleanPolicy");
    }
    assert_denied(env, &namespace, &backup, &paths);
}

pub fn malformed_schedule_names_every_field_path(env: &Env) {
    let namespace = env.namespace("denials-schedule");
    let mut template = malformed_backup()["spec"].clone();
    template["backupType"] = json!("full");
    template["br"] = json!({ "cluster": "demo1" });
    template["from"]["port"] = json!(4000);
    template["s3"]
        .as_object_mut()
        .expect("s3")
        .remove("endpoint");
    let schedule = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "BackupSchedule",
        "metadata": { "name": "demo1-backup-schedule-s3" },
        "spec": {
            "schedule": "*/2 * * * * *",
            "maxReservedTime": "3d",
            "maxBackups": -1,
            "backupTemplate": template,
        },
    });
    let mut schedule = schedule;
    let mut paths = vec![
        "spec.schedule",
        "spec.maxBackups",
        "spec.maxReservedTime",
        "spec.backupTemplate.cleanPolicy",
        "spec.backupTemplate.s3.acl",
        "spec.backupTemplate.tikvGCLifeTime",
    ];
    if env.crds() == CrdSet::TidbOperator {
        assert_refused_by_the_crd(
            env,
            &namespace,
            &schedule,
            "spec.backupTemplate.cleanPolicy",
            &clean_policy_not_in_the_enum("delete"),
        );
        schedule["spec"]["backupTemplate"]
            .as_object_mut()
            .expect("backupTemplate")
            .remove("cleanPolicy");
        paths.retain(|path| *path != "spec.backupTemplate.cleanPolicy");
    }
    assert_denied(env, &namespace, &schedule, &paths);
}

pub fn risky_settings_print_warnings(env: &Env) {
    let namespace = env.namespace("denials-warnings");
    let backup = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": {
            "name": "demo1-backup-s3",
            "annotations": { "iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/user" },
        },
        "spec": {
            "cleanPolicy": "Delete",
            "br": { "cluster": "demo1", "sendCredToTikv": true },
            "from": { "host": "demo1-tidb", "secretName": "backup-demo1-tidb-secret" },
            "s3": {
                "provider": "aws",
                "region": "us-west-1",
                "bucket": "my-bucket",
                "acl": "public-read",
                "storageClass": "GLACIER",
            },
        },
    });
    let manifest = backup.to_string();
    let offline = offline_check(&env.crds().with_defaults(&backup).to_string());
    assert!(offline.errors.is_empty(), "valid: {:?}", offline.errors);
    let applied = namespace.kubectl_stdin(&["apply"], &manifest).ok();
    assert_eq!(
        applied.stdout.trim(),
        "backup.pingcap.com/demo1-backup-s3 created",
        "{applied}"
    );
    assert_eq!(
        applied.warnings(),
        offline.warnings,
        "kubectl prints each warning:\n{applied}"
    );
    let fields: Vec<&str> = applied
        .warnings()
        .iter()
        .filter_map(|w| w.split_once(": ").map(|(path, _)| path))
        .collect();
    for field in [
        "spec.br.sendCredToTikv",
        "spec.s3.acl",
        "spec.s3.storageClass",
        "spec.s3.prefix",
    ] {
        assert!(fields.contains(&field), "a warning at {field}:\n{applied}");
    }
}

pub fn update_of_a_scheduled_backup_spec_is_denied(env: &Env) {
    let namespace = env.namespace("denials-frozen");
    let mut backup = malformed_backup();
    backup["spec"] = json!({
        "br": { "cluster": "demo1" },
        "from": { "host": "demo1-tidb", "secretName": "backup-demo1-tidb-secret" },
        "s3": { "provider": "aws", "region": "us-west-1", "bucket": "my-bucket", "prefix": "my-folder" },
    });
    namespace
        .kubectl_stdin(&["apply"], &backup.to_string())
        .ok();
    let resource = "backup.pingcap.com/demo1-backup-s3";
    write_status(
        env,
        &namespace,
        resource,
        r#"{"phase":"Scheduled","conditions":[{"type":"Scheduled","status":"True"}]}"#,
    );

    let moved = namespace
        .kubectl(&[
            "patch",
            resource,
            "--type=merge",
            "-p",
            r#"{"spec":{"s3":{"prefix":"elsewhere"}}}"#,
        ])
        .failed();
    assert!(
        moved.stderr.starts_with(&format!(
            "{}spec.s3.prefix: immutable once the backup has been scheduled",
            invalid("Backup", "demo1-backup-s3")
        )),
        "a scheduled Backup's storage cannot move:\n{moved}"
    );
    let clean_policy = namespace
        .kubectl(&[
            "patch",
            resource,
            "--type=merge",
            "-p",
            r#"{"spec":{"cleanPolicy":"Delete"}}"#,
        ])
        .ok();
    assert_eq!(
        clean_policy.stdout.trim(),
        format!("{resource} patched"),
        "{clean_policy}"
    );
    let stored = parse_one(
        &namespace
            .kubectl(&["get", resource, "-o", "yaml"])
            .ok()
            .stdout,
    );
    assert_eq!(stored["spec"]["s3"]["prefix"], "my-folder");
    assert_eq!(stored["spec"]["cleanPolicy"], "Delete");
}

pub fn disabled_namespace_is_not_checked(env: &Env) {
    let namespace = env.namespace("denials-bypass");
    namespace
        .kubectl(&[
            "label",
            "namespace",
            &namespace.name,
            "tidb-backup-webhook.pingcap.com/admission=disabled",
        ])
        .ok();
    let mut backup = malformed_backup();
    if env.crds() == CrdSet::TidbOperator {
        // Refused by the CRD's enum, webhook or not.
        backup["spec"]["cleanPolicy"] = json!("Delete");
    }
    // The apiserver sees the label through its namespace cache.
    let manifest = backup.to_string();
    wait_for(
        "the namespace label to reach the apiserver's cache",
        Duration::from_secs(30),
        &mut [],
        || {
            Ok(namespace
                .kubectl_stdin(&["apply", "--dry-run=server"], &manifest)
                .status
                .success())
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let applied = namespace.kubectl_stdin(&["apply"], &manifest).ok();
    assert_eq!(
        applied.stdout.trim(),
        "backup.pingcap.com/demo1-backup-s3 created",
        "{applied}"
    );
    assert!(applied.warnings().is_empty(), "{applied}");
    let stored = parse_one(
        &namespace
            .kubectl(&["get", "backup.pingcap.com/demo1-backup-s3", "-o", "yaml"])
            .ok()
            .stdout,
    );
    assert_eq!(
        stored["spec"]["s3"]["acl"], "Private",
        "stored as given: {stored}"
    );
    assert!(
        stored["spec"]["s3"]["storageClass"].is_null(),
        "no defaults of the webhook: {stored}"
    );
    let mode = match env.crds() {
        CrdSet::TidbOperator => json!("snapshot"),
        CrdSet::Standalone => Value::Null,
    };
    assert_eq!(
        stored["spec"]["backupMode"], mode,
        "only the CRD's defaults: {stored}"
    );
}

/// A BackupSchedule without `spec.backupTemplate`: kubectl shows the validation error,
/// and the defaulting webhook answered it without an error of its own (its failure policy
/// would hide one from the user).
pub fn schedule_without_template_is_denied_cleanly(env: &Env) {
    let namespace = env.namespace("denials-no-template");
    let schedule = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "BackupSchedule",
        "metadata": { "name": "no-template" },
        "spec": { "schedule": "*/2 * * * *", "maxReservedTime": "3h" },
    });
    match env.crds() {
        // TiDB Operator's CRD requires the field.
        CrdSet::TidbOperator => assert_refused_by_the_crd(
            env,
            &namespace,
            &schedule,
            "spec.backupTemplate",
            "Required value",
        ),
        // The standalone CRD defaults it to `{}`, which the webhook refuses.
        CrdSet::Standalone => {
            let applied = namespace
                .kubectl_stdin(&["apply"], &schedule.to_string())
                .failed();
            // kubectl lists several causes one per line.
            assert!(
                applied
                    .stderr
                    .starts_with(&invalid("BackupSchedule", "no-template"))
                    && applied.stderr.contains(
                        "\n* spec.backupTemplate: no storage provider: set exactly one of s3, gcs, azblob or local"
                    )
                    && applied
                        .stderr
                        .contains("\n* spec.backupTemplate.br.cluster: required"),
                "{applied}"
            );
        }
    }
    let errors: Vec<String> = env
        .webhook
        .metrics()
        .lines()
        .filter(|line| {
            line.starts_with("tidb_backup_webhook_requests_total{webhook=\"/mutate\",code=\"5")
                && line.contains("kind=\"BackupSchedule\"")
        })
        .map(str::to_owned)
        .collect();
    assert!(
        errors.is_empty(),
        "/mutate failed on the schedule: {errors:?}"
    );
}
