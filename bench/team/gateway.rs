//! An agent's frontend through the gateway: the canonical queries (`bench/queries/`) and the
//! mutations, sent as the agent's member.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use heymarket_gateway::schema::GlobalId;
use serde_json::{Value, json};

use crate::frontend::{Failure, Row, instant};
use crate::requests::{error_label, send};

const DASHBOARD: &str = include_str!("../queries/dashboard.graphql");
const MINE: &str = include_str!("../queries/mine.graphql");
const DETAIL: &str = include_str!("../queries/detail.graphql");
const REPLY: &str = "mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { sentAt } userErrors { code } }
}";
const ASSIGN: &str = "mutation($input: AssignConversationInput!) {
  assignConversation(input: $input) { userErrors { code } }
}";
const CLOSE: &str = "mutation($input: CloseConversationInput!) {
  closeConversation(input: $input) { userErrors { code } }
}";

/// Replicas taking requests in turn, like a round-robin load balancer in front of them.
#[derive(Debug)]
pub(crate) struct Balancer {
    graphql_urls: Vec<String>,
    turn: AtomicUsize,
}

impl Balancer {
    pub(crate) fn new(graphql_urls: impl IntoIterator<Item = String>) -> Self {
        Self {
            graphql_urls: graphql_urls.into_iter().collect(),
            turn: AtomicUsize::new(0),
        }
    }

    /// The GraphQL URL whose turn it is.
    pub(crate) fn next(&self) -> &str {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        &self.graphql_urls[turn % self.graphql_urls.len().max(1)]
    }
}

/// One agent's GraphQL client.
#[derive(Debug, Clone)]
pub(crate) struct GatewayFrontend {
    pub(crate) http: reqwest::Client,
    /// The gateways it sends its requests to.
    pub(crate) balancer: Arc<Balancer>,
    pub(crate) member: i64,
    pub(crate) inbox: i64,
    /// Member ids by name, to read a row's `assignee { name }`.
    pub(crate) members_by_name: Arc<HashMap<String, i64>>,
}

impl GatewayFrontend {
    pub(crate) async fn dashboard(&self) -> Result<Vec<Row>, Failure> {
        let inbox = GlobalId::Inbox(self.inbox).to_string();
        let data = self.execute(DASHBOARD, json!({ "inbox": inbox })).await?;
        nodes(&data["conversations"])?
            .iter()
            .map(|node| self.row(node).ok_or_else(|| Failure::new("UNEXPECTED_ROW")))
            .collect()
    }

    pub(crate) async fn mine(&self) -> Result<Vec<i64>, Failure> {
        let data = self.execute(MINE, json!({})).await?;
        nodes(&data["viewer"]["assignedConversations"])?
            .iter()
            .map(|node| conversation_id(node).ok_or_else(|| Failure::new("UNEXPECTED_ROW")))
            .collect()
    }

    pub(crate) async fn detail(&self, conversation: i64) -> Result<(), Failure> {
        let id = GlobalId::Conversation(conversation).to_string();
        self.execute(DETAIL, json!({ "id": id })).await.map(drop)
    }

    pub(crate) async fn reply(
        &self,
        row: &Row,
        text: &str,
    ) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
        let input =
            json!({ "conversationId": GlobalId::Conversation(row.id).to_string(), "text": text });
        let payload = self.mutate(REPLY, "sendMessage", input).await?;
        payload["message"]["sentAt"]
            .as_str()
            .and_then(instant)
            .ok_or_else(|| Failure::new("NO_MESSAGE"))
    }

    pub(crate) async fn assign(&self, row: &Row, member: i64) -> Result<(), Failure> {
        let input = json!({
            "conversationId": GlobalId::Conversation(row.id).to_string(),
            "assigneeId": GlobalId::Member(member).to_string(),
        });
        self.mutate(ASSIGN, "assignConversation", input)
            .await
            .map(drop)
    }

    pub(crate) async fn close(&self, row: &Row) -> Result<(), Failure> {
        let input = json!({ "conversationId": GlobalId::Conversation(row.id).to_string() });
        self.mutate(CLOSE, "closeConversation", input)
            .await
            .map(drop)
    }

    /// A dashboard node as a row; `None` when it lacks what a row needs.
    fn row(&self, node: &Value) -> Option<Row> {
        Some(Row {
            id: conversation_id(node)?,
            inbox: self.inbox,
            target: node["target"].as_str()?.to_owned(),
            updated: instant(node["updatedAt"].as_str()?)?,
            assignee: node["assignee"]["name"]
                .as_str()
                .and_then(|name| self.members_by_name.get(name).copied()),
        })
    }

    /// The payload of mutation `field`, which must have no `userErrors`.
    async fn mutate(&self, mutation: &str, field: &str, input: Value) -> Result<Value, Failure> {
        let mut data = self.execute(mutation, json!({ "input": input })).await?;
        let payload = data[field].take();
        let user_errors: Vec<String> = payload["userErrors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|error| error["code"].as_str().unwrap_or("<no code>").to_owned())
            .collect();
        if user_errors.is_empty() {
            Ok(payload)
        } else {
            Err(Failure(user_errors))
        }
    }

    /// The `data` of an answer without `errors`.
    async fn execute(&self, query: &str, variables: Value) -> Result<Value, Failure> {
        let mut body = send(
            &self.http,
            self.balancer.next(),
            self.member,
            query,
            variables,
        )
        .await
        .map_err(Failure::new)?;
        if let Some(errors) = body["errors"].as_array() {
            return Err(Failure(errors.iter().map(error_label).collect()));
        }
        Ok(body["data"].take())
    }
}

fn nodes(connection: &Value) -> Result<&Vec<Value>, Failure> {
    connection["nodes"]
        .as_array()
        .ok_or_else(|| Failure::new("NO_NODES"))
}

/// The upstream id of a node's conversation id.
fn conversation_id(node: &Value) -> Option<i64> {
    match node["id"].as_str()?.parse() {
        Ok(GlobalId::Conversation(id)) => Some(id),
        _ => None,
    }
}
