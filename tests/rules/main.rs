//! Rule core: defaulting, validation and UPDATE semantics of Backup and BackupSchedule.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod defaults;
mod modes;
mod properties;
mod update;
mod validate;

use tidb_backup_webhook::api::{Backup, BackupSchedule};
use tidb_backup_webhook::rules::Finding;

/// The seed's Backup (access keys), placeholders filled.
pub const SEED_BACKUP: &str = include_str!("../../manifests/examples/backup-s3-secret.yaml");
pub const SEED_BACKUP_KUBE2IAM: &str =
    include_str!("../../manifests/examples/backup-s3-kube2iam.yaml");
pub const SEED_BACKUP_IRSA: &str = include_str!("../../manifests/examples/backup-s3-irsa.yaml");
pub const SEED_SCHEDULE: &str = include_str!("../../manifests/examples/schedule-s3-secret.yaml");
pub const SEED_SCHEDULE_KUBE2IAM: &str =
    include_str!("../../manifests/examples/schedule-s3-kube2iam.yaml");

pub fn backup(yaml: &str) -> Backup {
    serde_saphyr::from_str(yaml).expect("test Backup YAML")
}

pub fn schedule(yaml: &str) -> BackupSchedule {
    serde_saphyr::from_str(yaml).expect("test BackupSchedule YAML")
}

/// A minimal valid Backup (before defaulting) to mutate in tests.
pub fn minimal_backup() -> Backup {
    backup(
        r#"
apiVersion: pingcap.com/v1alpha1
kind: Backup
metadata: {name: b1, namespace: test1}
spec:
  br: {cluster: demo1}
  s3: {provider: aws, region: us-west-1, bucket: my-bucket, prefix: my-folder}
"#,
    )
}

/// `(path, message)` pairs of findings.
pub type Pairs = Vec<(String, String)>;

/// `(path, message)` of the errors.
pub fn errors(findings: &[Finding]) -> Pairs {
    findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| (f.path.clone(), f.message.clone()))
        .collect()
}

/// `(path, message)` of the warnings.
pub fn warnings(findings: &[Finding]) -> Pairs {
    findings
        .iter()
        .filter(|f| !f.is_error())
        .map(|f| (f.path.clone(), f.message.clone()))
        .collect()
}
