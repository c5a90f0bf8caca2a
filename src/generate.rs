//! Realistic generated records for load and speed measurements (`techmarket gen`): needs and
//! achievements built from the vocabulary and sentences of real Chinese texts (the CSL records
//! of the evaluation set when they are at hand, and always the demo data), each one a new
//! combination rather than a copy, with the field, region, maturity, price and budget spread a
//! city's market has. The same seed gives the same records.
//!
//! Records are written as JSON Lines in the import columns, so `techmarket import` (or
//! `POST /api/v1/imports`) takes them as they are; the organisations they name are listed in a
//! third file.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::eval::{EvalRecord, load};

/// A small, fast, reproducible generator (SplitMix64): good enough to spread test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in 0..1.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut at = self.below(total as usize) as u32;
        for (i, w) in weights.iter().enumerate() {
            if at < *w {
                return i;
            }
            at -= w;
        }
        weights.len() - 1
    }

    /// A log-normal amount (万元) around `median`, two decimals.
    fn amount(&mut self, median: f64, spread: f64) -> f64 {
        // Box-Muller.
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        ((median * (spread * normal).exp()) * 100.0).round().max(100.0) / 100.0
    }
}

/// One source text: what a generated record borrows from.
#[derive(Debug, Clone)]
struct Source {
    title: String,
    sentences: Vec<String>,
    keywords: Vec<String>,
}

/// Source texts by the market's technical field.
pub struct Sources {
    by_field: BTreeMap<&'static str, Vec<Source>>,
    /// Sentences of texts without a title or keywords (the CSL distractors), by field.
    extra: BTreeMap<&'static str, Vec<String>>,
    /// Fields and how many sources each has: the draw follows it.
    fields: Vec<&'static str>,
    weights: Vec<u32>,
}

/// The market field of a CSL discipline; `None` for disciplines a technology market does not
/// trade in (philosophy, history ...).
fn field_of_discipline(discipline: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("石油", "oil_gas"),
        ("地质", "oil_gas"),
        ("地球物理", "oil_gas"),
        ("矿业", "oil_gas"),
        ("化学", "petrochemical"),
        ("冶金", "new_materials"),
        ("材料", "new_materials"),
        ("纺织", "new_materials"),
        ("医", "biomedicine"),
        ("药", "biomedicine"),
        ("生物", "biomedicine"),
        ("兽医", "biomedicine"),
        ("食品", "modern_agriculture"),
        ("园艺", "modern_agriculture"),
        ("水产", "modern_agriculture"),
        ("农", "modern_agriculture"),
        ("作物", "modern_agriculture"),
        ("林", "modern_agriculture"),
        ("植物保护", "modern_agriculture"),
        ("交通运输", "intelligent_manufacturing"),
        ("机械", "intelligent_manufacturing"),
        ("控制", "intelligent_manufacturing"),
        ("兵器", "intelligent_manufacturing"),
        ("力学", "intelligent_manufacturing"),
        ("土木", "intelligent_manufacturing"),
        ("水利", "resources_environment"),
        ("测绘", "electronic_information"),
        ("信息", "electronic_information"),
        ("计算机", "electronic_information"),
        ("电子", "electronic_information"),
        ("光学", "electronic_information"),
        ("电气", "new_energy"),
        ("动力", "new_energy"),
        ("核", "new_energy"),
        ("环境", "resources_environment"),
        ("大气", "resources_environment"),
        ("地理", "resources_environment"),
        ("船舶", "marine_equipment"),
        ("海洋", "marine_equipment"),
        ("航空", "aerospace"),
        ("天文", "aerospace"),
        ("工商管理", "high_tech_services"),
        ("应用经济", "high_tech_services"),
        ("情报", "high_tech_services"),
    ];
    TABLE.iter().find(|(k, _)| discipline.contains(k)).map(|(_, f)| *f)
}

/// Sentences of a text: cut after 。；; and a full stop followed by a non-digit.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        current.push(*c);
        let end = matches!(c, '。' | '；' | ';' | '！' | '？')
            || (*c == '.' && chars.get(i + 1).is_none_or(|n| !n.is_ascii_digit()));
        if end {
            let s = current.trim().trim_end_matches(['。', '；', ';', '.', '！', '？']).to_string();
            if s.chars().count() >= 8 {
                out.push(s);
            }
            current.clear();
        }
    }
    let s = current.trim().to_string();
    if s.chars().count() >= 8 {
        out.push(s);
    }
    out
}

fn static_field(code: &str) -> Option<&'static str> {
    crate::domain::vocab::TechField::entries().iter().map(|e| e.code).find(|c| *c == code)
}

impl Sources {
    /// The demo data's texts, and the CSL records in `csl` (a folder with achievements.jsonl and
    /// distractors.jsonl) when given.
    pub fn load(csl: Option<&Path>) -> Result<Sources, String> {
        let mut by_field: BTreeMap<&'static str, Vec<Source>> = BTreeMap::new();
        let mut extra: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for (text, body) in [(crate::demo::ACHIEVEMENTS_JSON, "abstract"), (crate::demo::NEEDS_JSON, "description")] {
            let records: Vec<Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
            for r in records {
                let Some(field) = r["field"].as_str().and_then(static_field) else { continue };
                let keywords = r["keywords"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                by_field.entry(field).or_default().push(Source {
                    title: r["title"].as_str().unwrap_or_default().to_string(),
                    sentences: sentences(r[body].as_str().unwrap_or_default()),
                    keywords,
                });
            }
        }
        if let Some(dir) = csl {
            for file in ["achievements.jsonl", "distractors.jsonl"] {
                let records: Vec<EvalRecord> = load(&dir.join(file)).map_err(|e| e.to_string())?;
                for r in records {
                    let Some(field) = r.field.as_deref().and_then(field_of_discipline) else { continue };
                    if r.title.is_empty() || r.keywords.is_empty() {
                        extra.entry(field).or_default().extend(sentences(&r.description));
                        continue;
                    }
                    by_field.entry(field).or_default().push(Source {
                        title: r.title,
                        sentences: sentences(&r.description),
                        keywords: r.keywords,
                    });
                }
            }
        }
        by_field.retain(|_, v| {
            v.retain(|s| !s.title.is_empty() && !s.sentences.is_empty() && !s.keywords.is_empty());
            !v.is_empty()
        });
        let fields: Vec<&'static str> = by_field.keys().copied().collect();
        let weights = fields.iter().map(|f| by_field[f].len() as u32).collect();
        Ok(Sources { by_field, extra, fields, weights })
    }

    /// How many source texts there are.
    pub fn len(&self) -> usize {
        self.by_field.values().map(Vec::len).sum()
    }

    /// How many sentences of untitled texts there are besides.
    pub fn extra_sentences(&self) -> usize {
        self.extra.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn draw(&self, rng: &mut Rng) -> (&'static str, &[Source]) {
        let field = self.fields[rng.weighted(&self.weights)];
        (field, &self.by_field[field])
    }
}

/// Districts of the city (东营) first, then the province and the country, with the share of
/// records each side has.
const CITY: &[&str] = &["370502", "370503", "370505", "370522", "370523"];
const PROVINCE: &[&str] = &["370102", "370112", "370212", "370303", "370602", "370705", "371602", "371302"];
const COUNTRY: &[&str] = &["110108", "310110", "320102", "330106", "420111", "440305", "510107", "610113", "120104"];

fn region(rng: &mut Rng, city_share: f64) -> &'static str {
    let u = rng.unit();
    let codes: &[&'static str] = if u < city_share {
        CITY
    } else if u < city_share + (1.0 - city_share) * 0.6 {
        PROVINCE
    } else {
        COUNTRY
    };
    codes[rng.below(codes.len())]
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "高",
    "罗",
];
const GIVEN: &[&str] = &[
    "志远", "海涛", "振宇", "丽华", "建国", "晓峰", "文静", "国强", "思源", "立新", "春燕", "明辉", "雪梅", "宏伟",
    "秀英",
];

/// Research organisations and enterprises: names that read like the city's market, made up.
pub fn organisation_names(kind: &str, count: usize) -> Vec<String> {
    let (places, middles, ends): (&[&str], &[&str], &[&str]) = if kind == "university" {
        (
            &["东营", "济南", "青岛", "淄博", "烟台", "潍坊", "滨州", "北京", "上海", "西安", "武汉", "南京", "天津"],
            &["", "工程", "科技", "应用"],
            &["理工大学", "石油学院", "农业科学院", "化工研究院", "材料研究所", "海洋大学", "医药研究院", "能源研究院"],
        )
    } else {
        (
            &["东营", "广饶", "垦利", "利津", "河口", "东营港"],
            &["蓝海", "胜远", "黄河", "海瑞", "新元", "鲁信", "恒泰", "华创", "瑞丰", "金岸", "天成", "宏达", "清源"],
            &[
                "化工有限公司",
                "石油装备有限公司",
                "新能源科技有限公司",
                "生物科技有限公司",
                "新材料有限公司",
                "智能装备有限公司",
                "农业发展有限公司",
                "环保科技有限公司",
            ],
        )
    };
    let mut out = Vec::with_capacity(count);
    'all: for end in ends {
        for middle in middles {
            for place in places {
                if out.len() == count {
                    break 'all;
                }
                out.push(format!("{place}{middle}{end}"));
            }
        }
    }
    let mut n = 2;
    while out.len() < count {
        let base = out[out.len() % (places.len() * middles.len() * ends.len())].clone();
        out.push(format!("{base}第{n}分公司"));
        n += 1;
    }
    out
}

/// Up to `n` distinct keywords, from the first source and then the others.
fn keywords(rng: &mut Rng, parts: &[&Source], n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for (i, s) in parts.iter().enumerate() {
        let take = if i == 0 { 2 + rng.below(2) } else { 1 + rng.below(2) };
        for _ in 0..take {
            let k = rng.pick(&s.keywords).trim().to_string();
            if k.chars().count() >= 2 && k.chars().count() <= 30 && seen.insert(k.clone()) {
                out.push(k);
            }
        }
    }
    out.truncate(n);
    out
}

/// A title made of the main source's title with one of its keywords replaced by another
/// source's, or a title on a common pattern from two keywords.
fn title(rng: &mut Rng, main: &Source, other: &Source, kind: &str) -> String {
    let swapped = main
        .keywords
        .iter()
        .find(|k| k.chars().count() >= 2 && main.title.contains(k.as_str()))
        .map(|k| main.title.replacen(k.as_str(), rng.pick(other.keywords.as_slice()).as_str(), 1));
    let (a, b) = (rng.pick(&main.keywords).clone(), rng.pick(&other.keywords).clone());
    let pattern = if kind == "need" {
        let tail = *rng.pick(&["关键技术攻关", "技术需求", "工艺优化", "装备研制", "技术引进", "联合研发"]);
        match rng.below(3) {
            0 => format!("{a}{tail}"),
            1 => format!("{a}与{b}{tail}"),
            _ => format!("面向{b}的{a}{tail}"),
        }
    } else {
        let tail = *rng.pick(&["技术", "方法", "系统", "装置", "工艺", "关键技术研究", "及其应用"]);
        match rng.below(3) {
            0 => format!("基于{a}的{b}{tail}"),
            1 => format!("{a}与{b}一体化{tail}"),
            _ => format!("一种{a}{tail}"),
        }
    };
    let text = match swapped {
        Some(s) if rng.chance(0.6) => s,
        _ => pattern,
    };
    text.chars().take(200).collect()
}

fn body(rng: &mut Rng, parts: &[&Source], extra: &[String], lead: Option<String>) -> String {
    let mut out: Vec<String> = lead.into_iter().collect();
    for (i, s) in parts.iter().enumerate() {
        let take = if i == 0 { 2 } else { 1 };
        let start = rng.below(s.sentences.len());
        for j in 0..take.min(s.sentences.len()) {
            out.push(s.sentences[(start + j) % s.sentences.len()].clone());
        }
    }
    if !extra.is_empty() {
        for _ in 0..rng.below(3) {
            let at = 1 + rng.below(out.len());
            out.insert(at, rng.pick(extra).clone());
        }
    }
    let mut text = out.join("。");
    text.push('。');
    text.chars().take(4000).collect()
}

/// The sources of one record: a main one and one or two of the same field.
fn parts<'a>(rng: &mut Rng, sources: &'a Sources) -> (&'static str, Vec<&'a Source>, &'a [String]) {
    let (field, pool) = sources.draw(rng);
    let n = 2 + rng.below(2);
    let extra = sources.extra.get(field).map(Vec::as_slice).unwrap_or_default();
    (field, (0..n).map(|_| rng.pick(pool)).collect(), extra)
}

fn person(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
}

/// Technology readiness by stage: 1-3 laboratory ... 8-9 industrialised.
fn stage_of(trl: u8) -> &'static str {
    match trl {
        1..=3 => "laboratory",
        4 => "small_trial",
        5..=6 => "pilot_trial",
        7 => "small_batch",
        _ => "industrialised",
    }
}

const COOPERATION: &[&str] = &[
    "transfer",
    "license_exclusive",
    "license_sole",
    "license_ordinary",
    "equity",
    "joint_development",
    "commissioned_development",
    "tech_service",
    "tech_consulting",
];

fn cooperation(rng: &mut Rng) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let mode = *rng.pick(COOPERATION);
        if !out.contains(&mode) {
            out.push(mode);
        }
    }
    out
}

/// Achievement number `i` (its external id is `gen-a-<i>`).
pub fn achievement(rng: &mut Rng, sources: &Sources, i: usize, universities: &[String]) -> Value {
    let (field, parts, extra) = parts(rng, sources);
    let trl = 1 + rng.weighted(&[2, 4, 8, 14, 18, 20, 16, 11, 7]) as u8;
    let (kind, ip) = match rng.weighted(&[40, 15, 12, 10, 10, 5, 4, 4]) {
        0 => ("patent", "invention_patent"),
        1 => ("new_process", "invention_patent"),
        2 => ("new_product", "utility_model"),
        3 => ("new_material", "invention_patent"),
        4 => ("software_copyright", "software_copyright"),
        5 => ("new_variety", "plant_variety"),
        6 => ("technical_secret", "technical_secret"),
        _ => ("other", "none"),
    };
    let patents: Vec<String> = match ip {
        "invention_patent" | "utility_model" => (0..1 + rng.below(2))
            .map(|_| {
                let year = 2016 + rng.below(9);
                let kind = if ip == "invention_patent" { 1 } else { 2 };
                format!("ZL{year}{kind}{:07}.{}", rng.below(10_000_000), rng.below(10))
            })
            .collect(),
        "software_copyright" => vec![format!("{}SR{:07}", 2018 + rng.below(7), rng.below(10_000_000))],
        _ => Vec::new(),
    };
    let price = if rng.chance(0.2) { Value::Null } else { json!(rng.amount(150.0, 1.0)) };
    json!({
        "external_id": format!("gen-a-{i:07}"),
        "organisation": rng.pick(universities),
        "title": title(rng, parts[0], parts[parts.len() - 1], "achievement"),
        "abstract": body(rng, &parts, extra, None),
        "keywords": keywords(rng, &parts, 5),
        "field": field,
        "achievement_type": kind,
        "trl": trl,
        "stage": stage_of(trl),
        "ip_form": ip,
        "patent_numbers": patents,
        "cooperation_modes": cooperation(rng),
        "asking_price": price,
        "team_lead": person(rng),
        "region": region(rng, 0.4),
        "visibility": if rng.chance(0.1) { "managers" } else { "public" },
    })
}

/// Need number `i` (its external id is `gen-n-<i>`).
pub fn need(rng: &mut Rng, sources: &Sources, i: usize, enterprises: &[String]) -> Value {
    let (field, parts, extra) = parts(rng, sources);
    let lead = format!(
        "{}在{}方面遇到技术难题，{}",
        *rng.pick(&["我公司", "企业", "公司生产线", "园区项目"]),
        rng.pick(&parts[0].keywords),
        *rng.pick(&["希望与高校院所合作解决", "寻求成熟技术成果", "拟引进相关技术", "需要技术团队联合攻关"])
    );
    let budget = if rng.chance(0.3) {
        (Value::Null, Value::Null)
    } else {
        let low = rng.amount(80.0, 1.0);
        (json!(low), json!(((low * (1.5 + rng.unit())) * 100.0).round() / 100.0))
    };
    let need_type = ["tech_breakthrough", "achievement_introduction", "joint_rd", "tech_service", "talent"]
        [rng.weighted(&[40, 25, 20, 12, 3])];
    let month = 1 + rng.below(12);
    let targets = format!("{}指标达到国内先进水平", rng.pick(&parts[0].keywords));
    json!({
        "external_id": format!("gen-n-{i:07}"),
        "organisation": rng.pick(enterprises),
        "title": title(rng, parts[0], parts[parts.len() - 1], "need"),
        "description": body(rng, &parts, extra, Some(lead)),
        "targets": targets,
        "keywords": keywords(rng, &parts, 4),
        "field": field,
        "need_type": need_type,
        "cooperation_modes": cooperation(rng),
        "budget_min": budget.0,
        "budget_max": budget.1,
        "deadline": format!("2027-{month:02}-28"),
        "region": region(rng, 0.8),
        "visibility": if rng.chance(0.15) { "managers" } else { "public" },
    })
}

/// What `generate` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generated {
    pub needs: usize,
    pub achievements: usize,
    pub universities: usize,
    pub enterprises: usize,
    pub sources: usize,
    pub extra_sentences: usize,
    pub distinct_titles: f64,
}

/// Writes `needs.jsonl`, `achievements.jsonl` and `organisations.jsonl` into `dir`.
pub fn generate(
    dir: &Path,
    needs: usize,
    achievements: usize,
    seed: u64,
    sources: &Sources,
) -> std::io::Result<Generated> {
    std::fs::create_dir_all(dir)?;
    let universities = organisation_names("university", (achievements / 2000).clamp(8, 400));
    let enterprises = organisation_names("enterprise", (needs / 20).clamp(10, 2000));
    let mut orgs = std::io::BufWriter::new(std::fs::File::create(dir.join("organisations.jsonl"))?);
    for (kind, names) in [("university", &universities), ("enterprise", &enterprises)] {
        for name in names.iter() {
            let mut rng = Rng::new(seed ^ name.len() as u64);
            let region = if kind == "university" { region(&mut rng, 0.4) } else { rng.pick(CITY) };
            serde_json::to_writer(&mut orgs, &json!({"name": name, "kind": kind, "region": region}))?;
            orgs.write_all(b"\n")?;
        }
    }
    orgs.flush()?;
    let mut titles: HashSet<u64> = HashSet::new();
    let mut write = |file: &str, count: usize, stream: u64, one: &dyn Fn(&mut Rng, usize) -> Value| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join(file))?);
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(stream));
        for i in 0..count {
            let record = one(&mut rng, i);
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            record["title"].as_str().unwrap_or_default().hash(&mut h);
            titles.insert(h.finish());
            serde_json::to_writer(&mut out, &record)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    write("achievements.jsonl", achievements, 1, &|rng, i| achievement(rng, sources, i, &universities))?;
    write("needs.jsonl", needs, 2, &|rng, i| need(rng, sources, i, &enterprises))?;
    Ok(Generated {
        needs,
        achievements,
        universities: universities.len(),
        enterprises: enterprises.len(),
        sources: sources.len(),
        extra_sentences: sources.extra_sentences(),
        distinct_titles: titles.len() as f64 / (needs + achievements).max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_reproducible_distinct_and_in_the_import_columns() {
        let sources = Sources::load(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let a = generate(dir.path(), 50, 300, 7, &sources).unwrap();
        let first = std::fs::read_to_string(dir.path().join("achievements.jsonl")).unwrap();
        generate(dir.path(), 50, 300, 7, &sources).unwrap();
        assert_eq!(first, std::fs::read_to_string(dir.path().join("achievements.jsonl")).unwrap());
        assert!(a.distinct_titles > 0.8, "{a:?}");
        let lines: Vec<Value> = first.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 300);
        let fields: HashSet<&str> = lines.iter().map(|l| l["field"].as_str().unwrap()).collect();
        assert!(fields.len() >= 5, "{fields:?}");
        for l in &lines {
            assert!(l["title"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
            let trl = l["trl"].as_u64().unwrap();
            assert!((1..=9).contains(&trl));
        }
    }

    #[test]
    fn sentences_are_cut_at_chinese_and_latin_stops_but_not_decimals() {
        assert_eq!(
            sentences("采用修正的参数建立模型,精度达到3.5毫米。仿真结果表明方法有效;迭代次数较少且收敛较快."),
            vec!["采用修正的参数建立模型,精度达到3.5毫米", "仿真结果表明方法有效", "迭代次数较少且收敛较快"]
        );
    }
}

/// Loads generated files into the database through the application layer (`gen --into-db`): the
/// organisations that are missing, then the records in imports of 20,000 rows as the operator's
/// admin, so every rule of an import applies. Returns what to report, a line per batch refused
/// and per file.
pub async fn load_into(
    cx: &crate::app::App,
    dir: &Path,
    limits: crate::tabular::Limits,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    use crate::app::{accounts, imports};
    use crate::domain::org::{NewOrganisation, OrganisationInput};
    use crate::domain::record::Library;
    use std::io::BufRead;

    if !accounts::has_operator_admin(cx).await? {
        accounts::bootstrap_admin(cx, "generated data", None).await?;
    }
    let who = accounts::acting_user(cx, None).await?;
    let mut organisations = Vec::new();
    for line in std::fs::read_to_string(dir.join("organisations.jsonl"))?.lines() {
        let v: Value = serde_json::from_str(line)?;
        organisations.push(NewOrganisation::parse(&OrganisationInput {
            name: v["name"].as_str().map(str::to_string),
            kind: v["kind"].as_str().map(str::to_string),
            region: v["region"].as_str().map(str::to_string),
        })?);
    }
    accounts::ensure_organisations(cx, &who, organisations).await?;
    const BATCH: usize = 20_000;
    let mut report = Vec::new();
    for (file, library) in [("achievements.jsonl", Library::Achievements), ("needs.jsonl", Library::Needs)] {
        let mut lines = std::io::BufReader::new(std::fs::File::open(dir.join(file))?).lines();
        let (mut created, mut batches) = (0, 0);
        let started = std::time::Instant::now();
        loop {
            let mut bytes = Vec::new();
            for line in lines.by_ref().take(BATCH) {
                bytes.extend_from_slice(line?.as_bytes());
                bytes.push(b'\n');
            }
            if bytes.is_empty() {
                break;
            }
            let options = imports::Options {
                library,
                format: crate::tabular::Format::JsonLines,
                encoding: None,
                dry_run: false,
                skip_invalid: true,
                default_org: None,
                limits,
                // The command line's own process: every record kept between check and write.
                keep_bytes: imports::KEEP_ALL,
            };
            let batch_started = std::time::Instant::now();
            let imported = imports::run(cx, &who, crate::tabular::Input::Bytes(bytes), &options).await?;
            created += imported.created;
            batches += 1;
            let seconds = batch_started.elapsed().as_secs_f64();
            report.push(format!(
                "{file}: import {batches}: {} rows in {seconds:.1} s ({:.0} rows/s; {created} so far)",
                imported.created,
                imported.created as f64 / seconds
            ));
            if !imported.errors.is_empty() {
                let first = imported.errors.first();
                report.push(format!("{file}: batch {batches}: {} rows refused, e.g. {first:?}", imported.errors.len()));
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        report.push(format!(
            "{file}: {created} created in {batches} imports, {seconds:.1} s ({:.0} rows/s)",
            created as f64 / seconds
        ));
    }
    Ok(report)
}
