//! The unit prices the cost estimate uses: one place, with their region and date. On-demand
//! list prices of us-east-1 (N. Virginia) as AWS published them in 2025, at the first
//! volume tier and without the free tier; not re-checked from the build machine (it reaches
//! no AWS page). Change them here, and `scripts/bench` prints the new table.

/// One unit price: `usd` per `per` units of `unit`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Price {
    pub usd: f64,
    pub per: f64,
    pub unit: &'static str,
}

impl Price {
    pub fn of(self, quantity: f64) -> f64 {
        quantity / self.per * self.usd
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Prices {
    pub region: &'static str,
    pub as_of: &'static str,
    /// Arm (Graviton), as the CDK app deploys the functions.
    pub lambda_duration: Price,
    pub lambda_requests: Price,
    pub rest_api_requests: Price,
    /// Standard queue; every 64 KB chunk of a payload is one request.
    pub sqs_requests: Price,
    /// Standard topic: each publish (every 64 KB chunk of it, each entry of a batch) is one
    /// request; deliveries to SQS cost SNS nothing (the queue bills its own requests).
    pub sns_requests: Price,
    pub dynamodb_writes: Price,
    pub dynamodb_reads: Price,
    /// Standard log class, ingestion (Lambda's and API Gateway's logs alike).
    pub logs_ingested: Price,
    pub xray_traces: Price,
}

pub const US_EAST_1: Prices = Prices {
    region: "us-east-1",
    as_of: "2025 list prices (aws.amazon.com/<service>/pricing)",
    lambda_duration: Price {
        usd: 0.000_013_333_4,
        per: 1.0,
        unit: "GB-second (arm64)",
    },
    lambda_requests: Price {
        usd: 0.20,
        per: 1e6,
        unit: "requests",
    },
    rest_api_requests: Price {
        usd: 3.50,
        per: 1e6,
        unit: "REST API requests",
    },
    sqs_requests: Price {
        usd: 0.40,
        per: 1e6,
        unit: "standard queue requests",
    },
    sns_requests: Price {
        usd: 0.50,
        per: 1e6,
        unit: "standard topic publish requests",
    },
    dynamodb_writes: Price {
        usd: 0.625,
        per: 1e6,
        unit: "on-demand write request units",
    },
    dynamodb_reads: Price {
        usd: 0.125,
        per: 1e6,
        unit: "on-demand read request units",
    },
    logs_ingested: Price {
        usd: 0.50,
        per: 1.0,
        unit: "GB (10^9 bytes) ingested",
    },
    xray_traces: Price {
        usd: 5.00,
        per: 1e6,
        unit: "traces recorded",
    },
};
