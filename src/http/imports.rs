//! Bulk import (with a dry run), the import templates, and the export of each library
//! (filtered, honouring what the viewer may see) to CSV, XLSX or JSON Lines.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::ListParams;
use super::auth::{AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use crate::app::exports::{self, Export, ExportPages};
use crate::app::imports::{self, Column, Kind, Options};
use crate::app::queries::DockingFilter;
use crate::app::{App, Code, Error};
use crate::domain::record::Library;
use crate::tabular::{self, Cell, Encoding, ExportWriter, Format, Input, Sheet, XLSX_TYPE};

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

fn library_of(text: &str) -> Result<Library, Error> {
    match text.trim() {
        "needs" => Ok(Library::Needs),
        "achievements" => Ok(Library::Achievements),
        other => {
            Err(Error::new(Code::InvalidQuery, format!("`library` must be needs or achievements (got `{other}`)")))
        }
    }
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, Error> {
    match value.map(str::trim) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(other) => Err(Error::new(Code::InvalidQuery, format!("`{name}` must be true or false (got `{other}`)"))),
    }
}

/// The format a request's file is in: as given, by its media type, by its name, or by its bytes.
fn format_of(req: &HttpRequest, params: &ImportParams, file: &Input) -> Result<Format, Error> {
    if let Some(f) = &params.format {
        return Format::parse(f).map_err(|m| Error::new(Code::InvalidQuery, m));
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
        .unwrap_or_else(|| Format::sniff(file.source())))
}

/// How much of an upload is held in memory: a larger one is spooled to disk as it arrives.
const HELD_AT_MOST: usize = 1024 * 1024;

/// Receives the raw body up to the import limit. A small file is kept in memory; a larger one is
/// written, a mebibyte at a time, to an anonymous temporary file (created for the service's user
/// alone, and gone once closed), so an import holds at most `HELD_AT_MOST` of its upload.
async fn receive_file(req: &HttpRequest, mut payload: web::Payload, max: usize) -> Result<Input, Error> {
    let too_large = || {
        Error::new(
            Code::PayloadTooLarge,
            format!("an import file may have at most {} MiB; split it", max / 1024 / 1024),
        )
    };
    // A declared length past the cap is refused before anything is received.
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut held = Vec::with_capacity(declared.unwrap_or(0).min(HELD_AT_MOST));
    let (mut received, mut spool) = (0, None);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::new(Code::InvalidBody, format!("the upload broke off: {e}")))?;
        received += chunk.len();
        if received > max {
            return Err(too_large());
        }
        held.extend_from_slice(&chunk);
        if held.len() >= HELD_AT_MOST {
            spool = Some(spill(spool, std::mem::replace(&mut held, Vec::with_capacity(HELD_AT_MOST))).await?);
        }
    }
    Ok(match spool {
        None => Input::Bytes(held),
        Some(file) => Input::File(spill(Some(file), held).await?),
    })
}

/// Appends `bytes` to the upload's temporary file (made on the first call), off the workers.
async fn spill(file: Option<std::fs::File>, bytes: Vec<u8>) -> Result<std::fs::File, Error> {
    let written = web::block(move || -> std::io::Result<std::fs::File> {
        let mut file = match file {
            Some(file) => file,
            None => tempfile::tempfile()?,
        };
        std::io::Write::write_all(&mut file, &bytes)?;
        Ok(file)
    })
    .await
    .map_err(|_| Error::internal())?;
    written.map_err(|e| {
        if matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) {
            Error::new(
                Code::StorageFull,
                "the server has no room left to receive the file: nothing was imported; try again later",
            )
            .zh("服务器磁盘空间不足，无法接收导入文件，未导入任何数据：请稍后重试，并请管理员清理磁盘空间。")
        } else {
            tracing::error!(error = %e, "an upload could not be spooled to a temporary file");
            Error::internal()
        }
    })
}

/// Import needs or achievements from a file (the body, as sent): CSV in UTF-8 or GBK, XLSX or
/// JSON Lines, headers in Chinese or English (see the templates). `dry_run=true` reports row by
/// row what would be created and every error without writing. A real run checks every row, then
/// writes in transactions of 1,000 rows, and by default nothing if any row is invalid (422 `import_invalid` with the
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
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    params: web::Query<ImportParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let library = library_of(&params.library)?;
    // Before the body is read: a refused upload is not received whole.
    imports::check_role(auth.role, library)?;
    let dry_run = flag("dry_run", params.dry_run.as_deref())?;
    let skip_invalid = match params.on_error.as_deref() {
        None | Some("abort") => false,
        Some("skip") => true,
        Some(other) => {
            return Err(
                Error::new(Code::InvalidQuery, format!("`on_error` must be abort or skip (got `{other}`)")).into()
            );
        }
    };
    let encoding = params
        .encoding
        .as_deref()
        .map(|e| Encoding::parse(e).map_err(|m| Error::new(Code::InvalidQuery, m)))
        .transpose()?;
    let _permit = cx.heavy_permit("imports and exports")?;
    let file = receive_file(&req, payload, cx.limits.import_max_bytes).await?;
    let format = format_of(&req, &params, &file)?;
    let options = Options {
        library,
        format,
        encoding,
        dry_run,
        skip_invalid,
        default_org: params.org_id.clone(),
        limits: tabular::Limits {
            max_rows: cx.limits.import_max_rows,
            max_cells: cx.limits.import_max_cells,
            max_unpacked_bytes: cx.limits.xlsx_max_unpacked_bytes,
        },
        keep_bytes: cx.limits.import_keep_bytes,
    };
    let report = imports::run(&cx, &auth, file, &options).await?;
    if let Some(refused) = imports::refusal(&report, &options) {
        return Err(refused.into());
    }
    let mut report = report;
    report.localize(super::error::language_of(&req));
    let body = serde_json::to_vec(&report).map_err(|_| ApiError::from(Error::internal()))?;
    // The report of 100,000 rows is freed here: give the memory back.
    drop(report);
    crate::memory::release_free_memory();
    Ok(HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body(body))
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
    let cols = imports::columns(library);
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
        Error::internal()
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
            return Err(Error::new(
                Code::NotFound,
                format!("no template `{other}`: use needs.xlsx or achievements.xlsx"),
            )
            .into());
        }
    };
    workbook(&template(library), &file)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// csv (default), xlsx or jsonl.
    pub format: Option<String>,
}

fn export_format(format: Option<&str>) -> Result<Format, Error> {
    format
        .map(Format::parse)
        .transpose()
        .map(|f| f.unwrap_or(Format::Csv))
        .map_err(|m| Error::new(Code::InvalidQuery, m))
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
fn stream_export<P: ExportPages + 'static>(export: Export<P>, format: Format) -> Result<HttpResponse, ApiError> {
    let Export { name, header, rows: pages, permit } = export;
    let (writer, head) = ExportWriter::new(format, name, &header).map_err(|e| {
        tracing::error!(error = %e, "export could not start");
        Error::internal()
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
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    library: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Export options and listing filters share the query string: `format` is taken out, the
    // rest is the listing's filters.
    let mut pairs: serde_json::Map<String, Value> = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| Error::new(Code::InvalidQuery, e.to_string()))?
        .into_inner()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let format = export_format(pairs.remove("format").as_ref().and_then(Value::as_str))?;
    let list: ListParams =
        serde_json::from_value(Value::Object(pairs)).map_err(|e| Error::new(Code::InvalidQuery, e.to_string()))?;
    let library = library_of(&library)?;
    // The export's filters are both libraries' (the library is a path value): one that the
    // other library's records do not have conflicts with it.
    let conflict = match library {
        Library::Needs if list.trl_min.is_some() => Some("`trl_min` applies to achievements only"),
        Library::Achievements if list.need_type.is_some() => Some("`need_type` applies to needs only"),
        _ => None,
    };
    if let Some(message) = conflict {
        return Err(Error::new(Code::ConflictingParameters, message).into());
    }
    let query = list.into_query(library)?;
    stream_export(exports::library(&cx, &auth, library, query).await?, format)
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
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<TransferExportParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let format = export_format(p.format.as_deref())?;
    let filter = super::PeriodParams { from: p.from, to: p.to, field: p.field, region: p.region }.into_filter()?;
    stream_export(exports::transfers(&cx, &auth, filter).await?, format)
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
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<DockingExportParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let format = export_format(p.format.as_deref())?;
    let mut states = Vec::new();
    for code in p.state.iter().flat_map(|s| s.split(',')).map(str::trim) {
        states.push(code.parse().map_err(|m: String| Error::new(Code::InvalidQuery, m))?);
    }
    let region_prefix = p
        .region
        .as_deref()
        .map(|r| {
            crate::domain::validate::region_prefix(r).map(str::to_string).map_err(|m| Error::new(Code::InvalidQuery, m))
        })
        .transpose()?;
    let query = DockingFilter { states, field: p.field, region_prefix, ..DockingFilter::default() };
    stream_export(exports::dockings(&cx, &auth, query).await?, format)
}
