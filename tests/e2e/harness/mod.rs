//! The end-to-end harness: one control plane per phase of the test binary (one per CRD
//! shape), started before the phase's first test and always torn down after its last.
//!
//! `run_phases` runs the phases one after the other. Each starts etcd, kube-apiserver
//! and kube-controller-manager (`control_plane`), installs its CRD set (`crds`), starts
//! and registers the webhook (`webhook`), runs its tests with libtest-mimic (each in its
//! own thread, panics caught), then drops the environment: every process is killed and
//! the temporary directory removed, whatever the tests did. When the environment cannot
//! start, every test of the phase fails with the reason; nothing is skipped. When none of
//! a phase's tests is selected (`--list`, a filter matching none of them), nothing is
//! started for it.
//!
//! Tests that change what every test sees (stopping the webhook, unregistering it) are
//! marked `cluster_wide` and run alone; the others run in parallel, each in a namespace
//! of its own.

pub mod audit;
pub mod control_plane;
pub mod crds;
pub mod kubectl;
pub mod kubelet;
pub mod pki;
pub mod process;
pub mod reconciler;
pub mod webhook;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Conclusion, Failed, Trial};

use control_plane::ControlPlane;
use crds::CrdSet;
use kubectl::Kubectl;
use webhook::WebhookServer;

/// What a run is configured with.
pub struct Settings {
    pub crds: CrdSet,
    /// Extra arguments of `tidb-backup-webhook serve` (such as `--iam-role`).
    pub webhook_args: Vec<String>,
    /// The webhook's `--config` file (static IAM configuration).
    pub webhook_config: String,
}

/// One end-to-end test.
pub struct Test {
    pub name: &'static str,
    pub run: fn(&Env),
    /// Runs alone: it changes what the other tests would see.
    pub cluster_wide: bool,
    /// Why it is ignored (a known bug, with its issue), if it is.
    pub ignored: Option<&'static str>,
}

impl Test {
    pub const fn new(name: &'static str, run: fn(&Env)) -> Self {
        Self {
            name,
            run,
            cluster_wide: false,
            ignored: None,
        }
    }

    pub const fn cluster_wide(self) -> Self {
        Self {
            cluster_wide: true,
            ..self
        }
    }

    #[allow(
        dead_code,
        reason = "harness API for a known bug; no test needs it today"
    )]
    pub const fn ignored(self, reason: &'static str) -> Self {
        Self {
            ignored: Some(reason),
            ..self
        }
    }
}

/// The running environment the tests share.
pub struct Env {
    // Dropped in declaration order: the webhook, then the control plane, then the
    // runtime, and the directory last.
    pub webhook: WebhookServer,
    control_plane: std::sync::Mutex<ControlPlane>,
    kubectl: Kubectl,
    client: kube::Client,
    crds: CrdSet,
    runtime: tokio::runtime::Runtime,
    /// Set once everything has started (until then a failed start can still read the
    /// logs in it).
    dir: Option<tempfile::TempDir>,
}

/// One environment and the tests that run against it.
pub struct Phase {
    /// Put before each test's name (`""`: none), so that the same test can run in two
    /// phases and a filter can pick a phase.
    pub prefix: &'static str,
    pub settings: Box<dyn FnOnce() -> Settings>,
    pub tests: Vec<Test>,
}

/// Runs each phase in turn, its environment started before its first test and torn
/// down after its last; the conclusion (all phases together) is the process's exit
/// status.
pub fn run_phases(args: &Arguments, phases: Vec<Phase>) -> Conclusion {
    let mut total = Conclusion {
        num_filtered_out: 0,
        num_passed: 0,
        num_failed: 0,
        num_ignored: 0,
        num_measured: 0,
    };
    for phase in phases {
        let conclusion = run_prefixed(args, phase.prefix, phase.settings, phase.tests);
        total.num_filtered_out += conclusion.num_filtered_out;
        total.num_passed += conclusion.num_passed;
        total.num_failed += conclusion.num_failed;
        total.num_ignored += conclusion.num_ignored;
        total.num_measured += conclusion.num_measured;
    }
    total
}

/// Runs `tests` against an environment made from `settings`.
fn run_prefixed(
    args: &Arguments,
    prefix: &str,
    settings: impl FnOnce() -> Settings,
    tests: Vec<Test>,
) -> Conclusion {
    let selected = !args.list
        && tests.iter().any(|test| {
            let probe = Trial::test(format!("{prefix}{}", test.name), || Ok(()))
                .with_ignored_flag(test.ignored.is_some());
            !args.is_filtered_out(&probe) && !args.is_ignored(&probe)
        });
    let env: Result<Arc<Env>, String> = if selected {
        let settings = settings();
        eprintln!(
            "e2e: starting etcd, kube-apiserver, kube-controller-manager and the webhook ({} CRDs)",
            settings.crds.name()
        );
        let started = std::time::Instant::now();
        let env = Env::start(settings).map(Arc::new);
        match &env {
            Ok(_) => eprintln!("e2e: environment ready in {:.1?}", started.elapsed()),
            Err(e) => eprintln!("e2e: the environment did not start: {e}"),
        }
        env
    } else {
        Err("not started: no test selected".to_owned())
    };
    let alone = Arc::new(RwLock::new(()));
    let trials = tests
        .into_iter()
        .map(|test| {
            let env = env.clone();
            let alone = Arc::clone(&alone);
            Trial::test(format!("{prefix}{}", test.name), move || {
                let env = env.map_err(|e| {
                    let reason = e.lines().next().unwrap_or_default().to_owned();
                    Failed::from(format!(
                        "the test environment did not start (details above the test list): {reason}"
                    ))
                })?;
                // A panicking test poisons the lock; the next ones still run.
                let _alone = test
                    .cluster_wide
                    .then(|| alone.write().unwrap_or_else(|p| p.into_inner()));
                let _shared =
                    (!test.cluster_wide).then(|| alone.read().unwrap_or_else(|p| p.into_inner()));
                (test.run)(&env);
                env.assert_control_plane_running();
                Ok(())
            })
            .with_ignored_flag(test.ignored.is_some())
        })
        .collect();
    let conclusion = libtest_mimic::run(args, trials);
    if let Ok(env) = env {
        match Arc::try_unwrap(env) {
            Ok(env) => env.tear_down(),
            Err(_) => eprintln!(
                "e2e: a test still holds the environment; it stops when the process exits"
            ),
        }
    }
    conclusion
}

impl Env {
    fn start(settings: Settings) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("tidb-backup-webhook-e2e-")
            .tempdir()
            .map_err(|e| format!("no temporary directory: {e}"))?;
        let started = catch_unwind(AssertUnwindSafe(|| Self::start_in(settings, dir.path())))
            .unwrap_or_else(|panic| Err(panic_message(&*panic)));
        match started {
            Ok(mut env) => {
                env.dir = Some(dir);
                Ok(env)
            }
            Err(e) => {
                // Whatever had started is stopped by now; its logs are still there.
                keep_logs(dir.path());
                Err(e)
            }
        }
    }

    fn start_in(settings: Settings, dir: &Path) -> Result<Self, String> {
        let kubectl = Kubectl::new(&dir.join("admin.kubeconfig"), &dir.join("kubectl-cache"))?;
        let control_plane = ControlPlane::start(dir, &kubectl)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("no tokio runtime: {e}"))?;
        let client = runtime.block_on(client_for(kubectl.kubeconfig()))?;
        settings.crds.install(&kubectl)?;
        let webhook = WebhookServer::start(
            dir,
            &kubectl,
            &control_plane.server,
            &control_plane.ca_pem,
            &settings.webhook_args,
            &settings.webhook_config,
        )
        .map_err(|e| format!("{e}\n{}", control_plane.log_tails(20)))?;
        Ok(Self {
            webhook,
            control_plane: std::sync::Mutex::new(control_plane),
            kubectl,
            client,
            crds: settings.crds,
            runtime,
            dir: None,
        })
    }

    /// Stops everything and removes the files (`E2E_KEEP_LOGS`: see [`keep_logs`]).
    fn tear_down(self) {
        if let Some(dir) = &self.dir {
            keep_logs(dir.path());
        }
        drop(self);
    }

    /// `kubectl` as the cluster's administrator.
    pub fn kubectl(&self) -> &Kubectl {
        &self.kubectl
    }

    /// The CRDs installed (tests expect what the apiserver does with them).
    pub fn crds(&self) -> CrdSet {
        self.crds
    }

    /// A kube-rs client as the cluster's administrator.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The run's temporary directory (removed at the end; components keep their files
    /// and logs in it).
    pub fn run_dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map(tempfile::TempDir::path)
            .expect("the environment has started")
    }

    /// The apiserver's URL (`https://127.0.0.1:PORT`) and CA (PEM), for a kubeconfig of
    /// another user.
    pub fn api_server(&self) -> (String, String) {
        let control_plane = self.control_plane.lock().unwrap_or_else(|p| p.into_inner());
        (control_plane.server.clone(), control_plane.ca_pem.clone())
    }

    /// The apiserver's audit log (see [`control_plane::AUDITED_USER`]).
    pub fn audit_log(&self) -> std::path::PathBuf {
        let control_plane = self.control_plane.lock().unwrap_or_else(|p| p.into_inner());
        control_plane.audit_log.clone()
    }

    /// Runs async code (kube-rs) on the harness's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Panics, naming the component and showing its log, when part of the control plane
    /// has died (checked after each test, so that a failure says so).
    fn assert_control_plane_running(&self) {
        let mut control_plane = self.control_plane.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = control_plane.check_running() {
            panic!("{e}");
        }
    }

    /// Creates namespace `name` for one test and waits for its `default` ServiceAccount
    /// (pods cannot be created before it exists). Deleted when the guard drops.
    pub fn namespace(&self, name: &str) -> Namespace<'_> {
        self.kubectl.ok(&["create", "namespace", name]);
        let namespace = Namespace {
            name: name.to_owned(),
            env: self,
        };
        process::wait_for(
            &format!("the default ServiceAccount of namespace {name}"),
            Duration::from_secs(60),
            &mut [],
            || {
                Ok(self
                    .kubectl
                    .run(&["-n", name, "get", "serviceaccount", "default"])
                    .status
                    .success())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        namespace
    }
}

/// A test's namespace.
pub struct Namespace<'a> {
    pub name: String,
    env: &'a Env,
}

impl Namespace<'_> {
    /// `kubectl -n NAMESPACE ARGS`.
    pub fn kubectl(&self, args: &[&str]) -> kubectl::Output {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        self.env.kubectl.run(&full)
    }

    /// `kubectl -n NAMESPACE ARGS -f -` with `manifest` on stdin.
    pub fn kubectl_stdin(&self, args: &[&str], manifest: &str) -> kubectl::Output {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-f", "-"]);
        self.env.kubectl.run_with_stdin(&full, Some(manifest))
    }
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        // Not waited for: the control plane goes away at the end anyway.
        let _ = self
            .env
            .kubectl
            .run(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

/// With `E2E_KEEP_LOGS=DIR`, copies the components' logs from the run's directory to DIR
/// (which outlives the run).
fn keep_logs(run_dir: &Path) {
    let Some(keep) = std::env::var_os("E2E_KEEP_LOGS") else {
        return;
    };
    let keep = Path::new(&keep);
    let _ = std::fs::create_dir_all(keep);
    for dir in ["logs", "webhook", "reconciler"].map(|d| run_dir.join(d)) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                let _ = std::fs::copy(entry.path(), keep.join(entry.file_name()));
            }
        }
    }
}

async fn client_for(kubeconfig: &Path) -> Result<kube::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| format!("the admin kubeconfig: {e}"))?;
    kube::Client::try_from(config).map_err(|e| format!("no kube client: {e}"))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panicked".to_owned())
}
