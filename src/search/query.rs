//! What a person means by a search: the query read as a few concepts.
//!
//! A concept is one word of the query (a word of the market's dictionary or of jieba's) with
//! everything that says the same thing: its synonyms, its narrower terms (氢能 → 制氢, 储氢 …,
//! `index/broader.txt`), and, together, its parts (固态 + 电池 for 固态电池). A record *holds* a
//! concept when it contains the word, a synonym or a narrower term, or every part of the word
//! that is not generic. A part alone never holds it: 电池 is not 固态电池, and 提高 is not
//! 提高采收率. Generic words (`index/generic.txt`: 提高, 技术, 系统 …) are optional concepts
//! when the query has others.
//!
//! The index (`SearchIndex::search`) ranks records that hold every required concept first, then
//! those that hold some, each tier by BM25 (as Elasticsearch's `minimum_should_match` would give
//! the first tier, and Meilisearch's `matchingStrategy` lists the rest after it). A record that
//! holds none (it shares only a generic sub-word with the
//! query) is left out when any record holds a concept, and always comes after one that does.
//! When no record holds every concept, after filters too, the answer says so
//! (`Matched::Partial`). This module knows nothing of tantivy: it says which terms, with which
//! weights, make each concept.

use super::analyzer::Analyzer;

/// Weight of a synonym relative to the word typed.
pub const SYNONYM_WEIGHT: f32 = 0.8;
/// Weight of a narrower term (制氢 for 氢能).
pub const NARROWER_WEIGHT: f32 = 0.5;
/// Weight of a sub-word (电池 of 固态电池): it ranks, it never holds the concept alone.
pub const PART_WEIGHT: f32 = 0.4;
/// Most concepts a query is read as: a search's `q` is at most 100 characters, so this only
/// bounds the clauses of a longer text given to the index directly (evaluation, benchmarks).
pub const MAX_CONCEPTS: usize = 64;

/// One concept of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Concept {
    /// The word as the analyzer normalised it (simplified, lower case).
    pub text: String,
    /// A generic word: optional when the query has other concepts.
    pub generic: bool,
    /// Terms that hold the concept each on its own, with their weights: the word (1.0), its
    /// synonyms, its narrower terms and theirs.
    pub whole: Vec<(String, f32)>,
    /// The word's top-level parts that are not generic; a record with all of them holds the
    /// concept too. Empty when the word has no parts, when they do not cover it whole, or when
    /// they are all generic.
    pub parts: Vec<String>,
    /// Every sub-word, for ranking only.
    pub subwords: Vec<String>,
    /// How often the text says the word: its terms weigh 1 + ln(count) times more.
    pub count: usize,
}

/// Whether some records hold every required concept of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matched {
    /// Some records hold every required concept (or the search has no text): they come first.
    #[default]
    All,
    /// No record the viewer may see, with the filters, holds every required concept: the hits
    /// are records that hold some, most first.
    Partial,
}

/// A query read as concepts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedQuery {
    pub concepts: Vec<Concept>,
}

fn push_max(terms: &mut Vec<(String, f32)>, term: &str, weight: f32) {
    match terms.iter_mut().find(|(t, _)| t == term) {
        Some(entry) => entry.1 = entry.1.max(weight),
        None => terms.push((term.to_string(), weight)),
    }
}

impl ParsedQuery {
    /// Reads `text` as concepts, in the order they appear; a word said twice is one concept.
    pub fn parse(analyzer: &Analyzer, text: &str) -> ParsedQuery {
        let tokens = analyzer.analyze(text);
        let mut concepts: Vec<Concept> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let word = &tokens[i];
            let mut j = i + 1;
            while j < tokens.len() && tokens[j].subword && tokens[j].position == word.position {
                j += 1;
            }
            let subs = &tokens[i + 1..j];
            i = j;
            if let Some(concept) = concepts.iter_mut().find(|c| c.text == word.text) {
                concept.count += 1;
                continue;
            }
            if concepts.len() == MAX_CONCEPTS {
                break;
            }
            let mut whole = vec![(word.text.clone(), 1.0)];
            let mut same: Vec<&str> = vec![word.text.as_str()];
            for synonym in analyzer.synonyms(&word.text) {
                push_max(&mut whole, synonym, SYNONYM_WEIGHT);
                same.push(synonym);
            }
            for term in same {
                for narrower in analyzer.narrower(term) {
                    push_max(&mut whole, narrower, NARROWER_WEIGHT);
                    for synonym in analyzer.synonyms(narrower) {
                        push_max(&mut whole, synonym, NARROWER_WEIGHT);
                    }
                }
            }
            // Top-level parts: sub-words not inside the part before them (the analyzer gives
            // each part, then the words inside it).
            // They stand for the word only when they cover it whole: 固态 + 电池 are 固态电池, but
            // 二氧化 alone is not 二氧化碳.
            let mut parts = Vec::new();
            let mut end = 0;
            let mut covered = 0;
            for sub in subs {
                if sub.from >= end {
                    end = sub.to;
                    covered += sub.to - sub.from;
                    if !analyzer.is_generic(&sub.text) {
                        parts.push(sub.text.clone());
                    }
                }
            }
            if covered != word.to - word.from {
                parts.clear();
            }
            let mut subwords: Vec<String> = Vec::new();
            for sub in subs {
                if !subwords.contains(&sub.text) && !whole.iter().any(|(t, _)| *t == sub.text) {
                    subwords.push(sub.text.clone());
                }
            }
            concepts.push(Concept {
                text: word.text.clone(),
                generic: analyzer.is_generic(&word.text),
                whole,
                parts,
                subwords,
                count: 1,
            });
        }
        ParsedQuery { concepts }
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    /// The concepts every hit must hold: all but the generic ones, or all of them when the
    /// query has nothing else.
    pub fn required(&self) -> Vec<&Concept> {
        let specific: Vec<&Concept> = self.concepts.iter().filter(|c| !c.generic).collect();
        if specific.is_empty() { self.concepts.iter().collect() } else { specific }
    }

    /// Every term that scores, with its weight (the largest where concepts share a term).
    pub fn scored_terms(&self) -> Vec<(String, f32)> {
        let mut terms: Vec<(String, f32)> = Vec::new();
        for concept in &self.concepts {
            let repeated = 1.0 + (concept.count as f32).ln();
            for (term, weight) in &concept.whole {
                push_max(&mut terms, term, weight * repeated);
            }
            for sub in &concept.subwords {
                push_max(&mut terms, sub, PART_WEIGHT * repeated);
            }
        }
        terms
    }

    /// The concepts' words, as the response reports them.
    pub fn words(&self) -> Vec<String> {
        self.concepts.iter().map(|c| c.text.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ParsedQuery {
        ParsedQuery::parse(&Analyzer::shipped(), text)
    }

    fn whole(concept: &Concept) -> Vec<&str> {
        concept.whole.iter().map(|(t, _)| t.as_str()).collect()
    }

    #[test]
    fn a_compound_is_one_concept_held_by_all_its_parts_never_by_one() {
        let q = parse("固態電池");
        assert_eq!(q.concepts.len(), 1, "{q:?}");
        let c = &q.concepts[0];
        assert_eq!(c.text, "固态电池");
        assert!(whole(c).contains(&"全固态电池"), "{c:?}");
        assert_eq!(c.parts, ["固态", "电池"]);
        assert!(!whole(c).contains(&"电池"));
    }

    #[test]
    fn generic_parts_do_not_hold_a_concept_and_generic_words_are_optional() {
        let q = parse("提高采收率技术");
        let eor = q.concepts.iter().find(|c| c.text == "提高采收率").expect("提高采收率 is one concept");
        assert_eq!(eor.parts, ["采收率"]);
        assert!(whole(eor).contains(&"eor"));
        assert!(q.required().iter().all(|c| !c.generic));
        assert!(q.required().iter().all(|c| c.text != "技术"), "{q:?}");
        let only_generic = parse("技术");
        assert_eq!(only_generic.required().len(), 1);
    }

    #[test]
    fn synonyms_in_either_script_and_narrower_terms_join_the_concept_at_lower_weights() {
        let capture = parse("碳捕獲");
        assert_eq!(capture.concepts.len(), 1, "{capture:?}");
        let c = &capture.concepts[0];
        assert!(whole(c).contains(&"二氧化碳捕集"), "{c:?}");
        let hydrogen = parse("氢能");
        let h = &hydrogen.concepts[0];
        let weight = |t: &str| h.whole.iter().find(|(w, _)| w == t).map(|(_, w)| *w);
        assert_eq!(weight("氢能"), Some(1.0));
        assert_eq!(weight("绿氢"), Some(NARROWER_WEIGHT));
        assert_eq!(weight("电解水制氢"), Some(NARROWER_WEIGHT));
        // A narrower term does not find its broader one.
        assert!(!whole(&parse("绿氢").concepts[0]).contains(&"氢能"));
    }

    #[test]
    fn a_query_of_stop_words_has_no_concept_and_a_long_one_is_bounded() {
        assert!(parse("的 和 与").is_empty());
        let words: Vec<String> = (0..100).map(|i| format!("x{i}")).collect();
        let long = format!("碳捕集 碳捕集 碳捕集 碳捕集 依克多因 {}", words.join(" "));
        let parsed = parse(&long);
        assert_eq!(parsed.concepts.len(), MAX_CONCEPTS);
        // A word said again is one concept, weighing more.
        assert_eq!(parsed.concepts[0].count, 4);
        let weight = |t: &str| parsed.scored_terms().into_iter().find(|(w, _)| w == t).map(|(_, w)| w).unwrap();
        assert!(weight("碳捕集") > weight("依克多因"));
    }
}
