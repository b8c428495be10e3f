//! Defaulting: fills the fields TiDB Operator and BR would otherwise default invisibly, so
//! that the stored object shows what will run. Idempotent by construction: every rule
//! only fills an empty field, and no rule's condition depends on a field another rule
//! fills differently on a second pass (`backupMode` is filled first, with the value the
//! later rules already assume for an empty one).

use std::collections::BTreeMap;

use kube::api::ObjectMeta;

use super::names::check_label;
use super::vocab::*;
use crate::api::{Backup, BackupSchedule, BackupSpec, CompactSpec, StorageKind};

/// What a spec's defaults depend on besides the spec itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpecContext<'a> {
    /// Namespace of the object, when known (`check` on a file may not know it).
    pub namespace: Option<&'a str>,
    /// Annotations of the object; a schedule's are copied onto every Backup it creates.
    pub annotations: Option<&'a BTreeMap<String, String>>,
    /// The spec is a BackupSchedule's template: TiDB Operator completes some fields
    /// (a Dumpling volume's size) when it creates the Backup.
    pub in_schedule: bool,
}

impl<'a> SpecContext<'a> {
    pub fn of(meta: &'a ObjectMeta) -> Self {
        Self {
            namespace: meta.namespace.as_deref().filter(|ns| !ns.is_empty()),
            annotations: meta.annotations.as_ref(),
            in_schedule: false,
        }
    }

    /// The context of a BackupSchedule's templates.
    pub fn of_schedule(meta: &'a ObjectMeta) -> Self {
        Self {
            in_schedule: true,
            ..Self::of(meta)
        }
    }

    /// The kube2iam role the pods of this object will carry, if any.
    pub fn iam_role(&self) -> Option<&'a str> {
        self.annotations
            .and_then(|a| a.get(IAM_ROLE_ANNOTATION))
            .map(String::as_str)
            .filter(|role| !role.is_empty())
    }
}

/// How the backup pods get AWS permissions, if by IAM rather than keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IamMethod<'a> {
    /// kube2iam: the `iam.amazonaws.com/role` annotation.
    PodAnnotation(&'a str),
    /// EKS IRSA: a dedicated service account annotated with a role.
    ServiceAccount(&'a str),
}

/// The IAM method a spec uses. A non-default service account is taken as IRSA; the
/// default `tidb-backup-manager` cannot be told apart from plain RBAC.
pub fn iam_method<'a>(spec: &'a BackupSpec, ctx: &SpecContext<'a>) -> Option<IamMethod<'a>> {
    if let Some(role) = ctx.iam_role() {
        return Some(IamMethod::PodAnnotation(role));
    }
    let sa = spec.service_account.as_str();
    (!sa.is_empty() && sa != DEFAULT_SERVICE_ACCOUNT).then_some(IamMethod::ServiceAccount(sa))
}

/// Fills a Backup's defaults; returns the paths of the fields it set.
pub fn default_backup(backup: &mut Backup) -> Vec<String> {
    let mut filled = Vec::new();
    let ctx = SpecContext::of(&backup.metadata);
    default_spec(&mut backup.spec, &ctx, "spec", &mut filled);
    filled
}

/// Fills the defaults of a BackupSchedule's templates; returns the paths it set.
pub fn default_schedule(schedule: &mut BackupSchedule) -> Vec<String> {
    let mut filled = Vec::new();
    let ctx = SpecContext::of_schedule(&schedule.metadata);
    default_spec(
        &mut schedule.spec.backup_template,
        &ctx,
        "spec.backupTemplate",
        &mut filled,
    );
    if let Some(log) = schedule.spec.log_backup_template.as_mut() {
        default_spec(log, &ctx, "spec.logBackupTemplate", &mut filled);
    }
    if let Some(compact) = schedule.spec.compact_backup_template.as_mut() {
        default_compact(compact, "spec.compactBackupTemplate", &mut filled);
    }
    filled
}

/// Fills the defaults of one Backup spec; `prefix` is the spec's path for reporting.
///
/// Only where TiDB Operator (or BR) defines a default for the spec's engine, mode and
/// storage: BR snapshot backups get the backup type; Dumpling, snapshot and
/// volume-snapshot backups, which hold the GC life time through `from`, get its
/// defaults; S3's AWS defaults only reach `spec.s3` with provider `aws`; the CRD's
/// defaults of v1.4+ (`backupMode`, the volume-snapshot fields, `backoffRetryPolicy`'s
/// and `cleanOption`'s members) are filled where TiDB Operator's CRD fills them.
pub fn default_spec(
    spec: &mut BackupSpec,
    ctx: &SpecContext,
    prefix: &str,
    filled: &mut Vec<String>,
) {
    let mut fill = |field: &str| filled.push([prefix, field].join("."));

    // Decided before the service account is defaulted, which never makes it non-default.
    let uses_iam = iam_method(spec, ctx).is_some();
    let engine = if spec.br.is_some() {
        Engine::Br
    } else {
        Engine::Dumpling
    };
    if engine == Engine::Br && spec.backup_mode.is_empty() {
        spec.backup_mode = BackupMode::DEFAULT.as_str().to_owned();
        fill("backupMode");
    }
    // An unknown mode gets no mode-specific defaults.
    let mode = match engine {
        Engine::Br => BackupMode::parse(&spec.backup_mode),
        Engine::Dumpling => None,
    };
    let holds_gc = engine == Engine::Dumpling
        || matches!(
            mode,
            Some(BackupMode::Snapshot | BackupMode::VolumeSnapshot)
        );

    if mode == Some(BackupMode::Snapshot) && spec.backup_type.is_empty() {
        spec.backup_type = BackupType::DEFAULT.as_str().to_owned();
        fill("backupType");
    }
    if spec.clean_policy.is_empty() {
        spec.clean_policy = CleanPolicy::DEFAULT.as_str().to_owned();
        fill("cleanPolicy");
    }
    if spec.service_account.is_empty() {
        spec.service_account = DEFAULT_SERVICE_ACCOUNT.to_owned();
        fill("serviceAccount");
    }
    if holds_gc && let Some(from) = spec.from.as_mut() {
        if from.port.is_none() {
            from.port = Some(DEFAULT_TIDB_PORT);
            fill("from.port");
        }
        if from.user.is_empty() {
            from.user = DEFAULT_TIDB_USER.to_owned();
            fill("from.user");
        }
        if spec.tikv_gc_life_time.as_deref().is_none_or(str::is_empty) {
            spec.tikv_gc_life_time = Some(DEFAULT_TIKV_GC_LIFE_TIME.to_owned());
            fill("tikvGCLifeTime");
        }
    }
    let has_s3_keys = spec
        .s3
        .as_ref()
        .is_some_and(|s3| !s3.secret_name.is_empty());
    // Volume-snapshot backups keep only their metadata there.
    let writes_data = mode != Some(BackupMode::VolumeSnapshot);
    if writes_data
        && spec.storage().kind() == Some(StorageKind::S3)
        && let Some(s3) = spec.s3.as_mut().filter(|s3| s3.provider == "aws")
    {
        // Other providers reject these AWS-only values.
        if s3.acl.is_empty() {
            s3.acl = DEFAULT_AWS_ACL.to_owned();
            fill("s3.acl");
        }
        if s3.storage_class.is_empty() {
            s3.storage_class = DEFAULT_AWS_STORAGE_CLASS.to_owned();
            fill("s3.storageClass");
        }
    }
    if let Some(br) = spec.br.as_mut() {
        // An invalid namespace is reported at metadata.namespace, not copied here.
        if br.cluster_namespace.is_empty()
            && let Some(ns) = ctx.namespace.filter(|ns| check_label(ns).is_none())
        {
            br.cluster_namespace = ns.to_owned();
            fill("br.clusterNamespace");
        }
        // With IAM and no keys BR has no credentials to send; TiKV, which writes the
        // data of snapshot and log backups itself, must use its own role.
        if writes_data
            && mode.is_some()
            && br.send_cred_to_tikv.is_none()
            && uses_iam
            && !has_s3_keys
        {
            br.send_cred_to_tikv = Some(false);
            fill("br.sendCredToTikv");
        }
    }
    if mode == Some(BackupMode::VolumeSnapshot) {
        if spec.calc_size_level.is_empty() {
            spec.calc_size_level = DEFAULT_CALC_SIZE_LEVEL.to_owned();
            fill("calcSizeLevel");
        }
        if spec.volume_backup_init_job_max_active_seconds.is_none() {
            spec.volume_backup_init_job_max_active_seconds =
                Some(DEFAULT_VOLUME_BACKUP_INIT_JOB_MAX_ACTIVE_SECONDS);
            fill("volumeBackupInitJobMaxActiveSeconds");
        }
    }
    // The CRD fills an object's members only when the object is there.
    if mode == Some(BackupMode::Snapshot)
        && let Some(policy) = spec.backoff_retry_policy.as_mut()
    {
        if policy.min_retry_duration.is_empty() {
            policy.min_retry_duration = DEFAULT_MIN_RETRY_DURATION.to_owned();
            fill("backoffRetryPolicy.minRetryDuration");
        }
        if policy.max_retry_times.is_none() {
            policy.max_retry_times = Some(DEFAULT_MAX_RETRY_TIMES);
            fill("backoffRetryPolicy.maxRetryTimes");
        }
        if policy.retry_timeout.is_empty() {
            policy.retry_timeout = DEFAULT_RETRY_TIMEOUT.to_owned();
            fill("backoffRetryPolicy.retryTimeout");
        }
    }
    if let Some(option) = spec.clean_option.as_mut() {
        if option.retry_count.is_none() {
            option.retry_count = Some(DEFAULT_CLEAN_RETRY_COUNT);
            fill("cleanOption.retryCount");
        }
        if option.snapshots_delete_ratio.is_none() {
            option.snapshots_delete_ratio = Some(DEFAULT_SNAPSHOTS_DELETE_RATIO);
            fill("cleanOption.snapshotsDeleteRatio");
        }
    }
}

/// The CRD's defaults of a compact template (`concurrency` 4, `maxRetryTimes` 6).
fn default_compact(compact: &mut CompactSpec, prefix: &str, filled: &mut Vec<String>) {
    if compact.concurrency.is_none() {
        compact.concurrency = Some(DEFAULT_COMPACT_CONCURRENCY);
        filled.push(format!("{prefix}.concurrency"));
    }
    if compact.max_retry_times.is_none() {
        compact.max_retry_times = Some(DEFAULT_COMPACT_MAX_RETRY_TIMES);
        filled.push(format!("{prefix}.maxRetryTimes"));
    }
}

/// How a field [`default_spec`] fills (named as in its report, relative to the spec:
/// `s3.acl`) appears in the spec's JSON: `Some(None)` when it is left out (an empty
/// string or an unset option, which the types skip), `Some(Some(value))` otherwise; `None`
/// for a field not filled here, or whose parent object is missing. Lets `/mutate` write a
/// default's patch operation without serialising and diffing whole specs; a test holds it
/// to the serialisation.
pub fn filled_field_json(spec: &BackupSpec, field: &str) -> Option<Option<serde_json::Value>> {
    use serde_json::Value;
    let text = |s: &str| (!s.is_empty()).then(|| Value::from(s));
    let from = spec.from.as_ref();
    let s3 = spec.s3.as_ref();
    let br = spec.br.as_ref();
    let policy = spec.backoff_retry_policy.as_ref();
    let clean = spec.clean_option.as_ref();
    Some(match field {
        "backupMode" => text(&spec.backup_mode),
        "backupType" => text(&spec.backup_type),
        "cleanPolicy" => text(&spec.clean_policy),
        "serviceAccount" => text(&spec.service_account),
        "tikvGCLifeTime" => spec.tikv_gc_life_time.as_deref().map(Value::from),
        "calcSizeLevel" => text(&spec.calc_size_level),
        "volumeBackupInitJobMaxActiveSeconds" => spec
            .volume_backup_init_job_max_active_seconds
            .map(Value::from),
        "from.port" => from?.port.map(Value::from),
        "from.user" => text(&from?.user),
        "s3.acl" => text(&s3?.acl),
        "s3.storageClass" => text(&s3?.storage_class),
        "br.clusterNamespace" => text(&br?.cluster_namespace),
        "br.sendCredToTikv" => br?.send_cred_to_tikv.map(Value::from),
        "backoffRetryPolicy.minRetryDuration" => text(&policy?.min_retry_duration),
        "backoffRetryPolicy.maxRetryTimes" => policy?.max_retry_times.map(Value::from),
        "backoffRetryPolicy.retryTimeout" => text(&policy?.retry_timeout),
        "cleanOption.retryCount" => clean?.retry_count.map(Value::from),
        "cleanOption.snapshotsDeleteRatio" => clean?.snapshots_delete_ratio.map(Value::from),
        _ => return None,
    })
}
