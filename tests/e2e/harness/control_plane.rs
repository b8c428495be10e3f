//! etcd, kube-apiserver and kube-controller-manager on loopback, built by
//! `make test-deps` into `.tools/bin/` from the Go modules in tools/control-plane.
//!
//! Configured like a kubeadm cluster where it matters to the tests: client-certificate
//! and service-account-token authentication, Node and RBAC authorization, the default
//! admission plugins plus NodeRestriction, and the controller manager with per-controller
//! service-account credentials. No kubelet, scheduler or job controller: pods stay
//! Pending, and tests write Job status themselves.
//!
//! The apiserver writes an audit log of the requests the reconciler's ServiceAccount
//! makes ([`AUDITED_USER`], request bodies included): tests read from it what the
//! reconciler asked for, in which order, and what the apiserver answered.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::kubectl::Kubectl;
use super::pki::{self, Credentials, Pki};
use super::process::{Process, command, free_port, http_get, wait_for};

/// Controllers the tests rely on; everything else (the job controller in particular)
/// stays off.
const CONTROLLERS: &[&str] = &[
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
];

const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The user whose requests the audit log records: the reconciler's ServiceAccount.
pub const AUDITED_USER: &str = "system:serviceaccount:tidb-admin:tidb-backup-reconciler";

/// One audit event per request (at its end), with the request body, for
/// [`AUDITED_USER`] only.
fn audit_policy() -> String {
    format!(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\n\
         rules:\n- level: Request\n  users: [\"{AUDITED_USER}\"]\n- level: None\n"
    )
}

pub struct ControlPlane {
    // Dropped (killed) in this order: the controller manager, the apiserver, etcd.
    controller_manager: Process,
    apiserver: Process,
    etcd: Process,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    pub ca_pem: String,
    /// The apiserver's audit log (JSON lines; see [`AUDITED_USER`]).
    pub audit_log: PathBuf,
}

/// Where the binaries are: `.tools/bin/` of this repository.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin")
}

/// `.tools/bin/NAME`, or an error telling how to build it.
pub fn binary(name: &str) -> Result<PathBuf, String> {
    let path = bin_dir().join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `make test-deps` (it builds etcd, kube-apiserver, \
             kube-controller-manager and kubectl from tools/control-plane/)",
            path.display()
        ))
    }
}

impl ControlPlane {
    /// Starts the three components with their files under `dir` and waits until the
    /// apiserver is ready and the controller manager has created the `default`
    /// namespace's service account. Writes the administrator's kubeconfig
    /// (`system:masters`) where `admin` reads it.
    pub fn start(dir: &Path, admin: &Kubectl) -> Result<Self, String> {
        let etcd_bin = binary("etcd")?;
        let apiserver_bin = binary("kube-apiserver")?;
        let controller_manager_bin = binary("kube-controller-manager")?;
        let pki = Pki::generate(&dir.join("pki"))?;
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

        let (etcd_port, mut etcd) = start_etcd(&etcd_bin, dir, &logs)?;

        let port = free_port()?;
        let server = format!("https://127.0.0.1:{port}");
        pki::write_kubeconfig(
            admin.kubeconfig(),
            &server,
            &pki.ca_pem,
            "e2e-admin",
            Credentials::Certificate(&pki.admin),
        )?;
        let audit_log = logs.join("audit.log");
        let mut apiserver = start_apiserver(
            &apiserver_bin,
            &pki,
            port,
            etcd_port,
            dir,
            &logs,
            &audit_log,
        )?;
        wait_for(
            "kube-apiserver /readyz",
            START_TIMEOUT,
            &mut [&mut etcd, &mut apiserver],
            || readyz(admin),
        )?;

        let controller_manager_kubeconfig = dir.join("kube-controller-manager.kubeconfig");
        pki::write_kubeconfig(
            &controller_manager_kubeconfig,
            &server,
            &pki.ca_pem,
            "system:kube-controller-manager",
            Credentials::Certificate(&pki.controller_manager),
        )?;
        let mut controller_manager = Process::spawn(
            "kube-controller-manager",
            {
                let mut cmd = command(&controller_manager_bin);
                cmd.args(controller_manager_args(
                    &pki,
                    &controller_manager_kubeconfig,
                ));
                cmd
            },
            &logs.join("kube-controller-manager.log"),
        )?;
        wait_for(
            "kube-controller-manager (the default ServiceAccount of namespace default)",
            START_TIMEOUT,
            &mut [&mut etcd, &mut apiserver, &mut controller_manager],
            || default_service_account_exists(admin),
        )?;

        Ok(Self {
            controller_manager,
            apiserver,
            etcd,
            server,
            ca_pem: pki.ca_pem.clone(),
            audit_log,
        })
    }

    /// An error naming the component that has exited, with the end of its log.
    pub fn check_running(&mut self) -> Result<(), String> {
        self.etcd.check_running()?;
        self.apiserver.check_running()?;
        self.controller_manager.check_running()
    }

    /// The end of each component's log, for a failure message.
    pub fn log_tails(&self, lines: usize) -> String {
        [&self.etcd, &self.apiserver, &self.controller_manager]
            .iter()
            .map(|p| format!("--- {} (end of log) ---\n{}", p.name(), p.log_tail(lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// etcd on two free ports (clients, peers), data in `dir/etcd`; (client port, process).
fn start_etcd(bin: &Path, dir: &Path, logs: &Path) -> Result<(u16, Process), String> {
    let client_port = free_port()?;
    let peer_port = free_port()?;
    let client_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut cmd = command(bin);
    cmd.arg("--name=e2e")
        .arg(format!("--data-dir={}", dir.join("etcd").display()))
        .arg(format!("--listen-client-urls={client_url}"))
        .arg(format!("--advertise-client-urls={client_url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=e2e={peer_url}"))
        // Test data: no fsync, as envtest runs it.
        .arg("--unsafe-no-fsync=true")
        .arg("--log-level=warn");
    let mut etcd = Process::spawn("etcd", cmd, &logs.join("etcd.log"))?;
    wait_for("etcd /health", START_TIMEOUT, &mut [&mut etcd], || {
        let (status, body) = http_get(client_port, "/health")?;
        Ok(status == 200 && body.contains("\"health\":\"true\""))
    })?;
    Ok((client_port, etcd))
}

fn start_apiserver(
    bin: &Path,
    pki: &Pki,
    port: u16,
    etcd_port: u16,
    dir: &Path,
    logs: &Path,
    audit_log: &Path,
) -> Result<Process, String> {
    let path = |p: &Path| p.display().to_string();
    let policy = dir.join("audit-policy.yaml");
    std::fs::write(&policy, audit_policy()).map_err(|e| format!("{}: {e}", policy.display()))?;
    let mut cmd = command(bin);
    cmd.args([
        "--bind-address=127.0.0.1".to_owned(),
        "--advertise-address=127.0.0.1".to_owned(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", path(&dir.join("apiserver-certs"))),
        format!("--tls-cert-file={}", path(&pki.apiserver.cert)),
        format!("--tls-private-key-file={}", path(&pki.apiserver.key)),
        format!("--client-ca-file={}", path(&pki.ca_cert)),
        format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
        "--authorization-mode=Node,RBAC".to_owned(),
        // The default plugins (NamespaceLifecycle, ServiceAccount, PodSecurity, the
        // admission webhooks, ...) plus the one kubeadm adds.
        "--enable-admission-plugins=NodeRestriction".to_owned(),
        "--allow-privileged=true".to_owned(),
        "--service-cluster-ip-range=10.96.0.0/16".to_owned(),
        format!(
            "--service-account-key-file={}",
            path(&pki.service_account_public_key)
        ),
        format!(
            "--service-account-signing-key-file={}",
            path(&pki.service_account_key)
        ),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
        // A loopback address cannot be the `kubernetes` Service's endpoint.
        "--endpoint-reconciler-type=none".to_owned(),
        format!("--audit-policy-file={}", path(&policy)),
        format!("--audit-log-path={}", path(audit_log)),
        "--audit-log-format=json".to_owned(),
        // Each event is written as its request ends (no batching).
        "--audit-log-mode=blocking".to_owned(),
        "--v=1".to_owned(),
    ]);
    Process::spawn("kube-apiserver", cmd, &logs.join("kube-apiserver.log"))
}

fn controller_manager_args(pki: &Pki, kubeconfig: &Path) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    vec![
        format!("--kubeconfig={}", path(kubeconfig)),
        format!("--authentication-kubeconfig={}", path(kubeconfig)),
        format!("--authorization-kubeconfig={}", path(kubeconfig)),
        "--bind-address=127.0.0.1".to_owned(),
        // No serving port: readiness is observed through what the controllers do.
        "--secure-port=0".to_owned(),
        format!("--controllers={}", CONTROLLERS.join(",")),
        format!("--root-ca-file={}", path(&pki.ca_cert)),
        format!(
            "--service-account-private-key-file={}",
            path(&pki.service_account_key)
        ),
        "--use-service-account-credentials=true".to_owned(),
        // One replica: no election wait at start-up.
        "--leader-elect=false".to_owned(),
        "--v=1".to_owned(),
    ]
}

/// `kubectl get --raw /readyz` as the administrator.
fn readyz(admin: &Kubectl) -> Result<bool, String> {
    let output = admin.run(&["get", "--raw", "/readyz"]);
    if output.status.success() {
        Ok(output.stdout.trim() == "ok")
    } else {
        Err(output.stderr.trim().to_owned())
    }
}

fn default_service_account_exists(admin: &Kubectl) -> Result<bool, String> {
    let output = admin.run(&[
        "-n",
        "default",
        "get",
        "serviceaccount",
        "default",
        "-o",
        "name",
    ]);
    if output.status.success() {
        Ok(true)
    } else {
        Err(output.stderr.trim().to_owned())
    }
}
