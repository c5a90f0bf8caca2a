//! What the routes of both libraries (needs, achievements) do alike: decode, call
//! `app::records`, encode with `ETag` (and `Location` when created). The library modules
//! (`needs`, `achievements`) keep only their documented handlers, which call these.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::error::ApiError;
use super::{ListParams, expected_version, optional_json, optional_version, parse_body, parse_id};
use crate::app::records::{self, LibraryRecord, Viewed};
use crate::app::views::PageResponse;
use crate::app::{App, Code, Error};
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
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    // The body is optional (the document allows `null` for "nothing to send"); when sent it
    // has the documented shape, whatever the action.
    let body = match optional_json(req, body)? {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    let input: records::RenewInput = parse_body(body)?;
    let expected = optional_version(req).map(|v| v.or(input.version));
    if action == "renew" {
        let id = parse_id(R::LIBRARY.name(), id)?;
        return respond::<R>(StatusCode::OK, records::renew::<R>(cx, who, id, input, expected).await?);
    }
    if input.deadline.is_some() {
        return Err(Error::new(Code::FieldNotAllowed, format!("`deadline` goes with `renew`, not `{action}`"))
            .zh(format!("deadline 只能随续期(renew)提交,不能用于 `{action}`"))
            .into());
    }
    let action = records::parse_action(action)?;
    let id = parse_id(R::LIBRARY.name(), id)?;
    respond::<R>(StatusCode::OK, records::change_status::<R>(cx, who, id, action, expected).await?)
}
