//! The Job: TiDB Operator's names, labels, owner, annotations and pod settings
//! (reference §5.2–5.3), with BR run directly and a hardened pod.

use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};
use tidb_backup_webhook::reconcile::defaulted;
use tidb_backup_webhook::reconcile::job::{
    ClusterInfo, DEFAULT_BR_IMAGE, JobContext, backup_job, br_image, image_tag, job_env,
};

use super::{SEED_BACKUP_KUBE2IAM, SEED_BACKUP_SECRET, backup, strings};

const GOLDEN_KUBE2IAM: &str = include_str!("golden/job-kube2iam-tls.yaml");

fn job_for(yaml: &str, cluster: Option<&ClusterInfo>) -> Job {
    let mut b = defaulted(&backup(yaml));
    b.metadata.uid = Some("6f1c0d52-3a43-4a8e-9d5e-6c1a0f0e2b11".into());
    backup_job(
        &b,
        &JobContext {
            cluster,
            default_br_image: DEFAULT_BR_IMAGE,
            tz: None,
        },
    )
    .expect("job")
}

/// The kube2iam Backup of the user guide, with its `kubectl apply` annotation, against a
/// TLS TidbCluster running TiKV v8.5.0: the whole Job, field by field.
#[test]
fn golden_job_for_the_kube2iam_example_with_cluster_tls() {
    let yaml = SEED_BACKUP_KUBE2IAM.replace(
        "    iam.amazonaws.com/role: arn:aws:iam::123456789012:role/user\n",
        "    iam.amazonaws.com/role: arn:aws:iam::123456789012:role/user\n    kubectl.kubernetes.io/last-applied-configuration: '{\"huge\": true}'\n",
    );
    let cluster = ClusterInfo {
        tikv_image: Some("pingcap/tikv:v8.5.0".into()),
        cluster_tls: true,
        tidb_client_tls: true,
    };
    let job = serde_json::to_value(job_for(&yaml, Some(&cluster))).expect("json");
    let golden: Value = serde_saphyr::from_str(GOLDEN_KUBE2IAM).expect("golden YAML");
    assert_eq!(
        job,
        golden,
        "actual:\n{}",
        serde_saphyr::to_string(&job).unwrap_or_default()
    );
}

#[test]
fn seed_secret_example_references_the_keys_and_never_copies_them() {
    let job = job_for(SEED_BACKUP_SECRET, None);
    let pod = job.spec.expect("spec").template.spec.expect("pod");
    let env = serde_json::to_value(&pod.containers[0].env).expect("env");
    assert_eq!(
        env,
        json!([
            {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s3-secret", "key": "access_key"}}},
            {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s3-secret", "key": "secret_key"}}},
            {"name": "BR_LOG_TO_TERM", "value": "1"}
        ])
    );
    // TidbCluster unreadable: the --br-image default.
    assert_eq!(pod.containers[0].image.as_deref(), Some(DEFAULT_BR_IMAGE));
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("tidb-backup-manager")
    );
    assert!(
        job.metadata.annotations.is_none(),
        "the Job object itself gets no annotations"
    );
}

#[test]
fn irsa_example_uses_its_service_account() {
    let job = job_for(super::SEED_BACKUP_IRSA, None);
    let pod = job.spec.expect("spec").template.spec.expect("pod");
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("tidb-backup-manager")
    );
    let mut custom = backup(super::SEED_BACKUP_IRSA);
    custom.spec.service_account = "br-irsa".into();
    custom.metadata.uid = Some("u".into());
    let job = backup_job(
        &defaulted(&custom),
        &JobContext {
            cluster: None,
            default_br_image: "x",
            tz: None,
        },
    )
    .expect("job");
    assert_eq!(
        job.spec
            .expect("spec")
            .template
            .spec
            .expect("pod")
            .service_account_name
            .as_deref(),
        Some("br-irsa")
    );
}

#[test]
fn spec_env_overrides_builtins_and_appends_new_names() {
    let mut b = backup(SEED_BACKUP_SECRET);
    b.spec.env = Some(serde_json::from_value(json!([
        {"name": "BR_LOG_TO_TERM", "value": "value"},
        {"name": "env_name_1", "value": "env_value_1"},
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "other", "key": "id"}}}
    ])).expect("env"));
    let env = serde_json::to_value(job_env(&b, Some("Asia/Shanghai"))).expect("json");
    assert_eq!(
        env,
        json!([
            {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "other", "key": "id"}}},
            {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s3-secret", "key": "secret_key"}}},
            {"name": "BR_LOG_TO_TERM", "value": "value"},
            {"name": "TZ", "value": "Asia/Shanghai"},
            {"name": "env_name_1", "value": "env_value_1"}
        ])
    );
}

#[test]
fn pod_settings_are_copied() {
    let mut b = backup(SEED_BACKUP_SECRET);
    b.spec.tolerations = Some(serde_json::from_value(json!([{"key": "dedicated", "operator": "Equal", "value": "backup", "effect": "NoSchedule"}])).expect("t"));
    b.spec.image_pull_secrets =
        Some(serde_json::from_value(json!([{"name": "regcred"}])).expect("s"));
    b.spec.affinity = Some(serde_json::from_value(json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["backup"]}]}]}}})).expect("a"));
    b.spec.resources = Some(
        serde_json::from_value(json!({"limits": {"memory": "4Gi"}, "requests": {"cpu": "1"}}))
            .expect("r"),
    );
    b.metadata.labels =
        Some([("app.kubernetes.io/instance".to_owned(), "demo1".to_owned())].into());
    b.metadata.uid = Some("u".into());
    let job = serde_json::to_value(
        backup_job(
            &defaulted(&b),
            &JobContext {
                cluster: None,
                default_br_image: "br:x",
                tz: None,
            },
        )
        .expect("job"),
    )
    .expect("json");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
    assert_eq!(
        pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchExpressions"][0]["values"],
        json!(["backup"])
    );
    assert_eq!(
        pod["containers"][0]["resources"],
        json!({"limits": {"memory": "4Gi"}, "requests": {"cpu": "1"}})
    );
    assert_eq!(
        job["metadata"]["labels"]["app.kubernetes.io/instance"],
        "demo1"
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"],
        "demo1"
    );
}

#[test]
fn local_volume_is_mounted() {
    let b = backup(
        r#"
apiVersion: pingcap.com/v1alpha1
kind: Backup
metadata: {name: l, namespace: ns, uid: u}
spec:
  br: {cluster: c}
  local:
    prefix: backups
    volume: {name: nfs, nfs: {server: 10.0.0.2, path: /exports}}
    volumeMount: {name: nfs, mountPath: /some/path}
"#,
    );
    let job = serde_json::to_value(
        backup_job(
            &defaulted(&b),
            &JobContext {
                cluster: None,
                default_br_image: "br:x",
                tz: None,
            },
        )
        .expect("job"),
    )
    .expect("json");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][1],
        json!({"name": "nfs", "nfs": {"server": "10.0.0.2", "path": "/exports"}})
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][1],
        json!({"name": "nfs", "mountPath": "/some/path"})
    );
    assert_eq!(
        pod["containers"][0]["args"][3],
        "--storage=local:///some/path/backups"
    );
}

#[test]
fn a_backup_without_uid_cannot_own_a_job() {
    let b = defaulted(&backup(SEED_BACKUP_SECRET));
    let err = backup_job(
        &b,
        &JobContext {
            cluster: None,
            default_br_image: "x",
            tz: None,
        },
    )
    .expect_err("no uid");
    assert_eq!(err.to_string(), "metadata.uid: required to own the Job");
}

/// `TestGetImageTag` (§9), except that a registry port is not a tag.
#[test]
fn image_tags() {
    assert_eq!(image_tag("localhost:5000/tikv:v3.1.0"), Some("v3.1.0"));
    assert_eq!(image_tag("tikv"), None);
    assert_eq!(image_tag("tikv:nightly"), Some("nightly"));
    assert_eq!(image_tag(":v4.0.0"), Some("v4.0.0"));
    assert_eq!(image_tag("tikv:"), None);
    assert_eq!(image_tag(":"), None);
    assert_eq!(image_tag("localhost:5000/tikv"), None);
    assert_eq!(image_tag("pingcap/tikv:v5.0.0@sha256:abcd"), Some("v5.0.0"));
}

#[test]
fn br_image_rules() {
    assert_eq!(br_image("", Some("v8.5.0"), "d"), "pingcap/br:v8.5.0");
    assert_eq!(br_image("", None, "pingcap/br:v7.5.0"), "pingcap/br:v7.5.0");
    assert_eq!(br_image("my/br", Some("v8.5.0"), "d"), "my/br:v8.5.0");
    assert_eq!(br_image("my/br:v1", Some("v8.5.0"), "d"), "my/br:v1");
    // TiDB Operator would use this as-is, tagless: the registry port is not a tag.
    assert_eq!(
        br_image("registry:5000/br", Some("v8.5.0"), "d"),
        "registry:5000/br:v8.5.0"
    );
    assert_eq!(br_image("registry:5000/br", None, "d"), "registry:5000/br");
}

#[test]
fn cluster_info_from_a_tidbcluster() {
    let tc = json!({
        "metadata": {"name": "demo1"},
        "spec": {
            "version": "v8.1.0",
            "tikv": {"baseImage": "pingcap/tikv"},
            "tlsCluster": {"enabled": true},
            "tidb": {"tlsClient": {"enabled": true}}
        }
    });
    assert_eq!(
        ClusterInfo::from_tidbcluster(&tc),
        ClusterInfo {
            tikv_image: Some("pingcap/tikv:v8.1.0".into()),
            cluster_tls: true,
            tidb_client_tls: true
        }
    );
    let skip = json!({
        "metadata": {"annotations": {"tidb.tidb.pingcap.com/skip-tls-when-connect-tidb": "true"}},
        "spec": {"tikv": {"baseImage": "pingcap/tikv", "version": "v7.5.0"}, "tidb": {"tlsClient": {"enabled": true}}}
    });
    let info = ClusterInfo::from_tidbcluster(&skip);
    assert_eq!(info.tikv_tag(), Some("v7.5.0"));
    assert!(!info.tidb_client_tls && !info.cluster_tls);
    let image = json!({"spec": {"tikv": {"image": "localhost:5000/tikv:v6.5.0"}}});
    assert_eq!(
        ClusterInfo::from_tidbcluster(&image).tikv_tag(),
        Some("v6.5.0")
    );
    let untagged = json!({"spec": {"tikv": {"baseImage": "pingcap/tikv"}}});
    assert_eq!(ClusterInfo::from_tidbcluster(&untagged).tikv_tag(), None);
    let _ = strings(&[]);
}
