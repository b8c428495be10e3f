//! Pure reconciler planning: BR argv and Job against TiDB Operator's contract (reference
//! §5.2–5.5, §9) and the user guide's Backups, status transitions, BR's log, the GC guard's
//! decisions, the next-step planner, cleanPolicy planning, the BackupSchedule planner, and
//! the `explain` command.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod argv;
mod clean;
mod explain;
mod gc;
mod job;
mod plan;
mod schedule;
mod summary;

use tidb_backup_webhook::api::Backup;

pub const SEED_BACKUP_SECRET: &str = include_str!("../../manifests/examples/backup-s3-secret.yaml");
pub const SEED_BACKUP_KUBE2IAM: &str =
    include_str!("../../manifests/examples/backup-s3-kube2iam.yaml");
pub const SEED_BACKUP_IRSA: &str = include_str!("../../manifests/examples/backup-s3-irsa.yaml");

pub fn backup(yaml: &str) -> Backup {
    serde_saphyr::from_str(yaml).expect("test Backup YAML")
}

/// `v` as owned strings, for comparing argv.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}
