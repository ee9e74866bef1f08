//! The binary as people run it: help, bad flags, and the zero-configuration default run.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_heymarket-gateway");

/// Runs the binary to completion with no `HEYMARKET_*` settings from the environment.
async fn run(args: &[&str]) -> std::process::Output {
    command(args).output().await.expect("the binary runs")
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .kill_on_drop(true);
    command
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
    let mut child = command(&["--listen", "127.0.0.1:0", "--sandbox-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let graphiql = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("readable stdout") {
            if let Some(url) = line.trim().strip_prefix("GraphiQL") {
                return url.trim().to_owned();
            }
        }
        panic!("the binary exited without printing the GraphiQL URL");
    })
    .await
    .expect("the GraphiQL URL is printed within a minute");
    // Keep reading, as a terminal would: the rest of the banner must not meet a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, graphiql)
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
