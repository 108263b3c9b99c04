//! `GET /openapi.json`, `GET /swagger` (and `/swagger/`, which redirects to it).

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::openapi;

pub fn openapi_json() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(openapi::document_json()))
        .expect("static headers are valid")
}

/// The Swagger UI release the page loads (npm `swagger-ui-dist`; the e2e suite serves the
/// same files from `cdk/node_modules`, so this must match `cdk/package.json`).
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// Swagger UI from a public CDN, pinned to one version and to its files' SHA-384
/// (Subresource Integrity): a CDN that serves anything else is refused by the browser. The
/// spec URL is relative so it resolves under any stage prefix (`/prod/swagger` loads
/// `/prod/openapi.json`).
const SWAGGER_UI: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>CRM API</title>
  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/swagger-ui.css"
        integrity="sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I" crossorigin="anonymous">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/swagger-ui-bundle.js"
          integrity="sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9" crossorigin="anonymous"></script>
  <script>
    window.onload = () => { window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui" }); };
  </script>
</body>
</html>
"##;

/// The page; at `/swagger/` a redirect to it, since the page's relative `openapi.json`
/// would resolve to `/swagger/openapi.json` there. The redirect is relative too, so the
/// stage prefix stays.
pub fn swagger_ui(req: &Request) -> Response<Body> {
    if req.uri().path().ends_with('/') {
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, "../swagger")
            .body(Body::Empty)
            .expect("static headers are valid");
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(SWAGGER_UI))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_the_pinned_release_with_integrity() {
        let pinned = format!("swagger-ui-dist@{SWAGGER_UI_VERSION}/");
        for asset in ["swagger-ui.css", "swagger-ui-bundle.js"] {
            let at = SWAGGER_UI
                .find(&format!("{pinned}{asset}"))
                .unwrap_or_else(|| panic!("{asset} at {pinned}"));
            let tag_end = at + SWAGGER_UI[at..].find('>').unwrap();
            assert!(
                SWAGGER_UI[at..tag_end].contains("integrity=\"sha384-"),
                "{asset} has SRI"
            );
            assert!(
                SWAGGER_UI[at..tag_end].contains("crossorigin=\"anonymous\""),
                "{asset} is fetched in CORS mode"
            );
        }
    }
}
