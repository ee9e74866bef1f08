//! The conformance matrix: the gateway against every reading of the points Heymarket's
//! documentation leaves open (`config::Readings`, docs/upstream-assumptions.md).
//!
//! Each scenario that matters runs on every profile in [`Readings::profiles`], which between
//! them play every value of every open point (a unit test in `config::readings` holds them to
//! it), so a new open point adds a value to a profile, or a profile, and never a test file.
//! Where a scenario needs one value set alone, it sets it over the default readings.
//!
//! | scenario | where | profiles |
//! |---|---|---|
//! | every list walked to its end (several page sizes, ties, filters the upstream may ignore, by assignee), each conversation once, in order | [`walks`] | every |
//! | every list's `totalCount` alone equals its conversations, without a list call, or is `COUNT_UNAVAILABLE` where the count endpoint does not apply its filters | [`walks`] | every |
//! | message walks exact, and more items on one cursor value than a page holds reported as `INCOMPLETE_LISTING` | [`walks`] | every |
//! | `lastMessage` on every row of the dashboard equals the newest message of the conversation's own history | [`last_messages`] | every, and each listing maximum, cursor name and `updated` precision alone |
//! | each member's `unread` is their own, by id and in lists; members share a list page only where its rows name every member's read state, and then an outsider is refused before any page is read | [`read_state`] | every |
//! | every mutation does what it says with exactly the upstream writes it needs, or a user error and none | [`mutations`] | every |
//! | a repeated `idempotencyKey` makes one upstream write: in turn, at once, and across replicas sharing Redis | [`mutations`], `mutations::idempotency` | every |
//! | a message is scheduled, rescheduled and cancelled with one upstream write each, whatever a schedule write answers | [`mutations`] | every |
//! | nothing is sent to an opted-out customer, until `setContactOptOut` opts them in again; unassigning is refused without a write | [`mutations`] | every |
//!
//! [`Readings::profiles`]: heymarket_gateway::config::Readings::profiles

mod last_messages;
mod mutations;
mod read_state;
mod walks;
