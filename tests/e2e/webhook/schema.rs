//! What the CRDs do before and around the webhook, asserted for both shapes: the
//! apiserver fills the schema's defaults before the defaulting webhook sees the object,
//! status is written through the status subresource or (TiDB Operator's CRDs, which have
//! none) through the main resource, and unknown fields are pruned before the webhook
//! sees them unless the CRD keeps them.

use std::time::Duration;

use serde_json::{Value, json};

use super::{offline_check, parse_one};
use crate::harness::crds::CrdSet;
use crate::harness::process::wait_for;
use crate::harness::{Env, Namespace};

/// The `/mutate` (or `/validate`) reviews the webhook logged for `name` in `namespace`.
fn reviews(env: &Env, namespace: &Namespace<'_>, name: &str, path: &str) -> Vec<String> {
    let path = format!("webhook=\"{path}\"");
    env.webhook
        .reviews_logged(&namespace.name, name)
        .into_iter()
        .filter(|line| line.contains(&path))
        .collect()
}

/// A snapshot Backup that already has every default the webhook fills, except
/// `backupMode`, which TiDB Operator's CRDs default too.
pub fn crd_defaults_arrive_before_the_webhook(env: &Env) {
    let namespace = env.namespace("schema-defaults");
    let backup = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": { "name": "all-but-mode" },
        "spec": {
            "backupType": "full",
            "cleanPolicy": "Retain",
            "serviceAccount": "tidb-backup-manager",
            "br": { "cluster": "demo1", "clusterNamespace": namespace.name },
            "s3": { "provider": "ceph", "endpoint": "http://ceph:7480", "bucket": "backups", "prefix": "demo1" },
        },
    });
    namespace
        .kubectl_stdin(&["apply"], &backup.to_string())
        .ok();
    let stored = parse_one(
        &namespace
            .kubectl(&["get", "backup.pingcap.com/all-but-mode", "-o", "json"])
            .ok()
            .stdout,
    );
    assert_eq!(stored["spec"]["backupMode"], "snapshot", "{stored}");
    let mutate = reviews(env, &namespace, "all-but-mode", "/mutate");
    assert_eq!(mutate.len(), 1, "one defaulting review: {mutate:#?}");
    match env.crds() {
        CrdSet::TidbOperator => {
            assert!(
                mutate[0].contains(" mutated=false"),
                "the apiserver had filled backupMode: the webhook had nothing to add: {}",
                mutate[0]
            );
            // Defaults of the CRD the webhook never fills for a snapshot backup.
            assert_eq!(stored["spec"]["calcSizeLevel"], "all", "{stored}");
            assert_eq!(
                stored["spec"]["volumeBackupInitJobMaxActiveSeconds"], 600,
                "{stored}"
            );
        }
        CrdSet::Standalone => {
            assert!(
                mutate[0].contains(" mutated=true"),
                "the webhook filled backupMode: {}",
                mutate[0]
            );
            assert!(stored["spec"]["calcSizeLevel"].is_null(), "{stored}");
        }
    }
}

/// TiDB Operator's CRDs have no status subresource: status is part of every update of
/// the object (which the webhook reviews and admits). The standalone CRDs have one: an
/// update of the object drops its status, the subresource writes it.
pub fn status_is_written_where_the_crds_allow(env: &Env) {
    let namespace = env.namespace("schema-status");
    let backup = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "Backup",
        "metadata": { "name": "status-writer" },
        "spec": {
            "br": { "cluster": "demo1" },
            "s3": { "provider": "aws", "region": "us-west-1", "bucket": "backups", "prefix": "demo1" },
        },
    });
    let resource = "backup.pingcap.com/status-writer";
    namespace
        .kubectl_stdin(&["apply"], &backup.to_string())
        .ok();
    let phase = |phase: &str| format!(r#"{{"status":{{"phase":"{phase}"}}}}"#);
    let through_subresource = namespace.kubectl(&[
        "patch",
        resource,
        "--subresource=status",
        "--type=merge",
        "-p",
        &phase("Scheduled"),
    ]);
    let through_object =
        namespace.kubectl(&["patch", resource, "--type=merge", "-p", &phase("Running")]);
    let stored = parse_one(
        &namespace
            .kubectl(&["get", resource, "-o", "json"])
            .ok()
            .stdout,
    );
    match env.crds() {
        CrdSet::TidbOperator => {
            let refused = through_subresource.failed();
            assert!(
                refused.stderr.contains(
                    "Error from server (NotFound): backups.pingcap.com \"status-writer\" not found"
                ),
                "no status subresource:\n{refused}"
            );
            let written = through_object.ok();
            assert_eq!(
                written.stdout.trim(),
                format!("{resource} patched"),
                "{written}"
            );
            assert_eq!(stored["status"]["phase"], "Running", "{stored}");
            let updates: Vec<String> = reviews(env, &namespace, "status-writer", "/validate")
                .into_iter()
                .filter(|line| line.contains("operation=\"UPDATE\""))
                .collect();
            assert!(
                updates.len() == 1 && updates[0].contains(" allowed=true"),
                "the status update was reviewed and admitted: {updates:#?}"
            );
        }
        CrdSet::Standalone => {
            through_subresource.ok();
            let dropped = through_object.ok();
            assert_eq!(
                dropped.stdout.trim(),
                format!("{resource} patched (no change)"),
                "an update of the object drops its status:\n{dropped}"
            );
            assert_eq!(stored["status"]["phase"], "Scheduled", "{stored}");
        }
    }
}

/// A mistyped field (`acls`): kubectl's strict field validation refuses it at the
/// apiserver; with `--validate=warn` the apiserver prunes it and warns, and the webhook
/// never sees it. Only a CRD that keeps unknown fields (TiDB Operator ≤ v1.2's did) lets
/// the webhook see it and warn with a suggestion. Runs alone: it changes the CRD.
pub fn unknown_fields_are_pruned_before_the_webhook(env: &Env) {
    let namespace = env.namespace("schema-unknown");
    let backup = |name: &str| {
        json!({
            "apiVersion": "pingcap.com/v1alpha1",
            "kind": "Backup",
            "metadata": { "name": name },
            "spec": {
                "br": { "cluster": "demo1" },
                "s3": { "provider": "aws", "region": "us-west-1", "bucket": "backups", "prefix": "demo1", "acls": "private" },
            },
        })
        .to_string()
    };
    let get = |name: &str| -> Value {
        parse_one(
            &namespace
                .kubectl(&["get", &format!("backup.pingcap.com/{name}"), "-o", "json"])
                .ok()
                .stdout,
        )
    };

    let strict = namespace
        .kubectl_stdin(&["apply"], &backup("strict"))
        .failed();
    assert!(
        strict.stderr.contains(
            "Backup in version \"v1alpha1\" cannot be handled as a Backup: strict decoding error: unknown field \"spec.s3.acls\""
        ),
        "kubectl's default strict validation: the apiserver refuses\n{strict}"
    );

    let pruned = namespace
        .kubectl_stdin(&["apply", "--validate=warn"], &backup("pruned"))
        .ok();
    assert_eq!(
        pruned.warnings(),
        ["unknown field \"spec.s3.acls\""],
        "the apiserver's warning, none of the webhook's:\n{pruned}"
    );
    let stored = get("pruned");
    assert!(stored["spec"]["s3"]["acls"].is_null(), "pruned: {stored}");
    assert_eq!(
        stored["spec"]["s3"]["acl"], "private",
        "defaulted: {stored}"
    );

    let _kept = KeepUnknownS3Fields::patch(env);
    let expected = offline_check(
        &env.crds()
            .with_defaults(&parse_one(&backup("kept")))
            .to_string(),
    );
    assert!(
        expected
            .warnings
            .iter()
            .any(|w| w.starts_with("spec.s3.acls: unknown field")),
        "the webhook warns about the field it sees: {:?}",
        expected.warnings
    );
    wait_for(
        "the apiserver to keep unknown fields in spec.s3",
        Duration::from_secs(30),
        &mut [],
        || {
            let dry_run = namespace
                .kubectl_stdin(&["apply", "--dry-run=server"], &backup("kept"))
                .ok();
            Ok(dry_run.warnings() == expected.warnings)
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let kept = namespace.kubectl_stdin(&["apply"], &backup("kept")).ok();
    assert_eq!(kept.warnings(), expected.warnings, "{kept}");
    assert_eq!(get("kept")["spec"]["s3"]["acls"], "private");
}

/// `x-kubernetes-preserve-unknown-fields` on the Backup CRD's `spec.s3` while this lives.
struct KeepUnknownS3Fields<'a> {
    env: &'a Env,
}

const S3_SCHEMA: &str = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/s3/x-kubernetes-preserve-unknown-fields";

impl<'a> KeepUnknownS3Fields<'a> {
    fn patch(env: &'a Env) -> Self {
        let patch = json!([{ "op": "add", "path": S3_SCHEMA, "value": true }]).to_string();
        env.kubectl().ok(&[
            "patch",
            "crd/backups.pingcap.com",
            "--type=json",
            "-p",
            &patch,
        ]);
        Self { env }
    }
}

impl Drop for KeepUnknownS3Fields<'_> {
    fn drop(&mut self) {
        let patch = json!([{ "op": "remove", "path": S3_SCHEMA }]).to_string();
        let restored = self.env.kubectl().run(&[
            "patch",
            "crd/backups.pingcap.com",
            "--type=json",
            "-p",
            &patch,
        ]);
        // Until the apiserver prunes again, the tests after this one would see the field.
        let probe = json!({
            "apiVersion": "pingcap.com/v1alpha1",
            "kind": "Backup",
            "metadata": { "name": "probe-pruning", "namespace": "default" },
            "spec": { "br": { "cluster": "probe" }, "s3": { "provider": "aws", "region": "us-west-1", "bucket": "probe", "prefix": "probe", "acls": "private" } },
        })
        .to_string();
        let pruned = || {
            let output = self.env.kubectl().run_with_stdin(
                &["apply", "--dry-run=server", "--validate=warn", "-f", "-"],
                Some(&probe),
            );
            Ok(output.warnings() == ["unknown field \"spec.s3.acls\""])
        };
        let result = if restored.status.success() {
            wait_for(
                "the apiserver to prune spec.s3 again",
                Duration::from_secs(30),
                &mut [],
                pruned,
            )
        } else {
            Err(format!("{restored}"))
        };
        if let Err(e) = result {
            let message = format!("restoring the Backup CRD failed: {e}");
            if std::thread::panicking() {
                eprintln!("e2e: {message}");
            } else {
                panic!("{message}");
            }
        }
    }
}
