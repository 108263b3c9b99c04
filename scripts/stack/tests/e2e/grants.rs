//! The call-versus-grant comparison's I/O: each role's policies from IAM and its calls from
//! the emulator's CloudTrail; the mapping and matching are `stack::grants`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::DateTime;
use serde_json::Value;

use stack::grants::{allowed, calls_of, covers, queue_arn, service_use, session_key, Access};

use stack::e2e::{SINCE_VAR, WHOLE_SUITE_VAR};

use crate::world::World;

/// The comparison over the calls made since the runner began the scenarios; strict about
/// unused grants only when every scenario ran.
pub async fn compare_since_the_suite_began(world: &World) -> Result<(), String> {
    let since = std::env::var(SINCE_VAR)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
        .ok_or_else(|| format!("{SINCE_VAR} is not set: run the suite with scripts/e2e"))?;
    let whole_suite = std::env::var(WHOLE_SUITE_VAR).as_deref() == Ok("1");
    compare(world, since, whole_suite).await
}

/// Compares each role's recorded calls since `since` with its policies. With
/// `whole_suite` false (a filtered run) only the calls are checked: an unused grant may
/// belong to a scenario that did not run.
async fn compare(world: &World, since: SystemTime, whole_suite: bool) -> Result<(), String> {
    let account = world.account()?;
    let trail = aws_sdk_cloudtrail::Client::new(&world.aws);
    recording_is_complete(&trail, since).await?;
    let trigger_queues = [
        ("erp-processor", Some(&world.outputs.events_queue_url)),
        ("crm-mirror", world.outputs.mirror_queue_url.as_ref()),
    ]
    .map(|(binary, url)| (binary, url.map(|url| queue_arn(&account, url))));
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
            let trigger = trigger_queues
                .iter()
                .find(|(b, _)| *b == binary)
                .and_then(|(_, arn)| arn.as_deref());
            match service_use(binary, grant, trigger) {
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
