//! The stack name and CDK context `scripts/dev` deploys with: stage `dev`, this host's
//! architecture (MiniStack runs the functions as local processes), the `local` build
//! profile (`LOCAL_BUILD_PROFILE=release` builds as for AWS, for measuring), and the optional
//! shortened timings of the `LOCAL_*` variables (the e2e suite's), and the ERP and the CRM to
//! call (`LOCAL_ERP_ENDPOINT_URL`, `LOCAL_MIRROR_ENDPOINT_URL`: the e2e suite's fakes), and
//! who publishes a written event (`LOCAL_OUTBOX_DELIVERY`, for measuring the other delivery).

/// One argument per element: the stack, then `-c KEY=VALUE` pairs.
pub fn dev_context(arch: &str, lookup: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let arch = if arch == "aarch64" { "arm64" } else { arch };
    let mut args = vec!["CrmErp-dev".to_owned()];
    let mut context = |kv: String| args.extend(["-c".to_owned(), kv]);
    context("stage=dev".to_owned());
    context(format!("architecture={arch}"));
    let profile = lookup("LOCAL_BUILD_PROFILE").filter(|v| !v.trim().is_empty());
    context(format!(
        "buildProfile={}",
        profile.as_deref().map_or("local", str::trim)
    ));
    for (var, key) in [
        ("LOCAL_QUEUE_VISIBILITY_SECONDS", "queueVisibilitySeconds"),
        ("LOCAL_OUTBOX_GRACE_SECONDS", "outboxGraceSeconds"),
        ("LOCAL_RECONCILE_MINUTES", "reconcileMinutes"),
        ("LOCAL_RECONCILE_SETTLE_SECONDS", "reconcileSettleSeconds"),
        ("LOCAL_ERP_ENDPOINT_URL", "erpEndpointUrl"),
        ("LOCAL_MIRROR_ENDPOINT_URL", "mirrorEndpointUrl"),
        ("LOCAL_OUTBOX_DELIVERY", "outboxDelivery"),
    ] {
        if let Some(value) = lookup(var).filter(|v| !v.trim().is_empty()) {
            context(format!("{key}={}", value.trim()));
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::dev_context;

    #[test]
    fn stage_architecture_and_the_timings_set() {
        assert_eq!(
            dev_context("x86_64", |_| None),
            [
                "CrmErp-dev",
                "-c",
                "stage=dev",
                "-c",
                "architecture=x86_64",
                "-c",
                "buildProfile=local"
            ]
        );
        let lookup = |k: &str| match k {
            "LOCAL_OUTBOX_GRACE_SECONDS" => Some(" 2 ".to_owned()),
            "LOCAL_RECONCILE_MINUTES" => Some("1".to_owned()),
            "LOCAL_ERP_ENDPOINT_URL" => Some("http://127.0.0.1:9/erp".to_owned()),
            "LOCAL_MIRROR_ENDPOINT_URL" => Some("http://127.0.0.1:10/crm".to_owned()),
            "LOCAL_BUILD_PROFILE" => Some("release".to_owned()),
            "LOCAL_OUTBOX_DELIVERY" => Some("request".to_owned()),
            _ => None,
        };
        assert_eq!(
            dev_context("aarch64", lookup),
            [
                "CrmErp-dev",
                "-c",
                "stage=dev",
                "-c",
                "architecture=arm64",
                "-c",
                "buildProfile=release",
                "-c",
                "outboxGraceSeconds=2",
                "-c",
                "reconcileMinutes=1",
                "-c",
                "erpEndpointUrl=http://127.0.0.1:9/erp",
                "-c",
                "mirrorEndpointUrl=http://127.0.0.1:10/crm",
                "-c",
                "outboxDelivery=request"
            ]
        );
    }
}
