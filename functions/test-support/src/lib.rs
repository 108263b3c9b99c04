//! One MiniStack server (the local stack's AWS emulator) per test binary, and fresh,
//! uniquely named tables and queues per test, so tests run in parallel against real AWS SDK
//! clients without seeing each other's data.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
pub mod fake_erp;
pub mod http;
mod lost_answer;
mod tables;

pub use lost_answer::lost_first_answer;

pub use http::TestResponse;

pub const REGION: &str = "us-east-1";

/// An emulator server that lives as long as the test process.
pub struct Emulator {
    pub endpoint: String,
}

/// The emulator of this test binary, started on first use on a free loopback port.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(Emulator::start)
}

/// The workspace root, where `scripts/setup` puts `.venv`.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Python tool from the project's `.venv` (installed by `scripts/setup`).
pub fn venv_tool(name: &str) -> PathBuf {
    let path = workspace_root().join(".venv/bin").join(name);
    assert!(path.exists(), "{} is missing: run scripts/setup first", path.display());
    path
}

impl Emulator {
    fn start() -> Self {
        let server = venv_tool("ministack");
        let port = free_port();
        // A `static` is never dropped, so nothing would stop the server when the tests end.
        // The shell holds the read end of our stdin pipe: when this process exits, however
        // it exits, `cat` sees EOF and the trap stops the emulator. Loopback only, and none
        // of its other listeners (MQTT, SFTP), as scripts/dev starts it.
        let script = r#"trap 'kill $server 2>/dev/null' EXIT; BIND_HOST=127.0.0.1 GATEWAY_PORT="$1" IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 "$0" >/dev/null 2>&1 & server=$!; cat >/dev/null"#;
        let child = Command::new("sh")
            .args(["-c", script])
            .arg(&server)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ministack");
        // Keep the pipe's write end open for the life of the process.
        std::mem::forget(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_until_listening(addr, Duration::from_secs(60));
        Self {
            endpoint: format!("http://{addr}"),
        }
    }

    /// SDK configuration pointed at this server, with dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }
}

/// SDK configuration for any endpoint (tests also point clients at dead endpoints).
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .load()
        .await
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_until_listening(addr: SocketAddr, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            use std::io::Write;
            // Listening is not enough: the server must answer.
            let _ = stream.write_all(b"GET /_ministack/health HTTP/1.0\r\n\r\n");
            let mut head = [0u8; 12];
            if stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("ministack did not answer on {addr} within {limit:?}");
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A `Users` table as the CDK app deploys it (see `tables`).
pub async fn create_users_table(client: &aws_sdk_dynamodb::Client) -> String {
    tables::create_deployed_table(client, "Users").await
}

/// An `ErpProcessedUsers` table as the CDK app deploys it (see `tables`).
pub async fn create_processed_table(client: &aws_sdk_dynamodb::Client) -> String {
    tables::create_deployed_table(client, "ErpProcessedUsers").await
}

/// An `ErpEmployees` table as the CDK app deploys it (see `tables`).
pub async fn create_employees_table(client: &aws_sdk_dynamodb::Client) -> String {
    tables::create_deployed_table(client, "ErpEmployees").await
}

/// A queue, and its URL.
pub async fn create_queue(client: &aws_sdk_sqs::Client, prefix: &str) -> String {
    client
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .expect("create queue in the emulator")
        .queue_url
        .expect("the emulator returns the queue URL")
}

/// A topic and a queue subscribed to it with raw message delivery, as the CDK app subscribes
/// each consumer's queue: what is published to `topic_arn` arrives on `queue_url`, its body
/// and attributes as published.
pub struct Subscribed {
    pub topic_arn: String,
    pub queue_url: String,
}

pub async fn create_topic_with_queue(sns: &aws_sdk_sns::Client, sqs: &aws_sdk_sqs::Client, prefix: &str) -> Subscribed {
    let topic_arn = sns
        .create_topic()
        .name(unique(prefix))
        .send()
        .await
        .expect("create topic in the emulator")
        .topic_arn
        .expect("the emulator returns the topic ARN");
    let queue_url = create_queue(sqs, prefix).await;
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("the queue's ARN");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscribe the queue to the topic");
    Subscribed { topic_arn, queue_url }
}

/// What the CRM side writes to and publishes through, fresh for one test: the `Users` and
/// `ErpEmployees` tables and the events topic with a consumer's queue subscribed to it,
/// with the clients that reach them.
pub struct CrmTables {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub users_table: String,
    pub employees_table: String,
    /// The CRM mirror's view: a view table like the ERP's.
    pub mirror_contacts_table: String,
    pub events: Subscribed,
}

impl CrmTables {
    pub async fn create(aws: &SdkConfig) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        let sns = aws_sdk_sns::Client::new(aws);
        let sqs = aws_sdk_sqs::Client::new(aws);
        let events = create_topic_with_queue(&sns, &sqs, "events").await;
        Self {
            users_table: create_users_table(&dynamo).await,
            employees_table: create_employees_table(&dynamo).await,
            mirror_contacts_table: create_employees_table(&dynamo).await,
            events,
            dynamo,
            sns,
            sqs,
        }
    }
}

/// One receive of up to 10 messages from `queue_url`, with their attributes; each stays
/// hidden for five minutes, so a test sees it once unless it lets it go.
pub async fn receive(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .visibility_timeout(300)
        .send()
        .await
        .expect("receive from the emulator")
        .messages
        .unwrap_or_default()
}

/// Every message now on `queue_url`, received and deleted: the queue is empty after.
pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut drained = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive from the emulator");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return drained;
        }
        for m in &messages {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete from the emulator");
        }
        drained.extend(messages);
    }
}

/// A string attribute of a DynamoDB item; panics, naming it, when it is missing.
pub fn s(item: &Item, attr: &str) -> String {
    text(item, attr).unwrap_or_else(|| panic!("{attr} is not a string attribute of {item:?}"))
}

/// A DynamoDB item as the SDK returns it.
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// A string attribute of an item, if it has one.
pub fn text(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(|v| v.as_s().ok()).cloned()
}

/// Every item of `table`, all pages.
pub async fn scan_all(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = dynamo
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table}: {e:?}"));
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key.filter(|k| !k.is_empty());
        if start.is_none() {
            return items;
        }
    }
}

/// The audit records of an `ErpProcessedUsers` table, grouped by `UserId`.
pub async fn processed_by_user(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
) -> std::collections::HashMap<String, Vec<Item>> {
    let mut by_user: std::collections::HashMap<String, Vec<Item>> = std::collections::HashMap::new();
    for item in scan_all(dynamo, table).await {
        if let Some(user) = text(&item, "UserId") {
            by_user.entry(user).or_default().push(item);
        }
    }
    by_user
}

/// The audit record's attributes the original system wrote, which readers of
/// `ErpProcessedUsers` rely on (shared/reference/CONTRACT.md).
pub const ORIGINAL_AUDIT_ATTRIBUTES: [&str; 7] = [
    "EventId",
    "UserId",
    "UserName",
    "UserEmail",
    "ProcessedAt",
    "EventType",
    "Status",
];

/// An endpoint that accepts connections and never answers them: a hung service. Each
/// connection is held open for the life of the test process.
pub fn hanging_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}
