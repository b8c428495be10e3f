//! A real S3-protocol server for the tests: s3s-fs (an S3 implementation over a
//! directory) served in-process on 127.0.0.1 with signature checking on, one bucket.
//! Objects are files under the bucket's directory; every request is recorded as
//! `METHOD query`. Shared by the runner tests and the end-to-end tests.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

pub const ACCESS_KEY: &str = "AKIDTESTCLEAN";
pub const SECRET_KEY: &str = "secret-for-the-clean-tests";
pub const BUCKET: &str = "backups";

pub struct S3Server {
    addr: SocketAddr,
    root: tempfile::TempDir,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3Server {
    /// Starts serving on the current tokio runtime (it serves while that runtime runs).
    pub async fn start() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket dir");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let service = service.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        seen.lock().expect("requests").push(format!(
                            "{} {}",
                            req.method(),
                            req.uri().query().unwrap_or_default()
                        ));
                        hyper::service::Service::call(&service, req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            root,
            requests,
            task,
        }
    }

    /// Stores an object (written into the directory s3s-fs serves).
    pub fn put(&self, key: &str) {
        let path = self.root.path().join(BUCKET).join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(&path, format!("data of {key}")).expect("object");
    }

    /// Every object key in the bucket, read from the directory s3s-fs serves.
    pub fn keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        collect(&self.root.path().join(BUCKET), "", &mut keys);
        keys
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `METHOD query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

fn collect(dir: &Path, prefix: &str, keys: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = format!("{prefix}{name}");
        if entry.file_type().expect("type").is_dir() {
            collect(&entry.path(), &format!("{key}/"), keys);
        } else if !name.starts_with(".bucket-") && !name.starts_with(".tmp.") {
            keys.insert(key);
        }
    }
}
