//! Objects stored before the webhook was installed, invalid by today's rules: their
//! status and finalizer updates, and spec updates that leave the invalid fields alone,
//! are never blocked (the old errors come back as kubectl warnings); a change that
//! keeps a field invalid is.
//!
//! The object is created with the webhook configurations deleted, then they are
//! registered again: these tests run alone.

use serde_json::json;

use super::{parse_one, write_status};
use crate::harness::{Env, Namespace};

/// A Backup the webhook would refuse: a mistyped ACL and a duration with days.
fn invalid_backup() -> serde_json::Value {
    json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": { "name": "old-backup" },
        "spec": {
            "br": { "cluster": "demo1" },
            "from": { "host": "demo1-tidb", "secretName": "backup-demo1-tidb-secret" },
            "tikvGCLifeTime": "3d",
            "s3": {
                "provider": "aws",
                "region": "us-west-1",
                "bucket": "my-bucket",
                "prefix": "my-folder",
                "acl": "Private",
            },
        },
    })
}

/// Creates `backup` while the webhook is unregistered, then registers it again.
fn create_before_the_webhook(env: &Env, namespace: &Namespace<'_>, backup: &serde_json::Value) {
    let unregistered = env.webhook.unregister();
    let created = namespace
        .kubectl_stdin(&["create"], &backup.to_string())
        .ok();
    assert!(
        created.warnings().is_empty(),
        "no webhook, no warnings:\n{created}"
    );
    unregistered.register();
}

pub fn old_invalid_backup_status_and_finalizers_update(env: &Env) {
    let namespace = env.namespace("ratchet-fields");
    create_before_the_webhook(env, &namespace, &invalid_backup());
    let backup = "backup.pingcap.com/old-backup";

    // The webhook refuses the same object when it is new.
    let fresh = namespace
        .kubectl_stdin(
            &["create", "--dry-run=server"],
            &{
                let mut copy = invalid_backup();
                copy["metadata"]["name"] = json!("new-backup");
                copy
            }
            .to_string(),
        )
        .failed();
    for field in ["spec.s3.acl", "spec.tikvGCLifeTime"] {
        assert!(
            fresh.stderr.contains(field),
            "a new object is refused at {field}:\n{fresh}"
        );
    }

    // A finalizer added to the old object: admitted, the old errors as warnings.
    let finalizer = namespace
        .kubectl(&[
            "patch",
            backup,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["e2e.pingcap.com/hold"]}}"#,
        ])
        .ok();
    let warnings = finalizer.warnings().join("\n");
    for field in ["spec.s3.acl: ", "spec.tikvGCLifeTime: "] {
        assert!(
            warnings.contains(field),
            "the old error at {field} is a warning on update:\n{finalizer}"
        );
    }

    // A spec change elsewhere is admitted; one that keeps the ACL invalid is not.
    namespace
        .kubectl(&[
            "patch",
            backup,
            "--type=merge",
            "-p",
            r#"{"spec":{"s3":{"prefix":"other-folder"}}}"#,
        ])
        .ok();
    let still_invalid = namespace
        .kubectl(&[
            "patch",
            backup,
            "--type=merge",
            "-p",
            r#"{"spec":{"s3":{"acl":"Public"}}}"#,
        ])
        .failed();
    assert!(
        still_invalid.stderr.contains(
            "The Backup \"old-backup\" is invalid: spec.s3.acl: unsupported value \"Public\""
        ),
        "a changed, still invalid ACL is refused:\n{still_invalid}"
    );

    // Status written as the controller does: through the status subresource (the
    // reconciler, standalone CRDs) or with the whole object (TiDB Operator, whose CRDs
    // have none; the webhook reviews that update).
    write_status(
        env,
        &namespace,
        backup,
        r#"{"phase":"Scheduled","conditions":[{"type":"Scheduled","status":"True"}]}"#,
    );

    // The finalizer removed again, and the object deleted.
    namespace
        .kubectl(&[
            "patch",
            backup,
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ])
        .ok();
    let stored = parse_one(
        &namespace
            .kubectl(&["get", backup, "-o", "yaml"])
            .ok()
            .stdout,
    );
    assert_eq!(stored["status"]["phase"], "Scheduled", "{stored}");
    assert_eq!(
        stored["spec"]["s3"]["acl"], "Private",
        "the old value is kept: {stored}"
    );
    assert_eq!(stored["spec"]["s3"]["prefix"], "other-folder", "{stored}");
    assert!(stored["metadata"]["finalizers"].is_null(), "{stored}");
    namespace.kubectl(&["delete", backup]).ok();
}

/// An object whose error is reported at `spec` itself (no storage at all).
pub fn old_backup_without_storage_updates_after_defaulting(env: &Env) {
    let namespace = env.namespace("ratchet-spec");
    let mut backup = invalid_backup();
    backup["spec"]["tikvGCLifeTime"] = json!("72h");
    backup["spec"].as_object_mut().expect("spec").remove("s3");
    create_before_the_webhook(env, &namespace, &backup);

    let finalizer = namespace
        .kubectl(&[
            "patch",
            "backup.pingcap.com/old-backup",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["e2e.pingcap.com/hold"]}}"#,
        ])
        .ok();
    assert!(
        finalizer.warnings().iter().any(|w| w.starts_with("spec: ")),
        "the old storage error is a warning on update:\n{finalizer}"
    );
    namespace
        .kubectl(&[
            "patch",
            "backup.pingcap.com/old-backup",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ])
        .ok();
}
