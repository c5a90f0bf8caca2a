//! Highlighting: fragments of a record's text with the query's terms marked.

use std::ops::Range;

use super::*;
use crate::search::analyzer::TermFinder;

impl SearchIndex {
    /// For each (title, body): the title, whole, and the best passage of the body, as HTML,
    /// with the terms of a search's concepts (synonyms and narrower terms too) marked
    /// (`Highlighter::mark`).
    pub fn highlight_search(&self, text: &str, records: &[(String, String)]) -> Vec<(String, String)> {
        let frequencies = self.frequencies();
        let terms = ParsedQuery::parse(&self.analyzer, text).scored_terms();
        let highlighter = self.highlighter(&terms, &[], &frequencies);
        records.iter().map(|(title, body)| highlighter.mark(title, body)).collect()
    }

    /// A highlighter of `terms` (a record's analysed terms, or a search's), whose finder also
    /// finds the strings of `also` (for a caller that looks for them in the same texts; they
    /// are not marked). The terms' frequencies are those of `frequencies`.
    pub fn highlighter<'a>(
        &'a self,
        terms: &'a [(String, f32)],
        also: &[&'a str],
        frequencies: &Frequencies,
    ) -> Highlighter<'a> {
        // A term is scored as tantivy's snippets score it (`1 / (1 + its frequency in the
        // field)`), and left out of a field no record holds it in. Field `i` of
        // `Frequencies::of`: 0 the title, 2 the body.
        let (mut in_title, mut body_scores) = (Vec::with_capacity(terms.len()), Vec::with_capacity(terms.len()));
        for (term, _) in terms {
            let [title, _, body] = frequencies.of(term);
            in_title.push(title > 0);
            body_scores.push((body > 0).then(|| 1.0 / (1.0 + body as f32)));
        }
        let sought: Vec<&str> = terms.iter().map(|(t, _)| t.as_str()).chain(also.iter().copied()).collect();
        Highlighter { finder: self.analyzer.finder(&sought), in_title, body_scores }
    }
}

/// Marks the terms of one text in many records' titles and bodies (`SearchIndex::highlighter`),
/// with one finder for them all.
pub struct Highlighter<'a> {
    finder: TermFinder<'a>,
    /// For each term (by its index in the finder's list): whether titles mark it.
    in_title: Vec<bool>,
    /// For each term: its score in a body's passage, `None` if bodies do not mark it.
    body_scores: Vec<Option<f32>>,
}

impl Highlighter<'_> {
    /// The finder of the terms, then of the strings also sought: a caller that finds them in a
    /// title and a body anyway passes what it found to `mark_found`.
    pub fn finder(&self) -> &TermFinder<'_> {
        &self.finder
    }

    /// The title, whole, and the best passage of the body, as HTML: matches of the terms in
    /// `<b>`, everything else escaped, `…` where the passage was cut. Passages are about 100
    /// Chinese characters (300 bytes); the matches are the analysed tokens among the terms
    /// (`Analyzer::finder`).
    pub fn mark(&self, title: &str, body: &str) -> (String, String) {
        self.mark_found(title, &self.finder.occurrences(title), body, &self.finder.occurrences(body))
    }

    /// `mark`, given what this highlighter's finder found in the title and the body.
    pub fn mark_found(
        &self,
        title: &str,
        in_title: &[(usize, Range<usize>)],
        body: &str,
        in_body: &[(usize, Range<usize>)],
    ) -> (String, String) {
        let ranges: Vec<Range<usize>> =
            in_title.iter().filter(|(i, _)| self.in_title.get(*i) == Some(&true)).map(|(_, r)| r.clone()).collect();
        let title_html = mark(title, &ranges);
        let found: Vec<(f32, Range<usize>)> = in_body
            .iter()
            .filter(|(_, r)| meaningful(&body[r.clone()]))
            .filter_map(|(i, r)| Some((self.body_scores.get(*i).copied().flatten()?, r.clone())))
            .collect();
        let Some(range) = passage(body, &found, PASSAGE_BYTES) else {
            return (title_html, lead(body));
        };
        let inside: Vec<Range<usize>> = found
            .iter()
            .filter(|(_, r)| r.start >= range.start && r.end <= range.end)
            .map(|(_, r)| r.start - range.start..r.end - range.start)
            .collect();
        let mut body_html = mark(&body[range.clone()], &inside);
        if range.start > 0 {
            body_html.insert(0, '…');
        }
        if range.end < body.len() {
            body_html.push('…');
        }
        (title_html, body_html)
    }
}

/// A passage's length in bytes: about 100 Chinese characters.
const PASSAGE_BYTES: usize = 300;

/// Where a passage may begin or end: after the punctuation that closes a clause.
fn closes_clause(c: char) -> bool {
    matches!(c, '。' | '，' | '；' | '：' | '！' | '？' | '、' | ',' | ';' | ':' | '!' | '?' | '\n')
}

/// A lone Latin letter or digit (the `t` of GJ/t, the `c` ℃ leaves) is no evidence of a match.
fn meaningful(marked: &str) -> bool {
    !(marked.chars().count() == 1 && marked.is_ascii())
}

/// The passage of `text` of at most `budget` bytes whose matches (score, byte range; ordered
/// by start) weigh most, the earliest of equals; `None` without matches. A passage begins at
/// the text's start when its first match is near it, else at the start of that match's clause
/// when that is near (else at the match), reaching back to fill the budget near the text's
/// end, and ends after a clause's punctuation when one follows its last match past half the
/// budget.
fn passage(text: &str, found: &[(f32, Range<usize>)], budget: usize) -> Option<Range<usize>> {
    let floor = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let ceil = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at += 1;
        }
        at
    };
    // The byte after the first clause-closing punctuation of `text[from..to]`.
    let first_clause = |from: usize, to: usize| {
        text[from..to].char_indices().find(|(_, c)| closes_clause(*c)).map(|(at, c)| from + at + c.len_utf8())
    };
    // The byte after the last clause-closing punctuation of `text[from..to]`.
    let after_clause = |from: usize, to: usize| {
        text[from..to].char_indices().filter(|(_, c)| closes_clause(*c)).last().map(|(at, c)| from + at + c.len_utf8())
    };
    let mut best: Option<(f32, Range<usize>)> = None;
    for (i, (_, first)) in found.iter().enumerate() {
        let near = floor(first.start.saturating_sub(budget / 5));
        let mut start = match first.start <= budget / 5 {
            true => 0,
            false => after_clause(near, first.start).unwrap_or(first.start),
        };
        // Near the end of the text, the passage reaches back to fill the budget (from the
        // start of a clause when one begins in between).
        let back = ceil(text.len().saturating_sub(budget));
        if back < start {
            start = if back == 0 { 0 } else { first_clause(back, start).unwrap_or(back) };
        }
        let end = floor((start + budget).min(text.len())).max(first.end);
        let (mut score, mut covered, mut last) = (0.0, start, first.end);
        for (s, r) in found[..i].iter().filter(|(_, r)| r.start >= start).chain(&found[i..]) {
            if r.start >= end {
                break;
            }
            if r.end > end {
                continue;
            }
            if r.start >= covered {
                score += s;
                covered = r.end;
            }
            last = last.max(r.end);
        }
        let end = if end == text.len() {
            end
        } else {
            after_clause(floor(last.max(start + budget / 2).min(end)), end).unwrap_or(end)
        };
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, start..end));
        }
    }
    best.map(|(_, range)| range)
}

/// `text` as HTML with the byte `ranges` in `<b>`.
fn mark(text: &str, ranges: &[Range<usize>]) -> String {
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
        if !meaningful(&text[range.clone()]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, word: &str, nth: usize) -> (f32, Range<usize>) {
        let start = text.match_indices(word).nth(nth).unwrap().0;
        (1.0, start..start + word.len())
    }

    #[test]
    fn the_passage_is_the_densest_window_from_the_start_of_its_clause() {
        let text = format!("{}，固态电池电解液{}。{}固态电池。", "甲".repeat(150), "乙".repeat(30), "丙".repeat(200));
        let found = [at(&text, "固态电池", 0), at(&text, "电解液", 0), at(&text, "固态电池", 1)];
        let range = passage(&text, &found, 300).unwrap();
        let clause = text.find("，").unwrap() + "，".len();
        assert_eq!(range, clause..clause + 300, "from the clause's start, the budget's length");
        assert!(text.is_char_boundary(range.end));

        // A lone match far into a clause: the passage starts at it, and ends after the clause
        // that follows it once past half the budget.
        let text = format!("{}固态电池1{}。{}", "甲".repeat(150), "乙".repeat(60), "丙".repeat(200));
        let found = [at(&text, "固态电池", 0)];
        let range = passage(&text, &found, 300).unwrap();
        assert_eq!(range.start, found[0].1.start);
        assert_eq!(&text[range.end - "。".len()..range.end], "。");

        // Near the start, the passage starts with the text; the earliest of equal windows wins.
        let text = format!("甲乙固态电池{}固态电池", "丙".repeat(200));
        let found = [at(&text, "固态电池", 0), at(&text, "固态电池", 1)];
        assert_eq!(passage(&text, &found, 300), Some(0..300));
        assert_eq!(passage(&text, &[], 300), None);

        // A match near the end: the passage reaches back to fill the budget, from the start of
        // a clause.
        let text = format!("{}。{}，{}固态电池。", "甲".repeat(150), "乙".repeat(40), "丙".repeat(40));
        let found = [at(&text, "固态电池", 0)];
        let range = passage(&text, &found, 300).unwrap();
        assert_eq!(range, text.find("乙").unwrap()..text.len());
    }
}
