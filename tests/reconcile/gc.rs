//! The GC guard's pure decisions: raise only when lower, inherit the original from
//! overlapping holders, hand off or restore, and the manual SQL of the user guide.

use tidb_backup_webhook::api::GcLifeTimeStatus;
use tidb_backup_webhook::reconcile::gc::{
    GcError, HOLDING, ReleasePlan, UNCHANGED, plan_hold, plan_release, released,
    restore_failed_message, restore_sql,
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
