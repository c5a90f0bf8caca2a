//! Authentication by bearer token, as an extractor whose type names the roles a route admits:
//! `Auth<AnyUser>`, `Auth<Staff>`, `Auth<AdminOnly>`.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use super::error::{ApiError, RequestId};
use crate::app::{App, Code, Error, accounts};
use crate::domain::record::{Origin, Principal};
use crate::domain::vocab::Role;

/// Which roles a route admits.
pub trait Requirement {
    fn admits(role: Role) -> bool;
    /// Who may use the route, for the error message.
    const WHO: &'static str;
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

/// Resolves the bearer token of a request to the user it acts for.
pub async fn authenticate(cx: &App, req: &HttpRequest) -> Result<Principal, Error> {
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION).ok_or_else(|| {
        unauthenticated("send an API token in the header `Authorization: Bearer tm_...`; an admin issues tokens")
    })?;
    let value = header.to_str().map_err(|_| unauthenticated("the Authorization header is not readable text"))?;
    let secret = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unauthenticated("the Authorization header must read `Bearer <token>`"))?;
    let mut principal = accounts::authenticate(cx, secret).await?;
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
    }
}

impl<R: Requirement + 'static> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let cx = req.app_data::<web::Data<App>>().ok_or_else(Error::internal)?.clone();
            let principal = authenticate(&cx, &req).await?;
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
        assert_eq!(origin(&req), Origin { request_id: Some("请求-42".into()), client: Some("203.0.113.7".into()) });
    }
}
