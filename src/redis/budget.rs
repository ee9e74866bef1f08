//! The upstream rate budget shared by replicas: one GCRA state per tenant, kept in Redis.
//!
//! GCRA rather than a sliding log of calls: one small key per tenant instead of one entry per
//! call; the same schedule as the local limiter, so the proof that no window of the budget's
//! length holds more than the budget carries over; and calls come out evenly spaced rather than
//! in bursts at window edges, which leaves room for the network delays between our permit and
//! the upstream's count. The script reads Redis's own clock and runs atomically, so every
//! replica's permits fall on one schedule, whatever their clocks say. (`TIME` before a write in
//! a script needs Redis 5 or newer.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::Script;
use futures::future::BoxFuture;

use super::{Error, RedisConnection};
use crate::upstream::{RateSchedule, SharedBudget, TenantKey};

/// Prefix of the keys holding each tenant's schedule; the tenant key's hex digest follows.
const KEY_PREFIX: &str = "heymarket-gateway:budget:";

/// KEYS[1]: the tenant's theoretical arrival time (TAT), in microseconds of Redis's clock.
/// ARGV[1]: one cell's period; ARGV[2]: the burst tolerance, `(burst - 1) * period`.
/// Answers 0 when the call may go now (and counts it), otherwise how many microseconds to wait.
/// The key expires when its TAT has passed, which is when it would say nothing any more.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local period = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
local next_tat = tat + period
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return 0
";

/// Permits for upstream calls, drawn from one schedule per tenant that every replica shares.
pub struct RedisBudget {
    connection: RedisConnection,
    script: Script,
    period_micros: u64,
    tolerance_micros: u64,
    /// Set while Redis fails, so the switch to the local limiter is logged once per outage.
    failing: AtomicBool,
}

impl RedisBudget {
    /// Up to `schedule.burst` calls at once, then one per `schedule.period`, for each tenant
    /// across replicas.
    pub fn new(connection: RedisConnection, schedule: RateSchedule) -> Self {
        let RateSchedule { period, burst } = schedule;
        // Rounded up to whole microseconds, which only makes the schedule stricter.
        let period_micros = u64::try_from(period.as_nanos().div_ceil(1000))
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            connection,
            script: Script::new(GCRA),
            period_micros,
            tolerance_micros: period_micros.saturating_mul(u64::from(burst.get() - 1)),
            failing: AtomicBool::new(false),
        }
    }

    /// Waits until `tenant` may make one more call, and takes that permit; whether it had to
    /// wait. Fails as soon as Redis does, so the caller can fall back to its own limiter.
    async fn acquire(&self, tenant: &TenantKey) -> Result<bool, Error> {
        let mut waited = false;
        loop {
            let wait_micros = self.take(tenant).await?;
            if wait_micros == 0 {
                return Ok(waited);
            }
            waited = true;
            tracing::debug!(
                wait_ms = wait_micros / 1000,
                "waiting for the shared upstream rate budget"
            );
            tokio::time::sleep(Duration::from_micros(wait_micros)).await;
        }
    }

    /// Takes a permit for `tenant` if one is free now, without waiting; whether it did.
    async fn try_acquire(&self, tenant: &TenantKey) -> Result<bool, Error> {
        Ok(self.take(tenant).await? == 0)
    }

    /// One run of the script: 0 when the permit was taken, else how many microseconds until
    /// one is free.
    async fn take(&self, tenant: &TenantKey) -> Result<u64, Error> {
        let key = format!("{KEY_PREFIX}{}", tenant.hex());
        let mut invocation = self.script.key(&key);
        invocation
            .arg(self.period_micros)
            .arg(self.tolerance_micros);
        match self.connection.invoke::<u64>(&invocation).await {
            Ok(wait) => {
                self.recovered();
                Ok(wait)
            }
            Err(error) => {
                self.failed(&error);
                Err(error)
            }
        }
    }

    fn failed(&self, error: &Error) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %error,
                "the shared upstream budget is unavailable: this replica paces its calls alone"
            );
        }
    }

    fn recovered(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("the shared upstream budget is back");
        }
    }
}

/// Redis's failures are logged by the budget itself (once per outage); the limiter only needs
/// to know that it must pace the call alone.
impl SharedBudget for RedisBudget {
    fn acquire<'a>(&'a self, tenant: &'a TenantKey) -> BoxFuture<'a, Option<bool>> {
        Box::pin(async move { RedisBudget::acquire(self, tenant).await.ok() })
    }

    fn try_acquire<'a>(&'a self, tenant: &'a TenantKey) -> BoxFuture<'a, Option<bool>> {
        Box::pin(async move { RedisBudget::try_acquire(self, tenant).await.ok() })
    }
}
