//! The shipped RBAC (`manifests/rbac/reconciler/rbac.yaml`) against the requests the
//! reconciler actually makes: every recorded request must be allowed by a rule.

use serde_json::Value;
use tidb_backup_webhook::api::decode::parse_documents;

use super::fake_apiserver::Recorded;

const RBAC: &str = include_str!("../../manifests/rbac/reconciler/rbac.yaml");

/// A request as RBAC sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct Attributes {
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub verb: String,
}

pub fn attributes(r: &Recorded) -> Option<Attributes> {
    let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => (String::new(), rest),
        ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
        _ => return None, // non-resource URLs such as /version
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (resource, name) = match rest {
        [resource] => ((*resource).to_owned(), None),
        [resource, name] => ((*resource).to_owned(), Some((*name).to_owned())),
        [resource, name, sub] => (format!("{resource}/{sub}"), Some((*name).to_owned())),
        _ => return None,
    };
    let watch = r.query.split('&').any(|kv| kv == "watch=true");
    let verb = match (r.method.as_str(), name.is_some(), watch) {
        ("GET", true, _) => "get",
        ("GET", false, true) => "watch",
        ("GET", false, false) => "list",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", _, _) => "delete",
        _ => "unknown",
    };
    Some(Attributes {
        group,
        resource,
        namespace,
        name,
        verb: verb.to_owned(),
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Whether the shipped ClusterRole (any namespace) or Role (own namespace) allows `a`.
pub fn allowed(a: &Attributes) -> bool {
    let docs = parse_documents(RBAC).expect("rbac.yaml parses");
    docs.iter().any(|doc| {
        let scope_ok = match doc["kind"].as_str() {
            Some("ClusterRole") => true,
            Some("Role") => a.namespace.as_deref() == doc["metadata"]["namespace"].as_str(),
            _ => return false,
        };
        scope_ok
            && doc["rules"].as_array().into_iter().flatten().any(|rule| {
                let names = strings(&rule["resourceNames"]);
                strings(&rule["apiGroups"]).contains(&a.group)
                    && strings(&rule["resources"]).contains(&a.resource)
                    && strings(&rule["verbs"]).contains(&a.verb)
                    && (names.is_empty() || a.name.as_ref().is_some_and(|n| names.contains(n)))
            })
    })
}

/// Every resource request in `requests` is allowed; returns how many were checked.
pub fn assert_all_allowed(requests: &[Recorded]) -> usize {
    let checked: Vec<Attributes> = requests.iter().filter_map(attributes).collect();
    let denied: Vec<&Attributes> = checked.iter().filter(|a| !allowed(a)).collect();
    assert!(
        denied.is_empty(),
        "requests the shipped RBAC denies: {denied:#?}"
    );
    checked.len()
}

#[test]
fn the_checker_denies_what_the_rules_do_not_grant() {
    let request = |method: &str, path: &str, query: &str| Recorded {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        content_type: String::new(),
        body: Value::Null,
    };
    let deny = [
        request(
            "DELETE",
            "/apis/batch/v1/namespaces/test1/jobs/backup-b1",
            "",
        ),
        // Backups may be deleted (schedule retention); BackupSchedules never are.
        request(
            "DELETE",
            "/apis/pingcap.com/v1alpha1/namespaces/test1/backupschedules/s1",
            "",
        ),
        request("GET", "/api/v1/secrets", ""),
        request(
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/test1/leases/tidb-backup-reconciler",
            "",
        ),
        request(
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/tidb-admin/leases/other",
            "",
        ),
    ];
    for r in &deny {
        let a = attributes(r).expect("resource request");
        assert!(!allowed(&a), "{a:?} must be denied");
    }
    let allow = [
        request(
            "GET",
            "/apis/pingcap.com/v1alpha1/backups",
            "watch=true&resourceVersion=1",
        ),
        request(
            "PATCH",
            "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/b1/status",
            "fieldManager=tidb-backup-webhook",
        ),
        request(
            "GET",
            "/api/v1/namespaces/test1/pods/p/log",
            "container=backup",
        ),
        request(
            "PATCH",
            "/apis/pingcap.com/v1alpha1/namespaces/test1/backups/b1",
            "fieldManager=tidb-backup-webhook",
        ),
        request(
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/tidb-admin/leases/tidb-backup-reconciler",
            "",
        ),
    ];
    for r in &allow {
        let a = attributes(r).expect("resource request");
        assert!(allowed(&a), "{a:?} must be allowed");
    }
}
