//! Bulk import (with a dry run), the import templates, and the export of each library
//! (filtered, honouring what the viewer may see) to CSV, XLSX or JSON Lines.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::auth::{AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::views::{AchievementResponse, NeedResponse};
use super::{AppState, ListParams};
use crate::domain::achievement::Achievement;
use crate::domain::need::Need;
use crate::domain::record::{Library, Principal};
use crate::domain::vocab::RecordStatus;
use crate::import::{self, Column, ImportError, Kind, Options};
use crate::storage::{DockingQuery, ListQuery, TransferQuery};
use crate::tabular::{self, Cell, Encoding, ExportWriter, Format, Sheet, XLSX_TYPE};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// needs or achievements.
    pub library: String,
    /// csv, xlsx or jsonl; by default from the Content-Type, the file name, or the bytes.
    pub format: Option<String>,
    /// A CSV's encoding: utf-8 or gbk; detected when left out.
    pub encoding: Option<String>,
    /// The file's name, for its format.
    pub filename: Option<String>,
    /// true: report what would happen, write nothing.
    #[serde(default)]
    pub dry_run: Option<String>,
    /// abort (default: one invalid row and nothing is written) or skip (write the valid rows).
    pub on_error: Option<String>,
    /// Managers: the owner of rows whose 单位 column is empty.
    pub org_id: Option<String>,
}

fn library_of(text: &str) -> Result<Library, ApiError> {
    match text.trim() {
        "needs" => Ok(Library::Needs),
        "achievements" => Ok(Library::Achievements),
        other => Err(ApiError::bad_request(
            "invalid_query",
            format!("`library` must be needs or achievements (got `{other}`)"),
        )),
    }
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::trim) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => {
            Err(ApiError::bad_request("invalid_query", format!("`{name}` must be true or false (got `{other}`)")))
        }
    }
}

/// The format a request's file is in: as given, by its media type, by its name, or by its bytes.
fn format_of(req: &HttpRequest, params: &ImportParams, bytes: &[u8]) -> Result<Format, ApiError> {
    if let Some(f) = &params.format {
        return Format::parse(f).map_err(|m| ApiError::bad_request("invalid_query", m));
    }
    let media = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = media.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let by_media = match media.as_str() {
        "text/csv" => Some(Format::Csv),
        XLSX_TYPE => Some(Format::Xlsx),
        "application/x-ndjson" | "application/jsonl" | "application/x-jsonlines" => Some(Format::JsonLines),
        _ => None,
    };
    Ok(by_media
        .or_else(|| params.filename.as_deref().and_then(Format::from_name))
        .unwrap_or_else(|| Format::sniff(bytes)))
}

impl From<ImportError> for ApiError {
    fn from(err: ImportError) -> Self {
        match err {
            ImportError::Read(e) if e.is_too_large() => {
                ApiError::new(actix_web::http::StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", e.to_string())
            }
            ImportError::Read(e) => ApiError::unprocessable("unreadable_file", e.to_string()),
            ImportError::Forbidden(m) => ApiError::forbidden(m),
            e @ ImportError::MissingColumn { .. } => ApiError::unprocessable("missing_column", e.to_string()),
            ImportError::Store(e) => e.into(),
        }
    }
}

/// Reads the raw body up to the import limit.
async fn read_body(req: &HttpRequest, mut payload: web::Payload, max: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("an import file may have at most {} MiB; split it", max / 1024 / 1024),
        )
    };
    // A declared length past the cap is refused before anything is received.
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", format!("the upload broke off: {e}")))?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Import needs or achievements from a file (the body, as sent): CSV in UTF-8 or GBK, XLSX or
/// JSON Lines, headers in Chinese or English (see the templates). `dry_run=true` reports row by
/// row what would be created and every error without writing. A real run writes everything in
/// one transaction, and by default nothing if any row is invalid (422 `import_invalid` with the
/// report in `details`); `on_error=skip` writes the valid rows. Rows whose 外部编号 was imported
/// before are reported as `existing` and not created again; titles nearly equal to one of the
/// organisation's records are listed in `duplicates`.
#[utoipa::path(
    tag = "imports",
    params(ImportParams),
    request_body(content = String, description = "The file", content_type = "text/csv"),
    responses(
        (status = 200, description = "The report (dry run, or written)"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, description = "Invalid rows (nothing written), a missing column or an unreadable file", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/imports")]
pub async fn create_import(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    params: web::Query<ImportParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let library = library_of(&params.library)?;
    // Before the body is read: a refused upload is not received whole.
    import::check_role(auth.role, library)?;
    let dry_run = flag("dry_run", params.dry_run.as_deref())?;
    let skip_invalid = match params.on_error.as_deref() {
        None | Some("abort") => false,
        Some("skip") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("`on_error` must be abort or skip (got `{other}`)"),
            ));
        }
    };
    let encoding = params
        .encoding
        .as_deref()
        .map(|e| Encoding::parse(e).map_err(|m| ApiError::bad_request("invalid_query", m)))
        .transpose()?;
    let _permit = state.heavy_permit("imports and exports")?;
    let bytes = read_body(&req, payload, state.limits.import_max_bytes).await?;
    let format = format_of(&req, &params, &bytes)?;
    let options = Options {
        library,
        format,
        encoding,
        dry_run,
        skip_invalid,
        default_org: params.org_id.clone(),
        limits: tabular::Limits {
            max_rows: state.limits.import_max_rows,
            max_cells: state.limits.import_max_cells,
            max_unpacked_bytes: state.limits.xlsx_max_unpacked_bytes,
        },
    };
    let report = import::run(state.store.as_ref(), &auth, bytes, &options).await?;
    if report.written {
        state.search.notify_write();
        state.matcher.notify();
    }
    if !dry_run && !skip_invalid && report.invalid > 0 {
        let message = format!(
            "{} of {} rows are invalid, so nothing was imported; fix them (see details.errors), or send on_error=skip to import the {} valid rows",
            report.invalid,
            report.rows,
            report.rows - report.invalid - report.existing
        );
        let details = serde_json::to_value(&report).map_err(|_| ApiError::internal())?;
        return Err(ApiError::unprocessable("import_invalid", message).with_details(details));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// The allowed values of a column, `名称 (code)`, for the template's instructions.
fn allowed(column: &Column) -> String {
    let entries = match column.kind {
        Kind::Code(e) | Kind::Codes(e) => e(),
        _ => return String::new(),
    };
    entries.iter().map(|e| format!("{} ({})", e.label, e.code)).collect::<Vec<_>>().join("；")
}

/// The template sheets of a library: the columns to fill (required ones marked *) and the
/// instructions with each enumeration's allowed values in Chinese.
pub fn template(library: Library) -> Vec<Sheet> {
    let cols = import::columns(library);
    let header =
        cols.iter().map(|c| if c.required { format!("*{}", c.header) } else { c.header.to_string() }).collect();
    let rows = cols
        .iter()
        .map(|c| {
            vec![
                Cell::Text(c.header.to_string()),
                Cell::Text(c.key.to_string()),
                Cell::Text(if c.required { "是" } else { "否" }.to_string()),
                Cell::Text(c.help.to_string()),
                Cell::Text(allowed(c)),
            ]
        })
        .collect();
    let name = match library {
        Library::Needs => "企业需求",
        Library::Achievements => "科技成果",
    };
    vec![
        Sheet { name: name.into(), header, rows: Vec::new() },
        Sheet {
            name: "填写说明".into(),
            header: ["列名", "字段", "必填", "说明", "可选值"].iter().map(|s| s.to_string()).collect(),
            rows,
        },
    ]
}

fn workbook(sheets: &[Sheet], filename: &str) -> Result<HttpResponse, ApiError> {
    let bytes = tabular::xlsx(sheets).map_err(|e| {
        tracing::error!(error = %e, "writing a workbook failed");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type(XLSX_TYPE)
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{filename}\"")))
        .body(bytes))
}

/// The import template of a library (`needs.xlsx` or `achievements.xlsx`): the columns, and
/// the allowed values of each enumeration in Chinese.
#[utoipa::path(
    tag = "imports",
    params(("file" = String, Path, description = "needs.xlsx or achievements.xlsx")),
    responses((status = 200, description = "An XLSX workbook"), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/imports/templates/{file}")]
pub async fn get_template(_auth: Auth<AnyUser>, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let library = match file.as_str() {
        "needs.xlsx" => Library::Needs,
        "achievements.xlsx" => Library::Achievements,
        other => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                "not_found",
                format!("no template `{other}`: use needs.xlsx or achievements.xlsx"),
            ));
        }
    };
    workbook(&template(library), &file)
}

/// The label of a code in a column, as a person would type it.
fn label_of(column: &Column, code: &str) -> String {
    match column.kind {
        Kind::Code(e) | Kind::Codes(e) => {
            e().iter().find(|x| x.code == code).map(|x| x.label.to_string()).unwrap_or_else(|| code.to_string())
        }
        _ => code.to_string(),
    }
}

/// A record's view as a row of the import columns (plus its id and status), so an export can be
/// edited and imported again.
fn export_row(cols: &[Column], view: &Value, status: &str) -> Vec<Cell> {
    let mut row = vec![Cell::Text(view["id"].as_str().unwrap_or_default().to_string())];
    for c in cols {
        let value = match c.key {
            "external_id" => Value::Null,
            "organisation" => view["owner"]["name"].clone(),
            key => match key.strip_prefix("contact.") {
                Some(part) => view["contact"][part].clone(),
                None => view[key].clone(),
            },
        };
        let text = match &value {
            Value::Null => String::new(),
            Value::String(s) => label_of(c, s),
            Value::Array(items) => {
                items.iter().map(|i| label_of(c, i.as_str().unwrap_or_default())).collect::<Vec<_>>().join("，")
            }
            // Amounts (万元) to the cent, as everywhere; whole numbers (TRL) as they are.
            Value::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or_default()),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        row.push(match (c.kind, &value) {
            (Kind::Number, Value::Number(_)) => Cell::Decimal(text),
            _ => Cell::Text(text),
        });
    }
    row.push(Cell::Text(status.to_string()));
    row
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// csv (default), xlsx or jsonl.
    pub format: Option<String>,
}

/// A record its owner made private is exported to managers by id only, marked as private.
fn shown_title(title: String, visibility: crate::domain::vocab::Visibility) -> String {
    if visibility == crate::domain::vocab::Visibility::Private { "(私有)".to_string() } else { title }
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn export_format(format: Option<&str>) -> Result<Format, ApiError> {
    format
        .map(Format::parse)
        .transpose()
        .map(|f| f.unwrap_or(Format::Csv))
        .map_err(|m| ApiError::bad_request("invalid_query", m))
}

/// One row of an export: its cells (CSV, XLSX) and its JSON line (JSON Lines).
type ExportRow = (Vec<Cell>, Value);

/// The rows of an export, a page at a time.
trait ExportPages {
    async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>, ApiError>;
}

/// Rows already loaded (the docking and transfer libraries, within the row cap).
struct Loaded(Option<Vec<ExportRow>>);

impl ExportPages for Loaded {
    async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>, ApiError> {
        Ok(self.0.take())
    }
}

/// Needs or achievements the viewer may see, read 500 at a time, at most `left` of them.
struct LibraryPages {
    state: web::Data<AppState>,
    viewer: Principal,
    library: Library,
    query: ListQuery,
    left: usize,
}

impl ExportPages for LibraryPages {
    async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>, ApiError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.query.limit = self.left.min(500) as u32;
        let store = &self.state.store;
        let (views, next): (Vec<Value>, Option<String>) = match self.library {
            Library::Needs => {
                let page = store.list_needs(&self.query).await?;
                (
                    page.items.iter().map(|n: &Need| json(&NeedResponse::new(n, &self.viewer))).collect(),
                    page.next_cursor,
                )
            }
            Library::Achievements => {
                let page = store.list_achievements(&self.query).await?;
                let views = page.items.iter().map(|a: &Achievement| json(&AchievementResponse::new(a, &self.viewer)));
                (views.collect(), page.next_cursor)
            }
        };
        self.left = if next.is_some() { self.left.saturating_sub(views.len()) } else { 0 };
        self.query.cursor = next;
        let cols = import::columns(self.library);
        let status = |v: &Value| {
            v["status"].as_str().and_then(|s| s.parse::<RecordStatus>().ok()).map(|s| s.label()).unwrap_or_default()
        };
        Ok(Some(views.into_iter().map(|v| (export_row(cols, &v, status(&v)), v)).collect()))
    }
}

/// Refuses an export past the row cap before anything is sent.
fn check_export_size(state: &AppState, rows: u64) -> Result<(), ApiError> {
    let max = state.limits.export_max_rows as u64;
    if rows > max {
        return Err(ApiError::unprocessable(
            "export_too_large",
            format!("this export has {rows} rows; at most {max} are exported at once: narrow it with the filters (field, region, status, updated_since, from/to)"),
        )
        .with_details(serde_json::json!({ "rows": rows, "max_rows": max })));
    }
    Ok(())
}

/// Where an export's stream is.
enum Phase {
    Head(Vec<u8>),
    Rows,
    File(std::fs::File),
    Done,
}

/// Answers an export as a stream: pages are read and written one at a time while the client
/// downloads (an XLSX is sent once its last row is written), holding the heavy-work permit
/// until the last byte. A failure after the first byte ends the download early (logged).
fn stream_export<P: ExportPages + 'static>(
    pages: P,
    format: Format,
    name: &str,
    header: &[String],
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<HttpResponse, ApiError> {
    let (writer, head) = ExportWriter::new(format, name, header).map_err(|e| {
        tracing::error!(error = %e, "export could not start");
        ApiError::internal()
    })?;
    let state = (pages, Some(writer), Phase::Head(head), permit);
    let body = futures_util::stream::unfold(state, |(mut pages, mut writer, phase, permit)| async move {
        let failed = |e: String| {
            tracing::error!(error = %e, "export failed while streaming");
            Err(actix_web::error::ErrorInternalServerError("export failed"))
        };
        let mut phase = phase;
        loop {
            match phase {
                Phase::Head(bytes) => {
                    if !bytes.is_empty() {
                        return Some((Ok(web::Bytes::from(bytes)), (pages, writer, Phase::Rows, permit)));
                    }
                    phase = Phase::Rows;
                }
                Phase::Rows => match pages.next_page().await {
                    Ok(Some(rows)) => {
                        let Some(w) = writer.as_mut() else { return None };
                        let mut out = Vec::new();
                        for (cells, line) in &rows {
                            match w.write(cells, line) {
                                Ok(bytes) => out.extend_from_slice(&bytes),
                                Err(e) => return Some((failed(e), (pages, None, Phase::Done, permit))),
                            }
                        }
                        if !out.is_empty() {
                            return Some((Ok(web::Bytes::from(out)), (pages, writer, Phase::Rows, permit)));
                        }
                    }
                    Ok(None) => match writer.take().map(ExportWriter::finish) {
                        Some(Ok(Some(file))) => phase = Phase::File(file),
                        Some(Err(e)) => return Some((failed(e), (pages, None, Phase::Done, permit))),
                        _ => phase = Phase::Done,
                    },
                    Err(e) => return Some((failed(e.to_string()), (pages, None, Phase::Done, permit))),
                },
                Phase::File(mut file) => {
                    let mut chunk = vec![0u8; 256 * 1024];
                    match std::io::Read::read(&mut file, &mut chunk) {
                        Ok(0) => phase = Phase::Done,
                        Ok(n) => {
                            chunk.truncate(n);
                            return Some((Ok(web::Bytes::from(chunk)), (pages, writer, Phase::File(file), permit)));
                        }
                        Err(e) => return Some((failed(e.to_string()), (pages, None, Phase::Done, permit))),
                    }
                }
                Phase::Done => return None,
            }
        }
    });
    let (media, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (XLSX_TYPE, "xlsx"),
        Format::JsonLines => ("application/x-ndjson; charset=utf-8", "jsonl"),
    };
    Ok(HttpResponse::Ok()
        .content_type(media)
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}.{extension}\"")))
        .streaming(body))
}

/// Export needs or achievements (the listing's filters apply; only what the viewer may see,
/// contacts only where the viewer may read them). CSV and XLSX use the import columns with
/// Chinese labels, so a file can be edited and imported again; JSON Lines carry the API views.
#[utoipa::path(
    tag = "imports",
    params(("library" = String, Path, description = "needs or achievements"), ListParams, ExportParams),
    responses((status = 200, description = "The file"), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/exports/{library}")]
pub async fn export_library(
    state: web::Data<AppState>,
    auth: Auth<AnyUser>,
    library: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Export options and listing filters share the query string: `format` is taken out, the
    // rest is the listing's filters.
    let mut pairs: serde_json::Map<String, Value> = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?
        .into_inner()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let format = export_format(pairs.remove("format").as_ref().and_then(Value::as_str))?;
    let list: ListParams = serde_json::from_value(Value::Object(pairs))
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let library = library_of(&library)?;
    // The export's filters are both libraries' (the library is a path value): one that the
    // other library's records do not have conflicts with it.
    let conflict = match library {
        Library::Needs if list.trl_min.is_some() => Some("`trl_min` applies to achievements only"),
        Library::Achievements if list.need_type.is_some() => Some("`need_type` applies to needs only"),
        _ => None,
    };
    if let Some(message) = conflict {
        return Err(ApiError::unprocessable("conflicting_parameters", message));
    }
    let query = list.into_query(&auth, library)?;
    let permit = state.heavy_permit("imports and exports")?;
    let rows = state.store.count_listing(library, &query).await?;
    check_export_size(&state, rows)?;
    let cols = import::columns(library);
    let mut header = vec!["ID".to_string()];
    header.extend(cols.iter().map(|c| c.header.to_string()));
    header.push("状态".into());
    let left = state.limits.export_max_rows;
    let pages = LibraryPages { state: state.clone(), viewer: auth.principal.clone(), library, query, left };
    stream_export(pages, format, library.route(), &header, permit)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferExportParams {
    pub format: Option<String>,
    /// Signed on or after (YYYY-MM-DD).
    pub from: Option<String>,
    pub to: Option<String>,
    pub field: Option<crate::domain::vocab::TechField>,
    pub region: Option<String>,
}

/// Export the transfer library (managers): one row per contract with its amount, milestones
/// and outcomes.
#[utoipa::path(
    tag = "imports",
    params(TransferExportParams),
    responses((status = 200, description = "The file"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/exports/transfers")]
pub async fn export_transfers(
    state: web::Data<AppState>,
    _auth: Auth<Staff>,
    params: web::Query<TransferExportParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let format = export_format(p.format.as_deref())?;
    let filter =
        super::transfers::PeriodParams { from: p.from, to: p.to, field: p.field, region: p.region }.into_filter()?;
    let permit = state.heavy_permit("imports and exports")?;
    let limit = state.limits.export_max_rows as u32 + 1;
    let page = state.store.list_transfers(&TransferQuery { filter, limit, ..TransferQuery::default() }).await?;
    check_export_size(&state, page.items.len() as u64)?;
    let header: Vec<String> = [
        "ID",
        "对接ID",
        "需求ID",
        "成果ID",
        "合同类型",
        "合同金额(万元)",
        "签订日期",
        "技术合同登记号",
        "落地企业",
        "落地地区",
        "技术领域",
        "里程碑",
        "落地日期",
        "新增产值(万元)",
        "新产品",
        "新增就业",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut lines = Vec::new();
    let rows: Vec<Vec<Cell>> = page
        .items
        .iter()
        .map(|t| {
            let c = &t.content;
            let milestones =
                c.milestones.iter().map(|m| format!("{} {}", m.kind.label(), m.date)).collect::<Vec<_>>().join("；");
            lines.push(serde_json::json!({
                "id": t.id, "docking_id": t.docking_id, "need_id": t.need_id, "achievement_id": t.achievement_id,
                "contract_type": c.contract_type, "amount": c.amount.to_string(), "signed_on": c.signed_on,
                "registration_number": c.registration_number, "landing_enterprise": c.landing_enterprise,
                "landing_region": c.landing_region, "field": t.field, "milestones": c.milestones,
                "landed_on": c.landed_on(), "outcomes": c.outcomes,
            }));
            vec![
                Cell::Text(t.id.clone()),
                Cell::Text(t.docking_id.clone()),
                Cell::Text(t.need_id.clone()),
                Cell::Text(t.achievement_id.clone()),
                Cell::Text(c.contract_type.label().into()),
                Cell::Decimal(c.amount.to_string()),
                Cell::Text(c.signed_on.to_string()),
                Cell::Text(c.registration_number.clone().unwrap_or_default()),
                Cell::Text(c.landing_enterprise.clone()),
                Cell::Text(c.landing_region.clone()),
                Cell::Text(t.field.label().into()),
                Cell::Text(milestones),
                Cell::Text(c.landed_on().map(|d| d.to_string()).unwrap_or_default()),
                Cell::Decimal(c.outcomes.new_output_value.map(|w| w.to_string()).unwrap_or_default()),
                Cell::Text(c.outcomes.new_products.map(|n| n.to_string()).unwrap_or_default()),
                Cell::Text(c.outcomes.jobs.map(|n| n.to_string()).unwrap_or_default()),
            ]
        })
        .collect();
    let rows: Vec<ExportRow> = rows.into_iter().zip(lines).collect();
    stream_export(Loaded(Some(rows)), format, "transfers", &header, permit)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DockingExportParams {
    pub format: Option<String>,
    /// One state or several separated by commas.
    pub state: Option<String>,
    pub field: Option<crate::domain::vocab::TechField>,
    /// The need's region prefix.
    pub region: Option<String>,
}

/// Export the docking library (managers): each pairing with its state, source, score, manager
/// and both records' titles.
#[utoipa::path(
    tag = "imports",
    params(DockingExportParams),
    responses((status = 200, description = "The file"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/exports/dockings")]
pub async fn export_dockings(
    state: web::Data<AppState>,
    _auth: Auth<Staff>,
    params: web::Query<DockingExportParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let format = export_format(p.format.as_deref())?;
    let mut states = Vec::new();
    for code in p.state.iter().flat_map(|s| s.split(',')).map(str::trim) {
        states.push(code.parse().map_err(|m: String| ApiError::bad_request("invalid_query", m))?);
    }
    let region_prefix = p
        .region
        .as_deref()
        .map(|r| {
            crate::domain::validate::region_prefix(r)
                .map(str::to_string)
                .map_err(|m| ApiError::bad_request("invalid_query", m))
        })
        .transpose()?;
    let mut query = DockingQuery { states, field: p.field, region_prefix, limit: 1000, ..DockingQuery::default() };
    let permit = state.heavy_permit("imports and exports")?;
    let mut dockings = Vec::new();
    loop {
        let page = state.store.list_dockings(&query).await?;
        dockings.extend(page.items);
        check_export_size(&state, dockings.len() as u64)?;
        match page.next_cursor.and_then(|c| c.parse::<u32>().ok()) {
            Some(offset) => query.offset = offset,
            None => break,
        }
    }
    let need_ids: Vec<String> = dockings.iter().map(|d| d.need_id.clone()).collect();
    let achievement_ids: Vec<String> = dockings.iter().map(|d| d.achievement_id.clone()).collect();
    let titles: std::collections::HashMap<String, String> = state
        .store
        .needs_by_ids(&need_ids)
        .await?
        .into_iter()
        .map(|n| (n.meta.id, shown_title(n.content.title, n.content.visibility)))
        .chain(
            state
                .store
                .achievements_by_ids(&achievement_ids)
                .await?
                .into_iter()
                .map(|a| (a.meta.id, shown_title(a.content.title, a.content.visibility))),
        )
        .collect();
    let title = |id: &str| titles.get(id).cloned().unwrap_or_default();
    let header: Vec<String> = [
        "ID",
        "需求ID",
        "需求名称",
        "成果ID",
        "成果名称",
        "状态",
        "来源",
        "匹配分",
        "技术领域",
        "地区",
        "经理人",
        "原因",
        "创建时间",
        "更新时间",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut lines = Vec::new();
    let rows: Vec<Vec<Cell>> = dockings
        .iter()
        .map(|d| {
            lines.push(serde_json::json!({
                "id": d.id, "need_id": d.need_id, "need_title": title(&d.need_id), "achievement_id": d.achievement_id,
                "achievement_title": title(&d.achievement_id), "state": d.state, "source": d.source, "score": d.score,
                "field": d.field, "region": d.region, "manager_id": d.manager_id, "reason": d.reason,
                "created_at": d.created_at, "updated_at": d.updated_at,
            }));
            vec![
                Cell::Text(d.id.clone()),
                Cell::Text(d.need_id.clone()),
                Cell::Text(title(&d.need_id)),
                Cell::Text(d.achievement_id.clone()),
                Cell::Text(title(&d.achievement_id)),
                Cell::Text(d.state.label().into()),
                Cell::Text(d.source.label().into()),
                Cell::Decimal(d.score.map(|s| format!("{s:.3}")).unwrap_or_default()),
                Cell::Text(d.field.label().into()),
                Cell::Text(d.region.clone()),
                Cell::Text(d.manager_id.clone().unwrap_or_default()),
                Cell::Text(d.reason.map(|r| r.label().to_string()).unwrap_or_default()),
                Cell::Text(d.created_at.to_rfc3339()),
                Cell::Text(d.updated_at.to_rfc3339()),
            ]
        })
        .collect();
    let rows: Vec<ExportRow> = rows.into_iter().zip(lines).collect();
    stream_export(Loaded(Some(rows)), format, "dockings", &header, permit)
}
