use crate::helpers::{spawn_app, ApiRequest};

#[tokio::test]
async fn unknown_paths_are_404_problems() {
    let app = spawn_app().await;
    for path in ["/", "/api", "/api/crm/a/b", "/prod/nothing", "/users"] {
        app.get(path).await.problem(404);
    }
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        ("DELETE", "/api/crm", "GET, POST"),
        ("PUT", "/api/crm", "GET, POST"),
        (
            "POST",
            "/api/crm/00000000-0000-4000-8000-000000000000",
            "DELETE, GET, PATCH",
        ),
        ("PUT", "/prod/api/crm/x", "DELETE, GET, PATCH"),
        ("POST", "/openapi.json", "GET"),
    ] {
        let res = app.send(ApiRequest::new(method, path)).await;
        res.problem(405);
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
    }
}

#[tokio::test]
async fn paths_work_with_and_without_the_stage_and_a_trailing_slash() {
    let app = spawn_app().await;
    for path in ["/api/crm", "/prod/api/crm", "/api/crm/", "/prod/api/crm/"] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
    let res = app.send(ApiRequest::new("GET", "/api/crm").via_function_url()).await;
    assert_eq!(res.status, 200);
}

/// `GET /api/crm/%3F` through the stage: API Gateway matches `/api/crm/{id}` with the id
/// `?`, which `lambda_http` would read as the start of a query (schemathesis found it).
#[tokio::test]
async fn the_id_comes_from_the_gateways_path_parameter() {
    let app = spawn_app().await;
    let event = serde_json::json!({
        "resource": "/api/crm/{id}", "path": "/api/crm/?", "httpMethod": "GET",
        "headers": {"Host": "api.example.com"}, "multiValueHeaders": {"Host": ["api.example.com"]},
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "pathParameters": {"id": "?"}, "stageVariables": null,
        "requestContext": {"accountId": "123456789012", "resourceId": "abc123", "stage": "prod",
            "requestId": "r-1", "httpMethod": "GET", "path": "/prod/api/crm/?",
            "resourcePath": "/api/crm/{id}", "apiId": "a1b2c3", "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1"}},
        "body": null, "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event");
    let response = crm_api::routes::handle(&app.app, request).await.expect("never fails");
    assert_eq!(response.status(), 404, "not the list");
}
