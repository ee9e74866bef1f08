//! Read state under every reading of it (`read-state`: `unread_users` on every conversation,
//! or only `unread`/`read` for the listing member): each member sees their own, wherever the
//! conversation came from, and members share a list page only where its rows speak for all of
//! them.

use std::collections::HashMap;

use heymarket_sandbox::readings::{ReadState, Readings};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, global, json_at};
use crate::mutations::{conversation_gid, inbox_members, open_conversation, outsider, run};
use crate::sandbox_support::{reading, row_unread, spawn_app_reading};

const INBOX: i64 = 3001;
/// The inbox a burst of conversations starts in.
const BURST_INBOX: i64 = 3004;

/// Marks the conversation at `target` in [`INBOX`] read or unread for `member`, straight on the
/// sandbox's REST API.
async fn mark(app: &TestApp, member: i64, target: &str, read: bool) {
    let path = match read {
        true => "/v1/conversations/read",
        false => "/v1/conversations/unread",
    };
    let body = json!({"inbox_id": INBOX, "user_id": member, "target": target});
    let (status, answer) = app.sandbox.api_post(0, path, body).await;
    assert_eq!(status, 200, "{answer}");
}

/// The read state of each of [`INBOX`]'s newest conversations for `member`, as the sandbox's
/// REST API lists them for that member.
async fn truth(app: &TestApp, member: i64) -> HashMap<String, bool> {
    let page = app
        .sandbox
        .conversation_page(0, json!({"id": member, "filters": {"inboxes": [INBOX]}}))
        .await;
    page.iter()
        .map(|row| {
            let id = conversation_gid(json_at(row, "/id"));
            (id, row_unread(row))
        })
        .collect()
}

/// The dashboard of [`INBOX`] as `member` sees it: (id, unread) of its newest conversations.
async fn dashboard(app: &TestApp, member: i64) -> Vec<(String, bool)> {
    let body = run(
        app,
        "query($inbox: ID!) { inbox(id: $inbox) { conversations(first: 10) { nodes { id unread } } } }",
        json!({ "inbox": global(&format!("Inbox:{INBOX}")) }),
        Some(member),
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "member {member}: {body}");
    json_at::<Vec<Value>>(&body, "/data/inbox/conversations/nodes")
        .iter()
        .map(|node| (json_at(node, "/id"), json_at(node, "/unread")))
        .collect()
}

/// List calls made since the last look.
async fn list_calls(app: &TestApp) -> u64 {
    let calls = app.sandbox.take_calls().await;
    calls.get("POST /v1/conversations").copied().unwrap_or(0)
}

#[tokio::test]
async fn each_member_sees_their_own_read_state_by_id_and_in_lists_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let names_readers = readings.read_state == ReadState::UnreadUsers;
        let app = spawn_app_reading(*readings).await;
        let members = inbox_members(&app, INBOX).await;
        let (reader, non_reader) = (members[0], members[1]);
        let conversation = open_conversation(&app, INBOX, 2).await;
        let id = conversation_gid(json_at(&conversation, "/id"));
        let target: String = json_at(&conversation, "/target");
        mark(&app, reader, &target, false).await;
        mark(&app, non_reader, &target, false).await;
        mark(&app, reader, &target, true).await;
        app.sandbox.take_calls().await;

        for (member, unread) in [(reader, false), (non_reader, true)] {
            let body = run(
                &app,
                "query($id: ID!) { conversation(id: $id) { unread } }",
                json!({ "id": id }),
                Some(member),
            )
            .await;
            assert_eq!(body["errors"], Value::Null, "{profile} {member}: {body}");
            assert_eq!(
                body["data"]["conversation"]["unread"], unread,
                "{profile}: member {member}"
            );
            // By id, the answer names no member: where it does not name every member's read
            // state either, the member's own list is read once, and only then.
            let expected = u64::from(!names_readers);
            assert_eq!(
                list_calls(&app).await,
                expected,
                "{profile}: member {member}"
            );
        }

        for member in [reader, non_reader] {
            let truth = truth(&app, member).await;
            let rows = dashboard(&app, member).await;
            assert!(
                rows.iter().any(|(row, _)| *row == id),
                "{profile}: {rows:?}"
            );
            for (row, unread) in rows {
                assert_eq!(
                    Some(&unread),
                    truth.get(&row),
                    "{profile}: member {member}, {row}"
                );
            }
        }
    }
}

#[tokio::test]
async fn members_of_an_inbox_share_its_pages_only_where_rows_name_every_readers_state() {
    for (profile, readings) in Readings::profiles() {
        let names_readers = readings.read_state == ReadState::UnreadUsers;
        let app = spawn_app_reading(*readings).await;
        let members = inbox_members(&app, INBOX).await;
        assert!(members.len() >= 3, "{members:?}");
        let stranger = outsider(&app, INBOX).await;
        let truths = [
            truth(&app, members[0]).await,
            truth(&app, members[1]).await,
            truth(&app, members[2]).await,
        ];
        app.sandbox.take_calls().await;

        // The first page the gateway ever reads teaches it whether rows name every member's
        // read state; until then each member has its own.
        let mut expected_calls = Vec::new();
        for (index, member) in members.iter().take(3).enumerate() {
            let rows = dashboard(&app, *member).await;
            for (row, unread) in &rows {
                assert_eq!(
                    Some(unread),
                    truths[index].get(row),
                    "{profile}: member {member}, {row}"
                );
            }
            expected_calls.push(list_calls(&app).await);
        }
        let shared = match names_readers {
            true => vec![1, 1, 0],
            false => vec![1, 1, 1],
        };
        assert_eq!(expected_calls, shared, "{profile}: list calls per member");
        dashboard(&app, members[0]).await;
        assert_eq!(
            list_calls(&app).await,
            0,
            "{profile}: the first member again"
        );

        // A member outside the inbox is refused. Where pages are shared, that happens before
        // any page is read for it: a refusal of its list must never answer a member who waits
        // on the same page. (Elsewhere its own list goes out alongside the check, as usual.)
        let body = run(
            &app,
            "query($inbox: ID!) { conversations(first: 10, filter: {inboxIds: [$inbox]}) { nodes { id } } }",
            json!({ "inbox": global(&format!("Inbox:{INBOX}")) }),
            Some(stranger),
        )
        .await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{profile}: {body}");
        let outsider_calls = list_calls(&app).await;
        if names_readers {
            assert_eq!(outsider_calls, 0, "{profile}: the outsider");
        }
    }
}

#[tokio::test]
async fn a_read_state_the_members_list_cannot_show_is_read_state_unavailable() {
    // Whole-second `updated` and no `unread_users`: of 70 conversations started in one second,
    // the API lists one page; the others cannot be found in any member's list.
    let readings = reading(&["read-state=unread", "updated-precision=seconds"]);
    let app = spawn_app_reading(readings).await;
    let member = inbox_members(&app, BURST_INBOX).await[0];
    let phones: Vec<String> = (0..70).map(|i| format!("121255509{i:02}")).collect();
    let body = json!({"inbox_id": BURST_INBOX, "phones": phones, "messages": 1, "text": "Hello?"});
    let (status, sent) = app
        .sandbox
        .control(Method::POST, "/_sandbox/burst", Some(body))
        .await;
    assert_eq!(status, 200, "{sent}");
    let started: Vec<i64> = json_at::<Vec<Value>>(&sent, "")
        .iter()
        .map(|message| json_at(message, "/conversation/id"))
        .collect();
    let listed: Vec<i64> = app
        .sandbox
        .conversation_page(
            0,
            json!({"id": member, "filters": {"inboxes": [BURST_INBOX]}}),
        )
        .await
        .iter()
        .map(|row| json_at(row, "/id"))
        .collect();
    let shown = *started
        .iter()
        .find(|id| listed.contains(id))
        .expect("one is listed");
    let hidden = *started
        .iter()
        .find(|id| !listed.contains(id))
        .expect("one is not");
    let unread_of = |id: i64| {
        let app = &app;
        async move {
            run(
                app,
                "query($id: ID!) { conversation(id: $id) { id unread } }",
                json!({ "id": conversation_gid(id) }),
                Some(member),
            )
            .await
        }
    };

    let body = unread_of(shown).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(body["data"]["conversation"]["unread"], true, "{body}");
    app.sandbox.take_calls().await;
    let body = unread_of(hidden).await;
    assert_eq!(error_codes(&body), ["READ_STATE_UNAVAILABLE"], "{body}");
    assert_eq!(body["data"]["conversation"], Value::Null, "{body}");
    // From the end of its second (one page of it, cached since the first look-up), below that
    // second, then from the top: two calls, and no more.
    assert_eq!(list_calls(&app).await, 2);
}
