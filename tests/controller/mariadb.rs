//! A real MySQL-protocol server for the GC-lifetime tests: MariaDB from the distribution
//! (`make test-deps` installs it), started per test in a temporary directory on a free
//! loopback port, with a `mysql.tidb` table shaped like TiDB's and an account that has
//! exactly the privileges the user guide asks for (SELECT and UPDATE on `mysql.tidb`).
//! Stopped and deleted on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tidb_backup_webhook::controller::tidb::{Endpoint, GcLifeTime, TlsMaterial};

pub const USER: &str = "backup";
pub const PASSWORD: &str = "backup-password";
/// An account that may read but not update `mysql.tidb`.
pub const READ_ONLY_USER: &str = "reader";
const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "admin-password";

pub struct MariaDb {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn find(candidates: &[&str]) -> PathBuf {
    for name in candidates {
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let path = Path::new(dir).join(name);
            if path.exists() {
                return path;
            }
        }
    }
    panic!("none of {candidates:?} is installed: run `make test-deps` (installs mariadb-server)");
}

/// A command whose process is killed when the test process dies, even outright
/// (setpriv's parent-death signal, where setpriv exists): the end-to-end suite promises
/// that a killed test binary leaves no process behind.
fn tied_to_this_process(program: &Path) -> Command {
    const SETPRIV: &str = "/usr/bin/setpriv";
    if !Path::new(SETPRIV).exists() {
        return Command::new(program);
    }
    let mut command = Command::new(SETPRIV);
    command.args(["--pdeathsig", "KILL", "--"]).arg(program);
    command
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl MariaDb {
    /// Installs a data directory, starts the server and waits until it accepts the test
    /// account; `gc_life_time` is the initial `tikv_gc_life_time`.
    pub async fn start(gc_life_time: &str) -> Self {
        Self::start_with(gc_life_time, None).await
    }

    /// Like [`start`](Self::start), serving only TLS connections with a certificate for
    /// 127.0.0.1 issued by a fresh CA; returns the CA's PEM too.
    pub async fn start_tls(gc_life_time: &str) -> (Self, Vec<u8>) {
        let pki = Pki::new();
        let db = Self::start_with(gc_life_time, Some(&pki)).await;
        (db, pki.ca_pem.into_bytes())
    }

    async fn start_with(gc_life_time: &str, tls: Option<&Pki>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        // Concurrent servers must not share temporary files.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("tmp dir");
        let user = current_user();
        let install = Command::new(find(&["mariadb-install-db", "mysql_install_db"]))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--user={user}"))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg(format!("--tmpdir={}", tmp.display()))
            .env("TMPDIR", &tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run mariadb-install-db");
        assert!(
            install.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let init = dir.path().join("init.sql");
        std::fs::write(
            &init,
            format!(
                "CREATE TABLE mysql.tidb (VARIABLE_NAME VARCHAR(64) NOT NULL PRIMARY KEY, VARIABLE_VALUE VARCHAR(1024) DEFAULT NULL, COMMENT VARCHAR(1024));
INSERT INTO mysql.tidb VALUES ('tikv_gc_life_time', '{gc_life_time}', 'All versions within life time will not be collected by GC, at least 10m, in Go format.');
CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';
GRANT SELECT, UPDATE ON mysql.tidb TO '{USER}'@'127.0.0.1';
CREATE USER '{READ_ONLY_USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';
GRANT SELECT ON mysql.tidb TO '{READ_ONLY_USER}'@'127.0.0.1';
CREATE USER '{ADMIN}'@'127.0.0.1' IDENTIFIED BY '{ADMIN_PASSWORD}';
GRANT ALL ON *.* TO '{ADMIN}'@'127.0.0.1';
"
            ),
        )
        .expect("write init.sql");
        let port = free_port();
        let mut server = tied_to_this_process(&find(&["mariadbd", "mysqld"]));
        // --no-defaults must come first.
        server.arg("--no-defaults");
        if let Some(pki) = tls {
            let (ca, cert, key) = (
                dir.path().join("ca.pem"),
                dir.path().join("server.pem"),
                dir.path().join("server-key.pem"),
            );
            std::fs::write(&ca, &pki.ca_pem).expect("write ca");
            std::fs::write(&cert, &pki.server_pem).expect("write cert");
            std::fs::write(&key, &pki.server_key_pem).expect("write key");
            server
                .arg(format!("--ssl-ca={}", ca.display()))
                .arg(format!("--ssl-cert={}", cert.display()))
                .arg(format!("--ssl-key={}", key.display()))
                .arg("--require-secure-transport=ON");
        }
        let child = server
            .arg(format!("--datadir={}", data.display()))
            .arg(format!(
                "--socket={}",
                dir.path().join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mysqld.pid").display()
            ))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--user={user}"))
            .arg(format!("--init-file={}", init.display()))
            .arg("--skip-name-resolve")
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg("--innodb-buffer-pool-size=16M")
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        let mut db = Self { child, port, dir };
        db.wait_ready(tls.map(|pki| pki.ca_pem.clone().into_bytes()))
            .await;
        db
    }

    async fn wait_ready(&mut self, ca: Option<Vec<u8>>) {
        // Readiness polling only; the test asserts nothing about how long it takes.
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().expect("poll mariadbd") {
                let log =
                    std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
                panic!("mariadbd exited with {status}:\n{log}");
            }
            let mut endpoint = self.endpoint();
            endpoint.tls = ca.clone().map(|ca| TlsMaterial { ca, identity: None });
            if let Ok(mut conn) = GcLifeTime::connect(&endpoint).await
                && conn.read().await.is_ok()
            {
                conn.close().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        panic!("mariadbd did not become ready:\n{log}");
    }

    /// The backup account (SELECT and UPDATE on `mysql.tidb`).
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint_as(USER)
    }

    pub fn endpoint_as(&self, user: &str) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: self.port,
            user: user.into(),
            password: PASSWORD.into(),
            tls: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The current `tikv_gc_life_time`, read on a separate administrative connection.
    pub async fn gc_life_time(&self) -> String {
        self.gc_life_time_with(None).await
    }

    /// [`gc_life_time`](Self::gc_life_time) over TLS trusting `ca`.
    pub async fn gc_life_time_with(&self, ca: Option<&[u8]>) -> String {
        let ssl =
            ca.map(|ca| mysql_async::SslOpts::default().with_root_certs(vec![ca.to_vec().into()]));
        let opts = mysql_async::OptsBuilder::default()
            .ssl_opts(ssl)
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(ADMIN))
            .pass(Some(ADMIN_PASSWORD))
            .prefer_socket(false);
        let mut conn = mysql_async::Conn::new(opts)
            .await
            .expect("admin connection");
        let value: Option<String> = conn
            .query_first(
                "SELECT VARIABLE_VALUE FROM mysql.tidb WHERE VARIABLE_NAME = 'tikv_gc_life_time'",
            )
            .await
            .expect("read as admin");
        let _ = conn.disconnect().await;
        value.expect("row present")
    }

    /// Stops the server now (to make SQL fail).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a server certificate for 127.0.0.1.
struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
}

impl Pki {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("ca key");
        let ca_pem = ca_params.self_signed(&ca_key).expect("ca cert").pem();
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        let server_key = KeyPair::generate().expect("server key");
        let server_pem = server_params
            .signed_by(&server_key, &issuer)
            .expect("server cert")
            .pem();
        Self {
            ca_pem,
            server_pem,
            server_key_pem: server_key.serialize_pem(),
        }
    }
}
