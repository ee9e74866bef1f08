//! Secrets never reach what the binary prints or logs: not the upstream credential, not the
//! credentials inside a URL, not a client token secret that failed validation, wherever the
//! setting came from.

use crate::binary_support::{command, spawn, temporary_file, terminate};
use crate::redis_support::free_port;

const SECRET_ID: &str = "secret-id-5d0c81";
const SECRET_KEY: &str = "secret-key-a94e27";
const CLIENT_SECRET: &str = "client-token-secret-of-32-bytes-3b7f";
const URL_USER: &str = "url-user-6e12";
const URL_PASSWORD: &str = "url-password-f08d";

/// Asserts that none of `secrets` appears in `output`.
fn assert_hidden(output: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !output.contains(secret),
            "`{secret}` was printed or logged:\n{output}"
        );
    }
}

#[tokio::test]
async fn a_running_gateway_never_prints_or_logs_its_credentials() {
    let upstream = format!("http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:{}", free_port());
    let mut serve = command(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--upstream-url",
        &upstream,
    ]);
    serve
        .env("HEYMARKET_SECRET_ID", SECRET_ID)
        .env("HEYMARKET_SECRET_KEY", SECRET_KEY)
        .env("HEYMARKET_CLIENT_JWT_SECRET", CLIENT_SECRET)
        .env("RUST_LOG", "debug");
    let mut serve = spawn(serve);
    let address = serve
        .read_until(|line| {
            let (_, rest) = line.split_once("serving http://")?;
            Some(rest.split('/').next().expect("an address").to_owned())
        })
        .await;

    // A readiness check calls the unreachable upstream: its failure is logged.
    let readiness = reqwest::get(format!("http://{address}/readyz"))
        .await
        .expect("the gateway answers")
        .text()
        .await
        .expect("a body");
    terminate(&serve.child);
    let (printed, logs) = serve.finish().await;

    let everything = format!("{printed}{logs}{readiness}");
    assert_hidden(
        &everything,
        &[SECRET_ID, SECRET_KEY, CLIENT_SECRET, URL_USER, URL_PASSWORD],
    );
    assert!(
        printed.contains("in front of http://127.0.0.1:"),
        "{printed}"
    );
    assert!(logs.contains("readiness check failed"), "{logs}");
}

#[tokio::test]
async fn invalid_secrets_are_named_but_never_echoed() {
    let short_secret = "short-client-secret-19c4";
    let bad_webhook_token = "not-a-team-7a2e:webhook-token-d5b3";
    let file = temporary_file(
        "gateway-secrets",
        &format!("HEYMARKET_CLIENT_JWT_SECRET={short_secret}\n"),
    );
    let path = file.to_string_lossy().into_owned();
    let mut from_environment = command(&["serve", "--api-key", "key-1"]);
    from_environment.env("HEYMARKET_CLIENT_JWT_SECRET", short_secret);
    let from_file = command(&["serve", "--api-key", "key-1", "--config", &path]);
    let mut webhook = command(&["serve"]);
    webhook.env("HEYMARKET_WEBHOOK_TOKENS", bad_webhook_token);

    for (mut run, setting) in [
        (from_environment, "--client-jwt-secret"),
        (from_file, "--client-jwt-secret"),
        (webhook, "--webhook-token"),
    ] {
        let output = run.output().await.expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);

        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.starts_with("error:") && stderr.contains(setting),
            "the error names {setting}: {stderr}"
        );
        assert_hidden(
            &format!("{stdout}{stderr}"),
            &[short_secret, "not-a-team-7a2e", "webhook-token-d5b3"],
        );
    }
    std::fs::remove_file(file).unwrap();
}
