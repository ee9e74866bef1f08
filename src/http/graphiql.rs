//! GraphiQL at `/` and `/graphiql`, opened on an example document, and the site's icon. The
//! page's files are built into the binary (the pinned npm files under `assets/graphiql`) and
//! served at `/graphiql/assets`, so GraphiQL works without internet access; a local directory
//! with the same layout can replace them.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::state::AppState;

/// The page, with placeholders for the values below.
const PAGE: &str = include_str!("graphiql.html");
/// What the editor opens with.
const EXAMPLE_DOCUMENT: &str = include_str!("example.graphql");
/// Where the page's files are served.
const ASSET_BASE: &str = "/graphiql/assets";
/// Embedded files never change under a path, which names their package's version.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The icon browsers show in the tab; a hand-drawn SVG (every current browser takes one).
const FAVICON: &[u8] = include_bytes!("favicon.svg");
/// The icon's path has no version, so browsers check it again after a day.
const FAVICON_CACHE: &str = "public, max-age=86400";
/// In sandbox mode the headers pane starts with the sandbox's first admin (member 501 of the
/// seeded data), so people see at once how to act as someone else.
const SANDBOX_HEADERS: &str = r#"{ "X-Member-Id": "501" }"#;

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One of the files the page loads.
pub struct Asset {
    /// Relative to the asset base, in unpkg's layout (`package@version/file`).
    pub path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The embedded file `$path` of `assets/graphiql`.
macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $path)),
        }
    };
}

/// The files the page loads, in its order: stylesheet, React, ReactDOM, GraphiQL (whose bundle
/// includes the graphql-ws client its subscriptions use). Versions are pinned: GraphiQL once
/// broke for everyone loading "latest" when a release changed its API.
pub const ASSETS: [Asset; 4] = [
    asset!("graphiql@3.9.0/graphiql.min.css", CSS),
    asset!("react@18.3.1/umd/react.production.min.js", JAVASCRIPT),
    asset!(
        "react-dom@18.3.1/umd/react-dom.production.min.js",
        JAVASCRIPT
    ),
    asset!("graphiql@3.9.0/graphiql.min.js", JAVASCRIPT),
];

pub(super) fn router(assets: Option<&PathBuf>) -> Router<AppState> {
    let router = Router::new()
        .route("/", get(graphiql))
        .route("/graphiql", get(graphiql))
        .route("/favicon.ico", get(favicon));
    match assets {
        Some(directory) => router.nest_service(ASSET_BASE, ServeDir::new(directory)),
        None => router.route(&format!("{ASSET_BASE}/{{*path}}"), get(embedded)),
    }
}

/// The files a local asset directory lacks (checked at start, so a wrong path is reported then
/// rather than as a blank page).
pub fn missing_assets(directory: &Path) -> Vec<&'static str> {
    ASSETS
        .iter()
        .map(|asset| asset.path)
        .filter(|path| !directory.join(path).is_file())
        .collect()
}

async fn graphiql(State(state): State<AppState>) -> Html<String> {
    Html(render(state.config.sandbox_mode))
}

async fn embedded(UrlPath(path): UrlPath<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.path == path) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, IMMUTABLE),
            ],
            asset.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, FAVICON_CACHE),
        ],
        FAVICON,
    )
}

/// The page for this process; rendered per call because it is small and cheap.
fn render(sandbox_mode: bool) -> String {
    let headers = if sandbox_mode { SANDBOX_HEADERS } else { "" };
    PAGE.replace("{{ASSETS}}", ASSET_BASE)
        .replace("{{STYLESHEET}}", ASSETS[0].path)
        .replace("{{REACT}}", ASSETS[1].path)
        .replace("{{REACT_DOM}}", ASSETS[2].path)
        .replace("{{GRAPHIQL}}", ASSETS[3].path)
        .replace("{{DEFAULT_QUERY}}", &script_string(EXAMPLE_DOCUMENT))
        .replace("{{DEFAULT_HEADERS}}", &script_string(headers))
}

/// A JavaScript string literal that is also safe inside a `<script>` element.
fn script_string(text: &str) -> String {
    serde_json::Value::from(text)
        .to_string()
        .replace("</", "<\\/")
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        for sandbox_mode in [true, false] {
            let page = render(sandbox_mode);
            assert!(!page.contains("{{"), "unfilled placeholder in {page}");
            assert!(page.contains("/graphiql/assets/graphiql@3.9.0/graphiql.min.js"));
        }
        assert!(render(true).contains(r#"defaultHeaders: "{ \"X-Member-Id\": \"501\" }""#));
        assert!(render(false).contains(r#"defaultHeaders: """#));
    }

    #[test]
    fn embedded_text_cannot_close_the_script() {
        assert_eq!(script_string("a</script>\"b"), r#""a<\/script>\"b""#);
    }

    /// The checked-in digests are what `assets/graphiql/fetch.sh` verifies against the npm
    /// registry; the embedded bytes must be those files.
    #[test]
    fn the_embedded_files_match_their_published_digests() {
        let sums = include_str!("../../assets/graphiql/SHA256SUMS");
        for asset in &ASSETS {
            let line = format!("{:x}  {}", Sha256::digest(asset.bytes), asset.path);
            assert!(
                sums.lines().any(|listed| listed == line),
                "{} differs from assets/graphiql/SHA256SUMS",
                asset.path
            );
        }
    }
}
