//! Admission decisions without a network: reviews in, answers out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod fuzz;
mod fuzz_corpus;
mod ratchet;

use base64::Engine as _;
use serde_json::{Value, json};
use tidb_backup_webhook::admission::{Admission, Endpoint};
use tidb_backup_webhook::api::Backup;
use tidb_backup_webhook::rules::default_backup;

pub const CREATE_REVIEW: &str = include_str!("../../manifests/examples/review-backup-create.json");
pub const UPDATE_REVIEW: &str = include_str!("../../benches/fixtures/review-backup-update.json");

/// Answers `review` and returns the decoded AdmissionReview.
pub fn answer(endpoint: Endpoint, review: &Value) -> Value {
    let body = serde_json::to_vec(review).expect("encode");
    let outcome = Admission::new()
        .handle(endpoint, &body)
        .expect("a valid review");
    serde_json::from_slice(&outcome.body).expect("answer is JSON")
}

fn create_review() -> Value {
    serde_json::from_str(CREATE_REVIEW).expect("fixture")
}

pub fn decoded_patch(response: &Value) -> Option<Value> {
    let patch = response["response"]["patch"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .expect("patch is standard base64");
    Some(serde_json::from_slice(&bytes).expect("patch is JSON"))
}

fn with_object(mut review: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut review["request"]["object"]);
    review
}

#[test]
fn seed_backup_is_defaulted_with_a_verifiable_patch() {
    let review = create_review();
    let answer = answer(Endpoint::Mutate, &review);
    let response = &answer["response"];
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    let patch = decoded_patch(&answer).expect("a patch");
    assert_eq!(
        patch,
        json!([
            {"op": "add", "path": "/spec/backupMode", "value": "snapshot"},
            {"op": "add", "path": "/spec/cleanPolicy", "value": "Retain"},
            {"op": "add", "path": "/spec/s3/acl", "value": "private"},
            {"op": "add", "path": "/spec/s3/storageClass", "value": "STANDARD_IA"},
            {"op": "add", "path": "/spec/serviceAccount", "value": "tidb-backup-manager"},
            {"op": "add", "path": "/spec/tikvGCLifeTime", "value": "72h"},
        ])
    );
    assert_eq!(
        response["auditAnnotations"],
        json!({"defaulted-fields": "spec.backupMode,spec.cleanPolicy,spec.serviceAccount,spec.tikvGCLifeTime,spec.s3.acl,spec.s3.storageClass"})
    );
    // The mutating webhook leaves warnings to the validating one (no duplicates).
    assert!(response.get("warnings").is_none());

    // Applying the patch to the object as sent gives exactly the defaulted object.
    let mut patched = review["request"]["object"].clone();
    let ops: json_patch::Patch = serde_json::from_value(patch).expect("RFC 6902");
    json_patch::patch(&mut patched, &ops).expect("applies");
    let mut expected: Backup =
        serde_json::from_value(review["request"]["object"].clone()).expect("Backup");
    default_backup(&mut expected);
    let patched_backup: Backup = serde_json::from_value(patched.clone()).expect("Backup");
    assert_eq!(patched_backup, expected);
    // Everything else (managedFields, annotations, labels) is untouched.
    assert_eq!(patched["metadata"], review["request"]["object"]["metadata"]);

    // Re-submitting the patched object yields no patch (reinvocation is a no-op).
    let again = answer_with_object(Endpoint::Mutate, &review, patched);
    assert_eq!(again["response"]["allowed"], true);
    assert!(again["response"].get("patch").is_none(), "{again}");
    assert!(again["response"].get("auditAnnotations").is_none());
}

fn answer_with_object(endpoint: Endpoint, review: &Value, object: Value) -> Value {
    let mut review = review.clone();
    review["request"]["object"] = object;
    answer(endpoint, &review)
}

#[test]
fn invalid_backup_is_denied_with_every_field_path() {
    let review = with_object(create_review(), |object| {
        object["spec"]["s3"]["acl"] = json!("Private");
        object["spec"]["tikvGCLifeTime"] = json!("3d");
        object["spec"]["tableFilter"] = json!(["db-1.tbl"]);
        object["spec"]["cleanPolicy"] = json!("delete");
        object["spec"]["s3"]["region"] = json!("");
    });
    let answer = answer(Endpoint::Validate, &review);
    let response = &answer["response"];
    assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_eq!(response["allowed"], false);
    assert!(response.get("patch").is_none());
    let status = &response["status"];
    assert_eq!(status["code"], 422);
    assert_eq!(status["reason"], "Invalid");
    let message = status["message"].as_str().expect("message");
    assert!(message.starts_with(r#"Backup.pingcap.com "demo1-backup-s3" is invalid: [spec.cleanPolicy: unsupported value "delete""#), "{message}");
    let fields: Vec<&str> = status["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|c| c["field"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.cleanPolicy",
            "spec.s3.acl",
            "spec.tableFilter[0]",
            "spec.tikvGCLifeTime"
        ]
    );
    for field in &fields {
        assert!(
            message.contains(&format!("{field}: ")),
            "{field} missing from {message}"
        );
    }
    assert_eq!(
        response["warnings"],
        json!([
            "spec.s3.region: not set: set the bucket's region (e.g. us-west-1), or BR may not find the bucket"
        ])
    );
}

#[test]
fn warnings_reach_the_user_when_allowed() {
    let review = with_object(create_review(), |object| {
        object["spec"]["s3"]["acl"] = json!("public-read");
        object["spec"]["storageType"] = json!("s3");
    });
    let answer = answer(Endpoint::Validate, &review);
    assert_eq!(answer["response"]["allowed"], true);
    assert_eq!(
        answer["response"]["warnings"],
        json!([
            "spec.s3.acl: \"public-read\" makes backup data readable by others; use \"private\" unless that is intended",
            "spec.storageType: unknown field: TiDB Operator's CRD drops it (or its controllers ignore it)",
        ])
    );
}

#[test]
fn v1beta1_is_answered_in_v1beta1() {
    let mut review = create_review();
    review["apiVersion"] = json!("admission.k8s.io/v1beta1");
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        let answer = answer(endpoint, &review);
        assert_eq!(answer["apiVersion"], "admission.k8s.io/v1beta1");
        assert_eq!(
            answer["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
        assert_eq!(answer["response"]["allowed"], true);
    }
    assert!(decoded_patch(&answer(Endpoint::Mutate, &review)).is_some());
}

#[test]
fn dry_run_gets_identical_answers() {
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        let mut review = with_object(create_review(), |o| {
            o["spec"]["s3"]["acl"] = json!("public-read")
        });
        let wet = answer(endpoint, &review);
        review["request"]["dryRun"] = json!(true);
        assert_eq!(answer(endpoint, &review), wet);
    }
}

#[test]
fn delete_connect_and_other_kinds_pass_untouched() {
    for operation in ["DELETE", "CONNECT"] {
        let mut review = with_object(create_review(), |o| {
            o["spec"]["s3"]["acl"] = json!("Private")
        });
        review["request"]["operation"] = json!(operation);
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            let response = &answer(endpoint, &review)["response"];
            assert_eq!(
                response,
                &json!({"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": true})
            );
        }
    }
    let mut review = create_review();
    review["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    review["request"]["object"] =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        let response = &answer(endpoint, &review)["response"];
        assert_eq!(
            response,
            &json!({"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": true})
        );
    }
}

#[test]
fn missing_objects_are_bad_requests() {
    let mut review = create_review();
    review["request"]["object"] = Value::Null;
    let response = &answer(Endpoint::Validate, &review)["response"];
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 400);
    assert_eq!(
        response["status"]["message"],
        "request.object is required for this operation"
    );

    let mut review = create_review();
    review["request"]["operation"] = json!("UPDATE");
    let response = &answer(Endpoint::Mutate, &review)["response"];
    assert_eq!(response["status"]["code"], 400);
    assert_eq!(
        response["status"]["message"],
        "request.oldObject is required for this operation"
    );

    let review = with_object(create_review(), |o| {
        o["spec"]["from"]["port"] = json!("4000")
    });
    let response = &answer(Endpoint::Validate, &review)["response"];
    assert_eq!(response["status"]["code"], 400);
    assert_eq!(
        response["status"]["message"],
        "request.object is not a valid Backup: spec.from.port: invalid type: string \"4000\", expected i32"
    );
}

#[test]
fn scheduled_backups_are_frozen_on_update() {
    let review: Value = serde_json::from_str(UPDATE_REVIEW).expect("fixture");
    let mut review = review;
    for key in ["object", "oldObject"] {
        review["request"][key]["status"] = json!({"phase": "Running"});
    }
    // Old objects without defaults are not patched once scheduled.
    let mutate = answer(Endpoint::Mutate, &review);
    assert_eq!(mutate["response"]["allowed"], true);
    assert!(mutate["response"].get("patch").is_none());
    // A spec change is refused; the unchanged (ratcheted) rest passes.
    review["request"]["object"]["spec"]["br"]["concurrency"] = json!(16);
    let validate = answer(Endpoint::Validate, &review);
    assert_eq!(validate["response"]["allowed"], false);
    assert_eq!(
        validate["response"]["status"]["details"]["causes"],
        json!([{"field": "spec.br.concurrency", "message": "immutable once the backup has been scheduled (status Running); create a new Backup instead", "reason": "FieldValueInvalid"}])
    );
}

#[test]
fn schedules_are_defaulted_inside_the_template() {
    let schedule: Value = serde_saphyr::from_str(include_str!(
        "../../manifests/examples/schedule-s3-kube2iam.yaml"
    ))
    .expect("yaml");
    let mut review = create_review();
    review["request"]["kind"]["kind"] = json!("BackupSchedule");
    review["request"]["object"] = schedule;
    let patch = decoded_patch(&answer(Endpoint::Mutate, &review)).expect("patch");
    let paths: Vec<&str> = patch
        .as_array()
        .expect("ops")
        .iter()
        .map(|op| op["path"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        paths,
        [
            "/spec/backupTemplate/backupMode",
            "/spec/backupTemplate/cleanPolicy",
            "/spec/backupTemplate/s3/acl",
            "/spec/backupTemplate/s3/storageClass",
            "/spec/backupTemplate/serviceAccount",
            "/spec/backupTemplate/tikvGCLifeTime",
        ]
    );
    let validate = answer(Endpoint::Validate, &review);
    assert_eq!(validate["response"]["allowed"], true);
}

#[test]
fn patch_applies_to_objects_with_escaped_keys_and_explicit_empty_values() {
    let review = with_object(create_review(), |o| {
        o["metadata"]["annotations"]["iam.amazonaws.com/role"] =
            json!("arn:aws:iam::123456789012:role/user");
        o["metadata"]["annotations"]["odd~key/with-both"] = json!("x");
        o["spec"]["s3"]["secretName"] = json!("");
        o["spec"]["s3"]["acl"] = json!("");
        o["spec"]["from"]["port"] = Value::Null;
    });
    let answer = answer(Endpoint::Mutate, &review);
    let patch = decoded_patch(&answer).expect("patch");
    let mut patched = review["request"]["object"].clone();
    let ops: json_patch::Patch = serde_json::from_value(patch).expect("ops");
    json_patch::patch(&mut patched, &ops).expect("applies");
    assert_eq!(patched["spec"]["s3"]["acl"], "private");
    assert_eq!(patched["spec"]["from"]["port"], 4000);
    // IAM via kube2iam without keys: TiKV must not expect credentials from BR.
    assert_eq!(patched["spec"]["br"]["sendCredToTikv"], false);
    assert_eq!(patched["metadata"]["annotations"]["odd~key/with-both"], "x");
}

#[test]
fn reviews_that_are_not_answerable_are_errors() {
    let admission = Admission::new();
    let cases: &[(&str, &str)] = &[
        (
            "",
            "body is not a valid AdmissionReview: EOF while parsing a value at line 1 column 0",
        ),
        (
            "{}",
            r#"unsupported apiVersion "": expected admission.k8s.io/v1 or admission.k8s.io/v1beta1"#,
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"Review"}"#,
            r#"unsupported kind "Review": expected AdmissionReview"#,
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
            "AdmissionReview has no request",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"","kind":{},"operation":"CREATE"}}"#,
            "request.uid must not be empty",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{},"operation":"CREATE"}}"#,
            "body is not a valid AdmissionReview: missing field `uid` at line 1 column 103",
        ),
    ];
    for (body, message) in cases {
        let err = admission
            .handle(Endpoint::Validate, body.as_bytes())
            .expect_err(body);
        assert_eq!(err.to_string(), *message);
    }
}
