use crate::config::ErpProcessorConfig;
use aws_config::SdkConfig;
use user_sync::store::{ErpEmployeesTable, ProcessedUsersTable};

use std::sync::Arc;

use crate::process::{Processor, SimulatedErp};

/// What every invocation needs, built once at cold start and borrowed by each invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub processor: Processor,
    /// How many records of one SQS batch are processed at once.
    pub batch_concurrency: usize,
    /// The receive on which a failing record moves to the dead-letter queue.
    pub max_receive_count: u32,
}

impl App {
    pub fn new(aws: &SdkConfig, config: &ErpProcessorConfig) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        Self {
            processor: Processor::new(
                ProcessedUsersTable::new(dynamo.clone(), &config.processed_table),
                ErpEmployeesTable::new(dynamo, &config.employees_table),
                Arc::new(SimulatedErp {
                    latency: config.erp_latency,
                }),
                &config.erp_system,
                config.claim_timeout,
            ),
            batch_concurrency: config.batch_concurrency,
            max_receive_count: config.max_receive_count,
        }
    }
}
