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
    assert!(paths["/api/crm"]["post"].is_object());
    assert!(paths["/api/crm"]["get"].is_object());
    assert!(paths["/api/crm/{id}"]["get"].is_object());
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
