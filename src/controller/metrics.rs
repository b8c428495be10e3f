//! Reconciler metrics, registered under the `tidb_backup_reconcile` prefix: runs,
//! failures by error kind, duration, status transitions, leadership, the Backups
//! schedules create and expire and the ticks they miss, and failed GC life time restores.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::condition;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// A stable name of the error kind (see `Error::metric_label`).
    pub error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// The condition type recorded (`Scheduled`, `Running`, `Complete`, …).
    pub condition: String,
}

/// The reconciler's metrics.
#[derive(Debug)]
pub struct Metrics {
    pub runs: Counter,
    pub failures: Family<ErrorLabels, Counter>,
    pub duration: Histogram,
    pub transitions: Family<TransitionLabels, Counter>,
    /// 1 while this replica holds the leader lease.
    pub leader: Gauge,
    /// Backups created by BackupSchedules.
    pub scheduled: Counter,
    /// Backups deleted by BackupSchedule retention.
    pub expired: Counter,
    /// Schedule ticks that got no Backup of their own (see `schedule::Plan::missed_ticks`).
    pub missed_ticks: Counter,
    /// Attempts to restore a cluster's raised GC life time that failed: after a backup,
    /// on retry, or for a Backup deleted while holding it (which is not retried).
    pub gc_restore_failures: Counter,
}

/// Conditions the alert rules count: exported at 0 from start-up, because `increase()`
/// sees nothing in a series that first appears at 1 (a process's first failed Backup).
const ALERTED_CONDITIONS: [&str; 3] = [
    condition::FAILED,
    condition::INVALID,
    condition::CLEAN_FAILED,
];

impl Default for Metrics {
    fn default() -> Self {
        let transitions = Family::<TransitionLabels, Counter>::default();
        for condition in ALERTED_CONDITIONS {
            drop(transitions.get_or_create(&TransitionLabels {
                condition: condition.to_owned(),
            }));
        }
        Self {
            runs: Counter::default(),
            failures: Family::default(),
            // 1 ms … ~16 s: a reconcile is a few API calls, plus SQL when the GC is held.
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            transitions,
            leader: Gauge::default(),
            scheduled: Counter::default(),
            expired: Counter::default(),
            missed_ticks: Counter::default(),
            gc_restore_failures: Counter::default(),
        }
    }
}

impl Metrics {
    /// Registers every metric under `tidb_backup_reconcile_`.
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("tidb_backup_reconcile");
        sub.register("runs", "Reconciles started", self.runs.clone());
        sub.register(
            "failures",
            "Reconciles that ended in an error, by error kind",
            self.failures.clone(),
        );
        sub.register(
            "duration_seconds",
            "Time one reconcile took",
            self.duration.clone(),
        );
        sub.register(
            "transitions",
            "Backup status conditions recorded, by condition type",
            self.transitions.clone(),
        );
        sub.register(
            "leader",
            "1 while this replica holds the leader lease",
            self.leader.clone(),
        );
        sub.register(
            "scheduled_backups",
            "Backups created by BackupSchedules",
            self.scheduled.clone(),
        );
        sub.register(
            "expired_backups",
            "Backups deleted by BackupSchedule retention",
            self.expired.clone(),
        );
        sub.register(
            "missed_ticks",
            "BackupSchedule ticks that got no Backup of their own (collapsed into a later tick's)",
            self.missed_ticks.clone(),
        );
        sub.register(
            "gc_restore_failures",
            "Failed attempts to restore a TiDB cluster's tikv_gc_life_time after a backup",
            self.gc_restore_failures.clone(),
        );
    }

    /// Counts a run and times it until the returned guard is dropped.
    pub fn start(&self) -> ReconcileTimer<'_> {
        self.runs.inc();
        ReconcileTimer {
            metrics: self,
            started: Instant::now(),
        }
    }

    pub fn failure(&self, error: &str) {
        self.failures
            .get_or_create(&ErrorLabels {
                error: error.to_owned(),
            })
            .inc();
    }

    pub fn transition(&self, condition: &str) {
        self.transitions
            .get_or_create(&TransitionLabels {
                condition: condition.to_owned(),
            })
            .inc();
    }
}

/// Observes the reconcile duration when dropped, whichever way the reconcile ends.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    started: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}
