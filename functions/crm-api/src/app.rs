use crate::config::CrmApiConfig;
use aws_config::SdkConfig;
use user_sync::events::EventPublisher;
use user_sync::store::{ErpEmployeesTable, UsersTable};

/// What every request needs, built once at cold start and borrowed by each invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub users: UsersTable,
    pub events: EventPublisher,
    /// The ERP side's view of each user, read only (a user's sync status).
    pub employees: ErpEmployeesTable,
    pub metrics_namespace: String,
}

impl App {
    pub fn new(aws: &SdkConfig, config: &CrmApiConfig) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        Self {
            employees: ErpEmployeesTable::new(dynamo.clone(), &config.employees_table),
            users: UsersTable::new(dynamo, &config.users_table),
            events: EventPublisher::new(aws_sdk_sqs::Client::new(aws), &config.events_queue_url),
            metrics_namespace: config.metrics_namespace.clone(),
        }
    }
}
