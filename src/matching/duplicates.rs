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

fn bigrams(title: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = normalize_text(title).chars().filter(|c| c.is_alphanumeric()).collect();
    let mut grams: Vec<(char, char)> = chars.windows(2).map(|w| (w[0], w[1])).collect();
    if grams.is_empty()
        && let Some(&c) = chars.first()
    {
        grams.push((c, c));
    }
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Dice similarity of two titles' bigram sets.
pub fn title_similarity(a: &str, b: &str) -> f32 {
    dice(&bigrams(a), &bigrams(b))
}

fn dice(a: &[(char, char)], b: &[(char, char)]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.iter().filter(|g| b.binary_search(g).is_ok()).count();
    2.0 * common as f32 / (a.len() + b.len()) as f32
}

/// Titles prepared once for many comparisons (an import of 100,000 rows against an
/// organisation's records): each title's bigrams are computed once, and a title is compared only
/// with the titles that share a bigram with it and whose length allows the threshold.
pub struct TitleIndex {
    grams: Vec<Vec<(char, char)>>,
    postings: std::collections::HashMap<(char, char), Vec<u32>>,
}

impl TitleIndex {
    pub fn new<'a>(titles: impl IntoIterator<Item = &'a str>) -> TitleIndex {
        let grams: Vec<Vec<(char, char)>> = titles.into_iter().map(bigrams).collect();
        let mut postings: std::collections::HashMap<(char, char), Vec<u32>> = std::collections::HashMap::new();
        for (i, g) in grams.iter().enumerate() {
            for gram in g {
                postings.entry(*gram).or_default().push(i as u32);
            }
        }
        TitleIndex { grams, postings }
    }

    /// The indexed title most similar to `title` (the later one of equals), if at least
    /// `DUPLICATE_SIMILARITY`: its position and the similarity.
    pub fn best(&self, title: &str) -> Option<(usize, f32)> {
        let query = bigrams(title);
        if query.is_empty() {
            return None;
        }
        let mut common: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        for gram in &query {
            for &i in self.postings.get(gram).map(Vec::as_slice).unwrap_or_default() {
                *common.entry(i).or_default() += 1;
            }
        }
        common
            .into_iter()
            .map(|(i, c)| (i as usize, 2.0 * c as f32 / (query.len() + self.grams[i as usize].len()) as f32))
            .filter(|(_, similarity)| *similarity >= DUPLICATE_SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
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
        let titles = [
            "燃煤电厂烟气二氧化碳捕集技术",
            "耐盐碱大豆新品种",
            "燃煤电厂烟气二氧化碳捕集",
            "固態電池電解液溶劑的高純化工藝",
        ];
        let index = TitleIndex::new(titles);
        for query in
            ["燃煤电厂烟气二氧化碳捕集", "固态电池电解液溶剂高纯化工艺", "钠离子电池正极材料", "耐盐碱大豆新品种"]
        {
            let pairwise = titles
                .iter()
                .enumerate()
                .map(|(i, t)| (i, title_similarity(query, t)))
                .filter(|(_, s)| *s >= DUPLICATE_SIMILARITY)
                .max_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            assert_eq!(index.best(query), pairwise, "{query}");
        }
        assert_eq!(index.best("燃煤电厂烟气二氧化碳捕集").map(|b| b.0), Some(2));
        assert_eq!(index.best("钠离子电池正极材料"), None);
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
