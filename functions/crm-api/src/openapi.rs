//! The OpenAPI 3.1 document of the whole REST API (this function's routes and erp-processor's
//! `POST /events`), generated from the handlers' annotations and the types they parse and
//! answer, so it cannot drift from the code. What API Gateway adds in front of every route
//! (SigV4 authorization, its 401 and 403) is declared here once, for every operation.

use http_edge::Problem;
use serde::Serialize;
use serde_json::json;
use user_sync::domain::FieldError;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};

use crate::routes::{changes, users};

/// The name of the security scheme every operation requires.
const SIGV4: &str = "sigv4";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CRM API",
        description = "Creates, reads, changes and deletes CRM users; every change publishes an event (UserCreated, UserUpdated, UserDeleted) that the ERP processor consumes in version order, also reachable directly at POST /events. Every request is signed with AWS Signature Version 4 (service execute-api). Errors are RFC 9457 application/problem+json.",
        version = "1.0.0"
    ),
    servers(
        (url = ".", description = "The stage that served this document (its URL without /openapi.json)"),
        (url = "https://{restApiId}.execute-api.{region}.amazonaws.com/prod", description = "The deployed stage (the stack's CrmApiUrl output, without /api/crm)",
         variables(
             ("restApiId" = (default = "REST_API_ID", description = "The REST API's id")),
             ("region" = (default = "us-east-1", description = "The stack's region")),
         )),
    ),
    paths(users::create, users::list, users::get, changes::update, changes::delete),
    components(schemas(users::CreateUserRequest, changes::PatchUserRequest, users::UserResponse, users::SyncResponse, users::DownstreamSync, users::ConsumerSync, Problem, FieldError, GatewayError)),
    tags((name = "users", description = "CRM users"))
)]
struct ApiDoc;

/// What API Gateway itself answers when it refuses a request before any function runs.
#[derive(Serialize, ToSchema)]
struct GatewayError {
    #[schema(example = "Missing Authentication Token")]
    message: String,
}

pub fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(erp_processor::openapi::document());
    behind_the_gateway(&mut doc);
    doc
}

/// The document as served, with each event type's own schema (see `narrow_event_types`).
pub fn document_json() -> String {
    let mut doc = serde_json::to_value(document()).expect("the document always serializes");
    erp_processor::openapi::narrow_event_types(&mut doc);
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

/// Declares SigV4 on every operation and the gateway's 401 and 403 among each one's answers.
fn behind_the_gateway(doc: &mut Document) {
    let mut key = ApiKeyValue::with_description(
        "Authorization",
        "AWS Signature Version 4 for service execute-api, computed by an AWS SDK, `aws-sigv4` or `curl --aws-sigv4`; the caller needs execute-api:Invoke on the route.",
    );
    key.extensions = Some(
        [("x-amazon-apigateway-authtype".to_owned(), json!("awsSigv4"))]
            .into_iter()
            .collect(),
    );
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(SIGV4, SecurityScheme::ApiKey(ApiKey::Header(key)));
    doc.security = Some(vec![SecurityRequirement::new(SIGV4, Vec::<String>::new())]);

    let gateway = |why: &str| -> RefOr<Response> {
        ResponseBuilder::new()
            .description(why)
            .content(
                "application/json",
                Content::new(Some(RefOr::Ref(Ref::from_schema_name("GatewayError")))),
            )
            .build()
            .into()
    };
    let unsigned = gateway("Answered by API Gateway: the request is not signed (WWW-Authenticate: AWS4-HMAC-SHA256), or no such method and path exist");
    let refused = gateway("Answered by API Gateway: the signature is invalid or expired, or the caller may not invoke this route (execute-api:Invoke)");
    for item in doc.paths.paths.values_mut() {
        let operations: [&mut Option<Operation>; 5] = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            responses.insert("401".to_owned(), unsigned.clone());
            responses.insert("403".to_owned(), refused.clone());
        }
    }
}
