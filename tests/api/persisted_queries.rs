//! Automatic persisted queries (Apollo's protocol), shared by replicas through Redis, and the
//! operation allowlist.

use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, error_codes, spawn_app, spawn_app_with};
use crate::redis_support::{RedisServer, eventually};
use crate::sandbox_support::roomy_config;

const DOCUMENT: &str = "query Viewer { viewer { name } }";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn by_hash(app: &TestApp, hash: &str) -> (u16, Value) {
    post(app, json!({"extensions": persisted(hash)})).await
}

#[tokio::test]
async fn a_miss_asks_for_the_document_and_then_the_hash_alone_runs_it() {
    let app = spawn_app().await;
    let hash = sha256(DOCUMENT);

    let (status, miss) = by_hash(&app, &hash).await;
    assert_eq!(status, 200, "{miss}");
    assert_eq!(miss["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(error_codes(&miss), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert!(miss.get("data").is_none(), "{miss}");
    assert_eq!(app.sandbox.stats().await["total"], 0);

    let (status, registered) = post(
        &app,
        json!({"query": DOCUMENT, "extensions": persisted(&hash)}),
    )
    .await;
    assert_eq!(status, 200, "{registered}");
    let name = registered["data"]["viewer"]["name"].clone();
    assert!(name.is_string(), "{registered}");

    let (status, hit) = by_hash(&app, &hash).await;
    assert_eq!(status, 200, "{hit}");
    assert_eq!(hit["data"]["viewer"]["name"], name);

    let extensions = persisted(&hash).to_string();
    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let over_get: Value = response.json().await.unwrap();
    assert_eq!(over_get["data"]["viewer"]["name"], name, "{over_get}");
}

#[tokio::test]
async fn the_newer_media_type_answers_a_miss_with_400() {
    let app = spawn_app().await;

    let response = app
        .http
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({"extensions": persisted(&sha256("{ viewer { id } }"))}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["PERSISTED_QUERY_NOT_FOUND"], "{body}");
}

#[tokio::test]
async fn a_document_must_match_its_hash_and_the_version_must_be_known() {
    let app = spawn_app().await;
    let wrong_hash = sha256("{ team { name } }");

    let (status, mismatch) = post(
        &app,
        json!({"query": DOCUMENT, "extensions": persisted(&wrong_hash)}),
    )
    .await;
    assert_eq!(status, 400, "{mismatch}");
    assert_eq!(error_codes(&mismatch), ["BAD_USER_INPUT"]);
    let (_, still_unknown) = by_hash(&app, &wrong_hash).await;
    assert_eq!(error_codes(&still_unknown), ["PERSISTED_QUERY_NOT_FOUND"]);

    let (status, version) = post(
        &app,
        json!({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha256(DOCUMENT)}}}),
    )
    .await;
    assert_eq!(status, 400, "{version}");
    assert_eq!(error_codes(&version), ["BAD_USER_INPUT"]);
    assert_eq!(app.sandbox.stats().await["total"], 0);
}

#[tokio::test]
async fn replicas_sharing_redis_know_each_others_documents() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let url = server.url();
    let a = spawn_app_with(roomy_config(), |config| config.redis_url = Some(url)).await;
    let b = a.replica().await;
    eventually("both replicas to reach Redis", || async {
        a.is_ready().await && b.is_ready().await
    })
    .await;
    let hash = sha256(DOCUMENT);

    let (_, registered) = post(
        &a,
        json!({"query": DOCUMENT, "extensions": persisted(&hash)}),
    )
    .await;
    assert!(registered["data"]["viewer"].is_object(), "{registered}");

    let (status, on_b) = by_hash(&b, &hash).await;
    assert_eq!(status, 200, "{on_b}");
    assert_eq!(on_b["data"], registered["data"]);
}

#[tokio::test]
async fn with_an_allowlist_only_listed_operations_run() {
    let listed = DOCUMENT;
    let manifest = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": sha256(listed), "name": "Viewer", "type": "query", "body": listed}],
    });
    let path = std::env::temp_dir().join(format!(
        "operations-{}-{}.json",
        std::process::id(),
        line!()
    ));
    std::fs::write(&path, manifest.to_string()).unwrap();
    let allowlist = path.clone();
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        config.http.operation_allowlist = Some(allowlist)
    })
    .await;
    std::fs::remove_file(&path).unwrap();

    let (status, by_id) = by_hash(&app, &sha256(listed)).await;
    assert_eq!(status, 200, "{by_id}");
    assert!(by_id["data"]["viewer"]["name"].is_string(), "{by_id}");
    let (status, in_full) = post(&app, json!({"query": listed})).await;
    assert_eq!(status, 200, "{in_full}");
    let calls = app.sandbox.stats().await["total"].clone();

    let other = "{ team { name } }";
    for body in [
        json!({"query": other}),
        json!({"query": other, "extensions": persisted(&sha256(other))}),
    ] {
        let (status, refused) = post(&app, body.clone()).await;
        assert_eq!(status, 403, "{body}: {refused}");
        assert_eq!(
            error_codes(&refused),
            ["OPERATION_NOT_ALLOWED"],
            "{refused}"
        );
    }
    let (_, unknown) = by_hash(&app, &sha256(other)).await;
    assert_eq!(error_codes(&unknown), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(app.sandbox.stats().await["total"], calls);
}

#[tokio::test]
async fn only_validated_documents_are_shared_and_a_bad_shared_one_is_refused() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let url = server.url();
    let a = spawn_app_with(roomy_config(), |config| config.redis_url = Some(url)).await;
    let b = a.replica().await;
    eventually("both replicas to reach Redis", || async {
        a.is_ready().await && b.is_ready().await
    })
    .await;
    let mut redis = server.client().await;
    let key = |hash: &str| format!("heymarket-gateway:apq:{hash}");

    // A document that fails validation is not learnt, here or in Redis.
    let invalid = "{ viewer { noSuchField } }";
    let (_, refused) = post(
        &a,
        json!({"query": invalid, "extensions": persisted(&sha256(invalid))}),
    )
    .await;
    assert!(refused.get("data").is_none(), "{refused}");
    let stored: Option<String> = redis::AsyncCommands::get(&mut redis, key(&sha256(invalid)))
        .await
        .unwrap();
    assert_eq!(stored, None, "an invalid document reached Redis");
    let (_, on_b) = by_hash(&b, &sha256(invalid)).await;
    assert_eq!(error_codes(&on_b), ["PERSISTED_QUERY_NOT_FOUND"], "{on_b}");

    // One stored by anything else is checked like any document when a replica reads it.
    let deep = format!(
        "{{ nodes(ids: {}\"x\"{}) {{ id }} }}",
        "[".repeat(8_000),
        "]".repeat(8_000)
    );
    let () = redis::AsyncCommands::set(&mut redis, key(&sha256(&deep)), &deep)
        .await
        .unwrap();
    let (_, poisoned) = by_hash(&b, &sha256(&deep)).await;
    assert_eq!(
        error_codes(&poisoned),
        ["QUERY_LIMIT_EXCEEDED"],
        "{poisoned}"
    );
    let (_, alive) = post(&b, json!({"query": DOCUMENT})).await;
    assert!(alive["data"]["viewer"].is_object(), "{alive}");
}
