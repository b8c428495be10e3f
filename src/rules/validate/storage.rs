//! Storage providers: TiDB Operator's `validateS3`/`validateGcs`/`validateLocal`
//! (release-1.6 `pkg/backup/util/util.go`), plus the values BR and the storage service
//! reject at run time.

use super::super::finding::Findings;
use super::super::go_url;
use super::super::names::check_subdomain;
use super::super::suggest::{closest, unsupported};
use super::super::vocab::*;
use crate::api::{
    AzblobStorageProvider, GcsStorageProvider, LocalStorageProvider, S3StorageProvider,
    StorageKind, StorageRef,
};

/// What runs against the storage, which decides what it must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageUse {
    /// A Backup (or a schedule template that becomes one): exactly one provider needed.
    Backup { dumpling: bool },
}

/// Checks the providers of one spec; `prefix` is the spec's path.
pub fn check_storage(storage: StorageRef, usage: StorageUse, prefix: &str, f: &mut Findings) {
    let kinds = storage.kinds();
    let StorageUse::Backup { dumpling } = usage;
    match kinds.as_slice() {
        // GetStorageType: "unknown"; the Job builder then fails ("storage unknown not
        // supported yet") and the backup never runs.
        [] => f.error(
            prefix,
            "no storage provider: set exactly one of s3, gcs, azblob or local",
        ),
        [_] => {}
        [first, ..] => f.warn(
            prefix,
            format!(
                "several storage providers set ({}): TiDB Operator uses only {} (GetStorageType's order s3, gcs, azblob, local); remove the others",
                kinds
                    .iter()
                    .map(|k| k.field())
                    .collect::<Vec<_>>()
                    .join(", "),
                first.field()
            ),
        ),
    }
    // Dumpling's export Job reads the bucket of s3 or gcs only (GetBackupBucketName:
    // "UnsupportedStorageType" otherwise).
    if dumpling && let Some(kind @ (StorageKind::Azblob | StorageKind::Local)) = storage.kind() {
        f.error(
            format!("{prefix}.{}", kind.field()),
            "Dumpling backups (no spec.br) can only be written to s3 or gcs; TiDB Operator fails them with UnsupportedStorageType. Add spec.br to back up with BR",
        );
    }
    if let Some(s3) = storage.s3 {
        check_s3(s3, &format!("{prefix}.s3"), f);
    }
    if let Some(gcs) = storage.gcs {
        check_gcs(gcs, &format!("{prefix}.gcs"), f);
    }
    if let Some(azblob) = storage.azblob {
        check_azblob(azblob, &format!("{prefix}.azblob"), f);
    }
    if let Some(local) = storage.local {
        check_local(local, &format!("{prefix}.local"), f);
    }
}

fn check_secret_name(name: &str, path: String, f: &mut Findings) {
    if !name.is_empty()
        && let Some(problem) = check_subdomain(name)
    {
        f.error(path, problem);
    }
}

fn check_s3(s3: &S3StorageProvider, path: &str, f: &mut Findings) {
    let p = |field: &str| format!("{path}.{field}");
    let aws = s3.provider == "aws";
    let known_provider = S3_PROVIDERS.contains(&s3.provider.as_str());
    // The CRD requires `provider`; BR itself takes any name (it only special-cases a few).
    if s3.provider.is_empty() {
        f.error(
            p("provider"),
            format!("required: one of {}", S3_PROVIDERS.join(", ")),
        );
    } else if !known_provider {
        let hint = closest(&s3.provider, S3_PROVIDERS)
            .map(|c| format!("did you mean {c:?}? "))
            .unwrap_or_default();
        f.warn(
            p("provider"),
            format!(
                "{:?} is not a provider BR knows; {hint}BR treats it as a generic S3-compatible store (known: {})",
                s3.provider,
                S3_PROVIDERS.join(", ")
            ),
        );
    }
    // validateS3: "bucket should be configured for BR".
    if s3.bucket.is_empty() {
        f.error(
            p("bucket"),
            "required: name of the bucket to write the backup to",
        );
    }
    if !s3.endpoint.is_empty() {
        check_endpoint(&s3.endpoint, &s3.provider, &p("endpoint"), f);
    } else if !aws && known_provider {
        f.warn(
            p("endpoint"),
            format!(
                "not set for provider {:?}: BR will contact Amazon S3; set the endpoint URL, e.g. \"http://minio:9000\"",
                s3.provider
            ),
        );
    }
    if !s3.acl.is_empty() {
        if !S3_ACLS.contains(&s3.acl.as_str()) {
            // Amazon S3 rejects the upload; other stores may know more ACLs.
            if aws {
                f.error(p("acl"), unsupported(&s3.acl, S3_ACLS));
            } else {
                f.warn(
                    p("acl"),
                    format!(
                        "{:?} is not an S3 canned ACL; make sure provider {:?} accepts it",
                        s3.acl, s3.provider
                    ),
                );
            }
        } else if PUBLIC_S3_ACLS.contains(&s3.acl.as_str()) {
            f.warn(
                p("acl"),
                format!("{:?} makes backup data readable by others; use \"private\" unless that is intended", s3.acl),
            );
        }
    }
    if !s3.storage_class.is_empty() {
        let known = S3_STORAGE_CLASSES.contains(&s3.storage_class.as_str());
        if aws && !known {
            f.error(
                p("storageClass"),
                unsupported(&s3.storage_class, S3_STORAGE_CLASSES),
            );
        } else if !known {
            f.warn(
                p("storageClass"),
                format!(
                    "{:?} is not an Amazon S3 storage class; make sure provider {:?} supports it",
                    s3.storage_class, s3.provider
                ),
            );
        } else if ARCHIVE_S3_STORAGE_CLASSES.contains(&s3.storage_class.as_str()) {
            f.warn(
                p("storageClass"),
                format!(
                    "{}: objects must be restored from the archive before BR can read them",
                    s3.storage_class
                ),
            );
        }
    }
    if aws && s3.region.is_empty() {
        f.warn(
            p("region"),
            "not set: set the bucket's region (e.g. us-west-1), or BR may not find the bucket",
        );
    }
    check_secret_name(&s3.secret_name, p("secretName"), f);
}

/// Go `net/url` rules TiDB Operator applies to `s3.endpoint`, with a hint for each case.
fn check_endpoint(endpoint: &str, provider: &str, path: &str, f: &mut Findings) {
    let with_scheme = format!("http://{endpoint}");
    match go_url::parse(endpoint) {
        Err(err) => {
            // Suggest a scheme only where one is missing and adding it yields a host.
            let hint = if !endpoint.contains("://")
                && go_url::parse(&with_scheme).is_ok_and(|u| !u.hostname().is_empty())
            {
                format!("; did you mean {with_scheme:?} or \"https://{endpoint}\"?")
            } else {
                String::new()
            };
            f.error(path, format!("invalid endpoint {endpoint:?}: {err}{hint}"));
        }
        Ok(url) if url.scheme.is_empty() => f.error(
            path,
            format!(
                "scheme not found in endpoint {endpoint:?}: add http:// or https://, e.g. \"https://{}\"",
                endpoint.trim_start_matches('/')
            ),
        ),
        Ok(url) if url.host.is_empty() => {
            let hint = if !url.opaque.is_empty() {
                format!(
                    "; {endpoint:?} reads as scheme {:?}, did you mean {with_scheme:?}?",
                    url.scheme
                )
            } else {
                String::new()
            };
            f.error(path, format!("host not found in endpoint {endpoint:?}{hint}"));
        }
        Ok(url) => {
            if url.scheme != "http" && url.scheme != "https" {
                f.warn(
                    path,
                    format!("scheme {:?}: BR's S3 client expects http or https", url.scheme),
                );
            } else if provider == "ceph" && url.scheme != "http" {
                // generateS3CertEnvVar: "ceph endpoint URI %s must start with http://",
                // RetryFailed (InvalidS3Endpoint) and requeued forever.
                f.error(
                    path,
                    format!(
                        "TiDB Operator requires ceph endpoints to start with http:// and never creates the Job otherwise; use {:?} (or provider \"other\" for an https endpoint)",
                        format!("http://{}", url.host)
                    ),
                );
            }
        }
    }
}

fn check_gcs(gcs: &GcsStorageProvider, path: &str, f: &mut Findings) {
    let p = |field: &str| format!("{path}.{field}");
    // validateGcs: "projectId should be configured", "bucket should be configured".
    if gcs.project_id.is_empty() {
        f.error(p("projectId"), "required: the GCP project of the bucket");
    }
    if gcs.bucket.is_empty() {
        f.error(
            p("bucket"),
            "required: name of the bucket to write the backup to",
        );
    }
    if !gcs.storage_class.is_empty() && !GCS_STORAGE_CLASSES.contains(&gcs.storage_class.as_str()) {
        f.warn(
            p("storageClass"),
            format!(
                "{}; Google Cloud Storage rejects other classes",
                unsupported(&gcs.storage_class, GCS_STORAGE_CLASSES)
            ),
        );
    }
    if !gcs.object_acl.is_empty() {
        if !GCS_PREDEFINED_ACLS.contains(&gcs.object_acl.as_str()) {
            f.warn(
                p("objectAcl"),
                format!(
                    "{}; Google Cloud Storage rejects other predefined ACLs",
                    unsupported(&gcs.object_acl, GCS_PREDEFINED_ACLS)
                ),
            );
        } else if PUBLIC_GCS_ACLS.contains(&gcs.object_acl.as_str()) {
            f.warn(
                p("objectAcl"),
                format!("{:?} makes backup data readable by others; use \"private\" or \"projectPrivate\" unless that is intended", gcs.object_acl),
            );
        }
    }
    check_secret_name(&gcs.secret_name, p("secretName"), f);
}

fn check_azblob(azblob: &AzblobStorageProvider, path: &str, f: &mut Findings) {
    let p = |field: &str| format!("{path}.{field}");
    // The storage URL is azure://<container>/<prefix>: without a container the first
    // prefix segment is taken as the container, and without either BR has nowhere to
    // write.
    if azblob.container.is_empty() {
        f.error(
            p("container"),
            "required: the container to write the backup to (without it BR reads the first part of the prefix as the container)",
        );
    }
    if !azblob.access_tier.is_empty() && !AZBLOB_ACCESS_TIERS.contains(&azblob.access_tier.as_str())
    {
        f.warn(
            p("accessTier"),
            format!(
                "{}; Azure Blob Storage rejects other access tiers",
                unsupported(&azblob.access_tier, AZBLOB_ACCESS_TIERS)
            ),
        );
    } else if azblob.access_tier == "Archive" {
        f.warn(
            p("accessTier"),
            "Archive: blobs must be rehydrated before BR can read them for a restore",
        );
    }
    check_secret_name(&azblob.secret_name, p("secretName"), f);
    // GenerateStorageCertEnv reads the account (unless storageAccount is set) and the key
    // or Azure AD credentials (unless a SAS token is) from this Secret; without it the
    // controller dereferences a missing Secret and never creates the Job.
    let needs_secret = azblob.storage_account.is_empty() || azblob.sas_token.is_empty();
    if azblob.secret_name.is_empty() && needs_secret {
        f.error(
            p("secretName"),
            "required unless storageAccount and sasToken are both set: the Secret with AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY (or AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID for Azure AD)",
        );
    }
    if !azblob.sas_token.is_empty() {
        f.warn(
            p("sasToken"),
            "the SAS token is stored in the Backup in plain text and passed on BR's command line; prefer a Secret (secretName) or Azure AD",
        );
    }
}

fn check_local(local: &LocalStorageProvider, path: &str, f: &mut Findings) {
    // The CRD requires both objects.
    for (field, missing) in [
        ("volume", local.volume == Default::default()),
        ("volumeMount", local.volume_mount == Default::default()),
    ] {
        if missing {
            f.error(
                format!("{path}.{field}"),
                "required: the volume to back up to and where it is mounted (volume.name and volumeMount.name equal)",
            );
        }
    }
    if local.volume_mount == Default::default() {
        return;
    }
    // validateLocal: names equal, mount path set and without ':'.
    if local.volume.name.is_empty() {
        f.error(
            format!("{path}.volume.name"),
            "required: name of the volume",
        );
    }
    if local.volume_mount.name != local.volume.name {
        f.error(
            format!("{path}.volumeMount.name"),
            format!(
                "must equal {path}.volume.name ({:?}), got {:?}",
                local.volume.name, local.volume_mount.name
            ),
        );
    }
    let mount_path = &local.volume_mount.mount_path;
    if mount_path.is_empty() {
        f.error(
            format!("{path}.volumeMount.mountPath"),
            "required: where to mount the volume",
        );
    } else if mount_path.contains(':') {
        f.error(
            format!("{path}.volumeMount.mountPath"),
            format!("must not contain ':', got {mount_path:?}"),
        );
    }
}
