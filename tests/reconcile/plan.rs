//! The planner and status transitions: which step follows which observation, and the
//! status each transition writes (conditions with observedGeneration, phase, times).

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use tidb_backup_webhook::api::{Backup, BackupStatus, GcLifeTimeStatus};
use tidb_backup_webhook::reconcile::status::{self, set_condition};
use tidb_backup_webhook::reconcile::{
    Finished, GcRelease, JobOutcome, JobView, PodView, Step, finish, next_step,
};

use super::{SEED_BACKUP_SECRET, backup};

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn seed() -> Backup {
    let mut b = backup(SEED_BACKUP_SECRET);
    b.metadata.generation = Some(3);
    b
}

fn with_conditions(mut b: Backup, types: &[&str]) -> Backup {
    let mut status = b.status.take().unwrap_or_default();
    for type_ in types {
        set_condition(
            &mut status,
            type_,
            "R",
            "",
            Some(3),
            t("2026-01-01T00:00:00Z"),
        );
    }
    b.status = Some(status);
    b
}

fn job(value: serde_json::Value) -> JobView {
    JobView::of(&serde_json::from_value::<Job>(value).expect("job"))
}

fn pod(phase: &str) -> PodView {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "backup-demo1-backup-s3-x7k2p", "creationTimestamp": "2026-01-01T00:01:00Z"},
        "status": {
            "phase": phase,
            "startTime": "2026-01-01T00:01:01Z",
            "containerStatuses": [{
                "name": "backup", "image": "br", "imageID": "", "ready": true, "restartCount": 0,
                "state": {"running": {"startedAt": "2026-01-01T00:01:30Z"}}
            }]
        }
    }))
    .expect("pod");
    PodView::newest(&[p]).expect("one pod")
}

#[test]
fn a_new_valid_backup_is_prepared_then_gets_its_job() {
    assert_eq!(next_step(&seed(), None, None), Step::Prepare);
    let prepared = with_conditions(seed(), &[status::PREPARE]);
    assert_eq!(next_step(&prepared, None, None), Step::CreateJob);
    // The Job exists but Scheduled was not recorded yet (e.g. a crash in between).
    assert_eq!(
        next_step(&prepared, Some(&JobView::default()), None),
        Step::MarkScheduled
    );
}

#[test]
fn an_invalid_spec_is_marked_invalid_with_every_error() {
    let mut b = seed();
    b.spec.backup_type = "incremental".into();
    b.spec.s3.as_mut().expect("s3").bucket.clear();
    let Step::Invalid(errors) = next_step(&b, None, None) else {
        panic!("expected Invalid");
    };
    let paths: Vec<&str> = errors.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["spec.backupType", "spec.s3.bucket"]);
    let mut status = BackupStatus::default();
    status::invalid(&mut status, &errors, Some(3), t("2026-01-01T00:00:00Z"));
    assert_eq!(status.phase, "Invalid");
    let c = &status.conditions[0];
    assert_eq!(
        (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
        ("Invalid", "True", "InvalidSpec")
    );
    assert!(
        c.message
            .starts_with("spec.backupType: unsupported value \"incremental\""),
        "{}",
        c.message
    );
    assert!(
        c.message.contains("; spec.s3.bucket: required"),
        "{}",
        c.message
    );
    assert_eq!(c.observed_generation, Some(3));
    // Terminal: nothing more happens.
    let b = Backup {
        status: Some(status),
        ..b
    };
    assert_eq!(next_step(&b, None, None), Step::Done);
}

#[test]
fn pod_start_marks_running_with_the_containers_start_time() {
    let scheduled = with_conditions(seed(), &[status::PREPARE, status::SCHEDULED]);
    let running_job = job(json!({"status": {"active": 1, "startTime": "2026-01-01T00:01:00Z"}}));
    assert_eq!(
        next_step(&scheduled, Some(&running_job), Some(&pod("Pending"))),
        Step::Wait
    );
    assert_eq!(
        next_step(&scheduled, Some(&running_job), Some(&pod("Running"))),
        Step::MarkRunning {
            started: t("2026-01-01T00:01:30Z")
        }
    );
    let running = with_conditions(scheduled, &[status::RUNNING]);
    assert_eq!(
        next_step(&running, Some(&running_job), Some(&pod("Running"))),
        Step::Wait
    );
}

#[test]
fn job_conditions_finish_the_backup() {
    let running = with_conditions(
        seed(),
        &[status::PREPARE, status::SCHEDULED, status::RUNNING],
    );
    let done = job(json!({"status": {"completionTime": "2026-01-01T01:00:00Z",
        "conditions": [{"type": "Complete", "status": "True"}]}}));
    assert_eq!(
        next_step(&running, Some(&done), None),
        Step::Finish(JobOutcome::Succeeded {
            completed: Some(t("2026-01-01T01:00:00Z"))
        })
    );
    let failed = job(
        json!({"status": {"conditions": [{"type": "Failed", "status": "True",
        "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit",
        "lastTransitionTime": "2026-01-01T00:05:00Z"}]}}),
    );
    assert_eq!(
        next_step(&running, Some(&failed), None),
        Step::Finish(JobOutcome::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: "Job has reached the specified backoff limit".into(),
            at: Some(t("2026-01-01T00:05:00Z")),
        })
    );
    // A scheduled backup whose Job vanished fails instead of waiting forever.
    assert_eq!(
        next_step(&running, None, None),
        Step::Finish(JobOutcome::Lost)
    );
}

#[test]
fn a_finished_backup_that_still_holds_the_gc_retries_the_release() {
    let mut failed = with_conditions(seed(), &[status::FAILED]);
    if let Some(s) = failed.status.as_mut() {
        s.tikv_gc_life_time = Some(GcLifeTimeStatus {
            cluster: "test1/demo1".into(),
            original: "10m0s".into(),
            held: "72h".into(),
            state: "Holding".into(),
        });
    }
    assert_eq!(next_step(&failed, None, None), Step::RetryRelease);
}

const SUCCESS_LOG: &str = "[2024/02/04 22:55:12.429 +00:00] [INFO] [collector.go:77] [\"Full Backup success summary\"] [backup-data-size(after-compressed)=102.5kB] [Size=102451] [BackupTS=447518343168000000]\n";

#[test]
fn complete_records_what_br_reported() {
    let running = with_conditions(seed(), &[status::PREPARE, status::SCHEDULED]);
    let outcome = JobOutcome::Succeeded {
        completed: Some(t("2026-01-01T01:00:00Z")),
    };
    let restored = GcLifeTimeStatus {
        cluster: "test1/demo1".into(),
        original: "10m0s".into(),
        held: "72h".into(),
        state: "Restored".into(),
    };
    let status = finish(
        running.status.as_ref(),
        &Finished {
            outcome: &outcome,
            job_name: "backup-demo1-backup-s3",
            log: Some(SUCCESS_LOG),
            started: Some(t("2026-01-01T00:01:30Z")),
            gc: GcRelease::Released(restored.clone()),
            generation: Some(3),
            now: t("2026-01-01T01:00:05Z"),
        },
    );
    let value = serde_json::to_value(&status).expect("json");
    assert_eq!(value["phase"], "Complete");
    assert_eq!(value["commitTs"], "447518343168000000");
    assert_eq!(value["backupSize"], 102451);
    assert_eq!(value["backupSizeReadable"], "102 kB");
    assert_eq!(value["timeStarted"], "2026-01-01T00:01:30Z");
    assert_eq!(value["timeCompleted"], "2026-01-01T01:00:00Z");
    assert_eq!(value["tikvGCLifeTime"]["state"], "Restored");
    let complete = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Complete")
        .expect("Complete");
    assert_eq!(complete.reason, "BackupSucceeded");
    assert_eq!(complete.observed_generation, Some(3));
    assert_eq!(
        complete.last_transition_time.as_ref().map(|t| t.0),
        Some(t("2026-01-01T01:00:05Z"))
    );
    // Earlier conditions stay, as in TiDB Operator.
    let types: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, vec!["Prepare", "Scheduled", "Complete"]);
}

#[test]
fn failed_records_brs_error_lines_and_a_failed_restore() {
    let outcome = JobOutcome::Failed {
        reason: "BackoffLimitExceeded".into(),
        message: "limit".into(),
        at: None,
    };
    let log = "[2026/01/01 00:03:00.000 +00:00] [ERROR] [backup.go:40] [\"failed\"]\nError: [BR:KV:ErrKVStorage]I/O error\n";
    let base = Finished {
        outcome: &outcome,
        job_name: "backup-b",
        log: Some(log),
        started: None,
        gc: GcRelease::NotHeld,
        generation: Some(3),
        now: t("2026-01-01T00:05:00Z"),
    };
    let status = finish(None, &base);
    let failed = &status.conditions[0];
    assert_eq!(status.phase, "Failed");
    assert_eq!(failed.reason, "BackupDataToRemoteFailed");
    assert_eq!(
        failed.message,
        "BR failed: [2026/01/01 00:03:00.000 +00:00] [ERROR] [backup.go:40] [\"failed\"]\nError: [BR:KV:ErrKVStorage]I/O error"
    );
    let status = finish(
        None,
        &Finished {
            log: None,
            ..base.clone()
        },
    );
    assert_eq!(status.conditions[0].reason, "BackupJobFailed");
    assert_eq!(
        status.conditions[0].message,
        "Job backup-b failed (BackoffLimitExceeded: limit)"
    );
    let status = finish(
        None,
        &Finished {
            gc: GcRelease::RestoreFailed("could not restore X".into()),
            ..base
        },
    );
    assert_eq!(status.conditions[0].reason, "ResetTikvGCLifeTimeFailed");
    assert!(
        status.conditions[0]
            .message
            .ends_with("; also could not restore X")
    );
}

#[test]
fn a_failed_restore_fails_a_successful_backup_but_keeps_its_numbers() {
    let outcome = JobOutcome::Succeeded { completed: None };
    let status = finish(
        None,
        &Finished {
            outcome: &outcome,
            job_name: "backup-b",
            log: Some(SUCCESS_LOG),
            started: None,
            gc: GcRelease::RestoreFailed("could not restore tikv_gc_life_time".into()),
            generation: Some(1),
            now: t("2026-01-01T00:05:00Z"),
        },
    );
    assert_eq!(status.phase, "Failed");
    assert_eq!(status.conditions[0].reason, "ResetTikvGCLifeTimeFailed");
    assert_eq!(
        status.conditions[0].message,
        "BR finished the backup, but could not restore tikv_gc_life_time"
    );
    assert_eq!(status.commit_ts, "447518343168000000");
}

#[test]
fn last_transition_time_moves_only_when_the_status_flips() {
    let mut status = BackupStatus::default();
    set_condition(
        &mut status,
        "Running",
        "PodRunning",
        "a",
        Some(1),
        t("2026-01-01T00:00:00Z"),
    );
    set_condition(
        &mut status,
        "Running",
        "PodRunning",
        "b",
        Some(2),
        t("2026-01-01T00:10:00Z"),
    );
    let c = &status.conditions[0];
    assert_eq!(
        c.last_transition_time.as_ref().map(|t| t.0),
        Some(t("2026-01-01T00:00:00Z"))
    );
    assert_eq!((c.message.as_str(), c.observed_generation), ("b", Some(2)));
    status::set_condition_status(
        &mut status,
        "Running",
        "False",
        "Stopped",
        "",
        Some(2),
        t("2026-01-01T00:20:00Z"),
    );
    let c = &status.conditions[0];
    assert_eq!(
        c.last_transition_time.as_ref().map(|t| t.0),
        Some(t("2026-01-01T00:20:00Z"))
    );
    assert_eq!(
        status.phase, "Running",
        "a False condition does not become the phase"
    );
}

#[test]
fn a_job_owned_by_something_else_is_never_adopted() {
    let mut b = with_conditions(seed(), &[status::PREPARE, status::SCHEDULED]);
    b.metadata.uid = Some("new-uid".into());
    // A deleted Backup of the same name left a finished Job behind.
    let old = job(json!({
        "metadata": {"ownerReferences": [{"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
            "name": "demo1-backup-s3", "uid": "old-uid", "controller": true}]},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]}
    }));
    assert_eq!(
        next_step(&b, Some(&old), None),
        Step::JobConflict {
            owner: Some("old-uid".into())
        }
    );
    let mine = job(json!({
        "metadata": {"ownerReferences": [{"apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
            "name": "demo1-backup-s3", "uid": "new-uid", "controller": true}]}
    }));
    assert_eq!(next_step(&b, Some(&mine), None), Step::Wait);
}

#[test]
fn use_kms_cannot_be_executed_without_the_backup_manager() {
    let mut b = seed();
    b.spec.use_kms = Some(true);
    let Step::Unsupported(unsupported) = next_step(&b, None, None) else {
        panic!("expected Unsupported");
    };
    assert_eq!(unsupported.reason, "KMSNotSupported");
    assert!(
        unsupported
            .message
            .starts_with("spec.useKMS: BR runs without tidb-backup-manager's KMS decryption here"),
        "{}",
        unsupported.message
    );
}

/// What TiDB Operator runs and this reconciler does not gets one terminal condition with
/// the reason: no Job, no retry, and no cleanPolicy finalizer (nothing was written).
#[test]
fn log_volume_snapshot_and_dumpling_backups_are_unsupported_once() {
    type Edit = fn(&mut tidb_backup_webhook::api::Backup);
    let cases: [(&str, Edit); 3] = [
        ("LogBackupNotSupported", |b| {
            b.spec.backup_mode = "log".into()
        }),
        ("VolumeSnapshotNotSupported", |b| {
            b.spec.backup_mode = "volume-snapshot".into()
        }),
        ("DumplingNotSupported", |b| {
            b.spec.br = None;
            b.spec.storage_size = "10Gi".into();
            b.spec.from = Some(tidb_backup_webhook::api::TiDBAccessConfig {
                host: "demo1-tidb".into(),
                secret_name: "s".into(),
                ..Default::default()
            });
        }),
    ];
    for (reason, edit) in cases {
        let mut b = seed();
        b.spec.clean_policy = "Delete".into();
        edit(&mut b);
        let Step::Unsupported(unsupported) = next_step(&b, None, None) else {
            panic!(
                "{reason}: expected Unsupported, got {:?}",
                next_step(&b, None, None)
            );
        };
        assert_eq!(unsupported.reason, reason);
        assert!(
            unsupported
                .message
                .contains("let TiDB Operator's backup controller run it"),
            "{}",
            unsupported.message
        );
        assert!(
            !tidb_backup_webhook::reconcile::clean::wants_finalizer(&b),
            "{reason}"
        );
        // Recorded once, it is terminal.
        let mut status = tidb_backup_webhook::api::BackupStatus::default();
        tidb_backup_webhook::reconcile::status::unsupported(
            &mut status,
            &unsupported,
            Some(1),
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(status.phase, "Unsupported");
        b.status = Some(status);
        assert_eq!(next_step(&b, None, None), Step::Done, "{reason}");
    }
}
