//! TLS for the webhook: rustls with the ring provider, TLS 1.2/1.3, ALPN `http/1.1`, an
//! optional client-certificate requirement, and a serving certificate that is reloaded
//! without restart when its files change.
//!
//! Reloading watches the certificate's directory (the kubelet updates a mounted Secret by
//! swapping the `..data` symlink, which a watch on the file itself would miss) and re-reads
//! the files periodically as a fallback. A new pair is used only once both files parse and
//! the key matches the certificate; otherwise the old pair keeps serving and a failure is
//! counted. Existing connections keep the certificate they were opened with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::sync::mpsc;

use super::metrics::WebhookMetrics;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: String },
    #[error("{path}: {message}")]
    Pem { path: String, message: String },
    #[error("serving key does not fit the certificate: {0}")]
    Key(rustls::Error),
    #[error("invalid TLS configuration: {0}")]
    Config(rustls::Error),
}

/// The crypto provider every TLS user of this process shares (ring; see crate-stack.md).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate/key pair and its expiry.
pub struct LoadedPair {
    pub key: Arc<CertifiedKey>,
    /// `notAfter` of the leaf certificate, Unix seconds.
    pub not_after: i64,
}

/// Parses a PEM certificate chain and private key into a pair rustls can serve.
pub fn load_pair(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &str,
    key_name: &str,
) -> Result<LoadedPair, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: cert_name.to_owned(),
            message: e.to_string(),
        })?;
    let leaf = chain.first().ok_or_else(|| TlsError::NoCertificate {
        path: cert_name.to_owned(),
    })?;
    let not_after = x509_parser::parse_x509_certificate(leaf)
        .map(|(_, cert)| cert.validity().not_after.timestamp())
        .map_err(|e| TlsError::Pem {
            path: cert_name.to_owned(),
            message: format!("not an X.509 certificate: {e}"),
        })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        path: key_name.to_owned(),
        message: e.to_string(),
    })?;
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(TlsError::Key)?;
    Ok(LoadedPair {
        key: Arc::new(certified),
        not_after,
    })
}

/// Certificate and key file paths.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    fn read(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        Ok((read(&self.cert)?, read(&self.key)?))
    }

    pub fn load(&self) -> Result<(LoadedPair, Vec<u8>), TlsError> {
        let (cert, key) = self.read()?;
        let pair = load_pair(
            &cert,
            &key,
            &self.cert.display().to_string(),
            &self.key.display().to_string(),
        )?;
        let fingerprint = [cert, key].concat();
        Ok((pair, fingerprint))
    }
}

/// The serving certificate, swappable while connections are being accepted.
pub struct CertStore {
    current: ArcSwap<CertifiedKey>,
    /// Bytes of the files last loaded, so an unchanged pair is not parsed again.
    loaded_from: Mutex<Vec<u8>>,
    metrics: WebhookMetrics,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertStore")
    }
}

impl CertStore {
    pub fn new(pair: LoadedPair, loaded_from: Vec<u8>, metrics: WebhookMetrics) -> Arc<Self> {
        metrics.cert_not_after.set(pair.not_after);
        Arc::new(Self {
            current: ArcSwap::new(pair.key),
            loaded_from: Mutex::new(loaded_from),
            metrics,
        })
    }

    /// Re-reads the files; swaps in the new pair when they changed and are valid.
    /// Returns whether the certificate changed.
    pub fn reload(&self, files: &CertFiles) -> bool {
        let (cert, key) = match files.read() {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the serving certificate; keeping the current one");
                self.metrics.count_reload(false);
                return false;
            }
        };
        let fingerprint = [cert.as_slice(), key.as_slice()].concat();
        if self
            .loaded_from
            .lock()
            .is_ok_and(|last| *last == fingerprint)
        {
            return false;
        }
        match load_pair(
            &cert,
            &key,
            &files.cert.display().to_string(),
            &files.key.display().to_string(),
        ) {
            Ok(pair) => {
                self.current.store(pair.key);
                self.metrics.cert_not_after.set(pair.not_after);
                self.metrics.count_reload(true);
                if let Ok(mut last) = self.loaded_from.lock() {
                    *last = fingerprint;
                }
                tracing::info!(not_after = pair.not_after, "serving certificate reloaded");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "new serving certificate is not usable; keeping the current one");
                self.metrics.count_reload(false);
                false
            }
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// rustls configuration: TLS 1.3 and 1.2 only, ALPN `http/1.1` (the apiserver speaks
/// HTTP/1.1 to webhooks), and a verified client certificate when `client_ca` is given.
pub fn server_config(
    store: Arc<CertStore>,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| TlsError::Pem {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                roots.add(cert).map_err(TlsError::Config)?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoCertificate {
                    path: path.display().to_string(),
                });
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Reloads the certificate when its directory changes, and every `poll` regardless,
/// until `shutdown` completes.
pub async fn watch(
    store: Arc<CertStore>,
    files: CertFiles,
    poll: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let watcher = directory_watcher(&files, tx);
    if watcher.is_none() {
        tracing::warn!("cannot watch the certificate directory; relying on periodic re-reads");
    }
    let mut interval = tokio::time::interval(poll);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = interval.tick() => {}
            Some(()) = rx.recv() => {
                // Let a burst of file events (cert, then key) settle before reading.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while rx.try_recv().is_ok() {}
            }
        }
        let store = store.clone();
        let files = files.clone();
        let _ = tokio::task::spawn_blocking(move || store.reload(&files)).await;
    }
    drop(watcher);
}

fn directory_watcher(
    files: &CertFiles,
    tx: mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // A full channel already holds a pending reload.
            let _ = tx.try_send(());
        }
    })
    .ok()?;
    let dirs: std::collections::BTreeSet<PathBuf> = [&files.cert, &files.key]
        .iter()
        .map(|p| match p.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    for dir in dirs {
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .ok()?;
    }
    Some(watcher)
}
