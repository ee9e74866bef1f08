//! Answers exactly as the GraphQL specification shapes them: response keys in selection order
//! (however the fields finish), a failed field `null` beside its siblings, every error with a
//! code and no `locations` at line 0.

use async_graphql::Value as Ordered;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, global};
use crate::mutations::conversation_gid;
use crate::sandbox_support::spawn_app_reading;

/// A one-team gateway over the default readings.
async fn app() -> TestApp {
    spawn_app_reading(Readings::DEFAULT).await
}

/// Runs `query` as member 501 and returns the body with its keys in the order they came.
async fn ordered(app: &TestApp, query: &str, variables: Value) -> Ordered {
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("X-Member-Id", "501")
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("gateway answers");
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).expect("a JSON body")
}

fn keys(value: &Ordered) -> Vec<String> {
    match value {
        Ordered::Object(fields) => fields.keys().map(ToString::to_string).collect(),
        other => panic!("expected an object, got {other}"),
    }
}

fn field<'a>(value: &'a Ordered, key: &str) -> &'a Ordered {
    match value {
        Ordered::Object(fields) => fields
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {value}")),
        other => panic!("expected an object, got {other}"),
    }
}

const MIXED: &str = r#"
query Mixed($inbox: ID!) {
  viewer { name databaseId }
  conversations(first: 5, filter: { inboxIds: [$inbox] }) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ...Row } }
  }
  inboxes { name databaseId }
  team { name }
  me: viewer { databaseId }
}
fragment Row on Conversation {
  target
  lastMessage { text sentAt }
  contact { displayName }
  assignee { name }
  status
  ... on Node { id }
  later: updatedAt
}
"#;

#[tokio::test]
async fn keys_come_in_selection_order_cold_and_warm() {
    let app = app().await;
    let variables = json!({ "inbox": global("Inbox:3002") });
    for attempt in 0..50 {
        let body = ordered(&app, MIXED, variables.clone()).await;
        assert_eq!(keys(&body)[0], "data", "attempt {attempt}: {body}");
        let data = field(&body, "data");
        assert_eq!(
            keys(data),
            ["viewer", "conversations", "inboxes", "team", "me"],
            "attempt {attempt}"
        );
        assert_eq!(keys(field(data, "viewer")), ["name", "databaseId"]);
        let conversations = field(data, "conversations");
        assert_eq!(keys(conversations), ["pageInfo", "edges"]);
        assert_eq!(
            keys(field(conversations, "pageInfo")),
            ["hasNextPage", "endCursor"]
        );
        let Ordered::List(edges) = field(conversations, "edges") else {
            panic!("edges: {conversations}");
        };
        assert!(!edges.is_empty());
        for edge in edges {
            assert_eq!(keys(edge), ["cursor", "node"]);
            assert_eq!(
                keys(field(edge, "node")),
                [
                    "target",
                    "lastMessage",
                    "contact",
                    "assignee",
                    "status",
                    "id",
                    "later"
                ],
                "attempt {attempt}"
            );
        }
    }
}

#[tokio::test]
async fn a_failing_aliased_mutation_is_null_beside_the_one_that_ran() {
    let app = app().await;
    let payload = "conversation { id status } userErrors { code }";
    let query = format!(
        r#"mutation {{
          a: closeConversation(input: {{ conversationId: "{bad}" }}) {{ {payload} }}
          b: openConversation(input: {{ conversationId: "{good}" }}) {{ {payload} }}
        }}"#,
        bad = global("Conversation:not-a-number"),
        good = conversation_gid(2_000_001),
    );
    let body = ordered(&app, &query, Value::Null).await;
    let data = field(&body, "data");
    assert_eq!(keys(data), ["a", "b"], "{body}");
    assert_eq!(field(data, "a"), &Ordered::Null);
    assert_eq!(
        field(field(field(data, "b"), "conversation"), "status"),
        &Ordered::from_json(json!("OPEN")).unwrap()
    );
    let body: Value = serde_json::to_value(&body).unwrap();
    assert_eq!(body["errors"][0]["path"], json!(["a"]), "{body}");
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);

    let single = format!(
        r#"mutation {{ a: closeConversation(input: {{ conversationId: "{}" }}) {{ {payload} }} }}"#,
        global("Conversation:not-a-number"),
    );
    let (_, body) = app.graphql_with(&single, Value::Null, &[]).await;
    assert_eq!(body["data"], json!({ "a": null }), "{body}");
}

#[tokio::test]
async fn an_upstream_failure_nulls_a_nullable_field_and_a_non_null_one_its_parent() {
    let app = app().await;
    // Warm the team, so only the conversation's own read fails.
    let team = app.graphql("{ team { name } }").await;
    assert_eq!(team["errors"], Value::Null, "{team}");
    app.sandbox.set_faults(json!({ "error_rate": 1.0 })).await;
    let query = format!(
        r#"{{ conversation(id: "{}") {{ target }} team {{ name }} }}"#,
        conversation_gid(2_000_002)
    );
    let body = ordered(&app, &query, Value::Null).await;
    let data = field(&body, "data");
    assert_eq!(keys(data), ["conversation", "team"], "{body}");
    assert_eq!(field(data, "conversation"), &Ordered::Null);

    // `inboxes` is non-null: its failure nulls the whole answer, as the specification says.
    let (_, body) = app
        .graphql_with("{ inboxes { name } }", Value::Null, &[])
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["inboxes"]), "{body}");
}

#[tokio::test]
async fn every_error_has_a_code_and_no_place_at_line_zero() {
    let app = app().await;
    let cases: &[(&str, Value, &str)] = &[
        ("{ nope }", Value::Null, "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ conversations(first: 1, filter: { status: WRONG }) { nodes { id } } }",
            Value::Null,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("{ viewer { name ", Value::Null, "GRAPHQL_PARSE_FAILED"),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        (
            "query($n: Int) { conversations(first: $n) { nodes { id } } }",
            json!({ "n": "five" }),
            "BAD_USER_INPUT",
        ),
        (
            "query($f: ConversationFilter) { conversations(first: 1, filter: $f) { nodes { id } } }",
            json!({ "f": { "status": "WRONG" } }),
            "BAD_USER_INPUT",
        ),
        (
            "query { conversations(first: $undeclared) { nodes { id } } }",
            Value::Null,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ a: viewer { name } b: viewer { name } c: viewer { name } d: viewer { name } e: viewer { name } f: viewer { name } g: viewer { name } h: viewer { name } i: viewer { name } j: viewer { name } k: viewer { name } l: viewer { name } m: viewer { name } n: viewer { name } o: viewer { name } p: viewer { name } q: viewer { name } r: viewer { name } s: viewer { name } t: viewer { name } u: viewer { name } v: viewer { name } w: viewer { name } x: viewer { name } y: viewer { name } z: viewer { name } }",
            Value::Null,
            "QUERY_LIMIT_EXCEEDED",
        ),
    ];
    for (query, variables, code) in cases {
        let (_, body) = app
            .graphql_with(query, variables.clone(), &[("X-Member-Id", "501")])
            .await;
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {body}"));
        assert!(
            error_codes(&body).iter().all(|actual| actual == code),
            "{query}: expected {code}: {body}"
        );
        for error in errors {
            if let Some(locations) = error["locations"].as_array() {
                assert!(
                    locations.iter().all(|at| at["line"].as_u64() >= Some(1)),
                    "{query}: {body}"
                );
            }
        }
    }
}
