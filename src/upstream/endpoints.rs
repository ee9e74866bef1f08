//! One method per upstream endpoint (heymarket-api.md §6–§9), each a thin description of the
//! call handed to `TenantClient::send`.

use futures::future::try_join_all;
use serde_json::json;

use super::client::{Call, Route};
use super::models::{
    Contact, ContactSearchAnswer, Conversation, Inbox, Message, SentMessage, Team,
};
use super::requests::{
    AllMessagesRequest, ConversationListRequest, ConversationStatusRequest, ReadStateRequest,
    ReassignRequest, SendMessageRequest, TransferRequest,
};
use super::retry::CallKind;
use super::{Error, TenantClient};

static LIST_CONVERSATIONS: Route = Route::post("/v1/conversations");
static GET_CONVERSATION: Route = Route::get("/v1/conversations/{id}");
static OPEN_CONVERSATION: Route = Route::post("/v1/conversations/open");
static CLOSE_CONVERSATION: Route = Route::post("/v1/conversations/close");
static MARK_READ: Route = Route::post("/v1/conversations/read");
static MARK_UNREAD: Route = Route::post("/v1/conversations/unread");
static REASSIGN: Route = Route::post("/v1/conversations/reassign");
static TRANSFER: Route = Route::post("/v1/conversations/transfer");
static SEND_MESSAGE: Route = Route::post("/v1/message/send");
static MESSAGE_HISTORY: Route = Route::get("/v1/messages");
static ALL_MESSAGES: Route = Route::post("/v1/messages/all");
static INBOXES: Route = Route::get("/v1/inboxes");
static TEAM: Route = Route::get("/v1/team");
static GET_CONTACT: Route = Route::get("/v1/contact/{id}");
static CONTACT_BY_PHONE: Route = Route::post("/v1/contact/get");
static SEARCH_CONTACTS: Route = Route::post("/v2/contacts/search");

/// Most phone numbers one contact search may carry; larger lookups are split.
const CONTACT_SEARCH_BATCH: usize = 100;

impl TenantClient {
    /// `POST /v1/conversations`: one page, newest `updated` first; an empty page ends a walk.
    pub async fn list_conversations(
        &self,
        request: &ConversationListRequest,
    ) -> Result<Vec<Conversation>, Error> {
        self.send(Call::new(&LIST_CONVERSATIONS, CallKind::Read).json(request)?)
            .await
    }

    /// `GET /v1/conversations/{id}`.
    pub async fn conversation(&self, id: i64) -> Result<Conversation, Error> {
        let call =
            Call::new(&GET_CONVERSATION, CallKind::Read).at(format!("/v1/conversations/{id}"));
        self.send(call).await
    }

    /// `GET /v1/messages`: the latest (at most 50) messages between `phone` and an inbox,
    /// optionally only those sent before a Unix time.
    pub async fn message_history(
        &self,
        phone: &str,
        inbox_id: i64,
        before_unix_seconds: Option<i64>,
    ) -> Result<Vec<Message>, Error> {
        let mut call = Call::new(&MESSAGE_HISTORY, CallKind::Read)
            .query("phoneNumber", phone.to_owned())
            .query("inboxID", inbox_id.to_string());
        if let Some(before) = before_unix_seconds {
            call = call.query("timestamp", before.to_string());
        }
        self.send(call).await
    }

    /// `POST /v1/messages/all`: one page of the whole team's messages.
    pub async fn all_messages(&self, request: &AllMessagesRequest) -> Result<Vec<Message>, Error> {
        self.send(Call::new(&ALL_MESSAGES, CallKind::Read).json(request)?)
            .await
    }

    /// `GET /v1/inboxes`: every inbox the credential can see, with member ids.
    pub async fn inboxes(&self) -> Result<Vec<Inbox>, Error> {
        self.send(Call::new(&INBOXES, CallKind::Read)).await
    }

    /// `GET /v1/team`: the team and its members.
    pub async fn team(&self) -> Result<Team, Error> {
        self.send(Call::new(&TEAM, CallKind::Read)).await
    }

    /// `GET /v1/contact/{id}`.
    pub async fn contact(&self, id: i64) -> Result<Contact, Error> {
        let call = Call::new(&GET_CONTACT, CallKind::Read).at(format!("/v1/contact/{id}"));
        self.send(call).await
    }

    /// `POST /v1/contact/get` by phone number.
    pub async fn contact_by_phone(&self, phone: &str) -> Result<Contact, Error> {
        let call = Call::new(&CONTACT_BY_PHONE, CallKind::Read).json(&json!({ "phone": phone }))?;
        self.send(call).await
    }

    /// `POST /v2/contacts/search`: the contacts holding any of `phones`, in one request per
    /// hundred numbers (sent concurrently), answers concatenated in order.
    pub async fn search_contacts_by_phone(&self, phones: &[String]) -> Result<Vec<Contact>, Error> {
        let batches = phones.chunks(CONTACT_SEARCH_BATCH).map(|batch| async move {
            let body = json!({
                "contact_channels": [{ "channel_type": "phone", "channel_ids": batch }]
            });
            let answer: ContactSearchAnswer = self
                .send(Call::new(&SEARCH_CONTACTS, CallKind::Read).json(&body)?)
                .await?;
            Ok::<_, Error>(answer.0)
        });
        Ok(try_join_all(batches).await?.into_iter().flatten().collect())
    }

    /// `POST /v1/conversations/open`.
    pub async fn open_conversation(
        &self,
        request: &ConversationStatusRequest,
    ) -> Result<(), Error> {
        self.acknowledged(&OPEN_CONVERSATION, request).await
    }

    /// `POST /v1/conversations/close`.
    pub async fn close_conversation(
        &self,
        request: &ConversationStatusRequest,
    ) -> Result<(), Error> {
        self.acknowledged(&CLOSE_CONVERSATION, request).await
    }

    /// `POST /v1/conversations/read`.
    pub async fn mark_read(&self, request: &ReadStateRequest) -> Result<(), Error> {
        self.acknowledged(&MARK_READ, request).await
    }

    /// `POST /v1/conversations/unread`.
    pub async fn mark_unread(&self, request: &ReadStateRequest) -> Result<(), Error> {
        self.acknowledged(&MARK_UNREAD, request).await
    }

    /// `POST /v1/conversations/reassign`.
    pub async fn reassign(&self, request: &ReassignRequest) -> Result<(), Error> {
        self.acknowledged(&REASSIGN, request).await
    }

    /// `POST /v1/conversations/transfer`.
    pub async fn transfer(&self, request: &TransferRequest) -> Result<(), Error> {
        self.acknowledged(&TRANSFER, request).await
    }

    /// `POST /v1/message/send`. Retried like a read when it carries a `local_id`, which the
    /// upstream de-duplicates; otherwise only when the connection never opened.
    pub async fn send_message(&self, request: &SendMessageRequest) -> Result<SentMessage, Error> {
        let kind = match request.local_id {
            Some(_) => CallKind::DeduplicatedWrite,
            None => CallKind::Write,
        };
        self.send(Call::new(&SEND_MESSAGE, kind).json(request)?)
            .await
    }

    /// A write answered by a bare JSON string (`"ok"`, `"success"`, `"Marked as Read"`…):
    /// any string means success.
    async fn acknowledged(
        &self,
        route: &'static Route,
        body: &impl serde::Serialize,
    ) -> Result<(), Error> {
        let _acknowledgement: String = self
            .send(Call::new(route, CallKind::Write).json(body)?)
            .await?;
        Ok(())
    }
}
