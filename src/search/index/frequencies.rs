//! Each term's document frequency, looked up once for a piece of work that asks about the same
//! terms many times: a batch of rankings and their explanations (`Counterparts`), or one
//! ranking's explanation (its term weights, then its highlights). A frequency is the sum over
//! the segments of one searcher, as `Searcher::doc_freq` gives it.

use std::collections::HashMap;
use std::sync::Mutex;

use tantivy::schema::Field;
use tantivy::{Searcher, Term};

use crate::search::schema::Fields;

/// How many terms one memo keeps at most; past it, a term is looked up each time it is asked.
const KEPT_TERMS: usize = 500_000;

/// The document frequencies of the title, keywords and body fields on one searcher.
pub struct Frequencies {
    searcher: Searcher,
    fields: [Field; 3],
    known: Mutex<HashMap<String, [u64; 3]>>,
}

impl Frequencies {
    pub(super) fn new(searcher: Searcher, f: &Fields) -> Frequencies {
        Frequencies { searcher, fields: [f.title, f.keywords, f.body], known: Mutex::new(HashMap::new()) }
    }

    pub(super) fn searcher(&self) -> &Searcher {
        &self.searcher
    }

    /// In how many records `term` occurs in the title, keywords and body fields (in that order).
    pub(super) fn of(&self, term: &str) -> [u64; 3] {
        if let Some(found) = self.known.lock().expect("frequencies").get(term) {
            return *found;
        }
        // A dictionary that cannot be read counts as not holding the term.
        let found = self.fields.map(|field| self.searcher.doc_freq(&Term::from_field_text(field, term)).unwrap_or(0));
        let mut known = self.known.lock().expect("frequencies");
        if known.len() < KEPT_TERMS {
            known.insert(term.to_string(), found);
        }
        found
    }

    /// In how many records `term` occurs, in the field where it is most frequent.
    pub(super) fn document_frequency(&self, term: &str) -> u64 {
        self.of(term).into_iter().max().unwrap_or(0)
    }
}
