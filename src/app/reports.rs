//! Statistics for reporting (managers and admins): counts of the four libraries by field,
//! region, organisation and month; the funnel from need to landed transfer; contract amounts;
//! each manager's activity; and the monthly report a bureau can hand on (CSV or XLSX). Every
//! figure is computed from the records and the docking events at the time of the request.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use super::{App, Code, Error, Result};
use crate::domain::record::Principal;
use crate::domain::stats::{
    self, Amounts, CountRow, Dimension, FunnelStage, ManagerActivity, StatsFilter, StatsLibrary,
};
use crate::domain::validate::region_name;
use crate::domain::vocab::{Role, TechField};
use crate::storage::{Store, TransferQuery};
use crate::tabular::{Cell, Sheet, csv_line, csv_row};

/// The largest number of transfers the figures read at once; beyond it the amounts would be
/// cut, so the request is refused with a hint to narrow the period.
const MAX_TRANSFERS: u32 = 1_000_000;

/// The period and filters the figures cover, as given.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scope {
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    pub field: Option<TechField>,
    pub region: Option<String>,
    /// Days run on China Standard Time (UTC+8).
    pub calendar: &'static str,
}

pub fn scope(f: &StatsFilter) -> Scope {
    Scope { from: f.from, to: f.to, field: f.field, region: f.region_prefix.clone(), calendar: "UTC+8" }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LibraryCounts {
    pub library: StatsLibrary,
    pub label: &'static str,
    pub total: i64,
    /// Needs and achievements: how many of `total` have expired (kept, out of matching and the
    /// default listings, until renewed); 0 for dockings and transfers.
    pub expired: i64,
    pub groups: Vec<CountRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountsResponse {
    pub by: Dimension,
    pub scope: Scope,
    /// Needs and achievements by creation date (private ones left out); dockings by creation;
    /// transfers by signing date. Grouped by organisation, a docking or transfer counts for
    /// both its organisations.
    pub libraries: Vec<LibraryCounts>,
}

/// Names of the organisations, for counts by organisation.
async fn organisation_names(store: &dyn Store) -> Result<BTreeMap<String, String>> {
    Ok(store.list_organisations().await?.into_iter().map(|o| (o.id, o.name)).collect())
}

/// Names of the managers and admins, for their activity.
async fn manager_names(store: &dyn Store) -> Result<BTreeMap<String, String>> {
    Ok(store
        .list_users(None)
        .await?
        .into_iter()
        .filter(|u| matches!(u.role, Role::Manager | Role::Admin))
        .map(|u| (u.id, u.name))
        .collect())
}

async fn counts(
    store: &dyn Store,
    by: Dimension,
    filter: &StatsFilter,
    orgs: &BTreeMap<String, String>,
) -> Result<Vec<LibraryCounts>> {
    let mut out = Vec::new();
    for library in StatsLibrary::ALL.iter().copied() {
        let rows = store.count_records(library, Some(by), filter).await?;
        let groups: Vec<CountRow> = rows
            .into_iter()
            .map(|(key, count)| {
                let label = match by {
                    Dimension::Field => key.parse::<TechField>().map(|f| f.label().to_string()).unwrap_or_default(),
                    Dimension::Region => region_name(&key).unwrap_or_default().to_string(),
                    Dimension::Organisation => orgs.get(&key).cloned().unwrap_or_default(),
                    Dimension::Month => key.clone(),
                };
                CountRow { key, label, count }
            })
            .collect();
        // Every record falls in one field, region or month group, so the groups add up to the
        // total; grouped by organisation a docking or transfer counts for both sides, and the
        // total (counting it once) is asked for.
        let total = match by {
            Dimension::Organisation => {
                store.count_records(library, None, filter).await?.first().map(|r| r.1).unwrap_or(0)
            }
            _ => groups.iter().map(|g| g.count).sum(),
        };
        let expired = match library {
            StatsLibrary::Needs | StatsLibrary::Achievements => {
                let only_expired = StatsFilter { expired_only: true, ..filter.clone() };
                store.count_records(library, None, &only_expired).await?.first().map(|r| r.1).unwrap_or(0)
            }
            StatsLibrary::Dockings | StatsLibrary::Transfers => 0,
        };
        out.push(LibraryCounts { library, label: library.label(), total, expired, groups });
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelResponse {
    pub scope: Scope,
    /// need → suggested → accepted → introduced → signed → landed.
    pub stages: Vec<FunnelStage>,
    pub ratios: stats::FunnelRatios,
}

async fn funnel(store: &dyn Store, filter: &StatsFilter) -> Result<Vec<FunnelStage>> {
    let needs = store.count_records(StatsLibrary::Needs, None, filter).await?.first().map(|r| r.1).unwrap_or(0);
    let facts = store.docking_facts(filter).await?;
    Ok(stats::funnel(needs, &facts, filter))
}

/// The transfers signed in the period, all of them.
async fn signed_transfers(store: &dyn Store, filter: &StatsFilter) -> Result<Vec<crate::domain::transfer::Transfer>> {
    let query = TransferQuery { filter: filter.clone(), limit: MAX_TRANSFERS, ..TransferQuery::default() };
    let page = store.list_transfers(&query).await?;
    if page.next_cursor.is_some() {
        return Err(Error::new(
            Code::TooManyTransfers,
            format!("more than {MAX_TRANSFERS} transfers in the period: narrow it with `from` and `to`"),
        ));
    }
    Ok(page.items)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContractsResponse {
    pub scope: Scope,
    #[serde(flatten)]
    pub amounts: Amounts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManagersResponse {
    pub scope: Scope,
    pub managers: Vec<ManagerActivity>,
}

/// The managers' activity in the period, given the contracts signed in it.
async fn managers(
    store: &dyn Store,
    filter: &StatsFilter,
    transfers: &[crate::domain::transfer::Transfer],
) -> Result<Vec<ManagerActivity>> {
    let users = manager_names(store).await?;
    let events = store.manager_events(filter).await?;
    Ok(stats::manager_activity(&events, transfers, &users))
}

/// The monthly report's sheets: counts by field, region and organisation, the funnel, contract
/// amounts by type and field, and the managers' activity.
pub async fn report(store: &dyn Store, filter: &StatsFilter) -> Result<Vec<Sheet>> {
    let orgs = organisation_names(store).await?;
    let mut sheets = Vec::new();
    for (by, name) in
        [(Dimension::Field, "按技术领域"), (Dimension::Region, "按地区"), (Dimension::Organisation, "按单位")]
    {
        let libraries = counts(store, by, filter, &orgs).await?;
        let mut keys: BTreeMap<String, String> = BTreeMap::new();
        for l in &libraries {
            for g in &l.groups {
                keys.insert(g.key.clone(), g.label.clone());
            }
        }
        let rows = keys
            .iter()
            .map(|(key, label)| {
                let mut row = vec![Cell::Text(key.clone()), Cell::Text(label.clone())];
                for l in &libraries {
                    row.push(Cell::Int(l.groups.iter().find(|g| &g.key == key).map(|g| g.count).unwrap_or(0)));
                }
                row
            })
            .collect();
        sheets.push(Sheet {
            name: name.to_string(),
            header: strings(&["代码", "名称", "企业需求", "高校成果", "项目对接", "落地转化"]),
            rows,
        });
    }
    let stages = funnel(store, filter).await?;
    let decimal = |v: Option<f64>| Cell::Decimal(v.map(|x| x.to_string()).unwrap_or_default());
    sheets.push(Sheet {
        name: "对接漏斗".into(),
        header: strings(&["阶段", "名称", "数量", "上一阶段基数", "转化率", "中位天数"]),
        rows: stages
            .iter()
            .map(|s| {
                vec![
                    Cell::Text(s.stage.code().into()),
                    Cell::Text(s.label.into()),
                    Cell::Int(s.count),
                    s.cohort.map(Cell::Int).unwrap_or(Cell::Text(String::new())),
                    decimal(s.conversion_rate),
                    decimal(s.median_days),
                ]
            })
            .collect(),
    });
    let transfers = signed_transfers(store, filter).await?;
    let amounts = stats::amounts(&transfers);
    let amount_rows = |rows: &[stats::AmountRow]| -> Vec<Vec<Cell>> {
        rows.iter()
            .map(|r| {
                vec![
                    Cell::Text(r.key.clone()),
                    Cell::Text(r.label.clone()),
                    Cell::Int(r.contracts),
                    Cell::Decimal(r.amount.clone()),
                ]
            })
            .collect()
    };
    let mut by_type = amount_rows(&amounts.by_type);
    by_type.push(vec![
        Cell::Text("total".into()),
        Cell::Text("合计".into()),
        Cell::Int(amounts.contracts),
        Cell::Decimal(amounts.total.clone()),
    ]);
    sheets.push(Sheet {
        name: "合同类型".into(),
        header: strings(&["代码", "合同类型", "合同数", "合同金额(万元)"]),
        rows: by_type,
    });
    sheets.push(Sheet {
        name: "合同领域".into(),
        header: strings(&["代码", "技术领域", "合同数", "合同金额(万元)"]),
        rows: amount_rows(&amounts.by_field),
    });
    let managers = managers(store, filter, &transfers).await?;
    sheets.push(Sheet {
        name: "经理人".into(),
        header: strings(&["用户", "姓名", "操作数", "对接数", "签约数", "签约金额(万元)"]),
        rows: managers
            .into_iter()
            .map(|m| {
                vec![
                    Cell::Text(m.manager_id),
                    Cell::Text(m.name),
                    Cell::Int(m.actions),
                    Cell::Int(m.dockings),
                    Cell::Int(m.signed),
                    Cell::Decimal(m.amount),
                ]
            })
            .collect(),
    });
    Ok(sheets)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The month `YYYY-MM` as a period of whole days.
pub fn month_period(month: &str) -> Result<(NaiveDate, NaiveDate)> {
    let bad = || Error::new(Code::InvalidQuery, format!("`month` must be YYYY-MM, e.g. 2026-11 (got `{month}`)"));
    let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d").map_err(|_| bad())?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    let last = next.and_then(|n| n.pred_opt()).ok_or_else(bad)?;
    Ok((first, last))
}

/// Writes the sheets as one CSV: each sheet a block headed by its name, blocks apart by a blank
/// line; UTF-8 with a byte-order mark, as Excel in China expects.
pub fn to_csv(title: &str, sheets: &[Sheet]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_line(&[title.to_string()]));
    for sheet in sheets {
        out.push_str("\r\n");
        out.push_str(&csv_line(std::slice::from_ref(&sheet.name)));
        out.push_str(&csv_line(&sheet.header));
        for row in &sheet.rows {
            out.push_str(&csv_row(row));
        }
    }
    out.into_bytes()
}

/// Statistics are for technology managers and administrators.
fn staff_only(who: &Principal) -> Result<()> {
    if who.role.is_staff() { Ok(()) } else { Err(Error::forbidden("statistics are for technology managers")) }
}

/// Counts of the four libraries, grouped by field, region, organisation or month.
pub async fn count(cx: &App, who: &Principal, by: Dimension, filter: &StatsFilter) -> Result<CountsResponse> {
    staff_only(who)?;
    let store = cx.store.as_ref();
    let orgs = match by {
        Dimension::Organisation => organisation_names(store).await?,
        _ => BTreeMap::new(),
    };
    let libraries = counts(store, by, filter, &orgs).await?;
    Ok(CountsResponse { by, scope: scope(filter), libraries })
}

/// The funnel from need to landed transfer in the period.
pub async fn funnel_of(cx: &App, who: &Principal, filter: &StatsFilter) -> Result<FunnelResponse> {
    staff_only(who)?;
    let stages = funnel(cx.store.as_ref(), filter).await?;
    Ok(FunnelResponse { scope: scope(filter), ratios: stats::funnel_ratios(&stages), stages })
}

/// Contract amounts of the transfers signed in the period.
pub async fn contracts(cx: &App, who: &Principal, filter: &StatsFilter) -> Result<ContractsResponse> {
    staff_only(who)?;
    let transfers = signed_transfers(cx.store.as_ref(), filter).await?;
    Ok(ContractsResponse { scope: scope(filter), amounts: stats::amounts(&transfers) })
}

/// The managers' activity in the period.
pub async fn managers_of(cx: &App, who: &Principal, filter: &StatsFilter) -> Result<ManagersResponse> {
    staff_only(who)?;
    let transfers = signed_transfers(cx.store.as_ref(), filter).await?;
    let managers = managers(cx.store.as_ref(), filter, &transfers).await?;
    Ok(ManagersResponse { scope: scope(filter), managers })
}

/// The monthly report's sheets (heavy work: one of the permits).
pub async fn monthly(cx: &App, who: &Principal, filter: &StatsFilter) -> Result<Vec<Sheet>> {
    staff_only(who)?;
    let _permit = cx.heavy_permit("reports, imports and exports")?;
    report(cx.store.as_ref(), filter).await
}
