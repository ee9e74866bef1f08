//! Customers writing in at a steady pace, through the sandbox (which fires the webhook), to the
//! SMS inboxes in turn, from a pool of phones: a new customer starts a conversation, a known
//! one continues or reopens theirs.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::changes::{ChangeKind, Tracker};
use crate::frontend::instant;
use crate::requests::inbound;

/// Phones customers write from.
const PHONES: u32 = 2_000;

/// What the customers did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Customers {
    pub(crate) sent: u64,
    pub(crate) failed: u64,
}

/// Sends a customer message every `every` until `until`, registering each with `tracker`.
pub(crate) async fn write_in(
    http: reqwest::Client,
    sandbox_url: String,
    inboxes: Vec<i64>,
    every: Duration,
    until: Instant,
    tracker: std::sync::Arc<Tracker>,
    mut rng: ChaCha8Rng,
) -> Customers {
    let mut customers = Customers::default();
    let mut tick = tokio::time::interval(every);
    let writing = async {
        for sequence in 1.. {
            tick.tick().await;
            let Some(&inbox) = inboxes.get(sequence % inboxes.len().max(1)) else {
                break;
            };
            let phone = format!("1212555{:04}", rng.random_range(0..PHONES));
            let text = format!("Customer message {sequence}");
            let made = std::time::Instant::now();
            let sent = inbound(&http, &sandbox_url, inbox, &phone, &text).await;
            let updated = sent.as_ref().ok().and_then(|(conversation, message)| {
                Some((*conversation, instant(message["date"].as_str()?)?))
            });
            match updated {
                Some((conversation, updated)) => {
                    customers.sent += 1;
                    tracker.message(
                        ChangeKind::Inbound,
                        conversation,
                        inbox,
                        None,
                        updated,
                        made,
                    );
                }
                None => customers.failed += 1,
            }
        }
    };
    let _: Result<(), _> = tokio::time::timeout_at(until, writing).await;
    customers
}
