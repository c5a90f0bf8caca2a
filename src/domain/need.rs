//! A technical need of an enterprise (企业需求): its input, validation and the stored record.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::record::RecordMeta;
use super::validate::{self as v, Contact, ValidationErrors, Wan, nullable};
use super::vocab::{CooperationMode, NeedType, TechField, Visibility};

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 20_000;
pub const DETAIL_MAX: usize = 5_000;
pub const KEYWORDS_MAX: usize = 20;
pub const KEYWORD_CHARS_MAX: usize = 30;

/// A need as a client sends it, for create (required fields must be there) and for partial update
/// (only what is present changes; `null` clears an optional field). Unknown fields are rejected.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedInput {
    /// 需求名称, at most 200 characters.
    pub title: Option<String>,
    /// 拟解决的技术难题, at most 20,000 characters.
    pub description: Option<String>,
    /// 技术指标: the quantified targets.
    pub targets: Option<String>,
    /// 已尝试方案: what was already tried.
    pub tried: Option<String>,
    /// 关键词, at most 20.
    pub keywords: Option<Vec<String>>,
    /// 技术领域 code, see `/api/v1/vocabularies`. Sent as text: a value outside the vocabulary is
    /// answered with the Chinese error that lists the choices.
    #[schema(value_type = Option<TechField>)]
    pub field: Option<String>,
    /// 需求类型 code.
    #[schema(value_type = Option<NeedType>)]
    pub need_type: Option<String>,
    /// Accepted cooperation modes (合作方式 codes).
    #[schema(value_type = Option<Vec<CooperationMode>>)]
    pub cooperation_modes: Option<Vec<String>>,
    /// Lower end of the budget in 万元; both ends null means 面议 (negotiable).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub budget_min: Option<Option<f64>>,
    /// Upper end of the budget in 万元.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub budget_max: Option<Option<f64>>,
    /// 有效期: last day the need is valid (YYYY-MM-DD); not in the past when set.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<Option<NaiveDate>>,
    /// 6-digit administrative division code (行政区划代码).
    pub region: Option<String>,
    pub contact: Option<Contact>,
    /// public | managers | private; default public.
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Option<String>,
    /// Owner organisation: only managers and admins set it (on behalf of an enterprise).
    pub org_id: Option<String>,
    /// Expected version for a partial update (alternative to the If-Match header).
    pub version: Option<i64>,
}

/// A validated need, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NeedContent {
    pub title: String,
    pub description: String,
    pub targets: String,
    pub tried: String,
    pub keywords: Vec<String>,
    pub field: TechField,
    pub need_type: NeedType,
    pub cooperation_modes: Vec<CooperationMode>,
    pub budget_min: Option<Wan>,
    pub budget_max: Option<Wan>,
    pub deadline: Option<NaiveDate>,
    pub region: String,
    pub contact: Contact,
    pub visibility: Visibility,
}

/// A need with its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub meta: RecordMeta,
    pub content: NeedContent,
}

impl NeedContent {
    /// Validates a complete input. `today` is the market's date, for the deadline check.
    pub fn parse(input: &NeedInput, today: NaiveDate) -> Result<NeedContent, ValidationErrors> {
        Self::validate(input, Some(today))
    }

    /// Applies a partial update to this content and validates the result. The deadline is only
    /// checked against today when the update sets it.
    pub fn patched(&self, patch: &NeedInput, today: NaiveDate) -> Result<NeedContent, ValidationErrors> {
        let mut merged = self.to_input();
        let p = patch.clone();
        macro_rules! take { ($($f:ident),*) => { $( if p.$f.is_some() { merged.$f = p.$f; } )* } }
        take!(
            title,
            description,
            targets,
            tried,
            keywords,
            field,
            need_type,
            cooperation_modes,
            budget_min,
            budget_max,
            deadline,
            region,
            contact,
            visibility
        );
        let today = patch.deadline.flatten().map(|_| today);
        Self::validate(&merged, today)
    }

    fn validate(input: &NeedInput, deadline_not_before: Option<NaiveDate>) -> Result<NeedContent, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let title = v::required_text(&mut e, "title", input.title.as_deref(), TITLE_MAX);
        let description = v::required_paragraphs(&mut e, "description", input.description.as_deref(), DESCRIPTION_MAX);
        let targets = v::optional_paragraphs(&mut e, "targets", input.targets.as_deref(), DETAIL_MAX);
        let tried = v::optional_paragraphs(&mut e, "tried", input.tried.as_deref(), DETAIL_MAX);
        let keywords = v::string_list(&mut e, "keywords", input.keywords.as_deref(), KEYWORDS_MAX, KEYWORD_CHARS_MAX);
        let field = v::vocab::<TechField>(&mut e, "field", input.field.as_deref(), true);
        let need_type = v::vocab::<NeedType>(&mut e, "need_type", input.need_type.as_deref(), true);
        let cooperation_modes = v::vocab_list(&mut e, "cooperation_modes", input.cooperation_modes.as_deref());
        let budget_min = v::amount(&mut e, "budget_min", input.budget_min.flatten());
        let budget_max = v::amount(&mut e, "budget_max", input.budget_max.flatten());
        if let (Some(lo), Some(hi)) = (budget_min, budget_max)
            && lo > hi
        {
            e.add(
                "budget_min",
                "range_inverted",
                format!("「预算下限」（{lo} 万元）不能高于「预算上限」（{hi} 万元）"),
                format!("`budget_min` ({lo} 万元) must not exceed `budget_max` ({hi} 万元)"),
            );
        }
        let deadline = input.deadline.flatten();
        if let (Some(d), Some(today)) = (deadline, deadline_not_before)
            && d < today
        {
            e.add(
                "deadline",
                "in_past",
                format!("「截止日期」{d} 已经过去，请给出 {today} 及以后的日期"),
                format!("`deadline` {d} is in the past; give a date from {today} on"),
            );
        }
        let region = v::region_code(&mut e, "region", input.region.as_deref(), true);
        let contact = Contact::validate(&mut e, "contact", input.contact.as_ref());
        let visibility = v::vocab::<Visibility>(&mut e, "visibility", input.visibility.as_deref(), false)
            .unwrap_or(Visibility::Public);
        let (Some(field), Some(need_type)) = (field, need_type) else {
            return Err(e);
        };
        e.finish(|| NeedContent {
            title,
            description,
            targets,
            tried,
            keywords,
            field,
            need_type,
            cooperation_modes,
            budget_min,
            budget_max,
            deadline,
            region,
            contact,
            visibility,
        })
    }

    /// The content as a complete input, the base a partial update is applied to.
    pub fn to_input(&self) -> NeedInput {
        NeedInput {
            title: Some(self.title.clone()),
            description: Some(self.description.clone()),
            targets: Some(self.targets.clone()),
            tried: Some(self.tried.clone()),
            keywords: Some(self.keywords.clone()),
            field: Some(self.field.code().to_string()),
            need_type: Some(self.need_type.code().to_string()),
            cooperation_modes: Some(self.cooperation_modes.iter().map(|m| m.code().to_string()).collect()),
            budget_min: Some(self.budget_min.map(Wan::as_f64)),
            budget_max: Some(self.budget_max.map(Wan::as_f64)),
            deadline: Some(self.deadline),
            region: Some(self.region.clone()),
            contact: Some(self.contact.clone()),
            visibility: Some(self.visibility.code().to_string()),
            org_id: None,
            version: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn valid() -> NeedInput {
        serde_json::from_value(serde_json::json!({
            "title": "固态电池电解液溶剂提纯工艺攻关",
            "description": "现有碳酸酯类溶剂水分和金属离子含量偏高，影响固态电池循环寿命。",
            "field": "new_energy",
            "need_type": "tech_breakthrough",
            "region": "370502",
            "budget_min": 50, "budget_max": 200,
            "cooperation_modes": ["joint_development", "transfer"]
        }))
        .unwrap()
    }

    #[test]
    fn a_complete_need_parses() {
        let need = NeedContent::parse(&valid(), today()).unwrap();
        assert_eq!(need.field, TechField::NewEnergy);
        assert_eq!(need.budget_max.unwrap().hundredths(), 20_000);
        assert_eq!(need.visibility, Visibility::Public);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut input = valid();
        input.title = Some("  ".into());
        input.field = Some("石油".into());
        input.budget_min = Some(Some(300.0));
        input.deadline = Some(NaiveDate::from_ymd_opt(2020, 1, 1));
        input.region = Some("37050".into());
        let errors = NeedContent::parse(&input, today()).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "field", "budget_min", "deadline", "region"]);
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_clears() {
        let need = NeedContent::parse(&valid(), today()).unwrap();
        let patch: NeedInput =
            serde_json::from_value(serde_json::json!({"budget_max": null, "title": "新标题"})).unwrap();
        let patched = need.patched(&patch, today()).unwrap();
        assert_eq!(patched.title, "新标题");
        assert_eq!(patched.budget_max, None);
        assert_eq!(patched.budget_min, need.budget_min);
        assert_eq!(patched.description, need.description);
    }

    #[test]
    fn an_old_deadline_does_not_block_other_edits() {
        let mut need = NeedContent::parse(&valid(), today()).unwrap();
        need.deadline = NaiveDate::from_ymd_opt(2020, 1, 1);
        let patch: NeedInput = serde_json::from_value(serde_json::json!({"title": "改"})).unwrap();
        assert!(need.patched(&patch, today()).is_ok());
    }
}
