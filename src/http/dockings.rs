//! Routes of the docking library (项目对接库): decode, call `app::dockings`, encode.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::{AnyUser, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, optional_json, optional_version, parse_body, parse_id};
use crate::app::dockings::{self, AssignInput, BulkInput, DockingResponse, NewDocking, NoteInput, TransitionInput};
use crate::app::queries::{DockingFilter, Manager};
use crate::app::views::PageResponse;
use crate::app::{App, Code, Error};
use crate::domain::docking::{DockingAction, DockingState, ReasonCode};
use crate::domain::transfer::TransferInput;
use crate::domain::validate::region_prefix;
use crate::domain::vocab::TechField;

/// A docking's JSON with its version as `ETag`.
fn respond(status: StatusCode, view: DockingResponse) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::build(status).insert_header(("ETag", format!("\"{}\"", view.version))).json(view))
}

/// Query of a docking listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DockingListParams {
    /// One state or several separated by commas, e.g. `accepted,introduced`.
    pub state: Option<String>,
    pub need_id: Option<String>,
    pub achievement_id: Option<String>,
    /// Either side's organisation.
    pub org_id: Option<String>,
    /// The assigned manager's user id, or `me`.
    pub manager_id: Option<String>,
    /// The need's field.
    pub field: Option<TechField>,
    /// The need's region prefix (2, 4 or 6 digits).
    pub region: Option<String>,
    /// `recent` (default) or `score`.
    pub order: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl DockingListParams {
    fn into_filter(self) -> Result<DockingFilter, Error> {
        let bad = |message: String| Error::new(Code::InvalidQuery, message);
        let states = match &self.state {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| s.trim().parse::<DockingState>().map_err(|e| bad(format!("`state`: {e}"))))
                .collect::<Result<_, _>>()?,
        };
        let id = |what: &str, v: Option<String>| -> Result<Option<String>, Error> {
            v.map(|v| parse_id(what, &v).map(str::to_string)).transpose()
        };
        let manager = match self.manager_id {
            Some(me) if me == "me" => Some(Manager::Me),
            other => id("user", other)?.map(Manager::User),
        };
        let region_prefix = self
            .region
            .map(|r| region_prefix(&r).map(str::to_string).map_err(|e| bad(format!("`region`: {e}"))))
            .transpose()?;
        let by_score = match self.order.as_deref() {
            None | Some("recent") => false,
            Some("score") => true,
            Some(other) => return Err(bad(format!("`order`: `{other}` is not an order: use recent or score"))),
        };
        let offset = match self.cursor {
            None => 0,
            Some(c) => {
                c.parse::<u32>().map_err(|_| bad(format!("`cursor`: `{c}` is not a cursor from a previous page")))?
            }
        };
        let limit = match self.limit {
            None => DEFAULT_PAGE_SIZE,
            Some(n @ 1..=MAX_PAGE_SIZE) => n,
            Some(n) => return Err(bad(format!("`limit` must be 1 to {MAX_PAGE_SIZE} (got {n})"))),
        };
        Ok(DockingFilter {
            states,
            need_id: id("need", self.need_id)?,
            achievement_id: id("achievement", self.achievement_id)?,
            org_id: id("organisation", self.org_id)?,
            manager,
            field: self.field,
            region_prefix,
            by_score,
            offset,
            limit,
        })
    }
}

/// List dockings: managers see all (filter by need, achievement, organisation, state, manager,
/// field, region); enterprises and universities see their own from `accepted` on.
#[utoipa::path(
    tag = "dockings",
    params(DockingListParams),
    responses((status = 200, body = PageResponse<DockingResponse>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/dockings")]
pub async fn list_dockings(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    params: web::Query<DockingListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.into_inner().into_filter()?;
    let page = dockings::list(&cx, &auth, &query).await?;
    Ok(HttpResponse::Ok().json(PageResponse::from(page)))
}

/// The review queue: suggested dockings of open records, best first (managers only). Filters as
/// for the list; `manager_id=me` shows the ones assigned to you.
#[utoipa::path(
    tag = "dockings",
    params(DockingListParams),
    responses((status = 200, body = PageResponse<DockingResponse>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/dockings/queue")]
pub async fn review_queue(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    params: web::Query<DockingListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut params = params.into_inner();
    if params.state.is_some() || params.order.is_some() {
        return Err(Error::new(
            Code::InvalidQuery,
            "the queue holds suggested dockings, best first: use GET /api/v1/dockings for other states or orders",
        )
        .into());
    }
    params.state = Some("suggested".into());
    params.order = Some("score".into());
    let query = params.into_filter()?;
    let page = dockings::queue(&cx, &auth, &query).await?;
    Ok(HttpResponse::Ok().json(PageResponse::from(page)))
}

/// Read one docking with its history and the actions you may take.
#[utoipa::path(
    tag = "dockings",
    params(("id" = String, Path, description = "Docking id")),
    responses((status = 200, body = DockingResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/dockings/{id}")]
pub async fn get_docking(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if id.as_str() == "bulk" {
        // POST /dockings/bulk's path, read with GET: the route exists, the method does not.
        return Err(Error::new(Code::MethodNotAllowed, "/api/v1/dockings/bulk does not accept GET; it accepts POST")
            .with_allow("POST")
            .into());
    }
    let id = parse_id("docking", &id)?;
    respond(StatusCode::OK, dockings::get(&cx, &auth, id).await?)
}

/// Pair a need with an achievement by hand (managers only). It starts `accepted`, assigned to
/// you, with the matcher's explanation of the pair; a pair with an open docking gets 409.
#[utoipa::path(
    tag = "dockings",
    request_body = NewDocking,
    responses(
        (status = 201, body = DockingResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The pair has an open docking", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/dockings")]
pub async fn create_docking(
    cx: web::Data<App>,
    auth: Auth<Staff>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input: NewDocking = parse_body(body.into_inner())?;
    parse_id("need", &input.need_id)?;
    parse_id("achievement", &input.achievement_id)?;
    respond(StatusCode::CREATED, dockings::create(&cx, &auth, input).await?)
}

/// Move a docking along its workflow: accept, reject, introduce, negotiate, sign, fail or
/// withdraw.
///
/// Managers take every action; the parties may only withdraw. Rejecting and failing need a
/// reason code (reason `other` also a note). An action the state does not allow gets 409 with
/// the allowed ones in `details.allowed`. Introducing discloses each party's contact to the
/// other.
#[utoipa::path(
    tag = "dockings",
    params(("id" = String, Path, description = "Docking id"), ("action" = DockingAction, Path, description = "The action")),
    request_body(content = ActionBody, description = "Optional for actions without a reason. Each action takes some of these fields: the transitions `reason`, `note`, `version` and (to sign) `contract`; assign `manager_id` and `note`; notes `note`; interest none. A field another action takes is refused with 422 `field_not_allowed`."),
    responses(
        (status = 200, body = DockingResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not allowed from this state (`details.allowed`), or a stale version", body = ErrorBody),
        (status = 422, description = "A reason code or note is missing", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/dockings/{id}/{action}")]
pub async fn act_on_docking(
    cx: web::Data<App>,
    auth: Auth<AnyUser>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let body = optional_json(&req, &body)?;
    // Found (404), then allowed (403 in each action), then the body.
    let id = parse_id("docking", &id)?;
    let found = dockings::find(&cx, &auth, id).await?;
    check_action_fields(&action, &body)?;
    match action.as_str() {
        "assign" => {
            let input = required_field(&body, "manager_id", "assign")
                .and_then(|_| parse_body::<AssignInput>(body))
                .and_then(|input| parse_id("user", &input.manager_id).map(|_| ()).map(|_| input));
            return respond(StatusCode::OK, dockings::assign(&cx, &auth, found, input).await?);
        }
        "notes" => {
            let input = required_field(&body, "note", "add a note").and_then(|_| parse_body::<NoteInput>(body));
            return respond(StatusCode::OK, dockings::note(&cx, &auth, found, input).await?);
        }
        "interest" => return respond(StatusCode::OK, dockings::interest(&cx, &auth, found).await?),
        _ => {}
    }
    let action: DockingAction = action.parse().map_err(|_| {
        Error::new(Code::RouteNotFound,
            format!(
                "`{action}` is not a docking action: use accept, reject, introduce, negotiate, sign, fail, withdraw, assign, notes or interest"
            ),
        )
    })?;
    let input: TransitionInput = parse_body(body)?;
    let expected = optional_version(&req)?.or(input.version);
    respond(StatusCode::OK, dockings::transition(&cx, &auth, dockings::Move { found, action, input, expected }).await?)
}

/// The body of a docking action, as the document describes it: the fields all actions take
/// between them (each action reads its own; see `check_action_fields`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ActionBody {
    /// Reject or fail: field_mismatch, trl_too_low, budget_gap, cooperation_mismatch,
    /// already_solved, party_unresponsive, duplicate, other.
    pub reason: Option<ReasonCode>,
    /// Required with reason `other`, and for notes (1 to 2000 characters).
    pub note: Option<String>,
    /// The version you read (or send `If-Match`); optional.
    pub version: Option<i64>,
    /// Sign: the contract, which becomes the transfer record in the same write.
    pub contract: Option<TransferInput>,
    /// Assign: a technology manager's user id.
    #[schema(pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub manager_id: Option<String>,
}

/// Each action reads some of the fields of `ActionBody`: one that is not a field of any action is
/// a malformed body (400); one that another action takes is refused by name (422).
fn check_action_fields(action: &str, body: &Value) -> Result<(), Error> {
    const ALL: [&str; 5] = ["reason", "note", "version", "contract", "manager_id"];
    let takes: &[&str] = match action {
        "assign" => &["manager_id", "note"],
        "notes" => &["note"],
        "interest" => &[],
        _ => &["reason", "note", "version", "contract"],
    };
    let Value::Object(map) = body else {
        return Err(Error::new(Code::InvalidBody, "the body must be a JSON object"));
    };
    for key in map.keys() {
        if !ALL.contains(&key.as_str()) {
            return Err(Error::new(
                Code::UnknownField,
                format!("`{key}`: unknown field; a docking action takes {}", ALL.join(", ")),
            )
            .with_details(serde_json::json!({ "field": key })));
        }
        if !takes.contains(&key.as_str()) {
            let takes = if takes.is_empty() { "no fields".to_string() } else { takes.join(", ") };
            return Err(Error::new(
                Code::FieldNotAllowed,
                format!("`{key}` does not apply to {action}; it takes {takes}"),
            )
            .with_details(serde_json::json!({ "field": key })));
        }
    }
    Ok(())
}

/// A field an action needs, refused by name when it is missing (the body's schema, shared by
/// every action, cannot require it).
fn required_field(body: &Value, field: &str, action: &str) -> Result<(), Error> {
    if body.get(field).is_none_or(Value::is_null) {
        return Err(Error::new(Code::FieldRequired, format!("`{field}` is required to {action}"))
            .with_details(serde_json::json!({ "field": field })));
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub id: String,
    /// The new state, when it worked.
    pub state: Option<DockingState>,
    pub error: Option<super::error::ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<BulkResult>,
}

/// Accept or reject suggested dockings in bulk (managers only). Each id succeeds or fails on its
/// own; the response says which and why.
#[utoipa::path(
    tag = "dockings",
    request_body = BulkInput,
    responses((status = 200, body = BulkResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/dockings/bulk")]
pub async fn bulk_review(
    req: actix_web::HttpRequest,
    cx: web::Data<App>,
    auth: Auth<Staff>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let language = super::error::language_of(&req);
    let input: BulkInput = parse_body(body.into_inner())?;
    let results = dockings::bulk(&cx, &auth, input).await?;
    let results: Vec<BulkResult> = results
        .into_iter()
        .map(|(id, outcome)| match outcome {
            Ok(state) => BulkResult { id, state: Some(state), error: None },
            Err(e) => BulkResult { id, state: None, error: Some(ApiError::from(e).body(None, language).error) },
        })
        .collect();
    let succeeded = results.iter().filter(|r| r.state.is_some()).count();
    Ok(HttpResponse::Ok().json(BulkResponse { succeeded, failed: results.len() - succeeded, results }))
}
