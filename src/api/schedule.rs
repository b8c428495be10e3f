//! `BackupSchedule` (`pingcap.com/v1alpha1`, short name `bks`), wire-compatible with
//! TiDB Operator v1.1.

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::{BackupCondition, BackupSpec};

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
    /// Spec of every Backup the schedule creates.
    #[serde(default)]
    pub backup_template: BackupSpec,
    /// Dumpling PVC storage class fallback (Dumpling mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Dumpling PVC size fallback (Dumpling mode only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_size: String,
    /// Replaces the template's image pull secrets when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
}

/// Observed state of a BackupSchedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleStatus {
    /// Name of the last Backup created.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_backup: String,
    /// Cron tick of the last Backup created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    /// When retention last deleted every backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_backup_clean_time: Option<Time>,
    /// When the schedule fires next (unset while paused or invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_backup_time: Option<Time>,
    /// `Invalid`, `Paused` and `Blocked` (a due tick waits for a running Backup).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<BackupCondition>,
}
