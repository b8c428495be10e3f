//! Kubernetes name formats (RFC 1123 labels and subdomains).

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

fn is_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= LABEL_MAX
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// `None` when `value` is a lowercase RFC 1123 label (TidbCluster, namespace and
/// Service names), else what is wrong with it.
pub fn check_label(value: &str) -> Option<String> {
    if value.len() > LABEL_MAX {
        return Some(format!(
            "invalid name {value:?}: must be at most {LABEL_MAX} characters (it is {})",
            value.len()
        ));
    }
    (!is_label(value)).then(|| {
        format!(
            "invalid name {value:?}: must be a lowercase RFC 1123 label (lower case letters, digits and '-', starting and ending with a letter or digit)"
        )
    })
}

/// `None` when `value` is a lowercase RFC 1123 subdomain (Secret and ServiceAccount
/// names), else what is wrong with it.
pub fn check_subdomain(value: &str) -> Option<String> {
    if value.len() > SUBDOMAIN_MAX {
        return Some(format!(
            "invalid name {value:?}: must be at most {SUBDOMAIN_MAX} characters (it is {})",
            value.len()
        ));
    }
    (value.is_empty() || !value.split('.').all(is_label)).then(|| {
        format!(
            "invalid name {value:?}: must be a lowercase RFC 1123 subdomain (lower case letters, digits, '-' and '.', starting and ending with a letter or digit)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["demo1", "a", "basic-tidb", "0abc", &"a".repeat(63)] {
            assert_eq!(check_label(ok), None, "{ok}");
        }
        assert_eq!(
            check_label("Demo1").as_deref(),
            Some(
                r#"invalid name "Demo1": must be a lowercase RFC 1123 label (lower case letters, digits and '-', starting and ending with a letter or digit)"#
            )
        );
        for bad in ["", "-a", "a-", "a.b", "a_b", "ä"] {
            assert!(check_label(bad).is_some(), "{bad}");
        }
        assert_eq!(
            check_label(&"a".repeat(64)).as_deref(),
            Some(
                format!(
                    r#"invalid name "{}": must be at most 63 characters (it is 64)"#,
                    "a".repeat(64)
                )
                .as_str()
            )
        );
    }

    #[test]
    fn subdomains() {
        for ok in ["s3-secret", "backup-demo1-tidb-secret", "a.b-c.d"] {
            assert_eq!(check_subdomain(ok), None, "{ok}");
        }
        for bad in ["", "S3", "a..b", ".a", "a.", "a_b", "my secret"] {
            assert!(
                check_subdomain(bad).is_some_and(|m| m.contains("lowercase RFC 1123 subdomain")),
                "{bad}"
            );
        }
    }
}
