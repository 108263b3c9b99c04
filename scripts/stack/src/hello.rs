//! What `scripts/dev` prints once the stack is up, and the environment `scripts/watch` gives
//! `cargo lambda watch`: both from the deployment's outputs.

use ops::Outputs;

/// The emulator's dummy credentials and region, as `scripts/dev` exports them.
const REGION: &str = "us-east-1";

/// Working commands to copy: signed curl calls through the stage, the smoke test, and the
/// AWS CLI for the tables and queues.
pub fn text(o: &Outputs) -> String {
    let endpoint = ops::emulator().map_or_else(String::new, |e| e.as_str().trim_end_matches('/').to_owned());
    let base = o.crm_api_url.as_str().trim_end_matches("/api/crm").to_owned();
    let ca = std::env::var(user_sync::aws::CA_BUNDLE_VAR).unwrap_or_default();
    // The emulator's own certificate (HTTPS, as AWS), and the account root's dummy key.
    let sign = format!("--cacert {ca} --aws-sigv4 \"aws:amz:{REGION}:execute-api\" --user test:test");
    format!(
        r#"
The stack is deployed. Call it as a client of the real deployment would, through API
Gateway's stage, SigV4-signed (copy and paste):

  CRM={crm}
  EVENTS={events}
  SIGN=({sign})
  curl -i "${{SIGN[@]}}" -H 'Content-Type: application/json' \
       -d '{{"name":"Test User","email":"test@example.com"}}' "$CRM"
  curl -s "${{SIGN[@]}}" "$CRM"                 # every user (paginated: ?limit=&cursor=)
  curl -s "${{SIGN[@]}}" "$CRM/<id>"            # one user, <id> from the POST's answer
  curl -s "${{SIGN[@]}}" -H 'Content-Type: application/json' \
       -d '{{"eventId":"evt-001","eventType":"UserCreated","timestamp":"2025-10-16T12:00:00Z","user":{{"id":"user-123","name":"Test User","email":"test@example.com"}}}}' "$EVENTS"

The smoke test and the AWS CLI (from .venv) need the emulator's settings in your shell:

  export AWS_ENDPOINT_URL={endpoint} AWS_CA_BUNDLE={ca} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION={REGION} AWS_DEFAULT_REGION={REGION}
  scripts/smoke {base}      # the original's whole flow, signed
  .venv/bin/aws dynamodb scan --table-name {users}
  .venv/bin/aws dynamodb scan --table-name {processed}
  .venv/bin/aws sqs receive-message --queue-url {dlq} --attribute-names All

Edit a function and run it under `cargo lambda watch` against these tables, topic and queue:
scripts/watch. Redeploy changed code into this stack: scripts/dev deploy.
"#,
        crm = o.crm_api_url,
        events = o.events_url,
        users = o.users_table_name,
        processed = o.erp_processed_users_table_name,
        dlq = o.dead_letter_queue_url,
    )
}

/// `KEY=VALUE` lines for `cargo lambda watch --env-file`: every function's configuration
/// pointed at the deployed resources, and the SDK at the emulator.
pub fn watch_env(o: &Outputs) -> String {
    let mut lines = vec![
        format!("USERS_TABLE_NAME={}", o.users_table_name),
        format!("EVENTS_TOPIC_ARN={}", o.events_topic_arn),
        format!("EVENTS_QUEUE_URL={}", o.events_queue_url),
        format!("ERP_PROCESSED_TABLE_NAME={}", o.erp_processed_users_table_name),
        format!("ERP_EMPLOYEES_TABLE_NAME={}", o.erp_employees_table_name),
        format!("AWS_REGION={REGION}"),
        "AWS_ACCESS_KEY_ID=test".to_owned(),
        "AWS_SECRET_ACCESS_KEY=test".to_owned(),
    ];
    // crm-api under watch then answers the mirror's sync status too.
    if let Some(contacts) = &o.crm_mirror_contacts_table_name {
        lines.push(format!("MIRROR_CONTACTS_TABLE_NAME={contacts}"));
    }
    if let Some(endpoint) = ops::emulator() {
        lines.push(format!("AWS_ENDPOINT_URL={}", endpoint.as_str().trim_end_matches('/')));
    }
    // The functions trust the emulator's certificate through it (user_sync::aws).
    if let Ok(ca) = std::env::var(user_sync::aws::CA_BUNDLE_VAR) {
        lines.push(format!("{}={ca}", user_sync::aws::CA_BUNDLE_VAR));
    }
    lines.join("\n") + "\n"
}
