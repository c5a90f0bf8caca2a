//! Routes about the service itself: vocabularies with Chinese labels, liveness and readiness.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::app::App;
use crate::domain::docking::{DockingAction, DockingState, ReasonCode};
use crate::domain::notification::{DeliveryStatus, NotificationKind, WebhookFormat};
use crate::domain::transfer::{ContractType, MilestoneKind};
use crate::domain::vocab::{
    AchievementType, CooperationMode, IpForm, NeedType, OrgKind, RecordStatus, Role, Stage, TechField, TrlEntry,
    Visibility, VocabularyEntry, trl_entries,
};

/// Every controlled vocabulary: the codes the API accepts and their Chinese labels.
#[derive(Debug, Serialize, ToSchema)]
pub struct Vocabularies {
    pub fields: Vec<VocabularyEntry>,
    pub need_types: Vec<VocabularyEntry>,
    pub achievement_types: Vec<VocabularyEntry>,
    pub cooperation_modes: Vec<VocabularyEntry>,
    pub stages: Vec<VocabularyEntry>,
    pub trl: Vec<TrlEntry>,
    pub ip_forms: Vec<VocabularyEntry>,
    pub visibilities: Vec<VocabularyEntry>,
    pub statuses: Vec<VocabularyEntry>,
    pub organisation_kinds: Vec<VocabularyEntry>,
    pub roles: Vec<VocabularyEntry>,
    pub docking_states: Vec<VocabularyEntry>,
    pub docking_actions: Vec<VocabularyEntry>,
    /// Why a suggestion was rejected or a docking failed.
    pub reason_codes: Vec<VocabularyEntry>,
    /// The five types of technology contract (技术合同认定登记).
    pub contract_types: Vec<VocabularyEntry>,
    pub milestone_kinds: Vec<VocabularyEntry>,
    /// What notifications tell, and the webhook formats.
    pub event_kinds: Vec<VocabularyEntry>,
    pub webhook_formats: Vec<VocabularyEntry>,
    pub delivery_statuses: Vec<VocabularyEntry>,
}

/// The vocabularies (no sign-in needed).
#[utoipa::path(tag = "meta", responses((status = 200, body = Vocabularies)))]
#[get("/vocabularies")]
pub async fn get_vocabularies() -> HttpResponse {
    HttpResponse::Ok().json(Vocabularies {
        fields: TechField::entries(),
        need_types: NeedType::entries(),
        achievement_types: AchievementType::entries(),
        cooperation_modes: CooperationMode::entries(),
        stages: Stage::entries(),
        trl: trl_entries(),
        ip_forms: IpForm::entries(),
        visibilities: Visibility::entries(),
        statuses: RecordStatus::entries(),
        organisation_kinds: OrgKind::entries(),
        roles: Role::entries(),
        docking_states: DockingState::entries(),
        docking_actions: DockingAction::entries(),
        reason_codes: ReasonCode::entries(),
        contract_types: ContractType::entries(),
        milestone_kinds: MilestoneKind::entries(),
        event_kinds: NotificationKind::entries(),
        webhook_formats: WebhookFormat::entries(),
        delivery_statuses: DeliveryStatus::entries(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "meta", responses((status = 200, body = HealthResponse)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok", database: None })
}

/// Readiness: the database answers and has room for writes (507 `storage_full` while the last
/// write found its storage full), and the search index has caught up with the data loaded at
/// start (503 `not_ready` meanwhile, e.g. while `serve --demo` loads the demo).
#[utoipa::path(tag = "meta", responses((status = 200, body = HealthResponse), (status = 503, body = ErrorBody), (status = 507, body = ErrorBody)))]
#[get("/ready")]
pub async fn ready(cx: web::Data<App>) -> Result<HttpResponse, ApiError> {
    let database = cx.ping().await?;
    Ok(HttpResponse::Ok().json(HealthResponse { status: "ready", database: Some(database) }))
}
