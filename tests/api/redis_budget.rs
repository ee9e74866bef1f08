//! The upstream rate budget shared by replicas through a real Redis, counted at the sandbox.

use std::time::Duration;

use heymarket_gateway::config::RateBudget;
use heymarket_gateway::redis::{RedisBudget, RedisConnection};
use heymarket_gateway::upstream::{Client, Error};
use heymarket_sandbox::SandboxConfig;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::helpers::{TestSandbox, sandbox_budget, spawn_sandbox};
use crate::redis_support::{RedisServer, free_port, until_up};

/// What the sandbox allows the team, and what each replica is configured to spend.
const BUDGET: RateBudget = RateBudget {
    requests: 10,
    per: Duration::from_secs(1),
};

async fn strict_sandbox() -> TestSandbox {
    spawn_sandbox(SandboxConfig {
        rate_limit: sandbox_budget(BUDGET),
        ..SandboxConfig::default()
    })
    .await
}

/// A replica's upstream client: with the budget shared through `redis`, or its own.
fn replica(sandbox: &TestSandbox, redis: Option<RedisConnection>) -> Client {
    let mut config = sandbox.upstream_config(0);
    config.rate_limit = BUDGET;
    config.max_retries = 0;
    match redis {
        Some(redis) => {
            Client::with_shared_budget(&config, |schedule| RedisBudget::new(redis, schedule))
        }
        None => Client::new(&config),
    }
    .expect("valid settings")
}

/// `calls` concurrent calls spread evenly over `replicas`; how many the sandbox refused.
async fn burst(replicas: &[Client], calls: usize) -> usize {
    let tasks = (0..calls).map(|n| {
        let tenant = replicas[n % replicas.len()].tenant(None).unwrap();
        tokio::spawn(async move { tenant.team().await })
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|call| call.expect("the task ran"))
        .filter(|call| match call {
            Ok(_) => false,
            Err(Error::RateLimited { .. }) => true,
            Err(other) => panic!("unexpected failure: {other:?}"),
        })
        .count()
}

async fn refusals_at(sandbox: &TestSandbox) -> u64 {
    sandbox.stats().await["statuses"]["429"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn replicas_sharing_the_budget_stay_within_it_together() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let sandbox = strict_sandbox().await;
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let connect = || RedisConnection::start(&server.url(), stop.clone()).unwrap();
    let (to_a, to_b) = (connect(), connect());
    until_up(&[&to_a, &to_b]).await;
    let replicas = [replica(&sandbox, Some(to_a)), replica(&sandbox, Some(to_b))];

    assert_eq!(burst(&replicas, 30).await, 0);

    assert_eq!(sandbox.calls("GET /v1/team").await, 30);
    assert_eq!(refusals_at(&sandbox).await, 0);
}

#[tokio::test]
async fn replicas_with_budgets_of_their_own_overspend_together() {
    let sandbox = strict_sandbox().await;
    let replicas = [replica(&sandbox, None), replica(&sandbox, None)];

    let refused = burst(&replicas, 30).await;

    assert!(refused > 0, "two local budgets spend twice the budget");
    assert_eq!(refusals_at(&sandbox).await, refused as u64);
}

#[tokio::test]
async fn without_redis_the_local_limiter_paces_the_calls() {
    let sandbox = strict_sandbox().await;
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let nowhere: Url = format!("redis://127.0.0.1:{}", free_port())
        .parse()
        .unwrap();
    let down = RedisConnection::start(&nowhere, stop.clone()).unwrap();
    let replicas = [replica(&sandbox, Some(down))];

    assert_eq!(burst(&replicas, 20).await, 0, "every call succeeds");

    assert_eq!(refusals_at(&sandbox).await, 0, "and within the budget");
}
