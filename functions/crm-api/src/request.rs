//! Reading what a request carries: its JSON body, idempotency key, caller and correlation
//! id, each failing with the client error it deserves.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use user_sync::crm::Expected;

use crate::error::ApiError;

/// The largest body `POST /api/crm` accepts; a name and an email fit many times over.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
const IDEMPOTENCY_KEY_MAX: usize = 255;

/// The body as a JSON object read into `T`: 415 unless the content type is JSON, 413 above
/// `MAX_BODY_BYTES`, 400 when it does not parse, is not an object or does not fit `T`.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    if !http_edge::request::has_json_body(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes = http_edge::request::body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson("the body is empty".to_owned()));
    }
    // serde_json's syntax errors give a position, never the offending text.
    match serde_json::from_slice(bytes) {
        Ok(object @ Value::Object(_)) => T::deserialize(object).map_err(|e| ApiError::MalformedJson(e.to_string())),
        Ok(_) => Err(ApiError::MalformedJson("expected a JSON object".to_owned())),
        Err(e) => Err(ApiError::MalformedJson(e.to_string())),
    }
}

/// The optional `Idempotency-Key`: 1–255 printable ASCII characters without spaces. Spaces
/// are refused because HTTP strips them at the value's ends: a key the client sent would
/// not be the key the server saw.
pub fn idempotency_key(req: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX || !printable || value.as_bytes().len() != key.len() {
        return Err(ApiError::invalid(
            IDEMPOTENCY_KEY_HEADER,
            "must be 1–255 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(key))
}

/// Whom the request comes from, for scoping idempotency keys: the caller's ARN as API
/// Gateway's IAM authorization reports it (for a role, the role session), or one fixed
/// local principal when nothing authorized the request (`cargo lambda watch`).
pub fn caller(req: &Request) -> &str {
    let arn = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.user_arn.as_deref(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.as_deref()),
        _ => None,
    };
    arn.filter(|a| !a.is_empty()).unwrap_or(LOCAL_CALLER)
}

/// The caller of requests that carry no identity.
pub const LOCAL_CALLER: &str = "local";

/// The id that ties this request's log lines to its event: API Gateway's request id,
/// else a new one.
pub fn correlation_id(req: &Request) -> String {
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A query parameter, if present.
pub fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref().and_then(|q| q.first(name))
}

/// The entity tag of a user's `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// What the request's `If-Match` asks of the user's current version, if it has one (every
/// header line of it, comma-separated tags): any (`*`), or one of the versions its tags
/// name. Strong comparison, as RFC 9110 §13.1.1 requires: a weak tag, or any tag that is not
/// a version's ETag exactly, names no version.
pub fn if_match(req: &Request) -> Option<Expected> {
    let mut values = req.headers().get_all("if-match").iter().peekable();
    values.peek()?;
    let tags: Vec<&str> = values
        .flat_map(|v| v.to_str().unwrap_or_default().split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .collect();
    if tags.contains(&"*") {
        return Some(Expected::Any);
    }
    let version = |tag: &str| {
        let digits = tag.strip_prefix('"')?.strip_suffix('"')?;
        digits.parse::<u64>().ok().filter(|v| etag(*v) == tag)
    };
    Some(Expected::OneOf(tags.into_iter().filter_map(version).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(values: &[&str]) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        for value in values {
            builder = builder.header("If-Match", *value);
        }
        builder.body(lambda_http::Body::Empty).unwrap()
    }

    #[test]
    fn if_match_compares_strong_tags() {
        assert_eq!(if_match(&with_if_match(&[])), None);
        assert!(if_match(&with_if_match(&["*"])).unwrap().allows(7));
        let two = if_match(&with_if_match(&["\"1\", \"2\""])).unwrap();
        assert!(two.allows(2) && two.allows(1) && !two.allows(3));
        assert!(
            if_match(&with_if_match(&["\"4\"", "\"5\""])).unwrap().allows(5),
            "several lines"
        );
        assert!(
            !if_match(&with_if_match(&["W/\"2\""])).unwrap().allows(2),
            "weak never matches"
        );
        assert!(
            !if_match(&with_if_match(&["2"])).unwrap().allows(2),
            "unquoted is not a tag"
        );
        assert!(
            !if_match(&with_if_match(&["\"02\""])).unwrap().allows(2),
            "another spelling of the number is another tag"
        );
    }
}
