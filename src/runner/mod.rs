//! `tidb-backup-webhook runner …`: work that runs inside Jobs the reconciler creates,
//! from this project's own image.
//!
//! - [`clean`]: deletes a Backup's data from S3-compatible storage (the clean Job).

pub mod clean;
