//! What the routes of both libraries (needs, achievements) do alike: decode, call
//! `app::records`, encode with `ETag` (and `Location` when created). The library modules keep
//! only their documented handlers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::error::ApiError;
use super::{ListParams, expected_version, optional_version, parse_body, parse_id};
use crate::app::records::{self, LibraryRecord, Viewed};
use crate::app::views::PageResponse;
use crate::app::{App, Error};
use crate::domain::record::Principal;

/// A record's JSON with its version as `ETag`, and `Location` when it is new.
fn respond<R: LibraryRecord>(status: StatusCode, viewed: Viewed<R::Response>) -> Result<HttpResponse, ApiError> {
    let mut builder = HttpResponse::build(status);
    builder.insert_header((actix_web::http::header::ETAG, format!("\"{}\"", viewed.version)));
    if status == StatusCode::CREATED {
        let location = format!("/api/v1/{}/{}", R::LIBRARY.route(), viewed.id);
        builder.insert_header((actix_web::http::header::LOCATION, location));
    }
    if viewed.duplicates.is_empty() {
        return Ok(builder.json(viewed.view));
    }
    let mut body = serde_json::to_value(viewed.view).map_err(|_| Error::internal())?;
    body["possible_duplicates"] = serde_json::to_value(&viewed.duplicates).map_err(|_| Error::internal())?;
    Ok(builder.json(body))
}

pub async fn create<R: LibraryRecord>(cx: &App, who: &Principal, body: Value) -> Result<HttpResponse, ApiError> {
    let input: R::Input = parse_body(body)?;
    respond::<R>(StatusCode::CREATED, records::create::<R>(cx, who, input).await?)
}

pub async fn list<R: LibraryRecord>(cx: &App, who: &Principal, params: ListParams) -> Result<HttpResponse, ApiError> {
    let query = params.into_query(R::LIBRARY)?;
    let page = records::list::<R>(cx, who, &query).await?;
    Ok(HttpResponse::Ok().json(PageResponse::from(page)))
}

pub async fn get<R: LibraryRecord>(cx: &App, who: &Principal, id: &str) -> Result<HttpResponse, ApiError> {
    let id = parse_id(R::LIBRARY.name(), id)?;
    respond::<R>(StatusCode::OK, records::get::<R>(cx, who, id).await?)
}

pub async fn update<R: LibraryRecord>(
    cx: &App,
    who: &Principal,
    req: &HttpRequest,
    id: &str,
    body: Value,
) -> Result<HttpResponse, ApiError> {
    let patch: R::Input = parse_body(body)?;
    let id = parse_id(R::LIBRARY.name(), id)?;
    let expected = expected_version(req, R::input_version(&patch));
    respond::<R>(StatusCode::OK, records::update::<R>(cx, who, id, patch, expected).await?)
}

pub async fn change_status<R: LibraryRecord>(
    cx: &App,
    who: &Principal,
    req: &HttpRequest,
    id: &str,
    action: &str,
) -> Result<HttpResponse, ApiError> {
    let action = records::parse_action(action)?;
    let id = parse_id(R::LIBRARY.name(), id)?;
    let expected = optional_version(req);
    respond::<R>(StatusCode::OK, records::change_status::<R>(cx, who, id, action, expected).await?)
}

/// The five routes of a library of records (post, list, read, change, close/withdraw/reopen),
/// written once for both libraries: each instance gives its paths, types and the words of its
/// documentation. The handlers only decode and call the steps above.
macro_rules! library_routes {
    (
        record: $record:ty, input: $input:ty, response: $response:ty,
        tag: $tag:literal, collection: $collection:literal, item: $item:literal, action: $action:literal,
        id: $id_doc:literal, create_doc: [$($create_doc:literal),+],
        created: $created:literal, read: $read:literal, missing: $missing:literal,
        list_doc: $list_doc:literal, read_doc: $read_doc:literal, update_doc: $update_doc:literal,
        status_doc: $status_doc:literal,
        create: $create:ident, list: $list:ident, get: $get:ident, update: $update:ident, status: $status:ident $(,)?
    ) => {
        use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
        use serde_json::Value;

        use super::auth::{AnyUser, Auth};
        use super::error::{ApiError, ErrorBody};
        use super::{ListParams, records};
        use crate::app::App;
        use crate::app::views::PageResponse;

        $(#[doc = $create_doc])+
        #[utoipa::path(
            tag = $tag,
            request_body = $input,
            responses(
                (status = 201, description = $created, body = $response),
                (status = 400, description = "Malformed JSON, unknown field or wrong type", body = ErrorBody),
                (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
                (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
                (status = 422, description = "Validation failed; `details.fields` lists every problem", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        #[post($collection)]
        pub async fn $create(
            cx: web::Data<App>,
            auth: Auth<AnyUser>,
            body: web::Json<Value>,
        ) -> Result<HttpResponse, ApiError> {
            records::create::<$record>(&cx, &auth, body.into_inner()).await
        }

        #[doc = $list_doc]
        #[utoipa::path(
            tag = $tag,
            params(ListParams),
            responses((status = 200, body = PageResponse<$response>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
            security(("bearer" = []))
        )]
        #[get($collection)]
        pub async fn $list(
            cx: web::Data<App>,
            auth: Auth<AnyUser>,
            params: web::Query<ListParams>,
        ) -> Result<HttpResponse, ApiError> {
            records::list::<$record>(&cx, &auth, params.into_inner()).await
        }

        #[doc = $read_doc]
        #[utoipa::path(
            tag = $tag,
            params(("id" = String, Path, description = $id_doc)),
            responses(
                (status = 200, description = $read, body = $response),
                (status = 400, body = ErrorBody),
                (status = 404, description = $missing, body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        #[get($item)]
        pub async fn $get(
            cx: web::Data<App>,
            auth: Auth<AnyUser>,
            id: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            records::get::<$record>(&cx, &auth, &id).await
        }

        #[doc = $update_doc]
        ///
        /// Send only the fields to change; `null` clears an optional one. The version you read must be
        /// sent as `If-Match: "<version>"` or as `version`; if the record changed since, 409.
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = String, Path, description = $id_doc),
                ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\""),
            ),
            request_body = $input,
            responses(
                (status = 200, body = $response),
                (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                (status = 409, description = "Stale version", body = ErrorBody),
                (status = 422, body = ErrorBody), (status = 428, description = "No version sent", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        #[patch($item)]
        pub async fn $update(
            cx: web::Data<App>,
            auth: Auth<AnyUser>,
            req: HttpRequest,
            id: web::Path<String>,
            body: web::Json<Value>,
        ) -> Result<HttpResponse, ApiError> {
            records::update::<$record>(&cx, &auth, &req, &id, body.into_inner()).await
        }

        #[doc = $status_doc]
        ///
        /// `close`: no longer sought or offered (open → closed). `withdraw`: taken back for good (open
        /// or closed → withdrawn). `reopen`: closed → open. `If-Match` is optional here.
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = String, Path, description = $id_doc),
                ("action" = String, Path, description = "close | withdraw | reopen"),
            ),
            responses(
                (status = 200, body = $response),
                (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                (status = 409, description = "Not allowed from the current status; `details.allowed` lists what is", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        #[post($action)]
        pub async fn $status(
            cx: web::Data<App>,
            auth: Auth<AnyUser>,
            req: HttpRequest,
            path: web::Path<(String, String)>,
        ) -> Result<HttpResponse, ApiError> {
            let (id, action) = path.into_inner();
            records::change_status::<$record>(&cx, &auth, &req, &id, &action).await
        }
    };
}

pub(super) use library_routes;
