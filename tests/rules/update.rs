//! UPDATE semantics: frozen specs once scheduled, ratcheting of pre-existing errors.

use tidb_backup_webhook::api::{BackupCondition, BackupStatus};
use tidb_backup_webhook::rules::{
    default_backup, validate_backup_update, validate_schedule_update,
};

use super::*;

fn with_phase(mut b: Backup, phase: &str) -> Backup {
    b.status = Some(BackupStatus {
        phase: phase.into(),
        ..Default::default()
    });
    b
}

#[test]
fn scheduled_backup_spec_is_immutable() {
    let mut old = minimal_backup();
    default_backup(&mut old);
    let old = with_phase(old, "Complete");
    let mut new = old.clone();
    new.spec.br.as_mut().expect("br").concurrency = Some(8);
    new.spec.s3.as_mut().expect("s3").prefix = "other".into();
    assert_eq!(
        errors(&validate_backup_update(&old, &new)),
        vec![
            (
                "spec.br.concurrency".into(),
                "immutable once the backup has been scheduled (status Complete); create a new Backup instead".into()
            ),
            (
                "spec.s3.prefix".into(),
                "immutable once the backup has been scheduled (status Complete); create a new Backup instead".into()
            ),
        ]
    );
}

#[test]
fn clean_policy_stays_editable_after_scheduling() {
    let mut old = minimal_backup();
    default_backup(&mut old);
    let old = with_phase(old, "Failed");
    let mut new = old.clone();
    new.spec.clean_policy = "Retain".into();
    assert_eq!(validate_backup_update(&old, &new), vec![]);
    new.spec.clean_policy = "Delete".into();
    new.spec.s3.as_mut().expect("s3").bucket = "elsewhere".into();
    assert_eq!(
        errors(&validate_backup_update(&old, &new)),
        vec![(
            "spec.s3.bucket".into(),
            "immutable once the backup has been scheduled (status Failed); create a new Backup instead".into()
        )]
    );
}

#[test]
fn scheduled_condition_freezes_even_without_phase() {
    let mut old = minimal_backup();
    old.status = Some(BackupStatus {
        conditions: vec![BackupCondition {
            type_: "Scheduled".into(),
            status: "True".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut new = old.clone();
    new.spec.br.as_mut().expect("br").concurrency = Some(2);
    assert_eq!(
        errors(&validate_backup_update(&old, &new)),
        vec![(
            "spec.br.concurrency".into(),
            "immutable once the backup has been scheduled (status Scheduled); create a new Backup instead".into()
        )]
    );
}

#[test]
fn metadata_updates_and_defaulting_of_old_objects_pass() {
    // Stored before the webhook existed: no defaults. The mutating webhook may add them.
    let old = with_phase(minimal_backup(), "Running");
    let mut new = old.clone();
    default_backup(&mut new);
    new.metadata.finalizers = Some(vec!["tidb.pingcap.com/backup-protection".into()]);
    new.metadata.labels = Some([("team".to_owned(), "db".to_owned())].into());
    assert_eq!(validate_backup_update(&old, &new), vec![]);
}

#[test]
fn unscheduled_or_invalid_backups_can_be_fixed() {
    for phase in ["", "Invalid", "RetryFailed"] {
        let old = with_phase(minimal_backup(), phase);
        let mut new = old.clone();
        new.spec.br.as_mut().expect("br").concurrency = Some(8);
        assert_eq!(validate_backup_update(&old, &new), vec![], "{phase}");
    }
}

#[test]
fn preexisting_errors_ratchet_until_the_field_is_touched() {
    let mut old = with_phase(minimal_backup(), "Complete");
    old.spec.s3.as_mut().expect("s3").acl = "Private".into();
    let mut new = old.clone();
    new.metadata.finalizers = Some(vec![]);
    let findings = validate_backup_update(&old, &new);
    assert_eq!(errors(&findings), vec![]);
    assert_eq!(
        warnings(&findings),
        vec![(
            "spec.s3.acl".into(),
            r#"unsupported value "Private": did you mean "private"? (supported: private, public-read, public-read-write, authenticated-read, bucket-owner-read, bucket-owner-full-control; values are case-sensitive) (tolerated because the field is unchanged; fix it on the next edit)"#.into()
        )]
    );

    // Touching the field (still wrong) is an error again.
    let mut old = minimal_backup();
    old.spec.s3.as_mut().expect("s3").acl = "Private".into();
    let mut new = old.clone();
    new.spec.s3.as_mut().expect("s3").acl = "PRIVATE".into();
    assert_eq!(
        errors(&validate_backup_update(&old, &new))
            .into_iter()
            .map(|(p, _)| p)
            .collect::<Vec<_>>(),
        ["spec.s3.acl"]
    );
}

#[test]
fn schedules_ratchet_too() {
    let mut old = schedule(SEED_SCHEDULE);
    old.spec.schedule = "0 0 2 * * *".into();
    let mut new = old.clone();
    new.spec.pause = Some(true);
    assert_eq!(errors(&validate_schedule_update(&old, &new)), vec![]);
    new.spec.schedule = "0 0 3 * * *".into();
    assert_eq!(
        errors(&validate_schedule_update(&old, &new)),
        vec![(
            "spec.schedule".into(),
            "invalid cron schedule: Expected exactly 5 fields, found 6: 0 0 3 * * *; use 5 fields (minute hour day-of-month month day-of-week): seconds are not supported".into()
        )]
    );
}
