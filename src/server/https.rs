//! The HTTPS listener: TLS accept, HTTP/1.1 connections, timeouts and graceful drain.
//!
//! hyper's own `header_read_timeout` also runs while a keep-alive connection waits for
//! its next request, so it would close idle connections the apiserver is about to reuse
//! (linkerd2#14096). Instead a per-connection watchdog applies two separate limits:
//! a request must arrive in full within `request_read_timeout` of its first byte (slow
//! clients cannot hold connections), and an idle keep-alive connection is closed only
//! after `idle_timeout`, which is longer than the apiserver's 90 s.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Connection limits and timeouts.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// TCP connect to finished TLS handshake.
    pub handshake_timeout: Duration,
    /// First byte of a request to the whole request received.
    pub request_read_timeout: Duration,
    /// Keep-alive connections idle this long are closed; longer than the apiserver's
    /// 90 s so it never reuses a connection this server is closing.
    pub idle_timeout: Duration,
    /// Connections served at once; more are closed right after accept.
    pub max_connections: usize,
    /// How long the drain after shutdown may take before connections are dropped.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            request_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 1024,
            drain_timeout: Duration::from_secs(25),
        }
    }
}

/// What Go's `net/http` answers to plain HTTP on a TLS port, so a misconfigured client
/// learns what is wrong instead of seeing a reset.
const PLAINTEXT_REPLY: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// TLS record type of a handshake; every TLS connection starts with it.
const TLS_HANDSHAKE: u8 = 0x16;

/// Serves `app` over TLS on `listener` until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish (closing idle keep-alive connections) and returns once
/// every connection is done or `drain_timeout` has passed.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let limits = Arc::new(limits);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "connection limit reached; closing the new connection");
                    continue;
                };
                let task = connection(stream, acceptor.clone(), app.clone(), limits.clone(), closing_rx.clone());
                connections.spawn(async move {
                    task.await;
                    drop(slot);
                });
            }
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "drain timeout: closing connections"
        );
        connections.shutdown().await;
    }
}

async fn connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    app: Router,
    limits: Arc<ConnectionLimits>,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    match tokio::time::timeout(limits.handshake_timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return,
    }
    if first[0] != TLS_HANDSHAKE {
        if first[0].is_ascii_uppercase() {
            let mut stream = stream;
            let _ = stream.write_all(PLAINTEXT_REPLY).await;
            let _ = stream.shutdown().await;
        }
        return;
    }
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: tls,
        activity: activity.clone(),
    });
    let service_activity = activity.clone();
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let activity = service_activity.clone();
            activity.request_started();
            let response = app.clone().oneshot(request.map(axum::body::Body::new));
            async move {
                let response = response.await;
                activity.request_finished();
                response
            }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut shutting_down = *closing.borrow();
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = closing.changed(), if !shutting_down => {
                if changed.is_err() || *closing.borrow() {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = tick.tick() => match activity.verdict(&limits) {
                Verdict::Fine => {}
                Verdict::TooSlow => {
                    tracing::debug!("request not received in time; closing the connection");
                    return;
                }
                Verdict::Idle if !shutting_down => {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
                Verdict::Idle => {}
            },
        }
    }
}

const IDLE: u8 = 0;
const READING: u8 = 1;
const BUSY: u8 = 2;

/// What a connection is doing, updated from its reads and its service calls.
struct Activity {
    epoch: Instant,
    state: AtomicU8,
    /// Milliseconds since `epoch` at the last state change.
    since: AtomicU64,
}

enum Verdict {
    Fine,
    TooSlow,
    Idle,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            state: AtomicU8::new(IDLE),
            since: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn set(&self, state: u8) {
        self.since.store(self.now(), Ordering::Relaxed);
        self.state.store(state, Ordering::Relaxed);
    }

    fn bytes_read(&self) {
        if self.state.load(Ordering::Relaxed) == IDLE {
            self.set(READING);
        }
    }

    fn request_started(&self) {
        self.set(BUSY);
    }

    fn request_finished(&self) {
        self.set(IDLE);
    }

    fn verdict(&self, limits: &ConnectionLimits) -> Verdict {
        let elapsed = Duration::from_millis(
            self.now()
                .saturating_sub(self.since.load(Ordering::Relaxed)),
        );
        match self.state.load(Ordering::Relaxed) {
            READING if elapsed > limits.request_read_timeout => Verdict::TooSlow,
            IDLE if elapsed > limits.idle_timeout => Verdict::Idle,
            _ => Verdict::Fine,
        }
    }
}

/// A stream that reports reads to the connection's [`Activity`].
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
