//! Two gateway replicas sharing one Redis: events, cache invalidation and the upstream budget
//! cross replicas, and losing Redis degrades instead of breaking.

use std::collections::BTreeMap;
use std::time::Duration;

use heymarket_gateway::config::RateBudget;
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::{ReadState, ReadingOverride, Readings};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, cost, global, json_at, routes, spawn_app_with, spawn_app_with_webhooks,
};
use crate::mutations::{close, conversation_gid, open_conversation, opt_out};
use crate::redis_support::{RedisServer, eventually};
use crate::sandbox_support::{reading, roomy_config};
use crate::webhook_hints::deliver;
use crate::ws_support::{first_delivery, inbound, result_where};

/// Replica A takes the sandbox's webhooks; B only hears of them through Redis.
async fn replicas(redis: &RedisServer) -> (TestApp, TestApp) {
    replicas_reading(redis, Readings::DEFAULT).await
}

/// [`replicas`], over a sandbox that plays `readings`.
pub async fn replicas_reading(redis: &RedisServer, readings: Readings) -> (TestApp, TestApp) {
    let url = redis.url();
    let a = spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            readings,
            ..roomy_config()
        },
        |config| {
            config.redis_url = Some(url);
            config.cache.ttl_conversations = Duration::from_secs(3600);
        },
    )
    .await;
    let b = a.replica().await;
    for replica in [&a, &b] {
        eventually("both replicas to be ready", || replica.is_ready()).await;
    }
    (a, b)
}

#[tokio::test]
async fn a_webhook_taken_in_by_one_replica_reaches_the_other() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = replicas(&redis).await;
    let status_on_b = async |id: &Value| status_on(&b, id).await;
    let open = b.graphql("{ conversations(first: 1, filter: {status: OPEN}) { nodes { id databaseId inbox { databaseId } } } }").await;
    let open = open["data"]["conversations"]["nodes"][0].clone();
    assert_eq!(
        status_on_b(&open["id"]).await,
        "OPEN",
        "now cached on B for an hour"
    );

    let mut subscriber = b.subscriber(json!({})).await;
    subscriber
        .subscribe(
            "subscription { conversationUpdated { id status } }",
            json!({}),
        )
        .await;
    first_delivery(&a, &mut subscriber, 3001, "12125550201").await;

    let inbox: i64 = open["inbox"]["databaseId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let id: i64 = open["databaseId"].as_str().unwrap().parse().unwrap();
    let close = json!({"inbox_id": inbox, "user_id": 501, "chat_id": id});
    assert_eq!(
        a.sandbox
            .api_post(0, "/v1/conversations/close", close)
            .await
            .0,
        200
    );

    let update = result_where(&mut subscriber, "conversationUpdated", |c| {
        c["id"] == open["id"]
    })
    .await;
    assert_eq!(update["data"]["conversationUpdated"]["status"], "CLOSED");
    eventually("B's cached conversation to be replaced", || async {
        status_on_b(&open["id"]).await == "CLOSED"
    })
    .await;
}

#[tokio::test]
async fn a_write_on_one_replica_reaches_the_others_cache_when_heymarket_sends_no_event() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = replicas_reading(&redis, reading(&["write-events=silent"])).await;
    let conversation = open_conversation(&a, 3001, 2).await;
    let gid = json!(conversation_gid(json_at(&conversation, "/id")));
    let status_on_b = async || status_on(&b, &gid).await;
    assert_eq!(status_on_b().await, "OPEN", "now cached on B for an hour");

    close(&a, gid.as_str().expect("a global id")).await;

    eventually("B to forget the conversation A closed", || async {
        status_on_b().await == "CLOSED"
    })
    .await;
    let on_a = a
        .graphql_with(
            "query($id: ID!) { conversation(id: $id) { status } }",
            json!({"id": gid}),
            &[],
        )
        .await
        .1;
    assert_eq!(on_a["data"]["conversation"]["status"], "CLOSED", "{on_a}");
    assert_eq!(
        cost(&on_a),
        BTreeMap::new(),
        "A knew its own write and did not act on its own hint: {on_a}"
    );
    let sent = a.sandbox.stats().await["webhooks"].clone();
    assert_eq!(sent["delivered"], 0, "the upstream sent no event: {sent}");
}

/// The ids of the newest open conversations of `inbox` as `replica` lists them, and the
/// upstream calls that cost.
async fn newest_open_on(replica: &TestApp, inbox: i64) -> (Vec<Value>, BTreeMap<String, u64>) {
    let body = replica
        .graphql_with(
            "query($inbox: ID!) { conversations(first: 5, filter: {inboxIds: [$inbox], status: OPEN}) { nodes { id } } }",
            json!({"inbox": global(&format!("Inbox:{inbox}"))}),
            &[],
        )
        .await
        .1;
    let nodes: Vec<Value> = json_at(&body, "/data/conversations/nodes");
    (
        nodes.into_iter().map(|node| node["id"].clone()).collect(),
        cost(&body),
    )
}

#[tokio::test]
async fn a_write_on_one_replica_forgets_the_others_lists_of_its_inbox_only() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = replicas_reading(&redis, reading(&["write-events=silent"])).await;
    let (listed, _) = newest_open_on(&b, 3001).await;
    let (elsewhere, _) = newest_open_on(&b, 3002).await;
    let closing = listed[0].clone();

    close(&a, closing.as_str().expect("a global id")).await;

    eventually(
        "B to list the inbox without the closed conversation",
        || async { !newest_open_on(&b, 3001).await.0.contains(&closing) },
    )
    .await;
    assert_eq!(
        newest_open_on(&b, 3002).await,
        (elsewhere, BTreeMap::new()),
        "B kept the list of the inbox the write did not touch"
    );
}

#[tokio::test]
async fn what_one_replica_fetched_the_other_serves_until_an_event_moves_both_on() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    on_every_profile(&redis, shares_until_an_event).await;
}

/// Runs `scenario` on two new replicas over a sandbox of each profile in turn. Replicas
/// joining start a new era: nothing the previous profile's replicas shared is read by these.
async fn on_every_profile(redis: &RedisServer, scenario: impl AsyncFn(&TestApp, &TestApp, &str)) {
    for (profile, readings) in Readings::profiles() {
        let (a, b) = replicas_reading(redis, *readings).await;
        scenario(&a, &b, profile).await;
    }
}

/// [`on_every_profile`], with `reading` (`POINT=VALUE`) on top of each profile; `scenario`
/// is also given the profile's own readings.
async fn on_every_profile_with(
    redis: &RedisServer,
    reading: &str,
    scenario: impl AsyncFn(&TestApp, &TestApp, &str, &Readings),
) {
    let reading: ReadingOverride = reading.parse().expect("a valid reading");
    for (profile, readings) in Readings::profiles() {
        let changed = readings.with(std::slice::from_ref(&reading));
        let (a, b) = replicas_reading(redis, changed).await;
        scenario(&a, &b, profile, readings).await;
    }
}

/// A customer writing in to inbox 3001 from `phone` makes the team event-driven on both
/// replicas; each then reads the directory once.
async fn event_driven(a: &TestApp, b: &TestApp, phone: &str, profile: &str) {
    let team_id = a.sandbox.teams[0].team_id;
    inbound(a, team_id, 3001, phone, "Hello").await;
    until_freshness(&[a, b], "events").await;
    for replica in [a, b] {
        let directory = replica.graphql("{ team { name } inboxes { id } }").await;
        assert_eq!(directory["errors"], Value::Null, "{profile}: {directory}");
    }
}

/// A's fetches serve B with no upstream call, and an event makes both read again, once.
async fn shares_until_an_event(a: &TestApp, b: &TestApp, profile: &str) {
    let team_id = a.sandbox.teams[0].team_id;
    let conversation = open_conversation(a, 3001, 2).await;
    let target: String = json_at(&conversation, "/target");
    let gid = json!(conversation_gid(json_at(&conversation, "/id")));
    event_driven(a, b, "12125550177", profile).await;
    a.sandbox.take_calls().await;

    let status = status_on(a, &gid).await;
    assert!(status.is_string(), "{profile}: {status}");
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[("GET /v1/conversations/{id}", 1)]),
        "{profile}: A fetched it"
    );
    assert_eq!(status_on(b, &gid).await, status, "{profile}");
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[]),
        "{profile}: B read what A fetched from Redis"
    );

    // A page with its rows' last messages: the list page and the team-wide message listing
    // A read are B's too.
    let page = "{ conversations(first: 10, filter: {status: OPEN}) { nodes { id lastMessage { text } } } }";
    let on_a = a.graphql(page).await;
    assert_eq!(on_a["errors"], Value::Null, "{profile}: {on_a}");
    let read_by_a = a.sandbox.take_calls().await;
    assert!(
        read_by_a.contains_key("POST /v1/conversations"),
        "{profile}: {read_by_a:?}"
    );
    assert_eq!(b.graphql(page).await["data"], on_a["data"], "{profile}");
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[]),
        "{profile}: B read it all from Redis"
    );

    // The customer writes in: its webhook makes both replicas forget the conversation. The
    // first to read it again shares what it read with the other.
    let read = async |replica: &TestApp, field: &str| {
        let query = format!("query($id: ID!) {{ conversation(id: $id) {{ {field} }} }}");
        let body = replica
            .graphql_with(&query, json!({"id": gid}), &[])
            .await
            .1;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        body["data"]["conversation"].clone()
    };
    let before = read(b, "updatedAt").await;
    let text = format!("Still there? ({profile})");
    inbound(a, team_id, 3001, &target, &text).await;
    // Polled on the conversation alone: a request that also read its messages could take the
    // conversation from before the event and its messages from after it.
    eventually("B to read the conversation again", || async {
        read(b, "updatedAt").await != before
    })
    .await;
    let read_by_b = a.sandbox.take_calls().await;
    assert_eq!(
        read_by_b.get("GET /v1/conversations/{id}"),
        Some(&1),
        "{profile}: {read_by_b:?}"
    );
    let last_text = "lastMessage { text }";
    assert_eq!(
        read(b, last_text).await["lastMessage"]["text"],
        text.as_str()
    );
    a.sandbox.take_calls().await;
    eventually("A to read the conversation again", || async {
        read(a, last_text).await["lastMessage"]["text"] == text.as_str()
    })
    .await;
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[]),
        "{profile}: A read from Redis what B read after the event"
    );
}

#[tokio::test]
async fn what_an_event_does_not_touch_stays_shared_under_every_profile() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    on_every_profile(&redis, shared_past_an_event_elsewhere).await;
}

/// What A fetched of one inbox (a list page, its rows' last messages, a conversation, its
/// history) serves B with no upstream call after an event in another inbox, with another
/// customer, which B must read again for itself.
async fn shared_past_an_event_elsewhere(a: &TestApp, b: &TestApp, profile: &str) {
    let team_id = a.sandbox.teams[0].team_id;
    let quiet = open_conversation(a, 3002, 1).await;
    let gid = json!(conversation_gid(json_at(&quiet, "/id")));
    event_driven(a, b, "12125550178", profile).await;
    // A list page of its own first: it teaches A how the upstream's rows name their readers,
    // so the page below is kept for every member.
    newest_open_on(a, 3001).await;
    a.sandbox.take_calls().await;
    let conversation = "query($id: ID!) { conversation(id: $id) { status messages(first: 3) { nodes { text } } } }";
    let read_quiet = async |replica: &TestApp| {
        let body = replica
            .graphql_with(conversation, json!({"id": gid}), &[])
            .await
            .1;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        (body["data"].clone(), cost(&body))
    };
    // Rows with their last messages: the list page, and each row's last message.
    let rows = async |replica: &TestApp| {
        let query = "query($inbox: ID!) { conversations(first: 5, filter: {inboxIds: [$inbox], status: OPEN}) { nodes { id lastMessage { text } } } }";
        let variables = json!({"inbox": global("Inbox:3002")});
        let body = replica.graphql_with(query, variables, &[]).await.1;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        body["data"].clone()
    };
    let listed = rows(a).await;
    let (on_a, _) = read_quiet(a).await;
    let read_by_a = a.sandbox.take_calls().await;
    for route in ["POST /v1/conversations", "GET /v1/messages"] {
        assert!(read_by_a.contains_key(route), "{profile}: {read_by_a:?}");
    }

    // A new customer writes to the other inbox; B hears of it through Redis.
    let (newest_before, _) = newest_open_on(b, 3001).await;
    inbound(a, team_id, 3001, "12125550179", "Anyone there?").await;
    eventually("B to list the new conversation", || async {
        newest_open_on(b, 3001).await.0.first() != newest_before.first()
    })
    .await;
    a.sandbox.take_calls().await;

    assert_eq!(rows(b).await, listed, "{profile}: B lists what A listed");
    assert_eq!(read_quiet(b).await.0, on_a, "{profile}");
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[]),
        "{profile}: B read from Redis what A fetched before an event that did not touch it"
    );
}

#[tokio::test]
async fn a_write_on_one_replica_leaves_the_histories_of_other_customers_shared() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    // Under every profile, with the upstream sending no event for a write: B hears of A's
    // write through A's hint alone.
    on_every_profile_with(&redis, "write-events=silent", async |a, b, profile, _| {
        history_shared_past_a_write(a, b, profile).await;
    })
    .await;
}

/// After A's close of one customer's conversation, B reads another customer's history from
/// Redis.
async fn history_shared_past_a_write(a: &TestApp, b: &TestApp, profile: &str) {
    event_driven(a, b, "12125550175", profile).await;
    let id_of = async |inbox, skip| {
        let conversation = open_conversation(a, inbox, skip).await;
        json!(conversation_gid(json_at(&conversation, "/id")))
    };
    let (quiet, written) = (id_of(3002, 1).await, id_of(3001, 2).await);
    let history =
        "query($id: ID!) { conversation(id: $id) { messages(first: 3) { nodes { text } } } }";
    let read_history = async |replica: &TestApp| {
        let body = replica
            .graphql_with(history, json!({"id": quiet}), &[])
            .await
            .1;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        body["data"].clone()
    };
    let on_a = read_history(a).await;
    let read_by_a = a.sandbox.take_calls().await;
    assert!(
        read_by_a.contains_key("GET /v1/messages"),
        "{profile}: {read_by_a:?}"
    );

    close(a, written.as_str().expect("a global id")).await;
    eventually("B to see the conversation closed", || async {
        status_on(b, &written).await == "CLOSED"
    })
    .await;
    a.sandbox.take_calls().await;

    assert_eq!(read_history(b).await, on_a, "{profile}");
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[]),
        "{profile}: B read from Redis the history of a customer the write did not concern"
    );
}

#[tokio::test]
async fn the_webhook_of_a_write_leaves_the_lists_shared_where_states_tell_rows_apart() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    // Under every profile, with the test delivering the write's webhook itself, once a
    // replica has filled the list between the write and its webhook.
    on_every_profile_with(
        &redis,
        "write-events=silent",
        lists_shared_past_the_webhook_of_a_write,
    )
    .await;
}

/// B closes a conversation; A lists its inbox; the webhook of the close, reporting the state
/// B read back, leaves A's page for B to read from Redis where list rows show nothing but
/// their conversations' states.
async fn lists_shared_past_the_webhook_of_a_write(
    a: &TestApp,
    b: &TestApp,
    profile: &str,
    readings: &Readings,
) {
    // Only where list rows name every member's read state is a row a function of its
    // conversation's state, so that the same state reported again can change no list.
    let rows_are_states = readings.read_state == ReadState::UnreadUsers;
    let team_id = a.sandbox.teams[0].team_id;
    event_driven(a, b, "12125550174", profile).await;
    // Both learn how the upstream's rows name their readers.
    newest_open_on(a, 3001).await;
    newest_open_on(b, 3001).await;
    let written = open_conversation(a, 3001, 0).await;
    let id: i64 = json_at(&written, "/id");
    let gid = json!(conversation_gid(id));

    close(b, gid.as_str().expect("a global id")).await;
    eventually(
        "A to list the inbox without the closed conversation",
        || async { !newest_open_on(a, 3001).await.0.contains(&gid) },
    )
    .await;
    let (listed_by_a, _) = newest_open_on(a, 3001).await;
    let (status, state) = a
        .sandbox
        .api_get(0, &format!("/v1/conversations/{id}"))
        .await;
    assert_eq!(status, 200, "{profile}: {state}");
    let answer = deliver(a, "chat_closed", &state).await;
    assert_eq!(answer["status"], "accepted", "{profile}: {answer}");
    a.sandbox.take_calls().await;

    let (listed_by_b, cost_to_b) = newest_open_on(b, 3001).await;
    assert_eq!(listed_by_b, listed_by_a, "{profile}");
    let expected = match rows_are_states {
        true => routes(&[]),
        false => routes(&[("POST /v1/conversations", 1)]),
    };
    assert_eq!(
        (a.sandbox.take_calls().await, cost_to_b),
        (expected.clone(), expected),
        "{profile}: B read A's page from Redis where the webhook reported what B wrote"
    );

    // A change after it moves the lists on as ever.
    inbound(a, team_id, 3001, "12125550173", "New here").await;
    eventually("B to list the new conversation first", || async {
        newest_open_on(b, 3001).await.0.first() != listed_by_b.first()
    })
    .await;
}

#[tokio::test]
async fn an_event_is_read_again_once_for_the_subscribers_of_every_replica() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    // Under every profile, with the upstream sending the webhooks of its API's writes.
    on_every_profile_with(&redis, "write-events=fired", async |a, b, profile, _| {
        read_once_for_every_replicas_subscribers(a, b, profile).await;
    })
    .await;
}

/// A subscriber on each replica; a close made in the Heymarket app: its webhook is read
/// again from the upstream once, and both subscribers are told.
async fn read_once_for_every_replicas_subscribers(a: &TestApp, b: &TestApp, profile: &str) {
    event_driven(a, b, "12125550172", profile).await;
    let updates = "subscription { conversationUpdated { id status } }";
    let mut subscribers = Vec::new();
    for replica in [a, b] {
        let mut subscriber = replica.subscriber(json!({})).await;
        subscriber.subscribe(updates, json!({})).await;
        first_delivery(a, &mut subscriber, 3001, "12125550171").await;
        subscribers.push(subscriber);
    }
    let open = open_conversation(a, 3001, 1).await;
    let id: i64 = json_at(&open, "/id");
    let gid = json!(conversation_gid(id));
    a.sandbox.take_calls().await;

    let close = json!({"inbox_id": 3001, "user_id": 501, "chat_id": id});
    let (status, answer) = a
        .sandbox
        .api_post(0, "/v1/conversations/close", close)
        .await;
    assert_eq!(status, 200, "{profile}: {answer}");
    for subscriber in &mut subscribers {
        let update = result_where(subscriber, "conversationUpdated", |c| c["id"] == gid).await;
        assert_eq!(
            update["data"]["conversationUpdated"]["status"], "CLOSED",
            "{profile}"
        );
    }
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[
            ("POST /v1/conversations/close", 1),
            ("GET /v1/conversations/{id}", 1)
        ]),
        "{profile}: the first replica to read the event again answered the other"
    );
}

#[tokio::test]
async fn replicas_that_miss_the_same_entry_at_once_fetch_it_once_under_every_profile() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    on_every_profile(&redis, fetched_once_when_missed_at_once).await;
}

/// A and B read a conversation neither holds at the same moment: one upstream call; then its
/// contact, likewise.
async fn fetched_once_when_missed_at_once(a: &TestApp, b: &TestApp, profile: &str) {
    event_driven(a, b, "12125550176", profile).await;
    let gid = json!(conversation_gid(json_at(
        &open_conversation(a, 3002, 3).await,
        "/id"
    )));
    // Each read is slow enough that both replicas ask before either has an answer.
    let slow = json!({"routes": ["GET /v1/conversations/{id}"], "latency_ms": 300});
    a.sandbox.set_faults(slow).await;
    a.sandbox.take_calls().await;

    let (on_a, on_b) = tokio::join!(status_on(a, &gid), status_on(b, &gid));
    assert!(on_a.is_string(), "{profile}: {on_a}");
    assert_eq!(on_a, on_b, "{profile}");
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[("GET /v1/conversations/{id}", 1)]),
        "{profile}: one replica fetched it, the other waited for its fill"
    );

    // So is its contact, which is looked up with others, many at a time.
    let slow = json!({"routes": ["POST /v2/contacts/search"], "latency_ms": 300});
    a.sandbox.set_faults(slow).await;
    let contact = async |replica: &TestApp| {
        let query = "query($id: ID!) { conversation(id: $id) { contact { id optedOut } } }";
        let body = replica.graphql_with(query, json!({"id": gid}), &[]).await.1;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        body["data"].clone()
    };
    let (on_a, on_b) = tokio::join!(contact(a), contact(b));
    assert_eq!(on_a, on_b, "{profile}");
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[("POST /v2/contacts/search", 1)]),
        "{profile}: one replica looked it up, the other waited for its fill"
    );
}

#[tokio::test]
async fn contacts_one_replica_looked_up_the_other_serves_until_an_opt_out_moves_both_on() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = replicas(&redis).await;
    let team_id = a.sandbox.teams[0].team_id;
    inbound(&a, team_id, 3001, "12125550179", "Hello").await;
    until_freshness(&[&a, &b], "events").await;
    // Each replica reads the directory once.
    for replica in [&a, &b] {
        let directory = replica.graphql("{ team { name } inboxes { id } }").await;
        assert_eq!(directory["errors"], Value::Null, "{directory}");
    }
    let page = "{ conversations(first: 10, filter: {status: OPEN}) { nodes { id target contact { optedOut } } } }";
    let read = async |replica: &TestApp| {
        let body = replica.graphql(page).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        body["data"]["conversations"]["nodes"].clone()
    };
    a.sandbox.take_calls().await;
    let on_a = read(&a).await;
    assert_eq!(
        a.sandbox.take_calls().await.get("POST /v2/contacts/search"),
        Some(&1),
        "A looked the page's contacts up"
    );
    assert_eq!(read(&b).await, on_a);
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[]),
        "B read the page and its contacts from Redis"
    );

    // The customer opts out where the gateway does not see it (the Heymarket app): its
    // webhook makes both replicas forget their contacts. The first to look it up again shares
    // what it found with the other.
    let rows = on_a.as_array().expect("rows");
    let row = rows
        .iter()
        .find(|row| row["contact"]["optedOut"] == false)
        .expect("a subscribed customer on the page");
    let phone: String = json_at(row, "/target");
    opt_out(&a, &phone).await;
    let opted_out = |rows: &Value| {
        rows.as_array()
            .into_iter()
            .flatten()
            .any(|r| r["id"] == row["id"] && r["contact"]["optedOut"] == true)
    };
    eventually("B to see the opt-out", || async {
        opted_out(&read(&b).await)
    })
    .await;
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[
            ("POST /v1/contact/set_status", 1),
            ("POST /v2/contacts/search", 1)
        ]),
        "B looked the contacts up again, once"
    );
    eventually("A to see the opt-out", || async {
        opted_out(&read(&a).await)
    })
    .await;
    assert_eq!(
        a.sandbox.take_calls().await,
        routes(&[]),
        "A read from Redis what B looked up after the event"
    );
}

#[tokio::test]
async fn without_events_each_replica_keeps_to_its_own_cache() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = replicas(&redis).await;
    let gid = json!(conversation_gid(json_at(
        &open_conversation(&a, 3001, 2).await,
        "/id"
    )));
    for replica in [&a, &b] {
        let directory = replica.graphql("{ team { name } inboxes { id } }").await;
        assert_eq!(directory["errors"], Value::Null, "{directory}");
    }
    until_freshness(&[&a, &b], "ttl").await;
    a.sandbox.take_calls().await;

    for replica in [&a, &b] {
        assert_eq!(status_on(replica, &gid).await, "OPEN");
        assert_eq!(
            replica.sandbox.take_calls().await,
            routes(&[("GET /v1/conversations/{id}", 1)]),
            "with no event to move it on, nothing is shared for longer than a replica's own TTL"
        );
    }
}

#[tokio::test]
async fn a_redelivery_to_another_replica_is_a_duplicate_however_it_is_spelled() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = replicas(&redis).await;
    let mut on_b = b.subscriber(json!({})).await;
    on_b.subscribe("subscription { messageAdded { text } }", json!({}))
        .await;
    let phone = "12125550203";
    first_delivery(&a, &mut on_b, 3001, phone).await;
    // A takes the sandbox's delivery in; once B's subscriber hears of it, A has recorded it.
    let original = inbound(&a, 101, 3001, phone, "the original").await;
    result_where(&mut on_b, "messageAdded", |m| m["text"] == "the original").await;

    let mut padded = original;
    padded["redelivered"] = json!(true);
    let envelope = json!({
        "type": "message_recieved",
        "id": 901,
        "token": b.sandbox.teams[0].webhook_token,
        "event_data": padded,
    });
    let answer: Value = b
        .http
        .post(b.url("/webhooks/heymarket"))
        .json(&envelope)
        .send()
        .await
        .expect("B answers")
        .json()
        .await
        .expect("a JSON answer");
    assert_eq!(answer, json!({"status": "duplicate"}));
}

/// 15 look-ups of distinct conversations through each replica at once; the answers.
async fn burst(a: &TestApp, b: &TestApp) -> Vec<(u16, Value)> {
    let lookups = (0..30).map(|n| {
        let replica = if n % 2 == 0 { a } else { b };
        let id = global(&format!("Conversation:{}", 2_000_001 + n));
        async move {
            replica
                .graphql_with(
                    "query($id: ID!) { conversation(id: $id) { status } }",
                    json!({"id": id}),
                    &[],
                )
                .await
        }
    });
    futures::future::join_all(lookups).await
}

#[tokio::test]
async fn replicas_share_one_upstream_budget() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let budget = RateBudget {
        requests: 10,
        per: Duration::from_secs(1),
    };
    let sandbox = SandboxConfig {
        teams: 1,
        rate_limit: crate::helpers::sandbox_budget(budget),
        ..SandboxConfig::default()
    };
    let url = redis.url();
    let a = spawn_app_with(sandbox.clone(), |config| {
        config.upstream.rate_limit = budget;
        config.redis_url = Some(url);
    })
    .await;
    let b = a.replica().await;
    for replica in [&a, &b] {
        eventually("both replicas to be ready", || replica.is_ready()).await;
    }

    for (status, body) in burst(&a, &b).await {
        assert_eq!((status, &body["errors"]), (200, &Value::Null), "{body}");
    }

    let stats = a.sandbox.stats().await;
    assert_eq!(stats["routes"]["GET /v1/conversations/{id}"], 30, "{stats}");
    assert_eq!(
        stats["statuses"]["429"],
        Value::Null,
        "the sandbox never refused: {stats}"
    );

    // Without Redis each replica spends the whole budget, and together they overspend it (so
    // some look-ups may fail once their retries are refused too).
    let a = spawn_app_with(sandbox, |config| config.upstream.rate_limit = budget).await;
    let b = a.replica().await;
    burst(&a, &b).await;
    assert!(
        a.sandbox.stats().await["statuses"]["429"]
            .as_u64()
            .is_some_and(|refused| refused > 0)
    );
}

#[tokio::test]
async fn losing_redis_degrades_and_recovers_by_itself() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let (a, b) = replicas(&redis).await;
    let mut on_a = a.subscriber(json!({})).await;
    on_a.subscribe("subscription { messageAdded { text } }", json!({}))
        .await;
    let mut on_b = b.subscriber(json!({})).await;
    on_b.subscribe("subscription { messageAdded { text } }", json!({}))
        .await;
    first_delivery(&a, &mut on_b, 3001, "12125550202").await;
    until_freshness(&[&a, &b], "events").await;

    redis.stop().await;
    eventually("A to report that it is not ready", || async {
        !a.is_ready().await
    })
    .await;
    // A's own webhooks still arrive, but B's would not reach it: neither relies on events.
    until_freshness(&[&a, &b], "ttl").await;
    let body = a.graphql("{ inboxes { name } }").await;
    assert_eq!(body["errors"], Value::Null, "queries keep working: {body}");
    let local = first_delivery(&a, &mut on_a, 3001, "12125550202").await;
    assert!(
        local["data"]["messageAdded"]["text"]
            .as_str()
            .unwrap()
            .starts_with("ping"),
        "A's own subscribers still hear A's webhooks"
    );

    redis.restart().await;
    for replica in [&a, &b] {
        eventually("both replicas to recover", || replica.is_ready()).await;
    }
    let across = first_delivery(&a, &mut on_b, 3001, "12125550202").await;
    assert!(
        across["data"]["messageAdded"]["text"]
            .as_str()
            .unwrap()
            .starts_with("ping"),
        "B hears A's webhooks again"
    );
    until_freshness(&[&a, &b], "events").await;
}

/// The status of conversation `id` (a global id) as `replica` answers it.
async fn status_on(replica: &TestApp, id: &Value) -> Value {
    let body = replica
        .graphql_with(
            "query($id: ID!) { conversation(id: $id) { status } }",
            json!({"id": id}),
            &[],
        )
        .await
        .1;
    body["data"]["conversation"]["status"].clone()
}

/// Waits until every replica reports the sandbox team's cache freshness as `mode`.
async fn until_freshness(replicas: &[&TestApp], mode: &str) {
    for replica in replicas {
        let team = replica.sandbox.teams[0].team_id.to_string();
        eventually(
            &format!("the team's cache freshness to be {mode}"),
            || async { replica.readyz().await.1["freshness"][&team] == mode },
        )
        .await;
    }
}
