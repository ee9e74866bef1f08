//! Scheduled messages: scheduling, reading, rescheduling and cancelling through the gateway,
//! with exact upstream costs; refusals that write nothing; the sandbox's run control sending
//! them; and every reading of the points the docs leave open.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    assert_refused, contact_phone, conversation_gid, inbound, inbox_gid, opt_out, outsider, run,
};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::{
    TestApp, cost, error_codes, eventually, json_at, routes, spawn_app, spawn_app_with_webhooks,
};
use crate::sandbox_support::{
    reading, roomy_config, spawn_app_reading, spawn_app_reading_with, spawn_app_refreshed_by_events,
};
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::Readings;

/// What every scheduling payload is asked for.
const SCHEDULED: &str = "scheduledMessage { id databaseId sendAt state text phone \
    attachments { url } template { databaseId } conversation { id } inbox { databaseId } \
    sender { databaseId } } userErrors { field message code } clientMutationId";

const SCHEDULE: &str = "mutation($input: ScheduleMessageInput!) { \
    scheduleMessage(input: $input) { PAYLOAD } }";
const UPDATE: &str = "mutation($input: UpdateScheduledMessageInput!) { \
    updateScheduledMessage(input: $input) { PAYLOAD } }";
const CANCEL: &str = "mutation($input: CancelScheduledMessageInput!) { \
    cancelScheduledMessage(input: $input) { cancelledId userErrors { field message code } } }";

/// The first quarter hour at least `minutes` ahead, as RFC 3339.
fn quarter_hour_ahead(minutes: i64) -> String {
    let at = Utc::now() + TimeDelta::minutes(minutes) + TimeDelta::minutes(15);
    let at = at
        .duration_trunc(TimeDelta::minutes(15))
        .expect("a representable instant");
    at.to_rfc3339()
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("an instant"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Runs `operation` (with `PAYLOAD` standing for [`SCHEDULED`]) with `input`, as `member` when
/// given; the whole body.
async fn mutate(app: &TestApp, operation: &str, input: Value, member: Option<i64>) -> Value {
    let operation = operation.replace("PAYLOAD", SCHEDULED);
    run(app, &operation, json!({ "input": input }), member).await
}

/// The payload of the operation's one root field, which must not be a GraphQL error.
fn payload(body: &Value) -> &Value {
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .unwrap_or_else(|| panic!("no payload in {body}"))
}

/// The writes to `/v1/schedule` the sandbox has served, refused ones included.
async fn schedule_writes(app: &TestApp) -> u64 {
    let mut total = 0;
    for route in [
        "POST /v1/schedule",
        "PUT /v1/schedule/{id}",
        "DELETE /v1/schedule/{id}",
    ] {
        total += app.sandbox.calls(route).await;
    }
    total
}

/// The scheduled messages of a conversation, as the gateway lists them.
async fn listed(app: &TestApp, conversation: &str) -> Value {
    let body = run(
        app,
        "query($id: ID!) { conversation(id: $id) { scheduledMessages { id state text sendAt } } }",
        json!({ "id": conversation }),
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["conversation"]["scheduledMessages"].clone()
}

/// The scheduled message `node(id:)` finds; null when it is gone (a `NOT_FOUND` error).
async fn node(app: &TestApp, id: &Value) -> Value {
    let body = run(
        app,
        "query($id: ID!) { node(id: $id) { ... on ScheduledMessage { id state text } } }",
        json!({ "id": id }),
        None,
    )
    .await;
    if body["data"]["node"].is_null() {
        assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
    } else {
        assert_eq!(body["errors"], Value::Null, "{body}");
    }
    body["data"]["node"].clone()
}

/// Sends every scheduled message due by `until` (the sandbox's run control).
async fn run_schedules(app: &TestApp, until: &str) -> Value {
    let (status, ran) = app
        .sandbox
        .control(
            Method::POST,
            "/_sandbox/schedule/run",
            Some(json!({ "until": until })),
        )
        .await;
    assert_eq!(status, 200, "{ran}");
    ran
}

#[tokio::test]
async fn a_message_is_scheduled_read_rescheduled_and_cancelled_at_exact_costs() {
    let app = spawn_app().await;
    let conversation = conversation_gid(inbound(&app, 3001, "12125550181").await);
    let send_at = quarter_hour_ahead(30);

    let body = mutate(
        &app,
        SCHEDULE,
        json!({
            "conversationId": conversation,
            "sendAt": send_at,
            "text": "Your table is ready at 8",
            "mediaUrl": "https://example.com/menu.png",
            "clientMutationId": "s1",
        }),
        None,
    )
    .await;
    let scheduled = payload(&body);
    assert_eq!(scheduled["userErrors"], json!([]), "{body}");
    assert_eq!(scheduled["clientMutationId"], "s1");
    let message = &scheduled["scheduledMessage"];
    assert_eq!(instant(&message["sendAt"]), instant(&json!(send_at)));
    assert_eq!(message["state"], "SCHEDULED");
    assert_eq!(message["text"], "Your table is ready at 8");
    assert_eq!(
        message["attachments"],
        json!([{ "url": "https://example.com/menu.png" }])
    );
    assert_eq!(message["conversation"]["id"], json!(conversation));
    assert_eq!(message["inbox"]["databaseId"], "3001");
    assert_eq!(message["sender"]["databaseId"], "501");
    let id = message["id"].clone();
    let database_id: String = json_at(message, "/databaseId");
    // Cold: the acting member, the inboxes and the conversation, the customer's consent read
    // afresh, the write, and the read back.
    assert_eq!(
        cost(&body),
        routes(&[
            ("GET /v1/team", 1),
            ("GET /v1/inboxes", 1),
            ("GET /v1/conversations/{id}", 1),
            ("POST /v2/contacts/search", 1),
            ("POST /v1/schedule", 1),
            ("GET /v1/schedule/{id}", 1),
        ])
    );
    let (status, upstream) = app
        .sandbox
        .api_get(0, &format!("/v1/schedule/{database_id}"))
        .await;
    assert_eq!(status, 200, "{upstream}");
    assert_eq!(
        upstream["meta"]["content"]["text"],
        "Your table is ready at 8"
    );

    // Warm: the conversation and the scheduled message come from the caches.
    let body = run(
        &app,
        "query($c: ID!, $s: ID!) { conversation(id: $c) { scheduledMessages { id text } } \
         node(id: $s) { ... on ScheduledMessage { state sender { databaseId } } } }",
        json!({ "c": conversation, "s": id }),
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(
        body["data"]["conversation"]["scheduledMessages"],
        json!([{ "id": id, "text": "Your table is ready at 8" }])
    );
    assert_eq!(body["data"]["node"]["state"], "SCHEDULED");
    assert_eq!(cost(&body), routes(&[]));

    // Rescheduling reads it afresh, writes, and reads it back.
    let later = quarter_hour_ahead(60);
    let body = mutate(
        &app,
        UPDATE,
        json!({ "id": id, "sendAt": later, "text": "Your table is ready at 9" }),
        None,
    )
    .await;
    let updated = &payload(&body)["scheduledMessage"];
    assert_eq!(instant(&updated["sendAt"]), instant(&json!(later)));
    assert_eq!(updated["text"], "Your table is ready at 9");
    assert_eq!(
        updated["attachments"],
        json!([]),
        "new content replaces the old"
    );
    assert_eq!(updated["id"], id);
    assert_eq!(
        cost(&body),
        routes(&[("GET /v1/schedule/{id}", 2), ("PUT /v1/schedule/{id}", 1)])
    );
    assert_eq!(
        listed(&app, &conversation).await,
        json!([{ "id": id, "state": "SCHEDULED", "text": "Your table is ready at 9",
                 "sendAt": updated["sendAt"] }])
    );

    let body = run(&app, CANCEL, json!({ "input": { "id": id } }), None).await;
    assert_eq!(
        payload(&body),
        &json!({ "cancelledId": id, "userErrors": [] })
    );
    assert_eq!(
        cost(&body),
        routes(&[
            ("GET /v1/schedule/{id}", 1),
            ("DELETE /v1/schedule/{id}", 1)
        ])
    );
    assert_eq!(listed(&app, &conversation).await, json!([]));
    assert_eq!(node(&app, &id).await, Value::Null);
    let (status, _) = app
        .sandbox
        .api_get(0, &format!("/v1/schedule/{database_id}"))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_conversation_remembers_only_its_newest_scheduled_messages() {
    let app = spawn_app_reading_with(Readings::DEFAULT, |config| {
        config.cache.scheduled_per_conversation = 2;
    })
    .await;
    let conversation = conversation_gid(inbound(&app, 3001, "12125550178").await);
    let mut ids = Vec::new();
    for (hours, text) in [(3, "first"), (2, "second"), (1, "third")] {
        let body = mutate(
            &app,
            SCHEDULE,
            json!({ "conversationId": conversation, "sendAt": quarter_hour_ahead(60 * hours),
                    "text": text }),
            None,
        )
        .await;
        ids.push(payload(&body)["scheduledMessage"]["id"].clone());
    }
    let listed: Vec<Value> = json_at(&listed(&app, &conversation).await, "");
    let texts: Vec<&Value> = listed.iter().map(|s| &s["text"]).collect();
    assert_eq!(texts, [&json!("third"), &json!("second")], "soonest first");
    assert_eq!(
        node(&app, &ids[0]).await["text"],
        "first",
        "still there by id"
    );
}

#[tokio::test]
async fn bad_send_times_and_content_are_user_errors_that_write_nothing() {
    let app = spawn_app().await;
    let conversation = conversation_gid(inbound(&app, 3001, "12125550182").await);
    let on_grid = quarter_hour_ahead(30);
    let off_grid = (instant(&json!(on_grid)) + TimeDelta::minutes(7)).to_rfc3339();
    let with_seconds = (instant(&json!(on_grid)) + TimeDelta::seconds(1)).to_rfc3339();
    let too_soon = (Utc::now() + TimeDelta::minutes(5))
        .duration_trunc(TimeDelta::minutes(15))
        .unwrap()
        .to_rfc3339();
    let past = quarter_hour_ahead(-120);
    for send_at in [&off_grid, &with_seconds, &too_soon, &past] {
        let body = mutate(
            &app,
            SCHEDULE,
            json!({ "conversationId": conversation, "sendAt": send_at, "text": "hi" }),
            None,
        )
        .await;
        assert_refused(
            payload(&body),
            "scheduledMessage",
            "INVALID_SEND_TIME",
            Some("sendAt"),
        );
        assert_eq!(cost(&body), routes(&[]), "checked before any call");
    }
    let body = mutate(
        &app,
        SCHEDULE,
        json!({ "conversationId": conversation, "sendAt": on_grid, "text": "  " }),
        None,
    )
    .await;
    assert_refused(
        payload(&body),
        "scheduledMessage",
        "EMPTY_MESSAGE",
        Some("text"),
    );
    assert_eq!(schedule_writes(&app).await, 0);

    let body = mutate(
        &app,
        SCHEDULE,
        json!({ "conversationId": conversation, "sendAt": on_grid, "text": "hi" }),
        None,
    )
    .await;
    let id = payload(&body)["scheduledMessage"]["id"].clone();
    let body = mutate(&app, UPDATE, json!({ "id": id, "sendAt": off_grid }), None).await;
    assert_refused(
        payload(&body),
        "scheduledMessage",
        "INVALID_SEND_TIME",
        Some("sendAt"),
    );
    assert_eq!(cost(&body), routes(&[]));
    assert_eq!(app.sandbox.calls("PUT /v1/schedule/{id}").await, 0);
}

#[tokio::test]
async fn nothing_is_scheduled_for_a_customer_who_opted_out() {
    let app = spawn_app().await;
    let phone = contact_phone(&app, false).await;
    let conversation = conversation_gid(inbound(&app, 3001, &phone).await);
    opt_out(&app, &phone).await;
    let send_at = quarter_hour_ahead(60);
    for (input, field) in [
        (
            json!({ "conversationId": conversation, "sendAt": send_at, "text": "Sale!" }),
            "conversationId",
        ),
        (
            json!({ "inboxId": inbox_gid(3002), "phone": phone, "sendAt": send_at,
                "text": "Sale!", "idempotencyKey": "sale-1" }),
            "phone",
        ),
    ] {
        let body = mutate(&app, SCHEDULE, input, None).await;
        assert_refused(
            payload(&body),
            "scheduledMessage",
            "RECIPIENT_OPTED_OUT",
            Some(field),
        );
    }
    assert_eq!(schedule_writes(&app).await, 0);
}

#[tokio::test]
async fn only_members_of_its_inbox_see_or_change_a_scheduled_message() {
    let app = spawn_app().await;
    let conversation = conversation_gid(inbound(&app, 3001, "12125550183").await);
    let stranger = outsider(&app, 3001).await;
    let send_at = quarter_hour_ahead(30);
    let body = mutate(
        &app,
        SCHEDULE,
        json!({ "conversationId": conversation, "sendAt": send_at, "text": "hi" }),
        None,
    )
    .await;
    let id = payload(&body)["scheduledMessage"]["id"].clone();
    let writes = schedule_writes(&app).await;

    let body = run(
        &app,
        "query($id: ID!) { node(id: $id) { ... on ScheduledMessage { text } } }",
        json!({ "id": id }),
        Some(stranger),
    )
    .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(body["data"]["node"], Value::Null);

    for (operation, input) in [
        (
            SCHEDULE,
            json!({ "conversationId": conversation, "sendAt": send_at, "text": "hi" }),
        ),
        (
            SCHEDULE,
            json!({ "inboxId": inbox_gid(3001), "phone": "12125550184", "sendAt": send_at,
                    "text": "hi" }),
        ),
        (UPDATE, json!({ "id": id, "text": "changed" })),
    ] {
        let body = mutate(&app, operation, input, Some(stranger)).await;
        assert_refused(
            payload(&body),
            "scheduledMessage",
            "NOT_AN_INBOX_MEMBER",
            None,
        );
    }
    let body = run(
        &app,
        CANCEL,
        json!({ "input": { "id": id } }),
        Some(stranger),
    )
    .await;
    let cancel = payload(&body);
    assert_eq!(cancel["cancelledId"], Value::Null);
    assert_eq!(cancel["userErrors"][0]["code"], "NOT_AN_INBOX_MEMBER");
    assert_eq!(schedule_writes(&app).await, writes, "nothing was written");
    assert_eq!(node(&app, &id).await["text"], "hi");
}

#[tokio::test]
async fn a_repeated_idempotency_key_schedules_once() {
    for readings in [reading(&[]), reading(&["local-id=ignored"])] {
        let app = spawn_app_reading(readings).await;
        let conversation = conversation_gid(inbound(&app, 3001, "12125550185").await);
        let input = json!({
            "conversationId": conversation,
            "sendAt": quarter_hour_ahead(30),
            "text": "See you soon",
            "idempotencyKey": "sched-1",
        });
        let first = mutate(&app, SCHEDULE, input.clone(), None).await;
        let again = mutate(&app, SCHEDULE, input.clone(), None).await;
        let (first, again) = (payload(&first), payload(&again));
        assert_eq!(first["userErrors"], json!([]), "{first}");
        assert_eq!(again, first, "the repeat answers the first scheduling");
        assert_eq!(app.sandbox.calls("POST /v1/schedule").await, 1);
        assert_eq!(
            json_at::<Vec<Value>>(&listed(&app, &conversation).await, "").len(),
            1
        );

        let mut other = input;
        other["text"] = json!("Something else");
        let body = mutate(&app, SCHEDULE, other, None).await;
        assert_refused(
            payload(&body),
            "scheduledMessage",
            "IDEMPOTENCY_KEY_REUSED",
            Some("idempotencyKey"),
        );
        assert_eq!(app.sandbox.calls("POST /v1/schedule").await, 1);
    }
}

#[tokio::test]
async fn a_due_scheduled_message_goes_out_and_shows_in_its_conversation() {
    let app = spawn_app_refreshed_by_events().await;
    let conversation = conversation_gid(inbound(&app, 3001, "12125550186").await);
    let last_message = "query($id: ID!) { conversation(id: $id) { lastMessage { text direction } \
        scheduledMessages { id } } }";
    let before = run(&app, last_message, json!({ "id": conversation }), None).await;
    assert_eq!(
        before["data"]["conversation"]["lastMessage"]["direction"],
        "INBOUND"
    );
    let send_at = quarter_hour_ahead(30);
    let body = mutate(
        &app,
        SCHEDULE,
        json!({ "conversationId": conversation, "sendAt": send_at, "text": "It is time" }),
        None,
    )
    .await;
    let id = payload(&body)["scheduledMessage"]["id"].clone();

    let ran = run_schedules(&app, &send_at).await;
    assert_eq!(ran.as_array().map(Vec::len), Some(1), "{ran}");
    assert!(ran[0]["message_id"].is_i64(), "{ran}");
    // The conversation is cached for an hour: only the `message_sent` webhook can tell.
    eventually("the scheduled message in its conversation", || async {
        let body = run(&app, last_message, json!({ "id": conversation }), None).await;
        body["data"]["conversation"]["lastMessage"]
            == json!({ "text": "It is time", "direction": "OUTBOUND" })
    })
    .await;
    // The default reading keeps serving a sent schedule.
    assert_eq!(node(&app, &id).await["text"], "It is time");
    assert_eq!(run_schedules(&app, &send_at).await, json!([]), "sent once");
}

#[tokio::test]
async fn a_sent_schedule_the_upstream_forgets_leaves_the_list_when_its_webhook_comes() {
    let sandbox = SandboxConfig {
        teams: 1,
        readings: reading(&["schedule-after-send=gone"]),
        ..roomy_config()
    };
    let app = spawn_app_with_webhooks(sandbox, |config| {
        config.cache.ttl_conversations = Duration::from_secs(3600);
    })
    .await;
    let conversation = conversation_gid(inbound(&app, 3001, "12125550179").await);
    let send_at = quarter_hour_ahead(30);
    let body = mutate(
        &app,
        SCHEDULE,
        json!({ "conversationId": conversation, "sendAt": send_at, "text": "Bye" }),
        None,
    )
    .await;
    let id = payload(&body)["scheduledMessage"]["id"].clone();
    assert_eq!(listed(&app, &conversation).await[0]["id"], id);

    run_schedules(&app, &send_at).await;
    // Cached for an hour: the `message_sent` webhook is what makes the gateway look again.
    eventually("the sent schedule to leave the list", || async {
        listed(&app, &conversation).await == json!([])
    })
    .await;
    assert_eq!(node(&app, &id).await, Value::Null);
}

#[tokio::test]
async fn a_schedule_to_a_new_number_starts_its_conversation_when_it_goes_out() {
    for after_send in ["kept", "gone"] {
        let app = spawn_app_reading(reading(&[&format!("schedule-after-send={after_send}")])).await;
        let send_at = quarter_hour_ahead(30);
        let body = mutate(
            &app,
            SCHEDULE,
            json!({ "inboxId": inbox_gid(3001), "phone": "+1 212 555 0187", "sendAt": send_at,
                    "text": "Welcome!" }),
            None,
        )
        .await;
        let scheduled = &payload(&body)["scheduledMessage"];
        assert_eq!(scheduled["phone"], "12125550187");
        assert_eq!(scheduled["conversation"], Value::Null, "none yet");
        let id = scheduled["id"].clone();

        let ran = run_schedules(&app, &send_at).await;
        let message: i64 = json_at(&ran, "/0/message_id");
        let history = super::history(&app, "12125550187", 3001).await;
        assert_eq!(history[0]["id"], message);
        assert_eq!(history[0]["text"], "Welcome!");
        let conversation = conversation_gid(json_at(&history[0], "/conversation/id"));

        // Without webhooks, the scheduled message's cached copy lives for the conversations'
        // time to live; a write of the gateway's own is what forgets it here.
        let body = run(&app, CANCEL, json!({ "input": { "id": id } }), None).await;
        match after_send {
            "kept" => {
                assert_eq!(payload(&body)["userErrors"][0]["code"], "UPSTREAM_REJECTED");
                let shown = run(
                    &app,
                    "query($id: ID!) { node(id: $id) { ... on ScheduledMessage { conversation { id } } } }",
                    json!({ "id": id }),
                    None,
                )
                .await;
                assert_eq!(
                    shown["data"]["node"]["conversation"]["id"],
                    json!(conversation)
                );
            }
            _ => {
                assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
                assert_eq!(node(&app, &id).await, Value::Null);
                assert_eq!(listed(&app, &conversation).await, json!([]));
            }
        }
        assert_eq!(
            app.sandbox.calls("DELETE /v1/schedule/{id}").await,
            u64::from(after_send == "kept")
        );
    }
}

#[tokio::test]
async fn the_sandbox_checks_schedules_as_the_docs_say() {
    let app = spawn_app().await;
    let conversation = inbound(&app, 3001, "12125550189").await;
    let on_grid = quarter_hour_ahead(30);
    let good = json!({
        "inbox_id": 3001, "execute_at": on_grid, "conversation_id": conversation,
        "content": { "text": "hi" }, "user_id": 501,
    });
    let (status, created) = app.sandbox.api_post(0, "/v1/schedule", good.clone()).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["meta"]["conversation_id"], conversation);
    assert_eq!(created["rev"], 1);

    let stranger = outsider(&app, 3001).await;
    let email_inbox = 3005;
    let changes: [(&str, Value); 8] = [
        ("execute_at", json!(quarter_hour_ahead(-60))),
        (
            "execute_at",
            json!((instant(&json!(on_grid)) + TimeDelta::minutes(5)).to_rfc3339()),
        ),
        ("user_id", json!(stranger)),
        ("phone_number", json!("12125550189")),
        ("content", json!({ "text": " " })),
        ("content", json!({ "text": "hi", "template": 7001 })),
        ("inbox_id", json!(email_inbox)),
        ("list_id", json!(5)),
    ];
    for (field, value) in changes {
        let mut body = good.clone();
        body[field] = value;
        let (status, refused) = app.sandbox.api_post(0, "/v1/schedule", body).await;
        assert_eq!(status, 400, "{field}: {refused}");
        assert_eq!(refused["error"], "bad_data", "{field}: {refused}");
    }
}

#[tokio::test]
async fn the_sandbox_plays_each_reading_of_its_schedule_answers() {
    let body = |conversation: i64| {
        json!({
            "inbox_id": 3001, "execute_at": quarter_hour_ahead(30),
            "conversation_id": conversation, "content": { "text": "hi" }, "local_id": "k",
        })
    };
    for (answer, delete, local_id) in [
        ("object", "ok", "deduplicated"),
        ("id-rev", "empty", "ignored"),
    ] {
        let app = spawn_app_reading(reading(&[
            &format!("schedule-answer={answer}"),
            &format!("schedule-delete={delete}"),
            &format!("local-id={local_id}"),
        ]))
        .await;
        let conversation = inbound(&app, 3001, "12125550180").await;
        let (status, created) = app
            .sandbox
            .api_post(0, "/v1/schedule", body(conversation))
            .await;
        assert_eq!(status, 200, "{created}");
        let created_fields: BTreeMap<String, Value> = json_at(&created, "");
        let fields: Vec<&str> = created_fields.keys().map(String::as_str).collect();
        match answer {
            "object" => assert!(fields.contains(&"meta") && fields.contains(&"execute")),
            _ => assert_eq!(fields, ["id", "rev"]),
        }
        let (_, repeated) = app
            .sandbox
            .api_post(0, "/v1/schedule", body(conversation))
            .await;
        assert_eq!(
            repeated["id"] == created["id"],
            local_id == "deduplicated",
            "{repeated}"
        );

        let path = format!("/v1/schedule/{}", created["id"]);
        let authorization = app.sandbox.jwt_header(0);
        let response = app
            .sandbox
            .raw_call(Method::DELETE, &path, Some(&authorization), None)
            .await;
        let status = response.status().as_u16();
        let answer = response.text().await.expect("a body");
        match delete {
            "ok" => assert_eq!((status, answer.as_str()), (200, "\"ok\"")),
            _ => assert_eq!((status, answer.as_str()), (204, "")),
        }
        assert_eq!(app.sandbox.api_get(0, &path).await.0, 404);
    }
}
