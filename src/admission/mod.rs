//! Admission decisions: an AdmissionReview in, the answer (decision, JSON Patch,
//! warnings, audit annotations) out. No IO, no clock: the server around it handles HTTP.

mod received;
pub mod review;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use kube::api::ObjectMeta;

use crate::api::decode::typed_fast;
use crate::api::{
    Backup, BackupSchedule, BackupScheduleSpec, BackupScheduleStatus, BackupSpec, BackupStatus,
};
use crate::iam::pod::{self, PodView};
use crate::iam::{
    IamResolver, IdentityField, Source, conflicts_with, declared_identity, static_injection,
    target_of,
};
use crate::rules::unknown::unknown_field;
use crate::rules::update::started_phase;
use crate::rules::vocab::IAM_ROLE_ANNOTATION;
use crate::rules::{self, Finding};
use review::{AdmissionRequest, AdmissionResponse, ReviewError};

/// Audit annotation listing the defaulted fields (the apiserver prefixes the webhook name).
pub const AUDIT_DEFAULTED_FIELDS: &str = "defaulted-fields";

/// Which webhook a review was sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Mutate,
    Validate,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Mutate => "/mutate",
            Endpoint::Validate => "/validate",
        }
    }
}

/// The encoded answer and what it decided, for logs and metrics.
#[derive(Debug)]
pub struct Outcome {
    pub body: Vec<u8>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub uid: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub operation: String,
    pub dry_run: bool,
    pub allowed: bool,
    pub mutated: bool,
    /// HTTP-style code of the decision (200 allowed, 4xx/5xx denied).
    pub code: u16,
    /// IAM identities injected (`role`, `serviceAccount`).
    pub iam_injected: Vec<&'static str>,
    /// Different identities were declared for the object's TiDB cluster.
    pub iam_conflict: bool,
}

/// Answers AdmissionReviews. Holds configuration and read-only views of the watch cache,
/// never state that changes per request.
#[derive(Debug, Default, Clone)]
pub struct Admission {
    iam: Arc<IamResolver>,
}

impl Admission {
    pub fn new() -> Self {
        Self::default()
    }

    /// Admission that injects IAM identities resolved by `iam`.
    pub fn with_iam(iam: Arc<IamResolver>) -> Self {
        Self { iam }
    }

    /// Decodes a review body and answers it in the same API version.
    pub fn handle(&self, endpoint: Endpoint, body: &[u8]) -> Result<Outcome, ReviewError> {
        let review = review::decode(body)?;
        let request = &review.request;
        let response = self.respond(endpoint, request);
        let summary = Summary {
            uid: request.uid.clone(),
            kind: request.kind.kind.clone(),
            namespace: request.namespace.clone(),
            name: object_name(request),
            operation: request.operation.clone(),
            dry_run: request.dry_run.unwrap_or(false),
            allowed: response.allowed,
            mutated: response.patch.is_some(),
            code: response.code(),
            iam_injected: [
                (pod::AUDIT_ROLE, "role"),
                (pod::AUDIT_SERVICE_ACCOUNT, "serviceAccount"),
            ]
            .into_iter()
            .filter(|(key, _)| response.audit_annotations.contains_key(*key))
            .map(|(_, what)| what)
            .collect(),
            iam_conflict: response.audit_annotations.contains_key(pod::AUDIT_CONFLICT),
        };
        let body = review::encode(review.api_version, &response)
            .map_err(|e| ReviewError::Json(format!("cannot encode the response: {e}")))?;
        Ok(Outcome { body, summary })
    }

    /// The decision for one request; every path copies the request's uid.
    pub fn respond(&self, endpoint: Endpoint, request: &AdmissionRequest) -> AdmissionResponse {
        let kind = &request.kind;
        match (
            kind.group.as_str(),
            kind.version.as_str(),
            kind.kind.as_str(),
        ) {
            ("pingcap.com", "v1alpha1", "Backup") => admit::<Backup>(endpoint, request, &self.iam),
            ("pingcap.com", "v1alpha1", "BackupSchedule") => {
                admit::<BackupSchedule>(endpoint, request, &self.iam)
            }
            ("", "v1", "Pod") if endpoint == Endpoint::Mutate && request.operation == "CREATE" => {
                inject_pod(request, &self.iam)
            }
            // Not ours: allowed untouched.
            _ => AdmissionResponse::allow(&request.uid),
        }
    }
}

fn object_name(request: &AdmissionRequest) -> String {
    #[derive(serde::Deserialize)]
    struct Named {
        #[serde(default)]
        metadata: Option<Meta>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        #[serde(default)]
        name: String,
        #[serde(default)]
        generate_name: String,
    }
    if !request.name.is_empty() {
        return request.name.clone();
    }
    // Mutating webhooks see objects created with generateName before they are named.
    let meta = request
        .object
        .as_deref()
        .and_then(|raw| serde_json::from_str::<Named>(raw.get()).ok())
        .and_then(|named| named.metadata);
    match meta {
        Some(meta) if !meta.name.is_empty() => meta.name,
        Some(meta) if !meta.generate_name.is_empty() => format!("{}*", meta.generate_name),
        _ => String::new(),
    }
}

/// What the webhook needs to know of each kind it admits.
trait Admitted: kube::Resource<DynamicType = ()> + Clone + PartialEq + Sized {
    const KIND: &'static str;
    const API_KIND: crate::api::Kind;
    /// Where `spec.backupTemplate`-style fields live: `spec` or `spec.backupTemplate`.
    const BACKUP_SPEC_PATH: &'static str;
    /// The Backup spec (a schedule's template) whose identity fields IAM reads.
    fn backup_spec(&self) -> &BackupSpec;
    fn backup_spec_mut(&mut self) -> &mut BackupSpec;
    fn iam_source(&self) -> Source;
    type Spec: DeserializeOwned + Serialize + Clone + PartialEq;
    type Status: DeserializeOwned;
    fn assemble(metadata: ObjectMeta, spec: Self::Spec, status: Option<Self::Status>) -> Self;
    fn spec(&self) -> &Self::Spec;
    /// Fills defaults, which only ever change `spec`; returns the paths it set.
    fn apply_defaults(&mut self) -> Vec<String>;
    fn validate(&self) -> Vec<Finding>;
    fn validate_update(old: &Self, new: &Self) -> Vec<Finding>;
    /// Whether defaults may no longer be written (a scheduled Backup's spec is frozen).
    fn frozen(&self) -> bool {
        false
    }
}

impl Admitted for Backup {
    const KIND: &'static str = "Backup";
    const API_KIND: crate::api::Kind = crate::api::Kind::Backup;
    const BACKUP_SPEC_PATH: &'static str = "spec";
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
    const KIND: &'static str = "BackupSchedule";
    const API_KIND: crate::api::Kind = crate::api::Kind::BackupSchedule;
    const BACKUP_SPEC_PATH: &'static str = "spec.backupTemplate";
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

/// An object of the review, decoded.
struct Object<T: Admitted> {
    object: T,
    spec_json: Option<Value>,
    unknown_fields: Vec<String>,
}

/// Decodes `request.<field>`, which this operation requires.
fn decode_object<T: Admitted>(raw: Option<&RawValue>, field: &str) -> Result<Object<T>, String> {
    let text = raw
        .map(RawValue::get)
        .filter(|text| text.trim() != "null")
        .ok_or_else(|| format!("request.{field} is required for this operation"))?;
    let received = received::decode::<T::Spec, T::Status>(text)
        .map_err(|e| format!("request.{field} is not a valid {}: {e}", T::KIND))?;
    Ok(Object {
        object: T::assemble(received.metadata, received.spec, received.status),
        spec_json: received.spec_json,
        unknown_fields: received.unknown_fields,
    })
}

fn admit<T: Admitted>(
    endpoint: Endpoint,
    request: &AdmissionRequest,
    iam: &IamResolver,
) -> AdmissionResponse {
    let uid = request.uid.as_str();
    let update = match request.operation.as_str() {
        "CREATE" => false,
        "UPDATE" => true,
        // DELETE and CONNECT carry nothing to default or validate.
        _ => return AdmissionResponse::allow(uid),
    };
    let bad_request = |message: String| AdmissionResponse::deny(uid, 400, "BadRequest", message);
    let new = match decode_object::<T>(request.object.as_deref(), "object") {
        Ok(new) => new,
        Err(message) => return bad_request(message),
    };
    let old = if update {
        match decode_object::<T>(request.old_object.as_deref(), "oldObject") {
            Ok(old) => Some(old.object),
            Err(message) => return bad_request(message),
        }
    } else {
        None
    };
    match endpoint {
        Endpoint::Mutate => mutate(uid, new, old.as_ref(), iam),
        Endpoint::Validate => {
            let conflicts = if update {
                Vec::new()
            } else {
                iam_conflict_warnings(&new.object, iam, &request.namespace)
            };
            let mut response = validate(
                uid,
                &object_name(request),
                &new.object,
                new.unknown_fields,
                old.as_ref(),
            );
            response.warnings.extend(conflicts);
            response
        }
    }
}

/// Defaults the object (after adding the statically configured IAM identity, which the
/// defaults then follow) and answers the change as a JSON Patch, after checking that the
/// patch, applied to the object as received, yields exactly that object and adds no
/// validation error.
fn mutate<T: Admitted>(
    uid: &str,
    received: Object<T>,
    old: Option<&T>,
    iam: &IamResolver,
) -> AdmissionResponse {
    if old.is_some_and(Admitted::frozen) {
        return AdmissionResponse::allow(uid);
    }
    let object = received.object;
    let namespace = object.meta().namespace.clone().unwrap_or_default();
    let original_annotations = object.meta().annotations.clone();
    let mut defaulted = object.clone();
    let mut ops = Vec::new();
    let mut audit = BTreeMap::new();
    let mut warnings = Vec::new();
    let injection = static_injection(
        iam,
        original_annotations.as_ref(),
        object.backup_spec(),
        &namespace,
    );
    if let Some((cluster, identity)) = &injection {
        if let Some(role) = &identity.role {
            defaulted
                .meta_mut()
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(IAM_ROLE_ANNOTATION.to_owned(), role.clone());
            ops.push(pod::add_annotation(
                original_annotations.is_some(),
                IAM_ROLE_ANNOTATION,
                role,
            ));
            audit.insert(
                pod::AUDIT_ROLE.to_owned(),
                format!("{role} (from static configuration for TiDB cluster {cluster})"),
            );
            warnings.push(format!(
                "metadata.annotations[{IAM_ROLE_ANNOTATION}]: set to {role}, configured for TiDB cluster {cluster}"
            ));
        }
        if let Some(sa) = &identity.service_account {
            let spec = defaulted.backup_spec_mut();
            spec.service_account = sa.clone();
            // IRSA: TiKV uses its own service account's role, BR has no keys to send.
            if let Some(br) = spec.br.as_mut()
                && br.send_cred_to_tikv.is_none()
            {
                br.send_cred_to_tikv = Some(false);
            }
            audit.insert(
                pod::AUDIT_SERVICE_ACCOUNT.to_owned(),
                format!("{sa} (from static configuration for TiDB cluster {cluster})"),
            );
            warnings.push(format!(
                "{}.serviceAccount: set to {sa}, configured for TiDB cluster {cluster}",
                T::BACKUP_SPEC_PATH
            ));
        }
    }
    let filled = defaulted.apply_defaults();
    if injection.is_none() && filled.is_empty() {
        return AdmissionResponse::allow(uid);
    }
    let internal = |message: String| AdmissionResponse::deny(uid, 500, "InternalError", message);
    // Both sides go through the types, so only the changes differ. An object without a
    // spec gets the whole defaulted spec added.
    let wrap = |spec: &T::Spec, present: bool| -> serde_json::Result<Value> {
        Ok(if present {
            serde_json::json!({ "spec": serde_json::to_value(spec)? })
        } else {
            serde_json::json!({})
        })
    };
    let present = received.spec_json.is_some();
    let (before, after) = match (wrap(object.spec(), present), wrap(defaulted.spec(), true)) {
        (Ok(before), Ok(after)) => (before, after),
        (Err(e), _) | (_, Err(e)) => return internal(format!("cannot serialise the spec: {e}")),
    };
    ops.extend(json_patch::diff(&before, &after).0);
    let patch = json_patch::Patch(ops);

    // Verify on the parts of the object as received that the patch touches.
    let mut patched = serde_json::json!({ "metadata": {} });
    if let Some(annotations) = &original_annotations {
        patched["metadata"]["annotations"] = serde_json::json!(annotations);
    }
    if let Some(spec) = received.spec_json {
        patched["spec"] = spec;
    }
    if let Err(e) = json_patch::patch(&mut patched, &patch) {
        return internal(format!("defaulting patch does not apply: {e}"));
    }
    match typed_fast::<T::Spec>(&patched["spec"]) {
        Ok(result) if &result == defaulted.spec() => {}
        Ok(_) => return internal("defaulting patch does not reproduce the defaulted spec".into()),
        Err(e) => return internal(format!("defaulting patch breaks the spec: {e}")),
    }
    let annotation = patched["metadata"]["annotations"][IAM_ROLE_ANNOTATION].as_str();
    let expected = defaulted
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(IAM_ROLE_ANNOTATION));
    if annotation != expected.map(String::as_str) {
        return internal("IAM patch does not reproduce the role annotation".into());
    }
    let errors_before: Vec<Finding> = object
        .validate()
        .into_iter()
        .filter(Finding::is_error)
        .collect();
    if let Some(broken) = defaulted
        .validate()
        .into_iter()
        .find(|f| f.is_error() && !errors_before.contains(f))
    {
        return internal(format!("defaulting produced an invalid field: {broken}"));
    }
    let mut response = match AdmissionResponse::allow(uid).with_patch(&patch) {
        Ok(response) => response,
        Err(e) => return internal(format!("cannot encode the patch: {e}")),
    };
    if !filled.is_empty() {
        audit.insert(AUDIT_DEFAULTED_FIELDS.to_owned(), filled.join(","));
    }
    response.audit_annotations = audit;
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
            format!("{path}: {message}")
        })
        .collect()
}

/// Gives a TiKV, backup or clean pod its cluster's IAM identity. Never denies: pods
/// are never blocked by this webhook.
fn inject_pod(request: &AdmissionRequest, iam: &IamResolver) -> AdmissionResponse {
    let uid = request.uid.as_str();
    let pod: Option<PodView> = request
        .object
        .as_deref()
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let Some(pod) = pod else {
        return AdmissionResponse::allow(uid);
    };
    let decision = pod::decide(&pod, &request.namespace, iam);
    let mut response = AdmissionResponse::allow(uid)
        .with_patch(&decision.patch)
        .unwrap_or_else(|_| AdmissionResponse::allow(uid));
    response.warnings = decision.warnings;
    response.audit_annotations = decision.audit;
    response
}

/// Validates the object (an UPDATE against its old version) and answers every error and
/// warning with its field path.
fn validate<T: Admitted>(
    uid: &str,
    name: &str,
    new: &T,
    unknown_fields: Vec<String>,
    old: Option<&T>,
) -> AdmissionResponse {
    let mut findings = match old {
        Some(old) => T::validate_update(old, new),
        None => new.validate(),
    };
    // Only a CRD that keeps unknown fields lets them reach here: never a denial.
    findings.extend(
        unknown_fields
            .iter()
            .map(|path| unknown_field(T::API_KIND, path, false)),
    );
    let warnings: Vec<String> = findings
        .iter()
        .filter(|f| !f.is_error())
        .map(ToString::to_string)
        .collect();
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.is_error()).collect();
    let mut response = if errors.is_empty() {
        AdmissionResponse::allow(uid)
    } else {
        denial(uid, T::KIND, name, &errors)
    };
    response.warnings = warnings;
    response
}

fn denial(uid: &str, kind: &str, name: &str, errors: &[&Finding]) -> AdmissionResponse {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};
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
                        field: Some(f.path.clone()),
                        message: Some(f.message.clone()),
                        reason: Some("FieldValueInvalid".into()),
                    })
                    .collect(),
            ),
            ..Default::default()
        });
    }
    response
}
