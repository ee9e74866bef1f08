//! Injectable faults (latency, 429s, 500s, malformed bodies) for `/v1` and `/v2` routes.
//!
//! Rates are applied by error diffusion rather than chance: each knob accumulates its rate per
//! request and fires whenever the sum reaches one, so a rate of 0.5 fails exactly every other
//! request and tests built on it cannot flake. Rates are kept in parts per million so the sums
//! are exact.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};

const ONE: u32 = 1_000_000;
/// The longest injectable delay; beyond it a request would outlive any client's timeout.
const MAX_LATENCY_MS: u64 = 60_000;

/// The knobs, as `GET|PUT /_sandbox/faults` shows and takes them (missing fields are 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FaultSettings {
    /// Delay before every request is handled, at most 60 s.
    pub(crate) latency_ms: u64,
    /// Share of requests answered 500 `server_error`.
    pub(crate) error_rate: f64,
    /// Share of requests answered 429 `rate_limit_exceeded` (on top of the real limit).
    pub(crate) rate_limit_rate: f64,
    /// Share of successful responses whose body is cut in half (no longer valid JSON).
    pub(crate) malformed_rate: f64,
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
#[derive(Debug, Default)]
pub(crate) struct Faults {
    state: Mutex<State>,
}

impl Faults {
    pub(crate) fn settings(&self) -> FaultSettings {
        self.lock().settings
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
        *self.lock() = State {
            settings,
            errors: Diffuser::new(settings.error_rate),
            rate_limits: Diffuser::new(settings.rate_limit_rate),
            malformed: Diffuser::new(settings.malformed_rate),
        };
        Ok(())
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(self.lock().settings.latency_ms)
    }

    pub(crate) fn inject_rate_limit(&self) -> bool {
        self.lock().rate_limits.fire()
    }

    pub(crate) fn inject_error(&self) -> bool {
        self.lock().errors.fire()
    }

    pub(crate) fn inject_malformed(&self) -> bool {
        self.lock().malformed.fire()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(faults: &Faults, requests: usize) -> Vec<bool> {
        (0..requests).map(|_| faults.inject_error()).collect()
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
