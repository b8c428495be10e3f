//! BackupSchedules through the apiserver: the real binary on a fast schedule (ticks,
//! one backup at a time, retention by `maxBackups` and `maxReservedTime`, pause, a log
//! template left to TiDB Operator), an invalid schedule that touches nothing, and the
//! schedule reconcile called in-process with a pinned clock (an hourly cron's exact tick,
//! names, prefixes and requeues), with the reconciler's own credentials.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};
use tidb_backup_webhook::api::BackupSchedule;
use tidb_backup_webhook::controller::metrics::Metrics;
use tidb_backup_webhook::controller::schedule::reconcile;
use tidb_backup_webhook::controller::{Config, Context};

use super::backup::bypass_the_webhook;
use super::{
    PATIENCE, apply, condition, event_notes, event_reasons, get, names, simple_backup,
    wait_for_phase,
};
use crate::harness::audit;
use crate::harness::kubelet;
use crate::harness::process::wait_for;
use crate::harness::reconciler::{self, Reconcilers};
use crate::harness::{Env, Namespace};

const LABEL: &str = "tidb.pingcap.com/backup-schedule";
const ROLE: &str = "arn:aws:iam::123456789012:role/user";

/// A schedule of the guide's Backup (access keys), `extra` merged into its spec.
fn schedule(name: &str, cron: &str, extra: Value) -> Value {
    let mut spec = json!({
        "schedule": cron,
        "backupTemplate": simple_backup("template")["spec"],
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "BackupSchedule",
        "metadata": { "name": name, "annotations": { "iam.amazonaws.com/role": ROLE } },
        "spec": spec,
    })
}

/// The schedule as stored.
fn stored(namespace: &Namespace<'_>, name: &str) -> Value {
    get(namespace, "backupschedule", name).expect("the BackupSchedule")
}

/// Waits until schedule `name` satisfies `done`; returns it.
fn wait_for_schedule(
    namespace: &Namespace<'_>,
    reconcilers: &Reconcilers<'_>,
    name: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    wait_for(
        &format!("BackupSchedule {name}: {what}"),
        PATIENCE,
        &mut [],
        || {
            reconcilers.assert_running();
            last = stored(namespace, name);
            Ok(done(&last))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{last:#}\n{}", reconcilers.logs()));
    last
}

/// The schedule's Backups, oldest first (their names end in the tick).
fn backups_of(namespace: &Namespace<'_>, name: &str) -> Vec<String> {
    names(
        namespace,
        "backup.pingcap.com",
        Some(&format!("{LABEL}={name}")),
    )
}

/// `2026-01-01T05:00:00Z` → `2026-01-01t05-00-00`, as the schedule names its Backups.
fn tick_suffix(tick: &str) -> String {
    tick.trim_end_matches('Z').replace(':', "-").to_lowercase()
}

/// The README's BackupSchedule with the real clock: every 2 s a tick; one backup at a
/// time (a due tick waits, `Blocked`, until the running Backup finishes, then the missed
/// ticks collapse into one); `maxBackups` keeps the newest 2 finished; paused, nothing
/// new is created while retention keeps running (`maxReservedTime` then deletes every
/// finished one); resumed, one Backup for the latest tick. Its log template is TiDB
/// Operator's (`Unsupported`) while the snapshot Backups run.
pub fn a_fast_schedule_runs_its_ticks_one_at_a_time_and_prunes(env: &Env) {
    let namespace = env.namespace("rec-schedule");
    let ns = namespace.name.as_str();
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let mut log_template = simple_backup("log")["spec"].clone();
    log_template["backupMode"] = json!("log");
    log_template["backupType"] = Value::Null;
    log_template["s3"]["prefix"] = json!("my-log");
    apply(
        &namespace,
        &[&schedule(
            "fast",
            "@every 2s",
            json!({"maxBackups": 2, "logBackupTemplate": log_template}),
        )],
    );

    let mut completed: Vec<String> = Vec::new();
    let mut uids: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    let mut first: Option<Value> = None;
    while completed.len() < 3 {
        // The next tick's Backup, running.
        let mut running = String::new();
        wait_for("the next scheduled Backup", PATIENCE, &mut [], || {
            reconciler.assert_running();
            running = backups_of(&namespace, "fast")
                .into_iter()
                .find(|b| !completed.contains(b))
                .unwrap_or_default();
            Ok(!running.is_empty())
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
        let scheduled = wait_for_phase(&namespace, &reconciler, &running, "Scheduled");
        uids.insert(running.clone(), scheduled["metadata"]["uid"].clone());
        first.get_or_insert(scheduled);
        if completed.is_empty() {
            // Ticks pass while it runs: they wait for it, until a second one is due.
            let started: Timestamp = tick_of(running.strip_prefix("fast-").expect("name"))
                .parse()
                .expect("a tick");
            let blocked =
                wait_for_schedule(&namespace, &reconciler, "fast", "Blocked twice", |s| {
                    let blocked = condition(s, "Blocked");
                    blocked["status"] == "True"
                        && blocked_tick(&blocked["message"])
                            .is_some_and(|tick| tick.as_second() - started.as_second() >= 4)
                });
            let message = condition(&blocked, "Blocked")["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                message.ends_with(&format!(
                    " waits for Backup {running} to finish (one backup at a time)"
                )),
                "{message}"
            );
            assert_eq!(backups_of(&namespace, "fast"), [running.clone()]);
        }
        kubelet::complete_job(env, ns, &format!("backup-{running}"));
        wait_for_phase(&namespace, &reconciler, &running, "Complete");
        completed.push(running);
    }

    // The first Backup as the schedule made it.
    let first = first.expect("the first Backup");
    let first_name = first["metadata"]["name"].as_str().expect("name").to_owned();
    let suffix = first_name
        .strip_prefix("fast-")
        .expect("named after the schedule");
    assert_eq!(
        first["metadata"]["labels"],
        json!({"app.kubernetes.io/name": "backup-schedule",
               "app.kubernetes.io/managed-by": "backup-schedule-operator",
               "app.kubernetes.io/instance": "fast", LABEL: "fast"})
    );
    assert_eq!(
        first["metadata"]["annotations"]["iam.amazonaws.com/role"], ROLE,
        "the schedule's annotations"
    );
    let owner = &first["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "BackupSchedule");
    assert_eq!(owner["name"], "fast");
    assert_eq!(owner["uid"], stored(&namespace, "fast")["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(
        first["spec"]["s3"]["prefix"],
        format!("my-folder/demo1-pd.{ns}-2379-{suffix}")
    );

    // maxBackups 2: the oldest finished one goes.
    wait_for("maxBackups to prune", PATIENCE, &mut [], || {
        Ok(!backups_of(&namespace, "fast").contains(&completed[0]))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    let remaining = backups_of(&namespace, "fast");
    assert!(
        remaining.contains(&completed[1]) && remaining.contains(&completed[2]),
        "{remaining:?}"
    );
    assert!(
        event_notes(&namespace, "fast", "SuccessfulDelete").contains(&format!(
            "deleted Backup {ns}/{}: maxBackups is 2 and 2 newer finished Backups exist",
            completed[0]
        )),
        "{:?}",
        event_reasons(&namespace, "fast")
    );
    let status = stored(&namespace, "fast");
    let unsupported = condition(&status, "Unsupported");
    assert_eq!(unsupported["status"], "True");
    assert_eq!(unsupported["reason"], "LogBackupNotSupported");
    assert_eq!(
        unsupported["message"],
        "spec.logBackupTemplate not run by this reconciler (log and compact backups are TiDB Operator's); the snapshot backups of spec.backupTemplate are"
    );
    assert_eq!(
        event_notes(&namespace, "fast", "LogBackupNotSupported").len(),
        1,
        "announced once"
    );
    let last = status["status"]["lastBackup"].as_str().expect("lastBackup");
    let last_time = status["status"]["lastBackupTime"]
        .as_str()
        .expect("lastBackupTime");
    assert_eq!(
        last,
        format!("fast-{}", tick_suffix(last_time)),
        "named after its tick"
    );
    // One Event per Backup, naming it as the related object.
    let creates: Vec<Value> = super::events_about(&namespace, "fast")
        .into_iter()
        .filter(|e| e["reason"] == "SuccessfulCreate")
        .collect();
    for name in &completed {
        let event = creates
            .iter()
            .find(|e| e["related"]["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no SuccessfulCreate for {name}: {creates:#?}"));
        let suffix = name
            .strip_prefix("fast-")
            .expect("named after the schedule");
        assert_eq!(
            event["note"],
            format!(
                "created Backup {ns}/{name} for the tick at {}",
                tick_of(suffix)
            )
        );
        assert_eq!(event["related"]["kind"], "Backup");
        assert!(event["series"].is_null(), "{event}");
    }
    assert!(
        reconciler.metric("reconciler-0", "tidb_backup_reconcile_missed_ticks_total") >= 1.0,
        "the ticks that waited collapsed into one Backup"
    );
    assert!(
        reconciler.metric(
            "reconciler-0",
            "tidb_backup_reconcile_expired_backups_total"
        ) >= 1.0
    );

    // The next tick's Backup runs on while the schedule is paused: nothing new is
    // created; retention keeps running, but never deletes a running Backup.
    let mut still_running = String::new();
    wait_for("the fourth Backup", PATIENCE, &mut [], || {
        still_running = backups_of(&namespace, "fast")
            .into_iter()
            .find(|b| !completed.contains(b))
            .unwrap_or_default();
        Ok(!still_running.is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    let running = wait_for_phase(&namespace, &reconciler, &still_running, "Scheduled");
    uids.insert(still_running.clone(), running["metadata"]["uid"].clone());
    namespace
        .kubectl(&[
            "patch",
            "bks",
            "fast",
            "--type=merge",
            "-p",
            r#"{"spec":{"pause":true}}"#,
        ])
        .ok();
    let paused = wait_for_schedule(&namespace, &reconciler, "fast", "Paused", |s| {
        condition(s, "Paused")["status"] == "True"
    });
    assert_eq!(
        condition(&paused, "Paused")["message"],
        "spec.pause is true: no new backups; retention keeps running"
    );
    assert!(paused["status"].get("nextBackupTime").is_none(), "{paused}");
    assert_eq!(
        event_notes(&namespace, "fast", "Paused"),
        ["spec.pause is true: no new backups; retention keeps running"]
    );
    let finished = backups_of(&namespace, "fast")
        .into_iter()
        .filter(|b| *b != still_running)
        .collect::<Vec<_>>();
    namespace
        .kubectl(&[
            "patch",
            "bks",
            "fast",
            "--type=merge",
            "-p",
            r#"{"spec":{"maxBackups":null,"maxReservedTime":"1s"}}"#,
        ])
        .ok();
    wait_for(
        "maxReservedTime to delete the finished Backups",
        PATIENCE,
        &mut [],
        || Ok(backups_of(&namespace, "fast") == [still_running.clone()]),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    assert!(
        stored(&namespace, "fast")["status"]["allBackupCleanTime"].is_null(),
        "a Backup remains"
    );
    let deletes = event_notes(&namespace, "fast", "SuccessfulDelete");
    for name in &finished {
        assert!(
            deletes.iter().any(|n| n
                .starts_with(&format!("deleted Backup {ns}/{name}: created at "))
                && n.ends_with(", more than maxReservedTime 1s ago")),
            "{name}: {deletes:?}"
        );
    }
    // Finished, it has expired too (it goes as soon as it is Complete), and the schedule
    // is empty.
    kubelet::complete_job(env, ns, &format!("backup-{still_running}"));
    completed.push(still_running.clone());
    let emptied = wait_for_schedule(
        &namespace,
        &reconciler,
        "fast",
        "emptied by retention",
        |s| s["status"]["allBackupCleanTime"].is_string(),
    );
    assert!(backups_of(&namespace, "fast").is_empty());
    assert_eq!(
        emptied["status"]["lastBackup"], paused["status"]["lastBackup"],
        "lastBackup stays"
    );
    // Each deletion named the Backup it judged expired by its uid (never a namesake).
    let requests = audit::requests_in(env, ns);
    let deletions: Vec<&audit::Request> = requests
        .iter()
        .filter(|r| r.verb == "delete" && r.resource == "backups" && r.code == 200)
        .collect();
    assert_eq!(deletions.len(), completed.len(), "{deletions:#?}");
    for deletion in deletions {
        assert_eq!(
            deletion.body["preconditions"]["uid"], uids[&deletion.name],
            "{}",
            deletion.name
        );
    }

    // Resumed: one Backup, for the latest tick.
    namespace
        .kubectl(&[
            "patch",
            "bks",
            "fast",
            "--type=merge",
            "-p",
            r#"{"spec":{"pause":false}}"#,
        ])
        .ok();
    wait_for("one Backup after resuming", PATIENCE, &mut [], || {
        Ok(backups_of(&namespace, "fast").len() == 1)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    let resumed = &backups_of(&namespace, "fast")[0];
    assert!(!completed.contains(resumed), "a new tick: {resumed}");
    let requests = audit::requests_in(env, ns);
    audit::assert_none_forbidden(&requests);
    assert!(
        !requests
            .iter()
            .any(|r| r.verb == "delete" && r.resource == "backupschedules"),
        "schedules are never deleted"
    );
}

/// The tick a `Blocked` condition's message says waits.
fn blocked_tick(message: &Value) -> Option<Timestamp> {
    message
        .as_str()?
        .strip_prefix("the tick at ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// `2026-01-01t05-00-00` → `2026-01-01T05:00:00Z`.
fn tick_of(suffix: &str) -> String {
    let (date, time) = suffix.split_once('t').expect("date t time");
    format!("{date}T{}Z", time.replace('-', ":"))
}

/// A schedule stored past the webhook with an invalid cron (`7` for Sunday is not
/// robfig's) and `maxReservedTime: 0s` (TiDB Operator would delete every backup) is
/// `Invalid` with every problem, creates nothing and deletes nothing.
pub fn an_invalid_schedule_creates_and_deletes_nothing(env: &Env) {
    let namespace = env.namespace("rec-schedule-invalid");
    let ns = namespace.name.as_str();
    bypass_the_webhook(&namespace);
    // A finished Backup of the schedule from before (its status written as a reconciler
    // would have).
    let mut old = simple_backup("bad-2026-01-01t01-00-00");
    old["metadata"]["labels"] = json!({ LABEL: "bad" });
    apply(&namespace, &[&old]);
    namespace
        .kubectl(&[
            "patch",
            "backup",
            "bad-2026-01-01t01-00-00",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Complete","conditions":[{"type":"Complete","status":"True","reason":"BackupSucceeded","message":"BR finished the backup"}]}}"#,
        ])
        .ok();
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    apply(
        &namespace,
        &[&schedule(
            "bad",
            "0 0 * * 7",
            json!({"maxReservedTime": "0s"}),
        )],
    );
    let invalid = wait_for_schedule(&namespace, &reconciler, "bad", "Invalid", |s| {
        condition(s, "Invalid")["status"] == "True"
    });
    let condition = condition(&invalid, "Invalid");
    assert_eq!(condition["reason"], "InvalidSpec");
    let message = condition["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "spec.schedule: invalid cron schedule: End of range (7) above maximum (6): 7; "
        ) && message.ends_with("; spec.maxReservedTime: must be a positive duration, got \"0s\""),
        "{message}"
    );
    assert_eq!(
        event_reasons(&namespace, "bad"),
        [("Warning".to_owned(), "InvalidSpec".to_owned())]
    );
    assert!(
        invalid["status"].get("nextBackupTime").is_none(),
        "{invalid}"
    );
    assert_eq!(backups_of(&namespace, "bad"), ["bad-2026-01-01t01-00-00"]);
    let requests = audit::requests_in(env, ns);
    assert!(
        !requests
            .iter()
            .any(|r| r.resource == "backups" && matches!(r.verb.as_str(), "create" | "delete")),
        "nothing created or deleted"
    );
    audit::assert_none_forbidden(&requests);
}

thread_local! {
    /// The pinned clock of the in-process reconciles (each on this test's own
    /// current-thread runtime).
    static NOW: Cell<Timestamp> = const { Cell::new(Timestamp::UNIX_EPOCH) };
}

fn set_now(now: Timestamp) {
    NOW.with(|cell| cell.set(now));
}

/// The schedule reconcile of the library, in-process, against the real apiserver with
/// the reconciler's ServiceAccount token and a pinned clock: an hourly schedule's tick
/// makes exactly one Backup (named, labelled, annotated, owned and prefixed after it),
/// duplicates and a restarted reconciler make none, an unchanged status is not written
/// again, the requeue lands exactly on the next tick, and a tick whose Backup exists
/// though the list missed it is done (AlreadyExists).
pub fn an_hourly_tick_with_a_pinned_clock(env: &Env) {
    let namespace = env.namespace("rec-schedule-clock");
    let ns = namespace.name.clone();
    apply(
        &namespace,
        &[&schedule("hourly", "0 * * * *", json!({"maxBackups": 3}))],
    );
    let created: Timestamp = stored(&namespace, "hourly")["metadata"]["creationTimestamp"]
        .as_str()
        .expect("creationTimestamp")
        .parse()
        .expect("a timestamp");
    let hour = created.as_second() - created.as_second().rem_euclid(3600);
    let at = |seconds: i64| Timestamp::from_second(hour + seconds).expect("in range");
    let name_of = |tick: Timestamp| format!("hourly-{}", tick_suffix(&tick.to_string()));
    let kubeconfig = reconciler::kubeconfig(env);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let client = runtime.block_on(client_for(&kubeconfig));
    let context = || {
        let config = Config {
            default_br_image: "pingcap/br:v8.5.0".into(),
            runner_image: "tidb-backup-webhook:e2e".into(),
            tz: None,
            namespace: Some(ns.clone()),
            tidb_connect_timeout: Duration::from_secs(5),
        };
        let reporter = Reporter {
            controller: "tidb-backup-reconciler".into(),
            instance: Some("in-process".into()),
        };
        let mut context = Context::new(
            client.clone(),
            config,
            Arc::new(Metrics::default()),
            reporter,
        );
        context.clock = || NOW.with(Cell::get);
        Arc::new(context)
    };
    let run = |context: &Arc<Context>| {
        let schedule: BackupSchedule =
            serde_json::from_value(stored(&namespace, "hourly")).expect("a BackupSchedule");
        runtime
            .block_on(reconcile(Arc::new(schedule), context.clone()))
            .expect("reconcile")
    };

    // Five hours and 20 s after the hour it was created in: the 5th hour's tick is due
    // (the missed ones collapse into it), and the next is at the 6th.
    let ctx = context();
    let tick = at(5 * 3600);
    set_now(at(5 * 3600 + 20));
    let action = run(&ctx);
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(3580)),
        "back at the next tick"
    );
    let name = name_of(tick);
    assert_eq!(
        backups_of(&namespace, "hourly"),
        std::slice::from_ref(&name)
    );
    let backup = get(&namespace, "backup", &name).expect("the tick's Backup");
    assert_eq!(
        backup["spec"]["s3"]["prefix"],
        format!(
            "my-folder/demo1-pd.{ns}-2379-{}",
            tick_suffix(&tick.to_string())
        )
    );
    assert_eq!(
        backup["metadata"]["ownerReferences"],
        json!([{"apiVersion": "pingcap.com/v1alpha1", "kind": "BackupSchedule", "name": "hourly",
                "uid": stored(&namespace, "hourly")["metadata"]["uid"], "controller": true,
                "blockOwnerDeletion": true}])
    );
    assert_eq!(
        backup["metadata"]["annotations"]["iam.amazonaws.com/role"],
        ROLE
    );
    assert_eq!(
        backup["metadata"]["labels"],
        json!({"app.kubernetes.io/name": "backup-schedule",
               "app.kubernetes.io/managed-by": "backup-schedule-operator",
               "app.kubernetes.io/instance": "hourly", LABEL: "hourly"})
    );
    let stored_schedule = stored(&namespace, "hourly");
    assert_eq!(condition(&stored_schedule, "Blocked")["status"], "False");
    let status = &stored_schedule["status"];
    assert_eq!(status["lastBackup"], name);
    assert_eq!(status["lastBackupTime"], tick.to_string());
    assert_eq!(status["nextBackupTime"], at(6 * 3600).to_string());
    assert_eq!(
        event_notes(&namespace, "hourly", "SuccessfulCreate"),
        [format!("created Backup {ns}/{name} for the tick at {tick}")]
    );

    // Duplicate events, and a restarted reconciler (or a new leader): nothing new.
    for _ in 0..3 {
        run(&ctx);
    }
    run(&context());
    let requests = audit::requests_in(env, &ns);
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.verb == "create" && r.resource == "backups")
            .count(),
        1,
        "one Backup for the tick"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.is("patch", "backupschedules/status", "hourly"))
            .count(),
        1,
        "an unchanged status is not written again"
    );

    // 750 ms before the 7th hour, the 6th's Backup done: it fires the 6th's tick and comes
    // back exactly at the 7th.
    complete(&namespace, &name);
    set_now(Timestamp::from_millisecond((hour + 7 * 3600) * 1000 - 750).expect("in range"));
    let action = run(&ctx);
    assert_eq!(action, Action::requeue(Duration::from_millis(750)));
    let sixth = name_of(at(6 * 3600));
    assert_eq!(
        backups_of(&namespace, "hourly"),
        [name.clone(), sixth.clone()]
    );
    complete(&namespace, &sixth);

    // The 7th tick's Backup exists but the label-selected list misses it (here: it has
    // no labels, as a list from a lagging cache would miss a new one): the create
    // answers AlreadyExists, which counts as done.
    let seventh = name_of(at(7 * 3600));
    apply(&namespace, &[&simple_backup(&seventh)]);
    set_now(at(7 * 3600));
    run(&ctx);
    assert_eq!(backups_of(&namespace, "hourly"), [name, sixth]);
    assert_eq!(
        stored(&namespace, "hourly")["status"]["lastBackup"],
        seventh
    );
    let requests = audit::requests_in(env, &ns);
    let creates: Vec<i64> = requests
        .iter()
        .filter(|r| r.verb == "create" && r.resource == "backups")
        .map(|r| r.code)
        .collect();
    assert_eq!(
        creates,
        [201, 201, 409],
        "the 7th tick's create found its Backup"
    );
    audit::assert_none_forbidden(&requests);
}

/// Writes Backup `name`'s status as `Complete`, as its reconcile would have.
fn complete(namespace: &Namespace<'_>, name: &str) {
    namespace
        .kubectl(&[
            "patch",
            "backup",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Complete","conditions":[{"type":"Complete","status":"True","reason":"BackupSucceeded","message":"BR finished the backup"}]}}"#,
        ])
        .ok();
}

async fn client_for(kubeconfig: &std::path::Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("a client configuration");
    kube::Client::try_from(config).expect("a client")
}
