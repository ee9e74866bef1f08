//! Lenient field decoders for the wire models: a field of an unexpected type reads as absent
//! instead of failing the whole object.
//!
//! The upstream's docs disagree with each other on several field types (heymarket-api.md §5):
//! `read` is an integer or a boolean, `invited` a boolean or an array, booleans may arrive as
//! 0/1, and timestamps as `""`. Use with `#[serde(default, deserialize_with = "…")]` so that
//! absent fields default too.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Text: the string if it is one, otherwise `None`.
pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => Some(text.into_owned()),
        _ => None,
    })
}

/// Any type: the value if it decodes as `T`, otherwise `None`. The value's raw JSON is kept
/// and decoded again, which costs far less than building a [`serde_json::Value`] tree; prefer
/// [`text`] and the scalar decoders where they fit.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

/// A boolean sent as `true`/`false`, `0`/`1`, or `"true"`/`"false"`.
pub(crate) fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Bool(flag) => Some(flag),
        Scalar::Int(0) => Some(false),
        Scalar::Int(1) => Some(true),
        Scalar::Text(text) => text.parse().ok(),
        _ => None,
    })
}

/// An integer, also when sent as a numeric string.
pub(crate) fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(Scalar::deserialize(deserializer)?.as_int())
}

/// An integer that may also arrive as a boolean (`false` = 0, `true` = 1).
pub(crate) fn int_or_flag<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Bool(flag) => Some(i64::from(flag)),
        other => other.as_int(),
    })
}

/// An RFC 3339 timestamp with any offset and precision, normalised to UTC. `""` and anything
/// unparseable read as absent.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|instant| instant.with_timezone(&Utc)),
        _ => None,
    })
}

/// A list whose elements decode one by one: elements of the wrong shape are dropped, and a
/// non-list (e.g. `invited: true`) reads as empty.
pub(crate) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).unwrap_or_default();
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_str(item.get()).ok())
        .collect())
}

/// URLs sent as one string or as a list of strings (heymarket-api.md §5.2 documents `media` as
/// a string; a message may carry several): every non-blank one, in order. Anything else reads
/// as none.
pub(crate) fn urls<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    let urls = match serde_json::from_str(raw.get()) {
        Ok(serde_json::Value::String(url)) => vec![url],
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| match item {
                serde_json::Value::String(url) => Some(url),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(urls
        .into_iter()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .collect())
}

/// One JSON value as the scalar decoders see it. Strings are borrowed from the input where
/// it allows, and arrays and objects are skipped without being kept.
enum Scalar<'de> {
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    Text(Cow<'de, str>),
    /// A fraction, a huge integer, `null`, an array or an object.
    Other,
}

impl Scalar<'_> {
    fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(int) => Some(*int),
            Self::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(flag))
    }

    fn visit_i64<E>(self, int: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(int))
    }

    fn visit_u64<E>(self, int: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(int).map_or(Scalar::Other, Scalar::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Scalar::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        while entries.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "flag")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "int")]
        int: Option<i64>,
        #[serde(default, deserialize_with = "int_or_flag")]
        int_or_flag: Option<i64>,
        #[serde(default, deserialize_with = "timestamp")]
        at: Option<DateTime<Utc>>,
        #[serde(default, deserialize_with = "list")]
        ids: Vec<i64>,
        #[serde(default, deserialize_with = "lenient")]
        name: Option<String>,
        #[serde(default, deserialize_with = "urls")]
        media: Vec<String>,
    }

    fn probe(value: serde_json::Value) -> Probe {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn absent_and_null_fields_read_as_none() {
        for value in [
            json!({}),
            json!({"flag": null, "int": null, "at": null, "ids": null}),
        ] {
            let p = probe(value);
            assert_eq!(
                (p.flag, p.int, p.int_or_flag, p.at),
                (None, None, None, None)
            );
            assert!(p.ids.is_empty());
            assert_eq!(p.name, None);
        }
    }

    #[test]
    fn flags_accept_bools_bits_and_words() {
        let read = |v| probe(json!({ "flag": v })).flag;
        assert_eq!(read(json!(true)), Some(true));
        assert_eq!(read(json!(0)), Some(false));
        assert_eq!(read(json!(1)), Some(true));
        assert_eq!(read(json!("false")), Some(false));
        assert_eq!(read(json!(7)), None);
        assert_eq!(read(json!([true])), None);
    }

    #[test]
    fn ints_accept_numbers_and_numeric_strings() {
        assert_eq!(probe(json!({ "int": 42 })).int, Some(42));
        assert_eq!(probe(json!({ "int": "42" })).int, Some(42));
        assert_eq!(probe(json!({ "int": 4.5 })).int, None);
        assert_eq!(probe(json!({ "int": true })).int, None);
        assert_eq!(probe(json!({ "int_or_flag": true })).int_or_flag, Some(1));
        assert_eq!(probe(json!({ "int_or_flag": false })).int_or_flag, Some(0));
        assert_eq!(
            probe(json!({ "int_or_flag": 1700000000 })).int_or_flag,
            Some(1_700_000_000)
        );
    }

    #[test]
    fn timestamps_take_any_offset_and_precision() {
        let read = |v: &str| probe(json!({ "at": v })).at.map(|t| t.to_rfc3339());
        assert_eq!(
            read("2024-12-24T14:04:55.021462Z").as_deref(),
            Some("2024-12-24T14:04:55.021462+00:00")
        );
        assert_eq!(
            read("2026-04-16T02:00:00+02:00").as_deref(),
            Some("2026-04-16T00:00:00+00:00")
        );
        assert_eq!(read(""), None);
        assert_eq!(read("<string>"), None);
        assert_eq!(probe(json!({ "at": 1_700_000_000 })).at, None);
    }

    #[test]
    fn lists_drop_bad_elements_and_non_lists() {
        assert_eq!(probe(json!({ "ids": [1, "x", 3, null] })).ids, vec![1, 3]);
        assert!(probe(json!({ "ids": true })).ids.is_empty());
    }

    #[test]
    fn text_is_decoded_with_escapes_and_without_them() {
        #[derive(Debug, Deserialize)]
        struct Text {
            #[serde(default, deserialize_with = "text")]
            text: Option<String>,
        }
        let read = |json: &str| serde_json::from_str::<Text>(json).unwrap().text;
        assert_eq!(read(r#"{"text": "plain"}"#).as_deref(), Some("plain"));
        assert_eq!(
            read(r#"{"text": "a \"quote\" \u00e9"}"#).as_deref(),
            Some("a \"quote\" é")
        );
        for other in ["12", "true", "null", "[\"a\"]", r#"{"a": "b"}"#] {
            assert_eq!(read(&format!(r#"{{"text": {other}}}"#)), None, "{other}");
        }
    }

    #[test]
    fn scalars_skip_nested_values_and_out_of_range_numbers() {
        let read = |json: &str| serde_json::from_str::<Probe>(json).unwrap();
        let probe = read(
            r#"{"int": {"a": [1, {"b": 2}]}, "flag": [true], "at": {"x": "y"}, "name": "kept"}"#,
        );
        assert_eq!((probe.int, probe.flag, probe.at), (None, None, None));
        assert_eq!(probe.name.as_deref(), Some("kept"));
        assert_eq!(read(r#"{"int": 18446744073709551615}"#).int, None);
        assert_eq!(read(r#"{"int": -5}"#).int, Some(-5));
    }

    #[test]
    fn lenient_values_of_the_wrong_type_read_as_none() {
        assert_eq!(probe(json!({ "name": "Ada" })).name.as_deref(), Some("Ada"));
        assert_eq!(probe(json!({ "name": 12 })).name, None);
    }

    #[test]
    fn urls_are_one_string_or_a_list_of_strings() {
        let media = |value| probe(json!({ "media": value })).media;
        assert_eq!(media(json!("https://a/1.jpg")), ["https://a/1.jpg"]);
        assert_eq!(
            media(json!(["https://a/1.jpg", 7, " ", "https://a/2.jpg "])),
            ["https://a/1.jpg", "https://a/2.jpg"]
        );
        for none in [json!(""), json!(null), json!({"url": "x"}), json!(3)] {
            assert_eq!(media(none.clone()), Vec::<String>::new(), "{none}");
        }
    }
}
