//! The in-process bus: a bounded broadcast channel.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::broadcast;

use super::{BusStatus, Event, EventBus};

/// Events kept for receivers that are momentarily behind; slower ones skip ahead.
const CAPACITY: usize = 1024;

/// Delivers events within this process.
#[derive(Clone)]
pub struct MemoryBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl MemoryBus {
    /// Hands `event` to this process's receivers (none listening is fine).
    pub fn deliver(&self, event: Arc<Event>) {
        let _ = self.sender.send(event);
    }
}

impl EventBus for MemoryBus {
    fn publish(&self, event: Event) -> BoxFuture<'_, ()> {
        self.deliver(Arc::new(event));
        futures::future::ready(()).boxed()
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    fn status(&self) -> BusStatus {
        BusStatus::Local
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    fn event(n: i64) -> Event {
        Event {
            fingerprint: format!("f{n}"),
            team_id: 101,
            kind: EventKind::ChatClosed,
            data: serde_json::json!({ "id": n }),
            state_digest: None,
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_event_in_order() {
        let bus = MemoryBus::default();
        let (mut first, mut second) = (bus.subscribe(), bus.subscribe());
        bus.publish(event(1)).await;
        bus.publish(event(2)).await;
        for receiver in [&mut first, &mut second] {
            assert_eq!(receiver.recv().await.unwrap().data["id"], 1);
            assert_eq!(receiver.recv().await.unwrap().data["id"], 2);
        }
    }

    #[test]
    fn kinds_use_the_wire_spelling() {
        assert_eq!(
            serde_json::to_value(EventKind::MessageReceived).unwrap(),
            "message_recieved"
        );
        assert_eq!(
            serde_json::to_value(EventKind::TargetDoubleOptRestricted).unwrap(),
            "target_double_opt_restricted"
        );
        assert_eq!(
            serde_json::from_value::<EventKind>("chat_pending".into()).unwrap(),
            EventKind::ChatPending
        );
    }
}
