//! Wire models of the upstream API (placeholder).

/// `GET /v1/inboxes` item.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Inbox {
    pub id: i64,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub phones: Vec<String>,
    pub auto_assignable: Option<bool>,
    pub members: Vec<i64>,
}

/// `GET /v1/team`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Team {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub members: Vec<TeamMember>,
}

/// A member inside `GET /v1/team`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TeamMember {
    pub id: i64,
    pub name: Option<String>,
    pub role: Option<String>,
}
