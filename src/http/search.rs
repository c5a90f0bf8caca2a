//! Search, the dictionary and the index's health: routes that decode, call `app::search`, encode.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AdminOnly, AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::parse_body;
use crate::app::indexing::DriftReport;
use crate::app::queries::SearchQuery;
use crate::app::search::{
    self as searching, DictionaryResponse, RebuildResponse, SearchResponse, SynonymResponse, TermResponse,
};
use crate::app::{App, Code, Error};
use crate::domain::dictionary::{SynonymInput, TermInput};
use crate::domain::record::Library;
use crate::domain::record::SortOrder;
use crate::domain::validate as v;
use crate::domain::vocab::{CooperationMode, RecordStatus, TechField};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
pub const MAX_SEARCH_PAGE: u32 = 50;
/// Deepest result reachable by paging (page × limit).
pub const MAX_SEARCH_DEPTH: u32 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words to look for, in Chinese or English (at most 100 characters). Without it,
    /// everything you may see matches, newest first.
    pub q: Option<String>,
    /// needs or achievements; both when absent.
    pub library: Option<String>,
    pub field: Option<TechField>,
    /// Region prefix: 2, 4 or 6 digits.
    pub region: Option<String>,
    #[param(value_type = Option<u8>)]
    pub trl_min: Option<String>,
    #[param(value_type = Option<u8>)]
    pub trl_max: Option<String>,
    pub cooperation: Option<CooperationMode>,
    pub status: Option<RecordStatus>,
    /// relevance (default with `q`) or newest.
    pub sort: Option<String>,
    /// 1-based page number.
    #[param(value_type = Option<u32>)]
    pub page: Option<String>,
    /// Results per page, 1-50 (default 20).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

fn bad(message: String) -> Error {
    Error::new(Code::InvalidQuery, message)
}

fn number(name: &str, value: &Option<String>, range: std::ops::RangeInclusive<u32>) -> Result<Option<u32>, Error> {
    let Some(text) = value else { return Ok(None) };
    match text.trim().parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(bad(format!(
            "`{name}` must be a whole number from {} to {} (got `{text}`)",
            range.start(),
            range.end()
        ))),
    }
}

impl SearchParams {
    fn into_request(self) -> Result<(SearchQuery, u32, u32), Error> {
        let text = self.q.unwrap_or_default();
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(Error::new(
                Code::QueryTooLong,
                format!("`q` has {chars} characters; at most {MAX_QUERY_CHARS} are searched"),
            ));
        }
        let library = match self.library.as_deref() {
            None => None,
            Some("needs") => Some(Library::Needs),
            Some("achievements") => Some(Library::Achievements),
            Some(other) => return Err(bad(format!("`library` must be needs or achievements (got `{other}`)"))),
        };
        let region_prefix = match &self.region {
            Some(r) => Some(v::region_prefix(r).map_err(bad)?.to_string()),
            None => None,
        };
        let trl_min = number("trl_min", &self.trl_min, 1..=9)?;
        let trl_max = number("trl_max", &self.trl_max, 1..=9)?;
        if let (Some(lo), Some(hi)) = (trl_min, trl_max)
            && lo > hi
        {
            return Err(Error::new(
                Code::ConflictingParameters,
                format!("`trl_min` ({lo}) must not exceed `trl_max` ({hi})"),
            ));
        }
        let sort = match self.sort.as_deref() {
            None | Some("relevance") => SortOrder::Relevance,
            Some("newest") => SortOrder::Newest,
            Some(other) => return Err(bad(format!("`sort` must be relevance or newest (got `{other}`)"))),
        };
        let page = number("page", &self.page, 1..=MAX_SEARCH_DEPTH)?.unwrap_or(1);
        let limit = number("limit", &self.limit, 1..=MAX_SEARCH_PAGE)?.unwrap_or(20);
        if page * limit > MAX_SEARCH_DEPTH {
            return Err(Error::new(
                Code::ConflictingParameters,
                format!(
                    "results deeper than {MAX_SEARCH_DEPTH} (page × limit) are not served; narrow the search with filters"
                ),
            ));
        }
        let request = SearchQuery {
            text,
            library,
            field: self.field,
            region_prefix,
            trl_min: trl_min.map(|n| n as u8),
            trl_max: trl_max.map(|n| n as u8),
            cooperation: self.cooperation,
            status: self.status,
            sort,
            offset: ((page - 1) * limit) as usize,
            limit: limit as usize,
        };
        Ok((request, page, limit))
    }
}

/// Search needs and achievements.
///
/// Chinese text is segmented with the market's dictionary; full-width and traditional
/// characters are normalised; synonyms and abbreviations (CCUS = 碳捕集利用与封存) are
/// searched too. Only records you may see are returned and counted in the facets.
#[utoipa::path(
    tag = "search",
    params(SearchParams),
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/search")]
pub async fn search(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let (request, page, limit) = params.into_inner().into_request()?;
    Ok(HttpResponse::Ok().json(searching::search(&cx, &auth, request, page, limit).await?))
}

/// The search dictionary: shipped entries, additions, and whether a rebuild is due.
#[utoipa::path(tag = "search", responses((status = 200, body = DictionaryResponse), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/dictionary")]
pub async fn get_dictionary(cx: web::Data<App>, auth: Auth<Staff>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(searching::dictionary(&cx, &auth).await?))
}

/// Add a domain term. It takes effect at the next index rebuild (`POST /api/v1/admin/index/rebuild`).
#[utoipa::path(
    tag = "search",
    request_body = TermInput,
    responses((status = 201, body = TermResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/dictionary/terms")]
pub async fn add_term(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: TermInput = parse_body(body.into_inner())?;
    Ok(HttpResponse::Created().json(searching::add_term(&cx, &auth, input).await?))
}

/// Add a synonym group. It takes effect at the next index rebuild.
#[utoipa::path(
    tag = "search",
    request_body = SynonymInput,
    responses((status = 201, body = SynonymResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/dictionary/synonyms")]
pub async fn add_synonyms(
    cx: web::Data<App>,
    auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: SynonymInput = parse_body(body.into_inner())?;
    Ok(HttpResponse::Created().json(searching::add_synonyms(&cx, &auth, input).await?))
}

/// Compare the index with the database (counts, versions, checkpoint).
#[utoipa::path(tag = "search", responses((status = 200, body = DriftReport), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/admin/index")]
pub async fn check_index(cx: web::Data<App>, auth: Auth<AdminOnly>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(searching::check_index(&cx, &auth).await?))
}

/// Rebuild the index from the database with the current dictionary, then switch to it.
/// Searches keep being served from the old index meanwhile.
#[utoipa::path(tag = "search", responses((status = 200, body = RebuildResponse), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[post("/admin/index/rebuild")]
pub async fn rebuild_index(cx: web::Data<App>, auth: Auth<AdminOnly>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(searching::rebuild_index(&cx, &auth).await?))
}
