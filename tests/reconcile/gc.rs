//! The GC guard's pure decisions: raise only when lower, inherit the original from
//! overlapping holders, hand off or restore, the manual SQL of the user guide, and the
//! finalizer that keeps a holding Backup until it let go.

use tidb_backup_webhook::api::GcLifeTimeStatus;
use tidb_backup_webhook::reconcile::Step;
use tidb_backup_webhook::reconcile::clean::{self, FINALIZER as CLEAN_FINALIZER};
use tidb_backup_webhook::reconcile::gc::{
    FINALIZER as GC_FINALIZER, FinalizerStep, GcError, HOLDING, ReleasePlan, UNCHANGED,
    finalizers_with as gc_finalizers_with, plan_finalizer, plan_hold, plan_release, protects,
    released, restore_failed_message, restore_sql,
};

const CLUSTER: &str = "test1/demo1";

fn holding(original: &str, held: &str) -> GcLifeTimeStatus {
    GcLifeTimeStatus {
        cluster: CLUSTER.into(),
        original: original.into(),
        held: held.into(),
        state: HOLDING.into(),
    }
}

#[test]
fn raises_when_lower() {
    let plan = plan_hold(CLUSTER, "72h", "10m0s", None, &[]).expect("plan");
    assert_eq!(plan.record, holding("10m0s", "72h"));
    assert_eq!(plan.raise_to.as_deref(), Some("72h"));
}

#[test]
fn leaves_a_longer_value_alone() {
    for current in ["72h", "100h0m0s", "4320m"] {
        let plan = plan_hold(CLUSTER, "72h", current, None, &[]).expect("plan");
        assert_eq!(plan.raise_to, None, "{current}");
        assert_eq!(plan.record.state, UNCHANGED);
        assert_eq!(plan.record.original, current);
    }
}

#[test]
fn an_overlapping_backup_inherits_the_first_original() {
    // The first backup raised 10m0s to 72h; the second sees 72h but must restore 10m0s.
    let first = holding("10m0s", "72h");
    let plan = plan_hold(CLUSTER, "48h", "72h", None, std::slice::from_ref(&first)).expect("plan");
    assert_eq!(plan.record, holding("10m0s", "48h"));
    assert_eq!(plan.raise_to, None, "72h already covers 48h");
    // A longer one raises further, still remembering the first original.
    let plan = plan_hold(CLUSTER, "96h", "72h", None, &[first]).expect("plan");
    assert_eq!(plan.record, holding("10m0s", "96h"));
    assert_eq!(plan.raise_to.as_deref(), Some("96h"));
}

#[test]
fn resuming_after_a_crash_keeps_the_record_and_raises_if_needed() {
    let own = holding("10m0s", "72h");
    // Crashed after recording, before raising.
    let plan = plan_hold(CLUSTER, "72h", "10m0s", Some(&own), &[]).expect("plan");
    assert_eq!(plan.record, own);
    assert_eq!(plan.raise_to.as_deref(), Some("72h"));
    // Crashed after raising: nothing more to write, and 72h is not mistaken for the original.
    let plan = plan_hold(CLUSTER, "72h", "72h", Some(&own), &[]).expect("plan");
    assert_eq!(plan.record, own);
    assert_eq!(plan.raise_to, None);
}

#[test]
fn unparsable_values_name_what_is_wrong() {
    let err = plan_hold(CLUSTER, "3d", "10m0s", None, &[]).expect_err("bad desired");
    assert_eq!(err.reason(), "ParseConfiguredTikvGCLifeTimeFailed");
    assert_eq!(
        err.to_string(),
        "spec.tikvGCLifeTime \"3d\" is not a Go duration: time: unknown unit \"d\" in duration \"3d\""
    );
    let err = plan_hold(CLUSTER, "72h", "ten minutes", None, &[]).expect_err("bad current");
    assert!(matches!(err, GcError::Current { .. }));
    assert_eq!(err.reason(), "ParseOldTikvGCLifeTimeFailed");
}

#[test]
fn release_restores_only_as_the_last_holder() {
    let own = holding("10m0s", "72h");
    assert_eq!(
        plan_release(Some(&own), &[]),
        ReleasePlan::Restore {
            original: "10m0s".into()
        }
    );
    assert_eq!(
        plan_release(Some(&own), &[holding("10m0s", "48h")]),
        ReleasePlan::HandOff
    );
    // Holders of another cluster do not count.
    let other = GcLifeTimeStatus {
        cluster: "test1/other".into(),
        ..holding("5m", "72h")
    };
    assert_eq!(
        plan_release(Some(&own), &[other]),
        ReleasePlan::Restore {
            original: "10m0s".into()
        }
    );
    let unchanged = GcLifeTimeStatus {
        state: UNCHANGED.into(),
        ..own.clone()
    };
    assert_eq!(plan_release(Some(&unchanged), &[]), ReleasePlan::Nothing);
    assert_eq!(plan_release(None, &[]), ReleasePlan::Nothing);
    assert_eq!(released(&own, &ReleasePlan::HandOff).state, "HandedOff");
    assert_eq!(
        released(
            &own,
            &ReleasePlan::Restore {
                original: "10m0s".into()
            }
        )
        .state,
        "Restored"
    );
}

#[test]
fn manual_sql_matches_the_user_guide() {
    assert_eq!(
        restore_sql("10m"),
        "update mysql.tidb set VARIABLE_VALUE = '10m' where VARIABLE_NAME = 'tikv_gc_life_time';"
    );
    assert_eq!(
        restore_failed_message(CLUSTER, "10m0s", "connection refused"),
        "could not restore tikv_gc_life_time of cluster test1/demo1 to \"10m0s\": connection refused. It is retried; to restore it by hand, check it with `select VARIABLE_NAME, VARIABLE_VALUE from mysql.tidb where VARIABLE_NAME like \"tikv_gc_life_time\";` and run `update mysql.tidb set VARIABLE_VALUE = '10m0s' where VARIABLE_NAME = 'tikv_gc_life_time';`"
    );
}

/// The guide's Backup with the given finalizers and record, deleted or not.
fn backup_with(
    finalizers: &[&str],
    record: Option<GcLifeTimeStatus>,
    deleted: bool,
) -> tidb_backup_webhook::api::Backup {
    let mut b = super::backup(super::SEED_BACKUP_SECRET);
    b.metadata.finalizers =
        (!finalizers.is_empty()).then(|| finalizers.iter().map(|f| (*f).to_owned()).collect());
    b.status = Some(tidb_backup_webhook::api::BackupStatus {
        tikv_gc_life_time: record,
        ..Default::default()
    });
    if deleted {
        b.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:20:00Z".parse().expect("time"),
        ));
    }
    b
}

fn in_state(state: &str) -> GcLifeTimeStatus {
    GcLifeTimeStatus {
        state: state.into(),
        ..holding("10m0s", "72h")
    }
}

#[test]
fn only_a_holding_record_is_protected() {
    assert!(protects(&in_state(HOLDING)));
    for state in [UNCHANGED, "Restored", "HandedOff"] {
        assert!(!protects(&in_state(state)), "{state}");
    }
    assert_eq!(GC_FINALIZER, "tidb.pingcap.com/gc-life-time");
}

#[test]
fn the_finalizer_follows_the_record_while_the_backup_lives() {
    let step = Step::CreateJob;
    let cases: [(&[&str], Option<GcLifeTimeStatus>, Step, FinalizerStep); 9] = [
        // Holding without it (an older version wrote the record): add it first.
        (
            &[],
            Some(in_state(HOLDING)),
            Step::Prepare,
            FinalizerStep::Add,
        ),
        (
            &[],
            Some(in_state(HOLDING)),
            Step::RetryRelease,
            FinalizerStep::Add,
        ),
        (
            &[GC_FINALIZER],
            Some(in_state(HOLDING)),
            step.clone(),
            FinalizerStep::Keep,
        ),
        // A failed restore still holds: the finalizer stays while it is retried.
        (
            &[GC_FINALIZER],
            Some(in_state(HOLDING)),
            Step::RetryRelease,
            FinalizerStep::Keep,
        ),
        // Released, or nothing was raised: it goes.
        (
            &[GC_FINALIZER],
            Some(in_state("Restored")),
            Step::Done,
            FinalizerStep::Remove,
        ),
        (
            &[GC_FINALIZER],
            Some(in_state("HandedOff")),
            Step::Done,
            FinalizerStep::Remove,
        ),
        (
            &[GC_FINALIZER],
            Some(in_state(UNCHANGED)),
            step.clone(),
            FinalizerStep::Remove,
        ),
        // An interrupted hold left it without a record: the hold resumes and reuses it.
        (&[GC_FINALIZER], None, Step::Prepare, FinalizerStep::Keep),
        (&[], Some(in_state(UNCHANGED)), step, FinalizerStep::Keep),
    ];
    for (finalizers, record, step, want) in cases {
        let b = backup_with(finalizers, record.clone(), false);
        assert_eq!(
            plan_finalizer(&b, &step, false),
            want,
            "{finalizers:?} {record:?} {step:?}"
        );
    }
    // ... and is removed when the Backup never gets to hold (an invalid spec).
    let b = backup_with(&[GC_FINALIZER], None, false);
    assert_eq!(
        plan_finalizer(&b, &Step::Invalid(Vec::new()), false),
        FinalizerStep::Remove
    );
}

#[test]
fn a_deleted_holder_releases_then_lets_go() {
    let wait = Step::Wait;
    // Retain (no cleanPolicy finalizer): release at once, even while the Job runs.
    let b = backup_with(&[GC_FINALIZER], Some(in_state(HOLDING)), true);
    assert_eq!(plan_finalizer(&b, &wait, false), FinalizerStep::Release);
    // Tried in this reconcile and failed (announced): the deletion goes on.
    assert_eq!(plan_finalizer(&b, &wait, true), FinalizerStep::Remove);
    for state in ["Restored", "HandedOff", UNCHANGED] {
        let b = backup_with(&[GC_FINALIZER], Some(in_state(state)), true);
        assert_eq!(
            plan_finalizer(&b, &wait, false),
            FinalizerStep::Remove,
            "{state}"
        );
    }
    let b = backup_with(&[GC_FINALIZER], None, true);
    assert_eq!(
        plan_finalizer(&b, &Step::Prepare, false),
        FinalizerStep::Remove
    );
    // Nothing can be added to a Backup being deleted.
    let b = backup_with(&[], Some(in_state(HOLDING)), true);
    assert_eq!(plan_finalizer(&b, &wait, false), FinalizerStep::Keep);
}

#[test]
fn with_the_clean_policy_finalizer_its_path_releases_first() {
    let both = [CLEAN_FINALIZER, GC_FINALIZER];
    // The cleanPolicy path releases after the backup Job stopped; this one waits.
    let b = backup_with(&both, Some(in_state(HOLDING)), true);
    for step in [Step::Wait, Step::CreateJob, Step::Done] {
        assert_eq!(
            plan_finalizer(&b, &step, false),
            FinalizerStep::Keep,
            "{step:?}"
        );
    }
    // Its release was tried (and failed) in this reconcile, or it succeeded: ours goes,
    // the cleanPolicy finalizer stays for the data.
    assert_eq!(plan_finalizer(&b, &Step::Done, true), FinalizerStep::Remove);
    let b = backup_with(&both, Some(in_state("Restored")), true);
    assert_eq!(
        plan_finalizer(&b, &Step::Done, false),
        FinalizerStep::Remove
    );
    assert_eq!(gc_finalizers_with(&b, false), vec![CLEAN_FINALIZER]);
    assert_eq!(clean::finalizers_with(&b, false), vec![GC_FINALIZER]);
    // Adding keeps the others in order and never doubles.
    let b = backup_with(&["example.com/x", CLEAN_FINALIZER], None, false);
    assert_eq!(
        gc_finalizers_with(&b, true),
        vec!["example.com/x", CLEAN_FINALIZER, GC_FINALIZER]
    );
    let b = backup_with(&[GC_FINALIZER, "example.com/x"], None, false);
    assert_eq!(
        gc_finalizers_with(&b, true),
        vec!["example.com/x", GC_FINALIZER]
    );
}
