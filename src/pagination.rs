//! Exact, tie-safe forward paging over the upstream's "strictly before this instant" cursors.
//!
//! Heymarket lists newest first and pages with a timestamp: "give me rows older than `date`"
//! (conversations, microseconds) or "older than `timestamp`" (messages, whole seconds). Several
//! rows can share one instant, so asking for "older than the last row's instant" silently skips
//! the tied rows that did not fit on the previous page. Here every walk instead asks for rows up
//! to and including the last emitted row's instant and drops what it has already emitted,
//! comparing full sort keys `(instant, id)`. Over an unchanging data set a walk returns every row
//! exactly once, whatever the upstream's page size and the caller's `first`, as long as no more
//! rows share one instant than fit on one upstream page. When more do, the API itself cannot
//! enumerate them: the walk steps past that instant and names it in [`Slice::incomplete`], so
//! the gap is reported, never silent.
//!
//! A walk reads at most a given number of upstream pages. One that filters rows itself may not
//! find `first` rows to keep within them: it answers what it found, and [`Slice::scanned_to`]
//! says where the next slice continues the scan.

use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};

mod merged;

pub use merged::collect_merged;

/// The fewest upstream pages a walk may be bounded to: two pages always move a walk past at
/// least one row (a first page can hold nothing new when its oldest instant waits for the next
/// page), so a slice that stops at its bound still continues further on.
pub const MIN_PAGES: usize = 2;

/// Where a row sits in a newest-first listing; rows sort descending by `(at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortKey {
    pub at: DateTime<Utc>,
    pub id: i64,
}

/// How finely the upstream's cursor resolves time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// `POST /v1/conversations`' RFC 3339 `date`.
    Microsecond,
    /// `GET /v1/messages`' Unix-seconds `timestamp`.
    Second,
}

impl Granularity {
    fn step(self) -> TimeDelta {
        match self {
            Self::Microsecond => TimeDelta::microseconds(1),
            Self::Second => TimeDelta::seconds(1),
        }
    }

    /// The start of the cursor unit that holds `at`.
    fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let step = self.step().num_microseconds().unwrap_or(1);
        let micros = at.timestamp_micros();
        DateTime::from_timestamp_micros(micros - micros.rem_euclid(step)).unwrap_or(at)
    }

    /// The earliest "before" bound whose answer still includes every row at `at`.
    fn including(self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.floor(at) + self.step()
    }
}

/// How an upstream list endpoint pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    pub granularity: Granularity,
    /// The most rows one page holds, where documented: a shorter page is then the last one,
    /// and nothing needs fetching to learn that.
    pub page_size: Option<usize>,
    /// Where the page size is not documented, the longest page the upstream has answered so
    /// far: a page of one cursor unit that is shorter ends its list, and so holds all of it.
    pub longest_page_seen: usize,
}

impl Listing {
    /// `POST /v1/conversations`: RFC 3339 cursor; the page size is undocumented.
    pub const CONVERSATIONS: Listing = Listing {
        granularity: Granularity::Microsecond,
        page_size: None,
        longest_page_seen: 0,
    };
    /// `POST /v1/templates` and `POST /v1/contacts`: RFC 3339 cursor, "30 per page".
    pub const DATE_PAGES: Listing = Listing {
        granularity: Granularity::Microsecond,
        page_size: Some(30),
        longest_page_seen: 0,
    };
    /// `GET /v1/messages`: Unix-seconds cursor, "the 50 most recent" per page.
    pub const MESSAGE_HISTORY: Listing = Listing {
        granularity: Granularity::Second,
        page_size: Some(50),
        longest_page_seen: 0,
    };

    /// This listing, its upstream having answered pages of up to `rows` rows so far.
    pub fn having_seen_pages_of(self, rows: usize) -> Self {
        Self {
            longest_page_seen: rows,
            ..self
        }
    }

    /// Whether a page of `rows` rows is as long as this listing's pages get: the documented
    /// size, else the longest page seen, before or in this walk (`longest`). Without either, a
    /// walk's first page counts as full.
    fn full(&self, rows: usize, longest: usize) -> bool {
        rows >= self
            .page_size
            .unwrap_or(longest.max(self.longest_page_seen))
    }
}

/// The upstream page a walk asks for next: the rows strictly before `before` (the newest
/// without it). The walk keeps only rows older than `after`, the last row it handed out, so a
/// page fetched with a higher bound serves it as well, as long as that page is right about
/// every row older than `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBound {
    pub before: Option<DateTime<Utc>>,
    pub after: Option<SortKey>,
}

/// Where a walk continues: after the row at `key`. `resume` is the cursor bound of the
/// upstream page the previous slice ended on; that page also holds the rows that follow `key`,
/// and a cache may still have it, so the walk starts there when it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub key: SortKey,
    pub resume: Option<DateTime<Utc>>,
}

/// One collected slice of a listing.
#[derive(Debug)]
pub struct Slice<T> {
    /// At most `first` rows, newest first, each with its sort key (the edge's cursor).
    pub rows: Vec<(SortKey, T)>,
    /// Whether at least one more row follows the last one (or, when the walk stopped at its
    /// page bound, may follow).
    pub has_next_page: bool,
    /// The cursor bound of the last upstream page fetched, to continue from (see
    /// [`Position::resume`]).
    pub resume: Option<DateTime<Utc>>,
    /// Where the walk stopped looking when it reached its page bound before finding `first`
    /// rows to keep: the next slice continues from there, past the rows it left out, rather
    /// than from the last row returned. `None` when the walk did not stop at its bound.
    pub scanned_to: Option<Position>,
    /// Cursor units the walk stepped past although the upstream may hold more of their rows
    /// than it showed: a whole page of rows shared the unit, and the upstream pages by unit
    /// only, so no request can show the rest. Newest first.
    pub incomplete: Vec<DateTime<Utc>>,
}

impl<T> Slice<T> {
    /// The slice of a list known to be empty, read without any upstream call.
    pub fn empty() -> Self {
        Self {
            rows: Vec::new(),
            has_next_page: false,
            resume: None,
            scanned_to: None,
            incomplete: Vec::new(),
        }
    }

    /// The `first` rows after `after` of a list held whole in memory (in any order), newest
    /// first.
    pub fn of_whole(mut rows: Vec<(SortKey, T)>, first: usize, after: Option<Position>) -> Self {
        rows.sort_by(|(a, _), (b, _)| b.cmp(a));
        let mut rest = rows
            .into_iter()
            .filter(|(key, _)| after.is_none_or(|after| *key < after.key))
            .peekable();
        let rows: Vec<_> = rest.by_ref().take(first).collect();
        Self {
            rows,
            has_next_page: rest.peek().is_some(),
            ..Self::empty()
        }
    }
}

/// Why a walk could not complete.
#[derive(Debug, thiserror::Error)]
pub enum WalkError<E> {
    /// Fetching an upstream page failed.
    #[error(transparent)]
    Fetch(E),
    /// The upstream kept answering without making progress (it ignores the cursor).
    #[error("the upstream's paging made no progress after {pages} pages")]
    NoProgress { pages: usize },
}

/// Which slice of a listing a walk collects: the `first` rows that follow `after` (or the
/// newest rows without it), reading at most `max_pages` upstream pages (at least
/// [`MIN_PAGES`]) of `listing`.
#[derive(Debug, Clone, Copy)]
pub struct SliceRequest {
    pub first: usize,
    pub after: Option<Position>,
    pub max_pages: usize,
    pub listing: Listing,
}

/// Collects the slice `request` asks for, plus whether more rows follow.
///
/// `fetch(bound)` must return one upstream page of rows strictly older than `bound.before` (or
/// the newest rows for `None`), newest first (see [`PageBound`]); `key` places a row, and rows
/// without a key are skipped because they cannot be placed. Rows for which `keep` is false
/// still move the walk along but are not returned: that is how a filter the upstream lacks is applied without losing the
/// exactness of `first`. When `max_pages` pages hold fewer than `first` rows to keep, the slice
/// has what they held, `has_next_page`, and [`Slice::scanned_to`].
pub async fn collect<T, E, F, Fut>(
    request: SliceRequest,
    key: impl Fn(&T) -> Option<SortKey>,
    keep: impl Fn(&T) -> bool,
    mut fetch: F,
) -> Result<Slice<T>, WalkError<E>>
where
    F: FnMut(PageBound) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let SliceRequest {
        first,
        after,
        max_pages,
        listing,
    } = request;
    let max_pages = max_pages.max(MIN_PAGES);
    let mut walk = Walk::new(after, listing);
    let mut rows: Vec<(SortKey, T)> = Vec::new();
    loop {
        if walk.pages == max_pages {
            return walk.stopped_at_bound(rows);
        }
        let page = fetch(walk.start_page()).await.map_err(WalkError::Fetch)?;
        let fresh = walk.take_page(page, &key)?;
        let wanted = first + 1 - rows.len();
        rows.extend(fresh.into_iter().filter(|(_, row)| keep(row)).take(wanted));
        if rows.len() > first {
            rows.truncate(first);
            return Ok(walk.slice(rows, true));
        }
        if walk.ended {
            return Ok(walk.slice(rows, false));
        }
    }
}

/// One walk down a listing, a page at a time. It says which page to fetch next and takes the
/// page once fetched, so one caller can drive several walks at once (see [`merged`]).
struct Walk {
    granularity: Granularity,
    listing: Listing,
    /// The cursor the walk continues from: only rows after it are new.
    after: Option<Position>,
    /// The oldest row handed out so far (or the cursor's).
    last: Option<SortKey>,
    /// The bound of the next page: every row at or after it has been seen.
    before: Option<DateTime<Utc>>,
    /// The bound of the last page fetched (see [`Position::resume`]).
    resume: Option<DateTime<Utc>>,
    /// The bound of the page `last` was found on, for a slice that stops at its page bound.
    last_resume: Option<DateTime<Utc>>,
    longest_page: usize,
    /// A unit whose rows filled a whole page: the next page steps past it.
    stepping_past: Option<DateTime<Utc>>,
    incomplete: Vec<DateTime<Utc>>,
    pages: usize,
    /// Whether the listing has no rows left past `last`.
    ended: bool,
}

impl Walk {
    fn new(after: Option<Position>, listing: Listing) -> Self {
        let granularity = listing.granularity;
        // Any bound at or above the one that includes the cursor's unit returns the rows after
        // the cursor (rows newer than it are dropped), so a remembered page is as good as a new
        // one.
        let before = after.map(|position| {
            let including = granularity.including(position.key.at);
            position
                .resume
                .filter(|resume| *resume >= including)
                .unwrap_or(including)
        });
        Self {
            granularity,
            listing,
            after,
            last: after.map(|position| position.key),
            before,
            resume: before,
            last_resume: after.and_then(|position| position.resume),
            longest_page: 0,
            stepping_past: None,
            incomplete: Vec::new(),
            pages: 0,
            ended: false,
        }
    }

    /// Starts reading a page: which one to fetch.
    fn start_page(&mut self) -> PageBound {
        self.incomplete.extend(self.stepping_past.take());
        self.pages += 1;
        PageBound {
            before: self.before,
            after: self.last,
        }
    }

    /// Whether a row not fetched yet may come before `key`: the walk has not ended, and has
    /// not yet seen every row of `key`'s unit and above.
    fn may_precede(&self, key: SortKey) -> bool {
        !self.ended && (self.pages == 0 || self.before.is_none_or(|before| key.at < before))
    }

    /// Takes the page fetched for [`Walk::start_page`]'s bound and returns its new rows, newest
    /// first: the rows after the last one handed out whose units the page holds whole.
    fn take_page<T, E>(
        &mut self,
        page: Vec<T>,
        key: impl Fn(&T) -> Option<SortKey>,
    ) -> Result<Vec<(SortKey, T)>, WalkError<E>> {
        let granularity = self.granularity;
        self.resume = self.before;
        let final_page = self.listing.page_size.is_some_and(|size| page.len() < size);
        self.longest_page = self.longest_page.max(page.len());
        let full_page = self.listing.full(page.len(), self.longest_page);
        let keyed: Vec<(SortKey, T)> = page
            .into_iter()
            .filter_map(|row| key(&row).map(|key| (key, row)))
            .collect();
        // The oldest cursor unit on the page may continue on the next page, so its rows wait
        // for a page that starts with that unit (and so holds all of it).
        let Some(oldest_unit) = keyed.iter().map(|(key, _)| granularity.floor(key.at)).min() else {
            self.ended = true;
            return Ok(Vec::new());
        };
        let spans_units = keyed
            .iter()
            .any(|(key, _)| granularity.floor(key.at) > oldest_unit);
        let shared_unit = keyed.len() > 1;
        let last = self.last;
        let mut fresh: Vec<(SortKey, T)> = keyed
            .into_iter()
            .filter(|(key, _)| last.is_none_or(|last| *key < last))
            .collect();
        let next_before = if final_page {
            // Nothing follows a short page, so even its oldest unit is complete.
            oldest_unit
        } else if spans_units {
            fresh.retain(|(key, _)| granularity.floor(key.at) > oldest_unit);
            granularity.including(oldest_unit)
        } else {
            // The page holds a single unit: all of it when it fits in a page, otherwise as much
            // as the API will ever show. Take it and continue strictly before it; a whole page
            // of one unit may have left rows out, which the slice reports once it moves on.
            if full_page && shared_unit {
                tracing::debug!(unit = %oldest_unit, "a whole upstream page shares one cursor unit");
                self.stepping_past = Some(oldest_unit);
            }
            oldest_unit
        };
        if self.before.is_some_and(|before| next_before >= before) {
            return Err(WalkError::NoProgress { pages: self.pages });
        }
        self.before = Some(next_before);
        self.ended = final_page;
        fresh.sort_by_key(|(key, _)| std::cmp::Reverse(*key));
        if let Some(&(oldest, _)) = fresh.last() {
            self.last = Some(oldest);
            self.last_resume = self.resume;
        }
        Ok(fresh)
    }

    /// The slice of `rows`, the walk having found out whether more follow.
    fn slice<T>(self, rows: Vec<(SortKey, T)>, has_next_page: bool) -> Slice<T> {
        Slice {
            rows,
            has_next_page,
            resume: self.resume,
            scanned_to: None,
            incomplete: self.incomplete,
        }
    }

    /// The slice of `rows` of a walk that used up its pages: it continues where it stopped
    /// scanning. A walk that moved past no row makes no progress.
    fn stopped_at_bound<T, E>(self, rows: Vec<(SortKey, T)>) -> Result<Slice<T>, WalkError<E>> {
        let moved = self
            .last
            .filter(|last| Some(*last) != self.after.map(|position| position.key));
        let Some(last) = moved else {
            return Err(WalkError::NoProgress { pages: self.pages });
        };
        Ok(Slice {
            scanned_to: Some(Position {
                key: last,
                resume: self.last_resume,
            }),
            ..self.slice(rows, true)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_whole_list_is_sliced_after_its_cursor_newest_first() {
        let at = |second: u32| {
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 1, 1, 0, 0, second).unwrap()
        };
        let key = |second, id| SortKey { at: at(second), id };
        let rows = vec![
            (key(1, 10), 'a'),
            (key(3, 30), 'c'),
            (key(2, 20), 'b'),
            (key(3, 31), 'd'),
        ];
        let letters = |slice: &Slice<char>| slice.rows.iter().map(|(_, l)| *l).collect::<String>();

        let first = Slice::of_whole(rows.clone(), 2, None);
        assert_eq!(
            (letters(&first), first.has_next_page),
            ("dc".to_owned(), true)
        );
        let after = Position {
            key: first.rows[1].0,
            resume: None,
        };
        let second = Slice::of_whole(rows.clone(), 2, Some(after));
        assert_eq!(
            (letters(&second), second.has_next_page),
            ("ba".to_owned(), false)
        );
        let none = Slice::of_whole(rows, 0, None);
        assert_eq!((letters(&none), none.has_next_page), (String::new(), true));
    }

    /// An upstream over `rows` that answers pages of `page_size`, newest first, strictly before
    /// the bound at `granularity`, with ties in an order of its own (id ascending).
    struct FakeUpstream {
        rows: Vec<SortKey>,
        page_size: usize,
        granularity: Granularity,
        /// The page size the walk is told of, if any.
        announced_page_size: Option<usize>,
        /// Which rows the walk returns (the others only move it along).
        keep: fn(&SortKey) -> bool,
        calls: Cell<usize>,
        /// Every bound asked for, as a cache in front of the upstream would see them.
        asked: std::cell::RefCell<Vec<Option<DateTime<Utc>>>>,
        /// Whether walks pass the slice's resume bound on.
        resume: bool,
        /// Upstream pages one slice may read.
        max_pages: usize,
        /// The longest page the walk is told the upstream answered before.
        longest_page_seen: usize,
    }

    impl FakeUpstream {
        fn new(rows: Vec<SortKey>, page_size: usize, granularity: Granularity) -> Self {
            Self {
                rows,
                page_size,
                granularity,
                announced_page_size: None,
                keep: |_| true,
                calls: Cell::new(0),
                asked: Default::default(),
                resume: true,
                max_pages: 1_000,
                longest_page_seen: 0,
            }
        }

        async fn page(&self, before: Option<DateTime<Utc>>) -> Result<Vec<SortKey>, ()> {
            self.calls.set(self.calls.get() + 1);
            self.asked.borrow_mut().push(before);
            let mut matching: Vec<SortKey> = self
                .rows
                .iter()
                .copied()
                .filter(|row| before.is_none_or(|before| self.granularity.floor(row.at) < before))
                .collect();
            matching.sort_by(|a, b| b.at.cmp(&a.at).then(a.id.cmp(&b.id)));
            matching.truncate(self.page_size);
            Ok(matching)
        }

        async fn slice(&self, first: usize, after: Option<Position>) -> Slice<SortKey> {
            collect(
                SliceRequest {
                    first,
                    after,
                    max_pages: self.max_pages,
                    listing: Listing {
                        granularity: self.granularity,
                        page_size: self.announced_page_size,
                        longest_page_seen: self.longest_page_seen,
                    },
                },
                |row: &SortKey| Some(*row),
                self.keep,
                |bound| self.page(bound.before),
            )
            .await
            .expect("walk succeeds")
        }

        async fn walk(&self, first: usize) -> Vec<SortKey> {
            self.walk_reporting(first).await.0
        }

        /// Every row of a walk, and every unit reported incomplete on the way.
        async fn walk_reporting(&self, first: usize) -> (Vec<SortKey>, Vec<DateTime<Utc>>) {
            let mut all = Vec::new();
            let mut incomplete = Vec::new();
            let mut after = None;
            loop {
                let slice = self.slice(first, after).await;
                assert!(slice.rows.len() <= first);
                if slice.has_next_page && slice.scanned_to.is_none() {
                    assert_eq!(
                        slice.rows.len(),
                        first,
                        "exactly `first` rows while more follow"
                    );
                }
                all.extend(slice.rows.iter().map(|(key, _)| *key));
                incomplete.extend(slice.incomplete);
                let resume = slice.resume.filter(|_| self.resume);
                after = slice.scanned_to.or_else(|| {
                    slice
                        .rows
                        .last()
                        .map(|(key, _)| Position { key: *key, resume })
                });
                if !slice.has_next_page {
                    return (all, incomplete);
                }
                assert!(
                    after.is_some(),
                    "more follow, and a position to continue from"
                );
            }
        }
    }

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(1_780_000_000_000_000 + micros).unwrap()
    }

    /// 500 rows in groups of 1..=4 per instant, instants `spacing` apart.
    fn tied_rows(spacing: i64) -> Vec<SortKey> {
        let mut rows = Vec::new();
        let mut id = 1;
        let mut instant = 0;
        while rows.len() < 500 {
            for _ in 0..(instant % 4 + 1) {
                rows.push(SortKey {
                    at: at(instant * spacing),
                    id,
                });
                id += 7;
            }
            instant += 1;
        }
        rows
    }

    fn expected(rows: &[SortKey]) -> Vec<SortKey> {
        let mut sorted = rows.to_vec();
        sorted.sort_by(|a, b| b.cmp(a));
        sorted
    }

    #[tokio::test]
    async fn walks_return_every_row_once_in_order_for_any_page_sizes() {
        for (granularity, spacing) in [
            (Granularity::Microsecond, 1),
            (Granularity::Second, 1_000_000),
        ] {
            let rows = tied_rows(spacing);
            for page_size in [5, 7, 30, 50] {
                let upstream = FakeUpstream::new(rows.clone(), page_size, granularity);
                for first in [1, 7, 30, 100] {
                    assert_eq!(
                        upstream.walk(first).await,
                        expected(&rows),
                        "{granularity:?} page {page_size} first {first}"
                    );
                }
            }
        }
    }

    /// Three lists over the rows of `tied_rows`, split by id; the last holds only the newest
    /// rows, so it ends early.
    fn three_lists(spacing: i64, page_size: usize, granularity: Granularity) -> Vec<FakeUpstream> {
        let rows = tied_rows(spacing);
        (0..3)
            .map(|list| {
                let mine = rows
                    .iter()
                    .copied()
                    .filter(|row| row.id % 3 == list)
                    .filter(|row| list != 2 || row.at >= at(400 * spacing))
                    .collect();
                FakeUpstream::new(mine, page_size, granularity)
            })
            .collect()
    }

    async fn merged_slice(
        lists: &[FakeUpstream],
        first: usize,
        after: Option<Position>,
        max_pages: usize,
        keep: fn(&SortKey) -> bool,
    ) -> Slice<SortKey> {
        collect_merged(
            lists.len(),
            SliceRequest {
                first,
                after,
                max_pages,
                listing: Listing {
                    granularity: lists[0].granularity,
                    page_size: None,
                    longest_page_seen: 0,
                },
            },
            |row: &SortKey| Some(*row),
            keep,
            |list, bound: PageBound| lists[list].page(bound.before),
        )
        .await
        .expect("walk succeeds")
    }

    #[tokio::test]
    async fn merged_walks_of_disjoint_lists_return_every_kept_row_once_in_order() {
        let kept = |row: &SortKey| row.id % 5 != 1;
        for (granularity, spacing) in [
            (Granularity::Microsecond, 1),
            (Granularity::Second, 1_000_000),
        ] {
            for (page_size, max_pages) in [(5, 6), (7, 9), (30, 20)] {
                let lists = three_lists(spacing, page_size, granularity);
                let all: Vec<SortKey> = lists.iter().flat_map(|list| list.rows.clone()).collect();
                let want: Vec<SortKey> = expected(&all).into_iter().filter(kept).collect();
                for first in [0, 1, 7, 30] {
                    let mut walked = Vec::new();
                    let mut after = None;
                    let mut slices = 0;
                    loop {
                        slices += 1;
                        assert!(slices < 2_000, "the walk ends");
                        let slice = merged_slice(&lists, first, after, max_pages, kept).await;
                        assert!(slice.rows.len() <= first);
                        if slice.has_next_page && slice.scanned_to.is_none() {
                            assert_eq!(slice.rows.len(), first, "`first` rows while more follow");
                        }
                        walked.extend(slice.rows.iter().map(|(key, _)| *key));
                        if !slice.has_next_page || first == 0 {
                            break;
                        }
                        after = slice.scanned_to.or_else(|| {
                            slice.rows.last().map(|(key, _)| Position {
                                key: *key,
                                resume: None,
                            })
                        });
                        assert!(after.is_some(), "a position to continue from");
                    }
                    let want = if first == 0 { Vec::new() } else { want.clone() };
                    assert_eq!(
                        walked, want,
                        "{granularity:?} page {page_size} bound {max_pages} first {first}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_merged_walk_reads_further_only_the_lists_that_hold_it_back() {
        // Each list a page of 10 rows, the lists' rows interleaved: 20 rows need the first
        // page of each list and a second of at most two.
        let lists = three_lists(1, 10, Granularity::Microsecond);
        let slice = merged_slice(&lists, 20, None, 20, |_| true).await;
        assert_eq!(slice.rows.len(), 20);
        let calls: Vec<usize> = lists.iter().map(|list| list.calls.get()).collect();
        assert!(calls.iter().all(|calls| *calls >= 1), "{calls:?}");
        assert!(calls.iter().sum::<usize>() <= 5, "{calls:?}");

        // One list holds every new row: the others are read once.
        let mut rows = tied_rows(1);
        let newest = rows.iter().map(|row| row.at).max().expect("rows");
        let mut lists = three_lists(1, 10, Granularity::Microsecond);
        for id in 0..40 {
            let row = SortKey {
                at: newest + TimeDelta::microseconds(id + 1),
                id: 10_000 + id,
            };
            rows.push(row);
            lists[0].rows.push(row);
        }
        let slice = merged_slice(&lists, 30, None, 20, |_| true).await;
        let newest_30: Vec<SortKey> = expected(&rows).into_iter().take(30).collect();
        let walked: Vec<SortKey> = slice.rows.iter().map(|(key, _)| *key).collect();
        assert_eq!(walked, newest_30);
        let calls: Vec<usize> = lists.iter().map(|list| list.calls.get()).collect();
        assert_eq!(
            calls,
            [4, 1, 1],
            "the list holding the newest rows is read on"
        );
    }

    #[tokio::test]
    async fn a_merged_walk_keeps_to_its_page_bound_and_continues_where_it_stopped() {
        let lists = three_lists(1, 5, Granularity::Microsecond);
        let none = |_: &SortKey| false;
        let slice = merged_slice(&lists, 10, None, 8, none).await;
        let calls: usize = lists.iter().map(|list| list.calls.get()).sum();
        assert!(calls <= 8, "{calls} pages for a bound of 8");
        assert!(slice.rows.is_empty() && slice.has_next_page);
        let scanned_to = slice.scanned_to.expect("a position past the rows scanned");
        let all: Vec<SortKey> = lists.iter().flat_map(|list| list.rows.clone()).collect();
        let newest = expected(&all)[0];
        assert!(
            scanned_to.key < newest,
            "the next slice starts past the rows scanned"
        );
    }

    #[tokio::test]
    async fn an_announced_page_size_ends_the_walk_at_a_short_page() {
        let rows = tied_rows(1_000_000);
        for page_size in [5, 50] {
            let mut upstream = FakeUpstream::new(rows.clone(), page_size, Granularity::Second);
            upstream.announced_page_size = Some(page_size);
            for first in [1, 7, 100] {
                assert_eq!(
                    upstream.walk(first).await,
                    expected(&rows),
                    "page {page_size} first {first}"
                );
            }
        }
        let short = FakeUpstream {
            announced_page_size: Some(50),
            ..FakeUpstream::new(rows[..20].to_vec(), 50, Granularity::Second)
        };
        let slice = short.slice(30, None).await;
        assert_eq!((slice.rows.len(), slice.has_next_page), (20, false));
        assert_eq!(short.calls.get(), 1, "a short page needs no look-ahead");
    }

    #[tokio::test]
    async fn resuming_where_the_last_slice_ended_reuses_its_upstream_page() {
        let distinct_pages = async |resume: bool| {
            let mut upstream = FakeUpstream::new(tied_rows(1), 30, Granularity::Microsecond);
            upstream.resume = resume;
            assert_eq!(upstream.walk(30).await, expected(&upstream.rows));
            let asked = upstream.asked.borrow();
            asked.iter().collect::<std::collections::HashSet<_>>().len()
        };
        let (resumed, fresh) = (distinct_pages(true).await, distinct_pages(false).await);
        assert!(
            resumed * 3 < fresh * 2,
            "a cache would serve {resumed} pages instead of {fresh}"
        );
    }

    #[tokio::test]
    async fn a_stale_or_forged_resume_bound_is_ignored_when_it_would_skip_rows() {
        let rows = tied_rows(1);
        let upstream = FakeUpstream::new(rows.clone(), 30, Granularity::Microsecond);
        let all = expected(&rows);
        let after = all[40];
        let too_old = Some(all[200].at);
        let slice = upstream
            .slice(
                10,
                Some(Position {
                    key: after,
                    resume: too_old,
                }),
            )
            .await;
        let keys: Vec<SortKey> = slice.rows.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, all[41..51]);
    }

    #[tokio::test]
    async fn rows_left_out_by_keep_still_move_the_walk_along() {
        let rows = tied_rows(1);
        let keep: fn(&SortKey) -> bool = |row| row.id % 3 == 0;
        let wanted: Vec<SortKey> = expected(&rows).into_iter().filter(keep).collect();
        for page_size in [5, 30] {
            let mut upstream = FakeUpstream::new(rows.clone(), page_size, Granularity::Microsecond);
            upstream.keep = keep;
            for first in [1, 7, 100] {
                assert_eq!(
                    upstream.walk(first).await,
                    wanted,
                    "page {page_size} first {first}"
                );
            }
        }
    }

    #[tokio::test]
    async fn second_granularity_keeps_sub_second_order() {
        // Four rows per second; inside a second they sort by their microseconds, not by id or
        // by the upstream's order.
        let rows: Vec<SortKey> = (0..40)
            .map(|i| SortKey {
                at: at(i * 250_000),
                id: 100 - i,
            })
            .collect();
        let upstream = FakeUpstream::new(rows.clone(), 6, Granularity::Second);
        assert_eq!(upstream.walk(4).await, expected(&rows));
    }

    #[tokio::test]
    async fn has_next_page_is_exact_at_the_end() {
        let rows = tied_rows(1)[..60].to_vec();
        let upstream = FakeUpstream::new(rows.clone(), 30, Granularity::Microsecond);
        let slice = upstream.slice(60, None).await;
        assert_eq!(slice.rows.len(), 60);
        assert!(!slice.has_next_page);
        let slice = upstream.slice(59, None).await;
        assert!(slice.has_next_page);
    }

    #[tokio::test]
    async fn a_tie_larger_than_a_page_is_stepped_past_not_looped_on() {
        let mut rows: Vec<SortKey> = (0..8).map(|id| SortKey { at: at(100), id }).collect();
        rows.extend((0..3).map(|id| SortKey {
            at: at(50),
            id: 100 + id,
        }));
        for first in [2, 4, 100] {
            let mut upstream = FakeUpstream::new(rows.clone(), 5, Granularity::Microsecond);
            // As when earlier walks have met the upstream: a slice that starts on the last,
            // short page does not take it for a full one.
            upstream.longest_page_seen = 5;
            let (walked, incomplete) = upstream.walk_reporting(first).await;
            // The API can only ever show 5 of the 8 tied rows; everything older still arrives,
            // and the gap is reported once, by the slice that steps past it.
            assert_eq!(walked.iter().filter(|key| key.at == at(100)).count(), 5);
            assert_eq!(walked.iter().filter(|key| key.at == at(50)).count(), 3);
            assert_eq!(incomplete, [at(100)], "first {first}");
        }
    }

    #[tokio::test]
    async fn ties_that_fit_on_a_page_are_not_reported() {
        for (granularity, spacing) in [
            (Granularity::Microsecond, 1),
            (Granularity::Second, 1_000_000),
        ] {
            for page_size in [5, 30] {
                let upstream = FakeUpstream::new(tied_rows(spacing), page_size, granularity);
                assert!(upstream.walk_reporting(7).await.1.is_empty());
            }
        }
        // A last page shorter than the others is complete, even when one unit fills it.
        let mut rows: Vec<SortKey> = (0..10)
            .map(|id| SortKey {
                at: at(100 + id),
                id,
            })
            .collect();
        rows.extend((0..3).map(|id| SortKey {
            at: at(50),
            id: 20 + id,
        }));
        let mut upstream = FakeUpstream::new(rows.clone(), 5, Granularity::Microsecond);
        upstream.longest_page_seen = 5;
        for first in [1, 2, 4, 100] {
            let (walked, incomplete) = upstream.walk_reporting(first).await;
            assert_eq!(walked, expected(&rows));
            assert!(incomplete.is_empty(), "first {first}: {incomplete:?}");
        }
    }

    #[tokio::test]
    async fn a_sparse_filter_answers_what_its_pages_held_and_continues_the_scan() {
        let rows = tied_rows(1);
        let keep: fn(&SortKey) -> bool = |row| row.id % 20 == 1;
        let wanted: Vec<SortKey> = expected(&rows).into_iter().filter(keep).collect();
        for (page_size, max_pages) in [(5, 2), (5, 3), (30, 2)] {
            let mut upstream = FakeUpstream::new(rows.clone(), page_size, Granularity::Microsecond);
            upstream.keep = keep;
            upstream.max_pages = max_pages;
            for first in [1, 7, 100] {
                upstream.calls.set(0);
                let mut slices = 0;
                let mut stopped = 0;
                let mut after = None;
                let mut walked = Vec::new();
                loop {
                    let slice = upstream.slice(first, after).await;
                    slices += 1;
                    walked.extend(slice.rows.iter().map(|(key, _)| *key));
                    if let Some(scanned_to) = slice.scanned_to {
                        stopped += 1;
                        let last_row = slice.rows.last().map(|(key, _)| *key);
                        assert!(last_row.is_none_or(|key| scanned_to.key <= key));
                    }
                    after = slice.scanned_to.or_else(|| {
                        let resume = slice.resume;
                        slice
                            .rows
                            .last()
                            .map(|(key, _)| Position { key: *key, resume })
                    });
                    if !slice.has_next_page {
                        break;
                    }
                }
                let what = format!("page {page_size}, {max_pages} pages, first {first}");
                assert_eq!(walked, wanted, "{what}");
                assert!(
                    upstream.calls.get() <= slices * max_pages,
                    "{what}: {} calls for {slices} slices",
                    upstream.calls.get()
                );
                if first > 1 {
                    assert!(
                        stopped > slices / 2,
                        "{what}: {stopped} of {slices} stopped"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn an_upstream_that_ignores_the_cursor_is_an_error_not_a_hang() {
        let rows: Vec<SortKey> = (0..5).map(|id| SortKey { at: at(id), id }).collect();
        let calls = Cell::new(0);
        let result = collect(
            SliceRequest {
                first: 10,
                after: None,
                max_pages: 20,
                listing: Listing::CONVERSATIONS,
            },
            |r: &SortKey| Some(*r),
            |_| true,
            |_| {
                calls.set(calls.get() + 1);
                let rows = rows.clone();
                async move { Ok::<_, ()>(rows) }
            },
        )
        .await;
        assert!(
            matches!(result, Err(WalkError::NoProgress { .. })),
            "{result:?}"
        );
        assert!(calls.get() <= 3, "gave up after {} calls", calls.get());
    }

    #[tokio::test]
    async fn fetch_errors_pass_through() {
        let result = collect(
            SliceRequest {
                first: 3,
                after: None,
                max_pages: 20,
                listing: Listing::MESSAGE_HISTORY,
            },
            |r: &SortKey| Some(*r),
            |_| true,
            |_| async { Err::<Vec<SortKey>, _>("down") },
        )
        .await;
        assert!(matches!(result, Err(WalkError::Fetch("down"))));
    }

    #[tokio::test]
    async fn a_page_costs_few_upstream_calls() {
        let rows = tied_rows(1);
        let upstream = FakeUpstream::new(rows, 30, Granularity::Microsecond);
        let _ = upstream.slice(30, None).await;
        assert_eq!(
            upstream.calls.get(),
            2,
            "30 rows plus the peeked one: two pages of 30"
        );
    }
}
