//! A real server on loopback with certificates from `certs`, and real TLS clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tidb_backup_webhook::certs::{Authority, ServingCert};
use tidb_backup_webhook::server::{
    self, CertSource, ServeConfig, ServeError, https, tls::CertFiles, webhook,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub const CREATE_REVIEW: &str = include_str!("../../manifests/examples/review-backup-create.json");

/// Names the test certificates are issued for.
pub fn local_names() -> Vec<String> {
    ["localhost", "127.0.0.1"].map(String::from).to_vec()
}

pub struct TestServer {
    pub https: SocketAddr,
    pub admin: SocketAddr,
    pub ca: Authority,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

/// Writes a Secret-like directory: files under a timestamped directory reached through
/// the `..data` symlink, as the kubelet mounts Secrets.
pub fn write_secret_dir(dir: &Path, generation: u32, serving: &ServingCert) {
    let versioned = dir.join(format!("..2026_11_24_{generation:04}"));
    std::fs::create_dir_all(&versioned).expect("mkdir");
    std::fs::write(versioned.join("tls.crt"), &serving.cert_pem).expect("cert");
    std::fs::write(versioned.join("tls.key"), &serving.key_pem).expect("key");
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(versioned.file_name().expect("name"), &tmp).expect("symlink");
    // rename(2) replaces ..data atomically, like the kubelet's AtomicWriter.
    std::fs::rename(&tmp, dir.join("..data")).expect("swap");
    for file in ["tls.crt", "tls.key"] {
        let link = dir.join(file);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{file}"), &link).expect("file link");
        }
    }
}

pub fn default_config() -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        admin_listen: "127.0.0.1:0".parse().expect("addr"),
        certs: CertSource::SelfSigned { ca_out: None },
        client_ca: None,
        cert_poll: Duration::from_secs(3600),
        shutdown_delay: Duration::from_millis(0),
        connections: https::ConnectionLimits::default(),
        reviews: webhook::Limits::default(),
        iam: Default::default(),
        inject_service_account: true,
        watch_cluster: false,
    }
}

impl TestServer {
    /// Starts a server whose certificate files live in a kubelet-style Secret directory.
    pub async fn start(tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let ca = Authority::generate("test CA", 30).expect("CA");
        let dir = tempfile::tempdir().expect("tempdir");
        write_secret_dir(
            dir.path(),
            0,
            &ca.issue(&local_names(), 7).expect("serving cert"),
        );
        let mut config = default_config();
        config.certs = CertSource::Files(CertFiles {
            cert: dir.path().join("tls.crt"),
            key: dir.path().join("tls.key"),
        });
        tweak(&mut config);
        let https = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (https_addr, admin_addr) = (
            https.local_addr().expect("addr"),
            admin.local_addr().expect("addr"),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(config, https, admin, async move {
            let _ = stopped.await;
        }));
        let server = Self {
            https: https_addr,
            admin: admin_addr,
            ca,
            dir,
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_ready().await;
        server
    }

    pub async fn wait_ready(&self) {
        for _ in 0..100 {
            if admin_get(self.admin, "/readyz")
                .await
                .is_some_and(|(status, _)| status == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https.port())
    }

    pub fn client(&self) -> reqwest::Client {
        client(self.ca.cert_pem(), None)
    }

    pub fn cert_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops the server (SIGTERM equivalent) and waits for it to finish.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("server task"),
            None => Ok(()),
        }
    }
}

/// A rustls client configuration trusting `ca_pem`, optionally presenting a client cert.
pub fn tls_config(ca_pem: &str, identity: Option<&ServingCert>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA pem")).expect("root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .expect("chain");
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).expect("key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

pub fn client(ca_pem: &str, identity: Option<&ServingCert>) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(ca_pem, identity))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// POSTs a JSON body and returns the status and the body as JSON (Null if not JSON).
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// Plain-HTTP GET on the admin port: status and body.
pub async fn admin_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, dechunk(&body)))
}

/// Undoes chunked transfer encoding when present (axum streams some bodies).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if size == 0 {
            return out;
        }
        let Some(chunk) = after.get(..size) else {
            return body.to_owned();
        };
        out.push_str(chunk);
        rest = after.get(size + 2..).unwrap_or_default();
    }
}

/// A TLS connection to the server, for sending exact bytes.
pub async fn tls_connect(server: &TestServer) -> TlsStream<TcpStream> {
    let connector = TlsConnector::from(Arc::new(tls_config(server.ca.cert_pem(), None)));
    let tcp = TcpStream::connect(server.https).await.expect("connect");
    connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake")
}

/// What came back on a raw connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Raw {
    /// An HTTP response: status and body.
    Http(u16, String),
    /// The server closed the connection without answering.
    Closed,
}

/// Reads an HTTP response (until the server closes the connection) with a deadline.
pub async fn read_response<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Duration,
) -> Raw {
    let mut response = Vec::new();
    let read = tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 65536];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and no close within {deadline:?}");
    if response.is_empty() {
        return Raw::Closed;
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| dechunk(b))
        .unwrap_or_default();
    Raw::Http(status, body)
}

/// Sends `request` on a fresh TLS connection and reads the answer.
pub async fn raw_https(server: &TestServer, request: &[u8]) -> Raw {
    let mut stream = tls_connect(server).await;
    if stream.write_all(request).await.is_err() {
        return Raw::Closed;
    }
    let _ = stream.flush().await;
    read_response(&mut stream, Duration::from_secs(10)).await
}

/// An HTTP/1.1 request with `Connection: close`.
pub fn http_request(method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    [head.as_bytes(), body].concat()
}

/// The served leaf certificate's DER, from a fresh handshake.
pub async fn served_certificate(server: &TestServer) -> Vec<u8> {
    let stream = tls_connect(server).await;
    let (_, connection) = stream.get_ref();
    connection
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| c.to_vec())
        .expect("a certificate")
}
