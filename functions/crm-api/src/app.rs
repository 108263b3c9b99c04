use crate::config::CrmApiConfig;
use aws_config::SdkConfig;
use user_sync::events::EventPublisher;
use user_sync::store::UsersTable;

/// What every request needs, built once at cold start and borrowed by each invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub users: UsersTable,
    pub events: EventPublisher,
}

impl App {
    pub fn new(aws: &SdkConfig, config: &CrmApiConfig) -> Self {
        Self {
            users: UsersTable::new(aws_sdk_dynamodb::Client::new(aws), &config.users_table),
            events: EventPublisher::new(aws_sdk_sqs::Client::new(aws), &config.events_queue_url),
        }
    }
}
