//! Pure planning for the Backup reconciler: what to do next given what was observed, the
//! Job and BR command line to create, how the status changes, what BR's log says, and
//! the GC-lifetime guard's decisions. No IO and no clock: callers pass `now`.
//!
//! A Backup moves through TiDB Operator's conditions:
//!
//! ```text
//! (new) ─validate─► Invalid (terminal, no Job)
//!   └─► Prepare (GC life time held, backupPath known) ─► Job backup-<name> ─► Scheduled
//!         ─pod runs─► Running (timeStarted) ─Job ends─► release GC ─► Complete | Failed
//! ```
//!
//! [`next_step`] is level-based: it reads only the Backup, its Job and its pod, so a
//! duplicate event, a restart or a new leader lands on the same step, and each step is
//! idempotent (a Job that already exists counts as created).
//!
//! cleanPolicy ([`clean`]) wraps these steps: a `Delete`/`OnFailure` Backup gets its
//! finalizer first, and a deleted one settles its backup (Job stopped, GC life time
//! released) before its data is deleted. A Backup holding the GC life time carries a
//! finalizer of its own until it lets go ([`gc::plan_finalizer`]). The BackupSchedule
//! planner is the sibling module [`schedule`], run by a second controller inside
//! [`crate::controller::leader::lead`].

pub mod argv;
pub mod clean;
pub mod gc;
pub mod job;
pub mod schedule;
pub mod status;
pub mod summary;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use crate::api::{Backup, BackupSpec, BackupStatus, GcLifeTimeStatus};
use crate::rules::vocab::BackupMode;
use crate::rules::{Finding, default_backup, validate_backup};
use summary::BrSummary;

/// Field manager of every write the reconciler makes.
pub const FIELD_MANAGER: &str = "tidb-backup-webhook";

/// A spec the reconciler cannot turn into a Job, with the field to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PlanError {
    pub path: String,
    pub message: String,
}

impl PlanError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The Backup as the reconciler executes it: defaulted exactly as the webhook would, so
/// the Job is the same whether or not the webhook admitted it.
pub fn defaulted(backup: &Backup) -> Backup {
    let mut backup = backup.clone();
    default_backup(&mut backup);
    backup
}

/// Why this reconciler does not run a Backup that TiDB Operator would run: it executes
/// BR snapshot backups (to s3, gcs, azblob or a volume) and nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The condition's and the Event's reason.
    pub reason: &'static str,
    pub message: String,
}

/// What in `spec` this reconciler cannot run, if anything.
pub fn unsupported(spec: &BackupSpec) -> Option<Unsupported> {
    const ASK: &str = "let TiDB Operator's backup controller run it";
    if spec.br.is_none() {
        return Some(Unsupported {
            reason: "DumplingNotSupported",
            message: format!(
                "Dumpling backups (no spec.br) are not run by this reconciler, which runs BR snapshot backups; {ASK}, or add spec.br to back up with BR"
            ),
        });
    }
    match BackupMode::effective(&spec.backup_mode) {
        BackupMode::Snapshot => {}
        BackupMode::Log => {
            return Some(Unsupported {
                reason: "LogBackupNotSupported",
                message: format!(
                    "log (PITR) backups are not run by this reconciler, which runs BR snapshot backups; {ASK}"
                ),
            });
        }
        BackupMode::VolumeSnapshot => {
            return Some(Unsupported {
                reason: "VolumeSnapshotNotSupported",
                message: format!(
                    "volume-snapshot backups are not run by this reconciler, which runs BR snapshot backups; {ASK}"
                ),
            });
        }
    }
    crate::api::is_true(spec.use_kms).then(|| Unsupported {
        reason: "KMSNotSupported",
        message: format!(
            "spec.useKMS: BR runs without tidb-backup-manager's KMS decryption here, so it would get encrypted keys; store plain keys in the secrets and remove useKMS, or {ASK}"
        ),
    })
}

/// Every finding for the defaulted Backup.
pub fn findings(backup: &Backup) -> Vec<Finding> {
    validate_backup(&defaulted(backup))
}

/// The errors among [`findings`] (warnings do not stop a backup).
pub fn validation_errors(backup: &Backup) -> Vec<Finding> {
    findings(backup)
        .into_iter()
        .filter(Finding::is_error)
        .collect()
}

/// How a Job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded {
        completed: Option<Timestamp>,
    },
    Failed {
        reason: String,
        message: String,
        at: Option<Timestamp>,
    },
    /// The Job disappeared before it finished (deleted by someone).
    Lost,
}

/// What matters of the Job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobView {
    pub started: Option<Timestamp>,
    pub outcome: Option<JobOutcome>,
    /// uid of the Job's controller owner.
    pub owner_uid: Option<String>,
}

impl JobView {
    pub fn of(job: &Job) -> Self {
        let status = job.status.as_ref();
        let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
        let is_true = |type_: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == type_ && c.status == "True")
        };
        let outcome = if let Some(done) = is_true("Complete") {
            Some(JobOutcome::Succeeded {
                completed: status
                    .and_then(|s| s.completion_time.as_ref())
                    .or(done.last_transition_time.as_ref())
                    .map(|t| t.0),
            })
        } else {
            is_true("Failed").map(|failed| JobOutcome::Failed {
                reason: failed.reason.clone().unwrap_or_default(),
                message: failed.message.clone().unwrap_or_default(),
                at: failed.last_transition_time.as_ref().map(|t| t.0),
            })
        };
        let owner_uid = job
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        Self {
            started: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
            outcome,
            owner_uid,
        }
    }
}

/// What matters of the Job's pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub phase: String,
    /// When the BR container started running (else the pod's start time).
    pub started: Option<Timestamp>,
}

impl PodView {
    /// The newest of the Job's pods (with `backoffLimit: 0` there is normally one).
    pub fn newest(pods: &[Pod]) -> Option<Self> {
        let pod = pods.iter().max_by_key(|p| {
            p.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .unwrap_or(Timestamp::MIN)
        })?;
        let status = pod.status.as_ref();
        let container_started = status
            .and_then(|s| s.container_statuses.as_deref())
            .into_iter()
            .flatten()
            .find(|c| c.name == job::CONTAINER)
            .and_then(|c| c.state.as_ref())
            .and_then(|state| {
                state
                    .running
                    .as_ref()
                    .and_then(|r| r.started_at.as_ref())
                    .or_else(|| {
                        state
                            .terminated
                            .as_ref()
                            .and_then(|t| t.started_at.as_ref())
                    })
            })
            .map(|t| t.0);
        Some(Self {
            name: pod.metadata.name.clone().unwrap_or_default(),
            phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
            started: container_started
                .or_else(|| status.and_then(|s| s.start_time.as_ref()).map(|t| t.0)),
        })
    }

    /// Whether BR has started: the pod runs, or already ran to an end.
    pub fn has_started(&self) -> bool {
        matches!(self.phase.as_str(), "Running" | "Succeeded" | "Failed")
    }
}

/// The next thing to do for a Backup.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Finished and holding nothing.
    Done,
    /// The spec fails validation: record `Invalid`; no Job is ever created.
    Invalid(Vec<Finding>),
    /// A valid Backup this reconciler does not run: record `Unsupported` once.
    Unsupported(Unsupported),
    /// Hold the GC life time (when `spec.from` is set), then record `Prepare`.
    Prepare,
    /// Create Job `backup-<name>` (an existing one counts as created).
    CreateJob,
    /// Job `backup-<name>` exists but belongs to something else (typically a deleted
    /// Backup of the same name whose Job is still being garbage-collected): wait, never
    /// adopt its result.
    JobConflict { owner: Option<String> },
    /// The Job exists: record `Scheduled`.
    MarkScheduled,
    /// BR's pod started: record `Running` with `timeStarted`.
    MarkRunning { started: Timestamp },
    /// The Job ended (or vanished): read BR's log, release the GC life time, record
    /// `Complete` or `Failed`.
    Finish(JobOutcome),
    /// A finished backup still holds the GC life time (its restore failed): retry.
    RetryRelease,
    /// Nothing to do until something changes.
    Wait,
}

/// Decides the next step from the stored Backup, its Job (`None`: not found) and the
/// Job's newest pod.
pub fn next_step(backup: &Backup, job: Option<&JobView>, pod: Option<&PodView>) -> Step {
    let status = backup.status.as_ref();
    if status::terminal(status).is_some() {
        return if holding(status) {
            Step::RetryRelease
        } else {
            Step::Done
        };
    }
    let scheduled = status::is_true(status, status::SCHEDULED);
    let Some(job) = job else {
        if scheduled {
            return Step::Finish(JobOutcome::Lost);
        }
        if !status::is_true(status, status::PREPARE) {
            let errors = validation_errors(backup);
            if !errors.is_empty() {
                return Step::Invalid(errors);
            }
            if let Some(unsupported) = unsupported(&defaulted(backup).spec) {
                return Step::Unsupported(unsupported);
            }
            return Step::Prepare;
        }
        return Step::CreateJob;
    };
    if job.owner_uid != backup.metadata.uid {
        return Step::JobConflict {
            owner: job.owner_uid.clone(),
        };
    }
    if let Some(outcome) = &job.outcome {
        return Step::Finish(outcome.clone());
    }
    if !scheduled {
        return Step::MarkScheduled;
    }
    if !status::is_true(status, status::RUNNING)
        && let Some(pod) = pod.filter(|p| p.has_started())
        && let Some(started) = pod.started.or(job.started)
    {
        return Step::MarkRunning { started };
    }
    Step::Wait
}

/// Whether the Backup carries `finalizer`.
pub fn has_finalizer(backup: &Backup, finalizer: &str) -> bool {
    backup
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == finalizer)
}

/// The Backup's finalizers with `finalizer` added once at the end (`present`) or
/// removed, the others kept in their order: each path edits only its own entry.
pub fn finalizers_with(backup: &Backup, finalizer: &str, present: bool) -> Vec<String> {
    let mut list: Vec<String> = backup
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != finalizer)
        .cloned()
        .collect();
    if present {
        list.push(finalizer.to_owned());
    }
    list
}

/// Whether the Backup's record says it holds the GC life time.
pub fn holding(status: Option<&BackupStatus>) -> bool {
    status
        .and_then(|s| s.tikv_gc_life_time.as_ref())
        .is_some_and(|gc| gc.state == gc::HOLDING)
}

/// What happened to the GC life time when the Job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcRelease {
    /// The backup held nothing.
    NotHeld,
    /// Released; the new record (`Restored` or `HandedOff`).
    Released(GcLifeTimeStatus),
    /// The restore failed; the message names the SQL to run by hand.
    RestoreFailed(String),
}

/// Everything [`finish`] needs.
#[derive(Clone, Debug)]
pub struct Finished<'a> {
    pub outcome: &'a JobOutcome,
    pub job_name: &'a str,
    /// BR's log, when the pod's log could be read.
    pub log: Option<&'a str>,
    /// When BR started, if known (pod or Job start).
    pub started: Option<Timestamp>,
    pub gc: GcRelease,
    pub generation: Option<i64>,
    pub now: Timestamp,
}

/// The status after the Job ended: `Complete` with BR's numbers, or `Failed` with the
/// reason and BR's error lines. A failed GC restore fails the backup (user guide), but
/// what BR reported is still recorded.
pub fn finish(current: Option<&BackupStatus>, f: &Finished) -> BackupStatus {
    let mut status = current.cloned().unwrap_or_default();
    if status.time_started.is_none()
        && let Some(started) = f.started
    {
        status.time_started = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            started,
        ));
    }
    if let GcRelease::Released(record) = &f.gc {
        status.tikv_gc_life_time = Some(record.clone());
    }
    let summary: Option<BrSummary> = f.log.and_then(summary::parse_summary);
    let restore_error = match &f.gc {
        GcRelease::RestoreFailed(message) => Some(message.as_str()),
        _ => None,
    };
    match f.outcome {
        JobOutcome::Succeeded { completed } => {
            let completed = completed.unwrap_or(f.now);
            match restore_error {
                None => status::complete(
                    &mut status,
                    summary.as_ref(),
                    completed,
                    f.generation,
                    f.now,
                ),
                Some(error) => {
                    status.time_completed = Some(
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(completed),
                    );
                    if let Some(summary) = &summary {
                        status.commit_ts = summary.commit_ts.clone().unwrap_or_default();
                        status.backup_size = summary.size.and_then(|s| i64::try_from(s).ok());
                        status.backup_size_readable = summary.size_readable().unwrap_or_default();
                    }
                    status::set_condition(
                        &mut status,
                        status::FAILED,
                        "ResetTikvGCLifeTimeFailed",
                        &format!("BR finished the backup, but {error}"),
                        f.generation,
                        f.now,
                    );
                }
            }
        }
        JobOutcome::Failed {
            reason, message, ..
        } => {
            let errors = f.log.map(summary::error_lines).unwrap_or_default();
            let (reason, mut text) = if errors.is_empty() {
                (
                    "BackupJobFailed".to_owned(),
                    format!(
                        "Job {} failed ({}: {})",
                        f.job_name,
                        if reason.is_empty() {
                            "no reason"
                        } else {
                            reason
                        },
                        message
                    ),
                )
            } else {
                (
                    "BackupDataToRemoteFailed".to_owned(),
                    format!("BR failed: {}", errors.join("\n")),
                )
            };
            let reason = if restore_error.is_some() {
                "ResetTikvGCLifeTimeFailed".to_owned()
            } else {
                reason
            };
            if let Some(error) = restore_error {
                text.push_str(&format!("; also {error}"));
            }
            status::set_condition(
                &mut status,
                status::FAILED,
                &reason,
                &text,
                f.generation,
                f.now,
            );
        }
        JobOutcome::Lost => {
            let mut text = format!(
                "Job {} was deleted before the backup finished; the backup is not retried: create a new Backup",
                f.job_name
            );
            if let Some(error) = restore_error {
                text.push_str(&format!("; also {error}"));
            }
            status::set_condition(
                &mut status,
                status::FAILED,
                "JobNotFound",
                &text,
                f.generation,
                f.now,
            );
        }
    }
    status
}
