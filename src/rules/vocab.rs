//! The closed vocabularies of TiDB Operator and BR, and well-known names.

/// Annotation kube2iam reads to assume a role for a pod.
pub const IAM_ROLE_ANNOTATION: &str = "iam.amazonaws.com/role";
/// Service account TiDB Operator gives backup pods when `spec.serviceAccount` is empty.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "tidb-backup-manager";
/// `tikv_gc_life_time` TiDB Operator holds during a backup when none is given.
pub const DEFAULT_TIKV_GC_LIFE_TIME: &str = "72h";
pub const DEFAULT_TIDB_PORT: i32 = 4000;
pub const DEFAULT_TIDB_USER: &str = "root";
pub const DEFAULT_AWS_ACL: &str = "private";
pub const DEFAULT_AWS_STORAGE_CLASS: &str = "STANDARD_IA";
/// Longest Kubernetes label value, which Job names must also fit.
pub const MAX_LABEL_VALUE_LEN: usize = 63;
/// `backup-<name>` and `clean-<name>` Job names must fit a label value.
pub const MAX_BACKUP_NAME_LEN: usize = MAX_LABEL_VALUE_LEN - "backup-".len();
/// Length of the `-2006-01-02t15-04-05` suffix of scheduled Backup names.
pub const SCHEDULED_SUFFIX_LEN: usize = "-2006-01-02t15-04-05".len();
/// A schedule's name plus its tick suffix must still be a valid Backup name.
pub const MAX_SCHEDULE_NAME_LEN: usize = MAX_BACKUP_NAME_LEN - SCHEDULED_SUFFIX_LEN;

/// S3-compatible providers TiDB Operator and BR know (rclone names plus `ceph`).
pub const S3_PROVIDERS: &[&str] = &[
    "aws",
    "alibaba",
    "digitalocean",
    "dreamhost",
    "ibmcos",
    "minio",
    "netease",
    "wasabi",
    "ceph",
    "other",
];

/// S3 canned ACLs.
pub const S3_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// ACLs that make backup data readable by other AWS principals.
pub const PUBLIC_S3_ACLS: &[&str] = &["public-read", "public-read-write", "authenticated-read"];

/// Amazon S3 storage classes BR can write.
pub const S3_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "GLACIER_IR",
    "DEEP_ARCHIVE",
];

/// Storage classes whose objects must be restored before anything can read them.
pub const ARCHIVE_S3_STORAGE_CLASSES: &[&str] = &["GLACIER", "DEEP_ARCHIVE"];

/// BR log levels (zap's, case-insensitive).
pub const BR_LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error", "dpanic", "panic", "fatal"];

/// What happens to backup data when its Backup is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanPolicy {
    Retain,
    Delete,
    OnFailure,
}

impl CleanPolicy {
    pub const NAMES: &[&str] = &["Retain", "Delete", "OnFailure"];
    pub const DEFAULT: CleanPolicy = CleanPolicy::Retain;

    /// TiDB Operator's reading: only the exact `Delete` and `OnFailure` clean; empty or
    /// any other value retains the data.
    pub fn effective(value: &str) -> Self {
        match value {
            "Delete" => Self::Delete,
            "OnFailure" => Self::OnFailure,
            _ => Self::Retain,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retain => "Retain",
            Self::Delete => "Delete",
            Self::OnFailure => "OnFailure",
        }
    }
}

/// BR backup sub-commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupType {
    Full,
    Db,
    Table,
}

impl BackupType {
    pub const NAMES: &[&str] = &["full", "db", "table"];
    pub const DEFAULT: BackupType = BackupType::Full;

    /// `None` for values BR's backup command does not accept; empty means `full`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "" | "full" => Some(Self::Full),
            "db" => Some(Self::Db),
            "table" => Some(Self::Table),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Db => "db",
            Self::Table => "table",
        }
    }
}

/// How a Backup runs (`spec.backupMode`, TiDB Operator ≥ v1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupMode {
    Snapshot,
    Log,
    VolumeSnapshot,
}

impl BackupMode {
    pub const NAMES: &[&str] = &["snapshot", "log", "volume-snapshot"];
    pub const DEFAULT: BackupMode = BackupMode::Snapshot;

    /// `None` for values TiDB Operator does not name; empty means `snapshot` (the CRD's
    /// default).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "" | "snapshot" => Some(Self::Snapshot),
            "log" => Some(Self::Log),
            "volume-snapshot" => Some(Self::VolumeSnapshot),
            _ => None,
        }
    }

    /// TiDB Operator's reading: its Job builder runs any value it does not name as a
    /// snapshot backup (`makeBackupJob`'s default branch).
    pub fn effective(value: &str) -> Self {
        Self::parse(value).unwrap_or(Self::Snapshot)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::Log => "log",
            Self::VolumeSnapshot => "volume-snapshot",
        }
    }
}

/// What takes the backup: BR when `spec.br` is set, else Dumpling (TiDB Operator's
/// `ValidateBackup` and Job builder branch on `spec.br == nil`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Br,
    Dumpling,
}

/// Phases of a volume-snapshot backup across Kubernetes clusters.
pub const FEDERAL_VOLUME_BACKUP_PHASES: &[&str] = &["initialize", "execute", "teardown"];

/// `spec.calcSizeLevel` values the backup manager computes a size for.
pub const CALC_SIZE_LEVELS: &[&str] = &["all", "full", "incremental"];

// The defaults and enums of TiDB Operator's CRDs, which the CRDs of `crds --shape
// tidb-operator` carry too.
pub use crate::api::{
    DEFAULT_CALC_SIZE_LEVEL, DEFAULT_CLEAN_RETRY_COUNT, DEFAULT_COMPACT_CONCURRENCY,
    DEFAULT_COMPACT_MAX_RETRY_TIMES, DEFAULT_MAX_RETRY_TIMES, DEFAULT_MIN_RETRY_DURATION,
    DEFAULT_RETRY_TIMEOUT, DEFAULT_SNAPSHOTS_DELETE_RATIO,
    DEFAULT_VOLUME_BACKUP_INIT_JOB_MAX_ACTIVE_SECONDS, LOG_SUBCOMMANDS,
};

/// Azure Blob access tiers BR can write (`--azblob.access-tier`).
pub const AZBLOB_ACCESS_TIERS: &[&str] = &["Hot", "Cool", "Cold", "Archive"];

/// Google Cloud Storage classes.
pub const GCS_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "NEARLINE",
    "COLDLINE",
    "ARCHIVE",
    "MULTI_REGIONAL",
    "REGIONAL",
    "DURABLE_REDUCED_AVAILABILITY",
];

/// Google Cloud Storage predefined object ACLs (BR's `--gcs.predefined-acl`).
pub const GCS_PREDEFINED_ACLS: &[&str] = &[
    "authenticatedRead",
    "bucketOwnerFullControl",
    "bucketOwnerRead",
    "private",
    "projectPrivate",
    "publicRead",
];

/// GCS ACLs that make backup data readable by others.
pub const PUBLIC_GCS_ACLS: &[&str] = &["publicRead", "authenticatedRead"];
