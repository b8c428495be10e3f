//! The BackupSchedule planner with an injected clock: TiDB Operator's schedule-manager tests
//! (reference §9: `TestManager`, `TestGetLastScheduledTime`, `TestBuildBackup`), a
//! regression test for each v1.1 bug not to copy (reference §0, §6), the missed-tick
//! search, time zones, requeue instants and conditions.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use proptest::prelude::*;
use serde_json::json;
use tidb_backup_webhook::api::{
    BRConfig, Backup, BackupCondition, BackupSchedule, BackupSpec, BackupStatus,
};
use tidb_backup_webhook::reconcile::schedule::{
    Deletion, MAX_COUNTED_MISSED_TICKS, Plan, Retention, backup_labels, backup_name, build_backup,
    fire_times, latest_by_search, latest_tick, next_tick, plan, retention, tick_stamp,
    ticks_between,
};
use tidb_backup_webhook::reconcile::status::{self, set_condition};
use tidb_backup_webhook::rules::cron::parse_standard;

const UID: &str = "4f6b1c2e-0000-0000-0000-000000000001";

fn ts(s: &str) -> Timestamp {
    s.parse().expect("RFC 3339 instant")
}

fn days(n: i64) -> jiff::Span {
    (n * 24).hours()
}

/// A valid daily schedule `bsname` in `ns`, created long ago.
fn schedule() -> BackupSchedule {
    serde_json::from_value(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "BackupSchedule",
        "metadata": {"name": "bsname", "namespace": "ns", "uid": UID, "generation": 3,
                     "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"schedule": "0 0 * * *",
                 "backupTemplate": {"br": {"cluster": "demo1", "clusterNamespace": "test1"},
                                    "s3": {"provider": "aws", "region": "us-west-1",
                                           "bucket": "my-bucket", "prefix": "my-folder"}}}
    }))
    .expect("schedule")
}

/// A Backup of `bsname` created at `created`, with `condition` True if given.
fn owned(name: &str, created: Timestamp, condition: Option<&str>) -> Backup {
    let mut backup: Backup = serde_json::from_value(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                     "labels": backup_labels("bsname")},
        "spec": {}
    }))
    .expect("backup");
    backup.metadata.creation_timestamp = Some(Time(created));
    if let Some(condition) = condition {
        let mut status = BackupStatus::default();
        set_condition(&mut status, condition, "Test", "", None, created);
        backup.status = Some(status);
    }
    backup
}

fn condition<'a>(plan: &'a Plan, type_: &str) -> &'a BackupCondition {
    plan.status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", plan.status.conditions))
}

/// An apiserver in a Vec: applies plans the way the controller does.
struct World {
    schedule: BackupSchedule,
    backups: Vec<Backup>,
    tz: TimeZone,
}

impl World {
    fn new(schedule: BackupSchedule) -> Self {
        Self {
            schedule,
            backups: Vec::new(),
            tz: TimeZone::UTC,
        }
    }

    fn sync(&mut self, now: Timestamp) -> Plan {
        let plan = plan(&self.schedule, &self.backups, now, &self.tz);
        if let Some(backup) = &plan.create {
            assert!(
                !self
                    .backups
                    .iter()
                    .any(|b| b.metadata.name == backup.metadata.name),
                "a second create of {:?}",
                backup.metadata.name
            );
            let mut backup = backup.clone();
            backup.metadata.creation_timestamp = Some(Time(now));
            backup.metadata.uid = backup.metadata.name.as_ref().map(|n| format!("uid-{n}"));
            self.backups.push(backup);
        }
        self.backups.retain(|b| {
            !plan
                .delete
                .iter()
                .any(|d| Some(&d.name) == b.metadata.name.as_ref())
        });
        self.schedule.status = Some(plan.status.clone());
        plan
    }

    /// Marks every unfinished Backup `Complete`, created at `at` (as TestManager does).
    fn complete_all(&mut self, at: Timestamp) {
        for backup in &mut self.backups {
            if status::terminal(backup.status.as_ref()).is_none() {
                let mut status = backup.status.clone().unwrap_or_default();
                set_condition(&mut status, status::COMPLETE, "Test", "", None, at);
                backup.status = Some(status);
                backup.metadata.creation_timestamp = Some(Time(at));
            }
        }
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .backups
            .iter()
            .filter_map(|b| b.metadata.name.clone())
            .collect();
        names.sort();
        names
    }
}

/// `bsname-<day>t00-00-00` for the midnight (UTC) `offset` days from `day`.
fn daily(day: &str, offset: i64) -> String {
    let midnight = ts(&format!("{day}T00:00:00Z"))
        .checked_add(days(offset))
        .expect("in range");
    backup_name("bsname", midnight)
}

/// TiDB Operator's `TestManager`: pause, the last-backup gate, then ten daily backups
/// over ten days, `maxBackups: 3` leaves 3, `maxReservedTime: 23h` leaves 1.
#[test]
fn test_manager() {
    let now = ts("2026-03-10T12:34:56Z");

    // Paused: nothing is created, the condition says why.
    let mut paused = schedule();
    paused.spec.pause = Some(true);
    let mut world = World::new(paused);
    let plan = world.sync(now);
    assert_eq!(plan.create, None);
    assert_eq!(condition(&plan, "Paused").status, "True");
    assert_eq!(
        condition(&plan, "Paused").message,
        "spec.pause is true: no new backups; retention keeps running"
    );

    // The last backup gate (canPerformNextBackup): not found, Complete, and Failed
    // without Scheduled all let the next tick fire (v1.1 blocks on the last one).
    for last in [
        None,
        Some(status::COMPLETE),
        Some(status::FAILED),
        Some(status::INVALID),
    ] {
        let mut bs = schedule();
        bs.status = Some(tidb_backup_webhook::api::BackupScheduleStatus {
            last_backup: "backupname".into(),
            last_backup_time: Some(Time(ts("2026-03-09T00:00:00Z"))),
            ..Default::default()
        });
        let mut world = World::new(bs);
        if let Some(condition) = last {
            world.backups.push(owned(
                "backupname",
                ts("2026-03-09T00:00:01Z"),
                Some(condition),
            ));
        }
        let plan = world.sync(now);
        assert_eq!(
            plan.create.and_then(|b| b.metadata.name),
            Some("bsname-2026-03-10t00-00-00".to_owned()),
            "last backup {last:?}"
        );
    }

    // Normal sync: status reset 101 days ago, then one Sync a day for ten days.
    let mut bs = schedule();
    bs.status = Some(tidb_backup_webhook::api::BackupScheduleStatus {
        all_backup_clean_time: Some(Time(now.checked_sub(days(101)).expect("range"))),
        ..Default::default()
    });
    let mut world = World::new(bs);
    for i in -9i64..=0 {
        let at = now.checked_add(days(i)).expect("range");
        let plan = world.sync(at);
        assert_eq!(
            plan.create.and_then(|b| b.metadata.name),
            Some(daily("2026-03-10", i)),
            "day {i}"
        );
        assert_eq!(world.backups.len(), usize::try_from(i + 10).expect("count"));
        world.complete_all(at);
    }
    let all: Vec<String> = (-9..=0).map(|i| daily("2026-03-10", i)).collect();
    assert_eq!(world.names(), all);

    world.schedule.spec.max_backups = Some(3);
    let plan = world.sync(now);
    assert_eq!(plan.create, None, "today's tick is already done");
    assert_eq!(world.names(), all[7..].to_vec());
    assert_eq!(
        plan.delete.first(),
        Some(&Deletion {
            name: daily("2026-03-10", -9),
            uid: Some(format!("uid-{}", daily("2026-03-10", -9))),
            reason: "maxBackups is 3 and 3 newer finished Backups exist".into(),
        })
    );

    world.schedule.spec.max_backups = None;
    world.schedule.spec.max_reserved_time = Some("23h".into());
    let plan = world.sync(now);
    assert_eq!(world.names(), vec![daily("2026-03-10", 0)]);
    assert_eq!(
        plan.delete
            .iter()
            .map(|d| d.reason.as_str())
            .collect::<Vec<_>>(),
        [
            "created at 2026-03-08T12:34:56Z, more than maxReservedTime 23h ago",
            "created at 2026-03-09T12:34:56Z, more than maxReservedTime 23h ago",
        ]
    );
    // Retention never resets the status (v1.1's resetLastBackup).
    let status = world.schedule.status.as_ref().expect("status");
    assert_eq!(status.last_backup, daily("2026-03-10", 0));
    assert_eq!(
        status.last_backup_time,
        Some(Time(ts("2026-03-10T00:00:00Z")))
    );
}

/// TiDB Operator's `TestGetLastScheduledTime`, in UTC and in another zone; the last
/// vector (1000 years of missed ticks) is nil forever in v1.1 and resumes here.
#[test]
fn test_get_last_scheduled_time() {
    assert_eq!(
        parse_standard("#$#$#$@").expect_err("invalid").to_string(),
        "Expected exactly 5 fields, found 1: #$#$#$@"
    );
    let daily = parse_standard("0 0 * * *").expect("cron");
    for zone in ["UTC", "Asia/Shanghai", "America/New_York"] {
        let tz = TimeZone::get(zone).expect("zone");
        let now = ts("2026-03-10T12:34:56Z");
        let local = now.to_zoned(tz.clone());
        let today = local.start_of_day().expect("midnight").timestamp();
        let tomorrow = local.checked_add(1.day()).expect("range").timestamp();
        assert_eq!(latest_tick(&daily, tomorrow, now, &tz), None, "{zone}");
        for i in 0..10 {
            let last = local
                .checked_sub((i + 1).days())
                .expect("range")
                .timestamp();
            assert_eq!(
                latest_tick(&daily, last, now, &tz),
                Some(today),
                "{zone}, {i}"
            );
        }
        let ancient = local.checked_sub(1000.years()).expect("range").timestamp();
        assert_eq!(
            latest_tick(&daily, ancient, now, &tz),
            Some(today),
            "{zone}"
        );
    }
}

/// An unparsable cron is reported as `Invalid` with robfig's message, not retried.
#[test]
fn an_invalid_cron_marks_the_schedule_invalid_and_does_nothing() {
    let mut bs = schedule();
    bs.spec.schedule = "#$#$#$@".into();
    bs.spec.max_reserved_time = Some("1h".into());
    let old = owned(
        "bsname-2020-01-01t00-00-00",
        ts("2020-01-01T00:00:00Z"),
        Some("Complete"),
    );
    let plan = plan(&bs, &[old], ts("2026-03-10T00:00:00Z"), &TimeZone::UTC);
    assert_eq!(
        (&plan.create, &plan.delete, plan.requeue_at),
        (&None, &vec![], None)
    );
    let invalid = condition(&plan, "Invalid");
    assert_eq!(
        (invalid.status.as_str(), invalid.reason.as_str()),
        ("True", "InvalidSpec")
    );
    assert!(
        invalid.message.starts_with(
            "spec.schedule: invalid cron schedule: Expected exactly 5 fields, found 1: #$#$#$@; "
        ),
        "{}",
        invalid.message
    );
    assert_eq!(plan.status.next_backup_time, None);
}

/// A cron robfig's `Next` stops finding (`*/31` carries the star bit, so this is
/// "1 January, and a Tuesday", 2030 and then 2036) is `Invalid` like an unparsable one:
/// the planner and the validator agree.
#[test]
fn a_cron_that_stops_firing_marks_the_schedule_invalid() {
    let mut bs = schedule();
    bs.spec.schedule = "0 0 */31 1 2".into();
    let plan = plan(&bs, &[], ts("2030-01-01T00:00:30Z"), &TimeZone::UTC);
    assert_eq!((&plan.create, plan.requeue_at), (&None, None));
    let invalid = condition(&plan, "Invalid");
    assert_eq!(
        (invalid.status.as_str(), invalid.reason.as_str()),
        ("True", "InvalidSpec")
    );
    assert!(
        invalid.message.starts_with(
            "spec.schedule: cron schedule \"0 0 */31 1 2\" never fires: it fires only on days that match both day-of-month and day-of-week, and after 2030 the next such day is in 2036"
        ),
        "{}",
        invalid.message
    );
    assert_eq!(plan.status.next_backup_time, None);
    // robfig's own answer from the last tick: nothing within its five years.
    let cron = parse_standard(&bs.spec.schedule).expect("parses");
    assert_eq!(
        next_tick(&cron, ts("2030-01-01T00:00:00Z"), &TimeZone::UTC),
        None
    );
}

/// TiDB Operator's `TestBuildBackup`: Dumpling mode takes the schedule's PVC size or
/// 100Gi; BR mode copies `br` and needs no PVC.
#[test]
fn test_build_backup() {
    let tick = ts("2026-03-10T00:00:00Z");
    let mut bs: BackupSchedule = serde_json::from_value(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "BackupSchedule",
        "metadata": {"name": "bsname", "namespace": "ns", "uid": UID},
        "spec": {"schedule": "0 0 * * *", "backupTemplate": {}}
    }))
    .expect("schedule");
    let owner = OwnerReference {
        api_version: "pingcap.com/v1alpha1".into(),
        kind: "BackupSchedule".into(),
        name: "bsname".into(),
        uid: UID.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut want = Backup::new(
        "bsname-2026-03-10t00-00-00",
        BackupSpec {
            storage_size: "100Gi".into(),
            ..BackupSpec::default()
        },
    );
    want.metadata.namespace = Some("ns".into());
    want.metadata.labels = Some(BTreeMap::from([
        ("app.kubernetes.io/instance".into(), "bsname".into()),
        (
            "app.kubernetes.io/managed-by".into(),
            "backup-schedule-operator".into(),
        ),
        ("app.kubernetes.io/name".into(), "backup-schedule".into()),
        ("tidb.pingcap.com/backup-schedule".into(), "bsname".into()),
    ]));
    want.metadata.owner_references = Some(vec![owner]);
    assert_eq!(build_backup(&bs, tick), want);

    bs.spec.storage_size = "9527G".into();
    want.spec.storage_size = "9527G".into();
    assert_eq!(build_backup(&bs, tick), want);

    bs.spec.backup_template.br = Some(BRConfig::default());
    want.spec.br = Some(BRConfig::default());
    want.spec.storage_size = String::new();
    assert_eq!(build_backup(&bs, tick), want);
}

/// BR mode extends each provider's prefix with `<cluster>-pd.<ns>-2379-<tick UTC>` like Go's
/// `path.Join`; annotations (minus last-applied) and imagePullSecrets carry over.
#[test]
fn scheduled_backup_prefix_annotations_and_pull_secrets() {
    let tick = ts("2026-03-10T16:00:00Z");
    let mut bs = schedule();
    bs.metadata.annotations = Some(BTreeMap::from([
        (
            "iam.amazonaws.com/role".into(),
            "arn:aws:iam::123456789012:role/user".into(),
        ),
        (
            "kubectl.kubernetes.io/last-applied-configuration".into(),
            "{}".into(),
        ),
    ]));
    bs.spec.image_pull_secrets = Some(vec![LocalObjectReference {
        name: "registry".into(),
    }]);
    let backup = build_backup(&bs, tick);
    assert_eq!(
        backup.metadata.annotations,
        Some(BTreeMap::from([(
            "iam.amazonaws.com/role".into(),
            "arn:aws:iam::123456789012:role/user".into()
        )]))
    );
    assert_eq!(
        backup.spec.s3.as_ref().map(|s| s.prefix.as_str()),
        Some("my-folder/demo1-pd.test1-2379-2026-03-10t16-00-00")
    );
    assert_eq!(
        backup.spec.image_pull_secrets,
        Some(vec![LocalObjectReference {
            name: "registry".into()
        }])
    );

    // Empty and slashed prefixes, the schedule's namespace by default, GCS and local.
    for (template, path, want) in [
        (
            json!({"br": {"cluster": "c"}, "s3": {"provider": "aws", "bucket": "b"}}),
            "/s3/prefix",
            "c-pd.ns-2379-2026-03-10t16-00-00",
        ),
        (
            json!({"br": {"cluster": "c"}, "s3": {"provider": "aws", "bucket": "b", "prefix": "/a//b/"}}),
            "/s3/prefix",
            "/a/b/c-pd.ns-2379-2026-03-10t16-00-00",
        ),
        (
            json!({"br": {"cluster": "c"}, "gcs": {"projectId": "p", "bucket": "b", "prefix": "g"}}),
            "/gcs/prefix",
            "g/c-pd.ns-2379-2026-03-10t16-00-00",
        ),
        (
            json!({"br": {"cluster": "c"}, "local": {"prefix": "l", "volume": {"name": "v"},
                   "volumeMount": {"name": "v", "mountPath": "/m"}}}),
            "/local/prefix",
            "l/c-pd.ns-2379-2026-03-10t16-00-00",
        ),
    ] {
        bs.spec.backup_template = serde_json::from_value(template).expect("template");
        let spec = serde_json::to_value(build_backup(&bs, tick).spec).expect("json");
        assert_eq!(spec.pointer(path), Some(&json!(want)), "{spec}");
    }
}

/// v1.1 blocks forever behind an `Invalid` last backup, and behind a `Failed` one that
/// never reached `Scheduled`; only an unfinished Backup blocks here.
#[test]
fn regression_invalid_or_failed_last_backup_does_not_block() {
    let now = ts("2026-03-10T00:00:30Z");
    for last in [status::INVALID, status::FAILED] {
        let mut bs = schedule();
        bs.status = Some(tidb_backup_webhook::api::BackupScheduleStatus {
            last_backup: "bsname-2026-03-09t00-00-00".into(),
            last_backup_time: Some(Time(ts("2026-03-09T00:00:00Z"))),
            ..Default::default()
        });
        let previous = owned(
            "bsname-2026-03-09t00-00-00",
            ts("2026-03-09T00:00:01Z"),
            Some(last),
        );
        let plan = plan(&bs, &[previous], now, &TimeZone::UTC);
        assert_eq!(
            plan.create
                .as_ref()
                .and_then(|b| b.metadata.name.as_deref()),
            Some("bsname-2026-03-10t00-00-00"),
            "{last}"
        );
        assert_eq!(condition(&plan, "Blocked").status, "False");
    }

    // A running one blocks; the condition names it and the tick.
    let mut bs = schedule();
    bs.status = Some(tidb_backup_webhook::api::BackupScheduleStatus {
        last_backup: "bsname-2026-03-09t00-00-00".into(),
        last_backup_time: Some(Time(ts("2026-03-09T00:00:00Z"))),
        ..Default::default()
    });
    let running = owned(
        "bsname-2026-03-09t00-00-00",
        ts("2026-03-09T00:00:01Z"),
        Some(status::RUNNING),
    );
    let plan = plan(&bs, &[running], now, &TimeZone::UTC);
    assert_eq!(plan.create, None);
    let blocked = condition(&plan, "Blocked");
    assert_eq!(
        (
            blocked.status.as_str(),
            blocked.reason.as_str(),
            blocked.message.as_str()
        ),
        (
            "True",
            "PreviousBackupRunning",
            "the tick at 2026-03-10T00:00:00Z waits for Backup bsname-2026-03-09t00-00-00 to finish (one backup at a time)"
        )
    );
    assert_eq!(
        plan.status.last_backup_time,
        Some(Time(ts("2026-03-09T00:00:00Z"))),
        "the waiting tick is not recorded as done"
    );
    assert_eq!(plan.requeue_at, Some(ts("2026-03-11T00:00:00Z")));
}

/// v1.1 stops for good after more than 100 missed ticks (a long pause or outage);
/// here they collapse into one backup for the latest tick.
#[test]
fn regression_more_than_100_missed_ticks_resume_with_one_backup() {
    let mut bs = schedule();
    bs.spec.schedule = "*/1 * * * *".into();
    bs.spec.pause = Some(true);
    let mut world = World::new(bs);
    let start = ts("2026-03-10T00:00:00Z");
    world.schedule.status = Some(tidb_backup_webhook::api::BackupScheduleStatus {
        last_backup: "bsname-2026-03-10t00-00-00".into(),
        last_backup_time: Some(Time(start)),
        ..Default::default()
    });
    // Paused for five hours: 300 ticks pass, none fires.
    for minute in [1, 60, 299] {
        let plan = world.sync(start.checked_add(minute.minutes()).expect("range"));
        assert_eq!(plan.create, None);
        assert_eq!(plan.status.next_backup_time, None);
    }
    world.schedule.spec.pause = Some(false);
    let resumed = ts("2026-03-10T05:00:30Z");
    let plan = world.sync(resumed);
    assert_eq!(
        plan.create
            .as_ref()
            .and_then(|b| b.metadata.name.as_deref()),
        Some("bsname-2026-03-10t05-00-00")
    );
    assert_eq!(condition(&plan, "Paused").status, "False");
    assert_eq!(
        plan.status.next_backup_time,
        Some(Time(ts("2026-03-10T05:01:00Z")))
    );
    assert_eq!(world.backups.len(), 1);
    // A controller down for years resumes just the same.
    world.complete_all(resumed);
    let plan = world.sync(ts("2029-07-01T12:00:10Z"));
    assert_eq!(
        plan.create
            .as_ref()
            .and_then(|b| b.metadata.name.as_deref()),
        Some("bsname-2029-07-01t12-00-00")
    );
}

/// v1.1 resets `lastBackup`/`lastBackupTime` whenever its cache shows no Backups, e.g.
/// right after creating the first one; the status survives an empty list here.
#[test]
fn regression_status_is_not_wiped_by_an_empty_list() {
    let mut bs = schedule();
    bs.spec.max_backups = Some(2);
    let now = ts("2026-03-10T00:00:30Z");
    let first = plan(&bs, &[], now, &TimeZone::UTC);
    bs.status = Some(first.status.clone());
    // The cache does not show the Backup just created yet.
    let again = plan(&bs, &[], ts("2026-03-10T00:00:31Z"), &TimeZone::UTC);
    assert_eq!(again.create, None, "the tick is done");
    assert_eq!(again.status, first.status);
    assert_eq!(again.status.last_backup, "bsname-2026-03-10t00-00-00");
    assert_eq!(again.status.all_backup_clean_time, None);
}

/// Retention that empties the schedule keeps `lastBackup` and `lastBackupTime`
/// (`allBackupCleanTime` records when it happened).
#[test]
fn retention_that_deletes_everything_keeps_the_last_backup_in_status() {
    let mut bs = schedule();
    bs.spec.pause = Some(true);
    bs.spec.max_reserved_time = Some("1h".into());
    bs.status = Some(tidb_backup_webhook::api::BackupScheduleStatus {
        last_backup: "bsname-2026-03-09t00-00-00".into(),
        last_backup_time: Some(Time(ts("2026-03-09T00:00:00Z"))),
        ..Default::default()
    });
    let only = owned(
        "bsname-2026-03-09t00-00-00",
        ts("2026-03-09T00:00:01Z"),
        Some("Complete"),
    );
    let now = ts("2026-03-10T00:00:00Z");
    let plan = plan(&bs, &[only], now, &TimeZone::UTC);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.status.last_backup, "bsname-2026-03-09t00-00-00");
    assert_eq!(
        plan.status.last_backup_time,
        Some(Time(ts("2026-03-09T00:00:00Z")))
    );
    assert_eq!(plan.status.all_backup_clean_time, Some(Time(now)));
}

/// v1.1 deletes every scheduled Backup when `maxReservedTime` is zero or negative (and
/// silently skips retention when it is unparsable): the schedule is `Invalid` and nothing
/// is deleted, and the retention step itself keeps everything for such values.
#[test]
fn regression_non_positive_max_reserved_time_deletes_nothing() {
    let now = ts("2026-03-10T00:00:30Z");
    let backups = [
        owned(
            "bsname-2026-03-08t00-00-00",
            ts("2026-03-08T00:00:01Z"),
            Some("Complete"),
        ),
        owned(
            "bsname-2026-03-09t00-00-00",
            ts("2026-03-09T00:00:01Z"),
            Some("Complete"),
        ),
    ];
    for value in ["0s", "-1h", "3d", ""] {
        let mut bs = schedule();
        bs.spec.max_reserved_time = Some(value.into());
        let plan = plan(&bs, &backups, now, &TimeZone::UTC);
        assert_eq!((&plan.create, &plan.delete), (&None, &vec![]), "{value:?}");
        assert_eq!(condition(&plan, "Invalid").status, "True", "{value:?}");
        assert_eq!(Retention::of(&bs.spec), Retention::KeepAll, "{value:?}");
        assert_eq!(
            retention(&bs.spec, &backups, now),
            (vec![], None),
            "{value:?}"
        );
    }
    let mut bs = schedule();
    for max in [0, -1] {
        bs.spec.max_backups = Some(max);
        assert_eq!(retention(&bs.spec, &backups, now), (vec![], None), "{max}");
    }
}

/// v1.1's GC deletes by age regardless of status, running backups included; here
/// neither policy deletes or counts an unfinished Backup, one already being deleted, or a
/// finished one still retrying its GC life time restore.
#[test]
fn regression_retention_never_deletes_a_running_backup() {
    let now = ts("2026-03-10T00:00:30Z");
    let mut terminating = owned(
        "bsname-2026-03-05t00-00-00",
        ts("2026-03-05T00:00:01Z"),
        Some("Complete"),
    );
    terminating.metadata.deletion_timestamp = Some(Time(now));
    let backups = [
        owned(
            "bsname-2026-03-06t00-00-00",
            ts("2026-03-06T00:00:01Z"),
            Some("Running"),
        ),
        owned(
            "bsname-2026-03-07t00-00-00",
            ts("2026-03-07T00:00:01Z"),
            Some("Complete"),
        ),
        owned(
            "bsname-2026-03-08t00-00-00",
            ts("2026-03-08T00:00:01Z"),
            Some("Failed"),
        ),
        owned(
            "bsname-2026-03-09t00-00-00",
            ts("2026-03-09T00:00:01Z"),
            Some("RetryFailed"),
        ),
        owned(
            "bsname-2026-03-10t00-00-00",
            ts("2026-03-10T00:00:01Z"),
            None,
        ),
        terminating,
    ];
    let mut holding = owned(
        "bsname-2026-03-04t00-00-00",
        ts("2026-03-04T00:00:01Z"),
        Some("Complete"),
    );
    if let Some(status) = holding.status.as_mut() {
        status.tikv_gc_life_time = Some(tidb_backup_webhook::api::GcLifeTimeStatus {
            cluster: "test1/demo1".into(),
            original: "10m0s".into(),
            held: "72h".into(),
            state: "Holding".into(),
        });
    }
    let backups = [backups.as_slice(), &[holding]].concat();
    let names = |deletions: Vec<Deletion>| -> Vec<String> {
        deletions.into_iter().map(|d| d.name).collect()
    };
    let mut bs = schedule();
    bs.spec.max_reserved_time = Some("1h".into());
    let (deleted, next) = retention(&bs.spec, &backups, now);
    assert_eq!(
        names(deleted),
        ["bsname-2026-03-07t00-00-00", "bsname-2026-03-08t00-00-00"]
    );
    assert_eq!(next, None);

    bs.spec.max_reserved_time = None;
    bs.spec.max_backups = Some(1);
    let (deleted, _) = retention(&bs.spec, &backups, now);
    assert_eq!(
        names(deleted),
        ["bsname-2026-03-07t00-00-00"],
        "keeps the newest finished"
    );
}

/// `maxReservedTime` wins over `maxBackups`, and its next expiry is a requeue instant even
/// while paused; `maxBackups` alone needs no timer (a Backup finishing is an event).
#[test]
fn retention_precedence_and_requeue_at_the_next_expiry() {
    let now = ts("2026-03-10T06:00:00Z");
    let backups = [
        owned(
            "bsname-2026-03-10t00-00-00",
            ts("2026-03-10T00:00:01Z"),
            Some("Complete"),
        ),
        owned(
            "bsname-2026-03-10t03-00-00",
            ts("2026-03-10T03:00:01Z"),
            Some("Complete"),
        ),
    ];
    let mut bs = schedule();
    bs.spec.pause = Some(true);
    bs.spec.max_backups = Some(1);
    bs.spec.max_reserved_time = Some("8h".into());
    let plan = plan(&bs, &backups, now, &TimeZone::UTC);
    assert_eq!(
        plan.delete,
        vec![],
        "maxReservedTime wins: nothing is 8h old"
    );
    assert_eq!(plan.requeue_at, Some(ts("2026-03-10T08:00:01Z")));

    bs.spec.max_reserved_time = None;
    let plan = self::plan(&bs, &backups, now, &TimeZone::UTC);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.requeue_at, None, "paused, nothing to expire");
}

/// Pause stops new backups but not retention; resuming fires once, for the latest tick.
#[test]
fn pause_keeps_retention_and_resume_fires_once() {
    let mut bs = schedule();
    bs.spec.max_reserved_time = Some("36h".into());
    let mut world = World::new(bs);
    let day = |d: i64| {
        ts("2026-03-01T00:00:10Z")
            .checked_add(days(d))
            .expect("range")
    };
    for d in 0..3 {
        world.sync(day(d));
        world.complete_all(day(d));
    }
    assert_eq!(world.backups.len(), 2, "36h keeps two daily backups");
    world.schedule.spec.pause = Some(true);
    for d in 3..6 {
        let plan = world.sync(day(d));
        assert_eq!(plan.create, None);
    }
    assert_eq!(world.backups.len(), 0, "retention ran while paused");
    let status = world.schedule.status.clone().expect("status");
    assert_eq!(status.last_backup, "bsname-2026-03-03t00-00-00");

    world.schedule.spec.pause = Some(false);
    let plan = world.sync(ts("2026-03-06T09:00:00Z"));
    assert_eq!(
        plan.create
            .as_ref()
            .and_then(|b| b.metadata.name.as_deref()),
        Some("bsname-2026-03-06t00-00-00")
    );
    let plan = world.sync(ts("2026-03-06T09:00:01Z"));
    assert_eq!(plan.create, None, "once");
}

/// The cron runs in the configured zone; names, prefixes and status times are UTC.
#[test]
fn time_zone_for_the_cron_utc_for_names() {
    let tz = TimeZone::get("Asia/Shanghai").expect("zone");
    let mut world = World::new(schedule());
    world.tz = tz;
    // 01:00 on 2026-03-10 in Shanghai; midnight there was 16:00 UTC the day before.
    let plan = world.sync(ts("2026-03-09T17:00:00Z"));
    let backup = plan.create.expect("a backup");
    assert_eq!(
        backup.metadata.name.as_deref(),
        Some("bsname-2026-03-09t16-00-00")
    );
    assert_eq!(
        backup.spec.s3.map(|s| s.prefix),
        Some("my-folder/demo1-pd.test1-2379-2026-03-09t16-00-00".to_owned())
    );
    assert_eq!(
        plan.status.last_backup_time,
        Some(Time(ts("2026-03-09T16:00:00Z")))
    );
    assert_eq!(
        plan.status.next_backup_time,
        Some(Time(ts("2026-03-10T16:00:00Z")))
    );
    assert_eq!(plan.requeue_at, Some(ts("2026-03-10T16:00:00Z")));
    assert_eq!(
        tick_stamp(ts("2006-01-02T15:04:05Z")),
        "2006-01-02t15-04-05"
    );
}

/// Conditions are always all four, with the generation; `lastTransitionTime` moves
/// only when a status flips, so an unchanged round writes an equal status.
#[test]
fn conditions_and_a_stable_status() {
    let mut bs = schedule();
    bs.spec.max_backups = Some(3);
    let now = ts("2026-03-10T00:00:30Z");
    let first = plan(&bs, &[], now, &TimeZone::UTC);
    let summary: Vec<(&str, &str, &str)> = first
        .status
        .conditions
        .iter()
        .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("Invalid", "False", "ValidSpec"),
            ("Paused", "False", "Active"),
            ("Unsupported", "False", "Supported"),
            ("Blocked", "False", "NotWaiting"),
        ]
    );
    for c in &first.status.conditions {
        assert_eq!(c.observed_generation, Some(3));
        assert_eq!(c.last_transition_time, Some(Time(now)));
    }
    bs.status = Some(first.status.clone());
    let created = owned("bsname-2026-03-10t00-00-00", now, Some("Complete"));
    let later = plan(&bs, &[created], ts("2026-03-10T07:00:00Z"), &TimeZone::UTC);
    assert_eq!(later.status, first.status);
    assert_eq!(later.requeue_at, Some(ts("2026-03-11T00:00:00Z")));
}

/// Counted: the search needs a few dozen evaluations for 1000 years of `* * * * *`
/// (~5×10^8 missed ticks), where enumerating them would take hours.
#[test]
fn the_missed_tick_search_is_logarithmic() {
    let every_minute = parse_standard("* * * * *").expect("cron");
    let now = ts("2026-03-10T12:34:56Z");
    let after = now
        .to_zoned(TimeZone::UTC)
        .checked_sub(1000.years())
        .expect("range")
        .timestamp();
    let mut evaluations = 0;
    let latest = latest_by_search(after, now, |t| {
        evaluations += 1;
        next_tick(&every_minute, t, &TimeZone::UTC)
    });
    assert_eq!(latest, Some(ts("2026-03-10T12:34:00Z")));
    assert!(evaluations <= 40, "{evaluations} evaluations");

    let every = parse_standard("@every 1h30m").expect("cron");
    assert_eq!(
        latest_tick(
            &every,
            ts("2026-01-01T00:00:00.5Z"),
            ts("2026-01-01T04:29:59Z"),
            &TimeZone::UTC
        ),
        Some(ts("2026-01-01T03:00:00Z"))
    );
    assert_eq!(
        latest_tick(
            &every,
            ts("2026-01-01T00:00:00Z"),
            ts("2026-01-01T01:29:59Z"),
            &TimeZone::UTC
        ),
        None
    );
}

#[test]
fn fire_times_and_names() {
    let cron = parse_standard("*/2 * * * *").expect("cron");
    assert_eq!(
        fire_times(&cron, ts("2026-01-01T00:00:30Z"), &TimeZone::UTC, 3),
        [
            ts("2026-01-01T00:02:00Z"),
            ts("2026-01-01T00:04:00Z"),
            ts("2026-01-01T00:06:00Z")
        ]
    );
    assert_eq!(
        backup_name("demo1-backup-schedule-s3", ts("2026-01-01T00:02:00Z")),
        "demo1-backup-schedule-s3-2026-01-01t00-02-00"
    );
}

/// Every tick of `schedule` in `(after, now]`, one by one (TiDB Operator's walk).
fn enumerate_latest(
    spec: &str,
    after: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
) -> Option<Timestamp> {
    let cron = parse_standard(spec).expect("cron");
    let mut latest = None;
    let mut at = after;
    while let Some(next) = next_tick(&cron, at, tz).filter(|t| *t <= now) {
        latest = Some(next);
        at = next;
    }
    latest
}

const SPECS: &[&str] = &[
    "* * * * *",
    "*/7 * * * *",
    "30 2 * * *",
    "0 */3 * * *",
    "15 1,2,3 * * *",
    "0 0 * * SUN",
    "0 0 1,15 * MON",
    "59 23 31 * *",
    "@hourly",
    "@every 1h30m",
    "@every 7s",
];
const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];
/// Around DST changes of the zones above (US, EU, Lord Howe's 30-minute shift).
const ANCHORS: &[&str] = &[
    "2026-03-08T07:00:00Z",
    "2026-11-01T06:00:00Z",
    "2026-03-29T01:00:00Z",
    "2026-10-25T01:00:00Z",
    "2026-04-04T15:00:00Z",
    "2026-10-03T15:30:00Z",
    "2026-06-15T12:00:00Z",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The search finds exactly the tick that walking every tick finds, DST included.
    #[test]
    fn the_search_agrees_with_walking_every_tick(
        spec in prop::sample::select(SPECS),
        zone in prop::sample::select(ZONES),
        anchor in prop::sample::select(ANCHORS),
        offset in -172_800i64..172_800,
        length in 0i64..259_200,
        nanos in 0i32..1_000_000_000,
    ) {
        let tz = TimeZone::get(zone).expect("zone");
        let after = ts(anchor)
            .checked_add(jiff::SignedDuration::new(offset, nanos))
            .expect("range");
        let now = after.checked_add(jiff::SignedDuration::from_secs(length)).expect("range");
        let cron = parse_standard(spec).expect("cron");
        prop_assert_eq!(
            latest_tick(&cron, after, now, &tz),
            enumerate_latest(spec, after, now, &tz)
        );
    }
}

/// Missed ticks (`tidb_backup_reconcile_missed_ticks_total`): the ticks a Backup stands
/// in for because the reconciler was away or an earlier Backup still ran; not the ticks
/// of a pause, nor those before a spec change; at most a thousand per Backup.
#[test]
fn missed_ticks_are_counted_except_across_a_spec_change() {
    let mut bs = schedule();
    bs.spec.schedule = "0 * * * *".into();
    let mut world = World::new(bs);
    let at = |s: &str| ts(&format!("2026-03-01T{s}Z"));
    let created = |plan: &Plan| {
        plan.create
            .as_ref()
            .and_then(|b| b.metadata.name.clone())
            .unwrap_or_default()
    };

    // Created in 2025 and first planned now: ten thousand hourly ticks went by.
    let plan = world.sync(at("00:00:10"));
    assert_eq!(created(&plan), "bsname-2026-03-01t00-00-00");
    assert_eq!(plan.missed_ticks, MAX_COUNTED_MISSED_TICKS);
    world.complete_all(at("00:00:20"));

    let plan = world.sync(at("01:00:05"));
    assert_eq!(
        (created(&plan).as_str(), plan.missed_ticks),
        ("bsname-2026-03-01t01-00-00", 0),
        "on time"
    );
    world.complete_all(at("01:10:00"));

    // The reconciler was down from 01:30 to 04:30: 02:00 and 03:00 collapse into 04:00.
    let plan = world.sync(at("04:30:00"));
    assert_eq!(
        (created(&plan).as_str(), plan.missed_ticks),
        ("bsname-2026-03-01t04-00-00", 2)
    );

    // 04:00's Backup runs past 05:00: 05:00 waits, then collapses into 06:00.
    let plan = world.sync(at("05:00:05"));
    assert_eq!((plan.create.is_none(), plan.missed_ticks), (true, 0));
    assert_eq!(condition(&plan, "Blocked").status, "True");
    world.complete_all(at("05:50:00"));
    let plan = world.sync(at("06:00:05"));
    assert_eq!(
        (created(&plan).as_str(), plan.missed_ticks),
        ("bsname-2026-03-01t06-00-00", 1)
    );
    world.complete_all(at("06:10:00"));

    // Paused over 07:00 to 09:00, resumed at 10:30 (each edit a new generation): the
    // resume's Backup is for 10:00 and nothing was missed.
    world.schedule.spec.pause = Some(true);
    world.schedule.metadata.generation = Some(4);
    for hour in ["07:00:05", "08:00:05", "09:00:05"] {
        assert!(world.sync(at(hour)).create.is_none(), "{hour}");
    }
    world.schedule.spec.pause = Some(false);
    world.schedule.metadata.generation = Some(5);
    let plan = world.sync(at("10:30:00"));
    assert_eq!(
        (created(&plan).as_str(), plan.missed_ticks),
        ("bsname-2026-03-01t10-00-00", 0)
    );
}

#[test]
fn ticks_between_counts_strictly_inside_and_stops_at_the_limit() {
    let hourly = parse_standard("0 * * * *").expect("cron");
    let tz = TimeZone::UTC;
    let (after, before) = (ts("2026-03-01T00:00:00Z"), ts("2026-03-01T05:00:00Z"));
    assert_eq!(ticks_between(&hourly, after, before, &tz, 100), 4);
    assert_eq!(ticks_between(&hourly, after, before, &tz, 3), 3);
    assert_eq!(ticks_between(&hourly, before, after, &tz, 100), 0);
    let every = parse_standard("@every 90s").expect("every");
    assert_eq!(
        ticks_between(&every, after, ts("2026-03-01T00:30:00Z"), &tz, 100),
        19
    );
}

/// A template this reconciler does not run stops the schedule with `Unsupported` (no
/// Backup that would never run); log and compact templates are reported while the
/// snapshot backups of the template still run.
#[test]
fn unsupported_templates_and_parts_are_reported() {
    let now = ts("2026-03-10T00:00:30Z");
    let mut bs = schedule();
    bs.spec.max_backups = Some(3);
    bs.spec.backup_template.backup_mode = "log".into();
    let stopped = plan(&bs, &[], now, &TimeZone::UTC);
    assert_eq!(stopped.create, None);
    assert_eq!(stopped.requeue_at, None);
    let unsupported = stopped
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Unsupported")
        .expect("condition");
    assert_eq!(
        (unsupported.status.as_str(), unsupported.reason.as_str()),
        ("True", "LogBackupNotSupported")
    );
    assert!(
        unsupported
            .message
            .starts_with("spec.backupTemplate: log (PITR) backups are not run by this reconciler")
            && unsupported.message.ends_with("; no Backup is created"),
        "{}",
        unsupported.message
    );

    let mut bs = schedule();
    bs.spec.max_backups = Some(3);
    let mut log = bs.spec.backup_template.clone();
    log.backup_mode = "log".into();
    bs.spec.log_backup_template = Some(Box::new(log));
    let partial = plan(&bs, &[], now, &TimeZone::UTC);
    assert!(partial.create.is_some(), "snapshot backups still run");
    let unsupported = partial
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Unsupported")
        .expect("condition");
    assert_eq!(
        unsupported.message,
        "spec.logBackupTemplate not run by this reconciler (log and compact backups are TiDB Operator's); the snapshot backups of spec.backupTemplate are"
    );
}
