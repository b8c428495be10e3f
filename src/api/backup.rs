//! `Backup` (`pingcap.com/v1alpha1`, short name `bk`), wire-compatible with TiDB Operator
//! v1.1 (`pkg/apis/pingcap/v1alpha1/types.go`).
//!
//! Enum-like fields (`backupType`, `cleanPolicy`, `s3.provider`, `s3.acl`, …) are plain
//! strings on purpose: v1.1 accepts any string, stored objects may hold anything, and the
//! rule core must be able to read a typo to report it with a suggestion. Fields the v1.1
//! CRD marks required are optional in this schema so that the webhook, not the schema,
//! reports every missing field at once with its fix.

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, ResourceRequirements, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Describes a BR backup of one TiDB cluster to S3-compatible storage, GCS or a volume.
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
    doc = "Backup is a backup of a TiDB cluster taken with BR.",
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
    /// TiDB SQL endpoint, used to raise `tikv_gc_life_time` during the backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<TiDBAccessConfig>,
    /// Backup type: `full`, `db` or `table` (default `full`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backup_type: String,
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
    /// A Kubernetes volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalStorageProvider>,
    /// Storage class of the Dumpling PVC (Dumpling mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Size of the Dumpling PVC (Dumpling mode only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_size: String,
    /// BR settings; its presence selects BR mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<BRConfig>,
    /// Dumpling settings (legacy export mode, not executed by this project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dumpling: Option<DumplingConfig>,
    /// Tolerations of the backup pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// BR image override.
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
    #[serde(rename = "useKMS", default, skip_serializing_if = "is_false")]
    pub use_kms: bool,
    /// Service account of the backup pod (default `tidb-backup-manager`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    /// What happens to the backup data when the Backup is deleted: `Retain` (default),
    /// `Delete`, or `OnFailure`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub clean_policy: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// S3-compatible storage (`spec.s3`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3StorageProvider {
    /// S3-compatible provider: aws, alibaba, digitalocean, dreamhost, ibmcos, minio,
    /// netease, wasabi, ceph or other.
    #[serde(default)]
    pub provider: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Legacy `bucket/path` form, unused by BR.
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
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object_acl: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket_acl: String,
    /// Secret with key `credentials`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// A Kubernetes volume as backup storage (`spec.local`).
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<BackupCondition>,
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

/// One condition of a Backup; `type` is one of TiDB Operator's condition types
/// (`Scheduled`, `Prepare`, `Running`, `Complete`, `Failed`, `Invalid`, `Clean`, …).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupCondition {
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
