//! API types of `pingcap.com/v1alpha1` `Backup` and `BackupSchedule`, their CRDs, and how
//! to read them from YAML or JSON documents.

mod backup;
mod compact;
mod crd;
pub mod decode;
pub mod plain;
mod schedule;

pub use backup::*;
pub use compact::*;
pub use crd::*;
pub use schedule::*;

/// `storage()` for a spec with Go's inlined `StorageProvider` fields (written out in each
/// type rather than `#[serde(flatten)]`ed, which would hide unknown fields from decoding).
macro_rules! storage_provider {
    ($($spec:ty),+) => {$(
        impl $spec {
            /// The storage fields (`s3`, `gcs`, `azblob`, `local`).
            pub fn storage(&self) -> StorageRef<'_> {
                StorageRef {
                    s3: self.s3.as_ref(),
                    gcs: self.gcs.as_ref(),
                    azblob: self.azblob.as_ref(),
                    local: self.local.as_deref(),
                }
            }
        }
    )+};
}

storage_provider!(BackupSpec, CompactSpec, BackupScheduleSpec);

/// API group and version of both kinds.
pub const API_VERSION: &str = "pingcap.com/v1alpha1";

/// The kinds this project admits and checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Backup,
    BackupSchedule,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Backup => "Backup",
            Kind::BackupSchedule => "BackupSchedule",
        }
    }
}
