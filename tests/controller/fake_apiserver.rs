//! An in-memory fake apiserver behind a kube `Client`: create (AlreadyExists), get, list
//! and watch with label selectors, replace with resourceVersion conflicts, merge and
//! apply patches (the status subresource replaces `status`; a merge patch carrying a
//! stale resourceVersion conflicts), delete (with a uid precondition; with finalizers:
//! deletionTimestamp, then removal when the last finalizer goes), creates refused in a
//! terminating namespace (NamespaceLifecycle's 403), pod logs, and one-shot failure
//! injection. Every request is recorded for assertions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::sync::broadcast;

type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// `(api prefix, resource)`, e.g. `("/apis/batch/v1", "jobs")`.
type Collection = (String, String);

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    /// Decoded JSON request body (`null` when empty or not JSON).
    pub body: Value,
}

#[derive(Clone, Debug)]
struct WatchEvent {
    collection: Collection,
    rv: u64,
    kind: &'static str,
    object: Value,
}

struct State {
    objects: BTreeMap<Collection, BTreeMap<(String, String), Value>>,
    logs: HashMap<(String, String), String>,
    requests: Vec<Recorded>,
    history: Vec<WatchEvent>,
    rv: u64,
    uid: u64,
    /// `(method, path suffix, code, reason)`, each used once.
    failures: Vec<(String, String, u16, String)>,
    /// Namespaces being deleted: creates in them are refused.
    terminating: HashSet<String>,
}

/// When the fake's DELETE marks an object that has finalizers.
pub const DELETION_TIMESTAMP: &str = "2026-01-01T00:20:00Z";

#[derive(Clone)]
pub struct FakeApiServer {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<WatchEvent>,
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
        "Lease" => "leases",
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
        let (events, _) = broadcast::channel(1024);
        Self {
            state: Arc::new(Mutex::new(State {
                objects: BTreeMap::new(),
                logs: HashMap::new(),
                requests: Vec::new(),
                history: Vec::new(),
                rv: 100,
                uid: 0,
                failures: Vec::new(),
                terminating: HashSet::new(),
            })),
            events,
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
        Self::create_locked(&mut state, object, &self.events).expect("insert")
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
        let collection = collection_of(api_version, kind);
        let object = state
            .objects
            .get_mut(&collection)
            .and_then(|c| c.get_mut(&(namespace.to_owned(), name.to_owned())))
            .expect("object to update exists");
        merge(object, &patch);
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let object = object.clone();
        Self::publish(&mut state, &self.events, collection, rv, "MODIFIED", object);
    }

    pub fn set_log(&self, namespace: &str, pod: &str, log: &str) {
        self.state
            .lock()
            .expect("state")
            .logs
            .insert((namespace.to_owned(), pod.to_owned()), log.to_owned());
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

    /// The namespace is being deleted: from now on every create in it is refused.
    pub fn terminate_namespace(&self, namespace: &str) {
        self.state
            .lock()
            .expect("state")
            .terminating
            .insert(namespace.to_owned());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("state").requests.clone()
    }

    fn publish(
        state: &mut State,
        events: &broadcast::Sender<WatchEvent>,
        collection: Collection,
        rv: u64,
        kind: &'static str,
        object: Value,
    ) {
        let event = WatchEvent {
            collection,
            rv,
            kind,
            object,
        };
        state.history.push(event.clone());
        let _ = events.send(event);
    }

    fn create_locked(
        state: &mut State,
        mut object: Value,
        events: &broadcast::Sender<WatchEvent>,
    ) -> Result<Value, Value> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let collection = collection_of(&api_version, &kind);
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let key = (namespace, name.clone());
        if state
            .objects
            .get(&collection)
            .is_some_and(|c| c.contains_key(&key))
        {
            return Err(status_body(
                409,
                "AlreadyExists",
                &format!("{} \"{name}\" already exists", collection.1),
            ));
        }
        state.rv += 1;
        state.uid += 1;
        let rv = state.rv;
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(rv.to_string());
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
            .entry(collection.clone())
            .or_default()
            .insert(key, object.clone());
        Self::publish(state, events, collection, rv, "ADDED", object.clone());
        Ok(object)
    }

    async fn handle(&self, req: Request<Body>) -> Response<ResponseBody> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect_bytes().await.unwrap_or_default();
        let method = parts.method.to_string();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut state = self.state.lock().expect("state");
        state.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
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
        if path == "/version" {
            return json_response(
                200,
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0"}),
            );
        }
        let Some(target) = parse_path(&path) else {
            return json_response(
                404,
                status_body(404, "NotFound", &format!("no route {path}")),
            );
        };
        let selector = query_param(&query, "labelSelector").map(percent_decode);
        match (method.as_str(), &target.name, target.sub.as_deref()) {
            ("GET", None, _) if query_param(&query, "watch") == Some("true") => {
                let since: u64 = query_param(&query, "resourceVersion")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let backlog: Vec<WatchEvent> = state
                    .history
                    .iter()
                    .filter(|e| e.collection == target.collection && e.rv > since)
                    .cloned()
                    .collect();
                drop(state);
                self.watch(target, selector, backlog)
            }
            ("GET", None, _) => {
                let items: Vec<Value> = state
                    .objects
                    .get(&target.collection)
                    .map(|c| {
                        c.iter()
                            .filter(|((ns, _), _)| {
                                target.namespace.as_ref().is_none_or(|want| want == ns)
                            })
                            .map(|(_, o)| o)
                            .filter(|o| matches_selector(o, selector.as_deref()))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                json_response(
                    200,
                    json!({"apiVersion": "v1", "kind": "List",
                    "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
                )
            }
            ("GET", Some(name), Some("log")) => {
                let ns = target.namespace.clone().unwrap_or_default();
                match state.logs.get(&(ns, name.clone())) {
                    Some(log) => Response::builder()
                        .status(200)
                        .header("content-type", "text/plain")
                        .body(Full::new(Bytes::from(log.clone())).boxed_unsync())
                        .expect("response"),
                    None => json_response(404, status_body(404, "NotFound", "no log")),
                }
            }
            ("GET", Some(name), _) => {
                let key = (target.namespace.clone().unwrap_or_default(), name.clone());
                match state
                    .objects
                    .get(&target.collection)
                    .and_then(|c| c.get(&key))
                {
                    Some(o) => json_response(200, o.clone()),
                    None => json_response(
                        404,
                        status_body(
                            404,
                            "NotFound",
                            &format!("{} \"{name}\" not found", target.collection.1),
                        ),
                    ),
                }
            }
            ("POST", None, _) => {
                let mut object = body;
                if let Some(ns) = &target.namespace {
                    if state.terminating.contains(ns) {
                        return json_response(403, namespace_terminating(&target, ns, &object));
                    }
                    object["metadata"]["namespace"] = json!(ns);
                }
                if object.pointer("/apiVersion").is_none() || object.pointer("/kind").is_none() {
                    return json_response(
                        400,
                        status_body(400, "BadRequest", "apiVersion and kind required"),
                    );
                }
                match Self::create_locked(&mut state, object, &self.events) {
                    Ok(o) => json_response(201, o),
                    Err(status) => json_response(409, status),
                }
            }
            ("PUT", Some(name), _) => {
                let key = (target.namespace.clone().unwrap_or_default(), name.clone());
                let current_rv = state
                    .objects
                    .get(&target.collection)
                    .and_then(|c| c.get(&key))
                    .and_then(|o| o.pointer("/metadata/resourceVersion").cloned());
                let Some(current_rv) = current_rv else {
                    return json_response(404, status_body(404, "NotFound", "not found"));
                };
                if let Some(sent) = body.pointer("/metadata/resourceVersion")
                    && *sent != current_rv
                {
                    return json_response(
                        409,
                        status_body(409, "Conflict", "the object has been modified"),
                    );
                }
                state.rv += 1;
                let rv = state.rv;
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                state
                    .objects
                    .entry(target.collection.clone())
                    .or_default()
                    .insert(key, object.clone());
                Self::publish(
                    &mut state,
                    &self.events,
                    target.collection,
                    rv,
                    "MODIFIED",
                    object.clone(),
                );
                json_response(200, object)
            }
            ("PATCH", Some(name), sub) => {
                let key = (target.namespace.clone().unwrap_or_default(), name.clone());
                state.rv += 1;
                let rv = state.rv;
                let Some(object) = state
                    .objects
                    .get_mut(&target.collection)
                    .and_then(|c| c.get_mut(&key))
                else {
                    return json_response(
                        404,
                        status_body(
                            404,
                            "NotFound",
                            &format!("{} \"{name}\" not found", target.collection.1),
                        ),
                    );
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
                    let mut patched = object.clone();
                    merge(&mut patched, &body);
                    if let Some(added) = added_finalizer_while_deleting(object, &patched) {
                        return json_response(
                            422,
                            status_body(
                                422,
                                "Invalid",
                                &format!(
                                    "{} \"{name}\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{added}\"}}",
                                    target.collection.1
                                ),
                            ),
                        );
                    }
                    *object = patched;
                }
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                let object = object.clone();
                if is_deleting(&object) && finalizers(&object).is_empty() {
                    // The last finalizer is gone: the deletion completes.
                    if let Some(c) = state.objects.get_mut(&target.collection) {
                        c.remove(&key);
                    }
                    Self::publish(
                        &mut state,
                        &self.events,
                        target.collection,
                        rv,
                        "DELETED",
                        object.clone(),
                    );
                    return json_response(200, object);
                }
                Self::publish(
                    &mut state,
                    &self.events,
                    target.collection,
                    rv,
                    "MODIFIED",
                    object.clone(),
                );
                json_response(200, object)
            }
            ("DELETE", Some(name), _) => {
                let key = (target.namespace.clone().unwrap_or_default(), name.clone());
                let stored_uid = state
                    .objects
                    .get(&target.collection)
                    .and_then(|c| c.get(&key))
                    .and_then(|o| o.pointer("/metadata/uid").cloned());
                if let (Some(want), Some(uid)) =
                    (body.pointer("/preconditions/uid"), stored_uid.as_ref())
                    && want != uid
                {
                    return json_response(
                        409,
                        status_body(409, "Conflict", "Precondition failed: UID in precondition"),
                    );
                }
                let has_finalizers = state
                    .objects
                    .get(&target.collection)
                    .and_then(|c| c.get(&key))
                    .is_some_and(|o| !finalizers(o).is_empty());
                if has_finalizers {
                    // Finalizers hold the object: it is only marked for deletion.
                    state.rv += 1;
                    let rv = state.rv;
                    let Some(object) = state
                        .objects
                        .get_mut(&target.collection)
                        .and_then(|c| c.get_mut(&key))
                    else {
                        return json_response(404, status_body(404, "NotFound", "not found"));
                    };
                    if !is_deleting(object) {
                        object["metadata"]["deletionTimestamp"] = json!(DELETION_TIMESTAMP);
                        object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                    }
                    object["metadata"]["resourceVersion"] = json!(rv.to_string());
                    let object = object.clone();
                    Self::publish(
                        &mut state,
                        &self.events,
                        target.collection,
                        rv,
                        "MODIFIED",
                        object.clone(),
                    );
                    return json_response(200, object);
                }
                match state
                    .objects
                    .get_mut(&target.collection)
                    .and_then(|c| c.remove(&key))
                {
                    Some(o) => {
                        state.rv += 1;
                        let rv = state.rv;
                        Self::publish(
                            &mut state,
                            &self.events,
                            target.collection,
                            rv,
                            "DELETED",
                            o.clone(),
                        );
                        json_response(200, o)
                    }
                    None => json_response(404, status_body(404, "NotFound", "not found")),
                }
            }
            _ => json_response(
                405,
                status_body(405, "MethodNotAllowed", &format!("{method} {path}")),
            ),
        }
    }

    /// A watch: the backlog after the requested resourceVersion, then live events, as
    /// newline-delimited JSON; the body never ends (like a real watch until its timeout).
    fn watch(
        &self,
        target: Target,
        selector: Option<String>,
        backlog: Vec<WatchEvent>,
    ) -> Response<ResponseBody> {
        let live = tokio_stream_from(self.events.subscribe());
        let wanted = move |e: &WatchEvent| {
            e.collection == target.collection
                && target.namespace.as_ref().is_none_or(|ns| {
                    e.object
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        == Some(ns.as_str())
                })
                && matches_selector(&e.object, selector.as_deref())
        };
        let last_backlog = backlog.last().map(|e| e.rv).unwrap_or(0);
        let wanted_backlog = wanted.clone();
        let stream = futures::stream::iter(backlog.into_iter().filter(move |e| wanted_backlog(e)))
            .chain(live.filter(move |e| {
                let keep = e.rv > last_backlog && wanted(e);
                async move { keep }
            }))
            .map(|e| {
                let line = serde_json::to_vec(&json!({"type": e.kind, "object": e.object}))
                    .unwrap_or_default();
                let mut bytes = line;
                bytes.push(b'\n');
                Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(bytes)))
            });
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(BodyExt::boxed_unsync(StreamBody::new(stream)))
            .expect("response")
    }
}

fn tokio_stream_from(
    rx: broadcast::Receiver<WatchEvent>,
) -> impl futures::Stream<Item = WatchEvent> + Send {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
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

/// A finalizer `new` adds to an object that `old` shows being deleted (the apiserver's
/// metadata validation refuses that).
fn added_finalizer_while_deleting(old: &Value, new: &Value) -> Option<String> {
    if !is_deleting(old) {
        return None;
    }
    let before = finalizers(old);
    finalizers(new).into_iter().find(|f| !before.contains(f))
}

/// NamespaceLifecycle's refusal of a create in a terminating namespace: 403 Forbidden,
/// `<resource>.<group> "<name>" is forbidden: …`, and the cause `NamespaceTerminating`.
fn namespace_terminating(target: &Target, namespace: &str, object: &Value) -> Value {
    let group = target
        .collection
        .0
        .strip_prefix("/apis/")
        .and_then(|gv| gv.split('/').next())
        .unwrap_or_default();
    let resource = &target.collection.1;
    let qualified = if group.is_empty() {
        resource.clone()
    } else {
        format!("{resource}.{group}")
    };
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reason = format!(
        "unable to create new content in namespace {namespace} because it is being terminated"
    );
    let message = if name.is_empty() {
        format!("{qualified} is forbidden: {reason}")
    } else {
        format!("{qualified} \"{name}\" is forbidden: {reason}")
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": "Forbidden",
           "details": {"name": name, "group": group, "kind": resource,
                       "causes": [{"reason": "NamespaceTerminating",
                                   "message": format!("namespace {namespace} is being terminated"),
                                   "field": "metadata.namespace"}]},
           "code": 403})
}

fn json_response(code: u16, body: Value) -> Response<ResponseBody> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap_or_default())).boxed_unsync())
        .expect("response")
}
