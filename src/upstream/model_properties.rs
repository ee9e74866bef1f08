//! Property tests of the wire models' tolerance: any value of any field, unknown fields, and
//! any JSON at all must decode without panicking, and an object whose `id` is an integer must
//! decode whatever its other fields hold, and the same whether decoded from text or a `Value`.

use std::fmt::Debug;

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::models::{Contact, Conversation, Inbox, Message, SentMessage, Team, TeamMember};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        Just(json!("2026-04-12T15:30:00.123456Z")),
        Just(json!("")),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,10}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Every field name the models read, plus a few they do not.
const FIELDS: &[&str] = &[
    "assigned",
    "blocked",
    "channel",
    "created",
    "creator",
    "inbox",
    "last_inbound",
    "local_id",
    "members",
    "muted",
    "name",
    "read",
    "replied",
    "snooze_till",
    "status",
    "target",
    "type",
    "updated",
    "unread",
    "unread_users",
    "last_msg",
    "text",
    "media",
    "phone",
    "date",
    "user",
    "conversation",
    "author",
    "private",
    "auto_assignable",
    "phones",
    "invited",
    "team",
    "list_size",
    "role",
    "uuid",
    "display_name",
    "first",
    "last",
    "email",
    "custom",
    "team_id",
    "creator_id",
    "shared",
    "rev",
    "assigned_user_id",
    "tags",
    "is_opted_out",
    "gallery_url",
    "gallery",
    "url",
    "original_url",
    "raw_error",
    "target_errors",
    "convo_id",
    "not_a_field",
    "op",
    "super",
];

/// An object with an integer `id` and any values under any known (and unknown) field names.
fn object_with_id() -> impl Strategy<Value = (i64, Value)> {
    let fields = prop::collection::vec((prop::sample::select(FIELDS), any_json()), 0..20);
    (any::<i64>(), fields).prop_map(|(id, fields)| {
        let mut object: Map<String, Value> = fields
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        object.insert("id".to_owned(), json!(id));
        (id, Value::Object(object))
    })
}

/// Decodes `value` as `T`, and checks that its JSON text decodes to the same thing: the wire
/// decoders take shortcuts on text (borrowed strings, raw embedded objects) that a `Value`
/// does not.
fn decodes<T: DeserializeOwned + PartialEq + Debug>(value: &Value) -> Result<T, serde_json::Error> {
    let decoded = serde_json::from_value(value.clone());
    let text = serde_json::to_vec(value).expect("a Value always serialises");
    let from_text = serde_json::from_slice::<T>(&text);
    assert_eq!(
        decoded.as_ref().ok(),
        from_text.as_ref().ok(),
        "{value} decodes differently from its text"
    );
    decoded
}

/// Decodes `value` as `T`, encodes that and decodes it again: what replicas share through
/// Redis must come back as the replica that read it had it.
fn decodes_back<T: DeserializeOwned + Serialize + PartialEq + Debug>(value: &Value) {
    let Ok(decoded) = serde_json::from_value::<T>(value.clone()) else {
        return;
    };
    let encoded = serde_json::to_vec(&decoded).expect("a model always serialises");
    let again: T = serde_json::from_slice(&encoded).expect("an encoded model decodes");
    assert_eq!(decoded, again, "{value} does not decode back as it was");
}

proptest! {
    #[test]
    fn shared_models_decode_back_as_they_were((_, object) in object_with_id()) {
        decodes_back::<Conversation>(&object);
        decodes_back::<Message>(&object);
        decodes_back::<Vec<Message>>(&json!([object.clone(), {"id": 1}]));
        decodes_back::<Contact>(&object);
        decodes_back::<Option<Contact>>(&Value::Null);
    }

    #[test]
    fn objects_with_an_integer_id_always_decode((id, object) in object_with_id()) {
        prop_assert_eq!(decodes::<Conversation>(&object).map(|c| c.id).ok(), Some(id));
        prop_assert_eq!(decodes::<Message>(&object).map(|m| m.id).ok(), Some(id));
        prop_assert_eq!(decodes::<Inbox>(&object).map(|i| i.id).ok(), Some(id));
        prop_assert_eq!(decodes::<TeamMember>(&object).map(|m| m.id).ok(), Some(id));
        prop_assert_eq!(decodes::<Contact>(&object).map(|c| c.id).ok(), Some(id));
        prop_assert_eq!(decodes::<SentMessage>(&object).map(|s| s.id).ok(), Some(id));
        prop_assert!(decodes::<Team>(&object).is_ok());
    }

    /// Anything at all: an answer, never a panic.
    #[test]
    fn any_json_decodes_or_fails_cleanly(value in any_json()) {
        let _ = decodes::<Conversation>(&value);
        let _ = decodes::<Message>(&value);
        let _ = decodes::<Vec<Inbox>>(&value);
        let _ = decodes::<Team>(&value);
        let _ = decodes::<Vec<Contact>>(&value);
    }
}
