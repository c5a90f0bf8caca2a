//! Notifications: every user's inbox, webhook subscriptions and their delivery log.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AnyUser, Auth};
use super::error::{ApiError, ErrorBody};
use super::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parse_body, parse_id};
use crate::app::notifications::{self, DeliveryResponse, InboxResponse, SubscriptionCreated, SubscriptionResponse};
use crate::app::views::PageResponse;
use crate::app::{App, Code, Error};
use crate::domain::notification::{DeliveryStatus, SubscriptionInput};

fn page_size(limit: Option<u32>) -> Result<u32, Error> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::new(Code::InvalidQuery, format!("`limit` must be from 1 to {MAX_PAGE_SIZE} (got {limit})"))
            .zh(format!("limit 应在 1 到 {MAX_PAGE_SIZE} 之间(收到 {limit})")))
    }
}

/// The inbox's filters and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// Only unread notifications.
    pub unread: Option<bool>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1-100, default 20.
    pub limit: Option<u32>,
}

/// Your notifications: what happened that you may know of (new suggestions for managers;
/// dockings, contracts and milestones of your organisation once the parties may see them; your
/// records about to expire or expired; the weekly summary). Unread first, newest first.
#[utoipa::path(
    tag = "notifications",
    params(InboxParams),
    responses((status = 200, body = InboxResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/notifications")]
pub async fn inbox(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    params: web::Query<InboxParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let limit = page_size(p.limit)?;
    let page = notifications::inbox(&cx, &auth, p.unread.unwrap_or(false), p.cursor.as_deref(), limit).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Mark one notification read.
#[utoipa::path(
    tag = "notifications",
    params(("seq" = i64, Path, description = "The notification's `seq`")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/notifications/{seq}/read")]
pub async fn mark_read(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    seq: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let seq: i64 = seq.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::new(Code::InvalidPath, format!("`{seq}` is not a notification's number (its `seq`)"))
            .zh(format!("`{seq}` 不是通知编号(seq)"))
    })?;
    notifications::mark_read(&cx, &auth, seq).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How many notifications were marked read.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MarkedRead {
    pub marked: i64,
}

/// Mark every notification read.
#[utoipa::path(
    tag = "notifications",
    responses((status = 200, body = MarkedRead), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/notifications/read-all")]
pub async fn mark_all_read(cx: web::Data<App>, auth: Auth<AnyUser>) -> Result<HttpResponse, ApiError> {
    let marked = notifications::mark_all_read(&cx, &auth).await?;
    Ok(HttpResponse::Ok().json(MarkedRead { marked }))
}

/// Register a webhook: where your organisation's events (or, for managers, the market's) are
/// sent, in which format (`generic` JSON signed with HMAC-SHA256, or the group robots of 企业微信,
/// 钉钉 and 飞书), for which kinds of events. The URL must be http(s) and resolve to public
/// addresses only. The generic format's secret is generated and returned this once.
#[utoipa::path(
    tag = "notifications",
    request_body = SubscriptionInput,
    responses((status = 201, body = SubscriptionCreated), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, description = "The URL is refused (scheme, address) or a field does not fit the format", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/subscriptions")]
pub async fn subscribe(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: SubscriptionInput = parse_body(body.into_inner())?;
    let created = notifications::subscribe(&cx, &auth, input).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/subscriptions/{}", created.subscription.id),
        ))
        .json(created))
}

/// The webhook subscriptions you manage (your organisation's; managers the market's too).
#[utoipa::path(
    tag = "notifications",
    responses((status = 200, body = Vec<SubscriptionResponse>), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/subscriptions")]
pub async fn list_subscriptions(cx: web::Data<App>, auth: Auth<AnyUser>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(notifications::subscriptions(&cx, &auth).await?))
}

/// One webhook subscription (never its secret, nor its URL's query).
#[utoipa::path(
    tag = "notifications",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/subscriptions/{id}")]
pub async fn get_subscription(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("subscription", &id)?;
    Ok(HttpResponse::Ok().json(notifications::subscription(&cx, &auth, id).await?))
}

/// End a webhook subscription: nothing more is sent to it.
#[utoipa::path(
    tag = "notifications",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[delete("/subscriptions/{id}")]
pub async fn end_subscription(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("subscription", &id)?;
    notifications::unsubscribe(&cx, &auth, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The delivery log's filters and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// pending, delivered or dead.
    pub status: Option<DeliveryStatus>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1-100, default 20.
    pub limit: Option<u32>,
}

/// A subscription's deliveries, newest event first: status, attempts, the last answer's code,
/// error and latency.
#[utoipa::path(
    tag = "notifications",
    params(("id" = String, Path, description = "Subscription id"), DeliveryParams),
    responses((status = 200, body = PageResponse<DeliveryResponse>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/subscriptions/{id}/deliveries")]
pub async fn list_deliveries(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
    params: web::Query<DeliveryParams>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("subscription", &id)?;
    let p = params.into_inner();
    let limit = page_size(p.limit)?;
    Ok(HttpResponse::Ok().json(notifications::deliveries(&cx, &auth, id, p.status, p.cursor.as_deref(), limit).await?))
}

/// One delivery with the log of its attempts.
#[utoipa::path(
    tag = "notifications",
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/deliveries/{id}")]
pub async fn get_delivery(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("delivery", &id)?;
    Ok(HttpResponse::Ok().json(notifications::delivery(&cx, &auth, id).await?))
}

/// Send a delivered or given-up delivery again, now (a new round of attempts).
#[utoipa::path(
    tag = "notifications",
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Pending already", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/deliveries/{id}/redeliver")]
pub async fn redeliver(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("delivery", &id)?;
    Ok(HttpResponse::Ok().json(notifications::redeliver(&cx, &auth, id).await?))
}
