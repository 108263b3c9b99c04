//! Reading what the local stack needs from the CDK app's synthesized CloudFormation
//! template, so local resources have the cloud's keys, indexes, redrive and wiring.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template: {0}")]
    Read(#[from] std::io::Error),
    #[error("the template is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Unsupported(String),
}

pub struct Template {
    resources: Map<String, Value>,
}

/// One resource of the template.
pub struct Resource<'a> {
    pub logical_id: &'a str,
    pub properties: &'a Value,
}

impl Template {
    pub fn read(path: &Path) -> Result<Self, TemplateError> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_json::from_str(text)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| TemplateError::Unsupported("the template has no Resources".to_owned()))?;
        Ok(Self { resources })
    }

    /// Resources of a CloudFormation type, in logical id order.
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = Resource<'a>> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(id, r)| Resource {
                logical_id: id,
                properties: r.get("Properties").unwrap_or(&Value::Null),
            })
    }

    /// Every function's environment variables, merged (one `cargo lambda watch` serves all
    /// functions with one environment); a name wired to two different values is an error.
    pub fn function_environment(&self) -> Result<BTreeMap<String, Value>, TemplateError> {
        let mut merged = BTreeMap::new();
        for function in self.of_type("AWS::Lambda::Function") {
            let vars = function
                .properties
                .pointer("/Environment/Variables")
                .and_then(Value::as_object);
            for (name, value) in vars.into_iter().flatten() {
                if let Some(previous) = merged.insert(name.clone(), value.clone()) {
                    if &previous != value {
                        return Err(TemplateError::Unsupported(format!(
                            "{name} has different values in different functions; one local environment cannot hold both"
                        )));
                    }
                }
            }
        }
        Ok(merged)
    }
}

/// A logical id without the 8-hex-digit hash the CDK appends: `TablesUsers1A2B3C4D` →
/// `TablesUsers`. Local resource names are these, readable and stable across synths.
pub fn local_name(logical_id: &str) -> &str {
    let split = logical_id.len().saturating_sub(8);
    match logical_id.get(split..) {
        Some(hash) if split > 0 && hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()) => {
            &logical_id[..split]
        }
        _ => logical_id,
    }
}

/// The logical id a `{"Ref": id}` or `{"Fn::GetAtt": [id, attribute]}` points at.
pub fn reference(value: &Value) -> Option<(&str, Option<&str>)> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some((id, None));
    }
    let get_att = value.get("Fn::GetAtt")?.as_array()?;
    Some((get_att.first()?.as_str()?, get_att.get(1).and_then(Value::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_drop_the_cdk_hash_only() {
        assert_eq!(local_name("TablesUsers1A2B3C4D"), "TablesUsers");
        assert_eq!(local_name("EventsQueueDeadLetters0F9E8D7C"), "EventsQueueDeadLetters");
        assert_eq!(local_name("Short"), "Short");
        assert_eq!(local_name("Namedeadbeef"), "Namedeadbeef", "lowercase is no CDK hash");
    }

    #[test]
    fn merges_function_environments_and_refuses_conflicts() {
        let template = Template::parse(
            r#"{"Resources": {
              "A": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"T": {"Ref": "Table"}, "X": "1"}}}},
              "B": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"T": {"Ref": "Table"}}}}},
              "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}}}}"#,
        )
        .unwrap();
        let env = template.function_environment().unwrap();
        assert_eq!(env.len(), 2);
        assert_eq!(reference(&env["T"]), Some(("Table", None)));
        assert_eq!(
            template
                .of_type("AWS::DynamoDB::Table")
                .map(|r| r.logical_id)
                .collect::<Vec<_>>(),
            ["Table"]
        );

        let conflicting = Template::parse(
            r#"{"Resources": {
              "A": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"X": "1"}}}},
              "B": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"X": "2"}}}}}}"#,
        )
        .unwrap();
        assert!(conflicting.function_environment().is_err());
    }
}
