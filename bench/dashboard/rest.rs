//! The dashboard, walk and detail screens built the way a frontend builds them from Heymarket's
//! REST API (the baseline the gateway is measured against): a list call, then the calls each
//! row needs, at most six in flight like a browser's HTTP/1.1 connections to one host.

use std::fmt;

use futures::{StreamExt as _, TryStreamExt as _};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::processes::Credentials;
use crate::{INBOX_ID, MEMBER_ID, PAGE_ROWS, WALK_PAGES};

/// Requests a browser keeps in flight to one host over HTTP/1.1.
pub(crate) const BROWSER_PARALLELISM: usize = 6;

/// Why a screen could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestError {
    #[error("cannot sign the upstream JWT")]
    Signing(#[from] jsonwebtoken::errors::Error),
    #[error("{call} failed")]
    Transport {
        call: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{call} answered {status}: {body}")]
    Status {
        call: String,
        status: StatusCode,
        body: String,
    },
    #[error("{call} answered unexpected JSON")]
    Decode {
        call: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the conversation list returned {rows} rows, expected {PAGE_ROWS}")]
    ShortPage { rows: usize },
}

/// The fields of a listed conversation a frontend needs for its follow-up calls.
#[derive(Debug, Deserialize)]
struct ConversationRow {
    id: i64,
    target: String,
    inbox: i64,
    updated: String,
}

/// One REST call a screen makes.
#[derive(Debug, Clone, Copy)]
enum Call<'a> {
    List { date: Option<&'a str> },
    Conversation(i64),
    Inboxes,
    Team,
    Contact { phone: &'a str },
    History { phone: &'a str, inbox: i64 },
}

impl fmt::Display for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::List { .. } => f.write_str("POST /v1/conversations"),
            Self::Conversation(id) => write!(f, "GET /v1/conversations/{id}"),
            Self::Inboxes => f.write_str("GET /v1/inboxes"),
            Self::Team => f.write_str("GET /v1/team"),
            Self::Contact { phone } => write!(f, "POST /v1/contact/get ({phone})"),
            Self::History { phone, inbox } => {
                write!(f, "GET /v1/messages?phoneNumber={phone}&inboxID={inbox}")
            }
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

/// A frontend talking to the upstream directly, as team member [`MEMBER_ID`].
#[derive(Debug, Clone)]
pub(crate) struct RestFrontend {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
}

impl RestFrontend {
    pub(crate) fn new(http: reqwest::Client, base_url: &str, credentials: Credentials) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            credentials,
        }
    }

    /// The open conversations of the dashboard's inbox, then inboxes, team, and each row's
    /// contact and history.
    pub(crate) async fn dashboard(&self) -> Result<(), RestError> {
        let authorization = self.authorization()?;
        let rows = self.list(&authorization, None).await?;
        self.fan_out(
            &authorization,
            rows_calls(&rows, [Call::Inboxes, Call::Team]),
        )
        .await
    }

    /// [`WALK_PAGES`] pages of the dashboard's list, each followed by its rows' calls. Pages
    /// are asked with `date` = the previous page's last `updated`, as frontends do: rows that
    /// share that instant and did not fit on the page are skipped. Returns the conversation ids
    /// in the order they were listed.
    pub(crate) async fn walk(&self) -> Result<Vec<i64>, RestError> {
        let authorization = self.authorization()?;
        let mut listed = Vec::new();
        let mut date: Option<String> = None;
        for page in 0..WALK_PAGES {
            let rows = self.list(&authorization, date.as_deref()).await?;
            let directory = if page == 0 {
                vec![Call::Inboxes, Call::Team]
            } else {
                Vec::new()
            };
            self.fan_out(&authorization, rows_calls(&rows, directory))
                .await?;
            listed.extend(rows.iter().map(|row| row.id));
            date = rows.last().map(|row| row.updated.clone());
        }
        Ok(listed)
    }

    /// One conversation, then its contact, its history and the team (for authors' names).
    pub(crate) async fn detail(&self, conversation_id: i64) -> Result<(), RestError> {
        let authorization = self.authorization()?;
        let call = Call::Conversation(conversation_id);
        let conversation: ConversationRow = decode(call, self.send(&authorization, call).await?)?;
        let calls = vec![
            Call::Contact {
                phone: &conversation.target,
            },
            Call::History {
                phone: &conversation.target,
                inbox: conversation.inbox,
            },
            Call::Team,
        ];
        self.fan_out(&authorization, calls).await
    }

    async fn list(
        &self,
        authorization: &str,
        date: Option<&str>,
    ) -> Result<Vec<ConversationRow>, RestError> {
        let call = Call::List { date };
        let rows: Vec<ConversationRow> = decode(call, self.send(authorization, call).await?)?;
        if rows.len() == PAGE_ROWS {
            Ok(rows)
        } else {
            Err(RestError::ShortPage { rows: rows.len() })
        }
    }

    async fn fan_out(&self, authorization: &str, calls: Vec<Call<'_>>) -> Result<(), RestError> {
        futures::stream::iter(calls)
            .map(|call| self.send(authorization, call))
            .buffer_unordered(BROWSER_PARALLELISM)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    /// Sends `call` and parses its JSON answer, as a frontend would before rendering it.
    async fn send(&self, authorization: &str, call: Call<'_>) -> Result<Value, RestError> {
        let request = match call {
            Call::List { date } => {
                let mut body = json!({
                    "id": MEMBER_ID,
                    "filters": { "inboxes": [INBOX_ID], "closed": false },
                });
                if let Some(date) = date {
                    body["date"] = json!(date);
                }
                self.http.post(self.url("/v1/conversations")).json(&body)
            }
            Call::Conversation(id) => self.http.get(self.url(&format!("/v1/conversations/{id}"))),
            Call::Inboxes => self.http.get(self.url("/v1/inboxes")),
            Call::Team => self.http.get(self.url("/v1/team")),
            Call::Contact { phone } => self
                .http
                .post(self.url("/v1/contact/get"))
                .json(&json!({ "phone": phone })),
            Call::History { phone, inbox } => self
                .http
                .get(self.url("/v1/messages"))
                .query(&[("phoneNumber", phone), ("inboxID", &inbox.to_string())]),
        };
        let transport = |source| RestError::Transport {
            call: call.to_string(),
            source,
        };
        let response = request
            .header(reqwest::header::AUTHORIZATION, authorization)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        // A conversation's number need not be a saved contact; the frontend then shows the
        // number, so a 404 here is an answer, not a failure.
        if status == StatusCode::NOT_FOUND && matches!(call, Call::Contact { .. }) {
            return Ok(Value::Null);
        }
        if !status.is_success() {
            return Err(RestError::Status {
                call: call.to_string(),
                status,
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
        }
        serde_json::from_slice(&body).map_err(|source| RestError::Decode {
            call: call.to_string(),
            source,
        })
    }

    /// `Bearer <JWT>`: `{iss, iat}` signed HS256 with `<id>||<key>`, valid for five minutes,
    /// so each screen signs its own.
    fn authorization(&self) -> Result<String, RestError> {
        let Credentials {
            secret_id,
            secret_key,
            ..
        } = &self.credentials;
        let claims = Claims {
            iss: secret_id,
            iat: chrono::Utc::now().timestamp(),
        };
        let key = EncodingKey::from_secret(format!("{secret_id}||{secret_key}").as_bytes());
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)?;
        Ok(format!("Bearer {token}"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// `first`, then a contact look-up and a history per row.
fn rows_calls<'a>(
    rows: &'a [ConversationRow],
    first: impl IntoIterator<Item = Call<'a>>,
) -> Vec<Call<'a>> {
    let per_row = rows.iter().flat_map(|row| {
        [
            Call::Contact { phone: &row.target },
            Call::History {
                phone: &row.target,
                inbox: row.inbox,
            },
        ]
    });
    first.into_iter().chain(per_row).collect()
}

fn decode<T: serde::de::DeserializeOwned>(call: Call<'_>, value: Value) -> Result<T, RestError> {
    serde_json::from_value(value).map_err(|source| RestError::Decode {
        call: call.to_string(),
        source,
    })
}
