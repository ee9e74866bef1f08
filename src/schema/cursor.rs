//! Opaque connection cursors: the sort key of an edge, tagged with a version and the list it
//! belongs to, so a cursor from one kind of list is refused by another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;

use super::node::canonical_integer;
use crate::error::ApiError;
use crate::pagination::{Position, SortKey};

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

/// A position in a newest-first list, encoded as
/// `base64url("c1:<kind>:<µs since epoch>:<id>[:<resume µs>]")`: the edge's sort key and,
/// optionally, where the walk can resume upstream (see [`Position::resume`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub kind: CursorKind,
    pub position: Position,
}

impl Cursor {
    pub fn new(kind: CursorKind, position: Position) -> Self {
        Self { kind, position }
    }

    /// The opaque text clients receive and send back as `after`.
    pub fn encode(&self) -> String {
        let SortKey { at, id } = self.position.key;
        let mut plain = format!(
            "{VERSION}:{}:{}:{id}",
            self.kind.tag(),
            at.timestamp_micros()
        );
        if let Some(resume) = self.position.resume {
            plain.push_str(&format!(":{}", resume.timestamp_micros()));
        }
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Decodes an `after` argument for a list of `kind`.
    pub fn parse(raw: &str, kind: CursorKind) -> Result<Position, ApiError> {
        let invalid = || {
            ApiError::bad_input(format!(
                "`after` is not a cursor of this {} list; pass an `endCursor` or edge `cursor` it returned",
                kind.tag()
            ))
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let parts: Vec<&str> = text.split(':').collect();
        let (version, tag, numbers) = match parts.as_slice() {
            [version, tag, numbers @ ..] if (2..=3).contains(&numbers.len()) => {
                (*version, *tag, numbers)
            }
            _ => return Err(invalid()),
        };
        if version != VERSION || tag != kind.tag() {
            return Err(invalid());
        }
        // Only canonical decimals, so each position has exactly one cursor.
        let instant =
            |micros: &str| canonical_integer(micros).and_then(DateTime::from_timestamp_micros);
        let at = instant(numbers[0]).ok_or_else(invalid)?;
        let id = canonical_integer(numbers[1]).ok_or_else(invalid)?;
        let resume = numbers
            .get(2)
            .map(|micros| instant(micros).ok_or_else(invalid))
            .transpose()?;
        Ok(Position {
            key: SortKey { at, id },
            resume,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(micros: i64, id: i64, resume: Option<i64>) -> Position {
        let instant = |micros| DateTime::from_timestamp_micros(micros).unwrap();
        Position {
            key: SortKey {
                at: instant(micros),
                id,
            },
            resume: resume.map(instant),
        }
    }

    #[test]
    fn cursors_round_trip() {
        for kind in [CursorKind::Conversation, CursorKind::Message] {
            for position in [
                position(1_780_000_000_123_456, 2_000_001, None),
                position(
                    1_780_000_000_123_456,
                    2_000_001,
                    Some(1_780_000_000_123_457),
                ),
                position(0, 0, Some(0)),
                position(-5, i64::MAX, None),
            ] {
                let encoded = Cursor::new(kind, position).encode();
                assert_eq!(Cursor::parse(&encoded, kind).unwrap(), position);
            }
        }
    }

    #[test]
    fn a_cursor_of_another_list_is_refused() {
        let message = Cursor::new(CursorKind::Message, position(1, 2, None)).encode();
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
            encode("c1:conversation:1:2:3:4"),
            encode("c1:conversation:1:2:x"),
            encode("c0:conversation:1:2"),
            encode("c1:conversation:x:2"),
            encode("c1:conversation:1:y"),
            encode("c1:conversation:99999999999999999999:1"),
            encode(&format!("c1:conversation:{}:1", i64::MAX)),
        ] {
            let error = Cursor::parse(&raw, CursorKind::Conversation).unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT", "{raw}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn instant() -> impl Strategy<Value = DateTime<chrono::Utc>> {
        (-10_000_000_000_000_000i64..10_000_000_000_000_000).prop_map(|micros| {
            DateTime::from_timestamp_micros(micros).expect("within chrono's range")
        })
    }

    fn any_position() -> impl Strategy<Value = Position> {
        (instant(), any::<i64>(), proptest::option::of(instant())).prop_map(|(at, id, resume)| {
            Position {
                key: SortKey { at, id },
                resume,
            }
        })
    }

    proptest! {
        #[test]
        fn every_position_round_trips(position in any_position(), messages in any::<bool>()) {
            let kind = if messages { CursorKind::Message } else { CursorKind::Conversation };
            let encoded = Cursor::new(kind, position).encode();
            prop_assert_eq!(Cursor::parse(&encoded, kind).ok(), Some(position));
        }

        /// A cursor a client made up is refused with BAD_USER_INPUT or read as a position that
        /// encodes back to exactly what was sent; decoding never panics.
        #[test]
        fn any_text_decodes_to_nothing_or_its_canonical_position(raw in ".{0,120}") {
            match Cursor::parse(&raw, CursorKind::Conversation) {
                Ok(position) => prop_assert_eq!(Cursor::new(CursorKind::Conversation, position).encode(), raw),
                Err(error) => prop_assert_eq!(error.code(), "BAD_USER_INPUT"),
            }
        }

        #[test]
        fn any_decoded_payload_is_handled(plain in "c[0-9]:(conversation|message|x):-?[0-9]{0,21}(:-?[0-9]{0,21}){0,3}") {
            let raw = URL_SAFE_NO_PAD.encode(&plain);
            if let Ok(position) = Cursor::parse(&raw, CursorKind::Conversation) {
                prop_assert_eq!(Cursor::new(CursorKind::Conversation, position).encode(), raw);
            }
        }
    }
}
