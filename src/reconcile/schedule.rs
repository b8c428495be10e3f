//! Pure planning for the BackupSchedule controller: the Backup a tick creates, the Backups
//! retention deletes, the new status, and when to look again. No IO and no clock: callers
//! pass `now` and the time zone the cron is evaluated in.
//!
//! TiDB Operator v1.1's schedule manager (reference §6), minus its bugs:
//!
//! - one backup at a time, but a finished last backup (`Complete`, `Failed` or `Invalid`)
//!   never blocks; v1.1 waits forever behind an `Invalid` one;
//! - missed ticks collapse into one backup for the latest, however many were missed; v1.1
//!   gives up after 100 (a long pause or outage stops the schedule for good);
//! - retention deletes only finished Backups, does nothing on a non-positive or unparsable
//!   `maxReservedTime`, and never resets `lastBackup`/`lastBackupTime`; v1.1 deletes running
//!   backups, deletes all of them on `maxReservedTime: 0s`, and wipes the status whenever
//!   its cache shows no backups;
//! - the next tick is a requeue at its fire time instead of a 30 s resync.
//!
//! A tick is done exactly when the Backup named after it exists, so a stale read, a
//! restart or a new leader computes the same name and creates nothing twice.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Resource;
use kube::api::ObjectMeta;

use super::Unsupported;
use super::argv::go_path_join;
use super::job::{LABEL_MANAGED_BY, LABEL_NAME, LAST_APPLIED_ANNOTATION};
use super::status::{self, upsert_condition};
use crate::api::{Backup, BackupSchedule, BackupScheduleSpec, BackupScheduleStatus};
use crate::rules::cron::{self, Schedule};
use crate::rules::defaults::default_spec;
use crate::rules::duration::GoDuration;
use crate::rules::labels::LABEL_INSTANCE;
use crate::rules::{Finding, SpecContext, default_schedule, validate_schedule};

/// Label naming the schedule a Backup belongs to (`kubectl get bk -l …` in the guide).
pub const LABEL_SCHEDULE: &str = "tidb.pingcap.com/backup-schedule";
/// `app.kubernetes.io/name` of scheduled Backups.
pub const NAME: &str = "backup-schedule";
/// `app.kubernetes.io/managed-by` of scheduled Backups (TiDB Operator's value).
pub const MANAGED_BY: &str = "backup-schedule-operator";
/// Dumpling PVC size when neither the template nor the schedule sets one.
pub const DEFAULT_STORAGE_SIZE: &str = "100Gi";
/// Go's `2006-01-02t15-04-05` (lower-case `t`), always in UTC.
const TICK_FORMAT: &str = "%Y-%m-%dt%H-%M-%S";

/// The spec fails validation: nothing is created or deleted.
pub const INVALID: &str = status::INVALID;
/// `spec.pause` is true: no new backups, retention keeps running.
pub const PAUSED: &str = "Paused";
/// A tick is due but an earlier Backup of the schedule has not finished.
pub const BLOCKED: &str = "Blocked";
/// Parts of the schedule this reconciler does not run (TiDB Operator does).
pub const UNSUPPORTED: &str = status::UNSUPPORTED;

/// The tick as it appears in Backup names and prefixes: UTC, `2006-01-02t15-04-05`.
pub fn tick_stamp(tick: Timestamp) -> String {
    tick.strftime(TICK_FORMAT).to_string()
}

/// `<schedule>-<tick>`: deterministic, so creating it twice is harmless.
pub fn backup_name(schedule: &str, tick: Timestamp) -> String {
    format!("{schedule}-{}", tick_stamp(tick))
}

/// The labels of every Backup a schedule creates (TiDB Operator's four).
pub fn backup_labels(schedule: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_NAME.to_owned(), NAME.to_owned()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (LABEL_INSTANCE.to_owned(), schedule.to_owned()),
        (LABEL_SCHEDULE.to_owned(), schedule.to_owned()),
    ])
}

/// The Backup for `tick` (TiDB Operator's `buildBackup`): the template's spec with the
/// storage prefix extended by `<cluster>-pd.<clusterNamespace>-2379-<tick>` (BR mode) or
/// the schedule's PVC fallbacks (Dumpling mode), the schedule's `imagePullSecrets` when
/// set, its annotations (the IAM role travels this way), the four schedule labels and a
/// controller owner reference, so deleting the schedule deletes its Backups.
///
/// `kubectl.kubernetes.io/last-applied-configuration` is not copied: it is the
/// schedule's manifest and would make `kubectl apply` treat the Backup as that object.
pub fn build_backup(schedule: &BackupSchedule, tick: Timestamp) -> Backup {
    let name = schedule.metadata.name.clone().unwrap_or_default();
    let namespace = schedule.metadata.namespace.clone();
    let mut spec = schedule.spec.backup_template.clone();
    match &spec.br {
        None => {
            if spec.storage_class_name.as_deref().is_none_or(str::is_empty) {
                spec.storage_class_name = schedule.spec.storage_class_name.clone();
            }
            if spec.storage_size.is_empty() {
                spec.storage_size = if schedule.spec.storage_size.is_empty() {
                    DEFAULT_STORAGE_SIZE.to_owned()
                } else {
                    schedule.spec.storage_size.clone()
                };
            }
        }
        Some(br) => {
            let cluster_namespace = if br.cluster_namespace.is_empty() {
                namespace.clone().unwrap_or_default()
            } else {
                br.cluster_namespace.clone()
            };
            // TiDB Operator replaces every ':' of the PD address, not only the port's.
            let pd = format!("{}-pd.{cluster_namespace}:2379", br.cluster);
            let folder = format!("{}-{}", pd.replace(':', "-"), tick_stamp(tick));
            let extend = |prefix: &mut String| *prefix = go_path_join(&[prefix, &folder]);
            if let Some(s3) = spec.s3.as_mut() {
                extend(&mut s3.prefix);
            } else if let Some(gcs) = spec.gcs.as_mut() {
                extend(&mut gcs.prefix);
            } else if let Some(local) = spec.local.as_mut() {
                extend(&mut local.prefix);
            }
        }
    }
    if let Some(secrets) = &schedule.spec.image_pull_secrets {
        spec.image_pull_secrets = Some(secrets.clone());
    }
    let annotations = schedule.metadata.annotations.clone().map(|mut a| {
        a.remove(LAST_APPLIED_ANNOTATION);
        a
    });
    let owner = schedule.controller_owner_ref(&()).map(|mut owner| {
        owner.block_owner_deletion = Some(true);
        owner
    });
    Backup {
        metadata: ObjectMeta {
            name: Some(backup_name(&name, tick)),
            namespace,
            labels: Some(backup_labels(&name)),
            annotations,
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

/// The first tick strictly after `after`, evaluated on the wall clock of `tz` (robfig's
/// `Next`); `None` when nothing fires within five years.
pub fn next_tick(schedule: &Schedule, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    schedule
        .next(&after.to_zoned(tz.clone()))
        .map(|z| z.timestamp())
}

/// The latest tick in `(after, now]`: the one backup that missed ticks collapse into.
///
/// TiDB Operator walks the ticks one by one and gives up after 100. `@every` has a closed
/// form; for cron specs this is a binary search over the instants `x` in `[after, now)`
/// for the last one whose next tick is still `<= now`, so it takes about 40 evaluations
/// of `next` even for a thousand years of missed `* * * * *` ticks.
pub fn latest_tick(
    schedule: &Schedule,
    after: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
) -> Option<Timestamp> {
    match schedule {
        Schedule::Every { seconds } => {
            // robfig: Next(t) = t rounded down to the second + delay.
            let step = i64::try_from(*seconds).ok().filter(|s| *s > 0)?;
            let start = floor_second(after);
            let ticks = floor_second(now).checked_sub(start)? / step;
            (ticks >= 1)
                .then(|| Timestamp::from_second(start.checked_add(ticks.checked_mul(step)?)?).ok())
                .flatten()
        }
        Schedule::Spec(_) => latest_by_search(after, now, |t| next_tick(schedule, t, tz)),
    }
}

/// [`latest_tick`]'s search, for any `next` that rounds its input down to whole seconds
/// and is monotonic (a later start never yields an earlier tick).
pub fn latest_by_search(
    after: Timestamp,
    now: Timestamp,
    mut next: impl FnMut(Timestamp) -> Option<Timestamp>,
) -> Option<Timestamp> {
    let mut best = next(after).filter(|t| *t <= now)?;
    // Invariant: next(lo) <= now < next(hi); next(floor(now)) > now always holds.
    let mut lo = floor_second(after);
    let mut hi = floor_second(now);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match Timestamp::from_second(mid)
            .ok()
            .and_then(&mut next)
            .filter(|t| *t <= now)
        {
            Some(tick) => {
                lo = mid;
                best = tick;
            }
            None => hi = mid,
        }
    }
    Some(best)
}

fn floor_second(t: Timestamp) -> i64 {
    let secs = t.as_second();
    if t.subsec_nanosecond() < 0 {
        secs - 1
    } else {
        secs
    }
}

/// A Backup retention deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub name: String,
    /// Delete only this object, not a namesake created since it was read.
    pub uid: Option<String>,
    /// Why, for the Event.
    pub reason: String,
}

/// The retention policy in force (`maxReservedTime` wins over `maxBackups`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Delete finished Backups created at least this long ago.
    ReservedTime { text: String, nanos: i64 },
    /// Keep the newest `n` finished Backups.
    MaxBackups(usize),
    /// Keep everything: neither is set, `maxBackups` is 0, or (guard) `maxReservedTime`
    /// is not a positive duration, which TiDB Operator treats as "delete everything".
    KeepAll,
}

impl Retention {
    pub fn of(spec: &BackupScheduleSpec) -> Self {
        match &spec.max_reserved_time {
            Some(text) => match GoDuration::parse(text) {
                Ok(d) if d.is_positive() => Retention::ReservedTime {
                    text: text.clone(),
                    nanos: d.as_nanos(),
                },
                _ => Retention::KeepAll,
            },
            None => match spec.max_backups.and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n > 0 => Retention::MaxBackups(n),
                _ => Retention::KeepAll,
            },
        }
    }
}

/// Whether a Backup has reached `Complete`, `Failed` or `Invalid`.
pub fn finished(backup: &Backup) -> bool {
    status::terminal(backup.status.as_ref()).is_some()
}

fn deleting(backup: &Backup) -> bool {
    backup.metadata.deletion_timestamp.is_some()
}

fn created(backup: &Backup) -> Option<Timestamp> {
    backup.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// What retention deletes now (oldest first), and when the next finished Backup expires
/// under `maxReservedTime`. Only finished Backups that are not already being deleted are
/// candidates, so a running backup is never deleted and never counted; nor is one whose
/// GC life time restore is still being retried (deleting it would leave the raised value
/// in TiDB for good).
pub fn retention(
    spec: &BackupScheduleSpec,
    backups: &[Backup],
    now: Timestamp,
) -> (Vec<Deletion>, Option<Timestamp>) {
    let mut candidates: Vec<(Timestamp, &Backup)> = backups
        .iter()
        .filter(|b| finished(b) && !deleting(b) && !super::holding(b.status.as_ref()))
        .filter_map(|b| Some((created(b)?, b)))
        .collect();
    candidates
        .sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.metadata.name.cmp(&y.metadata.name)));
    let deletion = |backup: &Backup, reason: String| Deletion {
        name: backup.metadata.name.clone().unwrap_or_default(),
        uid: backup.metadata.uid.clone(),
        reason,
    };
    match Retention::of(spec) {
        Retention::KeepAll => (Vec::new(), None),
        Retention::MaxBackups(keep) => {
            let excess = candidates.len().saturating_sub(keep);
            let delete = candidates[..excess]
                .iter()
                .map(|(_, b)| {
                    deletion(
                        b,
                        format!("maxBackups is {keep} and {keep} newer finished Backups exist"),
                    )
                })
                .collect();
            (delete, None)
        }
        Retention::ReservedTime { text, nanos } => {
            let mut delete = Vec::new();
            let mut next_expiry: Option<Timestamp> = None;
            for (at, backup) in &candidates {
                // Out of range: expires after the end of time.
                let Ok(expires) = at.checked_add(SignedDuration::from_nanos(nanos)) else {
                    continue;
                };
                if expires <= now {
                    delete.push(deletion(
                        backup,
                        format!("created at {at}, more than maxReservedTime {text} ago"),
                    ));
                } else {
                    next_expiry = Some(next_expiry.map_or(expires, |n| n.min(expires)));
                }
            }
            (delete, next_expiry)
        }
    }
}

/// Every finding for the schedule as the controller runs it: the rule core's on the
/// defaulted object.
pub fn findings(schedule: &BackupSchedule) -> Vec<Finding> {
    let mut schedule = schedule.clone();
    default_schedule(&mut schedule);
    validate_schedule(&schedule)
}

/// What of the schedule this reconciler does not run: a template it cannot run stops
/// the schedule (`Some(true, …)`); log and compact templates are left to TiDB Operator
/// while the snapshot backups run (`Some(false, …)`).
pub fn unsupported(schedule: &BackupSchedule) -> Option<(bool, Unsupported)> {
    let mut template = schedule.spec.backup_template.clone();
    default_spec(
        &mut template,
        &SpecContext::of_schedule(&schedule.metadata),
        "spec.backupTemplate",
        &mut Vec::new(),
    );
    if let Some(unsupported) = super::unsupported(&template) {
        return Some((
            true,
            Unsupported {
                message: format!(
                    "spec.backupTemplate: {}; no Backup is created",
                    unsupported.message
                ),
                ..unsupported
            },
        ));
    }
    let parts: Vec<&str> = [
        (
            "spec.logBackupTemplate",
            schedule.spec.log_backup_template.is_some(),
        ),
        (
            "spec.compactBackupTemplate",
            schedule.spec.compact_backup_template.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    (!parts.is_empty()).then(|| {
        (
            false,
            Unsupported {
                reason: "LogBackupNotSupported",
                message: format!(
                    "{} not run by this reconciler (log and compact backups are TiDB Operator's); the snapshot backups of spec.backupTemplate are",
                    parts.join(" and ")
                ),
            },
        )
    })
}

/// What to do for a schedule now.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The Backup of the due tick (one that already exists counts as created).
    pub create: Option<Backup>,
    /// Finished Backups retention deletes, oldest first.
    pub delete: Vec<Deletion>,
    /// The status after this round (assuming the creation succeeds).
    pub status: BackupScheduleStatus,
    /// When to look again: the next fire time or the next expiry, whichever is first;
    /// `None` waits for a change (an invalid spec, or a paused one with nothing to expire).
    pub requeue_at: Option<Timestamp>,
    /// Ticks before the one `create` is for that got no Backup of their own (the
    /// reconciler was down, or an earlier Backup still ran), at most
    /// [`MAX_COUNTED_MISSED_TICKS`]. Ticks skipped while paused or under an earlier spec
    /// (before a resume or a new cron) are not missed: the spec changed since the last round.
    pub missed_ticks: u64,
}

/// Missed ticks counted for one Backup: enough for any alert, bounded work per round.
pub const MAX_COUNTED_MISSED_TICKS: u64 = 1000;

/// Plans one round for `schedule`, given the Backups labelled with its name and `now`;
/// the cron is evaluated in `tz`, names and prefixes use UTC.
pub fn plan(schedule: &BackupSchedule, backups: &[Backup], now: Timestamp, tz: &TimeZone) -> Plan {
    let generation = schedule.metadata.generation;
    let mut status = schedule.status.clone().unwrap_or_default();
    let condition =
        |status: &mut BackupScheduleStatus, type_: &str, on: bool, reason: &str, message: &str| {
            upsert_condition(
                &mut status.conditions,
                type_,
                if on { "True" } else { "False" },
                reason,
                message,
                generation,
                now,
            );
        };
    // TiDB Operator's order: the last tick, else the last time retention emptied the
    // schedule, else its creation.
    let earliest = status
        .last_backup_time
        .as_ref()
        .or(status.all_backup_clean_time.as_ref())
        .map(|t| t.0)
        .or_else(|| schedule.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(now);
    let paused = schedule.spec.pause == Some(true);
    let errors: Vec<Finding> = findings(schedule)
        .into_iter()
        .filter(Finding::is_error)
        .collect();
    if errors.is_empty() {
        condition(&mut status, INVALID, false, "ValidSpec", "");
    } else {
        let message = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        condition(&mut status, INVALID, true, "InvalidSpec", &message);
    }
    if paused {
        condition(
            &mut status,
            PAUSED,
            true,
            "Paused",
            "spec.pause is true: no new backups; retention keeps running",
        );
    } else {
        condition(&mut status, PAUSED, false, "Active", "");
    }
    let unsupported = unsupported(schedule);
    match &unsupported {
        Some((_, part)) => condition(&mut status, UNSUPPORTED, true, part.reason, &part.message),
        None => condition(&mut status, UNSUPPORTED, false, "Supported", ""),
    }
    let stopped = unsupported.is_some_and(|(stops, _)| stops);
    // The validator parses the cron too; an error here only means an invalid spec.
    let cron = cron::parse_standard(&schedule.spec.schedule)
        .ok()
        .filter(|_| errors.is_empty() && !stopped);
    let Some(cron) = cron else {
        // The webhook may have been bypassed, or the template is not ours to run: report,
        // and touch nothing until the spec changes (retention included, so a broken policy
        // cannot delete anything).
        condition(&mut status, BLOCKED, false, "NotWaiting", "");
        status.next_backup_time = None;
        return Plan {
            create: None,
            delete: Vec::new(),
            status,
            requeue_at: None,
            missed_ticks: 0,
        };
    };

    let (delete, next_expiry) = retention(&schedule.spec, backups, now);
    let remaining = backups.iter().filter(|b| !deleting(b)).count();
    if !delete.is_empty() && delete.len() == remaining {
        // Informational only: unlike TiDB Operator, lastBackup and lastBackupTime stay.
        status.all_backup_clean_time = Some(Time(now));
    }

    let name = schedule.metadata.name.clone().unwrap_or_default();
    let mut create = None;
    let mut missed_ticks = 0;
    let mut waiting = None;
    let due = if paused {
        None
    } else {
        latest_tick(&cron, earliest, now, tz)
    };
    if let Some(tick) = due {
        let backup_name = backup_name(&name, tick);
        let exists = backups
            .iter()
            .any(|b| b.metadata.name.as_deref() == Some(backup_name.as_str()));
        let mut running: Vec<&str> = backups
            .iter()
            .filter(|b| !finished(b) && !deleting(b))
            .filter_map(|b| b.metadata.name.as_deref())
            .collect();
        running.sort_unstable();
        if !exists && !running.is_empty() {
            waiting = Some((tick, running.join(", ")));
        } else {
            if !exists {
                create = Some(build_backup(schedule, tick));
                status.all_backup_clean_time = None;
                if !spec_changed_since_last_round(schedule) {
                    missed_ticks =
                        ticks_between(&cron, earliest, tick, tz, MAX_COUNTED_MISSED_TICKS);
                }
            }
            status.last_backup = backup_name;
            status.last_backup_time = Some(Time(tick));
        }
    }
    match &waiting {
        Some((tick, running)) => {
            let message = format!(
                "the tick at {tick} waits for Backup {running} to finish (one backup at a time)"
            );
            condition(
                &mut status,
                BLOCKED,
                true,
                "PreviousBackupRunning",
                &message,
            );
        }
        None => condition(&mut status, BLOCKED, false, "NotWaiting", ""),
    }

    let next_fire = if paused {
        None
    } else {
        // After the last tick even if the clock went back (TiDB Operator's "timestamp
        // fallback"): an earlier tick would only duplicate it under another name.
        let from = status
            .last_backup_time
            .as_ref()
            .map_or(now, |t| t.0.max(now));
        next_tick(&cron, from, tz)
    };
    status.next_backup_time = next_fire.map(Time);
    let requeue_at = match (next_fire, next_expiry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Plan {
        create,
        delete,
        status,
        requeue_at,
        missed_ticks,
    }
}

/// Whether the spec changed since the conditions were last written (a resume, a new
/// cron): the ticks before it were not the schedule's to miss. A schedule never planned
/// before has no conditions and counts as unchanged.
fn spec_changed_since_last_round(schedule: &BackupSchedule) -> bool {
    let observed = schedule
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == INVALID))
        .map(|c| c.observed_generation);
    observed.is_some_and(|observed| observed != schedule.metadata.generation)
}

/// How many ticks fall strictly between `after` and `before`, counting at most `limit`.
pub fn ticks_between(
    schedule: &Schedule,
    after: Timestamp,
    before: Timestamp,
    tz: &TimeZone,
    limit: u64,
) -> u64 {
    let mut count = 0;
    let mut at = after;
    while count < limit {
        match next_tick(schedule, at, tz) {
            Some(tick) if tick < before => {
                count += 1;
                at = tick;
            }
            _ => break,
        }
    }
    count
}

/// The first `count` fire times after `now` (fewer when the schedule stops firing).
pub fn fire_times(
    schedule: &Schedule,
    now: Timestamp,
    tz: &TimeZone,
    count: usize,
) -> Vec<Timestamp> {
    let mut times = Vec::with_capacity(count.min(1024));
    let mut at = now;
    while times.len() < count {
        let Some(next) = next_tick(schedule, at, tz) else {
            break;
        };
        times.push(next);
        at = next;
    }
    times
}
