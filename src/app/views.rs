//! What the API returns: records as a given viewer may see them (contacts only for those
//! entitled), with Chinese labels beside the codes for people reading the JSON.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::achievement::Achievement;
use crate::domain::need::Need;
use crate::domain::org::{ApiToken, Organisation, User};
use crate::domain::record::{Principal, RecordMeta, can_read_contact};
use crate::domain::validate::{Contact, Wan, region_name};
use crate::domain::vocab::{
    AchievementType, CooperationMode, IpForm, NeedType, OrgKind, OrgStatus, RecordStatus, Role, Stage, TRL_LABELS,
    TechField, Visibility,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

impl OrgRef {
    /// A record's owner as a reference.
    pub fn of(meta: &RecordMeta) -> OrgRef {
        OrgRef { id: meta.org_id.clone(), name: meta.org_name.clone() }
    }
}

/// Chinese labels of the codes in a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct Labels {
    pub field: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub need_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achievement_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trl: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<&'static str>,
    pub cooperation_modes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'static str>,
    pub status: &'static str,
    pub visibility: &'static str,
    /// 面议 when no amount is given, otherwise the amount in 万元.
    pub price: String,
}

fn modes(modes: &[CooperationMode]) -> Vec<&'static str> {
    modes.iter().map(|m| m.label()).collect()
}

fn price_label(lo: Option<Wan>, hi: Option<Wan>) -> String {
    match (lo, hi) {
        (None, None) => "面议".to_string(),
        (Some(lo), Some(hi)) if lo == hi => format!("{lo} 万元"),
        (Some(lo), Some(hi)) => format!("{lo}-{hi} 万元"),
        (Some(lo), None) => format!("{lo} 万元起"),
        (None, Some(hi)) => format!("{hi} 万元以内"),
    }
}

fn visible_contact(viewer: &Principal, meta: &RecordMeta, contact: &Contact) -> Option<Contact> {
    can_read_contact(viewer, &meta.org_id).then(|| contact.clone())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NeedResponse {
    pub id: String,
    pub owner: OrgRef,
    pub title: String,
    pub description: String,
    pub targets: String,
    pub tried: String,
    pub keywords: Vec<String>,
    pub field: TechField,
    pub need_type: NeedType,
    pub cooperation_modes: Vec<CooperationMode>,
    /// 万元; null with `budget_max` null means 面议.
    pub budget_min: Option<f64>,
    pub budget_max: Option<f64>,
    pub budget_negotiable: bool,
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<NaiveDate>,
    /// The deadline has passed: the need should be reconfirmed or closed.
    pub expired: bool,
    pub region: String,
    /// Shown only to managers, the owner, and the other party of an introduced docking.
    pub contact: Option<Contact>,
    pub visibility: Visibility,
    pub status: RecordStatus,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// When the owner last confirmed it is current (created or renewed): it expires a set time
    /// after this (a need with a deadline, at its deadline).
    #[schema(value_type = String, format = DateTime)]
    pub confirmed_at: DateTime<Utc>,
    pub version: i64,
    pub labels: Labels,
}

impl NeedResponse {
    /// The need as `viewer` sees it on the market day `today` (from the context's clock).
    pub fn new(need: &Need, viewer: &Principal, today: chrono::NaiveDate) -> NeedResponse {
        let c = &need.content;
        let m = &need.meta;
        NeedResponse {
            id: m.id.clone(),
            owner: OrgRef { id: m.org_id.clone(), name: m.org_name.clone() },
            title: c.title.clone(),
            description: c.description.clone(),
            targets: c.targets.clone(),
            tried: c.tried.clone(),
            keywords: c.keywords.clone(),
            field: c.field,
            need_type: c.need_type,
            cooperation_modes: c.cooperation_modes.clone(),
            budget_min: c.budget_min.map(Wan::as_f64),
            budget_max: c.budget_max.map(Wan::as_f64),
            budget_negotiable: c.budget_min.is_none() && c.budget_max.is_none(),
            deadline: c.deadline,
            expired: c.deadline.is_some_and(|d| d < today),
            region: c.region.clone(),
            contact: visible_contact(viewer, m, &c.contact),
            visibility: c.visibility,
            status: m.status,
            created_by: m.created_by.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            confirmed_at: m.confirmed_at,
            version: m.version,
            labels: Labels {
                field: c.field.label(),
                need_type: Some(c.need_type.label()),
                achievement_type: None,
                trl: None,
                stage: None,
                cooperation_modes: modes(&c.cooperation_modes),
                region: region_name(&c.region),
                status: m.status.label(),
                visibility: c.visibility.label(),
                price: price_label(c.budget_min, c.budget_max),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AchievementResponse {
    pub id: String,
    pub owner: OrgRef,
    pub title: String,
    #[serde(rename = "abstract")]
    pub summary: String,
    pub keywords: Vec<String>,
    pub field: TechField,
    pub achievement_type: AchievementType,
    pub trl: Option<u8>,
    pub stage: Option<Stage>,
    pub ip_form: IpForm,
    pub patent_numbers: Vec<String>,
    pub cooperation_modes: Vec<CooperationMode>,
    /// 万元; null means 面议.
    pub asking_price: Option<f64>,
    pub price_negotiable: bool,
    pub team_lead: String,
    pub region: String,
    pub contact: Option<Contact>,
    pub visibility: Visibility,
    pub status: RecordStatus,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// When the owner last confirmed it is current (created or renewed): it expires a set time
    /// after this (a need with a deadline, at its deadline).
    #[schema(value_type = String, format = DateTime)]
    pub confirmed_at: DateTime<Utc>,
    pub version: i64,
    pub labels: Labels,
}

impl AchievementResponse {
    pub fn new(a: &Achievement, viewer: &Principal) -> AchievementResponse {
        let c = &a.content;
        let m = &a.meta;
        AchievementResponse {
            id: m.id.clone(),
            owner: OrgRef { id: m.org_id.clone(), name: m.org_name.clone() },
            title: c.title.clone(),
            summary: c.summary.clone(),
            keywords: c.keywords.clone(),
            field: c.field,
            achievement_type: c.achievement_type,
            trl: c.trl,
            stage: c.stage,
            ip_form: c.ip_form,
            patent_numbers: c.patent_numbers.clone(),
            cooperation_modes: c.cooperation_modes.clone(),
            asking_price: c.asking_price.map(Wan::as_f64),
            price_negotiable: c.asking_price.is_none(),
            team_lead: c.team_lead.clone(),
            region: c.region.clone(),
            contact: visible_contact(viewer, m, &c.contact),
            visibility: c.visibility,
            status: m.status,
            created_by: m.created_by.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            confirmed_at: m.confirmed_at,
            version: m.version,
            labels: Labels {
                field: c.field.label(),
                need_type: None,
                achievement_type: Some(c.achievement_type.label()),
                trl: c.trl.map(|l| TRL_LABELS[usize::from(l) - 1]),
                stage: c.stage.map(Stage::label),
                cooperation_modes: modes(&c.cooperation_modes),
                region: region_name(&c.region),
                status: m.status.label(),
                visibility: c.visibility.label(),
                price: price_label(c.asking_price, c.asking_price),
            },
        }
    }
}

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> From<crate::storage::Page<T>> for PageResponse<T> {
    fn from(page: crate::storage::Page<T>) -> Self {
        PageResponse { items: page.items, next_cursor: page.next_cursor }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationResponse {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub kind_label: &'static str,
    pub region: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// pending (applied, not reviewed yet), approved, rejected.
    pub status: OrgStatus,
    pub status_label: &'static str,
    /// 统一社会信用代码, for organisations that applied by themselves.
    pub credit_code: Option<String>,
    /// Why the application was rejected (or a note on approving it).
    pub review_reason: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl From<&Organisation> for OrganisationResponse {
    fn from(o: &Organisation) -> Self {
        OrganisationResponse {
            id: o.id.clone(),
            name: o.name.clone(),
            kind: o.kind,
            kind_label: o.kind.label(),
            region: o.region.clone(),
            created_at: o.created_at,
            status: o.status,
            status_label: o.status.label(),
            credit_code: o.credit_code.clone(),
            review_reason: o.review_reason.clone(),
            reviewed_at: o.reviewed_at,
        }
    }
}

/// An application to join, as filed: the organisation (pending) and its applicant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationResponse {
    pub organisation: OrganisationResponse,
    pub user_id: String,
    /// The normalised login the applicant signs in with.
    pub login: String,
    /// What happens next.
    pub next: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role: Role,
    pub role_label: &'static str,
    pub email: String,
    pub phone: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        UserResponse {
            id: u.id.clone(),
            org_id: u.org_id.clone(),
            name: u.name.clone(),
            role: u.role,
            role_label: u.role.label(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            created_at: u.created_at,
        }
    }
}

/// A token's metadata; never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiToken> for TokenResponse {
    fn from(t: &ApiToken) -> Self {
        TokenResponse {
            id: t.id.clone(),
            user_id: t.user_id.clone(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// A new token: the secret appears here once and is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTokenResponse {
    /// Send as `Authorization: Bearer <token>`. Store it now: only its hash is kept.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenResponse,
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub role_label: &'static str,
    pub organisation: OrganisationResponse,
}

/// A session's metadata; never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub id: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: DateTime<Utc>,
    /// When it ends if unused (the configured idle time after the last request).
    #[schema(value_type = String, format = DateTime)]
    pub idle_expires_at: DateTime<Utc>,
    /// When it ends whatever the use.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<DateTime<Utc>>,
    /// The address it was opened from.
    pub client: String,
    /// The session of this request.
    pub current: bool,
}

/// A new session: its secret and CSRF token appear here once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedInResponse {
    /// For API clients: send as `Authorization: Bearer <token>`. Browsers get it as the
    /// HttpOnly cookie `tm_session` instead.
    pub token: String,
    /// Send as the header `X-CSRF-Token` with every write authenticated by the cookie (also in
    /// the readable cookie `tm_csrf`).
    pub csrf_token: String,
    pub session: SessionResponse,
    pub user: MeResponse,
    /// An admin reset the password: change it (PUT /api/v1/me/password) before anything else.
    pub must_change_password: bool,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    /// Its position in the log (the cursor of the next page is the last one's).
    pub seq: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The acting user's id, `system:<name>` for the service, or `anonymous`.
    pub actor: String,
    /// The organisation the actor acted for.
    pub actor_org: String,
    /// The prefix of the API token or session used.
    pub credential: String,
    /// What was done: the route (`POST /api/v1/needs`) or a named action (`sign_in`).
    pub operation: String,
    /// Ids of the records concerned.
    pub records: Vec<String>,
    /// ok, denied or failed.
    pub outcome: &'static str,
    /// The error code of a denied or failed action, or a note.
    pub detail: String,
    pub client: String,
    pub request_id: String,
}

impl From<&crate::domain::audit::AuditEntry> for AuditEntryResponse {
    fn from(e: &crate::domain::audit::AuditEntry) -> Self {
        AuditEntryResponse {
            seq: e.seq,
            at: e.at,
            actor: e.actor.clone(),
            actor_org: e.actor_org.clone(),
            credential: e.credential.clone(),
            operation: e.operation.clone(),
            records: e.records.clone(),
            outcome: e.outcome.code(),
            detail: e.detail.clone(),
            client: e.client.clone(),
            request_id: e.request_id.clone(),
        }
    }
}
