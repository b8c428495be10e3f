//! `/validate` for Backups and BackupSchedules: every error and warning with its field
//! path; on UPDATE, TiDB Operator-style immutability and ratcheting.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

use super::admitted::{Admitted, Object};
use super::review::AdmissionResponse;
use crate::iam::{IamResolver, IdentityField, conflicts_with, declared_identity, target_of};
use crate::rules::go_quote::{escape_unprintable, quote_if_needed};
use crate::rules::unknown::unknown_field;
use crate::rules::vocab::IAM_ROLE_ANNOTATION;
use crate::rules::{Finding, Severity};

/// Validates the object (an UPDATE against its old version) and answers every error and
/// warning with its field path. An UPDATE that leaves the spec as it was (metadata,
/// status, finalizers) is always allowed: what it already had is reported as warnings.
pub(super) fn validate<T: Admitted>(
    uid: &str,
    name: &str,
    new: &Object<'_, T>,
    old: Option<&Object<'_, T>>,
    iam: &IamResolver,
    request_namespace: &str,
) -> AdmissionResponse {
    let mut findings = match old {
        Some(old) if old.spec_json.same_as(&new.spec_json) => new
            .object
            .validate()
            .into_iter()
            .map(|mut finding| {
                if finding.is_error() {
                    finding.severity = Severity::Warning;
                    finding.message = format!(
                        "{} (tolerated: this update leaves the spec as it was)",
                        finding.message
                    );
                }
                finding
            })
            .collect(),
        Some(old) => T::validate_update(&old.object, &new.object),
        None => new.object.validate(),
    };
    // Only a CRD that keeps unknown fields lets them reach here: never a denial.
    findings.extend(
        new.unknown_fields
            .iter()
            .map(|path| unknown_field(T::KIND, path, false)),
    );
    let mut warnings: Vec<String> = findings
        .iter()
        .filter(|f| !f.is_error())
        .map(ToString::to_string)
        .collect();
    if old.is_none() {
        warnings.extend(iam_conflict_warnings(&new.object, iam, request_namespace));
    }
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.is_error()).collect();
    let mut response = if errors.is_empty() {
        AdmissionResponse::allow(uid)
    } else {
        denial(uid, T::KIND.as_str(), name, &errors)
    };
    response.warnings = warnings;
    response
}

/// Warnings when a new object declares an identity that disagrees with the one the
/// webhook already knows for its cluster.
fn iam_conflict_warnings<T: Admitted>(
    object: &T,
    iam: &IamResolver,
    request_namespace: &str,
) -> Vec<String> {
    let namespace = object
        .meta()
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| request_namespace.to_owned());
    let identity = declared_identity(object.meta().annotations.as_ref(), object.backup_spec());
    let Some(cluster) = target_of(object.backup_spec(), &namespace) else {
        return Vec::new();
    };
    conflicts_with(iam, &cluster, &identity, &object.iam_source())
        .into_iter()
        .map(|(field, message)| {
            let path = match field {
                IdentityField::Role => format!("metadata.annotations[{IAM_ROLE_ANNOTATION}]"),
                IdentityField::ServiceAccount => format!("{}.serviceAccount", T::BACKUP_SPEC_PATH),
            };
            format!("{path}: {}", escape_unprintable(&message))
        })
        .collect()
}

/// A 422 with every error: in the message (as kubectl prints it) and as causes.
fn denial(uid: &str, kind: &str, name: &str, errors: &[&Finding]) -> AdmissionResponse {
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let message = format!(
        "{kind}.pingcap.com {name:?} is invalid: [{}]",
        list.join("; ")
    );
    let mut response = AdmissionResponse::deny(uid, 422, "Invalid", message);
    if let Some(status) = response.status.as_mut() {
        status.details = Some(StatusDetails {
            group: Some("pingcap.com".into()),
            kind: Some(kind.to_owned()),
            name: Some(name.to_owned()),
            causes: Some(
                errors
                    .iter()
                    .map(|f| StatusCause {
                        field: Some(quote_if_needed(&f.path).into_owned()),
                        message: Some(escape_unprintable(&f.message).into_owned()),
                        reason: Some("FieldValueInvalid".into()),
                    })
                    .collect(),
            ),
            ..Default::default()
        });
    }
    response
}
