//! The real `kubectl`, as a user runs it against the test cluster: by default the one
//! `make test-deps` builds from the same Kubernetes release as the apiserver (no version
//! skew, the same output on every machine); `KUBECTL=PATH` runs another one.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use super::process::command;

#[derive(Clone)]
pub struct Kubectl {
    program: PathBuf,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
}

/// What one `kubectl` run printed.
pub struct Output {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    /// `.tools/bin/kubectl` (or `$KUBECTL`) with `kubeconfig`; its discovery cache
    /// stays in `cache_dir`, out of the user's home.
    pub fn new(kubeconfig: &Path, cache_dir: &Path) -> Result<Self, String> {
        let program = match std::env::var_os("KUBECTL") {
            Some(program) => PathBuf::from(program),
            None => super::control_plane::binary("kubectl")?,
        };
        let probe = command(&program)
            .args(["version", "--client"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if !probe.status.success() {
            return Err(format!(
                "{} version --client failed: {}",
                program.display(),
                String::from_utf8_lossy(&probe.stderr)
            ));
        }
        Ok(Self {
            program,
            kubeconfig: kubeconfig.to_owned(),
            cache_dir: cache_dir.to_owned(),
        })
    }

    /// The same kubectl as another user (another kubeconfig).
    pub fn with_kubeconfig(&self, kubeconfig: &Path) -> Self {
        Self {
            kubeconfig: kubeconfig.to_owned(),
            ..self.clone()
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Runs `kubectl ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs `kubectl ARGS` with `stdin` on its standard input (for `-f -`).
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = command(&self.program);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = format!("kubectl {}", args.join(" "));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("kubectl's stdin is piped");
            pipe.write_all(input.as_bytes())
                .unwrap_or_else(|e| panic!("{shown}: cannot write its input: {e}"));
        }
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        Output {
            command: shown,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `kubectl ARGS` and panics (showing everything it printed) unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Output {
        self.run(args).ok()
    }
}

impl Output {
    /// This output, or a panic showing it when kubectl failed.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.status.success(), "expected success:\n{self}");
        self
    }

    /// This output, or a panic showing it when kubectl succeeded.
    #[track_caller]
    pub fn failed(self) -> Self {
        assert!(!self.status.success(), "expected a failure:\n{self}");
        self
    }

    /// The `Warning: ...` lines kubectl printed (without the prefix).
    pub fn warnings(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter_map(|line| line.strip_prefix("Warning: "))
            .collect()
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\n({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}
