//! The ERP's bearer token, read once at cold start from the Secrets Manager secret the CDK
//! app creates (`ERP_CREDENTIALS_SECRET_ARN`): `{"token": "…"}`, or the bare token.

use aws_config::SdkConfig;

/// Where the token is read from again, when the ERP says it is no longer valid.
#[derive(Clone)]
pub struct TokenSource {
    pub aws: SdkConfig,
    pub arn: String,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("arn", &self.arn)
            .finish_non_exhaustive()
    }
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(redacted)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading the ERP credentials secret {arn} failed")]
    Read {
        arn: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Never quotes the value.
    #[error("the ERP credentials secret {arn} {problem}")]
    Malformed { arn: String, problem: &'static str },
}

pub async fn read_token(aws: &SdkConfig, arn: &str) -> Result<Token, CredentialsError> {
    let output = aws_sdk_secretsmanager::Client::new(aws)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| CredentialsError::Read {
            arn: arn.to_owned(),
            source: Box::new(e),
        })?;
    let text = output.secret_string().ok_or_else(|| CredentialsError::Malformed {
        arn: arn.to_owned(),
        problem: "has no string value",
    })?;
    parse_token(text).map_err(|problem| CredentialsError::Malformed {
        arn: arn.to_owned(),
        problem,
    })
}

/// A JSON object's `token`, or the whole trimmed value when it is not JSON.
pub fn parse_token(text: &str) -> Result<Token, &'static str> {
    let token = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(fields)) => match fields.get("token") {
            Some(serde_json::Value::String(token)) => token.trim().to_owned(),
            _ => return Err("is a JSON object without a string \"token\""),
        },
        Ok(_) => return Err("is JSON but not an object with a \"token\""),
        Err(_) => text.trim().to_owned(),
    };
    if token.is_empty() {
        return Err("holds an empty token");
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("holds a token with spaces or non-ASCII characters, which no header can carry");
    }
    Ok(Token(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_token_or_a_bare_one() {
        assert_eq!(parse_token(r#"{"token":"abc123"}"#).unwrap().expose(), "abc123");
        assert_eq!(parse_token("  abc123\n").unwrap().expose(), "abc123");
    }

    #[test]
    fn refuses_what_no_header_can_carry_without_quoting_it() {
        assert!(parse_token(r#"{"password":"x"}"#).is_err());
        assert!(parse_token(r#"{"token":""}"#).is_err());
        assert!(parse_token("[1]").is_err());
        assert!(parse_token("two words").is_err());
        assert!(parse_token("").is_err());
    }

    #[test]
    fn never_prints_the_value() {
        let token = parse_token("s3cr3t").unwrap();
        assert_eq!(format!("{token:?}"), "Token(redacted)");
    }
}
