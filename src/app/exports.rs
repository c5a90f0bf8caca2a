//! Exports of the four libraries: what a viewer may see, as rows of the import columns (CSV,
//! XLSX) or as the API's views (JSON Lines), read a page at a time under the row cap. The HTTP
//! route streams them; `techmarket export` writes them to a file.

use std::sync::Arc;

use serde_json::Value;

use super::imports::{Column, Kind, columns};
use super::queries::{DockingFilter, RecordQuery};
use super::views::{AchievementResponse, NeedResponse};
use super::{App, Code, Error, Result};
use crate::domain::achievement::Achievement;
use crate::domain::need::Need;
use crate::domain::record::{Library, Principal};
use crate::domain::stats::StatsFilter;
use crate::domain::vocab::RecordStatus;
use crate::storage::{ListQuery, Store, TransferQuery};
use crate::tabular::{Cell, ExportWriter, Format};

/// An export ready to be written: its file name, header and rows, and the heavy-work permit it
/// holds until the last row is written.
pub struct Export<P> {
    pub name: &'static str,
    pub header: Vec<String>,
    pub rows: P,
    pub permit: tokio::sync::OwnedSemaphorePermit,
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

/// A record its owner made private is exported to managers by id only, marked as private.
fn shown_title(title: String, visibility: crate::domain::vocab::Visibility) -> String {
    if visibility == crate::domain::vocab::Visibility::Private { "(私有)".to_string() } else { title }
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// One row of an export: its cells (CSV, XLSX) and its JSON line (JSON Lines).
pub type ExportRow = (Vec<Cell>, Value);

/// The rows of an export, a page at a time.
// Used only within the crate, with concrete types: the futures' auto traits are known.
#[allow(async_fn_in_trait)]
pub trait ExportPages: Send {
    async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>>;
}

/// Rows already loaded (the docking and transfer libraries, within the row cap).
pub struct Loaded(Option<Vec<ExportRow>>);

impl ExportPages for Loaded {
    async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>> {
        Ok(self.0.take())
    }
}

/// Needs or achievements the viewer may see, read 500 at a time, at most `left` of them.
pub struct LibraryPages {
    store: Arc<dyn Store>,
    viewer: Principal,
    /// The market day the export is made on (for a need's `expired`).
    today: chrono::NaiveDate,
    library: Library,
    query: ListQuery,
    left: usize,
}

impl ExportPages for LibraryPages {
    async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.query.limit = self.left.min(500) as u32;
        let store = &self.store;
        let (views, next): (Vec<Value>, Option<String>) = match self.library {
            Library::Needs => {
                let page = store.list_needs(&self.query).await?;
                (
                    page.items.iter().map(|n: &Need| json(&NeedResponse::new(n, &self.viewer, self.today))).collect(),
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
        let cols = columns(self.library);
        let status = |v: &Value| {
            v["status"].as_str().and_then(|s| s.parse::<RecordStatus>().ok()).map(|s| s.label()).unwrap_or_default()
        };
        Ok(Some(views.into_iter().map(|v| (export_row(cols, &v, status(&v)), v)).collect()))
    }
}

/// Refuses an export past the row cap before anything is sent.
fn check_export_size(cx: &App, rows: u64) -> Result<()> {
    let max = cx.limits.export_max_rows as u64;
    if rows > max {
        return Err(Error::new(
            Code::ExportTooLarge,
            format!("this export has {rows} rows; at most {max} are exported at once: narrow it with the filters (field, region, status, updated_since, from/to)"),
        )
        .with_details(serde_json::json!({ "rows": rows, "max_rows": max })));
    }
    Ok(())
}

/// Records an export in the audit log before its rows go out.
async fn audited(cx: &App, viewer: &Principal, what: &str, rows: u64) -> Result<()> {
    let detail = format!("{what}: {rows} rows");
    super::audit::record(cx, viewer, &format!("export_{what}"), Vec::new(), crate::domain::audit::Outcome::Ok, &detail)
        .await
}

/// Needs or achievements the viewer may see (the listing's filters apply; contacts only where
/// the viewer may read them), refused past the row cap before anything is written.
pub async fn library(
    cx: &App,
    viewer: &Principal,
    library: Library,
    query: RecordQuery,
) -> Result<Export<LibraryPages>> {
    let query = query.seen_by(viewer);
    let permit = cx.heavy_permit("imports and exports")?;
    let rows = cx.store.count_listing(library, &query).await?;
    check_export_size(cx, rows)?;
    audited(cx, viewer, library.route(), rows).await?;
    let cols = columns(library);
    let mut header = vec!["ID".to_string()];
    header.extend(cols.iter().map(|c| c.header.to_string()));
    header.push("状态".into());
    let left = cx.limits.export_max_rows;
    let today = crate::domain::market_today(cx.clock.now());
    let rows = LibraryPages { store: cx.store.clone(), viewer: viewer.clone(), today, library, query, left };
    Ok(Export { name: library.route(), header, rows, permit })
}

/// The transfer library (managers): one row per contract with its amount, milestones and outcomes.
pub async fn transfers(cx: &App, viewer: &Principal, filter: StatsFilter) -> Result<Export<Loaded>> {
    if !viewer.role.is_staff() {
        return Err(Error::forbidden("the transfer library is exported by technology managers"));
    }
    let permit = cx.heavy_permit("imports and exports")?;
    let limit = cx.limits.export_max_rows as u32 + 1;
    let page = cx.store.list_transfers(&TransferQuery { filter, limit, ..TransferQuery::default() }).await?;
    check_export_size(cx, page.items.len() as u64)?;
    audited(cx, viewer, "transfers", page.items.len() as u64).await?;
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
    Ok(Export { name: "transfers", header, rows: Loaded(Some(rows)), permit })
}

/// The docking library (managers): each pairing with its state, source, score, manager and both
/// records' titles (a private record's by id only).
pub async fn dockings(cx: &App, viewer: &Principal, filter: DockingFilter) -> Result<Export<Loaded>> {
    if !viewer.role.is_staff() {
        return Err(Error::forbidden("the docking library is exported by technology managers"));
    }
    let mut query = filter.seen_by(viewer);
    query.limit = 1000;
    let permit = cx.heavy_permit("imports and exports")?;
    let mut dockings = Vec::new();
    loop {
        let page = cx.store.list_dockings(&query).await?;
        dockings.extend(page.items);
        check_export_size(cx, dockings.len() as u64)?;
        match page.next_cursor.and_then(|c| c.parse::<u32>().ok()) {
            Some(offset) => query.offset = offset,
            None => break,
        }
    }
    audited(cx, viewer, "dockings", dockings.len() as u64).await?;
    let need_ids: Vec<String> = dockings.iter().map(|d| d.need_id.clone()).collect();
    let achievement_ids: Vec<String> = dockings.iter().map(|d| d.achievement_id.clone()).collect();
    let titles: std::collections::HashMap<String, String> = cx
        .store
        .needs_by_ids(&need_ids)
        .await?
        .into_iter()
        .map(|n| (n.meta.id, shown_title(n.content.title, n.content.visibility)))
        .chain(
            cx.store
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
    Ok(Export { name: "dockings", header, rows: Loaded(Some(rows)), permit })
}

/// Writes a whole export to `out` in `format` (the command line's export); returns the rows.
pub async fn write<P: ExportPages>(export: Export<P>, format: Format, out: &mut impl std::io::Write) -> Result<usize> {
    let Export { name, header, mut rows, permit } = export;
    let failed = |e: String| {
        tracing::error!(error = %e, "export failed");
        Error::internal()
    };
    let (mut writer, head) = ExportWriter::new(format, name, &header).map_err(failed)?;
    out.write_all(&head).map_err(|e| failed(e.to_string()))?;
    let mut written = 0;
    while let Some(page) = rows.next_page().await? {
        for (cells, line) in &page {
            out.write_all(&writer.write(cells, line).map_err(failed)?).map_err(|e| failed(e.to_string()))?;
            written += 1;
        }
    }
    if let Some(mut file) = writer.finish().map_err(failed)? {
        std::io::copy(&mut file, out).map_err(|e| failed(e.to_string()))?;
    }
    drop(permit);
    Ok(written)
}
