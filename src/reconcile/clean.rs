//! cleanPolicy: what happens to a Backup's data when the Backup is deleted (reference
//! §3.7, §5.6), planned without IO.
//!
//! A Backup whose `spec.cleanPolicy` is exactly `Delete` or `OnFailure` gets the finalizer
//! [`FINALIZER`] (TiDB Operator's name) before anything else happens; any other value
//! means Retain: no such finalizer, and deleting the Backup never touches the data.
//! (Any Backup holding the GC life time also carries [`super::gc::FINALIZER`]; each
//! path adds and removes only its own.)
//!
//! When such a Backup is deleted, [`plan_deletion`] decides, in this order:
//! 1. the backup settles first: while its Job runs nothing is deleted (TiDB Operator
//!    v1.1 cleaned while BR was still writing and left data behind); a Job that ended is
//!    recorded (`Complete`/`Failed`) and a held GC life time released, as without
//!    deletion (the GC-lifetime finalizer, if any, then goes first: this one stays
//!    for the data). A backup that never got its Job does not get one now;
//! 2. the policy: `Retain` (changed since) keeps the data, `OnFailure` keeps it unless
//!    the backup `Failed`, `Delete` deletes; a backup whose Job never ran wrote nothing,
//!    so there is nothing to delete (`Clean`, no Job);
//! 3. the clean Job `clean-<name>` runs `tidb-backup-webhook runner clean`, which deletes
//!    every object under `<bucket>/<prefix>/`; its success records `Clean` and releases
//!    the finalizer; its failure records `CleanFailed` and keeps the finalizer (the data
//!    is still there: delete Job `clean-<name>` to retry, or set `cleanPolicy: Retain`
//!    (which stays editable) to keep the data).
//!
//! A clean Job that cannot be created because the namespace is being deleted records
//! `CleanFailed` (reason [`NAMESPACE_TERMINATING`]), names the data left behind, and
//! releases the finalizer, so the namespace never hangs (the user guide's
//! "Delete the backup CR" problem).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use kube::api::ObjectMeta;

use super::argv::go_path_join;
use super::job;
use super::status::{self, FAILED, SCHEDULED};
use super::{JobOutcome, JobView, PlanError, Step};
use crate::api::{Backup, BackupSpec};
use crate::rules::vocab::CleanPolicy;

pub use crate::api::condition::{CLEAN, CLEAN_FAILED};

/// TiDB Operator's finalizer on Backups whose data is deleted with them.
pub const FINALIZER: &str = "tidb.pingcap.com/backup-protection";
/// `CleanFailed` reason when the namespace is being deleted (no Job can be created).
pub const NAMESPACE_TERMINATING: &str = "NamespaceTerminating";
/// The apiserver's `StatusCause` type for a create refused in a terminating namespace.
pub const NAMESPACE_TERMINATING_CAUSE: &str = "NamespaceTerminating";
/// Container name of the clean Job.
pub const CONTAINER: &str = "clean";
/// Retries of the clean pod for transient failures (TiDB Operator's value).
pub const BACKOFF_LIMIT: i32 = 6;
/// Exit code of `runner clean` when it refuses (nothing would ever make it succeed):
/// the Job fails at once instead of retrying. It is the table's "unusable input".
pub const EXIT_REFUSED: i32 = crate::exit::Exit::Usage.code() as i32;
/// The runner's last line on failure starts with this (the reconciler quotes it).
pub const FAILURE_PREFIX: &str = "clean failed: ";

/// `clean-<name>`: deterministic, so a create that finds it existing is a success.
pub fn clean_job_name(backup_name: &str) -> String {
    format!("clean-{backup_name}")
}

/// Whether the policy asks for the data to be deleted in some case.
pub fn wants_finalizer(backup: &Backup) -> bool {
    // A Backup this reconciler does not run has written nothing it could clean.
    CleanPolicy::effective(&backup.spec.clean_policy) != CleanPolicy::Retain
        && super::unsupported(&super::defaulted(backup).spec).is_none()
}

pub fn has_finalizer(backup: &Backup) -> bool {
    super::has_finalizer(backup, FINALIZER)
}

pub fn being_deleted(backup: &Backup) -> bool {
    backup.metadata.deletion_timestamp.is_some()
}

/// The finalizers with ours added (or removed), in their order otherwise.
pub fn finalizers_with(backup: &Backup, ours: bool) -> Vec<String> {
    super::finalizers_with(backup, FINALIZER, ours)
}

/// Where a Backup's role in its own lifecycle stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Not being deleted, finalizer as the policy wants: the backup steps run.
    Active,
    /// Not being deleted, `Delete`/`OnFailure`, no finalizer yet: add it first.
    AddFinalizer,
    /// Being deleted and holding our finalizer: [`plan_deletion`].
    Deleting,
    /// Being deleted without our finalizer (Retain, or already released): hands off.
    Released,
}

pub fn lifecycle(backup: &Backup) -> Lifecycle {
    match (being_deleted(backup), has_finalizer(backup)) {
        (true, true) => Lifecycle::Deleting,
        (true, false) => Lifecycle::Released,
        (false, false) if wants_finalizer(backup) => Lifecycle::AddFinalizer,
        (false, _) => Lifecycle::Active,
    }
}

/// The bucket and key prefix a clean deletes: every key starting with `<prefix>/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanTarget {
    pub bucket: String,
    /// Without leading or trailing `/`; never empty.
    pub prefix: String,
}

impl CleanTarget {
    /// Normalises like the backup wrote: BR got `s3://` + Go's `path.Join(bucket,
    /// prefix)`, so the keys start with that joined path minus the bucket, plus `/`.
    /// An empty prefix (the whole bucket) or one that leaves the bucket is refused.
    pub fn new(bucket: &str, prefix: &str) -> Result<Self, CleanRefusal> {
        let bucket = bucket.trim_matches('/');
        if bucket.is_empty() || bucket.contains('/') {
            return Err(CleanRefusal::Bucket(bucket.to_owned()));
        }
        let joined = go_path_join(&[bucket, prefix]);
        let key_prefix = match joined.strip_prefix(bucket) {
            Some("") => return Err(CleanRefusal::EmptyPrefix(bucket.to_owned())),
            Some(rest) if rest.starts_with('/') => rest.trim_matches('/'),
            _ => {
                return Err(CleanRefusal::OutsideBucket {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                });
            }
        };
        if key_prefix.is_empty() {
            return Err(CleanRefusal::EmptyPrefix(bucket.to_owned()));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: key_prefix.to_owned(),
        })
    }

    /// The S3 list prefix: the trailing `/` keeps a sibling such as `<prefix>-2/` out.
    pub fn list_prefix(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// `s3://<bucket>/<prefix>/`, as messages name it.
    pub fn url(&self) -> String {
        format!("s3://{}/{}/", self.bucket, self.prefix)
    }
}

/// Why a clean is refused before anything is listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CleanRefusal {
    #[error(
        "refusing to clean: the prefix is empty, so every object in bucket {0:?} would be deleted (BR writes a backup under spec.s3.prefix; with cleanPolicy Delete or OnFailure set a prefix)"
    )]
    EmptyPrefix(String),
    #[error("refusing to clean: {0:?} is not a bucket name")]
    Bucket(String),
    #[error("refusing to clean: prefix {prefix:?} leaves bucket {bucket:?}")]
    OutsideBucket { bucket: String, prefix: String },
}

/// The data path of a Backup as messages name it: its clean target, else
/// `status.backupPath`, else the raw spec.
pub fn data_path(backup: &Backup) -> String {
    if let Some(s3) = &backup.spec.s3
        && let Ok(target) = CleanTarget::new(&s3.bucket, &s3.prefix)
    {
        return target.url();
    }
    match backup.status.as_ref().map(|s| s.backup_path.as_str()) {
        Some(path) if !path.is_empty() => path.to_owned(),
        _ => backup
            .spec
            .s3
            .as_ref()
            .map(|s3| format!("s3://{}/{}", s3.bucket, s3.prefix))
            .unwrap_or_else(|| "(unknown)".to_owned()),
    }
}

/// What the clean Job is built from besides the Backup.
#[derive(Clone, Copy, Debug)]
pub struct CleanJobContext<'a> {
    /// This project's image (it runs `tidb-backup-webhook runner clean`).
    pub runner_image: &'a str,
    /// The reconciler's `TZ`, passed on as for the backup Job.
    pub tz: Option<&'a str>,
}

/// The runner's command line: the spec's S3 settings as flags (the runner normalises
/// and checks them; a refusal is its to report).
pub fn clean_args(spec: &BackupSpec) -> Result<Vec<String>, PlanError> {
    let s3 = spec.s3.as_ref().ok_or_else(|| {
        PlanError::new(
            "spec.s3",
            "only S3-compatible storage can be cleaned by this reconciler",
        )
    })?;
    let mut args = vec![
        "runner".to_owned(),
        "clean".to_owned(),
        format!("--bucket={}", s3.bucket),
        format!("--prefix={}", s3.prefix),
    ];
    for (flag, value) in [
        ("provider", &s3.provider),
        ("region", &s3.region),
        ("endpoint", &s3.endpoint),
    ] {
        if !value.is_empty() {
            args.push(format!("--{flag}={value}"));
        }
    }
    Ok(args)
}

/// Job `clean-<name>` for a (defaulted) Backup: the backup Job's identity (service
/// account, pod annotations, S3 key secret, `spec.env`), scheduling and security
/// settings, with this project's image running `runner clean`.
pub fn clean_job(backup: &Backup, ctx: &CleanJobContext) -> Result<Job, PlanError> {
    let (name, namespace, owner) = job::job_owner(backup)?;
    let spec = &backup.spec;
    let args = clean_args(spec)?;

    let mut env = job::s3_key_env(backup);
    if let Some(tz) = ctx.tz.filter(|tz| !tz.is_empty()) {
        env.push(job::plain_env("TZ", tz));
    }
    job::overlay_env(&mut env, spec.env.as_deref().unwrap_or_default());
    let labels = job::component_labels(backup, "clean");
    let annotations: BTreeMap<String, String> = job::pod_annotations(backup);
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(ctx.runner_image.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(args),
        env: (!env.is_empty()).then_some(env),
        resources: spec.resources.clone(),
        security_context: Some(job::container_security_context()),
        ..Container::default()
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(clean_job_name(name)),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels.clone()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            // A refusal (empty prefix) is final: fail the Job instead of retrying it.
            pod_failure_policy: Some(PodFailurePolicy {
                rules: vec![PodFailurePolicyRule {
                    action: "FailJob".to_owned(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: Some(CONTAINER.to_owned()),
                        operator: "In".to_owned(),
                        values: vec![EXIT_REFUSED],
                    }),
                    on_pod_conditions: None,
                }],
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    service_account_name: Some(job::service_account(spec).to_owned()),
                    containers: vec![container],
                    tolerations: spec.tolerations.clone(),
                    affinity: spec.affinity.clone(),
                    image_pull_secrets: spec.image_pull_secrets.clone(),
                    security_context: Some(job::pod_security_context()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// The next thing to do for a Backup being deleted with our finalizer.
#[derive(Clone, Debug, PartialEq)]
pub enum DeletionStep {
    /// A step of the backup itself (its Job ended, or its progress is not recorded yet).
    Backup(Step),
    /// The backup Job is still running: nothing is deleted before it stops.
    WaitForBackupJob,
    /// The GC life time is still held and no Job will release it: release it now.
    ReleaseGc,
    /// The policy keeps the data: release the finalizer, the data stays.
    Retain {
        reason: String,
    },
    /// Nothing of this backup is in storage: record `Clean`, release the finalizer.
    NothingToClean {
        reason: String,
    },
    /// Create Job `clean-<name>` (an existing one counts as created).
    CreateCleanJob,
    /// Job `clean-<name>` belongs to something else (a deleted namesake's): wait.
    CleanJobConflict {
        owner: Option<String>,
    },
    WaitForCleanJob,
    /// The clean Job succeeded: record `Clean`, release the finalizer.
    Cleaned,
    /// The clean Job failed: record `CleanFailed`, keep the finalizer (data remains).
    CleanJobFailed {
        refused: bool,
        message: String,
    },
    /// The decision is recorded (`Clean`, or `CleanFailed` for a terminating
    /// namespace): release the finalizer.
    RemoveFinalizer,
    /// The storage is not S3 (GCS, local volume): nothing here can delete it.
    Unsupported {
        message: String,
    },
}

/// Decides the next deletion step. `backup_step` is [`super::next_step`]'s answer for
/// the Backup (its Job and pod observed), `clean_job` the observed clean Job, and
/// `gc_release_tried` whether this reconcile already tried to release the GC life time
/// (a failed release is announced, never a reason to keep the Backup: TiDB may be
/// going away with the namespace).
pub fn plan_deletion(
    backup: &Backup,
    backup_step: Step,
    clean_job: Option<&JobView>,
    gc_release_tried: bool,
) -> DeletionStep {
    match backup_step {
        Step::Wait => return DeletionStep::WaitForBackupJob,
        step @ (Step::MarkScheduled | Step::MarkRunning { .. } | Step::Finish(_)) => {
            return DeletionStep::Backup(step);
        }
        // Never start a backup for a Backup being deleted.
        Step::Done
        | Step::RetryRelease
        | Step::Invalid(_)
        | Step::Unsupported(_)
        | Step::Prepare
        | Step::CreateJob
        | Step::JobConflict { .. } => {}
    }
    let status = backup.status.as_ref();
    if super::holding(status) && !gc_release_tried {
        return DeletionStep::ReleaseGc;
    }
    if status::is_true(status, CLEAN) {
        return DeletionStep::RemoveFinalizer;
    }
    if status.is_some_and(|s| {
        s.conditions.iter().any(|c| {
            c.type_ == CLEAN_FAILED && c.status == "True" && c.reason == NAMESPACE_TERMINATING
        })
    }) {
        return DeletionStep::RemoveFinalizer;
    }
    match CleanPolicy::effective(&backup.spec.clean_policy) {
        CleanPolicy::Retain => {
            return DeletionStep::Retain {
                reason: format!(
                    "cleanPolicy is {:?}, which retains the data",
                    backup.spec.clean_policy
                ),
            };
        }
        CleanPolicy::OnFailure if !status::is_true(status, FAILED) => {
            return DeletionStep::Retain {
                reason: "cleanPolicy is OnFailure and the backup did not fail".to_owned(),
            };
        }
        CleanPolicy::OnFailure | CleanPolicy::Delete => {}
    }
    if !status::is_true(status, SCHEDULED) {
        return DeletionStep::NothingToClean {
            reason: "no backup Job was ever created, so no data was written".to_owned(),
        };
    }
    if status.is_none_or(|s| s.backup_path.is_empty()) {
        return DeletionStep::NothingToClean {
            reason: "status.backupPath is empty".to_owned(),
        };
    }
    if backup.spec.s3.is_none() {
        return DeletionStep::Unsupported {
            message: format!(
                "only S3-compatible storage can be cleaned by this reconciler; the data at {} is retained",
                data_path(backup)
            ),
        };
    }
    let Some(job) = clean_job else {
        return DeletionStep::CreateCleanJob;
    };
    if job.owner_uid != backup.metadata.uid {
        return DeletionStep::CleanJobConflict {
            owner: job.owner_uid.clone(),
        };
    }
    match &job.outcome {
        None | Some(JobOutcome::Lost) => DeletionStep::WaitForCleanJob,
        Some(JobOutcome::Succeeded { .. }) => DeletionStep::Cleaned,
        Some(JobOutcome::Failed {
            reason, message, ..
        }) => DeletionStep::CleanJobFailed {
            // The pod failure policy fails the Job at once on a refusal.
            refused: reason == "PodFailurePolicy",
            message: if message.is_empty() {
                format!("Job failed ({reason})")
            } else {
                format!("Job failed ({reason}: {message})")
            },
        },
    }
}

/// The runner's own failure line in its log (the last one), if any.
pub fn failure_line(log: &str) -> Option<&str> {
    log.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(FAILURE_PREFIX))
        .map(str::trim)
}

/// The `CleanFailed` message of a failed clean Job: the runner's own words when its
/// log could be read, then how to go on.
pub fn clean_failed_message(
    backup: &Backup,
    job_name: &str,
    job_message: &str,
    log: Option<&str>,
) -> String {
    let cause = log
        .and_then(failure_line)
        .map(str::to_owned)
        .unwrap_or_else(|| job_message.to_owned());
    format!(
        "Job {job_name} could not delete {}: {cause}. The data is retained; fix the cause and delete Job {job_name} to retry, or set cleanPolicy to Retain to keep the data",
        data_path(backup)
    )
}

/// The `CleanFailed` message when the namespace is being deleted.
pub fn namespace_terminating_message(backup: &Backup, namespace: &str, job_name: &str) -> String {
    format!(
        "namespace {namespace} is being deleted, so Job {job_name} cannot be created: the backup data at {} is retained and must be deleted by hand if it is not wanted",
        data_path(backup)
    )
}
