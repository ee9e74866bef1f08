//! `GET /v1/inboxes` and `GET /v1/team`.

use axum::Json;

use crate::extract::Tenant;
use crate::store::{InboxJson, TeamJson};

pub(super) async fn inboxes(tenant: Tenant) -> Json<Vec<InboxJson>> {
    let store = tenant.store();
    Json(
        store
            .inboxes()
            .iter()
            .map(|inbox| store.inbox_json(inbox))
            .collect(),
    )
}

pub(super) async fn team(tenant: Tenant) -> Json<TeamJson> {
    Json(tenant.store().team_json())
}
