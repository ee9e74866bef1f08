//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

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
}
