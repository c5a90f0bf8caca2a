//! Highlighting: fragments of a record's text with the query's terms marked.

use super::*;

impl SearchIndex {
    /// For each (title, body): the title, whole, and the best passage of the body, as HTML:
    /// matches of the terms of `text` in `<b>`, everything else escaped, `…` where the passage
    /// was cut. Passages are about 100 characters (tantivy counts the budget in bytes,
    /// PITFALLS 12).
    pub fn highlight(&self, text: &str, records: &[(String, String)]) -> Result<Vec<(String, String)>, IndexError> {
        self.highlight_terms(&self.query_terms(text, usize::MAX).0, records)
    }

    /// As `highlight`, with the terms of a search's concepts (synonyms and narrower terms too).
    pub fn highlight_search(
        &self,
        text: &str,
        records: &[(String, String)],
    ) -> Result<Vec<(String, String)>, IndexError> {
        self.highlight_terms(&ParsedQuery::parse(&self.analyzer, text).scored_terms(), records)
    }

    pub(super) fn highlight_terms(
        &self,
        terms: &[(String, f32)],
        records: &[(String, String)],
    ) -> Result<Vec<(String, String)>, IndexError> {
        let searcher = self.reader.searcher();
        let Some(query) = self.term_union(terms) else {
            return Ok(records.iter().map(|(title, body)| (escape(title), lead(body))).collect());
        };
        let mut titles = SnippetGenerator::create(&searcher, &*query, self.fields.title)?;
        let mut bodies = SnippetGenerator::create(&searcher, &*query, self.fields.body)?;
        bodies.set_max_num_chars(300);
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
