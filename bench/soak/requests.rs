//! The requests the soak and the team benchmark share: a GraphQL operation sent to a gateway as
//! a team member, the label each error of its answer is counted under, and a customer's message
//! through the sandbox's control API.

use serde_json::{Value, json};

use crate::processes::client_authorization;

/// POSTs one operation as `member`; the body, or the label of a failed exchange (`TRANSPORT`,
/// `HTTP <status>`, `UNREADABLE`).
pub(crate) async fn send(
    http: &reqwest::Client,
    graphql_url: &str,
    member: i64,
    query: &str,
    variables: Value,
) -> Result<Value, String> {
    let response = http
        .post(graphql_url)
        .header("Authorization", client_authorization(member))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .map_err(|_| "TRANSPORT".to_owned())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    response.json().await.map_err(|_| "UNREADABLE".to_owned())
}

/// An error's code; an `UPSTREAM_UNAVAILABLE` that says when to retry came from the open
/// circuit breaker rather than from an upstream call, and is told apart.
pub(crate) fn error_label(error: &Value) -> String {
    let extensions = &error["extensions"];
    let code = extensions["code"].as_str().unwrap_or("<no code>");
    if code == "UPSTREAM_UNAVAILABLE" && !extensions["retryAfterMs"].is_null() {
        format!("{code} (circuit open)")
    } else {
        code.to_owned()
    }
}

/// A customer's message to `inbox` from `phone`, through the sandbox's control API (which
/// faults never touch): it creates or reopens the conversation and fires the webhook. Answers
/// the conversation's upstream id, and the message as the sandbox answered it.
pub(crate) async fn inbound(
    http: &reqwest::Client,
    sandbox_url: &str,
    inbox: i64,
    phone: &str,
    text: &str,
) -> anyhow::Result<(i64, Value)> {
    let message: Value = http
        .post(format!("{sandbox_url}/_sandbox/inbound"))
        .json(&json!({ "inbox_id": inbox, "phone": phone, "text": text }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let conversation = message["conversation"]["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("the inbound message has no conversation: {message}"))?;
    Ok((conversation, message))
}
