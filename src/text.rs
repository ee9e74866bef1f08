//! Cutting text down to size, always at a character boundary.

/// The longest prefix of `text` of at most `max_bytes` bytes: for limits counted in bytes
/// (a WebSocket close reason, a metric label).
pub(crate) fn prefix_within(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut to its first `max_chars` characters plus `…` when longer: for echoing outside
/// text back in a message.
pub(crate) fn shortened(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_limits_cut_at_a_character_boundary() {
        assert_eq!(prefix_within("short", 123), "short");
        let long = "é".repeat(100);
        let cut = prefix_within(&long, 123);
        assert!(cut.len() <= 123 && long.starts_with(cut));
        assert_eq!(cut.len(), 122);
    }

    #[test]
    fn character_limits_mark_the_cut() {
        assert_eq!(shortened("abc", 3), "abc");
        assert_eq!(shortened("abcd", 3), "abc…");
        assert_eq!(shortened("éééé", 2), "éé…");
    }
}
