use aws_config::SdkConfig;
use integration::config::ErpProcessorConfig;
use integration::store::ProcessedUsersTable;

use crate::process::Processor;

/// What every invocation needs, built once at cold start and borrowed by each invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub processor: Processor,
    /// How many records of one SQS batch are processed at once.
    pub batch_concurrency: usize,
}

impl App {
    pub fn new(aws: &SdkConfig, config: &ErpProcessorConfig) -> Self {
        let table = ProcessedUsersTable::new(aws_sdk_dynamodb::Client::new(aws), &config.processed_table);
        Self {
            processor: Processor::new(table, &config.erp_system, config.erp_latency),
            batch_concurrency: config.batch_concurrency,
        }
    }
}
