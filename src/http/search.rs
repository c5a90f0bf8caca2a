//! Full-text search over both libraries, dictionary management, and the index's health.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminOnly, AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::views::OrgRef;
use super::{AppState, parse_body};
use crate::domain::dictionary::{self, DictionaryTerm, SynonymGroup, SynonymInput, TermInput};
use crate::domain::record::{Library, Principal, can_view};
use crate::domain::validate::{self as v, region_name};
use crate::domain::vocab::{CooperationMode, RecordStatus, TRL_LABELS, TechField};
use crate::domain::{new_id, now};
use crate::search::engine::{DriftReport, SearchError, dictionary_version};
use crate::search::index::{SearchRequest, SortOrder};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
pub const MAX_SEARCH_PAGE: u32 = 50;
/// Deepest result reachable by paging (page × limit).
pub const MAX_SEARCH_DEPTH: u32 = 1000;

impl From<SearchError> for ApiError {
    fn from(err: SearchError) -> Self {
        match err {
            SearchError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "search failed");
                ApiError::internal()
            }
        }
    }
}

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

fn bad(message: String) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

fn number(name: &str, value: &Option<String>, range: std::ops::RangeInclusive<u32>) -> Result<Option<u32>, ApiError> {
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
    fn into_request(self, viewer: &Principal) -> Result<(SearchRequest, u32, u32), ApiError> {
        let text = self.q.unwrap_or_default();
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(ApiError::bad_request(
                "query_too_long",
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
            return Err(ApiError::unprocessable(
                "conflicting_parameters",
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
            return Err(ApiError::unprocessable(
                "conflicting_parameters",
                format!(
                    "results deeper than {MAX_SEARCH_DEPTH} (page × limit) are not served; narrow the search with filters"
                ),
            ));
        }
        let request = SearchRequest {
            text,
            library,
            viewer_org: viewer.org_id.clone(),
            viewer_is_staff: viewer.role.is_staff(),
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

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// needs or achievements.
    pub library: &'static str,
    pub id: String,
    /// Relevance (0 when sorted by date).
    pub score: f32,
    pub title: String,
    /// The title with matches in `<b>`; everything else HTML-escaped.
    pub title_html: String,
    /// The best passage of the description or abstract, matches in `<b>`.
    pub snippet_html: String,
    pub owner: OrgRef,
    pub field: TechField,
    pub field_label: &'static str,
    pub region: String,
    pub region_label: Option<&'static str>,
    pub status: RecordStatus,
    pub trl: Option<u8>,
    pub cooperation_modes: Vec<CooperationMode>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FacetCount {
    pub code: String,
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchFacets {
    pub field: Vec<FacetCount>,
    pub region: Vec<FacetCount>,
    pub trl: Vec<FacetCount>,
    pub cooperation_modes: Vec<FacetCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// How many records match (only records you may see are counted).
    pub total: usize,
    pub page: u32,
    pub limit: u32,
    pub items: Vec<SearchHit>,
    pub facets: SearchFacets,
}

/// What a hit needs from its record, whichever library it is in.
struct HitSource {
    hit: SearchHit,
    body: String,
}

fn facet_counts(counts: Vec<(String, u64)>, label: impl Fn(&str) -> String) -> Vec<FacetCount> {
    counts.into_iter().map(|(code, count)| FacetCount { label: label(&code), code, count }).collect()
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
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let (request, page, limit) = params.into_inner().into_request(&auth)?;
    let text = request.text.clone();
    let outcome = state.search.search(request).await?;

    let ids = |library: Library| -> Vec<String> {
        outcome.hits.iter().filter(|h| h.library == library).map(|h| h.id.clone()).collect()
    };
    let needs = state.store.needs_by_ids(&ids(Library::Needs)).await?;
    let achievements = state.store.achievements_by_ids(&ids(Library::Achievements)).await?;
    let mut sources: HashMap<String, HitSource> = HashMap::new();
    // The database is the source of truth: a record changed since it was indexed is checked again.
    for n in needs.iter().filter(|n| can_view(&auth, &n.meta.org_id, n.content.visibility, n.meta.status)) {
        let c = &n.content;
        let body = [c.description.as_str(), c.targets.as_str(), c.tried.as_str()].join(" ");
        sources.insert(
            n.meta.id.clone(),
            hit_source(Library::Needs, &n.meta, &c.title, c.field, &c.region, None, &c.cooperation_modes, body),
        );
    }
    for a in achievements.iter().filter(|a| can_view(&auth, &a.meta.org_id, a.content.visibility, a.meta.status)) {
        let c = &a.content;
        sources.insert(
            a.meta.id.clone(),
            hit_source(
                Library::Achievements,
                &a.meta,
                &c.title,
                c.field,
                &c.region,
                c.trl,
                &c.cooperation_modes,
                c.summary.clone(),
            ),
        );
    }
    let mut kept: Vec<HitSource> = Vec::with_capacity(outcome.hits.len());
    for hit in &outcome.hits {
        if let Some(mut source) = sources.remove(&hit.id) {
            source.hit.score = hit.score;
            kept.push(source);
        }
    }
    let texts: Vec<(String, String)> =
        kept.iter_mut().map(|s| (s.hit.title.clone(), std::mem::take(&mut s.body))).collect();
    let index = state.search.current();
    let highlighted = tokio::task::spawn_blocking(move || index.highlight(&text, &texts))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| ApiError::from(SearchError::from(e)))?;
    let items: Vec<SearchHit> = kept
        .into_iter()
        .zip(highlighted)
        .map(|(mut source, (title_html, snippet_html))| {
            source.hit.title_html = title_html;
            source.hit.snippet_html = snippet_html;
            source.hit
        })
        .collect();
    let f = outcome.facets;
    let facets = SearchFacets {
        field: facet_counts(f.field, |c| {
            c.parse::<TechField>().map(|t| t.label().to_string()).unwrap_or_else(|_| c.to_string())
        }),
        region: facet_counts(f.region, |c| region_name(c).unwrap_or(c).to_string()),
        trl: facet_counts(f.trl, |c| {
            c.parse::<usize>()
                .ok()
                .and_then(|l| TRL_LABELS.get(l.wrapping_sub(1)))
                .map(|l| l.to_string())
                .unwrap_or_default()
        }),
        cooperation_modes: facet_counts(f.cooperation, |c| {
            c.parse::<CooperationMode>().map(|m| m.label().to_string()).unwrap_or_else(|_| c.to_string())
        }),
    };
    Ok(HttpResponse::Ok().json(SearchResponse { total: outcome.total, page, limit, items, facets }))
}

#[allow(clippy::too_many_arguments)]
fn hit_source(
    library: Library,
    meta: &crate::domain::record::RecordMeta,
    title: &str,
    field: TechField,
    region: &str,
    trl: Option<u8>,
    cooperation: &[CooperationMode],
    body: String,
) -> HitSource {
    HitSource {
        hit: SearchHit {
            library: library.route(),
            id: meta.id.clone(),
            score: 0.0,
            title: title.to_string(),
            title_html: String::new(),
            snippet_html: String::new(),
            owner: OrgRef { id: meta.org_id.clone(), name: meta.org_name.clone() },
            field,
            field_label: field.label(),
            region: region.to_string(),
            region_label: region_name(region),
            status: meta.status,
            trl,
            cooperation_modes: cooperation.to_vec(),
            updated_at: meta.updated_at,
        },
        body,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TermResponse {
    pub id: String,
    pub word: String,
    pub freq: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SynonymResponse {
    pub id: String,
    pub members: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DictionaryResponse {
    /// The analyzer version the index in use was built with.
    pub index_version: String,
    /// The version the current dictionary (files + additions) gives; differs until a rebuild.
    pub dictionary_version: String,
    pub rebuild_needed: bool,
    /// Terms and synonym groups shipped in `index/`.
    pub shipped_terms: usize,
    pub shipped_synonym_groups: usize,
    /// Terms and groups added through the API.
    pub terms: Vec<TermResponse>,
    pub synonyms: Vec<SynonymResponse>,
}

/// The search dictionary: shipped entries, additions, and whether a rebuild is due.
#[utoipa::path(tag = "search", responses((status = 200, body = DictionaryResponse), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/dictionary")]
pub async fn get_dictionary(state: web::Data<AppState>, _auth: Auth<Staff>) -> Result<HttpResponse, ApiError> {
    let terms = state.store.list_dictionary_terms().await?;
    let synonyms = state.store.list_synonym_groups().await?;
    let latest = dictionary_version(state.store.as_ref()).await?;
    let index_version = state.search.analyzer_version();
    let shipped_terms =
        crate::search::analyzer::USER_DICT.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
    Ok(HttpResponse::Ok().json(DictionaryResponse {
        rebuild_needed: latest != index_version,
        dictionary_version: latest,
        index_version,
        shipped_terms,
        shipped_synonym_groups: crate::search::analyzer::parse_synonyms(crate::search::analyzer::SYNONYMS).len(),
        terms: terms
            .into_iter()
            .map(|t| TermResponse { id: t.id, word: t.word, freq: t.freq, created_at: t.created_at })
            .collect(),
        synonyms: synonyms
            .into_iter()
            .map(|g| SynonymResponse { id: g.id, members: g.members, created_at: g.created_at })
            .collect(),
    }))
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
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: TermInput = parse_body(body.into_inner())?;
    let (word, freq) = dictionary::parse_term(&input)?;
    let term = DictionaryTerm { id: new_id(), word, freq, created_by: auth.user_id.clone(), created_at: now() };
    state.store.insert_dictionary_term(&term).await.map_err(|e| match e {
        crate::storage::StoreError::UniqueViolation { .. } => {
            ApiError::conflict("already_exists", format!("`{}` is already in the dictionary", term.word))
        }
        other => other.into(),
    })?;
    Ok(HttpResponse::Created().json(TermResponse {
        id: term.id,
        word: term.word,
        freq: term.freq,
        created_at: term.created_at,
    }))
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
    state: web::Data<AppState>,
    auth: Auth<AdminOnly>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: SynonymInput = parse_body(body.into_inner())?;
    let members = dictionary::parse_synonyms(&input)?;
    let group = SynonymGroup { id: new_id(), members, created_by: auth.user_id.clone(), created_at: now() };
    state.store.insert_synonym_group(&group).await?;
    Ok(HttpResponse::Created().json(SynonymResponse {
        id: group.id,
        members: group.members,
        created_at: group.created_at,
    }))
}

/// Compare the index with the database (counts, versions, checkpoint).
#[utoipa::path(tag = "search", responses((status = 200, body = DriftReport), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[get("/admin/index")]
pub async fn check_index(state: web::Data<AppState>, _auth: Auth<AdminOnly>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.search.check().await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildResponse {
    /// The analyzer version of the new index.
    pub version: String,
    pub report: DriftReport,
}

/// Rebuild the index from the database with the current dictionary, then switch to it.
/// Searches keep being served from the old index meanwhile.
#[utoipa::path(tag = "search", responses((status = 200, body = RebuildResponse), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
#[post("/admin/index/rebuild")]
pub async fn rebuild_index(state: web::Data<AppState>, _auth: Auth<AdminOnly>) -> Result<HttpResponse, ApiError> {
    let _permit = state.heavy_permit("index rebuilds, imports and exports")?;
    let version = state.search.rebuild().await?;
    let report = state.search.check().await?;
    Ok(HttpResponse::build(StatusCode::OK).json(RebuildResponse { version, report }))
}
