//! `helm install` of `charts/tidb-backup-webhook` into a real control plane, with the
//! helm `make test-deps` builds, as a TiDB user installs it: a webhook that defaults the
//! guide's Backup at `kubectl apply`, `helm upgrade` keeping the generated certificate,
//! `helm uninstall` removing everything it installed but the CRDs.
//!
//! The chart's objects have fixed names (one release per cluster), the same as the
//! harness registers for the other tests, so this test brings a control plane of its
//! own. There is no kubelet: the webhook binary runs on loopback as the release's
//! Deployment would run it (its arguments, its Secret and ConfigMap volumes on disk, its
//! ServiceAccount's token), and the release points its webhook configurations there
//! with `webhook.url`; everything else is the chart's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::harness::control_plane::{ControlPlane, bin_dir};
use crate::harness::crds::{CrdSet, repository_path, wait_established};
use crate::harness::kubectl::Kubectl;
use crate::harness::pki::{self, Credentials};
use crate::harness::process::{Process, command, free_port, http_get, wait_for};
use crate::harness::webhook::BIN;
use crate::harness::{Env, Test};
use crate::webhook::{in_namespace, offline_check, parse_one};

pub fn tests() -> Vec<Test> {
    vec![Test::new(
        "helm::install_upgrade_uninstall",
        install_upgrade_uninstall,
    )]
}

const RELEASE: &str = "tidb-backup-webhook";
const NAMESPACE: &str = "tidb-admin";
const TIMEOUT: Duration = Duration::from_secs(60);

/// A control plane of this test's own, and helm and kubectl for it.
struct Cluster {
    kubectl: Kubectl,
    control_plane: ControlPlane,
    dir: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Self {
        let kubectl = Kubectl::new(&dir.join("admin.kubeconfig"), &dir.join("kubectl-cache"))
            .unwrap_or_else(|e| panic!("{e}"));
        let control_plane = ControlPlane::start(dir, &kubectl).unwrap_or_else(|e| panic!("{e}"));
        Self {
            kubectl,
            control_plane,
            dir: dir.to_owned(),
        }
    }

    /// `helm ARGS` as the administrator, with Helm's own files under the test's directory.
    fn helm(&self, args: &[&str]) -> String {
        let program = bin_dir().join("helm");
        assert!(
            program.is_file(),
            "{} is missing: run `make test-deps` (it builds helm from tools/helm)",
            program.display()
        );
        let output = command(&program)
            .args(args)
            .env("KUBECONFIG", self.kubectl.kubeconfig())
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"))
            .current_dir(repository_path(""))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        let text = format!(
            "$ helm {}\n({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{text}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn get_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl.ok(&all).stdout).expect("kubectl prints JSON")
    }
}

/// The objects of the release's manifest (`helm get manifest`): `(kind.group, namespace,
/// name)`, and whether Helm keeps it on uninstall (`helm.sh/resource-policy: keep`).
fn release_objects(cluster: &Cluster) -> Vec<(String, String, String, bool)> {
    let manifest = cluster.helm(&["get", "manifest", RELEASE, "-n", NAMESPACE]);
    let documents: Vec<Value> = serde_saphyr::from_multiple(&manifest).expect("YAML");
    documents
        .into_iter()
        .filter(|d| !d.is_null())
        .map(|d| {
            let kind = d["kind"].as_str().expect("kind").to_lowercase();
            let group = d["apiVersion"]
                .as_str()
                .expect("apiVersion")
                .rsplit_once('/')
                .map(|(group, _)| format!(".{group}"))
                .unwrap_or_default();
            let namespace = d["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let name = d["metadata"]["name"].as_str().expect("name").to_owned();
            let kept = d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep";
            (format!("{kind}{group}"), namespace, name, kept)
        })
        .collect()
}

/// The webhook binary as the release's Deployment runs it, on `port` of 127.0.0.1.
fn run_release_webhook(cluster: &Cluster, port: u16, run: &str) -> Process {
    let dir = cluster.dir.join(run);
    let deployment = cluster.get_json(&["-n", NAMESPACE, "get", "deployment", RELEASE]);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

    // Each volume's files where the container would see them, under `dir`.
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for mount in container["volumeMounts"].as_array().expect("volumeMounts") {
        let name = mount["name"].as_str().expect("name");
        let volume = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == name)
            .expect("the mount's volume");
        let files: BTreeMap<String, Vec<u8>> = if let Some(secret) =
            volume["secret"]["secretName"].as_str()
        {
            let secret = cluster.get_json(&["-n", NAMESPACE, "get", "secret", secret]);
            secret["data"]
                .as_object()
                .expect("data")
                .iter()
                .map(|(key, value)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(value.as_str().expect("base64"))
                        .expect("base64");
                    (key.clone(), bytes)
                })
                .collect()
        } else {
            let config_map = volume["configMap"]["name"].as_str().expect("a ConfigMap");
            let config_map = cluster.get_json(&["-n", NAMESPACE, "get", "configmap", config_map]);
            config_map["data"]
                .as_object()
                .expect("data")
                .iter()
                .map(|(key, value)| (key.clone(), value.as_str().expect("text").into()))
                .collect()
        };
        let local = dir.join("volumes").join(name);
        std::fs::create_dir_all(&local).expect("volume directory");
        for (file, bytes) in files {
            std::fs::write(local.join(file), bytes).expect("write a volume's file");
        }
        mounts.push((
            mount["mountPath"].as_str().expect("mountPath").to_owned(),
            local,
        ));
    }
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|arg| {
            let mut arg = arg.as_str().expect("an argument").to_owned();
            for (mount_path, local) in &mounts {
                arg = arg.replace(
                    &format!("={mount_path}/"),
                    &format!("={}/", local.display()),
                );
            }
            arg
        })
        .collect();

    // The release's ServiceAccount, through a token: the chart's RBAC applies.
    let account = pod["serviceAccountName"]
        .as_str()
        .expect("serviceAccountName");
    let token = cluster
        .kubectl
        .ok(&["-n", NAMESPACE, "create", "token", account, "--duration=1h"]);
    let kubeconfig = dir.join("webhook.kubeconfig");
    pki::write_kubeconfig(
        &kubeconfig,
        &cluster.control_plane.server,
        &cluster.control_plane.ca_pem,
        &format!("system:serviceaccount:{NAMESPACE}:{account}"),
        Credentials::Token(token.stdout.trim()),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let admin_port = free_port().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = command(BIN);
    cmd.args(&args)
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--admin-listen=127.0.0.1:{admin_port}"))
        .env("KUBECONFIG", &kubeconfig);
    let mut process = Process::spawn("tidb-backup-webhook (helm)", cmd, &dir.join("webhook.log"))
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for(
        "the webhook's /readyz",
        TIMEOUT,
        &mut [&mut process],
        || Ok(http_get(admin_port, "/readyz").is_ok_and(|(status, _)| status == 200)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    process
}

/// The guide's Backup in `namespace`, as `check` defaults it once `crds`' defaults are
/// in it: what the apiserver must store.
fn guide_backup(namespace: &str, crds: CrdSet) -> (String, Value) {
    let shipped =
        std::fs::read_to_string(repository_path("manifests/examples/backup-s3-secret.yaml"))
            .expect("read the example");
    let manifest = in_namespace(&shipped, namespace);
    let offline = offline_check(&crds.with_defaults(&parse_one(&manifest)).to_string());
    assert!(offline.errors.is_empty(), "{:?}", offline.errors);
    (manifest, offline.defaulted["spec"].clone())
}

/// `kubectl apply` of the guide's Backup in a new `namespace` stores the webhook's
/// defaults (waiting until the release's configurations take effect), and a malformed
/// one is refused by the validating webhook.
fn the_webhook_defaults_the_guide_backup(cluster: &Cluster, namespace: &str, crds: CrdSet) {
    cluster.kubectl.ok(&["create", "namespace", namespace]);
    let (manifest, expected) = guide_backup(namespace, crds);
    wait_for(
        "the release's webhook configurations to take effect",
        TIMEOUT,
        &mut [],
        || {
            let dry_run = cluster.kubectl.run_with_stdin(
                &["apply", "--dry-run=server", "-o", "json", "-f", "-"],
                Some(&manifest),
            );
            Ok(dry_run.status.success()
                && serde_json::from_str::<Value>(&dry_run.stdout)
                    .is_ok_and(|backup| backup["spec"] == expected))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let applied = cluster
        .kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(&manifest))
        .ok();
    assert_eq!(
        applied.stdout.trim(),
        "backup.pingcap.com/demo1-backup-s3 created",
        "{applied}"
    );
    let shown = cluster.kubectl.ok(&[
        "-n",
        namespace,
        "get",
        "backup.pingcap.com/demo1-backup-s3",
        "-o",
        "yaml",
    ]);
    for default in [
        "\n  cleanPolicy: Retain\n",
        "\n  tikvGCLifeTime: 72h\n",
        "\n  serviceAccount: tidb-backup-manager\n",
        "\n    acl: private\n",
        "\n    storageClass: STANDARD_IA\n",
    ] {
        assert!(
            shown.stdout.contains(default),
            "`kubectl get -o yaml` shows {default:?}\n{shown}"
        );
    }
    assert_eq!(parse_one(&shown.stdout)["spec"], expected, "{shown}");

    let mut malformed = parse_one(&manifest);
    malformed["metadata"]["name"] = json!("malformed");
    malformed["spec"]["s3"]["acl"] = json!("Private");
    let refused = cluster
        .kubectl
        .run_with_stdin(&["apply", "-f", "-"], Some(&malformed.to_string()))
        .failed();
    assert!(
        refused.stderr.contains(
            "The Backup \"malformed\" is invalid: spec.s3.acl: unsupported value \"Private\""
        ),
        "{refused}"
    );
}

/// `helm uninstall` deletes every object of the release but those it keeps (the CRDs),
/// and the Backups stay.
fn uninstall_removes_everything_but_the_crds(cluster: &Cluster, namespace: &str, kept: &[&str]) {
    let objects = release_objects(cluster);
    let kept_by_policy: Vec<&str> = objects
        .iter()
        .filter(|(_, _, _, keep)| *keep)
        .map(|(_, _, name, _)| name.as_str())
        .collect();
    assert_eq!(kept_by_policy, kept, "objects the chart keeps on uninstall");
    for installed in [
        "deployment.apps/tidb-backup-webhook",
        "secret/tidb-backup-webhook-tls",
        "serviceaccount/tidb-backup-webhook",
        "clusterrole.rbac.authorization.k8s.io/tidb-backup-webhook",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/tidb-backup-webhook-pods",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/tidb-backup-webhook",
    ] {
        assert!(
            objects
                .iter()
                .any(|(resource, _, name, _)| format!("{resource}/{name}") == installed),
            "the release installed {installed}: {objects:?}"
        );
    }
    let uninstalled = cluster.helm(&["uninstall", RELEASE, "-n", NAMESPACE, "--wait"]);
    assert!(
        uninstalled.contains(&format!("release \"{RELEASE}\" uninstalled")),
        "{uninstalled}"
    );
    for (resource, object_namespace, name, keep) in &objects {
        let mut args = vec!["get", resource.as_str(), name.as_str(), "-o", "name"];
        if !object_namespace.is_empty() {
            args.extend(["-n", object_namespace.as_str()]);
        }
        let found = cluster.kubectl.run(&args);
        if *keep {
            found.ok();
        } else {
            assert!(
                found.stderr.contains("NotFound"),
                "{resource} {name} was installed and is still there:\n{found}"
            );
        }
    }
    let releases = cluster.helm(&["list", "-A", "-q"]);
    assert_eq!(releases.trim(), "", "no release left");
    for crd in ["crd/backups.pingcap.com", "crd/backupschedules.pingcap.com"] {
        cluster.kubectl.ok(&["get", crd]);
    }
    cluster
        .kubectl
        .ok(&["-n", namespace, "get", "backup.pingcap.com/demo1-backup-s3"]);
}

fn install_upgrade_uninstall(_: &Env) {
    let dir = tempfile::Builder::new()
        .prefix("tidb-backup-webhook-e2e-helm-")
        .tempdir()
        .expect("a temporary directory");
    let cluster = Cluster::start(dir.path());
    let chart = repository_path("charts/tidb-backup-webhook");
    let port = free_port().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("webhook.url=https://127.0.0.1:{port}");

    // Next to TiDB Operator (the chart's default): its CRDs are there beforehand.
    CrdSet::TidbOperator
        .install(&cluster.kubectl)
        .unwrap_or_else(|e| panic!("{e}"));
    cluster.helm(&[
        "install",
        RELEASE,
        &chart,
        "-n",
        NAMESPACE,
        "--create-namespace",
        "--set",
        "certificates.source=generated",
        "--set",
        &url,
    ]);
    let webhook = run_release_webhook(&cluster, port, "install");
    the_webhook_defaults_the_guide_backup(&cluster, "guide", CrdSet::TidbOperator);

    // An upgrade looks the generated Secret up and keeps the certificate: the webhook,
    // still serving the one it read at install, is trusted through the new caBundle.
    let secret_before =
        cluster.get_json(&["-n", NAMESPACE, "get", "secret", "tidb-backup-webhook-tls"]);
    cluster.helm(&[
        "upgrade",
        RELEASE,
        &chart,
        "-n",
        NAMESPACE,
        "--reuse-values",
        "--set",
        "webhook.failurePolicy=Ignore",
    ]);
    let secret_after =
        cluster.get_json(&["-n", NAMESPACE, "get", "secret", "tidb-backup-webhook-tls"]);
    assert_eq!(
        secret_after["data"], secret_before["data"],
        "the certificate is kept"
    );
    let validating = cluster.get_json(&["get", "validatingwebhookconfiguration", RELEASE]);
    assert_eq!(
        validating["webhooks"][0]["failurePolicy"], "Ignore",
        "upgraded"
    );
    for kind in [
        "mutatingwebhookconfiguration",
        "validatingwebhookconfiguration",
    ] {
        let configurations = cluster.kubectl.ok(&["get", kind, "-o", "json"]).stdout;
        let configurations: Value = serde_json::from_str(&configurations).expect("JSON");
        for configuration in configurations["items"].as_array().expect("items") {
            for hook in configuration["webhooks"].as_array().expect("webhooks") {
                assert_eq!(
                    hook["clientConfig"]["caBundle"], secret_before["data"]["ca.crt"],
                    "{}: the caBundle is the kept CA",
                    hook["name"]
                );
            }
        }
    }
    the_webhook_defaults_the_guide_backup(&cluster, "after-upgrade", CrdSet::TidbOperator);

    uninstall_removes_everything_but_the_crds(&cluster, "guide", &[]);
    drop(webhook);

    // Standalone: this project's CRDs and the reconciler from the chart, in place of
    // TiDB Operator's CRDs (deleting them deletes their Backups).
    cluster.kubectl.ok(&[
        "delete",
        "crd/backups.pingcap.com",
        "crd/backupschedules.pingcap.com",
        "--wait",
    ]);
    cluster.helm(&[
        "install",
        RELEASE,
        &chart,
        "-n",
        NAMESPACE,
        "--set",
        "certificates.source=generated",
        "--set",
        &url,
        "--set",
        "crds.install=true",
        "--set",
        "reconciler.enabled=true",
    ]);
    wait_established(&cluster.kubectl).unwrap_or_else(|e| panic!("{e}"));
    let webhook = run_release_webhook(&cluster, port, "standalone");
    the_webhook_defaults_the_guide_backup(&cluster, "standalone", CrdSet::Standalone);
    uninstall_removes_everything_but_the_crds(
        &cluster,
        "standalone",
        &["backups.pingcap.com", "backupschedules.pingcap.com"],
    );
    drop(webhook);
}
