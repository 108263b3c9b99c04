//! The OpenAPI description of `POST /events`, generated from its handler's annotation and
//! the types it parses and answers (the CRM API serves it inside the one document of the
//! REST API both functions sit behind), and the published JSON Schemas of the events, made
//! from the same types (`schemas/`, kept equal to this by a test).

use http_edge::Problem;
use serde_json::{json, Value};
use user_sync::domain::FieldError;
use user_sync::events::{EventEnvelope, EventType, UserSnapshot};
use utoipa::OpenApi;

use crate::trigger::http;

#[derive(OpenApi)]
#[openapi(
    paths(http::post_event),
    components(schemas(EventEnvelope, EventType, UserSnapshot, http::ProcessedResponse, Problem, FieldError)),
    tags((name = "events", description = "Events delivered to the ERP over HTTP instead of the queue"))
)]
struct EventsDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    EventsDoc::openapi()
}

/// Makes `POST /events` in `doc` (the serialized document, this one or one it was merged
/// into) take exactly one of the per-type schemas: what the envelope's one schema cannot
/// say (which fields each type requires, that a deletion carries no name or email), so a
/// body the document allows is a body the processor reads. On the JSON, since utoipa's
/// schema model has no `const` or `not`.
pub fn narrow_event_types(doc: &mut Value) {
    for kind in EventType::KNOWN {
        doc["components"]["schemas"][type_schema_name(kind)] = of_type(kind, "#/components/schemas/");
    }
    let any: Vec<Value> = EventType::KNOWN
        .into_iter()
        .map(|kind| json!({"$ref": format!("#/components/schemas/{}", type_schema_name(kind))}))
        .collect();
    doc["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"] = json!({"oneOf": any});
}

/// The component name of `kind`'s schema, e.g. `UserCreatedEvent`.
fn type_schema_name(kind: EventType) -> String {
    format!("{}Event", kind.as_str())
}

/// The envelope (referenced under `refs`) narrowed to one event type.
fn of_type(kind: EventType, refs: &str) -> Value {
    let user = if kind.carries_state() {
        json!({"required": ["name", "email"]})
    } else {
        json!({"not": {"anyOf": [{"required": ["name"]}, {"required": ["email"]}]}})
    };
    let mut schema = json!({
        "allOf": [{"$ref": format!("{refs}EventEnvelope")}],
        "properties": {"eventType": {"const": kind.as_str()}, "user": user},
    });
    if kind != EventType::UserCreated {
        schema["required"] = json!(["version"]);
    }
    schema
}

/// The JSON Schema (2020-12) files published under `schemas/`: the queue's message body,
/// one per event type, and the body of `POST /events`, which takes any of them. Each file
/// stands alone (no reference leaves it).
pub fn event_schemas() -> Vec<(String, Value)> {
    let doc = serde_json::to_value(document()).expect("the document serializes");
    // OpenAPI 3.1 schemas are JSON Schema 2020-12; only their references point elsewhere.
    let defs = serde_json::to_string(&doc["components"]["schemas"])
        .expect("a JSON value serializes")
        .replace("#/components/schemas/", "#/$defs/");
    let mut defs: Value = serde_json::from_str(&defs).expect("still JSON");
    // Only the envelope and what it holds: not the HTTP answers of the same document.
    defs.as_object_mut()
        .expect("an object")
        .retain(|name, _| ["EventEnvelope", "EventType", "UserSnapshot"].contains(&name.as_str()));
    let of_type = |kind: EventType| of_type(kind, "#/$defs/");
    let file = |title: String, description: String, schema: Value| {
        let mut file = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "description": description,
        });
        file.as_object_mut()
            .expect("an object")
            .extend(schema.as_object().expect("an object").clone());
        file["$defs"] = defs.clone();
        file
    };
    let mut files: Vec<(String, Value)> = EventType::KNOWN
        .into_iter()
        .map(|kind| {
            let schema = file(
                format!("{} event", kind.as_str()),
                format!(
                    "The events queue's message body for eventType {} (also a POST /events body).",
                    kind.as_str()
                ),
                of_type(kind),
            );
            (format!("{}.schema.json", kind.as_str()), schema)
        })
        .collect();
    let any: Vec<Value> = EventType::KNOWN.into_iter().map(of_type).collect();
    files.push((
        "post-events.schema.json".to_owned(),
        file(
            "POST /events request body".to_owned(),
            "Any one event, exactly as the events queue carries it.".to_owned(),
            json!({"oneOf": any}),
        ),
    ));
    files.into_iter().map(|(name, schema)| (name, sorted(schema))).collect()
}

/// The same value with every object's keys in order, so the files are the same bytes
/// whichever order `serde_json` keeps maps in (its `preserve_order` feature is on in some
/// builds of the workspace and off in others).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
