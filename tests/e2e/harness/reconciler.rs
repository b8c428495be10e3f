//! The real reconciler binary (`tidb-backup-webhook reconcile`) on the test cluster,
//! deployed as the project ships it as far as a process on loopback allows.
//!
//! It runs as the shipped `tidb-admin/tidb-backup-reconciler` ServiceAccount with the
//! shipped ClusterRole (`manifests/rbac/reconciler/rbac.yaml`, applied unchanged), through
//! a token (`kubectl create token`), never the administrator's certificate: a verb the
//! shipped RBAC lacks is refused by the apiserver and fails the test (the audit log
//! records every refusal, see [`super::audit`]).
//!
//! Each test runs its own replicas, watching only the test's namespace (`--namespace`), so
//! that tests do not see each other's Backups, metrics or Lease. Their Lease lives in a
//! namespace of its own next to the test's (as `tidb-admin` is next to the Backups' in a
//! cluster), with the shipped Lease Role and RoleBinding applied there: the shipped
//! documents with only `metadata.namespace` changed, as a kustomize `namespace:` would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use super::crds::repository_path;
use super::pki::{self, Credentials};
use super::process::{Process, command, free_port, http_get, wait_for};
use super::webhook::BIN;
use super::{Env, Namespace};

const SERVICE_ACCOUNT: &str = "tidb-backup-reconciler";
const SHIPPED_NAMESPACE: &str = "tidb-admin";
/// The Lease the shipped Role grants (`resourceNames`).
pub const LEASE: &str = "tidb-backup-reconciler";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// What every reconciler of the run shares, installed by the first one.
struct Installed {
    /// A kubeconfig with the ServiceAccount's token.
    kubeconfig: PathBuf,
}

static INSTALLED: OnceLock<Result<Installed, String>> = OnceLock::new();

/// Applies the shipped RBAC and writes the token kubeconfig, once per run.
fn installed(env: &Env) -> &'static Installed {
    INSTALLED
        .get_or_init(|| install(env))
        .as_ref()
        .unwrap_or_else(|e| panic!("installing the reconciler's RBAC failed: {e}"))
}

fn install(env: &Env) -> Result<Installed, String> {
    let dir = env.run_dir().join("reconciler");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let applied = env.kubectl().run(&[
        "apply",
        "-f",
        &repository_path("manifests/rbac/reconciler/rbac.yaml"),
    ]);
    if !applied.status.success() {
        return Err(applied.to_string());
    }
    let token = env.kubectl().run(&[
        "-n",
        SHIPPED_NAMESPACE,
        "create",
        "token",
        SERVICE_ACCOUNT,
        "--duration=24h",
    ]);
    if !token.status.success() {
        return Err(token.to_string());
    }
    let kubeconfig = dir.join("reconciler.kubeconfig");
    let (server, ca_pem) = env.api_server();
    pki::write_kubeconfig(
        &kubeconfig,
        &server,
        &ca_pem,
        &format!("system:serviceaccount:{SHIPPED_NAMESPACE}:{SERVICE_ACCOUNT}"),
        Credentials::Token(token.stdout.trim()),
    )?;
    Ok(Installed { kubeconfig })
}

/// The kubeconfig the reconciler runs with (its ServiceAccount's token), for kube-rs
/// clients in tests that call the reconcile functions in-process with the same rights.
pub fn kubeconfig(env: &Env) -> PathBuf {
    installed(env).kubeconfig.clone()
}

/// One replica: the process and its admin port.
struct Replica {
    process: Process,
    admin_port: u16,
}

/// The reconciler of one test: its replicas (by identity), watching the test's
/// namespace, electing a leader through the Lease in [`Reconcilers::lease_namespace`].
pub struct Reconcilers<'a> {
    env: &'a Env,
    /// The namespace whose Backups and BackupSchedules it reconciles.
    pub namespace: String,
    /// The reconciler's own namespace: the Lease.
    pub lease_namespace: String,
    args: Vec<String>,
    replicas: Mutex<BTreeMap<String, Replica>>,
}

impl<'a> Reconcilers<'a> {
    /// Prepares a reconciler for `namespace` (its Lease namespace with the shipped Lease
    /// Role) whose replicas run `reconcile` with `args` besides the harness's own (the
    /// namespace, the Lease namespace, the identity, the admin port). No replica runs yet.
    pub fn new(env: &'a Env, namespace: &Namespace<'_>, args: &[&str]) -> Self {
        installed(env);
        let lease_namespace = format!("{}-lease", namespace.name);
        env.kubectl().ok(&["create", "namespace", &lease_namespace]);
        let lease_rbac = lease_rbac_in(&lease_namespace);
        env.kubectl()
            .run_with_stdin(&["apply", "-f", "-"], Some(&lease_rbac.to_string()))
            .ok();
        Self {
            env,
            namespace: namespace.name.clone(),
            lease_namespace,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            replicas: Mutex::new(BTreeMap::new()),
        }
    }

    /// A reconciler for `namespace` with one replica, `reconciler-0`, leading.
    pub fn start(env: &'a Env, namespace: &Namespace<'_>, args: &[&str]) -> Self {
        let reconcilers = Self::new(env, namespace, args);
        reconcilers.start_replica("reconciler-0");
        reconcilers.wait_for_leader(|leader| leader == "reconciler-0");
        reconcilers
    }

    /// Starts replica `identity` (again, after it was stopped) and waits until its
    /// `/readyz` answers 200 (Backups can be listed; standby replicas are ready too).
    pub fn start_replica(&self, identity: &str) {
        let admin_port = free_port().unwrap_or_else(|e| panic!("{e}"));
        let log = self
            .env
            .run_dir()
            .join("reconciler")
            .join(format!("{}-{identity}.log", self.namespace));
        let mut cmd = command(BIN);
        cmd.arg("reconcile")
            .arg(format!("--namespace={}", self.namespace))
            .arg(format!("--lease-namespace={}", self.lease_namespace))
            .arg(format!("--identity={identity}"))
            .arg(format!("--admin-listen=127.0.0.1:{admin_port}"))
            .args(&self.args)
            .env("KUBECONFIG", &installed(self.env).kubeconfig)
            // BR's Job gets the reconciler's TZ; the golden Jobs have none.
            .env_remove("TZ")
            .env_remove("RUST_LOG");
        let mut process = Process::spawn(&format!("reconciler {identity}"), cmd, &log)
            .unwrap_or_else(|e| panic!("{e}"));
        wait_for(
            &format!("reconciler {identity}'s /readyz"),
            READY_TIMEOUT,
            &mut [&mut process],
            || Ok(http_get(admin_port, "/readyz").is_ok_and(|(status, _)| status == 200)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let previous = self.lock().insert(
            identity.to_owned(),
            Replica {
                process,
                admin_port,
            },
        );
        assert!(previous.is_none(), "replica {identity} was already running");
    }

    /// Waits until the Lease names a holder that `accept` takes; returns it.
    pub fn wait_for_leader(&self, accept: impl Fn(&str) -> bool) -> String {
        let mut leader = String::new();
        wait_for(
            "a reconciler replica to lead",
            READY_TIMEOUT,
            &mut [],
            || {
                leader = self.lease_holder().unwrap_or_default();
                Ok(!leader.is_empty() && accept(&leader))
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        leader
    }

    /// The Lease as stored (JSON), if it exists.
    pub fn lease(&self) -> Option<Value> {
        let output = self.env.kubectl().run(&[
            "-n",
            &self.lease_namespace,
            "get",
            "lease",
            LEASE,
            "-o",
            "json",
        ]);
        output
            .status
            .success()
            .then(|| serde_json::from_str(&output.stdout).expect("kubectl prints the Lease"))
    }

    /// `spec.holderIdentity` of the Lease.
    pub fn lease_holder(&self) -> Option<String> {
        self.lease()?["spec"]["holderIdentity"]
            .as_str()
            .map(str::to_owned)
    }

    /// The `/metrics` page of replica `identity`.
    pub fn metrics(&self, identity: &str) -> String {
        let port = self.admin_port(identity);
        match http_get(port, "/metrics") {
            Ok((200, body)) => body,
            other => panic!("reconciler {identity}'s /metrics: {other:?}"),
        }
    }

    /// The value of the sample `series` (the whole line up to the value, e.g.
    /// `tidb_backup_reconcile_runs_total`) on replica `identity`'s `/metrics`, 0 when absent.
    pub fn metric(&self, identity: &str, series: &str) -> f64 {
        sample(&self.metrics(identity), series)
    }

    /// `(status, body)` of a GET on replica `identity`'s admin port.
    pub fn admin_get(&self, identity: &str, path: &str) -> Result<(u16, String), String> {
        http_get(self.admin_port(identity), path)
    }

    /// Kills replica `identity` outright (SIGKILL: it cannot give the Lease up).
    pub fn kill(&self, identity: &str) {
        let mut replica = self
            .lock()
            .remove(identity)
            .unwrap_or_else(|| panic!("no replica {identity}"));
        replica.process.kill();
    }

    /// Stops replica `identity` as Kubernetes stops a pod (SIGTERM) and returns how it
    /// exited.
    pub fn terminate(&self, identity: &str) -> std::process::ExitStatus {
        let mut replica = self
            .lock()
            .remove(identity)
            .unwrap_or_else(|| panic!("no replica {identity}"));
        replica
            .process
            .terminate(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("reconciler {identity} did not exit after SIGTERM"))
    }

    /// Every replica's log so far, for a failure message.
    pub fn logs(&self) -> String {
        self.lock()
            .iter()
            .map(|(identity, replica)| {
                format!(
                    "--- reconciler {identity} (end of log) ---\n{}",
                    replica.process.log_tail(40)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Panics with the logs when a replica has exited on its own.
    pub fn assert_running(&self) {
        for (identity, replica) in self.lock().iter_mut() {
            if let Err(e) = replica.process.check_running() {
                panic!("reconciler {identity}: {e}");
            }
        }
    }

    /// The admin port of replica `identity`.
    pub fn admin_port(&self, identity: &str) -> u16 {
        self.lock()
            .get(identity)
            .map(|r| r.admin_port)
            .unwrap_or_else(|| panic!("no replica {identity}"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Replica>> {
        self.replicas.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Reconcilers<'_> {
    fn drop(&mut self) {
        self.lock().clear();
        let _ =
            self.env
                .kubectl()
                .run(&["delete", "namespace", &self.lease_namespace, "--wait=false"]);
    }
}

/// The shipped Role and RoleBinding of the Lease, moved to `namespace` (nothing else
/// changed), as a `v1` List.
fn lease_rbac_in(namespace: &str) -> Value {
    let shipped = std::fs::read_to_string(repository_path("manifests/rbac/reconciler/rbac.yaml"))
        .expect("read manifests/rbac/reconciler/rbac.yaml");
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&shipped).expect("the shipped RBAC parses");
    let items: Vec<Value> = documents
        .into_iter()
        .filter(|d| {
            matches!(d["kind"].as_str(), Some("Role" | "RoleBinding"))
                && d["metadata"]["namespace"] == SHIPPED_NAMESPACE
        })
        .map(|mut d| {
            d["metadata"]["namespace"] = Value::String(namespace.to_owned());
            d
        })
        .collect();
    assert_eq!(items.len(), 2, "the shipped Lease Role and RoleBinding");
    serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items })
}

/// The value of `series` in a Prometheus text page (0 when absent).
pub fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.trim().parse().ok()
        })
        .unwrap_or(0.0)
}
