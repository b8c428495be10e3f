//! The real webhook binary on loopback, registered with the apiserver through the
//! configurations the project ships.
//!
//! It runs as the shipped `tidb-backup-webhook` ServiceAccount with the shipped
//! ClusterRole (a token, not the administrator's certificate), serves the certificate
//! `tidb-backup-webhook certs` makes for 127.0.0.1, and its configurations are the output
//! of `tidb-backup-webhook manifests --ca-bundle` with one change: `clientConfig.service`
//! (the in-cluster Service) becomes `clientConfig.url` on loopback. Selectors,
//! failurePolicy, timeouts and rules stay as shipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::crds::repository_path;
use super::kubectl::Kubectl;
use super::pki::{self, Credentials};
use super::process::{Process, command, free_port, http_get, wait_for};

pub const BIN: &str = env!("CARGO_BIN_EXE_tidb-backup-webhook");

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The Service the shipped configurations point at.
const SERVICE: (&str, &str, i64) = ("tidb-backup-webhook", "tidb-admin", 443);

pub struct WebhookServer {
    process: Mutex<Option<Process>>,
    command: Vec<String>,
    kubeconfig: PathBuf,
    log: PathBuf,
    admin_port: u16,
    /// The configurations as registered (a `v1` List, JSON).
    configurations: Value,
    kubectl: Kubectl,
}

impl WebhookServer {
    /// Installs the webhook's namespace and RBAC, starts the binary with `args` and
    /// `config` (the `--config` file's contents) and registers its configurations.
    pub fn start(
        dir: &Path,
        admin: &Kubectl,
        server: &str,
        ca_pem: &str,
        args: &[String],
        config: &str,
    ) -> Result<Self, String> {
        let dir = dir.join("webhook");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let output = admin.run(&[
            "apply",
            "-f",
            &repository_path("manifests/webhook/namespace.yaml"),
            "-f",
            &repository_path("manifests/rbac/webhook/rbac.yaml"),
        ]);
        if !output.status.success() {
            return Err(format!(
                "installing the webhook's namespace and RBAC failed:\n{output}"
            ));
        }
        let token = admin.run(&[
            "-n",
            "tidb-admin",
            "create",
            "token",
            "tidb-backup-webhook",
            "--duration=24h",
        ]);
        if !token.status.success() {
            return Err(format!(
                "no token for the webhook's ServiceAccount:\n{token}"
            ));
        }
        let kubeconfig = dir.join("webhook.kubeconfig");
        pki::write_kubeconfig(
            &kubeconfig,
            server,
            ca_pem,
            "system:serviceaccount:tidb-admin:tidb-backup-webhook",
            Credentials::Token(token.stdout.trim()),
        )?;

        let tls = dir.join("tls");
        run_webhook_command(&[
            "certs",
            "--out",
            &tls.display().to_string(),
            "--dns",
            "127.0.0.1",
            "--days",
            "1",
        ])?;
        let config_file = dir.join("config.yaml");
        std::fs::write(&config_file, config)
            .map_err(|e| format!("{}: {e}", config_file.display()))?;

        let port = free_port()?;
        let admin_port = free_port()?;
        let mut command = vec![
            "serve".to_owned(),
            format!("--tls-cert={}", tls.join("tls.crt").display()),
            format!("--tls-key={}", tls.join("tls.key").display()),
            format!("--listen=127.0.0.1:{port}"),
            format!("--admin-listen=127.0.0.1:{admin_port}"),
            format!("--config={}", config_file.display()),
        ];
        command.extend_from_slice(args);
        let rendered = run_webhook_command(&[
            "manifests",
            "--ca-bundle",
            &tls.join("ca.crt").display().to_string(),
        ])?;
        let configurations = on_loopback(&rendered, port)?;
        let webhook = Self {
            process: Mutex::new(None),
            command,
            kubeconfig,
            log: dir.join("webhook.log"),
            admin_port,
            configurations,
            kubectl: admin.clone(),
        };
        webhook.start_process()?;
        webhook.register()?;
        Ok(webhook)
    }

    /// Starts the binary (again) on the same ports and waits until `/readyz` answers 200
    /// (certificate loaded, IAM watch cache synced).
    pub fn start_process(&self) -> Result<(), String> {
        let mut slot = self.process.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return Ok(());
        }
        let mut cmd = command(BIN);
        cmd.args(&self.command).env("KUBECONFIG", &self.kubeconfig);
        let mut process = Process::spawn("tidb-backup-webhook", cmd, &self.log)?;
        let admin_port = self.admin_port;
        wait_for(
            "the webhook's /readyz",
            READY_TIMEOUT,
            &mut [&mut process],
            || Ok(http_get(admin_port, "/readyz").is_ok_and(|(status, _)| status == 200)),
        )?;
        *slot = Some(process);
        Ok(())
    }

    /// Kills the binary; [`Stopped`] starts it again when dropped.
    pub fn stop(&self) -> Stopped<'_> {
        if let Some(mut process) = self
            .process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            process.kill();
        }
        Stopped { webhook: self }
    }

    /// Applies the configurations and waits until the apiserver calls the webhook for
    /// Backups (both configurations) and pods.
    pub fn register(&self) -> Result<(), String> {
        let output = self.kubectl.run_with_stdin(
            &["apply", "-f", "-"],
            Some(&self.configurations.to_string()),
        );
        if !output.status.success() {
            return Err(format!(
                "registering the webhook configurations failed:\n{output}"
            ));
        }
        wait_for(
            "the webhook configurations to take effect",
            READY_TIMEOUT,
            &mut [],
            || match self.probe_backup()? {
                (false, _, _) => Err("a dry-run Backup is not defaulted yet".into()),
                (_, false, invalid) => Err(format!(
                    "an invalid dry-run Backup is not denied yet:\n{invalid}"
                )),
                (true, true, _) if !self.probe_pod_reaches_webhook()? => {
                    Err("a dry-run TiKV pod does not reach the webhook yet".into())
                }
                (true, true, _) => Ok(true),
            },
        )
    }

    /// Deletes the configurations and waits until the apiserver no longer calls the
    /// webhook; [`Unregistered`] registers them again when dropped.
    pub fn unregister(&self) -> Unregistered<'_> {
        self.kubectl.ok(&[
            "delete",
            "mutatingwebhookconfiguration/tidb-backup-webhook",
            "mutatingwebhookconfiguration/tidb-backup-webhook-pods",
            "validatingwebhookconfiguration/tidb-backup-webhook",
        ]);
        let unregistered = Unregistered { webhook: self };
        wait_for(
            "the webhook configurations to be gone",
            READY_TIMEOUT,
            &mut [],
            || {
                let (defaulted, denied, _) = self.probe_backup()?;
                Ok(!defaulted && !denied)
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        unregistered
    }

    /// The kubeconfig the webhook runs with (its ServiceAccount's token).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The `admission review answered` lines the webhook has logged for the object
    /// `namespace/name` (what it saw and did: path, operation, allowed, mutated).
    pub fn reviews_logged(&self, namespace: &str, name: &str) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let (namespace, name) = (
            format!(" namespace=\"{namespace}\" "),
            format!(" name=\"{name}\" "),
        );
        log.lines()
            .filter(|line| {
                line.contains("admission review answered")
                    && line.contains(&namespace)
                    && line.contains(&name)
            })
            .map(str::to_owned)
            .collect()
    }

    /// The webhook's Prometheus metrics.
    pub fn metrics(&self) -> String {
        match http_get(self.admin_port, "/metrics") {
            Ok((200, body)) => body,
            other => panic!("the webhook's /metrics: {other:?}"),
        }
    }

    /// Reviews the webhook has answered for `kind` (all paths, operations and answers).
    pub fn reviews_of(&self, kind: &str) -> u64 {
        count_reviews(&self.metrics(), kind)
    }

    /// Server-side dry runs of Backups in `default`: (is a valid one defaulted, is an
    /// invalid one denied), and what kubectl printed for the invalid one.
    fn probe_backup(&self) -> Result<(bool, bool, String), String> {
        let backup = |name: &str, acl: &str| {
            json!({
                "apiVersion": "pingcap.com/v1alpha1",
                "kind": "Backup",
                "metadata": { "name": name, "namespace": "default" },
                "spec": {
                    "br": { "cluster": "probe" },
                    "s3": { "provider": "aws", "region": "us-west-1", "bucket": "probe", "prefix": "probe", "acl": acl },
                },
            })
            .to_string()
        };
        let valid = self.kubectl.run_with_stdin(
            &["create", "--dry-run=server", "-o", "json", "-f", "-"],
            Some(&backup("probe-valid", "private")),
        );
        if !valid.status.success() {
            // The validating configuration may be active while the webhook restarts.
            return Err(format!("probe Backup refused:\n{valid}"));
        }
        // A default of the webhook's own (TiDB Operator's CRDs default cleanPolicy too).
        let defaulted = valid.stdout.contains("\"storageClass\": \"STANDARD_IA\"");
        let invalid = self.kubectl.run_with_stdin(
            &["create", "--dry-run=server", "-f", "-"],
            Some(&backup("probe-invalid", "Private")),
        );
        // kubectl words a denial with field causes as `The Backup "NAME" is invalid: ...`;
        // the suggestion is the webhook's own.
        let denied = !invalid.status.success()
            && invalid
                .stderr
                .contains("The Backup \"probe-invalid\" is invalid: ")
            && invalid
                .stderr
                .contains("spec.s3.acl: unsupported value \"Private\": did you mean \"private\"?");
        Ok((defaulted, denied, invalid.to_string()))
    }

    /// Whether a dry-run TiKV pod in `default` reaches the webhook (its review counter
    /// moves).
    fn probe_pod_reaches_webhook(&self) -> Result<bool, String> {
        let before = self.reviews_of("Pod");
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "probe-tikv",
                "namespace": "default",
                "labels": {
                    "app.kubernetes.io/component": "tikv",
                    "app.kubernetes.io/managed-by": "tidb-operator",
                    "app.kubernetes.io/instance": "probe",
                },
            },
            "spec": { "containers": [{ "name": "tikv", "image": "pingcap/tikv:v8.5.0" }] },
        });
        let output = self.kubectl.run_with_stdin(
            &["create", "--dry-run=server", "-f", "-"],
            Some(&pod.to_string()),
        );
        if !output.status.success() {
            return Err(format!("probe pod refused:\n{output}"));
        }
        Ok(self.reviews_of("Pod") > before)
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        if let Some(mut process) = self
            .process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            process.kill();
        }
    }
}

/// The webhook process is stopped while this lives.
pub struct Stopped<'a> {
    webhook: &'a WebhookServer,
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.webhook.start_process() {
            fail_in_drop(&format!("restarting the webhook failed: {e}"));
        }
    }
}

/// The webhook configurations are deleted while this lives.
pub struct Unregistered<'a> {
    webhook: &'a WebhookServer,
}

impl Unregistered<'_> {
    /// Registers the configurations again now (instead of on drop).
    pub fn register(self) {
        drop(self);
    }
}

impl Drop for Unregistered<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.webhook.register() {
            fail_in_drop(&format!("registering the webhook again failed: {e}"));
        }
    }
}

/// Fails the test, unless it is already failing (a second panic would abort the test
/// binary before it tears the environment down).
fn fail_in_drop(message: &str) {
    if std::thread::panicking() {
        eprintln!("e2e: {message}");
    } else {
        panic!("{message}");
    }
}

fn run_webhook_command(args: &[&str]) -> Result<String, String> {
    let output = Command::new(BIN)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "tidb-backup-webhook {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The rendered configurations (multi-document YAML) as a `v1` List, each webhook's
/// `clientConfig.service` replaced by the same path on `https://127.0.0.1:PORT`. Anything
/// else in them is kept as rendered.
pub fn on_loopback(rendered: &str, port: u16) -> Result<Value, String> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(rendered)
        .map_err(|e| format!("the rendered webhook configurations do not parse: {e}"))?;
    let mut items = Vec::new();
    for mut document in documents.into_iter().filter(|d| !d.is_null()) {
        let webhooks = document
            .get_mut("webhooks")
            .and_then(Value::as_array_mut)
            .ok_or("a rendered configuration has no webhooks")?;
        for webhook in webhooks {
            let client = webhook
                .get_mut("clientConfig")
                .and_then(Value::as_object_mut)
                .ok_or("a webhook without clientConfig")?;
            let service = client
                .remove("service")
                .ok_or_else(|| "a webhook's clientConfig has no service".to_owned())?;
            let actual = (
                service["name"].as_str().unwrap_or_default(),
                service["namespace"].as_str().unwrap_or_default(),
                service["port"].as_i64().unwrap_or(443),
            );
            if actual != SERVICE {
                return Err(format!(
                    "a webhook points at {service}, not the shipped Service"
                ));
            }
            let path = service["path"].as_str().unwrap_or("/");
            client.insert(
                "url".into(),
                json!(format!("https://127.0.0.1:{port}{path}")),
            );
        }
        items.push(document);
    }
    Ok(json!({ "apiVersion": "v1", "kind": "List", "items": items }))
}

/// Sums `tidb_backup_webhook_requests_total` over the series of `kind`.
fn count_reviews(metrics: &str, kind: &str) -> u64 {
    let label = format!("kind=\"{kind}\"");
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("tidb_backup_webhook_requests_total{") && line.contains(&label)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
