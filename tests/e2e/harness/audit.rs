//! The apiserver's audit log, read back: every request the reconciler's ServiceAccount
//! made, as the apiserver saw and answered it (verb, URI with its query, object, request
//! body, response code). Tests assert the order of writes, their bodies, how many there
//! were, and that the shipped RBAC refused none.

use serde_json::Value;

use super::Env;
use super::control_plane::AUDITED_USER;

/// One audited request.
#[derive(Clone, Debug)]
pub struct Request {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, ...
    pub verb: String,
    /// Path and query, e.g. `/apis/pingcap.com/v1alpha1/namespaces/ns/backups/b/status?fieldManager=…`.
    pub uri: String,
    pub namespace: String,
    /// e.g. `backups`, `jobs`, `leases`.
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// The HTTP status code of the answer.
    pub code: i64,
    /// The request body (a patch, or the object created), `null` without one.
    pub body: Value,
    /// The whole audit event.
    pub event: Value,
}

impl Request {
    fn from_event(event: Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let object = &event["objectRef"];
        Self {
            verb: text(&event["verb"]),
            uri: text(&event["requestURI"]),
            namespace: text(&object["namespace"]),
            resource: text(&object["resource"]),
            subresource: text(&object["subresource"]),
            name: text(&object["name"]),
            code: event["responseStatus"]["code"].as_i64().unwrap_or_default(),
            body: event["requestObject"].clone(),
            event,
        }
    }

    /// Whether this is `verb` on `resource` (`backups`, `backups/status`, …) named `name`.
    pub fn is(&self, verb: &str, resource: &str, name: &str) -> bool {
        let full = if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        };
        self.verb == verb && full == resource && self.name == name
    }

    /// Whether the request changed something (not get, list or watch).
    pub fn is_write(&self) -> bool {
        !matches!(self.verb.as_str(), "get" | "list" | "watch")
    }
}

/// Every request of the reconciler's ServiceAccount audited so far, in the order they
/// ended.
pub fn reconciler_requests(env: &Env) -> Vec<Request> {
    let log = env.audit_log();
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("the audit log {}: {e}", log.display()));
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["user"]["username"] == AUDITED_USER)
        .map(Request::from_event)
        .collect()
}

/// The reconciler's requests about objects in `namespace`.
pub fn requests_in(env: &Env, namespace: &str) -> Vec<Request> {
    reconciler_requests(env)
        .into_iter()
        .filter(|r| r.namespace == namespace)
        .collect()
}

/// Panics, listing them, when the apiserver's authorizer refused any of `requests`
/// (the audit annotation `authorization.k8s.io/decision: forbid`): the shipped RBAC must
/// allow everything the reconciler does. Other refusals (a terminating namespace, a
/// quota) are the apiserver's answers to the request, not missing permissions.
#[track_caller]
pub fn assert_none_forbidden(requests: &[Request]) {
    let forbidden: Vec<String> = requests
        .iter()
        .filter(|r| r.event["annotations"]["authorization.k8s.io/decision"] != "allow")
        .map(|r| {
            format!(
                "{} {} ({}: {})",
                r.verb,
                r.uri,
                r.event["annotations"]["authorization.k8s.io/reason"],
                r.event["responseStatus"]
            )
        })
        .collect();
    assert!(
        forbidden.is_empty(),
        "the shipped RBAC refused requests of the reconciler:\n{}",
        forbidden.join("\n")
    );
    assert!(
        !requests.is_empty(),
        "no request of the reconciler was audited"
    );
}
