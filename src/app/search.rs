//! Full-text search over both libraries, dictionary management, and the index's health.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::indexing::DriftReport;
use super::queries::SearchQuery;
use super::views::OrgRef;
use super::{App, Code, Error, Result};
use crate::domain::dictionary::{self, DictionaryTerm, SynonymGroup, SynonymInput, TermInput};
use crate::domain::new_id;
use crate::domain::record::{Library, Principal, can_view};
use crate::domain::validate::region_name;
use crate::domain::vocab::{CooperationMode, RecordStatus, TRL_LABELS, TechField};
use crate::search::engine::SearchError;

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// needs or achievements.
    pub library: &'static str,
    pub id: String,
    /// Relevance (0 when sorted by date): 10,000 when the record holds every concept of `q`,
    /// 1,000 when it holds at least one, plus the text score (BM25).
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

/// Whether some records hold every concept of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Matched {
    /// Some records hold every concept of the query (or the search has no `q`): the first
    /// `complete` hits; records that hold fewer follow.
    All,
    /// No record you may see holds every concept with these filters: the hits are related
    /// records that hold some of them, those holding most first ("no exact match; related
    /// results"). `missing` names the concepts no record holds.
    Partial,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// `all`: the first `complete` hits hold every concept of `q`, and records holding fewer
    /// follow; `partial`: no record does, and the hits are related results holding some of them.
    pub matched: Matched,
    /// How many records hold every concept of `q` (they come first); all of `total` without `q`.
    pub complete: usize,
    /// The concepts `q` was read as (words normalised to simplified Chinese and lower case; a
    /// concept also finds its synonyms and narrower terms). Generic words such as 技术 or 提高
    /// are optional when `q` has other words.
    pub concepts: Vec<String>,
    /// With `matched: partial`, the concepts no record you may see holds with these filters.
    pub missing: Vec<String>,
    /// How many records match (only records you may see are counted).
    pub total: usize,
    pub page: u32,
    pub limit: u32,
    pub items: Vec<SearchHit>,
    pub facets: SearchFacets,
    /// How many of the `total` matching records the facet counts are of: all of them, or, when
    /// more than 10,000 match, the first 10,000 in the index's order (so the counts are a sample
    /// and a search costs the same however common its words).
    pub facets_counted: usize,
}

/// What a hit needs from its record, whichever library it is in.
struct HitSource {
    hit: SearchHit,
    body: String,
}

fn facet_counts(counts: Vec<(String, u64)>, label: impl Fn(&str) -> String) -> Vec<FacetCount> {
    counts.into_iter().map(|(code, count)| FacetCount { label: label(&code), code, count }).collect()
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

/// A search over the records the viewer may see: hits re-checked against the database (the
/// source of truth), highlighted, with facet counts.
pub async fn search(cx: &App, who: &Principal, query: SearchQuery, page: u32, limit: u32) -> Result<SearchResponse> {
    let request = query.seen_by(who);
    let text = request.text.clone();
    let outcome = cx.search.search(request).await.map_err(search_failed)?;

    let ids = |library: Library| -> Vec<String> {
        outcome.hits.iter().filter(|h| h.library == library).map(|h| h.id.clone()).collect()
    };
    let needs = cx.store.needs_by_ids(&ids(Library::Needs)).await?;
    let achievements = cx.store.achievements_by_ids(&ids(Library::Achievements)).await?;
    let mut sources: HashMap<String, HitSource> = HashMap::new();
    // The database is the source of truth: a record changed since it was indexed is checked again.
    for n in needs.iter().filter(|n| can_view(who, &n.meta.org_id, n.content.visibility, n.meta.status)) {
        let c = &n.content;
        let body = [c.description.as_str(), c.targets.as_str(), c.tried.as_str()].join(" ");
        sources.insert(
            n.meta.id.clone(),
            hit_source(Library::Needs, &n.meta, &c.title, c.field, &c.region, None, &c.cooperation_modes, body),
        );
    }
    for a in achievements.iter().filter(|a| can_view(who, &a.meta.org_id, a.content.visibility, a.meta.status)) {
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
    let index = cx.search.current();
    let highlighted = tokio::task::spawn_blocking(move || index.highlight_search(&text, &texts))
        .await
        .map_err(|_| Error::internal())?;
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
    let matched = match outcome.matched {
        crate::search::query::Matched::All => Matched::All,
        crate::search::query::Matched::Partial => Matched::Partial,
    };
    Ok(SearchResponse {
        matched,
        complete: outcome.complete,
        concepts: outcome.concepts,
        missing: outcome.missing,
        total: outcome.total,
        page,
        limit,
        items,
        facets,
        facets_counted: outcome.facets_counted,
    })
}

fn indexing_failed(err: super::indexing::IndexingError) -> Error {
    match err {
        super::indexing::IndexingError::Store(e) => e.into(),
        super::indexing::IndexingError::Search(e) => search_failed(e),
    }
}

fn search_failed(err: SearchError) -> Error {
    tracing::error!(error = %err, "search failed");
    Error::internal()
}

/// The search dictionary: shipped entries, additions, and whether a rebuild is due (staff).
pub async fn dictionary(cx: &App, who: &Principal) -> Result<DictionaryResponse> {
    if !who.role.is_staff() {
        return Err(Error::forbidden("the dictionary is kept by technology managers and administrators"));
    }
    let terms = cx.store.list_dictionary_terms().await?;
    let synonyms = cx.store.list_synonym_groups().await?;
    let latest = super::indexing::dictionary_version(cx.store.as_ref()).await?;
    let index_version = cx.search.analyzer_version();
    let shipped_terms =
        crate::search::analyzer::USER_DICT.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
    Ok(DictionaryResponse {
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
    })
}

fn admin_only(who: &Principal, what: &str) -> Result<()> {
    if who.role == crate::domain::vocab::Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden(format!("{what} is for administrators")))
    }
}

/// Adds a domain term (administrators); it takes effect at the next index rebuild.
pub async fn add_term(cx: &App, who: &Principal, input: TermInput) -> Result<TermResponse> {
    admin_only(who, "changing the dictionary")?;
    let (word, freq) = dictionary::parse_term(&input)?;
    let mut unit = cx.begin(who).await?;
    let term = DictionaryTerm { id: new_id(), word, freq, created_by: who.user_id.clone(), created_at: unit.at() };
    unit.insert_dictionary_term(&term).await.map_err(|e| match e {
        crate::storage::StoreError::UniqueViolation { .. } => {
            Error::new(Code::AlreadyExists, format!("`{}` is already in the dictionary", term.word))
        }
        other => other.into(),
    })?;
    unit.commit().await?;
    Ok(TermResponse { id: term.id, word: term.word, freq: term.freq, created_at: term.created_at })
}

/// Adds a synonym group (administrators); it takes effect at the next index rebuild.
pub async fn add_synonyms(cx: &App, who: &Principal, input: SynonymInput) -> Result<SynonymResponse> {
    admin_only(who, "changing the dictionary")?;
    let members = dictionary::parse_synonyms(&input)?;
    let mut unit = cx.begin(who).await?;
    let group = SynonymGroup { id: new_id(), members, created_by: who.user_id.clone(), created_at: unit.at() };
    unit.insert_synonym_group(&group).await?;
    unit.commit().await?;
    Ok(SynonymResponse { id: group.id, members: group.members, created_at: group.created_at })
}

/// Compares the index with the database (administrators).
pub async fn check_index(cx: &App, who: &Principal) -> Result<DriftReport> {
    admin_only(who, "checking the index")?;
    super::indexing::check(cx.store.as_ref(), &cx.search).await.map_err(indexing_failed)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildResponse {
    /// The analyzer version of the new index.
    pub version: String,
    pub report: DriftReport,
}

/// Rebuilds the index from the database with the current dictionary, then switches to it
/// (administrators). Searches keep being served from the old index meanwhile.
pub async fn rebuild_index(cx: &App, who: &Principal) -> Result<RebuildResponse> {
    admin_only(who, "rebuilding the index")?;
    let _permit = cx.heavy_permit("index rebuilds, imports and exports")?;
    let version = super::indexing::rebuild(cx.store.as_ref(), &cx.search).await.map_err(indexing_failed)?;
    let report = super::indexing::check(cx.store.as_ref(), &cx.search).await.map_err(indexing_failed)?;
    Ok(RebuildResponse { version, report })
}

/// How the search reads a text (`techmarket analyze`, for keeping the dictionary).
#[derive(Debug, Clone)]
pub struct Reading {
    /// The analyzer's tokens, sub-words in brackets.
    pub tokens: Vec<String>,
    /// Each concept a query of the text is read as, described on one line.
    pub concepts: Vec<String>,
}

/// Reads `text` with the shipped dictionary as a search would.
pub fn analyze(text: &str) -> Reading {
    let analyzer = crate::search::analyzer::Analyzer::shipped();
    let tokens =
        analyzer.analyze(text).into_iter().map(|t| if t.subword { format!("({})", t.text) } else { t.text }).collect();
    let concepts = crate::search::query::ParsedQuery::parse(&analyzer, text)
        .concepts
        .into_iter()
        .map(|concept| {
            let whole: Vec<String> = concept.whole.iter().map(|(t, w)| format!("{t}×{w}")).collect();
            format!(
                "concept {}{}: {} | parts (all needed): {}",
                concept.text,
                if concept.generic { " (generic, optional)" } else { "" },
                whole.join(" "),
                concept.parts.join(" + ")
            )
        })
        .collect();
    Reading { tokens, concepts }
}
