//! Leader election: the pure decision, and two replicas running the real Controller
//! against the fake apiserver.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::LeaseSpec;
use kube::Api;
use serde_json::{Value, json};
use tidb_backup_webhook::controller::Context;
use tidb_backup_webhook::controller::leader::{Decision, LeaderElector, LeaseTiming, decide, lead};
use tidb_backup_webhook::controller::metrics::Metrics;
use tokio::sync::oneshot;

use super::fake_apiserver::FakeApiServer;
use super::test_context;

const LEASE: Duration = Duration::from_secs(15);
const NS: &str = "test1";
const OWN_NAMESPACE: &str = "tidb-admin";

fn held_by(holder: Option<&str>) -> LeaseSpec {
    LeaseSpec {
        holder_identity: holder.map(str::to_owned),
        lease_duration_seconds: Some(15),
        ..LeaseSpec::default()
    }
}

#[test]
fn decisions() {
    assert_eq!(decide(None, "a", Duration::ZERO, LEASE), Decision::Create);
    assert_eq!(
        decide(
            Some(&held_by(Some("a"))),
            "a",
            Duration::from_secs(60),
            LEASE
        ),
        Decision::Renew
    );
    assert_eq!(
        decide(
            Some(&held_by(Some("b"))),
            "a",
            Duration::from_secs(14),
            LEASE
        ),
        Decision::Follow
    );
    assert_eq!(
        decide(
            Some(&held_by(Some("b"))),
            "a",
            Duration::from_secs(15),
            LEASE
        ),
        Decision::TakeOver
    );
    assert_eq!(
        decide(Some(&held_by(None)), "a", Duration::ZERO, LEASE),
        Decision::TakeOver
    );
    assert_eq!(
        decide(Some(&held_by(Some(""))), "a", Duration::ZERO, LEASE),
        Decision::TakeOver
    );
}

fn replica(fake: &FakeApiServer, identity: &str) -> (Arc<Context>, LeaderElector) {
    let client = fake.client();
    let ctx = Arc::new(test_context(
        client.clone(),
        identity,
        Arc::new(Metrics::default()),
    ));
    let timing = LeaseTiming {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(100),
    };
    let elector = LeaderElector::new(
        Api::namespaced(client, OWN_NAMESPACE),
        "tidb-backup-reconciler",
        identity,
        timing,
    );
    (ctx, elector)
}

/// Polls the fake until `done` holds (a bound against hanging, not a timing assertion).
async fn eventually(fake: &FakeApiServer, what: &str, done: impl Fn(&FakeApiServer) -> bool) {
    for _ in 0..300 {
        if done(fake) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn phase(fake: &FakeApiServer, name: &str) -> Value {
    fake.get("pingcap.com/v1alpha1", "Backup", NS, name)
        .map(|b| b["status"]["phase"].clone())
        .unwrap_or(Value::Null)
}

fn holder(fake: &FakeApiServer) -> Option<String> {
    fake.get(
        "coordination.k8s.io/v1",
        "Lease",
        OWN_NAMESPACE,
        "tidb-backup-reconciler",
    )
    .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned))
}

/// Two replicas run the real kube-runtime Controller behind the Lease: only the holder
/// reconciles (one Job, Events from the holder), progress is driven by watch events (a
/// pod starting, a Job status change), and after the leader stops the other replica
/// takes over.
#[tokio::test]
async fn two_replicas_one_leader_one_job_and_failover() {
    let fake = FakeApiServer::new();
    fake.insert(json!({
        "apiVersion": "pingcap.com/v1alpha1", "kind": "Backup",
        "metadata": {"name": "b1", "namespace": NS},
        "spec": {"br": {"cluster": "demo1"},
                 "s3": {"provider": "minio", "endpoint": "http://minio:9000", "bucket": "backups", "prefix": "b1"}}
    }));
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for identity in ["replica-a", "replica-b"] {
        let (ctx, elector) = replica(&fake, identity);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        stops.push((identity, stop_tx));
        tasks.push((
            identity,
            tokio::spawn(lead(ctx, elector, 2, async move {
                let _ = stop_rx.await;
            })),
        ));
    }

    eventually(&fake, "the Backup to be scheduled", |f| {
        phase(f, "b1") == "Scheduled"
    })
    .await;
    let leader = holder(&fake).expect("a leader");
    assert_eq!(fake.list("batch/v1", "Job").len(), 1);
    let reporters: Vec<String> = fake
        .list("events.k8s.io/v1", "Event")
        .iter()
        .filter_map(|e| e["reportingInstance"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !reporters.is_empty() && reporters.iter().all(|r| *r == leader),
        "{reporters:?} vs {leader}"
    );

    // Stop the leader: it releases the Lease and the other replica takes over.
    let (index, _) = stops
        .iter()
        .enumerate()
        .find(|(_, (id, _))| *id == leader)
        .expect("leader's stop");
    let (_, stop) = stops.remove(index);
    let _ = stop.send(());
    let (_, task) = tasks.remove(index);
    task.await.expect("leader stopped cleanly");
    eventually(&fake, "the other replica to lead", |f| {
        holder(f).is_some_and(|h| h != leader)
    })
    .await;

    // A pod event reaches the new leader through its pod watch (mapped by label).
    fake.insert(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "backup-b1-x7k2p", "namespace": NS,
                     "labels": {"app.kubernetes.io/component": "backup", "app.kubernetes.io/managed-by": "backup-operator",
                                "app.kubernetes.io/name": "backup", "app.kubernetes.io/instance": "b1",
                                "tidb.pingcap.com/backup": "b1"}},
        "status": {"phase": "Running", "startTime": "2026-01-01T00:01:01Z"}
    }));
    eventually(&fake, "the Backup to run", |f| phase(f, "b1") == "Running").await;

    // A Job status change reaches the new leader through its watch.
    fake.update(
        "batch/v1",
        "Job",
        NS,
        "backup-b1",
        json!({"status": {
        "startTime": "2026-01-01T00:01:00Z", "completionTime": "2026-01-01T00:09:00Z",
        "conditions": [{"type": "Complete", "status": "True"}]}}),
    );
    eventually(&fake, "the Backup to complete", |f| {
        phase(f, "b1") == "Complete"
    })
    .await;
    assert_eq!(
        fake.list("batch/v1", "Job").len(),
        1,
        "still one Job after the failover"
    );
    let job_creates = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/jobs"))
        .count();
    assert_eq!(job_creates, 1);

    for (_, stop) in stops {
        let _ = stop.send(());
    }
    for (_, task) in tasks {
        task.await.expect("stopped");
    }
    assert_eq!(holder(&fake), None, "the last leader released the Lease");
    let checked = super::rbac::assert_all_allowed(&fake.requests());
    assert!(checked > 10, "{checked}");
}
