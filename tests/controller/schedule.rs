//! The BackupSchedule reconcile against the in-memory fake apiserver, with an injected
//! clock: one Backup per tick across duplicate reconciles, restarts, a lost status write
//! and a stale list; the requeue at the next fire time; pause; retention deletes; an
//! invalid spec; TiDB Operator's `TestManager` through the API; and the real Controller
//! unblocking a tick when the running Backup finishes (a watch event).

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use tidb_backup_webhook::api::BackupSchedule;
use tidb_backup_webhook::controller::metrics::Metrics;
use tidb_backup_webhook::controller::schedule::{controller, reconcile};
use tidb_backup_webhook::controller::{Context, Error};

use super::fake_apiserver::FakeApiServer;
use super::test_context;

const NS: &str = "test1";
const API: &str = "pingcap.com/v1alpha1";

thread_local! {
    /// The injected clock (each test runs on its own current-thread runtime).
    static NOW: Cell<Timestamp> = const { Cell::new(Timestamp::UNIX_EPOCH) };
}

fn set_now(rfc3339: &str) {
    NOW.with(|now| now.set(rfc3339.parse().expect("RFC 3339")));
}

fn context(fake: &FakeApiServer) -> Arc<Context> {
    let mut ctx = test_context(fake.client(), "test-0", Arc::new(Metrics::default()));
    ctx.clock = || NOW.with(Cell::get);
    Arc::new(ctx)
}

/// The guide's schedule, hourly, created at the start of 2026.
fn seed_schedule(extra_spec: Value) -> Value {
    let mut spec = json!({
        "schedule": "0 * * * *",
        "backupTemplate": {
            "backupType": "full",
            "br": {"cluster": "demo1", "clusterNamespace": NS},
            "s3": {"provider": "aws", "region": "us-west-1", "bucket": "my-bucket", "prefix": "my-folder"}
        }
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"apiVersion": API, "kind": "BackupSchedule",
           "metadata": {"name": "bsname", "namespace": NS, "generation": 1,
                        "creationTimestamp": "2026-01-01T00:00:00Z",
                        "annotations": {"iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/user"}},
           "spec": spec})
}

/// A Backup of the schedule, created at `created`, whose latest condition is `phase`.
fn scheduled_backup(name: &str, created: &str, phase: Option<&str>) -> Value {
    let mut backup = json!({
        "apiVersion": API, "kind": "Backup",
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": created,
                     "labels": {"app.kubernetes.io/name": "backup-schedule",
                                "app.kubernetes.io/managed-by": "backup-schedule-operator",
                                "app.kubernetes.io/instance": "bsname",
                                "tidb.pingcap.com/backup-schedule": "bsname"}},
        "spec": {}
    });
    if let Some(phase) = phase {
        backup["status"] =
            json!({"phase": phase, "conditions": [{"type": phase, "status": "True"}]});
    }
    backup
}

fn complete(fake: &FakeApiServer, backup: &str) {
    fake.update(
        API,
        "Backup",
        NS,
        backup,
        json!({"status": {"phase": "Complete", "conditions": [{"type": "Complete", "status": "True"}]}}),
    );
}

async fn run(fake: &FakeApiServer, ctx: &Arc<Context>) -> Result<Action, Error> {
    let schedule: BackupSchedule = serde_json::from_value(
        fake.get(API, "BackupSchedule", NS, "bsname")
            .expect("schedule"),
    )
    .expect("typed schedule");
    reconcile(Arc::new(schedule), ctx.clone()).await
}

fn status(fake: &FakeApiServer) -> Value {
    fake.get(API, "BackupSchedule", NS, "bsname")
        .expect("schedule")["status"]
        .clone()
}

fn condition(fake: &FakeApiServer, type_: &str) -> Value {
    status(fake)["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

fn backup_names(fake: &FakeApiServer) -> Vec<String> {
    fake.list(API, "Backup")
        .iter()
        .filter_map(|b| b["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

fn count(fake: &FakeApiServer, method: &str, path_suffix: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .count()
}

/// `(reason, note)` of every Event, in order.
fn events(fake: &FakeApiServer) -> Vec<(String, String)> {
    fake.list("events.k8s.io/v1", "Event")
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or_default().to_owned(),
                e["note"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_tick_creates_one_backup_across_duplicates_and_restarts() {
    let fake = FakeApiServer::new();
    let stored = fake.insert(seed_schedule(json!({"maxBackups": 3})));
    let ctx = context(&fake);
    set_now("2026-01-01T05:00:20Z");

    let action = run(&fake, &ctx).await.expect("reconcile");
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(3580)),
        "back at the next tick, 06:00"
    );
    assert_eq!(backup_names(&fake), ["bsname-2026-01-01t05-00-00"]);
    let backup = fake
        .get(API, "Backup", NS, "bsname-2026-01-01t05-00-00")
        .expect("backup");
    assert_eq!(
        backup["metadata"]["labels"],
        json!({"app.kubernetes.io/name": "backup-schedule",
               "app.kubernetes.io/managed-by": "backup-schedule-operator",
               "app.kubernetes.io/instance": "bsname",
               "tidb.pingcap.com/backup-schedule": "bsname"})
    );
    assert_eq!(
        backup["metadata"]["annotations"],
        json!({"iam.amazonaws.com/role": "arn:aws:iam::123456789012:role/user"})
    );
    assert_eq!(
        backup["metadata"]["ownerReferences"],
        json!([{"apiVersion": API, "kind": "BackupSchedule", "name": "bsname",
                "uid": stored["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
    );
    assert_eq!(
        backup["spec"]["s3"]["prefix"],
        "my-folder/demo1-pd.test1-2379-2026-01-01t05-00-00"
    );
    let st = status(&fake);
    assert_eq!(st["lastBackup"], "bsname-2026-01-01t05-00-00");
    assert_eq!(st["lastBackupTime"], "2026-01-01T05:00:00Z");
    assert_eq!(st["nextBackupTime"], "2026-01-01T06:00:00Z");
    assert_eq!(condition(&fake, "Blocked")["status"], "False");
    assert_eq!(
        events(&fake),
        [(
            "SuccessfulCreate".to_owned(),
            "created Backup test1/bsname-2026-01-01t05-00-00 for the tick at 2026-01-01T05:00:00Z"
                .to_owned()
        )]
    );

    // Duplicate events, and a restarted reconciler (or a new leader): nothing new.
    for _ in 0..3 {
        run(&fake, &ctx).await.expect("duplicate");
    }
    run(&fake, &context(&fake)).await.expect("after restart");
    assert_eq!(count(&fake, "POST", "/backups"), 1);
    assert_eq!(
        count(&fake, "PATCH", "/backupschedules/bsname/status"),
        1,
        "an unchanged status is not written again"
    );

    // The status write of the next tick is lost: the retry finds the tick's Backup and
    // records it instead of creating another.
    complete(&fake, "bsname-2026-01-01t05-00-00");
    set_now("2026-01-01T06:00:00.300Z");
    fake.fail_once(
        "PATCH",
        "/backupschedules/bsname/status",
        500,
        "InternalError",
    );
    run(&fake, &ctx).await.expect_err("status write failed");
    run(&fake, &ctx).await.expect("retry");
    assert_eq!(count(&fake, "POST", "/backups"), 2);
    assert_eq!(status(&fake)["lastBackup"], "bsname-2026-01-01t06-00-00");

    // A list that misses the tick's Backup (a stale read): the create answers
    // AlreadyExists, which counts as done.
    complete(&fake, "bsname-2026-01-01t06-00-00");
    set_now("2026-01-01T07:00:01Z");
    fake.insert(json!({"apiVersion": API, "kind": "Backup",
                       "metadata": {"name": "bsname-2026-01-01t07-00-00", "namespace": NS}, "spec": {}}));
    run(&fake, &ctx).await.expect("already exists");
    assert_eq!(count(&fake, "POST", "/backups"), 3);
    assert_eq!(status(&fake)["lastBackup"], "bsname-2026-01-01t07-00-00");
    assert_eq!(backup_names(&fake).len(), 3);
    super::rbac::assert_all_allowed(&fake.requests());
}

#[tokio::test]
async fn requeue_lands_on_the_tick() {
    let fake = FakeApiServer::new();
    fake.insert(seed_schedule(json!({})));
    let ctx = context(&fake);
    set_now("2026-01-01T05:59:59.250Z");
    let action = run(&fake, &ctx).await.expect("reconcile");
    // The 05:00 tick was due (missed ticks since creation collapse into it)…
    assert_eq!(backup_names(&fake), ["bsname-2026-01-01t05-00-00"]);
    // …and the controller wakes up exactly at 06:00.
    assert_eq!(action, Action::requeue(Duration::from_millis(750)));
    complete(&fake, "bsname-2026-01-01t05-00-00");
    set_now("2026-01-01T06:00:00Z");
    run(&fake, &ctx).await.expect("at the tick");
    assert_eq!(
        backup_names(&fake),
        ["bsname-2026-01-01t05-00-00", "bsname-2026-01-01t06-00-00"]
    );
}

#[tokio::test]
async fn pause_creates_nothing_and_retention_still_deletes() {
    let fake = FakeApiServer::new();
    fake.insert(seed_schedule(
        json!({"pause": true, "maxReservedTime": "1h"}),
    ));
    let old = fake.insert(scheduled_backup(
        "bsname-2026-01-01t01-00-00",
        "2026-01-01T01:00:01Z",
        Some("Complete"),
    ));
    fake.insert(scheduled_backup(
        "bsname-2026-01-01t02-00-00",
        "2026-01-01T02:00:01Z",
        Some("Running"),
    ));
    fake.insert(scheduled_backup(
        "bsname-2026-01-01t04-30-00",
        "2026-01-01T04:30:00Z",
        Some("Failed"),
    ));
    let ctx = context(&fake);
    set_now("2026-01-01T05:00:20Z");
    let action = run(&fake, &ctx).await.expect("reconcile");
    assert_eq!(
        backup_names(&fake),
        ["bsname-2026-01-01t02-00-00", "bsname-2026-01-01t04-30-00"],
        "the expired finished one is deleted, the running one never"
    );
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(29 * 60 + 40)),
        "back when the Failed one expires, 05:30"
    );
    let delete = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("a delete");
    assert_eq!(
        delete.path,
        "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/bsname-2026-01-01t01-00-00"
    );
    assert_eq!(
        delete.body["preconditions"]["uid"], old["metadata"]["uid"],
        "never a namesake created since the list"
    );
    let paused = condition(&fake, "Paused");
    assert_eq!(paused["status"], "True");
    assert_eq!(
        paused["message"],
        "spec.pause is true: no new backups; retention keeps running"
    );
    assert!(status(&fake).get("nextBackupTime").is_none());
    assert_eq!(
        events(&fake),
        [
            (
                "SuccessfulDelete".to_owned(),
                "deleted Backup test1/bsname-2026-01-01t01-00-00: created at 2026-01-01T01:00:01Z, more than maxReservedTime 1h ago".to_owned()
            ),
            (
                "Paused".to_owned(),
                "spec.pause is true: no new backups; retention keeps running".to_owned()
            ),
        ]
    );

    // Resume: one Backup, for the latest missed tick.
    fake.update(
        API,
        "BackupSchedule",
        NS,
        "bsname",
        json!({"spec": {"pause": false}}),
    );
    set_now("2026-01-01T05:10:00Z");
    run(&fake, &ctx).await.expect("resume");
    assert_eq!(
        count(&fake, "POST", "/backups"),
        0,
        "blocked by the running one"
    );
    assert_eq!(condition(&fake, "Blocked")["status"], "True");
    complete(&fake, "bsname-2026-01-01t02-00-00");
    run(&fake, &ctx).await.expect("unblocked");
    assert_eq!(count(&fake, "POST", "/backups"), 1);
    assert_eq!(status(&fake)["lastBackup"], "bsname-2026-01-01t05-00-00");
    super::rbac::assert_all_allowed(&fake.requests());
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_nothing_happens() {
    let fake = FakeApiServer::new();
    fake.insert(seed_schedule(
        json!({"schedule": "0 0 * * 7", "maxReservedTime": "0s"}),
    ));
    fake.insert(scheduled_backup(
        "bsname-2026-01-01t01-00-00",
        "2026-01-01T01:00:01Z",
        Some("Complete"),
    ));
    let ctx = context(&fake);
    set_now("2026-01-02T05:00:20Z");
    let action = run(&fake, &ctx).await.expect("reconcile");
    assert_eq!(action, Action::await_change());
    assert_eq!(count(&fake, "POST", "/backups"), 0);
    assert_eq!(
        count(&fake, "DELETE", ""),
        0,
        "maxReservedTime 0s deletes nothing"
    );
    let invalid = condition(&fake, "Invalid");
    assert_eq!(invalid["status"], "True");
    assert_eq!(invalid["reason"], "InvalidSpec");
    let message = invalid["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "spec.schedule: invalid cron schedule: End of range (7) above maximum (6): 7; "
        ) && message.ends_with("; spec.maxReservedTime: must be a positive duration, got \"0s\""),
        "{message}"
    );
    assert_eq!(
        events(&fake).first().map(|(reason, _)| reason.as_str()),
        Some("InvalidSpec")
    );
}

/// TiDB Operator's `TestManager` through the API: ten daily backups over ten days (each
/// completed and dated that day), then `maxBackups: 3` leaves 3, `maxReservedTime: 23h`
/// leaves 1.
#[tokio::test]
async fn test_manager_through_the_apiserver() {
    let fake = FakeApiServer::new();
    let mut schedule = seed_schedule(json!({"schedule": "0 0 * * *"}));
    schedule["metadata"]["creationTimestamp"] = json!("2025-11-30T12:00:00Z");
    fake.insert(schedule);
    let ctx = context(&fake);
    for day in 1..=10 {
        let now = format!("2026-03-{day:02}T12:34:56Z");
        set_now(&now);
        run(&fake, &ctx).await.expect("sync");
        let name = format!("bsname-2026-03-{day:02}t00-00-00");
        assert_eq!(backup_names(&fake).len(), day, "{name}");
        fake.update(
            API,
            "Backup",
            NS,
            &name,
            json!({"metadata": {"creationTimestamp": now},
                   "status": {"phase": "Complete", "conditions": [{"type": "Complete", "status": "True"}]}}),
        );
    }
    fake.update(
        API,
        "BackupSchedule",
        NS,
        "bsname",
        json!({"spec": {"maxBackups": 3}}),
    );
    run(&fake, &ctx).await.expect("maxBackups");
    assert_eq!(
        backup_names(&fake),
        [
            "bsname-2026-03-08t00-00-00",
            "bsname-2026-03-09t00-00-00",
            "bsname-2026-03-10t00-00-00"
        ]
    );
    fake.update(
        API,
        "BackupSchedule",
        NS,
        "bsname",
        json!({"spec": {"maxBackups": null, "maxReservedTime": "23h"}}),
    );
    run(&fake, &ctx).await.expect("maxReservedTime");
    assert_eq!(backup_names(&fake), ["bsname-2026-03-10t00-00-00"]);
    assert_eq!(status(&fake)["lastBackup"], "bsname-2026-03-10t00-00-00");
    assert_eq!(count(&fake, "POST", "/backups"), 10);
}

/// The real Controller: the due tick waits while the previous Backup runs, and the
/// Backup's completion (a watch event, no timer) lets it fire.
#[tokio::test]
async fn a_finishing_backup_unblocks_the_tick_through_the_watch() {
    let fake = FakeApiServer::new();
    let mut schedule = seed_schedule(json!({}));
    schedule["status"] = json!({"lastBackup": "bsname-2026-01-01t04-00-00",
                                "lastBackupTime": "2026-01-01T04:00:00Z"});
    fake.insert(schedule);
    fake.insert(scheduled_backup(
        "bsname-2026-01-01t04-00-00",
        "2026-01-01T04:00:01Z",
        Some("Running"),
    ));
    set_now("2026-01-01T05:00:20Z");
    let ctx = context(&fake);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(controller(
        ctx,
        async move {
            let _ = stop_rx.await;
        },
        1,
    ));
    eventually(&fake, "the tick to wait", |f| {
        condition(f, "Blocked")["status"] == "True"
    })
    .await;
    assert_eq!(
        condition(&fake, "Blocked")["message"],
        "the tick at 2026-01-01T05:00:00Z waits for Backup bsname-2026-01-01t04-00-00 to finish (one backup at a time)"
    );
    assert_eq!(count(&fake, "POST", "/backups"), 0);

    fake.update(
        API,
        "Backup",
        NS,
        "bsname-2026-01-01t04-00-00",
        json!({"status": {"phase": "Failed", "conditions": [{"type": "Failed", "status": "True"}]}}),
    );
    eventually(&fake, "the tick to fire", |f| {
        f.get(API, "Backup", NS, "bsname-2026-01-01t05-00-00")
            .is_some()
    })
    .await;
    assert_eq!(condition(&fake, "Blocked")["status"], "False");
    let _ = stop_tx.send(());
    task.await.expect("controller stopped");
    assert_eq!(count(&fake, "POST", "/backups"), 1);
    super::rbac::assert_all_allowed(&fake.requests());
}

/// Polls the fake until `done` holds (a bound against hanging, not a timing assertion).
async fn eventually(fake: &FakeApiServer, what: &str, done: impl Fn(&FakeApiServer) -> bool) {
    for _ in 0..300 {
        if done(fake) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
