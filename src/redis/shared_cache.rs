//! The cache replicas share (see `loaders::shared`), in Redis.
//!
//! Keys: `heymarket-gateway:cache:{era}:{team}:{values}:{entry}`, where `{values}` are the
//! current values of the team epochs the entry is kept by (`loaders::Epoch`), each under
//! `heymarket-gateway:cache-epochs:{team}:{epoch}`. An event moves its epochs on in the
//! script that publishes it ([`announcement`]), so every replica reads the new values before
//! it hears the event; the epochs of lists, only once for each state of a conversation that
//! events report (remembered under `heymarket-gateway:cache-states:{team}:{conversation}`).
//! The **era** moves on whenever a replica (re)joins the event channel ([`new_era`]): events
//! delivered while Redis was unreachable moved no epoch, so what was shared before an outage
//! is left behind with it. So does a publish that fails, whose event the replica then
//! delivers to itself only.
//!
//! An epoch's value is a random nonce, set by each move, or by the first read that finds none,
//! and never counted up: a value is never taken twice, so an epoch key may expire
//! ([`EPOCH_LIFETIME`]) or be evicted and come back with a new value, which only leaves the
//! entries kept under the old one behind. Redis holds one epoch key per conversation, inbox and
//! customer the team's events touched in the last `EPOCH_LIFETIME`. The era key never expires
//! (a `volatile-*` eviction policy leaves it be); entries do.

use std::time::Duration;

use ::redis::{Cmd, Pipeline, Script, ScriptInvocation};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::RedisConnection;
use crate::events::Event;
use crate::loaders::{Epoch, REMEMBER_STATES_FOR, SharedEntry, SharedRead, SharedStore, Slot};

/// Which rules the epochs are kept by: the epochs each event moves (`loaders::Epoch`) and the
/// keys they are kept under. Every published event says which rules its publisher moved
/// epochs by, and a replica that hears an event moved by other rules (a replica of another
/// version, during a rolling upgrade) moves this event's epochs by its own before it takes the
/// event in. Moved on whenever either changes.
pub(super) const EPOCH_RULES: u32 = 2;

/// Where the entries are.
const ENTRY_PREFIX: &str = "heymarket-gateway:cache:";
/// The era every entry key names.
const ERA_KEY: &str = "heymarket-gateway:cache-era";
/// How long an epoch key lives after it was last moved or first read: far longer than an
/// entry (half `--cache-ttl-with-events`, 2.5 minutes by default), so entries are rarely left
/// behind by an expiry, and short enough that the keys of conversations gone quiet go.
const EPOCH_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Where an entry's lease is, before its name (see `loaders::Slot`): apart from every entry.
const LEASE_PREFIX: &str = "heymarket-gateway:cache-lease:";

/// KEYS[1]: the era; KEYS[2…]: the epochs read. ARGV[1]: the entries' prefix; ARGV[2]: the
/// team; ARGV[3]: the value an epoch not set yet takes, and ARGV[4] how long it lives (ms);
/// ARGV[5]: the leases' prefix, and ARGV[6] how long a lease lasts (ms; 0 takes none); then,
/// entry by entry, its key, the count of its epochs and their places in KEYS. Answers where
/// each entry is kept now (what a fill is written under) and, for each, its value, or 1 when
/// the reader is to fill it (and holds its lease, if one was asked for), or 0 when another
/// reader holds the lease. One round trip, and the epochs read with the entries, never after
/// them.
const READ: &str = r"
local era = redis.call('GET', KEYS[1]) or '0'
local epochs = {}
for i = 2, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if not value then
    value = ARGV[3]
    redis.call('SET', KEYS[i], value, 'PX', ARGV[4])
  end
  epochs[i] = value
end
local base = ARGV[1] .. era .. ':' .. ARGV[2] .. ':'
local lease = tonumber(ARGV[6])
local names, found = {}, {}
local i = 7
while i <= #ARGV do
  local count = tonumber(ARGV[i + 1])
  local parts = {}
  for j = 1, count do
    parts[j] = epochs[tonumber(ARGV[i + 1 + j])]
  end
  local name = base .. table.concat(parts, '.') .. ':' .. ARGV[i]
  local value = redis.call('GET', name)
  if value then
    found[#names + 1] = value
  elseif lease > 0 and not redis.call('SET', ARGV[5] .. name, '1', 'NX', 'PX', lease) then
    found[#names + 1] = 0
  else
    found[#names + 1] = 1
  end
  names[#names + 1] = name
  i = i + 2 + count
end
return {names, found}
";

/// Moves on the epochs of an event and publishes it. KEYS[1…ARGV[1]]: the epochs every event
/// moves; then, when the event names a conversation, the state last announced of it, and the
/// epochs of its lists. ARGV[2]: the epochs' new value, and ARGV[3] how long they live (ms);
/// ARGV[4]: the digest of the state the event reports, empty when it has none, and ARGV[5] how
/// long a state is remembered (ms); ARGV[6]: the channel; ARGV[7]: the event. The state
/// announced is a hash of its digest and of each list epoch moved on for it: another event
/// reporting the same state moves only those not moved yet, and one that reports another
/// state, or none, forgets it. Answers as `PUBLISH` does.
const ANNOUNCE: &str = r"
local always = tonumber(ARGV[1])
local value, lifetime, digest = ARGV[2], ARGV[3], ARGV[4]
for i = 1, always do
  redis.call('SET', KEYS[i], value, 'PX', lifetime)
end
if #KEYS > always then
  local state = KEYS[always + 1]
  if digest == '' or redis.call('HGET', state, 'digest') ~= digest then
    redis.call('DEL', state)
  end
  for i = always + 2, #KEYS do
    if digest == '' or redis.call('HSETNX', state, KEYS[i], '1') == 1 then
      redis.call('SET', KEYS[i], value, 'PX', lifetime)
    end
  end
  if digest ~= '' then
    redis.call('HSET', state, 'digest', digest)
    redis.call('PEXPIRE', state, ARGV[5])
  end
end
return redis.call('PUBLISH', ARGV[6], ARGV[7])
";

/// The script that publishes events (see [`ANNOUNCE`]).
pub(super) fn announcer() -> Script {
    Script::new(ANNOUNCE)
}

/// The invocation of `announcer` that moves on the epochs `event` ends and publishes
/// `payload` on `channel`, in one step: a replica that hears the event reads nothing shared
/// before it. The epochs of lists it moves only once for each state reported of its
/// conversation (`Event::state_digest`): the webhook of a replica's write, which reports the
/// state the replica read back, finds its lists moved on by the replica's hint already.
pub(super) fn announcement<'a>(
    announcer: &'a Script,
    event: &Event,
    channel: &str,
    payload: &[u8],
) -> ScriptInvocation<'a> {
    let (lists, always): (Vec<Epoch>, Vec<Epoch>) = Epoch::moved_by(event)
        .into_iter()
        .partition(Epoch::keeps_lists_only);
    let mut invocation = announcer.prepare_invoke();
    for epoch in &always {
        invocation.key(epoch_key(event.team_id, epoch));
    }
    if let Some(conversation) = event.conversation_id() {
        invocation.key(format!(
            "heymarket-gateway:cache-states:{}:{conversation}",
            event.team_id
        ));
        for epoch in &lists {
            invocation.key(epoch_key(event.team_id, epoch));
        }
    }
    invocation
        .arg(always.len())
        .arg(rand::random::<u64>())
        .arg(epoch_millis())
        .arg(event.state_digest.as_deref().unwrap_or_default())
        .arg(millis(REMEMBER_STATES_FOR))
        .arg(channel)
        .arg(payload);
    invocation
}

/// The key of `team_id`'s `epoch`.
fn epoch_key(team_id: i64, epoch: &Epoch) -> String {
    format!("heymarket-gateway:cache-epochs:{team_id}:{}", epoch.name())
}

/// How long an epoch key lives, in Redis's milliseconds.
fn epoch_millis() -> u64 {
    millis(EPOCH_LIFETIME)
}

/// Adds to `transaction` the moves of the epochs `event` ends (see `loaders::Epoch`), each to
/// a value never taken before.
pub(super) fn move_epochs(transaction: &mut Pipeline, event: &Event) {
    let value = rand::random::<u64>();
    for epoch in Epoch::moved_by(event) {
        transaction
            .cmd("SET")
            .arg(epoch_key(event.team_id, &epoch))
            .arg(value)
            .arg("PX")
            .arg(epoch_millis())
            .ignore();
    }
}

/// The command that starts a new era.
pub(super) fn new_era() -> Cmd {
    let mut incr = ::redis::cmd("INCR");
    incr.arg(ERA_KEY);
    incr
}

/// Shared entries in Redis. Redis failing makes a read answer nothing (the upstream is asked)
/// and a write do nothing.
pub struct RedisSharedCache {
    connection: RedisConnection,
    read: Script,
}

impl RedisSharedCache {
    pub fn new(connection: RedisConnection) -> Self {
        Self {
            connection,
            read: Script::new(READ),
        }
    }
}

impl SharedStore for RedisSharedCache {
    fn read<'a>(
        &'a self,
        team_id: i64,
        entries: &'a [SharedEntry],
        lease: Option<Duration>,
    ) -> BoxFuture<'a, Option<SharedRead>> {
        async move {
            // Each epoch once, however many entries are kept by it; an entry names its
            // epochs by their place among the script's keys, where the era is first.
            let mut epochs: Vec<&Epoch> = Vec::new();
            let mut places = |epoch| match epochs.iter().position(|seen| *seen == epoch) {
                Some(index) => index + 2,
                None => {
                    epochs.push(epoch);
                    epochs.len() + 1
                }
            };
            let entry_places: Vec<Vec<usize>> = entries
                .iter()
                .map(|entry| entry.epochs.iter().map(&mut places).collect())
                .collect();
            let mut read = self.read.key(ERA_KEY);
            for epoch in &epochs {
                read.key(epoch_key(team_id, epoch));
            }
            read.arg(ENTRY_PREFIX)
                .arg(team_id)
                .arg(rand::random::<u64>())
                .arg(epoch_millis())
                .arg(LEASE_PREFIX)
                .arg(lease.map_or(0, millis));
            for (entry, places) in entries.iter().zip(entry_places) {
                read.arg(&entry.key).arg(places.len()).arg(places);
            }
            let answer = self.connection.invoke(&read).await;
            let (names, found): (Vec<String>, Vec<::redis::Value>) = answer
                .inspect_err(|error| tracing::debug!(%error, "shared cache read failed"))
                .ok()?;
            let slots: Option<Vec<Slot>> = found.into_iter().map(slot).collect();
            let slots = slots?;
            let whole = names.len() == entries.len() && slots.len() == entries.len();
            whole.then_some(SharedRead { names, slots })
        }
        .boxed()
    }

    fn write(&self, entries: Vec<(String, Vec<u8>)>, lifetime: Duration) -> BoxFuture<'_, ()> {
        async move {
            let millis = millis(lifetime);
            let mut writes = ::redis::pipe();
            for (name, value) in entries {
                writes
                    .cmd("SET")
                    .arg(name)
                    .arg(value)
                    .arg("PX")
                    .arg(millis)
                    .ignore();
            }
            if let Err(error) = self.connection.query_pipeline::<()>(&writes).await {
                tracing::debug!(%error, "could not share cache entries through Redis");
            }
        }
        .boxed()
    }

    fn release(&self, name: String) -> BoxFuture<'_, ()> {
        async move {
            let mut delete = ::redis::cmd("DEL");
            delete.arg(format!("{LEASE_PREFIX}{name}"));
            if let Err(error) = self.connection.query::<u64>(&delete).await {
                tracing::debug!(%error, "could not end a shared cache lease");
            }
        }
        .boxed()
    }
}

/// What the read script found of one entry (see [`READ`]); `None` for an answer it never gives.
fn slot(found: ::redis::Value) -> Option<Slot> {
    match found {
        ::redis::Value::BulkString(value) => Some(Slot::Value(value)),
        ::redis::Value::Int(1) => Some(Slot::Fill),
        ::redis::Value::Int(0) => Some(Slot::Filling),
        _ => None,
    }
}

/// `duration` in Redis's milliseconds, one at the least (Redis refuses a zero expiry).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
