//! The pod webhook through the apiserver: TiKV pods and backup pods created with kubectl
//! get the IAM identity of their TiDB cluster, selected by the shipped object and
//! namespace selectors alone.
//!
//! The webhook runs with static IAM configuration for the namespaces of these tests
//! (`--iam-role` for kube2iam, `--config` for IRSA); which cluster a backup pod belongs
//! to comes from its Backup, through the webhook's watch of the apiserver.

use std::time::Duration;

use serde_json::{Value, json};

use super::{in_namespace, parse_one};
use crate::harness::crds::repository_path;
use crate::harness::process::wait_for;
use crate::harness::{Env, Namespace};

const KUBE2IAM_NAMESPACE: &str = "pods-kube2iam";
const IRSA_NAMESPACE: &str = "pods-irsa";
const SELECTORS_NAMESPACE: &str = "pods-selectors";
const ROLE: &str = "arn:aws:iam::123456789012:role/user";
const IRSA_SERVICE_ACCOUNT: &str = "tidb-backup-manager";
const ROLE_ANNOTATION: &str = "iam.amazonaws.com/role";

/// The webhook's static IAM configuration for these tests: `--iam-role` arguments and
/// the `--config` file.
pub fn static_iam_config() -> (Vec<String>, String) {
    let roles = [KUBE2IAM_NAMESPACE, SELECTORS_NAMESPACE]
        .iter()
        .map(|namespace| format!("--iam-role={namespace}/demo1={ROLE}"))
        .collect();
    let config = format!(
        "iamRoles:\n  - namespace: {IRSA_NAMESPACE}\n    cluster: demo1\n    serviceAccount: {IRSA_SERVICE_ACCOUNT}\n"
    );
    (roles, config)
}

/// A pod with `labels` (and optionally an annotation and a service account).
fn pod(
    name: &str,
    labels: Value,
    annotations: Option<Value>,
    service_account: Option<&str>,
) -> String {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": labels },
        "spec": { "containers": [{ "name": "main", "image": "pingcap/tikv:v8.5.0" }] },
    });
    if let Some(annotations) = annotations {
        pod["metadata"]["annotations"] = annotations;
    }
    if let Some(account) = service_account {
        pod["spec"]["serviceAccountName"] = json!(account);
    }
    pod.to_string()
}

/// TiDB Operator's labels on a TiKV pod of `cluster`.
fn tikv_labels(cluster: &str) -> Value {
    json!({
        "app.kubernetes.io/component": "tikv",
        "app.kubernetes.io/managed-by": "tidb-operator",
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/name": "tidb-cluster",
    })
}

/// The label of a backup (or clean) pod of Backup `backup`.
fn backup_labels(backup: &str) -> Value {
    json!({ "tidb.pingcap.com/backup": backup, "app.kubernetes.io/component": "backup" })
}

/// Creates the pod with kubectl and returns it as stored.
fn create(namespace: &Namespace<'_>, manifest: &str) -> Value {
    let created = namespace
        .kubectl_stdin(&["create", "-o", "json"], manifest)
        .ok();
    serde_json::from_str(&created.stdout).expect("kubectl create -o json prints the pod")
}

fn role_of(pod: &Value) -> Option<&str> {
    pod["metadata"]["annotations"][ROLE_ANNOTATION].as_str()
}

/// The guide's Backup (access keys, no identity of its own) for cluster demo1, created
/// in `namespace`; returns once the webhook's watch has seen it (a dry-run backup pod
/// gets the identity `identified` looks for).
fn create_backup_and_wait_for_the_watch(
    namespace: &Namespace<'_>,
    identified: impl Fn(&Value) -> bool,
) {
    let shipped =
        std::fs::read_to_string(repository_path("manifests/examples/backup-s3-secret.yaml"))
            .expect("read the example");
    namespace
        .kubectl_stdin(&["apply"], &in_namespace(&shipped, &namespace.name))
        .ok();
    let probe = pod(
        "probe-backup-pod",
        backup_labels("demo1-backup-s3"),
        None,
        None,
    );
    wait_for(
        "the webhook's watch to see Backup demo1-backup-s3",
        Duration::from_secs(30),
        &mut [],
        || {
            let dry_run = namespace
                .kubectl_stdin(&["create", "--dry-run=server", "-o", "json"], &probe)
                .ok();
            Ok(identified(&parse_one(&dry_run.stdout)))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

pub fn tikv_and_backup_pods_get_the_kube2iam_role(env: &Env) {
    let namespace = env.namespace(KUBE2IAM_NAMESPACE);

    let tikv = create(
        &namespace,
        &pod("demo1-tikv-0", tikv_labels("demo1"), None, None),
    );
    assert_eq!(
        role_of(&tikv),
        Some(ROLE),
        "TiKV pod of test cluster demo1: {tikv}"
    );

    let other_cluster = create(
        &namespace,
        &pod("demo2-tikv-0", tikv_labels("demo2"), None, None),
    );
    assert_eq!(
        role_of(&other_cluster),
        None,
        "demo2 has no role: {other_cluster}"
    );

    let own_role = "arn:aws:iam::123456789012:role/own";
    let kept = create(
        &namespace,
        &pod(
            "demo1-tikv-1",
            tikv_labels("demo1"),
            Some(json!({ ROLE_ANNOTATION: own_role })),
            None,
        ),
    );
    assert_eq!(
        role_of(&kept),
        Some(own_role),
        "a role the pod has is kept: {kept}"
    );

    create_backup_and_wait_for_the_watch(&namespace, |pod| role_of(pod) == Some(ROLE));
    let backup_pod = create(
        &namespace,
        &pod(
            "backup-demo1-backup-s3-x7k2p",
            backup_labels("demo1-backup-s3"),
            None,
            None,
        ),
    );
    assert_eq!(
        role_of(&backup_pod),
        Some(ROLE),
        "backup pod of demo1-backup-s3: {backup_pod}"
    );
    assert_eq!(
        backup_pod["spec"]["serviceAccountName"], "default",
        "kube2iam only: {backup_pod}"
    );

    let unknown_backup = create(
        &namespace,
        &pod("backup-unknown-x7k2p", backup_labels("unknown"), None, None),
    );
    assert_eq!(
        role_of(&unknown_backup),
        None,
        "a backup pod of no known Backup has no cluster: {unknown_backup}"
    );
}

pub fn tikv_and_backup_pods_get_the_irsa_service_account(env: &Env) {
    let namespace = env.namespace(IRSA_NAMESPACE);
    // The guide's per-namespace account; the ServiceAccount admission plugin refuses
    // pods of an account that does not exist.
    namespace
        .kubectl(&[
            "apply",
            "-f",
            &repository_path("manifests/rbac/backup-manager/backup-rbac.yaml"),
        ])
        .ok();
    namespace.kubectl(&["create", "serviceaccount", "own"]).ok();

    let tikv = create(
        &namespace,
        &pod("demo1-tikv-0", tikv_labels("demo1"), None, None),
    );
    assert_eq!(
        tikv["spec"]["serviceAccountName"], IRSA_SERVICE_ACCOUNT,
        "{tikv}"
    );
    assert_eq!(role_of(&tikv), None, "IRSA only: {tikv}");

    let kept = create(
        &namespace,
        &pod("demo1-tikv-1", tikv_labels("demo1"), None, Some("own")),
    );
    assert_eq!(
        kept["spec"]["serviceAccountName"], "own",
        "an account the pod names is kept: {kept}"
    );

    create_backup_and_wait_for_the_watch(&namespace, |pod| {
        pod["spec"]["serviceAccountName"] == IRSA_SERVICE_ACCOUNT
    });
    let backup_pod = create(
        &namespace,
        &pod(
            "backup-demo1-backup-s3-x7k2p",
            backup_labels("demo1-backup-s3"),
            None,
            None,
        ),
    );
    assert_eq!(
        backup_pod["spec"]["serviceAccountName"], IRSA_SERVICE_ACCOUNT,
        "{backup_pod}"
    );
}

pub fn pods_outside_the_selectors_are_left_alone(env: &Env) {
    let namespace = env.namespace(SELECTORS_NAMESPACE);
    let selected = create(
        &namespace,
        &pod("demo1-tikv-0", tikv_labels("demo1"), None, None),
    );
    assert_eq!(
        role_of(&selected),
        Some(ROLE),
        "control: a selected TiKV pod is injected: {selected}"
    );

    // The webhook itself would inject these (it reads only component and instance); the
    // object selector keeps the apiserver from calling it.
    let mut labels = tikv_labels("demo1");
    labels
        .as_object_mut()
        .expect("labels")
        .remove("app.kubernetes.io/managed-by");
    let not_managed = create(&namespace, &pod("demo1-tikv-1", labels, None, None));
    assert_eq!(
        role_of(&not_managed),
        None,
        "not managed by tidb-operator: {not_managed}"
    );

    // The namespace selector: the README's emergency bypass label. The apiserver sees
    // the label through its namespace cache, so wait until a dry run shows it applies.
    namespace
        .kubectl(&[
            "label",
            "namespace",
            &namespace.name,
            "tidb-backup-webhook.pingcap.com/admission=disabled",
        ])
        .ok();
    let probe = pod("probe-tikv", tikv_labels("demo1"), None, None);
    wait_for(
        "the namespace label to reach the apiserver's cache",
        Duration::from_secs(30),
        &mut [],
        || {
            let dry_run = namespace
                .kubectl_stdin(&["create", "--dry-run=server", "-o", "json"], &probe)
                .ok();
            Ok(role_of(&parse_one(&dry_run.stdout)).is_none())
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let bypassed = create(
        &namespace,
        &pod("demo1-tikv-2", tikv_labels("demo1"), None, None),
    );
    assert_eq!(
        role_of(&bypassed),
        None,
        "namespace labelled admission=disabled: {bypassed}"
    );
}
