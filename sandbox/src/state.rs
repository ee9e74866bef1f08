//! The state every sandbox handler shares: the teams with their data and budgets, the fault
//! knobs, the counters and the webhook queue.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::TeamCredentials;
use super::faults::Faults;
use super::limiter::SlidingWindow;
use super::seed;
use super::stats::Stats;
use super::store::TeamStore;
use super::webhooks::{EventKind, WebhookWorker, Webhooks};
use crate::config::SandboxConfig;
use crate::readings::{Readings, WriteEvents};

/// One simulated tenant.
pub(crate) struct Team {
    pub(crate) id: i64,
    /// The id of this team's webhook configuration, sent as the envelope's `id`.
    pub(crate) webhook_id: i64,
    /// The verification token of that configuration, sent as the envelope's `token`.
    pub(crate) webhook_token: String,
    store: Mutex<TeamStore>,
    pub(crate) limiter: SlidingWindow,
}

impl Team {
    /// Locks the team's data. A handler that panicked while holding the lock left no partial
    /// update behind that later requests could not read, so a poisoned lock is taken over.
    pub(crate) fn store(&self) -> MutexGuard<'_, TeamStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Shared by every request (behind an `Arc`).
pub(crate) struct SandboxState {
    /// How the simulated API answers where the real one's documentation is open.
    pub(crate) readings: Readings,
    pub(crate) credentials: Vec<TeamCredentials>,
    /// In the order of `credentials`.
    pub(crate) teams: Vec<Arc<Team>>,
    pub(crate) faults: Faults,
    pub(crate) stats: Arc<Stats>,
    webhooks: Webhooks,
}

impl SandboxState {
    /// Seeds every team; also returns the webhook worker when a webhook URL is configured.
    pub(crate) fn new(
        config: &SandboxConfig,
    ) -> Result<(Self, Option<WebhookWorker>), reqwest::Error> {
        let stats = Arc::new(Stats::default());
        let faults = Faults::default();
        let (webhooks, worker) = Webhooks::new(
            config.webhook_url.clone(),
            stats.clone(),
            faults.webhooks_held(),
        )?;
        let seeded: Vec<TeamStore> = std::thread::scope(|scope| {
            let seeding: Vec<_> = (1..=config.teams)
                .map(|number| {
                    scope.spawn(move || {
                        let mut data = seed::team_data(config.seed, number);
                        seed::add_members(&mut data, config.members);
                        TeamStore::new(data, config.readings)
                    })
                })
                .collect();
            let joined = seeding.into_iter().map(|handle| handle.join());
            joined
                .map(|seeded| seeded.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        let mut credentials = Vec::new();
        let mut teams = Vec::new();
        for (number, store) in (1..).zip(seeded) {
            let team = store.team().clone();
            credentials.push(TeamCredentials {
                team_id: team.id,
                team_name: team.name,
                secret_id: format!("sandbox-secret-id-{number}"),
                secret_key: format!("sandbox-secret-key-{number}"),
                api_key: format!("sandbox-api-key-{number}"),
                webhook_token: format!("{}-{number}", config.webhook_token),
            });
            teams.push(Arc::new(Team {
                id: team.id,
                webhook_id: 900 + number,
                webhook_token: format!("{}-{number}", config.webhook_token),
                store: Mutex::new(store),
                limiter: SlidingWindow::new(config.rate_limit),
            }));
        }
        let state = Self {
            readings: config.readings,
            credentials,
            teams,
            faults,
            stats,
            webhooks,
        };
        Ok((state, worker))
    }

    pub(crate) fn team_by_id(&self, id: i64) -> Option<&Arc<Team>> {
        self.teams.iter().find(|team| team.id == id)
    }

    /// Queues a webhook event of `team`.
    pub(crate) fn emit(&self, team: &Team, kind: EventKind, event_data: &impl serde::Serialize) {
        self.webhooks
            .emit(team.webhook_id, &team.webhook_token, kind, event_data);
    }

    /// Queues the webhook event of a change made through the API, where the reading
    /// `write-events` says such changes fire one.
    pub(crate) fn emit_for_write(
        &self,
        team: &Team,
        kind: EventKind,
        event_data: &impl serde::Serialize,
    ) {
        if self.readings.write_events == WriteEvents::Fired {
            self.emit(team, kind, event_data);
        }
    }
}
