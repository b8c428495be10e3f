//! The TidbCluster a Backup targets, read as a dynamic object (only a few fields matter:
//! the TiKV image for BR's tag, cluster TLS, TiDB client TLS).

use kube::api::{ApiResource, DynamicObject};
use kube::{Api, ResourceExt};
use tracing::warn;

use super::Context;
use crate::api::Backup;
use crate::reconcile::gc;
use crate::reconcile::job::ClusterInfo;

/// The TidbCluster resource.
pub fn tidbcluster_resource() -> ApiResource {
    ApiResource {
        group: "pingcap.com".into(),
        version: "v1alpha1".into(),
        api_version: "pingcap.com/v1alpha1".into(),
        kind: "TidbCluster".into(),
        plural: "tidbclusters".into(),
    }
}

/// The TidbCluster's relevant settings; `None` when it cannot be read (the Job then
/// falls back to the default BR image and no cluster TLS).
pub async fn read_cluster(ctx: &Context, backup: &Backup) -> Option<ClusterInfo> {
    let (namespace, cluster) = cluster_ref(backup)?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &tidbcluster_resource());
    match api.get_opt(&cluster).await {
        Ok(Some(tc)) => serde_json::to_value(&tc)
            .ok()
            .map(|value| ClusterInfo::from_tidbcluster(&value)),
        Ok(None) => None,
        Err(e) => {
            warn!(cluster = %format!("{namespace}/{cluster}"), error = %e, "cannot read the TidbCluster");
            None
        }
    }
}

/// `(namespace, name)` of the Backup's TidbCluster (`spec.br.clusterNamespace` or the
/// Backup's own namespace).
pub fn cluster_ref(backup: &Backup) -> Option<(String, String)> {
    let br = backup.spec.br.as_ref()?;
    let namespace = if br.cluster_namespace.is_empty() {
        backup.namespace().unwrap_or_default()
    } else {
        br.cluster_namespace.clone()
    };
    Some((namespace, br.cluster.clone()))
}

/// The key GC-lifetime records of one cluster share.
pub fn cluster_key(backup: &Backup) -> String {
    let (namespace, cluster) = cluster_ref(backup).unwrap_or_default();
    gc::cluster_key(&namespace, &cluster)
}
