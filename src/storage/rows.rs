//! Database rows and their conversion to and from domain records. Rows hold only types both
//! backends share: text and integers; timestamps are Unix microseconds, lists JSON text.

use chrono::{DateTime, NaiveDate, Utc};

use super::dialect::Rows;
use super::{Change, Credentials, SessionLookup, StoreError, StoreResult, TokenLookup};
use crate::domain::account::Session;
use crate::domain::achievement::{Achievement, AchievementContent};
use crate::domain::audit::{AuditEntry, Outcome};
use crate::domain::dictionary::{DictionaryTerm, SynonymGroup};
use crate::domain::need::{Need, NeedContent};
use crate::domain::org::{ApiToken, Organisation, User};
use crate::domain::record::RecordMeta;
use crate::domain::validate::{Contact, Wan};

/// A row that becomes a domain record.
pub(super) trait IntoDomain: Rows {
    type Domain;
    fn into_domain(self) -> StoreResult<Self::Domain>;
}

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt(format!("timestamp {us} out of range")))
}

pub(super) fn opt_micros(us: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    us.map(from_micros).transpose()
}

pub(super) fn code<T: std::str::FromStr<Err = String>>(s: &str) -> StoreResult<T> {
    s.parse().map_err(StoreError::Corrupt)
}

fn strings(json: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("list column: {e}")))
}

pub(super) fn codes<T: std::str::FromStr<Err = String>>(json: &str) -> StoreResult<Vec<T>> {
    strings(json)?.iter().map(|s| code(s)).collect()
}

/// A list of strings as the JSON text stored in list columns.
pub fn json_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_string())
}

#[derive(sqlx::FromRow)]
pub struct OrganisationRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub created_at: i64,
    pub credit_code: Option<String>,
    pub status: String,
    pub review_reason: String,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
}

impl IntoDomain for OrganisationRow {
    type Domain = Organisation;

    fn into_domain(self) -> StoreResult<Organisation> {
        Ok(Organisation {
            id: self.id,
            name: self.name,
            kind: code(&self.kind)?,
            region: self.region,
            created_at: from_micros(self.created_at)?,
            credit_code: self.credit_code,
            status: code(&self.status)?,
            review_reason: self.review_reason,
            reviewed_by: self.reviewed_by,
            reviewed_at: opt_micros(self.reviewed_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role: String,
    pub email: String,
    pub phone: String,
    pub created_at: i64,
}

impl IntoDomain for UserRow {
    type Domain = User;

    fn into_domain(self) -> StoreResult<User> {
        Ok(User {
            id: self.id,
            org_id: self.org_id,
            name: self.name,
            role: code(&self.role)?,
            email: self.email,
            phone: self.phone,
            created_at: from_micros(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl IntoDomain for TokenRow {
    type Domain = ApiToken;

    fn into_domain(self) -> StoreResult<ApiToken> {
        Ok(ApiToken {
            id: self.id,
            user_id: self.user_id,
            name: self.name,
            prefix: self.prefix,
            created_at: from_micros(self.created_at)?,
            expires_at: opt_micros(self.expires_at)?,
            revoked_at: opt_micros(self.revoked_at)?,
            last_used_at: opt_micros(self.last_used_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TokenLookupRow {
    pub org_status: String,
    pub token_id: String,
    pub prefix: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub user_id: String,
    pub user_name: String,
    pub role: String,
    pub org_id: String,
}

impl IntoDomain for TokenLookupRow {
    type Domain = TokenLookup;

    fn into_domain(self) -> StoreResult<TokenLookup> {
        Ok(TokenLookup {
            org_approved: self.org_status == "approved",
            token_id: self.token_id,
            prefix: self.prefix,
            expires_at: opt_micros(self.expires_at)?,
            revoked_at: opt_micros(self.revoked_at)?,
            last_used_at: opt_micros(self.last_used_at)?,
            user_id: self.user_id,
            user_name: self.user_name,
            role: code(&self.role)?,
            org_id: self.org_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CredentialsRow {
    pub id: String,
    pub login: Option<String>,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
}

impl IntoDomain for CredentialsRow {
    type Domain = Credentials;

    fn into_domain(self) -> StoreResult<Credentials> {
        Ok(Credentials {
            user_id: self.id,
            login: self.login,
            password_hash: self.password_hash,
            must_change_password: self.must_change_password,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub client: String,
}

impl IntoDomain for SessionRow {
    type Domain = Session;

    fn into_domain(self) -> StoreResult<Session> {
        Ok(Session {
            id: self.id,
            user_id: self.user_id,
            prefix: self.prefix,
            created_at: from_micros(self.created_at)?,
            last_seen_at: from_micros(self.last_seen_at)?,
            expires_at: from_micros(self.expires_at)?,
            ended_at: opt_micros(self.ended_at)?,
            client: self.client,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionLookupRow {
    #[sqlx(flatten)]
    pub session: SessionRow,
    pub csrf_hash: String,
    pub user_name: String,
    pub role: String,
    pub org_id: String,
    pub must_change_password: bool,
    pub org_status: String,
}

impl IntoDomain for SessionLookupRow {
    type Domain = SessionLookup;

    fn into_domain(self) -> StoreResult<SessionLookup> {
        Ok(SessionLookup {
            org_approved: self.org_status == "approved",
            session: self.session.into_domain()?,
            csrf_hash: self.csrf_hash,
            user_name: self.user_name,
            role: code(&self.role)?,
            org_id: self.org_id,
            must_change_password: self.must_change_password,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub actor_org: String,
    pub credential: String,
    pub operation: String,
    pub records: String,
    pub outcome: String,
    pub detail: String,
    pub client: String,
    pub request_id: String,
}

impl IntoDomain for AuditRow {
    type Domain = AuditEntry;

    fn into_domain(self) -> StoreResult<AuditEntry> {
        Ok(AuditEntry {
            seq: self.seq,
            at: from_micros(self.at)?,
            actor: self.actor,
            actor_org: self.actor_org,
            credential: self.credential,
            operation: self.operation,
            records: strings(&self.records)?,
            outcome: Outcome::parse(&self.outcome)
                .ok_or_else(|| StoreError::Corrupt(format!("audit outcome `{}`", self.outcome)))?,
            detail: self.detail,
            client: self.client,
            request_id: self.request_id,
        })
    }
}

/// The columns every need and achievement row has (joined with the owner's name).
#[derive(sqlx::FromRow)]
pub struct MetaColumns {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub status: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub confirmed_at: Option<i64>,
    pub reminded_at: Option<i64>,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
}

impl MetaColumns {
    fn split(self) -> StoreResult<(RecordMeta, Contact)> {
        let meta = RecordMeta {
            id: self.id,
            org_id: self.org_id,
            org_name: self.org_name,
            status: code(&self.status)?,
            created_by: self.created_by,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
            version: self.version,
            confirmed_at: from_micros(self.confirmed_at.unwrap_or(self.updated_at))?,
            reminded_at: opt_micros(self.reminded_at)?,
        };
        let contact = Contact { name: self.contact_name, phone: self.contact_phone, email: self.contact_email };
        Ok((meta, contact))
    }
}

#[derive(sqlx::FromRow)]
pub struct NeedRow {
    #[sqlx(flatten)]
    pub meta: MetaColumns,
    pub title: String,
    pub description: String,
    pub targets: String,
    pub tried: String,
    pub keywords: String,
    pub field: String,
    pub need_type: String,
    pub cooperation_modes: String,
    pub budget_min: Option<i64>,
    pub budget_max: Option<i64>,
    pub deadline: Option<String>,
    pub region: String,
    pub visibility: String,
}

impl IntoDomain for NeedRow {
    type Domain = Need;

    fn into_domain(self) -> StoreResult<Need> {
        let (meta, contact) = self.meta.split()?;
        let deadline = self
            .deadline
            .map(|d| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|e| StoreError::Corrupt(format!("deadline `{d}`: {e}")))
            })
            .transpose()?;
        let content = NeedContent {
            title: self.title,
            description: self.description,
            targets: self.targets,
            tried: self.tried,
            keywords: strings(&self.keywords)?,
            field: code(&self.field)?,
            need_type: code(&self.need_type)?,
            cooperation_modes: codes(&self.cooperation_modes)?,
            budget_min: self.budget_min.map(Wan::from_hundredths),
            budget_max: self.budget_max.map(Wan::from_hundredths),
            deadline,
            region: self.region,
            contact,
            visibility: code(&self.visibility)?,
        };
        Ok(Need { meta, content })
    }
}

#[derive(sqlx::FromRow)]
pub struct AchievementRow {
    #[sqlx(flatten)]
    pub meta: MetaColumns,
    pub title: String,
    pub summary: String,
    pub keywords: String,
    pub field: String,
    pub achievement_type: String,
    pub trl: Option<i32>,
    pub stage: Option<String>,
    pub ip_form: String,
    pub patent_numbers: String,
    pub cooperation_modes: String,
    pub asking_price: Option<i64>,
    pub team_lead: String,
    pub region: String,
    pub visibility: String,
}

impl IntoDomain for AchievementRow {
    type Domain = Achievement;

    fn into_domain(self) -> StoreResult<Achievement> {
        let (meta, contact) = self.meta.split()?;
        let trl = match self.trl {
            None => None,
            Some(level @ 1..=9) => Some(level as u8),
            Some(level) => return Err(StoreError::Corrupt(format!("trl {level}"))),
        };
        let content = AchievementContent {
            title: self.title,
            summary: self.summary,
            keywords: strings(&self.keywords)?,
            field: code(&self.field)?,
            achievement_type: code(&self.achievement_type)?,
            trl,
            stage: self.stage.as_deref().map(code).transpose()?,
            ip_form: code(&self.ip_form)?,
            patent_numbers: strings(&self.patent_numbers)?,
            cooperation_modes: codes(&self.cooperation_modes)?,
            asking_price: self.asking_price.map(Wan::from_hundredths),
            team_lead: self.team_lead,
            region: self.region,
            contact,
            visibility: code(&self.visibility)?,
        };
        Ok(Achievement { meta, content })
    }
}

#[derive(sqlx::FromRow)]
pub struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub record_id: String,
}

impl IntoDomain for ChangeRow {
    type Domain = Change;

    fn into_domain(self) -> StoreResult<Change> {
        let kind = super::ChangeKind::parse(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("change of unknown kind `{}`", self.kind)))?;
        Ok(Change { seq: self.seq, kind, id: self.record_id })
    }
}

#[derive(sqlx::FromRow)]
pub struct DictionaryTermRow {
    pub id: String,
    pub word: String,
    pub freq: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

impl IntoDomain for DictionaryTermRow {
    type Domain = DictionaryTerm;

    fn into_domain(self) -> StoreResult<DictionaryTerm> {
        Ok(DictionaryTerm {
            id: self.id,
            word: self.word,
            freq: self.freq,
            created_by: self.created_by,
            created_at: from_micros(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SynonymGroupRow {
    pub id: String,
    pub members: String,
    pub created_by: String,
    pub created_at: i64,
}

impl IntoDomain for SynonymGroupRow {
    type Domain = SynonymGroup;

    fn into_domain(self) -> StoreResult<SynonymGroup> {
        Ok(SynonymGroup {
            id: self.id,
            members: strings(&self.members)?,
            created_by: self.created_by,
            created_at: from_micros(self.created_at)?,
        })
    }
}
