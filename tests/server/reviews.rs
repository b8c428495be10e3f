//! Reviews over HTTPS: the same answers the admission layer gives, on the wire.

use base64::Engine as _;
use serde_json::{Value, json};

use super::support::{CREATE_REVIEW, TestServer, post};

#[tokio::test]
async fn seed_backup_round_trip_over_tls() {
    let server = TestServer::start(|_| {}).await;
    let client = server.client();
    let review: Value = serde_json::from_str(CREATE_REVIEW).expect("fixture");

    let (status, answer) = post(&client, &server.url("/mutate"), CREATE_REVIEW).await;
    assert_eq!(status, 200);
    let response = &answer["response"];
    assert_eq!(response["uid"], review["request"]["uid"]);
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    // The patch is a base64 string on the wire, as the API defines []byte.
    let encoded = response["patch"].as_str().expect("patch is a string");
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("JSON Patch");
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

    // Applying the patch, then re-submitting, gives no patch; the validator admits it.
    let mut patched = review.clone();
    let ops: json_patch::Patch = serde_json::from_value(patch).expect("ops");
    json_patch::patch(&mut patched["request"]["object"], &ops).expect("applies");
    assert_eq!(
        patched["request"]["object"]["spec"]["s3"]["storageClass"],
        "STANDARD_IA"
    );
    let body = serde_json::to_vec(&patched).expect("encode");
    let (status, again) = post(&client, &server.url("/mutate"), body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["response"],
        json!({"uid": review["request"]["uid"], "allowed": true})
    );
    let (_, validated) = post(&client, &server.url("/validate"), body).await;
    assert_eq!(
        validated["response"],
        json!({"uid": review["request"]["uid"], "allowed": true})
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn invalid_backup_is_denied_with_every_field_path_and_warnings() {
    let server = TestServer::start(|_| {}).await;
    let mut review: Value = serde_json::from_str(CREATE_REVIEW).expect("fixture");
    let spec = &mut review["request"]["object"]["spec"];
    spec["s3"]["acl"] = json!("Private");
    spec["s3"]["endpoint"] = json!("minio:9000");
    spec["tikvGCLifeTime"] = json!("3d");
    spec["br"]["options"] = json!(["--storage=s3://elsewhere/x", "--pd=elsewhere:2379"]);
    spec["s3"]["storageClass"] = json!("GLACIER");
    let (status, answer) = post(
        &server.client(),
        &server.url("/validate"),
        serde_json::to_vec(&review).expect("json"),
    )
    .await;
    assert_eq!(status, 200, "a denial is still a 200 AdmissionReview");
    let response = &answer["response"];
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 422);
    let fields: Vec<&str> = response["status"]["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.s3.endpoint",
            "spec.s3.acl",
            "spec.br.options[0]",
            "spec.tikvGCLifeTime"
        ]
    );
    let message = response["status"]["message"].as_str().expect("message");
    assert!(
        message.contains("spec.s3.endpoint: host not found in endpoint \"minio:9000\""),
        "{message}"
    );
    assert_eq!(
        response["warnings"],
        json!([
            "spec.s3.storageClass: GLACIER: objects must be restored from the archive before BR can read them",
            "spec.br.options[1]: --pd overrides the one generated from the spec's cluster (and its TLS settings); make sure it points at the same TiDB cluster"
        ])
    );
}

#[tokio::test]
async fn v1beta1_round_trip() {
    let server = TestServer::start(|_| {}).await;
    let mut review: Value = serde_json::from_str(CREATE_REVIEW).expect("fixture");
    review["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let (status, answer) = post(
        &server.client(),
        &server.url("/mutate"),
        serde_json::to_vec(&review).expect("json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], review["request"]["uid"]);
    assert!(answer["response"]["patch"].is_string());
}
