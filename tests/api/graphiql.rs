//! GraphiQL's page and everything it loads come from the gateway itself, so it works without
//! internet access.

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn page(app: &TestApp) -> String {
    let response = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/html; charset=utf-8",
        "{response:?}"
    );
    response.text().await.unwrap()
}

/// The value of every `src="…"` and `href="…"` attribute of `html`.
fn references(html: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .into_iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .map(|rest| rest.split('"').next().unwrap())
        .collect()
}

/// The host of every `http://` or `https://` URL written in `text`.
fn hosts(text: &str) -> Vec<&str> {
    ["http://", "https://"]
        .into_iter()
        .flat_map(|scheme| text.split(scheme).skip(1))
        .map(|rest| {
            rest.split(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
                .next()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn the_graphiql_page_and_everything_it_loads_come_from_the_gateway() {
    let app = spawn_app().await;
    let html = page(&app).await;
    let own = app.addr.to_string();
    assert!(
        hosts(&html).iter().all(|host| *host == own),
        "the page names another host: {:?}",
        hosts(&html)
    );

    let references = references(&html);
    for expected in [
        "/favicon.ico",
        "/graphiql/assets/graphiql@3.9.0/graphiql.min.css",
        "/graphiql/assets/react@18.3.1/umd/react.production.min.js",
        "/graphiql/assets/react-dom@18.3.1/umd/react-dom.production.min.js",
        "/graphiql/assets/graphiql@3.9.0/graphiql.min.js",
    ] {
        assert!(
            references.contains(&expected),
            "{expected} in {references:?}"
        );
    }
    for reference in references {
        assert!(
            reference.starts_with('/') && !reference.starts_with("//"),
            "{reference} is not on the gateway"
        );
        let response = app.http.get(app.url(reference)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{reference}");
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = match reference.rsplit_once('.').unwrap().1 {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "ico" => "image/svg+xml",
            other => panic!("{reference}: unexpected kind of file {other}"),
        };
        assert_eq!(content_type, expected, "{reference}");
        if reference.starts_with("/graphiql/assets/") {
            assert_eq!(
                response.headers()[CACHE_CONTROL],
                "public, max-age=31536000, immutable",
                "{reference}"
            );
        }
        assert!(!response.bytes().await.unwrap().is_empty(), "{reference}");
    }
}

#[tokio::test]
async fn graphiql_is_served_compressed_and_unknown_asset_paths_are_not_found() {
    let app = spawn_app().await;
    let script = app
        .http
        .get(app.url("/graphiql/assets/graphiql@3.9.0/graphiql.min.js"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()[CONTENT_ENCODING], "gzip");

    for path in [
        "/graphiql/assets/graphiql@3.9.0/graphiql.js",
        "/graphiql/assets/graphiql@9.9.9/graphiql.min.js",
        "/graphiql/assets/",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn the_favicon_is_an_svg_icon() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CONTENT_TYPE], "image/svg+xml");
    let icon = response.text().await.unwrap();
    assert!(
        icon.starts_with("<svg") && icon.trim_end().ends_with("</svg>"),
        "{icon}"
    );
}

#[tokio::test]
async fn graphiql_can_be_served_from_a_local_directory() {
    use heymarket_gateway::http::graphiql::ASSETS;

    let directory = std::env::temp_dir().join(format!(
        "graphiql-assets-{}-{}",
        std::process::id(),
        line!()
    ));
    for asset in &ASSETS {
        let path = directory.join(asset.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("/* {} */", asset.path)).unwrap();
    }
    let assets = directory.clone();
    let app = spawn_app_with(Default::default(), |config| {
        config.http.graphiql_assets = Some(assets)
    })
    .await;

    let page = page(&app).await;
    for asset in &ASSETS {
        let url = format!("/graphiql/assets/{}", asset.path);
        assert!(page.contains(&url), "{page}");
        let served = app.http.get(app.url(&url)).send().await.unwrap();
        assert_eq!(served.status(), 200, "{url}");
        assert_eq!(
            served.text().await.unwrap(),
            format!("/* {} */", asset.path)
        );
    }

    let missing = ASSETS[3].path;
    std::fs::remove_file(directory.join(missing)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = heymarket_gateway::GatewayConfig::default();
    config.http.graphiql_assets = Some(directory.clone());
    let error = heymarket_gateway::App::with_listener(listener, config)
        .err()
        .expect("a start-up error");
    assert!(error.to_string().contains(missing), "{error}");
    std::fs::remove_dir_all(directory).unwrap();
}
