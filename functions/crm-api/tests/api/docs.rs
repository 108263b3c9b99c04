use std::process::Command;

use crate::helpers::spawn_app;

#[tokio::test]
async fn openapi_document_is_valid_3_1_and_lists_every_route() {
    let app = spawn_app().await;
    let res = app.get("/prod/openapi.json").await;
    assert_eq!(res.status, 200);
    let doc = res.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let operations = [
        ("/api/crm", "post"),
        ("/api/crm", "get"),
        ("/api/crm/{id}", "get"),
        ("/events", "post"),
    ];
    for (path, method) in operations {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is described");
        for status in ["401", "403"] {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {path} documents the gateway's {status}"
            );
        }
    }
    assert_eq!(doc["security"], serde_json::json!([{"sigv4": []}]));
    let sigv4 = &doc["components"]["securitySchemes"]["sigv4"];
    assert_eq!(sigv4["type"], "apiKey");
    assert_eq!(sigv4["in"], "header");
    assert_eq!(sigv4["name"], "Authorization");
    assert_eq!(sigv4["x-amazon-apigateway-authtype"], "awsSigv4");
    assert_eq!(doc["servers"][0]["url"], ".", "the stage that served the document");
    let events_body = &paths["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    // One of the per-type schemas, each the envelope narrowed to its type.
    assert_eq!(
        events_body["oneOf"],
        serde_json::json!([
            {"$ref": "#/components/schemas/UserCreatedEvent"},
            {"$ref": "#/components/schemas/UserUpdatedEvent"},
            {"$ref": "#/components/schemas/UserDeletedEvent"},
        ])
    );
    let deleted = &doc["components"]["schemas"]["UserDeletedEvent"];
    assert_eq!(deleted["allOf"][0]["$ref"], "#/components/schemas/EventEnvelope");
    assert_eq!(deleted["required"], serde_json::json!(["version"]));
    for status in ["201", "400", "413", "415", "422", "503"] {
        assert!(
            paths["/api/crm"]["post"]["responses"][status].is_object(),
            "POST documents {status}"
        );
    }

    let file = std::env::temp_dir().join(format!("openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, &res.body).unwrap();
    let out = Command::new(test_support::venv_tool("openapi-spec-validator"))
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    std::fs::remove_file(&file).ok();
    assert!(
        out.status.success(),
        "openapi-spec-validator rejected the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn swagger_ui_loads_the_document_relative_to_the_stage() {
    let app = spawn_app().await;
    let res = app.get("/prod/swagger").await;
    assert_eq!(res.status, 200);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(
        res.body.contains("url: \"openapi.json\""),
        "relative URL keeps the stage prefix"
    );
    assert!(res.body.contains("swagger-ui-bundle.js"));
}

#[tokio::test]
async fn swagger_with_a_slash_redirects_to_the_page_behind_the_stage() {
    let app = spawn_app().await;
    let res = app.get("/prod/swagger/").await;
    assert_eq!(res.status, 301);
    let page = url::Url::parse("https://api.example/prod/swagger/")
        .unwrap()
        .join(res.header("location").unwrap())
        .unwrap();
    assert_eq!(page.as_str(), "https://api.example/prod/swagger");
}
