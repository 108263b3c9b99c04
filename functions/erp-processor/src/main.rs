// The runtime's future nests deep enough (service, handler, SDK calls) that computing its
// layout in a release build passes the default limit of 128.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    erp_processor::run(&erp_processor::downstream::ERP).await
}
