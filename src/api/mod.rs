//! API types of `pingcap.com/v1alpha1` `Backup` and `BackupSchedule`, their CRDs, and how
//! to read them from YAML or JSON documents.

mod backup;
mod compact;
mod crd;
pub mod decode;
mod schedule;

pub use backup::*;
pub use compact::*;
pub use crd::*;
pub use schedule::*;

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
