//! What the webhook needs to know of each kind it admits, and how a review's object is
//! decoded into it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use kube::api::ObjectMeta;

use super::received::{self, SpecJson};
use super::review::Carried;
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
    /// The object without its status (what a CREATE stores).
    fn without_status(self) -> Self;
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
    fn without_status(self) -> Self {
        Backup {
            status: None,
            ..self
        }
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
    fn without_status(self) -> Self {
        BackupSchedule {
            status: None,
            ..self
        }
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
pub(super) struct Object<'a, T: Admitted> {
    pub object: T,
    /// `spec` as received.
    pub spec_json: SpecJson<'a>,
    pub unknown_fields: Vec<String>,
}

/// Why an object could not be decoded.
pub(super) enum Unreadable {
    /// Bad input: the message names the field and what is wrong.
    Invalid(String),
    /// An object decoded in the review's own pass does not decode further; the message
    /// comes from its text (the review is read again, see
    /// [`decode_as_text`](super::review::decode_as_text)).
    ReadAgain,
}

/// Decodes `request.<field>`, which this operation requires.
pub(super) fn decode_object<'a, T: Admitted>(
    carried: Option<&Carried<'a>>,
    field: &str,
) -> Result<Object<'a, T>, Unreadable> {
    let required =
        || Unreadable::Invalid(format!("request.{field} is required for this operation"));
    let received = match carried {
        None => return Err(required()),
        Some(Carried::Raw(raw)) => {
            let text = raw.get();
            if text.trim() == "null" {
                return Err(required());
            }
            received::decode::<T::Spec, T::Status>(text).map_err(|e| {
                Unreadable::Invalid(format!(
                    "request.{field} is not a valid {}: {e}",
                    T::KIND.as_str()
                ))
            })?
        }
        Some(Carried::Decoded(received)) => {
            received::finish::<T::Spec, T::Status>(received).map_err(|_| Unreadable::ReadAgain)?
        }
    };
    Ok(Object {
        object: T::assemble(received.metadata, received.spec, received.status),
        spec_json: received.spec_json,
        unknown_fields: received.unknown_fields,
    })
}
