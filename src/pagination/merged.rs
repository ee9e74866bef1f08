//! Paging over a listing made of several disjoint ones (a conversation is in one inbox only),
//! each walked only as far as the merged slice needs.

use std::collections::VecDeque;
use std::future::Future;

use chrono::{DateTime, Utc};

use super::{MIN_PAGES, PageBound, Position, Slice, SliceRequest, SortKey, Walk, WalkError};

/// Collects like [`super::collect`] from the merge of `lists` disjoint lists, each one read
/// with `fetch(list, bound)`.
///
/// Every list reads its first page, then a list reads another page only when its next rows
/// might come before the newest row fetched and not yet taken: the pages read are the ones the
/// merged slice cannot do without, and lists that need no more pages are read no further. The
/// pages each round needs are fetched concurrently. `max_pages` bounds the pages of all lists
/// together (at least [`MIN_PAGES`] per list, which always moves the walk along); a walk that
/// reaches it continues, on its next slice, after the last row it took off the merge.
pub async fn collect_merged<T, E, F, Fut>(
    lists: usize,
    request: SliceRequest,
    key: impl Fn(&T) -> Option<SortKey>,
    keep: impl Fn(&T) -> bool,
    mut fetch: F,
) -> Result<Slice<T>, WalkError<E>>
where
    F: FnMut(usize, PageBound) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let SliceRequest {
        first,
        after,
        max_pages,
        listing,
    } = request;
    let max_pages = max_pages.max(lists * MIN_PAGES);
    let mut walks: Vec<Walk> = (0..lists).map(|_| Walk::new(after, listing)).collect();
    let mut fetched: Vec<VecDeque<(SortKey, T)>> = (0..lists).map(|_| VecDeque::new()).collect();
    let mut rows: Vec<(SortKey, T)> = Vec::new();
    // The last row taken off the merge, kept or not.
    let mut taken: Option<SortKey> = None;
    let mut pages = 0;
    loop {
        // Take the newest fetched row while no list can still hold one before it.
        let waiting_for = loop {
            let newest = (0..lists)
                .filter_map(|list| fetched[list].front().map(|(key, _)| (*key, list)))
                .max();
            let waiting_for: Vec<usize> = (0..lists)
                .filter(|&list| fetched[list].is_empty())
                .filter(|&list| newest.is_none_or(|(key, _)| walks[list].may_precede(key)))
                .filter(|&list| !walks[list].ended)
                .collect();
            let Some((_, list)) = newest.filter(|_| waiting_for.is_empty()) else {
                break waiting_for;
            };
            let Some((key, row)) = fetched[list].pop_front() else {
                break waiting_for;
            };
            taken = Some(key);
            if keep(&row) {
                rows.push((key, row));
                if rows.len() > first {
                    rows.truncate(first);
                    return Ok(merged_slice(walks, rows, true, None));
                }
            }
        };
        if waiting_for.is_empty() {
            // Every list ended, and every row was taken.
            return Ok(merged_slice(walks, rows, false, None));
        }
        if pages + waiting_for.len() > max_pages {
            let Some(taken) = taken else {
                return Err(WalkError::NoProgress { pages });
            };
            let scanned_to = Position {
                key: taken,
                resume: None,
            };
            return Ok(merged_slice(walks, rows, true, Some(scanned_to)));
        }
        pages += waiting_for.len();
        let bounds: Vec<_> = waiting_for
            .iter()
            .map(|&list| walks[list].start_page())
            .collect();
        let requests = waiting_for
            .iter()
            .zip(bounds)
            .map(|(&list, bound)| fetch(list, bound));
        let answers = futures::future::join_all(requests).await;
        for (&list, answer) in waiting_for.iter().zip(answers) {
            let page = answer.map_err(WalkError::Fetch)?;
            let fresh = walks[list].take_page(page, &key)?;
            fetched[list].extend(fresh);
        }
    }
}

/// The merged slice of `rows`. Its cursor bound is no single list's, so it has none; the units
/// any list stepped past are reported once each.
fn merged_slice<T>(
    walks: Vec<Walk>,
    rows: Vec<(SortKey, T)>,
    has_next_page: bool,
    scanned_to: Option<Position>,
) -> Slice<T> {
    let mut incomplete: Vec<DateTime<Utc>> =
        walks.into_iter().flat_map(|walk| walk.incomplete).collect();
    incomplete.sort_unstable_by(|a, b| b.cmp(a));
    incomplete.dedup();
    Slice {
        rows,
        has_next_page,
        resume: None,
        scanned_to,
        incomplete,
    }
}
