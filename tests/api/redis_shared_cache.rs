//! The store replicas share cache entries through, in a real Redis: an entry is kept by the
//! epochs it names, which the events that reach it move on, and a value once left behind is
//! never read again.

use std::time::Duration;

use heymarket_gateway::events::{BusStatus, Event, EventBus, EventKind};
use heymarket_gateway::redis::{
    EVENTS_CHANNEL, Epoch, RedisConnection, RedisSharedCache, SharedEntry, SharedStore, Slot,
};
use serde_json::json;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::redis_support::{RedisServer, Replica, event, next_id, publish, until_up};

/// The team of the events `redis_support::event` makes.
const TEAM: i64 = 101;

/// A Redis server, a replica listening on its event channel, and a store of its own.
struct Shared {
    server: RedisServer,
    replica: Replica,
    store: RedisSharedCache,
    _stop: DropGuard,
}

impl Shared {
    async fn start() -> Option<Self> {
        let server = RedisServer::start().await?;
        let replica = Replica::start(&server.url());
        replica.until_bus(BusStatus::Shared).await;
        let stop = CancellationToken::new();
        let connection = RedisConnection::start(&server.url(), stop.clone()).expect("a usable URL");
        until_up(&[&connection]).await;
        Some(Self {
            server,
            replica,
            store: RedisSharedCache::new(connection),
            _stop: stop.drop_guard(),
        })
    }

    /// What the store holds for `entries` now.
    async fn values(&self, entries: &[SharedEntry]) -> Vec<Option<String>> {
        let read = self.store.read(TEAM, entries, None).await;
        let text = |slot| match slot {
            Slot::Value(bytes) => Some(String::from_utf8(bytes).expect("text was kept")),
            Slot::Fill | Slot::Filling => None,
        };
        read.expect("Redis answers")
            .slots
            .into_iter()
            .map(text)
            .collect()
    }

    /// Keeps `value` for every one of `entries` in their current epochs.
    async fn keep(&self, entries: &[SharedEntry], value: &str) {
        let read = self.store.read(TEAM, entries, None).await;
        let kept = read
            .expect("Redis answers")
            .names
            .into_iter()
            .map(|name| (name, value.as_bytes().to_vec()))
            .collect();
        self.store.write(kept, Duration::from_secs(60)).await;
    }

    /// Runs `command` on the server directly.
    async fn run(&self, command: &redis::Cmd) -> redis::Value {
        let mut client = self.server.client().await;
        command
            .query_async(&mut client)
            .await
            .expect("Redis runs it")
    }
}

fn conversation(id: i64) -> SharedEntry {
    SharedEntry {
        key: format!("conversation:{id}"),
        epochs: vec![Epoch::Unplaced, Epoch::Conversation(id)],
    }
}

/// A page of the list of `inbox`.
fn list_page(inbox: i64) -> SharedEntry {
    SharedEntry {
        key: format!("conversations:{inbox}"),
        epochs: vec![Epoch::Unplaced, Epoch::UnnamedInbox, Epoch::Inbox(inbox)],
    }
}

/// An event of conversation 1 in `inboxes`, reporting the state `digest`: a replica's hint of
/// its write, or (for one inbox) a webhook.
fn reporting(inboxes: &[i64], digest: Option<&str>) -> Event {
    let mut event = match inboxes {
        [inbox] => Event::new(
            TEAM,
            EventKind::ChatClosed,
            json!({ "id": 1, "inbox": inbox, "updated": "2026-05-01T00:00:01Z" }),
        ),
        _ => Event::new(
            TEAM,
            EventKind::ConversationWritten,
            json!({ "id": 1, "inboxes": inboxes, "nonce": rand::random::<u64>() }),
        ),
    };
    event.state_digest = digest.map(str::to_owned);
    event
}

/// Values as [`Shared::values`] gives them.
fn kept(values: &[Option<&str>]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|value| value.map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_entry_is_left_behind_by_the_events_that_reach_it_and_never_read_again() {
    let Some(shared) = Shared::start().await else {
        return;
    };
    let entries = [conversation(1), conversation(2)];
    assert_eq!(shared.values(&entries).await, kept(&[None, None]));
    shared.keep(&entries, "first").await;
    assert_eq!(
        shared.values(&entries).await,
        kept(&[Some("first"), Some("first")])
    );

    // An event naming conversation 1 leaves its entry behind, and only its.
    publish(&shared.replica.bus, 1).await;
    assert_eq!(shared.values(&entries).await, kept(&[None, Some("first")]));
    shared.keep(&entries[..1], "second").await;
    assert_eq!(
        shared.values(&entries).await,
        kept(&[Some("second"), Some("first")])
    );

    // Every epoch key lost (evicted, or expired): the epochs come back with values never
    // taken before, so neither what was kept before the event nor after it is read again.
    let epochs = shared
        .run(redis::cmd("KEYS").arg("heymarket-gateway:cache-epochs:*"))
        .await;
    let epochs: Vec<String> = redis::from_redis_value(epochs).expect("key names");
    assert!(epochs.len() >= 3, "{epochs:?}");
    shared.run(redis::cmd("DEL").arg(epochs)).await;
    assert_eq!(shared.values(&entries).await, kept(&[None, None]));
}

#[tokio::test]
async fn an_event_published_by_other_rules_is_moved_on_by_the_replica_that_hears_it() {
    let Some(shared) = Shared::start().await else {
        return;
    };
    let mut heard = shared.replica.bus.subscribe();
    let entries = [conversation(1), conversation(2)];
    shared.keep(&entries, "kept").await;

    // A replica of another version publishes the event as it is, moving none of these epochs.
    let payload = serde_json::to_string(&event(1)).expect("an event encodes");
    shared
        .run(redis::cmd("PUBLISH").arg(EVENTS_CHANNEL).arg(payload))
        .await;

    assert_eq!(
        next_id(&mut heard).await,
        1,
        "the replica took the event in"
    );
    assert_eq!(
        shared.values(&entries).await,
        kept(&[None, Some("kept")]),
        "it moved the event's epochs before"
    );
}

#[tokio::test]
async fn one_reader_at_a_time_holds_the_lease_on_an_empty_entry() {
    let Some(shared) = Shared::start().await else {
        return;
    };
    let entries = [conversation(1)];
    let lease = Some(Duration::from_secs(60));
    let slots = async || {
        let read = shared.store.read(TEAM, &entries, lease).await;
        read.expect("Redis answers").slots
    };
    assert_eq!(slots().await, [Slot::Fill], "the first reader fills it");
    assert_eq!(slots().await, [Slot::Filling], "the next waits");
    let name = shared
        .store
        .read(TEAM, &entries, None)
        .await
        .expect("Redis answers")
        .names;
    shared.store.release(name[0].clone()).await;
    assert_eq!(slots().await, [Slot::Fill], "released, it is leased again");

    shared.keep(&entries, "filled").await;
    assert_eq!(slots().await, [Slot::Value(b"filled".to_vec())]);
}

#[tokio::test]
async fn a_state_announced_again_leaves_the_lists_it_moved_on_shared() {
    let Some(shared) = Shared::start().await else {
        return;
    };
    let bus = &shared.replica.bus;
    let entries = [list_page(3001), list_page(3002), conversation(1)];
    let all_kept = async |value| {
        shared.keep(&entries, value).await;
        assert_eq!(shared.values(&entries).await, kept(&[Some(value); 3]));
    };
    all_kept("before").await;

    // A replica's hint of its write to conversation 1, in 3001, reports state d1.
    bus.publish(reporting(&[3001], Some("d1"))).await;
    assert_eq!(
        shared.values(&entries).await,
        kept(&[None, Some("before"), None])
    );
    all_kept("d1").await;

    // The webhook of the same write reports d1 again: the list stays, the conversation does
    // not (an event always moves what it names).
    bus.publish(reporting(&[3001], Some("d1"))).await;
    assert_eq!(
        shared.values(&entries).await,
        kept(&[Some("d1"), Some("d1"), None])
    );
    all_kept("d1 again").await;

    // The same state reported in another inbox too (a hint that names the inbox the
    // conversation left): that list had not been moved on for it.
    bus.publish(reporting(&[3001, 3002], Some("d1"))).await;
    assert_eq!(
        shared.values(&entries).await,
        kept(&[Some("d1 again"), None, None])
    );
    all_kept("d1, both").await;

    // Another state moves the list on, as does an event reporting none, which also forgets
    // the state last announced.
    for digest in [Some("d2"), None, Some("d2")] {
        bus.publish(reporting(&[3001], digest)).await;
        assert_eq!(
            shared.values(&entries).await,
            kept(&[None, Some("d1, both"), None]),
            "{digest:?}"
        );
        shared.keep(&entries[..1], "d1, both").await;
        shared.keep(&entries[2..], "d1, both").await;
    }
}
