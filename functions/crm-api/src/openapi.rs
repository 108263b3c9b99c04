//! The OpenAPI 3.1 document, generated from the handlers' annotations and the types they
//! send and receive, so it cannot drift from the code.

use integration::domain::FieldError;
use integration::problem::Problem;
use utoipa::OpenApi;

use crate::routes::users;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CRM API",
        description = "Creates and reads CRM users; every new user publishes a UserCreated event that the ERP processor consumes. Errors are RFC 9457 application/problem+json.",
        version = "1.0.0"
    ),
    paths(users::create, users::list, users::get),
    components(schemas(users::CreateUserRequest, users::UserResponse, Problem, FieldError)),
    tags((name = "users", description = "CRM users"))
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn document_json() -> String {
    document().to_pretty_json().expect("the document always serializes")
}
