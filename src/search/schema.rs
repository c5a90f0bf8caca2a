//! The one gateway to the tantivy schema: fields, the Chinese tokenizer, and how a need or an
//! achievement becomes an index document.

use std::sync::Arc;

use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
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

/// What the tokenizer hands tantivy: the tokens it analysed, or those a document carries
/// already analysed (`analysed`), one by one from the text without analysing it again.
pub enum ZhTokenStream<'a> {
    Analysed { tokens: Vec<Token>, next: usize },
    Given { rest: std::str::Split<'a, char>, token: Token, at: usize },
}

impl Tokenizer for ZhTokenizer {
    type TokenStream<'a> = ZhTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ZhTokenStream<'a> {
        match text.strip_prefix(ANALYSED) {
            Some(given) => ZhTokenStream::Given { rest: given.split(ANALYSED), token: Token::default(), at: 0 },
            None => ZhTokenStream::Analysed { tokens: tokens(&self.analyzer, text), next: 0 },
        }
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

/// Begins a text whose tokens are given, and separates them: a Unicode noncharacter (for a
/// program's internal use, never a word).
const ANALYSED: char = '\u{fdd0}';

/// `text` analysed once, for the fields that index it (not stored): its tokens, each after
/// `ANALYSED`, which the tokenizer hands on as they are. A document's text is analysed once for
/// its own field and for `text`, and a document waiting in tantivy's queue (up to 10,000 of them)
/// holds its tokens as plain text: tantivy's `PreTokenizedString`, used before, is kept in the
/// document as JSON, about 80 bytes a token, and parsed again by the indexing thread (150 MB of a
/// 100,000-row import's peak, measured with heaptrack).
fn analysed(analyzer: &Analyzer, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for token in analyzer.analyze(text) {
        // A token holding the separator (only if the text does) is left out, in the query too.
        if !token.text.contains(ANALYSED) {
            out.push(ANALYSED);
            out.push_str(&token.text);
        }
    }
    out
}

impl TokenStream for ZhTokenStream<'_> {
    fn advance(&mut self) -> bool {
        match self {
            ZhTokenStream::Analysed { tokens, next } => {
                *next += 1;
                *next <= tokens.len()
            }
            ZhTokenStream::Given { rest, token, at } => match rest.next() {
                Some(text) => {
                    token.text.clear();
                    token.text.push_str(text);
                    token.position = *at;
                    token.offset_from = 0;
                    token.offset_to = text.len();
                    *at += 1;
                    true
                }
                None => false,
            },
        }
    }

    fn token(&self) -> &Token {
        match self {
            ZhTokenStream::Analysed { tokens, next } => &tokens[*next - 1],
            ZhTokenStream::Given { token, .. } => token,
        }
    }

    fn token_mut(&mut self) -> &mut Token {
        match self {
            ZhTokenStream::Analysed { tokens, next } => &mut tokens[*next - 1],
            ZhTokenStream::Given { token, .. } => token,
        }
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
        let title = analysed(analyzer, self.title);
        doc.add_text(f.text, &title);
        doc.add_text(f.title, title);
        for keyword in self.keywords {
            doc.add_text(f.keywords, keyword);
            let tokens = analysed(analyzer, keyword);
            for _ in 0..KEYWORD_REPEATS {
                doc.add_text(f.text, &tokens);
            }
        }
        for part in self.body.iter().filter(|p| !p.is_empty()) {
            let tokens = analysed(analyzer, part);
            doc.add_text(f.text, &tokens);
            doc.add_text(f.body, tokens);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::vocab::TechField;
    use crate::search::index::SearchIndex;

    /// A text analysed once and handed on (`analysed`) gives tantivy the analyzer's tokens, in
    /// order, as analysing it in the tokenizer does.
    #[test]
    fn analysed_text_gives_the_tokens_the_tokenizer_would() {
        let analyzer = Analyzer::shipped();
        let mut tokenizer = ZhTokenizer { analyzer: analyzer.clone() };
        let texts = ["固态电池的热管理研究", "固態電池 AI 5G芯片，提高锂电池稳定性", "", "  ", "盐碱地\u{fdd0}改良"];
        for text in texts {
            let collect = |stream: &mut ZhTokenStream<'_>| {
                let mut out = Vec::new();
                while stream.advance() {
                    out.push(stream.token().text.clone());
                }
                out
            };
            let direct = collect(&mut tokenizer.clone().token_stream(text));
            let given = analysed(&analyzer, text);
            let handed = collect(&mut tokenizer.token_stream(&given));
            let expected: Vec<String> =
                analyzer.analyze(text).into_iter().map(|t| t.text).filter(|t| !t.contains(ANALYSED)).collect();
            assert_eq!(handed, expected, "{text}");
            if !text.contains(ANALYSED) {
                assert_eq!(handed, direct, "{text}");
            }
        }
        assert!(!analysed(&analyzer, "固态电池").is_empty());
    }

    fn record(id: &str, title: &str) -> (RecordMeta, String) {
        let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a time");
        (RecordMeta::new(id.into(), "org".into(), "单位".into(), "u".into(), now), title.to_string())
    }

    fn stage(index: &SearchIndex, records: &[(RecordMeta, String)]) {
        let records: Vec<IndexRecord<'_>> = records
            .iter()
            .map(|(meta, title)| IndexRecord {
                library: Library::Achievements,
                meta,
                visibility: Visibility::Public,
                field: TechField::NewEnergy.code(),
                region: "370502",
                trl: None,
                cooperation: &[],
                title,
                keywords: &[],
                body: vec![],
            })
            .collect();
        index.stage(&records, &[]).expect("stage");
    }

    /// A record is added without a delete only when it is new; a record staged again before the
    /// commit, or in the index already (also after the index is opened again), replaces itself.
    #[test]
    fn a_record_staged_again_replaces_itself_whether_committed_or_not() {
        let dir = tempfile::tempdir().expect("dir");
        let titles = |index: &SearchIndex| {
            let mut found: Vec<String> = ["秸秆还田", "盐碱地改良", "海水淡化", "页岩油压裂"]
                .iter()
                .filter(|t| index.titles_matching(t) > 0)
                .map(|t| format!("{t}×{}", index.titles_matching(t)))
                .collect();
            found.sort();
            found
        };
        {
            let index = SearchIndex::open_or_create(dir.path(), Analyzer::shipped()).expect("index");
            stage(&index, &[record("a", "秸秆还田"), record("b", "盐碱地改良")]);
            // Staged twice before the commit: the second replaces the first.
            stage(&index, &[record("a", "海水淡化")]);
            index.commit(1).expect("commit");
            assert_eq!(index.num_docs(), 2);
            assert_eq!(titles(&index), ["海水淡化×1", "盐碱地改良×1"]);
            // In the index already: replaced.
            stage(&index, &[record("b", "页岩油压裂"), record("c", "秸秆还田")]);
            index.commit(2).expect("commit");
            assert_eq!(index.num_docs(), 3);
            assert_eq!(titles(&index), ["海水淡化×1", "秸秆还田×1", "页岩油压裂×1"]);
            index.close().expect("close");
        }
        let index = SearchIndex::open_or_create(dir.path(), Analyzer::shipped()).expect("index");
        stage(&index, &[record("c", "盐碱地改良"), record("c", "海水淡化")]);
        index.commit(3).expect("commit");
        assert_eq!(index.num_docs(), 3);
        assert_eq!(titles(&index), ["海水淡化×2", "页岩油压裂×1"]);
    }
}
