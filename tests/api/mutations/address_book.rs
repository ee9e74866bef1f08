//! The address book: a contact page in one query, contacts created and changed with their
//! tags and custom fields, and every refusal before anything is written.

use heymarket_gateway::schema::GlobalId;
use serde_json::{Value, json};

use super::{assert_refused, mutate, writes};
use crate::helpers::{TestApp, cost, json_at, routes, spawn_app};

/// The contact screen: everything a contact page shows, in one query.
const CONTACT_SCREEN: &str = "query($id: ID!) { contact(id: $id) { id displayName firstName \
     lastName phone email optedOut blocked tags { id name color } \
     customFields { field { databaseId name } value } \
     conversations(first: 10) { totalCount nodes { id inbox { name } status lastMessage { text sentAt } } } } }";

/// What a contact payload is asked for.
const CONTACT_PAYLOAD: &str = "contact { id databaseId firstName lastName phone email \
     tags { databaseId name } customFields { field { databaseId name } value } } \
     userErrors { field message code } clientMutationId";

fn tag_gid(id: i64) -> String {
    GlobalId::Tag(id).to_string()
}

async fn change(app: &TestApp, field: &str, input: Value) -> (Value, Value) {
    let input_type = if field == "createContact" {
        "CreateContactInput"
    } else {
        "UpdateContactInput"
    };
    mutate(app, field, input_type, CONTACT_PAYLOAD, input, None).await
}

#[tokio::test]
async fn a_contact_page_is_one_query() {
    let app = spawn_app().await;
    let id = GlobalId::Contact(100_001).to_string();

    let page = app
        .graphql_as(501, CONTACT_SCREEN, json!({ "id": id }))
        .await;
    assert_eq!(page["errors"], Value::Null, "{page}");
    let contact = &page["data"]["contact"];
    let upstream = app.sandbox.api_get(0, "/v1/contact/100001").await.1;
    assert_eq!(contact["phone"], upstream["phone"]);
    let tag_ids: Vec<String> = upstream["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|tag| tag_gid(tag["tag_id"].as_i64().expect("a tag id")))
        .collect();
    let shown: Vec<&Value> = contact["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|tag| &tag["id"])
        .collect();
    assert_eq!(shown, tag_ids.iter().collect::<Vec<_>>(), "{page}");
    assert_eq!(contact["tags"][0]["name"], "VIP");
    assert_eq!(
        contact["customFields"],
        json!([
            { "field": { "databaseId": "9001", "name": "Account number" }, "value": "AC-00001" },
            { "field": { "databaseId": "9002", "name": "Preferred store" }, "value": "Downtown" },
        ])
    );
    let fresh_cost = cost(&page);
    assert_eq!(
        fresh_cost["GET /v1/tag/{id}"],
        tag_ids.len() as u64,
        "{fresh_cost:?}"
    );
    assert_eq!(fresh_cost["POST /v1/contact-fields"], 1, "{fresh_cost:?}");
    assert_eq!(fresh_cost["GET /v1/contact/{id}"], 1, "{fresh_cost:?}");

    // Read again: the contact, its tags, fields and conversations come from the caches.
    let again = app
        .graphql_as(501, CONTACT_SCREEN, json!({ "id": id }))
        .await;
    assert_eq!(again["data"], page["data"]);
    assert_eq!(cost(&again), routes(&[]));
}

#[tokio::test]
async fn a_contact_is_created_and_changed_with_its_tags_and_fields() {
    let app = spawn_app().await;
    let (created, body) = change(
        &app,
        "createContact",
        json!({
            "phone": "+1 (212) 555-0190",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "Ada@Example.com",
            "tagIds": [tag_gid(8001), tag_gid(8002)],
            "customFields": [
                { "fieldId": "9001", "value": "AC-99" },
                { "fieldId": "9003", "value": "December 10" },
            ],
            "clientMutationId": "new",
        }),
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(created["userErrors"], json!([]), "{created}");
    assert_eq!(created["clientMutationId"], "new");
    let contact = &created["contact"];
    assert_eq!(contact["phone"], "12125550190");
    assert_eq!(contact["email"], "ada@example.com");
    assert_eq!(
        contact["tags"],
        json!([{ "databaseId": "8001", "name": "VIP" }, { "databaseId": "8002", "name": "Wholesale" }])
    );
    assert_eq!(contact["customFields"][1]["value"], "December 10");
    assert_eq!(writes(&app).await, json!({ "POST /v1/contact": 1 }));
    let id: String = json_at(contact, "/databaseId");
    let upstream = app.sandbox.api_get(0, &format!("/v1/contact/{id}")).await.1;
    assert_eq!(
        upstream["custom"],
        json!({ "9001": "AC-99", "9003": "December 10" })
    );

    // Cached by phone, by email and by id before the change; the change shows in each at
    // once.
    let by_phone = "query { contactByPhone(phone: \"12125550190\") { firstName tags { name } \
        customFields { value } } }";
    assert_eq!(
        app.graphql(by_phone).await["data"]["contactByPhone"]["firstName"],
        "Ada"
    );
    let by_email = "{ contactByEmail(email: \"ada@example.com\") { firstName } }";
    let by_id = format!(
        "{{ contact(id: \"{}\") {{ firstName }} }}",
        json_at::<String>(contact, "/id")
    );
    for query in [by_email, by_id.as_str()] {
        let body = app.graphql(query).await;
        assert!(body.to_string().contains("\"firstName\":\"Ada\""), "{body}");
        let warm = app.graphql(query).await;
        assert_eq!(cost(&warm), routes(&[]), "cached: {warm}");
    }
    let (updated, body) = change(
        &app,
        "updateContact",
        json!({
            "contactId": contact["id"],
            "firstName": "Augusta Ada",
            "tagIds": [tag_gid(8003)],
            "customFields": [{ "fieldId": "9001", "value": "AC-100" }],
        }),
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(updated["userErrors"], json!([]), "{updated}");
    let contact = &updated["contact"];
    assert_eq!(contact["firstName"], "Augusta Ada");
    assert_eq!(contact["lastName"], "Lovelace", "left out, kept");
    assert_eq!(contact["email"], "ada@example.com", "left out, kept");
    assert_eq!(
        contact["tags"],
        json!([{ "databaseId": "8003", "name": "New customer" }])
    );
    assert_eq!(
        contact["customFields"],
        json!([
            { "field": { "databaseId": "9001", "name": "Account number" }, "value": "AC-100" },
            { "field": { "databaseId": "9003", "name": "Birthday" }, "value": "December 10" },
        ])
    );
    assert_eq!(
        writes(&app).await,
        json!({ "POST /v1/contact": 1, "PUT /v1/contact/{id}": 1 })
    );
    let cached = app.graphql(by_phone).await;
    assert_eq!(
        cached["data"]["contactByPhone"],
        json!({ "firstName": "Augusta Ada", "tags": [{ "name": "New customer" }],
            "customFields": [{ "value": "AC-100" }, { "value": "December 10" }] })
    );
    for query in [by_email, by_id.as_str()] {
        let body = app.graphql(query).await;
        assert!(
            body.to_string().contains("\"firstName\":\"Augusta Ada\""),
            "{body}"
        );
    }
}

#[tokio::test]
async fn refused_contact_changes_write_nothing() {
    let app = spawn_app().await;
    let existing = app.sandbox.api_get(0, "/v1/contact/100002").await.1;
    let taken: String = json_at(&existing, "/phone");
    let contact = GlobalId::Contact(100_003).to_string();
    let six: Vec<String> = (8001..8007).map(tag_gid).collect();

    for (field, input, code, at) in [
        (
            "createContact",
            json!({ "phone": "12" }),
            "INVALID_PHONE",
            "phone",
        ),
        (
            "createContact",
            json!({ "phone": taken }),
            "CONTACT_EXISTS",
            "phone",
        ),
        (
            "createContact",
            json!({ "phone": "12125550191", "email": "ada@" }),
            "INVALID_EMAIL",
            "email",
        ),
        (
            "createContact",
            json!({ "phone": "12125550191", "tagIds": six }),
            "TOO_MANY_TAGS",
            "tagIds",
        ),
        (
            "updateContact",
            json!({ "contactId": contact, "phone": taken }),
            "CONTACT_EXISTS",
            "phone",
        ),
    ] {
        let (payload, body) = change(&app, field, input.clone()).await;
        assert_eq!(body["errors"], Value::Null, "{input}: {body}");
        assert_refused(&payload, "contact", code, Some(at));
    }
    for (field, input, code) in [
        (
            "createContact",
            json!({ "phone": "12125550191", "tagIds": [tag_gid(8999)] }),
            "NOT_FOUND",
        ),
        (
            "createContact",
            json!({ "phone": "12125550191",
                "customFields": [{ "fieldId": "1234", "value": "dropped upstream" }] }),
            "NOT_FOUND",
        ),
        (
            "updateContact",
            json!({ "contactId": GlobalId::Contact(999_999).to_string(), "firstName": "X" }),
            "NOT_FOUND",
        ),
        (
            "updateContact",
            json!({ "contactId": tag_gid(8001) }),
            "BAD_USER_INPUT",
        ),
    ] {
        let (payload, body) = change(&app, field, input.clone()).await;
        assert_eq!(payload, Value::Null, "{input}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], code,
            "{input}: {body}"
        );
    }
    assert_eq!(writes(&app).await, json!({}));
}

#[tokio::test]
async fn a_contact_is_found_by_email_address() {
    let app = spawn_app().await;
    let mut with_email = None;
    for id in 100_001..100_100 {
        let contact = app.sandbox.api_get(0, &format!("/v1/contact/{id}")).await.1;
        if contact["email"] != "" {
            with_email = Some(contact);
            break;
        }
    }
    let contact = with_email.expect("a seeded contact with an email address");
    let address = json_at::<String>(&contact, "/email").to_uppercase();
    let query = "query($email: String!) { contactByEmail(email: $email) { databaseId email } }";

    let found = app
        .graphql_as(501, query, json!({ "email": address }))
        .await;
    assert_eq!(found["errors"], Value::Null, "{found}");
    assert_eq!(
        found["data"]["contactByEmail"],
        json!({ "databaseId": contact["id"].to_string(), "email": contact["email"] })
    );
    assert_eq!(cost(&found)["POST /v2/contacts/search"], 1, "{found}");

    let missing = app
        .graphql_as(501, query, json!({ "email": "nobody@example.com" }))
        .await;
    assert_eq!(missing["data"]["contactByEmail"], Value::Null, "{missing}");
    assert_eq!(missing["errors"], Value::Null, "{missing}");
    for bad in ["nobody", "a,b@example.com", "Ada <ada@example.com>"] {
        let refused = app.graphql_as(501, query, json!({ "email": bad })).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{refused}"
        );
    }
}
