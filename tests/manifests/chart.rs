//! The Helm chart (`charts/tidb-backup-webhook`), rendered with the real `helm` (built by
//! `make test-deps`): it lints, every rendering passes `kubernetes-validate --strict`,
//! with values equivalent to an overlay it renders that overlay's objects (one source of
//! truth), its webhook configurations follow the generator, its generated certificate
//! serves the Service's names to a real TLS client, and its values schema rejects typos.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use serde_json::{Value, json};
use tidb_backup_webhook::iam::{ClusterRef, Identity, StaticConfig};
use tidb_backup_webhook::manifests::{Options, webhook_configurations};

use super::{ROOT, Server, find, kinds, kustomize, schema_valid, tool, tree_with_certs, webhooks};

const CHART: &str = "charts/tidb-backup-webhook";
const RELEASE: &str = "tidb-backup-webhook";

fn helm(args: &[&str]) -> Output {
    Command::new(tool("helm"))
        .args(args)
        .current_dir(ROOT)
        // No user configuration or repositories of the machine.
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("tidb-backup-webhook-helm"),
        )
        .output()
        .expect("helm runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `helm template` into `namespace` with `--set`-style arguments, schema-checked and parsed.
fn render(namespace: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["template", RELEASE, CHART, "--namespace", namespace];
    all.extend_from_slice(args);
    let output = helm(&all);
    assert!(output.status.success(), "helm {all:?}:\n{}", text(&output));
    let rendered = String::from_utf8(output.stdout).expect("utf-8");
    schema_valid(&rendered, Path::new(&format!("helm template {args:?}")));
    serde_saphyr::from_multiple::<Value>(&rendered)
        .expect("YAML stream")
        .into_iter()
        .filter(|o| !o.is_null())
        .collect()
}

/// What a failed `helm template` says.
fn render_error(args: &[&str]) -> String {
    let mut all = vec!["template", RELEASE, CHART, "--namespace", "tidb-admin"];
    all.extend_from_slice(args);
    let output = helm(&all);
    assert!(!output.status.success(), "helm {all:?} should fail");
    text(&output)
}

fn key(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Differences that are Helm's by design, made equal: the pod annotation that rolls the
/// webhook when its configuration changes, the IAM file's comments (compared parsed),
/// kustomize's line-wrapped base64 in `caBundle`, and the keep policy of the CRDs.
fn normalise(mut object: Value) -> Value {
    drop_annotation(&mut object, "/spec/template/metadata", "checksum/config");
    if object["kind"] == "CustomResourceDefinition" {
        drop_annotation(&mut object, "/metadata", "helm.sh/resource-policy");
    }
    if object["metadata"]["name"] == "tidb-backup-webhook-config" {
        let parsed: Value =
            serde_saphyr::from_str(object["data"]["config.yaml"].as_str().unwrap_or_default())
                .expect("config.yaml parses");
        object["data"]["config.yaml"] = parsed;
    }
    for webhook in object
        .get_mut("webhooks")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(bundle) = webhook
            .pointer_mut("/clientConfig/caBundle")
            .filter(|b| b.is_string())
        {
            *bundle = Value::from(bundle.as_str().unwrap_or_default().replace('\n', ""));
        }
    }
    object
}

/// Removes one annotation of the metadata at `pointer`, and the map when it empties.
fn drop_annotation(object: &mut Value, pointer: &str, key: &str) {
    if let Some(metadata) = object.pointer_mut(pointer).and_then(Value::as_object_mut)
        && let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
    {
        annotations.remove(key);
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }
}

fn by_key(objects: Vec<Value>) -> BTreeMap<String, Value> {
    objects
        .into_iter()
        .map(|o| (key(&o), normalise(o)))
        .collect()
}

/// The chart's objects equal kustomize's, except those kustomize alone renders (`only_in_kustomize`).
fn assert_same_objects(chart: Vec<Value>, kustomized: Vec<Value>, only_in_kustomize: &[&str]) {
    let chart = by_key(chart);
    let mut kustomized = by_key(kustomized);
    for key in only_in_kustomize {
        assert!(
            kustomized.remove(*key).is_some(),
            "{key} is not in the overlay"
        );
    }
    assert_eq!(
        chart.keys().collect::<Vec<_>>(),
        kustomized.keys().collect::<Vec<_>>(),
        "the same objects"
    );
    for (key, object) in &chart {
        let mut differences = Vec::new();
        diff("", object, &kustomized[key], &mut differences);
        assert!(
            differences.is_empty(),
            "{key} differs (chart vs kustomize):\n{}",
            differences.join("\n")
        );
    }
}

/// The paths at which `a` and `b` differ, with both values (at most 20).
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if out.len() >= 20 || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                diff(
                    &format!("{path}/{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}/{i}"), p, q, out);
            }
        }
        _ => out.push(format!("  {path}: {a} vs {b}")),
    }
}

#[test]
fn helm_lint_passes_for_every_certificate_source() {
    for args in [
        vec![],
        vec![
            "--set",
            "certificates.source=generated",
            "--set",
            "reconciler.enabled=true",
            "--set",
            "crds.install=true",
        ],
        vec![
            "--set",
            "certificates.source=existingSecret",
            "--set",
            "certificates.existingSecret.caBundle=x",
        ],
        vec![
            "--set",
            "monitoring.dashboard.enabled=true",
            "--set",
            "monitoring.prometheusRule.enabled=true",
        ],
    ] {
        let mut all = vec!["lint", "--strict", CHART, "--namespace", "tidb-admin"];
        all.extend_from_slice(&args);
        let output = helm(&all);
        let report = text(&output);
        assert!(output.status.success(), "helm {all:?}:\n{report}");
        assert!(
            report.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{report}"
        );
    }
}

/// Default values are the cert-manager overlay, minus the Namespace (`helm install
/// --create-namespace` makes it; an uninstall must not delete it).
#[test]
fn default_values_render_the_cert_manager_overlay() {
    let chart = render("tidb-admin", &[]);
    let overlay = kustomize(&Path::new(ROOT).join("manifests/overlays/cert-manager"));
    assert_same_objects(chart, overlay, &["Namespace/tidb-admin"]);
}

/// An existing Secret with its CA as `caBundle` is the self-signed overlay, minus the
/// Namespace and the Secret the overlay makes from certs/.
#[test]
fn an_existing_secret_renders_the_self_signed_overlay() {
    let (dir, _) = tree_with_certs();
    let overlay = kustomize(&dir.path().join("manifests/overlays/self-signed"));
    let ca = dir.path().join("certs/ca.crt");
    let set_file = format!("certificates.existingSecret.caBundle={}", ca.display());
    let chart = render(
        "tidb-admin",
        &[
            "--set",
            "certificates.source=existingSecret",
            "--set-file",
            &set_file,
        ],
    );
    assert_same_objects(
        chart,
        overlay,
        &["Namespace/tidb-admin", "Secret/tidb-backup-webhook-tls"],
    );
}

/// Standalone: the reconciler (manifests/reconciler) and the CRDs (manifests/crds), kept
/// on uninstall.
#[test]
fn standalone_values_render_the_reconciler_and_the_crds() {
    let chart = render(
        "tidb-admin",
        &[
            "--set",
            "reconciler.enabled=true",
            "--set",
            "crds.install=true",
        ],
    );
    for crd in chart
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"],
            "keep",
            "{}: Backups must survive `helm uninstall`",
            key(crd)
        );
    }
    let webhook_only: Vec<String> = kinds(&render("tidb-admin", &[]));
    let added: Vec<Value> = chart
        .into_iter()
        .filter(|o| !webhook_only.contains(&key(o)))
        .collect();
    let mut expected = kustomize(&Path::new(ROOT).join("manifests/reconciler"));
    expected.extend(kustomize(&Path::new(ROOT).join("manifests/crds")));
    assert_same_objects(added, expected, &[]);
}

/// Dashboard and rules: the objects manifests/monitoring renders.
#[test]
fn monitoring_values_render_manifests_monitoring() {
    let chart = render(
        "tidb-admin",
        &[
            "--set",
            "monitoring.dashboard.enabled=true",
            "--set",
            "monitoring.prometheusRule.enabled=true",
        ],
    );
    let webhook_only: Vec<String> = kinds(&render("tidb-admin", &[]));
    let added: Vec<Value> = chart
        .into_iter()
        .filter(|o| !webhook_only.contains(&key(o)))
        .collect();
    assert_same_objects(
        added,
        kustomize(&Path::new(ROOT).join("manifests/monitoring")),
        &[],
    );
}

/// The chart's files/ are copies of what manifests/ generates and ships.
#[test]
fn chart_files_are_copies_of_the_manifests() {
    for (copy, original, target) in [
        (
            "webhook-configurations.yaml",
            "manifests/webhook/webhook-configurations.yaml",
            "manifests",
        ),
        (
            "alerts.yaml",
            "manifests/monitoring/alerts.yaml",
            "manifests",
        ),
        (
            "dashboard.json",
            "manifests/monitoring/dashboard.json",
            "manifests",
        ),
        (
            "crds/backups.pingcap.com.yaml",
            "manifests/crds/backups.pingcap.com.yaml",
            "crds",
        ),
        (
            "crds/backupschedules.pingcap.com.yaml",
            "manifests/crds/backupschedules.pingcap.com.yaml",
            "crds",
        ),
    ] {
        let read =
            |path: &Path| std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            read(&Path::new(ROOT).join(CHART).join("files").join(copy))
                == read(&Path::new(ROOT).join(original)),
            "{CHART}/files/{copy} differs from {original}: run `make {target}`"
        );
    }
}

/// The webhook configurations are the generator's for the release namespace, with the
/// values' failurePolicy and namespace selection applied, whatever the namespace.
#[test]
fn webhook_configurations_follow_the_generator_in_any_namespace() {
    let objects = render(
        "backup-system",
        &[
            "--set",
            "certificates.source=generated",
            "--set",
            "webhook.failurePolicy=Ignore",
            "--set",
            "webhook.namespaceSelector.matchLabels.team=databases",
            "--set",
            "webhook.namespaceSelector.matchExpressions[0].key=tier",
            "--set",
            "webhook.namespaceSelector.matchExpressions[0].operator=NotIn",
            "--set",
            "webhook.namespaceSelector.matchExpressions[0].values[0]=scratch",
        ],
    );
    let secret = find(&objects, "Secret", "tidb-backup-webhook-tls");
    let ca_pem = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["ca.crt"].as_str().expect("ca.crt"))
        .expect("base64");
    let generated = webhook_configurations(&Options {
        namespace: "backup-system".into(),
        ca_bundle: Some(String::from_utf8(ca_pem).expect("PEM")),
    });
    let mut expected: Vec<Value> = serde_saphyr::from_multiple::<Value>(&generated)
        .expect("generated YAML")
        .into_iter()
        .filter(|o| !o.is_null())
        .collect();
    for config in &mut expected {
        let validating = config["kind"] == "ValidatingWebhookConfiguration";
        for webhook in config["webhooks"].as_array_mut().expect("webhooks") {
            if validating {
                webhook["failurePolicy"] = json!("Ignore");
            }
            let selector = &mut webhook["namespaceSelector"];
            selector["matchLabels"] = json!({"team": "databases"});
            selector["matchExpressions"]
                .as_array_mut()
                .expect("expressions")
                .push(json!({"key": "tier", "operator": "NotIn", "values": ["scratch"]}));
        }
    }
    let rendered: Vec<Value> = objects
        .iter()
        .filter(|o| {
            o["kind"]
                .as_str()
                .is_some_and(|k| k.ends_with("WebhookConfiguration"))
        })
        .cloned()
        .collect();
    assert_same_objects(rendered, expected, &[]);
    assert_eq!(webhooks(&objects).len(), 4);
    // Every namespaced object is in the release namespace.
    for object in &objects {
        if let Some(namespace) = object["metadata"].get("namespace") {
            assert_eq!(namespace, "backup-system", "{}", key(object));
        }
    }
    assert_eq!(
        find(&objects, "ClusterRoleBinding", "tidb-backup-webhook")["subjects"][0]["namespace"],
        "backup-system"
    );
}

/// The certificate Helm generates, served by the real server, passes a real TLS client
/// that trusts only the webhooks' caBundle, for each of the Service's names.
#[test]
fn the_generated_certificate_serves_the_service_names() {
    let objects = render("backup-system", &["--set", "certificates.source=generated"]);
    let secret = find(&objects, "Secret", "tidb-backup-webhook-tls");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let decode = |key: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"][key].as_str().expect("key"))
            .expect("base64")
    };
    for (_, webhook) in webhooks(&objects) {
        assert_eq!(
            webhook["clientConfig"]["caBundle"], secret["data"]["ca.crt"],
            "{}",
            webhook["name"]
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for file in ["tls.crt", "tls.key"] {
        std::fs::write(dir.path().join(file), decode(file)).expect("write");
    }
    let cert = dir.path().join("tls.crt");
    let key = dir.path().join("tls.key");
    let server = Server::start(&[
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ]);
    let ca = decode("ca.crt");
    for name in [
        "tidb-backup-webhook",
        "tidb-backup-webhook.backup-system",
        "tidb-backup-webhook.backup-system.svc",
    ] {
        handshake(&server, &ca, name).unwrap_or_else(|e| panic!("TLS handshake as {name}: {e}"));
    }
    // A name the certificate does not carry is refused.
    let error = handshake(&server, &ca, "tidb-backup-webhook.tidb-admin.svc")
        .expect_err("another namespace's name");
    assert!(
        error.contains("certificate not valid for name \"tidb-backup-webhook.tidb-admin.svc\""),
        "{error}"
    );
}

/// A TLS handshake with `server` as a client that trusts only `ca` (PEM) and asks for
/// `name` (a DNS name or an IP address).
fn handshake(server: &Server, ca: &[u8], name: &str) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    for der in rustls::pki_types::CertificateDer::pem_slice_iter(ca) {
        roots.add(der.expect("CA PEM")).expect("CA");
    }
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).expect("name");
    let mut connection = rustls::ClientConnection::new(config, server_name).expect("client");
    let mut socket = std::net::TcpStream::connect(server.https).expect("connect");
    connection
        .complete_io(&mut socket)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `webhook.url`: every webhook is called there, on its own path, instead of the
/// Service; the generated certificate (served by the real server) and cert-manager's
/// Certificate also name the URL's host.
#[test]
fn webhook_url_replaces_the_service() {
    let by_service = render("tidb-admin", &[]);
    let objects = render(
        "tidb-admin",
        &[
            "--set",
            "certificates.source=generated",
            "--set",
            "webhook.url=https://127.0.0.1:9443",
        ],
    );
    let paths: Vec<&Value> = webhooks(&by_service)
        .iter()
        .map(|(_, w)| &w["clientConfig"]["service"]["path"])
        .collect();
    let urls: Vec<String> = webhooks(&objects)
        .iter()
        .map(|(_, w)| {
            assert!(w["clientConfig"]["service"].is_null(), "{}", w["name"]);
            assert!(w["clientConfig"]["caBundle"].is_string(), "{}", w["name"]);
            w["clientConfig"]["url"].as_str().expect("url").to_owned()
        })
        .collect();
    assert_eq!(urls.len(), paths.len());
    for (url, path) in urls.iter().zip(&paths) {
        assert_eq!(
            *url,
            format!("https://127.0.0.1:9443{}", path.as_str().expect("path"))
        );
    }
    let secret = find(&objects, "Secret", "tidb-backup-webhook-tls");
    let decode = |key: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"][key].as_str().expect("key"))
            .expect("base64")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    for file in ["tls.crt", "tls.key"] {
        std::fs::write(dir.path().join(file), decode(file)).expect("write");
    }
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let server = Server::start(&[
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ]);
    for name in ["127.0.0.1", "tidb-backup-webhook.tidb-admin.svc"] {
        handshake(&server, &decode("ca.crt"), name)
            .unwrap_or_else(|e| panic!("TLS handshake as {name}: {e}"));
    }

    for (url, field, host) in [
        ("https://10.1.2.3:8443", "ipAddresses", "10.1.2.3"),
        (
            "https://webhook.example.com",
            "dnsNames",
            "webhook.example.com",
        ),
    ] {
        let objects = render("tidb-admin", &["--set", &format!("webhook.url={url}")]);
        let certificate = find(&objects, "Certificate", "tidb-backup-webhook");
        let names = certificate["spec"][field].as_array().expect(field);
        assert!(names.contains(&json!(host)), "{url}: {certificate}");
    }
}

/// Values reach the objects: image, replicas, resources, scheduling, IAM (read back with
/// the server's own configuration loader), extra flags and the reconciler's settings.
#[test]
fn values_are_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let values = dir.path().join("values.yaml");
    std::fs::File::create(&values)
        .and_then(|mut f| {
            f.write_all(
                br#"
image: {repository: registry.example.com/tidb-backup-webhook, tag: "0.2.0", pullPolicy: Always}
imagePullSecrets: [{name: registry}]
webhook:
  replicas: 3
  podDisruptionBudget: {minAvailable: 2}
  resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
  logFormat: text
  extraArgs: [--max-in-flight=512]
  nodeSelector: {kubernetes.io/os: linux}
  tolerations: [{key: dedicated, operator: Equal, value: system, effect: NoSchedule}]
  priorityClassName: system-cluster-critical
iam:
  roles:
    - {namespace: test1, cluster: demo1, role: user}
    - {namespace: test2, cluster: demo2, serviceAccount: tidb-backup-manager}
  baseRoleArn: "arn:aws:iam::123456789012:role/"
  injectServiceAccount: false
reconciler:
  enabled: true
  replicas: 1
  brImage: pingcap/br:v8.5.0
  timezone: Asia/Shanghai
"#,
            )
        })
        .expect("values file");
    let objects = render("tidb-admin", &["--values", values.to_str().expect("utf-8")]);
    let webhook = find(&objects, "Deployment", "tidb-backup-webhook");
    let pod = &webhook["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(webhook["spec"]["replicas"], 3);
    assert_eq!(
        find(&objects, "PodDisruptionBudget", "tidb-backup-webhook")["spec"]["minAvailable"],
        2
    );
    assert_eq!(
        container["image"],
        "registry.example.com/tidb-backup-webhook:0.2.0"
    );
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "registry"}]));
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}})
    );
    assert_eq!(
        container["args"],
        json!([
            "serve",
            "--tls-cert=/tls/tls.crt",
            "--tls-key=/tls/tls.key",
            "--config=/etc/tidb-backup-webhook/config.yaml",
            "--log-format=text",
            "--shutdown-delay=2s",
            "--base-role-arn=arn:aws:iam::123456789012:role/",
            "--inject-service-account=false",
            "--max-in-flight=512"
        ])
    );
    assert!(
        webhook["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            .as_str()
            .is_some_and(|c| c.len() == 64),
        "a configuration change rolls the pods"
    );

    // The rendered IAM file, loaded as `serve --config --base-role-arn` loads it.
    let config = find(&objects, "ConfigMap", "tidb-backup-webhook-config");
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        config["data"]["config.yaml"].as_str().expect("config.yaml"),
    )
    .expect("write");
    let loaded = StaticConfig::load(&[], Some(&file), Some("arn:aws:iam::123456789012:role/"))
        .expect("the server accepts the rendered configuration");
    let cluster = |namespace: &str, name: &str| ClusterRef {
        namespace: namespace.into(),
        name: name.into(),
    };
    assert_eq!(
        loaded
            .get(&cluster("test1", "demo1"))
            .and_then(|i| i.role.as_deref()),
        Some("arn:aws:iam::123456789012:role/user")
    );
    assert_eq!(
        loaded
            .get(&cluster("test2", "demo2"))
            .and_then(|i: &Identity| i.service_account.as_deref()),
        Some("tidb-backup-manager")
    );

    let reconciler = find(&objects, "Deployment", "tidb-backup-reconciler");
    assert_eq!(reconciler["spec"]["replicas"], 1);
    let container = &reconciler["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        "registry.example.com/tidb-backup-webhook:0.2.0"
    );
    let env: BTreeMap<&str, &str> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    assert_eq!(env["RECONCILER_BR_IMAGE"], "pingcap/br:v8.5.0");
    assert_eq!(
        env["RECONCILER_RUNNER_IMAGE"], "registry.example.com/tidb-backup-webhook:0.2.0",
        "clean Jobs run the chart's image"
    );
    assert_eq!(env["RECONCILER_TIMEZONE"], "Asia/Shanghai");
    assert_eq!(
        reconciler["spec"]["template"]["spec"]["imagePullSecrets"],
        json!([{"name": "registry"}])
    );
}

/// A typo or a wrong value fails at `helm install`, naming the value.
#[test]
fn the_values_schema_rejects_mistakes() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["--set", "webhook.replica=3"],
            "at '/webhook': additional properties 'replica' not allowed",
        ),
        (
            &["--set", "certificates.source=self-signed"],
            "at '/certificates/source': value must be one of 'cert-manager', 'generated', 'existingSecret'",
        ),
        (
            &["--set", "webhook.failurePolicy=fail"],
            "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'",
        ),
        (
            &[
                "--set",
                "iam.roles[0].namespace=test1",
                "--set",
                "iam.roles[0].cluster=demo1",
            ],
            "at '/iam/roles/0': missing property 'role'",
        ),
        (
            &[
                "--set",
                "iam.roles[0].namespace=test1",
                "--set",
                "iam.roles[0].cluster=demo1",
                "--set",
                "iam.roles[0].rol=x",
            ],
            "at '/iam/roles/0': additional properties 'rol' not allowed",
        ),
        (
            &["--set", "webhook.extraArgs[0]=max-in-flight=5"],
            "at '/webhook/extraArgs/0'",
        ),
        (
            &["--set", "webhook.url=http://127.0.0.1:9443"],
            "at '/webhook/url': 'http://127.0.0.1:9443' does not match pattern",
        ),
        (
            &["--set", "webhook.url=https://127.0.0.1:9443/mutate"],
            "at '/webhook/url': 'https://127.0.0.1:9443/mutate' does not match pattern",
        ),
    ];
    for (args, message) in cases {
        let error = render_error(args);
        assert!(error.contains(message), "{args:?}: {error}");
    }
    // An existing Secret needs its CA; helm template cannot read it from the cluster.
    let error = render_error(&["--set", "certificates.source=existingSecret"]);
    assert!(
        error.contains("certificates.existingSecret.caBundle is empty and Secret tidb-admin/tidb-backup-webhook-tls has no ca.crt to read: pass the CA with --set-file certificates.existingSecret.caBundle=ca.crt"),
        "{error}"
    );
}
