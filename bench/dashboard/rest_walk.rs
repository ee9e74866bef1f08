//! The REST side of what only the dashboard benchmark measures: the five-page walk a frontend
//! pages with `date`, and the cold dashboard's upstream calls made directly in two rounds.

use axum::body::Bytes;
use futures::future::BoxFuture;
use heymarket_gateway::config::CacheConfig;
use serde_json::json;

use crate::WALK_PAGES;
use crate::rest::{Call, RestError, RestFrontend, rows_calls};

/// Why the floor's calls could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FloorError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error("a listed conversation's `updated` is not RFC 3339: {0}")]
    Timestamp(String),
}

impl RestFrontend {
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
    ) -> Result<(), FloorError> {
        let authorization = self.authorization()?;
        let newest = async {
            if listings == 0 {
                return Ok(Bytes::new());
            }
            self.team_messages(&authorization, None).await
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
        let next_page = Call::List {
            inboxes: std::slice::from_ref(&self.inbox),
            date: rows.last().map(|row| row.updated.as_str()),
        };
        let search = self.post("/v2/contacts/search").json(&json!({
            "contact_channels": [{ "channel_type": "phone", "channel_ids": phones }]
        }));
        let search_call = format!("POST /v2/contacts/search ({} phones)", phones.len());
        let mut calls: Vec<BoxFuture<'_, Result<Bytes, RestError>>> = vec![
            Box::pin(self.send_raw(&authorization, next_page)),
            Box::pin(self.exchange(&search_call, search, &authorization)),
        ];
        for created_at in &listing_starts {
            calls.push(Box::pin(
                self.team_messages(&authorization, Some(created_at)),
            ));
        }
        for row in rows.iter().cycle().take(histories) {
            let history = Call::History {
                phone: &row.target,
                inbox: row.inbox,
            };
            calls.push(Box::pin(self.send_raw(&authorization, history)));
        }
        futures::future::try_join_all(calls).await?;
        Ok(())
    }

    /// One team-wide message listing of the gateway's default size, of the messages created
    /// before `created_at` (the newest when `None`).
    async fn team_messages(
        &self,
        authorization: &str,
        created_at: Option<&str>,
    ) -> Result<Bytes, RestError> {
        let mut body = json!({ "limit": CacheConfig::default().messages_batch_limit });
        let call = match created_at {
            Some(created_at) => {
                body["created_at"] = json!(created_at);
                format!("POST /v1/messages/all (before {created_at})")
            }
            None => "POST /v1/messages/all".to_owned(),
        };
        let request = self.post("/v1/messages/all").json(&body);
        self.exchange(&call, request, authorization).await
    }
}

/// The cursor of a team-wide listing that starts with the messages sent at `updated`.
fn just_after(updated: &str) -> Result<String, FloorError> {
    let at = chrono::DateTime::parse_from_rfc3339(updated)
        .map_err(|_| FloorError::Timestamp(updated.to_owned()))?;
    let after = at.to_utc() + chrono::TimeDelta::microseconds(1);
    Ok(after.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}
