//! "Did you mean" suggestions for values of closed vocabularies.

/// The candidate a user most likely meant by `value`: a case-insensitive match first,
/// then the nearest candidate by edit distance (transpositions count once) when it is
/// close enough for the word's length, then a prefix match.
pub fn closest<'a>(value: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if let Some(exact) = candidates.iter().find(|c| c.eq_ignore_ascii_case(value)) {
        return Some(exact);
    }
    let lowered = value.to_ascii_lowercase();
    let nearest = candidates
        .iter()
        .map(|c| (strsim::osa_distance(&lowered, &c.to_ascii_lowercase()), *c))
        .filter(|(distance, c)| *distance <= tolerance(c.len()))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c);
    // Otherwise a truncated or extended word ("warning" for "warn").
    nearest.or_else(|| {
        (lowered.len() >= 3)
            .then(|| {
                candidates.iter().copied().find(|c| {
                    let c = c.to_ascii_lowercase();
                    c.starts_with(&lowered) || lowered.starts_with(&c)
                })
            })
            .flatten()
    })
}

fn tolerance(len: usize) -> usize {
    match len {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    }
}

/// `unsupported value "Private": did you mean "private"? (supported: private, …)`.
pub fn unsupported(value: &str, supported: &[&str]) -> String {
    let list = supported.join(", ");
    match closest(value, supported) {
        Some(hint) => format!(
            "unsupported value {value:?}: did you mean {hint:?}? (supported: {list}; values are case-sensitive)"
        ),
        None => format!("unsupported value {value:?} (supported: {list})"),
    }
}

/// As [`unsupported`], for vocabularies read in any case (BR's log levels).
pub fn unsupported_any_case(value: &str, supported: &[&str]) -> String {
    let list = supported.join(", ");
    match closest(value, supported) {
        Some(hint) => format!(
            "unsupported value {value:?}: did you mean {hint:?}? (supported, in any case: {list})"
        ),
        None => format!("unsupported value {value:?} (supported, in any case: {list})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::vocab::*;

    #[test]
    fn suggests_case_and_typo_fixes() {
        assert_eq!(closest("Private", S3_ACLS), Some("private"));
        assert_eq!(closest("privte", S3_ACLS), Some("private"));
        assert_eq!(
            closest("standard-ia", S3_STORAGE_CLASSES),
            Some("STANDARD_IA")
        );
        assert_eq!(closest("delete", CleanPolicy::NAMES), Some("Delete"));
        assert_eq!(closest("onfailure", CleanPolicy::NAMES), Some("OnFailure"));
        assert_eq!(closest("tabel", BackupType::NAMES), Some("table"));
        assert_eq!(closest("AWS", S3_PROVIDERS), Some("aws"));
        assert_eq!(closest("warning", BR_LOG_LEVELS), Some("warn"));
        assert_eq!(closest("azure", S3_PROVIDERS), None);
        assert_eq!(closest("incremental", BackupType::NAMES), None);
    }

    #[test]
    fn message_names_value_hint_and_choices() {
        assert_eq!(
            unsupported("Retian", CleanPolicy::NAMES),
            r#"unsupported value "Retian": did you mean "Retain"? (supported: Retain, Delete, OnFailure; values are case-sensitive)"#
        );
        assert_eq!(
            unsupported("keep", CleanPolicy::NAMES),
            r#"unsupported value "keep" (supported: Retain, Delete, OnFailure)"#
        );
    }
}
