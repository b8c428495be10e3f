//! Leader election's decision, as a pure function (two replicas of the real binary
//! sharing a real Lease are in `tests/e2e/reconciler/leader.rs`).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::LeaseSpec;
use tidb_backup_webhook::controller::leader::{Decision, decide};

const LEASE: Duration = Duration::from_secs(15);

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
