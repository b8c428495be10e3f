//! `Backup` (`pingcap.com/v1alpha1`, short name `bk`), wire-compatible with TiDB Operator
//! v1.1 through v1.6 (`pkg/apis/pingcap/v1alpha1/types.go` of release-1.6, a superset of
//! the earlier releases): every field, with its JSON name.
//!
//! Enum-like fields (`backupType`, `cleanPolicy`, `s3.provider`, `s3.acl`, …) are plain
//! strings on purpose: v1.1 accepts any string, stored objects may hold anything, and the
//! rule core must be able to read a typo to report it with a suggestion. Fields the v1.1
//! CRD marks required are optional in this schema so that the webhook, not the schema,
//! reports every missing field at once with its fix.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements, Toleration,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Describes a backup of one TiDB cluster (BR snapshot, log or volume-snapshot, or Dumpling)
/// to S3-compatible storage, GCS, Azure Blob Storage or a volume.
// kube's repeated `printcolumn(...)` arguments trip clippy's duplicate-attribute lint.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pingcap.com",
    version = "v1alpha1",
    kind = "Backup",
    plural = "backups",
    shortname = "bk",
    namespaced,
    status = "BackupStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Backup is a backup of a TiDB cluster.",
    printcolumn(
        name = "Type",
        type_ = "string",
        json_path = ".spec.backupType",
        description = "The type of a snapshot backup: full, db or table"
    ),
    printcolumn(
        name = "Mode",
        type_ = "string",
        json_path = ".spec.backupMode",
        description = "The mode of the backup: snapshot, log or volume-snapshot"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.phase",
        description = "The current status of the backup"
    ),
    printcolumn(
        name = "BackupPath",
        type_ = "string",
        json_path = ".status.backupPath",
        description = "The full path of backup data"
    ),
    printcolumn(
        name = "BackupSize",
        type_ = "string",
        json_path = ".status.backupSizeReadable",
        description = "The data size of the backup"
    ),
    printcolumn(
        name = "CommitTS",
        type_ = "string",
        json_path = ".status.commitTs",
        description = "The commit ts of the backup"
    ),
    printcolumn(
        name = "LogTruncateUntil",
        type_ = "string",
        json_path = ".status.logSuccessTruncateUntil",
        description = "The TSO a log backup is truncated until",
        priority = "1"
    ),
    printcolumn(
        name = "Started",
        type_ = "date",
        json_path = ".status.timeStarted",
        description = "The time at which the backup was started",
        priority = "1"
    ),
    printcolumn(
        name = "Completed",
        type_ = "date",
        json_path = ".status.timeCompleted",
        description = "The time at which the backup was completed",
        priority = "1"
    ),
    printcolumn(
        name = "TimeTaken",
        type_ = "string",
        json_path = ".status.timeTaken",
        description = "The time the backup took",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Resource requirements of the backup (and clean) containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Extra environment variables; an entry named like a built-in variable replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// TiDB SQL endpoint: required by Dumpling; with BR, used to raise
    /// `tikv_gc_life_time` during a snapshot backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<TiDBAccessConfig>,
    /// Backup type of a BR snapshot backup: `full`, `db` or `table` (default `full`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backup_type: String,
    /// `snapshot` (default), `log` (PITR) or `volume-snapshot` (TiDB Operator ≥ v1.4).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backup_mode: String,
    /// `tikv_gc_life_time` to hold during the backup, a Go duration (default `72h`).
    #[serde(
        rename = "tikvGCLifeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tikv_gc_life_time: Option<String>,
    /// S3-compatible storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3StorageProvider>,
    /// Google Cloud Storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsStorageProvider>,
    /// Azure Blob Storage (TiDB Operator ≥ v1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azblob: Option<AzblobStorageProvider>,
    /// A Kubernetes volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Box<LocalStorageProvider>>,
    /// Storage class of the Dumpling PVC (Dumpling mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Volume attributes class of the Dumpling PVC (Dumpling mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<String>,
    /// Size of the Dumpling PVC (Dumpling mode only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_size: String,
    /// BR settings; its presence selects BR, its absence Dumpling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<BRConfig>,
    /// Snapshot: back up as of this TSO or datetime (`--backupts`); log: start the log
    /// backup there (`--start-ts`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit_ts: String,
    /// Log backups: `log-start`, `log-stop` or `log-pause` (TiDB Operator ≥ v1.5).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_subcommand: String,
    /// Log backups: delete log data before this TSO or datetime.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_truncate_until: String,
    /// Log backups, before `logSubcommand` existed: `true` stops the log backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stop: Option<bool>,
    /// Volume-snapshot backups: how snapshot sizes are calculated (`all`, `incremental`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub calc_size_level: String,
    /// Volume-snapshot backups across Kubernetes clusters: `initialize`, `execute` or
    /// `teardown`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub federal_volume_backup_phase: String,
    /// Volume-snapshot backups: resume GC and PD schedulers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_gc_schedule: Option<bool>,
    /// Dumpling settings (legacy export mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dumpling: Option<DumplingConfig>,
    /// Tolerations of the backup pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// BR (or Dumpling) image override.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool_image: String,
    /// Image pull secrets of the backup pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// TiDB table-filter rules passed to BR as `--filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_filter: Option<Vec<String>>,
    /// Affinity of the backup pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Read KMS-encrypted secrets (`KMS_ENCRYPTED_*` variables).
    #[serde(rename = "useKMS", default, skip_serializing_if = "Option::is_none")]
    pub use_kms: Option<bool>,
    /// Service account of the backup pod (default `tidb-backup-manager`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    /// Whether the backup pod gets a service account token (TiDB Operator ≥ v1.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    /// What happens to the backup data when the Backup is deleted: `Retain` (default),
    /// `Delete`, or `OnFailure`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub clean_policy: String,
    /// How TiDB Operator's clean Job deletes the data (TiDB Operator ≥ v1.2.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_option: Option<CleanOption>,
    /// Security context of the backup pod (TiDB Operator ≥ v1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<Box<PodSecurityContext>>,
    /// Priority class of the backup pod (TiDB Operator ≥ v1.2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub priority_class_name: String,
    /// Retries of a failed snapshot backup's Job (TiDB Operator ≥ v1.4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_retry_policy: Option<BackoffRetryPolicy>,
    /// Extra volumes of the backup pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volumes: Option<Vec<Volume>>,
    /// Extra volume mounts of the backup container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volume_mounts: Option<Vec<VolumeMount>>,
    /// Volume-snapshot backups: deadline of the initialize Job, in seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_backup_init_job_max_active_seconds: Option<i64>,
}

/// Go's `omitempty` on a bool: absent and `false` are the same to TiDB Operator.
pub fn is_true(value: Option<bool>) -> bool {
    value == Some(true)
}

/// The storage fields shared by Backup, BackupSchedule and CompactBackup specs (Go's
/// inlined `StorageProvider`), borrowed.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageRef<'a> {
    pub s3: Option<&'a S3StorageProvider>,
    pub gcs: Option<&'a GcsStorageProvider>,
    pub azblob: Option<&'a AzblobStorageProvider>,
    pub local: Option<&'a LocalStorageProvider>,
}

impl StorageRef<'_> {
    /// The providers set, in TiDB Operator's order of precedence (`GetStorageType`).
    pub fn kinds(&self) -> Vec<StorageKind> {
        [
            (StorageKind::S3, self.s3.is_some()),
            (StorageKind::Gcs, self.gcs.is_some()),
            (StorageKind::Azblob, self.azblob.is_some()),
            (StorageKind::Local, self.local.is_some()),
        ]
        .into_iter()
        .filter_map(|(kind, set)| set.then_some(kind))
        .collect()
    }

    /// The provider TiDB Operator uses: the first set, in `GetStorageType`'s order.
    pub fn kind(&self) -> Option<StorageKind> {
        self.kinds().first().copied()
    }
}

/// Where a backup is written (TiDB Operator's `BackupStorageType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StorageKind {
    S3,
    Gcs,
    Azblob,
    Local,
}

impl StorageKind {
    /// The spec field that holds it.
    pub fn field(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Gcs => "gcs",
            Self::Azblob => "azblob",
            Self::Local => "local",
        }
    }
}

/// S3-compatible storage (`spec.s3`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3StorageProvider {
    /// S3-compatible provider, e.g. aws, ceph, minio, alibaba (BR's `--s3.provider`).
    #[serde(default)]
    pub provider: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Legacy `bucket/path` form, used by Dumpling only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    /// Endpoint URL with scheme, e.g. `http://minio:9000`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    /// Storage class of the uploaded objects (aws default `STANDARD_IA`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_class: String,
    /// Canned ACL of the uploaded objects (aws default `private`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub acl: String,
    /// Secret with keys `access_key` and `secret_key`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Server-side encryption, passed to BR as `--s3.sse`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sse: String,
    /// rclone options (Dumpling mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Path-style (`true`) or virtual-hosted (`false`) addressing (TiDB Operator ≥ v1.6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
}

/// Google Cloud Storage (`spec.gcs`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcsStorageProvider {
    #[serde(default)]
    pub project_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_class: String,
    /// Predefined ACL of new objects (BR's `--gcs.predefined-acl`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object_acl: String,
    /// ACL of new buckets (Dumpling's rclone only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket_acl: String,
    /// Secret with key `credentials` (a service account JSON key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// Azure Blob Storage (`spec.azblob`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzblobStorageProvider {
    /// Legacy `container/path` form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Container to write the backup to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// Access tier of the uploaded blobs: `Hot`, `Cool` or `Archive`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access_tier: String,
    /// Secret with `AZURE_STORAGE_ACCOUNT` and either `AZURE_STORAGE_KEY` or the Azure AD
    /// service principal (`AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_name: String,
    /// Storage account (else read from the secret) (TiDB Operator ≥ v1.5).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_account: String,
    /// Shared access signature of the storage account (TiDB Operator ≥ v1.5).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sas_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// A Kubernetes volume as backup storage (`spec.local`).
// Boxed where it is used: a `Volume` is several kilobytes, and every spec holds one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalStorageProvider {
    #[serde(default)]
    pub volume: Volume,
    #[serde(default)]
    pub volume_mount: VolumeMount,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// How to reach TiDB over SQL (`spec.from`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TiDBAccessConfig {
    /// TiDB service host, e.g. `basic-tidb`.
    #[serde(default)]
    pub host: String,
    /// TiDB port (default 4000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// TiDB user (default `root`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Secret holding the user's password under key `password`.
    #[serde(default)]
    pub secret_name: String,
    /// Client TLS secret (default `<cluster>-tidb-client-secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_secret_name: Option<String>,
}

/// BR settings (`spec.br`). Unset fields leave BR's own defaults in force.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BRConfig {
    /// Name of the TidbCluster to back up.
    #[serde(default)]
    pub cluster: String,
    /// Namespace of the TidbCluster (default: the Backup's namespace).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_namespace: String,
    /// Database to back up (backupType db/table).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub db: String,
    /// Table to back up (backupType table).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub table: String,
    /// BR log level: debug, info, warn, error or fatal (BR default info).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_level: String,
    /// Address on which BR serves its status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_addr: String,
    /// Threads per TiKV (BR default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<i64>,
    /// Speed limit per TiKV in MB/s (BR default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<i64>,
    /// Back up data as of this Go duration ago.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_ago: String,
    /// Verify files after the backup (BR default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<bool>,
    /// Check the cluster's requirements before backing up (BR default true; TiDB
    /// Operator ≥ v1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_requirements: Option<bool>,
    /// Pass BR's cloud credentials to TiKV (BR default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_cred_to_tikv: Option<bool>,
    /// Restore only; ignored for backups.
    #[serde(rename = "onLine", default, skip_serializing_if = "Option::is_none")]
    pub on_line: Option<bool>,
    /// Extra BR arguments, appended last (e.g. `--lastbackupts=<ts>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// Dumpling settings (legacy export mode).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DumplingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Deprecated: use `spec.tableFilter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_filter: Option<Vec<String>>,
}

/// How TiDB Operator's clean Job deletes backup data (`spec.cleanOption`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CleanOption {
    /// Objects listed per page (TiDB Operator default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    /// Attempts of the clean (CRD default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i64>,
    /// Back off when a deletion request fails (rate limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_enabled: Option<bool>,
    /// Delete one object at a time instead of S3 batch deletions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_batch_concurrency: Option<bool>,
    /// Batch deletions in parallel (TiDB Operator default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_concurrency: Option<i64>,
    /// Single deletions in parallel (TiDB Operator default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routine_concurrency: Option<i64>,
    /// Volume snapshots deleted per second (CRD default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots_delete_ratio: Option<f64>,
}

/// How TiDB Operator retries a failed snapshot backup (`spec.backoffRetryPolicy`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackoffRetryPolicy {
    /// First retry after this Go duration, doubling after each (CRD default `300s`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub min_retry_duration: String,
    /// Retries at most (CRD default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_times: Option<i64>,
    /// No retry after this Go duration from the first failure (CRD default `30m`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub retry_timeout: String,
}

/// Observed state of a Backup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// Location of the backup data, e.g. `s3://bucket/prefix`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backup_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_started: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_completed: Option<Time>,
    /// Backup size, human readable (SI units).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backup_size_readable: String,
    /// Backup size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_size: Option<i64>,
    /// TSO the backup is consistent at.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit_ts: String,
    /// Type of the most recent condition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<BackupCondition>,
    /// Log backups: when the status was last synced with the kernel's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_synced: Option<Time>,
    /// `timeCompleted - timeStarted`, e.g. `8m30s`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_taken: String,
    /// Volume-snapshot backups: the size of the snapshots' new blocks, human readable.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub incremental_backup_size_readable: String,
    /// Volume-snapshot backups: the size of the snapshots' new blocks in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_backup_size: Option<i64>,
    /// Log backups: the TSO truncated up to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_success_truncate_until: String,
    /// Log backups: the checkpoint TSO.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_checkpoint_ts: String,
    /// Log backups: the last run of each sub-command (`log-start`, `log-stop`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_sub_command_statuses: Option<BTreeMap<String, LogSubCommandStatus>>,
    /// Progress of the backup's steps.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub progresses: Vec<Progress>,
    /// BR processes recently observed for this backup.
    #[serde(
        rename = "brOperations",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub br_operations: Vec<BrOperation>,
    /// Retries of a failed snapshot backup (`spec.backoffRetryPolicy`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub backoff_retry_status: Vec<BackoffRetryRecord>,
    /// How this backup holds the cluster's `tikv_gc_life_time` (written by the reconciler
    /// before it raises the value, so a restart still restores it).
    #[serde(
        rename = "tikvGCLifeTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tikv_gc_life_time: Option<GcLifeTimeStatus>,
}

/// The reconciler's record of the `tikv_gc_life_time` it holds for a backup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcLifeTimeStatus {
    /// The TidbCluster whose GC life time is held, as `<namespace>/<name>`.
    #[serde(default)]
    pub cluster: String,
    /// The value before the first of the overlapping backups of this cluster raised it;
    /// restored after the last of them ends.
    #[serde(default)]
    pub original: String,
    /// The value held during this backup (`spec.tikvGCLifeTime`).
    #[serde(default)]
    pub held: String,
    /// `Holding`, `Restored`, `HandedOff` (another running backup restores later) or
    /// `Unchanged` (the value was already long enough).
    #[serde(default)]
    pub state: String,
}

/// TiDB Operator's Backup condition types: `status.conditions[].type`, and `status.phase`
/// (the type of the most recent condition).
pub mod condition {
    pub const PREPARE: &str = "Prepare";
    pub const SCHEDULED: &str = "Scheduled";
    pub const RUNNING: &str = "Running";
    pub const COMPLETE: &str = "Complete";
    pub const FAILED: &str = "Failed";
    pub const INVALID: &str = "Invalid";
    pub const RETRY_FAILED: &str = "RetryFailed";
    /// The data was deleted (or there was none); `False` while the clean Job runs.
    pub const CLEAN: &str = "Clean";
    /// The data could not be deleted; it is still in storage.
    pub const CLEAN_FAILED: &str = "CleanFailed";
    /// This project's standalone reconciler does not run this kind of backup (log,
    /// volume-snapshot, Dumpling, KMS-encrypted secrets); TiDB Operator does. Terminal.
    pub const UNSUPPORTED: &str = "Unsupported";
}

impl BackupStatus {
    /// The first of `types` the backup has reached: `phase` when it is one of them, else
    /// the first of them with a `True` condition (either one counts, whoever wrote it).
    pub fn reached(&self, types: &[&str]) -> Option<&str> {
        if types.contains(&self.phase.as_str()) {
            return Some(&self.phase);
        }
        self.conditions
            .iter()
            .find(|c| c.status == "True" && types.contains(&c.type_.as_str()))
            .map(|c| c.type_.as_str())
    }
}

/// A log backup sub-command's last run (`status.logSubCommandStatuses[<command>]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogSubCommandStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_started: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_completed: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_truncating_until: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<BackupCondition>,
}

/// Progress of one step of a backup (`status.progresses[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// A BR process observed for a backup (`status.brOperations[]`, TiDB Operator ≥ v1.6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrOperation {
    #[serde(
        rename = "operationID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub operation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Time>,
}

/// One retry of a failed snapshot backup (`status.backoffRetryStatus[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackoffRetryRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_num: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_failed_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_retry_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_retry_at: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub retry_reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub original_reason: String,
}

/// TiDB Operator writes empty lists as `null` (Go's nil slices without `omitempty`).
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One condition of a Backup; `type` is one of TiDB Operator's condition types
/// (`Scheduled`, `Prepare`, `Running`, `Complete`, `Failed`, `Invalid`, `Clean`, …).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupCondition {
    /// Log backups: the sub-command the condition is about (`log-start`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(rename = "type", default)]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// `metadata.generation` the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
