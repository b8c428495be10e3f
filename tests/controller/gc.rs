//! The GC-lifetime guard against a real MySQL-protocol server (MariaDB on loopback with
//! TiDB's `mysql.tidb` table): raise only when lower, restore after the backup, survive a
//! crash between raise and restore, coordinate overlapping backups.

use std::convert::Infallible;
use std::sync::Mutex;

use tidb_backup_webhook::api::GcLifeTimeStatus;
use tidb_backup_webhook::controller::gc::{hold, release};
use tidb_backup_webhook::controller::tidb::{GcLifeTime, SqlError, TlsMaterial};
use tidb_backup_webhook::reconcile::gc::ReleasePlan;

use super::mariadb::{MariaDb, READ_ONLY_USER};

const CLUSTER: &str = "test1/demo1";

/// Holds for one backup on a fresh connection; returns the record as persisted.
async fn hold_for(db: &MariaDb, desired: &str, holders: &[GcLifeTimeStatus]) -> GcLifeTimeStatus {
    let mut sql = GcLifeTime::connect(&db.endpoint()).await.expect("connect");
    let persisted = Mutex::new(None);
    let held = hold(
        &mut sql,
        CLUSTER,
        desired,
        None,
        holders,
        async |r: GcLifeTimeStatus| {
            *persisted.lock().expect("lock") = Some(r);
            Ok::<_, Infallible>(())
        },
    )
    .await
    .expect("hold");
    sql.close().await;
    assert_eq!(
        persisted.lock().expect("lock").as_ref(),
        Some(&held.record),
        "the record was persisted"
    );
    held.record
}

async fn release_for(
    db: &MariaDb,
    own: &GcLifeTimeStatus,
    holders: &[GcLifeTimeStatus],
) -> (ReleasePlan, GcLifeTimeStatus) {
    let endpoint = db.endpoint();
    release::<SqlError, _>(own, holders, async || GcLifeTime::connect(&endpoint).await)
        .await
        .expect("release")
}

#[tokio::test]
async fn raises_only_when_lower_and_records_before_raising() {
    let db = MariaDb::start("10m0s").await;
    let mut sql = GcLifeTime::connect(&db.endpoint()).await.expect("connect");
    let seen_at_persist = Mutex::new(None);
    let held = hold(
        &mut sql,
        CLUSTER,
        "72h",
        None,
        &[],
        async |r: GcLifeTimeStatus| {
            // The record is written while the cluster still has its original value.
            *seen_at_persist.lock().expect("lock") = Some((r, db.gc_life_time().await));
            Ok::<_, Infallible>(())
        },
    )
    .await
    .expect("hold");
    sql.close().await;
    let (persisted, value_then) = seen_at_persist
        .lock()
        .expect("lock")
        .clone()
        .expect("persisted");
    assert_eq!(value_then, "10m0s");
    assert_eq!(persisted, held.record);
    assert_eq!(held.current, "10m0s");
    assert_eq!(
        held.record,
        GcLifeTimeStatus {
            cluster: CLUSTER.into(),
            original: "10m0s".into(),
            held: "72h".into(),
            state: "Holding".into()
        }
    );
    assert_eq!(held.raised.as_deref(), Some("72h"));
    assert_eq!(db.gc_life_time().await, "72h");
}

#[tokio::test]
async fn a_longer_value_is_left_alone_and_never_restored() {
    let db = MariaDb::start("100h").await;
    let record = hold_for(&db, "72h", &[]).await;
    assert_eq!(record.state, "Unchanged");
    assert_eq!(db.gc_life_time().await, "100h");
    let (plan, after) = release_for(&db, &record, &[]).await;
    assert_eq!(plan, ReleasePlan::Nothing);
    assert_eq!(after, record);
    assert_eq!(db.gc_life_time().await, "100h");
}

/// Success or failure of the Job makes no difference to the guard: it is released
/// after the Job ends either way (the reconcile tests cover both outcomes end to end).
#[tokio::test]
async fn restores_the_original_after_the_backup() {
    let db = MariaDb::start("10m0s").await;
    let record = hold_for(&db, "72h", &[]).await;
    assert_eq!(db.gc_life_time().await, "72h");
    let (plan, after) = release_for(&db, &record, &[]).await;
    assert_eq!(
        plan,
        ReleasePlan::Restore {
            original: "10m0s".into()
        }
    );
    assert_eq!(after.state, "Restored");
    assert_eq!(db.gc_life_time().await, "10m0s");
}

#[tokio::test]
async fn restores_after_a_crash_between_raise_and_restore() {
    let db = MariaDb::start("10m0s").await;
    // The reconciler raised the value and wrote its record to the Backup status, then
    // died: all that survives is the status, serialised as the apiserver stores it.
    let stored = serde_json::to_string(&hold_for(&db, "72h", &[]).await).expect("json");
    assert_eq!(db.gc_life_time().await, "72h");

    // A new process (or leader) resumes from the stored record only. Re-running the hold
    // step is idempotent: the record is kept and 72h is not mistaken for the original.
    let recovered: GcLifeTimeStatus = serde_json::from_str(&stored).expect("status");
    let mut sql = GcLifeTime::connect(&db.endpoint()).await.expect("connect");
    let resumed = hold(
        &mut sql,
        CLUSTER,
        "72h",
        Some(&recovered),
        &[],
        async |_r| {
            Err::<(), _>(std::io::Error::other(
                "an unchanged record must not be written again",
            ))
        },
    )
    .await
    .expect("resume");
    sql.close().await;
    assert_eq!(resumed.record, recovered);
    assert_eq!(resumed.current, "72h");
    assert_eq!(resumed.raised, None);

    let (_, after) = release_for(&db, &resumed.record, &[]).await;
    assert_eq!(after.state, "Restored");
    assert_eq!(db.gc_life_time().await, "10m0s");
}

#[tokio::test]
async fn a_crash_after_recording_but_before_raising_raises_on_resume() {
    let db = MariaDb::start("10m0s").await;
    let recorded = GcLifeTimeStatus {
        cluster: CLUSTER.into(),
        original: "10m0s".into(),
        held: "72h".into(),
        state: "Holding".into(),
    };
    let mut sql = GcLifeTime::connect(&db.endpoint()).await.expect("connect");
    let resumed = hold(&mut sql, CLUSTER, "72h", Some(&recorded), &[], async |_r| {
        Ok::<_, Infallible>(())
    })
    .await
    .expect("resume");
    sql.close().await;
    assert_eq!(resumed.raised.as_deref(), Some("72h"));
    assert_eq!(db.gc_life_time().await, "72h");
}

#[tokio::test]
async fn overlapping_backups_restore_the_first_original_after_the_last_ends() {
    let db = MariaDb::start("10m0s").await;
    let first = hold_for(&db, "72h", &[]).await;
    assert_eq!(db.gc_life_time().await, "72h");
    // The second starts while the first holds: it sees 72h but inherits 10m0s.
    let second = hold_for(&db, "48h", std::slice::from_ref(&first)).await;
    assert_eq!(
        (second.original.as_str(), second.state.as_str()),
        ("10m0s", "Holding")
    );
    // A third raises further.
    let third = hold_for(&db, "96h", &[first.clone(), second.clone()]).await;
    assert_eq!(db.gc_life_time().await, "96h");

    // The first ends: others still hold, nothing is written.
    let (plan, first_after) = release_for(&db, &first, &[second.clone(), third.clone()]).await;
    assert_eq!(
        (plan, first_after.state.as_str()),
        (ReleasePlan::HandOff, "HandedOff")
    );
    assert_eq!(db.gc_life_time().await, "96h");
    let (_, second_after) = release_for(&db, &second, std::slice::from_ref(&third)).await;
    assert_eq!(second_after.state, "HandedOff");
    assert_eq!(db.gc_life_time().await, "96h");
    // The last one restores what was there before the first.
    let (plan, third_after) = release_for(&db, &third, &[]).await;
    assert_eq!(
        plan,
        ReleasePlan::Restore {
            original: "10m0s".into()
        }
    );
    assert_eq!(third_after.state, "Restored");
    assert_eq!(db.gc_life_time().await, "10m0s");
}

#[tokio::test]
async fn an_account_without_update_gets_a_clear_error_and_nothing_changes() {
    let db = MariaDb::start("10m0s").await;
    let mut sql = GcLifeTime::connect(&db.endpoint_as(READ_ONLY_USER))
        .await
        .expect("connect");
    let err = hold(&mut sql, CLUSTER, "72h", None, &[], async |_r| {
        Ok::<_, Infallible>(())
    })
    .await
    .expect_err("no UPDATE privilege");
    sql.close().await;
    assert_eq!(err.reason(), "SetTikvGCLifeTimeFailed");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot set tikv_gc_life_time in mysql.tidb to \"72h\": "),
        "{text}"
    );
    assert!(
        text.ends_with("(the account needs UPDATE on mysql.tidb)"),
        "{text}"
    );
    assert_eq!(db.gc_life_time().await, "10m0s");
}

#[tokio::test]
async fn a_failed_restore_reports_the_connection_error() {
    let mut db = MariaDb::start("10m0s").await;
    let record = hold_for(&db, "72h", &[]).await;
    let endpoint = db.endpoint();
    db.stop();
    let err = release::<SqlError, _>(&record, &[], async || GcLifeTime::connect(&endpoint).await)
        .await
        .expect_err("server is down");
    assert_eq!(err.reason(), "ConnectTidbFailed");
    assert!(
        err.to_string().starts_with(&format!(
            "cannot connect to TiDB at 127.0.0.1:{} as backup: ",
            db.port
        )),
        "{err}"
    );
}

/// `spec.from` over TLS (a TidbCluster with `spec.tidb.tlsClient.enabled`): the server
/// refuses plain connections, the guard works over TLS verifying the server's CA.
#[tokio::test]
async fn holds_and_restores_over_tls() {
    let (db, ca) = MariaDb::start_tls("10m0s").await;
    let plain = GcLifeTime::connect(&db.endpoint()).await;
    assert!(plain.is_err(), "the server requires TLS");
    let mut endpoint = db.endpoint();
    endpoint.tls = Some(TlsMaterial {
        ca: ca.clone(),
        identity: None,
    });
    let mut sql = GcLifeTime::connect(&endpoint).await.expect("TLS connect");
    let held = hold(&mut sql, CLUSTER, "72h", None, &[], async |_r| {
        Ok::<_, Infallible>(())
    })
    .await
    .expect("hold over TLS");
    sql.close().await;
    assert_eq!(db.gc_life_time_with(Some(&ca)).await, "72h");
    release::<SqlError, _>(&held.record, &[], async || {
        GcLifeTime::connect(&endpoint).await
    })
    .await
    .expect("restore over TLS");
    assert_eq!(db.gc_life_time_with(Some(&ca)).await, "10m0s");

    // A CA that did not issue the server's certificate is refused.
    let (_other_db, other_ca) = MariaDb::start_tls("10m0s").await;
    let mut wrong = db.endpoint();
    wrong.tls = Some(TlsMaterial {
        ca: other_ca,
        identity: None,
    });
    assert!(
        GcLifeTime::connect(&wrong).await.is_err(),
        "untrusted server certificate"
    );
}
