//! The pooled upstream client and its per-tenant handles. Every call goes through one `send()`
//! that checks the operation's budget, asks the circuit breaker, authorises, rate-limits, times
//! out, retries, logs, counts and decodes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::future::Cache;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, Span, field};
use url::Url;

use super::auth::Credential;
use super::breaker::{Breaker, BreakerState, Outcome, Permit};
use super::config::{UpstreamAuth, UpstreamConfig};
use super::error::parse_retry_after;
use super::observer::{CallObserver, Unobserved};
use super::rate_limit::{RateLimiter, RateSchedule, SharedBudget};
use super::retry::{CallKind, RetryPolicy};
use super::{Error, TenantKey};

/// Most refused pass-through credentials remembered at once; the oldest go first.
const REFUSED_CREDENTIALS_CAPACITY: u64 = 100_000;

/// Correlates our logs with the upstream's, in both directions.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const USER_AGENT: &str = concat!("heymarket-gateway/", env!("CARGO_PKG_VERSION"));

/// The shared, pooled client: one per process, cheap to clone.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    metrics: Arc<dyn CallObserver>,
}

struct Shared {
    http: reqwest::Client,
    base_url: Url,
    /// The gateway-held credential; `None` in pass-through mode.
    credential: Option<Credential>,
    timeout: Duration,
    retry: RetryPolicy,
    limiter: RateLimiter,
    /// One for the whole upstream, across tenants (see `breaker`).
    breaker: Breaker,
    /// Pass-through mode: callers' credentials the upstream recently refused, answered
    /// [`Error::Unauthorized`] without another call. `None` with a credential of our own, or
    /// when refusals are not remembered.
    refused: Option<Cache<TenantKey, ()>>,
}

impl Client {
    /// Builds the client from its settings, with a rate limiter of this process's own. Fails
    /// when the configured credential cannot be sent in a header or the base URL cannot take a
    /// path, so bad settings stop start-up.
    pub fn new(config: &UpstreamConfig) -> Result<Self, Error> {
        Self::build(config, RateLimiter::new(config.rate_limit))
    }

    /// Like [`Client::new`], but each tenant's budget is shared with every replica that draws
    /// from the same [`SharedBudget`] (`shared` builds it on the schedule for
    /// `config.rate_limit`), so together they stay within that budget. Whenever the shared
    /// budget fails, this process's own limiter paces the calls instead (the limiter fails
    /// open, never shut).
    pub fn with_shared_budget<B: SharedBudget>(
        config: &UpstreamConfig,
        shared: impl FnOnce(RateSchedule) -> B,
    ) -> Result<Self, Error> {
        Self::build(config, RateLimiter::shared(config.rate_limit, shared))
    }

    fn build(config: &UpstreamConfig, limiter: RateLimiter) -> Result<Self, Error> {
        if config.base_url.cannot_be_a_base() {
            return Err(Error::InvalidBaseUrl);
        }
        let credential = match &config.auth {
            UpstreamAuth::Secret { id, key } => Some(Credential::secret(id, key)),
            UpstreamAuth::ApiKey(key) => Some(Credential::api_key(key)?),
            UpstreamAuth::PassThrough => None,
        };
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .build()
            .map_err(Error::from_transport)?;
        let refused =
            (credential.is_none() && !config.refused_credential_ttl.is_zero()).then(|| {
                Cache::builder()
                    .max_capacity(REFUSED_CREDENTIALS_CAPACITY)
                    .time_to_live(config.refused_credential_ttl)
                    .build()
            });
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                base_url: config.base_url.clone(),
                credential,
                timeout: config.timeout,
                retry: RetryPolicy::new(config),
                limiter,
                breaker: Breaker::new(config.breaker),
                refused,
            }),
            metrics: Arc::new(Unobserved),
        })
    }

    /// Reports every attempt to `metrics` (a client built without this keeps its numbers to
    /// itself).
    pub fn with_metrics(mut self, metrics: impl CallObserver) -> Self {
        self.metrics = Arc::new(metrics);
        self
    }

    /// A handle that calls as one tenant. With a gateway-held credential that credential is
    /// used and `caller_bearer` is ignored; in pass-through mode the caller's bearer token
    /// (without the `Bearer ` prefix) is forwarded, and its absence is
    /// [`Error::MissingCredential`], and a bearer the upstream refused in the last
    /// `--refused-credential-ttl` is [`Error::Unauthorized`] at once.
    pub fn tenant(&self, caller_bearer: Option<SecretString>) -> Result<TenantClient, Error> {
        let credential = match (&self.shared.credential, caller_bearer) {
            (Some(configured), _) => configured.clone(),
            (None, Some(bearer)) => Credential::caller_bearer(&bearer)?,
            (None, None) => return Err(Error::MissingCredential),
        };
        if let Some(refused) = &self.shared.refused
            && refused.contains_key(&credential.tenant())
        {
            return Err(Error::Unauthorized);
        }
        Ok(TenantClient {
            shared: Arc::clone(&self.shared),
            metrics: Arc::clone(&self.metrics),
            credential,
            request_id: None,
            call_log: None,
            waits_for_budget: true,
        })
    }

    /// Whether the upstream answers HTTP at all, asked without a credential (pass-through mode
    /// holds none of its own to check): any status will do; a failed connection or a timeout
    /// will not. Not retried, not counted against the budget.
    pub async fn reachable(&self) -> Result<(), Error> {
        let url = self.shared.url_for("/v1/team")?;
        self.shared
            .http
            .get(url)
            .timeout(self.shared.timeout)
            .send()
            .await
            .map(drop)
            .map_err(Error::from_transport)
    }

    /// Whether calls currently reach the upstream, for health reports and metrics.
    pub fn breaker_state(&self) -> BreakerState {
        self.shared.breaker.state()
    }
}

impl Shared {
    fn url_for(&self, path: &str) -> Result<Url, Error> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidBaseUrl)?
            .pop_if_empty()
            .extend(path.split('/').filter(|segment| !segment.is_empty()));
        Ok(url)
    }
}

/// Calls the upstream as one tenant; cheap to clone, one per GraphQL request.
#[derive(Clone)]
pub struct TenantClient {
    shared: Arc<Shared>,
    metrics: Arc<dyn CallObserver>,
    credential: Credential,
    request_id: Option<String>,
    /// Where this handle's calls are also counted, for reporting one operation's cost.
    call_log: Option<Arc<CallLog>>,
    /// Whether a call waits for the rate budget (else it fails at once while the budget is
    /// spent).
    waits_for_budget: bool,
}

impl TenantClient {
    /// Where this client's calls, and what their answers held, are counted.
    pub(crate) fn metrics(&self) -> &dyn CallObserver {
        &*self.metrics
    }

    /// Calls fail at once with [`Error::RateLimited`] while the rate budget is spent, instead
    /// of waiting for it: for checks that must answer quickly, and must not take a permit
    /// that client traffic is waiting for.
    pub fn without_waiting(mut self) -> Self {
        self.waits_for_budget = false;
        self
    }

    /// Sends this id upstream as `X-Request-Id` and logs it with every call. An id that
    /// cannot be a header value is only logged.
    pub fn with_request_id(mut self, request_id: String) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// The id sent upstream with this handle's calls, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Also counts this handle's calls in `log`.
    pub fn with_call_log(mut self, log: Arc<CallLog>) -> Self {
        self.call_log = Some(log);
        self
    }

    /// The partition this handle's calls, and anything cached from them, belong to.
    pub fn tenant_key(&self) -> TenantKey {
        self.credential.tenant()
    }

    /// Sends `call`, retrying as its kind allows, and decodes the answer. While the circuit
    /// breaker is open, the call (or its next retry) fails at once with
    /// [`Error::CircuitOpen`], without touching the network or the rate budget.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        let span = tracing::info_span!(
            "upstream",
            method = %call.route.method,
            route = call.route.template,
            request_id = self.request_id.as_deref(),
            tenant = %self.credential.tenant(),
            attempt = field::Empty,
            status = field::Empty,
            upstream_request_id = field::Empty,
        );
        async {
            let url = self.shared.url_for(&call.path)?;
            let route = call.route.label();
            let retry = self.shared.retry;
            let mut retries_done = 0;
            // The last attempt's failure, returned if the operation's budget has no room for
            // another attempt.
            let mut failed = None;
            loop {
                Span::current().record("attempt", retries_done + 1);
                let permit = match self.clear_attempt().await {
                    Ok(permit) => permit,
                    Err(error @ Error::CircuitOpen { .. }) => return Err(error),
                    // A retry that cannot go ends with the failure it would have retried.
                    Err(refusal) => return Err(failed.unwrap_or(refusal)),
                };
                if let Some(log) = &self.call_log {
                    log.record(&route);
                }
                let started = Instant::now();
                let answer = self.attempt(&call, &url, &route).await;
                if let Some(log) = &self.call_log {
                    log.record_time(started.elapsed());
                }
                permit.record(Outcome::of(&answer));
                let error = match answer {
                    Ok(answer) => return Ok(answer),
                    Err(error) => error,
                };
                if let (Error::Unauthorized, Some(refused)) = (&error, &self.shared.refused) {
                    refused.insert(self.credential.tenant(), ()).await;
                }
                let next = retry.next_delay(call.kind, retries_done, &error, &mut rand::rng());
                let Some(delay) = next else { return Err(error) };
                tracing::warn!(%error, delay_ms = delay.as_millis(), "retrying upstream call");
                tokio::time::sleep(delay).await;
                failed = Some(error);
                retries_done += 1;
            }
        }
        .instrument(span)
        .await
    }

    /// Clears one attempt to go: it fits the operation's budget, the circuit breaker lets it
    /// through, and the rate budget has a permit for it (waited for, unless this handle does
    /// not wait). A refused attempt takes nothing from the operation's budget.
    async fn clear_attempt(&self) -> Result<Permit<'_>, Error> {
        if let Some(log) = &self.call_log
            && !log.reserve()
        {
            let budget = log.budget();
            tracing::debug!(
                budget,
                "upstream call refused: the operation's budget is spent"
            );
            return Err(Error::BudgetSpent { budget });
        }
        let cleared = self.admit_upstream().await;
        if cleared.is_err()
            && let Some(log) = &self.call_log
        {
            log.release();
        }
        cleared
    }

    /// The circuit breaker's permit, once the rate budget has one too.
    async fn admit_upstream(&self) -> Result<Permit<'_>, Error> {
        let permit = self.shared.breaker.admit()?;
        let tenant = self.credential.tenant();
        if !self.waits_for_budget {
            if !self.shared.limiter.try_acquire(&tenant).await {
                return Err(Error::RateLimited { retry_after: None });
            }
        } else if self.shared.limiter.acquire(&tenant).await {
            self.metrics.count_rate_limit_wait();
        }
        Ok(permit)
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        call: &Call,
        url: &Url,
        route: &str,
    ) -> Result<T, Error> {
        let mut request = self
            .shared
            .http
            .request(call.route.method.clone(), url.clone())
            .timeout(self.shared.timeout)
            .header(AUTHORIZATION, self.credential.header()?)
            .header(ACCEPT, "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(id) = self
            .request_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            request = request.header(REQUEST_ID, id);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        let started = Instant::now();
        let sent = request.send().await.map_err(Error::from_transport);
        let status_label = match &sent {
            Ok(response) => response.status().as_str().to_owned(),
            Err(Error::Timeout) => "timeout".to_owned(),
            Err(Error::Transport { connect: true, .. }) => "connect_error".to_owned(),
            Err(_) => "transport_error".to_owned(),
        };
        self.metrics.observe(route, status_label, started.elapsed());
        let response = sent?;
        let status = response.status();
        let span = Span::current();
        span.record("status", status.as_u16());
        if let Some(id) = response
            .headers()
            .get(REQUEST_ID)
            .and_then(|id| id.to_str().ok())
        {
            span.record("upstream_request_id", id);
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis(),
            "upstream answered"
        );

        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(parse_retry_after);
            let body = if status == StatusCode::BAD_REQUEST {
                response.bytes().await.unwrap_or_default()
            } else {
                Default::default()
            };
            return Err(Error::from_status(status, retry_after, &body));
        }
        let body = response.bytes().await.map_err(Error::from_transport)?;
        // An empty success (a 204) reads as `null`: only answers that may be nothing accept it.
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &body
        };
        serde_json::from_slice(body).map_err(|err| Error::decode(route.to_owned(), &err))
    }
}

/// An endpoint: its method and path template, which key the call counts and the logs.
pub(crate) struct Route {
    method: Method,
    template: &'static str,
}

impl Route {
    pub(crate) const fn get(template: &'static str) -> Self {
        Self {
            method: Method::GET,
            template,
        }
    }

    pub(crate) const fn post(template: &'static str) -> Self {
        Self {
            method: Method::POST,
            template,
        }
    }

    pub(crate) const fn put(template: &'static str) -> Self {
        Self {
            method: Method::PUT,
            template,
        }
    }

    pub(crate) const fn delete(template: &'static str) -> Self {
        Self {
            method: Method::DELETE,
            template,
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// One logical call: the endpoint, the concrete path, query and body, and how safe it is to
/// send again.
pub(crate) struct Call {
    route: &'static Route,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    kind: CallKind,
}

impl Call {
    /// A call to `route` at its template path (for templates without parameters).
    pub(crate) fn new(route: &'static Route, kind: CallKind) -> Self {
        Self {
            route,
            path: route.template.to_owned(),
            query: Vec::new(),
            body: None,
            kind,
        }
    }

    /// The concrete path, for templates with parameters.
    pub(crate) fn at(mut self, path: String) -> Self {
        self.path = path;
        self
    }

    pub(crate) fn query(mut self, name: &'static str, value: String) -> Self {
        self.query.push((name, value));
        self
    }

    /// A JSON body, serialised once and re-sent as is by retries.
    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|err| Error::Encode {
            route: self.route.label(),
            reason: err.to_string(),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// Requests one operation sent per route (see [`TenantClient::with_call_log`]), with the time
/// they took, and the budget that bounds them: every attempt (retries included) takes one call
/// from it before it is sent, and none is sent once it is spent.
///
/// Only calls this operation sends count. A look-up answered from the shared caches, or by a
/// call another operation already has in flight, costs it nothing: the call belongs to the
/// operation whose handle sent it.
pub struct CallLog {
    counts: Mutex<BTreeMap<String, u64>>,
    /// Time spent in attempts, summed over concurrent ones (so it may exceed the wall time).
    elapsed_micros: AtomicU64,
    /// Most calls the operation may send; `u64::MAX` for no bound.
    budget: u64,
    /// Calls sent (or about to be) since the budget was last renewed.
    spent: AtomicU64,
}

impl Default for CallLog {
    /// A log without a budget.
    fn default() -> Self {
        Self::with_budget(u64::MAX)
    }
}

impl CallLog {
    /// A log that lets its operation send at most `budget` calls.
    pub fn with_budget(budget: u64) -> Self {
        Self {
            counts: Mutex::default(),
            elapsed_micros: AtomicU64::new(0),
            budget,
            spent: AtomicU64::new(0),
        }
    }

    /// The most calls the operation may send.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Gives the whole budget back: what follows is answered as if it were a new operation
    /// (a subscription's next event). The counts reported are kept.
    pub fn renew_budget(&self) {
        self.spent.store(0, Ordering::Relaxed);
    }

    /// Takes one call from the budget; false, taking nothing, when it is spent.
    fn reserve(&self) -> bool {
        self.spent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
                (spent < self.budget).then_some(spent + 1)
            })
            .is_ok()
    }

    /// Returns a call taken by [`Self::reserve`] that was not sent after all.
    fn release(&self) {
        let _ = self
            .spent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
                spent.checked_sub(1)
            });
    }

    fn record(&self, route: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        match counts.get_mut(route) {
            Some(count) => *count += 1,
            None => {
                counts.insert(route.to_owned(), 1);
            }
        }
    }

    fn record_time(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.elapsed_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Time spent waiting for upstream answers (only counted where a caller asked for a log).
    pub fn elapsed(&self) -> Duration {
        Duration::from_micros(self.elapsed_micros.load(Ordering::Relaxed))
    }

    /// The counts so far, keyed `METHOD path-template`.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
