//! `/mutate` for TiKV, backup and clean pods: their cluster's IAM identity. Never denies:
//! pods are never blocked by this webhook.

use super::review::{AdmissionRequest, AdmissionResponse, Carried};
use crate::iam::IamResolver;
use crate::iam::pod::{self, PodView};

pub(super) fn inject_pod(request: &AdmissionRequest<'_>, iam: &IamResolver) -> AdmissionResponse {
    let uid = request.uid.as_str();
    // A pod review's objects are always kept as text (only Backups' are decoded in place).
    let pod: Option<PodView> = match &request.object {
        Some(Carried::Raw(raw)) => serde_json::from_str(raw.get()).ok(),
        Some(Carried::Decoded(_)) | None => None,
    };
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
