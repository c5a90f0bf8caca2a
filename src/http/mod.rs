//! The JSON API under `/api/v1`: routes, the authentication extractor, request and response
//! types, and the error envelope.

pub mod achievements;
pub mod admin;
pub mod auth;
pub mod connection;
pub mod console;
pub mod dockings;
pub mod docs;
pub mod error;
pub mod imports;
pub mod joining;
pub mod matches;
pub mod meta;
pub mod needs;
pub mod notifications;
pub mod openapi;
pub mod records;
pub mod search;
pub mod sessions;
pub mod stats;
pub mod transfers;

use actix_web::HttpRequest;
use actix_web::http::header;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::domain::record::Library;
use crate::domain::vocab::{NeedType, RecordStatus, TechField};
use crate::domain::{is_valid_id, validate};
use chrono::NaiveDate;

use crate::app::queries::RecordQuery;
use crate::app::{Code, Error};
use crate::domain::stats::StatsFilter;

/// Largest page a listing returns.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// Registers every API route (mounted under `/api/v1`).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(needs::create_need)
        .service(needs::list_needs)
        .service(needs::get_need)
        .service(needs::update_need)
        .service(needs::change_need_status)
        .service(achievements::create_achievement)
        .service(achievements::list_achievements)
        .service(achievements::get_achievement)
        .service(achievements::update_achievement)
        .service(achievements::change_achievement_status)
        .service(admin::create_organisation)
        .service(admin::list_organisations)
        .service(admin::get_organisation)
        .service(admin::create_user)
        .service(admin::list_users)
        .service(admin::create_token)
        .service(admin::list_tokens)
        .service(admin::revoke_token)
        .service(admin::get_me)
        .service(joining::apply)
        .service(joining::list_applications)
        .service(joining::review_application)
        .service(sessions::sign_in)
        .service(sessions::sign_out)
        .service(sessions::list_sessions)
        .service(sessions::change_password)
        .service(sessions::reset_password)
        .service(sessions::end_sessions)
        .service(sessions::list_audit)
        .service(sessions::export_audit)
        .service(notifications::inbox)
        .service(notifications::mark_all_read)
        .service(notifications::mark_read)
        .service(notifications::subscribe)
        .service(notifications::list_subscriptions)
        .service(notifications::get_subscription)
        .service(notifications::end_subscription)
        .service(notifications::list_deliveries)
        .service(notifications::get_delivery)
        .service(notifications::redeliver)
        .service(meta::get_vocabularies)
        .service(search::search)
        .service(search::get_dictionary)
        .service(search::add_term)
        .service(search::add_synonyms)
        .service(search::check_index)
        .service(search::rebuild_index)
        .service(matches::need_matches)
        .service(matches::achievement_matches)
        .service(dockings::list_dockings)
        .service(dockings::review_queue)
        .service(dockings::create_docking)
        .service(dockings::bulk_review)
        .service(dockings::get_docking)
        .service(dockings::act_on_docking)
        .service(transfers::list_transfers)
        .service(transfers::get_transfer)
        .service(transfers::update_transfer)
        .service(stats::get_counts)
        .service(stats::get_funnel)
        .service(stats::get_contracts)
        .service(stats::get_managers)
        .service(stats::get_report)
        .service(imports::create_import)
        .service(imports::get_template)
        // The transfers' and dockings' exports before the libraries' `{library}` route, which would take them.
        .service(imports::export_transfers)
        .service(imports::export_dockings)
        .service(imports::export_library);
}

/// Fields of a record that only the service sets; a client sending them is told what to do.
const READ_ONLY_FIELDS: [(&str, &str); 9] = [
    ("id", "ids are assigned by the service"),
    ("owner", "the owner is the organisation of the user who posts; managers give `org_id` on create"),
    ("status", "change the status with POST .../{id}/close, .../withdraw or .../reopen"),
    ("created_at", "timestamps are set by the service"),
    ("updated_at", "timestamps are set by the service"),
    ("created_by", "the author is the signed-in user"),
    ("labels", "labels are derived from the codes"),
    ("expired", "expiry follows from `deadline`"),
    ("budget_negotiable", "leave budget_min and budget_max null for 面议"),
];

/// Turns a JSON body into a typed input: rejects non-objects and read-only fields with a message
/// that says what to do instead, then unknown fields and wrong types with the path of the field.
pub fn parse_body<T: DeserializeOwned>(body: Value) -> Result<T, Error> {
    let Value::Object(map) = &body else {
        return Err(Error::new(Code::InvalidBody, "the body must be a JSON object"));
    };
    for (field, why) in READ_ONLY_FIELDS {
        if map.contains_key(field) {
            return Err(Error::new(Code::ReadOnlyField, format!("`{field}` cannot be set: {why}"))
                .with_details(serde_json::json!({ "field": field })));
        }
    }
    let body = integral_numbers(body);
    let controls = validate::json_control_characters(&body);
    if !controls.is_empty() {
        return Err(controls.into());
    }
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let code = if message.starts_with("unknown field") { Code::UnknownField } else { Code::InvalidBody };
        Error::new(code, format!("`{path}`: {message}")).with_details(serde_json::json!({ "field": path }))
    })
}

/// JSON has one number type: `6.0` is the integer 6 (as JSON Schema reads it), so whole numbers
/// written with a fraction are taken as integers before the typed fields read them.
fn integral_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, integral_numbers(v))).collect()),
        other => other,
    }
}

/// A JSON body that may be left out (actions whose fields are all optional): empty means `{}`;
/// anything else must be JSON sent as such, so a note or reason is never silently dropped.
pub fn optional_json(req: &HttpRequest, body: &[u8]) -> Result<Value, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(Error::new(
            Code::UnsupportedMediaType,
            "send the body as JSON with the header `Content-Type: application/json`",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| Error::new(Code::MalformedJson, format!("the body is not valid JSON: {e}")))
}

/// Checks a path id before any query, so a malformed id gets a clear 400 rather than a 404.
pub fn parse_id<'a>(what: &str, id: &'a str) -> Result<&'a str, Error> {
    crate::app::check_id(what, id)
}

/// The version a write expects: the `If-Match` header or the body's `version`. Required, so two
/// managers editing the same record never overwrite each other silently.
pub fn expected_version(req: &HttpRequest, body_version: Option<i64>) -> Result<i64, Error> {
    let header_version = match req.headers().get(header::IF_MATCH) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
            Some(text.parse::<i64>().map_err(|_| {
                Error::new(
                    Code::InvalidIfMatch,
                    format!("If-Match must carry the record's version, e.g. `\"3\"` (got `{text}`)"),
                )
            })?)
        }
    };
    match (header_version, body_version) {
        (Some(h), Some(b)) if h != b => Err(Error::new(
            Code::VersionMismatch,
            format!("If-Match says version {h} but the body says {b}; send one of them"),
        )),
        (Some(v), _) | (None, Some(v)) => Ok(v),
        (None, None) => Err(Error::new(
            Code::VersionRequired,
            "send the version you are updating, as the header `If-Match: \"<version>\"` or the body field `version`; read it from the record first",
        )),
    }
}

/// An optional If-Match for actions whose body is empty.
pub fn optional_version(req: &HttpRequest) -> Result<Option<i64>, Error> {
    if req.headers().contains_key(header::IF_MATCH) { expected_version(req, None).map(Some) } else { Ok(None) }
}

/// Query parameters of a library listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Technical field code.
    pub field: Option<TechField>,
    /// Region prefix: 2 (province), 4 (city) or 6 (district) digits, e.g. 3705 for 东营市.
    pub region: Option<String>,
    pub status: Option<RecordStatus>,
    /// Owner organisation id.
    pub org_id: Option<String>,
    /// Only records updated at or after this time (RFC 3339 or YYYY-MM-DD).
    pub updated_since: Option<String>,
    /// Needs only: need type code.
    pub need_type: Option<NeedType>,
    /// Achievements only: minimum TRL.
    #[serde(default, deserialize_with = "number_from_text")]
    #[param(value_type = Option<u8>)]
    pub trl_min: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    #[serde(default, deserialize_with = "number_from_text")]
    #[param(value_type = Option<u32>)]
    pub limit: Option<i64>,
}

/// Query strings are text; numbers are parsed here so a bad one gets a message naming it.
fn number_from_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| t.trim().parse::<i64>().map_err(|_| serde::de::Error::custom(format!("`{t}` is not a whole number"))))
        .transpose()
}

impl ListParams {
    /// Validates the parameters into a listing query (the application layer scopes it to the viewer).
    pub fn into_query(self, library: Library) -> Result<RecordQuery, Error> {
        let bad = |message: String| Err(Error::new(Code::InvalidQuery, message));
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE as i64);
        if !(1..=MAX_PAGE_SIZE as i64).contains(&limit) {
            return bad(format!("`limit` must be from 1 to {MAX_PAGE_SIZE} (got {limit})"));
        }
        let region_prefix = match &self.region {
            Some(r) => Some(validate::region_prefix(r).map_err(|m| Error::new(Code::InvalidQuery, m))?.to_string()),
            None => None,
        };
        let updated_since = match &self.updated_since {
            None => None,
            Some(text) => Some(parse_time(text).ok_or_else(|| {
                Error::new(Code::InvalidQuery, format!("`updated_since` must be RFC 3339 (2026-01-31T08:00:00+08:00) or a date (2026-01-31); got `{text}`"))
            })?),
        };
        if let Some(cursor) = &self.cursor
            && !is_valid_id(cursor)
        {
            return bad(format!("`cursor` `{cursor}` is not a cursor from a previous page"));
        }
        if let Some(org) = &self.org_id
            && !is_valid_id(org)
        {
            return bad(format!("`org_id` `{org}` is not an organisation id"));
        }
        let trl_min = match self.trl_min {
            None => None,
            Some(_) if library == Library::Needs => {
                return bad("`trl_min` applies to achievements only".into());
            }
            Some(level @ 1..=9) => Some(level as u8),
            Some(level) => return bad(format!("`trl_min` must be from 1 to 9 (got {level})")),
        };
        if self.need_type.is_some() && library == Library::Achievements {
            return bad("`need_type` applies to needs only".into());
        }
        Ok(RecordQuery {
            field: self.field,
            region_prefix,
            status: self.status,
            org_id: self.org_id,
            updated_since,
            need_type: self.need_type,
            trl_min,
            cursor: self.cursor,
            limit: limit as u32,
        })
    }
}

/// RFC 3339, or a date taken as midnight China Standard Time.
pub(crate) fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text.trim()) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some(
        date.and_hms_opt(0, 0, 0)?
            .and_local_timezone(crate::domain::market_offset())
            .single()?
            .with_timezone(&chrono::Utc),
    )
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
    pub fn into_filter(&self) -> Result<StatsFilter, Error> {
        let day = |name: &str, text: &Option<String>| -> Result<Option<NaiveDate>, Error> {
            text.as_deref()
                .map(|t| {
                    t.trim().parse::<NaiveDate>().map_err(|_| {
                        Error::new(
                            Code::InvalidQuery,
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
            return Err(Error::new(Code::ConflictingParameters, format!("`from` ({f}) is after `to` ({t})")));
        }
        let region_prefix = self
            .region
            .as_deref()
            .map(|r| validate::region_prefix(r).map(str::to_string).map_err(|m| Error::new(Code::InvalidQuery, m)))
            .transpose()?;
        Ok(StatsFilter { from, to, field: self.field, region_prefix, expired_only: false })
    }
}
