//! Injectable faults (latency, 429s, 500s, malformed bodies) for `/v1` and `/v2` routes.
//!
//! Rates are applied by error diffusion rather than chance: each knob accumulates its rate per
//! request and fires whenever the sum reaches one, so a rate of 0.5 fails exactly every other
//! request and tests built on it cannot flake. Rates are kept in parts per million so the sums
//! are exact.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::error::{ApiError, ApiResult};

const ONE: u32 = 1_000_000;
/// The longest injectable delay; beyond it a request would outlive any client's timeout.
const MAX_LATENCY_MS: u64 = 60_000;

/// The knobs, as `GET|PUT /_sandbox/faults` shows and takes them (missing fields are 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FaultSettings {
    /// The routes the faults apply to, as `/_sandbox/stats` names them (`POST
    /// /v1/message/send`); every route when empty.
    pub(crate) routes: Vec<String>,
    /// Delay before every request is handled, at most 60 s.
    pub(crate) latency_ms: u64,
    /// Share of requests answered 500 `server_error`.
    pub(crate) error_rate: f64,
    /// Share of requests answered 429 `rate_limit_exceeded` (on top of the real limit).
    pub(crate) rate_limit_rate: f64,
    /// Share of successful responses whose body is cut in half (no longer valid JSON).
    pub(crate) malformed_rate: f64,
    /// Webhook events wait in their queue, in order, until this is false again (so a test can
    /// have an event arrive after a given moment). Not narrowed by `routes`.
    pub(crate) webhooks_held: bool,
}

/// One knob's error-diffusion state.
#[derive(Debug, Default)]
struct Diffuser {
    rate: u32,
    accumulated: u32,
}

impl Diffuser {
    fn new(rate: f64) -> Self {
        // `rate` is validated to 0..=1 first, so the product fits a u32.
        Self {
            rate: (rate * f64::from(ONE)).round() as u32,
            accumulated: 0,
        }
    }

    fn fire(&mut self) -> bool {
        self.accumulated += self.rate;
        let fired = self.accumulated >= ONE;
        if fired {
            self.accumulated -= ONE;
        }
        fired
    }
}

#[derive(Debug, Default)]
struct State {
    settings: FaultSettings,
    errors: Diffuser,
    rate_limits: Diffuser,
    malformed: Diffuser,
}

/// The current knobs and their diffusion state, shared by all requests.
#[derive(Debug)]
pub(crate) struct Faults {
    state: Mutex<State>,
    /// `webhooks_held`, for the webhook worker to wait on.
    webhooks_held: watch::Sender<bool>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            webhooks_held: watch::Sender::new(false),
        }
    }
}

impl Faults {
    /// Whether webhook events are held back, as it changes.
    pub(crate) fn webhooks_held(&self) -> watch::Receiver<bool> {
        self.webhooks_held.subscribe()
    }

    pub(crate) fn settings(&self) -> FaultSettings {
        self.lock().settings.clone()
    }

    /// Replaces every knob and restarts the diffusion, so a new setting behaves the same way
    /// whatever came before.
    pub(crate) fn replace(&self, settings: FaultSettings) -> ApiResult<()> {
        let rates = [
            ("error_rate", settings.error_rate),
            ("rate_limit_rate", settings.rate_limit_rate),
            ("malformed_rate", settings.malformed_rate),
        ];
        if settings.latency_ms > MAX_LATENCY_MS {
            return Err(ApiError::bad_data(format!(
                "latency_ms must be at most {MAX_LATENCY_MS}"
            )));
        }
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ApiError::bad_data(format!(
                    "{name} must be between 0 and 1"
                )));
            }
        }
        self.webhooks_held.send_replace(settings.webhooks_held);
        *self.lock() = State {
            errors: Diffuser::new(settings.error_rate),
            rate_limits: Diffuser::new(settings.rate_limit_rate),
            malformed: Diffuser::new(settings.malformed_rate),
            settings,
        };
        Ok(())
    }

    /// The delay before a request to `route` is handled.
    pub(crate) fn latency(&self, route: &str) -> Duration {
        let state = self.lock();
        if !state.applies_to(route) {
            return Duration::ZERO;
        }
        Duration::from_millis(state.settings.latency_ms)
    }

    pub(crate) fn inject_rate_limit(&self, route: &str) -> bool {
        self.fire(route, |state| &mut state.rate_limits)
    }

    pub(crate) fn inject_error(&self, route: &str) -> bool {
        self.fire(route, |state| &mut state.errors)
    }

    pub(crate) fn inject_malformed(&self, route: &str) -> bool {
        self.fire(route, |state| &mut state.malformed)
    }

    /// Whether a knob fires for a request to `route`; requests to other routes leave it as it
    /// was.
    fn fire(&self, route: &str, knob: impl FnOnce(&mut State) -> &mut Diffuser) -> bool {
        let mut state = self.lock();
        state.applies_to(route) && knob(&mut state).fire()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn applies_to(&self, route: &str) -> bool {
        let routes = &self.settings.routes;
        routes.is_empty() || routes.iter().any(|named| named == route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(faults: &Faults, requests: usize) -> Vec<bool> {
        (0..requests)
            .map(|_| faults.inject_error("GET /v1/team"))
            .collect()
    }

    #[test]
    fn rates_fire_at_exact_intervals() {
        let faults = Faults::default();
        assert_eq!(pattern(&faults, 3), [false, false, false]);
        faults
            .replace(FaultSettings {
                error_rate: 0.5,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(pattern(&faults, 6), [false, true, false, true, false, true]);
        faults
            .replace(FaultSettings {
                error_rate: 0.1,
                ..Default::default()
            })
            .unwrap();
        let fired = pattern(&faults, 100).iter().filter(|&&f| f).count();
        assert_eq!(fired, 10);
        faults
            .replace(FaultSettings {
                error_rate: 1.0,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(pattern(&faults, 3), [true, true, true]);
    }

    #[test]
    fn faults_limited_to_routes_spare_the_others() {
        let faults = Faults::default();
        faults
            .replace(FaultSettings {
                routes: vec!["POST /v1/message/send".to_owned()],
                latency_ms: 10,
                error_rate: 0.5,
                ..Default::default()
            })
            .unwrap();
        let send = "POST /v1/message/send";
        let errors: Vec<bool> = ["GET /v1/team", send, "GET /v1/team", send]
            .iter()
            .map(|route| faults.inject_error(route))
            .collect();
        assert_eq!(errors, [false, false, false, true]);
        assert_eq!(faults.latency("GET /v1/team"), Duration::ZERO);
        assert_eq!(faults.latency(send), Duration::from_millis(10));
        assert!(!*faults.webhooks_held().borrow(), "its own knob");
    }

    #[test]
    fn rates_outside_zero_to_one_and_endless_latency_are_refused() {
        let faults = Faults::default();
        let endless = FaultSettings {
            latency_ms: u64::MAX,
            ..Default::default()
        };
        assert!(matches!(faults.replace(endless), Err(ApiError::BadData(_))));
        for bad in [-0.1, 1.5, f64::NAN] {
            let settings = FaultSettings {
                malformed_rate: bad,
                ..Default::default()
            };
            assert!(matches!(
                faults.replace(settings),
                Err(ApiError::BadData(_))
            ));
        }
    }
}
