//! Value conventions of the wire format: timestamps, phone numbers, UUIDs.

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::{ApiError, ApiResult};
use crate::readings::UpdatedPrecision;

/// An instant as the API writes it: RFC 3339, exactly six fractional digits, `Z`
/// (e.g. `2026-04-12T15:30:00.123456Z`).
pub(crate) fn timestamp(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A conversation timestamp at the precision the readings give it.
pub(crate) fn to_precision(instant: DateTime<Utc>, precision: UpdatedPrecision) -> DateTime<Utc> {
    match precision {
        UpdatedPrecision::Micros => to_micros(instant),
        UpdatedPrecision::Seconds => {
            DateTime::from_timestamp(instant.timestamp(), 0).unwrap_or(instant)
        }
    }
}

/// A conversation timestamp as the readings write it: six fractional digits, or none.
pub(crate) fn timestamp_at(instant: &DateTime<Utc>, precision: UpdatedPrecision) -> String {
    let format = match precision {
        UpdatedPrecision::Micros => SecondsFormat::Micros,
        UpdatedPrecision::Seconds => SecondsFormat::Secs,
    };
    to_precision(*instant, precision).to_rfc3339_opts(format, true)
}

/// Parses a client-supplied RFC 3339 cursor in any offset and precision.
pub(crate) fn parse_instant(field: &str, value: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_data(format!("{field} must be an RFC 3339 timestamp")))
}

/// Drops sub-microsecond precision, the finest the API stores.
pub(crate) fn to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    let micros = instant.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(instant)
}

/// Formats 128 random bits as a version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`): contacts'
/// `uuid` and the request ids of answers.
pub(crate) fn uuid_from_bits(bits: u128) -> String {
    let version = (bits & !(0xF << 76)) | (0x4 << 76);
    let variant = (version & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{variant:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A phone number as the API stores it, E.164 digits without the `+`: everything but digits is
/// stripped and a 10-digit (US) number gains its leading `1`. `None` unless 11 to 15 digits
/// remain.
pub(crate) fn normalize_phone(raw: &str) -> Option<String> {
    let mut digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 10 {
        digits.insert(0, '1');
    }
    (11..=15).contains(&digits.len()).then_some(digits)
}

/// A conversation target as a client names it: an email address stays as written (lowercased),
/// anything else is a phone number and is normalised.
pub(crate) fn normalize_target(raw: &str) -> ApiResult<String> {
    let raw = raw.trim();
    if raw.contains('@') {
        return Ok(raw.to_lowercase());
    }
    normalize_phone(raw)
        .ok_or_else(|| ApiError::bad_data(format!("`{raw}` is not a phone number (E.164 digits)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_six_fractional_digits_and_z() {
        let instant = DateTime::from_timestamp_micros(1_776_007_800_123_456).unwrap();
        assert_eq!(timestamp(&instant), "2026-04-12T15:30:00.123456Z");
        let whole = DateTime::from_timestamp(1_776_007_800, 0).unwrap();
        assert_eq!(timestamp(&whole), "2026-04-12T15:30:00.000000Z");
    }

    #[test]
    fn conversation_timestamps_follow_the_precision_reading() {
        let instant = DateTime::from_timestamp_micros(1_776_007_800_123_456).unwrap();
        assert_eq!(
            timestamp_at(&instant, UpdatedPrecision::Micros),
            "2026-04-12T15:30:00.123456Z"
        );
        assert_eq!(
            timestamp_at(&instant, UpdatedPrecision::Seconds),
            "2026-04-12T15:30:00Z"
        );
        let whole = to_precision(instant, UpdatedPrecision::Seconds);
        assert_eq!(whole.timestamp_subsec_micros(), 0);
        assert_eq!(whole.timestamp(), instant.timestamp());
    }

    #[test]
    fn cursors_parse_in_any_offset_and_precision() {
        let utc = parse_instant("date", "2026-04-12T15:30:00Z").unwrap();
        let offset = parse_instant("date", "2026-04-12T17:30:00+02:00").unwrap();
        assert_eq!(utc, offset);
        let nanos = parse_instant("date", "2026-04-12T15:30:00.123456789Z").unwrap();
        assert_eq!(to_micros(nanos).timestamp_subsec_micros(), 123_456);
        assert!(parse_instant("date", "yesterday").is_err());
    }

    #[test]
    fn uuids_carry_version_and_variant() {
        assert_eq!(uuid_from_bits(0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(
            uuid_from_bits(u128::MAX),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
    }

    #[test]
    fn phones_normalise_to_e164_digits() {
        assert_eq!(
            normalize_phone("+1 (415) 555-0100").as_deref(),
            Some("14155550100")
        );
        assert_eq!(
            normalize_phone("415-555-0100").as_deref(),
            Some("14155550100")
        );
        assert_eq!(
            normalize_phone("447700900123").as_deref(),
            Some("447700900123")
        );
        assert_eq!(normalize_phone("555-0100"), None);
        assert_eq!(normalize_phone("1234567890123456"), None);
        assert_eq!(normalize_phone(""), None);
    }

    #[test]
    fn targets_keep_email_addresses() {
        assert_eq!(
            normalize_target(" Ada@Example.com ").unwrap(),
            "ada@example.com"
        );
        assert_eq!(normalize_target("(415) 555-0100").unwrap(), "14155550100");
        assert!(normalize_target("12").is_err());
    }
}
