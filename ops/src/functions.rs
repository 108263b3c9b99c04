//! The deployed functions, found by the `binary` tag the template gives each (their names
//! are CloudFormation's).

pub async fn named(lambda: &aws_sdk_lambda::Client, binary: &str) -> Result<String, String> {
    let functions = lambda
        .list_functions()
        .send()
        .await
        .map_err(|e| format!("list functions: {e}"))?;
    for function in functions.functions() {
        let (Some(name), Some(arn)) = (function.function_name(), function.function_arn()) else {
            continue;
        };
        let tags = lambda
            .list_tags()
            .resource(arn)
            .send()
            .await
            .map_err(|e| format!("tags of {name}: {e}"))?;
        if tags.tags().and_then(|t| t.get("binary")).map(String::as_str) == Some(binary) {
            return Ok(name.to_owned());
        }
    }
    Err(format!("no deployed function is tagged binary={binary}"))
}
