//! HTTP routes of the webhook: `POST /mutate` and `POST /validate`, with the input
//! hardening the apiserver's wire contract calls for. Decisions come from
//! [`crate::admission`]; this layer only moves bytes, counts and logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::metrics::{IamLabels, KindLabel, RequestLabels, WebhookLabel, WebhookMetrics};
use crate::admission::{Admission, Endpoint, Summary};
use crate::rules::duration::GoDuration;

/// Largest body accepted: room for `object` and `oldObject` at the apiserver's 3 MiB
/// object limit each, plus the rest of the review.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// Limits of the review endpoints.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Reviews answered at once; more get 503 at once, so the failurePolicy applies
    /// instead of requests queueing towards the apiserver's timeout.
    pub max_in_flight: usize,
    /// Budget when the apiserver sends no `?timeout=` (its own default is 10 s).
    pub default_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            default_budget: Duration::from_secs(10),
        }
    }
}

struct WebhookState {
    admission: Admission,
    metrics: WebhookMetrics,
    slots: Semaphore,
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
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many reviews in flight",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return (response, None);
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
    if content_length(&parts.headers).is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return (too_large(), None);
    }
    let budget = budget(parts.uri.query(), state.default_budget);
    let bytes = match tokio::time::timeout(budget, read_body(body)).await {
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
        Ok(Ok(bytes)) => bytes,
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

/// 413, closing the connection: the rest of the body is never read.
fn too_large() -> Response {
    let mut response = error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("body larger than {MAX_BODY_BYTES} bytes"),
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn read_body(body: Body) -> Result<Bytes, Response> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("cannot read the body: {e}"),
        )),
    }
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
