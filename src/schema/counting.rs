//! `totalCount` of conversation lists, from the upstream's count endpoint: each filter mapped
//! onto counts the endpoint can be trusted with, and refused with `COUNT_UNAVAILABLE` where it
//! cannot.
//!
//! Only filters that narrow (`closed: true`, `unread: true`, `assigned`) are sent: the list
//! itself may read `false` as "no filter" (heymarket-api.md §13.1), so the open and the read
//! conversations are counted as differences (inclusion–exclusion over at most four counts).

use async_graphql::Context;
use futures::future::try_join_all;

use super::context::RequestContext;
use crate::error::ApiError;
use crate::loaders::{Loaders, Verdict};
use crate::upstream::requests::ConversationListRequest;

/// How a list's `closed` or `unread` filter narrows what it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Narrowing {
    /// No filter.
    Any,
    /// Only the conversations the filter's `true` keeps.
    Only,
    /// Every conversation but those.
    Except,
}

impl Narrowing {
    /// `Some(true)` → `Only`, `Some(false)` → `Except`.
    pub fn of(filter: Option<bool>) -> Self {
        match filter {
            None => Self::Any,
            Some(true) => Self::Only,
            Some(false) => Self::Except,
        }
    }
}

/// What a conversation list's `totalCount` counts.
pub struct ConversationTotal(Plan);

enum Plan {
    /// Known without asking: the list was read whole, or the acting member sees no inbox.
    Known(i32),
    /// The filter asks what the count endpoint cannot be asked, and why.
    Unavailable(&'static str),
    Counted(Box<Counting>),
}

struct Counting {
    /// The acting member and the list's inboxes, no other filter.
    scope: ConversationListRequest,
    /// Only conversations assigned to this member.
    assignee: Option<i64>,
    closed: Narrowing,
    unread: Narrowing,
}

impl ConversationTotal {
    /// The total of a list held whole: `count` items.
    pub fn known(count: usize) -> Self {
        Self(Plan::Known(i32::try_from(count).unwrap_or(i32::MAX)))
    }

    /// The total of a list the count endpoint has no filter for (`why` says which).
    pub fn unavailable(why: &'static str) -> Self {
        Self(Plan::Unavailable(why))
    }

    /// The total of the list of `scope` (a member and inboxes) narrowed by the rest.
    pub fn counted(
        scope: ConversationListRequest,
        assignee: Option<i64>,
        closed: Narrowing,
        unread: Narrowing,
    ) -> Self {
        let scope = ConversationListRequest {
            closed: None,
            unread: None,
            assigned: None,
            updated_before: None,
            ..scope
        };
        Self(Plan::Counted(Box::new(Counting {
            scope,
            assignee,
            closed,
            unread,
        })))
    }

    /// The count, or why it cannot be given.
    pub async fn count(&self, ctx: &Context<'_>) -> Result<i32, ApiError> {
        match &self.0 {
            Plan::Known(count) => Ok(*count),
            Plan::Unavailable(why) => Err(ApiError::CountUnavailable((*why).to_owned())),
            Plan::Counted(counting) => counting.count(&RequestContext::of(ctx)?.loaders).await,
        }
    }
}

impl Counting {
    async fn count(&self, loaders: &Loaders) -> Result<i32, ApiError> {
        // Nothing in the scope: nothing in any part of it, whatever the endpoint applies.
        if loaders.conversation_count(self.scope.clone()).await? == 0 {
            return Ok(0);
        }
        trusted(
            loaders.counts_honour_list_filters(&self.scope).await?,
            "Heymarket's conversation count",
        )?;
        if let Some(member) = self.assignee {
            let team = loaders.team().await?;
            let other = team
                .members
                .iter()
                .map(|candidate| candidate.id)
                .find(|&id| id != member);
            trusted(
                loaders
                    .counts_honour_assignee(&self.scope, member, other)
                    .await?,
                "Heymarket's conversation count by assignee",
            )?;
        }
        let base = ConversationListRequest {
            assigned: self.assignee,
            ..self.scope.clone()
        };
        let terms = self.terms(&base);
        let counts = try_join_all(
            terms
                .iter()
                .map(|(_, request)| loaders.conversation_count(request.clone())),
        )
        .await?;
        let total: i128 = terms
            .iter()
            .zip(counts)
            .map(|((sign, _), count)| i128::from(*sign) * i128::from(count))
            .sum();
        // A difference of counts taken a moment apart can dip below zero for that moment.
        i32::try_from(total.max(0)).map_err(|_| {
            ApiError::CountUnavailable(format!("{total} conversations are more than an Int holds"))
        })
    }

    /// The signed counts whose sum is the total: a filter kept `Only` narrows every term; one
    /// kept `Except` doubles the terms, once without it (+) and once with it (−).
    fn terms(&self, base: &ConversationListRequest) -> Vec<(i8, ConversationListRequest)> {
        let mut terms = vec![(1, base.clone())];
        let narrowings: [(Narrowing, Narrow); 2] = [
            (self.closed, ConversationListRequest::closed),
            (self.unread, ConversationListRequest::unread),
        ];
        for (narrowing, narrow) in narrowings {
            terms = match narrowing {
                Narrowing::Any => terms,
                Narrowing::Only => terms
                    .into_iter()
                    .map(|(sign, request)| (sign, narrow(request)))
                    .collect(),
                Narrowing::Except => terms
                    .into_iter()
                    .flat_map(|(sign, request)| [(sign, request.clone()), (-sign, narrow(request))])
                    .collect(),
            };
        }
        terms
    }
}

/// A request narrowed by one more filter.
type Narrow = fn(ConversationListRequest) -> ConversationListRequest;

/// Refuses a count whose filters the endpoint was not seen to apply.
fn trusted(verdict: Verdict, counted: &str) -> Result<(), ApiError> {
    match verdict {
        Verdict::Honoured => Ok(()),
        Verdict::Ignored => Err(ApiError::CountUnavailable(format!(
            "{counted} does not apply this list's filters (its answers were the same with and without them), so it cannot count this list"
        ))),
        Verdict::Undetermined => Err(ApiError::CountUnavailable(format!(
            "cannot tell yet whether {counted} applies this list's filters (its answers fit both); asked again within a minute"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(closed: Narrowing, unread: Narrowing) -> Counting {
        Counting {
            scope: scope(),
            assignee: None,
            closed,
            unread,
        }
    }

    fn scope() -> ConversationListRequest {
        ConversationListRequest {
            member_id: 1,
            inbox_ids: vec![2],
            closed: None,
            unread: None,
            assigned: None,
            updated_before: None,
        }
    }

    fn filters(terms: &[(i8, ConversationListRequest)]) -> Vec<(i8, Option<bool>, Option<bool>)> {
        terms
            .iter()
            .map(|(sign, request)| (*sign, request.closed, request.unread))
            .collect()
    }

    #[test]
    fn only_narrows_and_except_subtracts() {
        use Narrowing::*;
        let cases = [
            ((Any, Any), vec![(1, None, None)]),
            ((Only, Any), vec![(1, Some(true), None)]),
            ((Except, Any), vec![(1, None, None), (-1, Some(true), None)]),
            ((Only, Only), vec![(1, Some(true), Some(true))]),
            (
                (Except, Only),
                vec![(1, None, Some(true)), (-1, Some(true), Some(true))],
            ),
            (
                (Except, Except),
                vec![
                    (1, None, None),
                    (-1, None, Some(true)),
                    (-1, Some(true), None),
                    (1, Some(true), Some(true)),
                ],
            ),
        ];
        for ((closed, unread), expected) in cases {
            let terms = counting(closed, unread).terms(&scope());
            let mut got = filters(&terms);
            let mut expected = expected;
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "closed {closed:?}, unread {unread:?}");
        }
    }

    #[test]
    fn a_false_filter_is_never_sent() {
        use Narrowing::*;
        for closed in [Any, Only, Except] {
            for unread in [Any, Only, Except] {
                for (_, request) in counting(closed, unread).terms(&scope()) {
                    assert_ne!(request.closed, Some(false));
                    assert_ne!(request.unread, Some(false));
                }
            }
        }
    }
}
