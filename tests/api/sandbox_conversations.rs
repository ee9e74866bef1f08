//! `POST /v1/conversations` conformance: complete tie-safe walks under every filter, and the
//! rows a naive `date = last.updated` walk loses.

use std::collections::HashSet;

use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::spawn_sandbox;
use crate::sandbox_support::{
    Key, conversation_key as key, parse_timestamp, roomy_config, walk_conversations,
};

/// Rows come once each, in `(updated desc, id desc)` order.
fn assert_ordered_and_unique(rows: &[Value]) {
    let keys: Vec<Key> = rows.iter().map(key).collect();
    assert!(
        keys.windows(2).all(|pair| pair[0] > pair[1]),
        "rows out of order"
    );
    let ids: HashSet<i64> = keys.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), rows.len(), "duplicate rows");
}

fn ids(rows: &[Value]) -> HashSet<i64> {
    rows.iter()
        .map(|row| row["id"].as_i64().expect("an integer id"))
        .collect()
}

#[tokio::test]
async fn tie_safe_walks_return_every_conversation_once_under_each_filter() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let counts = sandbox.overview(0).await["counts"].clone();

    let all =
        walk_conversations(&sandbox, json!({"id": 0, "filters": {"inboxes": []}}), true).await;
    assert_ordered_and_unique(&all);
    assert_eq!(all.len() as u64, counts["conversations"].as_u64().unwrap());

    let open = walk_conversations(
        &sandbox,
        json!({"id": 0, "filters": {"closed": false}}),
        true,
    )
    .await;
    let closed = walk_conversations(
        &sandbox,
        json!({"id": 0, "filters": {"closed": true}}),
        true,
    )
    .await;
    for (rows, status, count) in [
        (&open, "open", "open_conversations"),
        (&closed, "closed", "closed_conversations"),
    ] {
        assert_ordered_and_unique(rows);
        assert!(rows.iter().all(|row| row["status"] == status));
        assert_eq!(rows.len() as u64, counts[count].as_u64().unwrap());
    }
    assert!(ids(&open).is_disjoint(&ids(&closed)));
    assert_eq!(&ids(&open) | &ids(&closed), ids(&all));

    let mut per_inbox = HashSet::new();
    for inbox in sandbox.overview(0).await["inbox_ids"].as_array().unwrap() {
        let rows = walk_conversations(
            &sandbox,
            json!({"id": 0, "filters": {"inboxes": [inbox]}}),
            true,
        )
        .await;
        assert_ordered_and_unique(&rows);
        assert!(rows.iter().all(|row| &row["inbox"] == inbox));
        assert!(per_inbox.is_disjoint(&ids(&rows)));
        per_inbox.extend(ids(&rows));
    }
    assert_eq!(per_inbox, ids(&all));
}

#[tokio::test]
async fn unread_walks_are_per_member() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let all = walk_conversations(&sandbox, json!({"id": 0}), true).await;
    let member = 501;
    let expected: HashSet<i64> = all
        .iter()
        .filter(|row| {
            row["unread_users"]
                .as_array()
                .unwrap()
                .contains(&json!(member))
        })
        .map(|row| row["id"].as_i64().unwrap())
        .collect();
    assert!(!expected.is_empty());

    let unread = walk_conversations(
        &sandbox,
        json!({"id": member, "filters": {"unread": true}}),
        true,
    )
    .await;
    assert_ordered_and_unique(&unread);
    assert_eq!(ids(&unread), expected);
    assert!(
        unread
            .iter()
            .all(|row| row["unread"] == true && row["read"] == 0)
    );

    let (status, body) = sandbox
        .api_post(
            0,
            "/v1/conversations",
            json!({"id": 0, "filters": {"unread": true}}),
        )
        .await;
    assert_eq!((status, &body["error"]), (400, &json!("bad_data")));
}

#[tokio::test]
async fn a_naive_walk_loses_tied_rows_that_a_tie_safe_walk_keeps() {
    for page_size in [30, 5] {
        let sandbox = spawn_sandbox(SandboxConfig {
            teams: 1,
            readings: Readings {
                conversation_page_size: page_size,
                ..Readings::DEFAULT
            },
            ..roomy_config()
        })
        .await;
        let body = json!({"id": 0, "filters": {"inboxes": [3001]}});
        let safe = walk_conversations(&sandbox, body.clone(), true).await;
        let naive = walk_conversations(&sandbox, body, false).await;
        assert_ordered_and_unique(&safe);
        assert_ordered_and_unique(&naive);
        assert!(
            naive.len() < safe.len(),
            "page size {page_size}: the naive walk lost nothing"
        );
        let kept = ids(&naive);
        assert!(kept.is_subset(&ids(&safe)));
        for lost in safe
            .iter()
            .filter(|row| !kept.contains(&row["id"].as_i64().unwrap()))
        {
            let twins = safe
                .iter()
                .filter(|row| row["updated"] == lost["updated"])
                .count();
            assert!(twins >= 2, "lost row {} has no tie", lost["id"]);
        }
    }
}

#[tokio::test]
async fn pages_have_the_configured_size_and_honour_the_date_strictly() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        readings: Readings {
            conversation_page_size: 7,
            ..Readings::DEFAULT
        },
        ..roomy_config()
    })
    .await;
    let first = sandbox
        .conversation_page(0, json!({"id": 0, "limit": 100}))
        .await;
    assert_eq!(first.len(), 7);
    let boundary = first[3]["updated"].clone();
    let next = sandbox
        .conversation_page(0, json!({"id": 0, "date": boundary}))
        .await;
    let boundary = parse_timestamp(&boundary);
    assert_eq!(next.len(), 7, "a full page lies before the boundary");
    assert!(
        next.iter()
            .all(|row| parse_timestamp(&row["updated"]) < boundary)
    );

    let same_instant = boundary.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap());
    let offset = sandbox
        .conversation_page(0, json!({"id": 0, "date": same_instant.to_rfc3339()}))
        .await;
    assert_eq!(ids(&offset), ids(&next));

    let past = sandbox
        .conversation_page(0, json!({"id": 0, "date": "2001-01-01T00:00:00Z"}))
        .await;
    assert!(past.is_empty());
}

#[tokio::test]
async fn list_requests_are_checked_against_inboxes_and_members() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let inboxes = sandbox.api_get(0, "/v1/inboxes").await.1;
    let inbox = &inboxes[1];
    let is_member = |inbox: &Value, member: i64| {
        inbox["members"]
            .as_array()
            .unwrap()
            .contains(&json!(member))
    };
    // Outside this inbox, but inside another, so what the member may list is not empty.
    let outsider = (501..=512)
        .find(|&m| {
            !is_member(inbox, m) && inboxes.as_array().unwrap().iter().any(|i| is_member(i, m))
        })
        .unwrap();

    let cases = [
        (
            json!({"id": 0, "filters": {"inboxes": [9999]}}),
            400,
            "bad_data",
        ),
        (
            json!({"id": 77, "filters": {"inboxes": []}}),
            400,
            "bad_data",
        ),
        (
            json!({"id": outsider, "filters": {"inboxes": [inbox["id"]]}}),
            403,
            "Denied",
        ),
        (json!({"id": 0, "date": "last tuesday"}), 400, "bad_data"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = sandbox.api_post(0, "/v1/conversations", body.clone()).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }

    let member_rows = walk_conversations(&sandbox, json!({"id": outsider}), true).await;
    let visible: HashSet<i64> = inboxes
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["members"].as_array().unwrap().contains(&json!(outsider)))
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert!(!visible.is_empty());
    assert!(!member_rows.is_empty());
    assert!(
        member_rows
            .iter()
            .all(|row| visible.contains(&row["inbox"].as_i64().unwrap()))
    );
}
