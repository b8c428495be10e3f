//! Defaulting: fills the fields TiDB Operator and BR would otherwise default invisibly, so
//! that the stored object shows what will run. Idempotent by construction: every rule
//! only fills an empty field, and no rule's condition depends on a field another rule
//! fills differently on a second pass.

use std::collections::BTreeMap;

use kube::api::ObjectMeta;

use super::vocab::{
    BackupType, CleanPolicy, DEFAULT_AWS_ACL, DEFAULT_AWS_STORAGE_CLASS, DEFAULT_SERVICE_ACCOUNT,
    DEFAULT_TIDB_PORT, DEFAULT_TIDB_USER, DEFAULT_TIKV_GC_LIFE_TIME, IAM_ROLE_ANNOTATION,
};
use crate::api::{Backup, BackupSchedule, BackupSpec};

/// What a spec's defaults depend on besides the spec itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpecContext<'a> {
    /// Namespace of the object, when known (`check` on a file may not know it).
    pub namespace: Option<&'a str>,
    /// Annotations of the object; a schedule's are copied onto every Backup it creates.
    pub annotations: Option<&'a BTreeMap<String, String>>,
}

impl<'a> SpecContext<'a> {
    pub fn of(meta: &'a ObjectMeta) -> Self {
        Self {
            namespace: meta.namespace.as_deref().filter(|ns| !ns.is_empty()),
            annotations: meta.annotations.as_ref(),
        }
    }

    /// The kube2iam role the pods of this object will carry, if any.
    pub fn iam_role(&self) -> Option<&'a str> {
        self.annotations
            .and_then(|a| a.get(IAM_ROLE_ANNOTATION))
            .map(String::as_str)
            .filter(|role| !role.is_empty())
    }
}

/// How the backup pods get AWS permissions, if by IAM rather than keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IamMethod<'a> {
    /// kube2iam: the `iam.amazonaws.com/role` annotation.
    PodAnnotation(&'a str),
    /// EKS IRSA: a dedicated service account annotated with a role.
    ServiceAccount(&'a str),
}

/// The IAM method a spec uses. A non-default service account is taken as IRSA; the
/// default `tidb-backup-manager` cannot be told apart from plain RBAC.
pub fn iam_method<'a>(spec: &'a BackupSpec, ctx: &SpecContext<'a>) -> Option<IamMethod<'a>> {
    if let Some(role) = ctx.iam_role() {
        return Some(IamMethod::PodAnnotation(role));
    }
    let sa = spec.service_account.as_str();
    (!sa.is_empty() && sa != DEFAULT_SERVICE_ACCOUNT).then_some(IamMethod::ServiceAccount(sa))
}

/// Fills a Backup's defaults; returns the paths of the fields it set.
pub fn default_backup(backup: &mut Backup) -> Vec<String> {
    let mut filled = Vec::new();
    let ctx = SpecContext::of(&backup.metadata);
    default_spec(&mut backup.spec, &ctx, "spec", &mut filled);
    filled
}

/// Fills the defaults of a BackupSchedule's template; returns the paths it set.
pub fn default_schedule(schedule: &mut BackupSchedule) -> Vec<String> {
    let mut filled = Vec::new();
    let ctx = SpecContext::of(&schedule.metadata);
    default_spec(
        &mut schedule.spec.backup_template,
        &ctx,
        "spec.backupTemplate",
        &mut filled,
    );
    filled
}

/// Fills the defaults of one Backup spec; `prefix` is the spec's path for reporting.
pub fn default_spec(
    spec: &mut BackupSpec,
    ctx: &SpecContext,
    prefix: &str,
    filled: &mut Vec<String>,
) {
    let mut fill = |field: &str| filled.push(format!("{prefix}.{field}"));

    // Decided before the service account is defaulted, which never makes it non-default.
    let uses_iam = iam_method(spec, ctx).is_some();

    if spec.backup_type.is_empty() {
        spec.backup_type = BackupType::DEFAULT.as_str().to_owned();
        fill("backupType");
    }
    if spec.clean_policy.is_empty() {
        spec.clean_policy = CleanPolicy::DEFAULT.as_str().to_owned();
        fill("cleanPolicy");
    }
    if spec.service_account.is_empty() {
        spec.service_account = DEFAULT_SERVICE_ACCOUNT.to_owned();
        fill("serviceAccount");
    }
    if let Some(from) = spec.from.as_mut() {
        if from.port.is_none() {
            from.port = Some(DEFAULT_TIDB_PORT);
            fill("from.port");
        }
        if from.user.is_empty() {
            from.user = DEFAULT_TIDB_USER.to_owned();
            fill("from.user");
        }
        if spec.tikv_gc_life_time.as_deref().is_none_or(str::is_empty) {
            spec.tikv_gc_life_time = Some(DEFAULT_TIKV_GC_LIFE_TIME.to_owned());
            fill("tikvGCLifeTime");
        }
    }
    let has_s3_keys = spec
        .s3
        .as_ref()
        .is_some_and(|s3| !s3.secret_name.is_empty());
    if let Some(s3) = spec.s3.as_mut().filter(|s3| s3.provider == "aws") {
        // Other providers reject these AWS-only values.
        if s3.acl.is_empty() {
            s3.acl = DEFAULT_AWS_ACL.to_owned();
            fill("s3.acl");
        }
        if s3.storage_class.is_empty() {
            s3.storage_class = DEFAULT_AWS_STORAGE_CLASS.to_owned();
            fill("s3.storageClass");
        }
    }
    if let Some(br) = spec.br.as_mut() {
        if br.cluster_namespace.is_empty()
            && let Some(ns) = ctx.namespace
        {
            br.cluster_namespace = ns.to_owned();
            fill("br.clusterNamespace");
        }
        // With IAM and no keys BR has no credentials to send; TiKV must use its own role.
        if br.send_cred_to_tikv.is_none() && uses_iam && !has_s3_keys {
            br.send_cred_to_tikv = Some(false);
            fill("br.sendCredToTikv");
        }
    }
}
