//! The canonical GraphQL workload (`bench/queries/*.graphql`) sent to a gateway over HTTP, with
//! every answer checked: no `errors`, full pages, and the same conversations a reference list
//! found.

use std::collections::HashSet;

use heymarket_gateway::schema::GlobalId;
use serde_json::{Value, json};

use crate::processes::client_authorization;
use crate::rest::PAGE_ROWS;
use crate::{INBOX_ID, MEMBER_ID, WALK_PAGES};

const DASHBOARD: &str = include_str!("../queries/dashboard.graphql");
const WALK: &str = include_str!("../queries/walk.graphql");
const DETAIL: &str = include_str!("../queries/detail.graphql");
const MINE: &str = include_str!("../queries/mine.graphql");

const INBOXES: &str = "{ inboxes { id databaseId } }";
/// The walk's pages with the upstream ids, to compare with what REST paging returns.
const REFERENCE_WALK: &str = "query Reference($inbox: ID!, $after: String) {
  conversations(first: 30, after: $after, filter: { inboxIds: [$inbox], status: OPEN }) {
    nodes { id databaseId }
    pageInfo { hasNextPage endCursor }
  }
}";
/// The mine view's rows through the other way to ask for them, with what shows they belong.
const REFERENCE_MINE: &str = "{
  conversations(first: 30, filter: { status: OPEN, assignment: VIEWER }) {
    nodes { id status assignee { databaseId } }
  }
}";

/// Why a GraphQL answer cannot count as a result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GraphqlError {
    #[error("{operation}: the request failed")]
    Transport {
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{operation}: HTTP {status}: {body}")]
    Status {
        operation: &'static str,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("{operation}: the answer has errors: {errors}")]
    Errors {
        operation: &'static str,
        errors: String,
    },
    #[error("{operation}: {detail}")]
    Unexpected {
        operation: &'static str,
        detail: String,
    },
}

/// The conversations of the workload, as a reference walk on a throwaway gateway found them.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    /// Global id of inbox [`INBOX_ID`].
    pub(crate) inbox: String,
    /// Global ids of the walk's conversations, in order.
    pub(crate) walk: Vec<String>,
    /// Upstream ids of the same conversations, to compare with what REST paging returns.
    pub(crate) walk_database_ids: Vec<i64>,
    /// The dashboard's first row, which the detail scenario opens: global and upstream id.
    pub(crate) detail: (String, i64),
    /// Global ids of the member's newest open conversations assigned to them, in order.
    pub(crate) mine: Vec<String>,
}

/// Sends GraphQL over HTTP POST as member [`MEMBER_ID`].
#[derive(Debug, Clone)]
pub(crate) struct GraphqlClient {
    http: reqwest::Client,
    endpoint: String,
}

impl GraphqlClient {
    pub(crate) fn new(http: reqwest::Client, endpoint: &str) -> Self {
        Self {
            http,
            endpoint: endpoint.to_owned(),
        }
    }

    /// Finds the inbox's global id, walks its open conversations with their upstream ids, and
    /// lists the member's own.
    pub(crate) async fn discover(&self) -> Result<Workload, GraphqlError> {
        const OPERATION: &str = "discovery";
        let data = self.execute(OPERATION, INBOXES, json!({})).await?;
        let inbox = data["inboxes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|inbox| inbox["databaseId"] == json!(INBOX_ID.to_string()))
            .and_then(|inbox| inbox["id"].as_str())
            .ok_or_else(|| unexpected(OPERATION, format!("no inbox {INBOX_ID}")))?
            .to_owned();
        let mut walk = Vec::new();
        let mut walk_database_ids = Vec::new();
        let mut after = Value::Null;
        for _ in 0..WALK_PAGES {
            let variables = json!({ "inbox": inbox, "after": after });
            let data = self.execute(OPERATION, REFERENCE_WALK, variables).await?;
            let page = &data["conversations"];
            for node in full_page(OPERATION, page)? {
                let id = node["id"].as_str();
                let database_id = node["databaseId"].as_str().and_then(|id| id.parse().ok());
                let (Some(id), Some(database_id)) = (id, database_id) else {
                    return Err(unexpected(OPERATION, format!("a node without ids: {node}")));
                };
                walk.push(id.to_owned());
                walk_database_ids.push(database_id);
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        let distinct: HashSet<&String> = walk.iter().collect();
        if distinct.len() != walk.len() {
            return Err(unexpected(
                OPERATION,
                "a conversation was listed twice".into(),
            ));
        }
        let detail = walk
            .first()
            .cloned()
            .zip(walk_database_ids.first().copied())
            .ok_or_else(|| unexpected(OPERATION, "no conversations".into()))?;
        Ok(Workload {
            inbox,
            walk,
            walk_database_ids,
            detail,
            mine: self.reference_mine().await?,
        })
    }

    /// The member's open conversations assigned to them, each checked to be open and theirs.
    async fn reference_mine(&self) -> Result<Vec<String>, GraphqlError> {
        const OPERATION: &str = "discovery of mine";
        let data = self.execute(OPERATION, REFERENCE_MINE, json!({})).await?;
        let nodes = full_page(OPERATION, &data["conversations"])?;
        let member = json!(MEMBER_ID.to_string());
        if let Some(node) = nodes
            .iter()
            .find(|node| node["status"] != "OPEN" || node["assignee"]["databaseId"] != member)
        {
            return Err(unexpected(
                OPERATION,
                format!("not an open conversation of member {MEMBER_ID}: {node}"),
            ));
        }
        conversation_ids(OPERATION, nodes)
    }

    /// The dashboard query; its rows must be the walk's first page.
    /// `{ __typename }`: the same HTTP, authentication and GraphQL steps as any query, and no
    /// field to resolve; what a request costs the gateway before its fields do.
    pub(crate) async fn pipeline(&self) -> Result<(), GraphqlError> {
        const OPERATION: &str = "Pipeline";
        let data = self
            .execute(OPERATION, "query Pipeline { __typename }", json!({}))
            .await?;
        if data["__typename"] != "Query" {
            return Err(unexpected(OPERATION, format!("answered {data}")));
        }
        Ok(())
    }

    pub(crate) async fn dashboard(&self, workload: &Workload) -> Result<(), GraphqlError> {
        const OPERATION: &str = "Dashboard";
        let data = self
            .execute(OPERATION, DASHBOARD, json!({ "inbox": workload.inbox }))
            .await?;
        let ids = node_ids(OPERATION, full_page(OPERATION, &data["conversations"])?)?;
        expect_conversations(OPERATION, &ids, workload.walk.iter().take(PAGE_ROWS))
    }

    /// [`WALK_PAGES`] pages of the walk query, each after the previous page's `endCursor`;
    /// together they must be the reference walk's conversations, each once, in order.
    pub(crate) async fn walk(&self, workload: &Workload) -> Result<(), GraphqlError> {
        const OPERATION: &str = "Walk";
        let mut ids = Vec::new();
        let mut after = Value::Null;
        for _ in 0..WALK_PAGES {
            let variables = json!({ "inbox": workload.inbox, "after": after });
            let data = self.execute(OPERATION, WALK, variables).await?;
            let page = &data["conversations"];
            ids.extend(node_ids(OPERATION, full_page(OPERATION, page)?)?);
            after = page["pageInfo"]["endCursor"].clone();
        }
        expect_conversations(OPERATION, &ids, workload.walk.iter())
    }

    /// The detail query for the dashboard's first conversation.
    pub(crate) async fn detail(&self, workload: &Workload) -> Result<(), GraphqlError> {
        const OPERATION: &str = "Detail";
        let conversation = workload.detail.0.as_str();
        let data = self
            .execute(OPERATION, DETAIL, json!({ "id": conversation }))
            .await?;
        let found = &data["conversation"];
        if found["id"] != json!(conversation) {
            return Err(unexpected(OPERATION, format!("answered {found}")));
        }
        let messages = found["messages"]["nodes"].as_array().map_or(0, Vec::len);
        if messages == 0 {
            return Err(unexpected(
                OPERATION,
                "the conversation has no messages".into(),
            ));
        }
        Ok(())
    }

    /// The mine query; its rows must be conversations, the ones the reference list found.
    pub(crate) async fn mine(&self, workload: &Workload) -> Result<(), GraphqlError> {
        const OPERATION: &str = "Mine";
        let data = self.execute(OPERATION, MINE, json!({})).await?;
        let page = full_page(OPERATION, &data["viewer"]["assignedConversations"])?;
        let ids = conversation_ids(OPERATION, page)?;
        expect_conversations(OPERATION, &ids, workload.mine.iter())
    }

    /// The `data` of an answer without `errors`.
    async fn execute(
        &self,
        operation: &'static str,
        query: &str,
        variables: Value,
    ) -> Result<Value, GraphqlError> {
        let transport = |source| GraphqlError::Transport { operation, source };
        let response = self
            .http
            .post(&self.endpoint)
            .header("Authorization", client_authorization(MEMBER_ID))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(GraphqlError::Status {
                operation,
                status,
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        let mut answer: Value = serde_json::from_slice(&body)
            .map_err(|error| unexpected(operation, format!("not JSON: {error}")))?;
        if let Some(errors) = answer.get("errors") {
            return Err(GraphqlError::Errors {
                operation,
                errors: errors.to_string().chars().take(500).collect(),
            });
        }
        match answer.get_mut("data").map(Value::take) {
            Some(data) if data.is_object() => Ok(data),
            _ => Err(unexpected(operation, "the answer has no data".into())),
        }
    }
}

/// The nodes of a connection, which must hold exactly [`PAGE_ROWS`].
fn full_page<'a>(
    operation: &'static str,
    connection: &'a Value,
) -> Result<&'a [Value], GraphqlError> {
    match connection["nodes"].as_array() {
        Some(nodes) if nodes.len() == PAGE_ROWS => Ok(nodes),
        Some(nodes) => Err(unexpected(
            operation,
            format!("{} rows, expected {PAGE_ROWS}", nodes.len()),
        )),
        None => Err(unexpected(operation, format!("no nodes in {connection}"))),
    }
}

fn node_ids(operation: &'static str, nodes: &[Value]) -> Result<Vec<String>, GraphqlError> {
    nodes
        .iter()
        .map(|node| {
            node["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| unexpected(operation, format!("a node without id: {node}")))
        })
        .collect()
}

/// The ids of `nodes`, each of which must name a conversation.
fn conversation_ids(operation: &'static str, nodes: &[Value]) -> Result<Vec<String>, GraphqlError> {
    let ids = node_ids(operation, nodes)?;
    match ids
        .iter()
        .find(|id| !matches!(id.parse(), Ok(GlobalId::Conversation(_))))
    {
        Some(id) => Err(unexpected(
            operation,
            format!("not a conversation id: {id}"),
        )),
        None => Ok(ids),
    }
}

/// Over the sandbox's unchanging data, a list must name the reference walk's conversations, in
/// its order.
fn expect_conversations<'a>(
    operation: &'static str,
    ids: &[String],
    reference: impl Iterator<Item = &'a String>,
) -> Result<(), GraphqlError> {
    if ids.iter().ne(reference) {
        return Err(unexpected(
            operation,
            "the conversations differ from the reference walk's".into(),
        ));
    }
    Ok(())
}

fn unexpected(operation: &'static str, detail: String) -> GraphqlError {
    GraphqlError::Unexpected { operation, detail }
}
