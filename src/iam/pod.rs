//! Pod injection (pure): which TiDB cluster a pod belongs to, and the JSON Patch that
//! gives it the cluster's role annotation and IRSA service account.
//!
//! Only values the pod lacks are added (an annotation the user set, or a service account
//! other than `default`, is never overwritten), so a second invocation yields no patch
//! and `reinvocationPolicy: IfNeeded` is safe next to other pod mutators.

use std::collections::BTreeMap;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use serde::Deserialize;
use serde_json::Value;

use super::{Choice, ClusterRef, IamResolver, Source};
use crate::rules::labels::{LABEL_BACKUP, LABEL_COMPONENT, LABEL_INSTANCE};
use crate::rules::vocab::IAM_ROLE_ANNOTATION;

/// Audit annotation keys (the apiserver prefixes the webhook's name).
pub const AUDIT_ROLE: &str = "iam-role-injected";
pub const AUDIT_SERVICE_ACCOUNT: &str = "iam-service-account-injected";
pub const AUDIT_CONFLICT: &str = "iam-conflict";

/// The parts of a Pod the decision reads.
#[derive(Debug, Default, Deserialize)]
pub struct PodView {
    #[serde(default)]
    pub metadata: PodMeta,
    #[serde(default)]
    pub spec: PodSpecView,
}

#[derive(Debug, Default, Deserialize)]
pub struct PodMeta {
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecView {
    #[serde(default)]
    pub service_account_name: Option<String>,
    /// Deprecated alias of `serviceAccountName`, kept in step when present.
    #[serde(default)]
    pub service_account: Option<String>,
}

/// What a pod is, for injection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodKind {
    Tikv(ClusterRef),
    /// A backup or clean pod of this Backup (its cluster, when the Backup is known).
    Backup {
        backup: String,
        cluster: Option<ClusterRef>,
    },
}

/// The patch, and what to tell the user and the audit log.
#[derive(Debug, Default)]
pub struct PodDecision {
    pub patch: Patch,
    pub warnings: Vec<String>,
    pub audit: BTreeMap<String, String>,
    /// What was injected: `role`, `serviceAccount`.
    pub injected: Vec<&'static str>,
    pub conflict: bool,
}

/// Which cluster's pod this is, by TiDB Operator's labels.
pub fn classify(pod: &PodView, namespace: &str, resolver: &IamResolver) -> Option<PodKind> {
    let labels = pod.metadata.labels.as_ref()?;
    let label = |key: &str| {
        labels
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    if let Some(backup) = label(LABEL_BACKUP) {
        return Some(PodKind::Backup {
            backup: backup.to_owned(),
            cluster: resolver.backup_target(namespace, backup),
        });
    }
    match (label(LABEL_COMPONENT), label(LABEL_INSTANCE)) {
        (Some("tikv"), Some(cluster)) => Some(PodKind::Tikv(ClusterRef {
            namespace: namespace.to_owned(),
            name: cluster.to_owned(),
        })),
        _ => None,
    }
}

/// The injection for a pod being created in `namespace`.
pub fn decide(pod: &PodView, namespace: &str, resolver: &IamResolver) -> PodDecision {
    let mut decision = PodDecision::default();
    let cluster = match classify(pod, namespace, resolver) {
        Some(PodKind::Tikv(cluster))
        | Some(PodKind::Backup {
            cluster: Some(cluster),
            ..
        }) => cluster,
        Some(PodKind::Backup { cluster: None, .. }) | None => return decision,
    };
    let resolution = resolver.resolve(&cluster);
    let annotations = pod.metadata.annotations.as_ref();
    match &resolution.role {
        Choice::One { value, source }
            if annotations.is_none_or(|a| !a.contains_key(IAM_ROLE_ANNOTATION)) =>
        {
            decision.patch.0.push(add_annotation(
                annotations.is_some(),
                IAM_ROLE_ANNOTATION,
                value,
            ));
            decision
                .audit
                .insert(AUDIT_ROLE.to_owned(), because(value, source, &cluster));
            decision.injected.push("role");
        }
        Choice::Conflict(declared) => decision.conflict(&cluster, "roles", declared),
        _ => {}
    }
    if resolver.inject_service_account {
        let spec = &pod.spec;
        let current = spec
            .service_account_name
            .as_deref()
            .or(spec.service_account.as_deref())
            .unwrap_or_default();
        match &resolution.service_account {
            Choice::One { value, source } if current.is_empty() || current == "default" => {
                for (field, present) in [
                    ("serviceAccountName", true),
                    ("serviceAccount", spec.service_account.is_some()),
                ] {
                    if present {
                        decision.patch.0.push(set_spec_field(field, value));
                    }
                }
                decision.audit.insert(
                    AUDIT_SERVICE_ACCOUNT.to_owned(),
                    because(value, source, &cluster),
                );
                decision.injected.push("serviceAccount");
            }
            Choice::Conflict(declared) => decision.conflict(&cluster, "service accounts", declared),
            _ => {}
        }
    }
    decision
}

impl PodDecision {
    fn conflict(&mut self, cluster: &ClusterRef, what: &str, declared: &[(String, Source)]) {
        let list: Vec<String> = declared
            .iter()
            .map(|(v, s)| format!("{v} from {s}"))
            .collect();
        self.warnings.push(format!(
            "tidb-backup-webhook: conflicting IAM {what} for TiDB cluster {cluster} ({}): none injected; declare one per cluster",
            list.join("; ")
        ));
        self.audit.insert(
            AUDIT_CONFLICT.to_owned(),
            format!("{what} for {cluster}: {}", list.join("; ")),
        );
        self.conflict = true;
    }
}

fn because(value: &str, source: &Source, cluster: &ClusterRef) -> String {
    format!("{value} (from {source} for TiDB cluster {cluster})")
}

/// Adds one annotation, creating the map when the pod has none. The key's `/` is
/// escaped as `~1` by the pointer.
pub fn add_annotation(map_exists: bool, key: &str, value: &str) -> PatchOperation {
    if map_exists {
        PatchOperation::Add(AddOperation {
            path: PointerBuf::from_tokens(["metadata", "annotations", key]),
            value: Value::String(value.to_owned()),
        })
    } else {
        let mut map = serde_json::Map::new();
        map.insert(key.to_owned(), Value::String(value.to_owned()));
        PatchOperation::Add(AddOperation {
            path: PointerBuf::from_tokens(["metadata", "annotations"]),
            value: Value::Object(map),
        })
    }
}

/// `add` sets an object member whether or not it exists (RFC 6902 §4.1).
fn set_spec_field(field: &str, value: &str) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: PointerBuf::from_tokens(["spec", field]),
        value: Value::String(value.to_owned()),
    })
}
