//! Every grant proven by a call, every call covered by a grant: after the whole suite, the
//! calls each function's role made (the enforcing emulator's CloudTrail, which records each
//! allowed call with its caller's access key) are compared, action by resource, with the
//! policies the deployed template attached to the role.
//!
//! A call the policies do not allow cannot appear here: the emulator refused it, and the
//! scenario that needed it failed. What this adds is the other direction (a grant no call
//! used is either exercised by a scenario or removed) and a check that each recorded call is
//! one the policies meant. Grants that AWS services use on a role's behalf, and that the
//! emulator does not record as the role's calls, are named in `SERVICE_USES` with the reason.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::DateTime;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::world::{World, REGION};

/// Which resources a service's use of a grant is on.
#[derive(Clone, Copy)]
enum On {
    Any,
    /// The events queue (the event source mapping's poller).
    EventsQueue,
    /// A queue other than the events queue: the relay's failures queue.
    OtherQueue,
}

/// Grants that AWS services use with a function's role, never the function's own code, and
/// that the emulator does not record as the role's calls: (function or `*`, action, on, why).
const SERVICE_USES: [(&str, &str, On, &str); 12] = [
    (
        "*",
        "logs:CreateLogStream",
        On::Any,
        "Lambda writes the function's logs with its role",
    ),
    (
        "*",
        "logs:PutLogEvents",
        On::Any,
        "Lambda writes the function's logs with its role",
    ),
    (
        "*",
        "xray:PutTraceSegments",
        On::Any,
        "active tracing: Lambda sends the trace segments",
    ),
    (
        "*",
        "xray:PutTelemetryRecords",
        On::Any,
        "active tracing: Lambda sends the trace telemetry",
    ),
    (
        "erp-processor",
        "sqs:ReceiveMessage",
        On::EventsQueue,
        "the event source mapping polls the queue with the function's role",
    ),
    (
        "erp-processor",
        "sqs:DeleteMessage",
        On::EventsQueue,
        "the event source mapping deletes a batch's processed records",
    ),
    (
        "erp-processor",
        "sqs:ChangeMessageVisibility",
        On::EventsQueue,
        "the event source mapping returns failed records",
    ),
    (
        "erp-processor",
        "sqs:GetQueueAttributes",
        On::EventsQueue,
        "the event source mapping reads the queue's attributes",
    ),
    (
        "erp-processor",
        "sqs:GetQueueUrl",
        On::EventsQueue,
        "the event source mapping resolves the queue",
    ),
    (
        "outbox-relay",
        "sqs:SendMessage",
        On::OtherQueue,
        "the on-failure destination: Lambda sends a failed run's record with the relay's role",
    ),
    (
        "outbox-relay",
        "sqs:GetQueueAttributes",
        On::OtherQueue,
        "the on-failure destination's check of its queue",
    ),
    (
        "outbox-relay",
        "sqs:GetQueueUrl",
        On::OtherQueue,
        "the on-failure destination's check of its queue",
    ),
];

/// One IAM authorization: an action on a resource (either may hold IAM wildcards in a grant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub action: String,
    pub resource: String,
}

/// Compares each role's recorded calls since `since` with its policies. With
/// `whole_suite` false (a filtered run) only the calls are checked: an unused grant may
/// belong to a scenario that did not run.
pub async fn compare(world: &World, since: SystemTime, whole_suite: bool) -> Result<(), String> {
    let account = world.account()?;
    let trail = aws_sdk_cloudtrail::Client::new(&world.aws);
    recording_is_complete(&trail, since).await?;
    let events_queue = queue_arn(&account, &world.outputs.events_queue_url);
    let mut problems = Vec::new();
    for binary in ops::metrics::FUNCTIONS {
        let config = world.function_configuration(binary).await?;
        let (arn, role) = (
            config.function_arn().unwrap_or_default(),
            config.role().unwrap_or_default(),
        );
        let grants = role_grants(world, role).await?;
        let events = recorded(&trail, &session_key(arn, role), since).await?;
        let mut used: BTreeMap<Access, usize> = BTreeMap::new();
        for event in &events {
            for call in calls_of(event, &account)? {
                if !grants.iter().any(|g| covers(g, &call)) {
                    problems.push(format!(
                        "{binary} called {} on {} without a grant",
                        call.action, call.resource
                    ));
                }
                *used.entry(call).or_default() += 1;
            }
        }
        println!("      {binary} ({} calls recorded):", events.len());
        for (call, n) in &used {
            println!("        {:>5}  {} on {}", n, call.action, call.resource);
        }
        for grant in &grants {
            if used.keys().any(|call| covers(grant, call)) {
                continue;
            }
            match service_use(binary, grant, &events_queue) {
                Some(why) => println!("        (AWS) {} on {}: {why}", grant.action, grant.resource),
                None if whole_suite => problems.push(format!(
                    "{binary} holds {} on {}, which no call of the suite used: exercise it in a scenario or remove it",
                    grant.action, grant.resource
                )),
                None => println!(
                    "        (unused in this filtered run) {} on {}",
                    grant.action, grant.resource
                ),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The emulator keeps a bounded ring of events: if one older than the suite is still
/// there, none of the suite's was dropped.
async fn recording_is_complete(trail: &aws_sdk_cloudtrail::Client, since: SystemTime) -> Result<(), String> {
    let before = trail
        .lookup_events()
        .end_time(date_time(since))
        .max_results(1)
        .send()
        .await
        .map_err(|e| format!("CloudTrail LookupEvents: {e:?}"))?;
    if before.events().is_empty() {
        return Err("CloudTrail holds no call from before the suite: its ring dropped some of the suite's calls (raise CLOUDTRAIL_MAX_EVENTS in scripts/dev)".to_owned());
    }
    Ok(())
}

/// The access key the emulator gives a function's execution-role session: `ASIA` and the
/// first 16 hex digits of SHA-256 over `FUNCTION_ARN:ROLE_ARN` (MiniStack's rule). Should a
/// new emulator change it, no call is found for the role and every grant shows as unused:
/// the comparison fails, it never passes vacuously.
pub fn session_key(function_arn: &str, role_arn: &str) -> String {
    let digest = Sha256::digest(format!("{function_arn}:{role_arn}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("ASIA{}", &hex[..16])
}

/// Every event recorded for `key` since `since`. LookupEvents answers at most 50 events
/// and no page token, so a window that comes back full is halved until none is.
async fn recorded(trail: &aws_sdk_cloudtrail::Client, key: &str, since: SystemTime) -> Result<Vec<Value>, String> {
    const PAGE: usize = 50;
    let start = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let end = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        + Duration::from_secs(1);
    let mut windows = vec![(start.as_secs_f64(), end.as_secs_f64())];
    let mut events: HashMap<String, Value> = HashMap::new();
    while let Some((from, to)) = windows.pop() {
        let page = trail
            .lookup_events()
            .lookup_attributes(
                LookupAttribute::builder()
                    .attribute_key(LookupAttributeKey::AccessKeyId)
                    .attribute_value(key)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .start_time(DateTime::from_secs_f64(from))
            .end_time(DateTime::from_secs_f64(to))
            .max_results(PAGE as i32)
            .send()
            .await
            .map_err(|e| format!("CloudTrail LookupEvents: {e:?}"))?;
        if page.events().len() >= PAGE {
            let middle = from + (to - from) / 2.0;
            if to - from < 1e-4 {
                return Err(format!(
                    "more than {PAGE} calls by {key} within 0.1 ms: cannot page through them"
                ));
            }
            windows.extend([(from, middle), (middle, to)]);
            continue;
        }
        for event in page.events() {
            let id = event.event_id().unwrap_or_default().to_owned();
            let body: Value = serde_json::from_str(event.cloud_trail_event().unwrap_or("{}"))
                .map_err(|e| format!("a CloudTrail event that is not JSON: {e}"))?;
            events.insert(id, body);
        }
    }
    Ok(events.into_values().collect())
}

fn date_time(at: SystemTime) -> DateTime {
    DateTime::from(at)
}

/// The IAM authorizations one recorded call needed.
pub fn calls_of(event: &Value, account: &str) -> Result<Vec<Access>, String> {
    let service = event["eventSource"]
        .as_str()
        .and_then(|s| s.strip_suffix(".amazonaws.com"))
        .unwrap_or_default();
    let name = event["eventName"].as_str().unwrap_or_default();
    let params = &event["requestParameters"];
    let table = |t: &Value| {
        format!(
            "arn:aws:dynamodb:{REGION}:{account}:table/{}",
            t.as_str().unwrap_or("?")
        )
    };
    let access = |action: &str, resource: String| Access {
        action: format!("{service}:{action}"),
        resource,
    };
    Ok(match (service, name) {
        // A transaction is authorized item by item, as the item's own write.
        ("dynamodb", "TransactWriteItems") => {
            let mut calls = Vec::new();
            for item in params["TransactItems"].as_array().into_iter().flatten() {
                for (kind, action) in [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ] {
                    if item[kind].is_object() {
                        calls.push(access(action, table(&item[kind]["TableName"])));
                    }
                }
            }
            calls
        }
        // A batch read is its own action, on each table it reads.
        ("dynamodb", "BatchGetItem") => params["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.keys())
            .map(|name| access("BatchGetItem", table(&Value::String(name.clone()))))
            .collect(),
        ("dynamodb", "TransactGetItems" | "BatchWriteItem") => {
            return Err(format!("dynamodb:{name} is not mapped to its per-item actions yet"));
        }
        ("dynamodb", _) => {
            let mut resource = table(&params["TableName"]);
            if let Some(index) = params["IndexName"].as_str() {
                resource = format!("{resource}/index/{index}");
            }
            vec![access(name, resource)]
        }
        ("sqs", _) => {
            // The batch calls are authorized as their single forms.
            let action = name.strip_suffix("Batch").unwrap_or(name);
            let url = params["QueueUrl"].as_str().unwrap_or("?");
            vec![access(action, queue_arn(account, url))]
        }
        ("secretsmanager", _) => vec![access(name, params["SecretId"].as_str().unwrap_or("?").to_owned())],
        _ => vec![access(name, "*".to_owned())],
    })
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` of a queue URL (`…/ACCOUNT/NAME`).
fn queue_arn(account: &str, url: &str) -> String {
    let name = url.rsplit('/').next().unwrap_or(url);
    format!("arn:aws:sqs:{REGION}:{account}:{name}")
}

/// The Allow statements of every policy attached to the role, one `Access` per action and
/// resource.
async fn role_grants(world: &World, role_arn: &str) -> Result<BTreeSet<Access>, String> {
    let iam = world.iam();
    let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let mut documents = Vec::new();
    let inline = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| format!("policies of {role}: {e:?}"))?;
    for name in inline.policy_names() {
        let policy = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| format!("policy {name} of {role}: {e:?}"))?;
        documents.push(policy.policy_document().to_owned());
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| format!("managed policies of {role}: {e:?}"))?;
    for policy in attached.attached_policies() {
        let arn = policy.policy_arn().unwrap_or_default();
        let meta = iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| format!("{arn}: {e:?}"))?;
        let version = meta.policy().and_then(|p| p.default_version_id()).unwrap_or("v1");
        let document = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| format!("{arn} {version}: {e:?}"))?;
        documents.extend(document.policy_version().and_then(|v| v.document()).map(str::to_owned));
    }
    let mut grants = BTreeSet::new();
    for document in documents {
        grants.extend(allowed(&document)?);
    }
    Ok(grants)
}

/// The Allow statements of one policy document (IAM returns it URL-encoded).
pub fn allowed(document: &str) -> Result<Vec<Access>, String> {
    let text = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        percent_encoding::percent_decode_str(document)
            .decode_utf8()
            .map_err(|e| e.to_string())?
            .into_owned()
    };
    let policy: Value = serde_json::from_str(&text).map_err(|e| format!("a policy that is not JSON: {e}"))?;
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(list) => list.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let mut grants = Vec::new();
    for statement in statements.iter().filter(|s| s["Effect"] == "Allow") {
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                grants.push(Access {
                    action: action.clone(),
                    resource,
                });
            }
        }
    }
    Ok(grants)
}

/// Whether `grant` (IAM wildcards allowed; actions compare without case) allows `call`.
pub fn covers(grant: &Access, call: &Access) -> bool {
    wildcard(&grant.action.to_ascii_lowercase(), &call.action.to_ascii_lowercase())
        && wildcard(&grant.resource, &call.resource)
}

/// IAM's `*` (any run) and `?` (any one character).
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic greedy match with one backtrack point: the last `*` seen.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

fn service_use(binary: &str, grant: &Access, events_queue: &str) -> Option<&'static str> {
    SERVICE_USES.iter().find_map(|(function, action, on, why)| {
        let on_it = match on {
            On::Any => true,
            On::EventsQueue => grant.resource == events_queue,
            On::OtherQueue => grant.resource.starts_with("arn:aws:sqs:") && grant.resource != events_queue,
        };
        (["*", binary].contains(function) && grant.action == *action && on_it).then_some(*why)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn access(action: &str, resource: &str) -> Access {
        Access {
            action: action.to_owned(),
            resource: resource.to_owned(),
        }
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        for (pattern, text, matches) in [
            (
                "arn:aws:dynamodb:*:*:table/Users",
                "arn:aws:dynamodb:us-east-1:1:table/Users",
                true,
            ),
            (
                "arn:aws:dynamodb:*:*:table/Users",
                "arn:aws:dynamodb:us-east-1:1:table/Users/index/X",
                false,
            ),
            ("arn:*/index/*", "arn:aws:dynamodb:r:1:table/T/index/ByUserId", true),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("abc", "abcd", false),
        ] {
            assert_eq!(wildcard(pattern, text), matches, "{pattern} ~ {text}");
        }
        assert!(covers(
            &access("dynamodb:GetItem", "*"),
            &access("DynamoDB:getitem", "x")
        ));
    }

    #[test]
    fn calls_name_the_actions_iam_authorizes() {
        let event = |source: &str, name: &str, params: Value| json!({"eventSource": format!("{source}.amazonaws.com"), "eventName": name, "requestParameters": params});
        let table = "arn:aws:dynamodb:us-east-1:000000000000:table/Users";
        let cases = [
            (
                event("dynamodb", "GetItem", json!({"TableName": "Users"})),
                vec![access("dynamodb:GetItem", table)],
            ),
            (
                event(
                    "dynamodb",
                    "Query",
                    json!({"TableName": "Users", "IndexName": "PendingEvents"}),
                ),
                vec![access("dynamodb:Query", &format!("{table}/index/PendingEvents"))],
            ),
            (
                event(
                    "dynamodb",
                    "TransactWriteItems",
                    json!({"TransactItems": [
                    {"Put": {"TableName": "Users"}}, {"ConditionCheck": {"TableName": "Users"}}]}),
                ),
                vec![
                    access("dynamodb:PutItem", table),
                    access("dynamodb:ConditionCheckItem", table),
                ],
            ),
            (
                event(
                    "sqs",
                    "SendMessageBatch",
                    json!({"QueueUrl": "https://127.0.0.1:4566/000000000000/Events"}),
                ),
                vec![access("sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:Events")],
            ),
            (
                event(
                    "secretsmanager",
                    "GetSecretValue",
                    json!({"SecretId": "arn:aws:secretsmanager:r:1:secret:E"}),
                ),
                vec![access(
                    "secretsmanager:GetSecretValue",
                    "arn:aws:secretsmanager:r:1:secret:E",
                )],
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(calls_of(&event, "000000000000").unwrap(), expected, "{event}");
        }
        assert!(calls_of(&event("dynamodb", "BatchWriteItem", json!({})), "1").is_err());
    }

    #[test]
    fn policies_read_plain_or_url_encoded() {
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": "arn:q"},
            {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": ["arn:a", "arn:b"]}]})
        .to_string();
        let expected = vec![
            access("sqs:SendMessage", "arn:q"),
            access("sqs:GetQueueUrl", "arn:q"),
            access("dynamodb:GetItem", "arn:a"),
            access("dynamodb:GetItem", "arn:b"),
        ];
        assert_eq!(allowed(&policy).unwrap(), expected);
        let encoded: String =
            percent_encoding::utf8_percent_encode(&policy, percent_encoding::NON_ALPHANUMERIC).collect();
        assert_eq!(allowed(&encoded).unwrap(), expected);
    }

    #[test]
    fn session_keys_follow_the_emulators_rule() {
        // `printf 'f:r' | sha256sum` starts 328e940fc5c552b7.
        assert_eq!(session_key("f", "r"), "ASIA328E940FC5C552B7");
    }
}
