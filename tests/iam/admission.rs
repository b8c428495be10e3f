//! IAM through the admission handler: pods, Backups and BackupSchedules.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};
use tidb_backup_webhook::admission::{Admission, Endpoint};
use tidb_backup_webhook::iam::{IamResolver, ObjectList, StaticConfig};

use super::{OTHER_ROLE, ROLE, backup_with_role, static_resolver, tikv_pod};

pub fn review(kind: Value, operation: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "11111111-2222-3333-4444-555555555555",
            "kind": kind, "namespace": "test1", "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": object
        }
    })
}

pub fn pod_review(pod: Value) -> Value {
    review(
        json!({"group": "", "version": "v1", "kind": "Pod"}),
        "CREATE",
        pod,
    )
}

fn answer(admission: &Admission, endpoint: Endpoint, review: &Value) -> Value {
    let body = serde_json::to_vec(review).expect("json");
    let outcome = admission.handle(endpoint, &body).expect("answered");
    serde_json::from_slice(&outcome.body).expect("json")
}

fn patch_of(answer: &Value) -> Option<json_patch::Patch> {
    let encoded = answer["response"]["patch"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    Some(serde_json::from_slice(&bytes).expect("patch"))
}

fn backup_review(object: Value) -> Value {
    review(
        json!({"group": "pingcap.com", "version": "v1alpha1", "kind": "Backup"}),
        "CREATE",
        object,
    )
}

fn seed_backup(file: &str) -> Value {
    serde_saphyr::from_str(file).expect("yaml")
}

#[test]
fn pod_reviews_are_mutated_on_create_only() {
    let admission =
        Admission::with_iam(Arc::new(static_resolver(&[&format!("test1/demo1={ROLE}")])));
    let pod = tikv_pod(json!({}), Some("default"));
    let answer_create = answer(&admission, Endpoint::Mutate, &pod_review(pod.clone()));
    let patch = patch_of(&answer_create).expect("patch");
    assert_eq!(
        serde_json::to_value(&patch).expect("json"),
        json!([{"op": "add", "path": "/metadata/annotations", "value": {"iam.amazonaws.com/role": ROLE}}])
    );
    assert_eq!(
        answer_create["response"]["auditAnnotations"],
        json!({"iam-role-injected": format!("{ROLE} (from static configuration for TiDB cluster test1/demo1)")})
    );
    for operation in ["UPDATE", "DELETE"] {
        let mut other = pod_review(pod.clone());
        other["request"]["operation"] = json!(operation);
        other["request"]["oldObject"] = pod.clone();
        let answer = answer(&admission, Endpoint::Mutate, &other);
        assert_eq!(
            answer["response"],
            json!({"uid": "11111111-2222-3333-4444-555555555555", "allowed": true})
        );
    }
    // The validating endpoint never touches pods.
    let validated = answer(&admission, Endpoint::Validate, &pod_review(pod));
    assert_eq!(
        validated["response"],
        json!({"uid": "11111111-2222-3333-4444-555555555555", "allowed": true})
    );
}

#[test]
fn a_backup_of_a_configured_cluster_gets_the_role_annotation() {
    let admission =
        Admission::with_iam(Arc::new(static_resolver(&[&format!("test1/demo1={ROLE}")])));
    // The guide's kube2iam Backup, minus its annotation and explicit sendCredToTikv.
    let mut object = seed_backup(include_str!(
        "../../manifests/examples/backup-s3-kube2iam.yaml"
    ));
    object["metadata"]
        .as_object_mut()
        .expect("meta")
        .remove("annotations");
    object["spec"]["br"]
        .as_object_mut()
        .expect("br")
        .remove("sendCredToTikv");
    let answer = answer(&admission, Endpoint::Mutate, &backup_review(object.clone()));
    let response = &answer["response"];
    assert_eq!(response["allowed"], true);
    let patch = patch_of(&answer).expect("patch");
    let patched = {
        let mut o = object.clone();
        json_patch::patch(&mut o, &patch).expect("applies");
        o
    };
    assert_eq!(
        patched["metadata"]["annotations"],
        json!({"iam.amazonaws.com/role": ROLE})
    );
    // The rule core's defaulting follows from the role: TiKV uses its own role.
    assert_eq!(patched["spec"]["br"]["sendCredToTikv"], false);
    assert_eq!(
        response["auditAnnotations"]["iam-role-injected"],
        format!("{ROLE} (from static configuration for TiDB cluster test1/demo1)")
    );
    assert_eq!(
        response["warnings"],
        json!([format!(
            "metadata.annotations[iam.amazonaws.com/role]: set to {ROLE}, configured for TiDB cluster test1/demo1"
        )])
    );
    // Re-submitting the patched object changes nothing.
    let again = super::admission::answer(&admission, Endpoint::Mutate, &backup_review(patched));
    assert!(again["response"].get("patch").is_none(), "{again}");
}

#[test]
fn backups_with_their_own_identity_are_not_touched() {
    let admission =
        Admission::with_iam(Arc::new(static_resolver(&[&format!("test1/demo1={ROLE}")])));
    for file in [
        include_str!("../../manifests/examples/backup-s3-secret.yaml"),
        include_str!("../../manifests/examples/backup-s3-irsa.yaml"),
        include_str!("../../manifests/examples/backup-s3-kube2iam.yaml"),
    ] {
        let answer = answer(
            &admission,
            Endpoint::Mutate,
            &backup_review(seed_backup(file)),
        );
        let patch = serde_json::to_value(patch_of(&answer).expect("defaults")).expect("json");
        assert!(
            patch
                .as_array()
                .expect("ops")
                .iter()
                .all(|op| op["path"].as_str().is_some_and(|p| p.starts_with("/spec/"))),
            "{patch}"
        );
        assert!(
            answer["response"]["auditAnnotations"]
                .get("iam-role-injected")
                .is_none()
        );
    }
}

#[test]
fn a_schedule_gets_the_annotation_its_backups_inherit() {
    let admission =
        Admission::with_iam(Arc::new(static_resolver(&[&format!("test1/demo1={ROLE}")])));
    let mut object: Value = serde_saphyr::from_str(include_str!(
        "../../manifests/examples/schedule-s3-kube2iam.yaml"
    ))
    .expect("yaml");
    object["metadata"]["annotations"] = json!({"team": "db"});
    object["spec"]["backupTemplate"]["br"]
        .as_object_mut()
        .expect("br")
        .remove("sendCredToTikv");
    let mut review = backup_review(object.clone());
    review["request"]["kind"]["kind"] = json!("BackupSchedule");
    let answer = answer(&admission, Endpoint::Mutate, &review);
    let patch = patch_of(&answer).expect("patch");
    let ops = serde_json::to_value(&patch).expect("json");
    assert_eq!(
        ops[0],
        json!({"op": "add", "path": "/metadata/annotations/iam.amazonaws.com~1role", "value": ROLE})
    );
    let mut patched = object;
    json_patch::patch(&mut patched, &patch).expect("applies");
    assert_eq!(
        patched["metadata"]["annotations"],
        json!({"team": "db", "iam.amazonaws.com/role": ROLE})
    );
    assert_eq!(
        patched["spec"]["backupTemplate"]["br"]["sendCredToTikv"],
        false
    );
}

#[test]
fn the_validator_warns_when_a_new_backup_declares_a_conflicting_role() {
    let list = ObjectList {
        backups: vec![backup_with_role("a", ROLE)],
        schedules: vec![],
    };
    let admission = Admission::with_iam(Arc::new(IamResolver::new(
        StaticConfig::default(),
        Some(Box::new(list)),
    )));
    let conflicting: Value = serde_json::to_value(backup_with_role("b", OTHER_ROLE)).expect("json");
    let answer = answer(&admission, Endpoint::Validate, &backup_review(conflicting));
    assert_eq!(answer["response"]["allowed"], true);
    let warnings: Vec<&str> = answer["response"]["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings.contains(&format!(
            "metadata.annotations[iam.amazonaws.com/role]: role {OTHER_ROLE} conflicts with {ROLE} declared by Backup test1/a for TiDB cluster test1/demo1: with two, the webhook injects neither into its pods"
        ).as_str()),
        "{warnings:#?}"
    );
    // The same role as before: no warning.
    let agreeing: Value = serde_json::to_value(backup_with_role("c", ROLE)).expect("json");
    let answer = super::admission::answer(&admission, Endpoint::Validate, &backup_review(agreeing));
    assert!(
        !answer["response"]["warnings"]
            .to_string()
            .contains("conflicts")
    );

    // Against static configuration.
    let admission =
        Admission::with_iam(Arc::new(static_resolver(&[&format!("test1/demo1={ROLE}")])));
    let other: Value = serde_json::to_value(backup_with_role("d", OTHER_ROLE)).expect("json");
    let answer = super::admission::answer(&admission, Endpoint::Validate, &backup_review(other));
    assert!(
        answer["response"]["warnings"].to_string().contains(&format!(
            "role {OTHER_ROLE} differs from the one configured for TiDB cluster test1/demo1 ({ROLE}); its TiKV pods get the configured one"
        )),
        "{answer}"
    );
}
