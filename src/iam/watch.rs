//! The watch cache of Backups and BackupSchedules that declare identities: kube-runtime
//! reflectors filled by LIST+WATCH in the background, so admission requests read memory
//! and never call the apiserver. `managedFields` and kubectl's last-applied copy are
//! dropped before caching: they are most of an object and never read.

use std::future::Future;

use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::{
    ClusterRef, Declaration, Declarations, declared_by_backup, declared_by_schedule, target_of,
};
use crate::api::{Backup, BackupSchedule};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Declarations read from the reflectors' stores.
#[derive(Clone)]
pub struct WatchedDeclarations {
    backups: Store<Backup>,
    schedules: Store<BackupSchedule>,
}

impl Declarations for WatchedDeclarations {
    fn declarations(&self) -> Vec<Declaration> {
        self.backups
            .state()
            .iter()
            .filter_map(|b| declared_by_backup(b))
            .chain(
                self.schedules
                    .state()
                    .iter()
                    .filter_map(|s| declared_by_schedule(s)),
            )
            .collect()
    }

    fn backup_target(&self, namespace: &str, name: &str) -> Option<ClusterRef> {
        let key = reflector::ObjectRef::new(name).within(namespace);
        self.backups
            .get(&key)
            .and_then(|b| target_of(&b.spec, namespace))
    }
}

impl WatchedDeclarations {
    /// Completes once both caches hold a full LIST.
    pub async fn wait_until_ready(&self) -> bool {
        self.backups.wait_until_ready().await.is_ok()
            && self.schedules.wait_until_ready().await.is_ok()
    }
}

/// Starts caching Backups and BackupSchedules of every namespace; the returned future
/// runs the watches (with kube's default backoff) and must be spawned.
pub fn watch(
    client: Client,
) -> (
    WatchedDeclarations,
    impl Future<Output = ()> + Send + 'static,
) {
    let (backups, backup_watch) = reflect::<Backup>(client.clone());
    let (schedules, schedule_watch) = reflect::<BackupSchedule>(client);
    let run = async move {
        futures::join!(backup_watch, schedule_watch);
    };
    (WatchedDeclarations { backups, schedules }, run)
}

fn reflect<K>(client: Client) -> (Store<K>, impl Future<Output = ()> + Send + 'static)
where
    K: Resource<DynamicType = ()>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let stream = watcher(Api::<K>::all(client), watcher::Config::default())
        .default_backoff()
        .modify(|object| {
            object.managed_fields_mut().clear();
            object.annotations_mut().remove(LAST_APPLIED);
        })
        .reflect(writer)
        .applied_objects();
    let run = async move {
        stream
            .for_each(|event| async move {
                if let Err(e) = event {
                    tracing::warn!(error = %e, kind = K::kind(&()).as_ref(), "IAM watch cache: watch failed; retrying");
                }
            })
            .await;
    };
    (store, run)
}
