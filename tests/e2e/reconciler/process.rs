//! `tidb-backup-webhook reconcile` as a process: its admin port (`/livez`, `/readyz`,
//! `/metrics` with every reconciler metric the shipped alert rules and dashboard query),
//! a clean stop on SIGTERM, and a clear error when its account cannot list Backups.

use std::time::Duration;

use serde_json::json;

use super::{PATIENCE, apply, simple_backup, tidb_cluster, wait_for_phase};
use crate::harness::Env;
use crate::harness::audit;
use crate::harness::pki::{self, Credentials};
use crate::harness::process::{Process, command, free_port, http_get, wait_for};
use crate::harness::reconciler::Reconcilers;
use crate::harness::webhook::BIN;

#[path = "../../common/monitoring.rs"]
#[allow(
    dead_code,
    reason = "shared with the manifests tests, which use all of it"
)]
mod queries;

pub fn the_admin_port_serves_health_and_every_queried_metric(env: &Env) {
    let namespace = env.namespace("rec-process");
    tidb_cluster(env, &namespace, "demo1", json!({"version": "v8.5.0"}));
    let reconciler = Reconcilers::start(env, &namespace, &[]);
    let identity = "reconciler-0";
    assert_eq!(
        reconciler.admin_get(identity, "/livez"),
        Ok((200, "ok\n".to_owned()))
    );
    assert_eq!(
        reconciler.admin_get(identity, "/readyz"),
        Ok((200, "ok\n".to_owned()))
    );
    let metrics = reconciler.metrics(identity);
    assert!(
        metrics.contains("tidb_backup_reconcile_transitions_total{condition=\"Failed\"} 0\n"),
        "alerted conditions are exported before the first one: {metrics}"
    );

    // A Backup that runs, one whose TiDB password Secret is missing (its reconciles fail,
    // counted by kind), and a schedule whose first tick comes within seconds.
    let mut no_secret = simple_backup("no-secret");
    no_secret["spec"]["from"] = json!({"host": "127.0.0.1", "port": 4000, "secretName": "missing"});
    let schedule = json!({
        "apiVersion": "pingcap.com/v1alpha1",
        "kind": "BackupSchedule",
        "metadata": { "name": "fast" },
        "spec": { "schedule": "@every 2s", "backupTemplate": simple_backup("x")["spec"] },
    });
    apply(&namespace, &[&simple_backup("b1"), &no_secret, &schedule]);
    wait_for_phase(&namespace, &reconciler, "b1", "Scheduled");
    wait_for("the schedule's first Backup", PATIENCE, &mut [], || {
        Ok(reconciler.metric(identity, "tidb_backup_reconcile_scheduled_backups_total") >= 1.0)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));
    wait_for(
        "no-secret's failures to be counted",
        PATIENCE,
        &mut [],
        || {
            Ok(reconciler.metric(
                identity,
                "tidb_backup_reconcile_failures_total{error=\"gc_hold\"}",
            ) >= 1.0)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", reconciler.logs()));

    let metrics = reconciler.metrics(identity);
    assert!(
        metrics.contains("tidb_backup_reconcile_leader 1\n"),
        "{metrics}"
    );
    assert!(
        reconciler.metric(
            identity,
            "tidb_backup_reconcile_transitions_total{condition=\"Scheduled\"}"
        ) >= 1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE tidb_backup_reconcile_duration_seconds histogram\n"),
        "{metrics}"
    );
    assert!(
        reconciler.metric(identity, "tidb_backup_reconcile_duration_seconds_count") >= 1.0,
        "reconciles are timed: {metrics}"
    );
    let missing = queries::missing(
        "tidb_backup_reconcile_",
        &queries::exported_metrics(&metrics),
    );
    assert!(
        missing.is_empty(),
        "queried but not exported by `reconcile`:\n{}\n{metrics}",
        missing.join("\n")
    );

    // SIGTERM: a clean exit, the Lease given up, the admin port closed.
    let port = reconciler.admin_port(identity);
    let status = reconciler.terminate(identity);
    assert!(status.success(), "exit status {status}");
    let lease = reconciler.lease().expect("the Lease");
    assert!(
        lease["spec"]["holderIdentity"].is_null(),
        "released: {lease}"
    );
    assert!(
        http_get(port, "/livez").is_err(),
        "the admin port is closed"
    );
    audit::assert_none_forbidden(&audit::requests_in(env, &namespace.name));
}

/// Run with the token of an account that may not list Backups (a namespace's `default`
/// ServiceAccount), the reconciler stops at once with exit status 1, saying why.
pub fn without_rights_to_list_backups_it_stops_with_the_reason(env: &Env) {
    let namespace = env.namespace("rec-no-rights");
    let token = namespace
        .kubectl(&["create", "token", "default", "--duration=1h"])
        .ok();
    let kubeconfig = env.run_dir().join("reconciler-no-rights.kubeconfig");
    let (server, ca_pem) = env.api_server();
    let user = format!("system:serviceaccount:{}:default", namespace.name);
    pki::write_kubeconfig(
        &kubeconfig,
        &server,
        &ca_pem,
        &user,
        Credentials::Token(token.stdout.trim()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let log = env.run_dir().join("reconciler").join("no-rights.log");
    std::fs::create_dir_all(log.parent().expect("a directory")).expect("the log directory");
    let mut cmd = command(BIN);
    cmd.args([
        "reconcile",
        &format!(
            "--admin-listen=127.0.0.1:{}",
            free_port().unwrap_or_else(|e| panic!("{e}"))
        ),
        &format!("--lease-namespace={}", namespace.name),
    ])
    .env("KUBECONFIG", &kubeconfig);
    let mut process =
        Process::spawn("reconciler without rights", cmd, &log).unwrap_or_else(|e| panic!("{e}"));
    wait_for("the reconciler to stop", PATIENCE, &mut [], || {
        Ok(process.check_running().is_err())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", process.log_tail(20)));
    let status = process
        .terminate(Duration::from_secs(1))
        .expect("it has exited");
    assert_eq!(status.code(), Some(1), "{}", process.log_tail(20));
    let output = process.log_tail(20);
    assert!(
        output.contains("the reconciler stopped")
            && output.contains("cannot list Backups (is the backups.pingcap.com CRD installed, and may this service account list Backups?): ")
            && output.contains(&format!("User \"{user}\" cannot list resource \"backups\" in API group \"pingcap.com\" at the cluster scope")),
        "{output}"
    );
}
