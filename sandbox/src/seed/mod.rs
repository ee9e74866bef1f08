//! Deterministic generation of each team's data: the same seed and team number always yield
//! the same members, inboxes, contacts, conversations and messages.
//!
//! The timeline is anchored at a fixed instant (never the wall clock) and spread over the
//! [`SPAN_DAYS`] before it.

mod conversations;
mod words;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{SeedableRng, seq::index};
use rand_chacha::ChaCha8Rng;

use super::store::TeamData;
use super::store::records::{
    Channel, Contact, CustomField, FIRST_CONTACT_ID, FIRST_FIELD_ID, FIRST_INBOX_ID,
    FIRST_MEMBER_ID, FIRST_TAG_ID, FIRST_TEMPLATE_ID, Inbox, Member, Tag, TeamInfo, Template,
};
use super::wire::uuid_from_bits;
use crate::config::DEFAULT_SANDBOX_MEMBERS;

/// The seeded timeline ends here: 2026-06-01T00:00:00Z.
const ANCHOR_UNIX_SECONDS: i64 = 1_780_272_000;
/// Days before the anchor over which conversations are spread.
const SPAN_DAYS: i64 = 120;
const MEMBERS: usize = DEFAULT_SANDBOX_MEMBERS as usize;
const CONTACTS: usize = 2500;

/// Generates team `number` (1-based) from `seed`.
pub(crate) fn team_data(seed: u64, number: usize) -> TeamData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(number as u64);
    let team = TeamInfo {
        id: 100 + number as i64,
        name: team_name(number),
    };
    let members = members(&mut rng);
    let inboxes = inboxes(&mut rng, number);
    let contacts = contacts(&mut rng, &members);
    let (conversations, messages) = conversations::generate(&mut rng, &inboxes, &contacts);
    let templates = templates(&members);
    TeamData {
        tags: tags(),
        custom_fields: custom_fields(),
        team,
        members,
        inboxes,
        contacts,
        conversations,
        messages,
        templates,
    }
}

/// Grows a seeded team to `members` members, as a team that took on more agents: the new ones
/// are named without a random draw, so the rest of the data stays as the seed made it, and
/// each joins one SMS inbox, in turn. No conversation, contact or template is theirs yet.
pub(crate) fn add_members(data: &mut TeamData, members: usize) {
    let sms: Vec<usize> = (0..data.inboxes.len())
        .filter(|&i| data.inboxes[i].channel == Channel::Sms)
        .collect();
    for n in data.members.len()..members {
        let first = words::FIRST_NAMES[n % words::FIRST_NAMES.len()];
        let last = words::LAST_NAMES[n / words::FIRST_NAMES.len() % words::LAST_NAMES.len()];
        let id = FIRST_MEMBER_ID + n as i64;
        data.members.push(Member {
            id,
            name: format!("{first} {last}"),
            role: "member",
        });
        // The new id is the largest, so the inbox's members stay in ascending order.
        if let Some(&inbox) = sms.get(n % sms.len().max(1)) {
            data.inboxes[inbox].members.push(id);
        }
    }
}

/// The team's saved messages, the same for every seed (no random draw, so the rest of the
/// data does not change with them): every fifth is its creator's own, every seventh archived,
/// and two pairs share one `updated` instant, as edits made together do.
fn templates(members: &[Member]) -> Vec<Template> {
    words::TEMPLATES
        .iter()
        .enumerate()
        .map(|(i, (name, text))| {
            let step = i64::try_from(i).unwrap_or_default();
            let created = anchor() - TimeDelta::days(90) + TimeDelta::hours(step * 37);
            let tied = if i % 11 == 1 { step - 1 } else { step };
            let updated = anchor() - TimeDelta::days(30) + TimeDelta::minutes(tied * 613);
            Template {
                id: FIRST_TEMPLATE_ID + step,
                name: (*name).to_owned(),
                text: (*text).to_owned(),
                gallery: if i % 6 == 2 {
                    vec![format!("https://media.example.com/templates/{}.jpg", i + 1)]
                } else {
                    Vec::new()
                },
                creator: members.get(i % members.len().max(1)).map_or(0, |m| m.id),
                shared: i % 5 != 3,
                archived: i % 7 == 6,
                created,
                updated,
            }
        })
        .collect()
}

/// The team's tags, the same for every seed (no random draw).
fn tags() -> Vec<Tag> {
    words::TAGS
        .iter()
        .enumerate()
        .map(|(i, (name, color))| {
            let step = i64::try_from(i).unwrap_or_default();
            let created = anchor() - TimeDelta::days(200) + TimeDelta::days(step * 3);
            Tag {
                id: FIRST_TAG_ID + step,
                name: (*name).to_owned(),
                color: (*color).to_owned(),
                created,
                updated: created,
            }
        })
        .collect()
}

fn custom_fields() -> Vec<CustomField> {
    (FIRST_FIELD_ID..)
        .zip(words::CUSTOM_FIELDS)
        .map(|(id, title)| CustomField {
            id,
            title: (*title).to_owned(),
        })
        .collect()
}

/// A seeded contact's tags and custom values, from its position alone (no random draw, so
/// the rest of the data does not change with them).
fn labels(i: usize) -> (Vec<i64>, BTreeMap<i64, String>) {
    let tags = [(5, 0), (7, 1), (11, 2), (13, 4)]
        .into_iter()
        .filter(|(every, _)| i % every == 0)
        .map(|(_, tag)| FIRST_TAG_ID + tag)
        .collect();
    let mut custom = BTreeMap::new();
    if i % 3 == 0 {
        custom.insert(FIRST_FIELD_ID, format!("AC-{:05}", i + 1));
    }
    if i % 2 == 0 {
        custom.insert(
            FIRST_FIELD_ID + 1,
            words::STORES[i % words::STORES.len()].to_owned(),
        );
    }
    (tags, custom)
}

fn anchor() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::seconds(ANCHOR_UNIX_SECONDS)
}

fn team_name(number: usize) -> String {
    let base = words::TEAM_NAMES[(number - 1) % words::TEAM_NAMES.len()];
    if number <= words::TEAM_NAMES.len() {
        base.to_owned()
    } else {
        format!("{base} {number}")
    }
}

fn members(rng: &mut ChaCha8Rng) -> Vec<Member> {
    let mut first_names = words::FIRST_NAMES.to_vec();
    first_names.shuffle(rng);
    first_names
        .into_iter()
        .take(MEMBERS)
        .enumerate()
        .map(|(i, first)| {
            let last = words::LAST_NAMES.choose(rng).copied().unwrap_or_default();
            Member {
                id: FIRST_MEMBER_ID + i as i64,
                name: format!("{first} {last}"),
                role: if i == 0 { "admin" } else { "member" },
            }
        })
        .collect()
}

/// Four SMS inboxes (the second auto-assignable, the fourth with two numbers) and one email
/// inbox. Member 501 is in every inbox; each inbox has 3 to 8 members.
fn inboxes(rng: &mut ChaCha8Rng, number: usize) -> Vec<Inbox> {
    let mut inboxes = Vec::new();
    let names = words::SMS_INBOX_NAMES
        .iter()
        .map(|&name| (name, Channel::Sms));
    let all = names.chain([(words::EMAIL_INBOX_NAME, Channel::Email)]);
    for (i, (name, channel)) in all.enumerate() {
        let others = rng.random_range(2..=7);
        let mut members: Vec<i64> = index::sample(rng, MEMBERS - 1, others)
            .into_iter()
            .map(|k| FIRST_MEMBER_ID + 1 + k as i64)
            .chain([FIRST_MEMBER_ID])
            .collect();
        members.sort_unstable();
        let (phone, phones) = match channel {
            Channel::Email => (String::new(), Vec::new()),
            Channel::Sms => {
                let phone = format!("1650555{:02}{:02}", number % 100, i + 1);
                let mut phones = vec![phone.clone()];
                if i == 3 {
                    phones.push(format!("1650556{:02}{:02}", number % 100, i + 1));
                }
                (phone, phones)
            }
        };
        inboxes.push(Inbox {
            id: FIRST_INBOX_ID + i as i64,
            name: name.to_owned(),
            channel,
            phone,
            phones,
            members,
            auto_assignable: i == 1,
        });
    }
    inboxes
}

/// Contacts with unique `1415555xxxx` phones; some with email, a few opted out or blocked.
fn contacts(rng: &mut ChaCha8Rng, members: &[Member]) -> Vec<Contact> {
    let phone_suffixes = index::sample(rng, 10_000, CONTACTS);
    let oldest = anchor() - TimeDelta::days(SPAN_DAYS + 80);
    phone_suffixes
        .into_iter()
        .enumerate()
        .map(|(i, suffix)| {
            let first = words::FIRST_NAMES.choose(rng).copied().unwrap_or_default();
            let last = words::LAST_NAMES.choose(rng).copied().unwrap_or_default();
            let email = if rng.random_bool(0.4) {
                format!(
                    "{}.{}{}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    i + 1
                )
            } else {
                String::new()
            };
            let created =
                oldest + TimeDelta::microseconds(rng.random_range(0..80 * 86_400_000_000));
            let updated =
                created + TimeDelta::microseconds(rng.random_range(0..100 * 86_400_000_000));
            let assigned_user = if rng.random_bool(0.2) {
                members.choose(rng).map_or(0, |m| m.id)
            } else {
                0
            };
            let (tags, custom) = labels(i);
            Contact {
                tags,
                custom,
                id: FIRST_CONTACT_ID + i as i64,
                uuid: uuid_from_bits(rng.random()),
                first: first.to_owned(),
                last: last.to_owned(),
                email,
                phone: format!("1415555{suffix:04}"),
                creator: members.choose(rng).map_or(0, |m| m.id),
                assigned_user,
                opted_out: rng.random_bool(0.015),
                blocked: rng.random_bool(0.01),
                created,
                updated,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::store::records::Status;

    /// Enough of a team's data to tell two generations apart.
    fn fingerprint(data: &TeamData) -> Vec<String> {
        let conversations = data
            .conversations
            .iter()
            .map(|c| format!("{} {} {} {}", c.id, c.inbox, c.target, c.updated));
        let messages = data
            .messages
            .iter()
            .map(|m| format!("{} {} {} {}", m.id, m.conversation, m.date, m.text));
        conversations.chain(messages).collect()
    }

    #[test]
    fn the_same_seed_yields_the_same_data_and_teams_differ() {
        let first = fingerprint(&team_data(7, 1));
        assert_eq!(first, fingerprint(&team_data(7, 1)));
        assert_ne!(first, fingerprint(&team_data(8, 1)));
        let second_team = team_data(7, 2);
        assert_ne!(first, fingerprint(&second_team));
        assert_eq!(second_team.conversations[0].id, 2_000_001);
        assert_eq!(second_team.team.id, 102);
    }

    #[test]
    fn a_team_has_the_promised_size_and_shape() {
        let data = team_data(42, 1);
        assert_eq!(data.members.len(), 12);
        assert_eq!(data.inboxes.len(), 5);
        assert!(
            data.inboxes
                .iter()
                .all(|i| i.has_member(501) && (3..=8).contains(&i.members.len()))
        );
        assert_eq!(data.inboxes.iter().filter(|i| i.auto_assignable).count(), 1);
        assert!(data.contacts.len() >= 2400);
        assert!(data.conversations.len() >= 6000);
        assert!(data.messages.len() >= 36_000);
        let long = data
            .conversations
            .iter()
            .filter(|c| (150..=400).contains(&c.messages.len()));
        assert!(long.count() >= 10);
        let phones: HashSet<_> = data.contacts.iter().map(|c| c.phone.as_str()).collect();
        assert_eq!(phones.len(), data.contacts.len());
        let targets: HashSet<_> = data
            .conversations
            .iter()
            .map(|c| (c.inbox, c.target.as_str()))
            .collect();
        assert_eq!(targets.len(), data.conversations.len());
        assert!(
            data.conversations
                .iter()
                .any(|c| c.status == Status::Closed)
        );
        assert!(
            data.conversations
                .iter()
                .any(|c| c.channel == Channel::Email)
        );
        assert!(data.contacts.iter().any(|c| c.opted_out));
    }

    #[test]
    fn added_members_join_one_sms_inbox_each_and_change_nothing_else() {
        let seeded = team_data(42, 1);
        let mut grown = team_data(42, 1);
        add_members(&mut grown, 40);
        let named = |members: &[Member]| -> Vec<(i64, String)> {
            members.iter().map(|m| (m.id, m.name.clone())).collect()
        };
        assert_eq!(grown.members.len(), 40);
        assert_eq!(named(&grown.members[..MEMBERS]), named(&seeded.members));
        assert_eq!(fingerprint(&grown), fingerprint(&seeded));
        for member in &grown.members[MEMBERS..] {
            let inboxes: Vec<&Inbox> = grown
                .inboxes
                .iter()
                .filter(|inbox| inbox.has_member(member.id))
                .collect();
            assert_eq!(inboxes.len(), 1, "member {} joins one inbox", member.id);
            assert_eq!(inboxes[0].channel, Channel::Sms);
        }
        for (grown, seeded) in grown.inboxes.iter().zip(&seeded.inboxes) {
            assert!(grown.members.starts_with(&seeded.members));
            assert!(grown.members.is_sorted());
        }
    }

    #[test]
    fn ties_are_deliberate_and_bounded() {
        let data = team_data(42, 1);
        let mut groups: HashMap<DateTime<Utc>, usize> = HashMap::new();
        for conversation in &data.conversations {
            *groups.entry(conversation.updated).or_default() += 1;
        }
        assert!(groups.values().all(|&size| size <= 4));
        assert!(groups.values().filter(|&&size| size >= 2).count() >= 100);

        let mut same_second = 0;
        for conversation in &data.conversations {
            let dates: Vec<_> = conversation
                .messages
                .iter()
                .map(|&id| data.messages[(id - data.messages[0].id) as usize].date)
                .collect();
            assert_eq!(dates.last(), Some(&conversation.updated));
            assert!(dates.windows(2).all(|pair| pair[0] <= pair[1]));
            same_second += dates
                .windows(2)
                .filter(|pair| pair[0].timestamp() == pair[1].timestamp())
                .count();
        }
        assert!(same_second >= 1000);
        assert!(
            data.messages
                .windows(2)
                .all(|pair| pair[0].date <= pair[1].date && pair[0].id + 1 == pair[1].id)
        );
    }
}
