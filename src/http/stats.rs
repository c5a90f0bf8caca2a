//! Statistics for reporting (managers): routes that decode the period, call `app::reports` and
//! encode the figures, or the monthly report as CSV or XLSX.

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::PeriodParams;
use super::auth::{Auth, Staff};
use super::error::{ApiError, ErrorBody};
use crate::app::reports::{self, ContractsResponse, CountsResponse, FunnelResponse, ManagersResponse};
use crate::app::{App, Code, Error};
use crate::domain::stats::Dimension;
use crate::domain::vocab::TechField;
use crate::tabular::{XLSX_TYPE, xlsx};

/// Period, field and region of a statistic.
type FilterParams = PeriodParams;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CountParams {
    /// field, region, organisation or month (required).
    pub by: Option<Dimension>,
    /// First day, inclusive (YYYY-MM-DD, China Standard Time).
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
    pub field: Option<TechField>,
    /// Region prefix: 2, 4 or 6 digits.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The month, YYYY-MM.
    pub month: String,
    /// csv (default, UTF-8 with a byte-order mark so Excel reads the Chinese) or xlsx.
    pub format: Option<String>,
    pub field: Option<TechField>,
    pub region: Option<String>,
}

/// Counts of needs, achievements, dockings and transfers, grouped by field, region,
/// organisation or month.
#[utoipa::path(
    tag = "stats",
    params(CountParams),
    responses((status = 200, body = CountsResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/stats/counts")]
pub async fn get_counts(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<CountParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    let by = p.by.ok_or_else(|| {
        Error::new(Code::InvalidQuery, "say what to count by: `by=field`, `region`, `organisation` or `month`")
    })?;
    let filter = PeriodParams { from: p.from, to: p.to, field: p.field, region: p.region }.into_filter()?;
    Ok(HttpResponse::Ok().json(reports::count(&cx, &auth, by, &filter).await?))
}

/// The funnel from need to landed transfer: how often each stage was reached in the period,
/// the conversion rate from the stage before and the median days it took.
#[utoipa::path(
    tag = "stats",
    params(FilterParams),
    responses((status = 200, body = FunnelResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/stats/funnel")]
pub async fn get_funnel(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = params.into_filter()?;
    Ok(HttpResponse::Ok().json(reports::funnel_of(&cx, &auth, &filter).await?))
}

/// Contract amounts (万元, exact) of the transfers signed in the period, by contract type and
/// by field.
#[utoipa::path(
    tag = "stats",
    params(FilterParams),
    responses((status = 200, body = ContractsResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/stats/contracts")]
pub async fn get_contracts(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = params.into_filter()?;
    Ok(HttpResponse::Ok().json(reports::contracts(&cx, &auth, &filter).await?))
}

/// Each technology manager's activity in the period: docking events recorded, dockings acted
/// on, contracts signed on the dockings they drive and their amount.
#[utoipa::path(
    tag = "stats",
    params(FilterParams),
    responses((status = 200, body = ManagersResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/stats/managers")]
pub async fn get_managers(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = params.into_filter()?;
    Ok(HttpResponse::Ok().json(reports::managers_of(&cx, &auth, &filter).await?))
}

/// The monthly report (月度报表) of every figure above, as CSV or XLSX, for the month given.
#[utoipa::path(
    tag = "stats",
    params(ReportParams),
    responses(
        (status = 200, description = "text/csv or an XLSX workbook", content((String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/stats/report")]
pub async fn get_report(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = reports::month_period(&params.month)?;
    let period = PeriodParams {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        field: params.field,
        region: params.region.clone(),
    };
    let filter = period.into_filter()?;
    let sheets = reports::monthly(&cx, &auth, &filter).await?;
    let title = format!("科技大市场月度报表 {}", params.month.trim());
    let name = format!("techmarket-report-{}", params.month.trim());
    match params.format.as_deref().unwrap_or("csv") {
        "csv" => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}.csv\"")))
            .body(reports::to_csv(&title, &sheets))),
        "xlsx" => {
            let bytes = xlsx(&sheets).map_err(|e| {
                tracing::error!(error = %e, "writing the report workbook failed");
                Error::internal()
            })?;
            Ok(HttpResponse::Ok()
                .content_type(XLSX_TYPE)
                .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}.xlsx\"")))
                .body(bytes))
        }
        other => Err(Error::new(Code::InvalidQuery, format!("`format` must be csv or xlsx (got `{other}`)")).into()),
    }
}
