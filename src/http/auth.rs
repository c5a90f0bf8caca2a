//! Authentication, as an extractor whose type names the roles a route admits: `Auth<AnyUser>`,
//! `Auth<Staff>`, `Auth<AdminOnly>`, and `Auth<SignedIn>` for the few routes a user whose
//! password was reset may use before changing it. A request is signed in by an API token or a
//! session secret in `Authorization: Bearer …`, or by the session cookie `tm_session`, whose
//! writes must carry the session's CSRF token in `X-CSRF-Token`.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use super::error::{ApiError, RequestId};
use crate::app::{App, Code, Error, accounts, sessions};
use crate::domain::account::SESSION_PREFIX;
use crate::domain::record::{Origin, Principal};
use crate::domain::vocab::Role;

/// The cookie a browser's session travels in (HttpOnly).
pub const SESSION_COOKIE: &str = "tm_session";
/// The cookie that hands the CSRF token to the browser's script (readable, not HttpOnly).
pub const CSRF_COOKIE: &str = "tm_csrf";
/// The header a cookie-signed write carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Which roles a route admits.
pub trait Requirement {
    fn admits(role: Role) -> bool;
    /// Who may use the route, for the error message.
    const WHO: &'static str;
    /// Whether a user whose password an admin reset may use the route before changing it.
    const DURING_RESET: bool = false;
}

/// Any signed-in user, even one who must change the password first (who am I, change my
/// password, sign out).
pub struct SignedIn;

impl Requirement for SignedIn {
    fn admits(_: Role) -> bool {
        true
    }
    const WHO: &'static str = "any signed-in user";
    const DURING_RESET: bool = true;
}

/// Any signed-in user.
pub struct AnyUser;
/// Technology managers and admins.
pub struct Staff;
/// Admins only.
pub struct AdminOnly;

impl Requirement for AnyUser {
    fn admits(_: Role) -> bool {
        true
    }
    const WHO: &'static str = "any signed-in user";
}

impl Requirement for Staff {
    fn admits(role: Role) -> bool {
        role.is_staff()
    }
    const WHO: &'static str = "technology managers and admins";
}

impl Requirement for AdminOnly {
    fn admits(role: Role) -> bool {
        role == Role::Admin
    }
    const WHO: &'static str = "admins";
}

/// The authenticated user of a request, admitted by `R`.
pub struct Auth<R: Requirement> {
    pub principal: Principal,
    _requirement: PhantomData<R>,
}

impl<R: Requirement> Deref for Auth<R> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

fn unauthenticated(message: &str) -> Error {
    Error::new(Code::Unauthenticated, message)
}

/// Resolves the credential of a request (bearer token or session, else the session cookie) to
/// the user it acts for.
pub async fn authenticate(cx: &App, req: &HttpRequest) -> Result<Principal, Error> {
    let mut principal = match req.headers().get(actix_web::http::header::AUTHORIZATION) {
        Some(header) => {
            let value =
                header.to_str().map_err(|_| unauthenticated("the Authorization header is not readable text"))?;
            let secret = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| unauthenticated("the Authorization header must read `Bearer <token>`"))?;
            if secret.starts_with(SESSION_PREFIX) {
                sessions::authenticate(cx, secret, false, false, None).await?
            } else {
                accounts::authenticate(cx, secret).await?
            }
        }
        None => match req.cookie(SESSION_COOKIE) {
            Some(cookie) => {
                let write = !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
                let csrf = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                sessions::authenticate(cx, cookie.value(), true, write, csrf).await?
            }
            None => {
                return Err(unauthenticated(
                    "sign in (POST /api/v1/sessions), or send an API token in the header `Authorization: Bearer tm_...`",
                )
                .zh("请先登录（POST /api/v1/sessions），或在 Authorization 头中带上访问令牌 `Bearer tm_...`"));
            }
        },
    };
    principal.origin = origin(req);
    Ok(principal)
}

/// Where a request came from, for the record of who did what: its id (the one in the
/// `x-request-id` answer header) and the address of the connection's peer (not a header a
/// client could write).
fn origin(req: &HttpRequest) -> Origin {
    use actix_web::HttpMessage;
    Origin {
        request_id: req.extensions().get::<RequestId>().map(|id| id.0.clone()),
        client: req.peer_addr().map(|addr| addr.ip().to_string()),
        operation: req.match_pattern().map(|pattern| format!("{} {pattern}", req.method())),
    }
}

/// Where an unauthenticated request came from (a sign-in attempt).
pub fn anonymous_origin(req: &HttpRequest) -> Origin {
    origin(req)
}

impl<R: Requirement + 'static> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let cx = req.app_data::<web::Data<App>>().ok_or_else(Error::internal)?.clone();
            let principal = authenticate(&cx, &req).await?;
            {
                use actix_web::HttpMessage;
                // The middleware names the actor in the request's log line and audits a refusal.
                req.extensions_mut().insert(principal.clone());
            }
            if principal.must_change_password && !R::DURING_RESET {
                return Err(Error::new(
                    Code::PasswordChangeRequired,
                    "an admin reset your password: change it first (PUT /api/v1/me/password)",
                )
                .zh("管理员已重置您的密码：请先修改密码（PUT /api/v1/me/password）")
                .into());
            }
            if !R::admits(principal.role) {
                return Err(Error::forbidden(format!(
                    "this route is for {}; you are signed in as `{}`",
                    R::WHO,
                    principal.role
                ))
                .into());
            }
            Ok::<Self, ApiError>(Auth { principal, _requirement: PhantomData })
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::HttpMessage;

    use super::{Origin, RequestId, origin};

    #[test]
    fn a_request_names_its_id_and_the_connection_peer_not_a_forwarded_header() {
        let req = actix_web::test::TestRequest::get()
            .peer_addr("203.0.113.7:52100".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.1"))
            .to_http_request();
        req.extensions_mut().insert(RequestId("请求-42".into()));
        assert_eq!(
            origin(&req),
            Origin { request_id: Some("请求-42".into()), client: Some("203.0.113.7".into()), operation: None }
        );
    }
}
