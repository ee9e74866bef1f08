//! How long to wait before trying Redis again: bounded exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

use crate::backoff::ExponentialBackoff;

/// Delays from 100 ms up to 2 s: the longest is also how late, at worst, a replica notices
/// that Redis is back.
const DELAYS: ExponentialBackoff = ExponentialBackoff {
    first: Duration::from_millis(100),
    most: Duration::from_secs(2),
};

/// Delays that double with each consecutive failure (see [`DELAYS`]), with "equal jitter", so
/// replicas that lost Redis together do not reconnect in lockstep, yet none retries at once in
/// a tight loop.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt; each call counts one more failure.
    pub(crate) fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let delay = DELAYS.equal_jitter(self.failures, rng);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Starts over after a success.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn delays_double_within_their_jitter_up_to_the_bound() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut backoff = Backoff::default();
        for ceiling in [100, 200, 400, 800, 1600].into_iter().chain([2000; 40]) {
            let delay = backoff.next_delay(&mut rng);
            let ceiling = Duration::from_millis(ceiling);
            assert!(
                ceiling / 2 <= delay && delay <= ceiling,
                "{delay:?} outside the jitter under {ceiling:?}"
            );
        }
    }

    #[test]
    fn a_success_starts_the_delays_over() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut backoff = Backoff::default();
        for _ in 0..10 {
            backoff.next_delay(&mut rng);
        }
        backoff.reset();
        assert!(backoff.next_delay(&mut rng) <= DELAYS.first);
    }
}
