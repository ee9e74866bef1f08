//! The dashboard, walk, detail and mine screens built the way a frontend builds them from
//! Heymarket's REST API (the baseline the gateway is measured against): a list call, then the
//! calls each row needs, at most six in flight like a browser's HTTP/1.1 connections to one host.

use std::fmt;

use axum::body::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use heymarket_gateway::config::DEFAULT_MESSAGES_BATCH_LIMIT;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::processes::Credentials;
use crate::{INBOX_ID, MEMBER_ID, PAGE_ROWS, WALK_PAGES};

/// Requests a browser keeps in flight to one host over HTTP/1.1.
pub(crate) const BROWSER_PARALLELISM: usize = 6;
/// The inboxes the dashboard lists.
const DASHBOARD_INBOXES: &[i64] = &[INBOX_ID];

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
    #[error("a listed conversation's `updated` is not RFC 3339: {0}")]
    Timestamp(String),
}

/// The fields of a listed conversation a frontend needs for its follow-up calls.
#[derive(Debug, Deserialize)]
struct ConversationRow {
    id: i64,
    target: String,
    inbox: i64,
    updated: String,
    /// The assignee; unassigned may be 0, null or absent, depending on the reading.
    assigned: Option<i64>,
}

/// The fields of an inbox the mine screen needs.
#[derive(Debug, Deserialize)]
struct InboxRow {
    id: i64,
    members: Vec<i64>,
}

/// One REST call a screen makes.
#[derive(Debug, Clone, Copy)]
enum Call<'a> {
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
    ContactSearch {
        phones: &'a [&'a str],
    },
    TeamMessages {
        created_at: Option<&'a str>,
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
            Self::ContactSearch { phones } => {
                write!(f, "POST /v2/contacts/search ({} phones)", phones.len())
            }
            Self::TeamMessages {
                created_at: Some(created_at),
            } => write!(f, "POST /v1/messages/all (before {created_at})"),
            Self::TeamMessages { created_at: None } => f.write_str("POST /v1/messages/all"),
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

    /// The member's [`PAGE_ROWS`] newest open conversations assigned to them ("mine"): inboxes
    /// (for the member's own) and team at once, then the open list of the member's inboxes,
    /// paged with `date` = the previous page's last `updated`, keeping the member's rows until
    /// it has enough or a page is empty; then the kept rows' calls. It sends no `assigned`: the
    /// upstream may ignore it (the docs do not say), and the rows are checked here either way.
    pub(crate) async fn mine(&self) -> Result<(), RestError> {
        let authorization = self.authorization()?;
        let (inboxes, _team) = futures::try_join!(
            self.send(&authorization, Call::Inboxes),
            self.send(&authorization, Call::Team),
        )?;
        let inboxes: Vec<InboxRow> = decode(Call::Inboxes, inboxes)?;
        let own: Vec<i64> = inboxes
            .iter()
            .filter(|inbox| inbox.members.contains(&MEMBER_ID))
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
                    .filter(|row| row.assigned == Some(MEMBER_ID)),
            );
        }
        kept.truncate(PAGE_ROWS);
        self.fan_out(&authorization, rows_calls(&kept, [])).await
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

    /// The cold gateway's yardstick: the upstream calls it made for a cold dashboard
    /// (`listings` team-wide message listings and `histories` conversation histories), made
    /// directly in their two dependent rounds with every call of a round at once, and only the
    /// first page decoded (for the second round's arguments). Round one: the first list page,
    /// inboxes, team and the newest messages; round two: the next list page, one contact search
    /// for the page's phones, the other listings (spread over the page's rows) and the
    /// histories. Every listing asks for the gateway's default limit, where the gateway's own
    /// planned listings may ask for fewer. No client of the upstream gets the dashboard's data
    /// faster.
    pub(crate) async fn dashboard_floor(
        &self,
        listings: usize,
        histories: usize,
    ) -> Result<(), RestError> {
        let authorization = self.authorization()?;
        let newest = async {
            if listings == 0 {
                return Ok(Bytes::new());
            }
            let call = Call::TeamMessages { created_at: None };
            self.send_raw(&authorization, call).await
        };
        let (rows, _, _, _) = futures::try_join!(
            self.list(&authorization, None),
            self.send_raw(&authorization, Call::Inboxes),
            self.send_raw(&authorization, Call::Team),
            newest,
        )?;
        let phones: Vec<&str> = rows.iter().map(|row| row.target.as_str()).collect();
        let planned = listings.saturating_sub(1);
        let listing_starts: Vec<String> = rows
            .chunks(rows.len().div_ceil(planned.max(1)).max(1))
            .take(planned)
            .map(|group| just_after(&group[0].updated))
            .collect::<Result<_, _>>()?;
        let mut calls = vec![
            Call::List {
                inboxes: DASHBOARD_INBOXES,
                date: rows.last().map(|row| row.updated.as_str()),
            },
            Call::ContactSearch { phones: &phones },
        ];
        calls.extend(listing_starts.iter().map(|created_at| Call::TeamMessages {
            created_at: Some(created_at),
        }));
        calls.extend(
            rows.iter()
                .cycle()
                .take(histories)
                .map(|row| Call::History {
                    phone: &row.target,
                    inbox: row.inbox,
                }),
        );
        futures::future::try_join_all(
            calls
                .into_iter()
                .map(|call| self.send_raw(&authorization, call)),
        )
        .await
        .map(drop)
    }

    /// A page of the dashboard's list, which must be full.
    async fn list(
        &self,
        authorization: &str,
        date: Option<&str>,
    ) -> Result<Vec<ConversationRow>, RestError> {
        let rows = self.page(authorization, DASHBOARD_INBOXES, date).await?;
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

    async fn fan_out(&self, authorization: &str, calls: Vec<Call<'_>>) -> Result<(), RestError> {
        futures::stream::iter(calls)
            .map(|call| self.send(authorization, call))
            .buffer_unordered(BROWSER_PARALLELISM)
            .try_for_each(|_| async { Ok(()) })
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
    async fn send_raw(&self, authorization: &str, call: Call<'_>) -> Result<Bytes, RestError> {
        let request = match call {
            Call::List { inboxes, date } => {
                let mut body = json!({
                    "id": MEMBER_ID,
                    "filters": { "inboxes": inboxes, "closed": false },
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
            Call::ContactSearch { phones } => {
                self.http
                    .post(self.url("/v2/contacts/search"))
                    .json(&json!({
                        "contact_channels": [{ "channel_type": "phone", "channel_ids": phones }]
                    }))
            }
            Call::TeamMessages { created_at } => {
                let mut body = json!({ "limit": DEFAULT_MESSAGES_BATCH_LIMIT });
                if let Some(created_at) = created_at {
                    body["created_at"] = json!(created_at);
                }
                self.http.post(self.url("/v1/messages/all")).json(&body)
            }
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
            return Ok(Bytes::new());
        }
        if !status.is_success() {
            return Err(RestError::Status {
                call: call.to_string(),
                status,
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
        }
        Ok(body)
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

/// The cursor of a team-wide listing that starts with the messages sent at `updated`.
fn just_after(updated: &str) -> Result<String, RestError> {
    let at = chrono::DateTime::parse_from_rfc3339(updated)
        .map_err(|_| RestError::Timestamp(updated.to_owned()))?;
    let after = at.to_utc() + chrono::TimeDelta::microseconds(1);
    Ok(after.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn decode<T: serde::de::DeserializeOwned>(call: Call<'_>, value: Value) -> Result<T, RestError> {
    serde_json::from_value(value).map_err(|source| RestError::Decode {
        call: call.to_string(),
        source,
    })
}
