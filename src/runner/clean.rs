//! `runner clean`: deletes every object under `<bucket>/<prefix>/` through the S3 API.
//!
//! The S3 client is Apache Arrow's `object_store` (`aws-base` with ring signing): a
//! maintained crate with custom endpoints, path-style or virtual-hosted addressing, and
//! the standard credential chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (the
//! Backup's `s3.secretName`), web identity (`AWS_ROLE_ARN` +
//! `AWS_WEB_IDENTITY_TOKEN_FILE`, which EKS injects for IRSA), container credentials,
//! then the instance metadata service (which kube2iam answers, IMDSv1 included). It
//! retries each request on transient errors with back-off. `aws-sdk-s3` was not chosen:
//! several times the build time on this project's 2 cores, and its default HTTPS client
//! brings aws-lc-rs as a second crypto provider.
//!
//! Listing pages through ListObjectsV2 (1,000 keys a page) and deletes each page with
//! one DeleteObjects request; keys whose deletion failed are retried with back-off
//! (already deleted keys count as deleted), and progress is logged per batch.

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore};
use tracing::{info, warn};

use crate::exit::Exit;
use crate::reconcile::clean::{CleanRefusal, CleanTarget, FAILURE_PREFIX};

/// Keys per DeleteObjects request (the S3 maximum).
pub const BATCH: usize = 1000;
/// Region when none is given (as TiDB Operator's clean and BR default to).
pub const DEFAULT_REGION: &str = "us-east-1";

/// What to clean and how to reach it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanConfig {
    pub bucket: String,
    /// As in `spec.s3.prefix`; normalised like the backup wrote it.
    pub prefix: String,
    /// `spec.s3.provider`: decides the addressing style.
    pub provider: String,
    pub region: String,
    /// `spec.s3.endpoint`, e.g. `http://minio:9000`; empty for AWS's own.
    pub endpoint: String,
    /// Attempts per batch before giving up (each request is also retried by the client).
    pub attempts: u32,
    /// Delay before the second attempt of a batch; doubles per attempt.
    pub backoff: Duration,
}

/// Why a clean did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    /// Nothing would make it succeed (exit [`crate::reconcile::clean::EXIT_REFUSED`]: the Job is not retried).
    #[error(transparent)]
    Refused(#[from] CleanRefusal),
    #[error("refusing to clean: {0}")]
    Endpoint(#[from] EndpointError),
    #[error("refusing to clean: prefix {prefix:?}: {source}")]
    Prefix {
        prefix: String,
        #[source]
        source: object_store::path::Error,
    },
    #[error("refusing to clean: cannot configure the S3 client: {0}")]
    Client(#[source] object_store::Error),
    #[error("cannot list {url}: {source}")]
    List {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error(
        "deleted {deleted} objects under {url}, then {failed} of a batch still failed after {attempts} attempts: {last}"
    )]
    Delete {
        url: String,
        deleted: u64,
        failed: usize,
        attempts: u32,
        last: String,
    },
}

impl CleanError {
    /// The exit status: unusable input for refusals (the Job fails at once instead of
    /// retrying, see [`crate::reconcile::clean::EXIT_REFUSED`]), a failure otherwise.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Refused(_) | Self::Endpoint(_) | Self::Prefix { .. } | Self::Client(_) => {
                Exit::Usage
            }
            Self::List { .. } | Self::Delete { .. } => Exit::Failure,
        }
    }

    /// [`CleanError::exit`] as the process exit code.
    pub fn exit_code(&self) -> u8 {
        self.exit().code()
    }
}

/// How the S3 endpoint is addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressing {
    /// The endpoint URL to use (`None`: AWS's regional endpoint).
    pub endpoint: Option<String>,
    /// Virtual-hosted style (`<bucket>.<host>`); else path style (`<host>/<bucket>`).
    pub virtual_hosted: bool,
}

/// An endpoint the S3 client cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("endpoint {0:?} has no scheme (http:// or https://)")]
    NoScheme(String),
    #[error("endpoint {0:?} has no host")]
    NoHost(String),
}

/// Addressing as TiDB Operator's clean does: virtual-hosted for `aws`, `alibaba` and
/// `netease`, path style for every other provider (MinIO, Ceph, …). A virtual-hosted
/// custom endpoint gets the bucket as its first host label.
pub fn addressing(
    provider: &str,
    endpoint: &str,
    bucket: &str,
) -> Result<Addressing, EndpointError> {
    let virtual_hosted = matches!(provider, "aws" | "alibaba" | "netease");
    let endpoint = endpoint.trim().trim_end_matches('/');
    if endpoint.is_empty() {
        return Ok(Addressing {
            endpoint: None,
            virtual_hosted,
        });
    }
    let (scheme, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| EndpointError::NoScheme(endpoint.to_owned()))?;
    if rest.is_empty() {
        return Err(EndpointError::NoHost(endpoint.to_owned()));
    }
    let endpoint = if virtual_hosted {
        format!("{scheme}://{bucket}.{rest}")
    } else {
        endpoint.to_owned()
    };
    Ok(Addressing {
        endpoint: Some(endpoint),
        virtual_hosted,
    })
}

/// The S3 client for `config`: credentials from the environment's AWS chain, the
/// bucket, region and endpoint from `config`.
pub fn store(config: &CleanConfig) -> Result<AmazonS3, CleanError> {
    store_from(AmazonS3Builder::from_env(), config)
}

/// [`store`] on top of `builder` (which may carry credentials of its own).
pub fn store_from(builder: AmazonS3Builder, config: &CleanConfig) -> Result<AmazonS3, CleanError> {
    // reqwest has rustls without a provider and would panic without one; ring is the
    // process's only provider (a second install attempt is a harmless error).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addressing = addressing(&config.provider, &config.endpoint, &config.bucket)?;
    let region = if config.region.is_empty() {
        DEFAULT_REGION
    } else {
        &config.region
    };
    let mut builder = builder
        .with_bucket_name(&config.bucket)
        .with_region(region)
        .with_virtual_hosted_style_request(addressing.virtual_hosted)
        // kube2iam answers only IMDSv1.
        .with_imdsv1_fallback();
    if let Some(endpoint) = &addressing.endpoint {
        builder = builder.with_endpoint(endpoint).with_client_options(
            ClientOptions::new().with_allow_http(endpoint.starts_with("http://")),
        );
    }
    builder.build().map_err(CleanError::Client)
}

/// What a finished clean did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanReport {
    pub target: CleanTarget,
    pub deleted: u64,
}

/// Deletes every object under the target of `config`, with credentials from the
/// environment.
pub async fn clean(config: &CleanConfig) -> Result<CleanReport, CleanError> {
    clean_with(AmazonS3Builder::from_env(), config).await
}

/// [`clean`] with the S3 client built on `builder`. The target is checked before the
/// client is built, so a refusal makes no request at all.
pub async fn clean_with(
    builder: AmazonS3Builder,
    config: &CleanConfig,
) -> Result<CleanReport, CleanError> {
    let target = CleanTarget::new(&config.bucket, &config.prefix)?;
    let prefix = Path::parse(&target.prefix).map_err(|source| CleanError::Prefix {
        prefix: target.prefix.clone(),
        source,
    })?;
    let store = store_from(builder, config)?;
    let url = target.url();
    info!(target = %url, "listing and deleting every object under the prefix");
    let mut listing = store.list(Some(&prefix));
    let mut batch: Vec<Path> = Vec::with_capacity(BATCH);
    let mut deleted: u64 = 0;
    loop {
        let next = listing
            .try_next()
            .await
            .map_err(|source| CleanError::List {
                url: url.clone(),
                source,
            })?;
        let done = next.is_none();
        if let Some(meta) = next {
            batch.push(meta.location);
        }
        if batch.len() == BATCH || (done && !batch.is_empty()) {
            let keys = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            let count = keys.len() as u64;
            delete_batch(&store, keys, config, &url, deleted).await?;
            deleted += count;
            info!(target = %url, batch = count, deleted, "deleted a batch");
        }
        if done {
            break;
        }
    }
    info!(target = %url, deleted, "clean finished");
    Ok(CleanReport { target, deleted })
}

/// Deletes `keys` (one DeleteObjects request), retrying the keys that failed.
async fn delete_batch(
    store: &AmazonS3,
    keys: Vec<Path>,
    config: &CleanConfig,
    url: &str,
    deleted_before: u64,
) -> Result<(), CleanError> {
    let attempts = config.attempts.max(1);
    let mut pending = keys;
    let mut delay = config.backoff;
    let mut attempt = 1;
    let mut deleted_here: u64 = 0;
    loop {
        let input = futures::stream::iter(pending.clone().into_iter().map(Ok)).boxed();
        let results: Vec<_> = store.delete_stream(input).collect().await;
        let mut done = HashSet::new();
        let mut last_error = None;
        for result in results {
            match result {
                Ok(path) => {
                    done.insert(path);
                }
                // Already gone is what a clean wants.
                Err(object_store::Error::NotFound { path, .. }) => {
                    done.insert(Path::from(path));
                }
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        let before = pending.len();
        pending.retain(|key| !done.contains(key));
        deleted_here += (before - pending.len()) as u64;
        let Some(last) = last_error.filter(|_| !pending.is_empty()) else {
            return Ok(());
        };
        if attempt >= attempts {
            return Err(CleanError::Delete {
                url: url.to_owned(),
                deleted: deleted_before + deleted_here,
                failed: pending.len(),
                attempts,
                last,
            });
        }
        warn!(target = %url, failed = pending.len(), attempt, error = %last, "retrying the keys that were not deleted");
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
        attempt += 1;
    }
}

/// `runner clean`: cleans, prints the outcome (on failure the last line says why and
/// starts with `clean failed: `, which the reconciler quotes) and returns the status:
/// success when done, unusable input when refused, a failure otherwise.
pub async fn run(config: &CleanConfig) -> Exit {
    match clean(config).await {
        Ok(report) => {
            println!(
                "deleted {} objects under {}",
                report.deleted,
                report.target.url()
            );
            Exit::Success
        }
        Err(e) => {
            eprintln!("{FAILURE_PREFIX}{e}");
            e.exit()
        }
    }
}
