//! What the webhook needs to know of each kind it admits, and how a review's object is
//! decoded into it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use kube::api::ObjectMeta;

use super::received;
use crate::api::{
    Backup, BackupSchedule, BackupScheduleSpec, BackupScheduleStatus, BackupSpec, BackupStatus,
    Kind,
};
use crate::iam::Source;
use crate::rules::update::started_phase;
use crate::rules::{self, Finding};

/// A kind this webhook defaults and validates.
pub(super) trait Admitted:
    kube::Resource<DynamicType = ()> + Clone + PartialEq + Sized
{
    const KIND: Kind;
    /// Where its Backup spec lives: `spec` or `spec.backupTemplate`.
    const BACKUP_SPEC_PATH: &'static str;
    type Spec: DeserializeOwned + Serialize + Clone + PartialEq;
    type Status: DeserializeOwned;
    fn assemble(metadata: ObjectMeta, spec: Self::Spec, status: Option<Self::Status>) -> Self;
    fn spec(&self) -> &Self::Spec;
    /// The Backup spec (a schedule's template) whose identity fields IAM reads.
    fn backup_spec(&self) -> &BackupSpec;
    fn backup_spec_mut(&mut self) -> &mut BackupSpec;
    fn iam_source(&self) -> Source;
    /// Fills defaults, which only ever change `spec`; returns the paths it set.
    fn apply_defaults(&mut self) -> Vec<String>;
    fn validate(&self) -> Vec<Finding>;
    fn validate_update(old: &Self, new: &Self) -> Vec<Finding>;
    /// Whether defaults may no longer be written (a scheduled Backup's spec is frozen).
    fn frozen(&self) -> bool {
        false
    }

    /// Whether a review's group/version/kind is this kind.
    fn matches(group: &str, version: &str, kind: &str) -> bool {
        group == Self::group(&()) && version == Self::version(&()) && kind == Self::kind(&())
    }
}

impl Admitted for Backup {
    const KIND: Kind = Kind::Backup;
    const BACKUP_SPEC_PATH: &'static str = "spec";
    type Spec = BackupSpec;
    type Status = BackupStatus;
    fn assemble(metadata: ObjectMeta, spec: BackupSpec, status: Option<BackupStatus>) -> Self {
        Backup {
            metadata,
            spec,
            status,
        }
    }
    fn spec(&self) -> &BackupSpec {
        &self.spec
    }
    fn backup_spec(&self) -> &BackupSpec {
        &self.spec
    }
    fn backup_spec_mut(&mut self) -> &mut BackupSpec {
        &mut self.spec
    }
    fn iam_source(&self) -> Source {
        Source::Backup {
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.metadata.name.clone().unwrap_or_default(),
        }
    }
    fn apply_defaults(&mut self) -> Vec<String> {
        rules::default_backup(self)
    }
    fn validate(&self) -> Vec<Finding> {
        rules::validate_backup(self)
    }
    fn validate_update(old: &Self, new: &Self) -> Vec<Finding> {
        rules::validate_backup_update(old, new)
    }
    fn frozen(&self) -> bool {
        started_phase(self.status.as_ref()).is_some()
    }
}

impl Admitted for BackupSchedule {
    const KIND: Kind = Kind::BackupSchedule;
    const BACKUP_SPEC_PATH: &'static str = "spec.backupTemplate";
    type Spec = BackupScheduleSpec;
    type Status = BackupScheduleStatus;
    fn assemble(
        metadata: ObjectMeta,
        spec: BackupScheduleSpec,
        status: Option<BackupScheduleStatus>,
    ) -> Self {
        BackupSchedule {
            metadata,
            spec,
            status,
        }
    }
    fn spec(&self) -> &BackupScheduleSpec {
        &self.spec
    }
    fn backup_spec(&self) -> &BackupSpec {
        &self.spec.backup_template
    }
    fn backup_spec_mut(&mut self) -> &mut BackupSpec {
        &mut self.spec.backup_template
    }
    fn iam_source(&self) -> Source {
        Source::BackupSchedule {
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.metadata.name.clone().unwrap_or_default(),
        }
    }
    fn apply_defaults(&mut self) -> Vec<String> {
        rules::default_schedule(self)
    }
    fn validate(&self) -> Vec<Finding> {
        rules::validate_schedule(self)
    }
    fn validate_update(old: &Self, new: &Self) -> Vec<Finding> {
        rules::validate_schedule_update(old, new)
    }
}

/// An object of a review, decoded.
pub(super) struct Object<T: Admitted> {
    pub object: T,
    /// `spec` as received; `None` when the object has none.
    pub spec_json: Option<Value>,
    pub unknown_fields: Vec<String>,
}

/// Decodes `request.<field>`, which this operation requires.
pub(super) fn decode_object<T: Admitted>(
    raw: Option<&RawValue>,
    field: &str,
) -> Result<Object<T>, String> {
    let text = raw
        .map(RawValue::get)
        .filter(|text| text.trim() != "null")
        .ok_or_else(|| format!("request.{field} is required for this operation"))?;
    let received = received::decode::<T::Spec, T::Status>(text)
        .map_err(|e| format!("request.{field} is not a valid {}: {e}", T::KIND.as_str()))?;
    Ok(Object {
        object: T::assemble(received.metadata, received.spec, received.status),
        spec_json: received.spec_json,
        unknown_fields: received.unknown_fields,
    })
}
