//! The HTTPS listener: TLS accept, HTTP/1.1 connections, timeouts and graceful drain.
//!
//! hyper's own `header_read_timeout` also runs while a keep-alive connection waits for
//! its next request, so it would close idle connections the apiserver is about to reuse
//! (linkerd2#14096). Instead a per-connection watchdog applies two separate limits:
//! a request must arrive in full within `request_read_timeout` of its first byte (slow
//! clients cannot hold connections), and an idle keep-alive connection is closed only
//! after `idle_timeout`, which is longer than the apiserver's 90 s.
//!
//! Keep-alive after an error: an answer given before the request body was read (404,
//! 405, 413, 415, 503) would otherwise leave hyper to close the connection without
//! saying so, and the client's next request on it would meet a closed stream. A small
//! unread rest (up to [`DRAIN_LIMIT`]) is read and dropped, so the connection stays
//! usable; a larger one gets `Connection: close`, and after the answer the server keeps
//! reading and discarding for up to [`LINGER_TIMEOUT`], so that a client that sends its
//! whole body before reading still reads the answer instead of a reset.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
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

/// An unread request body up to this size is read and dropped after an early answer, so
/// the connection stays usable (Go's net/http does the same up to 256 KiB).
pub const DRAIN_LIMIT: u64 = 64 << 10;

/// How long reading that rest may take before the connection is closed instead.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

/// After answering `Connection: close` over an unread body, how long the rest is read and
/// discarded (without decrypting it) before the socket is closed: closing a socket with
/// unread data sends a reset, which can destroy the answer before the client reads it.
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes hyper buffers per connection (its default is ~400 KiB).
const CONNECTION_READ_BUFFER: usize = 64 << 10;

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
    let unread = Arc::new(UnreadBody::default());
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let activity = service_activity.clone();
            activity.request_started();
            let unread = unread.clone();
            let request = request.map(|body| {
                axum::body::Body::new(Watched {
                    inner: Some(body),
                    unread: unread.clone(),
                })
            });
            let response = app.clone().oneshot(request);
            // Boxed so that the connection can be polled without shutting its stream down
            // (`poll_without_shutdown` needs an `Unpin` future): the lingering close
            // below needs the stream back.
            Box::pin(async move {
                let mut response = response.await;
                if let Ok(response) = response.as_mut()
                    && let Some(body) = unread.take()
                    && !drain(body).await
                {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    activity.linger.store(true, Ordering::Relaxed);
                }
                activity.request_finished();
                response
            })
        });
    let mut conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // hyper's read buffer grows to ~400 KiB by default while a body streams in: with
        // hundreds of connections sending large bodies that, not the bodies, was most of
        // the peak RSS. Headers of an apiserver request are a few KiB.
        .max_buf_size(CONNECTION_READ_BUFFER)
        .serve_connection(io, service);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut shutting_down = *closing.borrow();
    if shutting_down {
        Pin::new(&mut conn).graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            changed = closing.changed(), if !shutting_down => {
                if changed.is_err() || *closing.borrow() {
                    shutting_down = true;
                    Pin::new(&mut conn).graceful_shutdown();
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
                    Pin::new(&mut conn).graceful_shutdown();
                }
                Verdict::Idle => {}
            },
        }
    }
    let mut tls = conn.into_parts().io.into_inner().inner;
    // close_notify, then FIN: the client reads the end of the stream, not a reset.
    let _ = tokio::time::timeout(limits.handshake_timeout, tls.shutdown()).await;
    if activity.linger.load(Ordering::Relaxed) {
        let (mut tcp, _) = tls.into_inner();
        let _ = tokio::time::timeout(LINGER_TIMEOUT, discard(&mut tcp)).await;
    }
}

/// Reads and drops whatever the peer still sends, until it closes its side.
async fn discard(tcp: &mut TcpStream) {
    // Small: hundreds of connections may linger at once under a flood of refused bodies,
    // and the speed of discarding does not matter.
    let mut buf = vec![0u8; 8 << 10];
    while let Ok(n) = tcp.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Reads and drops the unread rest of a request body if it is small and arrives soon;
/// whether it was read to its end (the connection can serve the next request).
async fn drain(mut body: Incoming) -> bool {
    if body.size_hint().lower() > DRAIN_LIMIT {
        return false;
    }
    let read = async {
        let mut read = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return false;
            };
            read += frame.data_ref().map_or(0, |data| data.len() as u64);
            if read > DRAIN_LIMIT {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIMEOUT, read)
        .await
        .unwrap_or(false)
}

/// Where a request body the service dropped unread is left for [`drain`].
#[derive(Default)]
struct UnreadBody(Mutex<Option<Incoming>>);

impl UnreadBody {
    fn put(&self, body: Incoming) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
    }

    fn take(&self) -> Option<Incoming> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A request body that, dropped before its end, hands the rest to [`UnreadBody`].
struct Watched {
    inner: Option<Incoming>,
    unread: Arc<UnreadBody>,
}

impl Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take()
            && !body.is_end_stream()
        {
            self.unread.put(body);
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
    /// The connection closes over an unread body: read and discard the rest at the end.
    linger: AtomicBool,
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
            linger: AtomicBool::new(false),
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
