//! The customers API under `/api` (issues 4 and 10): search by name, organisation, e-mail or
//! number in any format, fetch one with their open intakes, edit (published to the agent's
//! desk as a `customer` frame). Shapes: docs/api.md.

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Session;
use super::desk_feed::customer_changed;
use super::error::{ApiError, ApiJson, BODY_LIMIT};
use super::intakes::{DeskApiError, page, query};
use crate::desk::hub::DeskHub;
use crate::desk::intakes::{CustomerFields, DeskError, IntakeView};
use crate::domain::CustomerId;
use crate::store::{Customer, CustomerQuery};

/// Longest search text.
const MAX_QUERY: usize = 200;

/// The `/api/customers…` routes.
pub(super) fn router(state: ApiState, hub: DeskHub) -> Router {
    Router::new()
        .route("/api/customers", get(search))
        .route("/api/customers/{id}", get(fetch).patch(update))
        .layer(Extension(hub))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// A customer as the API shows them.
#[derive(Serialize)]
pub(super) struct CustomerView {
    id: CustomerId,
    name: String,
    organisation: Option<String>,
    department: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    extra_phones: Vec<String>,
    location: Option<String>,
    notes: Option<String>,
    created_at: i64,
    updated_at: i64,
    /// `manual`, `csv` or `ldap`.
    source: String,
    /// Fields the directory or import owns: shown as such, kept on a hand edit.
    synced_fields: Vec<String>,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        CustomerView {
            id: c.id,
            name: c.name,
            organisation: c.organisation,
            department: c.department,
            email: c.email,
            phone: c.phone,
            extra_phones: c.extra_phones,
            location: c.location,
            notes: c.notes,
            created_at: c.created_at,
            updated_at: c.updated_at,
            source: c.source,
            synced_fields: c.synced_fields,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn search(
    State(st): State<ApiState>,
    _session: Session,
    Extension(hub): Extension<DeskHub>,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Vec<CustomerView>>, ApiError> {
    let q = query(q)?;
    let text = q.q.unwrap_or_default();
    if text.chars().count() > MAX_QUERY {
        return Err(ApiError::Unprocessable(format!(
            "q must be at most {MAX_QUERY} characters"
        )));
    }
    let (limit, offset) = page(q.limit, q.offset)?;
    let wanted = CustomerQuery::parse(&text, hub.ops().country_code());
    let found = st.store.search_customers(&wanted, limit, offset).await?;
    Ok(Json(found.into_iter().map(CustomerView::from).collect()))
}

/// One customer and their draft, open and escalated intakes.
#[derive(Serialize)]
struct CustomerDetail {
    #[serde(flatten)]
    customer: CustomerView,
    open_intakes: Vec<IntakeView>,
}

async fn fetch(
    State(st): State<ApiState>,
    _session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
) -> Result<Json<CustomerDetail>, DeskApiError> {
    let id = CustomerId::from_string(id);
    let customer = st
        .store
        .get_customer(&id)
        .await?
        .ok_or(DeskError::NotFound("customer"))?;
    let open_intakes = hub.ops().open_for_customer(&id).await?;
    Ok(Json(CustomerDetail {
        customer: customer.into(),
        open_intakes,
    }))
}

async fn update(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<CustomerFields>,
) -> Result<Json<CustomerView>, DeskApiError> {
    let id = CustomerId::from_string(id);
    let customer = hub
        .ops()
        .update_customer(&session.agent_id, &id, fields)
        .await?;
    customer_changed(&hub, &session.agent_id, customer.clone()).await;
    Ok(Json(customer.into()))
}
