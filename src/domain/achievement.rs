//! A research achievement of a university or institute (科技成果): input, validation, record.

use serde::Deserialize;
use utoipa::ToSchema;

use super::need::{DESCRIPTION_MAX, KEYWORD_CHARS_MAX, KEYWORDS_MAX, TITLE_MAX};
use super::record::RecordMeta;
use super::validate::{self as v, Contact, ValidationErrors, Wan, nullable};
use super::vocab::{AchievementType, CooperationMode, IpForm, Stage, TechField, Visibility};

pub const PATENTS_MAX: usize = 50;

/// An achievement as a client sends it, for create and for partial update (see `NeedInput`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AchievementInput {
    /// 成果名称, at most 200 characters.
    pub title: Option<String>,
    /// 成果简介, at most 20,000 characters.
    #[serde(rename = "abstract")]
    pub summary: Option<String>,
    pub keywords: Option<Vec<String>>,
    /// 技术领域 code. Sent as text: a value outside the vocabulary is answered with the Chinese
    /// error that lists the choices.
    #[schema(value_type = Option<TechField>)]
    pub field: Option<String>,
    /// 成果类型 code.
    #[schema(value_type = Option<AchievementType>)]
    pub achievement_type: Option<String>,
    /// Technology readiness level 1-9; give it, the stage, or both.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub trl: Option<Option<i64>>,
    /// 成熟阶段 code.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Stage>)]
    pub stage: Option<Option<String>>,
    /// 知识产权形式 code.
    #[schema(value_type = Option<IpForm>)]
    pub ip_form: Option<String>,
    /// Patent or registration numbers, e.g. ZL202310123456.7.
    pub patent_numbers: Option<Vec<String>>,
    /// Offered cooperation modes.
    #[schema(value_type = Option<Vec<CooperationMode>>)]
    pub cooperation_modes: Option<Vec<String>>,
    /// Asking price in 万元; null means 面议 (negotiable).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub asking_price: Option<Option<f64>>,
    /// Team lead (团队负责人).
    pub team_lead: Option<String>,
    pub region: Option<String>,
    pub contact: Option<Contact>,
    /// public | managers | private; default public.
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Option<String>,
    /// Owner organisation: only managers and admins set it.
    pub org_id: Option<String>,
    /// Expected version for a partial update (alternative to If-Match).
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AchievementContent {
    pub title: String,
    pub summary: String,
    pub keywords: Vec<String>,
    pub field: TechField,
    pub achievement_type: AchievementType,
    pub trl: Option<u8>,
    pub stage: Option<Stage>,
    pub ip_form: IpForm,
    pub patent_numbers: Vec<String>,
    pub cooperation_modes: Vec<CooperationMode>,
    pub asking_price: Option<Wan>,
    pub team_lead: String,
    pub region: String,
    pub contact: Contact,
    pub visibility: Visibility,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Achievement {
    pub meta: RecordMeta,
    pub content: AchievementContent,
}

impl AchievementContent {
    pub fn parse(input: &AchievementInput) -> Result<AchievementContent, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let title = v::required_text(&mut e, "title", input.title.as_deref(), TITLE_MAX);
        let summary = v::required_paragraphs(&mut e, "abstract", input.summary.as_deref(), DESCRIPTION_MAX);
        let keywords = v::string_list(&mut e, "keywords", input.keywords.as_deref(), KEYWORDS_MAX, KEYWORD_CHARS_MAX);
        let field = v::vocab::<TechField>(&mut e, "field", input.field.as_deref(), true);
        let achievement_type =
            v::vocab::<AchievementType>(&mut e, "achievement_type", input.achievement_type.as_deref(), true);
        let trl = match input.trl.flatten() {
            None => None,
            Some(level @ 1..=9) => Some(level as u8),
            Some(level) => {
                e.add(
                    "trl",
                    "out_of_range",
                    format!("「技术成熟度」应为 1 到 9 级（收到 {level}）"),
                    format!("`trl` must be a readiness level from 1 to 9 (got {level})"),
                );
                None
            }
        };
        let stage = v::vocab::<Stage>(&mut e, "stage", input.stage.as_ref().and_then(|s| s.as_deref()), false);
        if input.trl.flatten().is_none() && input.stage.as_ref().and_then(|s| s.as_deref()).is_none() {
            e.add(
                "trl",
                "required",
                "请填写「技术成熟度」trl（1-9）或「所处阶段」stage（laboratory 实验室、small_trial 小试、pilot_trial 中试、small_batch 小批量、industrialised 产业化），或两者都填",
                "give `trl` (1-9), `stage` (laboratory, small_trial, pilot_trial, small_batch, industrialised) or both",
            );
        }
        let ip_form = v::vocab::<IpForm>(&mut e, "ip_form", input.ip_form.as_deref(), false).unwrap_or(IpForm::None);
        let patent_numbers = v::string_list(&mut e, "patent_numbers", input.patent_numbers.as_deref(), PATENTS_MAX, 40);
        for number in &patent_numbers {
            if !number.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                e.add(
                    "patent_numbers",
                    "invalid_patent_number",
                    format!("`{number}` 不是专利号或登记号：只能含字母、数字、`.` 和 `-`，例如 ZL202310123456.7"),
                    format!("`{number}` is not a patent or registration number: use letters, digits, `.` and `-` only, e.g. ZL202310123456.7"),
                );
            }
        }
        let cooperation_modes = v::vocab_list(&mut e, "cooperation_modes", input.cooperation_modes.as_deref());
        let asking_price = v::amount(&mut e, "asking_price", input.asking_price.flatten());
        let team_lead = v::optional_text(&mut e, "team_lead", input.team_lead.as_deref(), 50);
        let region = v::region_code(&mut e, "region", input.region.as_deref(), false);
        let contact = Contact::validate(&mut e, "contact", input.contact.as_ref());
        let visibility = v::vocab::<Visibility>(&mut e, "visibility", input.visibility.as_deref(), false)
            .unwrap_or(Visibility::Public);
        let (Some(field), Some(achievement_type)) = (field, achievement_type) else {
            return Err(e);
        };
        e.finish(|| AchievementContent {
            title,
            summary,
            keywords,
            field,
            achievement_type,
            trl,
            stage,
            ip_form,
            patent_numbers,
            cooperation_modes,
            asking_price,
            team_lead,
            region,
            contact,
            visibility,
        })
    }

    pub fn patched(&self, patch: &AchievementInput) -> Result<AchievementContent, ValidationErrors> {
        let mut merged = self.to_input();
        let p = patch.clone();
        macro_rules! take { ($($f:ident),*) => { $( if p.$f.is_some() { merged.$f = p.$f; } )* } }
        take!(
            title,
            summary,
            keywords,
            field,
            achievement_type,
            trl,
            stage,
            ip_form,
            patent_numbers,
            cooperation_modes,
            asking_price,
            team_lead,
            region,
            contact,
            visibility
        );
        Self::parse(&merged)
    }

    pub fn to_input(&self) -> AchievementInput {
        AchievementInput {
            title: Some(self.title.clone()),
            summary: Some(self.summary.clone()),
            keywords: Some(self.keywords.clone()),
            field: Some(self.field.code().to_string()),
            achievement_type: Some(self.achievement_type.code().to_string()),
            trl: Some(self.trl.map(i64::from)),
            stage: Some(self.stage.map(|s| s.code().to_string())),
            ip_form: Some(self.ip_form.code().to_string()),
            patent_numbers: Some(self.patent_numbers.clone()),
            cooperation_modes: Some(self.cooperation_modes.iter().map(|m| m.code().to_string()).collect()),
            asking_price: Some(self.asking_price.map(Wan::as_f64)),
            team_lead: Some(self.team_lead.clone()),
            region: if self.region.is_empty() { None } else { Some(self.region.clone()) },
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

    fn valid() -> AchievementInput {
        serde_json::from_value(serde_json::json!({
            "title": "纳米复合氧化锆陶瓷粉体制备技术",
            "abstract": "采用共沉淀—水热法制备钇稳定纳米复合氧化锆粉体，粒径分布窄。",
            "field": "new_materials",
            "achievement_type": "new_material",
            "trl": 6,
            "patent_numbers": ["ZL202310123456.7"],
            "asking_price": 300
        }))
        .unwrap()
    }

    #[test]
    fn a_complete_achievement_parses() {
        let a = AchievementContent::parse(&valid()).unwrap();
        assert_eq!(a.trl, Some(6));
        assert_eq!(a.asking_price.unwrap().to_string(), "300.00");
    }

    #[test]
    fn trl_out_of_range_and_missing_maturity_are_rejected() {
        let mut input = valid();
        input.trl = Some(Some(10));
        let errors = AchievementContent::parse(&input).unwrap_err();
        assert_eq!(errors.0[0].code, "out_of_range");
        input.trl = None;
        let errors = AchievementContent::parse(&input).unwrap_err();
        assert_eq!(errors.0[0].code, "required");
    }

    #[test]
    fn patent_numbers_with_chinese_are_rejected() {
        let mut input = valid();
        input.patent_numbers = Some(vec!["专利一号".into()]);
        let errors = AchievementContent::parse(&input).unwrap_err();
        assert_eq!(errors.0[0].code, "invalid_patent_number");
    }
}
