//! Global object identification: opaque ids that name a type and its upstream integer id.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

/// The kinds of object that carry a global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Inbox,
    Member,
    Contact,
    Conversation,
    Message,
}

impl NodeKind {
    const ALL: [NodeKind; 5] = [
        Self::Inbox,
        Self::Member,
        Self::Contact,
        Self::Conversation,
        Self::Message,
    ];

    /// The GraphQL type name, which is also the prefix inside the encoded id.
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Inbox => "Inbox",
            Self::Member => "Member",
            Self::Contact => "Contact",
            Self::Conversation => "Conversation",
            Self::Message => "Message",
        }
    }
}

/// A decoded global id: `base64url("<Type>:<databaseId>")`, unpadded.
///
/// Clients must treat ids as opaque; the encoding only has to be stable and reversible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub id: i64,
}

impl GlobalId {
    pub fn new(kind: NodeKind, id: i64) -> Self {
        Self { kind, id }
    }

    /// Decodes `raw` and insists that it names a `kind`, as arguments like `inbox(id:)` need.
    pub fn parse_as(raw: &str, kind: NodeKind) -> Result<i64, ApiError> {
        let global: GlobalId = raw.parse()?;
        if global.kind != kind {
            return Err(ApiError::bad_input(format!(
                "id `{raw}` is of type {}; this argument expects type {}",
                global.kind.type_name(),
                kind.type_name()
            )));
        }
        Ok(global.id)
    }

    /// The id as an async-graphql `ID`.
    pub fn to_id(self) -> async_graphql::ID {
        async_graphql::ID(self.to_string())
    }
}

impl fmt::Display for GlobalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = format!("{}:{}", self.kind.type_name(), self.id);
        f.write_str(&URL_SAFE_NO_PAD.encode(plain))
    }
}

impl FromStr for GlobalId {
    type Err = ApiError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let malformed = || {
            ApiError::bad_input(format!(
                "`{}` is not an id issued by this API; use the `id` field of an object",
                truncate(raw)
            ))
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| malformed())?;
        let plain = std::str::from_utf8(&bytes).map_err(|_| malformed())?;
        let (type_name, id) = plain.split_once(':').ok_or_else(malformed)?;
        let kind = NodeKind::ALL
            .into_iter()
            .find(|kind| kind.type_name() == type_name)
            .ok_or_else(malformed)?;
        // Only the canonical decimal form round-trips, so each object has exactly one id.
        let id: i64 = id.parse().map_err(|_| malformed())?;
        if id.to_string() != plain[type_name.len() + 1..] {
            return Err(malformed());
        }
        Ok(Self { kind, id })
    }
}

/// Echoing a huge argument back in an error message helps nobody.
fn truncate(raw: &str) -> String {
    const MAX: usize = 64;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_for_every_kind() {
        for kind in NodeKind::ALL {
            for id in [0, 1, 3001, i64::MAX, -5] {
                let global = GlobalId::new(kind, id);
                assert_eq!(global.to_string().parse::<GlobalId>(), Ok(global));
            }
        }
    }

    #[test]
    fn ids_are_opaque_url_safe_text() {
        let encoded = GlobalId::new(NodeKind::Inbox, 3001).to_string();
        assert_eq!(encoded, "SW5ib3g6MzAwMQ");
        assert!(
            encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn malformed_ids_are_bad_user_input() {
        let encode = |plain: &str| URL_SAFE_NO_PAD.encode(plain);
        for raw in [
            String::new(),
            "!!!".to_owned(),
            encode("Inbox"),
            encode("Inbox:"),
            encode("Inbox:12x"),
            encode("Inbox:007"),
            encode("Inbox:+7"),
            encode("Planet:1"),
            encode(":1"),
            encode("Inbox:99999999999999999999"),
            "x".repeat(10_000),
        ] {
            let error = raw.parse::<GlobalId>().unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT", "{raw}");
            assert!(error.to_string().len() < 200);
        }
    }

    #[test]
    fn an_id_of_another_kind_is_refused_by_name() {
        let member = GlobalId::new(NodeKind::Member, 501).to_string();
        let error = GlobalId::parse_as(&member, NodeKind::Inbox).unwrap_err();
        assert_eq!(
            error,
            ApiError::bad_input(format!(
                "id `{member}` is of type Member; this argument expects type Inbox"
            ))
        );
    }
}
