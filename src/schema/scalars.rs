//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::Utc;

/// A 64-bit integer, serialized as a decimal string: GraphQL `Int` is 32-bit and JavaScript
/// numbers lose precision above 2^53, while upstream ids are 64-bit. Accepted as a string or,
/// when it fits, a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Int64(pub i64);

/// A 64-bit integer, serialized as a decimal string (JavaScript numbers lose precision above
/// 2^53). Inputs may be a string or a number.
#[Scalar(name = "Int64")]
impl ScalarType for Int64 {
    fn parse(value: Value) -> InputValueResult<Self> {
        let parsed = match &value {
            Value::String(text) => text.trim().parse().ok(),
            Value::Number(number) => number.as_i64(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        parsed
            .map(Int64)
            .ok_or_else(|| InputValueError::custom("expected a 64-bit integer"))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// An instant, as an RFC 3339 string with its UTC offset (`2026-05-31T22:20:35.168079+00:00`):
/// what `Date` parses in JavaScript. The upstream's own precision is kept (whole seconds or
/// microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant, as an RFC 3339 string with its UTC offset, e.g.
/// `2026-05-31T22:20:35.168079+00:00` (JavaScript's `new Date(text)` reads it). Precision is
/// the upstream's: whole seconds or microseconds.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|instant| DateTime(instant.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date and time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_a_string_and_parses_both_forms() {
        assert_eq!(
            Int64(i64::MAX).to_value(),
            Value::String("9223372036854775807".into())
        );
        assert_eq!(
            Int64::parse(Value::String("42".into())).ok(),
            Some(Int64(42))
        );
        assert_eq!(Int64::parse(Value::Number(42.into())).ok(), Some(Int64(42)));
        assert!(Int64::parse(Value::String("4.2".into())).is_err());
        assert!(Int64::parse(Value::Boolean(true)).is_err());
    }

    #[test]
    fn instants_are_rfc3339_both_ways() {
        let text = "2026-05-31T22:20:35.168079+00:00";
        let instant = DateTime::parse(Value::String(text.into())).expect("parses");
        assert_eq!(instant.to_value(), Value::String(text.into()));
        let shifted = DateTime::parse(Value::String("2026-06-01T00:20:35.168079+02:00".into()));
        assert_eq!(shifted.ok(), Some(instant));
        assert!(DateTime::parse(Value::String("yesterday".into())).is_err());
        assert!(DateTime::parse(Value::Number(1.into())).is_err());
    }
}
