//! An agent's frontend calling Heymarket's REST API directly: the screens as the dashboard
//! benchmark builds them (`rest`), and the writes a frontend sends.

use serde_json::{Value, json};

use crate::frontend::{Failure, Row, instant};
use crate::rest::{ConversationRow, RestError, RestFrontend};

/// One agent's REST client, acting as its member on its inbox.
#[derive(Debug, Clone)]
pub(crate) struct DirectFrontend(pub(crate) RestFrontend);

impl DirectFrontend {
    pub(crate) async fn dashboard(&self) -> Result<Vec<Row>, Failure> {
        let rows = self.0.dashboard().await.map_err(failure)?;
        Ok(rows.into_iter().filter_map(row).collect())
    }

    pub(crate) async fn mine(&self) -> Result<Vec<i64>, Failure> {
        let rows = self.0.mine().await.map_err(failure)?;
        Ok(rows.iter().map(|row| row.id).collect())
    }

    pub(crate) async fn detail(&self, conversation: i64) -> Result<(), Failure> {
        self.0.detail(conversation).await.map_err(failure)
    }

    pub(crate) async fn reply(
        &self,
        row: &Row,
        text: &str,
    ) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
        let body = json!({
            "inbox_id": row.inbox,
            "creator_id": self.0.member,
            "chat_id": row.id,
            "text": text,
        });
        let sent = self.write("/v1/message/send", body).await?;
        sent["date"]
            .as_str()
            .and_then(instant)
            .ok_or_else(|| Failure::new("NO_MESSAGE"))
    }

    pub(crate) async fn assign(&self, row: &Row, member: i64) -> Result<(), Failure> {
        let body = json!({
            "inbox_id": row.inbox,
            "target": row.target,
            "user_id": self.0.member,
            "reassign_id": member,
        });
        self.write("/v1/conversations/reassign", body)
            .await
            .map(drop)
    }

    pub(crate) async fn close(&self, row: &Row) -> Result<(), Failure> {
        let body = json!({ "inbox_id": row.inbox, "user_id": self.0.member, "chat_id": row.id });
        self.write("/v1/conversations/close", body).await.map(drop)
    }

    /// POSTs `body` to `path`; the answer's JSON.
    async fn write(&self, path: &str, body: Value) -> Result<Value, Failure> {
        let rest = &self.0;
        let authorization = rest.authorization().map_err(failure)?;
        let request = rest.post(path).json(&body);
        let answer = rest
            .exchange(&format!("POST {path}"), request, &authorization)
            .await
            .map_err(failure)?;
        serde_json::from_slice(&answer).map_err(|_| Failure::new("UNREADABLE"))
    }
}

/// A listed conversation as the agent's dashboard shows it; `None` when its `updated` does not
/// read as an instant.
fn row(listed: ConversationRow) -> Option<Row> {
    Some(Row {
        updated: instant(&listed.updated)?,
        assignee: listed.assigned.filter(|&member| member > 0),
        id: listed.id,
        inbox: listed.inbox,
        target: listed.target,
    })
}

/// The label a REST error is counted under.
fn failure(error: RestError) -> Failure {
    Failure::new(match error {
        RestError::Signing(_) => "SIGNING".to_owned(),
        RestError::Transport { .. } => "TRANSPORT".to_owned(),
        RestError::Status { status, .. } => format!("HTTP {}", status.as_u16()),
        RestError::Decode { .. } => "UNREADABLE".to_owned(),
        RestError::ShortPage { .. } => "SHORT_PAGE".to_owned(),
    })
}
