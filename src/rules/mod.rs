//! Pure defaulting and validation of Backup and BackupSchedule: no IO, no clock.
//!
//! `default_*` fill what TiDB Operator and BR would default invisibly; `validate_*`
//! report every problem with its field path; `validate_*_update` add UPDATE semantics.
//! The parsers below reproduce the Go grammars BR and TiDB Operator apply, byte for byte.

pub mod cron;
pub mod defaults;
pub mod duration;
mod finding;
pub mod go_quote;
pub mod go_regex;
pub mod go_url;
pub mod labels;
pub mod names;
pub mod suggest;
pub mod table_filter;
pub mod ts;
pub mod unknown;
pub mod update;
pub mod validate;
pub mod vocab;

pub use defaults::{SpecContext, default_backup, default_schedule};
pub use finding::{Finding, Findings, Severity, has_errors};
pub use update::{validate_backup_update, validate_schedule_update};
pub use validate::{validate_backup, validate_schedule};
