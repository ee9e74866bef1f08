//! A scripted HTTP server on 127.0.0.1:0 standing in for the upstream in this module's tests:
//! it records every request and answers each from a script, in order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use super::config::{BreakerConfig, UpstreamAuth, UpstreamConfig};
use crate::config::RateBudget;

/// An answer the server gives to one request.
pub(crate) enum Reply {
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Never answers; the client's timeout has to end the request.
    Hang,
    /// Answers according to the request, for requests sent concurrently (whose arrival order
    /// is not known in advance).
    Computed(fn(&Recorded) -> Reply),
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self::Answer {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub(crate) fn raw(status: u16, body: &str) -> Self {
        Self::Answer {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Self::Answer { headers, .. } = &mut self {
            headers.push((name, value.to_owned()));
        }
        self
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    /// The JSON body, `Value::Null` when empty.
    pub(crate) body: Value,
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
}

pub(crate) struct TestServer {
    pub(crate) url: Url,
    script: Arc<Mutex<Script>>,
}

impl TestServer {
    /// Starts serving; requests beyond the script are answered 418, which is never retried.
    pub(crate) async fn start(replies: impl IntoIterator<Item = Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into_iter().collect(),
            requests: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let router = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&script));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, script }
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().requests.clone()
    }

    /// Settings aimed at this server: an API key, quick retries, a budget that never binds.
    pub(crate) fn config(&self) -> UpstreamConfig {
        UpstreamConfig {
            base_url: self.url.clone(),
            auth: UpstreamAuth::ApiKey(SecretString::from("test-api-key")),
            timeout: Duration::from_secs(5),
            max_retries: 2,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            rate_limit: RateBudget {
                requests: 10_000,
                per: Duration::from_secs(1),
            },
            check_ttl: Duration::ZERO,
            breaker: BreakerConfig::default(),
            refused_credential_ttl: Duration::ZERO,
        }
    }
}

async fn answer(State(script): State<Arc<Mutex<Script>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let reply = {
        let mut script = script.lock().unwrap();
        script.requests.push(recorded.clone());
        script.replies.pop_front()
    };
    let reply = match reply {
        Some(Reply::Computed(respond)) => Some(respond(&recorded)),
        other => other,
    };
    match reply {
        Some(Reply::Answer {
            status,
            headers,
            body,
        }) => {
            let mut response = Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response.body(Body::from(body)).unwrap()
        }
        Some(Reply::Hang) => std::future::pending().await,
        Some(Reply::Computed(_)) | None => Response::builder()
            .status(StatusCode::IM_A_TEAPOT)
            .body(Body::empty())
            .unwrap(),
    }
}
