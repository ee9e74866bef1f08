//! `POST /v1/email/send` (heymarket-api.md §7.2): a reply in an email conversation
//! (`convo_id`), or a new one to the `to:` and `cc:` addresses of `targets`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::messages::answered;
use crate::error::{ApiError, ApiResult, required};
use crate::extract::{JsonBody, Tenant};
use crate::state::SandboxState;
use crate::store::{EmailSend, EmailTarget, SendAnswer};

#[derive(Deserialize)]
pub(super) struct EmailBody {
    creator_id: Option<i64>,
    inbox: Option<i64>,
    text: Option<String>,
    /// The plain-text fallback: checked to be text, and not shown by the history, which
    /// carries `text`.
    #[serde(rename = "raw_text")]
    _raw_text: Option<String>,
    local_id: Option<String>,
    conv_title: Option<String>,
    targets: Option<Vec<String>>,
    convo_id: Option<i64>,
}

pub(super) async fn send(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<EmailBody>,
) -> ApiResult<Json<SendAnswer>> {
    let email = validate(body)?;
    let mut store = tenant.store();
    let outcome = store.send_email(email)?;
    Ok(Json(answered(&state, &tenant, &store, outcome)))
}

/// Checks the fields' presence and form; the store checks them against the data.
fn validate(body: EmailBody) -> ApiResult<EmailSend> {
    let text = required(body.text, "text")?;
    if text.trim().is_empty() {
        return Err(ApiError::missing("text"));
    }
    let to = match (body.convo_id, body.targets) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_data("give convo_id or targets, not both"));
        }
        (None, None) => return Err(ApiError::missing("convo_id or targets")),
        (Some(id), None) => EmailTarget::Conversation(id),
        (None, Some(targets)) => EmailTarget::New {
            to: to_addresses(&targets)?,
            title: body.conv_title.filter(|title| !title.trim().is_empty()),
        },
    };
    Ok(EmailSend {
        inbox: required(body.inbox, "inbox")?,
        creator: required(body.creator_id, "creator_id")?,
        to,
        text,
        local_id: body.local_id.filter(|id| !id.is_empty()),
    })
}

/// The `to:` addresses of `targets` (`["to:a@x.com,b@x.com", "cc:c@x.com"]`), lowercased, in
/// order; every element must be `to:` or `cc:` with addresses, and one must be `to:`.
fn to_addresses(targets: &[String]) -> ApiResult<Vec<String>> {
    let mut to = Vec::new();
    for target in targets {
        let (kind, addresses) = target.split_once(':').ok_or_else(|| {
            ApiError::bad_data(format!("target `{target}` does not start with to: or cc:"))
        })?;
        let addresses: Vec<String> = addresses
            .split(',')
            .map(|address| address.trim().to_lowercase())
            .collect();
        if let Some(bad) = addresses.iter().find(|a| !is_address(a)) {
            return Err(ApiError::bad_data(format!(
                "`{bad}` in `{target}` is not an email address"
            )));
        }
        match kind.trim() {
            "to" => to.extend(addresses),
            "cc" => {}
            other => {
                return Err(ApiError::bad_data(format!(
                    "target kind `{other}` is not to or cc"
                )));
            }
        }
    }
    if to.is_empty() {
        return Err(ApiError::missing("a `to:` target"));
    }
    Ok(to)
}

fn is_address(address: &str) -> bool {
    address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !address.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(items: &[&str]) -> Vec<String> {
        items.iter().map(|&item| item.to_owned()).collect()
    }

    #[test]
    fn targets_name_to_and_cc_addresses() {
        assert_eq!(
            to_addresses(&targets(&["to:Ada@X.com, b@x.com", "cc:c@x.com"])).unwrap(),
            ["ada@x.com", "b@x.com"]
        );
        for bad in [
            &["cc:c@x.com"][..],
            &["a@x.com"],
            &["bcc:a@x.com"],
            &["to:"],
            &["to:a@x.com,,b@x.com"],
            &["to:not-an-address"],
            &[],
        ] {
            assert!(to_addresses(&targets(bad)).is_err(), "{bad:?}");
        }
    }
}
