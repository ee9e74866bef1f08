//! The cache replicas share (see `loaders::shared`), in Redis.
//!
//! Keys: `heymarket-gateway:cache:{era}:{team}:{epoch}:{entry}`, and
//! `heymarket-gateway:cache:{era}:{team}:contacts:{epoch}:{entry}` for contacts. A team's
//! **epoch** moves on in the transaction that publishes each of its events ([`move_epochs`]),
//! so every replica reads the new epoch before it hears the event; its contacts epoch moves
//! with the events that concern a contact only. The **era** moves on whenever a replica
//! (re)joins the event channel ([`new_era`]): events delivered while Redis was unreachable
//! moved no epoch, so what was shared before an outage is left behind with it. So does a
//! publish that fails, whose event the replica then delivers to itself only. Epoch and era keys
//! never expire (a `volatile-*` eviction policy leaves them be); entries do.

use std::time::Duration;

use ::redis::{Cmd, Pipeline, Script};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::RedisConnection;
use crate::events::Event;
use crate::loaders::{SharedRead, SharedScope, SharedStore};

/// Where the entries are.
const ENTRY_PREFIX: &str = "heymarket-gateway:cache:";
/// The era every entry key names.
const ERA_KEY: &str = "heymarket-gateway:cache-era";

/// KEYS[1]: the era; KEYS[2]: the team's epoch (of the scope read). ARGV[1]: the entries'
/// prefix and ARGV[2] the team (and scope), ARGV[3…]: the entries. Answers the prefix of the current era and epoch (what the
/// entries are written under) and each entry's value, or nil. One round trip, and the epoch
/// read with the entries, never after them.
const READ: &str = r"
local era = redis.call('GET', KEYS[1]) or '0'
local epoch = redis.call('GET', KEYS[2]) or '0'
local prefix = ARGV[1] .. era .. ':' .. ARGV[2] .. ':' .. epoch .. ':'
local values = {}
for i = 3, #ARGV do
  values[i - 2] = redis.call('GET', prefix .. ARGV[i])
end
return {prefix, values}
";

/// Where `team_id`'s epochs of `scope` are told apart: in the key of the epoch, and in the
/// keys of the entries.
fn scoped(team_id: i64, scope: SharedScope) -> String {
    match scope {
        SharedScope::Conversations => team_id.to_string(),
        SharedScope::Contacts => format!("{team_id}:contacts"),
    }
}

/// The key of `team_id`'s epoch of `scope`.
fn epoch_key(team_id: i64, scope: SharedScope) -> String {
    format!("heymarket-gateway:cache-epoch:{}", scoped(team_id, scope))
}

/// Adds to `transaction` the moves of the epochs `event` ends: its team's, and its team's
/// contacts epoch when it concerns a contact.
pub(super) fn move_epochs(transaction: &mut Pipeline, event: &Event) {
    let team_id = event.team_id;
    transaction
        .incr(epoch_key(team_id, SharedScope::Conversations), 1)
        .ignore();
    if event.kind.concerns_a_contact() {
        transaction
            .incr(epoch_key(team_id, SharedScope::Contacts), 1)
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
        scope: SharedScope,
        keys: &'a [String],
    ) -> BoxFuture<'a, Option<SharedRead>> {
        async move {
            let mut read = self.read.key(ERA_KEY);
            read.key(epoch_key(team_id, scope))
                .arg(ENTRY_PREFIX)
                .arg(scoped(team_id, scope));
            for key in keys {
                read.arg(key);
            }
            let answer = self.connection.invoke(&read).await;
            let (epoch, values): (String, Vec<Option<Vec<u8>>>) = answer
                .inspect_err(|error| tracing::debug!(%error, "shared cache read failed"))
                .ok()?;
            (values.len() == keys.len()).then_some(SharedRead { epoch, values })
        }
        .boxed()
    }

    fn write(
        &self,
        epoch: String,
        entries: Vec<(String, Vec<u8>)>,
        lifetime: Duration,
    ) -> BoxFuture<'_, ()> {
        async move {
            let millis = u64::try_from(lifetime.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let mut writes = ::redis::pipe();
            for (key, value) in entries {
                writes
                    .cmd("SET")
                    .arg(format!("{epoch}{key}"))
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
}
