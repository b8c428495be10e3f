//! IAM identity for TiKV and backup pods: which AWS role (kube2iam annotation) or
//! service account (EKS IRSA) a TiDB cluster's pods should carry, and where that was
//! declared.
//!
//! Static configuration (`--iam-role`, `--config`) is authoritative for the clusters it
//! names. Otherwise the Backups and BackupSchedules targeting a cluster declare it: their
//! `iam.amazonaws.com/role` annotation, or for IRSA their `spec.serviceAccount`. Finished
//! Backups do not count (they need no access any more, and would otherwise pin an old
//! role). Two different declared values for one cluster are a conflict: nothing is
//! injected and the user is warned. Resolution and the pod decisions are pure; the
//! declarations come from a watch cache ([`watch`]) or a fixed list, and only
//! [`StaticConfig::load`] reads a file (`--config`, at start-up).

pub mod backup;
pub mod pod;
pub mod watch;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::api::condition::{COMPLETE, FAILED, INVALID};
use crate::api::{Backup, BackupSchedule, BackupSpec};
use crate::rules::names::check_label;
use crate::rules::vocab::{DEFAULT_SERVICE_ACCOUNT, IAM_ROLE_ANNOTATION};

/// A TiDB cluster: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ClusterRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Where an identity was declared.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Static,
    Backup { namespace: String, name: String },
    BackupSchedule { namespace: String, name: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Static => f.write_str("static configuration"),
            Source::Backup { namespace, name } => write!(f, "Backup {namespace}/{name}"),
            Source::BackupSchedule { namespace, name } => {
                write!(f, "BackupSchedule {namespace}/{name}")
            }
        }
    }
}

/// The identity static configuration injects into a Backup (or a schedule's template)
/// targeting a configured cluster that declares none itself: no role annotation, no S3
/// keys and no service account of its own.
pub fn static_injection(
    resolver: &IamResolver,
    annotations: Option<&BTreeMap<String, String>>,
    spec: &BackupSpec,
    namespace: &str,
) -> Option<(ClusterRef, Identity)> {
    let cluster = target_of(spec, namespace)?;
    let configured = resolver.static_config.get(&cluster)?;
    let has_role = annotations.is_some_and(|a| a.contains_key(IAM_ROLE_ANNOTATION));
    let has_keys = spec
        .s3
        .as_ref()
        .is_some_and(|s3| !s3.secret_name.is_empty());
    if has_role || has_keys || !spec.service_account.is_empty() {
        return None;
    }
    Some((cluster, configured.clone()))
}

/// A role and/or service account for a cluster's pods.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// Full role ARN, for the kube2iam annotation.
    pub role: Option<String>,
    /// Service account for EKS IRSA.
    pub service_account: Option<String>,
}

/// One object's declaration for a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    pub cluster: ClusterRef,
    pub identity: Identity,
    pub source: Source,
}

/// The value chosen for one kind of identity (role or service account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    None,
    One {
        value: String,
        source: Source,
    },
    /// Different values declared; nothing is injected.
    Conflict(Vec<(String, Source)>),
}

/// What is known for a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    pub role: Choice,
    pub service_account: Choice,
}

/// The objects currently declaring identities, e.g. a reflector's cache.
pub trait Declarations: Send + Sync {
    /// Every declaration of a Backup or BackupSchedule that counts.
    fn declarations(&self) -> Vec<Declaration>;
    /// The cluster a Backup targets, by namespace and name.
    fn backup_target(&self, namespace: &str, name: &str) -> Option<ClusterRef>;
}

/// A fixed list of objects (tests, and `--no-kube`).
#[derive(Clone, Debug, Default)]
pub struct ObjectList {
    pub backups: Vec<Backup>,
    pub schedules: Vec<BackupSchedule>,
}

impl Declarations for ObjectList {
    fn declarations(&self) -> Vec<Declaration> {
        self.backups
            .iter()
            .filter_map(declared_by_backup)
            .chain(self.schedules.iter().filter_map(declared_by_schedule))
            .collect()
    }

    fn backup_target(&self, namespace: &str, name: &str) -> Option<ClusterRef> {
        self.backups
            .iter()
            .find(|b| {
                b.metadata.namespace.as_deref() == Some(namespace)
                    && b.metadata.name.as_deref() == Some(name)
            })
            .and_then(|b| target_of(&b.spec, namespace))
    }
}

/// The TiDB cluster a Backup spec targets; `namespace` is the object's own.
pub fn target_of(spec: &BackupSpec, namespace: &str) -> Option<ClusterRef> {
    let br = spec.br.as_ref().filter(|br| !br.cluster.is_empty())?;
    let ns = if br.cluster_namespace.is_empty() {
        namespace
    } else {
        &br.cluster_namespace
    };
    Some(ClusterRef {
        namespace: ns.to_owned(),
        name: br.cluster.clone(),
    })
}

/// The identity an object declares: its role annotation, and for IRSA its service
/// account. The default service account counts only in the guide's IRSA form (no keys,
/// no role annotation, `sendCredToTikv: false`), because every defaulted Backup has it.
pub fn declared_identity(
    annotations: Option<&BTreeMap<String, String>>,
    spec: &BackupSpec,
) -> Identity {
    let role = annotations
        .and_then(|a| a.get(IAM_ROLE_ANNOTATION))
        .filter(|r| !r.is_empty())
        .cloned();
    let has_keys = spec
        .s3
        .as_ref()
        .is_some_and(|s3| !s3.secret_name.is_empty());
    let sa = spec.service_account.as_str();
    let irsa = !sa.is_empty()
        && (sa != DEFAULT_SERVICE_ACCOUNT
            || (role.is_none()
                && !has_keys
                && spec
                    .br
                    .as_ref()
                    .is_some_and(|br| br.send_cred_to_tikv == Some(false))));
    Identity {
        role,
        service_account: irsa.then(|| sa.to_owned()),
    }
}

/// Whether a Backup has ended (it no longer needs access).
fn finished(backup: &Backup) -> bool {
    backup
        .status
        .as_ref()
        .and_then(|status| status.reached(&[COMPLETE, FAILED, INVALID]))
        .is_some()
}

pub fn declared_by_backup(backup: &Backup) -> Option<Declaration> {
    if finished(backup) {
        return None;
    }
    let namespace = backup.metadata.namespace.clone().unwrap_or_default();
    let identity = declared_identity(backup.metadata.annotations.as_ref(), &backup.spec);
    if identity == Identity::default() {
        return None;
    }
    Some(Declaration {
        cluster: target_of(&backup.spec, &namespace)?,
        identity,
        source: Source::Backup {
            name: backup.metadata.name.clone().unwrap_or_default(),
            namespace,
        },
    })
}

pub fn declared_by_schedule(schedule: &BackupSchedule) -> Option<Declaration> {
    let namespace = schedule.metadata.namespace.clone().unwrap_or_default();
    let template = &schedule.spec.backup_template;
    let identity = declared_identity(schedule.metadata.annotations.as_ref(), template);
    if identity == Identity::default() {
        return None;
    }
    Some(Declaration {
        cluster: target_of(template, &namespace)?,
        identity,
        source: Source::BackupSchedule {
            name: schedule.metadata.name.clone().unwrap_or_default(),
            namespace,
        },
    })
}

/// Where roles come from, and what may be injected.
pub struct IamResolver {
    static_config: StaticConfig,
    declarations: Option<Box<dyn Declarations>>,
    /// Set `serviceAccountName` of pods for IRSA (`--inject-service-account`).
    pub inject_service_account: bool,
}

impl fmt::Debug for IamResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamResolver")
            .field("static_config", &self.static_config)
            .field("watching", &self.declarations.is_some())
            .field("inject_service_account", &self.inject_service_account)
            .finish()
    }
}

impl Default for IamResolver {
    fn default() -> Self {
        Self::new(StaticConfig::default(), None)
    }
}

impl IamResolver {
    pub fn new(static_config: StaticConfig, declarations: Option<Box<dyn Declarations>>) -> Self {
        Self {
            static_config,
            declarations,
            inject_service_account: true,
        }
    }

    pub fn static_config(&self) -> &StaticConfig {
        &self.static_config
    }

    /// The role and service account for a cluster's pods.
    pub fn resolve(&self, cluster: &ClusterRef) -> Resolution {
        if let Some(identity) = self.static_config.get(cluster) {
            let one = |value: &Option<String>| match value {
                Some(value) => Choice::One {
                    value: value.clone(),
                    source: Source::Static,
                },
                None => Choice::None,
            };
            return Resolution {
                role: one(&identity.role),
                service_account: one(&identity.service_account),
            };
        }
        let declared: Vec<Declaration> = self
            .declarations
            .as_ref()
            .map(|d| d.declarations())
            .unwrap_or_default()
            .into_iter()
            .filter(|d| &d.cluster == cluster)
            .collect();
        let candidates = |pick: fn(&Identity) -> &Option<String>| {
            declared
                .iter()
                .filter_map(|d| pick(&d.identity).clone().map(|v| (v, d.source.clone())))
                .collect::<Vec<_>>()
        };
        Resolution {
            role: choice(candidates(|i| &i.role)),
            service_account: choice(candidates(|i| &i.service_account)),
        }
    }

    /// The cluster of a Backup, for its backup and clean pods.
    pub fn backup_target(&self, namespace: &str, name: &str) -> Option<ClusterRef> {
        self.declarations.as_ref()?.backup_target(namespace, name)
    }
}

fn choice(mut candidates: Vec<(String, Source)>) -> Choice {
    candidates.sort();
    candidates.dedup();
    let first_value = candidates.first().map(|(v, _)| v.clone());
    match first_value {
        None => Choice::None,
        Some(value) if candidates.iter().all(|(v, _)| *v == value) => Choice::One {
            value,
            source: candidates.swap_remove(0).1,
        },
        Some(_) => Choice::Conflict(candidates),
    }
}

/// Which part of an identity a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityField {
    Role,
    ServiceAccount,
}

/// Warnings for an object being created that declares `identity` for `cluster`, when it
/// disagrees with the configuration or with other objects (`source` is the object).
pub fn conflicts_with(
    resolver: &IamResolver,
    cluster: &ClusterRef,
    identity: &Identity,
    source: &Source,
) -> Vec<(IdentityField, String)> {
    let resolution = resolver.resolve(cluster);
    let checks = [
        (
            &identity.role,
            &resolution.role,
            IdentityField::Role,
            "role",
        ),
        (
            &identity.service_account,
            &resolution.service_account,
            IdentityField::ServiceAccount,
            "service account",
        ),
    ];
    let mut warnings = Vec::new();
    for (declared, choice, field, what) in checks {
        let Some(declared) = declared else { continue };
        let known: Vec<(&String, &Source)> = match choice {
            Choice::None => Vec::new(),
            Choice::One { value, source } => vec![(value, source)],
            Choice::Conflict(all) => all.iter().map(|(v, s)| (v, s)).collect(),
        };
        let other = known
            .into_iter()
            .find(|(v, s)| *v != declared && *s != source);
        if let Some((value, by)) = other {
            let message = if *by == Source::Static {
                format!(
                    "{what} {declared} differs from the one configured for TiDB cluster {cluster} ({value}); its TiKV pods get the configured one"
                )
            } else {
                format!(
                    "{what} {declared} conflicts with {value} declared by {by} for TiDB cluster {cluster}: with two, the webhook injects neither into its pods"
                )
            };
            warnings.push((field, message));
        }
    }
    warnings
}

/// Roles and service accounts configured per cluster (`--iam-role`, `--config`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaticConfig {
    entries: BTreeMap<ClusterRef, Identity>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(String);

/// One entry of the `--config` file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigEntry {
    namespace: String,
    cluster: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    service_account: Option<String>,
}

/// The `--config` file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    iam_roles: Vec<ConfigEntry>,
}

impl StaticConfig {
    /// Builds the configuration from `--iam-role NAMESPACE/CLUSTER=ROLE` flags and an
    /// optional YAML file; every mistake is an error naming the entry and the fix.
    pub fn load(
        flags: &[String],
        file: Option<&Path>,
        base_role_arn: Option<&str>,
    ) -> Result<Self, ConfigError> {
        if let Some(base) = base_role_arn {
            check_base_role_arn(base)?;
        }
        let mut config = StaticConfig::default();
        for flag in flags {
            let (cluster, role) = flag.split_once('=').ok_or_else(|| {
                ConfigError(format!(
                    "--iam-role {flag:?}: expected NAMESPACE/CLUSTER=ROLE"
                ))
            })?;
            let (namespace, name) = cluster.split_once('/').ok_or_else(|| {
                ConfigError(format!(
                    "--iam-role {flag:?}: expected NAMESPACE/CLUSTER=ROLE"
                ))
            })?;
            let role = normalize_role(role, base_role_arn)
                .map_err(|e| ConfigError(format!("--iam-role {flag:?}: {e}")))?;
            config.insert(
                &format!("--iam-role {flag:?}"),
                namespace,
                name,
                Some(role),
                None,
            )?;
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("--config {}: {e}", path.display())))?;
            let parsed: ConfigFile = serde_saphyr::from_str(&text)
                .map_err(|e| ConfigError(format!("--config {}: {e}", path.display())))?;
            for (i, entry) in parsed.iam_roles.into_iter().enumerate() {
                let at = format!("--config {}: iamRoles[{i}]", path.display());
                if entry.role.is_none() && entry.service_account.is_none() {
                    return Err(ConfigError(format!(
                        "{at}: set role, serviceAccount or both"
                    )));
                }
                let role = entry
                    .role
                    .map(|r| normalize_role(&r, base_role_arn))
                    .transpose()
                    .map_err(|e| ConfigError(format!("{at}.role: {e}")))?;
                if let Some(sa) = entry.service_account.as_deref()
                    && let Some(problem) = crate::rules::names::check_subdomain(sa)
                {
                    return Err(ConfigError(format!("{at}.serviceAccount: {problem}")));
                }
                config.insert(
                    &at,
                    &entry.namespace,
                    &entry.cluster,
                    role,
                    entry.service_account,
                )?;
            }
        }
        Ok(config)
    }

    fn insert(
        &mut self,
        at: &str,
        namespace: &str,
        name: &str,
        role: Option<String>,
        service_account: Option<String>,
    ) -> Result<(), ConfigError> {
        for (what, value) in [("namespace", namespace), ("cluster", name)] {
            if let Some(problem) = check_label(value) {
                return Err(ConfigError(format!("{at}: {what}: {problem}")));
            }
        }
        let cluster = ClusterRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let entry = self.entries.entry(cluster.clone()).or_default();
        for (slot, value, what) in [
            (&mut entry.role, role, "role"),
            (
                &mut entry.service_account,
                service_account,
                "serviceAccount",
            ),
        ] {
            match (slot.as_ref(), value) {
                (Some(existing), Some(new)) if *existing != new => {
                    return Err(ConfigError(format!(
                        "{at}: {what} {new} for {cluster} conflicts with {existing} configured earlier"
                    )));
                }
                (_, Some(new)) => *slot = Some(new),
                (_, None) => {}
            }
        }
        Ok(())
    }

    pub fn get(&self, cluster: &ClusterRef) -> Option<&Identity> {
        self.entries.get(cluster)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Characters of IAM role names and path segments.
fn is_role_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// A full role ARN from an ARN or, with `--base-role-arn`, a bare role name.
fn normalize_role(role: &str, base_role_arn: Option<&str>) -> Result<String, String> {
    if role.starts_with("arn:") {
        check_role_arn(role)?;
        return Ok(role.to_owned());
    }
    if role.is_empty() || role.len() > 64 || !role.chars().all(is_role_name_char) {
        return Err(format!(
            "{role:?} is neither a role ARN (arn:aws:iam::<12-digit account>:role/<name>) nor a role name (up to 64 of A-Z a-z 0-9 + = , . @ _ -)"
        ));
    }
    match base_role_arn {
        Some(base) => Ok(format!("{base}{role}")),
        None => Err(format!(
            "{role:?} is a bare role name: give the full ARN, or --base-role-arn (as kube2iam's) to complete it"
        )),
    }
}

/// `arn:aws[-cn|-us-gov]:iam::<12 digits>:role/<path/>name`.
fn check_role_arn(arn: &str) -> Result<(), String> {
    let invalid = |why: &str| {
        Err(format!(
            "invalid role ARN {arn:?}: {why} (expected arn:aws:iam::<12-digit account>:role/<path/name>)"
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts.as_slice() else {
        return invalid("too few ':'-separated parts");
    };
    if !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov") {
        return invalid("partition must be aws, aws-cn or aws-us-gov");
    }
    if *service != "iam" || !region.is_empty() {
        return invalid("not an IAM ARN");
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("the account must be 12 digits");
    }
    let Some(path) = resource.strip_prefix("role/") else {
        return invalid("not a role");
    };
    let segments: Vec<&str> = path.split('/').collect();
    let name = segments.last().copied().unwrap_or_default();
    if name.is_empty()
        || name.len() > 64
        || segments
            .iter()
            .any(|s| s.is_empty() || !s.chars().all(is_role_name_char))
    {
        return invalid("bad role path or name");
    }
    Ok(())
}

/// `--base-role-arn`: an ARN prefix ending in `role/` or `role/<path>/`.
fn check_base_role_arn(base: &str) -> Result<(), ConfigError> {
    let probe = format!("{base}x");
    if !base.ends_with('/') || check_role_arn(&probe).is_err() {
        return Err(ConfigError(format!(
            "--base-role-arn {base:?}: expected an ARN prefix such as arn:aws:iam::123456789012:role/"
        )));
    }
    Ok(())
}
