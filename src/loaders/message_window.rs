//! What a team-wide message listing (`POST /v1/messages/all`) proves, and how to plan the
//! listings and histories that find many conversations' last messages.
//!
//! A listing answers the newest messages before its cursor, as many as the upstream's maximum
//! allows, which the documentation does not give (and an upstream may cap a listing below what
//! was asked). So an answer proves only the window it actually covers: every message after the
//! oldest one it holds and up to its cursor. A conversation's last message was sent at or before
//! the conversation's `updated`; when that instant lies in a window, the window holds the
//! conversation's last message, or proves that none was sent in it. Nothing outside a window is
//! ever concluded from it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Timelike, Utc};

use super::last_message::LastMessageTarget;
use crate::upstream::models::Message;

/// Share of a listing's expected reach that a plan relies on. A conversation a listing fails to
/// reach costs the whole operation a third round trip, and how fast a team writes changes from
/// hour to hour and day to day: the pace measured over the newest messages was a third to a
/// quarter of that over older days of the same seeded team, so a plan relies on a quarter of
/// what the busiest measured stretch promises (and reads histories, one call each, for what
/// lies beyond it).
const RELIED_SHARE: f64 = 0.25;

/// Equal stretches of time a window is cut into to find its busiest one, whose pace a plan
/// assumes: teams write in bursts and busy hours, and a listing sent into a busier stretch than
/// the window measured reaches less far than its average promised.
const PACE_SLICES: usize = 4;

/// Fewest messages a planned listing asks for: below this a listing saves the upstream and the
/// gateway nothing worth its risk.
const MIN_LISTING_ROWS: u32 = 100;

/// A planned group needs at least this many conversations for one listing to beat their own
/// histories (one call each, always conclusive).
const MIN_GROUP: usize = 2;

/// What one listing answer proves.
#[derive(Debug)]
pub(crate) struct Window {
    /// Every message sent after this instant (exclusive: the oldest instant of the answer may
    /// hold more messages than fitted) ...
    after: DateTime<Utc>,
    /// ... and up to this one (inclusive) is in the answer.
    through: DateTime<Utc>,
    /// The newest message of each conversation in the answer.
    newest: HashMap<i64, Arc<Message>>,
    /// Messages in the answer.
    rows: usize,
    /// Messages per second in the busiest of the window's time slices (see [`PACE_SLICES`]);
    /// `None` when the window spans no time.
    busiest_pace: Option<f64>,
}

impl Window {
    /// The window an answer to a listing asked with `before` (exclusive; `None` for the newest
    /// messages) proves; `None` when it proves nothing (an empty answer, or one without dates).
    ///
    /// An upstream that ignored the cursor listed from its present instead: the answer then
    /// holds messages at or after `before`, and proves up to its newest message only. Without a
    /// cursor the listing's instant is the upstream's, unknown here, so again the newest message
    /// bounds what it proves.
    pub(crate) fn of(before: Option<DateTime<Utc>>, messages: &[Message]) -> Option<Self> {
        let dates = messages.iter().filter_map(|message| message.date);
        let (oldest, newest) = dates.fold(None, |span, date| match span {
            None => Some((date, date)),
            Some((oldest, newest)) => Some((date.min(oldest), date.max(newest))),
        })?;
        let through = match before {
            Some(before) if newest < before => before - TimeDelta::microseconds(1),
            _ => newest,
        };
        let mut newest_by_conversation: HashMap<i64, Arc<Message>> = HashMap::new();
        for message in messages {
            let Some(conversation) = message.conversation.as_ref().map(|c| c.id) else {
                continue;
            };
            let newer = newest_by_conversation
                .get(&conversation)
                .is_none_or(|known| (message.date, message.id) > (known.date, known.id));
            if newer {
                newest_by_conversation.insert(conversation, Arc::new(message.clone()));
            }
        }
        let dates = messages.iter().filter_map(|message| message.date);
        Some(Self {
            after: oldest,
            through,
            newest: newest_by_conversation,
            rows: messages.len(),
            busiest_pace: busiest_pace(oldest, through, dates),
        })
    }

    /// The target's last message, when this window proves it: the target's last possible
    /// message instant lies in the window, and so does the newest message of it the window
    /// holds. `None` proves nothing (the last message may be older than the window, or there
    /// may be none at all: a history call tells).
    pub(crate) fn last_message(&self, target: &LastMessageTarget) -> Option<Arc<Message>> {
        let bound = latest_possible(target)?;
        if bound > self.through || bound <= self.after {
            return None;
        }
        self.newest
            .get(&target.conversation_id)
            .filter(|message| {
                message
                    .date
                    .is_some_and(|date| date > self.after && date <= bound)
            })
            .cloned()
    }
}

/// Messages per second in the busiest of [`PACE_SLICES`] equal stretches from `from` to `to`,
/// counting `dates`; `None` when they span no time.
fn busiest_pace(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    dates: impl Iterator<Item = DateTime<Utc>>,
) -> Option<f64> {
    let span = (to - from).num_microseconds().filter(|span| *span > 0)?;
    let slice = (span + PACE_SLICES as i64 - 1) / PACE_SLICES as i64;
    let mut counts = [0_usize; PACE_SLICES];
    for date in dates {
        let Some(offset) = (date - from).num_microseconds() else {
            continue;
        };
        if (0..=span).contains(&offset) {
            let index = usize::try_from(offset / slice).unwrap_or(0);
            counts[index.min(PACE_SLICES - 1)] += 1;
        }
    }
    let busiest = counts.into_iter().max()?;
    Some(busiest as f64 / (slice as f64 / 1e6))
}

/// The latest instant the target's last message can have been sent: its `updated`, or the end
/// of `updated`'s second when the upstream gives whole seconds (a time without a fraction is
/// read as such: at worst that reaches a second further than needed). `None` without `updated`.
pub(crate) fn latest_possible(target: &LastMessageTarget) -> Option<DateTime<Utc>> {
    let updated = target.updated?;
    if updated.nanosecond() == 0 {
        Some(updated + TimeDelta::seconds(1) - TimeDelta::microseconds(1))
    } else {
        Some(updated)
    }
}

/// How to find some targets' last messages in one round of concurrent calls.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// One listing of at most `limit` messages before `before`, expected to reach each of
    /// `targets`.
    Listing {
        before: DateTime<Utc>,
        limit: u32,
        targets: Vec<LastMessageTarget>,
    },
    /// The target's own history: one call, always conclusive.
    History(LastMessageTarget),
}

/// Plans one round for `targets`: groups of conversations whose last possible messages lie
/// close enough together for one listing of `maximum` messages to reach them all, and a history
/// for each of the rest. A group spanning less than a whole listing's reach asks for
/// proportionally fewer messages, with the same margin: the upstream builds, and the gateway
/// reads, no more than the group needs.
///
/// How far a listing reaches depends on how many messages the team sends: `density` (messages
/// per second, from a window already in hand) says it. Without one, a listing of 1,000 is
/// expected to reach 15 conversations, and smaller listings proportionally fewer.
pub(crate) fn plan(
    mut targets: Vec<LastMessageTarget>,
    density: Option<f64>,
    maximum: u32,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut placed: Vec<(DateTime<Utc>, LastMessageTarget)> = Vec::new();
    for target in targets.drain(..) {
        match latest_possible(&target) {
            Some(bound) => placed.push((bound, target)),
            None => steps.push(Step::History(target)),
        }
    }
    placed.sort_by_key(|(bound, _)| std::cmp::Reverse(*bound));
    let reach = Reach::new(density, maximum);
    let mut group: Vec<(DateTime<Utc>, LastMessageTarget)> = Vec::new();
    for (bound, target) in placed {
        let fits = group
            .first()
            .is_some_and(|(start, _)| reach.covers(*start, bound, group.len() + 1));
        if !fits {
            close(&mut group, &reach, maximum, &mut steps);
        }
        group.push((bound, target));
    }
    close(&mut group, &reach, maximum, &mut steps);
    steps
}

/// Turns a finished group into its step: one listing, or histories when it is too small.
fn close(
    group: &mut Vec<(DateTime<Utc>, LastMessageTarget)>,
    reach: &Reach,
    maximum: u32,
    steps: &mut Vec<Step>,
) {
    let (Some((start, _)), Some((oldest, _))) = (group.first(), group.last()) else {
        return;
    };
    if group.len() < MIN_GROUP {
        steps.extend(group.drain(..).map(|(_, target)| Step::History(target)));
        return;
    }
    let before = *start + TimeDelta::microseconds(1);
    let limit = reach.rows_for(*start - *oldest, maximum);
    let targets = group.drain(..).map(|(_, target)| target).collect();
    steps.push(Step::Listing {
        before,
        limit,
        targets,
    });
}

/// How far back one listing is relied on to reach.
enum Reach {
    /// A stretch of time, from the density of messages.
    Time(TimeDelta),
    /// A number of conversations, without it.
    Conversations(usize),
}

impl Reach {
    fn new(density: Option<f64>, maximum: u32) -> Self {
        let relied = f64::from(maximum) * RELIED_SHARE;
        match density.filter(|density| density.is_finite() && *density > 0.0) {
            Some(density) => {
                let micros = (relied / density * 1e6).min(i64::MAX as f64) as i64;
                Self::Time(TimeDelta::microseconds(micros))
            }
            None => Self::Conversations(
                (super::last_message::CONVERSATIONS_PER_LISTING * maximum as usize) / 1_000,
            ),
        }
    }

    /// Messages to ask of a listing whose group spans `span`: as large a share of `maximum` as
    /// `span` is of a whole listing's reach, and at least [`MIN_LISTING_ROWS`].
    fn rows_for(&self, span: TimeDelta, maximum: u32) -> u32 {
        let share = match self {
            Self::Time(reach) => match (span.num_microseconds(), reach.num_microseconds()) {
                (Some(span), Some(reach)) if reach > 0 => span as f64 / reach as f64,
                _ => 1.0,
            },
            Self::Conversations(_) => 1.0,
        };
        let rows = (f64::from(maximum) * share.clamp(0.0, 1.0)).ceil() as u32;
        rows.max(MIN_LISTING_ROWS).min(maximum)
    }

    /// Whether a listing starting at `start` reaches a conversation last active at `bound`, as
    /// the `size`th of its group.
    fn covers(&self, start: DateTime<Utc>, bound: DateTime<Utc>, size: usize) -> bool {
        match self {
            Self::Time(reach) => start - bound <= *reach,
            Self::Conversations(most) => size <= *most,
        }
    }
}

/// The pace to plan with: that of the busiest stretch of the window with the most rows among
/// `windows`.
pub(crate) fn density(windows: &[Arc<Window>]) -> Option<f64> {
    windows
        .iter()
        .max_by_key(|window| window.rows)?
        .busiest_pace
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(seconds: f64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(1_780_000_000_000_000 + (seconds * 1e6) as i64).unwrap()
    }

    fn message(id: i64, conversation: i64, seconds: f64) -> Message {
        serde_json::from_value(json!({
            "id": id,
            "date": at(seconds).to_rfc3339(),
            "conversation": { "id": conversation },
        }))
        .expect("a message")
    }

    fn target(conversation: i64, updated: f64) -> LastMessageTarget {
        LastMessageTarget {
            conversation_id: conversation,
            // Never a whole second, so the tests read as microsecond precision.
            updated: Some(at(updated) + TimeDelta::microseconds(3)),
            phone: format!("1415555{conversation:04}"),
            inbox_id: 1,
        }
    }

    #[test]
    fn a_window_proves_last_messages_inside_it_only() {
        // Messages from 10 s to 20 s; the listing asked before 30 s.
        let messages = [
            message(1, 100, 20.0),
            message(2, 100, 15.0),
            message(3, 200, 12.0),
            message(4, 300, 10.0),
        ];
        let window = Window::of(Some(at(30.0)), &messages).unwrap();

        let last = |target: &LastMessageTarget| window.last_message(target).map(|m| m.id);
        assert_eq!(last(&target(100, 25.0)), Some(1));
        assert_eq!(last(&target(200, 12.0)), Some(3));
        // At the window's oldest instant more messages may have been cut off.
        assert_eq!(last(&target(300, 10.0)), None);
        // Last active before the window: its newest message may be older still.
        assert_eq!(last(&target(400, 5.0)), None);
        // Last active after the cursor: a newer message may exist outside the window.
        assert_eq!(last(&target(100, 31.0)), None);
        // Active inside the window with no message in it: its last one is older.
        assert_eq!(last(&target(500, 18.0)), None);
    }

    #[test]
    fn an_older_message_from_a_later_window_never_passes_for_the_newest() {
        // The second listing starts before the first one's oldest message, leaving a gap.
        let second =
            Window::of(Some(at(8.0)), &[message(9, 100, 7.0), message(8, 200, 6.0)]).unwrap();
        // Conversation 100 was active at 9 s: its last message may be in the gap.
        assert_eq!(second.last_message(&target(100, 9.0)), None);
    }

    #[test]
    fn an_ignored_cursor_proves_only_up_to_the_newest_message() {
        let listed = [
            message(1, 100, 50.0),
            message(2, 200, 5.0),
            message(3, 300, 1.0),
        ];
        let window = Window::of(Some(at(10.0)), &listed).unwrap();
        assert_eq!(
            window.last_message(&target(200, 8.0)).map(|m| m.id),
            Some(2)
        );
        assert_eq!(window.last_message(&target(100, 60.0)), None);
        // Without a cursor the newest message bounds the window: a conversation updated exactly
        // then is proven, one updated later is not (its message may postdate the listing).
        let mut newest_message = message(1, 100, 50.0);
        newest_message.date = target(100, 50.0).updated;
        let newest = Window::of(None, &[newest_message, message(2, 200, 5.0)]).unwrap();
        assert_eq!(
            newest.last_message(&target(100, 50.0)).map(|m| m.id),
            Some(1)
        );
        assert_eq!(newest.last_message(&target(100, 51.0)), None);
        assert!(Window::of(None, &[]).is_none());
    }

    #[test]
    fn whole_second_updates_reach_to_the_end_of_their_second() {
        let window = Window::of(
            Some(at(30.0)),
            &[message(1, 100, 20.7), message(2, 200, 3.0)],
        )
        .unwrap();
        let whole = LastMessageTarget {
            updated: Some(at(20.0)),
            ..target(100, 0.0)
        };
        assert_eq!(window.last_message(&whole).map(|m| m.id), Some(1));
    }

    #[test]
    fn plans_group_what_one_listing_reaches_and_read_histories_for_the_rest() {
        // 10 messages a second; a listing of 200 is relied on for 50 messages: 5 s.
        let targets = vec![
            target(1, 100.0),
            target(2, 98.5),
            target(3, 96.0),
            target(4, 60.0),
            target(5, 20.0),
            target(6, 16.0),
        ];
        let steps = plan(targets, Some(10.0), 200);
        let shape: Vec<Vec<i64>> = steps
            .iter()
            .map(|step| match step {
                Step::Listing { targets, .. } => {
                    targets.iter().map(|t| t.conversation_id).collect()
                }
                Step::History(target) => vec![-target.conversation_id],
            })
            .collect();
        assert_eq!(shape, [vec![1, 2, 3], vec![-4], vec![5, 6]]);
        match &steps[0] {
            Step::Listing { before, limit, .. } => {
                assert_eq!(
                    *before,
                    target(1, 100.0).updated.unwrap() + TimeDelta::microseconds(1)
                );
                // The group spans 4 s of the 5 s a listing of 200 reaches.
                assert_eq!(*limit, 160);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn small_maximums_plan_histories_and_large_ones_few_listings() {
        let targets: Vec<_> = (0..30)
            .map(|n| target(n, 1_000.0 - n as f64 * 10.0))
            .collect();
        let histories = plan(targets.clone(), Some(4.0), 50);
        assert!(
            histories
                .iter()
                .all(|step| matches!(step, Step::History(_)))
        );
        // 4 messages a second: a listing of 1,000 is relied on for 250 messages, 62.5 s, so
        // groups of seven conversations 10 s apart.
        let listings = plan(targets.clone(), Some(4.0), 1_000);
        assert_eq!(listings.len(), 5, "{listings:?}");
        // Without a density, 15 conversations per 1,000 messages.
        assert_eq!(plan(targets.clone(), None, 1_000).len(), 2);
        assert!(
            plan(targets, None, 50)
                .iter()
                .all(|step| matches!(step, Step::History(_)))
        );
    }

    #[test]
    fn the_pace_is_that_of_the_busiest_stretch() {
        // 40 messages over 40 s, 30 of them in the last 10 s.
        let dates: Vec<_> = (0..10)
            .map(|n| at(f64::from(n) * 3.0))
            .chain((0..30).map(|n| at(30.0 + f64::from(n) / 3.0)))
            .collect();
        let pace = busiest_pace(at(0.0), at(40.0), dates.into_iter()).unwrap();
        assert!((pace - 3.0).abs() < 0.01, "{pace}");
        assert_eq!(
            busiest_pace(at(5.0), at(5.0), std::iter::once(at(5.0))),
            None
        );
    }

    /// A team's messages, newest first: one every `quiet` seconds over the newest `quiet_span`
    /// seconds, one every `busy` seconds before that, and each target's last message at its
    /// `updated`.
    fn team_messages(
        targets: &[LastMessageTarget],
        quiet: f64,
        quiet_span: f64,
        busy: f64,
    ) -> Vec<Message> {
        let mut messages = Vec::new();
        let (mut time, mut id) = (100_000.0, 1_000_000);
        while time > 0.0 {
            messages.push(message(id, 1_000 + id % 97, time));
            time -= if time > 100_000.0 - quiet_span {
                quiet
            } else {
                busy
            };
            id += 1;
        }
        for (n, target) in (0..).zip(targets) {
            let mut last = message(n, target.conversation_id, 0.0);
            last.date = target.updated;
            messages.push(last);
        }
        messages.sort_by_key(|message| std::cmp::Reverse(message.date));
        messages
    }

    /// What an upstream answering at most `maximum` messages lists before `before`.
    fn list(messages: &[Message], before: Option<DateTime<Utc>>, maximum: usize) -> Vec<Message> {
        messages
            .iter()
            .filter(|message| before.is_none_or(|before| message.date < Some(before)))
            .take(maximum)
            .cloned()
            .collect()
    }

    #[test]
    fn planned_listings_reach_their_conversations_when_older_days_were_busier() {
        // The newest 10 hours are quiet (a message a minute); the days before, three and a
        // half times busier. The dashboard's conversations were last active 20 minutes apart
        // during the busy days, where a plan paced on the newest messages alone would send
        // listings that fall short.
        let targets: Vec<_> = (0..30)
            .map(|n| target(n, 50_000.0 - f64::from(n as u32) * 1_200.0))
            .collect();
        let messages = team_messages(&targets, 60.0, 36_000.0, 60.0 / 3.5);
        for maximum in [50, 200, 1_000] {
            let recent = Window::of(None, &list(&messages, None, maximum)).unwrap();
            let steps = plan(
                targets.clone(),
                density(&[Arc::new(recent)]),
                maximum as u32,
            );
            let mut listings = 0;
            for step in steps {
                let Step::Listing {
                    before,
                    limit,
                    targets,
                } = step
                else {
                    continue;
                };
                listings += 1;
                assert!(limit <= maximum as u32);
                let listed = list(&messages, Some(before), limit as usize);
                let window = Window::of(Some(before), &listed).unwrap();
                for target in &targets {
                    let found = window.last_message(target).map(|m| m.date);
                    assert_eq!(found, Some(target.updated), "maximum {maximum}: {target:?}");
                }
            }
            if maximum == 1_000 {
                assert!(listings > 0 && listings < 15, "{listings} listings");
            }
        }
    }
}
