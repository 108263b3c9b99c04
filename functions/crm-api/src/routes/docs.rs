//! `GET /openapi.json` and `GET /swagger`.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};

use crate::openapi;

pub fn openapi_json() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(openapi::document_json()))
        .expect("static headers are valid")
}

/// Swagger UI from a public CDN, pinned to one version. The spec URL is relative so it
/// resolves under any stage prefix (`/prod/swagger` loads `/prod/openapi.json`).
const SWAGGER_UI: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>CRM API</title>
  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14/swagger-ui-bundle.js" crossorigin></script>
  <script>
    window.onload = () => { window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui" }); };
  </script>
</body>
</html>
"##;

pub fn swagger_ui() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(SWAGGER_UI))
        .expect("static headers are valid")
}
