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
//! of them ends. A `Delete`/`OnFailure` Backup deleted while `Holding` keeps its
//! finalizer until its Job stopped and the release was tried (see
//! [`super::clean`]); a failed try is announced with the SQL and does not hold up the
//! deletion (TiDB may be going away with the namespace). A `Retain` Backup has no
//! finalizer: deleted while `Holding`, its record is gone, and the value stays raised
//! until another backup of the cluster ends or an operator runs the SQL.

use crate::api::GcLifeTimeStatus;
use crate::rules::duration::GoDuration;

/// The `mysql.tidb` row holding the GC life time.
pub const GC_VARIABLE: &str = "tikv_gc_life_time";

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
