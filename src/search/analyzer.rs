//! Chinese text analysis: normalisation, segmentation, sub-words, stop words and synonyms.
//!
//! Text is normalised character by character (NFKC, lower case, traditional → simplified), so
//! every token keeps the byte range of the original text it came from (snippets highlight the
//! original, PITFALLS 5). Segmentation is jieba's plain mode with the default dictionary plus the
//! domain dictionary of `index/` (PITFALLS 8: every entry has a frequency). Plain mode gives one
//! token per word; a word that contains shorter dictionary words (固态电池电解液溶剂) also emits
//! them as non-overlapping sub-words at its position, so 固态电池 finds it without the
//! overlapping tokens of search mode inflating lengths and weights (PITFALLS 3).

use std::collections::{HashMap, HashSet};
use std::io::BufReader;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use jieba_rs::Jieba;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// Bumped whenever analysis or the index schema changes what is indexed: an index of another
/// version is rebuilt.
pub const ANALYZER_VERSION: u32 = 2;

/// The dictionary files shipped in `index/`.
pub const USER_DICT: &str = include_str!("../../index/userdict.txt");
pub const SYNONYMS: &str = include_str!("../../index/synonyms.txt");
pub const STOP_WORDS: &str = include_str!("../../index/stopwords.txt");
pub const BROADER: &str = include_str!("../../index/broader.txt");
pub const GENERIC: &str = include_str!("../../index/generic.txt");

/// Frequency given to domain terms that come without one.
pub const DEFAULT_TERM_FREQ: usize = 3000;
/// Sub-words are looked for inside words of at least this many characters.
const SUBWORD_MIN_CHARS: usize = 3;

/// A token: normalised text, byte range in the original text, ordinal position, and whether it
/// is a sub-word of a longer word at the same position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzedToken {
    pub text: String,
    pub from: usize,
    pub to: usize,
    pub position: usize,
    pub subword: bool,
}

/// Text normalised for matching, with the original byte range of each of its characters.
pub struct Normalized {
    pub text: String,
    /// For the i-th character of `text`: the byte range in the original it came from.
    pub origins: Vec<(usize, usize)>,
}

/// NFKC (full-width ＡＩ５Ｇ → ai5g), lower case, traditional → simplified, per character.
pub fn normalize(original: &str) -> Normalized {
    let mut text = String::with_capacity(original.len());
    let mut origins = Vec::with_capacity(original.len());
    for (start, ch) in original.char_indices() {
        let end = start + ch.len_utf8();
        normalize_char(ch, |n| {
            text.push(n);
            origins.push((start, end));
        });
    }
    // fast2s maps one character to one character, so `origins` stays aligned.
    let text = fast2s::convert(&text);
    debug_assert_eq!(text.chars().count(), origins.len());
    Normalized { text, origins }
}

/// A character's normal form when it is one character that NFKC leaves as it is and that has a
/// one-character lower case: ASCII and the CJK unified ideographs (basic block and extension A).
/// `None` for the others, which take the full path.
fn fast_normalized(ch: char) -> Option<char> {
    if ch.is_ascii() {
        Some(ch.to_ascii_lowercase())
    } else if is_han(ch) {
        Some(ch)
    } else {
        None
    }
}

/// One character's normal form, given to `push` character by character. Most characters of the
/// market's text are unchanged by NFKC and lower case (Chinese characters, ASCII but capitals):
/// they skip the full path (`fast_normalized`, tested against it).
fn normalize_char(ch: char, mut push: impl FnMut(char)) {
    if let Some(n) = fast_normalized(ch) {
        return push(n);
    }
    for n in std::iter::once(ch).nfkc() {
        for lower in n.to_lowercase() {
            push(lower);
        }
    }
}

/// Normalises a whole string (dictionary entries, synonyms, stop words, titles compared): what
/// `normalize` gives, without the origins.
pub fn normalize_text(s: &str) -> String {
    let mut text = String::with_capacity(s.len());
    for ch in s.trim().chars() {
        normalize_char(ch, |n| text.push(n));
    }
    fast2s::convert(&text)
}

fn is_word(token: &str) -> bool {
    token.chars().any(char::is_alphanumeric)
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

/// Where given terms occur as tokens of a text (`Analyzer::finder`): the same tokens
/// `Analyzer::analyze` gives that are among the terms, found without segmenting the whole text.
/// jieba cuts each run of word characters on its own, so only the runs where a term occurs as
/// a string (one pass of an Aho-Corasick automaton over the normalised text) are segmented:
/// for a highlight, a small part of a record's text.
pub struct TermFinder<'a> {
    analyzer: &'a Analyzer,
    /// Each term, with its index in the list given.
    index: HashMap<&'a str, usize>,
    automaton: Option<AhoCorasick>,
    /// How many terms were given.
    given: usize,
}

impl TermFinder<'_> {
    /// How many terms were given (an index of `occurrences` is below it).
    pub fn given(&self) -> usize {
        self.given
    }

    /// The index of `term` in the list given (its first place), if it is there.
    pub fn index_of(&self, term: &str) -> Option<usize> {
        self.index.get(term).copied()
    }

    /// For each token of `text` among the terms: the index of its term and its byte range in
    /// `text`, ordered by start (the longer first).
    pub fn occurrences(&self, text: &str) -> Vec<(usize, Range<usize>)> {
        let mut out = Vec::new();
        if self.index.is_empty() || text.is_empty() {
            return out;
        }
        let Some(automaton) = &self.automaton else {
            for token in self.analyzer.analyze(text) {
                out.extend(self.index.get(token.text.as_str()).map(|&i| (i, token.from..token.to)));
            }
            out.sort_by_key(|(_, r)| (r.start, std::cmp::Reverse(r.end)));
            return out;
        };
        let normalized = normalize(text);
        let n = normalized.text.as_str();
        let mut runs: Vec<Range<usize>> = Vec::new();
        for found in automaton.find_overlapping_iter(n) {
            if !runs.last().is_some_and(|r| r.contains(&found.start())) {
                runs.push(run_around(n, found.start()));
            }
        }
        if runs.is_empty() {
            return out;
        }
        runs.sort_unstable_by_key(|r| (r.start, r.end));
        runs.dedup();
        // The character index of each run's start (`origins` counts characters).
        let (mut chars, mut at) = (0, 0);
        for run in runs {
            chars += n[at..run.start].chars().count();
            at = run.start;
            self.analyzer.segment(&n[run], |word, start, end, _| {
                if let Some(&i) = self.index.get(word) {
                    out.push((i, normalized.origins[chars + start].0..normalized.origins[chars + end - 1].1));
                }
            });
        }
        out.sort_by_key(|(_, r)| (r.start, std::cmp::Reverse(r.end)));
        out
    }
}

/// Whether jieba segments `c` as part of a run of word characters (its default `RE_HAN`: the
/// CJK ideographs with their extensions and compatibility block, ASCII letters and digits,
/// `+#&._%-`); any other character is a token of its own.
fn is_run_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '&' | '.' | '_' | '%' | '-');
    }
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2EBEF}'
        | '\u{2F800}'..='\u{2FA1F}')
}

/// The byte range of the run jieba segments on its own that holds the character at byte `at`
/// of `text`: the run of word characters around it, or that character alone.
fn run_around(text: &str, at: usize) -> Range<usize> {
    let Some(c) = text[at..].chars().next() else { return at..at };
    if !is_run_char(c) {
        return at..at + c.len_utf8();
    }
    let start = text[..at].char_indices().rev().take_while(|(_, c)| is_run_char(*c)).last().map_or(at, |(i, _)| i);
    let end = text[at..].char_indices().find(|(_, c)| !is_run_char(*c)).map_or(text.len(), |(i, _)| at + i);
    start..end
}

/// How text is cut into tokens. The service uses `WordsAndSubwords`; the others exist so the
/// choice can be measured (`techmarket eval --segmentation`, BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Segmentation {
    /// jieba's plain mode, plus non-overlapping dictionary sub-words of long words.
    #[default]
    WordsAndSubwords,
    /// jieba's plain mode alone.
    Words,
    /// jieba's search mode: overlapping words and their parts (PITFALLS 3).
    SearchMode,
    /// Overlapping pairs of Chinese characters; other scripts as whole words.
    Bigrams,
}

impl std::str::FromStr for Segmentation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "words-and-subwords" => Ok(Segmentation::WordsAndSubwords),
            "words" => Ok(Segmentation::Words),
            "search-mode" => Ok(Segmentation::SearchMode),
            "bigrams" => Ok(Segmentation::Bigrams),
            other => Err(format!("`{other}`: use words-and-subwords, words, search-mode or bigrams")),
        }
    }
}

/// A domain term added at run time (by admins), beside the shipped dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraTerm {
    pub word: String,
    pub freq: Option<usize>,
}

/// Everything that decides the tokens, normalised: jieba dictionary lines, synonym groups,
/// stop words.
struct Inputs {
    dictionary: String,
    groups: Vec<Vec<String>>,
    /// (broader, its narrower terms).
    broader: Vec<(String, Vec<String>)>,
    stop_words: Vec<String>,
}

impl Inputs {
    fn gather(extra_terms: &[ExtraTerm], extra_synonyms: &[Vec<String>]) -> Inputs {
        let mut dictionary = String::new();
        for line in USER_DICT.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let mut parts = line.split_whitespace();
            let Some(word) = parts.next() else { continue };
            let freq = parts.next().and_then(|f| f.parse().ok()).unwrap_or(DEFAULT_TERM_FREQ);
            dictionary.push_str(&format!("{} {freq}\n", normalize_text(word)));
        }
        for term in extra_terms {
            dictionary.push_str(&format!(
                "{} {}\n",
                normalize_text(&term.word),
                term.freq.unwrap_or(DEFAULT_TERM_FREQ)
            ));
        }
        let mut groups: Vec<Vec<String>> = parse_synonyms(SYNONYMS);
        groups.extend(extra_synonyms.iter().map(|g| g.iter().map(|m| normalize_text(m)).collect()));
        let broader = parse_broader(BROADER);
        // Synonyms and narrower terms must stay whole words to be found as such.
        let related = broader.iter().flat_map(|(head, narrower)| std::iter::once(head).chain(narrower));
        for member in groups.iter().flatten().chain(related).filter(|m| m.chars().count() > 1) {
            dictionary.push_str(&format!("{member} {DEFAULT_TERM_FREQ}\n"));
        }
        let mut stop_words: Vec<String> = list_words(STOP_WORDS).collect();
        stop_words.sort();
        stop_words.dedup();
        Inputs { dictionary, groups, broader, stop_words }
    }

    /// A short hash of the inputs and of the rules' version.
    fn version(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(ANALYZER_VERSION.to_le_bytes());
        hasher.update(self.dictionary.as_bytes());
        for group in &self.groups {
            hasher.update(group.join("=").as_bytes());
        }
        for word in &self.stop_words {
            hasher.update(word.as_bytes());
        }
        let digest = hasher.finalize();
        format!("{ANALYZER_VERSION}-{}", digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// The analyzer: one per dictionary version, shared by every tokenizer clone (PITFALLS 6).
pub struct Analyzer {
    jieba: Jieba,
    segmentation: Segmentation,
    stop_words: HashSet<String>,
    /// Normalised term → the other members of its synonym groups.
    synonyms: HashMap<String, Vec<String>>,
    /// Normalised broader term → its narrower terms (`index/broader.txt`).
    narrower: HashMap<String, Vec<String>>,
    /// Words that never make a search concept on their own (`index/generic.txt`).
    generic: HashSet<String>,
    version: String,
}

impl Analyzer {
    /// The analyzer of the shipped dictionary files alone, built once per process (loading
    /// jieba's dictionary is the expensive part).
    pub fn shipped() -> Arc<Analyzer> {
        static SHIPPED: OnceLock<Arc<Analyzer>> = OnceLock::new();
        SHIPPED.get_or_init(|| Arc::new(Analyzer::new(&[], &[]))).clone()
    }

    /// Builds the analyzer from the shipped files plus terms and synonym groups kept in the
    /// database.
    pub fn new(extra_terms: &[ExtraTerm], extra_synonyms: &[Vec<String>]) -> Analyzer {
        let inputs = Inputs::gather(extra_terms, extra_synonyms);
        let mut jieba = Jieba::new();
        jieba
            .load_dict(&mut BufReader::new(inputs.dictionary.as_bytes()))
            .expect("in-memory dictionary lines are well formed");
        let mut synonyms: HashMap<String, Vec<String>> = HashMap::new();
        for group in &inputs.groups {
            for member in group {
                let others = synonyms.entry(member.clone()).or_default();
                for other in group.iter().filter(|o| *o != member) {
                    if !others.contains(other) {
                        others.push(other.clone());
                    }
                }
            }
        }
        let version = inputs.version();
        let stop_words = inputs.stop_words.into_iter().collect();
        let narrower = inputs.broader.into_iter().collect();
        let generic = list_words(GENERIC).collect();
        Analyzer { jieba, segmentation: Segmentation::default(), stop_words, synonyms, narrower, generic, version }
    }

    /// The version `new` would give, without loading a dictionary.
    pub fn version_of(extra_terms: &[ExtraTerm], extra_synonyms: &[Vec<String>]) -> String {
        Inputs::gather(extra_terms, extra_synonyms).version()
    }

    /// The same dictionary with another segmentation (for measuring the choice).
    pub fn with_segmentation(mut self, segmentation: Segmentation) -> Analyzer {
        if segmentation != self.segmentation {
            self.version = format!("{}-{segmentation:?}", self.version);
        }
        self.segmentation = segmentation;
        self
    }

    /// Identifies the dictionary and rules; an index built with another version is rebuilt.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn is_stop_word(&self, token: &str) -> bool {
        self.stop_words.contains(token)
    }

    /// The other members of the synonym groups of a normalised term.
    pub fn synonyms(&self, term: &str) -> &[String] {
        self.synonyms.get(term).map(Vec::as_slice).unwrap_or_default()
    }

    /// The narrower terms of a normalised term (氢能 → 制氢, 储氢 …), one level down.
    pub fn narrower(&self, term: &str) -> &[String] {
        self.narrower.get(term).map(Vec::as_slice).unwrap_or_default()
    }

    /// Whether a normalised word is generic (提高, 技术 …): never a search concept on its own.
    pub fn is_generic(&self, word: &str) -> bool {
        self.generic.contains(word)
    }

    /// Whether jieba's dictionaries (its own and the market's) hold the word.
    pub fn knows(&self, word: &str) -> bool {
        self.jieba.has_word(word)
    }

    /// Tokens of `text`, with byte ranges into `text` itself.
    pub fn analyze(&self, text: &str) -> Vec<AnalyzedToken> {
        let normalized = normalize(text);
        let range = |start: usize, end: usize| (normalized.origins[start].0, normalized.origins[end - 1].1);
        let mut out = Vec::new();
        if self.segmentation == Segmentation::Bigrams {
            self.bigrams(&normalized.text, &range, &mut out);
            return out;
        }
        let mut next = 0;
        self.segment(&normalized.text, |word, start, end, subword| {
            let (from, to) = range(start, end);
            let position = if subword { next - 1 } else { next };
            next += usize::from(!subword);
            out.push(AnalyzedToken { text: word.to_string(), from, to, position, subword });
        });
        out
    }

    /// The tokens of normalised `text` (not for `Bigrams`): each word, then its sub-words, as
    /// (text, first character, character after the last, is a sub-word).
    fn segment(&self, text: &str, mut emit: impl FnMut(&str, usize, usize, bool)) {
        let tokens = match self.segmentation {
            Segmentation::SearchMode => self.jieba.cut_for_search(text, true),
            _ => self.jieba.cut(text, true),
        };
        for token in tokens {
            let word = token.word;
            if !is_word(word) || self.stop_words.contains(word) {
                continue;
            }
            emit(word, token.start, token.end, false);
            if self.segmentation == Segmentation::WordsAndSubwords {
                for (sub, start, end) in self.subwords(word) {
                    emit(&sub, token.start + start, token.start + end, true);
                }
            }
        }
    }

    /// A finder of `terms` (normalised) as tokens of texts, for many texts at a time.
    pub fn finder<'a>(&'a self, terms: &[&'a str]) -> TermFinder<'a> {
        let mut index = HashMap::with_capacity(terms.len());
        for (i, term) in terms.iter().enumerate().filter(|(_, t)| !t.is_empty()) {
            index.entry(*term).or_insert(i);
        }
        let patterns: Vec<&str> = index.keys().copied().collect();
        // An automaton of a few hundred short words always builds; without it every text is
        // analysed whole, which gives the same tokens. A finder serves a handful of texts, so
        // the automaton is the one quickest to build (the DFA the crate picks for up to 100
        // words took several times longer to build than the searches it then ran).
        let automaton = match self.segmentation {
            Segmentation::WordsAndSubwords | Segmentation::Words if !patterns.is_empty() => {
                AhoCorasick::builder().kind(Some(AhoCorasickKind::ContiguousNFA)).build(&patterns).ok()
            }
            _ => None,
        };
        TermFinder { analyzer: self, index, automaton, given: terms.len() }
    }

    /// Overlapping character pairs of Chinese runs; runs of other letters and digits whole.
    fn bigrams(&self, text: &str, range: &dyn Fn(usize, usize) -> (usize, usize), out: &mut Vec<AnalyzedToken>) {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let han = is_han(chars[i]);
            if !han && !chars[i].is_alphanumeric() {
                i += 1;
                continue;
            }
            let mut end = i + 1;
            while end < chars.len() && is_han(chars[end]) == han && (han || chars[end].is_alphanumeric()) {
                end += 1;
            }
            let mut push = |start: usize, stop: usize| {
                let (from, to) = range(start, stop);
                let position = out.len();
                out.push(AnalyzedToken {
                    text: chars[start..stop].iter().collect(),
                    from,
                    to,
                    position,
                    subword: false,
                });
            };
            if !han || end - i == 1 {
                push(i, end);
            } else {
                for start in i..end - 1 {
                    push(start, start + 2);
                }
            }
            i = end;
        }
    }

    /// Words inside a longer word, with their character ranges in it. A word mixing scripts
    /// (co2驱油) yields its runs (co2, 驱油); a run of Chinese characters yields the longest
    /// non-overlapping dictionary words from left to right, then, recursively, those inside them.
    fn subwords(&self, word: &str) -> Vec<(String, usize, usize)> {
        let chars: Vec<char> = word.chars().collect();
        let mut out = Vec::new();
        let mut start = 0;
        let mut runs = Vec::new();
        for i in 1..=chars.len() {
            if i == chars.len() || is_han(chars[i]) != is_han(chars[start]) {
                runs.push((start, i));
                start = i;
            }
        }
        if runs.len() == 1 {
            self.split(&chars, 0, &mut out);
            return out;
        }
        for (start, end) in runs {
            let run = &chars[start..end];
            let keep = if is_han(run[0]) { run.len() >= 2 } else { run.iter().any(|c| c.is_alphanumeric()) };
            let text: String = run.iter().collect();
            if keep && !self.stop_words.contains(&text) {
                out.push((text, start, end));
                self.split(run, start, &mut out);
            }
        }
        out
    }

    fn split(&self, chars: &[char], offset: usize, out: &mut Vec<(String, usize, usize)>) {
        if chars.len() < SUBWORD_MIN_CHARS || !chars.iter().all(|c| is_han(*c)) {
            return;
        }
        let mut start = 0;
        while start < chars.len() {
            let found =
                (start + 2..=chars.len()).rev().filter(|&end| !(start == 0 && end == chars.len())).find(|&end| {
                    let candidate: String = chars[start..end].iter().collect();
                    self.jieba.has_word(&candidate) && !self.stop_words.contains(&candidate)
                });
            match found {
                Some(end) => {
                    out.push((chars[start..end].iter().collect(), offset + start, offset + end));
                    self.split(&chars[start..end], offset + start, out);
                    start = end;
                }
                None => start += 1,
            }
        }
    }
}

/// The words of a one-word-a-line file, normalised, without comments and blank lines.
pub fn list_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(normalize_text)
}

/// Parses broader terms: one a line, `broader > narrower, narrower, …`; normalised. A line
/// without `>` or without narrower terms is ignored.
pub fn parse_broader(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Some((head, rest)) = line.split_once('>') else { continue };
        let head = normalize_text(head);
        let narrower: Vec<String> =
            rest.split([',', '，', '、']).map(normalize_text).filter(|m| !m.is_empty() && *m != head).collect();
        if head.is_empty() || narrower.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(h, _)| *h == head) {
            Some((_, existing)) => existing.extend(narrower),
            None => out.push((head, narrower)),
        }
    }
    out
}

/// Parses synonym groups: one a line, members separated by `=`; normalised.
pub fn parse_synonyms(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('=').map(normalize_text).filter(|m| !m.is_empty()).collect::<Vec<_>>())
        .filter(|g| g.len() > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;

    static ANALYZER: LazyLock<Arc<Analyzer>> = LazyLock::new(Analyzer::shipped);

    #[test]
    fn the_fast_path_of_normalisation_is_what_nfkc_and_lower_case_give() {
        let ranges = [('\0', '\u{7f}'), ('\u{3400}', '\u{4dbf}'), ('\u{4e00}', '\u{9fff}')];
        let mut checked = 0;
        for ch in ranges.iter().flat_map(|&(from, to)| from..=to) {
            let full: String = std::iter::once(ch).nfkc().flat_map(char::to_lowercase).collect();
            assert_eq!(fast_normalized(ch).map(String::from), Some(full), "U+{:04X}", ch as u32);
            checked += 1;
        }
        assert_eq!(checked, 128 + 6592 + 20992);
        assert_eq!(fast_normalized('Ａ'), None);
        assert_eq!(normalize("ＡＩ５Ｇ固態電池").text, "ai5g固态电池");
        assert_eq!(normalize_text(" ＡＩ５Ｇ固態電池 "), "ai5g固态电池");
    }

    /// A finder finds exactly the tokens `analyze` gives that are among the terms: over
    /// the demo market's texts and mixed text, with every token as a term, with some, and with
    /// strings that occur in the text without being tokens of it.
    #[test]
    fn occurrences_are_the_analysed_tokens_among_the_terms() {
        let mut texts: Vec<String> = [
            "针对<低渗透>油藏，CO2驱油与地质封存一体化：注入ＣＣＵＳ示范井20口，捕集率≥90%。",
            "固態電池電解液溶劑，再生能耗降至2.3GJ/t；α粒子β-射线 ㎏级 C++编程 a.b.c 和的",
            "",
            "，。",
        ]
        .map(String::from)
        .to_vec();
        for json in [crate::demo::NEEDS_JSON, crate::demo::ACHIEVEMENTS_JSON] {
            let records: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
            for r in &records {
                for field in ["title", "abstract", "description", "targets"] {
                    texts.extend(r[field].as_str().map(String::from));
                }
            }
        }
        let analyzer = &*ANALYZER;
        let mut compared = 0;
        for text in &texts {
            let tokens = analyzer.analyze(text);
            let mut all: Vec<String> = tokens.iter().map(|t| t.text.clone()).collect();
            all.sort();
            all.dedup();
            // Strings of the text that are not its tokens: a word's first two characters, a
            // pair across two words.
            let mut strings: Vec<String> =
                all.iter().filter(|w| w.chars().count() > 2).map(|w| w.chars().take(2).collect()).collect();
            strings.extend(
                tokens
                    .windows(2)
                    .map(|p| format!("{}{}", p[0].text.chars().last().unwrap(), p[1].text.chars().next().unwrap())),
            );
            strings.push("不在其中".into());
            let some: Vec<String> = all.iter().step_by(3).cloned().chain(strings.iter().cloned()).collect();
            for terms in [&all, &some, &strings] {
                let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
                let mut expected: Vec<(usize, Range<usize>)> = tokens
                    .iter()
                    .filter_map(|t| terms.iter().position(|x| *x == t.text).map(|i| (i, t.from..t.to)))
                    .collect();
                expected.sort_by_key(|(_, r)| (r.start, std::cmp::Reverse(r.end)));
                assert_eq!(analyzer.finder(&terms).occurrences(text), expected, "{text} {terms:?}");
                compared += expected.len();
            }
        }
        assert!(texts.len() > 100 && compared > 5000, "{} texts, {compared} tokens", texts.len());
    }

    fn words(text: &str) -> Vec<String> {
        ANALYZER.analyze(text).into_iter().map(|t| t.text).collect()
    }

    /// Domain terms of the city's industries stay whole words.
    #[test]
    fn domain_terms_segment_as_whole_words() {
        let cases = [
            ("推进CCUS示范工程", "ccus"),
            ("二氧化碳捕集利用与封存项目", "二氧化碳捕集利用与封存"),
            ("建设零碳园区", "零碳"),
            ("石油装备制造", "石油装备"),
            ("发展高端化工产业", "高端化工"),
            ("新能源汽车", "新能源"),
            ("新材料产业园", "新材料"),
            ("生物医药企业", "生物医药"),
            ("海洋装备研发", "海洋装备"),
            ("固态电池电解液溶剂项目", "固态电池电解液溶剂"),
            ("纳米复合氧化锆粉体", "纳米复合氧化锆"),
            ("超深水海洋油气生产系统研制", "超深水海洋油气生产系统"),
            ("钠电产业链", "钠电"),
            ("全固态电池", "全固态电池"),
            ("绿氢制备", "绿氢"),
            ("绿氨合成", "绿氨"),
            ("合成生物技术", "合成生物"),
            ("稀土催化材料", "稀土催化"),
            ("窄分布稀土顺丁橡胶生产", "窄分布稀土顺丁橡胶"),
            ("无人机巡检服务", "无人机巡检"),
            ("焊接机器人工作站", "焊接机器人"),
            ("基于数字孪生的自动化设备", "数字孪生"),
            ("盐碱地综合利用", "盐碱地"),
            ("耐盐碱大豆新品种", "耐盐碱大豆"),
            ("耐盐碱油菜种植", "耐盐碱油菜"),
            ("耐盐碱藜麦示范", "耐盐碱藜麦"),
            ("稠油开采技术", "稠油开采"),
            ("深地勘探工程", "深地勘探"),
            ("地热能供暖", "地热能"),
            ("技术经理人队伍", "技术经理人"),
            ("中试基地建设", "中试基地"),
            ("水下采油树国产化", "水下采油树"),
            ("电解水制氢装备", "电解水制氢"),
            ("钠离子电池正极", "钠离子电池"),
        ];
        for (text, term) in cases {
            let tokens = words(text);
            assert!(tokens.contains(&term.to_string()), "{text}: {tokens:?} lacks {term}");
        }
    }

    #[test]
    fn long_words_also_emit_non_overlapping_subwords_at_their_position() {
        let tokens = ANALYZER.analyze("固态电池电解液溶剂");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["固态电池电解液溶剂", "固态电池", "固态", "电池", "电解液溶剂", "电解液", "电解", "溶剂"]);
        assert!(tokens.iter().all(|t| t.position == 0));
        let sub = &tokens[5];
        assert_eq!(&"固态电池电解液溶剂"[sub.from..sub.to], "电解液");
    }

    #[test]
    fn a_word_mixing_scripts_yields_its_runs() {
        let tokens = ANALYZER.analyze("CO2驱油");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["co2驱油", "co2", "驱油"]);
        assert_eq!(&"CO2驱油"[tokens[2].from..tokens[2].to], "驱油");
        assert!(!tokens[0].subword && tokens[1].subword);
    }

    #[test]
    fn a_general_word_finds_the_compound_it_is_part_of() {
        let tokens = words("锂电池正极材料");
        assert!(tokens.contains(&"电池".to_string()) || tokens.contains(&"锂电".to_string()), "{tokens:?}");
    }

    #[test]
    fn full_width_traditional_and_case_are_normalised() {
        assert_eq!(words("ＣＣＵＳ"), ["ccus"]);
        assert_eq!(words("ＡＩ５Ｇ"), words("ai5g"));
        assert_eq!(words("固態電池"), words("固态电池"));
        assert_eq!(words("碳捕集利用與封存"), words("碳捕集利用与封存"));
        assert_eq!(words("CO2驱油"), words("co2驱油"));
    }

    #[test]
    fn offsets_point_into_the_original_mixed_text() {
        let text = "采用ＣＣＵＳ技术，CO2捕集率≥90%的固態電池";
        for token in ANALYZER.analyze(text) {
            let original = &text[token.from..token.to];
            assert_eq!(normalize_text(original), token.text, "token {token:?} maps to `{original}`");
        }
    }

    #[test]
    fn punctuation_and_stop_words_are_dropped() {
        let tokens = words("本文研究了一种基于CCUS的、低能耗的方法。");
        assert!(
            !tokens.iter().any(|t| ["的", "、", "。", "本文", "研究", "基于", "方法"].contains(&t.as_str())),
            "{tokens:?}"
        );
        assert!(tokens.contains(&"ccus".to_string()));
    }

    #[test]
    fn synonym_groups_link_abbreviations_and_full_names() {
        let ccus = ANALYZER.synonyms("ccus");
        assert!(ccus.contains(&"碳捕集利用与封存".to_string()));
        assert!(ccus.contains(&"二氧化碳捕集利用与封存".to_string()));
        assert!(ANALYZER.synonyms("锂电").contains(&"锂离子电池".to_string()));
        assert!(ANALYZER.synonyms("碳捕获").contains(&"二氧化碳捕集".to_string()));
        // 碳捕集 is a part of CCUS, not another name for it: it is a narrower term.
        assert!(!ANALYZER.synonyms("碳捕集").contains(&"ccus".to_string()));
        assert!(ANALYZER.narrower("ccus").contains(&"碳捕集".to_string()));
    }

    /// Every line of the shipped synonym, broader-term and generic-word files, as loaded.
    #[test]
    fn shipped_vocabulary_is_consistent() {
        let groups = parse_synonyms(SYNONYMS);
        let broader = parse_broader(BROADER);
        assert!(groups.len() >= 80 && broader.len() >= 20, "{} groups, {} broader terms", groups.len(), broader.len());
        // Each member is one whole word of the analyzer: a member that segments into nothing,
        // or into several words, would never be found as such.
        let related = broader.iter().flat_map(|(head, narrower)| std::iter::once(head).chain(narrower));
        for member in groups.iter().flatten().chain(related) {
            let whole: Vec<String> =
                ANALYZER.analyze(member).into_iter().filter(|t| !t.subword).map(|t| t.text).collect();
            assert_eq!(whole, [member.clone()], "`{member}` must analyse to itself, one word");
        }
        // A word is in one synonym group at most: two groups sharing it would join them one way
        // only, and which synonyms a query finds would depend on the order of the lines.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, group) in groups.iter().enumerate() {
            for member in group {
                if let Some(first) = seen.insert(member, i) {
                    assert_eq!(first, i, "`{member}` is in the groups {:?} and {:?}", groups[first], group);
                }
                assert_eq!(group.iter().filter(|m| *m == member).count(), 1, "`{member}` twice in {group:?}");
            }
        }
        // The broader relation has no cycle (a term never finds itself through narrower terms,
        // which would let a narrower term outrank the word typed), and a narrower term is never
        // a synonym of its broader one.
        fn reaches(from: &str, to: &str, broader: &[(String, Vec<String>)], depth: usize) -> bool {
            depth < 16
                && broader.iter().filter(|(h, _)| h == from).flat_map(|(_, n)| n).any(|n| {
                    n == to || ANALYZER.synonyms(n).iter().any(|s| s == to) || reaches(n, to, broader, depth + 1)
                })
        }
        for (head, narrower) in &broader {
            assert!(!reaches(head, head, &broader, 0), "`{head}` finds itself through its narrower terms");
            for n in narrower {
                assert!(
                    !ANALYZER.synonyms(head).contains(n),
                    "`{n}` is both a synonym and a narrower term of `{head}`"
                );
            }
        }
        // Generic and stop words: a generic word is kept in the text (it ranks), a stop word is not.
        for word in list_words(GENERIC) {
            assert!(!ANALYZER.is_stop_word(&word), "`{word}` is both generic and a stop word");
            assert!(ANALYZER.is_generic(&word));
        }
    }

    #[test]
    fn extra_terms_change_segmentation_and_the_version() {
        let base = Analyzer::shipped();
        let text = "黄河口蛏子苗种繁育";
        assert!(!base.analyze(text).iter().any(|t| t.text == "蛏子苗种"));
        let extended = Analyzer::new(&[ExtraTerm { word: "蛏子苗种".into(), freq: None }], &[]);
        assert!(extended.analyze(text).iter().any(|t| t.text == "蛏子苗种"));
        assert_ne!(base.version(), extended.version());
        assert_eq!(base.version(), Analyzer::shipped().version());
        let extra = [ExtraTerm { word: "蛏子苗种".into(), freq: None }];
        assert_eq!(Analyzer::version_of(&extra, &[]), extended.version());
    }
}
