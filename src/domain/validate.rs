//! Field validation shared by every record: collected field errors, text lengths counted in
//! characters, money in 万元 with two decimals, region codes and contacts.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// One invalid field: where, a stable code, and a sentence that says what to fix (in the
/// language the client asked for: Chinese by default, English with `Accept-Language: en`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
    /// The message in Chinese; the API puts it in `message` unless English is asked for, and
    /// never sends this key.
    #[schema(ignore)]
    pub message_zh: String,
}

/// Every problem found in one input, so a client can fix them all at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Records a problem: its Chinese message, then the English one.
    pub fn add(&mut self, field: &str, code: &'static str, zh: impl Into<String>, en: impl Into<String>) {
        self.0.push(FieldError { field: field.to_string(), code, message: en.into(), message_zh: zh.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was found, the errors otherwise.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() { Ok(value()) } else { Err(self) }
    }

    pub fn summary(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        format!("{} invalid field(s): {}", self.0.len(), parts.join("; "))
    }

    /// The summary in Chinese.
    pub fn summary_zh(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|e| e.message_zh.clone()).collect();
        format!("{} 个字段有误：{}", self.0.len(), parts.join("；"))
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for ValidationErrors {}

/// Deserialises a field that may be absent (outer `None`), explicitly `null` (`Some(None)`) or set.
/// PATCH needs the difference: absent keeps the value, `null` clears it.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Trims and checks a required one-line text (a title, a name): present, not blank, at most `max`
/// characters, no control characters (tabs and line breaks included).
pub fn required_text(errors: &mut ValidationErrors, field: &str, value: Option<&str>, max: usize) -> String {
    required(errors, field, value, max, Lines::One)
}

/// Trims and checks a required text of paragraphs (a description): as `required_text`, but tabs
/// and line breaks are kept.
pub fn required_paragraphs(errors: &mut ValidationErrors, field: &str, value: Option<&str>, max: usize) -> String {
    required(errors, field, value, max, Lines::Many)
}

/// Trims an optional one-line text and checks it; absent means empty.
pub fn optional_text(errors: &mut ValidationErrors, field: &str, value: Option<&str>, max: usize) -> String {
    let text = value.map(str::trim).unwrap_or_default();
    check_text(errors, field, text, max, Lines::One);
    text.to_string()
}

/// Trims an optional text of paragraphs (a note, a list of targets) and checks it.
pub fn optional_paragraphs(errors: &mut ValidationErrors, field: &str, value: Option<&str>, max: usize) -> String {
    let text = value.map(str::trim).unwrap_or_default();
    check_text(errors, field, text, max, Lines::Many);
    text.to_string()
}

/// Whether a text field may hold tabs and line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

fn required(errors: &mut ValidationErrors, field: &str, value: Option<&str>, max: usize, lines: Lines) -> String {
    match value.map(str::trim) {
        None => {
            errors.add(field, "required", format!("「{}」必填", label(field)), format!("`{field}` is required"));
            String::new()
        }
        Some("") => {
            errors.add(field, "blank", format!("「{}」不能为空", label(field)), format!("`{field}` must not be blank"));
            String::new()
        }
        Some(text) => {
            check_text(errors, field, text, max, lines);
            text.to_string()
        }
    }
}

fn check_text(errors: &mut ValidationErrors, field: &str, text: &str, max: usize, lines: Lines) {
    let chars = text.chars().count();
    if chars > max {
        errors.add(
            field,
            "too_long",
            format!("「{}」有 {chars} 个字符，最多 {max} 个", label(field)),
            format!("`{field}` has {chars} characters; at most {max} are allowed"),
        );
    }
    control_character(errors, field, text, lines);
}

/// A control character that a text of this kind may not hold: NUL and the rest of the C0 set and
/// DEL everywhere (PostgreSQL cannot store NUL, and none of them is meant as text); tab, line feed
/// and carriage return only in one-line fields.
pub fn forbidden_control(text: &str, lines: Lines) -> Option<char> {
    text.chars().find(|&c| {
        let allowed_in_paragraphs = matches!(c, '\t' | '\n' | '\r');
        (c.is_ascii_control() && !(lines == Lines::Many && allowed_in_paragraphs)) || ('\u{80}'..='\u{9f}').contains(&c)
    })
}

/// Records a control character found in `text` with a message that names it.
pub fn control_character(errors: &mut ValidationErrors, field: &str, text: &str, lines: Lines) {
    if let Some(c) = forbidden_control(text, lines) {
        let (hint_zh, hint) = match lines {
            Lines::One => (
                "这是单行字段：请删除换行、制表符等控制字符",
                "this is a one-line field: remove line breaks, tabs and other control characters",
            ),
            Lines::Many => (
                "请删除它：控制字符不是文字（换行和制表符只在多行字段中保留）",
                "remove it: control characters are not text (tabs and line breaks are kept only in fields of several lines)",
            ),
        };
        errors.add(
            field,
            "control_character",
            format!("「{}」含有控制字符 U+{:04X}；{hint_zh}", label(field), c as u32),
            format!("`{field}` contains the control character U+{:04X}; {hint}", c as u32),
        );
    }
}

/// Checks every string in a JSON document (a request body, an import row) for control characters
/// other than tab and line breaks, naming each field by its path (`contact.name`, `keywords[2]`).
/// Keys are checked as well. One-line fields are checked again, more strictly, by their parsers.
pub fn json_control_characters(value: &serde_json::Value) -> ValidationErrors {
    fn walk(value: &serde_json::Value, path: &mut String, errors: &mut ValidationErrors) {
        match value {
            serde_json::Value::String(text) => {
                control_character(errors, if path.is_empty() { "body" } else { path }, text, Lines::Many)
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path, errors);
                    path.truncate(len);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    if forbidden_control(key, Lines::One).is_some() {
                        path.push_str(&key.escape_default().to_string());
                        control_character(errors, path, key, Lines::One);
                    } else {
                        path.push_str(key);
                        walk(item, path, errors);
                    }
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut errors = ValidationErrors::default();
    walk(value, &mut String::new(), &mut errors);
    errors
}

/// A list of short distinct strings (keywords, patent numbers), trimmed, empty ones dropped.
pub fn string_list(
    errors: &mut ValidationErrors,
    field: &str,
    values: Option<&[String]>,
    max_items: usize,
    max_chars: usize,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values.unwrap_or_default() {
        let value = value.trim();
        if value.is_empty() || out.iter().any(|v| v == value) {
            continue;
        }
        if value.chars().count() > max_chars {
            errors.add(
                field,
                "too_long",
                format!("「{}」中的「{value}」超过 {max_chars} 个字符", label(field)),
                format!("`{field}` item `{value}` is longer than {max_chars} characters"),
            );
        }
        control_character(errors, field, value, Lines::One);
        out.push(value.to_string());
    }
    if out.len() > max_items {
        errors.add(
            field,
            "too_many",
            format!("「{}」有 {} 项，最多 {max_items} 项", label(field), out.len()),
            format!("`{field}` has {} items; at most {max_items} are allowed", out.len()),
        );
    }
    out
}

/// Parses a vocabulary code, recording the error with the allowed codes.
pub fn vocab<T: std::str::FromStr<Err = String> + crate::domain::vocab::Vocabulary>(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    required: bool,
) -> Option<T> {
    match value {
        None if required => {
            errors.add(field, "required", format!("「{}」必填", label(field)), format!("`{field}` is required"));
            None
        }
        None => None,
        Some(code) => match code.trim().parse::<T>() {
            Ok(v) => Some(v),
            Err(message) => {
                errors.add(
                    field,
                    "unknown_code",
                    format!("「{}」：{}", label(field), T::unknown_zh(code.trim())),
                    message,
                );
                None
            }
        },
    }
}

/// A list of vocabulary codes, deduplicated, order kept.
pub fn vocab_list<T: std::str::FromStr<Err = String> + crate::domain::vocab::Vocabulary + PartialEq>(
    errors: &mut ValidationErrors,
    field: &str,
    values: Option<&[String]>,
) -> Vec<T> {
    let mut out = Vec::new();
    for code in values.unwrap_or_default() {
        if let Some(v) = vocab::<T>(errors, field, Some(code), true)
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

/// An amount in 万元 held exactly as hundredths (two decimals), never as a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wan(i64);

impl Wan {
    /// Largest amount accepted: one hundred billion yuan (1e7 万元).
    pub const MAX_HUNDREDTHS: i64 = 1_000_000_000;

    pub fn from_hundredths(h: i64) -> Wan {
        Wan(h)
    }

    pub fn hundredths(self) -> i64 {
        self.0
    }

    /// The amount as a JSON number (12.5 for 12.50 万元).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// Accepts a JSON number with at most two decimals, non-negative and below the maximum.
    pub fn parse(value: f64) -> Result<Wan, String> {
        if !value.is_finite() {
            return Err("must be a number".into());
        }
        if value < 0.0 {
            return Err(format!("must not be negative (got {value})"));
        }
        let scaled = value * 100.0;
        let rounded = scaled.round();
        if (scaled - rounded).abs() > 1e-6 {
            return Err(format!("has more than two decimals (got {value}); amounts are in 万元 to 0.01"));
        }
        if rounded > Self::MAX_HUNDREDTHS as f64 {
            return Err(format!("is larger than {} 万元", Self::MAX_HUNDREDTHS / 100));
        }
        Ok(Wan(rounded as i64))
    }
}

impl std::fmt::Display for Wan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// The digits of a whole number written with or without thousands separators: `1,234,567` gives
/// `1234567`; a comma anywhere but between correct groups of three (`12,5`, `,,1`, `1234,567`)
/// gives `None`, so a mistyped amount is refused rather than silently read as another number.
pub fn ungroup_thousands(whole: &str) -> Option<String> {
    if !whole.contains(',') {
        return Some(whole.to_string());
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mut groups = whole.split(',');
    let head = groups.next().unwrap_or_default();
    let grouped = (1..=3).contains(&head.len()) && digits(head) && groups.all(|g| g.len() == 3 && digits(g));
    grouped.then(|| whole.replace(',', ""))
}

/// A decimal number as a person writes it in a spreadsheet cell: an optional minus, digits (with
/// or without correct thousands separators) and at most one decimal point. Nothing else is read:
/// no exponents, no `inf`, no stray commas.
pub fn decimal_text(text: &str) -> Result<f64, ()> {
    let text = text.trim();
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, frac) = unsigned.split_once('.').map_or((unsigned, None), |(w, f)| (w, Some(f)));
    let whole = ungroup_thousands(whole).ok_or(())?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(&whole) || frac.is_some_and(|f| !digits(f)) {
        return Err(());
    }
    let plain = match frac {
        Some(f) => format!("{whole}.{f}"),
        None => whole,
    };
    let value: f64 = plain.parse().map_err(|_| ())?;
    Ok(if text.starts_with('-') { -value } else { value })
}

/// Validates an optional amount field.
pub fn amount(errors: &mut ValidationErrors, field: &str, value: Option<f64>) -> Option<Wan> {
    let value = value?;
    match Wan::parse(value) {
        Ok(w) => Some(w),
        Err(why) => {
            errors.add(
                field,
                "invalid_amount",
                format!("「{}」{}", label(field), amount_zh(&why)),
                format!("`{field}` {why}"),
            );
            None
        }
    }
}

/// An amount's problem (as `Wan::parse` words it) in Chinese.
pub fn amount_zh(why: &str) -> String {
    if why.starts_with("must be a number") {
        "应为数字，单位万元，例如 \"120.50\"".to_string()
    } else if why.starts_with("must not be negative") {
        format!("不能为负数（{why}）")
    } else if why.starts_with("has more than two decimals") {
        "最多两位小数：金额以万元计，精确到 0.01".to_string()
    } else if why.starts_with("is larger than") {
        format!("超出上限（{why}）")
    } else {
        format!("不是有效的金额（{why}）")
    }
}

/// The Chinese name of a field (`contact.phone`, `milestones[1].date` ...), for messages.
pub fn label(field: &str) -> String {
    fn name(part: &str) -> &str {
        match part {
            "title" => "名称",
            "description" => "需求描述",
            "targets" => "技术指标",
            "tried" => "已尝试的方案",
            "keywords" => "关键词",
            "field" => "技术领域",
            "need_type" => "需求类型",
            "cooperation_modes" => "合作方式",
            "budget_min" => "预算下限",
            "budget_max" => "预算上限",
            "deadline" => "截止日期",
            "region" => "所在地区",
            "contact" => "联系人",
            "name" => "名称",
            "phone" => "电话",
            "email" => "电子邮箱",
            "visibility" => "公开范围",
            "abstract" | "summary" => "成果简介",
            "achievement_type" => "成果类型",
            "trl" => "技术成熟度",
            "stage" => "所处阶段",
            "ip_form" => "知识产权形式",
            "patent_numbers" => "专利号",
            "asking_price" => "转让报价",
            "team_lead" => "团队负责人",
            "contract_type" => "合同类型",
            "amount" => "合同金额",
            "signed_on" => "签约日期",
            "registration_number" => "技术合同登记号",
            "landing_enterprise" => "落地企业",
            "landing_region" => "落地地区",
            "milestones" => "里程碑",
            "date" => "日期",
            "kind" => "类型",
            "note" => "备注",
            "evidence" => "证明材料",
            "outcomes" => "成效",
            "new_output_value" => "新增产值",
            "new_products" => "新产品数",
            "jobs" => "新增就业",
            "reported_on" => "填报日期",
            "role" => "角色",
            "org_id" => "机构",
            "expires_at" => "过期时间",
            "word" => "词语",
            "freq" => "词频",
            "members" => "同义词",
            "external_id" => "外部编号",
            other => other,
        }
    }
    let parts: Vec<String> = field
        .split('.')
        .map(|part| match part.split_once('[') {
            Some((head, rest)) => {
                format!("{}第{}项", name(head), rest.trim_end_matches(']').parse::<usize>().map(|i| i + 1).unwrap_or(0))
            }
            None => name(part).to_string(),
        })
        .collect();
    parts.join("·")
}

/// Province-level prefixes of GB/T 2260 administrative division codes.
const PROVINCE_PREFIXES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
];

/// Names of the codes the city works with most (Shandong and Dongying's districts).
const REGION_NAMES: [(&str, &str); 16] = [
    ("370000", "山东省"),
    ("370100", "济南市"),
    ("370200", "青岛市"),
    ("370300", "淄博市"),
    ("370500", "东营市"),
    ("370502", "东营市东营区"),
    ("370503", "东营市河口区"),
    ("370505", "东营市垦利区"),
    ("370522", "东营市利津县"),
    ("370523", "东营市广饶县"),
    ("370600", "烟台市"),
    ("370700", "潍坊市"),
    ("371600", "滨州市"),
    ("110000", "北京市"),
    ("310000", "上海市"),
    ("120000", "天津市"),
];

/// Checks a 6-digit administrative division code (行政区划代码).
pub fn region_code(errors: &mut ValidationErrors, field: &str, value: Option<&str>, required: bool) -> String {
    let Some(code) = value.map(str::trim) else {
        if required {
            errors.add(
                field,
                "required",
                format!("「{}」必填：6 位行政区划代码，例如 370502", label(field)),
                format!("`{field}` is required: a 6-digit administrative division code such as 370502"),
            );
        }
        return String::new();
    };
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        errors.add(
            field,
            "invalid_region",
            format!("「{}」应为 6 位行政区划代码，例如 370502（收到 `{code}`）", label(field)),
            format!("`{field}` must be a 6-digit administrative division code such as 370502 (got `{code}`)"),
        );
    } else if !PROVINCE_PREFIXES.contains(&&code[..2]) {
        errors.add(
            field,
            "invalid_region",
            format!("「{}」`{code}` 不以省级代码开头（例如山东为 37）", label(field)),
            format!("`{field}` `{code}` does not start with a province code (e.g. 37 for 山东)"),
        );
    }
    code.to_string()
}

/// A Chinese name for well-known region codes, for display.
pub fn region_name(code: &str) -> Option<&'static str> {
    REGION_NAMES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Checks a region filter: 2, 4 or 6 digits (province, city or district prefix).
pub fn region_prefix(value: &str) -> Result<&str, String> {
    let v = value.trim();
    if matches!(v.len(), 2 | 4 | 6) && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v)
    } else {
        Err(format!("`region` must be 2, 4 or 6 digits of an administrative division code (got `{value}`)"))
    }
}

/// The contact person of a record; shown only to those entitled to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
}

impl Contact {
    pub fn validate(errors: &mut ValidationErrors, field: &str, contact: Option<&Contact>) -> Contact {
        let Some(c) = contact else {
            return Contact::default();
        };
        let name = optional_text(errors, &format!("{field}.name"), Some(&c.name), 50);
        let phone = c.phone.trim().to_string();
        if !phone.is_empty() {
            let digits = phone.chars().filter(|ch| ch.is_ascii_digit()).count();
            let allowed = phone.chars().all(|ch| ch.is_ascii_digit() || " +-()".contains(ch));
            if !allowed || !(7..=20).contains(&digits) {
                errors.add(
                    &format!("{field}.phone"),
                    "invalid_phone",
                    format!("「{}·电话」应为 7 到 20 位数字，可含 + - ( ) 和空格（收到 `{phone}`）", label(field)),
                    format!("`{field}.phone` must be 7-20 digits, optionally with + - ( ) and spaces (got `{phone}`)"),
                );
            }
        }
        let email = c.email.trim().to_string();
        if !email.is_empty() {
            let valid = email.chars().count() <= 254
                && email.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
                })
                && !email.chars().any(char::is_whitespace);
            if !valid {
                errors.add(
                    &format!("{field}.email"),
                    "invalid_email",
                    format!("「{}·电子邮箱」不是有效的邮箱地址（收到 `{email}`）", label(field)),
                    format!("`{field}.email` is not an e-mail address (got `{email}`)"),
                );
            }
        }
        Contact { name, phone, email }
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.phone.is_empty() && self.email.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_keeps_two_decimals_exactly() {
        assert_eq!(Wan::parse(12.34).unwrap().hundredths(), 1234);
        assert_eq!(Wan::parse(0.1 + 0.2).unwrap().hundredths(), 30);
        assert_eq!(Wan::parse(1234.5).unwrap().to_string(), "1234.50");
        assert!(Wan::parse(1.234).is_err());
        assert!(Wan::parse(-1.0).is_err());
    }

    #[test]
    fn control_characters_are_refused_and_line_breaks_only_in_paragraphs() {
        let mut errors = ValidationErrors::default();
        required_text(&mut errors, "title", Some("碳捕集\u{0}装置"), 200);
        required_text(&mut errors, "title", Some("碳捕集\n装置"), 200);
        required_paragraphs(&mut errors, "description", Some("第一段\n\t第二段\r\n"), 2000);
        required_paragraphs(&mut errors, "description", Some("响铃\u{7}"), 2000);
        string_list(&mut errors, "keywords", Some(&["二氧化碳\u{1b}".to_string()]), 10, 30);
        let fields: Vec<_> = errors.0.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("title", "control_character"),
                ("title", "control_character"),
                ("description", "control_character"),
                ("keywords", "control_character")
            ]
        );
        assert!(errors.0[0].message.contains("U+0000"));
        let body = serde_json::json!({"title": "好", "contact": {"name": "张\u{0}三"}, "keywords": ["a", "b\u{8}"], "note": "一\n二"});
        let found: Vec<_> = json_control_characters(&body).0.into_iter().map(|e| e.field).collect();
        assert_eq!(found, ["contact.name", "keywords[1]"]);
    }

    #[test]
    fn numbers_in_cells_are_read_strictly() {
        assert_eq!(decimal_text("1,234.5"), Ok(1234.5));
        assert_eq!(decimal_text(" -7 "), Ok(-7.0));
        for bad in ["12,5", ",,1,,", "1e3", "inf", "NaN", "1.2.3", "", "-", "1.", "+5"] {
            assert!(decimal_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lengths_are_counted_in_characters_not_bytes() {
        let mut errors = ValidationErrors::default();
        let title = "碳".repeat(200); // 600 bytes, 200 characters
        required_text(&mut errors, "title", Some(&title), 200);
        assert!(errors.is_empty());
        required_text(&mut errors, "title", Some(&"碳".repeat(201)), 200);
        assert_eq!(errors.0[0].code, "too_long");
        assert!(errors.0[0].message.contains("201 characters"));
    }

    #[test]
    fn region_codes_need_six_digits_and_a_province() {
        let mut errors = ValidationErrors::default();
        region_code(&mut errors, "region", Some("370502"), true);
        assert!(errors.is_empty());
        region_code(&mut errors, "region", Some("东营"), true);
        region_code(&mut errors, "region", Some("990000"), true);
        assert_eq!(errors.0.len(), 2);
        assert_eq!(region_name("370502"), Some("东营市东营区"));
    }
}
