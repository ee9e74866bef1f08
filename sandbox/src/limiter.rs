//! The per-team request budget: a sliding log of accepted request instants.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::config::RateBudget;

/// Accepts at most `budget.requests` requests in any window of length `budget.per`.
/// Refused requests are not logged, so they do not spend the budget.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    budget: RateBudget,
    accepted: Mutex<VecDeque<Instant>>,
}

impl SlidingWindow {
    pub(crate) fn new(budget: RateBudget) -> Self {
        Self {
            budget,
            accepted: Mutex::new(VecDeque::new()),
        }
    }

    /// Records a request at `now` and says whether it fits the budget.
    pub(crate) fn try_acquire(&self, now: Instant) -> bool {
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        while accepted
            .front()
            .is_some_and(|&oldest| now.saturating_duration_since(oldest) >= self.budget.per)
        {
            accepted.pop_front();
        }
        if accepted.len() < self.budget.requests as usize {
            accepted.push_back(now);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_budget_holds_in_any_window_and_refusals_are_free() {
        let window = SlidingWindow::new(RateBudget {
            requests: 3,
            per: Duration::from_secs(10),
        });
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert!(window.try_acquire(at(0)));
        assert!(window.try_acquire(at(4)));
        assert!(window.try_acquire(at(6)));
        assert!(!window.try_acquire(at(7)));
        assert!(!window.try_acquire(at(9)));
        // The request at 0 leaves the window at 10; the refusals at 7 and 9 spent nothing.
        assert!(window.try_acquire(at(10)));
        assert!(!window.try_acquire(at(13)));
        assert!(window.try_acquire(at(14)));
    }
}
