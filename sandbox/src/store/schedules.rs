//! Scheduled messages (`/v1/schedule`, heymarket-api.md §7.6): stored as the docs describe
//! them, checked as the docs say (a quarter-hour boundary at least 15 minutes ahead, a member
//! of the inbox, one target, some content), and sent when the control API says they are due.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde::Serialize;

use super::records::{Channel, FIRST_SCHEDULE_ID};
use super::{Send, SendOutcome, SendTarget, TeamStore};
use crate::error::{ApiError, ApiResult};
use crate::readings::{LocalId, ScheduleAfterSend, ScheduleAnswer};
use crate::wire::timestamp;

/// The shortest lead time: "≥ 15 minutes in the future" (§7.6).
const MIN_LEAD: TimeDelta = TimeDelta::minutes(15);

/// A create or update whose fields are present and well-formed.
#[derive(Debug, Clone)]
pub(crate) struct ScheduleInput {
    pub(crate) inbox: i64,
    pub(crate) execute: DateTime<Utc>,
    pub(crate) target: SendTarget,
    pub(crate) text: String,
    pub(crate) template: Option<i64>,
    /// Attachment URLs, in order.
    pub(crate) attachments: Vec<String>,
    pub(crate) local_id: Option<String>,
    /// The send-as member; the team owner when absent.
    pub(crate) user: Option<i64>,
}

/// Where a scheduled message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    /// It went out as this message.
    Sent,
    Deleted,
}

/// One scheduled message.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    id: i64,
    input: ScheduleInput,
    /// The member it goes out as.
    user: i64,
    /// The conversation it goes to: named by the input, or the one a phone target has (or
    /// gets when it is sent).
    conversation: Option<i64>,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    rev: i64,
    stage: Stage,
}

/// The documented Scheduled object (§7.6).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScheduleJson {
    id: i64,
    inbox_id: i64,
    created: String,
    updated: String,
    execute: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_id: Option<String>,
    op: &'static str,
    rev: i64,
    meta: MetaJson,
}

#[derive(Debug, Clone, Serialize)]
struct MetaJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_id: Option<i64>,
    content: ContentJson,
}

#[derive(Debug, Clone, Serialize)]
struct ContentJson {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    attachments: Vec<AttachmentJson>,
    gallery: Vec<GalleryJson>,
}

#[derive(Debug, Clone, Serialize)]
struct AttachmentJson {
    url: String,
}

#[derive(Debug, Clone, Serialize)]
struct GalleryJson {
    url: String,
    original_url: String,
}

/// The answer of a create or an update, as the readings shape it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum ScheduleAnswerJson {
    Object(Box<ScheduleJson>),
    IdRev { id: i64, rev: i64 },
}

/// What happened to one due schedule when the control API ran it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ran {
    pub(crate) schedule_id: i64,
    /// The message it became.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message_id: Option<i64>,
    /// Why it could not go out (it is then dropped, as a failed send would be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

impl TeamStore {
    /// `POST /v1/schedule`. A repeated `local_id` answers the earlier schedule when the
    /// readings de-duplicate `local_id`s, as sends do.
    pub(crate) fn create_schedule(
        &mut self,
        input: ScheduleInput,
    ) -> ApiResult<ScheduleAnswerJson> {
        let deduplicate = self.readings.local_id == LocalId::Deduplicated;
        if let Some(id) = input
            .local_id
            .as_ref()
            .filter(|_| deduplicate)
            .and_then(|local_id| self.schedule_by_local_id.get(local_id))
        {
            return self.schedule_answer(*id);
        }
        let (user, conversation) = self.check_schedule(&input)?;
        let now = self.now();
        let id = FIRST_SCHEDULE_ID + self.schedules.len() as i64;
        if let Some(local_id) = input.local_id.clone().filter(|_| deduplicate) {
            self.schedule_by_local_id.insert(local_id, id);
        }
        self.schedules.push(Schedule {
            id,
            input,
            user,
            conversation,
            created: now,
            updated: now,
            rev: 1,
            stage: Stage::Waiting,
        });
        self.schedule_answer(id)
    }

    /// `PUT /v1/schedule/{id}`: the same body as a create, replacing the schedule's fields.
    pub(crate) fn update_schedule(
        &mut self,
        id: i64,
        input: ScheduleInput,
    ) -> ApiResult<ScheduleAnswerJson> {
        self.waiting_schedule(id)?;
        let (user, conversation) = self.check_schedule(&input)?;
        let now = self.now();
        let schedule = self.schedule_mut(id)?;
        schedule.input = input;
        schedule.user = user;
        schedule.conversation = conversation;
        schedule.updated = now;
        schedule.rev += 1;
        self.schedule_answer(id)
    }

    /// `DELETE /v1/schedule/{id}`: only before it is sent.
    pub(crate) fn delete_schedule(&mut self, id: i64) -> ApiResult<()> {
        self.waiting_schedule(id)?;
        self.schedule_mut(id)?.stage = Stage::Deleted;
        Ok(())
    }

    /// `GET /v1/schedule/{id}`.
    pub(crate) fn schedule_json(&self, id: i64) -> ApiResult<ScheduleJson> {
        let schedule = self.visible_schedule(id)?;
        let to = match &schedule.input.target {
            SendTarget::Phone(phone) => Some(phone.clone()),
            SendTarget::Chat(_) => None,
        };
        let urls = &schedule.input.attachments;
        Ok(ScheduleJson {
            id,
            inbox_id: schedule.input.inbox,
            created: timestamp(&schedule.created),
            updated: timestamp(&schedule.updated),
            execute: timestamp(&schedule.input.execute),
            local_id: schedule.input.local_id.clone(),
            op: "send",
            rev: schedule.rev,
            meta: MetaJson {
                conversation_id: schedule.conversation,
                content: ContentJson {
                    text: schedule.input.text.clone(),
                    template: schedule.input.template,
                    to,
                    attachments: urls
                        .iter()
                        .map(|url| AttachmentJson { url: url.clone() })
                        .collect(),
                    gallery: urls
                        .iter()
                        .map(|url| GalleryJson {
                            url: url.clone(),
                            original_url: url.clone(),
                        })
                        .collect(),
                },
            },
        })
    }

    /// Sends every waiting schedule due by `until`, earliest first: each becomes a message in
    /// its conversation (started for a phone target), as a send by its member would. Answers
    /// what each became, with the messages to announce.
    pub(crate) fn run_schedules(&mut self, until: DateTime<Utc>) -> Vec<Ran> {
        let mut due: Vec<(DateTime<Utc>, i64)> = self
            .schedules
            .iter()
            .filter(|s| s.stage == Stage::Waiting && s.input.execute <= until)
            .map(|s| (s.input.execute, s.id))
            .collect();
        due.sort_unstable();
        due.into_iter()
            .map(|(_, id)| self.run_schedule(id))
            .collect()
    }

    fn run_schedule(&mut self, id: i64) -> Ran {
        let sent = self.schedule_mut(id).map(|schedule| {
            schedule.stage = Stage::Sent;
            (schedule.input.clone(), schedule.user, schedule.conversation)
        });
        let outcome = sent.and_then(|(input, user, conversation)| {
            let to = conversation.map_or(input.target, SendTarget::Chat);
            self.send(Send {
                inbox: input.inbox,
                creator: user,
                to,
                text: input.text,
                media: input.attachments.first().cloned(),
                template: input.template,
                private: false,
                local_id: None,
                author: None,
            })
        });
        match outcome {
            Ok(SendOutcome::Sent { message, .. }) => {
                let conversation = self.message(message).map(|m| m.conversation);
                if let Ok(schedule) = self.schedule_mut(id) {
                    schedule.conversation = conversation;
                }
                Ran {
                    schedule_id: id,
                    message_id: Some(message),
                    error: None,
                }
            }
            Ok(SendOutcome::Replayed(_)) => Ran {
                schedule_id: id,
                message_id: None,
                error: Some("replayed an earlier send".to_owned()),
            },
            Err(error) => Ran {
                schedule_id: id,
                message_id: None,
                error: Some(error.to_string()),
            },
        }
    }

    /// The checks of a create or an update against the data and the clock; answers the
    /// sending member and the conversation the schedule goes to, if it has one yet.
    fn check_schedule(&mut self, input: &ScheduleInput) -> ApiResult<(i64, Option<i64>)> {
        let now = self.now();
        if input.execute < now + MIN_LEAD {
            return Err(ApiError::bad_data(
                "execute_at must be at least 15 minutes in the future",
            ));
        }
        let on_boundary = input.execute.minute() % 15 == 0
            && input.execute.second() == 0
            && input.execute.nanosecond() == 0;
        if !on_boundary {
            return Err(ApiError::bad_data(
                "execute_at must be on a 15-minute boundary (:00, :15, :30 or :45)",
            ));
        }
        let inbox = self
            .inbox(input.inbox)
            .ok_or_else(|| ApiError::not_found(format!("inbox {} does not exist", input.inbox)))?;
        if inbox.channel != Channel::Sms {
            return Err(ApiError::bad_data(
                "email inboxes cannot schedule text messages",
            ));
        }
        let user = input.user.unwrap_or_else(|| self.owner());
        if !inbox.has_member(user) {
            return Err(ApiError::bad_data(format!(
                "user {user} is not a member of inbox {}",
                input.inbox
            )));
        }
        if let Some(template) = input.template
            && self.template(template).is_none()
        {
            return Err(ApiError::bad_data(format!(
                "template {template} does not exist"
            )));
        }
        let conversation = match &input.target {
            SendTarget::Chat(id) => {
                let conversation = self.find_conversation(*id)?;
                if conversation.inbox != input.inbox {
                    return Err(ApiError::bad_data(format!(
                        "conversation {id} is not in inbox {}",
                        input.inbox
                    )));
                }
                Some(*id)
            }
            SendTarget::Phone(phone) => self.conversation_at(input.inbox, phone).map(|c| c.id),
        };
        Ok((user, conversation))
    }

    /// The team owner, whom a schedule without `user_id` is sent as: the first admin.
    fn owner(&self) -> i64 {
        let members = self.members();
        members
            .iter()
            .find(|member| member.role == "admin")
            .or(members.first())
            .map_or(0, |member| member.id)
    }

    fn schedule_answer(&self, id: i64) -> ApiResult<ScheduleAnswerJson> {
        let json = self.schedule_json(id)?;
        Ok(match self.readings.schedule_answer {
            ScheduleAnswer::Object => ScheduleAnswerJson::Object(Box::new(json)),
            ScheduleAnswer::IdRev => ScheduleAnswerJson::IdRev {
                id: json.id,
                rev: json.rev,
            },
        })
    }

    /// A schedule that may be changed: 404 when there is none (or it was deleted, or the
    /// readings forget a sent one), 400 when it was sent.
    fn waiting_schedule(&self, id: i64) -> ApiResult<&Schedule> {
        let schedule = self.visible_schedule(id)?;
        if schedule.stage == Stage::Sent {
            return Err(ApiError::bad_data(format!(
                "scheduled message {id} was already sent"
            )));
        }
        Ok(schedule)
    }

    /// A schedule `GET` shows.
    fn visible_schedule(&self, id: i64) -> ApiResult<&Schedule> {
        let gone = |schedule: &&Schedule| match schedule.stage {
            Stage::Waiting => false,
            Stage::Deleted => true,
            Stage::Sent => self.readings.schedule_after_send == ScheduleAfterSend::Gone,
        };
        self.schedule(id)
            .filter(|schedule| !gone(schedule))
            .ok_or_else(|| ApiError::not_found(format!("scheduled message {id} does not exist")))
    }

    fn schedule(&self, id: i64) -> Option<&Schedule> {
        let index = usize::try_from(id.checked_sub(FIRST_SCHEDULE_ID)?).ok()?;
        self.schedules.get(index)
    }

    fn schedule_mut(&mut self, id: i64) -> ApiResult<&mut Schedule> {
        id.checked_sub(FIRST_SCHEDULE_ID)
            .and_then(|offset| usize::try_from(offset).ok())
            .and_then(|index| self.schedules.get_mut(index))
            .ok_or_else(|| ApiError::not_found(format!("scheduled message {id} does not exist")))
    }
}
