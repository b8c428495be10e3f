//! The GC-lifetime guard's IO around the pure decisions of [`crate::reconcile::gc`]
//! (whose module doc describes the algorithm): read, record, raise; later restore or
//! hand off. Persisting the record is a callback so that the order "record before
//! raise" is enforced here, whatever stores it (in the reconciler: the GC-lifetime
//! finalizer on the Backup, then its status).

use crate::api::GcLifeTimeStatus;
use crate::controller::tidb::{GcLifeTime, SqlError};
use crate::reconcile::gc::{self, GcError, ReleasePlan};

/// Why the guard could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum GuardError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error(transparent)]
    Plan(#[from] GcError),
    #[error("cannot record the GC life time in the Backup status: {0}")]
    Persist(#[source] E),
}

impl<E: std::error::Error + 'static> GuardError<E> {
    /// TiDB Operator's condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Sql(e) => e.reason(),
            Self::Plan(e) => e.reason(),
            Self::Persist(_) => "UpdateStatusFailed",
        }
    }
}

/// What [`hold`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The record, as persisted.
    pub record: GcLifeTimeStatus,
    /// The cluster's value before this hold.
    pub current: String,
    /// The value written, when it was raised.
    pub raised: Option<String>,
}

/// Holds the GC life time for one Backup before its Job starts. `existing` is the
/// Backup's own record (present after a crash), `holders` the other `Holding` records
/// of the cluster. `persist` must durably store the record; it runs before any raise.
pub async fn hold<E, P>(
    sql: &mut GcLifeTime,
    cluster: &str,
    desired: &str,
    existing: Option<&GcLifeTimeStatus>,
    holders: &[GcLifeTimeStatus],
    persist: P,
) -> Result<Held, GuardError<E>>
where
    E: std::error::Error + 'static,
    P: AsyncFnOnce(GcLifeTimeStatus) -> Result<(), E>,
{
    let current = sql.read().await?;
    let plan = gc::plan_hold(cluster, desired, &current, existing, holders)?;
    if existing != Some(&plan.record) {
        persist(plan.record.clone())
            .await
            .map_err(GuardError::Persist)?;
    }
    if let Some(value) = &plan.raise_to {
        sql.write(value).await?;
    }
    Ok(Held {
        record: plan.record,
        current,
        raised: plan.raise_to,
    })
}

/// Releases the GC life time after a Job ended: hands off to other holders, or restores
/// the original through a connection made by `connect` (only then). Returns the plan
/// carried out and the new record.
pub async fn release<E, C>(
    own: &GcLifeTimeStatus,
    holders: &[GcLifeTimeStatus],
    connect: C,
) -> Result<(ReleasePlan, GcLifeTimeStatus), E>
where
    E: From<SqlError>,
    C: AsyncFnOnce() -> Result<GcLifeTime, E>,
{
    let plan = gc::plan_release(Some(own), holders);
    if let ReleasePlan::Restore { original } = &plan {
        let mut sql = connect().await?;
        let written = sql.write(original).await;
        sql.close().await;
        written?;
    }
    let record = gc::released(own, &plan);
    Ok((plan, record))
}
