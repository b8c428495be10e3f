//! Two replicas of the real binary share the shipped Lease: only the holder reconciles
//! (its identity is on every Event), the leader killed outright is replaced once its
//! Lease expires and the other replica finishes the work, and a replica stopped with
//! SIGTERM gives the Lease up.

use super::{BR_SUCCESS, apply, backup_rbac, events_about, names, simple_backup, wait_for_phase};
use crate::harness::Env;
use crate::harness::audit;
use crate::harness::kubelet::PodRun;
use crate::harness::process::wait_for;
use crate::harness::reconciler::Reconcilers;

/// Short Lease timings, so that a takeover after a kill takes seconds, not 15.
const TIMING: [&str; 3] = [
    "--lease-duration=3s",
    "--renew-deadline=2s",
    "--retry-period=500ms",
];

pub fn two_replicas_share_the_lease_and_the_survivor_takes_over(env: &Env) {
    let namespace = env.namespace("rec-leader");
    let ns = namespace.name.as_str();
    backup_rbac(&namespace);
    let reconciler = Reconcilers::new(env, &namespace, &TIMING);
    reconciler.start_replica("replica-a");
    reconciler.start_replica("replica-b");
    let leader = reconciler.wait_for_leader(|_| true);
    let other = if leader == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };
    let lease = reconciler.lease().expect("the Lease");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 3);
    assert_eq!(
        reconciler.metric(&leader, "tidb_backup_reconcile_leader"),
        1.0
    );
    assert_eq!(
        reconciler.metric(other, "tidb_backup_reconcile_leader"),
        0.0
    );
    for identity in [leader.as_str(), other] {
        assert_eq!(
            reconciler.admin_get(identity, "/readyz"),
            Ok((200, "ok\n".to_owned())),
            "{identity}: a standby replica is ready too"
        );
    }

    apply(&namespace, &[&simple_backup("b1")]);
    wait_for_phase(&namespace, &reconciler, "b1", "Scheduled");
    let reporters: Vec<String> = events_about(&namespace, "b1")
        .iter()
        .map(|e| {
            e["reportingInstance"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        !reporters.is_empty() && reporters.iter().all(|r| *r == leader),
        "{reporters:?} vs the leader {leader}"
    );

    // The leader dies without giving the Lease up: the other takes over once it expires.
    let transitions = lease["spec"]["leaseTransitions"]
        .as_i64()
        .unwrap_or_default();
    reconciler.kill(&leader);
    let successor = reconciler.wait_for_leader(|holder| holder == other);
    let lease = reconciler.lease().expect("the Lease");
    assert_eq!(
        lease["spec"]["leaseTransitions"]
            .as_i64()
            .unwrap_or_default(),
        transitions + 1
    );
    wait_for("the new leader's metric", super::PATIENCE, &mut [], || {
        Ok(reconciler.metric(&successor, "tidb_backup_reconcile_leader") == 1.0)
    })
    .unwrap_or_else(|e| panic!("{e}"));

    // It finishes the work: a pod event, then the Job's end, reach it through its watches.
    let pod = PodRun::create(env, ns, "backup-b1");
    pod.running();
    wait_for_phase(&namespace, &reconciler, "b1", "Running");
    pod.exited(BR_SUCCESS, 0);
    pod.complete_job();
    let complete = wait_for_phase(&namespace, &reconciler, "b1", "Complete");
    assert_eq!(complete["status"]["commitTs"], "447518343168000000");
    assert_eq!(
        names(&namespace, "jobs", None),
        ["backup-b1"],
        "still one Job"
    );
    let late: Vec<String> = events_about(&namespace, "b1")
        .iter()
        .filter(|e| matches!(e["reason"].as_str(), Some("Running" | "Complete")))
        .map(|e| {
            e["reportingInstance"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(late, [successor.clone(), successor.clone()]);
    let requests = audit::requests_in(env, ns);
    super::backup::assert_one_job_created(&requests, "backup-b1");

    // Stopped as Kubernetes stops a pod, the last replica gives the Lease up.
    let status = reconciler.terminate(&successor);
    assert!(status.success(), "exit status {status}");
    let released = reconciler.lease().expect("the Lease");
    assert!(
        released["spec"]["holderIdentity"].is_null(),
        "released: {released}"
    );
    let lease_requests = audit::requests_in(env, &reconciler.lease_namespace);
    audit::assert_none_forbidden(&lease_requests);
    assert!(
        lease_requests
            .iter()
            .all(|r| r.resource == "leases" && r.name == crate::harness::reconciler::LEASE),
        "only the shipped Lease: {:?}",
        lease_requests.iter().map(|r| &r.uri).collect::<Vec<_>>()
    );
    audit::assert_none_forbidden(&requests);
}
