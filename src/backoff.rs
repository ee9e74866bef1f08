//! Exponential backoff with jitter, shared by everything that waits before trying again (the
//! upstream's retries, Redis reconnections).

use std::time::Duration;

use rand::Rng;

/// Delays that double from `first` with each attempt, up to `most`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExponentialBackoff {
    pub(crate) first: Duration,
    pub(crate) most: Duration,
}

impl ExponentialBackoff {
    /// `min(most, first * 2^attempt)`, without overflow.
    pub(crate) fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1_u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.most)
    }

    /// "Full jitter": uniform in `[0, ceiling(attempt)]`, which spreads retries the most.
    pub(crate) fn full_jitter(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = nanos(self.ceiling(attempt));
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }

    /// "Equal jitter": uniform in `[ceiling / 2, ceiling]`, spread out yet never at once.
    pub(crate) fn equal_jitter(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = nanos(self.ceiling(attempt));
        Duration::from_nanos(rng.random_range(ceiling / 2..=ceiling))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const BACKOFF: ExponentialBackoff = ExponentialBackoff {
        first: Duration::from_millis(100),
        most: Duration::from_secs(2),
    };

    #[test]
    fn the_ceiling_doubles_then_caps_without_overflow() {
        let ms = Duration::from_millis;
        let ceilings: Vec<Duration> = (0..7).map(|attempt| BACKOFF.ceiling(attempt)).collect();
        assert_eq!(
            ceilings,
            [
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(2000),
                ms(2000)
            ]
        );
        assert_eq!(BACKOFF.ceiling(200), ms(2000));
    }

    #[test]
    fn full_jitter_spreads_from_zero_to_the_ceiling() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..8 {
            let ceiling = BACKOFF.ceiling(attempt);
            let delays: Vec<Duration> = (0..2_000)
                .map(|_| BACKOFF.full_jitter(attempt, &mut rng))
                .collect();
            assert!(delays.iter().any(|delay| *delay < ceiling / 10), "near 0");
            assert!(
                delays.iter().any(|delay| *delay > ceiling * 9 / 10),
                "near the ceiling"
            );
        }
    }

    #[test]
    fn each_jitter_stays_within_its_range() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..10 {
            let ceiling = BACKOFF.ceiling(attempt);
            for _ in 0..100 {
                assert!(BACKOFF.full_jitter(attempt, &mut rng) <= ceiling);
                let equal = BACKOFF.equal_jitter(attempt, &mut rng);
                assert!(
                    ceiling / 2 <= equal && equal <= ceiling,
                    "{equal:?} under {ceiling:?}"
                );
            }
        }
    }
}
