//! What the controllers do to the cluster, each done one way: write a status, set or
//! clear a finalizer, record a condition and announce it, create an object that may
//! exist already, read the tail of a pod's log.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::Context;
use crate::api::{Backup, BackupStatus};
use crate::reconcile::status::set_condition;
use crate::reconcile::{FIELD_MANAGER, PodView, finalizers_with};

/// Writes an object's whole status through the status subresource (server-side apply
/// under the reconciler's field manager) and returns the stored object.
pub async fn write_status<K>(
    api: &Api<K>,
    name: &str,
    status: &impl serde::Serialize,
) -> Result<K, kube::Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
}

/// Adds (`present`) or removes `finalizer` by a merge patch of `metadata.finalizers`
/// guarded by the resourceVersion read: a concurrent change (another writer, a deletion)
/// makes it fail with a conflict, and the reconcile is retried on a fresh read. The other
/// finalizers are kept as they were read.
pub async fn set_finalizer(
    backups: &Api<Backup>,
    backup: &Backup,
    finalizer: &str,
    present: bool,
) -> Result<Backup, kube::Error> {
    let body = json!({"metadata": {
        "resourceVersion": backup.resource_version(),
        "finalizers": finalizers_with(backup, finalizer, present),
    }});
    let updated = backups
        .patch(
            &backup.name_any(),
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            },
            &Patch::Merge(&body),
        )
        .await?;
    let action = if present { "added" } else { "removed" };
    info!(backup = %backup.name_any(), finalizer, "{action} the finalizer");
    Ok(updated)
}

/// A condition turned `True`, and the Event announcing it.
pub struct Transition<'a> {
    pub condition: &'a str,
    /// The condition's reason.
    pub reason: &'a str,
    pub message: &'a str,
    pub event: EventType,
    /// The Event's reason, TiDB Operator's name, which may differ from the condition's.
    pub event_reason: &'a str,
}

/// Sets the transition's condition on `status` (the Backup's, maybe changed further by
/// the caller), writes it and announces it; returns the Backup as written.
pub async fn record(
    ctx: &Context,
    backups: &Api<Backup>,
    backup: &Backup,
    mut status: BackupStatus,
    transition: &Transition<'_>,
    now: Timestamp,
) -> Result<Backup, kube::Error> {
    set_condition(
        &mut status,
        transition.condition,
        transition.reason,
        transition.message,
        backup.metadata.generation,
        now,
    );
    let updated = write_status(backups, &backup.name_any(), &status).await?;
    ctx.transition(
        &updated,
        transition.condition,
        transition.event,
        transition.event_reason,
        transition.message,
    )
    .await;
    Ok(updated)
}

/// Whether [`create_or_adopt`] made the object or found one of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    /// An earlier attempt (a retry, a restart, another leader) made it: that counts.
    Existing,
}

/// Creates `object` under the reconciler's field manager; one of the same name that
/// already exists counts as created, so duplicate events never make a second one.
/// Whose the existing object is, the caller decides from what it observes.
pub async fn create_or_adopt<K>(api: &Api<K>, object: &K) -> Result<Created, kube::Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    match api.create(&params, object).await {
        Ok(_) => Ok(Created::New),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(Created::Existing),
        Err(e) => Err(e),
    }
}

/// Announces a failed create as a Warning Event (`FailedCreate`) on `owner`, and hands
/// the error back.
pub async fn failed_create<K: kube::Resource<DynamicType = ()>>(
    ctx: &Context,
    owner: &K,
    what: &str,
    error: kube::Error,
) -> kube::Error {
    ctx.event(
        owner,
        EventType::Warning,
        "FailedCreate",
        &format!("cannot create {what}: {error}"),
    )
    .await;
    error
}

/// The last `lines` of `container`'s log in the newest pod `selector` picks, if it can
/// be read (a missing log is logged and is not an error: the caller words its outcome
/// without it).
pub async fn pod_log_tail(
    pods: &Api<Pod>,
    selector: &str,
    container: &str,
    lines: i64,
) -> Option<String> {
    let list = match pods.list(&ListParams::default().labels(selector)).await {
        Ok(list) => list,
        Err(e) => {
            warn!(selector, error = %e, "cannot list the pods");
            return None;
        }
    };
    let pod = PodView::newest(&list.items)?;
    log_tail(pods, &pod.name, container, lines).await
}

/// The last `lines` of `container`'s log in pod `pod`, if it can be read.
pub async fn log_tail(pods: &Api<Pod>, pod: &str, container: &str, lines: i64) -> Option<String> {
    let params = LogParams {
        container: Some(container.to_owned()),
        tail_lines: Some(lines),
        ..LogParams::default()
    };
    match pods.logs(pod, &params).await {
        Ok(log) => Some(log),
        Err(e) => {
            warn!(pod, container, error = %e, "cannot read the pod's log");
            None
        }
    }
}
