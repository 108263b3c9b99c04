//! Test tables as the CDK app deploys them: keys and indexes from `cdk/lib/tables.json`,
//! the one definition `cdk/lib/tables.ts` builds the real tables from.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use serde::Deserialize;

const DEFINITIONS: &str = include_str!("../../../cdk/lib/tables.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TableDefinition {
    partition_key: Key,
    indexes: Vec<Index>,
}

#[derive(Debug, Clone, Deserialize)]
struct Key {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    name: String,
    partition_key: Key,
    sort_key: Option<Key>,
    projection: String,
    #[serde(default)]
    non_key_attributes: Vec<String>,
}

/// The definition of `table` ("Users", "ErpProcessedUsers" or "ErpEmployees").
fn definition(table: &str) -> TableDefinition {
    let mut all: std::collections::HashMap<String, TableDefinition> =
        serde_json::from_str(DEFINITIONS).expect("cdk/lib/tables.json is valid");
    all.remove(table)
        .unwrap_or_else(|| panic!("cdk/lib/tables.json defines no {table}"))
}

/// A fresh table shaped like the deployed `table`, under a unique name (returned).
pub async fn create_deployed_table(client: &aws_sdk_dynamodb::Client, table: &str) -> String {
    let definition = definition(table);
    let name = crate::unique(table);
    let mut attributes = vec![definition.partition_key.clone()];
    let mut request = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_schema(&definition.partition_key, KeyType::Hash));
    for index in &definition.indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .key_schema(key_schema(&index.partition_key, KeyType::Hash))
            .projection(projection(index));
        attributes.push(index.partition_key.clone());
        if let Some(sort) = &index.sort_key {
            gsi = gsi.key_schema(key_schema(sort, KeyType::Range));
            attributes.push(sort.clone());
        }
        request = request.global_secondary_indexes(gsi.build().expect("complete index"));
    }
    attributes.sort_by(|a, b| a.name.cmp(&b.name));
    attributes.dedup_by(|a, b| a.name == b.name);
    for attribute in attributes {
        let kind = match attribute.kind.as_str() {
            "N" => ScalarAttributeType::N,
            _ => ScalarAttributeType::S,
        };
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute.name)
                .attribute_type(kind)
                .build()
                .expect("complete attribute definition"),
        );
    }
    request.send().await.expect("create table in the emulator");
    name
}

fn key_schema(key: &Key, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(&key.name)
        .key_type(kind)
        .build()
        .expect("complete key schema")
}

fn projection(index: &Index) -> Projection {
    let kind = match index.projection.as_str() {
        "KEYS_ONLY" => ProjectionType::KeysOnly,
        "INCLUDE" => ProjectionType::Include,
        _ => ProjectionType::All,
    };
    Projection::builder()
        .projection_type(kind)
        .set_non_key_attributes((!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()))
        .build()
}
