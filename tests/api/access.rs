//! Who sees what: a member outside an inbox gets nothing of its conversations, whichever way
//! they ask. The table below names every root field of the schema and every type implementing
//! `Node`, each with a probe of the outsider case or the reason it is the team's to read; a field
//! or type the table does not name fails the test, so none can be added unprobed.

use std::collections::BTreeSet;

use chrono::DurationRound;

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app};
use crate::mutations::{
    CONVERSATION_PAYLOAD, conversation_gid, inbound, inbox_gid, inbox_members, run,
};

/// What an outsider gets from a probe.
enum Expect {
    /// `FORBIDDEN` errors (this many) and no data, where a member of the inbox gets the data.
    Forbidden(usize),
    /// The mutation's `NOT_AN_INBOX_MEMBER` user error, and no object.
    Refused,
    /// The answer, but without the conversation, which a member of the inbox does get.
    LeftOut,
}

/// One way to reach the conversation. Operations may use the variables `$conversation`,
/// `$message`, `$scheduled`, `$sendAt`, `$inbox`, `$otherInbox`, `$contact` and `$phone` (see
/// [`World`]).
struct Probe {
    name: &'static str,
    operation: &'static str,
    expect: Expect,
}

const PROBES: &[Probe] = &[
    Probe {
        name: "Query.conversation",
        operation: "query($conversation: ID!) { conversation(id: $conversation) { id target \
            messages(first: 5) { nodes { id text } } lastMessage { text } } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Query.conversations",
        operation: "query($inbox: ID!) { conversations(filter: {inboxIds: [$inbox]}) \
            { nodes { id target } } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Inbox.conversations",
        operation: "query($inbox: ID!) { inbox(id: $inbox) { conversations \
            { nodes { id target } } } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Member.assignedConversations",
        operation: "query($inbox: ID!) { viewer { assignedConversations(filter: \
            {inboxIds: [$inbox]}) { nodes { id target } } } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Query.node",
        operation: "query($conversation: ID!) { node(id: $conversation) { id } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Query.nodes",
        operation: "query($conversation: ID!, $message: ID!) { nodes(ids: [$conversation, $message]) { id } }",
        expect: Expect::Forbidden(2),
    },
    Probe {
        name: "Node.Conversation",
        operation: "query($conversation: ID!) { node(id: $conversation) { ... on Conversation \
            { target messages { nodes { text } } lastMessage { text } } } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Node.Message",
        operation: "query($message: ID!) { node(id: $message) { ... on Message { text \
            conversation { target } } } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Query.contact",
        operation: "query($contact: ID!) { contact(id: $contact) { displayName \
            conversations { nodes { id target lastMessage { text } } } } }",
        expect: Expect::LeftOut,
    },
    Probe {
        name: "Query.contactByPhone",
        operation: "query($phone: String!) { contactByPhone(phone: $phone) { displayName \
            conversations { nodes { id target } } } }",
        expect: Expect::LeftOut,
    },
    Probe {
        name: "Mutation.openConversation",
        operation: "mutation($conversation: ID!) { openConversation(input: \
            {conversationId: $conversation}) { conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.closeConversation",
        operation: "mutation($conversation: ID!) { closeConversation(input: \
            {conversationId: $conversation}) { conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.markConversationRead",
        operation: "mutation($conversation: ID!) { markConversationRead(input: \
            {conversationId: $conversation}) { conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.markConversationUnread",
        operation: "mutation($conversation: ID!) { markConversationUnread(input: \
            {conversationId: $conversation}) { conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.assignConversation",
        operation: "mutation($conversation: ID!) { assignConversation(input: \
            {conversationId: $conversation, assigneeId: null}) { conversation { id } \
            userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.transferConversation",
        operation: "mutation($conversation: ID!, $otherInbox: ID!) { transferConversation(input: \
            {conversationId: $conversation, inboxId: $otherInbox}) { conversation { id } \
            userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.sendMessage",
        operation: "mutation($conversation: ID!) { sendMessage(input: \
            {conversationId: $conversation, text: \"hi\"}) { message { id } \
            conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.sendMessage",
        operation: "mutation($inbox: ID!, $phone: String!) { sendMessage(input: \
            {inboxId: $inbox, phone: $phone, text: \"hi\"}) { message { id } \
            conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.sendEmail",
        operation: "mutation($conversation: ID!) { sendEmail(input: \
            {conversationId: $conversation, text: \"hi\"}) { message { id } \
            conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.sendEmail",
        operation: "mutation($inbox: ID!) { sendEmail(input: \
            {inboxId: $inbox, to: [\"ada@example.com\"], text: \"hi\"}) { message { id } \
            conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.addPrivateNote",
        operation: "mutation($conversation: ID!) { addPrivateNote(input: \
            {conversationId: $conversation, text: \"hi\"}) { message { id } \
            conversation { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Node.ScheduledMessage",
        operation: "query($scheduled: ID!) { node(id: $scheduled) { ... on ScheduledMessage \
            { text conversation { target } } } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Mutation.scheduleMessage",
        operation: "mutation($conversation: ID!, $sendAt: DateTime!) { scheduleMessage(input: \
            {conversationId: $conversation, sendAt: $sendAt, text: \"hi\"}) \
            { scheduledMessage { id conversation { id } } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.scheduleMessage",
        operation: "mutation($inbox: ID!, $phone: String!, $sendAt: DateTime!) { \
            scheduleMessage(input: {inboxId: $inbox, phone: $phone, sendAt: $sendAt, \
            text: \"hi\"}) { scheduledMessage { id } userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.updateScheduledMessage",
        operation: "mutation($scheduled: ID!) { updateScheduledMessage(input: \
            {id: $scheduled, text: \"changed\"}) { scheduledMessage { id text } \
            userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Mutation.cancelScheduledMessage",
        operation: "mutation($scheduled: ID!) { cancelScheduledMessage(input: \
            {id: $scheduled}) { cancelledId userErrors { code } } }",
        expect: Expect::Refused,
    },
    Probe {
        name: "Subscription.messageAdded",
        operation: "subscription($conversation: ID!) { messageAdded(conversationId: $conversation) \
            { text } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Subscription.messageAdded",
        operation: "subscription($inbox: ID!) { messageAdded(inboxIds: [$inbox]) { text } }",
        expect: Expect::Forbidden(1),
    },
    Probe {
        name: "Subscription.conversationUpdated",
        operation: "subscription($inbox: ID!) { conversationUpdated(inboxIds: [$inbox]) \
            { target } }",
        expect: Expect::Forbidden(1),
    },
];

/// The team's directory, which any member of the team may read, and why.
const TEAM_WIDE: &[(&str, &str)] = &[
    ("Query.viewer", "the acting member themself"),
    ("Query.team", "the team's name and members"),
    (
        "Query.inboxes",
        "inbox metadata; each inbox's conversations are probed by Inbox.conversations",
    ),
    ("Query.inbox", "inbox metadata, as Query.inboxes"),
    ("Query.members", "the team's members"),
    ("Node.Inbox", "inbox metadata, as Query.inboxes"),
    ("Node.Member", "the team's members"),
    (
        "Node.Contact",
        "contacts are the team's; their conversations are probed by Query.contact",
    ),
    ("Query.contacts", "contacts are the team's"),
    (
        "Query.templates",
        "the team's shared templates and the member's own; another's own are left out \
         (templates.rs)",
    ),
    (
        "Node.Template",
        "a shared template is the team's; another member's own is FORBIDDEN (templates.rs)",
    ),
    (
        "Query.contactByEmail",
        "contacts are the team's; their conversations are probed by Query.contact",
    ),
    ("Query.tags", "the team's contact tags"),
    ("Query.customFields", "the team's custom contact fields"),
    ("Node.Tag", "the team's contact tags"),
    (
        "Mutation.createContact",
        "contacts are the team's: any member adds to the address book",
    ),
    (
        "Mutation.updateContact",
        "contacts are the team's: any member keeps the address book",
    ),
    (
        "Mutation.setContactOptOut",
        "contacts are the team's: any member records a customer's consent",
    ),
];

/// The outsider, a member of the inbox, and what the probes ask about.
struct World {
    app: TestApp,
    outsider: i64,
    member: i64,
    /// The probes' variables: a conversation of the inbox, one of its messages, the inbox,
    /// another inbox, the conversation's contact and that contact's phone.
    variables: Value,
}

/// An SMS inbox with a member outside it, and a conversation of it with a contact and
/// messages; found through the gateway as the team's admin, who is a member of every inbox.
async fn world() -> World {
    let app = spawn_app().await;
    let body = run(
        &app,
        "{ members { databaseId } inboxes { id databaseId phone members { databaseId } \
            conversations(first: 10) { nodes { id contact { id phone } \
            messages(first: 1) { nodes { id } } } } } }",
        Value::Null,
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let members = body["data"]["members"].as_array().expect("members");
    let inboxes = body["data"]["inboxes"].as_array().expect("inboxes");
    for inbox in inboxes.iter().filter(|inbox| inbox["phone"].is_string()) {
        let inside = inbox["members"].as_array().expect("members");
        let Some(outsider) = members.iter().find(|member| !inside.contains(member)) else {
            continue;
        };
        let Some(conversation) = inbox["conversations"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|node| node["contact"].is_object() && node["messages"]["nodes"][0].is_object())
        else {
            continue;
        };
        let other = inboxes
            .iter()
            .find(|other| other["id"] != inbox["id"])
            .expect("another inbox");
        let id = |member: &Value| member["databaseId"].as_str().unwrap().parse().unwrap();
        let send_at = (chrono::Utc::now() + chrono::TimeDelta::hours(2))
            .duration_trunc(chrono::TimeDelta::hours(1))
            .expect("a representable instant")
            .to_rfc3339();
        let scheduled = run(
            &app,
            "mutation($conversation: ID!, $sendAt: DateTime!) { scheduleMessage(input: \
             {conversationId: $conversation, sendAt: $sendAt, text: \"Later\"}) \
             { scheduledMessage { id } userErrors { code } } }",
            json!({ "conversation": conversation["id"], "sendAt": send_at }),
            None,
        )
        .await;
        let scheduled = &scheduled["data"]["scheduleMessage"]["scheduledMessage"]["id"];
        assert!(scheduled.is_string(), "the admin schedules in every inbox");
        return World {
            outsider: id(outsider),
            member: id(&inside[0]),
            variables: json!({
                "conversation": conversation["id"],
                "message": conversation["messages"]["nodes"][0]["id"],
                "scheduled": scheduled,
                "sendAt": send_at,
                "inbox": inbox["id"],
                "otherInbox": other["id"],
                "contact": conversation["contact"]["id"],
                "phone": conversation["contact"]["phone"],
            }),
            app,
        };
    }
    panic!("no SMS inbox with an outsider and a conversation with a contact");
}

impl World {
    /// Runs `probe` as `member`: the JSON result (the first one, for a subscription).
    async fn ask(&self, probe: &Probe, member: i64) -> Value {
        if probe.operation.starts_with("subscription") {
            let mut subscriber = self
                .app
                .subscriber(json!({ "X-Member-Id": member.to_string() }))
                .await;
            subscriber
                .subscribe(probe.operation, self.variables.clone())
                .await;
            return subscriber.next_result().await;
        }
        run(
            &self.app,
            probe.operation,
            self.variables.clone(),
            Some(member),
        )
        .await
    }

    /// Whether `body` shows the probed conversation in any form.
    fn shows_conversation(&self, body: &Value) -> bool {
        let data = body["data"].to_string();
        data.contains(self.variables["conversation"].as_str().unwrap())
            || data.contains(self.variables["message"].as_str().unwrap())
    }
}

/// The one field of an operation's `data`.
fn root(body: &Value) -> &Value {
    body["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .unwrap_or(&Value::Null)
}

/// Nothing but nulls, however nested: no data at all.
fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().all(empty),
        Value::Object(fields) => fields.values().all(empty),
        _ => false,
    }
}

/// `Type.field` for every root field, and `Node.Type` for every type implementing `Node`, as
/// the running gateway's introspection tells them.
async fn entry_points(app: &TestApp) -> BTreeSet<String> {
    let body = app
        .graphql(
            "{ __schema { queryType { name fields { name } } mutationType { name fields { name } } \
              subscriptionType { name fields { name } } } \
              __type(name: \"Node\") { possibleTypes { name } } }",
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let schema = &body["data"]["__schema"];
    let mut names = BTreeSet::new();
    for root in ["queryType", "mutationType", "subscriptionType"] {
        let root = &schema[root];
        for field in root["fields"].as_array().expect("fields") {
            names.insert(format!(
                "{}.{}",
                root["name"].as_str().unwrap(),
                field["name"].as_str().unwrap()
            ));
        }
    }
    for node in body["data"]["__type"]["possibleTypes"]
        .as_array()
        .expect("types")
    {
        names.insert(format!("Node.{}", node["name"].as_str().unwrap()));
    }
    names
}

#[tokio::test]
async fn every_entry_point_is_probed_or_declared_team_wide() {
    let app = spawn_app().await;
    let listed: BTreeSet<String> = PROBES
        .iter()
        .map(|probe| probe.name)
        .chain(TEAM_WIDE.iter().map(|(name, _)| *name))
        .map(str::to_owned)
        .collect();
    let entry_points = entry_points(&app).await;
    let unlisted: Vec<&String> = entry_points.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "entry points without an access probe or a reason to be team-wide: {unlisted:?}"
    );
    for (name, _) in TEAM_WIDE {
        assert!(entry_points.contains(*name), "{name} is not in the schema");
    }
    for probe in PROBES {
        let (owner, _) = probe.name.split_once('.').unwrap();
        assert!(
            owner == "Inbox" || owner == "Member" || entry_points.contains(probe.name),
            "{} is not in the schema",
            probe.name
        );
    }
}

#[tokio::test]
async fn an_outsider_gets_nothing_of_an_inbox_from_any_entry_point() {
    let world = world().await;
    for probe in PROBES {
        let refused = world.ask(probe, world.outsider).await;
        let name = probe.name;
        assert!(!world.shows_conversation(&refused), "{name}: {refused}");
        match probe.expect {
            Expect::Forbidden(errors) => {
                assert_eq!(
                    error_codes(&refused),
                    vec!["FORBIDDEN"; errors],
                    "{name}: {refused}"
                );
                assert!(empty(root(&refused)), "{name}: {refused}");
                if probe.operation.starts_with("subscription") {
                    continue;
                }
                let allowed = world.ask(probe, world.member).await;
                assert_eq!(allowed["errors"], Value::Null, "{name}: {allowed}");
                assert!(!empty(root(&allowed)), "{name}: {allowed}");
            }
            Expect::Refused => {
                assert_eq!(refused["errors"], Value::Null, "{name}: {refused}");
                let payload = root(&refused);
                assert_eq!(
                    payload["userErrors"][0]["code"], "NOT_AN_INBOX_MEMBER",
                    "{name}: {refused}"
                );
                assert_eq!(payload["conversation"], Value::Null, "{name}: {refused}");
            }
            Expect::LeftOut => {
                assert_eq!(refused["errors"], Value::Null, "{name}: {refused}");
                assert!(root(&refused).is_object(), "the team's to read: {refused}");
                let allowed = world.ask(probe, world.member).await;
                assert!(world.shows_conversation(&allowed), "{name}: {allowed}");
            }
        }
    }
}

#[tokio::test]
async fn a_forbidden_conversation_is_forbidden_at_its_position_in_nodes() {
    let world = world().await;
    let body = run(
        &world.app,
        "query($conversation: ID!, $inbox: ID!) { nodes(ids: [$inbox, $conversation]) { id } }",
        world.variables.clone(),
        Some(world.outsider),
    )
    .await;
    assert_eq!(
        body["data"]["nodes"][0]["id"], world.variables["inbox"],
        "{body}"
    );
    assert_eq!(body["data"]["nodes"][1], Value::Null, "{body}");
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["nodes", 1]), "{body}");
}

#[tokio::test]
async fn a_transfer_out_of_the_members_inboxes_does_not_show_the_conversation() {
    let app = spawn_app().await;
    // SMS inboxes A and B, and a member of A who is not in B.
    let (status, inboxes) = app.sandbox.api_get(0, "/v1/inboxes").await;
    assert_eq!(status, 200);
    let sms: Vec<i64> = inboxes
        .as_array()
        .expect("a list")
        .iter()
        .filter(|inbox| {
            inbox["phone"]
                .as_str()
                .is_some_and(|phone| !phone.is_empty())
        })
        .filter_map(|inbox| inbox["id"].as_i64())
        .collect();
    let mut found = None;
    'search: for &from in &sms {
        for &to in sms.iter().filter(|&&to| to != from) {
            let destination = inbox_members(&app, to).await;
            if let Some(&member) = inbox_members(&app, from)
                .await
                .iter()
                .find(|member| !destination.contains(member))
            {
                found = Some((from, to, member));
                break 'search;
            }
        }
    }
    let (from, to, member) = found.expect("a member in one SMS inbox and not another");
    let conversation = inbound(&app, from, "12125550401").await;

    let body = run(
        &app,
        &format!(
            "mutation($input: TransferConversationInput!) {{ transferConversation(input: $input) \
             {{ {CONVERSATION_PAYLOAD} }} }}"
        ),
        json!({"input": {
            "conversationId": conversation_gid(conversation),
            "inboxId": inbox_gid(to),
            "clientMutationId": "away",
        }}),
        Some(member),
    )
    .await;
    let payload = &body["data"]["transferConversation"];
    assert_eq!(
        payload["userErrors"],
        json!([]),
        "the transfer happened: {body}"
    );
    assert_eq!(payload["clientMutationId"], "away", "{body}");
    assert_eq!(payload["conversation"], Value::Null, "{body}");
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(
        body["errors"][0]["path"],
        json!(["transferConversation", "conversation"]),
        "{body}"
    );
    let moved = app.sandbox.conversation(0, conversation).await;
    assert_eq!(moved["inbox"], to, "{moved}");
}
