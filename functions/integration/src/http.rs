//! Request paths as API Gateway delivers them, for both functions' routers.

/// The path without the API Gateway stage. Through the stage's own URL the proxy event's
/// path is `/api/crm`, but `lambda_http` adds the stage (`/prod/api/crm`), as do custom
/// domains and test clients, so the stage is stripped whenever it leads (`$default`, the
/// stage of function URLs, never does). A trailing `/` is ignored.
pub fn route_path<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
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

#[cfg(test)]
mod tests {
    use super::route_path;

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
            assert_eq!(route_path(path, stage), expected, "{path} at {stage:?}");
        }
    }
}
