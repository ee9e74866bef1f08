//! What the upstream client reports about its calls, to whoever counts them (the gateway's
//! metrics implement [`CallObserver`]); the client itself knows nothing of how they are kept.

use std::time::Duration;

/// Told of every upstream attempt, and of what answers held.
pub trait CallObserver: Send + Sync + 'static {
    /// One attempt at `route` (`METHOD path-template`) ended with `status` (a code, `timeout`,
    /// `connect_error` or `transport_error`) after `elapsed`.
    fn observe(&self, route: &str, status: String, elapsed: Duration);

    /// One call had to wait for the client-side rate budget.
    fn count_rate_limit_wait(&self);

    /// One row an upstream list returned although `filter`, which it was sent, excludes it.
    fn count_ignored_filter_row(&self, filter: &'static str);
}

/// The observer of a client built without one: its numbers go nowhere.
pub(super) struct Unobserved;

impl CallObserver for Unobserved {
    fn observe(&self, _route: &str, _status: String, _elapsed: Duration) {}

    fn count_rate_limit_wait(&self) {}

    fn count_ignored_filter_row(&self, _filter: &'static str) {}
}
