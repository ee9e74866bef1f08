//! Relay connections: the paging arguments every list field takes, and the page it answers.
//!
//! The walk itself is [`crate::pagination::collect`]; this module checks arguments and shapes
//! the result the way Relay and graphql-codegen expect.

use async_graphql::{Context, SimpleObject};

use super::cursor::{Cursor, CursorKey, CursorKind};
use crate::error::ApiError;
use crate::pagination::{Position, Slice, WalkError};

/// Items per page when `first` is not given. Each list field's `first` states it, and
/// [`MAX_FIRST`], in its description: a literal (async-graphql takes no other), which a test
/// keeps in step.
const DEFAULT_FIRST: i32 = 20;
/// Largest `first` a client may ask for.
const MAX_FIRST: i32 = 100;

/// Upstream pages one list field may read per request (`--max-list-pages`), from the schema's
/// data.
#[derive(Debug, Clone, Copy)]
pub struct MaxListPages(pub usize);

impl MaxListPages {
    /// The bound the schema was built with; its absence is a wiring bug.
    pub fn of(ctx: &Context<'_>) -> Result<usize, ApiError> {
        ctx.data::<Self>().map(|pages| pages.0).map_err(|_| {
            tracing::error!("the schema was built without a list page bound");
            ApiError::Internal
        })
    }
}

/// Checked forward-paging arguments.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub first: usize,
    pub after: Option<Position>,
    kind: CursorKind,
}

impl PageRequest {
    /// A list field's `first`/`after`, checked: `first` within bounds, `after` a cursor of
    /// `kind` that this deployment signed. Each list field declares the two as plain arguments
    /// (sharing them as one input object would change the schema), with [`PageRequest::cost`]
    /// as its complexity. Lists page forward only (the upstream lists newest first and can only
    /// be walked that way), so the schema offers no `last`/`before`.
    pub fn of(
        ctx: &Context<'_>,
        kind: CursorKind,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Self, ApiError> {
        Self::parse(CursorKey::of(ctx)?, kind, first, after)
    }

    /// The complexity of a list field (see [`super::limits`]): what one item selects, times
    /// the items asked for (`first` as [`PageRequest::of`] reads it, at least one), plus the
    /// field.
    pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
        let items = requested(first).clamp(1, MAX_FIRST);
        child_complexity
            .saturating_mul(usize::try_from(items).unwrap_or(1))
            .saturating_add(1)
    }

    /// [`PageRequest::of`] with the cursor key at hand.
    fn parse(
        key: &CursorKey,
        kind: CursorKind,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Self, ApiError> {
        let first = requested(first);
        let first = usize::try_from(first)
            .ok()
            .filter(|_| first <= MAX_FIRST)
            .ok_or_else(|| {
                ApiError::bad_input(format!(
                    "`first` must be between 0 and {MAX_FIRST}; got {first}"
                ))
            })?;
        let after = after
            .map(|raw| Cursor::parse(&raw, kind, key))
            .transpose()?;
        Ok(Self { first, after, kind })
    }

    /// The page for a collected slice, each node built by `node`, its cursors signed with
    /// `cursors`. A slice that stopped scanning past its last row ends with a cursor that
    /// continues the scan from there; a page without rows before more items (`first: 0`) ends
    /// where it began, so `after: endCursor` never starts the list over, and an empty page at
    /// the end of the list has no `endCursor`.
    pub fn page<T, N>(
        &self,
        cursors: &CursorKey,
        slice: Slice<T>,
        node: impl Fn(T) -> N,
    ) -> Page<N> {
        let scanned_to = slice
            .scanned_to
            .map(|position| Cursor::new(self.kind, position).encode(cursors));
        let edges: Vec<(String, N)> = slice
            .rows
            .into_iter()
            .map(|(key, row)| {
                let position = Position {
                    key,
                    resume: slice.resume,
                };
                (Cursor::new(self.kind, position).encode(cursors), node(row))
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: slice.has_next_page,
            // Edges before `after` existed when that cursor was issued; a forward-only API cannot
            // say more cheaply, and the Relay spec allows exactly this answer.
            has_previous_page: self.after.is_some(),
            start_cursor: edges.first().map(|(cursor, _)| cursor.clone()),
            // An empty page before more items (`first: 0`) continues where it was asked to
            // start; an empty page at the end of the list has nowhere to continue.
            end_cursor: scanned_to
                .or_else(|| edges.last().map(|(cursor, _)| cursor.clone()))
                .or_else(|| {
                    self.after
                        .filter(|_| slice.has_next_page)
                        .map(|position| Cursor::new(self.kind, position).encode(cursors))
                }),
        };
        Page { edges, page_info }
    }
}

/// The items `first` asks for, before the bounds are checked.
fn requested(first: Option<i32>) -> i32 {
    first.unwrap_or(DEFAULT_FIRST)
}

/// Reports each of `instants`, where the upstream could not list every one of the field's
/// `items` (see [`Slice::incomplete`]), as an `INCOMPLETE_LISTING` error at the field's path,
/// beside the data it answers.
pub fn report_incomplete(
    ctx: &Context<'_>,
    items: &'static str,
    unit: &'static str,
    instants: &[chrono::DateTime<chrono::Utc>],
) {
    for &instant in instants {
        tracing::warn!(items, %instant, "a list steps past items the upstream cannot list");
        let error = ApiError::IncompleteListing {
            items,
            unit,
            instant,
        };
        let error = async_graphql::Error::from(error).into_server_error(ctx.item.pos);
        ctx.add_error(ctx.set_error_path(error));
    }
}

/// Maps a failed walk to the client-facing error.
pub fn walk_error<E: Into<ApiError>>(error: WalkError<E>) -> ApiError {
    match error {
        WalkError::Fetch(error) => error.into(),
        WalkError::NoProgress { pages } => {
            tracing::error!(pages, "the upstream's paging made no progress");
            ApiError::UpstreamUnavailable
        }
    }
}

/// One list page in transport-neutral form; each list's connection type is built from it.
pub struct Page<N> {
    edges: Vec<(String, N)>,
    page_info: PageInfo,
}

/// Declares a list's connection and edge types (async-graphql cannot nest generic objects, so
/// each list gets its own pair). A list that can be counted names the type that counts it
/// (`counted by`), which the connection then carries and asks for its `totalCount`.
macro_rules! connection_types {
    ($node:ty, $connection:ident, $edge:ident, $connection_doc:literal, $edge_doc:literal) => {
        connection_types!(@types $node, $connection, $edge, $connection_doc, $edge_doc, [], []);

        impl From<Page<$node>> for $connection {
            fn from(page: Page<$node>) -> Self {
                let (edges, page_info) = connection_types!(@edges page, $edge);
                Self { edges, page_info }
            }
        }
    };
    ($node:ty, $connection:ident, $edge:ident, $connection_doc:literal, $edge_doc:literal,
     counted by $total:ty) => {
        connection_types!(@types $node, $connection, $edge, $connection_doc, $edge_doc,
            [
                #[graphql(skip)]
                pub total: $total,
            ],
            [
                /// How many items the whole list holds, over all its pages. Asked of the
                /// upstream's own count only when selected, never by walking the list; a list
                /// whose only selected field is `totalCount` is not listed at all. Null, with
                /// a `COUNT_UNAVAILABLE` error, where the upstream cannot be shown to count
                /// what the filter asks (see the error's message). Freshness: counted when
                /// asked, then shared until a conversation of the team changes (a write
                /// through this gateway or a webhook event), and for at most the conversation
                /// cache's lifetime (`--cache-ttl-conversations`, or `--cache-ttl-with-events`
                /// while the team's webhook events are heard). Exactness: exact at
                /// counting time; a count of `OPEN` (every conversation not closed) or of read
                /// conversations is the difference of two counts, which a conversation
                /// changing between them can move by one for that moment.
                async fn total_count(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                ) -> Result<Option<i32>, ApiError> {
                    self.total.count(ctx).await.map(Some)
                }
            ]
        );

        impl $connection {
            /// The connection for `page` of a list that `total` counts.
            pub fn counted(page: Page<$node>, total: $total) -> Self {
                let (edges, page_info) = connection_types!(@edges page, $edge);
                Self { edges, page_info, total }
            }
        }
    };
    (@types $node:ty, $connection:ident, $edge:ident, $connection_doc:literal,
     $edge_doc:literal, [$($field:tt)*], [$($resolver:tt)*]) => {
        #[doc = $connection_doc]
        #[derive(async_graphql::SimpleObject)]
        #[graphql(complex)]
        pub struct $connection {
            /// The page's items with their cursors, in list order.
            pub edges: Vec<$edge>,
            /// Where this page sits in the list.
            pub page_info: PageInfo,
            $($field)*
        }

        #[async_graphql::ComplexObject]
        impl $connection {
            /// The page's items in list order, without cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|edge| &edge.node).collect()
            }

            $($resolver)*
        }

        #[doc = $edge_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Opaque position of this item; pass it as `after` to continue after it.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }
    };
    (@edges $page:ident, $edge:ident) => {
        (
            $page
                .edges
                .into_iter()
                .map(|(cursor, node)| $edge { cursor, node })
                .collect(),
            $page.page_info,
        )
    };
}

connection_types!(
    super::types::Conversation,
    ConversationConnection,
    ConversationEdge,
    "One page of conversations, newest activity first. Walk the list by passing \
     `pageInfo.endCursor` as `after` while `pageInfo.hasNextPage` is true: over unchanging data \
     every conversation arrives exactly once. A conversation that changes during a walk (a new \
     message bumps it to the top) moves out of the part still to be walked. Where the Heymarket \
     API cannot list them all (more share one `updatedAt` than one of its pages holds), an \
     `INCOMPLETE_LISTING` error beside the page says so.",
    "A conversation in a list, with its position.",
    counted by super::counting::ConversationTotal
);

connection_types!(
    super::types::Message,
    MessageConnection,
    MessageEdge,
    "One page of a conversation's messages, newest first. Walk it by passing \
     `pageInfo.endCursor` as `after` while `pageInfo.hasNextPage` is true: over unchanging data \
     every message arrives exactly once. Where the Heymarket API cannot list them all (more \
     than 50 were sent within one second), an `INCOMPLETE_LISTING` error beside the page says \
     so.",
    "A message in a list, with its position."
);

connection_types!(
    super::types::Template,
    TemplateConnection,
    TemplateEdge,
    "One page of templates, most recently changed first. Walk it by passing \
     `pageInfo.endCursor` as `after` while `pageInfo.hasNextPage` is true: over unchanging data \
     every template arrives exactly once.",
    "A template in a list, with its position."
);

connection_types!(
    super::types::Tag,
    TagConnection,
    TagEdge,
    "One page of the team's tags, most recently changed first. Walk it by passing \
     `pageInfo.endCursor` as `after` while `pageInfo.hasNextPage` is true: over unchanging data \
     every tag arrives exactly once.",
    "A tag in a list, with its position."
);

connection_types!(
    super::types::Contact,
    ContactConnection,
    ContactEdge,
    "One page of contacts, most recently changed first. Walk it by passing \
     `pageInfo.endCursor` as `after` while `pageInfo.hasNextPage` is true: over unchanging data \
     every contact arrives exactly once. A contact that changes during a walk moves to the top, \
     out of the part still to be walked.",
    "A contact in a list, with its position."
);

/// Where a page sits in its list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow this page (exact: the gateway looked one item ahead), or, on
    /// a page that stopped its search early (see `endCursor`), may follow.
    pub has_next_page: bool,
    /// Whether items precede this page: true when the page was asked for with `after`.
    pub has_previous_page: bool,
    /// Cursor of the page's first item; null for an empty page.
    pub start_cursor: Option<String>,
    /// Where to continue: pass it as `after` for the next page. The cursor of the page's last
    /// item, null for an empty page at the end of the list; but a page that holds fewer than
    /// `first` items because the gateway read as many upstream pages as one request may
    /// (`--max-list-pages`) without finding more matches ends where its search stopped, even
    /// when it is empty.
    pub end_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(first: Option<i32>, after: Option<&str>) -> Result<PageRequest, ApiError> {
        PageRequest::parse(
            &CursorKey::random(),
            CursorKind::Conversation,
            first,
            after.map(str::to_owned),
        )
    }

    #[test]
    fn first_defaults_and_is_bounded() {
        assert_eq!(parse(None, None).unwrap().first, 20);
        assert_eq!(parse(Some(0), None).unwrap().first, 0);
        assert_eq!(parse(Some(100), None).unwrap().first, 100);
        for bad in [-1, 101, i32::MIN, i32::MAX] {
            let error = parse(Some(bad), None).unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT");
            assert!(error.to_string().contains("between 0 and 100"), "{error}");
        }
    }

    #[test]
    fn a_list_multiplies_what_it_selects_by_first() {
        let cost = PageRequest::cost;
        assert_eq!(cost(Some(30), 10), 301);
        assert_eq!(cost(None, 10), 201, "the default first");
        assert_eq!(cost(Some(10_000), 10), 1_001, "capped at the maximum");
        assert_eq!(cost(Some(0), 10), 11);
        assert_eq!(cost(Some(100), usize::MAX), usize::MAX, "saturates");
    }

    /// The descriptions are literals (see [`DEFAULT_FIRST`]); they must say what the
    /// constants do.
    #[test]
    fn every_list_field_describes_its_paging_arguments_alike() {
        let sdl = crate::schema::sdl();
        let lists = sdl.matches("\tfirst: Int").count();
        assert!(lists >= 8, "{lists} list fields");
        let bounds = format!("to return (0 to {MAX_FIRST}; default {DEFAULT_FIRST}).");
        assert_eq!(sdl.matches(&bounds).count(), lists, "{bounds}");
        let after = "Continue after this cursor (an `endCursor` or edge `cursor`).";
        assert_eq!(sdl.matches(after).count(), lists, "{after}");
    }

    #[test]
    fn a_bad_cursor_is_bad_user_input() {
        assert_eq!(
            parse(None, Some("nope")).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
    }
}
