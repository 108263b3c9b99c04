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

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::e2e::REGION;

/// Which resources a service's use of a grant is on.
#[derive(Clone, Copy)]
enum On {
    Any,
    /// The queue that triggers the function (a consumer's event source mapping's poller).
    TriggerQueue,
    /// A queue other than the function's trigger: the relay's failures queue.
    OtherQueue,
    /// A table's stream (`…:table/NAME/stream/LABEL`): the relay's trigger.
    Stream,
}

/// Grants that AWS services use with a function's role, never the function's own code, and
/// that the emulator does not record as the role's calls: (function or `*`, action, on, why).
const SERVICE_USES: [(&str, &str, On, &str); 16] = [
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
        "*",
        "sqs:ReceiveMessage",
        On::TriggerQueue,
        "the event source mapping polls the queue with the function's role",
    ),
    (
        "*",
        "sqs:DeleteMessage",
        On::TriggerQueue,
        "the event source mapping deletes a batch's processed records",
    ),
    (
        "*",
        "sqs:ChangeMessageVisibility",
        On::TriggerQueue,
        "the event source mapping returns failed records",
    ),
    (
        "*",
        "sqs:GetQueueAttributes",
        On::TriggerQueue,
        "the event source mapping reads the queue's attributes",
    ),
    (
        "*",
        "sqs:GetQueueUrl",
        On::TriggerQueue,
        "the event source mapping resolves the queue",
    ),
    (
        "outbox-relay",
        "dynamodb:DescribeStream",
        On::Stream,
        "the stream's event source mapping reads the Users stream's shards with the relay's role",
    ),
    (
        "outbox-relay",
        "dynamodb:GetShardIterator",
        On::Stream,
        "the stream's event source mapping reads the Users stream with the relay's role",
    ),
    (
        "outbox-relay",
        "dynamodb:GetRecords",
        On::Stream,
        "the stream's event source mapping reads the Users stream with the relay's role",
    ),
    (
        "outbox-relay",
        "dynamodb:ListStreams",
        On::Any,
        "the stream's event source mapping lists the streams (an action on no resource)",
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

/// The access key the emulator gives a function's execution-role session: `ASIA` and the
/// first 16 hex digits of SHA-256 over `FUNCTION_ARN:ROLE_ARN` (MiniStack's rule). Should a
/// new emulator change it, no call is found for the role and every grant shows as unused:
/// the comparison fails, it never passes vacuously.
pub fn session_key(function_arn: &str, role_arn: &str) -> String {
    let digest = Sha256::digest(format!("{function_arn}:{role_arn}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("ASIA{}", &hex[..16])
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
        // PublishBatch is authorized as Publish, on the topic.
        ("sns", _) => {
            let action = name.strip_suffix("Batch").unwrap_or(name);
            vec![access(action, params["TopicArn"].as_str().unwrap_or("?").to_owned())]
        }
        ("secretsmanager", _) => vec![access(name, params["SecretId"].as_str().unwrap_or("?").to_owned())],
        _ => vec![access(name, "*".to_owned())],
    })
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` of a queue URL (`…/ACCOUNT/NAME`).
pub fn queue_arn(account: &str, url: &str) -> String {
    let name = url.rsplit('/').next().unwrap_or(url);
    format!("arn:aws:sqs:{REGION}:{account}:{name}")
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

/// Why an AWS service, not the function, uses `grant` of `binary`'s role; None when no
/// service does. `trigger_queue`: the ARN of the queue whose event source invokes it.
pub fn service_use(binary: &str, grant: &Access, trigger_queue: Option<&str>) -> Option<&'static str> {
    SERVICE_USES.iter().find_map(|(function, action, on, why)| {
        let on_it = match on {
            On::Any => true,
            On::TriggerQueue => trigger_queue == Some(grant.resource.as_str()),
            On::OtherQueue => {
                grant.resource.starts_with("arn:aws:sqs:") && trigger_queue != Some(grant.resource.as_str())
            }
            On::Stream => grant.resource.starts_with("arn:aws:dynamodb:") && grant.resource.contains("/stream/"),
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
    fn a_pollers_calls_are_a_service_use_on_the_functions_own_trigger_queue_only() {
        let (erp_queue, mirror_queue) = (
            "arn:aws:sqs:us-east-1:1:EventsQueue",
            "arn:aws:sqs:us-east-1:1:MirrorQueue",
        );
        let receive = |queue: &str| access("sqs:ReceiveMessage", queue);
        assert!(service_use("crm-mirror", &receive(mirror_queue), Some(mirror_queue)).is_some());
        assert!(service_use("crm-mirror", &receive(erp_queue), Some(mirror_queue)).is_none());
        assert!(service_use("erp-processor", &receive(erp_queue), Some(erp_queue)).is_some());
        assert!(service_use("crm-api", &receive(erp_queue), None).is_none());
        let failures = access("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:RelayFailures");
        assert!(service_use("outbox-relay", &failures, None).is_some());
        assert!(service_use("crm-mirror", &failures, Some(mirror_queue)).is_none());
        let stream = |action: &str| {
            access(
                action,
                "arn:aws:dynamodb:us-east-1:1:table/Users/stream/2026-12-07T00:00:00.000",
            )
        };
        assert!(service_use("outbox-relay", &stream("dynamodb:GetRecords"), None).is_some());
        assert!(service_use(
            "outbox-relay",
            &access("dynamodb:GetRecords", "arn:aws:dynamodb:us-east-1:1:table/Users"),
            None
        )
        .is_none());
        assert!(service_use("erp-processor", &stream("dynamodb:GetRecords"), None).is_none());
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
                    "sns",
                    "PublishBatch",
                    json!({"TopicArn": "arn:aws:sns:us-east-1:000000000000:Events"}),
                ),
                vec![access("sns:Publish", "arn:aws:sns:us-east-1:000000000000:Events")],
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
