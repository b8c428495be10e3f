//! The admission webhook through the real apiserver, driven with kubectl as a user would.

mod denials;
mod examples;
mod failure_policy;
mod pods;
mod ratchet;
mod registration;
mod schema;

use std::process::Command;

use serde_json::Value;

use crate::harness::webhook::BIN;
use crate::harness::{Env, Namespace, Test};

pub use pods::static_iam_config;

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "webhook::registration::configurations_are_the_shipped_ones",
            registration::configurations_are_the_shipped_ones,
        ),
        Test::new(
            "webhook::examples::backup_s3_irsa",
            examples::backup_s3_irsa,
        ),
        Test::new(
            "webhook::examples::backup_s3_kube2iam",
            examples::backup_s3_kube2iam,
        ),
        Test::new(
            "webhook::examples::backup_s3_secret",
            examples::backup_s3_secret,
        ),
        Test::new(
            "webhook::examples::schedule_s3_irsa",
            examples::schedule_s3_irsa,
        ),
        Test::new(
            "webhook::examples::schedule_s3_kube2iam",
            examples::schedule_s3_kube2iam,
        ),
        Test::new(
            "webhook::examples::schedule_s3_secret",
            examples::schedule_s3_secret,
        ),
        Test::new(
            "webhook::examples::server_side_apply_twice_changes_nothing",
            examples::server_side_apply_twice_changes_nothing,
        ),
        Test::new(
            "webhook::denials::malformed_backup_names_every_field_path",
            denials::malformed_backup_names_every_field_path,
        ),
        Test::new(
            "webhook::denials::malformed_schedule_names_every_field_path",
            denials::malformed_schedule_names_every_field_path,
        ),
        Test::new(
            "webhook::denials::schedule_without_template_is_denied_cleanly",
            denials::schedule_without_template_is_denied_cleanly,
        ),
        Test::new(
            "webhook::denials::risky_settings_print_warnings",
            denials::risky_settings_print_warnings,
        ),
        Test::new(
            "webhook::denials::update_of_a_scheduled_backup_spec_is_denied",
            denials::update_of_a_scheduled_backup_spec_is_denied,
        ),
        Test::new(
            "webhook::denials::disabled_namespace_is_not_checked",
            denials::disabled_namespace_is_not_checked,
        ),
        Test::new(
            "webhook::ratchet::old_invalid_backup_status_and_finalizers_update",
            ratchet::old_invalid_backup_status_and_finalizers_update,
        )
        .cluster_wide(),
        Test::new(
            "webhook::ratchet::old_backup_without_storage_updates_after_defaulting",
            ratchet::old_backup_without_storage_updates_after_defaulting,
        )
        .cluster_wide(),
        Test::new(
            "webhook::pods::tikv_and_backup_pods_get_the_kube2iam_role",
            pods::tikv_and_backup_pods_get_the_kube2iam_role,
        ),
        Test::new(
            "webhook::pods::tikv_and_backup_pods_get_the_irsa_service_account",
            pods::tikv_and_backup_pods_get_the_irsa_service_account,
        ),
        Test::new(
            "webhook::pods::pods_outside_the_selectors_are_left_alone",
            pods::pods_outside_the_selectors_are_left_alone,
        ),
        Test::new(
            "webhook::failure_policy::webhook_down_denies_backups_and_admits_pods",
            failure_policy::webhook_down_denies_backups_and_admits_pods,
        )
        .cluster_wide(),
        Test::new(
            "webhook::schema::crd_defaults_arrive_before_the_webhook",
            schema::crd_defaults_arrive_before_the_webhook,
        ),
        Test::new(
            "webhook::schema::status_is_written_where_the_crds_allow",
            schema::status_is_written_where_the_crds_allow,
        ),
        Test::new(
            "webhook::schema::unknown_fields_are_pruned_before_the_webhook",
            schema::unknown_fields_are_pruned_before_the_webhook,
        )
        .cluster_wide(),
    ]
}

/// Writes `status` (a merge patch of `.status`) to `resource` the way its controller
/// does with these CRDs: through the status subresource where they have one (this
/// project's reconciler), else with an update of the whole object (TiDB Operator).
pub fn write_status(env: &Env, namespace: &Namespace<'_>, resource: &str, status: &str) {
    let patch = format!(r#"{{"status":{status}}}"#);
    let mut args = vec!["patch", resource, "--type=merge", "-p", &patch];
    if env.crds().has_status_subresource() {
        args.push("--subresource=status");
    }
    namespace.kubectl(&args).ok();
}

/// What `tidb-backup-webhook check -o json` says about one manifest: the defaulted
/// object and the findings as the webhook words them (`FIELD: message`).
pub struct Offline {
    pub defaulted: Value,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Runs the offline validator on `manifest` (one object, JSON or YAML).
pub fn offline_check(manifest: &str) -> Offline {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["check", "-o", "json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tidb-backup-webhook check");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(manifest.as_bytes())
        .expect("write the manifest to check");
    let output = child.wait_with_output().expect("tidb-backup-webhook check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut defaulted: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check -o json printed no JSON ({e}):\n{stdout}\n{stderr}"));
    if let Some(items) = defaulted.get("items").and_then(Value::as_array) {
        assert_eq!(items.len(), 1, "one object expected:\n{stdout}");
        defaulted = items[0].clone();
    }
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for line in stderr.lines() {
        // "-: KIND/NAME: FIELD: [warning: ]message"
        let Some((_, rest)) = line.split_once(": ") else {
            continue;
        };
        let Some((_, finding)) = rest.split_once(": ") else {
            continue;
        };
        if !rest.contains('/') || line.starts_with("checked ") {
            continue;
        }
        match finding.split_once(": warning: ") {
            Some((field, message)) => warnings.push(format!("{field}: {message}")),
            None => errors.push(finding.to_owned()),
        }
    }
    Offline {
        defaulted,
        errors,
        warnings,
    }
}

/// The one object of a YAML or JSON manifest.
pub fn parse_one(manifest: &str) -> Value {
    let mut documents: Vec<Value> = serde_saphyr::from_multiple(manifest)
        .unwrap_or_else(|e| panic!("the manifest does not parse: {e}\n{manifest}"));
    documents.retain(|d| !d.is_null());
    assert_eq!(documents.len(), 1, "one object expected in:\n{manifest}");
    documents.remove(0)
}

/// `manifest` (one of the guide's objects, in `test1` next to its TiDB cluster) moved
/// to `namespace` with its cluster: `metadata.namespace` and a `br.clusterNamespace` of
/// `test1` become `namespace`; nothing else changes. JSON.
pub fn in_namespace(manifest: &str, namespace: &str) -> String {
    let mut object = parse_one(manifest);
    object["metadata"]["namespace"] = Value::String(namespace.to_owned());
    for pointer in [
        "/spec/br/clusterNamespace",
        "/spec/backupTemplate/br/clusterNamespace",
    ] {
        if let Some(cluster_namespace) = object.pointer_mut(pointer)
            && cluster_namespace == "test1"
        {
            *cluster_namespace = Value::String(namespace.to_owned());
        }
    }
    object.to_string()
}
