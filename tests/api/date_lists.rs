//! The team's date-cursor lists. Templates: the list a member may use (the team's shared ones
//! and their own), walked exactly under every profile at a counted cost, found by id with its
//! access check, and sent with their merge fields filled in. Contacts: walked exactly, at a
//! counted cost, fresh after an opt-out made here or elsewhere, and searched by name in
//! bounded steps.

use std::collections::{BTreeMap, BTreeSet};

use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, cost, error_codes, global, spawn_app_with};
use crate::sandbox_support::{micro_after, roomy_config, spawn_app_reading};

/// The seeded team's admin.
const ADMIN: i64 = 501;
/// A member with a template of their own.
const MEMBER: i64 = 502;

const TEMPLATES: &str = r#"query($first: Int, $after: String, $archived: Boolean!) {
    templates(first: $first, after: $after, includeArchived: $archived) {
        nodes { databaseId name text shared archived creator { databaseId } updatedAt }
        pageInfo { hasNextPage endCursor } } }"#;

/// The first `limit` rows (or all) of the sandbox's REST list at `path`, newest first: each
/// page asked up to the end of the last row's instant, the rows already seen dropped.
async fn rest_list(app: &TestApp, path: &str, limit: usize) -> Vec<Value> {
    let mut rows: Vec<Value> = Vec::new();
    while rows.len() < limit {
        let body = match rows.last() {
            Some(last) => json!({ "date": micro_after(&last["updated"]) }),
            None => json!({}),
        };
        let (status, page) = app.sandbox.api_post(0, path, body).await;
        assert_eq!(status, 200, "{page}");
        let seen: BTreeSet<i64> = rows.iter().map(|row| row["id"].as_i64().unwrap()).collect();
        let fresh: Vec<Value> = page
            .as_array()
            .expect("a page")
            .iter()
            .filter(|row| !seen.contains(&row["id"].as_i64().unwrap()))
            .cloned()
            .collect();
        if fresh.is_empty() {
            break;
        }
        rows.extend(fresh);
    }
    rows
}

async fn rest_templates(app: &TestApp) -> Vec<Value> {
    rest_list(app, "/v1/templates", usize::MAX).await
}

/// The ids of `member`'s walk of the list `field` of `query`, `first` at a time, up to
/// `limit` ids, and the answers it took.
async fn walk(
    app: &TestApp,
    member: i64,
    (query, field): (&str, &str),
    variables: Value,
    first: usize,
    limit: usize,
) -> (Vec<i64>, Vec<Value>) {
    let (mut ids, mut bodies) = (Vec::new(), Vec::new());
    let mut after = Value::Null;
    loop {
        let mut page_variables = variables.clone();
        page_variables["first"] = json!(first);
        page_variables["after"] = after;
        let body = app.graphql_as(member, query, page_variables).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        let connection = &body["data"][field];
        for node in connection["nodes"].as_array().expect("nodes") {
            ids.push(node["databaseId"].as_str().unwrap().parse().unwrap());
        }
        let more = connection["pageInfo"]["hasNextPage"] == true;
        after = connection["pageInfo"]["endCursor"].clone();
        bodies.push(body);
        if !more || ids.len() >= limit {
            return (ids, bodies);
        }
        assert!(bodies.len() < 200, "the walk does not end");
    }
}

/// `member`'s walk of `templates`.
async fn walk_templates(
    app: &TestApp,
    member: i64,
    first: usize,
    archived: bool,
) -> (Vec<i64>, Vec<Value>) {
    let list = (TEMPLATES, "templates");
    walk(
        app,
        member,
        list,
        json!({ "archived": archived }),
        first,
        usize::MAX,
    )
    .await
}

#[tokio::test]
async fn a_member_lists_the_shared_templates_and_their_own_once_each_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let rest = rest_templates(&app).await;
        assert!(rest.len() > 30, "{profile}: more than one upstream page");
        for member in [ADMIN, MEMBER] {
            for archived in [false, true] {
                let expected: Vec<i64> = rest
                    .iter()
                    .filter(|row| row["shared"] == true || row["creator_id"] == member)
                    .filter(|row| archived || row["archived"] == false)
                    .map(|row| row["id"].as_i64().unwrap())
                    .collect();
                for first in [100, 7] {
                    let (ids, _) = walk_templates(&app, member, first, archived).await;
                    assert_eq!(ids, expected, "{profile}, member {member}, first {first}");
                }
            }
        }
        let private = rest.iter().filter(|row| row["shared"] == false).count();
        assert!(private > 1, "{profile}: the seed has private templates");
    }
}

#[tokio::test]
async fn the_template_list_costs_its_two_upstream_pages_cold_and_nothing_warm() {
    let app = spawn_app_reading(Readings::DEFAULT).await;
    app.graphql_as(ADMIN, "{ viewer { name } }", json!({}))
        .await;

    let (_, cold) = walk_templates(&app, ADMIN, 100, true).await;
    let (_, warm) = walk_templates(&app, MEMBER, 100, true).await;

    assert_eq!(
        cost(&cold[0]),
        BTreeMap::from([("POST /v1/templates".to_owned(), 2)]),
        "a page of 30 and the rest, which ends the list"
    );
    assert_eq!(
        cost(&warm[0]),
        BTreeMap::new(),
        "another member shares the pages"
    );
}

#[tokio::test]
async fn a_template_by_id_is_its_creators_own_unless_shared() {
    let app = spawn_app_reading(Readings::DEFAULT).await;
    let rest = rest_templates(&app).await;
    let own = rest
        .iter()
        .find(|row| row["shared"] == false && row["creator_id"] == MEMBER)
        .expect("a private template of the member");
    let id = global(&format!("Template:{}", own["id"]));
    let query = "query($id: ID!) { node(id: $id) { ... on Template { name shared } } }";

    let mine = app.graphql_as(MEMBER, query, json!({ "id": id })).await;
    assert_eq!(mine["errors"], Value::Null, "{mine}");
    assert_eq!(
        mine["data"]["node"],
        json!({ "name": own["name"], "shared": false })
    );

    let theirs = app.graphql_as(ADMIN, query, json!({ "id": id })).await;
    assert_eq!(error_codes(&theirs), ["FORBIDDEN"], "{theirs}");
    assert_eq!(theirs["data"]["node"], Value::Null);

    let missing = app
        .graphql_as(ADMIN, query, json!({ "id": global("Template:1") }))
        .await;
    assert_eq!(error_codes(&missing), ["NOT_FOUND"], "{missing}");
}

const SEND: &str = r#"mutation($input: SendMessageInput!) { sendMessage(input: $input) {
    message { text mediaUrl } userErrors { code } } }"#;

#[tokio::test]
async fn a_template_is_sent_with_its_merge_fields_filled_in_for_the_customer() {
    let app = spawn_app_reading(Readings::DEFAULT).await;
    let rest = rest_templates(&app).await;
    let shared = |has_gallery: bool| {
        rest.iter()
            .find(|row| {
                row["shared"] == true
                    && row["content"]["text"]
                        .as_str()
                        .unwrap()
                        .contains("{{first_name}}")
                    && row["content"]["gallery"].as_array().unwrap().is_empty() != has_gallery
            })
            .expect("a shared template")
    };
    let (status, contact) = app.sandbox.api_get(0, "/v1/contact/100001").await;
    assert_eq!(status, 200, "{contact}");
    let phone = contact["phone"].as_str().unwrap();
    let first_name = contact["first"].as_str().unwrap();
    let sends = app.sandbox.calls("POST /v1/message/send").await;

    for template in [shared(false), shared(true)] {
        let input = json!({ "input": {
            "inboxId": global("Inbox:3001"),
            "phone": phone,
            "templateId": global(&format!("Template:{}", template["id"])),
        } });
        let body = app.graphql_as(ADMIN, SEND, input).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        let message = &body["data"]["sendMessage"]["message"];
        let expected = template["content"]["text"]
            .as_str()
            .unwrap()
            .replace("{{first_name}}", first_name)
            .replace("{{last_name}}", contact["last"].as_str().unwrap());
        assert_eq!(message["text"], expected);
        let gallery = template["content"]["gallery"][0]["url"].clone();
        assert_eq!(message["mediaUrl"], gallery);
    }
    assert_eq!(app.sandbox.calls("POST /v1/message/send").await, sends + 2);

    // Content twice over, or another member's own template, sends nothing.
    let private = rest
        .iter()
        .find(|row| row["shared"] == false)
        .expect("a private template");
    for (extra, member, code) in [
        (
            json!({ "templateId": global(&format!("Template:{}", shared(false)["id"])), "text": "Hi" }),
            ADMIN,
            "BAD_USER_INPUT",
        ),
        (
            json!({ "templateId": global(&format!("Template:{}", private["id"])) }),
            ADMIN,
            "FORBIDDEN",
        ),
        (
            json!({ "templateId": global("Template:1") }),
            ADMIN,
            "NOT_FOUND",
        ),
    ] {
        let mut input = json!({ "inboxId": global("Inbox:3001"), "phone": phone });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let body = app
            .graphql_as(member, SEND, json!({ "input": input }))
            .await;
        assert_eq!(error_codes(&body), [code], "{input}: {body}");
    }
    assert_eq!(app.sandbox.calls("POST /v1/message/send").await, sends + 2);
}

const CONTACTS: &str = r#"query($first: Int, $after: String, $filter: ContactFilter) {
    contacts(first: $first, after: $after, filter: $filter) {
        nodes { databaseId optedOut updatedAt } pageInfo { hasNextPage endCursor } } }"#;

/// Whether a REST contact has `text` (lower-cased) in its display, first or last name, or in
/// first and last together.
fn named(row: &Value, text: &str) -> bool {
    let field = |name: &str| row[name].as_str().map(str::to_lowercase);
    let first_and_last = field("first")
        .zip(field("last"))
        .map(|(f, l)| format!("{f} {l}"));
    [
        field("display_name"),
        field("first"),
        field("last"),
        first_and_last,
    ]
    .into_iter()
    .flatten()
    .any(|name| name.contains(text))
}

#[tokio::test]
async fn contacts_are_found_by_name_in_bounded_resumable_steps() {
    let app = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| config.limits.max_list_pages = 3,
    )
    .await;
    let everyone = rest_list(&app, "/v1/contacts", usize::MAX).await;
    let sample = &everyone[everyone.len() / 2];
    let last_name = sample["last"]
        .as_str()
        .unwrap_or_else(|| panic!("no last name in {sample}"));
    let expected: Vec<i64> = everyone
        .iter()
        .filter(|row| named(row, &last_name.to_lowercase()))
        .map(|row| row["id"].as_i64().expect("an id"))
        .collect();
    assert!(
        expected.len() >= 2 && expected.len() < everyone.len() / 4,
        "{} of {} contacts are called {last_name}",
        expected.len(),
        everyone.len()
    );

    let filter = json!({ "filter": { "nameContains": format!(" {} ", last_name.to_uppercase()) } });
    let (found, bodies) = walk(
        &app,
        ADMIN,
        (CONTACTS, "contacts"),
        filter.clone(),
        5,
        usize::MAX,
    )
    .await;

    assert_eq!(found, expected);
    for body in &bodies {
        let pages = cost(body).get("POST /v1/contacts").copied().unwrap_or(0);
        assert!(
            pages <= 3,
            "one request reads at most --max-list-pages: {body}"
        );
    }
    let (again, warm) = walk(&app, MEMBER, (CONTACTS, "contacts"), filter, 5, usize::MAX).await;
    assert_eq!(again, expected);
    assert!(
        warm.iter().all(|body| cost(body).is_empty()),
        "warm: {warm:?}"
    );

    let calls = app.sandbox.calls("POST /v1/contacts").await;
    for bad in ["", "   ", &"x".repeat(101)] {
        let body = app
            .graphql_as(
                ADMIN,
                CONTACTS,
                json!({ "filter": { "nameContains": bad } }),
            )
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{bad:?}: {body}");
    }
    assert_eq!(app.sandbox.calls("POST /v1/contacts").await, calls);
}

#[tokio::test]
async fn contacts_walk_exactly_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let expected: Vec<i64> = rest_list(&app, "/v1/contacts", 200)
            .await
            .iter()
            .map(|row| row["id"].as_i64().unwrap())
            .collect();
        for (first, limit) in [(100, 130), (7, 35)] {
            let (ids, _) = walk(
                &app,
                MEMBER,
                (CONTACTS, "contacts"),
                json!({}),
                first,
                limit,
            )
            .await;
            assert_eq!(ids, expected[..ids.len()], "{profile}, first {first}");
            assert!(ids.len() >= limit, "{profile}, first {first}");
        }
    }
}

#[tokio::test]
async fn a_contacts_page_costs_two_upstream_pages_cold_nothing_warm_and_an_opt_out_refreshes_it() {
    let app = spawn_app_reading(Readings::DEFAULT).await;
    app.graphql_as(ADMIN, "{ viewer { name } }", json!({}))
        .await;
    let list = (CONTACTS, "contacts");

    let (first_page, cold) = walk(&app, ADMIN, list, json!({}), 30, 30).await;
    let (again, warm) = walk(&app, MEMBER, list, json!({}), 30, 30).await;

    assert_eq!(
        cost(&cold[0]),
        BTreeMap::from([("POST /v1/contacts".to_owned(), 2)]),
        "a page of 30, and the next to know whether more follow"
    );
    assert_eq!(
        cost(&warm[0]),
        BTreeMap::new(),
        "another member shares the pages"
    );
    assert_eq!(again, first_page);

    // An opt-out through the gateway changes the contact: it leads the list at once.
    let changed = *first_page.last().unwrap();
    let body = app
        .graphql_as(
            ADMIN,
            "mutation($id: ID!) { setContactOptOut(input: {contactId: $id, optedOut: true}) { userErrors { code } } }",
            json!({ "id": global(&format!("Contact:{changed}")) }),
        )
        .await;
    assert_eq!(
        body["data"]["setContactOptOut"]["userErrors"],
        json!([]),
        "{body}"
    );
    let (now, _) = walk(&app, ADMIN, list, json!({}), 30, 30).await;
    assert_eq!(now[0], changed, "the changed contact leads");
    assert_eq!(now[1..], first_page[..29]);
}

#[tokio::test]
async fn another_lists_cursor_or_an_altered_one_is_refused_without_an_upstream_call() {
    let app = spawn_app_reading(Readings::DEFAULT).await;
    let cursor_of = |body: &Value, field: &str| {
        body["data"][field]["pageInfo"]["endCursor"]
            .as_str()
            .expect("a cursor")
            .to_owned()
    };
    let conversations = app
        .graphql_as(
            ADMIN,
            "{ conversations(first: 2) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let contacts = app
        .graphql_as(
            ADMIN,
            "{ contacts(first: 2) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let templates = app
        .graphql_as(
            ADMIN,
            "{ templates(first: 2) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let contact_cursor = cursor_of(&contacts, "contacts");
    let mut altered = contact_cursor.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let cases = [
        ("contacts", cursor_of(&conversations, "conversations")),
        ("contacts", cursor_of(&templates, "templates")),
        ("templates", contact_cursor),
        ("contacts", altered),
        ("templates", "dGVtcGxhdGU6MTox".to_owned()),
    ];
    let before = app.sandbox.stats().await["total"].clone();

    for (field, cursor) in cases {
        let query = format!(
            "query($after: String) {{ {field}(first: 5, after: $after) {{ nodes {{ id }} }} }}"
        );
        let body = app
            .graphql_as(ADMIN, &query, json!({ "after": cursor }))
            .await;
        assert_eq!(
            error_codes(&body),
            ["BAD_USER_INPUT"],
            "{field} after {cursor}: {body}"
        );
    }
    assert_eq!(
        app.sandbox.stats().await["total"],
        before,
        "no upstream call"
    );
}
