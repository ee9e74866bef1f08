//! Opaque connection cursors: the sort key of an edge, tagged with a version and the list it
//! belongs to, so a cursor from one kind of list is refused by another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;

use crate::error::ApiError;
use crate::pagination::SortKey;

/// Bumped when the encoding changes, so old cursors fail loudly instead of misplacing a walk.
const VERSION: &str = "c1";

/// Which list a cursor walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    Conversation,
    Message,
}

impl CursorKind {
    fn tag(self) -> &'static str {
        match self {
            Self::Conversation => "conversation",
            Self::Message => "message",
        }
    }
}

/// A position in a newest-first list: encoded as `base64url("c1:<kind>:<µs since epoch>:<id>")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub kind: CursorKind,
    pub key: SortKey,
}

impl Cursor {
    pub fn new(kind: CursorKind, key: SortKey) -> Self {
        Self { kind, key }
    }

    /// The opaque text clients receive and send back as `after`.
    pub fn encode(&self) -> String {
        let plain = format!(
            "{VERSION}:{}:{}:{}",
            self.kind.tag(),
            self.key.at.timestamp_micros(),
            self.key.id
        );
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Decodes an `after` argument for a list of `kind`.
    pub fn parse(raw: &str, kind: CursorKind) -> Result<SortKey, ApiError> {
        let invalid = || {
            ApiError::bad_input(format!(
                "`after` is not a cursor of this {} list; pass an `endCursor` or edge `cursor` it returned",
                kind.tag()
            ))
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let mut parts = text.split(':');
        let (Some(version), Some(tag), Some(micros), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        if version != VERSION || tag != kind.tag() {
            return Err(invalid());
        }
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let id: i64 = id.parse().map_err(|_| invalid())?;
        let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(SortKey { at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(micros: i64, id: i64) -> SortKey {
        SortKey {
            at: DateTime::from_timestamp_micros(micros).unwrap(),
            id,
        }
    }

    #[test]
    fn cursors_round_trip() {
        for kind in [CursorKind::Conversation, CursorKind::Message] {
            for key in [
                key(1_780_000_000_123_456, 2_000_001),
                key(0, 0),
                key(-5, i64::MAX),
            ] {
                let encoded = Cursor::new(kind, key).encode();
                assert_eq!(Cursor::parse(&encoded, kind).unwrap(), key);
            }
        }
    }

    #[test]
    fn a_cursor_of_another_list_is_refused() {
        let message = Cursor::new(CursorKind::Message, key(1, 2)).encode();
        let error = Cursor::parse(&message, CursorKind::Conversation).unwrap_err();
        assert_eq!(error.code(), "BAD_USER_INPUT");
        assert!(error.to_string().contains("endCursor"), "{error}");
    }

    #[test]
    fn malformed_cursors_are_bad_user_input() {
        let encode = |plain: &str| URL_SAFE_NO_PAD.encode(plain);
        for raw in [
            String::new(),
            "%%%".to_owned(),
            encode("c1:conversation:1"),
            encode("c1:conversation:1:2:3"),
            encode("c0:conversation:1:2"),
            encode("c1:conversation:x:2"),
            encode("c1:conversation:1:y"),
            encode("c1:conversation:99999999999999999999:1"),
            encode(&format!("c1:conversation:{}:1", i64::MAX)),
        ] {
            assert_eq!(
                Cursor::parse(&raw, CursorKind::Conversation)
                    .unwrap_err()
                    .code(),
                "BAD_USER_INPUT",
                "{raw}"
            );
        }
    }
}
