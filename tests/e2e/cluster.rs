//! The harness's control plane is the real thing: the release pinned in
//! tools/control-plane, RBAC enforced, and the controllers the later tests rely on
//! (garbage collector, namespace) at work.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

use crate::harness::crds::repository_path;
use crate::harness::process::wait_for;
use crate::harness::{Env, Test};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new("cluster::runs_the_pinned_release", runs_the_pinned_release),
        Test::new(
            "cluster::rbac_applies_to_service_account_tokens",
            rbac_applies_to_service_account_tokens,
        ),
        Test::new(
            "cluster::garbage_collector_deletes_dependents",
            garbage_collector_deletes_dependents,
        ),
        Test::new(
            "cluster::deleted_namespace_goes_away",
            deleted_namespace_goes_away,
        ),
    ]
}

/// The `k8s.io/kubernetes` version tools/control-plane/kubernetes/go.mod requires.
fn pinned_release() -> String {
    let go_mod = std::fs::read_to_string(repository_path("tools/control-plane/kubernetes/go.mod"))
        .expect("read tools/control-plane/kubernetes/go.mod");
    go_mod
        .lines()
        .find_map(|line| {
            let line = line.trim().strip_prefix("require ").unwrap_or(line.trim());
            line.strip_prefix("k8s.io/kubernetes ")
        })
        .and_then(|rest| rest.split_whitespace().next())
        .expect("go.mod requires k8s.io/kubernetes")
        .to_owned()
}

fn runs_the_pinned_release(env: &Env) {
    let release = pinned_release();
    let info = env
        .block_on(env.client().apiserver_version())
        .expect("the apiserver's /version");
    assert_eq!(
        info.git_version, release,
        "kube-apiserver reports the pinned release"
    );
    assert_eq!(info.git_tree_state, "clean");
    let client = env.kubectl().ok(&["version", "--client", "-o", "json"]);
    let client: serde_json::Value = serde_json::from_str(&client.stdout).expect("JSON");
    if std::env::var_os("KUBECTL").is_none() {
        assert_eq!(
            client["clientVersion"]["gitVersion"],
            release.as_str(),
            "kubectl is built from the same release"
        );
    }
}

/// The webhook's token has exactly the shipped ClusterRole's rights: the apiserver
/// authorizes with RBAC, not the administrator's certificate.
fn rbac_applies_to_service_account_tokens(env: &Env) {
    let webhook = env.kubectl().with_kubeconfig(env.webhook.kubeconfig());
    let whoami = webhook.ok(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(
        whoami.stdout,
        "system:serviceaccount:tidb-admin:tidb-backup-webhook"
    );
    for verb in ["get", "list", "watch"] {
        for resource in ["backups.pingcap.com", "backupschedules.pingcap.com"] {
            let allowed = webhook.run(&["auth", "can-i", verb, resource, "--all-namespaces"]);
            assert_eq!(
                allowed.stdout.trim(),
                "yes",
                "{verb} {resource}:\n{allowed}"
            );
        }
    }
    let secrets = webhook
        .run(&["-n", "tidb-admin", "get", "secrets"])
        .failed();
    assert!(
        secrets.stderr.contains(
            "User \"system:serviceaccount:tidb-admin:tidb-backup-webhook\" cannot list resource \"secrets\""
        ),
        "{secrets}"
    );
    let write = webhook.run(&[
        "auth",
        "can-i",
        "update",
        "backups.pingcap.com",
        "--all-namespaces",
    ]);
    assert_eq!(write.stdout.trim(), "no", "{write}");
}

fn garbage_collector_deletes_dependents(env: &Env) {
    let namespace = env.namespace("cluster-gc");
    let config_maps: Api<ConfigMap> = Api::namespaced(env.client(), &namespace.name);
    let config_map = |name: &str, owner: Option<&ConfigMap>| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            owner_references: owner.map(|owner| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: owner.metadata.name.clone().expect("name"),
                    uid: owner.metadata.uid.clone().expect("uid"),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
        ..Default::default()
    };
    env.block_on(async {
        let owner = config_maps
            .create(&PostParams::default(), &config_map("owner", None))
            .await
            .expect("create the owner");
        config_maps
            .create(
                &PostParams::default(),
                &config_map("dependent", Some(&owner)),
            )
            .await
            .expect("create the dependent");
        config_maps
            .delete("owner", &DeleteParams::default())
            .await
            .expect("delete the owner");
    });
    wait_for(
        "the garbage collector to delete the dependent",
        Duration::from_secs(60),
        &mut [],
        || {
            Ok(env
                .block_on(config_maps.get_opt("dependent"))
                .map_err(|e| e.to_string())?
                .is_none())
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn deleted_namespace_goes_away(env: &Env) {
    let namespace = env.namespace("cluster-namespace");
    namespace
        .kubectl(&["create", "configmap", "content", "--from-literal=k=v"])
        .ok();
    let deleted = env
        .kubectl()
        .ok(&["delete", "namespace", &namespace.name, "--timeout=60s"]);
    assert_eq!(
        deleted.stdout.trim(),
        format!("namespace \"{}\" deleted", namespace.name)
    );
    let gone = env
        .kubectl()
        .run(&["get", "namespace", &namespace.name])
        .failed();
    assert!(gone.stderr.contains("not found"), "{gone}");
}
