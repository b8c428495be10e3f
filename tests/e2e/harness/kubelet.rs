//! The parts of a cluster the control plane lacks, played by the tests: the job
//! controller (it creates a Job's pod and writes the Job's status) and the kubelet (it
//! writes the pod's status and serves its container logs).
//!
//! The kubelet is an HTTPS server on loopback registered as Node [`NODE`]: its address
//! and port are in the Node's status, so the apiserver's `pods/log` requests for pods
//! bound to it reach this server (the apiserver verifies no kubelet certificate unless
//! told a CA). It serves only `/containerLogs/NAMESPACE/POD/CONTAINER`, with the text a
//! test set for that container, `tailLines` applied. Pods are bound to the Node at
//! creation (no scheduler), so their logs flow through the real apiserver to the
//! reconciler, with the reconciler's `pods/log` permission checked on the way.
//!
//! Pods end in a terminal phase before their namespace goes: the apiserver deletes
//! those at once, while a running pod on a node waits for its kubelet to confirm.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::Env;

/// The Node the kubelet serves.
pub const NODE: &str = "e2e-node";

type Logs = Arc<Mutex<HashMap<(String, String, String), String>>>;

struct Kubelet {
    logs: Logs,
}

static KUBELET: OnceLock<Result<Kubelet, String>> = OnceLock::new();

fn kubelet(env: &Env) -> &'static Kubelet {
    KUBELET
        .get_or_init(|| start(env))
        .as_ref()
        .unwrap_or_else(|e| panic!("the test kubelet did not start: {e}"))
}

fn start(env: &Env) -> Result<Kubelet, String> {
    let logs: Logs = Arc::default();
    let port = env.block_on(serve(logs.clone()))?;
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": NODE, "labels": { "kubernetes.io/hostname": NODE } },
    });
    let created = env
        .kubectl()
        .run_with_stdin(&["apply", "-f", "-"], Some(&node.to_string()));
    if !created.status.success() {
        return Err(created.to_string());
    }
    let status = json!({ "status": {
        "addresses": [{ "type": "InternalIP", "address": "127.0.0.1" }],
        "daemonEndpoints": { "kubeletEndpoint": { "Port": port } },
    }});
    let patched = env.kubectl().run(&[
        "patch",
        "node",
        NODE,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
    if !patched.status.success() {
        return Err(patched.to_string());
    }
    Ok(Kubelet { logs })
}

/// Serves container logs over TLS on a free loopback port (on the harness's runtime, for
/// the rest of the run); returns the port.
async fn serve(logs: Logs) -> Result<u16, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .and_then(|params| params.self_signed(&key))
        .map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let logs = logs.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let response = container_log(&logs, request.uri());
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(port)
}

/// `GET /containerLogs/NAMESPACE/POD/CONTAINER[?tailLines=N]`: the stored text.
fn container_log(logs: &Logs, uri: &hyper::Uri) -> hyper::Response<Full<Bytes>> {
    let parts: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let text = match parts.as_slice() {
        ["containerLogs", namespace, pod, container] => logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(
                (*namespace).to_owned(),
                (*pod).to_owned(),
                (*container).to_owned(),
            ))
            .cloned(),
        _ => None,
    };
    let Some(text) = text else {
        return hyper::Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(b"no such container log\n")))
            .expect("a response");
    };
    let tail = uri.query().unwrap_or_default().split('&').find_map(|kv| {
        kv.strip_prefix("tailLines=")
            .and_then(|n| n.parse::<usize>().ok())
    });
    let lines: Vec<&str> = text.lines().collect();
    let shown = match tail {
        Some(n) => lines[lines.len().saturating_sub(n)..].join("\n") + "\n",
        None => text.clone(),
    };
    hyper::Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(shown)))
        .expect("a response")
}

/// One run of a Job's pod, as the job controller and the kubelet play it.
pub struct PodRun<'a> {
    env: &'a Env,
    pub namespace: String,
    pub job: String,
    /// The pod's name (generated by the apiserver).
    pub pod: String,
    /// The Job's one container.
    pub container: String,
}

impl<'a> PodRun<'a> {
    /// As the job controller: creates Job `job`'s pod from its template (owned by the Job,
    /// bound to [`NODE`]) and records it in the Job's status (`startTime`, `active`).
    pub fn create(env: &'a Env, namespace: &str, job: &str) -> Self {
        kubelet(env);
        let jobs: Api<Job> = Api::namespaced(env.client(), namespace);
        let pods: Api<Pod> = Api::namespaced(env.client(), namespace);
        let stored = env
            .block_on(jobs.get(job))
            .unwrap_or_else(|e| panic!("Job {namespace}/{job}: {e}"));
        let stored = serde_json::to_value(&stored).expect("a Job serialises");
        let template = &stored["spec"]["template"];
        let container = template["spec"]["containers"][0]["name"]
            .as_str()
            .expect("the Job's container has a name")
            .to_owned();
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": template["metadata"].clone(),
            "spec": template["spec"].clone(),
        });
        pod["metadata"]["generateName"] = json!(format!("{job}-"));
        pod["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job,
            "uid": stored["metadata"]["uid"],
            "controller": true,
            "blockOwnerDeletion": true,
        }]);
        pod["spec"]["nodeName"] = json!(NODE);
        let pod: Pod = serde_json::from_value(pod).expect("a Pod");
        let created = env
            .block_on(pods.create(&PostParams::default(), &pod))
            .unwrap_or_else(|e| panic!("creating the pod of Job {namespace}/{job}: {e}"));
        let run = Self {
            env,
            namespace: namespace.to_owned(),
            job: job.to_owned(),
            pod: created.metadata.name.expect("a generated name"),
            container,
        };
        run.job_status(json!({ "startTime": now(), "active": 1 }));
        run
    }

    /// As the kubelet: the pod runs, its container started now.
    pub fn running(&self) {
        self.pod_status(json!({
            "phase": "Running",
            "startTime": now(),
            "containerStatuses": [{
                "name": self.container,
                "image": self.image(),
                "imageID": "",
                "ready": true,
                "restartCount": 0,
                "started": true,
                "state": { "running": { "startedAt": now() } },
            }],
        }));
    }

    /// As the kubelet: the container printed `log` and exited with `exit_code`; the pod
    /// is `Succeeded` or `Failed` accordingly. The log is served from now on.
    pub fn exited(&self, log: &str, exit_code: i32) {
        kubelet(self.env)
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (
                    self.namespace.clone(),
                    self.pod.clone(),
                    self.container.clone(),
                ),
                log.to_owned(),
            );
        let started = self.container_started().unwrap_or_else(now);
        self.pod_status(json!({
            "phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
            "containerStatuses": [{
                "name": self.container,
                "image": self.image(),
                "imageID": "",
                "ready": false,
                "restartCount": 0,
                "started": false,
                "state": { "terminated": {
                    "exitCode": exit_code,
                    "reason": if exit_code == 0 { "Completed" } else { "Error" },
                    "startedAt": started,
                    "finishedAt": now(),
                } },
            }],
        }));
    }

    /// As the job controller: the Job succeeded (see [`complete_job`]).
    pub fn complete_job(&self) {
        complete_job(self.env, &self.namespace, &self.job);
    }

    /// As the job controller: the Job failed with `reason` and `message`
    /// (`FailureTarget`, then `Failed`).
    pub fn fail_job(&self, reason: &str, message: &str) {
        fail_job(self.env, &self.namespace, &self.job, reason, message, 1);
    }

    /// As the kubelet, for a container of this project's image (whose entrypoint is
    /// `tidb-backup-webhook`): runs its `args` on this machine with the container's
    /// environment (`value`s, and `secretKeyRef`s read from the Secrets through the
    /// apiserver) and nothing else, marks the pod running meanwhile, then exited with
    /// the command's status, its output being the container log. Returns (exit code,
    /// output).
    pub fn run_on_host(&self) -> (i32, String) {
        let pod = self.pod_json();
        let container = &pod["spec"]["containers"][0];
        assert!(
            container["command"].is_null(),
            "the image's entrypoint runs: {container}"
        );
        let args: Vec<String> = container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        let mut cmd = std::process::Command::new(super::webhook::BIN);
        cmd.args(&args).env_clear();
        for variable in container["env"].as_array().into_iter().flatten() {
            let name = variable["name"].as_str().expect("an env name");
            let value = match variable["value"].as_str() {
                Some(value) => value.to_owned(),
                None => self.secret_key(&variable["valueFrom"]["secretKeyRef"]),
            };
            cmd.env(name, value);
        }
        self.running();
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("running {args:?} on the host: {e}"));
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let code = output.status.code().unwrap_or(-1);
        self.exited(&log, code);
        (code, log)
    }

    /// The value a `secretKeyRef` points at, read through the apiserver.
    fn secret_key(&self, reference: &Value) -> String {
        use base64::Engine;
        let secret = reference["name"].as_str().expect("a secret name");
        let key = reference["key"].as_str().expect("a secret key");
        let output = self.env.kubectl().ok(&[
            "-n",
            &self.namespace,
            "get",
            "secret",
            secret,
            "-o",
            &format!("jsonpath={{.data.{key}}}"),
        ]);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(output.stdout.trim())
            .unwrap_or_else(|e| panic!("secret {secret} key {key}: {e}"));
        String::from_utf8(bytes).expect("a UTF-8 secret value")
    }

    /// The pod's container's image (from its spec).
    fn image(&self) -> String {
        self.pod_json()["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn container_started(&self) -> Option<String> {
        self.pod_json()["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
            .as_str()
            .map(str::to_owned)
    }

    fn pod_json(&self) -> Value {
        let pods: Api<Pod> = Api::namespaced(self.env.client(), &self.namespace);
        let pod = self
            .env
            .block_on(pods.get(&self.pod))
            .unwrap_or_else(|e| panic!("pod {}/{}: {e}", self.namespace, self.pod));
        serde_json::to_value(pod).expect("a Pod serialises")
    }

    fn pod_status(&self, status: Value) {
        let pods: Api<Pod> = Api::namespaced(self.env.client(), &self.namespace);
        self.env
            .block_on(pods.patch_status(
                &self.pod,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            ))
            .unwrap_or_else(|e| panic!("the status of pod {}/{}: {e}", self.namespace, self.pod));
    }

    fn job_status(&self, status: Value) {
        job_status(self.env, &self.namespace, &self.job, status);
    }
}

/// As the job controller: Job `job` failed (no pod needed: e.g. its pods never started),
/// with `failed` pods counted.
pub fn fail_job(env: &Env, namespace: &str, job: &str, reason: &str, message: &str, failed: i32) {
    let at = now();
    let mut status = json!({
        "active": 0,
        "failed": failed,
        "conditions": [
            { "type": "FailureTarget", "status": "True", "reason": reason, "message": message,
              "lastProbeTime": at, "lastTransitionTime": at },
            { "type": "Failed", "status": "True", "reason": reason, "message": message,
              "lastProbeTime": at, "lastTransitionTime": at },
        ],
    });
    if !has_started(env, namespace, job) {
        status["startTime"] = json!(at);
    }
    job_status(env, namespace, job, status);
}

/// As the job controller: Job `job` succeeded (`SuccessCriteriaMet`, then `Complete`,
/// with `completionTime`, as the controller writes them; `startTime` too when no pod
/// set it).
pub fn complete_job(env: &Env, namespace: &str, job: &str) {
    let at = now();
    let mut status = json!({
        "active": 0,
        "succeeded": 1,
        "completionTime": at,
        "conditions": [
            { "type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
              "message": "Reached expected number of succeeded pods", "lastProbeTime": at, "lastTransitionTime": at },
            { "type": "Complete", "status": "True", "reason": "CompletionsReached",
              "message": "Reached expected number of succeeded pods", "lastProbeTime": at, "lastTransitionTime": at },
        ],
    });
    if !has_started(env, namespace, job) {
        status["startTime"] = json!(at);
    }
    job_status(env, namespace, job, status);
}

fn has_started(env: &Env, namespace: &str, job: &str) -> bool {
    let jobs: Api<Job> = Api::namespaced(env.client(), namespace);
    env.block_on(jobs.get(job))
        .unwrap_or_else(|e| panic!("Job {namespace}/{job}: {e}"))
        .status
        .is_some_and(|s| s.start_time.is_some())
}

fn job_status(env: &Env, namespace: &str, job: &str, status: Value) {
    let jobs: Api<Job> = Api::namespaced(env.client(), namespace);
    env.block_on(jobs.patch_status(
        job,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    ))
    .unwrap_or_else(|e| panic!("the status of Job {namespace}/{job}: {e}"));
}

/// Now, to the second (as the Kubernetes components write times).
fn now() -> String {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}
