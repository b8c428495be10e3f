//! IAM injection over HTTPS with static configuration only (`--no-kube`, `--iam-role`).

use base64::Engine as _;
use serde_json::{Value, json};
use tidb_backup_webhook::iam::StaticConfig;

use super::support::{TestServer, admin_get, post};

const ROLE: &str = "arn:aws:iam::123456789012:role/user";

fn pod_review(labels: Value, annotations: Option<Value>) -> Value {
    let mut metadata = json!({"generateName": "demo1-tikv-", "labels": labels});
    if let Some(annotations) = annotations {
        metadata["annotations"] = annotations;
    }
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "test1", "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:statefulset-controller"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                       "spec": {"serviceAccountName": "default", "containers": [{"name": "tikv", "image": "pingcap/tikv:v5.0.6"}]}}
        }
    })
}

fn tikv_labels() -> Value {
    json!({"app.kubernetes.io/component": "tikv", "app.kubernetes.io/instance": "demo1", "app.kubernetes.io/managed-by": "tidb-operator"})
}

#[tokio::test]
async fn tikv_pods_get_the_configured_role_over_https() {
    let iam = StaticConfig::load(&[format!("test1/demo1={ROLE}")], None, None).expect("config");
    let server = TestServer::start(move |c| c.iam = iam).await;
    let client = server.client();
    let body = |review: &Value| serde_json::to_vec(review).expect("json");

    let (status, answer) = post(
        &client,
        &server.url("/mutate"),
        body(&pod_review(tikv_labels(), None)),
    )
    .await;
    assert_eq!(status, 200);
    let patch = answer["response"]["patch"].as_str().expect("a patch");
    let ops: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(patch)
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(
        ops,
        json!([{"op": "add", "path": "/metadata/annotations", "value": {"iam.amazonaws.com/role": ROLE}}])
    );

    // Already annotated (by us or by the user): no patch.
    for annotations in [
        json!({"iam.amazonaws.com/role": ROLE}),
        json!({"iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/mine"}),
    ] {
        let (_, answer) = post(
            &client,
            &server.url("/mutate"),
            body(&pod_review(tikv_labels(), Some(annotations))),
        )
        .await;
        assert_eq!(
            answer["response"],
            json!({"uid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "allowed": true})
        );
    }
    // Unrelated pod: untouched.
    let (_, answer) = post(
        &client,
        &server.url("/mutate"),
        body(&pod_review(json!({"app": "web"}), None)),
    )
    .await;
    assert_eq!(
        answer["response"],
        json!({"uid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "allowed": true})
    );

    let (_, metrics) = admin_get(server.admin, "/metrics").await.expect("metrics");
    assert!(
        metrics.contains(
            "tidb_backup_webhook_iam_injections_total{kind=\"Pod\",identity=\"role\"} 1\n"
        ),
        "{metrics}"
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn invalid_iam_configuration_stops_the_server_at_start_up() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidb-backup-webhook"))
        .args([
            "serve",
            "--no-kube",
            "--self-signed",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(["--iam-role", "test1/demo1=not-an-arn"])
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"invalid configuration error=--iam-role "test1/demo1=not-an-arn": "not-an-arn" is a bare role name: give the full ARN, or --base-role-arn (as kube2iam's) to complete it"#),
        "{stderr}"
    );
}
