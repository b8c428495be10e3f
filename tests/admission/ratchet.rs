//! No internal errors for user input, and ratcheting that holds after the webhook's own
//! defaults: the reproducers of adversarial runs, and every invalid object of the corpus
//! as the old object of metadata-, status- and finalizer-only UPDATEs.

use std::path::Path;

use serde_json::{Value, json};
use tidb_backup_webhook::admission::Endpoint;
use tidb_backup_webhook::api::decode::parse_documents;

use super::{answer, decoded_patch};

fn repro(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/repro")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

fn response(endpoint: Endpoint, review: &Value) -> Value {
    answer(endpoint, review)["response"].clone()
}

/// /mutate answered 500 ("defaulting patch does not apply … /spec/backupTemplate/…") for a
/// BackupSchedule without a template; now it admits it untouched and /validate says why.
#[test]
fn a_schedule_without_a_template_is_no_internal_error() {
    let review = repro("mutate-500-schedule-without-backupTemplate.review.json");
    let mutated = response(Endpoint::Mutate, &review);
    assert_eq!(mutated["allowed"], true, "{mutated}");
    assert_eq!(mutated["patch"], Value::Null, "nothing can be placed");
    let validated = response(Endpoint::Validate, &review);
    assert_eq!(validated["status"]["code"], 422, "{validated}");
    let fields: Vec<&str> = validated["status"]["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["spec.backupTemplate", "spec.backupTemplate.br.cluster"]
    );

    // `spec: {}` likewise, and no spec at all.
    for spec in [json!({}), Value::Null] {
        let mut review = review.clone();
        review["request"]["object"]["spec"] = spec;
        let mutated = response(Endpoint::Mutate, &review);
        assert_eq!(mutated["allowed"], true, "{mutated}");
        assert_ne!(mutated["status"]["code"], 500);
    }
}

/// A bad namespace answered 500 ("defaulting produced an invalid field" at
/// spec.br.clusterNamespace); now it is a 422 at metadata.namespace.
#[test]
fn a_bad_namespace_is_reported_at_its_own_path() {
    let review = repro("mutate-500-bad-metadata-namespace.review.json");
    let mutated = response(Endpoint::Mutate, &review);
    assert_eq!(mutated["allowed"], true, "{mutated}");
    let patch = decoded_patch(&json!({ "response": mutated })).expect("defaults");
    assert!(
        !patch.to_string().contains("clusterNamespace"),
        "a bad namespace is not copied: {patch}"
    );
    let validated = response(Endpoint::Validate, &review);
    let causes = validated["status"]["details"]["causes"]
        .as_array()
        .expect("causes")
        .clone();
    assert_eq!(
        causes,
        [json!({
            "field": "metadata.namespace",
            "message": "invalid name \"Bad_NS\": must be a lowercase RFC 1123 label (lower case letters, digits and '-', starting and ending with a letter or digit)",
            "reason": "FieldValueInvalid"
        })]
    );
}

/// The apiserver's sequence for a label change of an existing object: /mutate (which adds
/// nothing to an UPDATE that leaves the spec alone), then /validate of the object as
/// patched. Neither may refuse it.
#[test]
fn metadata_only_updates_of_old_objects_pass_mutate_then_validate() {
    for (mutate_review, validate_review) in [
        (
            "update-blocked-after-mutate-azblob.mutate-review.json",
            "update-blocked-after-mutate-azblob.validate-review.json",
        ),
        (
            "control-badcluster.mutate-review.json",
            "control-badcluster.validate-review.json",
        ),
    ] {
        let mutated = response(Endpoint::Mutate, &repro(mutate_review));
        assert_eq!(mutated["allowed"], true, "{mutate_review}: {mutated}");
        assert_eq!(
            mutated["patch"],
            Value::Null,
            "{mutate_review}: spec untouched"
        );
        let validated = response(Endpoint::Validate, &repro(validate_review));
        assert_eq!(validated["allowed"], true, "{validate_review}: {validated}");
    }
}

fn update_review(old: &Value, new: &Value) -> Value {
    let kind = old["kind"].as_str().expect("kind");
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "ratchet",
            "kind": {"group": "pingcap.com", "version": "v1alpha1", "kind": kind},
            "resource": {"group": "pingcap.com", "version": "v1alpha1", "resource": "backups"},
            "operation": "UPDATE",
            "namespace": old["metadata"]["namespace"].as_str().unwrap_or("default"),
            "name": old["metadata"]["name"],
            "userInfo": {"username": "tidb-operator"},
            "object": new,
            "oldObject": old,
        }
    })
}

/// Every invalid object of the corpus, stored before the webhook was installed, gets the
/// UPDATEs TiDB Operator and `kubectl delete` send: a finalizer added and removed, a label,
/// a status. /mutate never answers 500 and adds nothing; /validate allows them all, also
/// after a webhook of an earlier version defaulted the spec on the way in.
#[test]
fn no_metadata_status_or_finalizer_update_of_any_old_object_is_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/rejected");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("corpus") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("fixture");
        for old in parse_documents(&text).expect("parses") {
            if old["apiVersion"] != "pingcap.com/v1alpha1" {
                continue;
            }
            let mut edits: Vec<Value> = Vec::new();
            let mut with_finalizer = old.clone();
            with_finalizer["metadata"]["finalizers"] =
                json!(["tidb.pingcap.com/backup-protection"]);
            edits.push(with_finalizer);
            let mut labelled = old.clone();
            labelled["metadata"]["labels"] = json!({"team": "db"});
            edits.push(labelled);
            let mut with_status = old.clone();
            with_status["status"] =
                json!({"phase": "Failed", "conditions": [{"type": "Failed", "status": "True"}]});
            edits.push(with_status);
            for new in edits {
                let review = update_review(&old, &new);
                let mutated = response(Endpoint::Mutate, &review);
                assert_eq!(mutated["allowed"], true, "{}: {mutated}", path.display());
                assert_eq!(mutated["patch"], Value::Null, "{}", path.display());
                let validated = response(Endpoint::Validate, &review);
                assert_eq!(
                    validated["allowed"],
                    true,
                    "{}: {validated}",
                    path.display()
                );
                // The finalizer removal, after some webhook defaulted the stored spec.
                let mut defaulted = new.clone();
                let created = json!({
                    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "request": {
                        "uid": "create", "operation": "CREATE",
                        "kind": review["request"]["kind"], "resource": review["request"]["resource"],
                        "namespace": review["request"]["namespace"], "object": old,
                    }
                });
                let create_answer = answer(Endpoint::Mutate, &created);
                if let Some(patch) = decoded_patch(&create_answer) {
                    let patch: json_patch::Patch =
                        serde_json::from_value(patch).expect("a JSON Patch");
                    json_patch::patch(&mut defaulted, &patch).expect("applies");
                }
                let mut removed = defaulted.clone();
                removed["metadata"]
                    .as_object_mut()
                    .expect("metadata")
                    .remove("finalizers");
                let validated = response(Endpoint::Validate, &update_review(&defaulted, &removed));
                assert_eq!(
                    validated["allowed"],
                    true,
                    "{}: {validated}",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 150, "{checked} updates checked");
}

/// An UPDATE that does change the spec of an invalid object is still validated: only the
/// errors of untouched fields are tolerated, also when the error is reported at `spec`
/// and the webhook's defaults changed other fields of it.
#[test]
fn a_spec_edit_is_still_checked_and_untouched_errors_are_tolerated() {
    let old = json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": "old", "namespace": "test1"},
        "spec": {"br": {"cluster": "demo1"}}
    });
    // The same object after /mutate of a spec edit (cleanPolicy) plus the defaults.
    let mut new = old.clone();
    new["spec"]["cleanPolicy"] = json!("Delete");
    new["spec"]["backupMode"] = json!("snapshot");
    new["spec"]["backupType"] = json!("full");
    new["spec"]["serviceAccount"] = json!("tidb-backup-manager");
    new["spec"]["br"]["clusterNamespace"] = json!("test1");
    let validated = response(Endpoint::Validate, &update_review(&old, &new));
    // "no storage provider" is reported at spec, which the edit changed.
    assert_eq!(validated["allowed"], false, "{validated}");
    assert_eq!(validated["status"]["details"]["causes"][0]["field"], "spec");

    // Defaults alone do not count as a change.
    let mut defaults_only = new.clone();
    defaults_only["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("cleanPolicy");
    defaults_only["spec"]["cleanPolicy"] = json!("Retain");
    let validated = response(Endpoint::Validate, &update_review(&old, &defaults_only));
    assert_eq!(validated["allowed"], true, "{validated}");
    assert!(
        validated["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("tolerated because the field is unchanged")),
        "{validated}"
    );
}
