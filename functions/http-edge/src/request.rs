//! What a request carries, as both functions' routes read it: its route path, its content
//! type and its body.

use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};

/// The request path without the API Gateway stage (see `without_stage`).
pub fn route_path(req: &Request) -> &str {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.as_deref(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    without_stage(req.uri().path(), stage)
}

/// Whether the request says its body is JSON (see `is_json`).
pub fn has_json_body(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json)
}

/// The body's bytes, however `lambda_http` holds them (a base64 body arrives decoded).
pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// The path without the API Gateway stage. Through the stage's own URL the proxy event's
/// path is `/api/crm`, but `lambda_http` adds the stage (`/prod/api/crm`), as do custom
/// domains and test clients, so the stage is stripped whenever it leads (`$default`, the
/// stage of function URLs, never does). A trailing `/` is ignored.
fn without_stage<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
    let path = stage
        .filter(|s| !s.is_empty() && *s != "$default")
        .and_then(|s| path.strip_prefix('/')?.strip_prefix(s))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .unwrap_or(path);
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// `application/json` or any `application/*+json`, with or without parameters: the
/// content types a JSON body may be sent as.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::{is_json, without_stage};

    #[test]
    fn json_content_types() {
        for (ct, expected) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("", false),
        ] {
            assert_eq!(is_json(ct), expected, "{ct}");
        }
    }

    #[test]
    fn strips_a_leading_stage_only() {
        for (path, stage, expected) in [
            ("/events", Some("prod"), "/events"),
            ("/prod/events", Some("prod"), "/events"),
            ("/prod/events/", Some("prod"), "/events"),
            ("/production/events", Some("prod"), "/production/events"),
            ("/prod", Some("prod"), "/"),
            ("/events", None, "/events"),
            ("/events", Some("$default"), "/events"),
            ("/", Some("prod"), "/"),
        ] {
            assert_eq!(without_stage(path, stage), expected, "{path} at {stage:?}");
        }
    }
}
