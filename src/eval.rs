//! Evaluation on JSON Lines data (the CSL protocol described in README.md, "Matching quality"): achievements go into a fresh
//! in-memory index through the same document builder as live records, each need runs through
//! the same search path as the API, and the ranking is written as a TREC run.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::domain::achievement::{Achievement, AchievementContent};
use crate::domain::new_id;
use crate::domain::record::{Library, RecordMeta};
use crate::domain::vocab::{AchievementType, IpForm, TechField, Visibility};
use crate::matching::{self, Feedback, MatchInput, MatchParams};
use crate::search::analyzer::Analyzer;
pub use crate::search::analyzer::Segmentation;
pub use crate::search::index::FieldWeights;
use crate::search::index::{IndexError, SearchIndex, SearchRequest};
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
    // An evaluation record is timeless: one fixed moment keeps runs reproducible.
    let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
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

/// The index document of an evaluation record: the discipline is its field, as a free-text
/// field would be.
pub fn document<'a>(achievement: &'a Achievement, record: &'a EvalRecord) -> IndexRecord<'a> {
    let mut doc = IndexRecord::from(achievement);
    if let Some(field) = record.field.as_deref().filter(|f| !f.is_empty()) {
        doc.field = field;
    }
    doc
}

/// The loaded catalogue: the index and the evaluation id of every record.
pub struct Catalogue {
    pub index: SearchIndex,
    /// Evaluation id → (discipline, keywords).
    records: HashMap<String, (String, Vec<String>)>,
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
            let docs: Vec<IndexRecord<'_>> = chunk.iter().zip(sources).map(|(a, r)| document(a, r)).collect();
            index.add(&docs)?;
        }
        index.apply(&[], &[], 0)?;
        let records =
            records.iter().map(|r| (r.id.clone(), (r.field.clone().unwrap_or_default(), r.keywords.clone()))).collect();
        Ok(Catalogue { index, records, ids, index_ids })
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
        self.rank_with(need, k, method, params, Feedback::default())
    }

    fn rank_with(
        &self,
        need: &EvalRecord,
        k: usize,
        method: Method,
        params: &MatchParams,
        feedback: Feedback,
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
                let input = MatchInput { text, exclude_id: own, feedback, ..MatchInput::default() };
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
        write_run(out, &need.id, &catalogue.rank(need, 100, method, params)?, tag)?;
    }
    Ok(())
}

fn write_run(out: &mut dyn Write, need: &str, ranking: &[(String, f32)], tag: &str) -> Result<(), EvalError> {
    for (rank, (id, score)) in ranking.iter().enumerate() {
        writeln!(out, "{need} Q0 {id} {} {score:.4} {tag}", rank + 1)?;
    }
    Ok(())
}

/// How many matches the simulated manager reviews per need.
pub const REVIEWED: usize = 5;

/// TREC qrels: need id → related achievement ids.
pub fn load_qrels(path: &Path) -> Result<HashMap<String, HashSet<String>>, EvalError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| EvalError::Read { path: path.display().to_string(), source })?;
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [need, _, achievement, grade] = parts[..]
            && grade.parse::<i32>().is_ok_and(|g| g > 0)
        {
            out.entry(need.to_string()).or_default().insert(achievement.to_string());
        }
    }
    Ok(out)
}

/// Measures manager feedback: for each need, a simulated manager reviews the first `REVIEWED`
/// matches (accepting the related ones, rejecting unrelated ones of another discipline as
/// `field_mismatch`), and the need is matched again with that feedback, as the service does
/// after decisions. Both runs leave the reviewed matches out: `out` with feedback, `baseline`
/// without, so they compare what the manager sees next.
pub fn run_with_feedback(
    catalogue: &Catalogue,
    needs: &[EvalRecord],
    qrels: &HashMap<String, HashSet<String>>,
    out: &mut dyn Write,
    baseline: &mut dyn Write,
    tag: &str,
    params: &MatchParams,
) -> Result<(), EvalError> {
    let empty = HashSet::new();
    for need in needs {
        let related = qrels.get(&need.id).unwrap_or(&empty);
        // The manager knows the need's field: the discipline of its source record.
        let need_field = catalogue.records.get(&need.id).map(|(f, _)| f.as_str()).unwrap_or_default();
        let first = catalogue.rank(need, 100 + REVIEWED, Method::Match, params)?;
        let reviewed: HashSet<String> = first.iter().take(REVIEWED).map(|(id, _)| id.clone()).collect();
        let mut feedback = Feedback::default();
        for id in &reviewed {
            let Some((field, keywords)) = catalogue.records.get(id) else { continue };
            if related.contains(id) {
                feedback.accepted_keywords.extend(keywords.iter().cloned());
            } else if field != need_field {
                feedback.rejected_fields.push(field.clone());
            }
        }
        let second = catalogue.rank_with(need, 100 + REVIEWED, Method::Match, params, feedback)?;
        let unreviewed = |ranking: &[(String, f32)]| -> Vec<(String, f32)> {
            ranking.iter().filter(|(id, _)| !reviewed.contains(id)).take(100).cloned().collect()
        };
        write_run(baseline, &need.id, &unreviewed(&first), tag)?;
        write_run(out, &need.id, &unreviewed(&second), tag)?;
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
