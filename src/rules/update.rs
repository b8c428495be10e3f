//! UPDATE semantics: a scheduled Backup's spec is frozen (but for `cleanPolicy`), and
//! problems an object already
//! had never block an update that leaves them alone (ratcheting), so status and
//! finalizer updates of old objects always pass.

use serde::Serialize;
use serde_json::Value;

use super::defaults::{default_backup, default_schedule};
use super::finding::{Finding, Severity};
use super::validate::{validate_backup, validate_schedule};
use crate::api::{Backup, BackupSchedule, BackupStatus, condition};

/// The one spec field that may change after a backup was scheduled.
const MUTABLE_AFTER_SCHEDULING: &str = "spec.cleanPolicy";

/// Condition types after which the backup Job exists and spec edits have no effect.
const STARTED_PHASES: &[&str] = &[
    condition::SCHEDULED,
    condition::PREPARE,
    condition::RUNNING,
    condition::COMPLETE,
    condition::FAILED,
    condition::CLEAN,
    condition::CLEAN_FAILED,
];

/// The phase that froze the spec, if the backup has been scheduled or got further.
pub fn started_phase(status: Option<&BackupStatus>) -> Option<&str> {
    status?.reached(STARTED_PHASES)
}

/// Validates an update of a Backup from `old` to `new`.
pub fn validate_backup_update(old: &Backup, new: &Backup) -> Vec<Finding> {
    let (mut old_d, mut new_d) = (old.clone(), new.clone());
    default_backup(&mut old_d);
    default_backup(&mut new_d);
    let mut findings = ratchet(
        [validate_backup(old), validate_backup(&old_d)].concat(),
        validate_backup(new),
        &old_d,
        &new_d,
    );
    if let Some(phase) = started_phase(old.status.as_ref()) {
        // Compared with defaults applied, so defaulting alone never counts as an edit.
        let mut changed = Vec::new();
        diff_paths(
            "spec",
            &to_json(&old_d.spec),
            &to_json(&new_d.spec),
            &mut changed,
        );
        // cleanPolicy is read when the Backup is deleted, not by the backup itself, so it
        // stays editable (e.g. to keep the data of a backup whose clean was refused).
        changed.retain(|path| path != MUTABLE_AFTER_SCHEDULING);
        findings.extend(changed.into_iter().map(|path| Finding {
            path,
            message: format!(
                "immutable once the backup has been scheduled (status {phase}); create a new Backup instead"
            ),
            severity: Severity::Error,
        }));
    }
    findings
}

/// Validates an update of a BackupSchedule from `old` to `new`.
pub fn validate_schedule_update(old: &BackupSchedule, new: &BackupSchedule) -> Vec<Finding> {
    let (mut old_d, mut new_d) = (old.clone(), new.clone());
    default_schedule(&mut old_d);
    default_schedule(&mut new_d);
    ratchet(
        [validate_schedule(old), validate_schedule(&old_d)].concat(),
        validate_schedule(new),
        &old_d,
        &new_d,
    )
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Downgrades to warnings the errors `new` shares with the old object at a field the
/// update did not change. Both objects are compared with defaults applied (`old_object`
/// and `new_object` are defaulted), so the webhook's own defaulting of the new object
/// never counts as a change: only what the user changed can be denied. `old` holds the
/// findings of the old object as stored and as defaulted.
fn ratchet<T: Serialize>(
    old: Vec<Finding>,
    new: Vec<Finding>,
    old_object: &T,
    new_object: &T,
) -> Vec<Finding> {
    let shared = |f: &Finding| f.is_error() && old.contains(f);
    // Serialising both objects is only worth it when there is something to ratchet.
    let json = new
        .iter()
        .any(shared)
        .then(|| (to_json(old_object), to_json(new_object)));
    new.into_iter()
        .map(|mut finding| {
            let preexisting = shared(&finding)
                && json
                    .as_ref()
                    .is_some_and(|(o, n)| lookup(o, &finding.path) == lookup(n, &finding.path));
            if preexisting {
                finding.severity = Severity::Warning;
                finding.message = format!(
                    "{} (tolerated because the field is unchanged; fix it on the next edit)",
                    finding.message
                );
            }
            finding
        })
        .collect()
}

/// The value at a finding path such as `spec.tableFilter[1]` or `metadata.name`.
pub fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = root;
    for segment in path.split('.') {
        let (key, indices) = match segment.find('[') {
            Some(i) => segment.split_at(i),
            None => (segment, ""),
        };
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(i)?;
        }
    }
    Some(current)
}

/// Paths of the leaves that differ between two JSON values.
fn diff_paths(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let null = Value::Null;
                diff_paths(
                    &format!("{path}.{key}"),
                    a.get(key).unwrap_or(&null),
                    b.get(key).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_paths(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(path.to_owned()),
        _ => {}
    }
}
