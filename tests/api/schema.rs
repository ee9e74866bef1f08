//! The checked-in SDL is what frontend tooling consumes: it must match the code, and every type
//! and field must explain itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use heymarket_gateway::idempotency::{Idempotency, LocalSendRecords};
use heymarket_gateway::schema;
use serde_json::Value;

const SDL_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/schema.graphql");

#[test]
fn the_checked_in_sdl_matches_the_code() {
    let generated = schema::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(SDL_PATH, &generated).expect("write the SDL");
    }
    let checked_in = std::fs::read_to_string(SDL_PATH).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schema/schema.graphql is out of date: run `cargo run -- schema > schema/schema.graphql` \
         (or `UPDATE_SCHEMA=1 cargo test`) and commit it"
    );
}

#[tokio::test]
async fn every_type_field_and_argument_has_a_description() {
    let query = r#"{ __schema { types { name kind description
        fields { name description args { name description } }
        inputFields { name description } enumValues { name description } } } }"#;
    let sends = Idempotency::new(
        Arc::new(LocalSendRecords::new(Duration::from_secs(60))),
        Duration::from_secs(30),
    );
    let response = schema::build_schema(&Default::default(), schema::CursorKey::random(), sends)
        .execute(query)
        .await;
    let data = response.data.into_json().expect("introspection is JSON");

    let mut missing = BTreeSet::new();
    for ty in data["__schema"]["types"].as_array().expect("types") {
        let name = ty["name"].as_str().unwrap_or_default();
        if name.starts_with("__") || ["String", "Boolean", "Int", "Float", "ID"].contains(&name) {
            continue;
        }
        let described = |item: &Value| {
            item["description"]
                .as_str()
                .is_some_and(|text| !text.trim().is_empty())
        };
        if !described(ty) {
            missing.insert(name.to_owned());
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            if !described(field) {
                missing.insert(format!("{name}.{}", field["name"]));
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if !described(arg) {
                    missing.insert(format!("{name}.{}({})", field["name"], arg["name"]));
                }
            }
        }
        for item in ty["inputFields"]
            .as_array()
            .into_iter()
            .chain(ty["enumValues"].as_array())
            .flatten()
        {
            if !described(item) {
                missing.insert(format!("{name}.{}", item["name"]));
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
