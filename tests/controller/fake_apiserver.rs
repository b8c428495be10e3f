//! An in-memory imitation of the apiserver behind a kube `Client`, kept for one purpose:
//! failures a real apiserver cannot be made to produce on demand, between two steps of
//! one reconcile (a stale read of a Job that exists, a write refused right after the
//! previous one succeeded, as when the reconciler dies between them). Everything else
//! the reconciler does is tested against the real control plane (`tests/e2e/reconciler`).
//!
//! It serves what those tests' reconciles ask for, no more: create (AlreadyExists), get,
//! list with label selectors, merge patches (a stale resourceVersion conflicts) and the
//! status subresource's apply, delete (with finalizers: deletionTimestamp, then removal
//! when the last finalizer goes), and one-shot failure injection. No watch: the tests
//! call the reconcile functions themselves. Every request is recorded.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// `(api prefix, resource)`, e.g. `("/apis/batch/v1", "jobs")`.
type Collection = (String, String);

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Decoded JSON request body (`null` when empty or not JSON).
    pub body: Value,
}

struct State {
    objects: BTreeMap<Collection, BTreeMap<(String, String), Value>>,
    requests: Vec<Recorded>,
    rv: u64,
    uid: u64,
    /// `(method, path suffix, code, reason)`, each used once.
    failures: Vec<(String, String, u16, String)>,
}

/// When DELETE marks an object that has finalizers.
pub const DELETION_TIMESTAMP: &str = "2026-01-01T00:20:00Z";

#[derive(Clone)]
pub struct FakeApiServer {
    state: Arc<Mutex<State>>,
}

/// Where an object of `apiVersion`/`kind` lives.
fn collection_of(api_version: &str, kind: &str) -> Collection {
    let prefix = if api_version == "v1" {
        "/api/v1".to_owned()
    } else {
        format!("/apis/{api_version}")
    };
    let resource = match kind {
        "Backup" => "backups",
        "BackupSchedule" => "backupschedules",
        "Job" => "jobs",
        "Pod" => "pods",
        "Secret" => "secrets",
        "TidbCluster" => "tidbclusters",
        "Event" => "events",
        other => panic!("fake apiserver: unknown kind {other}"),
    };
    (prefix, resource.to_owned())
}

struct Target {
    collection: Collection,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (prefix, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("/api/v1".to_owned(), rest),
        ["apis", group, version, rest @ ..] => (format!("/apis/{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (resource, name, sub) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some((*name).to_owned()), None),
        [resource, name, sub] => (*resource, Some((*name).to_owned()), Some((*sub).to_owned())),
        _ => return None,
    };
    Some(Target {
        collection: (prefix, resource.to_owned()),
        namespace,
        name,
        sub,
    })
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Equality (`a=b,c=d`) and existence (`a`) label selectors, as the reconciler uses.
fn matches_selector(object: &Value, selector: Option<&str>) -> bool {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return true;
    };
    selector.split(',').all(|term| {
        let label = |key: &str| {
            object
                .pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
        };
        match term.split_once('=') {
            Some((key, value)) => label(key) == Some(value),
            None => label(term).is_some(),
        }
    })
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn not_found(target: &Target, name: &str) -> Response<Full<Bytes>> {
    json_response(
        404,
        status_body(
            404,
            "NotFound",
            &format!("{} \"{name}\" not found", target.collection.1),
        ),
    )
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

impl FakeApiServer {
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                objects: BTreeMap::new(),
                requests: Vec::new(),
                rv: 100,
                uid: 0,
                failures: Vec::new(),
            })),
        }
    }

    /// A kube `Client` talking to this fake.
    pub fn client(&self) -> Client {
        let fake = self.clone();
        let service = tower::service_fn(move |req: Request<Body>| {
            let fake = fake.clone();
            async move { Ok::<_, Infallible>(fake.handle(req).await) }
        });
        Client::new(service, "default")
    }

    /// Stores an object as if created through the API (uid, resourceVersion, generation).
    pub fn insert(&self, object: Value) -> Value {
        let mut state = self.state.lock().expect("state");
        Self::create_locked(&mut state, object).expect("insert")
    }

    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = self.state.lock().expect("state");
        state
            .objects
            .get(&collection_of(api_version, kind))
            .and_then(|c| c.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()
    }

    pub fn list(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let state = self.state.lock().expect("state");
        state
            .objects
            .get(&collection_of(api_version, kind))
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Merges `patch` into a stored object (as a kubelet or the Job controller would).
    pub fn update(&self, api_version: &str, kind: &str, namespace: &str, name: &str, patch: Value) {
        let mut state = self.state.lock().expect("state");
        state.rv += 1;
        let rv = state.rv;
        let object = state
            .objects
            .get_mut(&collection_of(api_version, kind))
            .and_then(|c| c.get_mut(&(namespace.to_owned(), name.to_owned())))
            .expect("object to update exists");
        merge(object, &patch);
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
    }

    /// The next `method` request whose path ends with `path_suffix` fails with `code`.
    pub fn fail_once(&self, method: &str, path_suffix: &str, code: u16, reason: &str) {
        self.state.lock().expect("state").failures.push((
            method.to_owned(),
            path_suffix.to_owned(),
            code,
            reason.to_owned(),
        ));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("state").requests.clone()
    }

    fn create_locked(state: &mut State, mut object: Value) -> Result<Value, Value> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let collection = collection_of(&api_version, &kind);
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let key = (text("/metadata/namespace"), text("/metadata/name"));
        if state
            .objects
            .get(&collection)
            .is_some_and(|c| c.contains_key(&key))
        {
            return Err(status_body(
                409,
                "AlreadyExists",
                &format!("{} \"{}\" already exists", collection.1, key.1),
            ));
        }
        state.rv += 1;
        state.uid += 1;
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(state.rv.to_string());
        if meta.get("uid").is_none() {
            meta["uid"] = json!(format!("00000000-0000-0000-0000-{:012}", state.uid));
        }
        if meta.get("generation").is_none() {
            meta["generation"] = json!(1);
        }
        if meta.get("creationTimestamp").is_none() {
            meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        state
            .objects
            .entry(collection)
            .or_default()
            .insert(key, object.clone());
        Ok(object)
    }

    async fn handle(&self, req: Request<Body>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        let method = parts.method.to_string();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut state = self.state.lock().expect("state");
        state.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        if let Some(i) = state
            .failures
            .iter()
            .position(|(m, suffix, _, _)| *m == method && path.ends_with(suffix.as_str()))
        {
            let (_, _, code, reason) = state.failures.remove(i);
            return json_response(
                code,
                status_body(code, &reason, &format!("injected {reason}")),
            );
        }
        let Some(target) = parse_path(&path) else {
            return json_response(
                404,
                status_body(404, "NotFound", &format!("no route {path}")),
            );
        };
        let key = |name: &str| {
            (
                target.namespace.clone().unwrap_or_default(),
                name.to_owned(),
            )
        };
        match (method.as_str(), &target.name, target.sub.as_deref()) {
            ("GET", None, _) => {
                let selector = query_param(&query, "labelSelector").map(percent_decode);
                let items: Vec<Value> = state
                    .objects
                    .get(&target.collection)
                    .into_iter()
                    .flatten()
                    .filter(|((ns, _), _)| target.namespace.as_ref().is_none_or(|want| want == ns))
                    .map(|(_, o)| o)
                    .filter(|o| matches_selector(o, selector.as_deref()))
                    .cloned()
                    .collect();
                json_response(
                    200,
                    json!({"apiVersion": "v1", "kind": "List",
                           "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
                )
            }
            ("GET", Some(name), None) => {
                match state
                    .objects
                    .get(&target.collection)
                    .and_then(|c| c.get(&key(name)))
                {
                    Some(o) => json_response(200, o.clone()),
                    None => not_found(&target, name),
                }
            }
            ("POST", None, _) => {
                let mut object = body;
                if let Some(ns) = &target.namespace {
                    object["metadata"]["namespace"] = json!(ns);
                }
                match Self::create_locked(&mut state, object) {
                    Ok(o) => json_response(201, o),
                    Err(status) => json_response(409, status),
                }
            }
            ("PATCH", Some(name), sub) => {
                let key = key(name);
                state.rv += 1;
                let rv = state.rv;
                let Some(object) = state
                    .objects
                    .get_mut(&target.collection)
                    .and_then(|c| c.get_mut(&key))
                else {
                    return not_found(&target, name);
                };
                if sub == Some("status") {
                    // The reconciler applies its whole status under one field manager, so
                    // server-side apply amounts to replacing it.
                    object["status"] = body.get("status").cloned().unwrap_or(Value::Null);
                } else {
                    if let Some(sent) = body.pointer("/metadata/resourceVersion")
                        && Some(sent) != object.pointer("/metadata/resourceVersion")
                    {
                        return json_response(
                            409,
                            status_body(409, "Conflict", "the object has been modified"),
                        );
                    }
                    merge(object, &body);
                }
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                let object = object.clone();
                if is_deleting(&object) && finalizers(&object).is_empty() {
                    // The last finalizer is gone: the deletion completes.
                    if let Some(c) = state.objects.get_mut(&target.collection) {
                        c.remove(&key);
                    }
                }
                json_response(200, object)
            }
            ("DELETE", Some(name), None) => {
                let key = key(name);
                state.rv += 1;
                let rv = state.rv;
                let Some(collection) = state.objects.get_mut(&target.collection) else {
                    return not_found(&target, name);
                };
                let Some(object) = collection.get_mut(&key) else {
                    return not_found(&target, name);
                };
                if finalizers(object).is_empty() {
                    let gone = collection.remove(&key).unwrap_or_default();
                    return json_response(200, gone);
                }
                // Finalizers hold the object: it is only marked for deletion.
                if !is_deleting(object) {
                    object["metadata"]["deletionTimestamp"] = json!(DELETION_TIMESTAMP);
                    object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                }
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                json_response(200, object.clone())
            }
            _ => json_response(
                405,
                status_body(405, "MethodNotAllowed", &format!("{method} {path}")),
            ),
        }
    }
}

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect()
}

fn is_deleting(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

fn json_response(code: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            serde_json::to_vec(&body).unwrap_or_default(),
        )))
        .expect("response")
}
