//! What each entry of the shared cache is kept by, and what each event moves on (see
//! `shared`).
//!
//! A shared entry names the **epochs** of its team it depends on: a conversation its own, a
//! list page or a count those of its inboxes, a history those of its customer's addresses. An
//! event moves on the epochs of what it can have changed, read from where it places its
//! conversation ([`Event::place`]), so an entry is left behind by exactly the events that
//! reach it, as each replica's own caches forget only what an event touches. Whatever an event
//! does not name is taken to be anywhere: an event that names no conversation moves every
//! conversation entry on, one that names no inbox (a transfer) every list, one that names no
//! customer every history.
//!
//! The rule both sides keep: **every event that can change an entry moves one of the epochs
//! that entry depends on.** An entry whose inboxes or parties are too many to name one by one
//! depends on [`Epoch::Team`], which every event moves; an event that names too many moves
//! the epoch of every list or history instead of theirs.

use std::collections::BTreeSet;

use super::cache::parties;
use crate::events::Event;

/// More inboxes or parties than this are not named one by one (a list page of a member of
/// many inboxes, a forged payload): bounded work for every read and every event.
const MOST_NAMED: usize = 16;

/// Party addresses longer than this are not named (no email address is): bounded keys.
const LONGEST_PARTY: usize = 254;

/// One epoch of a team: what moves it on is on each variant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Epoch {
    /// Every event of the team.
    Team,
    /// Events that name no conversation, or none that reads (opt-ins, opt-outs, calls, a
    /// replica's write of a contact or a scheduled message).
    Unplaced,
    /// Events that name this conversation.
    Conversation(i64),
    /// Events that place their conversation in this inbox (or that it has just left).
    Inbox(i64),
    /// Events that name a conversation but not its inboxes (a transfer, a payload without
    /// `inbox`), or too many to name.
    UnnamedInbox,
    /// Events that name a conversation with this customer address (as `parties` writes it).
    Party(String),
    /// Events that name a conversation but not whom it is with, or too many to name.
    UnnamedParty,
    /// Events that concern a contact: contact entries are kept by this epoch alone, and live
    /// half the contacts TTL, since an edit in the Heymarket app sends no event.
    Contacts,
}

impl Epoch {
    /// The epochs `event` moves on.
    pub fn moved_by(event: &Event) -> BTreeSet<Epoch> {
        let mut moved = BTreeSet::from([Epoch::Team]);
        if event.kind.concerns_a_contact() {
            moved.insert(Epoch::Contacts);
        }
        let Some(place) = event.place() else {
            moved.insert(Epoch::Unplaced);
            return moved;
        };
        moved.insert(Epoch::Conversation(place.conversation_id));
        let inboxes: BTreeSet<i64> = place.inboxes.iter().copied().collect();
        match inboxes.len() {
            1..=MOST_NAMED => moved.extend(inboxes.into_iter().map(Epoch::Inbox)),
            _ => {
                moved.insert(Epoch::UnnamedInbox);
            }
        }
        let named = place.targets.iter().flat_map(|target| parties(target));
        match named_parties(named) {
            Some(parties) => moved.extend(parties),
            None => {
                moved.insert(Epoch::UnnamedParty);
            }
        }
        moved
    }

    /// Whether it keeps list pages and counts alone, which show conversations' states and
    /// nothing else: an event that reports a state its lists were already moved on for need
    /// not move it again (see `loaders::reported`).
    pub fn keeps_lists_only(&self) -> bool {
        matches!(self, Self::Inbox(_) | Self::UnnamedInbox)
    }

    /// Its name among its team's epochs.
    pub fn name(&self) -> String {
        match self {
            Self::Team => "team".to_owned(),
            Self::Unplaced => "unplaced".to_owned(),
            Self::Conversation(id) => format!("conversation:{id}"),
            Self::Inbox(id) => format!("inbox:{id}"),
            Self::UnnamedInbox => "inboxes".to_owned(),
            Self::Party(address) => format!("party:{address}"),
            Self::UnnamedParty => "parties".to_owned(),
            Self::Contacts => "contacts".to_owned(),
        }
    }
}

/// What a conversation fetched by id depends on.
pub(super) fn of_conversation(id: i64) -> Vec<Epoch> {
    vec![Epoch::Unplaced, Epoch::Conversation(id)]
}

/// What a list page or a count of `inboxes` depends on.
pub(super) fn of_list(inboxes: &[i64]) -> Vec<Epoch> {
    let inboxes: BTreeSet<i64> = inboxes.iter().copied().collect();
    if inboxes.is_empty() || inboxes.len() > MOST_NAMED {
        return vec![Epoch::Team];
    }
    let mut epochs = vec![Epoch::Unplaced, Epoch::UnnamedInbox];
    epochs.extend(inboxes.into_iter().map(Epoch::Inbox));
    epochs
}

/// What a history with `target` (in any inbox: a transfer moves it) depends on.
pub(super) fn of_history(target: &str) -> Vec<Epoch> {
    match named_parties(parties(target)) {
        Some(parties) => [Epoch::Unplaced, Epoch::UnnamedParty]
            .into_iter()
            .chain(parties)
            .collect(),
        None => vec![Epoch::Team],
    }
}

/// What the contacts by address depend on.
pub(super) fn of_contacts() -> Vec<Epoch> {
    vec![Epoch::Contacts]
}

/// What anything of the team that no event can be placed against depends on (team-wide
/// message listings).
pub(super) fn of_team() -> Vec<Epoch> {
    vec![Epoch::Team]
}

/// `parties` as epochs, sorted; `None` when there are none, too many, or one too long to name.
fn named_parties(parties: impl IntoIterator<Item = String>) -> Option<BTreeSet<Epoch>> {
    let parties: BTreeSet<String> = parties.into_iter().collect();
    let nameable = (1..=MOST_NAMED).contains(&parties.len())
        && parties.iter().all(|party| party.len() <= LONGEST_PARTY);
    nameable.then(|| parties.into_iter().map(Epoch::Party).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::EventKind;

    fn event(kind: EventKind, data: serde_json::Value) -> Event {
        Event::new(7, kind, data)
    }

    /// Whether `event` leaves `entry` behind.
    fn reaches(event: &Event, entry: &[Epoch]) -> bool {
        let moved = Epoch::moved_by(event);
        entry.iter().any(|epoch| moved.contains(epoch))
    }

    #[test]
    fn a_message_event_reaches_its_conversation_inbox_and_customer_only() {
        let message = event(
            EventKind::MessageReceived,
            json!({"id": 1, "target": "+1 415 555 0100",
                   "conversation": {"id": 40, "inbox": 3, "target": "14155550100"}}),
        );
        assert!(reaches(&message, &of_conversation(40)));
        assert!(!reaches(&message, &of_conversation(41)));
        assert!(reaches(&message, &of_list(&[3])));
        assert!(reaches(&message, &of_list(&[2, 3])));
        assert!(!reaches(&message, &of_list(&[2])));
        assert!(reaches(&message, &of_history("4155550100")));
        assert!(!reaches(&message, &of_history("14155550101")));
        assert!(!reaches(&message, &of_contacts()));
        assert!(reaches(&message, &of_team()));
    }

    #[test]
    fn what_an_event_does_not_name_is_taken_to_be_anywhere() {
        let transfer = event(
            EventKind::ChatTransferred,
            json!({"id": 40, "inbox": 3, "target": "14155550100"}),
        );
        assert!(
            reaches(&transfer, &of_list(&[2])),
            "a transfer names no inbox"
        );
        assert!(!reaches(&transfer, &of_history("14155550101")));

        let without_target = event(EventKind::ChatClosed, json!({"id": 40, "inbox": 3}));
        assert!(reaches(&without_target, &of_history("14155550101")));
        assert!(!reaches(&without_target, &of_list(&[2])));

        let opt_out = event(EventKind::TargetOptOut, json!({"phone": "14155550100"}));
        for entry in [
            of_conversation(40),
            of_list(&[2]),
            of_history("14155550101"),
            of_contacts(),
        ] {
            assert!(reaches(&opt_out, &entry), "{entry:?}");
        }
    }

    #[test]
    fn too_many_to_name_is_named_by_the_wide_epochs() {
        let many: Vec<i64> = (1..=17).collect();
        assert_eq!(of_list(&many), vec![Epoch::Team]);
        assert_eq!(of_list(&[]), vec![Epoch::Team]);
        let crowd: Vec<String> = (0..17).map(|n| format!("1415555{n:04}")).collect();
        assert_eq!(of_history(&crowd.join(",")), vec![Epoch::Team]);
        assert_eq!(of_history(&"a".repeat(300)), vec![Epoch::Team]);

        let hint = event(
            EventKind::ConversationWritten,
            json!({"id": 40, "target": crowd.join(","), "inboxes": many}),
        );
        let expected = [
            Epoch::Team,
            Epoch::Conversation(40),
            Epoch::UnnamedInbox,
            Epoch::UnnamedParty,
        ];
        assert_eq!(Epoch::moved_by(&hint), BTreeSet::from(expected));
    }

    #[test]
    fn an_address_written_two_ways_is_one_epoch() {
        assert_eq!(of_history("+1 (415) 555-0100"), of_history("14155550100"));
        assert_eq!(of_history("Ana@Example.com"), of_history("ana@example.com"));
    }
}
