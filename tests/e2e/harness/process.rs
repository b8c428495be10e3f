//! The harness's child processes: each writes its output to a log file, is killed when
//! its handle is dropped (also while a panic unwinds), and dies with the test binary
//! even when that is killed outright.

use std::fs::{self, File};
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Proxy settings of the machine must not reach the control plane or kubectl: the
/// apiserver would send its webhook calls to 127.0.0.1 through a proxy.
const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// A command with the machine's proxy settings removed.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for variable in PROXY_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// A running child process, killed on drop.
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, command: Command, log: &Path) -> Result<Self, String> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{name}: cannot open its log {}: {e}", log.display()))?;
        let stderr = file
            .try_clone()
            .map_err(|e| format!("{name}: cannot open its log {}: {e}", log.display()))?;
        let program = command.get_program().to_string_lossy().into_owned();
        let mut command = with_parent_death_signal(command);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(stderr));

        let child = spawn_tied_to_this_process(command)
            .map_err(|e| format!("{name}: cannot start {program}: {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// An error when the process has exited, with the end of its log.
    pub fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); the end of its log:\n{}",
                self.name,
                self.log_tail(40)
            )),
            Err(e) => Err(format!("{}: cannot check whether it runs: {e}", self.name)),
        }
    }

    /// The last `lines` lines of the process's output.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// Sends SIGTERM (as the kubelet does to stop a container) and waits up to `timeout`
    /// for the process to exit; its exit status, or `None` if it is still running (then
    /// it is killed when dropped).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a file.
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns through `setpriv --pdeathsig KILL` where it exists, so that the child is killed
/// when the test binary dies without unwinding (SIGKILL, abort). The parent-death signal
/// fires when the *thread* that forked the child exits, so every child is forked by one
/// thread that lives as long as the process.
fn spawn_tied_to_this_process(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("e2e-spawner".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("start the thread that spawns the harness's processes");
        Mutex::new(requests)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

/// `setpriv --pdeathsig KILL -- COMMAND` where setpriv exists (environment and working
/// directory carried over; standard streams are set on the result).
fn with_parent_death_signal(command: Command) -> Command {
    const SETPRIV: &str = "/usr/bin/setpriv";
    if !Path::new(SETPRIV).exists() {
        return command;
    }
    let mut wrapped = Command::new(SETPRIV);
    wrapped
        .args(["--pdeathsig", "KILL", "--"])
        .arg(command.get_program())
        .args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// A free TCP port on 127.0.0.1 (the OS picks it; it is released for the caller to bind).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// Polls `ready` every 200 ms until it answers `Ok(true)`, failing when `timeout` passes
/// (with the last reason it gave) or when one of `processes` exits.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    processes: &mut [&mut Process],
    mut ready: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        for process in processes.iter_mut() {
            process
                .check_running()
                .map_err(|e| format!("waiting for {what}: {e}"))?;
        }
        match ready() {
            Ok(true) => return Ok(()),
            Ok(false) => last = String::from("not ready"),
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = processes
                .iter()
                .map(|p| format!("--- {} (end of log) ---\n{}", p.name(), p.log_tail(30)))
                .collect();
            return Err(format!(
                "{what}: not ready after {timeout:?} (last: {last})\n{}",
                logs.join("\n")
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// A plain-HTTP GET on 127.0.0.1: (status code, body). HTTP/1.0, so the body is never
/// chunked.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("127.0.0.1:{port}{path}: not an HTTP response: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
