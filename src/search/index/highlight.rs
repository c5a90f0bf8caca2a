//! Highlighting: fragments of a record's text with the query's terms marked.

use super::*;

impl SearchIndex {
    /// For each (title, body): the title, whole, and the best passage of the body, as HTML:
    /// matches of the terms of `text` in `<b>`, everything else escaped, `…` where the passage
    /// was cut. Passages are about 100 characters (tantivy counts the budget in bytes,
    /// PITFALLS 12). The terms' frequencies are those of `frequencies`.
    pub fn highlight(
        &self,
        text: &str,
        records: &[(String, String)],
        frequencies: &Frequencies,
    ) -> Result<Vec<(String, String)>, IndexError> {
        self.highlight_terms(&self.query_terms(text, usize::MAX, frequencies).0, records, frequencies)
    }

    /// As `highlight`, with the terms of a search's concepts (synonyms and narrower terms too).
    pub fn highlight_search(
        &self,
        text: &str,
        records: &[(String, String)],
    ) -> Result<Vec<(String, String)>, IndexError> {
        let frequencies = self.frequencies();
        self.highlight_terms(&ParsedQuery::parse(&self.analyzer, text).scored_terms(), records, &frequencies)
    }

    pub(super) fn highlight_terms(
        &self,
        terms: &[(String, f32)],
        records: &[(String, String)],
        frequencies: &Frequencies,
    ) -> Result<Vec<(String, String)>, IndexError> {
        if terms.is_empty() {
            return Ok(records.iter().map(|(title, body)| (escape(title), lead(body))).collect());
        }
        // As `SnippetGenerator::create` scores a term (`1 / (1 + its frequency in the field)`,
        // left out where no record holds it there), from the frequencies already looked up.
        // Field `i` of `Frequencies::of`: 0 the title, 2 the body.
        let scored = |i: usize| -> BTreeMap<String, f32> {
            terms
                .iter()
                .filter_map(|(term, _)| {
                    let n = frequencies.of(term)[i];
                    (n > 0).then(|| (term.clone(), 1.0 / (1.0 + n as f32)))
                })
                .collect()
        };
        let index = frequencies.searcher().index();
        let (title, body) = (self.fields.title, self.fields.body);
        let mut titles = SnippetGenerator::new(scored(0), index.tokenizer_for_field(title)?, title, 150);
        let bodies = SnippetGenerator::new(scored(2), index.tokenizer_for_field(body)?, body, 300);
        let mut out = Vec::with_capacity(records.len());
        for (title, body) in records {
            titles.set_max_num_chars(title.len().max(1));
            let title_snippet = titles.snippet(title);
            let offset = title_snippet.fragment_range().start;
            let ranges: Vec<std::ops::Range<usize>> =
                title_snippet.highlighted().iter().map(|r| r.start + offset..r.end + offset).collect();
            let title_html = mark(title, &ranges);
            let snippet = bodies.snippet(body);
            let meaningful = |r: &std::ops::Range<usize>| {
                snippet.fragment().get(r.clone()).is_some_and(|t| !(t.chars().count() == 1 && t.is_ascii()))
            };
            if !snippet.highlighted().iter().any(meaningful) {
                out.push((title_html, lead(body)));
                continue;
            }
            let range = snippet.fragment_range();
            let mut body_html = mark(snippet.fragment(), snippet.highlighted());
            if range.start > 0 {
                body_html.insert(0, '…');
            }
            if range.end < body.len() {
                body_html.push('…');
            }
            out.push((title_html, body_html));
        }
        Ok(out)
    }
}

/// `text` as HTML with the byte `ranges` in `<b>`.
fn mark(text: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len() + ranges.len() * 7);
    let mut at = 0;
    for range in ranges {
        if range.start < at
            || range.end > text.len()
            || !text.is_char_boundary(range.start)
            || !text.is_char_boundary(range.end)
        {
            continue;
        }
        // A lone Latin letter or digit (the `t` of GJ/t, the `c` ℃ leaves) is no evidence of a
        // match: it stays unmarked.
        let marked = &text[range.clone()];
        if marked.chars().count() == 1 && marked.is_ascii() {
            continue;
        }
        out.push_str(&escape(&text[at..range.start]));
        out.push_str("<b>");
        out.push_str(&escape(&text[range.clone()]));
        out.push_str("</b>");
        at = range.end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

/// The first 100 characters of a text, escaped, with `…` if cut.
fn lead(text: &str) -> String {
    let mut out = escape(&text.chars().take(100).collect::<String>());
    if text.chars().nth(100).is_some() {
        out.push('…');
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
