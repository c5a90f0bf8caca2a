//! Near-duplicate records of one organisation (the same need posted twice): titles compared as
//! sets of character bigrams after normalisation (full-width, traditional, case, punctuation).

use serde::Serialize;
use utoipa::ToSchema;

use crate::search::analyzer::normalize_text;

/// Titles at least this similar (Dice coefficient of bigrams) are flagged.
pub const DUPLICATE_SIMILARITY: f32 = 0.8;

/// A record that nearly duplicates another.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Duplicate {
    pub id: String,
    pub title: String,
    /// 0..1, 1 for the same title, to three decimals.
    pub similarity: f64,
}

/// A pair of characters, as one number.
type Bigram = u64;

fn bigram(a: char, b: char) -> Bigram {
    ((a as u64) << 32) | b as u64
}

/// The title's distinct bigrams of letters and digits after normalisation, sorted, into `out`
/// (a title of one such character is its own bigram).
fn bigrams_into(title: &str, out: &mut Vec<Bigram>) {
    out.clear();
    let mut previous = None;
    for c in normalize_text(title).chars().filter(|c| c.is_alphanumeric()) {
        if let Some(p) = previous {
            out.push(bigram(p, c));
        }
        previous = Some(c);
    }
    if out.is_empty()
        && let Some(c) = previous
    {
        out.push(bigram(c, c));
    }
    out.sort_unstable();
    out.dedup();
}

fn bigrams(title: &str) -> Vec<Bigram> {
    let mut out = Vec::new();
    bigrams_into(title, &mut out);
    out
}

/// Dice similarity of two titles' bigram sets.
pub fn title_similarity(a: &str, b: &str) -> f32 {
    dice(&bigrams(a), &bigrams(b))
}

fn dice(a: &[Bigram], b: &[Bigram]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.iter().filter(|g| b.binary_search(g).is_ok()).count();
    2.0 * common as f32 / (a.len() + b.len()) as f32
}

/// New titles (an import's rows of one organisation) prepared for comparison with many existing
/// ones (the organisation's records): the new titles' bigrams are indexed, and each existing
/// title, read once, is compared only with the new titles that share a bigram with it. Nothing
/// is built per existing title but its bigrams, in a buffer used again.
pub struct TitleIndex {
    lengths: Vec<u32>,
    postings: std::collections::HashMap<Bigram, Vec<u32>>,
}

impl TitleIndex {
    pub fn new<'a>(titles: impl IntoIterator<Item = &'a str>) -> TitleIndex {
        let mut lengths = Vec::new();
        let mut postings: std::collections::HashMap<Bigram, Vec<u32>> = std::collections::HashMap::new();
        let mut grams = Vec::new();
        for (i, title) in titles.into_iter().enumerate() {
            bigrams_into(title, &mut grams);
            lengths.push(grams.len() as u32);
            for gram in &grams {
                postings.entry(*gram).or_default().push(i as u32);
            }
        }
        TitleIndex { lengths, postings }
    }

    /// For each indexed title, the existing title most similar to it (the later one of equals),
    /// if at least `DUPLICATE_SIMILARITY`: its position among `existing` and the similarity.
    pub fn best_among<'a>(&self, existing: impl IntoIterator<Item = &'a str>) -> Vec<Option<(usize, f32)>> {
        let mut best: Vec<Option<(usize, f32)>> = vec![None; self.lengths.len()];
        let mut common = vec![0u32; self.lengths.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut grams = Vec::new();
        for (position, title) in existing.into_iter().enumerate() {
            bigrams_into(title, &mut grams);
            for gram in &grams {
                for &i in self.postings.get(gram).map(Vec::as_slice).unwrap_or_default() {
                    if common[i as usize] == 0 {
                        touched.push(i);
                    }
                    common[i as usize] += 1;
                }
            }
            for i in touched.drain(..) {
                let i = i as usize;
                let similarity = 2.0 * common[i] as f32 / (self.lengths[i] as usize + grams.len()) as f32;
                common[i] = 0;
                // Later positions win ties: `>=`.
                if similarity >= DUPLICATE_SIMILARITY && best[i].is_none_or(|(_, s)| similarity >= s) {
                    best[i] = Some((position, similarity));
                }
            }
        }
        best
    }
}

/// The records among `others` (id, title) whose title nearly equals `title`, most similar first.
pub fn near_duplicates<'a>(title: &str, others: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Duplicate> {
    let mut out: Vec<Duplicate> = others
        .into_iter()
        .filter_map(|(id, other)| {
            let similarity = title_similarity(title, other);
            (similarity >= DUPLICATE_SIMILARITY).then(|| Duplicate {
                id: id.to_string(),
                title: other.to_string(),
                similarity: (f64::from(similarity) * 1000.0).round() / 1000.0,
            })
        })
        .collect();
    out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.id.cmp(&b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_index_finds_what_pairwise_comparison_finds() {
        let existing = [
            "燃煤电厂烟气二氧化碳捕集技术",
            "耐盐碱大豆新品种",
            "燃煤电厂烟气二氧化碳捕集",
            "固態電池電解液溶劑的高純化工藝",
            "燃煤电厂烟气二氧化碳捕集",
            "Ａ",
        ];
        let queries = [
            "燃煤电厂烟气二氧化碳捕集",
            "固态电池电解液溶剂高纯化工艺",
            "钠离子电池正极材料",
            "耐盐碱大豆新品种",
            "a",
            "",
        ];
        let found = TitleIndex::new(queries).best_among(existing);
        for (query, found) in queries.iter().zip(&found) {
            let pairwise = existing
                .iter()
                .enumerate()
                .map(|(i, t)| (i, title_similarity(query, t)))
                .filter(|(_, s)| *s >= DUPLICATE_SIMILARITY)
                .max_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            assert_eq!(*found, pairwise, "{query}");
        }
        // Of the two equal titles, the later one (the older record, listed newest first).
        assert_eq!(found[0].map(|b| b.0), Some(4));
        assert_eq!(found[2], None);
        assert_eq!(found[4], Some((5, 1.0)));
        assert_eq!(found[5], None);
    }

    #[test]
    fn the_same_need_posted_twice_is_similar_and_a_different_one_is_not() {
        assert_eq!(title_similarity("固态电池电解液溶剂高纯化工艺", "固态电池电解液溶剂高纯化工艺"), 1.0);
        assert!(
            title_similarity("固态电池电解液溶剂高纯化工艺", "固態電池電解液溶劑的高純化工藝") >= DUPLICATE_SIMILARITY
        );
        assert!(title_similarity("ＣＯ２捕集技术", "co2捕集技术") >= DUPLICATE_SIMILARITY);
        assert!(title_similarity("固态电池电解液溶剂高纯化工艺", "钠离子电池正极材料") < 0.3);
        let found = near_duplicates(
            "燃煤电厂烟气二氧化碳捕集",
            [("a", "燃煤电厂烟气二氧化碳捕集技术"), ("b", "耐盐碱大豆新品种"), ("c", "燃煤电厂烟气二氧化碳捕集")],
        );
        assert_eq!(found.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["c", "a"]);
    }
}
