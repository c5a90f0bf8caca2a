//! Statistics for reporting, computed from the records and the docking events (never typed in):
//! counts by field, region, organisation and month; the funnel from need to landed transfer
//! with conversion rates and median days between stages; contract amounts; each manager's
//! activity. The database does the grouping; this module turns its rows into the figures.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::docking::DockingSource;
use super::market_offset;
use super::transfer::{ContractType, Transfer};
use super::validate::Wan;
use super::vocab::{TechField, VocabularyEntry, vocabulary};

vocabulary!(
    /// What counts are grouped by.
    Dimension {
        Field => ("field", "技术领域"),
        Region => ("region", "地区"),
        Organisation => ("organisation", "单位"),
        Month => ("month", "月份"),
    }
);

vocabulary!(
    /// The four libraries of the city's plan.
    StatsLibrary {
        Needs => ("needs", "企业需求库"),
        Achievements => ("achievements", "高校成果库"),
        Dockings => ("dockings", "项目对接库"),
        Transfers => ("transfers", "落地转化库"),
    }
);

vocabulary!(
    /// The stages of the funnel, in order.
    FunnelStep {
        Need => ("need", "发布需求"),
        Suggested => ("suggested", "系统推荐"),
        Accepted => ("accepted", "经理人确认"),
        Introduced => ("introduced", "引荐对接"),
        Signed => ("signed", "签约"),
        Landed => ("landed", "落地转化"),
    }
);

/// Which records the figures cover. Periods are whole days of China Standard Time (UTC+8),
/// the market's calendar; months are too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsFilter {
    /// First day, inclusive.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    pub to: Option<NaiveDate>,
    pub field: Option<TechField>,
    /// 2, 4 or 6 digits of an administrative division code.
    pub region_prefix: Option<String>,
    /// Needs and achievements: count only the expired ones (the figures show them apart).
    pub expired_only: bool,
}

impl StatsFilter {
    /// The period as stored timestamps (microseconds): [start of `from`, start of the day after `to`).
    pub fn micros_range(&self) -> (Option<i64>, Option<i64>) {
        let start = |d: NaiveDate| -> i64 {
            market_offset()
                .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
                .single()
                .map(|t| t.with_timezone(&Utc).timestamp_micros())
                .unwrap_or(i64::MIN)
        };
        (self.from.map(start), self.to.and_then(|d| d.succ_opt()).map(start))
    }

    /// Whether a moment falls in the period.
    pub fn contains_at(&self, at: i64) -> bool {
        let (from, to) = self.micros_range();
        from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
    }

    /// Whether a date falls in the period.
    pub fn contains_date(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| date >= f) && self.to.is_none_or(|t| date <= t)
    }
}

/// A docking with the moments it reached each stage, as the events record them.
#[derive(Debug, Clone, PartialEq)]
pub struct DockingFacts {
    pub id: String,
    pub need_id: String,
    pub source: DockingSource,
    pub manager_id: Option<String>,
    pub need_created_at: i64,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
    pub introduced_at: Option<i64>,
    pub signed_at: Option<i64>,
    pub landed_on: Option<NaiveDate>,
    pub signed_on: Option<NaiveDate>,
}

/// One group of a count.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CountRow {
    /// The field or month code, region code or organisation id.
    pub key: String,
    /// Its Chinese label (the field's name, the region's or organisation's name).
    pub label: String,
    pub count: i64,
}

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunnelStage {
    pub stage: FunnelStep,
    pub label: &'static str,
    /// How often the stage was reached in the period (needs posted, dockings suggested, ...).
    pub count: i64,
    /// A share in 0..1: of what reached the previous stage in the period, the part that has
    /// reached this stage since (by now). For `suggested`, the share of the needs posted in the
    /// period with at least one suggestion; for `accepted`, of the suggestions made in the
    /// period, those a manager accepted; then introduced of accepted, signed of introduced,
    /// landed of signed. Null for the first stage, or when the previous stage's cohort is empty.
    pub conversion_rate: Option<f64>,
    /// How many of the previous stage's cohort `conversion_rate` is a share of.
    pub cohort: Option<i64>,
    /// Median days from the previous stage to this one, over the dockings that reached this
    /// stage in the period; null when none did.
    pub median_days: Option<f64>,
}

/// Suggestions made in the period per need posted in it: a ratio, not a rate (a need has
/// several suggestions).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunnelRatios {
    pub suggestions_per_need: Option<f64>,
}

/// Counts each stage reached within the period and the median days from the stage before.
/// Suggestions count from the need's posting; acceptance from the suggestion (manual dockings
/// start accepted and take no part in that median); contracts fall in the period of their
/// signing date (the median runs from introduction to the signing's event); landing counts
/// by the 量产/产业化 milestone's date, its median from the signing date. Each stage's
/// `conversion_rate` follows the previous stage's cohort (see `FunnelStage`), so it lies in 0..1.
pub fn funnel(needs_posted: i64, dockings: &[DockingFacts], filter: &StatsFilter) -> Vec<FunnelStage> {
    let day = 86_400_000_000.0;
    let suggested_source = |d: &&DockingFacts| d.source == DockingSource::Suggested;
    // Stage counts and their medians.
    let mut counts = [needs_posted, 0, 0, 0, 0, 0];
    let mut days: [Vec<f64>; 6] = Default::default();
    // Cohorts: (reached the previous stage in the period, and reached this one since).
    let mut cohorts = [(0i64, 0i64); 6];
    let mut needs_suggested = std::collections::HashSet::new();
    for d in dockings {
        let signed = d.signed_on.is_some() || d.signed_at.is_some();
        if Some(d).filter(suggested_source).is_some() {
            if filter.contains_at(d.need_created_at) {
                needs_suggested.insert(d.need_id.as_str());
            }
            if filter.contains_at(d.created_at) {
                counts[1] += 1;
                days[1].push((d.created_at - d.need_created_at) as f64 / day);
                cohorts[2].0 += 1;
                cohorts[2].1 += i64::from(d.accepted_at.is_some());
            }
        }
        if let Some(at) = d.accepted_at.filter(|at| filter.contains_at(*at)) {
            counts[2] += 1;
            if d.source == DockingSource::Suggested {
                days[2].push((at - d.created_at) as f64 / day);
            }
            cohorts[3].0 += 1;
            cohorts[3].1 += i64::from(d.introduced_at.is_some());
        }
        if let Some(at) = d.introduced_at.filter(|at| filter.contains_at(*at)) {
            counts[3] += 1;
            if let Some(before) = d.accepted_at {
                days[3].push((at - before) as f64 / day);
            }
            cohorts[4].0 += 1;
            cohorts[4].1 += i64::from(signed);
        }
        // A contract counts in the period of its signing date, as in the contract amounts.
        if d.signed_on.is_some_and(|on| filter.contains_date(on)) {
            counts[4] += 1;
            if let (Some(before), Some(at)) = (d.introduced_at, d.signed_at) {
                days[4].push((at - before) as f64 / day);
            }
            cohorts[5].0 += 1;
            cohorts[5].1 += i64::from(d.landed_on.is_some());
        }
        if let Some(on) = d.landed_on.filter(|on| filter.contains_date(*on)) {
            counts[5] += 1;
            if let Some(signed_on) = d.signed_on {
                days[5].push((on - signed_on).num_days() as f64);
            }
        }
    }
    // A need posted in the period may have been made private since: it is no longer counted
    // as posted, and its suggestions are not counted as reaching it.
    cohorts[1] = (needs_posted, (needs_suggested.len() as i64).min(needs_posted));
    let steps = [
        FunnelStep::Need,
        FunnelStep::Suggested,
        FunnelStep::Accepted,
        FunnelStep::Introduced,
        FunnelStep::Signed,
        FunnelStep::Landed,
    ];
    steps
        .into_iter()
        .enumerate()
        .map(|(i, stage)| {
            let (cohort, reached) = cohorts[i];
            let first = i == 0;
            FunnelStage {
                stage,
                label: stage.label(),
                count: counts[i],
                conversion_rate: (!first && cohort > 0).then(|| round(reached as f64 / cohort as f64, 4)),
                cohort: (!first).then_some(cohort),
                median_days: median(&mut days[i]).map(|m| round(m, 2)),
            }
        })
        .collect()
}

/// Suggestions per need posted in the period.
pub fn funnel_ratios(stages: &[FunnelStage]) -> FunnelRatios {
    let posted = stages.first().map(|s| s.count).unwrap_or(0);
    let suggested = stages.get(1).map(|s| s.count).unwrap_or(0);
    FunnelRatios { suggestions_per_need: (posted > 0).then(|| round(suggested as f64 / posted as f64, 4)) }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Contracts of one group: how many and their amount, exact.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AmountRow {
    pub key: String,
    pub label: String,
    pub contracts: i64,
    /// 万元, two decimals.
    pub amount: String,
    #[serde(skip)]
    pub hundredths: i64,
}

/// Contract amounts by type and by field, and in total.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Amounts {
    pub by_type: Vec<AmountRow>,
    pub by_field: Vec<AmountRow>,
    pub contracts: i64,
    /// 万元, two decimals.
    pub total: String,
}

/// Sums the contracts signed in the period (the caller passes them).
pub fn amounts(transfers: &[Transfer]) -> Amounts {
    let mut by_type: BTreeMap<&'static str, (ContractType, i64, i64)> = BTreeMap::new();
    let mut by_field: BTreeMap<&'static str, (TechField, i64, i64)> = BTreeMap::new();
    let mut total = 0;
    for t in transfers {
        let h = t.content.amount.hundredths();
        total += h;
        let entry = by_type.entry(t.content.contract_type.code()).or_insert((t.content.contract_type, 0, 0));
        entry.1 += 1;
        entry.2 += h;
        let entry = by_field.entry(t.field.code()).or_insert((t.field, 0, 0));
        entry.1 += 1;
        entry.2 += h;
    }
    let row = |key: &str, label: &str, contracts: i64, h: i64| AmountRow {
        key: key.to_string(),
        label: label.to_string(),
        contracts,
        amount: Wan::from_hundredths(h).to_string(),
        hundredths: h,
    };
    // Every contract type is listed, with zeros, as a registration form would.
    let by_type = ContractType::ALL
        .iter()
        .map(|c| {
            let (_, n, h) = by_type.get(c.code()).copied().unwrap_or((*c, 0, 0));
            row(c.code(), c.label(), n, h)
        })
        .collect();
    let mut by_field: Vec<AmountRow> = by_field.values().map(|(f, n, h)| row(f.code(), f.label(), *n, *h)).collect();
    by_field.sort_by(|a, b| b.hundredths.cmp(&a.hundredths).then_with(|| a.key.cmp(&b.key)));
    Amounts { by_type, by_field, contracts: transfers.len() as i64, total: Wan::from_hundredths(total).to_string() }
}

/// What one technology manager did in the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ManagerActivity {
    pub manager_id: String,
    pub name: String,
    /// Docking events the manager recorded (transitions, notes, assignments).
    pub actions: i64,
    /// Distinct dockings the manager acted on.
    pub dockings: i64,
    /// Contracts signed in the period on dockings the manager drives.
    pub signed: i64,
    /// Their amount, 万元.
    pub amount: String,
}

/// Joins the managers' event counts with the contracts of their dockings.
pub fn manager_activity(
    events: &[(String, i64, i64)],
    transfers: &[Transfer],
    names: &BTreeMap<String, String>,
) -> Vec<ManagerActivity> {
    let mut rows: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    for (id, actions, dockings) in events {
        let e = rows.entry(id.clone()).or_default();
        e.0 += actions;
        e.1 += dockings;
    }
    for t in transfers {
        if let Some(m) = &t.manager_id {
            let e = rows.entry(m.clone()).or_default();
            e.2 += 1;
            e.3 += t.content.amount.hundredths();
        }
    }
    let mut out: Vec<ManagerActivity> = rows
        .into_iter()
        .map(|(id, (actions, dockings, signed, h))| ManagerActivity {
            name: names.get(&id).cloned().unwrap_or_default(),
            manager_id: id,
            actions,
            dockings,
            signed,
            amount: Wan::from_hundredths(h).to_string(),
        })
        .collect();
    out.sort_by(|a, b| {
        b.signed.cmp(&a.signed).then(b.actions.cmp(&a.actions)).then_with(|| a.manager_id.cmp(&b.manager_id))
    });
    out
}

/// A stored timestamp's month on the market's calendar, as the database groups it.
pub fn month_of(at: DateTime<Utc>) -> String {
    at.with_timezone(&market_offset()).format("%Y-%m").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(y: i32, m: u32, d: u32, h: u32) -> i64 {
        market_offset().with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&Utc).timestamp_micros()
    }

    fn facts(created: i64, accepted: Option<i64>, introduced: Option<i64>, signed: Option<i64>) -> DockingFacts {
        DockingFacts {
            id: "d".into(),
            need_id: "n".into(),
            source: DockingSource::Suggested,
            manager_id: None,
            need_created_at: created - 86_400_000_000,
            created_at: created,
            accepted_at: accepted,
            introduced_at: introduced,
            signed_at: signed,
            landed_on: None,
            signed_on: signed
                .and_then(DateTime::from_timestamp_micros)
                .map(|t| t.with_timezone(&market_offset()).date_naive()),
        }
    }

    #[test]
    fn periods_are_whole_days_of_china_standard_time() {
        let november = StatsFilter {
            from: NaiveDate::from_ymd_opt(2026, 11, 1),
            to: NaiveDate::from_ymd_opt(2026, 11, 30),
            ..StatsFilter::default()
        };
        // 2026-11-01 00:30 in Dongying is still October 31st in UTC.
        assert!(november.contains_at(micros(2026, 11, 1, 0)));
        assert!(november.contains_at(micros(2026, 11, 30, 23)));
        assert!(!november.contains_at(micros(2026, 12, 1, 0)));
        assert!(!november.contains_at(micros(2026, 10, 31, 23)));
        let at = DateTime::from_timestamp_micros(micros(2026, 11, 1, 0)).unwrap();
        assert_eq!(month_of(at), "2026-11");
    }

    #[test]
    fn the_funnel_counts_stages_reached_in_the_period_with_rates_and_medians() {
        let day = 86_400_000_000;
        let t0 = micros(2026, 11, 2, 10);
        let dockings = [
            facts(t0, Some(t0 + day), Some(t0 + 3 * day), Some(t0 + 10 * day)),
            facts(t0, Some(t0 + 3 * day), None, None),
            facts(t0, None, None, None),
            facts(t0, None, None, None),
        ];
        let all = funnel(8, &dockings, &StatsFilter::default());
        let counts: Vec<i64> = all.iter().map(|s| s.count).collect();
        assert_eq!(counts, [8, 4, 2, 1, 1, 0]);
        assert_eq!(all[0].conversion_rate, None);
        // One need of the eight had suggestions (all four dockings are of need "n").
        assert_eq!((all[1].cohort, all[1].conversion_rate), (Some(8), Some(0.125)));
        assert_eq!((all[2].cohort, all[2].conversion_rate), (Some(4), Some(0.5)));
        assert_eq!((all[3].cohort, all[3].conversion_rate), (Some(2), Some(0.5)));
        assert_eq!((all[4].cohort, all[4].conversion_rate), (Some(1), Some(1.0)));
        assert_eq!((all[5].cohort, all[5].conversion_rate), (Some(1), Some(0.0)));
        assert_eq!(all[2].median_days, Some(2.0), "acceptance after 1 and 3 days");
        assert_eq!(all[3].median_days, Some(2.0));
        assert_eq!(all[4].median_days, Some(7.0));
        assert_eq!(all[5].median_days, None);
        assert_eq!(funnel_ratios(&all).suggestions_per_need, Some(0.5));
        // Four suggestions for one need posted: the ratio is above 1, every rate stays in 0..1.
        let one = funnel(1, &dockings, &StatsFilter::default());
        assert_eq!(funnel_ratios(&one).suggestions_per_need, Some(4.0));
        assert!(one.iter().filter_map(|s| s.conversion_rate).all(|r| (0.0..=1.0).contains(&r)));
        let december = StatsFilter { from: NaiveDate::from_ymd_opt(2026, 12, 1), ..StatsFilter::default() };
        let later = funnel(0, &dockings, &december);
        assert_eq!(later.iter().map(|s| s.count).collect::<Vec<_>>(), [0, 0, 0, 0, 0, 0]);
        assert_eq!(later[1].conversion_rate, None, "no rate over an empty stage");
    }
}
