//! The GC-lifetime guard: keep TiKV from garbage-collecting the MVCC versions a backup is
//! still reading, and put the cluster's `tikv_gc_life_time` back afterwards.
//!
//! # Algorithm
//!
//! The value lives in TiDB's `mysql.tidb` table (row `tikv_gc_life_time`, a Go duration
//! such as `10m0s`), read and written over SQL with the account of `spec.from`. (TiDB ≥
//! v5 also exposes it as the system variable `tidb_gc_life_time`, kept in sync with that
//! row; the row is what TiDB Operator and the user guide's manual SQL use, so the guard
//! uses it too.) Every Backup records its part in `status.tikvGCLifeTime`
//! ([`GcLifeTimeStatus`]): the cluster, the `original` value, the `held` value and a
//! `state`. Backups of one cluster (`<br.clusterNamespace>/<br.cluster>`) coordinate
//! through those records only, so the state survives restarts and leader changes.
//!
//! **Hold** (before the Job is created), serialised per cluster by the reconciler, which
//! reads the other Backups fresh from the apiserver:
//! 1. Read the current value. If other Backups of the cluster are `Holding`, the current
//!    value may be theirs, so the baseline is their recorded `original` (inherited);
//!    otherwise the baseline is the current value.
//! 2. If the baseline is at least `spec.tikvGCLifeTime`, record `Unchanged`: nothing to
//!    hold, nothing to restore.
//! 3. Otherwise record `Holding` with the baseline as `original` **first** (a status
//!    write), and only then raise the value to `spec.tikvGCLifeTime` if the current value
//!    is lower. A crash between the record and the raise, or between the raise and the
//!    restore, leaves `Holding` in the status, so the value is restored later.
//!
//! **Release** (after the Job ends, successful or not; again serialised per cluster):
//! 1. If other Backups of the cluster are still `Holding`, record `HandedOff`: the last of
//!    them restores the same `original`.
//! 2. Otherwise write `original` back and record `Restored`. If that fails the Backup is
//!    marked `Failed` with the SQL to run by hand, stays `Holding`, and the restore is
//!    retried with back-off.
//!
//! So overlapping backups restore the value from before the first of them, after the last
//! of them ends.
//!
//! **Finalizer** [`FINALIZER`]: a `Holding` record lives in the Backup, so the Backup
//! must not vanish before it lets go. [`plan_finalizer`] decides, from observed state:
//! - the finalizer is added (merge patch guarded by the resourceVersion read) *before* a
//!   `Holding` record is written, hence before any raise; a Backup found `Holding`
//!   without it (written by an older version) gets it at once;
//! - it is removed once the record is not `Holding` (`Restored`, `HandedOff`,
//!   `Unchanged`, or never written), so a Backup that raised nothing keeps none;
//! - a Backup deleted while `Holding` releases exactly as at the end of its Job (restore
//!   as the last holder, else hand off), records that, then drops the finalizer. It does
//!   not wait for a running Job: without the cleanPolicy finalizer nothing else keeps
//!   the Backup, and its Job is garbage-collected with it. With the cleanPolicy finalizer
//!   (see [`super::clean`]) that path releases after the Job stopped, and this one only
//!   drops the finalizer afterwards; neither path touches the other's finalizer.
//! - A release that fails on deletion (TiDB unreachable, the secret gone with the
//!   namespace) is announced with the SQL ([`restore_failed_message`]) and the
//!   finalizer goes anyway: a deleted namespace never hangs on TiDB.
//!
//! Every state a crash can leave converges: finalizer without a record (crash before the
//! record) → the hold resumes and reuses it, or it is removed; `Holding` with the value
//! raised or not yet raised → the hold resumes or the release restores; value restored
//! but record still `Holding` → the release runs again (restoring the same `original`,
//! or handing off to a holder that started since and inherited it); record released but
//! finalizer still there → it is removed.

use super::{Step, clean};
use crate::api::{Backup, GcLifeTimeStatus};
use crate::rules::duration::GoDuration;

/// The `mysql.tidb` row holding the GC life time.
pub const GC_VARIABLE: &str = "tikv_gc_life_time";

/// The finalizer of a Backup whose record holds the GC life time.
pub const FINALIZER: &str = "tidb.pingcap.com/gc-life-time";

pub const HOLDING: &str = "Holding";
pub const RESTORED: &str = "Restored";
pub const HANDED_OFF: &str = "HandedOff";
pub const UNCHANGED: &str = "Unchanged";

/// Why the guard cannot decide.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GcError {
    /// `spec.tikvGCLifeTime` is not a Go duration (TiDB Operator's
    /// `ParseConfiguredTikvGCLifeTimeFailed`).
    #[error("spec.tikvGCLifeTime {value:?} is not a Go duration: {reason}")]
    Desired { value: String, reason: String },
    /// The cluster's value is not a Go duration (`ParseOldTikvGCLifeTimeFailed`).
    #[error("the cluster's {GC_VARIABLE} {value:?} is not a Go duration: {reason}")]
    Current { value: String, reason: String },
}

impl GcError {
    /// TiDB Operator's condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Desired { .. } => "ParseConfiguredTikvGCLifeTimeFailed",
            Self::Current { .. } => "ParseOldTikvGCLifeTimeFailed",
        }
    }
}

/// What to do before the Job starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldPlan {
    /// The record to write to the status before anything else.
    pub record: GcLifeTimeStatus,
    /// The value to write to the cluster after the record, if it must be raised.
    pub raise_to: Option<String>,
}

/// The key under which Backups of one cluster coordinate.
pub fn cluster_key(cluster_namespace: &str, cluster: &str) -> String {
    format!("{cluster_namespace}/{cluster}")
}

fn parse(value: &str) -> Result<GoDuration, String> {
    GoDuration::parse(value.trim()).map_err(|e| e.to_string())
}

/// Decides the hold: `desired` is `spec.tikvGCLifeTime`, `current` the cluster's value
/// now, `existing` this Backup's own record (after a crash), `holders` the records of
/// the other Backups of the cluster that are `Holding`.
pub fn plan_hold(
    cluster: &str,
    desired: &str,
    current: &str,
    existing: Option<&GcLifeTimeStatus>,
    holders: &[GcLifeTimeStatus],
) -> Result<HoldPlan, GcError> {
    let desired_d = parse(desired).map_err(|reason| GcError::Desired {
        value: desired.to_owned(),
        reason,
    })?;
    let current_d = parse(current).map_err(|reason| GcError::Current {
        value: current.to_owned(),
        reason,
    })?;
    let raise_to = (current_d < desired_d).then(|| desired.to_owned());
    // Resuming after a crash: the record is authoritative, only the raise may be missing.
    if let Some(own) = existing.filter(|own| own.state == HOLDING) {
        return Ok(HoldPlan {
            record: own.clone(),
            raise_to,
        });
    }
    let baseline = holders
        .iter()
        .find(|h| h.state == HOLDING && !h.original.is_empty())
        .map(|h| h.original.as_str())
        .unwrap_or(current);
    let baseline_d = parse(baseline).map_err(|reason| GcError::Current {
        value: baseline.to_owned(),
        reason,
    })?;
    if baseline_d >= desired_d {
        return Ok(HoldPlan {
            record: GcLifeTimeStatus {
                cluster: cluster.to_owned(),
                original: baseline.to_owned(),
                held: current.to_owned(),
                state: UNCHANGED.to_owned(),
            },
            raise_to: None,
        });
    }
    Ok(HoldPlan {
        record: GcLifeTimeStatus {
            cluster: cluster.to_owned(),
            original: baseline.to_owned(),
            held: desired.to_owned(),
            state: HOLDING.to_owned(),
        },
        raise_to,
    })
}

/// What to do after the Job ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleasePlan {
    /// Not holding: nothing to do.
    Nothing,
    /// Others still hold the value; record `HandedOff` without touching the cluster.
    HandOff,
    /// The last holder: write `original` back, then record `Restored`.
    Restore { original: String },
}

/// Decides the release for `own` given the other `Holding` records of the cluster.
pub fn plan_release(own: Option<&GcLifeTimeStatus>, holders: &[GcLifeTimeStatus]) -> ReleasePlan {
    match own {
        Some(own) if own.state == HOLDING => {
            if holders
                .iter()
                .any(|h| h.state == HOLDING && h.cluster == own.cluster)
            {
                ReleasePlan::HandOff
            } else {
                ReleasePlan::Restore {
                    original: own.original.clone(),
                }
            }
        }
        _ => ReleasePlan::Nothing,
    }
}

/// `own` after a successful release.
pub fn released(own: &GcLifeTimeStatus, plan: &ReleasePlan) -> GcLifeTimeStatus {
    let state = match plan {
        ReleasePlan::Nothing => return own.clone(),
        ReleasePlan::HandOff => HANDED_OFF,
        ReleasePlan::Restore { .. } => RESTORED,
    };
    GcLifeTimeStatus {
        state: state.to_owned(),
        ..own.clone()
    }
}

/// Whether `record` must be protected by [`FINALIZER`] before it is written.
pub fn protects(record: &GcLifeTimeStatus) -> bool {
    record.state == HOLDING
}

pub fn has_finalizer(backup: &Backup) -> bool {
    super::has_finalizer(backup, FINALIZER)
}

/// The finalizers with [`FINALIZER`] added (or removed), the others kept.
pub fn finalizers_with(backup: &Backup, present: bool) -> Vec<String> {
    super::finalizers_with(backup, FINALIZER, present)
}

/// What [`FINALIZER`] needs now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinalizerStep {
    /// As it should be, or for another step to settle first.
    Keep,
    /// `Holding` without it: add it.
    Add,
    /// Deleted while `Holding`: release now (restore or hand off) and record that.
    Release,
    /// Nothing (left) to protect: remove it.
    Remove,
}

/// Decides [`FinalizerStep`] for a Backup whose next backup step is `step`;
/// `release_tried` says whether this reconcile already tried to release on deletion
/// (a failed try is announced and does not keep the Backup).
pub fn plan_finalizer(backup: &Backup, step: &Step, release_tried: bool) -> FinalizerStep {
    let holding = super::holding(backup.status.as_ref());
    let has = has_finalizer(backup);
    if clean::being_deleted(backup) {
        return match (has, holding) {
            // Nothing can be added to an object being deleted.
            (false, _) => FinalizerStep::Keep,
            (true, false) => FinalizerStep::Remove,
            (true, true) if release_tried => FinalizerStep::Remove,
            // The cleanPolicy path releases once the backup Job stopped.
            (true, true) if clean::has_finalizer(backup) => FinalizerStep::Keep,
            (true, true) => FinalizerStep::Release,
        };
    }
    match (has, holding) {
        (false, true) => FinalizerStep::Add,
        // The hold reuses a finalizer an interrupted hold added, or drops it after.
        (true, false) if *step == Step::Prepare => FinalizerStep::Keep,
        (true, false) => FinalizerStep::Remove,
        (false, false) | (true, true) => FinalizerStep::Keep,
    }
}

/// The SQL an operator runs to check the value (user guide, `spec.tikvGCLifeTime`).
pub fn check_sql() -> String {
    format!(
        "select VARIABLE_NAME, VARIABLE_VALUE from mysql.tidb where VARIABLE_NAME like \"{GC_VARIABLE}\";"
    )
}

/// The SQL an operator runs to restore `original` by hand. `original` was read from the
/// cluster and parsed as a Go duration, so it holds no quote.
pub fn restore_sql(original: &str) -> String {
    format!(
        "update mysql.tidb set VARIABLE_VALUE = '{}' where VARIABLE_NAME = '{GC_VARIABLE}';",
        original.replace('\'', "''")
    )
}

/// The `Failed` message of a restore that did not succeed.
pub fn restore_failed_message(cluster: &str, original: &str, error: &str) -> String {
    format!(
        "could not restore {GC_VARIABLE} of cluster {cluster} to {original:?}: {error}. It is retried; to restore it by hand, check it with `{}` and run `{}`",
        check_sql(),
        restore_sql(original)
    )
}
