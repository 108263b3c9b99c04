//! Reading configuration from the environment once at cold start, for each binary's own
//! `config` module. A missing variable fails the cold start with a message naming it,
//! rather than surfacing as an obscure SDK error on the first request.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads a variable from `lookup`; blank counts as missing.
pub fn required(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// Reads an optional variable and parses it, falling back to `default` when unset.
pub fn parsed_or<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

/// The process environment, for `from_lookup`.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn blank_counts_as_missing_and_numbers_are_checked() {
        let vars = HashMap::from([("USERS_TABLE_NAME", " "), ("N", "x")]);
        let lookup = |k: &str| vars.get(k).map(|v| v.to_string());
        assert_eq!(
            required(&lookup, "USERS_TABLE_NAME"),
            Err(ConfigError::Missing("USERS_TABLE_NAME"))
        );
        assert!(matches!(
            parsed_or(&lookup, "N", 3usize),
            Err(ConfigError::Invalid { name: "N", .. })
        ));
        assert_eq!(parsed_or(&lookup, "UNSET", 3usize), Ok(3));
    }
}
