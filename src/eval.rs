//! Evaluation on JSON Lines data (the CSL protocol of shared/eval): achievements go into a fresh
//! in-memory index through the same document builder as live records, each need runs through
//! the same search path as the API, and the ranking is written as a TREC run.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::domain::achievement::{Achievement, AchievementContent};
use crate::domain::record::{Library, RecordMeta};
use crate::domain::vocab::{AchievementType, IpForm, TechField, Visibility};
use crate::domain::{new_id, now};
use crate::matching::{self, MatchInput, MatchParams};
use crate::search::analyzer::{Analyzer, Segmentation};
use crate::search::index::{FieldWeights, IndexError, SearchIndex, SearchRequest};
use crate::search::schema::IndexRecord;

/// One line of an evaluation file. Achievements have an abstract; needs a description (or
/// only a title). `field` is a discipline name outside the market's field vocabulary, kept as
/// text.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalRecord {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, alias = "abstract")]
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} line {line}: {message}")]
    Parse { path: String, line: usize, message: String },
    #[error("cannot write the run: {0}")]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Reads a JSON Lines file of records.
pub fn load(path: &Path) -> Result<Vec<EvalRecord>, EvalError> {
    let file =
        std::fs::File::open(path).map_err(|source| EvalError::Read { path: path.display().to_string(), source })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| EvalError::Read { path: path.display().to_string(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|e| EvalError::Parse {
            path: path.display().to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(record);
    }
    Ok(out)
}

/// An achievement record as the market would hold it: the discipline joins the keywords,
/// as a free-text field a university fills in would.
pub fn achievement(record: &EvalRecord, org_id: &str) -> Achievement {
    let mut keywords = record.keywords.clone();
    if let Some(field) = record.field.as_ref().filter(|f| !f.is_empty()) {
        keywords.push(field.clone());
    }
    let at = now();
    Achievement {
        meta: RecordMeta::new(new_id(), org_id.to_string(), "评测".to_string(), org_id.to_string(), at),
        content: AchievementContent {
            title: record.title.clone(),
            summary: record.description.clone(),
            keywords,
            field: TechField::Other,
            achievement_type: AchievementType::Other,
            trl: None,
            stage: None,
            ip_form: IpForm::None,
            patent_numbers: Vec::new(),
            cooperation_modes: Vec::new(),
            asking_price: None,
            team_lead: String::new(),
            region: String::new(),
            contact: Default::default(),
            visibility: Visibility::Public,
        },
    }
}

/// The loaded catalogue: the index and the evaluation id of every record.
pub struct Catalogue {
    pub index: SearchIndex,
    /// Index id → evaluation id, and back.
    ids: HashMap<String, String>,
    index_ids: HashMap<String, String>,
}

/// Which production path ranks the needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The search API's path (`SearchIndex::search`).
    Search,
    /// The matcher (`matching::rank`): search candidates re-ranked with field and keyword evidence.
    Match,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "search" => Ok(Method::Search),
            "match" => Ok(Method::Match),
            other => Err(format!("`{other}`: use search or match")),
        }
    }
}

impl Catalogue {
    pub fn build(
        records: &[EvalRecord],
        weights: FieldWeights,
        segmentation: Segmentation,
    ) -> Result<Catalogue, EvalError> {
        let analyzer = match segmentation {
            Segmentation::WordsAndSubwords => Analyzer::shipped(),
            other => Arc::new(Analyzer::new(&[], &[]).with_segmentation(other)),
        };
        let index = SearchIndex::in_memory(analyzer)?.with_weights(weights);
        let org = new_id();
        let achievements: Vec<Achievement> = records.iter().map(|r| achievement(r, &org)).collect();
        let ids: HashMap<String, String> =
            achievements.iter().zip(records).map(|(a, r)| (a.meta.id.clone(), r.id.clone())).collect();
        let index_ids = ids.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
        for (chunk, sources) in achievements.chunks(1000).zip(records.chunks(1000)) {
            let docs: Vec<IndexRecord<'_>> = chunk
                .iter()
                .zip(sources)
                .map(|(a, r)| {
                    // The discipline is the record's field, as a free-text field would be.
                    let mut doc = IndexRecord::from(a);
                    if let Some(field) = r.field.as_deref().filter(|f| !f.is_empty()) {
                        doc.field = field;
                    }
                    doc
                })
                .collect();
            index.add(&docs)?;
        }
        index.apply(&[], &[], 0)?;
        Ok(Catalogue { index, ids, index_ids })
    }

    /// The top `k` achievements for a need: (evaluation id, score). The need's own source
    /// record, which the data set keeps in the catalogue, takes no part (a real need is not an
    /// achievement of the catalogue).
    pub fn rank(
        &self,
        need: &EvalRecord,
        k: usize,
        method: Method,
        params: &MatchParams,
    ) -> Result<Vec<(String, f32)>, EvalError> {
        let text = format!("{} {}", need.title, need.description);
        let request = SearchRequest {
            text: text.clone(),
            library: Some(Library::Achievements),
            viewer_is_staff: true,
            limit: k,
            ..SearchRequest::default()
        };
        let own = self.index_ids.get(&need.id).cloned();
        let ranked: Vec<(String, f32)> = match method {
            Method::Search => {
                let outcome = self.index.search(&request)?;
                outcome.hits.into_iter().filter(|h| Some(&h.id) != own.as_ref()).map(|h| (h.id, h.score)).collect()
            }
            Method::Match => {
                let input = MatchInput { text, exclude_id: own, ..MatchInput::default() };
                let ranking = matching::rank(&self.index, &input, request, params)?;
                ranking.candidates.into_iter().map(|c| (c.retrieved.id, c.score)).collect()
            }
        };
        Ok(ranked.into_iter().filter_map(|(id, score)| self.ids.get(&id).map(|e| (e.clone(), score))).collect())
    }
}

/// Ranks every need and writes the TREC run `need_id Q0 achievement_id rank score tag`.
pub fn run(
    catalogue: &Catalogue,
    needs: &[EvalRecord],
    out: &mut dyn Write,
    tag: &str,
    method: Method,
    params: &MatchParams,
) -> Result<(), EvalError> {
    for need in needs {
        for (rank, (id, score)) in catalogue.rank(need, 100, method, params)?.into_iter().enumerate() {
            writeln!(out, "{} Q0 {} {} {:.4} {}", need.id, id, rank + 1, score, tag)?;
        }
    }
    Ok(())
}

/// A catalogue from one or more JSON Lines files.
pub fn catalogue_from_files(
    paths: &[std::path::PathBuf],
    weights: FieldWeights,
    segmentation: Segmentation,
) -> Result<Catalogue, EvalError> {
    let mut records = Vec::new();
    for path in paths {
        records.extend(load(path)?);
    }
    Catalogue::build(&records, weights, segmentation)
}
