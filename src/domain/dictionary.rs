//! Domain terms and synonym groups that admins add to the search dictionary, beside the files
//! shipped in `index/`. They take effect when the index is rebuilt with them.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::validate::{self as v, ValidationErrors};

#[derive(Debug, Clone, PartialEq)]
pub struct DictionaryTerm {
    pub id: String,
    pub word: String,
    /// jieba frequency; the default keeps the term a whole word.
    pub freq: Option<i64>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SynonymGroup {
    pub id: String,
    pub members: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermInput {
    /// The term, e.g. 蛏子苗种; 2-30 characters, no spaces.
    pub word: Option<String>,
    /// Optional jieba frequency (1-1000000); higher keeps the term whole against its parts.
    pub freq: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SynonymInput {
    /// Two to twenty terms that mean the same, e.g. ["CCUS", "碳捕集利用与封存"].
    pub members: Option<Vec<String>>,
}

fn check_word(e: &mut ValidationErrors, field: &str, word: &str) {
    let chars = word.chars().count();
    if !(2..=30).contains(&chars) || word.chars().any(char::is_whitespace) {
        e.add(
            field,
            "invalid_term",
            format!("「{word}」应为 2 到 30 个字符，不含空格"),
            format!("`{word}` must be 2 to 30 characters without spaces"),
        );
    }
}

/// A validated new term: (word, freq).
pub fn parse_term(input: &TermInput) -> Result<(String, Option<i64>), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let word = v::required_text(&mut e, "word", input.word.as_deref(), 30);
    if !word.is_empty() {
        check_word(&mut e, "word", &word);
    }
    if let Some(freq) = input.freq
        && !(1..=1_000_000).contains(&freq)
    {
        e.add(
            "freq",
            "out_of_range",
            format!("「词频」应为 1 到 1000000（收到 {freq}）"),
            format!("`freq` must be from 1 to 1000000 (got {freq})"),
        );
    }
    e.finish(|| (word, input.freq))
}

/// A validated synonym group.
pub fn parse_synonyms(input: &SynonymInput) -> Result<Vec<String>, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let members = v::string_list(&mut e, "members", input.members.as_deref(), 20, 30);
    if members.len() < 2 {
        e.add(
            "members",
            "too_few",
            "同义词组至少需要两个不同的词",
            "a synonym group needs at least two different terms",
        );
    }
    for m in &members {
        check_word(&mut e, "members", m);
    }
    e.finish(|| members)
}
