use crate::config::CrmApiConfig;
use aws_config::SdkConfig;
use user_sync::crm::Crm;
use user_sync::events::EventPublisher;
use user_sync::outbox::Outbox;
use user_sync::store::{ErpEmployeesTable, UsersTable};

/// What every request needs, built once at cold start and borrowed by each invocation.
#[derive(Debug, Clone)]
pub struct App {
    /// Creates, changes and deletes users, publishing their events (or leaving them to the
    /// table's stream).
    pub crm: Crm,
    /// Read only (a user, a page of users).
    pub users: UsersTable,
    /// The ERP side's view of each user, read only (a user's sync status).
    pub employees: ErpEmployeesTable,
    /// The CRM mirror's view of each user, read only, when the stack has the mirror.
    pub mirror: Option<ErpEmployeesTable>,
    pub metrics_namespace: String,
}

impl App {
    pub fn new(aws: &SdkConfig, config: &CrmApiConfig) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        let users = UsersTable::new(dynamo.clone(), &config.users_table);
        let events = EventPublisher::new(aws_sdk_sns::Client::new(aws), &config.events_topic_arn);
        Self {
            crm: Crm::new(Outbox::new(users.clone(), events), config.delivery),
            mirror: config
                .mirror_contacts_table
                .as_ref()
                .map(|table| ErpEmployeesTable::new(dynamo.clone(), table)),
            employees: ErpEmployeesTable::new(dynamo, &config.employees_table),
            users,
            metrics_namespace: config.metrics_namespace.clone(),
        }
    }
}
