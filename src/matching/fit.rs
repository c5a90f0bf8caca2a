//! The structured fit of a need and an achievement: technical field, readiness (TRL) against what
//! the need implies, asking price against budget, cooperation modes, region. Each aspect is data
//! (a code, a status and the values compared) with a Chinese rendering, and says whether it
//! blocks the pair; a pair whose text matches well but which something blocks is a near miss.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::achievement::AchievementContent;
use crate::domain::need::NeedContent;
use crate::domain::validate::{Wan, region_name};
use crate::domain::vocab::{CooperationMode, NeedType, Stage};

/// How one aspect of the pair fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FitStatus {
    /// It fits.
    Fits,
    /// Close: a small gap that negotiation or a little more development can bridge.
    NearMiss,
    /// A gap that stands in the way.
    Blocked,
    /// One side does not say (price negotiable, no TRL given...).
    Unknown,
}

/// One aspect of the fit.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FitItem {
    /// `field`, `trl`, `budget`, `cooperation` or `region`.
    pub code: &'static str,
    pub status: FitStatus,
    /// The values compared, e.g. `{"required": 6, "offered": 4, "gap": 2}`.
    #[schema(value_type = Object)]
    pub values: serde_json::Value,
    /// The same in Chinese, for people.
    pub message: String,
}

/// The fit of a pair and what it does to the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Fit {
    pub items: Vec<FitItem>,
    /// Multiplies the matcher's score: 1 when nothing stands in the way.
    pub factor: f32,
}

impl Fit {
    /// The aspects that stand in the way (near misses and blocks).
    pub fn gaps(&self) -> impl Iterator<Item = &FitItem> {
        self.items.iter().filter(|i| matches!(i.status, FitStatus::NearMiss | FitStatus::Blocked))
    }
}

/// The lowest TRL a need of this type implies: a result to take over (成果引进) must have been
/// proven in a relevant environment; a problem to crack (技术攻关) can start from a laboratory
/// prototype; joint development from a validated concept. Services and talent imply none.
pub fn implied_trl(need_type: NeedType) -> Option<u8> {
    match need_type {
        NeedType::AchievementIntroduction => Some(6),
        NeedType::TechBreakthrough => Some(4),
        NeedType::JointRd => Some(3),
        NeedType::TechService | NeedType::Talent => None,
    }
}

/// The TRL a coarse stage stands for, when no TRL is given.
pub fn stage_trl(stage: Stage) -> u8 {
    match stage {
        Stage::Laboratory => 4,
        Stage::SmallTrial => 5,
        Stage::PilotTrial => 6,
        Stage::SmallBatch => 8,
        Stage::Industrialised => 9,
    }
}

/// A price up to this much above the budget is a near miss; beyond it, a block.
const PRICE_TOLERANCE: f64 = 0.5;

/// The fit of `need` and `achievement`; `field_share` is the share of the achievement's field in
/// the need's field distribution (the matcher's, when the fields differ).
pub fn assess(need: &NeedContent, achievement: &AchievementContent) -> Fit {
    let items = vec![
        field_fit(need, achievement),
        trl_fit(need, achievement),
        budget_fit(need.budget_max, achievement.asking_price),
        cooperation_fit(&need.cooperation_modes, &achievement.cooperation_modes),
        region_fit(&need.region, &achievement.region),
    ];
    let factor = items
        .iter()
        .map(|i| match (i.code, i.status) {
            ("region", FitStatus::Fits) => 1.05,
            ("field", FitStatus::NearMiss) => 0.9,
            (_, FitStatus::NearMiss) => 0.85,
            (_, FitStatus::Blocked) => 0.6,
            _ => 1.0,
        })
        .product();
    Fit { items, factor }
}

fn field_fit(need: &NeedContent, achievement: &AchievementContent) -> FitItem {
    let values = serde_json::json!({ "need": need.field, "achievement": achievement.field });
    if need.field == achievement.field {
        FitItem {
            code: "field",
            status: FitStatus::Fits,
            values,
            message: format!("技术领域一致：{}", need.field.label()),
        }
    } else {
        FitItem {
            code: "field",
            status: FitStatus::NearMiss,
            values,
            message: format!("技术领域不同：需求属{}，成果属{}", need.field.label(), achievement.field.label()),
        }
    }
}

fn trl_fit(need: &NeedContent, achievement: &AchievementContent) -> FitItem {
    let offered = achievement.trl.or(achievement.stage.map(stage_trl));
    let required = implied_trl(need.need_type);
    let values = serde_json::json!({ "required": required, "offered": offered, "need_type": need.need_type });
    let (status, message) = match (required, offered) {
        (None, _) => (FitStatus::Unknown, format!("{}类需求不要求特定成熟度", need.need_type.label())),
        (Some(_), None) => (FitStatus::Unknown, "成果未标明技术成熟度(TRL)".to_string()),
        (Some(required), Some(offered)) if offered >= required => {
            (FitStatus::Fits, format!("成熟度 TRL {offered}，满足{}类需求的 TRL {required}", need.need_type.label()))
        }
        (Some(required), Some(offered)) => {
            let gap = required - offered;
            let status = if gap <= 2 { FitStatus::NearMiss } else { FitStatus::Blocked };
            (
                status,
                format!("成熟度 TRL {offered}，低于{}类需求的 TRL {required}(差 {gap} 级)", need.need_type.label()),
            )
        }
    };
    let mut values = values;
    if let (Some(r), Some(o)) = (required, offered)
        && o < r
    {
        values["gap"] = serde_json::json!(i16::from(r) - i16::from(o));
    }
    FitItem { code: "trl", status, values, message }
}

fn budget_fit(budget: Option<Wan>, price: Option<Wan>) -> FitItem {
    let values = serde_json::json!({
        "budget_max": budget.map(Wan::as_f64),
        "asking_price": price.map(Wan::as_f64),
        "gap": match (budget, price) {
            (Some(b), Some(p)) if p > b => Some(Wan::from_hundredths(p.hundredths() - b.hundredths()).as_f64()),
            _ => None,
        },
    });
    let (status, message) = match (budget, price) {
        (None, _) => (FitStatus::Unknown, "需求预算面议".to_string()),
        (_, None) => (FitStatus::Unknown, "成果报价面议".to_string()),
        (Some(b), Some(p)) if p <= b => (FitStatus::Fits, format!("报价 {p} 万元，在预算 {b} 万元以内")),
        (Some(b), Some(p)) => {
            let over = Wan::from_hundredths(p.hundredths() - b.hundredths());
            let status = if p.as_f64() <= b.as_f64() * (1.0 + PRICE_TOLERANCE) {
                FitStatus::NearMiss
            } else {
                FitStatus::Blocked
            };
            (status, format!("报价 {p} 万元，超出预算 {b} 万元 {over} 万元"))
        }
    };
    FitItem { code: "budget", status, values, message }
}

fn cooperation_fit(accepted: &[CooperationMode], offered: &[CooperationMode]) -> FitItem {
    let common: Vec<CooperationMode> = accepted.iter().copied().filter(|m| offered.contains(m)).collect();
    let values = serde_json::json!({ "accepted": accepted, "offered": offered, "common": common });
    let labels = |modes: &[CooperationMode]| modes.iter().map(|m| m.label()).collect::<Vec<_>>().join("、");
    let (status, message) = if accepted.is_empty() || offered.is_empty() {
        (FitStatus::Unknown, "合作方式未限定".to_string())
    } else if common.is_empty() {
        (FitStatus::NearMiss, format!("合作方式不一致：需求接受{}，成果提供{}", labels(accepted), labels(offered)))
    } else {
        (FitStatus::Fits, format!("合作方式一致：{}", labels(&common)))
    };
    FitItem { code: "cooperation", status, values, message }
}

fn region_fit(need: &str, achievement: &str) -> FitItem {
    let shared = need.chars().zip(achievement.chars()).take_while(|(a, b)| a == b).count();
    let scope = match shared {
        6.. => "same_district",
        4 | 5 => "same_city",
        2 | 3 => "same_province",
        _ => "elsewhere",
    };
    let name = |code: &str| region_name(code).map(str::to_string).unwrap_or_else(|| code.to_string());
    let values = serde_json::json!({ "need": need, "achievement": achievement, "scope": scope });
    let (status, message) = if need.is_empty() || achievement.is_empty() {
        (FitStatus::Unknown, "地区未填写".to_string())
    } else if shared >= 4 {
        (FitStatus::Fits, format!("同城：需求在{}，成果在{}", name(need), name(achievement)))
    } else {
        (FitStatus::Unknown, format!("异地：需求在{}，成果在{}", name(need), name(achievement)))
    };
    FitItem { code: "region", status, values, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::vocab::TechField;

    fn need() -> NeedContent {
        NeedContent {
            title: "CO2捕集".into(),
            description: String::new(),
            targets: String::new(),
            tried: String::new(),
            keywords: vec![],
            field: TechField::Ccus,
            need_type: NeedType::AchievementIntroduction,
            cooperation_modes: vec![CooperationMode::Transfer],
            budget_min: None,
            budget_max: Some(Wan::from_hundredths(20_000)),
            deadline: None,
            region: "370502".into(),
            contact: Default::default(),
            visibility: crate::domain::vocab::Visibility::Public,
        }
    }

    fn achievement(trl: u8, price: i64, modes: Vec<CooperationMode>) -> AchievementContent {
        AchievementContent {
            title: "胺吸收剂".into(),
            summary: String::new(),
            keywords: vec![],
            field: TechField::Ccus,
            achievement_type: crate::domain::vocab::AchievementType::Patent,
            trl: Some(trl),
            stage: None,
            ip_form: crate::domain::vocab::IpForm::InventionPatent,
            patent_numbers: vec![],
            cooperation_modes: modes,
            asking_price: Some(Wan::from_hundredths(price)),
            team_lead: String::new(),
            region: "370500".into(),
            contact: Default::default(),
            visibility: crate::domain::vocab::Visibility::Public,
        }
    }

    fn item<'a>(fit: &'a Fit, code: &str) -> &'a FitItem {
        fit.items.iter().find(|i| i.code == code).unwrap()
    }

    #[test]
    fn a_pair_that_fits_everywhere_has_no_gaps() {
        let fit = assess(&need(), &achievement(7, 15_000, vec![CooperationMode::Transfer]));
        assert_eq!(fit.gaps().count(), 0);
        assert_eq!(item(&fit, "trl").status, FitStatus::Fits);
        assert_eq!(item(&fit, "budget").message, "报价 150.00 万元，在预算 200.00 万元以内");
        assert_eq!(item(&fit, "region").status, FitStatus::Fits);
        assert!(fit.factor > 1.0);
    }

    #[test]
    fn small_gaps_are_near_misses_and_large_ones_block() {
        let fit = assess(&need(), &achievement(4, 26_000, vec![CooperationMode::Transfer]));
        let trl = item(&fit, "trl");
        assert_eq!((trl.status, trl.values["gap"].as_i64()), (FitStatus::NearMiss, Some(2)));
        assert_eq!(trl.message, "成熟度 TRL 4，低于成果引进类需求的 TRL 6(差 2 级)");
        let budget = item(&fit, "budget");
        assert_eq!((budget.status, budget.values["gap"].as_f64()), (FitStatus::NearMiss, Some(60.0)));
        let blocked = assess(&need(), &achievement(2, 90_000, vec![CooperationMode::Equity]));
        assert_eq!(item(&blocked, "trl").status, FitStatus::Blocked);
        assert_eq!(item(&blocked, "budget").status, FitStatus::Blocked);
        assert_eq!(item(&blocked, "cooperation").status, FitStatus::NearMiss);
        assert!(blocked.factor < fit.factor && fit.factor < 1.0);
    }

    #[test]
    fn negotiable_prices_and_missing_levels_are_unknown_not_gaps() {
        let mut a = achievement(7, 0, vec![]);
        a.asking_price = None;
        a.trl = None;
        a.stage = Some(Stage::PilotTrial);
        let fit = assess(&need(), &a);
        assert_eq!(item(&fit, "budget").status, FitStatus::Unknown);
        assert_eq!(item(&fit, "cooperation").status, FitStatus::Unknown);
        assert_eq!(item(&fit, "trl").values["offered"], 6, "a pilot trial stands for TRL 6");
        assert_eq!(fit.gaps().count(), 0);
    }
}
