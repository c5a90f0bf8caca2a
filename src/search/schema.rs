//! The one gateway to the tantivy schema: fields, the Chinese tokenizer, and how a need or an
//! achievement becomes an index document.

use std::sync::Arc;

use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{PreTokenizedString, Token, TokenStream, Tokenizer};
use tantivy::{Index, TantivyDocument, Term};

use super::analyzer::Analyzer;
use crate::domain::achievement::Achievement;
use crate::domain::need::Need;
use crate::domain::record::{Library, RecordMeta};
use crate::domain::vocab::{CooperationMode, Visibility};

/// Name under which the Chinese tokenizer is registered with every index.
pub const TOKENIZER: &str = "zh";

/// How many times a record's keywords count in the `text` field (the keywords field's weight).
pub const KEYWORD_REPEATS: usize = 3;

/// The fields of the index.
#[derive(Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub library: Field,
    pub org_id: Field,
    pub visibility: Field,
    pub status: Field,
    pub field: Field,
    /// The region code and its province and city prefixes (37, 3705, 370502).
    pub region: Field,
    /// 0 when the record has no TRL (needs, achievements with a stage only).
    pub trl: Field,
    pub cooperation: Field,
    pub updated_at: Field,
    pub version: Field,
    pub title: Field,
    pub keywords: Field,
    pub body: Field,
    /// Title, keywords and body as one field (frequencies, no positions): the matcher's first
    /// stage, where one clause per term lets block-max WAND skip what cannot enter the top. The
    /// keywords count `KEYWORD_REPEATS` times, as the keywords field weighs three times the others.
    pub text: Field,
    pub facet_field: Field,
    pub facet_region: Field,
    pub facet_trl: Field,
    pub facet_cooperation: Field,
}

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        // Frequencies without positions: no query reads positions (phrases are not searched;
        // highlighting analyses the text again), and they cost indexing time and space.
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            id: b.add_text_field("id", STRING | STORED),
            library: b.add_text_field("library", STRING | STORED),
            org_id: b.add_text_field("org_id", STRING),
            visibility: b.add_text_field("visibility", STRING),
            status: b.add_text_field("status", STRING),
            field: b.add_text_field("field", STRING | STORED),
            region: b.add_text_field("region", STRING),
            trl: b.add_u64_field("trl", INDEXED | FAST),
            cooperation: b.add_text_field("cooperation", STRING),
            updated_at: b.add_i64_field("updated_at", INDEXED | FAST),
            version: b.add_i64_field("version", STORED),
            title: b.add_text_field("title", text.clone()),
            keywords: b.add_text_field("keywords", text.clone().set_stored()),
            body: b.add_text_field("body", text),
            text: b.add_text_field(
                "text",
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(TOKENIZER)
                        .set_index_option(IndexRecordOption::WithFreqs),
                ),
            ),
            facet_field: b.add_facet_field("facet_field", FacetOptions::default()),
            facet_region: b.add_facet_field("facet_region", FacetOptions::default()),
            facet_trl: b.add_facet_field("facet_trl", FacetOptions::default()),
            facet_cooperation: b.add_facet_field("facet_cooperation", FacetOptions::default()),
        };
        (b.build(), fields)
    }

    /// The fields of an existing index, by name.
    pub fn of(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            id: f("id")?,
            library: f("library")?,
            org_id: f("org_id")?,
            visibility: f("visibility")?,
            status: f("status")?,
            field: f("field")?,
            region: f("region")?,
            trl: f("trl")?,
            cooperation: f("cooperation")?,
            updated_at: f("updated_at")?,
            version: f("version")?,
            title: f("title")?,
            keywords: f("keywords")?,
            body: f("body")?,
            text: f("text")?,
            facet_field: f("facet_field")?,
            facet_region: f("facet_region")?,
            facet_trl: f("facet_trl")?,
            facet_cooperation: f("facet_cooperation")?,
        })
    }

    pub fn id_term(&self, id: &str) -> Term {
        Term::from_field_text(self.id, id)
    }
}

/// Registers the Chinese tokenizer; must happen every time an index is opened (PITFALLS 7).
pub fn register_tokenizer(index: &Index, analyzer: Arc<Analyzer>) {
    index.tokenizers().register(TOKENIZER, ZhTokenizer { analyzer });
}

/// tantivy's view of the analyzer. Clones share one `Analyzer` (PITFALLS 6).
#[derive(Clone)]
pub struct ZhTokenizer {
    analyzer: Arc<Analyzer>,
}

pub struct ZhTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for ZhTokenizer {
    type TokenStream<'a> = ZhTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ZhTokenStream {
        ZhTokenStream { tokens: tokens(&self.analyzer, text), next: 0 }
    }
}

/// The analyzer's tokens of `text` as tantivy's.
fn tokens(analyzer: &Analyzer, text: &str) -> Vec<Token> {
    analyzer
        .analyze(text)
        .into_iter()
        .map(|t| Token { offset_from: t.from, offset_to: t.to, position: t.position, text: t.text, position_length: 1 })
        .collect()
}

/// `text` analysed once, for a field that is not stored (the tokens are indexed as given).
fn pre_tokenized(analyzer: &Analyzer, text: &str) -> PreTokenizedString {
    PreTokenizedString { text: String::new(), tokens: tokens(analyzer, text) }
}

impl TokenStream for ZhTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// The searchable view of a record, independent of its library.
pub struct IndexRecord<'a> {
    pub library: Library,
    pub meta: &'a RecordMeta,
    pub visibility: Visibility,
    /// The technical field's code (or, for evaluation data, its discipline name).
    pub field: &'a str,
    pub region: &'a str,
    pub trl: Option<u8>,
    pub cooperation: &'a [CooperationMode],
    pub title: &'a str,
    pub keywords: &'a [String],
    pub body: Vec<&'a str>,
}

impl<'a> From<&'a Need> for IndexRecord<'a> {
    fn from(n: &'a Need) -> Self {
        let c = &n.content;
        IndexRecord {
            library: Library::Needs,
            meta: &n.meta,
            visibility: c.visibility,
            field: c.field.code(),
            region: &c.region,
            trl: None,
            cooperation: &c.cooperation_modes,
            title: &c.title,
            keywords: &c.keywords,
            body: vec![&c.description, &c.targets, &c.tried],
        }
    }
}

impl<'a> From<&'a Achievement> for IndexRecord<'a> {
    fn from(a: &'a Achievement) -> Self {
        let c = &a.content;
        IndexRecord {
            library: Library::Achievements,
            meta: &a.meta,
            visibility: c.visibility,
            field: c.field.code(),
            region: &c.region,
            trl: c.trl,
            cooperation: &c.cooperation_modes,
            title: &c.title,
            keywords: &c.keywords,
            body: vec![&c.summary],
        }
    }
}

/// Region prefixes a region code is found under: province, city, district.
pub fn region_prefixes(region: &str) -> Vec<&str> {
    if region.len() != 6 || !region.is_ascii() {
        return Vec::new();
    }
    vec![&region[..2], &region[..4], region]
}

impl IndexRecord<'_> {
    /// The index document; `analyzer` must be the index's (the title and body are analysed once
    /// here, for their own fields and for `text`).
    pub fn document(&self, f: &Fields, analyzer: &Analyzer) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_text(f.id, &self.meta.id);
        doc.add_text(f.library, self.library.route());
        doc.add_text(f.org_id, &self.meta.org_id);
        doc.add_text(f.visibility, self.visibility.code());
        doc.add_text(f.status, self.meta.status.code());
        doc.add_text(f.field, self.field);
        doc.add_facet(f.facet_field, format!("/{}", self.field).as_str());
        for prefix in region_prefixes(self.region) {
            doc.add_text(f.region, prefix);
        }
        if !self.region.is_empty() {
            doc.add_facet(f.facet_region, format!("/{}", self.region).as_str());
        }
        doc.add_u64(f.trl, u64::from(self.trl.unwrap_or(0)));
        if let Some(trl) = self.trl {
            doc.add_facet(f.facet_trl, format!("/{trl}").as_str());
        }
        for mode in self.cooperation {
            doc.add_text(f.cooperation, mode.code());
            doc.add_facet(f.facet_cooperation, format!("/{}", mode.code()).as_str());
        }
        doc.add_i64(f.updated_at, self.meta.updated_at.timestamp_micros());
        doc.add_i64(f.version, self.meta.version);
        let title = pre_tokenized(analyzer, self.title);
        doc.add_pre_tokenized_text(f.text, title.clone());
        doc.add_pre_tokenized_text(f.title, title);
        for keyword in self.keywords {
            doc.add_text(f.keywords, keyword);
            let tokens = pre_tokenized(analyzer, keyword);
            for _ in 0..KEYWORD_REPEATS {
                doc.add_pre_tokenized_text(f.text, tokens.clone());
            }
        }
        for part in self.body.iter().filter(|p| !p.is_empty()) {
            let tokens = pre_tokenized(analyzer, part);
            doc.add_pre_tokenized_text(f.text, tokens.clone());
            doc.add_pre_tokenized_text(f.body, tokens);
        }
        doc
    }
}
