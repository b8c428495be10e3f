//! Status transitions: TiDB Operator's condition types and `phase`, written the
//! metav1 way (`reason`, `message`, `lastTransitionTime` that moves only when `status`
//! flips, `observedGeneration`). Conditions accumulate, one entry per type, as in TiDB
//! Operator, so a finished backup shows Prepare, Scheduled, Running and Complete.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::summary::BrSummary;
use crate::api::{BackupCondition, BackupStatus};
use crate::rules::Finding;

pub use crate::api::condition::{
    COMPLETE, FAILED, INVALID, PREPARE, RETRY_FAILED, RUNNING, SCHEDULED, UNSUPPORTED,
};

/// Longest condition message (metav1.Condition allows 32768).
pub const MAX_MESSAGE: usize = 32 * 1024;

/// Sets condition `type_` to `True` with `reason` and `message`; `phase` follows it.
/// `lastTransitionTime` is kept when the status does not change.
pub fn set_condition(
    status: &mut BackupStatus,
    type_: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    set_condition_status(status, type_, "True", reason, message, generation, now);
}

/// [`set_condition`] with an explicit `True`/`False`/`Unknown`.
pub fn set_condition_status(
    status: &mut BackupStatus,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    upsert_condition(
        &mut status.conditions,
        type_,
        value,
        reason,
        message,
        generation,
        now,
    );
    if value == "True" {
        status.phase = type_.to_owned();
    }
}

/// Replaces (or appends) condition `type_` in `conditions`; `lastTransitionTime` is kept
/// when the status does not change. Shared by Backups and BackupSchedules.
pub fn upsert_condition(
    conditions: &mut Vec<BackupCondition>,
    type_: &str,
    value: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    let message = truncate(message, MAX_MESSAGE);
    let condition = BackupCondition {
        type_: type_.to_owned(),
        status: value.to_owned(),
        last_transition_time: Some(Time(now)),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        ..BackupCondition::default()
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let since = if existing.status == value {
                existing.last_transition_time.clone()
            } else {
                None
            };
            *existing = BackupCondition {
                last_transition_time: since.or(condition.last_transition_time),
                ..condition
            };
        }
        None => conditions.push(condition),
    }
}

/// Marks an earlier `RetryFailed` as over (`False`, reason `Recovered`), if there is one.
pub fn recovered(status: &mut BackupStatus, generation: Option<i64>, now: Timestamp) {
    if status
        .conditions
        .iter()
        .any(|c| c.type_ == RETRY_FAILED && c.status == "True")
    {
        set_condition_status(
            status,
            RETRY_FAILED,
            "False",
            "Recovered",
            "",
            generation,
            now,
        );
    }
}

/// Whether condition `type_` is `True`.
pub fn is_true(status: Option<&BackupStatus>, type_: &str) -> bool {
    status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == "True")
    })
}

/// `<reason>: <message>` of condition `type_`, empty without it (an Event's note).
pub fn condition_message(status: &BackupStatus, type_: &str) -> String {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| format!("{}: {}", c.reason, c.message))
        .unwrap_or_default()
}

/// Whether condition `type_` already says `True` with this reason and message, so there
/// is nothing to write or announce again.
pub fn reports(status: &BackupStatus, type_: &str, reason: &str, message: &str) -> bool {
    status.conditions.iter().any(|c| {
        c.type_ == type_ && c.status == "True" && c.reason == reason && c.message == message
    })
}

/// The terminal condition a backup reached, if any: `Complete`, `Failed` or `Invalid`.
pub fn terminal(status: Option<&BackupStatus>) -> Option<&'static str> {
    [COMPLETE, FAILED, INVALID, UNSUPPORTED]
        .into_iter()
        .find(|t| is_true(status, t))
}

/// `Unsupported`: a valid Backup this reconciler does not run (TiDB Operator does).
pub fn unsupported(
    status: &mut BackupStatus,
    unsupported: &super::Unsupported,
    generation: Option<i64>,
    now: Timestamp,
) {
    set_condition(
        status,
        UNSUPPORTED,
        unsupported.reason,
        &unsupported.message,
        generation,
        now,
    );
}

/// `Invalid`: the spec fails validation; no Job is created. The message lists every
/// error as `field: message`.
pub fn invalid(
    status: &mut BackupStatus,
    errors: &[Finding],
    generation: Option<i64>,
    now: Timestamp,
) {
    let message = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    set_condition(status, INVALID, "InvalidSpec", &message, generation, now);
}

/// `Complete`, with what BR's summary says.
pub fn complete(
    status: &mut BackupStatus,
    summary: Option<&BrSummary>,
    completed: Timestamp,
    generation: Option<i64>,
    now: Timestamp,
) {
    status.time_completed = Some(Time(completed));
    let mut message = "BR finished the backup".to_owned();
    match summary {
        Some(summary) => {
            status.commit_ts = summary.commit_ts.clone().unwrap_or_default();
            status.backup_size = summary.size.and_then(|s| i64::try_from(s).ok());
            status.backup_size_readable = summary.size_readable().unwrap_or_default();
        }
        None => message.push_str(" (no summary in its log: commitTs and size are unknown)"),
    }
    set_condition(
        status,
        COMPLETE,
        "BackupSucceeded",
        &message,
        generation,
        now,
    );
}

/// `text` cut to at most `max` bytes at a character boundary, marked with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub("…".len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
