//! `/mutate` for Backups and BackupSchedules: the statically configured IAM identity and
//! the defaults, answered as a JSON Patch against the object as received.
//!
//! Only what the user wrote is defaulted: a CREATE, or an UPDATE that changes the spec. A
//! metadata-, status- or finalizer-only UPDATE (what TiDB Operator and `kubectl delete`
//! send) passes untouched. Defaulting never answers 500 for the user's object: an operation
//! that cannot be placed in the object as received is left out (validation reports what is
//! missing), and a patch that fails its own check is not sent at all.

use std::collections::BTreeMap;

use json_patch::{Patch, PatchOperation};
use serde_json::Value;

use super::AUDIT_DEFAULTED_FIELDS;
use super::admitted::{Admitted, Object};
use super::review::AdmissionResponse;
use crate::api::decode::typed_fast;
use crate::iam::{self, IamResolver};
use crate::rules::Finding;
use crate::rules::vocab::IAM_ROLE_ANNOTATION;

pub(super) fn mutate<T: Admitted>(
    uid: &str,
    received: Object<'_, T>,
    old: Option<&Object<'_, T>>,
    iam: &IamResolver,
) -> AdmissionResponse {
    let allow = || AdmissionResponse::allow(uid);
    if let Some(old) = old
        && (old.object.frozen() || old.spec_json.same_as(&received.spec_json))
    {
        return allow();
    }
    // Nothing to place defaults in; validation reports the missing spec.
    if received.spec_json.is_none() {
        return allow();
    }
    let object = received.object;
    let mut defaulted = object.clone();
    let injection = iam::backup::decide(
        iam,
        object.meta(),
        object.backup_spec(),
        T::BACKUP_SPEC_PATH,
    );
    if let Some(injection) = &injection {
        injection.apply_to_meta(defaulted.meta_mut());
        injection.apply_to_spec(defaulted.backup_spec_mut());
    }
    let mut filled = defaulted.apply_defaults();
    if injection.is_none() && filled.is_empty() {
        return allow();
    }

    let diff = match (
        serde_json::to_value(object.spec()),
        serde_json::to_value(defaulted.spec()),
    ) {
        (Ok(before), Ok(after)) => json_patch::diff(&before, &after).0,
        (Err(e), _) | (_, Err(e)) => {
            return not_applied(uid, &format!("cannot serialise the spec: {e}"));
        }
    };
    let mut ops: Vec<PatchOperation> = injection
        .as_ref()
        .map(|i| i.annotation_ops.clone())
        .unwrap_or_default();
    ops.extend(diff.into_iter().map(under_spec));

    // The parts of the object as received that the patch touches.
    let Some(spec_json) = received.spec_json.value() else {
        return allow();
    };
    let mut target = serde_json::json!({ "metadata": {}, "spec": spec_json });
    if let Some(annotations) = &object.meta().annotations {
        target["metadata"]["annotations"] = serde_json::json!(annotations);
    }
    let (placed, skipped) = place(ops, &mut target);
    if !skipped.is_empty() {
        tracing::debug!(
            uid,
            ?skipped,
            "defaults without a place in the object as received"
        );
        filled.retain(|field| !skipped.iter().any(|path| *path == pointer_of(field)));
    }
    if placed.is_empty() {
        return allow();
    }
    if let Err(reason) = check_patch::<T>(&object, &defaulted, &target, skipped.is_empty()) {
        // A fault of this webhook, not of the object: log it, admit the object as it is.
        tracing::error!(uid, %reason, "defaulting patch failed its check; answered without it");
        return not_applied(uid, &reason);
    }

    let mut response = match allow().with_patch(&Patch(placed)) {
        Ok(response) => response,
        Err(e) => return not_applied(uid, &format!("cannot encode the patch: {e}")),
    };
    let mut audit = BTreeMap::new();
    let mut warnings = Vec::new();
    if let Some(injection) = injection {
        audit.extend(injection.audit);
        warnings.extend(injection.warnings);
    }
    if !filled.is_empty() {
        audit.insert(AUDIT_DEFAULTED_FIELDS.to_owned(), filled.join(","));
    }
    response.audit_annotations = audit;
    response.warnings = warnings;
    response
}

/// Allowed without a patch, saying why the defaults are missing.
fn not_applied(uid: &str, reason: &str) -> AdmissionResponse {
    let mut response = AdmissionResponse::allow(uid);
    response.warnings = vec![format!(
        "defaults were not applied ({reason}); the object is admitted as written"
    )];
    response
}

/// A diff operation of the spec, moved under `/spec`.
fn under_spec(op: PatchOperation) -> PatchOperation {
    let prefix = |path: &json_patch::jsonptr::PointerBuf| {
        let mut full = json_patch::jsonptr::PointerBuf::from_tokens(["spec"]);
        full.append(path);
        full
    };
    match op {
        PatchOperation::Add(mut add) => {
            add.path = prefix(&add.path);
            PatchOperation::Add(add)
        }
        PatchOperation::Replace(mut replace) => {
            replace.path = prefix(&replace.path);
            PatchOperation::Replace(replace)
        }
        PatchOperation::Remove(mut remove) => {
            remove.path = prefix(&remove.path);
            PatchOperation::Remove(remove)
        }
        other => other,
    }
}

fn path_of(op: &PatchOperation) -> String {
    match op {
        PatchOperation::Add(add) => add.path.to_string(),
        PatchOperation::Replace(replace) => replace.path.to_string(),
        PatchOperation::Remove(remove) => remove.path.to_string(),
        PatchOperation::Move(mv) => mv.path.to_string(),
        PatchOperation::Copy(copy) => copy.path.to_string(),
        PatchOperation::Test(test) => test.path.to_string(),
    }
}

/// The JSON Pointer of a defaulted field path (`spec.s3.acl` → `/spec/s3/acl`).
fn pointer_of(field: &str) -> String {
    format!("/{}", field.replace('.', "/"))
}

/// Applies the operations one by one, keeping those that apply: an operation whose parent
/// does not exist in the object as received (a template the user left out) is skipped.
/// Returns the kept operations and the paths of the skipped ones.
fn place(ops: Vec<PatchOperation>, target: &mut Value) -> (Vec<PatchOperation>, Vec<String>) {
    let mut placed = Vec::with_capacity(ops.len());
    let mut skipped = Vec::new();
    for op in ops {
        let single = Patch(vec![op]);
        match json_patch::patch(target, &single) {
            Ok(()) => placed.extend(single.0),
            Err(_) => skipped.extend(single.0.iter().map(path_of)),
        }
    }
    (placed, skipped)
}

/// The patch, applied to the object as received (`patched`), must yield the defaulted
/// spec (when every operation was placed) and the annotation, and add no error.
fn check_patch<T: Admitted>(
    object: &T,
    defaulted: &T,
    patched: &Value,
    complete: bool,
) -> Result<(), String> {
    let spec = typed_fast::<T::Spec>(&patched["spec"])
        .map_err(|e| format!("the patched spec does not decode: {e}"))?;
    if complete && &spec != defaulted.spec() {
        return Err("the patch does not reproduce the defaulted spec".into());
    }
    let annotation = patched["metadata"]["annotations"][IAM_ROLE_ANNOTATION].as_str();
    let expected = defaulted
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(IAM_ROLE_ANNOTATION))
        .map(String::as_str);
    if annotation != expected {
        return Err("the patch does not reproduce the role annotation".into());
    }
    let mut result = object.clone();
    result.meta_mut().annotations = defaulted.meta().annotations.clone();
    let result = T::assemble(result.meta().clone(), spec, None);
    let errors_after: Vec<Finding> = result
        .validate()
        .into_iter()
        .filter(Finding::is_error)
        .collect();
    // Most defaulted objects are valid: the object as received is validated only when
    // there is an error to compare with it.
    if errors_after.is_empty() {
        return Ok(());
    }
    let errors_before = object.validate();
    match errors_after
        .into_iter()
        .find(|f| !errors_before.contains(f))
    {
        Some(broken) => Err(format!("defaulting would make a field invalid: {broken}")),
        None => Ok(()),
    }
}
