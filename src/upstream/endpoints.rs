//! One method per upstream endpoint (heymarket-api.md §6–§9), each a thin description of the
//! call handed to `TenantClient::send`.

use futures::future::try_join_all;
use serde_json::json;

use super::client::{Call, Route};
use super::models::{
    Contact, ContactSearchAnswer, ContactWritten, Conversation, ConversationCount, CustomField,
    Inbox, Message, ScheduleAnswer, Scheduled, SentMessage, Tag, Team, Template,
};
use super::requests::{
    AllMessagesRequest, ContactStatusRequest, ContactWrite, ConversationListRequest,
    ConversationStatusRequest, DatePageRequest, ReadStateRequest, ReassignRequest, ScheduleRequest,
    SendEmailRequest, SendMessageRequest, TransferRequest,
};
use super::retry::CallKind;
use super::{Error, TenantClient};

static LIST_CONVERSATIONS: Route = Route::post("/v1/conversations");
static COUNT_CONVERSATIONS: Route = Route::post("/v1/conversations/count");
static GET_CONVERSATION: Route = Route::get("/v1/conversations/{id}");
static OPEN_CONVERSATION: Route = Route::post("/v1/conversations/open");
static CLOSE_CONVERSATION: Route = Route::post("/v1/conversations/close");
static MARK_READ: Route = Route::post("/v1/conversations/read");
static MARK_UNREAD: Route = Route::post("/v1/conversations/unread");
static REASSIGN: Route = Route::post("/v1/conversations/reassign");
static TRANSFER: Route = Route::post("/v1/conversations/transfer");
static SEND_MESSAGE: Route = Route::post("/v1/message/send");
static SEND_EMAIL: Route = Route::post("/v1/email/send");
static MESSAGE_HISTORY: Route = Route::get("/v1/messages");
static ALL_MESSAGES: Route = Route::post("/v1/messages/all");
static INBOXES: Route = Route::get("/v1/inboxes");
static TEAM: Route = Route::get("/v1/team");
static GET_CONTACT: Route = Route::get("/v1/contact/{id}");
static CONTACT_BY_PHONE: Route = Route::post("/v1/contact/get");
static SEARCH_CONTACTS: Route = Route::post("/v2/contacts/search");
static SET_CONTACT_STATUS: Route = Route::post("/v1/contact/set_status");
static LIST_CONTACTS: Route = Route::post("/v1/contacts");
static LIST_TEMPLATES: Route = Route::post("/v1/templates");
static GET_TEMPLATE: Route = Route::get("/v1/template/{id}");
static CREATE_CONTACT: Route = Route::post("/v1/contact");
static UPDATE_CONTACT: Route = Route::put("/v1/contact/{id}");
static CUSTOM_FIELDS: Route = Route::post("/v1/contact-fields");
static LIST_TAGS: Route = Route::post("/v1/tags");
static GET_TAG: Route = Route::get("/v1/tag/{id}");
static CREATE_SCHEDULE: Route = Route::post("/v1/schedule");
static GET_SCHEDULE: Route = Route::get("/v1/schedule/{id}");
static UPDATE_SCHEDULE: Route = Route::put("/v1/schedule/{id}");
static DELETE_SCHEDULE: Route = Route::delete("/v1/schedule/{id}");

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

    /// `POST /v1/conversations/count` with the list's body (its cursor, `date`, counts only
    /// what was updated before it). The docs document only `date`: whether the other
    /// filters count is for the caller to find out (see `loaders::counts`).
    pub async fn count_conversations(
        &self,
        request: &ConversationListRequest,
    ) -> Result<u64, Error> {
        let ConversationCount(count) = self
            .send(Call::new(&COUNT_CONVERSATIONS, CallKind::Read).json(request)?)
            .await?;
        Ok(count)
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
        self.search_contacts("phone", phones).await
    }

    /// `POST /v2/contacts/search` by email address: the contacts with these addresses (in no
    /// particular order; addresses without a contact are left out).
    pub async fn search_contacts_by_email(&self, emails: &[String]) -> Result<Vec<Contact>, Error> {
        self.search_contacts("email", emails).await
    }

    async fn search_contacts(
        &self,
        channel_type: &str,
        ids: &[String],
    ) -> Result<Vec<Contact>, Error> {
        let batches = ids.chunks(CONTACT_SEARCH_BATCH).map(|batch| async move {
            let body = json!({
                "contact_channels": [{ "channel_type": channel_type, "channel_ids": batch }]
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

    /// `POST /v1/templates`: one page (30), newest `updated` first; an empty page ends a walk.
    pub async fn list_templates(&self, request: &DatePageRequest) -> Result<Vec<Template>, Error> {
        self.send(Call::new(&LIST_TEMPLATES, CallKind::Read).json(request)?)
            .await
    }

    /// `POST /v1/contacts`: one page (30), newest `updated` first; an empty page ends a walk.
    pub async fn list_contacts(&self, request: &DatePageRequest) -> Result<Vec<Contact>, Error> {
        self.send(Call::new(&LIST_CONTACTS, CallKind::Read).json(request)?)
            .await
    }

    /// `GET /v1/template/{id}`.
    pub async fn template(&self, id: i64) -> Result<Template, Error> {
        let call = Call::new(&GET_TEMPLATE, CallKind::Read).at(format!("/v1/template/{id}"));
        self.send(call).await
    }

    /// `POST /v1/contact`: a new contact; its id.
    pub async fn create_contact(&self, contact: &ContactWrite) -> Result<i64, Error> {
        let written: ContactWritten = self
            .send(Call::new(&CREATE_CONTACT, CallKind::Write).json(contact)?)
            .await?;
        Ok(written.id)
    }

    /// `PUT /v1/contact/{id}?overwrite=false`: names and the fields given change; custom
    /// values are merged into the contact's.
    pub async fn update_contact(&self, id: i64, contact: &ContactWrite) -> Result<(), Error> {
        let call = Call::new(&UPDATE_CONTACT, CallKind::Write)
            .at(format!("/v1/contact/{id}"))
            .query("overwrite", "false".to_owned())
            .json(contact)?;
        let _written: ContactWritten = self.send(call).await?;
        Ok(())
    }

    /// `POST /v1/contact-fields`: every custom contact field of the team.
    pub async fn custom_fields(&self) -> Result<Vec<CustomField>, Error> {
        self.send(Call::new(&CUSTOM_FIELDS, CallKind::Read).json(&json!({}))?)
            .await
    }

    /// `POST /v1/tags`: one page, newest `updated` first, strictly before the cursor.
    pub async fn list_tags(&self, request: &DatePageRequest) -> Result<Vec<Tag>, Error> {
        self.send(Call::new(&LIST_TAGS, CallKind::Read).json(request)?)
            .await
    }

    /// `GET /v1/tag/{id}`.
    pub async fn tag(&self, id: i64) -> Result<Tag, Error> {
        let call = Call::new(&GET_TAG, CallKind::Read).at(format!("/v1/tag/{id}"));
        self.send(call).await
    }

    /// `POST /v1/contact/set_status`.
    pub async fn set_contact_status(&self, request: &ContactStatusRequest) -> Result<(), Error> {
        self.acknowledged(&SET_CONTACT_STATUS, request).await
    }

    /// `POST /v1/message/send`. Sent again only when the connection never opened, `local_id`
    /// or not: nothing documents that the upstream de-duplicates an SMS's `local_id`.
    pub async fn send_message(&self, request: &SendMessageRequest) -> Result<SentMessage, Error> {
        self.send(Call::new(&SEND_MESSAGE, CallKind::Write).json(request)?)
            .await
    }

    /// `POST /v1/email/send`. Never sent again once it may have reached the upstream, though
    /// the docs say a repeated `local_id` makes no second email: the gateway's own keys
    /// already answer a repeat.
    pub async fn send_email(&self, request: &SendEmailRequest) -> Result<SentMessage, Error> {
        self.send(Call::new(&SEND_EMAIL, CallKind::Write).json(request)?)
            .await
    }

    /// `POST /v1/schedule`: answers the new schedule's id (the rest of the answer is
    /// undocumented). Never sent again once it may have reached the upstream.
    pub async fn create_schedule(
        &self,
        request: &ScheduleRequest,
    ) -> Result<ScheduleAnswer, Error> {
        self.send(Call::new(&CREATE_SCHEDULE, CallKind::Write).json(request)?)
            .await
    }

    /// `GET /v1/schedule/{id}`.
    pub async fn schedule(&self, id: i64) -> Result<Scheduled, Error> {
        let call = Call::new(&GET_SCHEDULE, CallKind::Read).at(format!("/v1/schedule/{id}"));
        self.send(call).await
    }

    /// `PUT /v1/schedule/{id}`, with the whole body of a create.
    pub async fn update_schedule(
        &self,
        id: i64,
        request: &ScheduleRequest,
    ) -> Result<ScheduleAnswer, Error> {
        let call = Call::new(&UPDATE_SCHEDULE, CallKind::Write)
            .at(format!("/v1/schedule/{id}"))
            .json(request)?;
        self.send(call).await
    }

    /// `DELETE /v1/schedule/{id}` (the path is inferred, heymarket-api.md §13.15): any answer,
    /// a string, an object or nothing at all, means success.
    pub async fn delete_schedule(&self, id: i64) -> Result<(), Error> {
        let call = Call::new(&DELETE_SCHEDULE, CallKind::Write).at(format!("/v1/schedule/{id}"));
        let _answer: serde::de::IgnoredAny = self.send(call).await?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    use super::*;
    use crate::upstream::Client;
    use crate::upstream::requests::Recipient;
    use crate::upstream::test_server::{Recorded, Reply, TestServer};

    fn ok() -> Reply {
        Reply::json(200, json!("ok"))
    }

    fn seen(request: &Recorded) -> (String, String, Option<String>, Value) {
        (
            request.method.clone(),
            request.path.clone(),
            request.query.clone(),
            request.body.clone(),
        )
    }

    fn expected(
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Value,
    ) -> (String, String, Option<String>, Value) {
        (
            method.to_owned(),
            path.to_owned(),
            query.map(str::to_owned),
            body,
        )
    }

    #[tokio::test]
    async fn reads_send_their_documented_requests() {
        let conversation = json!({ "id": 12 });
        let server = TestServer::start([
            Reply::json(200, json!([conversation])),
            Reply::json(200, conversation.clone()),
            Reply::json(200, json!([{ "id": 1 }])),
            Reply::json(200, json!([])),
            Reply::json(200, json!([{ "id": 2 }])),
            Reply::json(200, json!({ "id": 77 })),
            Reply::json(200, json!({ "id": 78 })),
        ])
        .await;
        let tenant = Client::new(&server.config()).unwrap().tenant(None).unwrap();
        let list = ConversationListRequest {
            member_id: 4,
            inbox_ids: vec![7, 8],
            closed: Some(false),
            unread: None,
            assigned: None,
            updated_before: Some(Utc.with_ymd_and_hms(2024, 12, 24, 14, 4, 55).unwrap()),
        };

        assert_eq!(tenant.list_conversations(&list).await.unwrap()[0].id, 12);
        assert_eq!(tenant.conversation(12).await.unwrap().id, 12);
        assert_eq!(
            tenant
                .message_history("14155550100", 7, Some(1_700_000_000))
                .await
                .unwrap()[0]
                .id,
            1
        );
        assert!(
            tenant
                .message_history("14155550100", 7, None)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            tenant
                .all_messages(&AllMessagesRequest::default())
                .await
                .unwrap()[0]
                .id,
            2
        );
        assert_eq!(tenant.contact(77).await.unwrap().id, 77);
        assert_eq!(tenant.contact_by_phone("14155550100").await.unwrap().id, 78);

        let requests: Vec<_> = server.requests().iter().map(seen).collect();
        assert_eq!(
            requests,
            [
                expected(
                    "POST",
                    "/v1/conversations",
                    None,
                    json!({
                        "id": 4, "filters": { "inboxes": [7, 8], "closed": false },
                        "date": "2024-12-24T14:04:55.000000Z"
                    })
                ),
                expected("GET", "/v1/conversations/12", None, Value::Null),
                expected(
                    "GET",
                    "/v1/messages",
                    Some("phoneNumber=14155550100&inboxID=7&timestamp=1700000000"),
                    Value::Null
                ),
                expected(
                    "GET",
                    "/v1/messages",
                    Some("phoneNumber=14155550100&inboxID=7"),
                    Value::Null
                ),
                expected("POST", "/v1/messages/all", None, json!({})),
                expected("GET", "/v1/contact/77", None, Value::Null),
                expected(
                    "POST",
                    "/v1/contact/get",
                    None,
                    json!({ "phone": "14155550100" })
                ),
            ]
        );
        let posts = server.requests().into_iter().filter(|r| r.method == "POST");
        assert!(
            posts
                .into_iter()
                .all(|r| r.headers["content-type"] == "application/json")
        );
    }

    #[tokio::test]
    async fn writes_send_their_documented_requests_and_accept_any_string() {
        let server = TestServer::start([
            ok(),
            Reply::json(200, json!("success")),
            Reply::json(200, json!("Marked as Read")),
            ok(),
            ok(),
            ok(),
            Reply::json(
                200,
                json!({ "id": 90, "date": "2024-12-24T14:04:55.021462Z" }),
            ),
            Reply::json(200, json!({ "status": "ok" })),
        ])
        .await;
        let tenant = Client::new(&server.config()).unwrap().tenant(None).unwrap();
        let status = ConversationStatusRequest {
            inbox_id: 7,
            actor_id: 4,
            conversation_id: 12,
        };
        let read = ReadStateRequest {
            inbox_id: 7,
            actor_id: 4,
            target: "14155550100".into(),
        };
        let reassign = ReassignRequest {
            inbox_id: 7,
            actor_id: 4,
            target: "14155550100".into(),
            assignee_id: 9,
        };
        let send = SendMessageRequest {
            inbox_id: 7,
            sender_id: 4,
            recipient: Recipient::Phone("14155550100".into()),
            text: Some("hi".into()),
            media_url: None,
            template_id: None,
            private: false,
            local_id: None,
        };

        tenant.open_conversation(&status).await.unwrap();
        tenant.close_conversation(&status).await.unwrap();
        tenant.mark_read(&read).await.unwrap();
        tenant.mark_unread(&read).await.unwrap();
        tenant.reassign(&reassign).await.unwrap();
        tenant
            .transfer(&TransferRequest {
                conversation_id: 12,
                to_inbox_id: 8,
            })
            .await
            .unwrap();
        assert_eq!(tenant.send_message(&send).await.unwrap().id, 90);
        let not_a_string = tenant.close_conversation(&status).await.unwrap_err();
        assert!(
            matches!(not_a_string, Error::Decode { .. }),
            "{not_a_string:?}"
        );

        let status_body = json!({ "inbox_id": 7, "user_id": 4, "chat_id": 12 });
        let read_body = json!({ "inbox_id": 7, "user_id": 4, "target": "14155550100" });
        let requests: Vec<_> = server.requests().iter().map(seen).collect();
        assert_eq!(
            requests[..7],
            [
                expected("POST", "/v1/conversations/open", None, status_body.clone()),
                expected("POST", "/v1/conversations/close", None, status_body),
                expected("POST", "/v1/conversations/read", None, read_body.clone()),
                expected("POST", "/v1/conversations/unread", None, read_body),
                expected(
                    "POST",
                    "/v1/conversations/reassign",
                    None,
                    json!({ "inbox_id": 7, "user_id": 4, "target": "14155550100", "reassign_id": 9 })
                ),
                expected(
                    "POST",
                    "/v1/conversations/transfer",
                    None,
                    json!({ "conversation_id": 12, "transfer_inbox_id": 8 })
                ),
                expected(
                    "POST",
                    "/v1/message/send",
                    None,
                    json!({ "inbox_id": 7, "creator_id": 4, "phone_number": "14155550100", "text": "hi" })
                ),
            ]
        );
    }

    #[tokio::test]
    async fn schedule_calls_send_the_documented_body_and_a_delete_accepts_any_answer() {
        let server = TestServer::start([
            Reply::json(200, json!({ "id": 60, "rev": 1 })),
            Reply::json(200, json!({ "id": 60, "rev": 2, "meta": {} })),
            Reply::json(
                200,
                json!({ "id": 60, "inbox_id": 7, "execute": "2026-05-01T12:30:00Z",
                        "meta": { "conversation_id": 12, "content": { "text": "hi",
                        "attachments": [{ "url": "https://a.example/1.png" }],
                        "gallery": [{ "url": "https://a.example/1.png" }] } } }),
            ),
            Reply::raw(204, ""),
            ok(),
            Reply::json(200, json!({ "deleted": true })),
        ])
        .await;
        let tenant = Client::new(&server.config()).unwrap().tenant(None).unwrap();
        let request = ScheduleRequest {
            inbox_id: 7,
            execute_at: Utc.with_ymd_and_hms(2026, 5, 1, 12, 30, 0).unwrap(),
            content: crate::upstream::requests::ScheduleContent {
                text: Some("hi".into()),
                template: None,
                attachments: vec![crate::upstream::requests::ScheduleAttachment {
                    url: "https://a.example/1.png".into(),
                }],
            },
            target: crate::upstream::requests::ScheduleTarget::Conversation(12),
            sender_id: 4,
            local_id: Some("k-1".into()),
        };
        assert_eq!(tenant.create_schedule(&request).await.unwrap().id, 60);
        assert_eq!(tenant.update_schedule(60, &request).await.unwrap().id, 60);
        let scheduled = tenant.schedule(60).await.unwrap();
        assert_eq!(scheduled.conversation_id(), Some(12));
        assert_eq!(scheduled.attachment_urls(), ["https://a.example/1.png"]);
        for _ in 0..3 {
            tenant.delete_schedule(60).await.unwrap();
        }

        let body = json!({
            "inbox_id": 7, "execute_at": "2026-05-01T12:30:00Z", "conversation_id": 12,
            "user_id": 4, "local_id": "k-1",
            "content": { "text": "hi", "attachments": [{ "url": "https://a.example/1.png" }] },
        });
        let requests: Vec<_> = server.requests().iter().map(seen).collect();
        assert_eq!(
            requests[..4],
            [
                expected("POST", "/v1/schedule", None, body.clone()),
                expected("PUT", "/v1/schedule/60", None, body),
                expected("GET", "/v1/schedule/60", None, Value::Null),
                expected("DELETE", "/v1/schedule/60", None, Value::Null),
            ]
        );
    }

    /// Answers a contact search with one contact per phone asked for (id = the phone's number),
    /// alternating between the two answer shapes the endpoint may use.
    fn contacts_for(request: &Recorded) -> Reply {
        let phones = request.body["contact_channels"][0]["channel_ids"]
            .as_array()
            .unwrap();
        let contacts: Vec<Value> = phones
            .iter()
            .map(|phone| json!({ "id": phone.as_str().unwrap().parse::<i64>().unwrap(), "phone": phone }))
            .collect();
        if phones.len() % 2 == 0 {
            Reply::json(200, json!(contacts))
        } else {
            Reply::json(200, json!({ "contacts": contacts }))
        }
    }

    #[tokio::test]
    async fn contact_search_is_split_into_batches_of_a_hundred() {
        let server = TestServer::start((0..3).map(|_| Reply::Computed(contacts_for))).await;
        let tenant = Client::new(&server.config()).unwrap().tenant(None).unwrap();
        let phones: Vec<String> = (0..251)
            .map(|n| (14_155_550_000_i64 + n).to_string())
            .collect();

        let contacts = tenant.search_contacts_by_phone(&phones).await.unwrap();

        let found: Vec<String> = contacts.iter().map(|c| c.id.to_string()).collect();
        assert_eq!(found, phones, "every phone, in the order asked");
        let mut sizes: Vec<usize> = server
            .requests()
            .iter()
            .map(|r| {
                assert_eq!(
                    (r.method.as_str(), r.path.as_str()),
                    ("POST", "/v2/contacts/search")
                );
                assert_eq!(r.body["contact_channels"][0]["channel_type"], "phone");
                r.body["contact_channels"][0]["channel_ids"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [51, 100, 100]);
    }

    #[tokio::test]
    async fn an_empty_contact_search_sends_nothing() {
        let server = TestServer::start([]).await;
        let tenant = Client::new(&server.config()).unwrap().tenant(None).unwrap();

        assert!(
            tenant
                .search_contacts_by_phone(&[])
                .await
                .unwrap()
                .is_empty()
        );
        assert!(server.requests().is_empty());
    }
}
