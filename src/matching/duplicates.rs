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
    /// 0..1, 1 for the same title.
    pub similarity: f32,
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
    let (a, b) = (bigrams(a), bigrams(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.iter().filter(|g| b.binary_search(g).is_ok()).count();
    2.0 * common as f32 / (a.len() + b.len()) as f32
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
                similarity: (similarity * 100.0).round() / 100.0,
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
