//! The readings the sandbox plays of the points Heymarket's documentation leaves open.
//!
//! The gateway has only ever met the sandbox, and both were written from the same reading of
//! the docs. Each field of [`Readings`] is one open point; the sandbox can answer each
//! plausible way, so the gateway can be checked against every one. [`Readings::DEFAULT`] is the
//! most likely reading of each; named profiles ([`Readings::profiles`]) change many points at
//! once, and [`ReadingOverride`] (`POINT=VALUE`) one.
//!
//! The evidence quoted on each field comes from the reference notes kept with the design
//! documents (`heymarket-api.md`, section numbers given); docs/upstream-assumptions.md sums it up.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use clap::ValueEnum;
use serde::Serialize;

/// How the sandbox answers each point the upstream's documentation leaves open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readings {
    /// `POST /v1/conversations` with `filters.inboxes: []`, or no list at all (§13.1: "whether
    /// `filters.inboxes` may be empty").
    ///
    /// - `all`: the body's `id` is "User ID of a member of the inboxes; used to check
    ///   membership and scope results" (§6.1), so without a list the member's inboxes are the
    ///   scope.
    /// - `none`: `filters.inboxes` is an inclusion list ("`{ "inboxes": [int, …], … }`",
    ///   §6.1); an empty one matches nothing.
    /// - `refused`: "CODE-MC marks `inboxes` required" (§6.1), and a 400 `bad_data` is the
    ///   answer to "Malformed body / invalid fields" (§3).
    pub empty_inboxes: EmptyInboxes,

    /// Rows per page of `POST /v1/conversations` when no `limit` applies: "Page size: **not
    /// documented**" (§6.1). 30 is the documented default of every other list ("`date` cursor,
    /// default page 30", §9.1; "`limit` (int, default **30**)", §7.4); 25 and 50 are the other
    /// usual choices, 50 being the history page ("the 50 most recent", §7.3).
    pub conversation_page_size: usize,

    /// `limit` in a `POST /v1/conversations` body. "DOC-GEN shows a generic 'Pagination json'
    /// body for the same endpoint: … `limit` (int) … Which of these the server honours for
    /// conversations is unknown" (§6.1, §13.1).
    ///
    /// - `ignored`: the documented body (`id`, `filters`, `date`) has no `limit`.
    /// - `honoured`: the generated schema lists it; a page then holds `limit` rows, silently
    ///   clamped to 1..=[`CONVERSATION_LIMIT_MAX`].
    pub conversation_limit: ConversationLimit,

    /// `filters.closed: false` (§13.1: "exact semantics of `filters.closed`/`filters.unread`
    /// when `false` vs omitted").
    ///
    /// - `open-only`: "`closed:false` → open only; `closed:true` → closed only; omitted →
    ///   both?" (§6.1, inferred).
    /// - `no-filter`: the documented example sends `"closed":false,"unread":false` (§6.1) as
    ///   its everyday request, which reads as "no filter" for both.
    pub closed_false: ClosedFalse,

    /// `filters.unread: false`.
    ///
    /// - `no-filter`: "`unread:false` → probably 'no filter' rather than 'read only' (docs
    ///   example sends both `false`)" (§6.1).
    /// - `read-only`: a boolean filter whose `false` selects the complement, as `closed` does
    ///   in the inferred reading.
    pub unread_false: UnreadFalse,

    /// `assigned` in a `POST /v1/conversations` body. "DOC-GEN shows a generic 'Pagination
    /// json' body for the same endpoint: `archived` (bool), `ascending` (bool), `assigned`
    /// (int), … Which of these the server honours for conversations is unknown" (§6.1, §13.1).
    ///
    /// - `ignored`: the documented body (`id`, `filters`, `date`) has no `assigned`.
    /// - `honoured`: the generated schema lists it; only conversations assigned to that member
    ///   are listed (`0` or a negative id: no filter, as "unassigned" has no agreed value,
    ///   §13.5).
    pub assigned_filter: AssignedFilter,

    /// Precision of a conversation's `updated` (and `created`), and so of the list cursor
    /// (§13.2: "Precision of `updated` (microseconds observed for messages)").
    ///
    /// - `micros`: message dates look like `2024-12-24T14:04:55.021462Z` ("six fractional
    ///   digits + `Z`, so almost certainly the API's own format", §1).
    /// - `seconds`: the docs' own examples have none ("`2026-04-16T00:00:00+00:00` and
    ///   `2026-04-12T15:30:00Z`", §1; `2018-01-01T00:00:00Z`, §5.5): RFC 3339 without a
    ///   fraction, and many more conversations sharing one cursor value.
    pub updated_precision: UpdatedPrecision,

    /// How an unassigned conversation's `assigned` looks: "Unassigned representation unknown
    /// (0? null? absent?)" (§5.1, §13.5). The schema types it `integer` (§5.1), hence `zero`
    /// first.
    pub unassigned: Unassigned,

    /// How `POST /v1/conversations/reassign` unassigns: "How to *unassign* is not documented"
    /// (§6.6, §13.5).
    ///
    /// - `minus-one`: the contact API's convention, "`assignee_id` (−1 = unassign)" (§9.1).
    /// - `zero`: the value an unassigned conversation may show in `assigned` (§5.1); −1 is
    ///   then no member, a 400.
    /// - `refused`: `reassign_id` must name a member ("New assignee user ID", §6.6): no way to
    ///   unassign, a 400.
    pub unassign: Unassign,

    /// The largest `limit` of `POST /v1/messages/all`; a larger one is clamped to it, silently
    /// (§13.13: "max `limit`"). The docs give only "`limit` (int, default **30**)" (§7.4);
    /// public code asks for "`limit:50|200`" (§7.4, CODE-XZ). 1000 is the generous reading.
    pub messages_all_max: usize,

    /// The cursor field `POST /v1/messages/all` reads (§13.13: "`created_at` vs `date` cursor
    /// name").
    ///
    /// - `created-at-or-date`: either (the documented name wins when both are sent).
    /// - `created-at`: "DOC-HW body: `created_at` (RFC 3339 cursor …)"; "DOC-GEN prose also says
    ///   `created_at`" (§7.4); `date` is ignored.
    /// - `date`: "the DOC-GEN *schema* is the generic Pagination json (…) with `date` and no
    ///   `created_at`" (§7.4); `created_at` is ignored.
    pub messages_all_cursor: MessagesAllCursor,

    /// Whether `GET /v1/messages?timestamp=` includes messages of that very second (§13.12:
    /// "whether `timestamp` is exclusive").
    ///
    /// - `exclusive`: "only messages sent **before** it" (§7.3).
    /// - `inclusive`: a Unix-second cursor compared with `<=`, as many APIs do.
    pub history_timestamp: HistoryTimestamp,

    /// `GET /v1/messages` for a phone with no conversation in a known inbox (§13.12:
    /// "behaviour for unknown phone/inbox (404 vs empty array)").
    ///
    /// - `empty`: an empty history is an empty array.
    /// - `not-found`: "CODE-XZ defensively maps a 404 from `GET /v1/messages` to 'no
    ///   messages'" (§3).
    pub history_unknown_phone: HistoryUnknownPhone,

    /// How a message carries its pictures and files. The docs give one string, "`media` |
    /// string | Media URL on MMS" (§5.2), yet MMS carries several, and Heymarket's other
    /// content objects hold a list: scheduled content and templates have "`gallery`
    /// (GalleryEntry[] `{url, original_url, annotation_text, …}`)" (§7.6, §9.4).
    ///
    /// - `single`: `media` is the first attachment's URL, the others are not shown.
    /// - `list`: `media` is an array of every URL.
    /// - `gallery`: `media` is the first URL and `gallery` lists every attachment.
    pub message_media: MessageMedia,

    /// A repeated `local_id` on `POST /v1/message/send`.
    ///
    /// - `deduplicated`: "DOC-HW says a duplicate `local_id` is de-duplicated (email send:
    ///   'will not create a second message'; broadcast guide: same `local_id` twice is
    ///   deduplicated)" (§1); the repeat answers the original send.
    /// - `ignored`: both statements are about other endpoints; for an SMS send the docs only
    ///   say "Client unique ID; required with `list_id`" (§7.1), so each send is a new message.
    pub local_id: LocalId,

    /// A send to a contact with `is_opted_out: true` (§9.1).
    ///
    /// - `enforced`: "sending to an opted-out contact fails (n8n surface code
    ///   `unsubscribed_number`)" (§7.1): 400 `unsubscribed_number`.
    /// - `ignored`: that is "evidence from CODE-N8N's private surface only" (§7.1), and "A 2xx
    ///   means 'accepted/queued', not delivered" (§7.1): the send goes through.
    pub opt_out: OptOut,

    /// The body of a successful `POST /v1/message/send` (§13.7: "only `{id, date,
    /// gallery_url}` is documented … Does it return the conversation id?").
    ///
    /// - `documented`: "`{ "id": 123, "date": "<string>", "gallery_url": "<string>" }`" (§7.1).
    /// - `with-conversation`: "CODE-MC shows instead `{ "id", "convo_id", "queued", "date",
    ///   "compliance_results" }`" (§7.1).
    pub send_answer: SendAnswerShape,

    /// The `target` of a conversation a new email starts (`POST /v1/email/send` with
    /// `targets`; §7.2). The docs say only "Customer phone number or other channel identifier
    /// (email address for email)" (§5.1), and an email may go to several `to:` addresses.
    ///
    /// - `first-to`: the first `to:` address; an email to an address that already has a
    ///   thread in the inbox continues it.
    /// - `all-to`: every `to:` address, comma-separated as sent.
    pub email_thread_target: EmailThreadTarget,
    /// The body of a successful `POST /v1/schedule` or `PUT /v1/schedule/{id}` (§13.15:
    /// "the create/update schedule response shapes"; "Create/update response shapes
    /// undocumented (INFERRED `{id, rev, ...}` like other creates)", §7.6).
    ///
    /// - `object`: the Scheduled object `GET /v1/schedule/{id}` shows (§7.6).
    /// - `id-rev`: only `{id, rev}`, the inferred minimum.
    pub schedule_answer: ScheduleAnswer,

    /// What `GET /v1/schedule/{id}` answers once the message went out. The docs show the
    /// object only while it waits ("can be deleted before they are sent", §7.6), and list no
    /// endpoint or webhook for schedules themselves.
    ///
    /// - `kept`: the object is still served, unchanged but for `conversation_id` (a phone
    ///   target's new conversation); it can no longer be changed or deleted (400).
    /// - `gone`: a sent schedule is a sent message now: 404.
    pub schedule_after_send: ScheduleAfterSend,

    /// The answer of `DELETE /v1/schedule/{id}`, itself inferred (§7.6, §13.15).
    ///
    /// - `ok`: the JSON string `"ok"`, as every other mutating endpoint answers (§14).
    /// - `empty`: 204 and no body.
    pub schedule_delete: ScheduleDelete,

    /// Whether a change made through the API fires its webhook. The docs list event types,
    /// not their sources (§11); CODE-N8N notes that messages sent by integrations do not fire
    /// its "outgoing" trigger.
    ///
    /// - `fired`: every change fires its event, whoever made it.
    /// - `silent`: only changes made elsewhere (a customer writing in, the Heymarket app) do.
    pub write_events: WriteEvents,

    /// What `POST /v1/conversations/count` counts. The docs give its body as "`date` (RFC
    /// 3339, optional) — counts conversations updated before it" (§6.2) and nothing else,
    /// while it sits beside the list whose filters it would naturally share.
    ///
    /// - `list-filters`: the list's body (`id`, `filters`, `assigned`), read exactly as the
    ///   list reads it under the other points; every match is counted, not one page.
    /// - `date-only`: the documented body: every conversation of the team updated before
    ///   `date`, whatever else the body says.
    pub count_filters: CountFilters,

    /// The body of a successful `POST /v1/conversations/count` (§13.14: "response format
    /// (string vs number vs object)"; "INFERRED: like `/v1/messages/all/count`, a JSON
    /// string/number", §6.2).
    ///
    /// - `number`: a JSON number.
    /// - `string`: the number as a JSON string.
    /// - `object`: `{"count": n}`.
    pub count_answer: CountAnswer,

    /// Whose read state a conversation shows. "`read` vs per-user unread" is open (§13.3):
    /// the documented field is "`read` (integer)" (§5.1); "`unread` (boolean), `unread_users`
    /// (integer array)" are "Extra fields seen only in CODE-MC's response examples" (§5.1),
    /// and "unread is per this user", the list body's `id` (§6.1).
    ///
    /// - `unread-users`: every conversation names the members it is unread for
    ///   (`unread_users`), besides `unread` and `read` for the list's member.
    /// - `unread`: no `unread_users`; `unread` and `read` are the list's member's, and where
    ///   no member is named (`GET /v1/conversations/{id}`, messages, webhooks) the team's:
    ///   unread when any member has it unread.
    /// - `read`: only the documented `read` (0 unread, 1 read), in the same way.
    pub read_state: ReadState,
}

/// Most rows a `limit` may ask of `POST /v1/conversations` when it is honoured.
pub const CONVERSATION_LIMIT_MAX: usize = 100;

/// The range of the numeric points (`conversation_page_size`, `messages_all_max`).
pub const NUMERIC_READING_RANGE: std::ops::RangeInclusive<usize> = 1..=10_000;

/// See [`Readings::empty_inboxes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmptyInboxes {
    /// Every inbox the member belongs to.
    All,
    /// No inbox: an empty page.
    #[value(name = "none")]
    NoInbox,
    /// 400 `bad_data`.
    Refused,
}

/// See [`Readings::conversation_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConversationLimit {
    /// Every page has the configured size.
    Ignored,
    /// A page holds `limit` rows, clamped to 1..=100.
    Honoured,
}

/// See [`Readings::closed_false`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClosedFalse {
    /// Open conversations only.
    OpenOnly,
    /// Open and closed conversations.
    NoFilter,
}

/// See [`Readings::unread_false`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnreadFalse {
    /// Read and unread conversations.
    NoFilter,
    /// Conversations the member has read.
    ReadOnly,
}

/// See [`Readings::assigned_filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AssignedFilter {
    /// Every page lists every assignee's conversations.
    Ignored,
    /// Only the named member's conversations are listed.
    Honoured,
}

/// See [`Readings::updated_precision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdatedPrecision {
    /// `2026-04-12T15:30:00.123456Z`.
    Micros,
    /// `2026-04-12T15:30:00Z`.
    Seconds,
}

/// See [`Readings::unassigned`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unassigned {
    /// `"assigned": 0`.
    Zero,
    /// `"assigned": null`.
    Null,
    /// No `assigned` field.
    Absent,
}

/// See [`Readings::unassign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unassign {
    /// `reassign_id: -1` unassigns.
    MinusOne,
    /// `reassign_id: 0` unassigns.
    Zero,
    /// Nothing unassigns: 400 `bad_data`.
    Refused,
}

/// See [`Readings::messages_all_cursor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessagesAllCursor {
    /// `created_at`, else `date`.
    CreatedAtOrDate,
    /// Only `created_at`.
    CreatedAt,
    /// Only `date`.
    Date,
}

/// See [`Readings::history_timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryTimestamp {
    /// Messages sent before that second.
    Exclusive,
    /// Messages sent before the end of that second.
    Inclusive,
}

/// See [`Readings::history_unknown_phone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryUnknownPhone {
    /// `[]`.
    Empty,
    /// 404 `not_found`.
    NotFound,
}

/// See [`Readings::message_media`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageMedia {
    /// `"media": "<first url>"`.
    Single,
    /// `"media": ["<url>", …]`.
    List,
    /// `"media": "<first url>", "gallery": [{"url": …, "original_url": …}, …]`.
    Gallery,
}

/// See [`Readings::local_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LocalId {
    /// A repeat answers the original send; no second message.
    Deduplicated,
    /// Every send is a new message.
    Ignored,
}

/// See [`Readings::opt_out`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptOut {
    /// 400 `unsubscribed_number`.
    Enforced,
    /// The send goes through.
    Ignored,
}

/// See [`Readings::email_thread_target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmailThreadTarget {
    /// The first `to:` address.
    FirstTo,
    /// Every `to:` address, comma-separated.
    AllTo,
}

/// See [`Readings::send_answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SendAnswerShape {
    /// `{id, date, gallery_url?}`.
    Documented,
    /// Also `convo_id`, `queued`, `compliance_results`.
    WithConversation,
}

/// See [`Readings::schedule_answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleAnswer {
    /// The whole Scheduled object.
    Object,
    /// `{id, rev}`.
    IdRev,
}

/// See [`Readings::schedule_after_send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleAfterSend {
    /// Still served; no longer changeable.
    Kept,
    /// 404.
    Gone,
}

/// See [`Readings::count_filters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CountFilters {
    /// The list's filters, read as the list reads them.
    ListFilters,
    /// Only `date`: the whole team.
    DateOnly,
}

/// See [`Readings::count_answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CountAnswer {
    /// `42`.
    Number,
    /// `"42"`.
    String,
    /// `{"count": 42}`.
    Object,
}

/// See [`Readings::write_events`].
/// See [`Readings::read_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReadState {
    /// `unread_users`, `unread` and `read`.
    UnreadUsers,
    /// `unread` and `read`, for the list's member or the team.
    Unread,
    /// `read` only, for the list's member or the team.
    Read,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriteEvents {
    /// API writes fire their webhooks.
    Fired,
    /// API writes fire none.
    Silent,
}

/// See [`Readings::schedule_delete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleDelete {
    /// 200 `"ok"`.
    Ok,
    /// 204, no body.
    Empty,
}

impl Readings {
    /// The most likely reading of every point: what the sandbox has always answered.
    pub const DEFAULT: Self = Self {
        empty_inboxes: EmptyInboxes::All,
        conversation_page_size: 30,
        conversation_limit: ConversationLimit::Ignored,
        closed_false: ClosedFalse::OpenOnly,
        unread_false: UnreadFalse::NoFilter,
        assigned_filter: AssignedFilter::Ignored,
        updated_precision: UpdatedPrecision::Micros,
        unassigned: Unassigned::Zero,
        unassign: Unassign::MinusOne,
        messages_all_max: 1000,
        messages_all_cursor: MessagesAllCursor::CreatedAtOrDate,
        history_timestamp: HistoryTimestamp::Exclusive,
        history_unknown_phone: HistoryUnknownPhone::Empty,
        message_media: MessageMedia::Single,
        local_id: LocalId::Deduplicated,
        opt_out: OptOut::Enforced,
        send_answer: SendAnswerShape::Documented,
        email_thread_target: EmailThreadTarget::FirstTo,
        schedule_answer: ScheduleAnswer::Object,
        schedule_after_send: ScheduleAfterSend::Kept,
        schedule_delete: ScheduleDelete::Ok,
        write_events: WriteEvents::Fired,
        count_filters: CountFilters::ListFilters,
        count_answer: CountAnswer::Number,
        read_state: ReadState::UnreadUsers,
    };

    /// Every named profile, `default` first. Between them they use every value of every
    /// enumerated point, and each numeric point at three sizes.
    pub fn profiles() -> &'static [(&'static str, Readings)] {
        &PROFILES
    }

    /// The profile called `name`.
    pub fn profile(name: &str) -> Result<Self, UnknownProfile> {
        PROFILES
            .iter()
            .find(|(profile, _)| *profile == name)
            .map(|(_, readings)| *readings)
            .ok_or_else(|| UnknownProfile(name.to_owned()))
    }

    /// These readings with `changes` applied in order.
    pub fn with(mut self, changes: &[ReadingOverride]) -> Self {
        for change in changes {
            (change.apply)(&mut self);
        }
        self
    }

    /// Each point's name and its value in these readings, in the order of [`reading_points`].
    pub fn values(&self) -> Vec<(&'static str, ReadingValue)> {
        POINTS
            .iter()
            .map(|point| (point.name, (point.get)(self)))
            .collect()
    }

    /// The points where these readings differ from [`Readings::DEFAULT`], as `POINT=VALUE`.
    pub fn differences(&self) -> Vec<String> {
        let default = Self::DEFAULT.values();
        self.values()
            .into_iter()
            .zip(default)
            .filter(|(mine, default)| mine != default)
            .map(|((point, value), _)| format!("{point}={value}"))
            .collect()
    }
}

impl Default for Readings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const PROFILES: [(&str, Readings); 3] = [
    ("default", Readings::DEFAULT),
    (
        "strict",
        Readings {
            empty_inboxes: EmptyInboxes::NoInbox,
            conversation_page_size: 25,
            conversation_limit: ConversationLimit::Ignored,
            closed_false: ClosedFalse::NoFilter,
            unread_false: UnreadFalse::ReadOnly,
            assigned_filter: AssignedFilter::Ignored,
            updated_precision: UpdatedPrecision::Seconds,
            unassigned: Unassigned::Null,
            unassign: Unassign::Refused,
            messages_all_max: 200,
            messages_all_cursor: MessagesAllCursor::Date,
            history_timestamp: HistoryTimestamp::Inclusive,
            history_unknown_phone: HistoryUnknownPhone::Empty,
            message_media: MessageMedia::List,
            local_id: LocalId::Ignored,
            opt_out: OptOut::Ignored,
            send_answer: SendAnswerShape::Documented,
            email_thread_target: EmailThreadTarget::AllTo,
            schedule_answer: ScheduleAnswer::IdRev,
            schedule_after_send: ScheduleAfterSend::Gone,
            schedule_delete: ScheduleDelete::Empty,
            write_events: WriteEvents::Silent,
            count_filters: CountFilters::DateOnly,
            count_answer: CountAnswer::String,
            read_state: ReadState::Unread,
        },
    ),
    (
        "refusing",
        Readings {
            empty_inboxes: EmptyInboxes::Refused,
            conversation_page_size: 50,
            conversation_limit: ConversationLimit::Honoured,
            closed_false: ClosedFalse::OpenOnly,
            unread_false: UnreadFalse::NoFilter,
            assigned_filter: AssignedFilter::Honoured,
            updated_precision: UpdatedPrecision::Micros,
            unassigned: Unassigned::Absent,
            unassign: Unassign::Zero,
            messages_all_max: 50,
            messages_all_cursor: MessagesAllCursor::CreatedAt,
            history_timestamp: HistoryTimestamp::Exclusive,
            history_unknown_phone: HistoryUnknownPhone::NotFound,
            message_media: MessageMedia::Gallery,
            local_id: LocalId::Deduplicated,
            opt_out: OptOut::Enforced,
            send_answer: SendAnswerShape::WithConversation,
            email_thread_target: EmailThreadTarget::AllTo,
            schedule_answer: ScheduleAnswer::IdRev,
            schedule_after_send: ScheduleAfterSend::Gone,
            schedule_delete: ScheduleDelete::Empty,
            write_events: WriteEvents::Fired,
            count_filters: CountFilters::ListFilters,
            count_answer: CountAnswer::Object,
            read_state: ReadState::Read,
        },
    ),
];

/// A profile name that is not one of [`Readings::profiles`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no sandbox profile is called `{0}`; choose one of {names}", names = profile_names().join(", "))]
pub struct UnknownProfile(pub String);

/// The profiles' names, `default` first.
pub fn profile_names() -> Vec<&'static str> {
    PROFILES.iter().map(|(name, _)| *name).collect()
}

/// One point's value, as `--sandbox-reading` writes it and `GET /_sandbox/readings` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ReadingValue {
    Choice(String),
    Number(usize),
}

impl fmt::Display for ReadingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Choice(name) => f.write_str(name),
            Self::Number(number) => write!(f, "{number}"),
        }
    }
}

/// A change of one point, written `POINT=VALUE` (e.g. `page-size=25`, `opt-out=ignored`).
#[derive(Clone)]
pub struct ReadingOverride {
    text: String,
    apply: Arc<dyn Fn(&mut Readings) + Send + Sync>,
}

impl fmt::Debug for ReadingOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReadingOverride").field(&self.text).finish()
    }
}

impl fmt::Display for ReadingOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a `POINT=VALUE` cannot be used; each message lists what can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingError {
    #[error("`{0}` is not POINT=VALUE (e.g. page-size=25)")]
    Syntax(String),
    #[error("there is no reading point `{point}`; the points are {points}", points = point_names().join(", "))]
    UnknownPoint { point: String },
    #[error("`{value}` is not a reading of {point}; choose {choices}")]
    UnknownValue {
        point: &'static str,
        value: String,
        choices: String,
    },
}

impl FromStr for ReadingOverride {
    type Err = ReadingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (point, value) = s
            .split_once('=')
            .ok_or_else(|| ReadingError::Syntax(s.to_owned()))?;
        let (point, value) = (point.trim(), value.trim());
        let found = POINTS
            .iter()
            .find(|candidate| candidate.name == point)
            .ok_or_else(|| ReadingError::UnknownPoint {
                point: point.to_owned(),
            })?;
        let apply = (found.parse)(value).ok_or_else(|| ReadingError::UnknownValue {
            point: found.name,
            value: value.to_owned(),
            choices: (found.choices)(),
        })?;
        Ok(Self {
            text: format!("{point}={value}"),
            apply,
        })
    }
}

/// Every point: its name, what it decides, and the values it takes (for `--help`).
pub fn reading_points() -> impl Iterator<Item = (&'static str, &'static str, String)> {
    POINTS
        .iter()
        .map(|point| (point.name, point.summary, (point.choices)()))
}

fn point_names() -> Vec<&'static str> {
    POINTS.iter().map(|point| point.name).collect()
}

type Change = Arc<dyn Fn(&mut Readings) + Send + Sync>;

/// One open point as the command line names, parses and shows it.
struct Point {
    name: &'static str,
    summary: &'static str,
    choices: fn() -> String,
    /// The change a value makes, or `None` when it is not one of the choices.
    parse: fn(&str) -> Option<Change>,
    get: fn(&Readings) -> ReadingValue,
}

const POINTS: &[Point] = &[
    Point {
        name: "empty-inboxes",
        summary: "filters.inboxes empty or absent on POST /v1/conversations",
        choices: choices::<EmptyInboxes>,
        parse: |v| choice(v).map(|x| change(move |r| r.empty_inboxes = x)),
        get: |r| named(r.empty_inboxes),
    },
    Point {
        name: "page-size",
        summary: "rows per page of POST /v1/conversations",
        choices: number_range,
        parse: |v| number(v).map(|x| change(move |r| r.conversation_page_size = x)),
        get: |r| ReadingValue::Number(r.conversation_page_size),
    },
    Point {
        name: "conversation-limit",
        summary: "`limit` on POST /v1/conversations",
        choices: choices::<ConversationLimit>,
        parse: |v| choice(v).map(|x| change(move |r| r.conversation_limit = x)),
        get: |r| named(r.conversation_limit),
    },
    Point {
        name: "closed-false",
        summary: "filters.closed: false on POST /v1/conversations",
        choices: choices::<ClosedFalse>,
        parse: |v| choice(v).map(|x| change(move |r| r.closed_false = x)),
        get: |r| named(r.closed_false),
    },
    Point {
        name: "unread-false",
        summary: "filters.unread: false on POST /v1/conversations",
        choices: choices::<UnreadFalse>,
        parse: |v| choice(v).map(|x| change(move |r| r.unread_false = x)),
        get: |r| named(r.unread_false),
    },
    Point {
        name: "assigned-filter",
        summary: "`assigned` on POST /v1/conversations",
        choices: choices::<AssignedFilter>,
        parse: |v| choice(v).map(|x| change(move |r| r.assigned_filter = x)),
        get: |r| named(r.assigned_filter),
    },
    Point {
        name: "updated-precision",
        summary: "precision of a conversation's `updated` and `created`",
        choices: choices::<UpdatedPrecision>,
        parse: |v| choice(v).map(|x| change(move |r| r.updated_precision = x)),
        get: |r| named(r.updated_precision),
    },
    Point {
        name: "unassigned",
        summary: "`assigned` of an unassigned conversation",
        choices: choices::<Unassigned>,
        parse: |v| choice(v).map(|x| change(move |r| r.unassigned = x)),
        get: |r| named(r.unassigned),
    },
    Point {
        name: "unassign",
        summary: "the reassign_id that unassigns on POST /v1/conversations/reassign",
        choices: choices::<Unassign>,
        parse: |v| choice(v).map(|x| change(move |r| r.unassign = x)),
        get: |r| named(r.unassign),
    },
    Point {
        name: "messages-all-max",
        summary: "largest `limit` of POST /v1/messages/all (larger ones are clamped)",
        choices: number_range,
        parse: |v| number(v).map(|x| change(move |r| r.messages_all_max = x)),
        get: |r| ReadingValue::Number(r.messages_all_max),
    },
    Point {
        name: "messages-all-cursor",
        summary: "the cursor field POST /v1/messages/all reads",
        choices: choices::<MessagesAllCursor>,
        parse: |v| choice(v).map(|x| change(move |r| r.messages_all_cursor = x)),
        get: |r| named(r.messages_all_cursor),
    },
    Point {
        name: "history-timestamp",
        summary: "whether GET /v1/messages includes the `timestamp` second",
        choices: choices::<HistoryTimestamp>,
        parse: |v| choice(v).map(|x| change(move |r| r.history_timestamp = x)),
        get: |r| named(r.history_timestamp),
    },
    Point {
        name: "history-unknown-phone",
        summary: "GET /v1/messages for a phone without a conversation in the inbox",
        choices: choices::<HistoryUnknownPhone>,
        parse: |v| choice(v).map(|x| change(move |r| r.history_unknown_phone = x)),
        get: |r| named(r.history_unknown_phone),
    },
    Point {
        name: "message-media",
        summary: "how a message carries its attachments",
        choices: choices::<MessageMedia>,
        parse: |v| choice(v).map(|x| change(move |r| r.message_media = x)),
        get: |r| named(r.message_media),
    },
    Point {
        name: "local-id",
        summary: "a repeated local_id on POST /v1/message/send",
        choices: choices::<LocalId>,
        parse: |v| choice(v).map(|x| change(move |r| r.local_id = x)),
        get: |r| named(r.local_id),
    },
    Point {
        name: "opt-out",
        summary: "a send to an opted-out contact",
        choices: choices::<OptOut>,
        parse: |v| choice(v).map(|x| change(move |r| r.opt_out = x)),
        get: |r| named(r.opt_out),
    },
    Point {
        name: "send-answer",
        summary: "the body of a successful POST /v1/message/send",
        choices: choices::<SendAnswerShape>,
        parse: |v| choice(v).map(|x| change(move |r| r.send_answer = x)),
        get: |r| named(r.send_answer),
    },
    Point {
        name: "email-thread-target",
        summary: "the target of a conversation a new email starts",
        choices: choices::<EmailThreadTarget>,
        parse: |v| choice(v).map(|x| change(move |r| r.email_thread_target = x)),
        get: |r| named(r.email_thread_target),
    },
    Point {
        name: "schedule-answer",
        summary: "the body of a successful POST /v1/schedule or PUT /v1/schedule/{id}",
        choices: choices::<ScheduleAnswer>,
        parse: |v| choice(v).map(|x| change(move |r| r.schedule_answer = x)),
        get: |r| named(r.schedule_answer),
    },
    Point {
        name: "schedule-after-send",
        summary: "GET /v1/schedule/{id} once the message went out",
        choices: choices::<ScheduleAfterSend>,
        parse: |v| choice(v).map(|x| change(move |r| r.schedule_after_send = x)),
        get: |r| named(r.schedule_after_send),
    },
    Point {
        name: "schedule-delete",
        summary: "the answer of DELETE /v1/schedule/{id}",
        choices: choices::<ScheduleDelete>,
        parse: |v| choice(v).map(|x| change(move |r| r.schedule_delete = x)),
        get: |r| named(r.schedule_delete),
    },
    Point {
        name: "write-events",
        summary: "whether a change made through the API fires its webhook",
        choices: choices::<WriteEvents>,
        parse: |v| choice(v).map(|x| change(move |r| r.write_events = x)),
        get: |r| named(r.write_events),
    },
    Point {
        name: "count-filters",
        summary: "what POST /v1/conversations/count counts",
        choices: choices::<CountFilters>,
        parse: |v| choice(v).map(|x| change(move |r| r.count_filters = x)),
        get: |r| named(r.count_filters),
    },
    Point {
        name: "count-answer",
        summary: "the body of a successful POST /v1/conversations/count",
        choices: choices::<CountAnswer>,
        parse: |v| choice(v).map(|x| change(move |r| r.count_answer = x)),
        get: |r| named(r.count_answer),
    },
    Point {
        name: "read-state",
        summary: "whose read state a conversation shows (`unread_users`, `unread`, `read`)",
        choices: choices::<ReadState>,
        parse: |v| choice(v).map(|x| change(move |r| r.read_state = x)),
        get: |r| named(r.read_state),
    },
];

fn change(apply: impl Fn(&mut Readings) + Send + Sync + 'static) -> Change {
    Arc::new(apply)
}

fn choice<T: ValueEnum>(value: &str) -> Option<T> {
    T::from_str(value, false).ok()
}

fn choices<T: ValueEnum>() -> String {
    let names: Vec<String> = T::value_variants()
        .iter()
        .filter_map(|variant| variant.to_possible_value())
        .map(|value| value.get_name().to_owned())
        .collect();
    names.join(", ")
}

fn named<T: ValueEnum>(value: T) -> ReadingValue {
    let name = value
        .to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default();
    ReadingValue::Choice(name)
}

fn number(value: &str) -> Option<usize> {
    value
        .parse()
        .ok()
        .filter(|n| NUMERIC_READING_RANGE.contains(n))
}

fn number_range() -> String {
    format!(
        "a number from {} to {}",
        NUMERIC_READING_RANGE.start(),
        NUMERIC_READING_RANGE.end()
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every `(point, value)` a profile uses.
    fn used(readings: &Readings) -> BTreeSet<(&'static str, String)> {
        readings
            .values()
            .into_iter()
            .map(|(point, value)| (point, value.to_string()))
            .collect()
    }

    #[test]
    fn the_default_profile_is_the_default_reading() {
        assert_eq!(Readings::profile("default"), Ok(Readings::default()));
        assert_eq!(profile_names()[0], "default");
        assert!(Readings::DEFAULT.differences().is_empty());
    }

    #[test]
    fn the_profiles_use_every_value_of_every_point() {
        let mut covered = BTreeSet::new();
        for (_, readings) in Readings::profiles() {
            covered.extend(used(readings));
        }
        for (point, _, choices) in reading_points() {
            if choices.starts_with("a number") {
                let sizes = covered.iter().filter(|(p, _)| *p == point).count();
                assert!(sizes >= 3, "{point} takes only {sizes} sizes");
                continue;
            }
            for value in choices.split(", ") {
                assert!(
                    covered.contains(&(point, value.to_owned())),
                    "no profile plays {point}={value}"
                );
            }
        }
    }

    #[test]
    fn every_value_shown_parses_back_to_itself() {
        for (_, readings) in Readings::profiles() {
            let changes: Vec<ReadingOverride> = readings
                .values()
                .into_iter()
                .map(|(point, value)| format!("{point}={value}").parse().unwrap())
                .collect();
            assert_eq!(Readings::DEFAULT.with(&changes), *readings);
        }
        let names: BTreeSet<_> = point_names().into_iter().collect();
        assert_eq!(names.len(), POINTS.len(), "two points share a name");
    }

    #[test]
    fn overrides_apply_in_order_over_a_profile() {
        let changes: Vec<ReadingOverride> = ["page-size=7", "opt-out=ignored", "page-size=9"]
            .iter()
            .map(|text| text.parse().unwrap())
            .collect();
        let strict = Readings::profile("strict").unwrap();
        let readings = strict.with(&changes);
        assert_eq!(readings.conversation_page_size, 9);
        assert_eq!(readings.opt_out, OptOut::Ignored);
        assert_eq!(readings.unassign, strict.unassign);
        assert_eq!(
            Readings::DEFAULT.with(&changes).differences(),
            ["page-size=9", "opt-out=ignored"]
        );
    }

    #[test]
    fn bad_overrides_and_profiles_say_what_would_do() {
        let error = |text: &str| text.parse::<ReadingOverride>().unwrap_err().to_string();
        assert!(error("page-size").contains("POINT=VALUE"));
        let unknown = error("colour=blue");
        assert!(unknown.contains("colour") && unknown.contains("empty-inboxes, page-size"));
        let value = error("empty-inboxes=some");
        assert!(
            value.contains("`some`") && value.contains("all, none, refused"),
            "{value}"
        );
        assert!(error("page-size=0").contains("a number from 1 to 10000"));
        assert!(error("messages-all-max=lots").contains("messages-all-max"));
        let profile = Readings::profile("lenient").unwrap_err().to_string();
        assert!(
            profile.contains("lenient") && profile.contains("default, strict, refusing"),
            "{profile}"
        );
    }
}
