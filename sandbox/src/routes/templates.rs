//! `POST /v1/templates` (the date-cursor list) and `GET /v1/template/{id}`.

use axum::Json;
use axum::extract::Path;

use super::{DatePageBody, path_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Tenant};
use crate::store::TemplateJson;

/// Templates per page, as documented ("`date` cursor, 30 per page", §9.4).
const PAGE_SIZE: usize = 30;

/// One page, newest `updated` first, strictly before `date`; archived templates included,
/// flagged `archived`.
pub(super) async fn list(
    tenant: Tenant,
    JsonBody(body): JsonBody<DatePageBody>,
) -> ApiResult<Json<Vec<TemplateJson>>> {
    let before = body.before()?;
    let store = tenant.store();
    Ok(Json(
        store
            .list_templates(before, PAGE_SIZE)
            .into_iter()
            .map(|template| store.template_json(template))
            .collect(),
    ))
}

pub(super) async fn get(tenant: Tenant, Path(id): Path<String>) -> ApiResult<Json<TemplateJson>> {
    let id = path_id(&id, "template")?;
    let store = tenant.store();
    let template = store
        .template(id)
        .ok_or_else(|| ApiError::not_found(format!("template {id} does not exist")))?;
    Ok(Json(store.template_json(template)))
}
