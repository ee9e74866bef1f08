//! Phone numbers as the Heymarket API writes them: E.164 digits without the `+`.

/// Normalises a phone number the way clients of the API do: strip everything but digits and
/// give a 10-digit (US) number its leading `1`. `None` unless the result has 11 to 15 digits.
pub fn normalize(raw: &str) -> Option<String> {
    let mut digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 10 {
        digits.insert(0, '1');
    }
    (11..=15).contains(&digits.len()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164_digits() {
        assert_eq!(
            normalize("+1 (415) 555-0100").as_deref(),
            Some("14155550100")
        );
        assert_eq!(normalize("415-555-0100").as_deref(), Some("14155550100"));
        assert_eq!(normalize("447700900123").as_deref(), Some("447700900123"));
        assert_eq!(normalize("555-0100"), None);
        assert_eq!(normalize("1234567890123456"), None);
        assert_eq!(normalize(""), None);
    }
}
