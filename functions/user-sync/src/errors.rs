//! Turning errors into text for logs and problem details.

/// An error and all its causes on one line: SDK errors keep their useful detail in the
/// source chain, not in their own `Display`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An error message as a sentence for a problem's `detail`: capitalized, with a period.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let capitalized: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    format!("{capitalized}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chains_and_sentences() {
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&error), "outer: inner");
        assert_eq!(sentence("no such resource"), "No such resource.");
        assert_eq!(sentence(""), ".");
    }
}
