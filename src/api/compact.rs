//! `CompactSpec`: what a BackupSchedule's `compactBackupTemplate` holds (TiDB Operator
//! v1.6's `CompactBackup` spec, which compacts a log backup's files, with the sharded
//! mode release-1.x adds). `CompactBackup`
//! objects themselves are not admitted by this project; only the template is checked.

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements, Toleration,
    Volume, VolumeMount,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::{
    AzblobStorageProvider, BRConfig, GcsStorageProvider, LocalStorageProvider, S3StorageProvider,
};

/// A compaction of a log backup (`spec.compactBackupTemplate` of a BackupSchedule).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompactSpec {
    /// `""` or `sharded` (TiDB Operator release-1.x).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// Shards of a sharded compaction, at least 1 (release-1.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_count: Option<i32>,
    /// tikv-ctl's `--physical-file-cache-capacity`, a quantity such as `150Gi`
    /// (release-1.x).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub physical_file_cache_capacity: String,
    /// tikv-ctl's `--name` (release-1.x).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Resource requirements of the compaction container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Storage of the log backup to compact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3StorageProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsStorageProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azblob: Option<AzblobStorageProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Box<LocalStorageProvider>>,
    /// First TSO or datetime to compact (set by the schedule).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_ts: String,
    /// Last TSO or datetime to compact (set by the schedule; default now).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end_ts: String,
    /// Compaction threads (CRD default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// BR image of the compaction.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool_image: String,
    /// TiKV image of the compaction.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tikv_image: String,
    /// BR settings; `cluster` names the TidbCluster whose log backup is compacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<BRConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(rename = "useKMS", default, skip_serializing_if = "Option::is_none")]
    pub use_kms: Option<bool>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<Box<PodSecurityContext>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub priority_class_name: String,
    /// Retries of a failed compaction (CRD default 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_times: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volumes: Option<Vec<Volume>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_volume_mounts: Option<Vec<VolumeMount>>,
}
