//! The one rule for the names a project declares: entities, feature views and services,
//! models, remotes (and the registry's aliases). They become file names, table names, TOML
//! keys and URL path segments, so they are kept to a set that is safe in all of them.

/// Whether `name` is a valid name: not empty, only ASCII letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn letters_digits_dash_and_underscore_only() {
        for ok in ["a", "churn", "Fraud_v2", "x-1", "_", "9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a.b", "a/b", "é", "a:b", "a@b", "a\n"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
