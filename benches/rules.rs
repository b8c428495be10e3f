//! Defaulting + validation of the seed's Backup and BackupSchedule (target ≤ 10 µs each).

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code: a panic is the failure report

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tidb_backup_webhook::api::{Backup, BackupSchedule};
use tidb_backup_webhook::rules::{
    default_backup, default_schedule, validate_backup, validate_schedule,
};

const BACKUP: &str = include_str!("../manifests/examples/backup-s3-secret.yaml");
const SCHEDULE: &str = include_str!("../manifests/examples/schedule-s3-secret.yaml");

fn rules(c: &mut Criterion) {
    let backup: Backup = serde_saphyr::from_str(BACKUP).expect("seed Backup");
    let schedule: BackupSchedule = serde_saphyr::from_str(SCHEDULE).expect("seed BackupSchedule");
    c.bench_function("default+validate Backup", |b| {
        b.iter(|| {
            let mut object = black_box(&backup).clone();
            default_backup(&mut object);
            black_box(validate_backup(&object))
        })
    });
    c.bench_function("default+validate BackupSchedule", |b| {
        b.iter(|| {
            let mut object = black_box(&schedule).clone();
            default_schedule(&mut object);
            black_box(validate_schedule(&object))
        })
    });
}

criterion_group!(benches, rules);
criterion_main!(benches);
