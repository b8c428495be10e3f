//! The deployable manifests, rendered with the real `kubectl kustomize` and checked on
//! the parsed output against the code they must agree with; the Helm chart rendered with
//! the real `helm` and compared with them (`chart`); the alert rules and the dashboard
//! checked with the real `promtool` and against the metrics the servers export
//! (`monitoring`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod chart;
mod monitoring;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::Value;
use tidb_backup_webhook::admission::Endpoint;
use tidb_backup_webhook::manifests::{
    NAMESPACE, OPT_OUT_LABEL, Options, POD_CONFIGURATION, SERVICE, SERVICE_PORT,
    webhook_configurations,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn kustomize(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .args(["kustomize"])
        .arg(dir)
        .output()
        .expect("kubectl is installed (it is on this machine kind and CI)");
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    schema_valid(&text, dir);
    serde_saphyr::from_multiple::<Value>(&text).expect("YAML stream")
}

/// Checks rendered objects against Kubernetes 1.33's JSON schemas, rejecting unknown
/// fields (`kubernetes-validate --strict`, installed by `make test-deps`). Kinds it has
/// no schema for (cert-manager's) are only warned about.
fn schema_valid(rendered: &str, dir: &Path) {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, rendered.as_bytes()).expect("write");
    let output = Command::new("python3")
        .args(["-m", "kubernetes_validate", "-k", "1.33.0", "--strict"])
        .arg(file.path())
        .output()
        .expect("python3");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && !report.contains("ERROR"),
        "{} does not validate (kubernetes-validate installed? run make test-deps):\n{report}",
        dir.display()
    );
    assert!(report.contains("passed for resource"), "{report}");
}

/// A tool `make test-deps` builds into `.tools/bin` (helm, promtool).
fn tool(name: &str) -> PathBuf {
    let path = Path::new(ROOT).join(".tools/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make test-deps` (it builds {name} from tools/{name})",
        path.display()
    );
    path
}

/// `tidb-backup-webhook serve --no-kube` on loopback with the given extra arguments,
/// stopped when dropped.
struct Server {
    child: Child,
    https: SocketAddr,
    admin: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidb-backup-webhook"))
            .args(["serve", "--no-kube", "--log-format", "json"])
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut log = Vec::new();
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addresses = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let event: Value = serde_json::from_str(&line).ok()?;
            log.push(line);
            (event["message"] == "serving admission reviews").then(|| {
                let addr = |key: &str| event[key].as_str()?.parse::<SocketAddr>().ok();
                addr("https").zip(addr("admin"))
            })?
        });
        let Some((https, admin)) = addresses else {
            let _ = child.kill();
            panic!("the server did not start: {log:#?}");
        };
        // Drain the log so the pipe never fills.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            https,
            admin,
        }
    }

    /// Body of a plain HTTP GET on the admin port.
    fn admin_get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.admin).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let code = response
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (code, body)
    }
}

/// POSTs a JSON review over HTTPS to `localhost:port`, trusting only `ca_pem`; returns the
/// status code and the parsed answer.
fn post_review(port: u16, ca_pem: &[u8], path: &str, review: &Value) -> (u16, Value) {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(der.expect("CA PEM")).expect("CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("client");
    let socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut tls = rustls::StreamOwned::new(connection, socket);
    let body = serde_json::to_vec(review).expect("JSON");
    write!(
        tls,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write");
    tls.write_all(&body).expect("write body");
    let mut response = Vec::new();
    // The server may close without a TLS close_notify; what was read is the answer.
    let _ = tls.read_to_end(&mut response);
    let response = String::from_utf8(response).expect("utf-8");
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let answer = response
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (code, answer)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} missing"))
}

fn kinds(objects: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    kinds.sort();
    kinds
}

/// A copy of `manifests/` and `certs/kustomization.yaml` with fresh certificates, as
/// `make certs` leaves them, so the self-signed overlay renders.
fn tree_with_certs() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(ROOT).join("manifests"),
        &dir.path().join("manifests"),
    );
    std::fs::create_dir_all(dir.path().join("certs")).expect("mkdir");
    std::fs::copy(
        Path::new(ROOT).join("certs/kustomization.yaml"),
        dir.path().join("certs/kustomization.yaml"),
    )
    .expect("copy");
    let status = Command::new(env!("CARGO_BIN_EXE_tidb-backup-webhook"))
        .args(["certs", "--out"])
        .arg(dir.path().join("certs"))
        .args(["--dns", "tidb-backup-webhook.tidb-admin.svc"])
        .output()
        .expect("certs");
    assert!(status.status.success());
    let ca = std::fs::read(dir.path().join("certs/ca.crt")).expect("ca");
    (dir, ca)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn webhooks(objects: &[Value]) -> Vec<(&Value, &Value)> {
    objects
        .iter()
        .filter(|o| {
            o["kind"] == "MutatingWebhookConfiguration"
                || o["kind"] == "ValidatingWebhookConfiguration"
        })
        .flat_map(|o| {
            o["webhooks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |w| (o, w))
        })
        .collect()
}

/// What every rendering of the webhook must satisfy.
fn check_webhook_install(objects: &[Value]) {
    assert_eq!(
        kinds(objects)
            .into_iter()
            .filter(|k| !k.starts_with("Certificate/")
                && !k.starts_with("Issuer/")
                && !k.starts_with("Secret/"))
            .collect::<Vec<_>>(),
        [
            "ClusterRole/tidb-backup-webhook",
            "ClusterRoleBinding/tidb-backup-webhook",
            "ConfigMap/tidb-backup-webhook-config",
            "Deployment/tidb-backup-webhook",
            "MutatingWebhookConfiguration/tidb-backup-webhook",
            "MutatingWebhookConfiguration/tidb-backup-webhook-pods",
            "Namespace/tidb-admin",
            "PodDisruptionBudget/tidb-backup-webhook",
            "Service/tidb-backup-webhook",
            "ServiceAccount/tidb-backup-webhook",
            "ValidatingWebhookConfiguration/tidb-backup-webhook",
        ]
    );

    // The Service and the configurations point at the server's routes and port.
    let service = find(objects, "Service", SERVICE);
    assert_eq!(service["metadata"]["namespace"], NAMESPACE);
    let https = service["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == "https")
        .expect("https port");
    assert_eq!(https["port"], SERVICE_PORT);
    assert_eq!(https["targetPort"], "https");
    let deployment = find(objects, "Deployment", SERVICE);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let port = container["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == "https")
        .expect("container https port");
    let listen = serve_default("listen");
    assert_eq!(
        format!("0.0.0.0:{}", port["containerPort"]),
        listen,
        "containerPort matches --listen's default"
    );
    let all = webhooks(objects);
    assert_eq!(all.len(), 4);
    for (config, webhook) in &all {
        let name = webhook["name"].as_str().unwrap_or_default();
        let service = &webhook["clientConfig"]["service"];
        assert_eq!(
            (
                service["name"].as_str(),
                service["namespace"].as_str(),
                service["port"].as_u64()
            ),
            (
                Some(SERVICE),
                Some(NAMESPACE),
                Some(u64::from(SERVICE_PORT))
            ),
            "{name}"
        );
        let expected_path = if config["kind"] == "ValidatingWebhookConfiguration" {
            Endpoint::Validate.path()
        } else {
            Endpoint::Mutate.path()
        };
        assert_eq!(service["path"], expected_path, "{name}");
        assert_eq!(
            webhook["admissionReviewVersions"],
            serde_json::json!(["v1"]),
            "{name}"
        );
        assert_eq!(webhook["sideEffects"], "None", "{name}");
        assert_eq!(webhook["matchPolicy"], "Equivalent", "{name}");
        assert_eq!(webhook["timeoutSeconds"], 5, "{name}");
        assert_eq!(
            webhook["namespaceSelector"]["matchExpressions"],
            serde_json::json!([
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", NAMESPACE]},
                {"key": OPT_OUT_LABEL, "operator": "NotIn", "values": ["disabled"]}
            ]),
            "{name}"
        );
        let rules = webhook["rules"].as_array().expect("rules");
        for rule in rules {
            let resources = rule["resources"].as_array().expect("resources");
            let is_pods = config["metadata"]["name"] == POD_CONFIGURATION;
            if is_pods {
                assert_eq!(
                    (
                        rule["apiGroups"].clone(),
                        resources.clone(),
                        rule["operations"].clone()
                    ),
                    (
                        serde_json::json!([""]),
                        vec![serde_json::json!("pods")],
                        serde_json::json!(["CREATE"])
                    ),
                    "{name}"
                );
                assert_eq!(
                    webhook["failurePolicy"], "Ignore",
                    "{name}: pods are never blocked"
                );
                assert_eq!(webhook["reinvocationPolicy"], "IfNeeded", "{name}");
                assert!(
                    webhook["objectSelector"].is_object()
                        && webhook["objectSelector"] != serde_json::json!({}),
                    "{name}: pod webhooks select by labels"
                );
            } else {
                assert_eq!(
                    rule["apiGroups"],
                    serde_json::json!(["pingcap.com"]),
                    "{name}"
                );
                assert_eq!(
                    resources.clone(),
                    vec![
                        serde_json::json!("backups"),
                        serde_json::json!("backupschedules")
                    ],
                    "{name}"
                );
            }
        }
    }
    let failure =
        |kind: &str, name: &str| find(objects, kind, name)["webhooks"][0]["failurePolicy"].clone();
    assert_eq!(failure("ValidatingWebhookConfiguration", SERVICE), "Fail");
    assert_eq!(failure("MutatingWebhookConfiguration", SERVICE), "Ignore");

    // The webhook reads Backups and BackupSchedules, nothing else.
    assert_eq!(
        find(objects, "ClusterRole", SERVICE)["rules"],
        serde_json::json!([{"apiGroups": ["pingcap.com"], "resources": ["backups", "backupschedules"], "verbs": ["get", "list", "watch"]}])
    );

    // Availability and hardening.
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    assert_eq!(
        find(objects, "PodDisruptionBudget", SERVICE)["spec"]["minAvailable"],
        1
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(
        pod["topologySpreadConstraints"][0]["topologyKey"],
        "kubernetes.io/hostname"
    );
    check_hardened(pod);
    assert_eq!(container["lifecycle"]["preStop"]["sleep"]["seconds"], 5);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/livez");
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    assert!(
        mounts.iter().all(|m| m.get("subPath").is_none()),
        "subPath mounts never see renewals"
    );
}

fn check_hardened(pod: &Value) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    for container in pod["containers"].as_array().expect("containers") {
        let sc = &container["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{container}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{container}");
        assert_eq!(
            sc["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{container}"
        );
    }
}

/// The default of a `serve` flag, from the CLI definition itself.
fn serve_default(flag: &str) -> String {
    use clap::CommandFactory;
    let command = tidb_backup_webhook::cli::Cli::command();
    let serve = command.find_subcommand("serve").expect("serve");
    let arg = serve
        .get_arguments()
        .find(|a| a.get_id() == flag)
        .expect("flag");
    arg.get_default_values()
        .first()
        .and_then(|v| v.to_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn cert_manager_overlay() {
    let objects = kustomize(&Path::new(ROOT).join("manifests/overlays/cert-manager"));
    check_webhook_install(&objects);
    for (config, webhook) in webhooks(&objects) {
        assert_eq!(
            config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            format!("{NAMESPACE}/{SERVICE}"),
            "{}",
            config["metadata"]["name"]
        );
        assert!(
            webhook["clientConfig"].get("caBundle").is_none(),
            "cainjector fills it"
        );
    }
    let certificate = find(&objects, "Certificate", SERVICE);
    assert_eq!(certificate["spec"]["secretName"], "tidb-backup-webhook-tls");
    assert_eq!(
        certificate["spec"]["dnsNames"],
        serde_json::json!([
            "tidb-backup-webhook",
            "tidb-backup-webhook.tidb-admin",
            "tidb-backup-webhook.tidb-admin.svc"
        ])
    );
    assert_eq!(
        find(&objects, "Certificate", "tidb-backup-webhook-ca")["spec"]["isCA"],
        true
    );
}

#[test]
fn self_signed_overlay() {
    let (dir, ca) = tree_with_certs();
    let objects = kustomize(&dir.path().join("manifests/overlays/self-signed"));
    check_webhook_install(&objects);
    let expected = base64::engine::general_purpose::STANDARD.encode(&ca);
    for (_, webhook) in webhooks(&objects) {
        // kustomize wraps Secret data at 76 columns; Go's base64 decoder, which the
        // apiserver uses for caBundle, ignores the line breaks.
        let bundle = webhook["clientConfig"]["caBundle"]
            .as_str()
            .unwrap_or_default()
            .replace('\n', "");
        assert_eq!(bundle, expected, "{}", webhook["name"]);
    }
    let secret = find(&objects, "Secret", "tidb-backup-webhook-tls");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["namespace"], NAMESPACE);
}

#[test]
fn other_kustomizations_render() {
    let crds = kustomize(&Path::new(ROOT).join("manifests/crds"));
    assert_eq!(
        kinds(&crds),
        [
            "CustomResourceDefinition/backups.pingcap.com",
            "CustomResourceDefinition/backupschedules.pingcap.com"
        ]
    );
    let manager = kustomize(&Path::new(ROOT).join("manifests/rbac/backup-manager"));
    assert_eq!(
        kinds(&manager),
        [
            "Role/tidb-backup-manager",
            "RoleBinding/tidb-backup-manager",
            "ServiceAccount/tidb-backup-manager"
        ]
    );
    for object in &manager {
        assert!(
            object["metadata"].get("namespace").is_none(),
            "applied with -n"
        );
        if object["kind"] != "ServiceAccount" {
            assert_eq!(object["apiVersion"], "rbac.authorization.k8s.io/v1");
        }
    }
    // Each component has its own account; the webhook's is checked with the overlays.
    let rbac = kustomize(&Path::new(ROOT).join("manifests/rbac/reconciler"));
    assert_eq!(
        kinds(&rbac)
            .into_iter()
            .filter(|k| k.starts_with("ServiceAccount/"))
            .collect::<Vec<_>>(),
        ["ServiceAccount/tidb-backup-reconciler"]
    );
    for object in &rbac {
        for rule in object["rules"].as_array().into_iter().flatten() {
            let verbs = rule["verbs"].as_array().expect("verbs");
            assert!(
                !verbs.contains(&Value::from("*")),
                "no wildcard verbs: {rule}"
            );
            assert!(
                !rule["resources"]
                    .as_array()
                    .expect("resources")
                    .contains(&Value::from("*")),
                "{rule}"
            );
            // Secrets are read one by one (spec.from's password), never listed.
            if rule["resources"]
                .as_array()
                .is_some_and(|r| r.contains(&Value::from("secrets")))
            {
                assert_eq!(rule["verbs"], serde_json::json!(["get"]), "{rule}");
            }
        }
    }
    let reconciler = kustomize(&Path::new(ROOT).join("manifests/reconciler"));
    let deployment = reconciler
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("reconciler Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    check_hardened(&deployment["spec"]["template"]["spec"]);
}

#[test]
fn committed_webhook_configurations_match_the_generator() {
    let committed = std::fs::read_to_string(
        Path::new(ROOT).join("manifests/webhook/webhook-configurations.yaml"),
    )
    .expect("file");
    assert!(
        committed == webhook_configurations(&Options::default()),
        "manifests/webhook/webhook-configurations.yaml is out of date: run `make manifests`"
    );
    // And with a CA bundle, as `manifests --ca-bundle certs/ca.crt` prints it.
    let with_ca = webhook_configurations(&Options {
        ca_bundle: Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()),
        ..Options::default()
    });
    let docs: Vec<Value> = serde_saphyr::from_multiple(&with_ca).expect("yaml");
    let bundles: Vec<&Value> = docs
        .iter()
        .flat_map(|d| d["webhooks"].as_array().into_iter().flatten())
        .map(|w| &w["clientConfig"]["caBundle"])
        .collect();
    assert_eq!(bundles.len(), 4);
    assert!(bundles.iter().all(|b| *b
        == "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="));
}
