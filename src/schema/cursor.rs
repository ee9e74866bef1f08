//! Opaque connection cursors: the sort key of an edge, tagged with a version and the list it
//! belongs to, so a cursor from one kind of list is refused by another, and signed, so a client
//! cannot forge or alter one.
//!
//! A cursor also carries where its walk can resume upstream ([`Position::resume`]). A made-up
//! one could send a walk through every upstream page of a list, so every cursor carries an
//! HMAC-SHA256 tag (cut to 128 bits) under a key of the deployment: only cursors this
//! deployment issued are read. Even so, a walk never makes more upstream calls than the
//! operation's budget.

use std::fmt;
use std::sync::Arc;

use async_graphql::Context;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::node::canonical_integer;
use crate::config::UpstreamAuth;
use crate::error::ApiError;
use crate::pagination::{Position, SortKey};

/// Bumped when the encoding changes, so old cursors fail loudly instead of misplacing a walk.
const VERSION: &str = "c2";

/// Bytes of the signature kept in a cursor: half the hash, as RFC 2104 allows.
const TAG_BYTES: usize = 16;

/// What the key for cursors is derived with, so it differs from any other use of the secret.
const KEY_CONTEXT: &[u8] = b"heymarket-gateway cursor signing key";

/// Which list a cursor walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    Conversation,
    Message,
    Template,
    Contact,
    Tag,
}

impl CursorKind {
    fn tag(self) -> &'static str {
        match self {
            Self::Conversation => "conversation",
            Self::Message => "message",
            Self::Template => "template",
            Self::Contact => "contact",
            Self::Tag => "tag",
        }
    }
}

/// The key that signs and checks cursors. Replicas behind one load balancer must share it, so
/// that a cursor one of them issued is read by the others.
#[derive(Clone)]
pub struct CursorKey(Arc<Hmac<Sha256>>);

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// The key derived from `secret`: the same secret gives the same key on every replica.
    pub fn derive(secret: &[u8]) -> Self {
        let mut derivation = mac(secret);
        derivation.update(KEY_CONTEXT);
        Self(Arc::new(mac(&derivation.finalize().into_bytes())))
    }

    /// A key of this process alone: cursors it signs are refused by any other process.
    pub fn random() -> Self {
        Self::derive(&rand::random::<[u8; 32]>())
    }

    /// The deployment's key: from `cursor_secret` when configured; else from the upstream
    /// credential the gateway holds, which every replica of a deployment shares; else (pass-through
    /// mode, which holds none) a key of this process alone.
    pub fn for_deployment(cursor_secret: Option<&SecretString>, upstream: &UpstreamAuth) -> Self {
        match (cursor_secret, upstream) {
            (Some(secret), _) => Self::derive(secret.expose_secret().as_bytes()),
            (None, UpstreamAuth::Secret { id, key }) => {
                Self::derive(format!("{id}||{}", key.expose_secret()).as_bytes())
            }
            (None, UpstreamAuth::ApiKey(key)) => Self::derive(key.expose_secret().as_bytes()),
            (None, UpstreamAuth::PassThrough) => {
                tracing::info!(
                    "cursors are signed with a key of this process: with several replicas, set \
                     HEYMARKET_CURSOR_SECRET so that each reads the others' cursors"
                );
                Self::random()
            }
        }
    }

    /// The operation's key, from the schema's data; its absence is a wiring bug.
    pub(crate) fn of<'a>(ctx: &Context<'a>) -> Result<&'a Self, ApiError> {
        ctx.data::<Self>().map_err(|_| {
            tracing::error!("the schema was built without a cursor key");
            ApiError::Internal
        })
    }

    /// `plain` with its tag, as opaque text.
    fn seal(&self, plain: &str) -> String {
        let mut signer = (*self.0).clone();
        signer.update(plain.as_bytes());
        let tag = signer.finalize().into_bytes();
        let mut sealed = Vec::with_capacity(plain.len() + TAG_BYTES);
        sealed.extend_from_slice(plain.as_bytes());
        sealed.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The plain text of a cursor this key sealed; `None` for anything else (checked in
    /// constant time).
    fn open(&self, raw: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let split = bytes.len().checked_sub(TAG_BYTES)?;
        let (plain, tag) = bytes.split_at(split);
        let mut verifier = (*self.0).clone();
        verifier.update(plain);
        verifier.verify_truncated_left(tag).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// An HMAC-SHA256 keyed with `key` (any length is accepted).
fn mac(key: &[u8]) -> Hmac<Sha256> {
    Hmac::new_from_slice(key).expect("HMAC takes keys of any length") // ok: infallible for HMAC
}

/// A position in a newest-first list, encoded as
/// `base64url("c2:<kind>:<µs since epoch>:<id>[:<resume µs>]" ‖ tag)`: the edge's sort key and,
/// optionally, where the walk can resume upstream (see [`Position::resume`]), signed with the
/// deployment's [`CursorKey`].
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
    pub fn encode(&self, key: &CursorKey) -> String {
        let SortKey { at, id } = self.position.key;
        let mut plain = format!(
            "{VERSION}:{}:{}:{id}",
            self.kind.tag(),
            at.timestamp_micros()
        );
        if let Some(resume) = self.position.resume {
            plain.push_str(&format!(":{}", resume.timestamp_micros()));
        }
        key.seal(&plain)
    }

    /// Decodes an `after` argument for a list of `kind`, if `key` signed it.
    pub fn parse(raw: &str, kind: CursorKind, key: &CursorKey) -> Result<Position, ApiError> {
        let invalid = || {
            ApiError::bad_input(format!(
                "`after` is not a cursor this gateway issued for this {} list (it was altered, made \
                 up, or comes from another list or deployment); pass an `endCursor` or edge \
                 `cursor` it returned",
                kind.tag()
            ))
        };
        let text = key.open(raw).ok_or_else(invalid)?;
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

    fn key() -> CursorKey {
        CursorKey::derive(b"a test secret")
    }

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
                let encoded = Cursor::new(kind, position).encode(&key());
                assert_eq!(Cursor::parse(&encoded, kind, &key()).unwrap(), position);
            }
        }
    }

    #[test]
    fn a_cursor_of_another_list_is_refused() {
        let message = Cursor::new(CursorKind::Message, position(1, 2, None)).encode(&key());
        let error = Cursor::parse(&message, CursorKind::Conversation, &key()).unwrap_err();
        assert_eq!(error.code(), "BAD_USER_INPUT");
        assert!(error.to_string().contains("endCursor"), "{error}");
    }

    #[test]
    fn altered_unsigned_and_foreign_cursors_are_refused() {
        let issued = Cursor::new(CursorKind::Conversation, position(1, 2, Some(3))).encode(&key());
        let mut bytes = URL_SAFE_NO_PAD.decode(&issued).unwrap();
        // The resume instant, pushed into the future: the last digit before the tag.
        let last_digit = bytes.len() - TAG_BYTES - 1;
        bytes[last_digit] = b'9';
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        let unsigned = URL_SAFE_NO_PAD.encode("c2:conversation:1:2:99999999999999999");
        let foreign = Cursor::new(CursorKind::Conversation, position(1, 2, Some(3)))
            .encode(&CursorKey::derive(b"another deployment"));
        let earlier_version = URL_SAFE_NO_PAD.encode("c1:conversation:1:2:3");
        for raw in [altered, unsigned, foreign, earlier_version] {
            let error = Cursor::parse(&raw, CursorKind::Conversation, &key()).unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT", "{raw}");
            assert!(error.to_string().contains("altered"), "{error}");
        }
        assert!(Cursor::parse(&issued, CursorKind::Conversation, &key()).is_ok());
    }

    #[test]
    fn replicas_with_the_same_secret_or_credential_share_the_key() {
        let secret = SecretString::from("a cursor secret shared by every replica");
        let api_key = UpstreamAuth::ApiKey(SecretString::from("team-key"));
        let issued =
            |key: &CursorKey| Cursor::new(CursorKind::Message, position(1, 2, None)).encode(key);
        let readable =
            |by: &CursorKey, cursor: &str| Cursor::parse(cursor, CursorKind::Message, by).is_ok();
        let configured = CursorKey::for_deployment(Some(&secret), &UpstreamAuth::PassThrough);
        let again = CursorKey::for_deployment(Some(&secret), &api_key);
        assert!(readable(&again, &issued(&configured)));
        let from_credential = CursorKey::for_deployment(None, &api_key);
        assert!(readable(
            &CursorKey::for_deployment(None, &api_key),
            &issued(&from_credential)
        ));
        assert!(!readable(&configured, &issued(&from_credential)));
        let alone = CursorKey::for_deployment(None, &UpstreamAuth::PassThrough);
        let other = CursorKey::for_deployment(None, &UpstreamAuth::PassThrough);
        assert!(readable(&alone, &issued(&alone)));
        assert!(!readable(&other, &issued(&alone)));
    }

    #[test]
    fn malformed_cursors_are_bad_user_input() {
        let seal = |plain: &str| key().seal(plain);
        for raw in [
            String::new(),
            "%%%".to_owned(),
            seal(""),
            seal("c2:conversation:1"),
            seal("c2:conversation:1:2:3:4"),
            seal("c2:conversation:1:2:x"),
            seal("c1:conversation:1:2"),
            seal("c2:conversation:x:2"),
            seal("c2:conversation:1:y"),
            seal("c2:conversation:99999999999999999999:1"),
            seal(&format!("c2:conversation:{}:1", i64::MAX)),
        ] {
            let error = Cursor::parse(&raw, CursorKind::Conversation, &key()).unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT", "{raw}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn key() -> CursorKey {
        CursorKey::derive(b"a property secret")
    }

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
            let encoded = Cursor::new(kind, position).encode(&key());
            prop_assert_eq!(Cursor::parse(&encoded, kind, &key()).ok(), Some(position));
        }

        /// A cursor a client made up is refused with BAD_USER_INPUT; decoding never panics.
        #[test]
        fn any_text_is_refused(raw in ".{0,120}") {
            let error = Cursor::parse(&raw, CursorKind::Conversation, &key()).unwrap_err();
            prop_assert_eq!(error.code(), "BAD_USER_INPUT");
        }

        /// Whatever a signed cursor says, it is refused or read as a position that encodes back
        /// to exactly that cursor.
        #[test]
        fn any_signed_payload_is_handled(plain in "c[0-9]:(conversation|message|x):-?[0-9]{0,21}(:-?[0-9]{0,21}){0,3}") {
            let raw = key().seal(&plain);
            if let Ok(position) = Cursor::parse(&raw, CursorKind::Conversation, &key()) {
                prop_assert_eq!(Cursor::new(CursorKind::Conversation, position).encode(&key()), raw);
            }
        }
    }
}
