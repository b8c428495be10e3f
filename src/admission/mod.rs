//! Admission decisions: an AdmissionReview in, the answer (decision, JSON Patch,
//! warnings, audit annotations) out. No IO, no clock: the server around it handles HTTP.
//!
//! Rooms: [`admitted`] (what each kind needs, decoding the review's objects), `mutate`
//! (IAM identity and defaults as a JSON Patch, with its own check), `validate` (findings,
//! UPDATE semantics, the 422), `pods` (IAM identity for pods).

mod admitted;
mod mutate;
mod pods;
mod received;
pub mod review;
mod validate;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::api::{Backup, BackupSchedule};
use crate::iam::IamResolver;
use crate::iam::pod as pod_iam;
use admitted::{Admitted, Unreadable, decode_object};
use pods::inject_pod;
use review::{AdmissionRequest, AdmissionResponse, Carried, GroupVersionKind, Review, ReviewError};

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
        if let Ok(outcome) = self.answer(endpoint, &review) {
            return outcome;
        }
        // Something in an object decoded in the review's own pass: read the review again
        // with its objects as text, to answer exactly as for any unreadable object.
        let review = review::decode_as_text(body)?;
        match self.answer(endpoint, &review) {
            Ok(outcome) => outcome,
            Err(ReadAgain) => Err(ReviewError::Json(
                "the review's objects could not be read".to_owned(),
            )),
        }
    }

    fn answer(
        &self,
        endpoint: Endpoint,
        review: &Review<'_>,
    ) -> Result<Result<Outcome, ReviewError>, ReadAgain> {
        let request = &review.request;
        let response = self.respond(endpoint, request)?;
        let summary = Summary {
            uid: request.uid.clone(),
            kind: request.kind.kind.clone(),
            namespace: request.namespace.clone(),
            name: object_name(request)?,
            operation: request.operation.clone(),
            dry_run: request.dry_run.unwrap_or(false),
            allowed: response.allowed,
            mutated: response.patch.is_some(),
            code: response.code(),
            iam_injected: [
                (pod_iam::AUDIT_ROLE, "role"),
                (pod_iam::AUDIT_SERVICE_ACCOUNT, "serviceAccount"),
            ]
            .into_iter()
            .filter(|(key, _)| response.audit_annotations.contains_key(*key))
            .map(|(_, what)| what)
            .collect(),
            iam_conflict: response
                .audit_annotations
                .contains_key(pod_iam::AUDIT_CONFLICT),
        };
        Ok(review::encode(review.api_version, &response)
            .map(|body| Outcome { body, summary })
            .map_err(|e| ReviewError::Json(format!("cannot encode the response: {e}"))))
    }

    /// The decision for one request; every path copies the request's uid.
    fn respond(
        &self,
        endpoint: Endpoint,
        request: &AdmissionRequest<'_>,
    ) -> Result<AdmissionResponse, ReadAgain> {
        let GroupVersionKind {
            group,
            version,
            kind,
        } = &request.kind;
        let operation = Operation::parse(&request.operation);
        Ok(if Backup::matches(group, version, kind) {
            admit::<Backup>(endpoint, operation, request, &self.iam)?
        } else if BackupSchedule::matches(group, version, kind) {
            admit::<BackupSchedule>(endpoint, operation, request, &self.iam)?
        } else if Pod::matches(group, version, kind)
            && endpoint == Endpoint::Mutate
            && operation == Operation::Create
        {
            inject_pod(request, &self.iam)
        } else {
            // Not ours: allowed untouched.
            AdmissionResponse::allow(&request.uid)
        })
    }
}

/// An object decoded in the review's own pass cannot be answered from exactly: the review
/// must be read again with its objects as text.
struct ReadAgain;

/// The operation of a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
    /// Anything else the apiserver may send one day: allowed untouched.
    Other,
}

impl Operation {
    pub fn parse(value: &str) -> Self {
        match value {
            "CREATE" => Self::Create,
            "UPDATE" => Self::Update,
            "DELETE" => Self::Delete,
            "CONNECT" => Self::Connect,
            _ => Self::Other,
        }
    }
}

/// Group/version/kind matching for the pod webhook (Backups and BackupSchedules use
/// [`Admitted::matches`]).
trait Matches: kube::Resource<DynamicType = ()> {
    fn matches(group: &str, version: &str, kind: &str) -> bool {
        group == Self::group(&()) && version == Self::version(&()) && kind == Self::kind(&())
    }
}

impl Matches for Pod {}

/// The object's name for logs and denials: the request's, or (for a CREATE with
/// `generateName`, before the name exists) `prefix*` from the object.
fn object_name(request: &AdmissionRequest<'_>) -> Result<String, ReadAgain> {
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
        return Ok(request.name.clone());
    }
    let raw = match &request.object {
        None => return Ok(String::new()),
        Some(Carried::Raw(raw)) => raw,
        Some(Carried::Decoded(_)) => return Err(ReadAgain),
    };
    let meta = serde_json::from_str::<Named>(raw.get())
        .ok()
        .and_then(|named| named.metadata);
    Ok(match meta {
        Some(meta) if !meta.name.is_empty() => meta.name,
        Some(meta) if !meta.generate_name.is_empty() => format!("{}*", meta.generate_name),
        _ => String::new(),
    })
}

fn admit<T: Admitted>(
    endpoint: Endpoint,
    operation: Operation,
    request: &AdmissionRequest<'_>,
    iam: &IamResolver,
) -> Result<AdmissionResponse, ReadAgain> {
    let uid = request.uid.as_str();
    let update = match operation {
        Operation::Create => false,
        Operation::Update => true,
        // DELETE and CONNECT carry nothing to default or validate.
        Operation::Delete | Operation::Connect | Operation::Other => {
            return Ok(AdmissionResponse::allow(uid));
        }
    };
    let bad_request = |message: String| AdmissionResponse::deny(uid, 400, "BadRequest", message);
    let new = decode_object::<T>(request.object.as_ref(), "object");
    let old = update.then(|| decode_object::<T>(request.old_object.as_ref(), "oldObject"));
    let (new, old) = match (new, old) {
        (Ok(new), None) => (new, None),
        (Ok(new), Some(Ok(old))) => (new, Some(old)),
        (Err(Unreadable::ReadAgain), _) | (_, Some(Err(Unreadable::ReadAgain))) => {
            return Err(ReadAgain);
        }
        (Err(Unreadable::Invalid(message)), _) | (_, Some(Err(Unreadable::Invalid(message)))) => {
            // An UPDATE that leaves the spec as it was is never refused, even for an
            // object this webhook cannot read.
            return Ok(if update && same_spec(request)? {
                AdmissionResponse::allow(uid)
            } else {
                bad_request(message)
            });
        }
    };
    Ok(match endpoint {
        Endpoint::Mutate => mutate::mutate(uid, new, old.as_ref(), iam),
        Endpoint::Validate => validate::validate(
            uid,
            &object_name(request)?,
            &new,
            old.as_ref(),
            iam,
            &request.namespace,
        ),
    })
}

/// Whether `object` and `oldObject` have the same `spec` (compared as JSON).
fn same_spec(request: &AdmissionRequest<'_>) -> Result<bool, ReadAgain> {
    let spec = |carried: Option<&Carried<'_>>| -> Result<Option<Value>, ReadAgain> {
        let raw = match carried {
            None => return Ok(None),
            Some(Carried::Raw(raw)) => raw,
            Some(Carried::Decoded(_)) => return Err(ReadAgain),
        };
        Ok(serde_json::from_str::<Value>(raw.get())
            .ok()
            .map(|value| value.get("spec").cloned().unwrap_or(Value::Null)))
    };
    Ok(
        match (
            spec(request.object.as_ref())?,
            spec(request.old_object.as_ref())?,
        ) {
            (Some(new), Some(old)) => new == old,
            _ => false,
        },
    )
}
