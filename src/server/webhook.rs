//! HTTP routes of the webhook: `POST /mutate` and `POST /validate`, with the input
//! hardening the apiserver's wire contract calls for. Decisions come from
//! [`crate::admission`]; this layer only moves bytes, counts and logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http_body_util::BodyExt;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::Instrument;

use super::metrics::{IamLabels, KindLabel, RequestLabels, WebhookLabel, WebhookMetrics};
use crate::admission::{Admission, Endpoint, Summary};
use crate::rules::duration::GoDuration;

/// Largest body accepted. The largest review the apiserver sends is an UPDATE: `object`
/// and `oldObject`, each at most etcd's 1.5 MiB request limit (an object over it cannot be
/// stored, so refusing its review changes only the error the user sees), plus the review
/// around them (uid, kinds, userInfo, options), given 512 KiB.
pub const MAX_BODY_BYTES: usize = (3 << 20) + (512 << 10);

/// What the 413 says about [`MAX_BODY_BYTES`].
const MAX_BODY_REASON: &str =
    "3.5 MiB: object and oldObject at etcd's 1.5 MiB limit each, and the review around them";

/// Default of [`Limits::max_in_flight_bytes`]: four reviews of the largest size at once,
/// or thousands of ordinary ones.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 16 << 20;

/// Limits of the review endpoints.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Reviews answered at once; more get 503 at once, so the failurePolicy applies
    /// instead of requests queueing towards the apiserver's timeout.
    pub max_in_flight: usize,
    /// Body bytes all reviews in flight may hold together; a review that would exceed it
    /// gets 503. Memory is then bounded by this, not by `max_in_flight` × the body limit.
    /// Raised to [`MAX_BODY_BYTES`] if lower, so that any acceptable review can be read.
    pub max_in_flight_bytes: usize,
    /// Budget when the apiserver sends no `?timeout=` (its own default is 10 s).
    pub default_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            default_budget: Duration::from_secs(10),
        }
    }
}

struct WebhookState {
    admission: Admission,
    metrics: WebhookMetrics,
    slots: Semaphore,
    /// One permit per body byte held by a review in flight.
    body_bytes: Semaphore,
    default_budget: Duration,
}

/// One review path and its own series (in flight, latency), looked up once at start-up
/// rather than per request; they also show from the first scrape, at zero.
struct Route {
    endpoint: Endpoint,
    label: WebhookLabel,
    in_flight: Gauge,
    latency: Histogram,
}

impl Route {
    fn new(endpoint: Endpoint, metrics: &WebhookMetrics) -> Self {
        let label = WebhookLabel {
            webhook: endpoint.path().to_owned(),
        };
        Self {
            endpoint,
            in_flight: metrics.in_flight.get_or_create(&label).clone(),
            latency: metrics.latency.get_or_create(&label).clone(),
            label,
        }
    }
}

/// Counts a review in flight until dropped, however it ends: hyper drops the handler's
/// future when the client goes away mid-review, which would skip a decrement by hand.
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn start(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The review routes; anything else is 404 (or 405 for other methods), as JSON.
pub fn router(admission: Admission, metrics: WebhookMetrics, limits: &Limits) -> Router {
    let state = Arc::new(WebhookState {
        admission,
        metrics,
        slots: Semaphore::new(limits.max_in_flight),
        body_bytes: Semaphore::new(
            limits
                .max_in_flight_bytes
                .clamp(MAX_BODY_BYTES, Semaphore::MAX_PERMITS),
        ),
        default_budget: limits.default_budget,
    });
    let route = |endpoint: Endpoint| -> MethodRouter<Arc<WebhookState>> {
        let route = Arc::new(Route::new(endpoint, &state.metrics));
        post(
            move |State(state): State<Arc<WebhookState>>, request: Request| {
                review(state, route.clone(), request)
            },
        )
        .fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "only POST is allowed on review paths",
            )
        })
    };
    Router::new()
        .route(Endpoint::Mutate.path(), route(Endpoint::Mutate))
        .route(Endpoint::Validate.path(), route(Endpoint::Validate))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not found: POST reviews to /mutate or /validate",
            )
        })
        .with_state(state)
}

/// A JSON error body for requests that are not answerable reviews.
fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "code": status.as_u16(), "error": message });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn review(state: Arc<WebhookState>, route: Arc<Route>, request: Request) -> Response {
    let started = Instant::now();
    let endpoint = route.endpoint;
    let in_flight = InFlight::start(&route.in_flight);
    let span = tracing::info_span!(
        "review",
        webhook = endpoint.path(),
        uid = tracing::field::Empty,
        kind = tracing::field::Empty,
        namespace = tracing::field::Empty,
        name = tracing::field::Empty,
        operation = tracing::field::Empty,
        dry_run = tracing::field::Empty,
        allowed = tracing::field::Empty,
        mutated = tracing::field::Empty,
        code = tracing::field::Empty,
    );
    let (response, summary) = answer(&state, endpoint, request)
        .instrument(span.clone())
        .await;
    drop(in_flight);
    let summary = summary.unwrap_or_else(|| Summary {
        code: response.status().as_u16(),
        ..Default::default()
    });
    record(&state.metrics, &route, &summary, started.elapsed());
    span.record("code", summary.code);
    if !summary.uid.is_empty() {
        span.record("uid", summary.uid.as_str());
        span.record("kind", summary.kind.as_str());
        span.record("namespace", summary.namespace.as_str());
        span.record("name", summary.name.as_str());
        span.record("operation", summary.operation.as_str());
        span.record("dry_run", summary.dry_run);
        span.record("allowed", summary.allowed);
        span.record("mutated", summary.mutated);
        tracing::info!(parent: &span, "admission review answered");
    } else {
        tracing::info!(parent: &span, status = response.status().as_u16(), "request rejected before review");
    }
    response
}

fn record(metrics: &WebhookMetrics, route: &Route, summary: &Summary, elapsed: Duration) {
    metrics
        .requests
        .get_or_create(&RequestLabels {
            webhook: route.label.webhook.clone(),
            code: summary.code.to_string(),
            kind: summary.kind.clone(),
            operation: summary.operation.clone(),
            allowed: summary.allowed.to_string(),
            mutated: summary.mutated.to_string(),
        })
        .inc();
    route.latency.observe(elapsed.as_secs_f64());
    for identity in &summary.iam_injected {
        metrics
            .iam_injections
            .get_or_create(&IamLabels {
                kind: summary.kind.clone(),
                identity: (*identity).to_owned(),
            })
            .inc();
    }
    if summary.iam_conflict {
        metrics
            .iam_conflicts
            .get_or_create(&KindLabel {
                kind: summary.kind.clone(),
            })
            .inc();
    }
}

/// The HTTP response, and the review summary when the body was a review.
async fn answer(
    state: &WebhookState,
    endpoint: Endpoint,
    request: Request,
) -> (Response, Option<Summary>) {
    let Ok(_slot) = state.slots.try_acquire() else {
        return (unavailable("too many reviews in flight"), None);
    };
    let (parts, body) = request.into_parts();
    if !is_json(&parts.headers) {
        return (
            error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            ),
            None,
        );
    }
    let declared = content_length(&parts.headers);
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return (too_large(), None);
    }
    let budget = budget(parts.uri.query(), state.default_budget);
    let (bytes, _held) =
        match tokio::time::timeout(budget, read_body(body, declared, &state.body_bytes)).await {
            Err(_) => {
                return (
                    error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("request not received within its {budget:?} budget"),
                    ),
                    None,
                );
            }
            Ok(Err(response)) => return (response, None),
            Ok(Ok(read)) => read,
        };
    match state.admission.handle(endpoint, &bytes) {
        Ok(outcome) => (
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                outcome.body,
            )
                .into_response(),
            Some(outcome.summary),
        ),
        Err(e) => (error(StatusCode::BAD_REQUEST, &e.to_string()), None),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// 413. The connection layer drains or closes over the unread rest (`https`).
fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("body larger than {MAX_BODY_BYTES} bytes ({MAX_BODY_REASON})"),
    )
}

/// 503 with `Retry-After`: the review may succeed a moment later.
fn unavailable(message: &str) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Reads the body into one buffer, holding a permit of `body_bytes` per byte (bounded by
/// the declared length up front, or grown as chunks of an undeclared length arrive).
async fn read_body(
    body: Body,
    declared: Option<u64>,
    body_bytes: &Semaphore,
) -> Result<(Vec<u8>, SemaphorePermit<'_>), Response> {
    let busy = || unavailable("too many review bytes in flight");
    let reserve = |bytes: usize| {
        u32::try_from(bytes)
            .ok()
            .and_then(|n| body_bytes.try_acquire_many(n).ok())
    };
    // Declared lengths are at most MAX_BODY_BYTES here.
    let declared = declared.and_then(|len| usize::try_from(len).ok());
    let mut held = reserve(declared.unwrap_or(0)).ok_or_else(busy)?;
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            )
        })?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let needed = buffer.len() + data.len();
        if needed > MAX_BODY_BYTES {
            return Err(too_large());
        }
        let permits = held.num_permits();
        if needed > permits {
            // Grow by at least 64 KiB so that a chunked body takes few permits at a time.
            let more = (needed - permits)
                .max(64 << 10)
                .min(MAX_BODY_BYTES - permits);
            held.merge(reserve(more).ok_or_else(busy)?);
        }
        buffer.extend_from_slice(data);
    }
    Ok((buffer, held))
}

/// The apiserver appends `?timeout=<Go duration>` (its webhook timeout); keep a margin so
/// this server answers before the apiserver gives up.
fn budget(query: Option<&str>, default: Duration) -> Duration {
    let requested = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("timeout="))
        .find_map(|value| GoDuration::parse(value).ok()?.to_std())
        .filter(|d| !d.is_zero())
        .unwrap_or(default);
    requested.saturating_sub(requested / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_follows_the_timeout_parameter() {
        let default = Duration::from_secs(10);
        assert_eq!(budget(None, default), Duration::from_secs(9));
        assert_eq!(
            budget(Some("timeout=5s"), default),
            Duration::from_millis(4500)
        );
        assert_eq!(
            budget(Some("a=b&timeout=1s"), default),
            Duration::from_millis(900)
        );
        assert_eq!(
            budget(Some("timeout=bogus"), default),
            Duration::from_secs(9)
        );
        assert_eq!(budget(Some("timeout=0s"), default), Duration::from_secs(9));
    }

    #[test]
    fn json_media_type_with_parameters() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        );
        assert!(!is_json(&headers));
    }

    /// A review whose future is dropped mid-way (the client went away) leaves the gauge
    /// where it was.
    #[test]
    fn in_flight_is_counted_down_when_a_review_is_cancelled() {
        let gauge = Gauge::default();
        let review = async {
            let _in_flight = InFlight::start(&gauge);
            std::future::pending::<()>().await;
        };
        let mut review = Box::pin(review);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(review.as_mut().poll(&mut cx).is_pending());
        assert_eq!(gauge.get(), 1);
        drop(review);
        assert_eq!(gauge.get(), 0);
    }
}
