//! Conversation and message walks under every reading of the upstream's documentation: each
//! list, walked through the gateway, returns what the sandbox holds (read through its REST
//! API), once each, in order, every row matching its filter; where the API cannot list
//! something, the answer says so with an `INCOMPLETE_LISTING` error beside the data.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::{
    AssignedFilter, CountFilters, HistoryTimestamp, Readings, UpdatedPrecision,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, cost, error_codes, global, spawn_app_with};
use crate::sandbox_support::{
    conversation_key, micro_after, parse_timestamp, reading, roomy_config, row_unread,
    spawn_app_reading, spawn_app_reading_with,
};

/// The seeded team's admin, a member of every inbox.
const ADMIN: i64 = 501;
/// A member of inboxes 3001 and 3004 only.
const MEMBER: i64 = 502;

/// The inboxes `member` belongs to, from the sandbox's REST API.
async fn inboxes_of(app: &TestApp, member: i64) -> Vec<i64> {
    let (status, inboxes) = app.sandbox.api_get(0, "/v1/inboxes").await;
    assert_eq!(status, 200, "{inboxes}");
    inboxes
        .as_array()
        .expect("inboxes")
        .iter()
        .filter(|inbox| {
            inbox["members"]
                .as_array()
                .unwrap()
                .contains(&json!(member))
        })
        .map(|inbox| inbox["id"].as_i64().unwrap())
        .collect()
}

/// Every conversation `member` sees that the sandbox's REST API can list, newest first (see
/// [`rest_list`]).
async fn rest_conversations(app: &TestApp, member: i64) -> Vec<Value> {
    let inboxes = inboxes_of(app, member).await;
    rest_list(app, member, &inboxes, usize::MAX).await
}

/// The newest conversations (at least `limit` of them, when there are as many) of `inboxes`
/// that the sandbox's REST API can list for `member`, newest first, with no other filter (so
/// the readings of the filters play no part), read state as the member's. Each page is asked
/// for up to the end of the last row's instant, dropping the rows already seen; a page of
/// nothing new (a whole page sharing one instant) is stepped past, strictly before that
/// instant, as far as the API can show.
async fn rest_list(app: &TestApp, member: i64, inboxes: &[i64], limit: usize) -> Vec<Value> {
    let body = json!({"id": member, "filters": {"inboxes": inboxes}});
    let mut rows: Vec<Value> = Vec::new();
    let mut step_past = false;
    while rows.len() < limit {
        let mut request = body.clone();
        if let Some(last) = rows.last() {
            request["date"] = if step_past {
                last["updated"].clone()
            } else {
                json!(micro_after(&last["updated"]))
            };
        }
        let page = app.sandbox.conversation_page(0, request).await;
        let cursor = rows.last().map(conversation_key);
        let fresh: Vec<Value> = page
            .iter()
            .filter(|row| cursor.is_none_or(|c| conversation_key(row) < c))
            .cloned()
            .collect();
        if fresh.is_empty() && (page.is_empty() || step_past) {
            break;
        }
        step_past = fresh.is_empty();
        rows.extend(fresh);
    }
    rows
}

/// The database ids of `rows`.
fn ids_of<'a>(rows: impl IntoIterator<Item = &'a Value>) -> Vec<i64> {
    rows.into_iter()
        .map(|row| row["id"].as_i64().expect("an integer id"))
        .collect()
}

/// Fails with where two id lists part, rather than both lists in full.
#[track_caller]
fn assert_same(actual: &[i64], expected: &[i64], what: &str) {
    if actual != expected {
        let parted = actual
            .iter()
            .zip(expected)
            .position(|(a, e)| a != e)
            .unwrap_or(actual.len().min(expected.len()));
        let around = |ids: &[i64]| ids[parted..ids.len().min(parted + 5)].to_vec();
        panic!(
            "{what}: {} ids where {} were expected, parting at {parted}: {:?} instead of {:?}",
            actual.len(),
            expected.len(),
            around(actual),
            around(expected)
        );
    }
}

fn database_id(node: &Value) -> i64 {
    node["databaseId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a database id")
}

/// One walk through a connection, page by page.
#[derive(Debug, Default)]
struct Walked {
    /// The nodes, in order.
    nodes: Vec<Value>,
    /// The `extensions` of every `INCOMPLETE_LISTING` error.
    incomplete: Vec<Value>,
    /// Requests made.
    requests: usize,
    /// Pages with fewer than `first` edges and more to come.
    partial_pages: usize,
    /// Those of them whose `endCursor` continues a scan past their last edge.
    scan_cursors: usize,
}

impl Walked {
    fn ids(&self) -> Vec<i64> {
        self.nodes.iter().map(database_id).collect()
    }

    /// The instants reported incomplete.
    fn incomplete_instants(&self) -> BTreeSet<String> {
        self.incomplete
            .iter()
            .map(|extensions| {
                extensions["instant"]
                    .as_str()
                    .expect("an instant")
                    .to_owned()
            })
            .collect()
    }
}

/// Every message of conversation `id` (a global id), `first` at a time, as an admin.
async fn walk_messages(app: &TestApp, id: &str, first: usize) -> Walked {
    let variables = json!({ "id": id });
    let path = ["conversation", "messages"];
    walk(app, MESSAGES, &path, &variables, ADMIN, first, usize::MAX).await
}

/// Pages through the connection at `path` of `query` with `first` as `member`, checking each
/// page's shape, until the end or `limit` nodes. Errors other than `INCOMPLETE_LISTING` at the
/// connection's path fail the test.
async fn walk(
    app: &TestApp,
    query: &str,
    path: &[&str],
    variables: &Value,
    member: i64,
    first: usize,
    limit: usize,
) -> Walked {
    let member = member.to_string();
    let mut walked = Walked::default();
    let mut after: Option<String> = None;
    loop {
        let mut vars = variables.clone();
        vars["first"] = json!(first);
        vars["after"] = json!(after);
        let (status, body) = app
            .graphql_with(query, vars, &[("X-Member-Id", &member)])
            .await;
        walked.requests += 1;
        assert_eq!(status, 200, "{body}");
        for error in body["errors"].as_array().into_iter().flatten() {
            assert_eq!(
                error["extensions"]["code"], "INCOMPLETE_LISTING",
                "{variables} first {first}: {body}"
            );
            assert_eq!(error["path"], json!(path), "{error}");
            walked.incomplete.push(error["extensions"].clone());
        }
        let connection = path.iter().fold(&body["data"], |value, key| &value[*key]);
        let edges = connection["edges"].as_array().expect("edges");
        let info = &connection["pageInfo"];
        assert!(edges.len() <= first, "{body}");
        assert_eq!(info["hasPreviousPage"], after.is_some());
        let cursor_of = |edge: Option<&Value>| edge.map_or(Value::Null, |e| e["cursor"].clone());
        assert_eq!(info["startCursor"], cursor_of(edges.first()));
        let ids: Vec<i64> = edges
            .iter()
            .map(|edge| database_id(&edge["node"]))
            .collect();
        let node_ids: Vec<i64> = connection["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(database_id)
            .collect();
        assert_eq!(node_ids, ids);
        walked
            .nodes
            .extend(edges.iter().map(|edge| edge["node"].clone()));
        if info["hasNextPage"] != true {
            assert_eq!(info["endCursor"], cursor_of(edges.last()), "{body}");
            return walked;
        }
        assert!(info["endCursor"].is_string(), "more follow: {body}");
        if edges.len() < first {
            walked.partial_pages += 1;
            if info["endCursor"] != cursor_of(edges.last()) {
                walked.scan_cursors += 1;
            }
        }
        if walked.nodes.len() >= limit {
            return walked;
        }
        assert!(walked.requests < 5_000, "the walk does not end");
        after = info["endCursor"].as_str().map(str::to_owned);
    }
}

const CONVERSATIONS: &str = r#"query($first: Int, $after: String, $filter: ConversationFilter) {
    conversations(first: $first, after: $after, filter: $filter) {
        edges { cursor node { databaseId status unread inbox { databaseId } assignee { databaseId } } }
        nodes { databaseId }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"#;

const INBOX_CONVERSATIONS: &str = r#"query($id: ID!, $first: Int, $after: String,
        $filter: InboxConversationFilter) {
    inbox(id: $id) { conversations(first: $first, after: $after, filter: $filter) {
        edges { cursor node { databaseId status unread inbox { databaseId } assignee { databaseId } } }
        nodes { databaseId }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"#;

const ASSIGNED_CONVERSATIONS: &str = r#"query($id: ID!, $first: Int, $after: String,
        $filter: AssignedConversationFilter) {
    node(id: $id) { ... on Member { assignedConversations(first: $first, after: $after, filter: $filter) {
        edges { cursor node { databaseId status unread inbox { databaseId } assignee { databaseId } } }
        nodes { databaseId }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } }"#;

const CONVERSATION_COUNT: &str = r#"query($filter: ConversationFilter) {
    conversations(filter: $filter) { totalCount } }"#;

const INBOX_CONVERSATION_COUNT: &str = r#"query($id: ID!, $filter: InboxConversationFilter) {
    inbox(id: $id) { conversations(filter: $filter) { totalCount } } }"#;

const ASSIGNED_CONVERSATION_COUNT: &str = r#"query($id: ID!, $filter: AssignedConversationFilter) {
    node(id: $id) { ... on Member { assignedConversations(filter: $filter) { totalCount } } } }"#;

/// Where a list hangs in the graph.
#[derive(Clone, Copy)]
enum Root {
    /// `Query.conversations`.
    Query,
    /// That inbox's `conversations`.
    Inbox(i64),
    /// That member's `assignedConversations`.
    AssignedTo(i64),
}

/// One conversation list: how the gateway is asked for it and which of the member's
/// conversations it holds.
struct List {
    name: &'static str,
    member: i64,
    root: Root,
    /// The `filter` argument, with inbox and member ids as database ids (made global when
    /// sent).
    filter: Value,
}

impl List {
    fn query(&self) -> (&'static str, Vec<&'static str>, Value) {
        let mut filter = self.filter.clone();
        if let Some(ids) = filter.get_mut("inboxIds") {
            let global_ids = ids
                .as_array()
                .unwrap()
                .iter()
                .map(|id| json!(global(&format!("Inbox:{id}"))))
                .collect();
            *ids = Value::Array(global_ids);
        }
        if let Some(id) = filter.get_mut("assigneeId") {
            *id = json!(global(&format!("Member:{id}")));
        }
        match self.root {
            Root::Query => (
                CONVERSATIONS,
                vec!["conversations"],
                json!({ "filter": filter }),
            ),
            Root::Inbox(inbox) => (
                INBOX_CONVERSATIONS,
                vec!["inbox", "conversations"],
                json!({ "id": global(&format!("Inbox:{inbox}")), "filter": filter }),
            ),
            Root::AssignedTo(member) => (
                ASSIGNED_CONVERSATIONS,
                vec!["node", "assignedConversations"],
                json!({ "id": global(&format!("Member:{member}")), "filter": filter }),
            ),
        }
    }

    /// The list's `totalCount` alone, as a badge asks for it.
    fn count_query(&self) -> (&'static str, Vec<&'static str>, Value) {
        let (query, path, variables) = self.query();
        let count = match self.root {
            Root::Query => CONVERSATION_COUNT,
            Root::Inbox(_) => INBOX_CONVERSATION_COUNT,
            Root::AssignedTo(_) => ASSIGNED_CONVERSATION_COUNT,
        };
        debug_assert!(query.contains(path[path.len() - 1]));
        (count, path, variables)
    }

    /// Whether the count endpoint, as `readings` play it, can count this list: it must apply
    /// the list's filters, and `assigned` for a list by member; no count filters by "any
    /// member" or "nobody".
    fn countable(&self, readings: &Readings) -> bool {
        let by_member = matches!(self.assignee(), Some(Some(_)));
        readings.count_filters == CountFilters::ListFilters
            && (!by_member || readings.assigned_filter == AssignedFilter::Honoured)
            && self.assignee() != Some(None)
            && !self.any_assignee()
    }

    /// The assignee the list keeps: `Some(Some(member))`, `Some(None)` for unassigned ones,
    /// `None` for any (assigned to anyone is [`List::any_assignee`]).
    fn assignee(&self) -> Option<Option<i64>> {
        if let Root::AssignedTo(member) = self.root {
            return Some(Some(member));
        }
        if let Some(id) = self.filter["assigneeId"].as_i64() {
            return Some(Some(id));
        }
        match self.filter["assignment"].as_str() {
            Some("VIEWER") => Some(Some(self.member)),
            Some("NOBODY") => Some(None),
            _ => None,
        }
    }

    fn any_assignee(&self) -> bool {
        self.filter["assignment"] == "ANYONE"
    }

    /// Whether a REST row (read state as the list's member) belongs in the list. Its
    /// `assigned` may be a member id, or 0, `null` or absent when unassigned.
    fn holds(&self, row: &Value) -> bool {
        let inbox = row["inbox"].as_i64().unwrap();
        let inboxes: Vec<i64> = self.filter["inboxIds"]
            .as_array()
            .map(|ids| ids.iter().map(|id| id.as_i64().unwrap()).collect())
            .unwrap_or_default();
        let status = self.filter["status"].as_str().map(str::to_lowercase);
        let assigned = row["assigned"].as_i64().filter(|id| *id > 0);
        let in_root = match self.root {
            Root::Inbox(only) => only == inbox,
            Root::Query | Root::AssignedTo(_) => true,
        };
        in_root
            && (inboxes.is_empty() || inboxes.contains(&inbox))
            && status.is_none_or(|status| row["status"] == status.as_str())
            && self.filter["unread"]
                .as_bool()
                .is_none_or(|unread| row_unread(row) == unread)
            && self.assignee().is_none_or(|wanted| assigned == wanted)
            && (!self.any_assignee() || assigned.is_some())
    }

    /// Whether a node the gateway listed matches the list's filter.
    fn admits(&self, node: &Value) -> bool {
        let assignee = &node["assignee"];
        let row = json!({
            "inbox": database_id(&node["inbox"]),
            "status": node["status"].as_str().unwrap().to_lowercase(),
            "unread": node["unread"],
            "assigned": if assignee.is_null() { Value::Null } else { json!(database_id(assignee)) },
        });
        self.holds(&row)
    }
}

fn lists() -> Vec<List> {
    let list = |name, member, root, filter| List {
        name,
        member,
        root,
        filter,
    };
    let (query, inbox) = (Root::Query, Root::Inbox);
    vec![
        list("everything", ADMIN, query, json!({})),
        list("one inbox", ADMIN, query, json!({"inboxIds": [3002]})),
        list(
            "two inboxes",
            ADMIN,
            query,
            json!({"inboxIds": [3001, 3004]}),
        ),
        list("open", ADMIN, query, json!({"status": "OPEN"})),
        list("closed", ADMIN, query, json!({"status": "CLOSED"})),
        list("unread", ADMIN, query, json!({"unread": true})),
        list("read", ADMIN, query, json!({"unread": false})),
        list(
            "open unread in one inbox",
            ADMIN,
            query,
            json!({"status": "OPEN", "unread": true, "inboxIds": [3002]}),
        ),
        list(
            "closed read",
            ADMIN,
            query,
            json!({"status": "CLOSED", "unread": false}),
        ),
        list("an inbox", ADMIN, inbox(3003), json!({})),
        list(
            "an inbox's open read",
            ADMIN,
            inbox(3005),
            json!({"status": "OPEN", "unread": false}),
        ),
        list("another member's", MEMBER, query, json!({})),
        list(
            "another member's closed unread",
            MEMBER,
            query,
            json!({"status": "CLOSED", "unread": true}),
        ),
        list("mine", ADMIN, query, json!({"assignment": "VIEWER"})),
        list(
            "another member's open mine",
            MEMBER,
            query,
            json!({"assignment": "VIEWER", "status": "OPEN"}),
        ),
        list(
            "assigned to a member",
            ADMIN,
            query,
            json!({"assigneeId": MEMBER}),
        ),
        list(
            "unassigned open",
            ADMIN,
            query,
            json!({"assignment": "NOBODY", "status": "OPEN"}),
        ),
        list(
            "an inbox's assigned",
            ADMIN,
            inbox(3002),
            json!({"assignment": "ANYONE"}),
        ),
        list(
            "a member's open assigned",
            ADMIN,
            Root::AssignedTo(MEMBER),
            json!({"status": "OPEN"}),
        ),
        list(
            "an admin's assigned, as another member sees them",
            MEMBER,
            Root::AssignedTo(ADMIN),
            json!({"inboxIds": [3001]}),
        ),
    ]
}

/// Asks for `list`'s `totalCount` alone and checks it: the `expected` number of conversations
/// where the readings let the count endpoint count the list, else null with
/// `COUNT_UNAVAILABLE`; either way without listing a single conversation.
async fn check_count(app: &TestApp, list: &List, expected: usize, readings: &Readings, what: &str) {
    let (query, path, variables) = list.count_query();
    let body = app.graphql_as(list.member, query, variables).await;
    let connection = path.iter().fold(&body["data"], |value, key| &value[*key]);
    if list.countable(readings) {
        assert_eq!(connection["totalCount"], json!(expected), "{what}: {body}");
        assert_eq!(error_codes(&body), Vec::<String>::new(), "{what}");
    } else {
        assert_eq!(connection["totalCount"], Value::Null, "{what}: {body}");
        assert_eq!(error_codes(&body), ["COUNT_UNAVAILABLE"], "{what}: {body}");
    }
    assert_eq!(
        cost(&body).get("POST /v1/conversations"),
        None,
        "{what}: a count lists nothing"
    );
}

/// Lists at most this long are walked to their end at `first: 100`; longer ones through their
/// first rows only (the short lists, sparse filters over the whole data set, reach the end).
const WALKED_IN_FULL: usize = 400;

/// Walks every list of [`lists`] on `app` at several sizes, each compared with the REST API's
/// rows: in full when the list is short, else its first rows.
async fn check_every_list(app: &TestApp, profile: &str, readings: &Readings) {
    let mut seen = HashMap::new();
    let mut full_walks = 0;
    for list in lists() {
        if let Entry::Vacant(slot) = seen.entry(list.member) {
            slot.insert(rest_conversations(app, list.member).await);
        }
        let expected = ids_of(seen[&list.member].iter().filter(|row| list.holds(row)));
        assert!(expected.len() > 10, "{}: a real list", list.name);
        let what = format!("{profile}: {}", list.name);
        check_count(app, &list, expected.len(), readings, &what).await;
        let (query, path, variables) = list.query();
        let whole = if expected.len() <= WALKED_IN_FULL {
            full_walks += 1;
            usize::MAX
        } else {
            300
        };
        for (first, limit) in [(100, whole), (30, 90), (7, 35), (1, 3)] {
            let walked = walk(app, query, &path, &variables, list.member, first, limit).await;
            let what = format!("{profile}: {} at first {first}", list.name);
            assert_eq!(walked.incomplete, Vec::<Value>::new(), "{what}");
            let ids = walked.ids();
            let unique: BTreeSet<i64> = ids.iter().copied().collect();
            assert_eq!(unique.len(), ids.len(), "{what}: each once");
            assert!(
                walked.nodes.iter().all(|node| list.admits(node)),
                "{what}: every row matches the filter"
            );
            if limit == usize::MAX {
                assert_same(&ids, &expected, &what);
            } else {
                assert!(ids.len() >= limit.min(expected.len()), "{what}");
                assert_same(&ids, &expected[..ids.len().min(expected.len())], &what);
            }
        }
    }
    assert!(full_walks >= 3, "{profile}: lists walked to their end");
}

#[tokio::test]
async fn every_list_walks_every_conversation_once_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        check_every_list(&app, profile, readings).await;
    }
}

#[tokio::test]
async fn a_list_without_inboxes_names_the_members_own_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        for member in [ADMIN, MEMBER] {
            let inboxes = inboxes_of(&app, member).await;
            let expected = ids_of(rest_list(&app, member, &inboxes, 5).await.iter().take(5));
            let walked = walk(
                &app,
                CONVERSATIONS,
                &["conversations"],
                &json!({}),
                member,
                5,
                5,
            )
            .await;
            assert_same(
                &walked.ids(),
                &expected,
                &format!("{profile}, member {member}"),
            );
        }
    }
}

#[tokio::test]
async fn a_member_in_no_inbox_lists_nothing_without_asking_the_upstream() {
    // In the data of seed 3, member 509 belongs to no inbox.
    let app = spawn_app_with(
        SandboxConfig {
            seed: 3,
            teams: 1,
            readings: Readings::profile("refusing").unwrap(),
            ..roomy_config()
        },
        |_| {},
    )
    .await;
    let outsider = 509;
    assert_eq!(inboxes_of(&app, outsider).await, Vec::<i64>::new());
    // The team and the inboxes are read first, as any list does.
    let warm = walk(
        &app,
        CONVERSATIONS,
        &["conversations"],
        &json!({}),
        ADMIN,
        1,
        1,
    )
    .await;
    assert_eq!(warm.ids().len(), 1);
    let before = app.sandbox.calls("POST /v1/conversations").await;

    let walked = walk(
        &app,
        CONVERSATIONS,
        &["conversations"],
        &json!({}),
        outsider,
        5,
        5,
    )
    .await;

    assert_eq!(walked.ids(), Vec::<i64>::new());
    assert_eq!(app.sandbox.calls("POST /v1/conversations").await, before);
}

/// The value of the gateway's counter `name` with label `filter="<filter>"`, 0 when absent.
async fn ignored_filter_rows(app: &TestApp, filter: &str) -> u64 {
    let text = app.metrics().await;
    let prefix =
        format!("heymarket_gateway_upstream_filter_ignored_rows_total{{filter=\"{filter}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[tokio::test]
async fn rows_an_upstream_should_have_filtered_out_are_skipped_and_counted() {
    let ignoring = reading(&["closed-false=no-filter", "unread-false=no-filter"]);
    let applying = reading(&["closed-false=open-only", "unread-false=read-only"]);
    let open: fn(&Value) -> bool = |row| row["status"] == "open";
    let read: fn(&Value) -> bool = |row| row["unread"] == false;
    for (readings, ignored) in [(ignoring, true), (applying, false)] {
        let app = spawn_app_reading(readings).await;
        let inboxes = inboxes_of(&app, ADMIN).await;
        let rows = rest_list(&app, ADMIN, &inboxes, 1_000).await;
        for (filter, sent_as, belongs) in [
            (json!({"status": "OPEN"}), "closed", open),
            (json!({"unread": false}), "unread", read),
        ] {
            let expected: Vec<i64> = rows
                .iter()
                .filter(|row| belongs(row))
                .map(|row| row["id"].as_i64().unwrap())
                .take(300)
                .collect();
            let variables = json!({ "filter": filter });
            let walked = walk(
                &app,
                CONVERSATIONS,
                &["conversations"],
                &variables,
                ADMIN,
                100,
                300,
            )
            .await;

            let what = format!("{filter}, ignored: {ignored}");
            assert_same(&walked.ids(), &expected, &what);
            let skipped = ignored_filter_rows(&app, sent_as).await;
            if ignored {
                assert!(skipped > 20, "{what}: {skipped} rows skipped");
            } else {
                assert_eq!(skipped, 0, "{what}: the upstream applied it");
            }
        }
        assert_eq!(ignored_filter_rows(&app, "inboxes").await, 0);
    }
}

#[tokio::test]
async fn a_filter_that_finds_too_little_in_its_pages_answers_what_it_found_and_scans_on() {
    let mut scan_cursors = 0;
    for (profile, readings) in Readings::profiles() {
        let app =
            spawn_app_reading_with(*readings, |config| config.limits.max_list_pages = 2).await;
        let list = List {
            name: "closed read",
            member: ADMIN,
            root: Root::Inbox(3002),
            filter: json!({"status": "CLOSED", "unread": false}),
        };
        let rows = rest_list(&app, ADMIN, &[3002], 1_000).await;
        let expected = ids_of(rows.iter().filter(|row| list.holds(row)));
        let (query, path, variables) = list.query();

        // Two pages of any plausible size hold fewer than 100 matches.
        let walked = walk(&app, query, &path, &variables, ADMIN, 100, 150).await;

        let ids = walked.ids();
        assert!(ids.len() >= 150, "{profile}: {} rows", ids.len());
        assert_same(&ids, &expected[..ids.len().min(expected.len())], profile);
        assert!(
            walked.partial_pages * 2 > walked.requests,
            "{profile}: most pages stop at the page cap ({} of {})",
            walked.partial_pages,
            walked.requests
        );
        scan_cursors += walked.scan_cursors;
    }
    // Where the gateway leaves unread rows out itself, a page that stopped on one continues
    // past it.
    assert!(
        scan_cursors > 0,
        "no page continued a scan past its last row"
    );
}

/// Sends `messages` customer messages from each of `phones` to `inbox` within one second;
/// answers the messages' second as the API writes an instant.
async fn burst(app: &TestApp, inbox: i64, phones: &[String], messages: usize) -> String {
    let body = json!({"inbox_id": inbox, "phones": phones, "messages": messages, "text": "Hello?"});
    let (status, sent) = app
        .sandbox
        .control(Method::POST, "/_sandbox/burst", Some(body))
        .await;
    assert_eq!(status, 200, "{sent}");
    let second = parse_timestamp(&sent[0]["date"]).timestamp();
    chrono::DateTime::from_timestamp(second, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

const MESSAGES: &str = r#"query($id: ID!, $first: Int, $after: String) {
    conversation(id: $id) { messages(first: $first, after: $after) {
        edges { cursor node { databaseId } } nodes { databaseId }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"#;

/// The messages of conversation `(phone, inbox)` that `GET /v1/messages` can show, newest
/// first: each page asked for up to the end of the oldest second seen, dropping what was seen;
/// a page of nothing new (a whole page in one second) stepped past, strictly before that second
/// (`timestamp` is read as `reading` says).
async fn rest_messages(
    app: &TestApp,
    phone: &str,
    inbox: i64,
    reading: HistoryTimestamp,
) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::new();
    let mut oldest_second: Option<i64> = None;
    let mut step_past = false;
    loop {
        let mut path = format!("/v1/messages?phoneNumber={phone}&inboxID={inbox}");
        if let Some(second) = oldest_second {
            let before = match (step_past, reading) {
                (false, HistoryTimestamp::Exclusive) => second + 1,
                (false, HistoryTimestamp::Inclusive) | (true, HistoryTimestamp::Exclusive) => {
                    second
                }
                (true, HistoryTimestamp::Inclusive) => second - 1,
            };
            path.push_str(&format!("&timestamp={before}"));
        }
        let (status, page) = app.sandbox.api_get(0, &path).await;
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().expect("array");
        let fresh: Vec<&Value> = page
            .iter()
            .filter(|m| !ids.contains(&m["id"].as_i64().unwrap()))
            .collect();
        if fresh.is_empty() && (page.is_empty() || step_past) {
            return ids;
        }
        step_past = fresh.is_empty();
        if let Some(oldest) = fresh.last() {
            oldest_second = Some(parse_timestamp(&oldest["date"]).timestamp());
        }
        ids.extend(fresh.iter().map(|m| m["id"].as_i64().unwrap()));
    }
}

/// A seeded SMS conversation of inbox 3001: its id, its customer's phone, and how many
/// messages it holds.
async fn seeded_conversation(app: &TestApp) -> (i64, String) {
    let page = app
        .sandbox
        .conversation_page(0, json!({"id": ADMIN, "filters": {"inboxes": [3001]}}))
        .await;
    let row = &page[0];
    (
        row["id"].as_i64().unwrap(),
        row["target"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn more_messages_in_one_second_than_a_page_holds_are_reported_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let (conversation, phone) = seeded_conversation(&app).await;
        let second = burst(&app, 3001, std::slice::from_ref(&phone), 135).await;
        let id = global(&format!("Conversation:{conversation}"));
        let shown = rest_messages(&app, &phone, 3001, readings.history_timestamp).await;
        assert!(
            shown.len() > 50,
            "{profile}: older messages follow the burst's page"
        );

        for first in [100, 20] {
            let walked = walk_messages(&app, &id, first).await;
            let what = format!("{profile}, first {first}");
            assert_same(&walked.ids(), &shown, &what);
            assert_eq!(
                walked.incomplete_instants(),
                BTreeSet::from([second.clone()]),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn message_walks_over_the_seed_are_exact_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let long = app.sandbox.overview(0).await["long_conversations"][0].clone();
        let (phone, inbox) = (
            long["target"].as_str().unwrap(),
            long["inbox"].as_i64().unwrap(),
        );
        let expected = rest_messages(&app, phone, inbox, readings.history_timestamp).await;
        assert_eq!(expected.len() as u64, long["messages"].as_u64().unwrap());
        let id = global(&format!("Conversation:{}", long["id"]));
        for first in [100, 7] {
            let walked = walk_messages(&app, &id, first).await;
            assert_same(
                &walked.ids(),
                &expected,
                &format!("{profile}, first {first}"),
            );
            assert_eq!(walked.incomplete, Vec::<Value>::new(), "{profile}");
        }
    }
}

#[tokio::test]
async fn more_conversations_in_one_second_than_a_page_holds_are_reported_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let phones: Vec<String> = (0..70).map(|i| format!("121255507{i:02}")).collect();
        let second = burst(&app, 3004, &phones, 1).await;
        let list = List {
            name: "the burst's inbox",
            member: ADMIN,
            root: Root::Query,
            filter: json!({"inboxIds": [3004]}),
        };
        let rest = rest_list(&app, ADMIN, &[3004], 300).await;
        let from_burst = rest
            .iter()
            .filter(|row| phones.iter().any(|phone| row["target"] == phone.as_str()))
            .count();
        let (query, path, variables) = list.query();

        let walked = walk(&app, query, &path, &variables, ADMIN, 40, 200).await;

        let ids = walked.ids();
        assert_eq!(ids.len(), 200, "{profile}");
        assert_same(
            &ids,
            &ids_of(&rest[..200]),
            &format!("{profile}: what the API lists"),
        );
        match readings.updated_precision {
            UpdatedPrecision::Micros => {
                assert_eq!(from_burst, 70, "{profile}");
                assert_eq!(walked.incomplete, Vec::<Value>::new(), "{profile}");
            }
            UpdatedPrecision::Seconds => {
                assert!(from_burst < 70, "{profile}: the API shows one page of them");
                assert_eq!(
                    walked.incomplete_instants(),
                    BTreeSet::from([second.clone()]),
                    "{profile}"
                );
            }
        }
    }
}

#[tokio::test]
async fn whole_second_timestamps_shared_by_a_page_full_still_walk_exactly() {
    let readings = reading(&["updated-precision=seconds"]);
    let app = spawn_app_reading(readings).await;
    let phones: Vec<String> = (0..25).map(|i| format!("121255508{i:02}")).collect();
    burst(&app, 3001, &phones, 2).await;
    let list = List {
        name: "one inbox",
        member: ADMIN,
        root: Root::Inbox(3001),
        filter: json!({}),
    };
    let expected = ids_of(&rest_list(&app, ADMIN, &[3001], 400).await);
    let (query, path, variables) = list.query();
    for (first, limit) in [(100, 300), (7, 60), (1, 30)] {
        let walked = walk(&app, query, &path, &variables, ADMIN, first, limit).await;
        assert_eq!(walked.incomplete, Vec::<Value>::new(), "first {first}");
        let ids = walked.ids();
        assert!(ids.len() >= limit, "first {first}");
        assert_same(&ids, &expected[..ids.len()], &format!("first {first}"));
    }
}

#[tokio::test]
async fn a_contacts_conversations_skip_inboxes_where_it_has_none_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let inboxes = inboxes_of(&app, ADMIN).await;
        let newest = rest_list(&app, ADMIN, &inboxes, 1).await;
        let phone = newest
            .iter()
            .find(|row| row["channel"] == "sms")
            .and_then(|row| row["target"].as_str())
            .expect("a customer's conversation");
        // The customer's conversation in each inbox, as its history there shows it (an empty
        // history, or a 404 under one reading, where it has none).
        let mut expected = Vec::new();
        for &inbox in &inboxes {
            let path = format!("/v1/messages?phoneNumber={phone}&inboxID={inbox}");
            let (status, history) = app.sandbox.api_get(0, &path).await;
            match (status, history.get(0)) {
                (200, Some(newest)) => expected.push(conversation_key(&newest["conversation"])),
                (200, None) | (404, _) => {}
                _ => panic!("{profile}: {status} {history}"),
            }
        }
        assert!(
            !expected.is_empty() && expected.len() < inboxes.len(),
            "{profile}: the customer has conversations in some inboxes only"
        );
        expected.sort_by(|a, b| b.cmp(a));
        let expected: Vec<i64> = expected.iter().map(|(_, id)| *id).collect();
        let (status, contacts) = app
            .sandbox
            .api_post(
                0,
                "/v2/contacts/search",
                json!({"contact_channels": [{"channel_type": "phone", "channel_ids": [phone]}]}),
            )
            .await;
        assert_eq!(status, 200, "{contacts}");
        let contact = global(&format!("Contact:{}", contacts[0]["id"]));

        let body = app
            .graphql_with(
                "query($id: ID!) { contact(id: $id) { conversations { nodes { databaseId } } } }",
                json!({ "id": contact }),
                &[],
            )
            .await
            .1;

        assert_eq!(
            error_codes(&body),
            Vec::<String>::new(),
            "{profile}: {body}"
        );
        let listed: Vec<i64> = body["data"]["contact"]["conversations"]["nodes"]
            .as_array()
            .expect("conversations")
            .iter()
            .map(database_id)
            .collect();
        assert_eq!(listed, expected, "{profile}");
    }
}
