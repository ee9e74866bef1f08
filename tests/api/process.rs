//! The binary as people run it: help, bad flags, the zero-configuration default run, and how
//! it stops on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use heymarket_gateway::schema::GlobalId;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::binary_support::{
    DefaultRun, command, default_run, spawn, start, temporary_file, terminate,
};
use crate::helpers::eventually;
use crate::ws_support::{Init, Subscriber, connect_ws_to};

/// Runs the binary to completion with no `HEYMARKET_*` settings from the environment.
async fn run(args: &[&str]) -> std::process::Output {
    command(args).output().await.expect("the binary runs")
}

#[tokio::test]
async fn help_documents_every_command_and_env_var() {
    let output = run(&["--help"]).await;
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "serve",
        "sandbox",
        "schema",
        "--listen",
        "HEYMARKET_LISTEN",
        "--sandbox-listen",
    ] {
        assert!(
            help.contains(expected),
            "`{expected}` missing from:\n{help}"
        );
    }

    let output = run(&["serve", "--help"]).await;
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "--upstream-url",
        "HEYMARKET_SECRET_ID",
        "HEYMARKET_SECRET_KEY",
        "HEYMARKET_API_KEY",
        "--upstream-timeout",
        "--upstream-breaker-threshold",
        "HEYMARKET_UPSTREAM_BREAKER_COOLDOWN",
        "--shutdown-timeout",
        "HEYMARKET_SHUTDOWN_TIMEOUT",
    ] {
        assert!(
            help.contains(expected),
            "`{expected}` missing from:\n{help}"
        );
    }
}

#[tokio::test]
async fn bad_configuration_is_a_clear_error_and_a_failure_exit() {
    for (args, expected) in [
        (&["--no-such-flag"][..], "--no-such-flag"),
        (&["--listen", "nowhere"][..], "--listen"),
        (
            &["serve", "--upstream-url", "not a url"][..],
            "--upstream-url",
        ),
        (
            &["serve", "--secret-id", "only-the-id"][..],
            "HEYMARKET_SECRET_KEY",
        ),
        (&["serve", "--upstream-rate-limit", "fast"][..], "500/min"),
        (&["--sandbox-profile", "lenient"][..], "--sandbox-profile"),
        (
            &["sandbox", "--sandbox-reading", "page-size=lots"][..],
            "a number from 1 to 10000",
        ),
        (
            &["serve", "--cors-allow-origin", "app.example"][..],
            "--cors-allow-origin",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:0",
                "--sandbox-listen",
                "127.0.0.1:0",
                "--operation-allowlist",
                "/nonexistent/operations.json",
            ][..],
            "/nonexistent/operations.json",
        ),
    ] {
        let output = run(args).await;
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_line = stderr.lines().next().unwrap_or_default();
        assert!(
            first_line.starts_with("error:") && first_line.contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn a_taken_port_is_reported_not_panicked() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();

    let output = run(&["--listen", &addr, "--sandbox-listen", "127.0.0.1:0"]).await;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot listen on") && stderr.contains(&addr),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn the_schema_command_prints_the_sdl() {
    let output = run(&["schema"]).await;
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        heymarket_gateway::schema::sdl()
    );
}

/// Starts the default run on free ports and returns the process and the GraphiQL URL it printed.
async fn start_default_run() -> (Child, String) {
    let run = start_default_run_with(&[]).await;
    (run.child, run.graphiql)
}

/// Starts the default run on free ports with `extra` flags, and reads its banner.
async fn start_default_run_with(extra: &[&str]) -> DefaultRun {
    let mut command = default_run(extra);
    command.stderr(Stdio::null());
    start(command).await
}

#[tokio::test]
async fn the_default_run_serves_graphiql_and_answers_queries() {
    let (mut child, graphiql) = start_default_run().await;
    let http = reqwest::Client::new();

    let page = http.get(&graphiql).send().await.expect("GraphiQL answers");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("GraphiQL"));

    let endpoint = format!("{}graphql", graphiql);
    let body: Value = http
        .post(&endpoint)
        .json(&serde_json::json!({ "query": "{ inboxes { name } }" }))
        .send()
        .await
        .expect("GraphQL answers")
        .json()
        .await
        .expect("JSON");
    let inboxes = body["data"]["inboxes"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        inboxes.iter().all(|inbox| inbox["name"].is_string()) && inboxes.len() >= 4,
        "{body}"
    );

    child.kill().await.expect("the process stops");
}

#[tokio::test]
async fn the_sandbox_plays_the_profile_and_readings_of_its_environment() {
    let mut command = default_run(&[]);
    command
        .env("HEYMARKET_SANDBOX_PROFILE", "refusing")
        .env("HEYMARKET_SANDBOX_READINGS", "page-size=7,opt-out=ignored")
        .stderr(Stdio::null());
    let mut run = start(command).await;
    let readings: Value = reqwest::get(format!("{}/_sandbox/readings", run.sandbox))
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        (
            &readings["page-size"],
            &readings["opt-out"],
            &readings["empty-inboxes"],
            &readings["local-id"],
        ),
        (
            &json!(7),
            &json!("ignored"),
            &json!("refused"),
            &json!("deduplicated")
        ),
        "{readings}"
    );
    run.child.kill().await.expect("the process stops");
}

#[tokio::test]
async fn a_configuration_file_supplies_settings_under_the_flags() {
    let file = temporary_file(
        "gateway-config",
        "# limits for this deployment
HEYMARKET_MAX_DEPTH=2
HEYMARKET_INTROSPECTION='false'
",
    );
    let path = file.to_string_lossy().into_owned();
    let mut run = start_default_run_with(&["--config", &path, "--max-depth", "3"]).await;
    let http = reqwest::Client::new();
    let endpoint = format!("{}graphql", run.graphiql);
    let ask = |query: &'static str| {
        let request = http
            .post(&endpoint)
            .json(&serde_json::json!({ "query": query }));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body
        }
    };

    let depth_three = ask("{ viewer { inboxes { name } } }").await;
    let depth_four = ask("{ viewer { inboxes { members { name } } } }").await;
    let introspection = ask("{ __schema { queryType { name } } }").await;

    assert!(
        depth_three["errors"].is_null(),
        "the flag wins: {depth_three}"
    );
    assert_eq!(
        depth_four["errors"][0]["extensions"]["limit"], "depth",
        "{depth_four}"
    );
    assert!(
        introspection["data"]["__schema"].is_null(),
        "the file applies: {introspection}"
    );
    run.child.kill().await.expect("the process stops");
    std::fs::remove_file(file).unwrap();
}

/// Runs `serve` until its banner's two lines are printed, then stops it: the banner and
/// whatever the process logged.
async fn serve_banner(command: tokio::process::Command) -> (String, String) {
    let mut serve = spawn(command);
    serve
        .read_until(|line| line.contains("Each client may make").then_some(()))
        .await;
    terminate(&serve.child);
    serve.finish().await
}

#[tokio::test]
async fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let file = temporary_file(
        "gateway-layers",
        "HEYMARKET_CLIENT_RATE_LIMIT=1/s
HEYMARKET_UPSTREAM_URL=http://from-the-file.invalid
HEYMARKET_API_KEY=key-from-the-file
HEYMARKET_CLIENT_JWT_SECRET=a-client-token-secret-of-32-bytes!
HEYMARKET_CLIENT_MEMBER_CLAIM=agent_id
RUST_LOG=off
",
    );
    let path = file.to_string_lossy().into_owned();
    let serve = |extra_env: &[(&str, &str)]| {
        let mut serve = command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            &path,
            "--client-rate-limit",
            "3/s",
        ]);
        serve.env("HEYMARKET_CLIENT_RATE_LIMIT", "2/s").env(
            "HEYMARKET_UPSTREAM_URL",
            "http://from-the-environment.invalid",
        );
        for (name, value) in extra_env {
            serve.env(name, value);
        }
        serve
    };

    let (banner, logs) = serve_banner(serve(&[])).await;
    assert!(
        banner.contains("3/s requests"),
        "the flag beats the environment and the file: {banner}"
    );
    assert!(
        banner.contains("in front of http://from-the-environment.invalid/"),
        "the environment beats the file: {banner}"
    );
    assert!(
        banner.contains("HS256 with the shared secret") && banner.contains("`agent_id` claim"),
        "the file's settings apply where nothing else sets them: {banner}"
    );
    assert!(
        !logs.contains("calling the upstream with the team API key"),
        "the file's RUST_LOG silences the logs: {logs}"
    );

    let (_, logs) = serve_banner(serve(&[("RUST_LOG", "info")])).await;
    assert!(
        logs.contains("calling the upstream with the team API key"),
        "the environment's RUST_LOG beats the file's: {logs}"
    );
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_bad_configuration_file_is_one_clear_line_and_a_failure_exit() {
    let unknown = temporary_file(
        "gateway-unknown",
        "HEYMARKET_LISTEN=127.0.0.1:0
HEYMARKET_LISTN=x
",
    );
    let invalid = temporary_file(
        "gateway-invalid",
        "HEYMARKET_UPSTREAM_RATE_LIMIT=fast
",
    );
    for (file, expected) in [
        (&unknown, ":2: unknown setting HEYMARKET_LISTN"),
        (&invalid, "--upstream-rate-limit"),
    ] {
        let path = file.to_string_lossy().into_owned();
        let output = run(&["serve", "--config", &path]).await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_line = stderr.lines().next().unwrap_or_default();
        assert!(
            first_line.starts_with("error:") && first_line.contains(expected),
            "{stderr}"
        );
        std::fs::remove_file(file).unwrap();
    }
    let missing = run(&["--config", "/nonexistent/gateway.env"]).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/gateway.env"));
}

/// Sets the sandbox's fault knobs.
async fn set_faults(http: &reqwest::Client, sandbox: &str, faults: Value) {
    let response = http
        .put(format!("{sandbox}/_sandbox/faults"))
        .json(&faults)
        .send()
        .await
        .expect("the control API answers");
    assert_eq!(response.status(), 200);
}

/// Waits until the sandbox has received a request for `route`: the gateway's request is then
/// in flight, held by the sandbox's latency.
async fn until_upstream_called(http: &reqwest::Client, sandbox: &str, route: &str) {
    eventually(&format!("{route} to be called"), || async {
        let stats: Value = http
            .get(format!("{sandbox}/_sandbox/stats"))
            .send()
            .await
            .expect("the control API answers")
            .json()
            .await
            .expect("JSON");
        stats["routes"][route].as_u64() > Some(0)
    })
    .await;
}

/// A slow query (the sandbox's latency holds its one upstream call): its answer's status and
/// body.
fn slow_query(
    http: &reqwest::Client,
    graphiql: &str,
) -> tokio::task::JoinHandle<reqwest::Result<(u16, Value)>> {
    let query = format!(
        r#"{{ conversation(id: "{}") {{ target }} }}"#,
        GlobalId::Conversation(2_000_001)
    );
    let request = http
        .post(format!("{graphiql}graphql"))
        .json(&serde_json::json!({ "query": query }))
        .send();
    tokio::spawn(async move {
        let response = request.await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    })
}

const SLOW_ROUTE: &str = "GET /v1/conversations/{id}";

/// An acknowledged graphql-transport-ws connection with one subscription started.
async fn subscribed(graphiql: &str) -> Subscriber {
    let url = format!("{}graphql", graphiql.replacen("http://", "ws://", 1));
    let mut subscriber = match connect_ws_to(&url, &[], json!({})).await {
        Init::Acknowledged(subscriber) => *subscriber,
        Init::Closed { code, reason } => panic!("connection refused: {code} {reason}"),
    };
    subscriber
        .subscribe("subscription { messageAdded { text } }", Value::Null)
        .await;
    subscriber
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_closes_subscriptions_and_exits_zero() {
    let DefaultRun {
        mut child,
        graphiql,
        sandbox,
    } = start_default_run_with(&["--shutdown-timeout", "10s"]).await;
    let http = reqwest::Client::new();
    let mut socket = subscribed(&graphiql).await;
    set_faults(&http, &sandbox, serde_json::json!({ "latency_ms": 1_000 })).await;
    let in_flight = slow_query(&http, &graphiql);
    until_upstream_called(&http, &sandbox, SLOW_ROUTE).await;

    terminate(&child);

    assert_eq!(socket.closed().await, 1001, "Going Away");
    let (status, answer) = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"], Value::Null, "{answer}");
    assert!(
        answer["data"]["conversation"]["target"].is_string(),
        "{answer}"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the process exits within its shutdown deadline")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_stop_that_outlasts_its_deadline_answers_requests_503_and_exits_non_zero() {
    let DefaultRun {
        mut child,
        graphiql,
        sandbox,
    } = start_default_run_with(&["--shutdown-timeout", "200ms"]).await;
    let http = reqwest::Client::new();
    set_faults(&http, &sandbox, serde_json::json!({ "latency_ms": 30_000 })).await;
    let in_flight = slow_query(&http, &graphiql);
    until_upstream_called(&http, &sandbox, SLOW_ROUTE).await;

    terminate(&child);

    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the process exits soon after its shutdown deadline")
        .unwrap();
    assert!(!status.success(), "{status:?}");
    let (status, answer) = in_flight
        .await
        .unwrap()
        .expect("the request cut off is answered, not reset");
    assert_eq!(status, 503, "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "SHUTTING_DOWN",
        "{answer}"
    );
    assert!(answer.get("data").is_none(), "{answer}");
}
