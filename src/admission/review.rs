//! The `AdmissionReview` wire format (`admission.k8s.io/v1` and `v1beta1`).
//!
//! Own types rather than kube-core's: its `AdmissionResponse` serialises `patch` as a JSON
//! array of numbers (the API defines a base64 string), it always answers `v1`, and it
//! decodes the object into a `DynamicObject` where this webhook needs the raw JSON to
//! decode into its own types and to verify its patch.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub const V1: &str = "admission.k8s.io/v1";
pub const V1BETA1: &str = "admission.k8s.io/v1beta1";

/// Why a body is not an AdmissionReview this server can answer (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("body is not a valid AdmissionReview: {0}")]
    Json(String),
    #[error("unsupported apiVersion {0:?}: expected {V1} or {V1BETA1}")]
    ApiVersion(String),
    #[error("unsupported kind {0:?}: expected AdmissionReview")]
    Kind(String),
    #[error("AdmissionReview has no request")]
    MissingRequest,
    #[error("request.uid must not be empty")]
    EmptyUid,
}

/// A group/version/kind as the apiserver sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

/// The parts of `request` this webhook uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    pub uid: String,
    pub kind: GroupVersionKind,
    #[serde(default)]
    pub sub_resource: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: String,
    /// Kept as raw JSON: decoded straight into the typed object, or into a `Value` only
    /// where a patch must be applied (the review's largest parts, parsed once).
    #[serde(default)]
    pub object: Option<Box<RawValue>>,
    #[serde(default)]
    pub old_object: Option<Box<RawValue>>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewIn {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<AdmissionRequest>,
}

/// A decoded review: its version (answered in kind) and request.
#[derive(Debug, Clone)]
pub struct Review {
    pub api_version: &'static str,
    pub request: AdmissionRequest,
}

/// Decodes a review body.
pub fn decode(body: &[u8]) -> Result<Review, ReviewError> {
    let review: ReviewIn =
        serde_json::from_slice(body).map_err(|e| ReviewError::Json(e.to_string()))?;
    let api_version = match review.api_version.as_str() {
        V1 => V1,
        V1BETA1 => V1BETA1,
        other => return Err(ReviewError::ApiVersion(other.to_owned())),
    };
    if review.kind != "AdmissionReview" {
        return Err(ReviewError::Kind(review.kind));
    }
    let request = review.request.ok_or(ReviewError::MissingRequest)?;
    if request.uid.is_empty() {
        return Err(ReviewError::EmptyUid);
    }
    Ok(Review {
        api_version,
        request,
    })
}

/// `response` of an AdmissionReview.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Base64 of the JSON Patch, as the API defines `[]byte`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl AdmissionResponse {
    pub fn allow(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: true,
            ..Default::default()
        }
    }

    /// A denial carrying `code` (400 bad request, 422 invalid, 500 internal error).
    pub fn deny(uid: &str, code: u16, reason: &str, message: String) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(Status {
                code: Some(i32::from(code)),
                message: Some(message),
                reason: Some(reason.to_owned()),
                status: Some("Failure".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Attaches a JSON Patch (empty patches are not sent).
    pub fn with_patch(mut self, patch: &json_patch::Patch) -> Result<Self, serde_json::Error> {
        if !patch.0.is_empty() {
            let json = serde_json::to_vec(patch)?;
            self.patch = Some(base64::engine::general_purpose::STANDARD.encode(json));
            self.patch_type = Some("JSONPatch");
        }
        Ok(self)
    }

    /// The HTTP status code this response reports (200 when allowed).
    pub fn code(&self) -> u16 {
        self.status
            .as_ref()
            .and_then(|s| s.code)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(if self.allowed { 200 } else { 403 })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'a> {
    api_version: &'a str,
    kind: &'static str,
    response: &'a AdmissionResponse,
}

/// Encodes the answer in the version the review came in.
pub fn encode(
    api_version: &str,
    response: &AdmissionResponse,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&ReviewOut {
        api_version,
        kind: "AdmissionReview",
        response,
    })
}
