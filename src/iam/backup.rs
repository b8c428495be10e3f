//! The identity a Backup or BackupSchedule gets at admission from static configuration
//! (`--iam-role`, `--config`): a pure decision with its patch operation, audit annotations
//! and warnings, as [`super::pod::decide`] is for pods.

use std::collections::BTreeMap;

use json_patch::PatchOperation;
use kube::api::ObjectMeta;

use super::pod::{AUDIT_ROLE, AUDIT_SERVICE_ACCOUNT, add_annotation};
use super::{IamResolver, static_injection};
use crate::api::BackupSpec;
use crate::rules::vocab::IAM_ROLE_ANNOTATION;

/// What static configuration adds to one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackupInjection {
    /// The kube2iam role annotation to add.
    pub role: Option<String>,
    /// The IRSA service account to set in the (template) spec.
    pub service_account: Option<String>,
    /// The operation adding the annotation (the service account, part of the spec, is in
    /// the spec's diff).
    pub annotation_ops: Vec<PatchOperation>,
    pub audit: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl BackupInjection {
    /// Adds the role annotation to the object's metadata.
    pub fn apply_to_meta(&self, meta: &mut ObjectMeta) {
        if let Some(role) = &self.role {
            meta.annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(IAM_ROLE_ANNOTATION.to_owned(), role.clone());
        }
    }

    /// Sets the service account in the (template) spec, before the defaults that follow
    /// from it (`br.sendCredToTikv`).
    pub fn apply_to_spec(&self, spec: &mut BackupSpec) {
        if let Some(sa) = &self.service_account {
            spec.service_account = sa.clone();
            // IRSA: TiKV uses its own service account's role, BR has no keys to send.
            if let Some(br) = spec.br.as_mut()
                && br.send_cred_to_tikv.is_none()
            {
                br.send_cred_to_tikv = Some(false);
            }
        }
    }
}

/// The identity configured for the object's cluster, when the object declares none of
/// its own; `spec_path` is where its Backup spec lives (`spec`, `spec.backupTemplate`).
pub fn decide(
    resolver: &IamResolver,
    meta: &ObjectMeta,
    spec: &BackupSpec,
    spec_path: &str,
) -> Option<BackupInjection> {
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let annotations = meta.annotations.as_ref();
    let (cluster, identity) = static_injection(resolver, annotations, spec, namespace)?;
    let mut injection = BackupInjection::default();
    if let Some(role) = identity.role {
        injection.annotation_ops.push(add_annotation(
            annotations.is_some(),
            IAM_ROLE_ANNOTATION,
            &role,
        ));
        injection.audit.insert(
            AUDIT_ROLE.to_owned(),
            format!("{role} (from static configuration for TiDB cluster {cluster})"),
        );
        injection.warnings.push(format!(
            "metadata.annotations[{IAM_ROLE_ANNOTATION}]: set to {role}, configured for TiDB cluster {cluster}"
        ));
        injection.role = Some(role);
    }
    if let Some(sa) = identity.service_account {
        injection.audit.insert(
            AUDIT_SERVICE_ACCOUNT.to_owned(),
            format!("{sa} (from static configuration for TiDB cluster {cluster})"),
        );
        injection.warnings.push(format!(
            "{spec_path}.serviceAccount: set to {sa}, configured for TiDB cluster {cluster}"
        ));
        injection.service_account = Some(sa);
    }
    Some(injection)
}
