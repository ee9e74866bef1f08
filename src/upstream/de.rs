//! Lenient field decoders for the wire models: a field of an unexpected type reads as absent
//! instead of failing the whole object.
//!
//! The upstream's docs disagree with each other on several field types (heymarket-api.md §5):
//! `read` is an integer or a boolean, `invited` a boolean or an array, booleans may arrive as
//! 0/1, and timestamps as `""`. Use with `#[serde(default, deserialize_with = "…")]` so that
//! absent fields default too.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;

/// Any type: the value if it decodes as `T`, otherwise `None`.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// A boolean sent as `true`/`false`, `0`/`1`, or `"true"`/`"false"`.
pub(crate) fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(flag) => Some(flag),
        Value::Number(number) => match number.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(text) => text.parse().ok(),
        _ => None,
    })
}

/// An integer, also when sent as a numeric string.
pub(crate) fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(as_int(&Value::deserialize(deserializer)?))
}

/// An integer that may also arrive as a boolean (`false` = 0, `true` = 1).
pub(crate) fn int_or_flag<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(flag) => Some(i64::from(flag)),
        other => as_int(&other),
    })
}

/// An RFC 3339 timestamp with any offset and precision, normalised to UTC. `""` and anything
/// unparseable read as absent.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
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
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
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
    fn lenient_values_of_the_wrong_type_read_as_none() {
        assert_eq!(probe(json!({ "name": "Ada" })).name.as_deref(), Some("Ada"));
        assert_eq!(probe(json!({ "name": 12 })).name, None);
    }
}
