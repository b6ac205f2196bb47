//! The directory's admin API (issue 13 points 3 and 6; docs/api.md "Directory"): the CSV
//! import of customers (`POST /api/admin/customers/import`, the file streamed to a temporary
//! file under a size cap, then checked and imported by `directory::importer`), the sync's
//! status (`GET /api/admin/directory`), "sync now" (`POST /api/admin/directory/sync`), and
//! where a customer came from (`GET /api/admin/customers/{id}/origin`).
//! Admins only; every import and sync asked for here writes an audit row.

use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::ApiState;
use super::auth::{Session, require_role};
use super::error::ApiError;
use crate::directory::importer::{self, ImportError, ImportOptions, MAX_FILE_BYTES, PREVIEW_ROWS};
use crate::directory::{Directory, DirectoryStatus};
use crate::store::{NewAudit, SyncRun, now_ms};

/// Who may use these routes.
const ADMINS: &[&str] = &["admin"];
/// How long "sync now" waits for the run before answering 503.
const SYNC_WAIT: Duration = Duration::from_secs(120);

/// What the routes share beside the API state.
#[derive(Clone)]
pub(crate) struct DirectoryApi {
    /// The sync's handle.
    pub(crate) directory: Directory,
    /// For national numbers in a CSV.
    pub(crate) country_code: String,
}

/// The `/api/admin/customers/import` and `/api/admin/directory…` routes.
pub(super) fn router(state: ApiState, api: DirectoryApi) -> Router {
    Router::new()
        .route("/api/admin/customers/import", post(import))
        .route("/api/admin/directory", get(status))
        .route("/api/admin/directory/sync", post(sync_now))
        .route("/api/admin/customers/{id}/origin", get(origin))
        .layer(Extension(api))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// `preview` (default) or `commit`.
    mode: Option<String>,
    /// Import the valid rows even when some are bad.
    valid_only: Option<bool>,
    /// `column=field` pairs separated by commas.
    map: Option<String>,
    /// Rows in the preview (at most 200).
    preview_rows: Option<usize>,
}

/// A file-level problem as `{"error": …}`.
#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

fn unprocessable(message: String) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(ErrorBody { error: message }),
    )
        .into_response()
}

async fn import(
    State(st): State<ApiState>,
    session: Session,
    Extension(api): Extension<DirectoryApi>,
    q: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&session, ADMINS)?;
    let q = q
        .map(|Query(q)| q)
        .map_err(|r| ApiError::Unprocessable(r.body_text()))?;
    let preview = match q.mode.as_deref().unwrap_or("preview") {
        "preview" => true,
        "commit" => false,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "mode must be preview or commit, not {other:?}"
            )));
        }
    };
    let items: Vec<&str> = q.map.as_deref().map_or(Vec::new(), |m| {
        m.split(',').filter(|s| !s.trim().is_empty()).collect()
    });
    let overrides = importer::parse_overrides(&items).map_err(ApiError::Unprocessable)?;
    let limit = usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_FILE_BYTES) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let file = spool(body).await?;
    let opts = ImportOptions {
        preview,
        valid_only: q.valid_only.unwrap_or(false),
        overrides,
        country_code: api.country_code.clone(),
        preview_rows: q.preview_rows.unwrap_or(PREVIEW_ROWS).min(200),
    };
    let report = match importer::import_file(&st.store, file.path().to_owned(), opts).await {
        Ok(r) => r,
        Err(ImportError::Csv(e)) => return Ok(unprocessable(e.to_string())),
        Err(ImportError::TooLarge) => return Err(ApiError::PayloadTooLarge { limit }),
        Err(ImportError::Store(e)) => return Err(ApiError::Store(e)),
        Err(e) => {
            tracing::warn!(error = %e, "CSV import failed");
            return Ok(unprocessable(e.to_string()));
        }
    };
    drop(file);
    if !preview {
        let audit = NewAudit {
            at: now_ms(),
            actor: session.agent_id.clone(),
            action: "customers_import".into(),
            target: "customers".into(),
            details: serde_json::json!({
                "rows": report.rows,
                "valid": report.valid,
                "rejected": report.rejected,
                "inserted": report.inserted,
                "updated": report.updated,
                "committed": report.committed,
                "valid_only": q.valid_only.unwrap_or(false),
            }),
        };
        st.store.append_audit(&audit).await?;
    }
    let status = if !preview && !report.committed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

/// Streams the request body into a temporary file, at most [`MAX_FILE_BYTES`].
async fn spool(body: Body) -> Result<tempfile::NamedTempFile, ApiError> {
    let limit = usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX);
    let io = |e: std::io::Error| {
        tracing::warn!(error = %e, "cannot spool an upload");
        ApiError::Unavailable
    };
    let file = tempfile::NamedTempFile::new().map_err(io)?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(io)?);
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("the upload was cut off".to_owned()))?;
        total = total.saturating_add(chunk.len() as u64);
        if total > MAX_FILE_BYTES {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    Ok(file)
}

/// Where a customer came from and which fields its source owns (hand edits keep those).
async fn origin(
    State(st): State<ApiState>,
    session: Session,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_role(&session, ADMINS)?;
    let id = crate::domain::CustomerId::from_string(id);
    st.store
        .customer_origin(&id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// The sync's state and its recent runs.
#[derive(Serialize)]
struct StatusView {
    #[serde(flatten)]
    status: DirectoryStatus,
    runs: Vec<SyncRun>,
}

async fn status(
    State(st): State<ApiState>,
    session: Session,
    Extension(api): Extension<DirectoryApi>,
) -> Result<Json<StatusView>, ApiError> {
    require_role(&session, ADMINS)?;
    let runs = st.store.recent_sync_runs("ldap", 20).await?;
    Ok(Json(StatusView {
        status: api.directory.status(),
        runs,
    }))
}

async fn sync_now(
    State(st): State<ApiState>,
    session: Session,
    Extension(api): Extension<DirectoryApi>,
) -> Result<Response, ApiError> {
    require_role(&session, ADMINS)?;
    let result = match api.directory.sync_now(SYNC_WAIT).await {
        Ok(r) => r,
        Err(crate::directory::SyncError::NotConfigured) => {
            return Ok(unprocessable(
                "no directory is configured ([directory] url)".into(),
            ));
        }
        Err(_) => return Err(ApiError::Unavailable),
    };
    let details = match &result {
        Ok(o) => serde_json::json!({
            "ok": true, "seen": o.seen, "inserted": o.counts.inserted,
            "updated": o.counts.updated, "deactivated": o.deactivated, "rejected": o.rejected,
        }),
        Err(e) => serde_json::json!({"ok": false, "error": e}),
    };
    st.store
        .append_audit(&NewAudit {
            at: now_ms(),
            actor: session.agent_id.clone(),
            action: "directory_sync".into(),
            target: "directory".into(),
            details: details.clone(),
        })
        .await?;
    let status = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok((status, Json(details)).into_response())
}

/// After the local password check failed: when sign-in with directory accounts is on and
/// `login` is not a local account (unknown here, or made by the directory), the directory
/// decides. Their agent row, `Ok(None)` when refused, or the 503 to answer.
pub(super) async fn after_local_failure(
    st: &ApiState,
    directory: Option<&Directory>,
    known: bool,
    login: &str,
    password: String,
) -> Result<Option<crate::store::AgentRow>, Response> {
    let Some(directory) = directory else {
        return Ok(None);
    };
    let cfg = directory.config();
    if !(cfg.enabled() && cfg.sign_in.enabled) {
        return Ok(None);
    }
    if known {
        let source = st.store.agent_source(login).await;
        let source = source.map_err(|e| ApiError::Store(e).into_response())?;
        if source.is_none_or(|(source, _)| source != "ldap") {
            return Ok(None);
        }
    }
    sign_in(st, directory, login, &password).await
}

/// Signs `login` in against the directory: their agent row (created or updated from the
/// directory), `Ok(None)` when refused, or the 503 to answer when the directory is away.
async fn sign_in(
    st: &ApiState,
    directory: &Directory,
    login: &str,
    password: &str,
) -> Result<Option<crate::store::AgentRow>, Response> {
    let internal = |e: crate::store::StoreError| ApiError::Store(e).into_response();
    match crate::directory::authenticate(directory.config(), login, password).await {
        Ok(crate::directory::SignInResult::Accepted(account)) => {
            let stored = st
                .store
                .upsert_directory_agent(login, &account.name, account.role, account.level, now_ms())
                .await
                .map_err(internal)?;
            if !stored {
                tracing::info!(login = %login.escape_debug(), "directory sign-in of a deactivated account refused");
                return Ok(None);
            }
            tracing::info!(login = %login.escape_debug(), role = account.role, level = account.level, "directory account signed in");
            st.store.agent_by_login(login).await.map_err(internal)
        }
        Ok(crate::directory::SignInResult::Refused) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "directory sign-in: the directory cannot be reached");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(ErrorBody {
                    error: "the company directory cannot be reached; try again shortly (local \
                            accounts still sign in)"
                        .into(),
                }),
            )
                .into_response())
        }
    }
}
