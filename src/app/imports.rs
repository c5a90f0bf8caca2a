//! Bulk import of needs and achievements from CSV (UTF-8 or GBK), XLSX or JSON Lines, with
//! column headers in Chinese or English. Every row is validated exactly as the API validates a
//! single record; a dry run reports, row by row, what would be created and every error (row,
//! column, message) without writing. A real run checks every row first, then writes the valid
//! ones in units of work of `WRITE_CHUNK` rows (others' writes go between them), and by default
//! only if every row is valid. Rows with an external id already imported are reported,
//! not created again; titles nearly equal to one of the organisation's records are reported as
//! possible duplicates. Owners are resolved by the same rules as a single post
//! (`records::owner_named`, `records::check_owner_kind`), with the same codes. The HTTP route and
//! `techmarket import` both run `run`.

use futures_util::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::achievement::{Achievement, AchievementContent, AchievementInput};
use crate::domain::need::{Need, NeedContent, NeedInput};
use crate::domain::org::Organisation;
use crate::domain::record::{Library, Principal, RecordMeta};
use crate::domain::vocab::RecordStatus;
use crate::domain::vocab::{
    AchievementType, CooperationMode, IpForm, NeedType, Role, Stage, TechField, Visibility, VocabularyEntry,
};
use crate::domain::{is_valid_id, market_today, new_id};
use crate::storage::ImportKey;
use crate::tabular::{self, Encoding, Format};

use super::records::{check_owner_kind, closest_existing, owner_named};
use super::{App, Code, Error, Result};

/// What a column holds.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    /// Several values separated by commas, semicolons, 、 or line breaks (or a JSON array).
    List,
    Number,
    Date,
    /// A code of the vocabulary, or its Chinese label.
    Code(fn() -> Vec<VocabularyEntry>),
    Codes(fn() -> Vec<VocabularyEntry>),
}

/// One column a library's file may have.
#[derive(Clone, Copy)]
pub struct Column {
    /// The input field it fills (`contact.name` for the contact's parts).
    pub key: &'static str,
    /// The Chinese header of the template.
    pub header: &'static str,
    /// Other headers accepted (the key itself is always accepted).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
    pub help: &'static str,
}

const fn col(
    key: &'static str,
    header: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    required: bool,
    help: &'static str,
) -> Column {
    Column { key, header, aliases, kind, required, help }
}

/// The file's own number for the row; importing the same number again creates nothing.
const EXTERNAL_ID: &str = "external_id";
/// The owning organisation (managers' imports): its id or exact name.
const ORGANISATION: &str = "organisation";

const COMMON_HEAD: [Column; 2] = [
    col(
        EXTERNAL_ID,
        "外部编号",
        &["编号", "外部ID"],
        Kind::Text,
        false,
        "该行在贵单位的编号；重复导入同一编号不会重复创建",
    ),
    col(
        ORGANISATION,
        "单位",
        &["单位名称", "所属单位", "org_id", "org"],
        Kind::Text,
        false,
        "所属单位名称或ID（经理人代录时必填）",
    ),
];

/// The columns of a needs file.
pub static NEED_COLUMNS: [Column; 18] = [
    COMMON_HEAD[0],
    COMMON_HEAD[1],
    col("title", "需求名称", &["标题", "名称"], Kind::Text, true, "至多200字"),
    col("description", "需求描述", &["技术难题", "拟解决的技术难题", "需求内容"], Kind::Text, true, "拟解决的技术难题"),
    col("targets", "技术指标", &[], Kind::Text, false, "量化的技术指标"),
    col("tried", "已尝试方案", &[], Kind::Text, false, ""),
    col("keywords", "关键词", &[], Kind::List, false, "多个用逗号或顿号分隔"),
    col("field", "技术领域", &[], Kind::Code(TechField::entries), true, ""),
    col("need_type", "需求类型", &[], Kind::Code(NeedType::entries), true, ""),
    col("cooperation_modes", "合作方式", &[], Kind::Codes(CooperationMode::entries), false, "多个用逗号分隔"),
    col("budget_min", "预算下限(万元)", &["预算下限"], Kind::Number, false, "两端都空为面议"),
    col("budget_max", "预算上限(万元)", &["预算上限", "预算(万元)", "预算"], Kind::Number, false, ""),
    col("deadline", "有效期", &["截止日期"], Kind::Date, false, "YYYY-MM-DD"),
    col("region", "地区代码", &["地区", "行政区划代码", "所在地区"], Kind::Text, true, "6位行政区划代码，如370502"),
    col("contact.name", "联系人", &["contact_name"], Kind::Text, false, ""),
    col("contact.phone", "联系电话", &["电话", "contact_phone"], Kind::Text, false, ""),
    col("contact.email", "电子邮箱", &["邮箱", "contact_email"], Kind::Text, false, ""),
    col("visibility", "公开范围", &[], Kind::Code(Visibility::entries), false, "默认公开"),
];

/// The columns of an achievements file.
pub static ACHIEVEMENT_COLUMNS: [Column; 19] = [
    COMMON_HEAD[0],
    COMMON_HEAD[1],
    col("title", "成果名称", &["标题", "名称"], Kind::Text, true, "至多200字"),
    col("abstract", "成果简介", &["简介", "摘要", "summary"], Kind::Text, true, ""),
    col("keywords", "关键词", &[], Kind::List, false, "多个用逗号或顿号分隔"),
    col("field", "技术领域", &["学科"], Kind::Code(TechField::entries), true, ""),
    col("achievement_type", "成果类型", &[], Kind::Code(AchievementType::entries), true, ""),
    col("trl", "技术成熟度", &["TRL", "成熟度"], Kind::Number, false, "1-9，与成熟阶段至少填一项"),
    col("stage", "成熟阶段", &[], Kind::Code(Stage::entries), false, ""),
    col("ip_form", "知识产权形式", &[], Kind::Code(IpForm::entries), false, ""),
    col("patent_numbers", "专利号", &["专利"], Kind::List, false, "如ZL202310123456.7，多个用逗号分隔"),
    col("cooperation_modes", "合作方式", &[], Kind::Codes(CooperationMode::entries), false, "多个用逗号分隔"),
    col("asking_price", "报价(万元)", &["报价", "转让价格", "价格(万元)"], Kind::Number, false, "空为面议"),
    col("team_lead", "团队负责人", &["负责人"], Kind::Text, false, ""),
    col("region", "地区代码", &["地区", "行政区划代码", "所在地区"], Kind::Text, false, "6位行政区划代码"),
    col("contact.name", "联系人", &["contact_name"], Kind::Text, false, ""),
    col("contact.phone", "联系电话", &["电话", "contact_phone"], Kind::Text, false, ""),
    col("contact.email", "电子邮箱", &["邮箱", "contact_email"], Kind::Text, false, ""),
    col("visibility", "公开范围", &[], Kind::Code(Visibility::entries), false, "默认公开"),
];

pub fn columns(library: Library) -> &'static [Column] {
    match library {
        Library::Needs => &NEED_COLUMNS,
        Library::Achievements => &ACHIEVEMENT_COLUMNS,
    }
}

/// A header as compared: no spaces, `*` marks, full-width brackets or letter case.
fn normal_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('*')
        .trim_end_matches('*')
        .replace(['（', '('], "(")
        .replace(['）', ')'], ")")
        .replace(char::is_whitespace, "")
        .to_lowercase()
}

/// The column each header of a file names, worked out once per header rather than per cell.
struct HeaderColumns {
    cols: &'static [Column],
    known: HashMap<String, Option<&'static Column>>,
}

impl HeaderColumns {
    fn new(cols: &'static [Column]) -> HeaderColumns {
        HeaderColumns { cols, known: HashMap::new() }
    }

    fn get(&mut self, header: &str) -> Option<&'static Column> {
        if let Some(known) = self.known.get(header) {
            return *known;
        }
        let column = column_of(self.cols, header);
        self.known.insert(header.to_string(), column);
        column
    }
}

/// The column a header names, if any.
fn column_of<'a>(cols: &'a [Column], header: &str) -> Option<&'a Column> {
    let h = normal_header(header);
    cols.iter().find(|c| {
        normal_header(c.key) == h
            || normal_header(c.header) == h
            || c.aliases.iter().any(|a| normal_header(a) == h)
            || normal_header(c.header).split('(').next() == Some(h.as_str())
    })
}

/// What to do with a file.
#[derive(Debug, Clone)]
pub struct Options {
    pub library: Library,
    pub format: Format,
    pub encoding: Option<Encoding>,
    /// Report only; write nothing.
    pub dry_run: bool,
    /// Write the valid rows even if some are invalid (they are reported); by default a single
    /// invalid row means nothing is written.
    pub skip_invalid: bool,
    /// The owner of rows that name none (managers).
    pub default_org: Option<String>,
    /// Caps on rows, cells and an XLSX's unpacked size.
    pub limits: tabular::Limits,
    /// How many bytes of cells the rows to create may hold as built records between the check
    /// and the write; the others are built again from the file when they are written. The
    /// service keeps a few MiB per import (`limits.import_keep_bytes`: its memory is shared by
    /// every request); the command line, a process of its own, keeps a whole file.
    pub keep_bytes: usize,
}

/// One problem of one row.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    /// The column as the file names it (or the field, when no column holds it).
    pub column: String,
    pub code: String,
    pub message: String,
    /// The message in Chinese; the API puts it in `message` unless English is asked for.
    #[schema(ignore)]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message_zh: String,
}

/// A row whose title nearly equals a record of the same organisation already in the library.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DuplicateRow {
    pub row: usize,
    pub title: String,
    pub existing_id: String,
    pub existing_title: String,
    pub similarity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    /// Created (or, in a dry run, would be).
    Create,
    /// Its external id was imported before: nothing is created; a real import renews the record
    /// (its owner confirms it is current again: an expired one is open again).
    Existing,
    /// Invalid: see the errors.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RowResult {
    pub row: usize,
    pub action: RowAction,
    /// The record's id: created (not in a dry run), or found by external id.
    pub id: Option<String>,
    pub title: String,
    pub external_id: Option<String>,
}

/// The report of an import, the same for a dry run and a real one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Report {
    pub library: &'static str,
    pub format: &'static str,
    pub encoding: Option<&'static str>,
    pub dry_run: bool,
    /// Whether anything was written.
    pub written: bool,
    pub rows: usize,
    pub created: usize,
    pub existing: usize,
    /// Existing records renewed by this import (open or expired ones; not in a dry run).
    pub renewed: usize,
    pub invalid: usize,
    /// Headers of the file that no column takes (their values are not imported).
    pub ignored_columns: Vec<String>,
    pub errors: Vec<RowError>,
    pub duplicates: Vec<DuplicateRow>,
    pub items: Vec<RowResult>,
}

impl Report {
    /// The report's messages in `language`, as `i18n::localize` puts those of a JSON tree, with
    /// the Chinese copies dropped: a report of 100,000 rows is written out without being built
    /// again as a tree.
    pub fn localize(&mut self, language: crate::i18n::Language) {
        for error in &mut self.errors {
            let zh = std::mem::take(&mut error.message_zh);
            if language == crate::i18n::Language::Zh {
                error.message = zh;
            }
        }
    }
}

/// An unreadable file, by its cause: too large for the limits, or not in the format given.
impl From<tabular::ReadError> for Error {
    fn from(e: tabular::ReadError) -> Self {
        if let tabular::ReadError::Io(cause) = &e {
            // The file the service holds (an upload spooled to disk) could not be read again.
            tracing::error!(%cause, "an import's file could not be read");
            return Error::internal();
        }
        if e.is_too_large() {
            Error::new(Code::FileTooLarge, e.to_string())
        } else {
            Error::new(Code::UnreadableFile, e.to_string())
        }
    }
}

/// One validated row, ready to write.
enum Valid {
    Need(Need),
    Achievement(Achievement),
}

impl Valid {
    fn meta(&self) -> &RecordMeta {
        match self {
            Valid::Need(n) => &n.meta,
            Valid::Achievement(a) => &a.meta,
        }
    }
}

/// What people write for an amount that is to be negotiated.
const NEGOTIABLE: [&str; 4] = ["面议", "面谈", "待定", "协商"];

/// Splits a list cell: commas, semicolons, 、 and line breaks (half- or full-width).
fn split_list(text: &str) -> Vec<Value> {
    text.split([',', '，', ';', '；', '、', '\n', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_string()))
        .collect()
}

/// A code given as itself or as its Chinese label.
fn to_code(value: &str, entries: &[VocabularyEntry]) -> String {
    let v = value.trim();
    entries.iter().find(|e| e.code == v || e.label == v).map(|e| e.code.to_string()).unwrap_or_else(|| v.to_string())
}

/// Turns a row's cells into the JSON input of a record; conversion errors go to `errors`.
fn row_input(
    cols: &mut HeaderColumns,
    row: &tabular::Row,
    errors: &mut Vec<RowError>,
) -> (Map<String, Value>, HashMap<&'static str, String>) {
    let mut input = Map::new();
    let mut contact = Map::new();
    let mut headers: HashMap<&'static str, String> = HashMap::new();
    for (header, value) in &row.cells {
        let Some(column) = cols.get(header) else { continue };
        headers.insert(column.key, header.clone());
        let mut fail = |message_zh: String, message: String| {
            errors.push(RowError {
                row: row.number,
                column: header.clone(),
                code: "invalid_value".into(),
                message: shown(&message, MESSAGE_MAX),
                message_zh: shown(&message_zh, MESSAGE_MAX),
            });
        };
        let text = match value {
            Value::Null => continue,
            Value::String(s) if s.trim().is_empty() => continue,
            Value::String(s) => Some(s.trim().to_string()),
            _ => None,
        };
        let converted = match (column.kind, text) {
            (Kind::Text, Some(t)) => Value::String(t),
            (Kind::Date, Some(t)) => Value::String(t.replace(['/', '.'], "-")),
            (Kind::List, Some(t)) => Value::Array(split_list(&t)),
            (Kind::Codes(entries), Some(t)) => {
                let all = entries();
                Value::Array(
                    split_list(&t)
                        .iter()
                        .map(|v| Value::String(to_code(v.as_str().unwrap_or_default(), &all)))
                        .collect(),
                )
            }
            (Kind::Code(entries), Some(t)) => Value::String(to_code(&t, &entries())),
            // 面议 (negotiable) and the like leave an amount empty, as the API's null does.
            (Kind::Number, Some(t)) if NEGOTIABLE.contains(&t.as_str()) => continue,
            (Kind::Number, Some(t)) => match crate::domain::validate::decimal_text(t.trim_end_matches("万元")) {
                Ok(n) if n.fract() == 0.0 && n.abs() < 1e15 => Value::from(n as i64),
                Ok(n) => Value::from(n),
                Err(_) => {
                    fail(format!("`{t}` 不是数字"), format!("`{t}` is not a number"));
                    continue;
                }
            },
            // JSON Lines give values their own types; lists of codes may use labels too.
            (Kind::Codes(entries), None) => match value {
                Value::Array(items) => {
                    let all = entries();
                    Value::Array(
                        items
                            .iter()
                            .map(|i| i.as_str().map(|s| Value::String(to_code(s, &all))).unwrap_or(i.clone()))
                            .collect(),
                    )
                }
                other => other.clone(),
            },
            (_, None) => value.clone(),
        };
        match column.key.strip_prefix("contact.") {
            Some(part) => {
                contact.insert(part.to_string(), converted);
            }
            None => {
                input.insert(column.key.to_string(), converted);
            }
        }
    }
    if !contact.is_empty() {
        input.insert("contact".into(), Value::Object(contact));
    }
    (input, headers)
}

/// A row's input read as the API's input type and validated as the API validates it; every
/// problem goes to `fail` (field, code, Chinese message, English message).
fn validated<I: serde::de::DeserializeOwned, C>(
    body: Value,
    parse: impl FnOnce(&I) -> Result<C, crate::domain::validate::ValidationErrors>,
    fail: &mut impl FnMut(&str, &str, String, String),
) -> Option<C> {
    let controls = crate::domain::validate::json_control_characters(&body);
    if !controls.is_empty() {
        for f in controls.0 {
            fail(&f.field, f.code, f.message_zh, f.message);
        }
        return None;
    }
    let input: I = match serde_path_to_error::deserialize(body) {
        Ok(input) => input,
        Err(e) => {
            let path = e.path().to_string();
            let zh = format!("「{}」的值不符合要求：{}", crate::domain::validate::label(&path), e.inner());
            fail(&path, "invalid_value", zh, e.inner().to_string());
            return None;
        }
    };
    match parse(&input) {
        Ok(content) => Some(content),
        Err(errors) => {
            for f in errors.0 {
                fail(&f.field, f.code, f.message_zh, f.message);
            }
            None
        }
    }
}

/// Organisations by id and by name, for the `organisation` column.
struct Owners {
    by_id: HashMap<String, Organisation>,
    by_name: HashMap<String, Organisation>,
}

impl Owners {
    fn find(&self, text: &str) -> Option<&Organisation> {
        let t = text.trim();
        if is_valid_id(t) { self.by_id.get(t) } else { self.by_name.get(t) }
    }
}

/// Reads, validates and (unless a dry run, or when a row is invalid and `skip_invalid` is off)
/// writes a file of records for `viewer`: a pipeline of named steps.
pub async fn run(cx: &App, viewer: &Principal, file: tabular::Input, options: &Options) -> Result<Report> {
    let report = check_and_write(cx, viewer, Arc::new(file), options).await;
    // The file and the rows in flight are freed by now: give the memory back.
    crate::memory::release_free_memory();
    report
}

/// The file is read twice, row by row, and never held as rows or records: once to check every
/// row (the report keeps each row's outcome, a few fields), then, if the rows are to be written,
/// again to build the rows to create with the ids the check gave them and write them, a unit of
/// work of `WRITE_CHUNK` at a time. An import's memory is its report and the rows in flight
/// (and the file's bytes when they are held in memory, as a small upload's are), whatever the
/// size of its cells.
async fn check_and_write(cx: &App, viewer: &Principal, file: Arc<tabular::Input>, options: &Options) -> Result<Report> {
    let library = options.library;
    check_allowed(viewer, options)?;
    let started = std::time::Instant::now();
    // The columns are checked before anything else is done: a file that cannot be imported
    // costs no database work.
    let mut rows = FileRows::open(file.clone(), options);
    let (encoding, headers) = rows.head().await?;
    let ignored_columns = check_columns(columns(library), &headers)?;
    let mut checker = RowChecker::new(cx, viewer, options).await?;
    let mut row_count = 0;
    while let Some(row) = rows.row().await? {
        row_count += 1;
        // Validation of thousands of rows must not hold up the other requests of the worker.
        if row_count % 200 == 0 {
            tokio::task::yield_now().await;
        }
        checker.check(row).await?;
    }
    checker.settle().await?;
    let (errors, mut items, mut planned) =
        (std::mem::take(&mut checker.errors), std::mem::take(&mut checker.items), std::mem::take(&mut checker.planned));
    let kept: Vec<Option<Box<Valid>>> = planned.iter_mut().map(|p| p.record.take()).collect();
    let checked = started.elapsed();
    let invalid = items.iter().filter(|i| i.action == RowAction::Invalid).count();
    let existing = items.iter().filter(|i| i.action == RowAction::Existing).count();
    let accepted = !options.dry_run && (invalid == 0 || options.skip_invalid);
    let write = accepted && !planned.is_empty();
    // The titles are compared while the rows are written: the comparison reads the database
    // (on a reader) and the CPU, the write the writer; the new rows, which have the greatest
    // ids, are kept out of the comparison's window.
    let (duplicates, written) = tokio::join!(
        async {
            let duplicates = duplicates(cx, library, &planned, &items).await;
            (duplicates, started.elapsed())
        },
        async {
            match write {
                true => write_planned(&mut checker, file, &planned, kept, &items).await.map(|()| started.elapsed()),
                false => Ok(started.elapsed()),
            }
        }
    );
    let written = written?;
    let (duplicates, compared) = match duplicates {
        (Ok(found), at) => (found, at),
        // The rows are written: the import has happened, and says so; the near-duplicates are
        // advice, which this once it cannot give.
        (Err(e), at) if write => {
            tracing::error!(error = %e, "an import's titles could not be compared; its rows are written");
            (Vec::new(), at)
        }
        (Err(e), _) => return Err(e),
    };
    let renewed = if accepted {
        let ids: Vec<&str> =
            items.iter().filter(|i| i.action == RowAction::Existing).filter_map(|i| i.id.as_deref()).collect();
        renew_existing(cx, viewer, library, &ids).await?
    } else {
        0
    };
    // Where an import's time goes: reading the file and checking the rows, then comparing
    // titles and writing side by side (milliseconds from the start, each until it ended).
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    tracing::info!(
        library = library.route(),
        rows = row_count,
        created = if write { planned.len() } else { 0 },
        by = %viewer.user_id,
        checked_ms = ms(checked),
        compared_ms = ms(compared),
        written_ms = ms(written),
        "{}",
        if write { "records imported" } else { "rows checked, nothing written" }
    );
    if !write {
        // Nothing was written (or it is a dry run): an id would point nowhere.
        for item in items.iter_mut().filter(|i| i.action == RowAction::Create) {
            item.id = None;
        }
    }
    Ok(Report {
        library: library.route(),
        format: options.format.code(),
        encoding: encoding.map(Encoding::code),
        dry_run: options.dry_run,
        written: write,
        rows: row_count,
        created: if write || options.dry_run { planned.len() } else { 0 },
        existing,
        renewed,
        invalid,
        ignored_columns,
        errors,
        duplicates,
        items,
    })
}

/// How many of a file's parts its reader may have read ahead of the import.
const ROWS_IN_FLIGHT: usize = 256;

/// A file's parts (its header row, then each row), read on a blocking thread (parsing a large
/// workbook is CPU work) and received here as they are read, at most `ROWS_IN_FLIGHT` ahead.
/// Dropping it stops the reader.
struct FileRows {
    parts: tokio::sync::mpsc::Receiver<std::result::Result<tabular::Part, tabular::ReadError>>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl FileRows {
    fn open(file: Arc<tabular::Input>, options: &Options) -> FileRows {
        let (format, encoding, limits) = (options.format, options.encoding, options.limits);
        let (sender, parts) = tokio::sync::mpsc::channel(ROWS_IN_FLIGHT);
        let reader = tokio::task::spawn_blocking(move || {
            let mut handed = |part: tabular::Part| sender.blocking_send(Ok(part)).is_ok();
            if let Err(e) = tabular::read_parts(file.source(), format, encoding, &limits, &mut handed) {
                let _ = sender.blocking_send(Err(e));
            }
        });
        FileRows { parts, reader: Some(reader) }
    }

    /// The next part; `None` once the whole file is read.
    async fn next(&mut self) -> Result<Option<tabular::Part>> {
        match self.parts.recv().await {
            Some(part) => Ok(Some(part?)),
            None => {
                // The reader has ended: unless it panicked, it read the file to its end.
                if let Some(reader) = self.reader.take() {
                    reader
                        .await
                        .map_err(|e| Error::from(tabular::ReadError::Workbook(format!("the reader stopped: {e}"))))?;
                }
                Ok(None)
            }
        }
    }

    /// The header row (with a CSV's encoding): the reader hands it on first.
    async fn head(&mut self) -> Result<(Option<Encoding>, Vec<String>)> {
        match self.next().await? {
            Some(tabular::Part::Head { encoding, headers }) => Ok((encoding, headers)),
            _ => Err(Error::from(tabular::ReadError::NoHeader)),
        }
    }

    /// The next data row; `None` at the end of the file.
    async fn row(&mut self) -> Result<Option<tabular::Row>> {
        match self.next().await? {
            Some(tabular::Part::Row(row)) => Ok(Some(row)),
            Some(tabular::Part::Head { .. }) => Err(Error::internal()),
            None => Ok(None),
        }
    }
}

/// Step 1: who may import into the library, and (an owner) for whom.
fn check_allowed(viewer: &Principal, options: &Options) -> Result<()> {
    check_role(viewer.role, options.library)?;
    if viewer.org_pending {
        return Err(Error::new(
            Code::OrganisationPending,
            "an organisation imports once its application to join is approved; until then, post drafts one by one",
        )
        .zh("入驻申请通过审核后才能批量导入；在此之前请逐条保存草稿"));
    }
    // An owner's import may not name another organisation for its rows, as a single post may not.
    if !viewer.role.is_staff()
        && let Some(named) = options.default_org.as_deref()
    {
        owner_named(viewer, options.library, Some(named))?;
    }
    Ok(())
}

/// Step 3: every required column is there; the headers no column reads (reported, not refused).
fn check_columns(cols: &[Column], headers: &[String]) -> Result<Vec<String>> {
    for c in cols.iter().filter(|c| c.required) {
        if !headers.iter().any(|h| column_of(cols, h).is_some_and(|x| x.key == c.key)) {
            let known = cols.iter().map(|c| format!("{} ({})", c.header, c.key)).collect::<Vec<_>>().join(", ");
            return Err(Error::new(
                Code::MissingColumn,
                format!("the file has no `{}` column ({}); the columns are: {known}", c.header, c.key),
            ));
        }
    }
    Ok(headers.iter().filter(|h| !h.is_empty() && column_of(cols, h).is_none()).cloned().collect())
}

/// Step 4: each row checked as a single post would be (owner, content), and against the
/// external ids imported before or earlier in the file.
struct RowChecker<'a> {
    cx: &'a App,
    viewer: &'a Principal,
    options: &'a Options,
    cols: &'static [Column],
    owners: Owners,
    at: DateTime<Utc>,
    errors: Vec<RowError>,
    items: Vec<RowResult>,
    planned: Vec<Planned>,
    /// The bytes of the rows whose records `planned` keeps.
    kept: usize,
    seen_external: HashSet<(String, String)>,
    columns: HeaderColumns,
    /// Rows checked but for their external ids, looked up together every `SETTLE_EVERY` rows.
    pending: Vec<Pending>,
}

/// `Options::keep_bytes` of an import that keeps every record between check and write (the
/// command line's, a process of its own). An import that keeps less (the service's) also gives
/// the allocator's free memory back every `SETTLE_EVERY` rows checked and after each unit
/// written (`memory::release_free_memory`: glibc keeps what each thread freed for that thread's
/// later allocations, and an import's rows pass through several threads); each time costs a
/// few milliseconds, which the command line does not spend.
pub const KEEP_ALL: usize = usize::MAX;

/// How many checked rows wait for their external ids to be looked up in one go.
const SETTLE_EVERY: usize = 2_000;

/// A row to create: its item in the report (row, id, title as the file gives it, external id),
/// its owner, its title as validated where that differs, and its record unless it is to be
/// built again from the file when it is written.
struct Planned {
    item: usize,
    org_id: String,
    title: Option<String>,
    /// The record, kept while the import's `keep_bytes` allow (boxed: a record is large, and
    /// most rows of a large import keep none).
    record: Option<Box<Valid>>,
}

/// A row checked except against the external ids imported before.
struct Pending {
    row: usize,
    errors: Vec<RowError>,
    headers: HashMap<&'static str, String>,
    title: String,
    record: Option<Valid>,
    external_id: Option<String>,
    owner_id: Option<String>,
    /// The bytes of the row's cells.
    size: usize,
}

/// The errors of one row, each named by the column the file gives it.
struct RowErrors<'a> {
    row: usize,
    cols: &'static [Column],
    headers: HashMap<&'static str, String>,
    errors: &'a mut Vec<RowError>,
}

impl RowErrors<'_> {
    /// The column of a field as the file names it (or the field's own header).
    fn column(&self, key: &str) -> String {
        let top = key.split(['.', '[']).next().unwrap_or(key);
        self.headers
            .get(key)
            .or_else(|| self.headers.iter().find(|(k, _)| k.split('.').next() == Some(top)).map(|(_, h)| h))
            .cloned()
            .unwrap_or_else(|| {
                let col = self.cols.iter().find(|c| c.key == key || c.key == top);
                col.map(|c| c.header.to_string()).unwrap_or(key.to_string())
            })
    }

    fn fail(&mut self, key: &str, code: &str, message_zh: String, message: String) {
        let column = self.column(key);
        let (message, message_zh) = (shown(&message, MESSAGE_MAX), shown(&message_zh, MESSAGE_MAX));
        self.errors.push(RowError { row: self.row, column, code: code.to_string(), message, message_zh });
    }
}

impl<'a> RowChecker<'a> {
    async fn new(cx: &'a App, viewer: &'a Principal, options: &'a Options) -> Result<RowChecker<'a>> {
        let organisations = cx.store.list_organisations().await?;
        let owners = Owners {
            by_id: organisations.iter().map(|o| (o.id.clone(), o.clone())).collect(),
            by_name: organisations.iter().map(|o| (o.name.clone(), o.clone())).collect(),
        };
        Ok(RowChecker {
            cx,
            viewer,
            options,
            cols: columns(options.library),
            owners,
            at: cx.clock.now(),
            errors: Vec::new(),
            items: Vec::new(),
            planned: Vec::new(),
            kept: 0,
            seen_external: HashSet::new(),
            columns: HeaderColumns::new(columns(options.library)),
            pending: Vec::new(),
        })
    }

    /// One row checked as a single post would be (owner, content): its record is given `id`, or
    /// a new id.
    fn examine(&mut self, row: &tabular::Row, id: Option<String>) -> Pending {
        let mut row_errors = Vec::new();
        let (mut input, headers) = row_input(&mut self.columns, row, &mut row_errors);
        let (owners, viewer, options, cols, at) = (&self.owners, self.viewer, self.options, self.cols, self.at);
        let mut errors = RowErrors { row: row.number, cols, headers, errors: &mut row_errors };
        let external_id = external_id(&mut input, &mut errors);
        let named_org = input.remove(ORGANISATION).and_then(|v| v.as_str().map(str::to_string));
        let owner = row_owner(owners, viewer, options, named_org, &mut errors);
        let title = input.get("title").and_then(Value::as_str).unwrap_or_default();
        let title = shown(title, crate::domain::need::TITLE_MAX);
        let id = id.unwrap_or_else(new_id);
        let record = row_record(options.library, input, owner.as_ref(), viewer, at, id, &mut errors);
        let headers = std::mem::take(&mut errors.headers);
        let size = row.cells.iter().map(|(h, v)| h.len() + v.as_str().map_or(16, str::len)).sum();
        Pending {
            size,
            row: row.number,
            errors: row_errors,
            headers,
            title,
            record,
            external_id,
            owner_id: owner.map(|o| o.id),
        }
    }

    /// Checks one row; its outcome (create, existing, invalid) is settled with the rows around
    /// it, once their external ids are looked up.
    async fn check(&mut self, row: tabular::Row) -> Result<()> {
        let pending = self.examine(&row, None);
        self.pending.push(pending);
        if self.pending.len() >= SETTLE_EVERY {
            self.settle().await?;
        }
        Ok(())
    }

    /// Idempotency: looks up the pending rows' external ids among those imported before (one
    /// indexed look-up each, grouped by owner), then records each row's outcome in file order.
    async fn settle(&mut self) -> Result<()> {
        if self.options.keep_bytes != KEEP_ALL {
            crate::memory::release_free_memory();
        }
        let pending = std::mem::take(&mut self.pending);
        let mut wanted: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for p in &pending {
            if let (Some(ext), Some(org)) = (&p.external_id, &p.owner_id) {
                wanted.entry(org.as_str()).or_default().push(ext.clone());
            }
        }
        let mut imported: HashMap<(String, String), String> = HashMap::new();
        for (org, exts) in wanted {
            for (ext, id) in self.cx.store.imported_records(self.options.library, org, &exts).await? {
                imported.insert((org.to_string(), ext), id);
            }
        }
        for p in pending {
            self.settle_row(p, &imported);
        }
        Ok(())
    }

    /// One row's outcome: existing (its external id was imported before: its own errors do not
    /// count, nothing is written for it), invalid, or to create. A new external id repeated
    /// within the file is an error of the later row.
    fn settle_row(&mut self, p: Pending, imported: &HashMap<(String, String), String>) {
        let Pending { row, mut errors, headers, title, record, external_id, owner_id, size } = p;
        let existing_id = match (&external_id, owner_id) {
            (Some(ext), Some(org)) => {
                let key = (org, ext.clone());
                let existing = imported.get(&key).cloned();
                if existing.is_none() && !self.seen_external.insert(key) {
                    RowErrors { row, cols: self.cols, headers, errors: &mut errors }.fail(
                        EXTERNAL_ID,
                        "repeated_external_id",
                        format!("外部编号 `{ext}` 与本文件前面某行重复"),
                        format!("外部编号 `{ext}` appears on an earlier row of this file"),
                    );
                }
                existing
            }
            _ => None,
        };
        let action = match (&existing_id, errors.is_empty()) {
            (Some(_), _) => RowAction::Existing,
            (None, false) => RowAction::Invalid,
            (None, true) => RowAction::Create,
        };
        let id = existing_id
            .clone()
            .or_else(|| record.as_ref().filter(|_| action == RowAction::Create).map(|r| r.meta().id.clone()));
        if existing_id.is_none() {
            self.errors.extend(errors);
        }
        if action == RowAction::Create
            && let Some(r) = record
        {
            let meta = r.meta();
            let validated = match &r {
                Valid::Need(n) => &n.content.title,
                Valid::Achievement(a) => &a.content.title,
            };
            let title = (*validated != title).then(|| validated.clone());
            let org_id = meta.org_id.clone();
            // A dry run writes nothing: it keeps no record.
            let keep = !self.options.dry_run && self.kept + size <= self.options.keep_bytes;
            self.kept += if keep { size } else { 0 };
            let record = keep.then(|| Box::new(r));
            self.planned.push(Planned { item: self.items.len(), org_id, title, record });
        }
        let external_id = external_id.map(|ext| shown(&ext, EXTERNAL_ID_MAX));
        self.items.push(RowResult { row, action, id, title, external_id });
    }
}

/// The longest external id (外部编号).
const EXTERNAL_ID_MAX: usize = 100;

/// The longest message of a row's error in the report (one may quote the cell).
const MESSAGE_MAX: usize = 300;

/// A cell or a message as the report shows it: whole up to `max` characters (for a cell, the
/// longest a valid one may be), cut and marked with … after. A report's size is then bounded by
/// its rows, whatever the length of the cells: a sheet of long cells (each row invalid) is not
/// copied into its report.
fn shown(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A row's external id (外部编号), checked: one line of at most 100 characters.
fn external_id(input: &mut Map<String, Value>, errors: &mut RowErrors) -> Option<String> {
    let ext = input.remove(EXTERNAL_ID).map(|v| match v {
        Value::String(s) => s,
        other => other.to_string(),
    })?;
    use crate::domain::validate::{Lines, forbidden_control};
    if forbidden_control(&ext, Lines::One).is_some() || ext.chars().count() > EXTERNAL_ID_MAX {
        errors.fail(
            EXTERNAL_ID,
            "invalid_value",
            "外部编号应为一行、至多 100 个字符，不含控制字符".into(),
            "外部编号 must be one line of at most 100 characters without control characters".into(),
        );
    }
    Some(ext)
}

/// A row's owner, by the rules of a single post: the viewer's own organisation (naming another
/// is refused), or (managers) the row's or the import's, which must be of the library's kind.
fn row_owner(
    owners: &Owners,
    viewer: &Principal,
    options: &Options,
    named_org: Option<String>,
    errors: &mut RowErrors,
) -> Option<Organisation> {
    let named: Option<String> = if viewer.role.is_staff() {
        named_org.or_else(|| options.default_org.clone())
    } else {
        // An owner may name its own organisation, by name or by id.
        named_org.map(|text| match owners.find(&text) {
            Some(o) if o.id == viewer.org_id => o.id.clone(),
            _ => text,
        })
    };
    let named = named.as_deref();
    let target = match owner_named(viewer, options.library, named) {
        Ok(target) => target,
        Err(e) => {
            let (zh, en) = owner_message(&e, named.unwrap_or_default());
            errors.fail(ORGANISATION, e.code.as_str(), zh, en);
            return None;
        }
    };
    let Some(o) = owners.find(target) else {
        errors.fail(
            ORGANISATION,
            Code::UnknownOrganisation.as_str(),
            format!("没有名称或编号为 `{target}` 的机构"),
            format!("no organisation named or with id `{target}`"),
        );
        return None;
    };
    match check_owner_kind(o, options.library) {
        Ok(()) => Some(o.clone()),
        Err(e) => {
            errors.fail(ORGANISATION, e.code.as_str(), e.message_zh(), e.message);
            None
        }
    }
}

/// A row's record, validated as the API validates a post (also when its owner is refused, so
/// that every problem of the row is reported at once).
fn row_record(
    library: Library,
    input: Map<String, Value>,
    owner: Option<&Organisation>,
    viewer: &Principal,
    at: DateTime<Utc>,
    id: String,
    errors: &mut RowErrors,
) -> Option<Valid> {
    let meta = |o: &Organisation| RecordMeta::new(id, o.id.clone(), o.name.clone(), viewer.user_id.clone(), at);
    let body = Value::Object(input);
    let mut fail = |key: &str, code: &str, zh: String, en: String| errors.fail(key, code, zh, en);
    match library {
        Library::Needs => validated::<NeedInput, _>(body, |i| NeedContent::parse(i, market_today(at)), &mut fail)
            .and_then(|content| owner.map(|o| Valid::Need(Need { meta: meta(o), content }))),
        Library::Achievements => validated::<AchievementInput, _>(body, AchievementContent::parse, &mut fail)
            .and_then(|content| owner.map(|o| Valid::Achievement(Achievement { meta: meta(o), content }))),
    }
}

/// Renews the records an import names again (by external id), in one unit of work: the owner
/// confirms they are current. Withdrawn and closed ones are left as they are. How many.
async fn renew_existing(cx: &App, viewer: &Principal, library: Library, ids: &[&str]) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let renewable = |status: RecordStatus| matches!(status, RecordStatus::Open | RecordStatus::Expired);
    let mut unit = cx.begin(viewer).await?;
    let at = unit.at();
    let mut renewed = 0;
    let renew = |meta: &mut crate::domain::record::RecordMeta| {
        meta.status = RecordStatus::Open;
        meta.confirmed_at = at;
        meta.reminded_at = None;
    };
    match library {
        Library::Needs => {
            for mut need in cx.store.needs_by_ids(&ids).await? {
                // A need whose deadline has passed needs a new one: a renewal by file leaves it.
                if renewable(need.meta.status) && need.content.deadline.is_none_or(|d| d >= market_today(at)) {
                    renew(&mut need.meta);
                    unit.update_need(&need, at).await?;
                    renewed += 1;
                }
            }
        }
        Library::Achievements => {
            for mut achievement in cx.store.achievements_by_ids(&ids).await? {
                if renewable(achievement.meta.status) {
                    renew(&mut achievement.meta);
                    unit.update_achievement(&achievement, at).await?;
                    renewed += 1;
                }
            }
        }
    }
    unit.commit().await?;
    Ok(renewed)
}

/// How many rows one unit of work of an import writes: other people's writes take their turn
/// between two (SQLite has one writer), so a large file does not hold them up for its whole write.
const WRITE_CHUNK: usize = 1_000;

/// Step 6: the rows to create, their records as kept or (beyond the import's `keep_bytes`) read
/// again from the file and built again with the ids the check gave them, written `WRITE_CHUNK`
/// rows per unit of work (each committed with its changes and its audit entry) while the next
/// are built. Every row was checked before the first is written,
/// so a refusal still writes nothing; a failure of the database part-way (a full disk) leaves the
/// chunks committed before it, which importing the file again recognises by their external ids.
async fn write_planned(
    checker: &mut RowChecker<'_>,
    file: Arc<tabular::Input>,
    planned: &[Planned],
    kept: Vec<Option<Box<Valid>>>,
    items: &[RowResult],
) -> Result<()> {
    let (cx, viewer, library, at) = (checker.cx, checker.viewer, checker.options.library, checker.at);
    let release = checker.options.keep_bytes != KEEP_ALL;
    let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<(Valid, Option<String>)>>(1);
    let build = async move {
        // The file is read again only if a record was not kept.
        let mut file_rows: Option<FileRows> = None;
        let mut chunk = Vec::with_capacity(WRITE_CHUNK);
        let mut built = 0;
        for (p, kept) in planned.iter().zip(kept) {
            let item = &items[p.item];
            let record = match kept {
                Some(record) => *record,
                None => {
                    let rows = match &mut file_rows {
                        Some(rows) => rows,
                        None => {
                            let mut rows = FileRows::open(file.clone(), checker.options);
                            rows.head().await?;
                            file_rows.insert(rows)
                        }
                    };
                    rebuilt(checker, rows, item).await?
                }
            };
            chunk.push((record, item.external_id.clone()));
            built += 1;
            if built % 200 == 0 {
                tokio::task::yield_now().await;
            }
            if chunk.len() == WRITE_CHUNK && chunks.send(std::mem::take(&mut chunk)).await.is_err() {
                // The writer has stopped with an error, which it returns.
                return Ok(());
            }
        }
        if !chunk.is_empty() {
            let _ = chunks.send(chunk).await;
        }
        Ok(())
    };
    // The writer owns the receiving end: when it stops with an error, the builder's next send
    // fails and the builder stops too.
    let write = async move {
        while let Some(chunk) = received.recv().await {
            write_chunk(cx, viewer, library, &chunk, at).await?;
            if release {
                crate::memory::release_free_memory();
            }
        }
        Ok(())
    };
    let (built, written): (Result<()>, Result<()>) = tokio::join!(build, write);
    written.and(built)
}

/// A row to create, read again from the file (the rows before it passed over) and built again
/// with the id the check gave it.
async fn rebuilt(checker: &mut RowChecker<'_>, rows: &mut FileRows, item: &RowResult) -> Result<Valid> {
    let row = loop {
        match rows.row().await? {
            Some(row) if row.number == item.row => break row,
            Some(_) => continue,
            None => {
                tracing::error!(row = item.row, "an import's row was not found again in its file");
                return Err(Error::internal());
            }
        }
    };
    match checker.examine(&row, item.id.clone()) {
        Pending { errors, record: Some(record), .. } if errors.is_empty() => Ok(record),
        _ => {
            tracing::error!(row = item.row, "an import's row checked valid was not valid again");
            Err(Error::internal())
        }
    }
}

/// One unit of work of an import: its records and their external ids.
async fn write_chunk(
    cx: &App,
    viewer: &Principal,
    library: Library,
    chunk: &[(Valid, Option<String>)],
    at: DateTime<Utc>,
) -> Result<()> {
    let mut unit = cx.begin(viewer).await?;
    let (mut needs, mut achievements) = (Vec::new(), Vec::new());
    for (record, _) in chunk {
        match record {
            Valid::Need(n) => needs.push(n),
            Valid::Achievement(a) => achievements.push(a),
        }
    }
    unit.insert_needs(&needs).await?;
    unit.insert_achievements(&achievements).await?;
    let keys: Vec<ImportKey> = chunk
        .iter()
        .filter_map(|(record, external)| {
            let meta = record.meta();
            external.as_ref().map(|ext| ImportKey {
                library,
                org_id: meta.org_id.clone(),
                external_id: ext.clone(),
                record_id: meta.id.clone(),
                at,
            })
        })
        .collect();
    unit.insert_import_keys(&keys).await?;
    unit.commit().await?;
    Ok(())
}

/// Without `skip_invalid`, a real run with an invalid row writes nothing: the refusal, with the
/// report as its detail, that callers answer with.
pub fn refusal(report: &Report, options: &Options) -> Option<Error> {
    if options.dry_run || options.skip_invalid || report.invalid == 0 {
        return None;
    }
    let message = format!(
        "{} of {} rows are invalid, so nothing was imported; fix them (see details.errors), or send on_error=skip to import the {} valid rows",
        report.invalid,
        report.rows,
        report.rows - report.invalid - report.existing
    );
    let zh = format!(
        "{} 行中有 {} 行无效，因此什么也没有导入；请按 details.errors 修改后重新导入，或加 on_error=skip 只导入 {} 行有效数据",
        report.rows,
        report.invalid,
        report.rows - report.invalid - report.existing
    );
    let details = serde_json::to_value(report).unwrap_or_default();
    Some(Error::new(Code::ImportInvalid, message).zh(zh).with_details(details))
}

/// Rows whose title nearly equals one of the same organisation's records already in the library
/// (its `records::DUPLICATE_WINDOW` most recent are compared, as for a single post).
async fn duplicates(cx: &App, library: Library, planned: &[Planned], items: &[RowResult]) -> Result<Vec<DuplicateRow>> {
    let mut by_org: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for p in planned {
        let item = &items[p.item];
        let title = p.title.as_deref().unwrap_or(&item.title);
        by_org.entry(p.org_id.as_str()).or_default().push((item.row, title));
    }
    // Each organisation's window ends below the first id the import gave it.
    let mut first_new: HashMap<&str, &str> = HashMap::new();
    for p in planned {
        let Some(id) = items[p.item].id.as_deref() else { continue };
        let first = first_new.entry(p.org_id.as_str()).or_insert(id);
        *first = (*first).min(id);
    }
    // Two organisations at a time: one's titles are read while the other's are compared.
    let found: Vec<_> = futures_util::stream::iter(by_org.iter())
        .map(|(org, titles)| {
            let titles = titles.iter().map(|(_, t)| t.to_string()).collect();
            closest_existing(cx, library, org, titles, first_new.get(org).copied())
        })
        .buffered(2)
        .try_collect()
        .await?;
    let mut out = Vec::new();
    for ((_, titles), found) in by_org.into_iter().zip(found) {
        for ((row, title), best) in titles.into_iter().zip(found) {
            if let Some((existing_id, existing_title, similarity)) = best {
                out.push(DuplicateRow { row, title: title.to_string(), existing_id, existing_title, similarity });
            }
        }
    }
    Ok(out)
}

/// The message of an owner rule broken by a row, in the words of a file's columns: (Chinese,
/// English).
fn owner_message(e: &Error, named: &str) -> (String, String) {
    match e.code {
        Code::OrgIdRequired => (
            "技术经理人和管理员代机构导入：请填写「单位」（机构名称或编号），或给出 org_id".into(),
            "managers import on behalf of an organisation: fill in 单位 (its name or id), or give org_id".into(),
        ),
        Code::FieldNotAllowed => (
            format!("您只能为本机构导入；`{named}` 是另一家机构：请让「单位」留空"),
            format!("you import for your own organisation; `{named}` is another one: leave 单位 empty"),
        ),
        _ => (e.message_zh(), e.message.clone()),
    }
}

/// Managers and admins import into either library; enterprises and universities into their own.
pub fn check_role(role: Role, library: Library) -> Result<()> {
    if role.is_staff() || role == library.owner_role() {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "users with role `{role}` cannot import {}: they are imported by the {} that posts them, or by a technology manager",
        library.route(),
        library.owner_description()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_in_the_report_at_the_longest_valid_length() {
        let long = "盐碱地改良".repeat(100);
        let cut = shown(&long, 200);
        assert_eq!(cut.chars().count(), 201);
        assert!(cut.starts_with("盐碱地改良盐碱地改良") && cut.ends_with("改良…"), "{cut}");
        assert_eq!(shown("秸秆还田", 4), "秸秆还田");
        assert_eq!(shown("秸秆还田", 3), "秸秆还…");
    }

    #[test]
    fn headers_are_found_in_chinese_or_english_with_or_without_marks_and_units() {
        for h in ["需求名称", "*需求名称", "title", "Title", "标题"] {
            assert_eq!(column_of(&NEED_COLUMNS, h).map(|c| c.key), Some("title"), "{h}");
        }
        assert_eq!(column_of(&NEED_COLUMNS, "预算上限（万元）").map(|c| c.key), Some("budget_max"));
        assert_eq!(column_of(&NEED_COLUMNS, "预算上限").map(|c| c.key), Some("budget_max"));
        assert_eq!(column_of(&ACHIEVEMENT_COLUMNS, "报价").map(|c| c.key), Some("asking_price"));
        assert_eq!(column_of(&ACHIEVEMENT_COLUMNS, "联系电话").map(|c| c.key), Some("contact.phone"));
        assert!(column_of(&NEED_COLUMNS, "序号").is_none());
    }

    #[test]
    fn cells_become_the_api_input_with_codes_for_labels() {
        let row = tabular::Row {
            number: 7,
            cells: vec![
                ("需求名称".into(), Value::String("稠油降黏剂复配工艺".into())),
                ("技术领域".into(), Value::String("油气勘探开发".into())),
                ("合作方式".into(), Value::String("技术转让、合作开发".into())),
                ("预算上限(万元)".into(), Value::String("1,200".into())),
                ("预算下限(万元)".into(), Value::String("约五十".into())),
                ("联系人".into(), Value::String("王工".into())),
                ("有效期".into(), Value::String("2027/6/30".into())),
            ],
        };
        let mut errors = Vec::new();
        let (input, _) = row_input(&mut HeaderColumns::new(&NEED_COLUMNS), &row, &mut errors);
        assert_eq!(input["field"], "oil_gas");
        assert_eq!(input["cooperation_modes"], serde_json::json!(["transfer", "joint_development"]));
        assert_eq!(input["budget_max"], 1200);
        assert_eq!(input["contact"]["name"], "王工");
        assert_eq!(input["deadline"], "2027-6-30");
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].row, errors[0].column.as_str()), (7, "预算下限(万元)"));
    }
}
