//! The BR Job of a Backup: TiDB Operator's contract (reference §5.2–5.3: name, labels,
//! owner, annotations, service account, pod settings) with BR run directly from its own
//! image instead of through `tidb-backup-manager`, so the pod needs no access to the
//! Kubernetes API and no TiDB password: the reconciler does the SQL itself.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, PodSecurityContext,
    PodSpec, PodTemplateSpec, SeccompProfile, SecretKeySelector, SecretVolumeSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use kube::api::ObjectMeta;
use serde_json::Value;

use super::PlanError;
use super::argv::{self, CLUSTER_TLS_MOUNT, GCS_CREDENTIALS_MOUNT};
use crate::api::Backup;
use crate::rules::labels::{LABEL_BACKUP, LABEL_COMPONENT, LABEL_INSTANCE};
use crate::rules::vocab::DEFAULT_SERVICE_ACCOUNT;

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// TiDB Operator's value, kept so existing selectors and dashboards find the Jobs.
pub const MANAGED_BY: &str = "backup-operator";
/// Never copied to pods: it holds the whole manifest and means nothing there.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// TidbCluster annotation that turns client TLS to TiDB off.
pub const SKIP_TLS_ANNOTATION: &str = "tidb.tidb.pingcap.com/skip-tls-when-connect-tidb";
/// The BR binary in the `pingcap/br` image.
pub const BR_BINARY: &str = "/br";
/// Container name; TiDB Operator's main container is also `backup`.
pub const CONTAINER: &str = "backup";
/// BR image when neither `spec.toolImage` nor the TidbCluster's TiKV tag decides it.
pub const DEFAULT_BR_IMAGE: &str = "pingcap/br:latest";
/// An unprivileged user; BR needs no privilege and the images have no fixed user.
pub const RUN_AS_USER: i64 = 65534;

/// `backup-<name>`: deterministic, so a create that finds it existing is a success.
pub fn job_name(backup_name: &str) -> String {
    format!("backup-{backup_name}")
}

/// Labels of the Job and its pod (reference §5.2).
pub fn job_labels(backup: &Backup) -> BTreeMap<String, String> {
    component_labels(backup, "backup")
}

/// The labels of a Job of `component` (`backup`, or `clean` for the clean Job).
pub fn component_labels(backup: &Backup, component: &str) -> BTreeMap<String, String> {
    let name = backup.metadata.name.clone().unwrap_or_default();
    let instance = backup
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_INSTANCE))
        .cloned()
        .unwrap_or_else(|| name.clone());
    BTreeMap::from([
        (LABEL_NAME.to_owned(), "backup".to_owned()),
        (LABEL_COMPONENT.to_owned(), component.to_owned()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (LABEL_INSTANCE.to_owned(), instance),
        (LABEL_BACKUP.to_owned(), name),
    ])
}

/// What the Job depends on in the TidbCluster the backup targets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// TiKV image (`spec.tikv.baseImage:<version>` or `spec.tikv.image`).
    pub tikv_image: Option<String>,
    /// `spec.tlsCluster.enabled`: BR needs the cluster client certificate.
    pub cluster_tls: bool,
    /// `spec.tidb.tlsClient.enabled` without the skip annotation: SQL to TiDB uses TLS.
    pub tidb_client_tls: bool,
}

impl ClusterInfo {
    /// Reads a TidbCluster object (JSON); missing fields mean "not set".
    pub fn from_tidbcluster(tc: &Value) -> Self {
        let text = |ptr: &str| {
            tc.pointer(ptr)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let flag = |ptr: &str| tc.pointer(ptr).and_then(Value::as_bool).unwrap_or(false);
        let tikv_image = match text("/spec/tikv/baseImage") {
            Some(base) => match text("/spec/tikv/version").or_else(|| text("/spec/version")) {
                Some(version) => Some(format!("{base}:{version}")),
                None => Some(base.to_owned()),
            },
            None => text("/spec/tikv/image").map(str::to_owned),
        };
        let skip_tls = tc
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(SKIP_TLS_ANNOTATION))
            .and_then(Value::as_str)
            .is_some_and(|v| v == "true");
        Self {
            tikv_image,
            cluster_tls: flag("/spec/tlsCluster/enabled"),
            tidb_client_tls: flag("/spec/tidb/tlsClient/enabled") && !skip_tls,
        }
    }

    /// The TiKV image's tag, when there is one.
    pub fn tikv_tag(&self) -> Option<&str> {
        self.tikv_image.as_deref().and_then(image_tag)
    }
}

/// The tag of an image reference: after the last `:` of the name part, so neither a
/// registry port (`localhost:5000/tikv`, which TiDB Operator misreads as tag
/// `5000/tikv`) nor a digest counts. `None` when there is no tag or it is empty.
pub fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let (_, tag) = without_digest.rsplit_once(':')?;
    (!tag.is_empty() && !tag.contains('/')).then_some(tag)
}

/// The BR image: `spec.toolImage` (its tag, or the TiKV tag appended when it has none),
/// else `pingcap/br:<TiKV tag>`, else `default_image`. TiDB Operator would produce
/// `pingcap/br:` for an untagged TiKV image; the default is used then instead.
pub fn br_image(tool_image: &str, tikv_tag: Option<&str>, default_image: &str) -> String {
    match (tool_image.is_empty(), tikv_tag) {
        (false, _) if image_tag(tool_image).is_some() || tool_image.contains('@') => {
            tool_image.to_owned()
        }
        (false, Some(tag)) => format!("{tool_image}:{tag}"),
        (false, None) => tool_image.to_owned(),
        (true, Some(tag)) => format!("pingcap/br:{tag}"),
        (true, None) => default_image.to_owned(),
    }
}

/// What the Job is built from besides the Backup.
#[derive(Clone, Copy, Debug)]
pub struct JobContext<'a> {
    /// The TidbCluster, when it could be read.
    pub cluster: Option<&'a ClusterInfo>,
    /// BR image when neither `spec.toolImage` nor a TiKV tag decides it.
    pub default_br_image: &'a str,
    /// The reconciler's `TZ`, passed on as TiDB Operator does.
    pub tz: Option<&'a str>,
}

/// Name, namespace and the controller owner reference of a Backup's Jobs: as TiDB
/// Operator, `blockOwnerDeletion`, so foreground deletion of the Backup waits for them.
pub fn job_owner(backup: &Backup) -> Result<(&str, &str, OwnerReference), PlanError> {
    let meta = &backup.metadata;
    let name = meta
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| PlanError::new("metadata.name", "required"))?;
    let namespace = meta
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| PlanError::new("metadata.namespace", "required"))?;
    let mut owner = backup
        .controller_owner_ref(&())
        .ok_or_else(|| PlanError::new("metadata.uid", "required to own the Job"))?;
    owner.block_owner_deletion = Some(true);
    Ok((name, namespace, owner))
}

/// The Job for a (defaulted) Backup.
pub fn backup_job(backup: &Backup, ctx: &JobContext) -> Result<Job, PlanError> {
    let (name, namespace, owner) = job_owner(backup)?;
    let spec = &backup.spec;
    let cluster_tls = ctx.cluster.is_some_and(|c| c.cluster_tls);
    let args = argv::backup_args(spec, namespace, cluster_tls)?;
    let cluster = spec.br.as_ref().map(|br| br.cluster.as_str()).unwrap_or("");

    let mut volumes = vec![Volume {
        name: "tmp".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    // BR writes its log and temporary files under /tmp; the root filesystem is read-only.
    let mut mounts = vec![VolumeMount {
        name: "tmp".to_owned(),
        mount_path: "/tmp".to_owned(),
        ..VolumeMount::default()
    }];
    if cluster_tls {
        volumes.push(secret_volume(
            "cluster-client-tls",
            &format!("{cluster}-cluster-client-secret"),
        ));
        mounts.push(read_only_mount("cluster-client-tls", CLUSTER_TLS_MOUNT));
    }
    if let Some(gcs) = spec.gcs.as_ref().filter(|g| !g.secret_name.is_empty()) {
        volumes.push(secret_volume("gcs-credentials", &gcs.secret_name));
        mounts.push(read_only_mount("gcs-credentials", GCS_CREDENTIALS_MOUNT));
    }
    if let Some(local) = &spec.local {
        volumes.push(local.volume.clone());
        mounts.push(local.volume_mount.clone());
    }

    let labels = job_labels(backup);
    let annotations = pod_annotations(backup);
    let tikv_tag = ctx.cluster.and_then(ClusterInfo::tikv_tag);

    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(br_image(&spec.tool_image, tikv_tag, ctx.default_br_image)),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![BR_BINARY.to_owned()]),
        args: Some(args),
        env: Some(job_env(backup, ctx.tz)),
        resources: spec.resources.clone(),
        volume_mounts: Some(mounts),
        security_context: Some(container_security_context()),
        ..Container::default()
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(job_name(name)),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels.clone()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // Ad-hoc backups are not retried (user guide, "Ad-hoc backup").
            backoff_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    service_account_name: Some(service_account(spec).to_owned()),
                    containers: vec![container],
                    volumes: Some(volumes),
                    tolerations: spec.tolerations.clone(),
                    affinity: spec.affinity.clone(),
                    image_pull_secrets: spec.image_pull_secrets.clone(),
                    security_context: Some(pod_security_context()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// The container environment: S3 keys by reference (never their values), BR logging to
/// the terminal (the reconciler reads the summary from the pod log), `TZ`, then
/// `spec.env` replacing any built-in variable of the same name.
pub fn job_env(backup: &Backup, tz: Option<&str>) -> Vec<EnvVar> {
    let mut env = s3_key_env(backup);
    env.extend(azblob_env(backup));
    env.push(plain_env("BR_LOG_TO_TERM", "1"));
    if let Some(tz) = tz.filter(|tz| !tz.is_empty()) {
        env.push(plain_env("TZ", tz));
    }
    overlay_env(&mut env, backup.spec.env.as_deref().unwrap_or_default());
    env
}

/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` from `spec.s3.secretName` (keys
/// `access_key`/`secret_key`), by reference; empty without a secret (IRSA, kube2iam).
pub fn s3_key_env(backup: &Backup) -> Vec<EnvVar> {
    let Some(s3) = backup
        .spec
        .s3
        .as_ref()
        .filter(|s| !s.secret_name.is_empty())
    else {
        return Vec::new();
    };
    vec![
        secret_env("AWS_ACCESS_KEY_ID", &s3.secret_name, "access_key"),
        secret_env("AWS_SECRET_ACCESS_KEY", &s3.secret_name, "secret_key"),
    ]
}

/// Azure credentials as TiDB Operator passes them (`GenerateStorageCertEnv`): the account
/// from `spec.azblob.storageAccount`, else the Secret's `AZURE_STORAGE_ACCOUNT`; the
/// account key or the Azure AD service principal from the Secret, each optional (BR uses
/// whichever is there); nothing from the Secret when a SAS token is in the storage URL.
pub fn azblob_env(backup: &Backup) -> Vec<EnvVar> {
    let Some(azblob) = backup.spec.azblob.as_ref() else {
        return Vec::new();
    };
    let secret = azblob.secret_name.as_str();
    let mut env = Vec::new();
    if !azblob.storage_account.is_empty() {
        env.push(plain_env("AZURE_STORAGE_ACCOUNT", &azblob.storage_account));
    } else if !secret.is_empty() {
        env.push(optional_secret_env(
            "AZURE_STORAGE_ACCOUNT",
            secret,
            "AZURE_STORAGE_ACCOUNT",
        ));
    }
    if azblob.sas_token.is_empty() && !secret.is_empty() {
        for key in [
            "AZURE_STORAGE_KEY",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_TENANT_ID",
        ] {
            env.push(optional_secret_env(key, secret, key));
        }
    }
    env
}

/// TiDB Operator's AppendOverwriteEnv: each of `extra` replaces every same-named entry
/// of `env`, or is appended.
pub fn overlay_env(env: &mut Vec<EnvVar>, extra: &[EnvVar]) {
    for var in extra {
        let mut replaced = false;
        for existing in env.iter_mut().filter(|e| e.name == var.name) {
            *existing = var.clone();
            replaced = true;
        }
        if !replaced {
            env.push(var.clone());
        }
    }
}

/// Pod annotations: all of the Backup's (kube2iam's role annotation among them), except
/// kubectl's last-applied copy of the manifest.
pub fn pod_annotations(backup: &Backup) -> BTreeMap<String, String> {
    backup
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != LAST_APPLIED_ANNOTATION)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `spec.serviceAccount`, or TiDB Operator's default (IRSA annotates this account).
pub fn service_account(spec: &crate::api::BackupSpec) -> &str {
    if spec.service_account.is_empty() {
        DEFAULT_SERVICE_ACCOUNT
    } else {
        &spec.service_account
    }
}

/// The container's security context: no privilege, read-only root, no capabilities.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

/// The pod's security context: an unprivileged user and the runtime's seccomp profile.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        run_as_non_root: Some(true),
        // Lets the unprivileged user read mounted secrets and write volumes.
        fs_group: Some(RUN_AS_USER),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

pub(crate) fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// A variable from a Secret key that may be absent (then the variable is unset).
fn optional_secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    let mut var = secret_env(name, secret, key);
    if let Some(selector) = var
        .value_from
        .as_mut()
        .and_then(|from| from.secret_key_ref.as_mut())
    {
        selector.optional = Some(true);
    }
    var
}

fn secret_volume(name: &str, secret: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn read_only_mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}
