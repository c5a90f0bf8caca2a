//! The transfer library (落地转化库): the contract a signed docking became, its milestones and its
//! outcomes. Managers create (by signing) and update; the two parties read their own.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::queries::TransferFilter;
use super::views::OrgRef;
use super::{App, Code, Error, Result};
use crate::domain::docking::{Docking, DockingState};
use crate::domain::market_today;
use crate::domain::new_id;
use crate::domain::record::{Principal, private_to_others};
use crate::domain::transfer::{ContractType, Defaults, Milestone, Outcomes, Transfer, TransferContent, TransferInput};
use crate::domain::validate::ValidationErrors;
use crate::domain::validate::region_name;
use crate::domain::vocab::{TechField, Visibility};
use crate::storage::{Page, StoreError};

/// The transfer a signing creates, from the contract sent with it and the docking's records.
pub(super) async fn new_transfer(
    cx: &App,
    viewer: &Principal,
    docking: &Docking,
    contract: Option<&TransferInput>,
) -> Result<Transfer> {
    let Some(contract) = contract else {
        return Err(Error::new(
            Code::ContractRequired,
            "signing needs the contract: send {\"contract\": {\"contract_type\": \"transfer\", \"amount\": \"120.50\", \"signed_on\": \"YYYY-MM-DD\"}}; contract types: development (技术开发), transfer (技术转让), license (技术许可), service (技术服务), consulting (技术咨询)",
        ));
    };
    if contract.version.is_some() {
        return Err(Error::new(Code::ReadOnlyField, "`contract.version` is for updates of a transfer"));
    }
    let need = cx.store.get_need(&docking.need_id).await?.ok_or_else(|| Error::not_found("need", &docking.need_id))?;
    let defaults = Defaults { landing_enterprise: &need.meta.org_name, landing_region: &need.content.region };
    let at = cx.clock.now();
    let introduced = introduced_on(cx, &docking.id).await?;
    let content = TransferContent::parse(contract, &defaults, market_today(at))
        .and_then(|c| signed_after_introduction(c, introduced))
        .map_err(|e| {
            let mut err = Error::from(e);
            err.message = format!("contract: {}", err.message);
            err
        })?;
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

/// The market day the docking's parties were introduced, if they were.
async fn introduced_on(cx: &App, docking_id: &str) -> Result<Option<NaiveDate>> {
    let events = cx.store.docking_events(docking_id).await?;
    Ok(events.iter().find(|e| e.to_state == Some(DockingState::Introduced)).map(|e| market_today(e.at)))
}

/// A contract is signed on or after the day the parties were introduced: an earlier date is a
/// typing error (or a back-dated contract the docking cannot have led to).
fn signed_after_introduction(
    content: TransferContent,
    introduced: Option<NaiveDate>,
) -> Result<TransferContent, ValidationErrors> {
    match introduced {
        Some(day) if content.signed_on < day => {
            let mut e = ValidationErrors::default();
            e.add(
                "signed_on",
                "before_introduction",
                format!("「签约日期」{} 早于双方被引荐对接的日期 {day}：合同应在该日或之后签订", content.signed_on),
                format!(
                    "`signed_on` {} is before the parties were introduced on {day}: the contract is signed on or after that day",
                    content.signed_on
                ),
            );
            Err(e)
        }
        _ => Ok(content),
    }
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

/// Whether `viewer` may read `t`: managers and admins, and the two parties.
fn may_read(viewer: &Principal, t: &Transfer) -> bool {
    viewer.role.is_staff() || viewer.org_id == t.need_org_id || viewer.org_id == t.achievement_org_id
}

/// The views of a page of transfers, loading both sides' records in two queries. Both parties
/// were introduced before signing, so each sees the other's title.
/// A record its owner has made private shows only its id to everyone else.
async fn views(cx: &App, viewer: &Principal, transfers: Vec<Transfer>) -> Result<Vec<TransferResponse>> {
    let need_ids: Vec<String> = transfers.iter().map(|t| t.need_id.clone()).collect();
    let achievement_ids: Vec<String> = transfers.iter().map(|t| t.achievement_id.clone()).collect();
    let needs = cx.store.needs_by_ids(&need_ids).await?;
    let achievements = cx.store.achievements_by_ids(&achievement_ids).await?;
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
                    need.map(|n| (n.content.title.as_str(), OrgRef::of(&n.meta), n.content.visibility)),
                ),
                achievement: party(
                    &t.achievement_id,
                    achievement.map(|a| (a.content.title.as_str(), OrgRef::of(&a.meta), a.content.visibility)),
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

/// A page of transfers, most recently signed first: managers see all, a party its own.
pub async fn list(cx: &App, viewer: &Principal, filter: &TransferFilter) -> Result<Page<TransferResponse>> {
    let page = cx.store.list_transfers(&filter.seen_by(viewer)).await?;
    let items = views(cx, viewer, page.items).await?;
    Ok(Page { items, next_cursor: page.next_cursor })
}

async fn load(cx: &App, viewer: &Principal, id: &str) -> Result<Transfer> {
    cx.store.get_transfer(id).await?.filter(|t| may_read(viewer, t)).ok_or_else(|| Error::not_found("transfer", id))
}

async fn view(cx: &App, viewer: &Principal, t: Transfer) -> Result<TransferResponse> {
    views(cx, viewer, vec![t]).await?.pop().ok_or_else(Error::internal)
}

/// One transfer (managers, and the two parties).
pub async fn get(cx: &App, viewer: &Principal, id: &str) -> Result<TransferResponse> {
    let t = load(cx, viewer, id).await?;
    view(cx, viewer, t).await
}

/// Updates a transfer (managers): registration number, milestones, outcomes. `expected` is the
/// version the caller read, as its request gave it, checked once the transfer is found.
pub async fn update(
    cx: &App,
    viewer: &Principal,
    id: &str,
    input: TransferInput,
    expected: Result<i64>,
) -> Result<TransferResponse> {
    if !viewer.role.is_staff() {
        return Err(Error::forbidden("transfers are updated by technology managers"));
    }
    let mut t = load(cx, viewer, id).await?;
    let expected = expected?;
    if expected != t.version {
        return Err(Error::version_conflict(t.version));
    }
    let at = cx.clock.now();
    let introduced = introduced_on(cx, &t.docking_id).await?;
    let before = t.clone();
    t.content = signed_after_introduction(t.content.patched(&input, market_today(at))?, introduced)?;
    let mut unit = cx.begin(viewer).await?;
    let stored = unit.update_transfer(&t, at).await.map_err(registration_taken)?;
    if let Some(event) = super::notifications::milestones_recorded(&before, &stored) {
        unit.notify(event);
    }
    unit.commit().await?;
    tracing::info!(transfer = %stored.id, by = %viewer.user_id, version = stored.version, "transfer updated");
    view(cx, viewer, stored).await
}

/// A registration number is unique: a second contract with the same one is a typing error.
pub(super) fn registration_taken(err: StoreError) -> Error {
    match err {
        StoreError::UniqueViolation { .. } => Error::new(
            Code::RegistrationNumberTaken,
            "another transfer already has this registration number (技术合同登记号); check the number",
        ),
        other => other.into(),
    }
}
