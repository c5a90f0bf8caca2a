//! The transfer library (落地转化库): one signed deal and what came of it. A transfer is created
//! when a docking is signed; managers record the milestones and the outcomes as reported.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::validate::{self as v, ValidationErrors, Wan};
use super::vocab::{TechField, VocabularyEntry, vocabulary};

vocabulary!(
    /// The five types of technology-contract registration (技术合同认定登记).
    ContractType {
        Development => ("development", "技术开发"),
        Transfer => ("transfer", "技术转让"),
        License => ("license", "技术许可"),
        Service => ("service", "技术服务"),
        Consulting => ("consulting", "技术咨询"),
    }
);

vocabulary!(
    /// The steps from a signed contract to a product on the market.
    MilestoneKind {
        ProofOfConcept => ("proof_of_concept", "概念验证"),
        Pilot => ("pilot", "中试"),
        Production => ("production", "量产/产业化"),
    }
);

/// One milestone as reported, with references to the evidence (report numbers, file names,
/// links to the documents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Milestone {
    pub kind: MilestoneKind,
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// What the deal brought, as the landing enterprise reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Outcomes {
    /// New output value (新增产值) in 万元, two decimals, as a string.
    #[schema(value_type = Option<String>, example = "1200.00")]
    #[serde(with = "wan_text", default)]
    pub new_output_value: Option<Wan>,
    /// New products (新产品), count.
    pub new_products: Option<u32>,
    /// Jobs created (新增就业), count.
    pub jobs: Option<u32>,
    /// When the figures were reported.
    #[schema(value_type = Option<String>, format = Date)]
    pub reported_on: Option<NaiveDate>,
}

/// The contract and its landing, as validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferContent {
    pub contract_type: ContractType,
    pub amount: Wan,
    pub signed_on: NaiveDate,
    /// The technology-contract registration number, once registered.
    pub registration_number: Option<String>,
    /// The enterprise where the technology lands (by default the need's enterprise).
    pub landing_enterprise: String,
    /// Where it lands: a 6-digit administrative division code.
    pub landing_region: String,
    /// In order of date.
    pub milestones: Vec<Milestone>,
    pub outcomes: Outcomes,
}

impl TransferContent {
    /// The date it landed: its 量产/产业化 milestone, if reported.
    pub fn landed_on(&self) -> Option<NaiveDate> {
        self.milestones.iter().filter(|m| m.kind == MilestoneKind::Production).map(|m| m.date).min()
    }
}

/// One transfer as stored: the contract, and the docking and parties it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub id: String,
    pub docking_id: String,
    pub need_id: String,
    pub achievement_id: String,
    /// The enterprise (need side) and the university or institute (achievement side).
    pub need_org_id: String,
    pub achievement_org_id: String,
    pub manager_id: Option<String>,
    /// The need's field.
    pub field: TechField,
    pub content: TransferContent,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// The contract as a manager sends it: everything optional, so the same type serves the
/// signing (where type, amount and date are required) and later partial updates.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// development, transfer, license, service or consulting.
    pub contract_type: Option<String>,
    /// Contract amount in 万元 with at most two decimals: a string such as "120.50" (exact) or a
    /// number.
    #[schema(value_type = Option<String>, example = "120.50")]
    pub amount: Option<Value>,
    #[schema(value_type = Option<String>, format = Date)]
    pub signed_on: Option<NaiveDate>,
    /// 技术合同登记号: the 4-digit year, the 6-digit region code of the registering office and a
    /// serial of 4 to 8 digits, e.g. 2026370502000123; null to clear.
    #[serde(default, deserialize_with = "v::nullable")]
    pub registration_number: Option<Option<String>>,
    pub landing_enterprise: Option<String>,
    pub landing_region: Option<String>,
    /// Replaces the milestones.
    pub milestones: Option<Vec<MilestoneInput>>,
    /// Replaces the outcomes.
    pub outcomes: Option<OutcomesInput>,
    /// The version you read (or send `If-Match`), for updates.
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneInput {
    /// proof_of_concept (概念验证), pilot (中试) or production (量产/产业化).
    pub kind: String,
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomesInput {
    #[schema(value_type = Option<String>, example = "1200.00")]
    pub new_output_value: Option<Value>,
    pub new_products: Option<u32>,
    pub jobs: Option<u32>,
    #[schema(value_type = Option<String>, format = Date)]
    pub reported_on: Option<NaiveDate>,
}

/// Defaults for a new transfer taken from the docking's need.
#[derive(Debug, Clone)]
pub struct Defaults<'a> {
    pub landing_enterprise: &'a str,
    pub landing_region: &'a str,
}

impl TransferContent {
    /// Validates the contract sent with a signing.
    pub fn parse(input: &TransferInput, defaults: &Defaults<'_>, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let contract_type = v::vocab::<ContractType>(&mut e, "contract_type", input.contract_type.as_deref(), true);
        let amount = exact_amount(&mut e, "amount", input.amount.as_ref(), true);
        let signed_on = match input.signed_on {
            Some(date) => Some(not_future(&mut e, "signed_on", date, today)),
            None => {
                e.add(
                    "signed_on",
                    "required",
                    "「签约日期」signed_on 必填，格式 YYYY-MM-DD",
                    "`signed_on` is required: the signing date as YYYY-MM-DD",
                );
                None
            }
        };
        let content = Self::rest(&mut e, input, defaults, today, signed_on);
        e.finish(|| TransferContent {
            contract_type: contract_type.expect("checked"),
            amount: amount.expect("checked"),
            signed_on: signed_on.expect("checked"),
            ..content
        })
    }

    /// Applies a partial update: absent fields keep their value.
    pub fn patched(&self, input: &TransferInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let contract_type = match &input.contract_type {
            Some(code) => v::vocab::<ContractType>(&mut e, "contract_type", Some(code), true),
            None => Some(self.contract_type),
        };
        let amount = match &input.amount {
            Some(value) => exact_amount(&mut e, "amount", Some(value), true),
            None => Some(self.amount),
        };
        let signed_on = input.signed_on.map(|d| not_future(&mut e, "signed_on", d, today)).unwrap_or(self.signed_on);
        let defaults = Defaults { landing_enterprise: &self.landing_enterprise, landing_region: &self.landing_region };
        let mut merged = input.clone();
        if merged.registration_number.is_none() {
            merged.registration_number = Some(self.registration_number.clone());
        }
        let mut content = Self::rest(&mut e, &merged, &defaults, today, Some(signed_on));
        if input.milestones.is_none() {
            content.milestones = self.milestones.clone();
        }
        if input.outcomes.is_none() {
            content.outcomes = self.outcomes.clone();
        }
        e.finish(|| TransferContent {
            contract_type: contract_type.expect("checked"),
            amount: amount.expect("checked"),
            signed_on,
            ..content
        })
    }

    /// Everything but type, amount and date (filled in by the caller).
    fn rest(
        e: &mut ValidationErrors,
        input: &TransferInput,
        defaults: &Defaults<'_>,
        today: NaiveDate,
        signed_on: Option<NaiveDate>,
    ) -> TransferContent {
        let registration_number = input
            .registration_number
            .clone()
            .flatten()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .inspect(|n| registration_number(e, n, today));
        let landing_enterprise = match &input.landing_enterprise {
            Some(name) => v::required_text(e, "landing_enterprise", Some(name), 100),
            None => defaults.landing_enterprise.to_string(),
        };
        let landing_region = match &input.landing_region {
            Some(code) => v::region_code(e, "landing_region", Some(code), true),
            None => defaults.landing_region.to_string(),
        };
        let mut milestones = Vec::new();
        for (i, m) in input.milestones.iter().flatten().enumerate() {
            let at = format!("milestones[{i}]");
            let kind = v::vocab::<MilestoneKind>(e, &format!("{at}.kind"), Some(&m.kind), true);
            let date = not_future(e, &format!("{at}.date"), m.date, today);
            if let Some(signed) = signed_on
                && date < signed
            {
                e.add(
                    &format!("{at}.date"),
                    "before_signing",
                    format!(
                        "「{}」{date} 早于合同签订日期（{signed}）",
                        crate::domain::validate::label(&format!("{at}.date"))
                    ),
                    format!("`{at}.date` {date} is before the contract was signed ({signed})"),
                );
            }
            let note = v::optional_paragraphs(e, &format!("{at}.note"), Some(&m.note), 500);
            let evidence = v::string_list(e, &format!("{at}.evidence"), Some(&m.evidence), 20, 300);
            if let Some(kind) = kind {
                milestones.push(Milestone { kind, date, note, evidence });
            }
        }
        milestones.sort_by_key(|m| (m.date, m.kind.code()));
        let outcomes = input
            .outcomes
            .as_ref()
            .map(|o| Outcomes {
                new_output_value: exact_amount(e, "outcomes.new_output_value", o.new_output_value.as_ref(), false),
                new_products: o.new_products,
                jobs: o.jobs,
                reported_on: o.reported_on.map(|d| not_future(e, "outcomes.reported_on", d, today)),
            })
            .unwrap_or_default();
        TransferContent {
            contract_type: ContractType::Development,
            amount: Wan::from_hundredths(0),
            signed_on: today,
            registration_number,
            landing_enterprise,
            landing_region,
            milestones,
            outcomes,
        }
    }
}

fn not_future(e: &mut ValidationErrors, field: &str, date: NaiveDate, today: NaiveDate) -> NaiveDate {
    if date > today {
        e.add(
            field,
            "in_future",
            format!("「{}」{date} 在未来：只记录已经发生的事（今天是 {today}）", crate::domain::validate::label(field)),
            format!("`{field}` {date} is in the future; record what has happened (today is {today})"),
        );
    }
    date
}

/// An amount in 万元 sent as a decimal string ("120.50") or a JSON number, kept as hundredths.
pub fn exact_amount(e: &mut ValidationErrors, field: &str, value: Option<&Value>, required: bool) -> Option<Wan> {
    match value {
        None | Some(Value::Null) => {
            if required {
                e.add(
                    field,
                    "required",
                    format!("「{}」必填：以万元计的金额，例如 \"120.50\"", crate::domain::validate::label(field)),
                    format!("`{field}` is required: an amount in 万元 such as \"120.50\""),
                );
            }
            None
        }
        Some(Value::String(text)) => match parse_wan(text) {
            Ok(w) => Some(w),
            Err(why) => {
                e.add(
                    field,
                    "invalid_amount",
                    format!(
                        "「{}」{}",
                        crate::domain::validate::label(field),
                        crate::domain::validate::amount_zh(&why)
                    ),
                    format!("`{field}` {why}"),
                );
                None
            }
        },
        Some(Value::Number(n)) => v::amount(e, field, n.as_f64()),
        Some(_) => {
            e.add(
                field,
                "invalid_amount",
                format!("「{}」应为以万元计的金额，例如 \"120.50\"", crate::domain::validate::label(field)),
                format!("`{field}` must be an amount in 万元 such as \"120.50\""),
            );
            None
        }
    }
}

/// Parses a decimal text in 万元 with at most two decimals, exactly (no float on the way).
/// Thousands separators are accepted only in correct groups of three (`1,234,567.50`); any other
/// comma (`12,5`, `,,1`) is an error, never dropped.
pub fn parse_wan(text: &str) -> Result<Wan, String> {
    let t = text.trim().trim_end_matches("万元").trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let invalid = || format!("must be a non-negative amount in 万元 such as \"120.50\" or \"1,234.50\" (got `{text}`)");
    let Some(whole) = v::ungroup_thousands(whole) else {
        return Err(invalid());
    };
    let whole = whole.as_str();
    if !digits(whole) || (t.contains('.') && !digits(frac)) {
        return Err(invalid());
    }
    if frac.len() > 2 {
        return Err(format!("has more than two decimals (got `{text}`); amounts are in 万元 to 0.01"));
    }
    if whole.len() > 12 {
        return Err(format!("is larger than {} 万元", Wan::MAX_HUNDREDTHS / 100));
    }
    let whole: i64 = whole.parse().map_err(|_| format!("`{text}` is not an amount"))?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| format!("`{text}` is not an amount"))?;
    let hundredths = whole * 100 + frac;
    if hundredths > Wan::MAX_HUNDREDTHS {
        return Err(format!("is larger than {} 万元", Wan::MAX_HUNDREDTHS / 100));
    }
    Ok(Wan::from_hundredths(hundredths))
}

/// Checks a technology-contract registration number: the year it was registered (from 1985, the
/// year registration began, to next year), the 6-digit code of the registering region, and a
/// serial of 4 to 8 digits.
fn registration_number(e: &mut ValidationErrors, number: &str, today: NaiveDate) {
    let field = "registration_number";
    let example = "e.g. 2026370502000123 (year, 6-digit region code, serial)";
    if !(14..=18).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        e.add(
            field,
            "invalid_registration_number",
            format!("「技术合同登记号」应为 14 到 18 位数字（4 位年份、6 位登记机构地区代码和 4 到 8 位序号，例如 2026370502000123）；收到 `{number}`"),
            format!("`{field}` must be 14 to 18 digits, {example}; got `{number}`"),
        );
        return;
    }
    let year: i32 = number[..4].parse().unwrap_or(0);
    if !(1985..=today.year() + 1).contains(&year) {
        e.add(
            field,
            "invalid_registration_number",
            format!("「技术合同登记号」以年份 {year} 开头，这不是有效的登记年份（例如 2026370502000123）"),
            format!("`{field}` starts with the year {year}, which is not a registration year; {example}"),
        );
        return;
    }
    let mut region = ValidationErrors::default();
    v::region_code(&mut region, field, Some(&number[4..10]), true);
    if !region.is_empty() {
        e.add(
            field,
            "invalid_registration_number",
            format!("「技术合同登记号」第 5-10 位（`{}`）不是地区代码（例如 2026370502000123）", &number[4..10]),
            format!("`{field}` digits 5-10 (`{}`) are not a region code; {example}", &number[4..10]),
        );
    }
}

/// Serialises an optional amount as its exact decimal text.
pub mod wan_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Wan, parse_wan};

    pub fn serialize<S: Serializer>(value: &Option<Wan>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(w) => s.serialize_str(&w.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Wan>, D::Error> {
        Option::<String>::deserialize(d)?.map(|t| parse_wan(&t).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    fn defaults() -> Defaults<'static> {
        Defaults { landing_enterprise: "东营新能源材料有限公司", landing_region: "370502" }
    }

    fn input(value: Value) -> TransferInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn amounts_are_kept_exactly_as_hundredths() {
        assert_eq!(parse_wan("120.5").unwrap().hundredths(), 12050);
        assert_eq!(parse_wan("0.07").unwrap().hundredths(), 7);
        assert_eq!(parse_wan("1,234.56万元").unwrap().to_string(), "1234.56");
        assert_eq!(parse_wan("99999999.99").unwrap_err(), "is larger than 10000000 万元");
        assert!(parse_wan("1.234").unwrap_err().contains("more than two decimals"));
        assert!(parse_wan("-5").is_err() && parse_wan("").is_err() && parse_wan("12.").is_err());
        assert_eq!(parse_wan("1,234,567.5").unwrap().hundredths(), 123_456_750);
        for bad in [
            "12,5",
            "1,2,3.4,5",
            ",,1,,",
            "1,23",
            "1234,567",
            ",123",
            "123,",
            "1.234,5",
            "1,,234",
            "0x10",
            "1e3",
            "１２",
        ] {
            let why = parse_wan(bad).unwrap_err();
            assert!(why.contains(bad), "{bad}: {why}");
        }
    }

    #[test]
    fn a_signing_needs_type_amount_and_date_and_takes_the_landing_from_the_need() {
        let content = TransferContent::parse(
            &input(serde_json::json!({"contract_type": "transfer", "amount": "350.25", "signed_on": "2026-11-20"})),
            &defaults(),
            today(),
        )
        .unwrap();
        assert_eq!(content.contract_type.label(), "技术转让");
        assert_eq!(content.amount.hundredths(), 35025);
        assert_eq!(content.landing_enterprise, "东营新能源材料有限公司");
        assert_eq!(content.landing_region, "370502");
        assert_eq!(content.landed_on(), None);

        let errors = TransferContent::parse(&input(serde_json::json!({})), &defaults(), today()).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["contract_type", "amount", "signed_on"]);
    }

    #[test]
    fn registration_numbers_milestones_and_dates_are_checked() {
        let bad = input(serde_json::json!({
            "contract_type": "license", "amount": 10, "signed_on": "2026-11-20",
            "registration_number": "2026990000123",
            "milestones": [{"kind": "pilot", "date": "2026-11-01"}, {"kind": "中试", "date": "2026-11-25"},
                           {"kind": "production", "date": "2027-01-01"}],
        }));
        let errors = TransferContent::parse(&bad, &defaults(), today()).unwrap_err();
        let codes: Vec<(&str, &str)> = errors.0.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            [
                ("registration_number", "invalid_registration_number"),
                ("milestones[0].date", "before_signing"),
                ("milestones[1].kind", "unknown_code"),
                ("milestones[2].date", "in_future"),
            ],
            "{errors}"
        );
        let good = input(serde_json::json!({
            "contract_type": "license", "amount": 10, "signed_on": "2026-11-20",
            "registration_number": "2026370502000123",
            "milestones": [{"kind": "production", "date": "2026-11-30", "evidence": ["投产验收报告 DY-2026-118"]},
                           {"kind": "pilot", "date": "2026-11-25"}],
        }));
        let content = TransferContent::parse(&good, &defaults(), today()).unwrap();
        assert_eq!(content.milestones[0].kind, MilestoneKind::Pilot, "milestones are kept in date order");
        assert_eq!(content.landed_on(), NaiveDate::from_ymd_opt(2026, 11, 30));
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let content = TransferContent::parse(
            &input(serde_json::json!({"contract_type": "development", "amount": "80", "signed_on": "2026-11-20",
                                      "registration_number": "2026370502000123"})),
            &defaults(),
            today(),
        )
        .unwrap();
        let patched = content
            .patched(&input(serde_json::json!({"outcomes": {"new_output_value": "1200", "jobs": 35}})), today())
            .unwrap();
        assert_eq!(patched.amount, content.amount);
        assert_eq!(patched.registration_number.as_deref(), Some("2026370502000123"));
        assert_eq!(patched.outcomes.new_output_value.unwrap().to_string(), "1200.00");
        let cleared = patched.patched(&input(serde_json::json!({"registration_number": null})), today()).unwrap();
        assert_eq!(cleared.registration_number, None);
        assert_eq!(cleared.outcomes.jobs, Some(35));
    }
}
