//! The floors `make bench` measures the webhook against: hyper + rustls with the
//! webhook's TLS settings (ring provider, TLS 1.3 and 1.2, ALPN `http/1.1`), keep-alive,
//! and its allocator (mimalloc), in one of three modes:
//!
//! - `fixed`: reads the body and answers one fixed AdmissionReview (what TLS and HTTP
//!   alone cost on this machine);
//! - `parse`: reads the body, parses it into a `serde_json::Value` and answers `allowed`
//!   for its `request.uid` (the least a webhook must do with a review: the floor);
//! - `mutate-handler`: answers with the webhook's own `/mutate` decision code
//!   (`Admission::handle`) and none of its HTTP layer, which tells the cost of the one
//!   from the cost of the other.
//!
//! Usage: minimal_server fixed|parse|mutate-handler LISTEN_ADDR CERT_PEM KEY_PEM

#![allow(clippy::unwrap_used, clippy::expect_used)] // example code: a panic is the failure report

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use tidb_backup_webhook::admission::{Admission, Endpoint};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXED_ANSWER: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true}}"#;

#[derive(Clone, Copy)]
enum Mode {
    Fixed,
    Parse,
    MutateHandler,
}

/// The webhook's own decision code, for `mutate-handler`.
static ADMISSION: LazyLock<Admission> = LazyLock::new(Admission::new);

fn answer(mode: Mode, body: &[u8]) -> Result<Bytes, String> {
    match mode {
        Mode::Fixed => Ok(Bytes::from_static(FIXED_ANSWER.as_bytes())),
        Mode::MutateHandler => ADMISSION
            .handle(Endpoint::Mutate, body)
            .map(|outcome| outcome.body.into())
            .map_err(|e| e.to_string()),
        Mode::Parse => {
            let review: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| e.to_string())?;
            let uid = review["request"]["uid"].as_str().ok_or("no request.uid")?;
            let answer = serde_json::json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": uid, "allowed": true},
            });
            Ok(serde_json::to_vec(&answer)
                .map_err(|e| e.to_string())?
                .into())
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, listen, cert, key] = args.as_slice() else {
        return Err(
            "usage: minimal_server fixed|parse|mutate-handler LISTEN_ADDR CERT_PEM KEY_PEM".into(),
        );
    };
    let mode = match mode.as_str() {
        "fixed" => Mode::Fixed,
        "parse" => Mode::Parse,
        "mutate-handler" => Mode::MutateHandler,
        other => {
            return Err(format!("unknown mode {other:?}: fixed, parse or mutate-handler").into());
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| async move {
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let (status, body) = match answer(mode, &body) {
                        Ok(body) => (200, body),
                        Err(e) => (400, Bytes::from(e)),
                    };
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(body))
                            .unwrap_or_default(),
                    )
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
