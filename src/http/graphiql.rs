//! GraphiQL at `/` and `/graphiql`, opened on an example document.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::state::AppState;

/// The page, with placeholders for the values below.
const PAGE: &str = include_str!("graphiql.html");
/// What the editor opens with.
const EXAMPLE_DOCUMENT: &str = include_str!("example.graphql");
/// Pinned: GraphiQL once broke for everyone using "latest" when a release changed its API.
const GRAPHIQL_VERSION: &str = "3.9.0";
const REACT_VERSION: &str = "18.3.1";
const ASSETS: &str = "https://unpkg.com";
/// In sandbox mode the headers pane starts with the sandbox's first admin (member 501 of the
/// seeded data), so people see at once how to act as someone else.
const SANDBOX_HEADERS: &str = r#"{ "X-Member-Id": "501" }"#;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(graphiql))
        .route("/graphiql", get(graphiql))
}

async fn graphiql(State(state): State<AppState>) -> Html<String> {
    Html(render(state.config.sandbox_mode))
}

/// The page for this process; rendered per call because it is small and cheap.
fn render(sandbox_mode: bool) -> String {
    let headers = if sandbox_mode { SANDBOX_HEADERS } else { "" };
    PAGE.replace("{{ASSETS}}", ASSETS)
        .replace("{{GRAPHIQL_VERSION}}", GRAPHIQL_VERSION)
        .replace("{{REACT_VERSION}}", REACT_VERSION)
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
            let page = render(sandbox_mode);
            assert!(!page.contains("{{"), "unfilled placeholder in {page}");
            assert!(page.contains("graphiql@3.9.0/graphiql.min.js"));
        }
        assert!(render(true).contains(r#"defaultHeaders: "{ \"X-Member-Id\": \"501\" }""#));
        assert!(render(false).contains(r#"defaultHeaders: """#));
    }

    #[test]
    fn embedded_text_cannot_close_the_script() {
        assert_eq!(script_string("a</script>\"b"), r#""a<\/script>\"b""#);
    }
}
