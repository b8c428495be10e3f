//! Webhook metrics, named like controller-runtime's so existing dashboards work
//! (`*_webhook_requests_total{webhook,code}`, `*_webhook_latency_seconds`,
//! `*_webhook_requests_in_flight`), plus the admission decision and certificate state.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Prefix of every metric of this project.
pub const PREFIX: &str = "tidb_backup";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `/mutate` or `/validate`.
    pub webhook: String,
    /// HTTP status of the answer; for reviews, the decision's code (200 allowed).
    pub code: String,
    pub kind: String,
    pub operation: String,
    pub allowed: String,
    pub mutated: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabel {
    pub webhook: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IamLabels {
    /// Kind of the object mutated (Pod, Backup, BackupSchedule).
    pub kind: String,
    /// `role` or `serviceAccount`.
    pub identity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

/// Everything the webhook server counts.
#[derive(Clone)]
pub struct WebhookMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<WebhookLabel, Histogram>,
    pub in_flight: Family<WebhookLabel, Gauge>,
    pub cert_not_after: Gauge,
    pub cert_reloads: Family<ResultLabel, Counter>,
    pub iam_injections: Family<IamLabels, Counter>,
    pub iam_conflicts: Family<KindLabel, Counter>,
}

impl WebhookMetrics {
    /// Creates the metrics and registers them under `tidb_backup_`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            // 100 µs … ~3.3 s: the handler takes microseconds, the apiserver waits seconds.
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 2.0, 16))
            }),
            in_flight: Family::default(),
            cert_not_after: Gauge::default(),
            cert_reloads: Family::default(),
            iam_injections: Family::default(),
            iam_conflicts: Family::default(),
        };
        let registry = registry.sub_registry_with_prefix(PREFIX);
        registry.register(
            "webhook_requests",
            "Admission requests by webhook path, answer code, kind, operation and decision",
            metrics.requests.clone(),
        );
        registry.register(
            "webhook_latency_seconds",
            "Time to answer an admission request",
            metrics.latency.clone(),
        );
        registry.register(
            "webhook_requests_in_flight",
            "Admission requests being answered",
            metrics.in_flight.clone(),
        );
        registry.register(
            "webhook_certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate in use, as a Unix timestamp",
            metrics.cert_not_after.clone(),
        );
        registry.register(
            "webhook_certificate_reloads",
            "Attempts to load a changed serving certificate, by result",
            metrics.cert_reloads.clone(),
        );
        registry.register(
            "webhook_iam_injections",
            "IAM identities injected, by object kind and identity (role, serviceAccount)",
            metrics.iam_injections.clone(),
        );
        registry.register(
            "webhook_iam_conflicts",
            "Admissions that found different IAM identities declared for one TiDB cluster",
            metrics.iam_conflicts.clone(),
        );
        // The series the alert rules count are exported at 0 from start-up: `increase()`
        // sees nothing in a series that first appears at 1 (a process's first failure).
        for result in ["success", "failure"] {
            drop(metrics.cert_reloads.get_or_create(&ResultLabel {
                result: result.to_owned(),
            }));
        }
        for kind in ["Pod", "Backup", "BackupSchedule"] {
            drop(metrics.iam_conflicts.get_or_create(&KindLabel {
                kind: kind.to_owned(),
            }));
        }
        metrics
    }

    pub fn count_reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.cert_reloads
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }
}
