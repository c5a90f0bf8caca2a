//! Signing in and out, passwords, sessions, and the audit log.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AdminOnly, Auth, CSRF_COOKIE, SESSION_COOKIE, SignedIn, anonymous_origin};
use super::error::{ApiError, ErrorBody};
use super::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parse_body, parse_id, parse_time};
use crate::app::views::{AuditEntryResponse, PageResponse, SessionResponse, SignedInResponse};
use crate::app::{App, Code, Error, audit, sessions};
use crate::domain::account::{PasswordChangeInput, PasswordResetInput, SignInInput};
use crate::domain::audit::{AuditQuery, Outcome};

fn cookie<'a>(cx: &App, name: &'a str, value: String, http_only: bool) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(http_only)
        .same_site(SameSite::Strict)
        .secure(cx.secure_cookies)
        .max_age(actix_web::cookie::time::Duration::hours(cx.accounts.session_max_hours))
        .finish()
}

/// Sign in with a login (mobile number or e-mail) and a password. The session's secret is in the
/// body (for API clients) and in the HttpOnly cookie `tm_session` (for browsers, with its CSRF
/// token in the readable cookie `tm_csrf`). Failed attempts are limited per login and per
/// address (429 with Retry-After).
#[utoipa::path(
    tag = "sessions",
    request_body = SignInInput,
    responses((status = 201, body = SignedInResponse), (status = 400, body = ErrorBody), (status = 401, description = "Wrong login or password", body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, description = "Too many failed attempts", body = ErrorBody))
)]
#[post("/sessions")]
pub async fn sign_in(cx: web::Data<App>, req: HttpRequest, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let input: SignInInput = parse_body(body.into_inner())?;
    let signed_in = sessions::sign_in(&cx, input, anonymous_origin(&req)).await?;
    Ok(HttpResponse::Created()
        .cookie(cookie(&cx, SESSION_COOKIE, signed_in.secret, true))
        .cookie(cookie(&cx, CSRF_COOKIE, signed_in.csrf, false))
        .json(signed_in.response))
}

/// Sign out: the session of this request ends at once, and the browser's cookies are cleared.
#[utoipa::path(
    tag = "sessions",
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorBody), (status = 422, description = "Signed in by an API token", body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/sessions/current")]
pub async fn sign_out(cx: web::Data<App>, auth: Auth<SignedIn>) -> Result<HttpResponse, ApiError> {
    sessions::sign_out(&cx, &auth).await?;
    let mut gone = cookie(&cx, SESSION_COOKIE, String::new(), true);
    gone.make_removal();
    let mut csrf_gone = cookie(&cx, CSRF_COOKIE, String::new(), false);
    csrf_gone.make_removal();
    Ok(HttpResponse::build(StatusCode::NO_CONTENT).cookie(gone).cookie(csrf_gone).finish())
}

/// The signed-in user's sessions, newest first (`current` marks this request's).
#[utoipa::path(
    tag = "sessions",
    responses((status = 200, body = Vec<SessionResponse>), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/sessions")]
pub async fn list_sessions(cx: web::Data<App>, auth: Auth<SignedIn>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(sessions::sessions(&cx, &auth).await?))
}

/// Change one's own password; every other session of the user ends.
#[utoipa::path(
    tag = "sessions",
    request_body = PasswordChangeInput,
    responses((status = 204, description = "Changed"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[put("/me/password")]
pub async fn change_password(
    cx: web::Data<App>,
    auth: Auth<SignedIn>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: PasswordChangeInput = parse_body(body.into_inner())?;
    sessions::change_password(&cx, &auth, input).await?;
    Ok(HttpResponse::build(StatusCode::NO_CONTENT).finish())
}

/// Give a user a login and a temporary password, which the user must change at the next
/// sign-in; the user's sessions end (administrators).
#[utoipa::path(
    tag = "sessions",
    params(("id" = String, Path, description = "User id")),
    request_body = PasswordResetInput,
    responses((status = 204, description = "Reset"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Login taken", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/users/{id}/password")]
pub async fn reset_password(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("user", &id)?;
    let input: PasswordResetInput = parse_body(body.into_inner())?;
    sessions::reset_password(&cx, &auth, id, input).await?;
    Ok(HttpResponse::build(StatusCode::NO_CONTENT).finish())
}

/// How many sessions an admin ended.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EndedSessions {
    pub ended: u64,
}

/// End every session of a user at once (administrators).
#[utoipa::path(
    tag = "sessions",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = EndedSessions), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/users/{id}/sessions")]
pub async fn end_sessions(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("user", &id)?;
    let ended = sessions::end_sessions(&cx, &auth, id).await?;
    Ok(HttpResponse::Ok().json(EndedSessions { ended }))
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// A user id, `system:<name>` or `anonymous`.
    pub actor: Option<String>,
    /// A record id the entry names.
    pub record: Option<String>,
    /// From this time (RFC 3339 or YYYY-MM-DD), inclusive.
    pub from: Option<String>,
    /// Before this time (RFC 3339 or YYYY-MM-DD).
    pub to: Option<String>,
    /// ok, denied or failed.
    pub outcome: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1-100, default 20.
    pub limit: Option<u32>,
}

impl AuditParams {
    fn into_query(self) -> Result<AuditQuery, Error> {
        let bad = |m: String| Error::new(Code::InvalidQuery, m);
        let time = |name: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    parse_time(t).ok_or_else(|| bad(format!("`{name}` must be RFC 3339 or YYYY-MM-DD (got `{t}`)")))
                })
                .transpose()
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(bad(format!("`limit` must be from 1 to {MAX_PAGE_SIZE} (got {limit})")));
        }
        let outcome = match self.outcome.as_deref() {
            None => None,
            Some(text) => Some(
                Outcome::parse(text)
                    .ok_or_else(|| bad(format!("`outcome` must be ok, denied or failed (got `{text}`)")))?,
            ),
        };
        let before = match self.cursor.as_deref() {
            None => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(format!("`cursor` `{text}` is not a cursor from a previous page")))?,
            ),
        };
        if let Some(record) = &self.record {
            parse_id("record", record)?;
        }
        if self.actor.as_ref().is_some_and(|a| a.chars().count() > 100) {
            return Err(bad("`actor` is at most 100 characters".into()));
        }
        Ok(AuditQuery {
            actor: self.actor,
            record: self.record,
            from: time("from", &self.from)?,
            to: time("to", &self.to)?,
            outcome,
            before,
            limit,
        })
    }
}

/// Read the audit log, newest first (administrators): who did or tried what, when, from where.
#[utoipa::path(
    tag = "audit",
    params(AuditParams),
    responses((status = 200, body = PageResponse<AuditEntryResponse>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/audit")]
pub async fn list_audit(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_inner().into_query()?;
    Ok(HttpResponse::Ok().json(audit::entries(&cx, &auth, query).await?))
}

/// Export the audit log's entries matching the filters as CSV (administrators); the export is
/// itself audited.
#[utoipa::path(
    tag = "audit",
    params(AuditParams),
    responses((status = 200, description = "CSV, UTF-8 with a byte-order mark", content_type = "text/csv"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/audit/export")]
pub async fn export_audit(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_inner().into_query()?;
    let csv = audit::export(&cx, &auth, query).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("content-disposition", "attachment; filename=\"audit.csv\""))
        .body(csv))
}
