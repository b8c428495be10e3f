//! Leader election through a `coordination.k8s.io/v1` Lease, following client-go's
//! protocol (holder identity, renew time, lease duration, transitions) with kube's
//! `Api<Lease>`: only the holder reconciles ([`lead`] runs the Backup and BackupSchedule
//! controllers while it holds the Lease). Expiry is judged by how long the Lease has
//! gone *unchanged on this replica's clock* (client-go's "observed time"), so clock skew
//! between replicas does not matter. Writes carry the resourceVersion read, so two
//! replicas racing for an expired Lease cannot both win.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{Context, backup, schedule};

/// Which Lease, and who this replica is in it (flags of `reconcile`).
#[derive(Clone, Debug, clap::Args)]
pub struct LeaseConfig {
    /// Name of the leader-election Lease.
    #[arg(
        id = "lease_name",
        long = "lease-name",
        value_name = "LEASE_NAME",
        env = "RECONCILER_LEASE_NAME",
        default_value = "tidb-backup-reconciler"
    )]
    pub name: String,
    /// Namespace of the Lease (normally the reconciler's own, from the downward API).
    #[arg(
        id = "lease_namespace",
        long = "lease-namespace",
        value_name = "LEASE_NAMESPACE",
        env = "POD_NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
    /// This replica's identity in the Lease (the pod name, from the downward API; default
    /// the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    #[command(flatten)]
    pub timing: LeaseTiming,
}

/// Timing of the election (Kubernetes components' defaults: 15 s, 10 s, 2 s).
#[derive(Clone, Debug, clap::Args)]
pub struct LeaseTiming {
    /// How long a Lease that stopped being renewed stays valid.
    #[arg(long, env = "RECONCILER_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_duration: Duration,
    /// How long the leader keeps reconciling without a successful renewal.
    #[arg(long, env = "RECONCILER_RENEW_DEADLINE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew the Lease.
    #[arg(long, env = "RECONCILER_RETRY_PERIOD", default_value = "2s", value_parser = humantime::parse_duration)]
    pub retry_period: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What to do with the Lease as observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease yet: create it as holder.
    Create,
    /// We hold it: renew.
    Renew,
    /// Released or expired: take it over.
    TakeOver,
    /// Someone else holds a valid Lease.
    Follow,
}

/// Decides from the Lease's spec, who we are, and how long the Lease has been unchanged.
pub fn decide(
    spec: Option<&LeaseSpec>,
    identity: &str,
    unchanged_for: Duration,
    lease_duration: Duration,
) -> Decision {
    let Some(spec) = spec else {
        return Decision::Create;
    };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => Decision::Renew,
        None | Some("") => Decision::TakeOver,
        Some(_) => {
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs)
                .unwrap_or(lease_duration);
            if unchanged_for >= duration {
                Decision::TakeOver
            } else {
                Decision::Follow
            }
        }
    }
}

/// One replica's side of the election.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: LeaseTiming,
    /// The Lease as last seen (holder, renew time, resourceVersion) and when it was
    /// first seen like that.
    observed: Option<(String, Instant)>,
}

impl LeaderElector {
    pub fn new(api: Api<Lease>, name: &str, identity: &str, timing: LeaseTiming) -> Self {
        Self {
            api,
            name: name.to_owned(),
            identity: identity.to_owned(),
            timing,
            observed: None,
        }
    }

    pub fn timing(&self) -> &LeaseTiming {
        &self.timing
    }

    /// One attempt to acquire or renew; `Ok(true)` when this replica holds the Lease.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let fingerprint = current.as_ref().map(|lease| {
            format!(
                "{:?}/{:?}",
                lease.metadata.resource_version,
                lease.spec.as_ref().and_then(|s| s.holder_identity.clone())
            )
        });
        let unchanged_for = match (&self.observed, &fingerprint) {
            (Some((seen, since)), Some(now_seen)) if seen == now_seen => since.elapsed(),
            _ => {
                if let Some(fp) = fingerprint {
                    self.observed = Some((fp, Instant::now()));
                }
                Duration::ZERO
            }
        };
        let decision = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.identity,
            unchanged_for,
            self.timing.lease_duration,
        );
        let duration_secs = i32::try_from(self.timing.lease_duration.as_secs()).unwrap_or(15);
        let result = match (decision, current) {
            (Decision::Follow, _) => return Ok(false),
            (Decision::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(duration_secs),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (decision, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                if decision == Decision::TakeOver {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = Some(MicroTime(now));
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(duration_secs);
                spec.renew_time = Some(MicroTime(now));
                // Carries the resourceVersion read: a concurrent writer makes this fail.
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
            (_, None) => return Ok(false),
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (on shutdown) so that another replica takes over at once.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }
}

/// The Backup and BackupSchedule controllers side by side, until `stop` completes.
pub async fn controllers(
    ctx: Arc<Context>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    concurrency: u16,
) {
    let stop = stop.shared();
    futures::join!(
        backup::controller(ctx.clone(), stop.clone(), concurrency),
        schedule::controller(ctx, stop, concurrency),
    );
}

/// Runs the controllers while this replica holds the Lease; returns on `shutdown`.
pub async fn lead(
    ctx: Arc<Context>,
    mut elector: LeaderElector,
    concurrency: u16,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let shutdown = shutdown.shared();
    let timing = elector.timing().clone();
    loop {
        // Standby until the Lease is ours.
        loop {
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => warn!(error = %e, "cannot read or write the leader Lease"),
            }
            tokio::select! {
                () = shutdown.clone() => return,
                () = tokio::time::sleep(timing.retry_period) => {}
            }
        }
        info!("acquired the leader Lease: reconciling");
        ctx.metrics.leader.set(1);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut controller = tokio::spawn(controllers(
            ctx.clone(),
            async move {
                let _ = stop_rx.await;
            },
            concurrency,
        ));
        let mut last_renewal = tokio::time::Instant::now();
        let lost = loop {
            tokio::select! {
                () = shutdown.clone() => break false,
                _ = &mut controller => break true,
                () = tokio::time::sleep(timing.retry_period) => {}
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => break true,
                Err(e) => warn!(error = %e, "cannot renew the leader Lease"),
            }
            if last_renewal.elapsed() > timing.renew_deadline {
                break true;
            }
        };
        let _ = stop_tx.send(());
        if tokio::time::timeout(Duration::from_secs(20), &mut controller)
            .await
            .is_err()
        {
            controller.abort();
        }
        ctx.metrics.leader.set(0);
        if !lost {
            if let Err(e) = elector.release().await {
                warn!(error = %e, "cannot release the leader Lease");
            }
            return;
        }
        warn!("lost the leader Lease: standing by");
    }
}
