//! `BackupSchedule` (`pingcap.com/v1alpha1`, short name `bks`), wire-compatible with
//! TiDB Operator v1.1 through v1.6 (release-1.6's `BackupScheduleSpec`: every field).

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::{
    AzblobStorageProvider, BRConfig, BackupCondition, BackupSpec, GcsStorageProvider,
    LocalStorageProvider, S3StorageProvider, null_as_default,
};
use super::compact::CompactSpec;

/// Takes a Backup from `backupTemplate` at every tick of `schedule` and prunes old ones.
// kube's repeated `printcolumn(...)` arguments trip clippy's duplicate-attribute lint.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "pingcap.com",
    version = "v1alpha1",
    kind = "BackupSchedule",
    plural = "backupschedules",
    shortname = "bks",
    namespaced,
    status = "BackupScheduleStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "BackupSchedule creates Backups on a cron schedule and applies a retention policy.",
    printcolumn(
        name = "Schedule",
        type_ = "string",
        json_path = ".spec.schedule",
        description = "The cron format string used for backup scheduling"
    ),
    printcolumn(
        name = "MaxBackups",
        type_ = "integer",
        json_path = ".spec.maxBackups",
        description = "The max number of backups we want to keep"
    ),
    printcolumn(
        name = "MaxReservedTime",
        type_ = "string",
        json_path = ".spec.maxReservedTime",
        description = "How long backups are kept"
    ),
    printcolumn(
        name = "LastBackup",
        type_ = "string",
        json_path = ".status.lastBackup",
        description = "The last backup CR name",
        priority = "1"
    ),
    printcolumn(
        name = "LastBackupTime",
        type_ = "date",
        json_path = ".status.lastBackupTime",
        description = "The last time the backup was successfully created",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleSpec {
    /// Cron schedule, robfig/cron v1 standard syntax: 5 fields or `@daily`-style
    /// descriptors, e.g. `0 2 * * *`.
    #[serde(default)]
    pub schedule: String,
    /// Stop creating backups; retention keeps running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    /// Keep at most this many backups (0 or unset: no count limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backups: Option<i32>,
    /// Delete backups older than this Go duration; wins over `maxBackups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reserved_time: Option<String>,
    /// Compact the log backup in spans of this Go duration (with
    /// `compactBackupTemplate`; TiDB Operator ≥ v1.6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_interval: Option<String>,
    /// Spec of every snapshot Backup the schedule creates.
    #[serde(default)]
    pub backup_template: BackupSpec,
    /// Spec of the one log backup the schedule keeps running (TiDB Operator ≥ v1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup_template: Option<Box<BackupSpec>>,
    /// Spec of the compactions of that log backup (TiDB Operator ≥ v1.6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_backup_template: Option<Box<CompactSpec>>,
    /// Compactions never start before this TSO or datetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_compact_start_ts: Option<String>,
    /// Dumpling PVC storage class fallback (Dumpling mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Dumpling PVC volume attributes class fallback (Dumpling mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_attributes_class_name: Option<String>,
    /// Dumpling PVC size fallback (Dumpling mode only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_size: String,
    /// Replaces the templates' image pull secrets when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// BR settings at schedule level (in TiDB Operator's API since v1.6.2, not applied
    /// to the Backups it creates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub br: Option<BRConfig>,
    /// Storage at schedule level (as `br`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3StorageProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsStorageProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azblob: Option<AzblobStorageProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Box<LocalStorageProvider>>,
}

/// Observed state of a BackupSchedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleStatus {
    /// Name of the last Backup created.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_backup: String,
    /// Name of the last CompactBackup created (TiDB Operator).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_compact: String,
    /// Name of the schedule's log backup (TiDB Operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup: Option<String>,
    /// When the schedule's log backup started (TiDB Operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup_start_ts: Option<Time>,
    /// Cron tick of the last Backup created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    /// End of the last compacted span (TiDB Operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_compact_progress: Option<Time>,
    /// When the last compaction ran (TiDB Operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_compact_execution_ts: Option<Time>,
    /// When retention last deleted every backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_backup_clean_time: Option<Time>,
    /// When the schedule fires next (unset while paused or invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_backup_time: Option<Time>,
    /// `Invalid`, `Paused` and `Blocked` (a due tick waits for a running Backup).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<BackupCondition>,
}
