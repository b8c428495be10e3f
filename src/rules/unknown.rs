//! Findings for fields an object's type does not have. TiDB Operator's structural CRDs
//! drop them silently (older, non-structural ones keep them and the controllers ignore
//! them), so they never deny: a warning, or an error only where the user asks for
//! strictness (`check --strict`). One builder for `check` and the webhook.

use crate::api::Kind;
use crate::api::decode::sibling_fields;

use super::finding::{Finding, Severity};

/// The finding for the unknown field at `path` (e.g. `spec.backupTemplate.s3.acls`).
pub fn unknown_field(kind: Kind, path: &str, strict: bool) -> Finding {
    let field = path.rsplit('.').next().unwrap_or(path);
    let parent = path
        .strip_suffix(field)
        .and_then(|p| p.strip_suffix('.'))
        .unwrap_or("");
    let siblings = sibling_fields(kind, path);
    let mut message =
        "unknown field: TiDB Operator's CRD drops it (or its controllers ignore it)".to_owned();
    if let Some(hint) = typo_of(field, &siblings) {
        message.push_str(&format!("; did you mean {hint:?}?"));
    } else if kind == Kind::BackupSchedule
        && parent == "spec"
        && sibling_fields(kind, &format!("spec.backupTemplate.{field}"))
            .iter()
            .any(|f| f == field)
    {
        message.push_str(&format!(
            "; it is a Backup field: move it to spec.backupTemplate.{field}"
        ));
    }
    Finding {
        path: path.to_owned(),
        message,
        severity: if strict {
            Severity::Error
        } else {
            Severity::Warning
        },
    }
}

/// The sibling `field` is a misspelling of, if any. Only near-identical names qualify
/// (case, or one or two letters for names of five or more): a field with a different
/// meaning, such as `backupMode` for `backupType`, must never be proposed, because the
/// object would then be accepted doing something else.
fn typo_of<'a>(field: &str, siblings: &'a [String]) -> Option<&'a str> {
    if let Some(same) = siblings.iter().find(|s| s.eq_ignore_ascii_case(field)) {
        return Some(same);
    }
    let budget = if field.chars().count() >= 5 { 2 } else { 1 };
    let lowered = field.to_ascii_lowercase();
    let close: Vec<(usize, &String)> = siblings
        .iter()
        .map(|s| (strsim::osa_distance(&lowered, &s.to_ascii_lowercase()), s))
        .filter(|(distance, _)| *distance <= budget)
        .collect();
    let nearest = close.iter().map(|(distance, _)| *distance).min()?;
    let mut best = close.iter().filter(|(distance, _)| *distance == nearest);
    match (best.next(), best.next()) {
        (Some((_, name)), None) => Some(name.as_str()),
        // Two equally close names: no guess.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_hint_other_names_do_not() {
        let names: Vec<String> = ["backupType", "backupMode", "cleanPolicy", "br", "s3", "gcs"]
            .map(String::from)
            .to_vec();
        assert_eq!(typo_of("cleanPolicies", &names), None);
        assert_eq!(typo_of("cleanpolicy", &names), Some("cleanPolicy"));
        assert_eq!(typo_of("clenPolicy", &names), Some("cleanPolicy"));
        assert_eq!(typo_of("backupTyp", &names), Some("backupType"));
        assert_eq!(typo_of("backupXype", &names), Some("backupType"));
        assert_eq!(typo_of("backupKind", &names), None);
        assert_eq!(typo_of("bs", &names), Some("br"));
        assert_eq!(typo_of("gc", &names), Some("gcs"));
        assert_eq!(
            typo_of("b3", &names),
            None,
            "br and s3 are both one letter away"
        );
    }

    #[test]
    fn warning_unless_strict() {
        let finding = unknown_field(Kind::Backup, "spec.s3.acls", false);
        assert_eq!(finding.severity, Severity::Warning);
        assert_eq!(
            finding.message,
            "unknown field: TiDB Operator's CRD drops it (or its controllers ignore it); did you mean \"acl\"?"
        );
        assert!(unknown_field(Kind::Backup, "spec.s3.acls", true).is_error());
        let moved = unknown_field(Kind::BackupSchedule, "spec.serviceAccount", false);
        assert!(
            moved
                .message
                .ends_with("it is a Backup field: move it to spec.backupTemplate.serviceAccount"),
            "{}",
            moved.message
        );
    }
}
