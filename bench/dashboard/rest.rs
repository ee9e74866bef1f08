//! The dashboard, detail and mine screens built the way a frontend builds them from Heymarket's
//! REST API (the baseline the gateway is measured against): a list call, then the calls each row
//! needs, at most six in flight like a browser's HTTP/1.1 connections to one host. Shared with
//! the team benchmark; the dashboard benchmark's walk and floor are in `rest_walk`.

use std::fmt;

use axum::body::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::processes::Credentials;

/// Requests a browser keeps in flight to one host over HTTP/1.1.
pub(crate) const BROWSER_PARALLELISM: usize = 6;
/// Rows per dashboard page, and per sandbox list page.
pub(crate) const PAGE_ROWS: usize = 30;

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
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConversationRow {
    pub(crate) id: i64,
    /// The customer's phone.
    pub(crate) target: String,
    pub(crate) inbox: i64,
    /// `sms` or `email`.
    channel: String,
    /// When it last changed (RFC 3339), its list cursor.
    pub(crate) updated: String,
    /// The assignee; unassigned may be 0, null or absent, depending on the reading.
    pub(crate) assigned: Option<i64>,
}

/// The fields of an inbox the mine screen needs.
#[derive(Debug, Deserialize)]
struct InboxRow {
    id: i64,
    members: Vec<i64>,
}

/// One REST call a screen makes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call<'a> {
    List {
        inboxes: &'a [i64],
        date: Option<&'a str>,
    },
    Conversation(i64),
    Inboxes,
    Team,
    Contact {
        phone: &'a str,
    },
    History {
        phone: &'a str,
        inbox: i64,
    },
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

/// A frontend talking to the upstream directly, as one team member watching one inbox.
#[derive(Debug, Clone)]
pub(crate) struct RestFrontend {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    /// The acting member.
    pub(crate) member: i64,
    /// The inbox whose open conversations the dashboard lists.
    pub(crate) inbox: i64,
}

impl RestFrontend {
    pub(crate) fn new(
        http: reqwest::Client,
        base_url: &str,
        credentials: Credentials,
        member: i64,
        inbox: i64,
    ) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            credentials,
            member,
            inbox,
        }
    }

    /// The open conversations of the dashboard's inbox, then inboxes, team, and each row's
    /// contact and history. Answers the listed rows.
    pub(crate) async fn dashboard(&self) -> Result<Vec<ConversationRow>, RestError> {
        let authorization = self.authorization()?;
        let rows = self.list(&authorization, None).await?;
        self.fan_out(
            &authorization,
            rows_calls(&rows, [Call::Inboxes, Call::Team]),
        )
        .await?;
        Ok(rows)
    }

    /// The member's [`PAGE_ROWS`] newest open conversations assigned to them ("mine"): inboxes
    /// (for the member's own) and team at once, then the open list of the member's inboxes,
    /// paged with `date` = the previous page's last `updated`, keeping the member's rows until
    /// it has enough or a page is empty; then the kept rows' calls. It sends no `assigned`: the
    /// upstream may ignore it (the docs do not say), and the rows are checked here either way.
    /// Answers the kept rows.
    pub(crate) async fn mine(&self) -> Result<Vec<ConversationRow>, RestError> {
        let authorization = self.authorization()?;
        let (inboxes, _team) = futures::try_join!(
            self.send(&authorization, Call::Inboxes),
            self.send(&authorization, Call::Team),
        )?;
        let inboxes: Vec<InboxRow> = decode(Call::Inboxes, inboxes)?;
        let own: Vec<i64> = inboxes
            .iter()
            .filter(|inbox| inbox.members.contains(&self.member))
            .map(|inbox| inbox.id)
            .collect();
        let mut kept = Vec::with_capacity(PAGE_ROWS);
        let mut date: Option<String> = None;
        while kept.len() < PAGE_ROWS {
            let rows = self.page(&authorization, &own, date.as_deref()).await?;
            let Some(last) = rows.last() else {
                break;
            };
            date = Some(last.updated.clone());
            kept.extend(
                rows.into_iter()
                    .filter(|row| row.assigned == Some(self.member)),
            );
        }
        kept.truncate(PAGE_ROWS);
        self.fan_out(&authorization, rows_calls(&kept, [])).await?;
        Ok(kept)
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

    /// A page of the dashboard's list, which must be full.
    pub(crate) async fn list(
        &self,
        authorization: &str,
        date: Option<&str>,
    ) -> Result<Vec<ConversationRow>, RestError> {
        let rows = self
            .page(authorization, std::slice::from_ref(&self.inbox), date)
            .await?;
        if rows.len() == PAGE_ROWS {
            Ok(rows)
        } else {
            Err(RestError::ShortPage { rows: rows.len() })
        }
    }

    /// The open conversations of `inboxes` updated before `date`, as many as the upstream
    /// puts on a page.
    async fn page(
        &self,
        authorization: &str,
        inboxes: &[i64],
        date: Option<&str>,
    ) -> Result<Vec<ConversationRow>, RestError> {
        let call = Call::List { inboxes, date };
        decode(call, self.send(authorization, call).await?)
    }

    pub(crate) async fn fan_out(
        &self,
        authorization: &str,
        calls: Vec<Call<'_>>,
    ) -> Result<(), RestError> {
        // The requests are made before they are streamed: a stream mapped through a closure
        // that borrows `self` makes the future too general to be spawned.
        let requests: Vec<_> = calls
            .into_iter()
            .map(|call| self.send(authorization, call))
            .collect();
        futures::stream::iter(requests)
            .buffer_unordered(BROWSER_PARALLELISM)
            .try_for_each(|_| futures::future::ready(Ok(())))
            .await
    }

    /// Sends `call` and parses its JSON answer, as a frontend would before rendering it.
    async fn send(&self, authorization: &str, call: Call<'_>) -> Result<Value, RestError> {
        let body = self.send_raw(authorization, call).await?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|source| RestError::Decode {
            call: call.to_string(),
            source,
        })
    }

    /// Sends `call` and reads its answer without decoding it; empty for a contact that is not
    /// saved.
    pub(crate) async fn send_raw(
        &self,
        authorization: &str,
        call: Call<'_>,
    ) -> Result<Bytes, RestError> {
        let request = match call {
            Call::List { inboxes, date } => {
                let mut body = json!({
                    "id": self.member,
                    "filters": { "inboxes": inboxes, "closed": false },
                });
                if let Some(date) = date {
                    body["date"] = json!(date);
                }
                self.post("/v1/conversations").json(&body)
            }
            Call::Conversation(id) => self.http.get(self.url(&format!("/v1/conversations/{id}"))),
            Call::Inboxes => self.http.get(self.url("/v1/inboxes")),
            Call::Team => self.http.get(self.url("/v1/team")),
            Call::Contact { phone } => self
                .post("/v1/contact/get")
                .json(&json!({ "phone": phone })),
            Call::History { phone, inbox } => self
                .http
                .get(self.url("/v1/messages"))
                .query(&[("phoneNumber", phone), ("inboxID", &inbox.to_string())]),
        };
        match self
            .exchange(&call.to_string(), request, authorization)
            .await
        {
            // A conversation's number need not be a saved contact; the frontend then shows the
            // number, so a 404 here is an answer, not a failure.
            Err(RestError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            }) if matches!(call, Call::Contact { .. }) => Ok(Bytes::new()),
            answered => answered,
        }
    }

    /// Sends `request`, named `call` in errors, with `authorization`, and reads its answer
    /// without decoding it; an answer other than 2xx is an error.
    pub(crate) async fn exchange(
        &self,
        call: &str,
        request: RequestBuilder,
        authorization: &str,
    ) -> Result<Bytes, RestError> {
        let transport = |source| RestError::Transport {
            call: call.to_owned(),
            source,
        };
        let response = request
            .header(reqwest::header::AUTHORIZATION, authorization)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(RestError::Status {
                call: call.to_owned(),
                status,
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
        }
        Ok(body)
    }

    /// A POST to `path` of the upstream, its body and credentials still to come.
    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path))
    }

    /// `Bearer <JWT>`: `{iss, iat}` signed HS256 with `<id>||<key>`, valid for five minutes,
    /// so each screen signs its own.
    pub(crate) fn authorization(&self) -> Result<String, RestError> {
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

/// `first`, then a history per row, after a contact look-up for a phone (an email
/// conversation's target is the address itself, which the contact look-up does not take).
pub(crate) fn rows_calls<'a>(
    rows: &'a [ConversationRow],
    first: impl IntoIterator<Item = Call<'a>>,
) -> Vec<Call<'a>> {
    let per_row = rows.iter().flat_map(|row| {
        let contact = (row.channel != "email").then_some(Call::Contact { phone: &row.target });
        contact.into_iter().chain([Call::History {
            phone: &row.target,
            inbox: row.inbox,
        }])
    });
    first.into_iter().chain(per_row).collect()
}

fn decode<T: serde::de::DeserializeOwned>(call: Call<'_>, value: Value) -> Result<T, RestError> {
    serde_json::from_value(value).map_err(|source| RestError::Decode {
        call: call.to_string(),
        source,
    })
}
