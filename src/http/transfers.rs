//! The transfer library (落地转化库): the contract a signed docking became, its milestones and its
//! outcomes. Managers create (by signing) and update; the two parties read their own.

use actix_web::{HttpRequest, HttpResponse, get, patch, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::{AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::views::OrgRef;
use super::{AppState, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, expected_version, parse_body, parse_id};
use crate::domain::docking::Docking;
use crate::domain::record::{Principal, private_to_others};
use crate::domain::stats::StatsFilter;
use crate::domain::transfer::{ContractType, Defaults, Milestone, Outcomes, Transfer, TransferContent, TransferInput};
use crate::domain::validate::{self as v, region_name};
use crate::domain::vocab::{TechField, Visibility};
use crate::domain::{is_valid_id, market_today, new_id, now};
use crate::storage::TransferQuery;

/// The transfer a signing creates, from the contract sent with it and the docking's records.
pub(super) async fn new_transfer(
    state: &AppState,
    viewer: &Principal,
    docking: &Docking,
    contract: Option<&TransferInput>,
) -> Result<Transfer, ApiError> {
    let Some(contract) = contract else {
        return Err(ApiError::unprocessable(
            "contract_required",
            "signing needs the contract: send {\"contract\": {\"contract_type\": \"transfer\", \"amount\": \"120.50\", \"signed_on\": \"YYYY-MM-DD\"}}; contract types: development (技术开发), transfer (技术转让), license (技术许可), service (技术服务), consulting (技术咨询)",
        ));
    };
    if contract.version.is_some() {
        return Err(ApiError::unprocessable("read_only_field", "`contract.version` is for updates of a transfer"));
    }
    let need =
        state.store.get_need(&docking.need_id).await?.ok_or_else(|| ApiError::not_found("need", &docking.need_id))?;
    let defaults = Defaults { landing_enterprise: &need.meta.org_name, landing_region: &need.content.region };
    let content = TransferContent::parse(contract, &defaults, market_today(now())).map_err(|e| {
        let mut err = ApiError::from(e);
        err.message = format!("contract: {}", err.message);
        err
    })?;
    let at = now();
    Ok(Transfer {
        id: new_id(),
        docking_id: docking.id.clone(),
        need_id: docking.need_id.clone(),
        achievement_id: docking.achievement_id.clone(),
        need_org_id: docking.need_org_id.clone(),
        achievement_org_id: docking.achievement_org_id.clone(),
        manager_id: docking.manager_id.clone(),
        field: docking.field,
        content,
        created_by: Some(viewer.user_id.clone()),
        created_at: at,
        updated_at: at,
        version: 1,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferParty {
    pub id: String,
    /// Empty when the record is private to its owner and the viewer is someone else.
    pub title: String,
    pub owner: OrgRef,
    /// The owner has made the record private since: others see only its id.
    pub private: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MilestoneView {
    #[serde(flatten)]
    pub milestone: Milestone,
    pub kind_label: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    pub id: String,
    pub docking_id: String,
    /// The enterprise's need and the university's achievement.
    pub need: TransferParty,
    pub achievement: TransferParty,
    pub manager_id: Option<String>,
    pub field: TechField,
    pub field_label: &'static str,
    pub contract_type: ContractType,
    pub contract_type_label: &'static str,
    /// 万元, exact, two decimals.
    pub amount: String,
    #[schema(value_type = String, format = Date)]
    pub signed_on: NaiveDate,
    pub registration_number: Option<String>,
    pub landing_enterprise: String,
    pub landing_region: String,
    pub landing_region_name: Option<&'static str>,
    pub milestones: Vec<MilestoneView>,
    pub outcomes: Outcomes,
    /// The date of the 量产/产业化 milestone, once reported.
    #[schema(value_type = Option<String>, format = Date)]
    pub landed_on: Option<NaiveDate>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferPage {
    pub items: Vec<TransferResponse>,
    pub next_cursor: Option<String>,
}

/// Whether `viewer` may read `t`: managers and admins, and the two parties.
fn may_read(viewer: &Principal, t: &Transfer) -> bool {
    viewer.role.is_staff() || viewer.org_id == t.need_org_id || viewer.org_id == t.achievement_org_id
}

/// The views of a page of transfers, loading both sides' records in two queries. Both parties
/// were introduced before signing, so each sees the other's title.
/// A record its owner has made private shows only its id to everyone else.
async fn views(
    state: &AppState,
    viewer: &Principal,
    transfers: Vec<Transfer>,
) -> Result<Vec<TransferResponse>, ApiError> {
    let need_ids: Vec<String> = transfers.iter().map(|t| t.need_id.clone()).collect();
    let achievement_ids: Vec<String> = transfers.iter().map(|t| t.achievement_id.clone()).collect();
    let needs = state.store.needs_by_ids(&need_ids).await?;
    let achievements = state.store.achievements_by_ids(&achievement_ids).await?;
    let party = |id: &str, found: Option<(&str, OrgRef, Visibility)>| match found {
        Some((title, owner, visibility)) => {
            let private = private_to_others(viewer, &owner.id, visibility);
            TransferParty {
                id: id.to_string(),
                title: if private { String::new() } else { title.to_string() },
                owner,
                private,
            }
        }
        None => TransferParty {
            id: id.to_string(),
            title: String::new(),
            owner: OrgRef { id: String::new(), name: String::new() },
            private: false,
        },
    };
    Ok(transfers
        .into_iter()
        .map(|t| {
            let need = needs.iter().find(|n| n.meta.id == t.need_id);
            let achievement = achievements.iter().find(|a| a.meta.id == t.achievement_id);
            let c = t.content;
            let landed_on = c.landed_on();
            TransferResponse {
                need: party(
                    &t.need_id,
                    need.map(|n| (n.content.title.as_str(), super::dockings::org_ref(&n.meta), n.content.visibility)),
                ),
                achievement: party(
                    &t.achievement_id,
                    achievement
                        .map(|a| (a.content.title.as_str(), super::dockings::org_ref(&a.meta), a.content.visibility)),
                ),
                id: t.id,
                docking_id: t.docking_id,
                manager_id: t.manager_id,
                field: t.field,
                field_label: t.field.label(),
                contract_type: c.contract_type,
                contract_type_label: c.contract_type.label(),
                amount: c.amount.to_string(),
                signed_on: c.signed_on,
                registration_number: c.registration_number,
                landing_region_name: region_name(&c.landing_region),
                landing_enterprise: c.landing_enterprise,
                landing_region: c.landing_region,
                milestones: c
                    .milestones
                    .into_iter()
                    .map(|m| MilestoneView { kind_label: m.kind.label(), milestone: m })
                    .collect(),
                outcomes: c.outcomes,
                landed_on,
                created_at: t.created_at,
                updated_at: t.updated_at,
                version: t.version,
            }
        })
        .collect())
}

async fn respond(state: &AppState, viewer: &Principal, t: Transfer) -> Result<HttpResponse, ApiError> {
    let version = t.version;
    let view = views(state, viewer, vec![t]).await?.pop().ok_or_else(ApiError::internal)?;
    Ok(HttpResponse::Ok().insert_header(("ETag", format!("\"{version}\""))).json(view))
}

/// Period, field and region of a transfer listing or a statistic.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// First day, inclusive (YYYY-MM-DD, China Standard Time).
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
    /// Technical field code.
    pub field: Option<TechField>,
    /// Region prefix: 2, 4 or 6 digits.
    pub region: Option<String>,
}

impl PeriodParams {
    pub fn into_filter(&self) -> Result<StatsFilter, ApiError> {
        let day = |name: &str, text: &Option<String>| -> Result<Option<NaiveDate>, ApiError> {
            text.as_deref()
                .map(|t| {
                    t.trim().parse::<NaiveDate>().map_err(|_| {
                        ApiError::bad_request(
                            "invalid_query",
                            format!("`{name}` must be a date such as 2026-11-01 (got `{t}`)"),
                        )
                    })
                })
                .transpose()
        };
        let from = day("from", &self.from)?;
        let to = day("to", &self.to)?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ApiError::unprocessable("conflicting_parameters", format!("`from` ({f}) is after `to` ({t})")));
        }
        let region_prefix = self
            .region
            .as_deref()
            .map(|r| v::region_prefix(r).map(str::to_string).map_err(|m| ApiError::bad_request("invalid_query", m)))
            .transpose()?;
        Ok(StatsFilter { from, to, field: self.field, region_prefix })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferListParams {
    /// Signed on or after (YYYY-MM-DD).
    pub from: Option<String>,
    /// Signed on or before.
    pub to: Option<String>,
    pub field: Option<TechField>,
    /// Landing region prefix.
    pub region: Option<String>,
    /// Either side's organisation.
    pub org_id: Option<String>,
    /// The manager's user id, or `me`.
    pub manager_id: Option<String>,
    pub docking_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// List transfers, most recently signed first. Managers see all; an enterprise or university
/// sees the transfers it is a party to.
#[utoipa::path(
    tag = "transfers",
    params(TransferListParams),
    responses((status = 200, body = TransferPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/transfers")]
pub async fn list_transfers(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    params: web::Query<TransferListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let filter = PeriodParams { from: p.from, to: p.to, field: p.field, region: p.region }.into_filter()?;
    let bad = |m: String| ApiError::bad_request("invalid_query", m);
    for (name, id) in [("org_id", &p.org_id), ("docking_id", &p.docking_id)] {
        if let Some(id) = id
            && !is_valid_id(id)
        {
            return Err(bad(format!("`{name}` `{id}` is not an id")));
        }
    }
    let manager_id = match p.manager_id.as_deref() {
        Some("me") => Some(auth.user_id.clone()),
        Some(id) if is_valid_id(id) => Some(id.to_string()),
        Some(id) => return Err(bad(format!("`manager_id` `{id}` is not a user id (or `me`)"))),
        None => None,
    };
    let limit = p.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(bad(format!("`limit` must be from 1 to {MAX_PAGE_SIZE} (got {limit})")));
    }
    let offset = match p.cursor.as_deref() {
        Some(c) => c.parse::<u32>().map_err(|_| bad(format!("`cursor` `{c}` is not a cursor from a previous page")))?,
        None => 0,
    };
    let query = TransferQuery {
        party_org: (!auth.role.is_staff()).then(|| auth.org_id.clone()),
        org_id: p.org_id,
        manager_id,
        docking_id: p.docking_id,
        filter,
        offset,
        limit,
    };
    let page = state.store.list_transfers(&query).await?;
    let items = views(&state, &auth, page.items).await?;
    Ok(HttpResponse::Ok().json(TransferPage { items, next_cursor: page.next_cursor }))
}

async fn load(state: &AppState, viewer: &Principal, id: &str) -> Result<Transfer, ApiError> {
    let id = parse_id("transfer", id)?;
    state
        .store
        .get_transfer(id)
        .await?
        .filter(|t| may_read(viewer, t))
        .ok_or_else(|| ApiError::not_found("transfer", id))
}

/// Read one transfer (managers, and the two parties).
#[utoipa::path(
    tag = "transfers",
    params(("id" = String, Path, description = "Transfer id")),
    responses((status = 200, body = TransferResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/transfers/{id}")]
pub async fn get_transfer(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = load(&state, &auth, &id).await?;
    respond(&state, &auth, t).await
}

/// Update a transfer (managers): the contract's registration number once registered, the
/// milestones (each replaces the list: 概念验证, 中试, 量产/产业化 with date, note and evidence)
/// and the outcomes as reported. Send the version you read (`If-Match` or `version`).
#[utoipa::path(
    tag = "transfers",
    params(("id" = String, Path, description = "Transfer id")),
    request_body = TransferInput,
    responses(
        (status = 200, body = TransferResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "Stale version or registration number already used", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 428, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/transfers/{id}")]
pub async fn update_transfer(
    state: web::Data<AppState>,
    auth: Auth<Staff>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: TransferInput = parse_body(body.into_inner())?;
    let mut t = load(&state, &auth, &id).await?;
    let expected = expected_version(&req, input.version)?;
    if expected != t.version {
        return Err(crate::storage::StoreError::VersionConflict { current: t.version }.into());
    }
    t.content = t.content.patched(&input, market_today(now()))?;
    let stored = state.store.update_transfer(&t, now()).await.map_err(registration_taken)?;
    tracing::info!(transfer = %stored.id, by = %auth.user_id, version = stored.version, "transfer updated");
    respond(&state, &auth, stored).await
}

/// A registration number is unique: a second contract with the same one is a typing error.
pub(super) fn registration_taken(err: crate::storage::StoreError) -> ApiError {
    match err {
        crate::storage::StoreError::UniqueViolation { .. } => ApiError::conflict(
            "registration_number_taken",
            "another transfer already has this registration number (技术合同登记号); check the number",
        ),
        other => other.into(),
    }
}
