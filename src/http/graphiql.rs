//! GraphiQL at `/` and `/graphiql`, opened on an example document. Its files come from
//! unpkg.com at pinned versions, or from a local directory served at `/graphiql/assets`.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::state::AppState;

/// The page, with placeholders for the values below.
const PAGE: &str = include_str!("graphiql.html");
/// What the editor opens with.
const EXAMPLE_DOCUMENT: &str = include_str!("example.graphql");
const CDN: &str = "https://unpkg.com";
/// Where a local asset directory is served.
const LOCAL: &str = "/graphiql/assets";
/// The files the page loads, relative to the asset base (unpkg's layout), in the page's
/// order: stylesheet, React, ReactDOM, GraphiQL. Versions are pinned: GraphiQL once broke for
/// everyone loading "latest" when a release changed its API.
pub const ASSET_FILES: [&str; 4] = [
    "graphiql@3.9.0/graphiql.min.css",
    "react@18.3.1/umd/react.production.min.js",
    "react-dom@18.3.1/umd/react-dom.production.min.js",
    "graphiql@3.9.0/graphiql.min.js",
];
/// In sandbox mode the headers pane starts with the sandbox's first admin (member 501 of the
/// seeded data), so people see at once how to act as someone else.
const SANDBOX_HEADERS: &str = r#"{ "X-Member-Id": "501" }"#;

pub(super) fn router(assets: Option<&PathBuf>) -> Router<AppState> {
    let router = Router::new()
        .route("/", get(graphiql))
        .route("/graphiql", get(graphiql));
    match assets {
        Some(directory) => router.nest_service(LOCAL, ServeDir::new(directory)),
        None => router,
    }
}

/// The files a local asset directory lacks (checked at start, so a wrong path is reported then
/// rather than as a blank page).
pub fn missing_assets(directory: &Path) -> Vec<&'static str> {
    ASSET_FILES
        .into_iter()
        .filter(|file| !directory.join(file).is_file())
        .collect()
}

async fn graphiql(State(state): State<AppState>) -> Html<String> {
    let assets = if state.config.http.graphiql_assets.is_some() {
        LOCAL
    } else {
        CDN
    };
    Html(render(state.config.sandbox_mode, assets))
}

/// The page for this process; rendered per call because it is small and cheap.
fn render(sandbox_mode: bool, assets: &str) -> String {
    let headers = if sandbox_mode { SANDBOX_HEADERS } else { "" };
    PAGE.replace("{{ASSETS}}", assets)
        .replace("{{STYLESHEET}}", ASSET_FILES[0])
        .replace("{{REACT}}", ASSET_FILES[1])
        .replace("{{REACT_DOM}}", ASSET_FILES[2])
        .replace("{{GRAPHIQL}}", ASSET_FILES[3])
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
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        for sandbox_mode in [true, false] {
            let page = render(sandbox_mode, CDN);
            assert!(!page.contains("{{"), "unfilled placeholder in {page}");
            assert!(page.contains("graphiql@3.9.0/graphiql.min.js"));
        }
        assert!(render(true, CDN).contains(r#"defaultHeaders: "{ \"X-Member-Id\": \"501\" }""#));
        assert!(render(false, CDN).contains(r#"defaultHeaders: """#));
    }

    #[test]
    fn embedded_text_cannot_close_the_script() {
        assert_eq!(script_string("a</script>\"b"), r#""a<\/script>\"b""#);
    }
}
