//! The CRM mirror: keeps a Salesforce-style CRM in step with the users from its own queue,
//! with the ERP processor's core (`erp_processor::downstream::CRM_MIRROR`).

// As erp-processor's main: the runtime's future nests past the default limit in release.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    erp_processor::run(&erp_processor::downstream::CRM_MIRROR).await
}
