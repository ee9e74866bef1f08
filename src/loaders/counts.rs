//! Conversation counts from `POST /v1/conversations/count`, and what that endpoint can be
//! trusted to count.
//!
//! Heymarket documents only `date` in the count's body (heymarket-api.md §6.2). It may apply
//! the list's filters as well, or count the whole team whatever the body says, and it may
//! honour `assigned` or not (the list itself may ignore it, §6.1). A count that silently
//! ignored a filter would be a wrong number, so the gateway never assumes: it learns, once per
//! tenant, from counts whose relations it knows (a filter that narrows a count is applied;
//! two members' conversations add up to more than their scope's only where `assigned` is
//! ignored), and refuses to count where the answers do not show it. Of the two mistakes,
//! refusing a count the upstream could have given is the safe one: a verdict errs only that
//! way.

use std::time::{Duration, Instant};

use moka::Expiry;

use super::Loaders;
use crate::error::ApiError;
use crate::upstream::TenantKey;
use crate::upstream::requests::ConversationListRequest;

/// A filter whose effect on the count endpoint is learnt, not assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountedFilter {
    /// The list's own filters: the member's scope (`id`, `filters.inboxes`) and
    /// `filters.closed: true` / `filters.unread: true`. The `false` values, which the list
    /// itself may read as "no filter" (§13.1), are never sent: their counts are differences.
    ListFilters,
    /// `assigned`, which only the list's generated schema names.
    Assignee,
}

/// What the upstream's counts were seen to do with a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The counts apply it.
    Honoured,
    /// The counts ignore it.
    Ignored,
    /// The answers so far fit both (say, every conversation of the scope is closed); asked
    /// again after [`UNDETERMINED_MEMORY`].
    Undetermined,
}

/// How long a verdict is kept. The upstream's behaviour does not change from one request to
/// the next; a deployment of it might, so it is learnt again now and then.
const VERDICT_MEMORY: Duration = Duration::from_secs(3600);

/// How long "cannot tell yet" is kept, so that a burst of requests costs one probe.
const UNDETERMINED_MEMORY: Duration = Duration::from_secs(30);

/// Keeps each verdict for as long as it deserves.
pub(super) struct VerdictExpiry;

impl Expiry<(TenantKey, CountedFilter), Verdict> for VerdictExpiry {
    fn expire_after_create(
        &self,
        _key: &(TenantKey, CountedFilter),
        verdict: &Verdict,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(match verdict {
            Verdict::Undetermined => UNDETERMINED_MEMORY,
            Verdict::Honoured | Verdict::Ignored => VERDICT_MEMORY,
        })
    }
}

impl Loaders {
    /// How many conversations `POST /v1/conversations/count` answers for the list `request`
    /// would walk (its cursor is not sent), shared like list pages: until a conversation of
    /// the tenant changes, and at most for the conversation cache's lifetime.
    pub async fn conversation_count(
        &self,
        request: ConversationListRequest,
    ) -> Result<u64, ApiError> {
        self.source.conversation_count(request).await
    }

    /// Whether the counts honour the list's filters, learnt from `scope` (a member and
    /// inboxes, no other filter) when the tenant's verdict is not known. Heymarket's count
    /// reads either the list's body or `date` alone, so any one filter that narrows the
    /// scope's count shows the first; only when none does (closed, unread and open each
    /// count everything) is it the second. `scope` must count at least one conversation: an
    /// empty scope shows nothing.
    pub async fn counts_honour_list_filters(
        &self,
        scope: &ConversationListRequest,
    ) -> Result<Verdict, ApiError> {
        self.source
            .count_verdict(CountedFilter::ListFilters, async {
                let all = self.conversation_count(scope.clone()).await?;
                if all == 0 {
                    return Ok(Verdict::Undetermined);
                }
                let narrowed = [
                    scope.clone().closed(),
                    scope.clone().unread(),
                    ConversationListRequest {
                        closed: Some(false),
                        ..scope.clone()
                    },
                ];
                for filtered in narrowed {
                    if self.conversation_count(filtered).await? < all {
                        return Ok(Verdict::Honoured);
                    }
                }
                Ok(Verdict::Ignored)
            })
            .await
    }

    /// Whether the counts honour `assigned`, learnt from `scope` (as for
    /// [`Loaders::counts_honour_list_filters`]) and two different members: their
    /// conversations can add up to more than the scope's only if the filter is ignored.
    /// With one member (`other` is `None`), only a count smaller than the scope's shows it.
    pub async fn counts_honour_assignee(
        &self,
        scope: &ConversationListRequest,
        member: i64,
        other: Option<i64>,
    ) -> Result<Verdict, ApiError> {
        self.source
            .count_verdict(CountedFilter::Assignee, async {
                let all = self.conversation_count(scope.clone()).await?;
                let assigned_to = |id| ConversationListRequest {
                    assigned: Some(id),
                    ..scope.clone()
                };
                let mine = self.conversation_count(assigned_to(member)).await?;
                let theirs = match other {
                    Some(other) => Some(self.conversation_count(assigned_to(other)).await?),
                    None => None,
                };
                Ok(assignee_verdict(all, mine, theirs))
            })
            .await
    }
}

/// The verdict on `assigned` from the scope's count (`all`), one member's (`mine`) and, when
/// there is one, another member's (`theirs`).
fn assignee_verdict(all: u64, mine: u64, theirs: Option<u64>) -> Verdict {
    if all == 0 {
        return Verdict::Undetermined;
    }
    match theirs {
        // Disjoint sets fit in the whole; a conversation that arrived between the counts can
        // spoil either test, which then decides nothing.
        Some(theirs) if mine.saturating_add(theirs) <= all => Verdict::Honoured,
        Some(theirs) if mine == all && theirs == all => Verdict::Ignored,
        Some(_) => Verdict::Undetermined,
        None if mine < all => Verdict::Honoured,
        None => Verdict::Undetermined,
    }
}

impl ConversationListRequest {
    /// The same request, for closed conversations only.
    pub fn closed(self) -> Self {
        Self {
            closed: Some(true),
            ..self
        }
    }

    /// The same request, for conversations the member has not read only.
    pub fn unread(self) -> Self {
        Self {
            unread: Some(true),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_members_decide_whether_assigned_is_honoured() {
        assert_eq!(assignee_verdict(10, 3, Some(4)), Verdict::Honoured);
        assert_eq!(assignee_verdict(10, 10, Some(0)), Verdict::Honoured);
        assert_eq!(assignee_verdict(10, 10, Some(10)), Verdict::Ignored);
        assert_eq!(assignee_verdict(10, 10, Some(3)), Verdict::Undetermined);
        assert_eq!(assignee_verdict(0, 0, Some(0)), Verdict::Undetermined);
    }

    #[test]
    fn one_member_decides_only_with_fewer_than_all() {
        assert_eq!(assignee_verdict(10, 3, None), Verdict::Honoured);
        assert_eq!(assignee_verdict(10, 10, None), Verdict::Undetermined);
    }
}
