//! The OpenAPI 3 document. Paths and schemas are collected from the routes as they are
//! registered (utoipa-actix-web), so the document cannot drift from what the service accepts.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "techmarket API",
        description = "A city technology market (科技大市场): enterprise needs (企业需求库), university achievements (高校成果库), dockings (项目对接库) and transfers (落地转化库). Every error has the shape {\"error\": {\"code\", \"message\", \"details\", \"request_id\"}}.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "needs", description = "企业需求库"),
        (name = "achievements", description = "高校成果库"),
        (name = "search", description = "Chinese full-text search, dictionary, index health"),
        (name = "admin", description = "Organisations, users, tokens"),
        (name = "sessions", description = "Signing in with a login and a password, sessions, passwords"),
        (name = "joining", description = "Applications to join the market (入驻申请) and their review"),
        (name = "audit", description = "The audit log: who did or tried what, when, from where"),
        (name = "notifications", description = "Inbox, webhook subscriptions (generic, 企业微信, 钉钉, 飞书) and their deliveries"),
        (name = "meta", description = "Vocabularies and health"),
        (name = "dockings", description = "项目对接库"),
        (name = "transfers", description = "落地转化库"),
        (name = "imports", description = "Bulk import with a dry run, templates, exports"),
        (name = "stats", description = "Statistics for reporting, computed from records and events"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token issued by an admin (tm_...)"))
                    .build(),
            ),
        );
    }
}

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr, Required};

/// An id as the service issues them (a hyphenated UUID).
pub const ID_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const REGION_PATTERN: &str = "^([0-9]{2}|[0-9]{4}|[0-9]{6})$";
const DOCKING_STATES: &str = "suggested|accepted|rejected|introduced|negotiating|signed|failed|withdrawn";

fn text(pattern: Option<&str>, max_length: Option<usize>) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new().schema_type(Type::String);
    if let Some(p) = pattern {
        b = b.pattern(Some(p));
    }
    if let Some(n) = max_length {
        b = b.max_length(Some(n));
    }
    b.into()
}

fn one_of(values: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied())).into()
}

fn whole(min: i64, max: i64) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max)).into()
}

fn date() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))).into()
}

fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
        .into()
}

/// The exact contract of one parameter, by name and route: what the handlers accept, no more and
/// no less (ids, codes, patterns, bounds), so that a client generated from the document sends
/// only what the service takes and a fuzzer can tell a contract violation (400) from a broken
/// rule between valid values (422).
fn parameter_schema(path: &str, p: &Parameter) -> Option<RefOr<Schema>> {
    let id = || text(Some(ID_PATTERN), None);
    Some(match (p.parameter_in.clone(), p.name.as_str()) {
        (ParameterIn::Path, "id") => id(),
        (ParameterIn::Path, "action") if path.starts_with("/api/v1/dockings") => one_of(&[
            "accept",
            "reject",
            "introduce",
            "negotiate",
            "sign",
            "fail",
            "withdraw",
            "assign",
            "notes",
            "interest",
        ]),
        (ParameterIn::Path, "action") if path.starts_with("/api/v1/applications") => one_of(&["approve", "reject"]),
        (ParameterIn::Path, "action") => one_of(&["close", "withdraw", "reopen", "renew"]),
        (ParameterIn::Path, "seq") => text(Some("^[1-9][0-9]{0,17}$"), None),
        (ParameterIn::Query, "cursor") if path.starts_with("/api/v1/notifications") => {
            text(Some("^[ur]-[0-9]{1,18}$"), None)
        }
        (ParameterIn::Query, "cursor") if path.starts_with("/api/v1/subscriptions") => {
            text(Some("^[0-9]{1,18}$"), None)
        }
        (ParameterIn::Path, "file") => one_of(&["needs.xlsx", "achievements.xlsx"]),
        (ParameterIn::Path, "library") => one_of(&["needs", "achievements"]),
        (ParameterIn::Header, "If-Match") => text(Some("^(W/)?\"?[0-9]{1,18}\"?$"), None),
        (ParameterIn::Query, "need_id" | "achievement_id" | "docking_id" | "org_id") => id(),
        (ParameterIn::Query, "manager_id") => {
            text(Some(&format!("^(me|{})$", &ID_PATTERN[1..ID_PATTERN.len() - 1])), None)
        }
        (ParameterIn::Query, "cursor")
            if path.starts_with("/api/v1/dockings") || path.starts_with("/api/v1/transfers") =>
        {
            text(Some("^[0-9]{1,9}$"), None)
        }
        (ParameterIn::Query, "cursor") if path.starts_with("/api/v1/audit") => text(Some("^[1-9][0-9]{0,17}$"), None),
        (ParameterIn::Query, "outcome") => one_of(&["ok", "denied", "failed"]),
        (ParameterIn::Query, "record") => id(),
        (ParameterIn::Query, "actor") => text(None, Some(100)),
        (ParameterIn::Query, "cursor") => id(),
        (ParameterIn::Query, "region") => text(Some(REGION_PATTERN), None),
        (ParameterIn::Query, "library") if path == "/api/v1/stats/counts" => return None,
        (ParameterIn::Query, "library") => one_of(&["needs", "achievements"]),
        (ParameterIn::Query, "limit") if path.ends_with("/matches") || path == "/api/v1/search" => whole(1, 50),
        (ParameterIn::Query, "limit") => whole(1, 100),
        (ParameterIn::Query, "page") => whole(1, 1000),
        (ParameterIn::Query, "trl_min" | "trl_max") => whole(1, 9),
        (ParameterIn::Query, "q") => text(None, Some(100)),
        (ParameterIn::Query, "sort") => one_of(&["relevance", "newest"]),
        (ParameterIn::Query, "order") => one_of(&["recent", "score"]),
        (ParameterIn::Query, "state") => text(Some(&format!("^({DOCKING_STATES})(,({DOCKING_STATES}))*$")), None),
        (ParameterIn::Query, "from" | "to") => date(),
        (ParameterIn::Query, "month") => text(Some("^[0-9]{4}-(0[1-9]|1[0-2])$"), None),
        (ParameterIn::Query, "updated_since") => date(),
        (ParameterIn::Query, "format") if path == "/api/v1/stats/report" => one_of(&["csv", "xlsx"]),
        (ParameterIn::Query, "format") => one_of(&["csv", "xlsx", "jsonl"]),
        (ParameterIn::Query, "encoding") => one_of(&["utf-8", "gbk"]),
        (ParameterIn::Query, "dry_run") => one_of(&["true", "false"]),
        (ParameterIn::Query, "on_error") => one_of(&["abort", "skip"]),
        (ParameterIn::Query, "filename") => text(None, Some(255)),
        _ => return None,
    })
}

/// Brings the collected document to the exact contract: parameter schemas as above, and every
/// status each operation can answer with the error envelope (401 where a token is needed, 400
/// where a parameter or body can be malformed, 404 where an id names a record, 413/415/422 for
/// JSON bodies, 503 for heavy work).
pub fn tighten(doc: &mut utoipa::openapi::OpenApi) {
    create_bodies(doc);
    if let Some(components) = doc.components.as_mut() {
        for schema in components.schemas.values_mut() {
            id_properties(schema);
        }
        if let Some(RefOr::T(Schema::Object(detail))) = components.schemas.get_mut("ErrorDetail") {
            detail.properties.insert("code".to_string(), error_codes());
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops: [(bool, &mut Option<Operation>); 5] = [
            (false, &mut item.get),
            (true, &mut item.post),
            (true, &mut item.put),
            (true, &mut item.patch),
            (true, &mut item.delete),
        ];
        for (writes, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            let mut statuses: Vec<(&str, &str)> = Vec::new();
            if writes {
                statuses.push(("507", "The database's storage is full: nothing was saved; retry after space is freed"));
            }
            // One listing type serves both libraries; each library's route lists its own filters.
            if let Some(params) = op.parameters.as_mut() {
                params.retain(|p| match path.as_str() {
                    "/api/v1/needs" => p.name != "trl_min",
                    "/api/v1/achievements" => p.name != "need_type",
                    "/api/v1/dockings/queue" => p.name != "state" && p.name != "order",
                    _ => true,
                });
            }
            for p in op.parameters.iter_mut().flatten() {
                if let Some(schema) = parameter_schema(path, p) {
                    p.schema = Some(schema);
                }
                if p.name == "by" {
                    p.required = Required::True;
                }
                statuses.push(("400", "A parameter does not fit the contract"));
                if p.parameter_in == ParameterIn::Path && p.name == "id" {
                    statuses.push(("404", "No such record, or not one you may see"));
                }
            }
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                statuses.push(("401", "Not signed in: send `Authorization: Bearer tm_...` (an API token) or `tms_...` (a session), or the session cookie"));
                statuses.push(("403", "Your role may not do this"));
            }
            if op.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query) {
                statuses.push((
                    "422",
                    "Parameters that are each valid conflict (`from` after `to`, `trl_min` above `trl_max`)",
                ));
            }
            let json_body = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
            if json_body || path.ends_with("/{action}") {
                statuses.push(("400", "The body is not JSON or does not fit the schema"));
                statuses.push(("413", "The body is too large"));
                statuses.push(("415", "The body is not sent as application/json"));
                statuses.push(("422", "The body breaks a rule (the details name each field)"));
            }
            if path == "/api/v1/imports" {
                statuses.push(("413", "The file is past a cap (bytes, rows, cells, unpacked size)"));
                statuses.push(("415", "Not a file format the import reads"));
            }
            let heavy = path.starts_with("/api/v1/exports")
                || path == "/api/v1/imports"
                || path == "/api/v1/stats/report"
                || path == "/api/v1/admin/index/rebuild";
            if heavy {
                statuses
                    .push(("503", "As many heavy requests as allowed are running; retry after `Retry-After` seconds"));
            }
            for (status, description) in statuses {
                op.responses.responses.entry(status.to_string()).or_insert_with(|| error(description));
            }
        }
    }
}

/// The bodies that create a need or an achievement, with the fields a create must have. One
/// input type serves create and partial update (where every field is optional), so each create
/// gets a schema of its own: the input's, with these fields required and not null. The lists
/// are the domain's (`NeedContent::parse`, `AchievementContent::parse`); a test posts each body
/// without each field and expects the server to refuse it.
pub const CREATE_BODIES: [(&str, &str, &str, &[&str]); 2] = [
    ("/api/v1/needs", "NeedInput", "NeedCreate", &["title", "description", "field", "need_type", "region"]),
    (
        "/api/v1/achievements",
        "AchievementInput",
        "AchievementCreate",
        &["title", "abstract", "field", "achievement_type"],
    ),
];

fn create_bodies(doc: &mut utoipa::openapi::OpenApi) {
    for (path, input, create, required) in CREATE_BODIES {
        let Some(components) = doc.components.as_mut() else { return };
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(input) else { continue };
        let mut object = object.clone();
        for name in required {
            if let Some(property) = object.properties.get_mut(*name) {
                *property = not_null(property.clone());
            }
        }
        object.required = required.iter().map(|r| r.to_string()).collect();
        object.description = Some(format!(
            "{} To create one, {} are required.",
            object.description.unwrap_or_default(),
            required.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
        ));
        components.schemas.insert(create.to_string(), RefOr::T(Schema::Object(object)));
        if let Some(body) =
            doc.paths.paths.get_mut(path).and_then(|item| item.post.as_mut()).and_then(|op| op.request_body.as_mut())
            && let Some(content) = body.content.get_mut("application/json")
        {
            content.schema = Some(RefOr::Ref(Ref::from_schema_name(create)));
            body.required = Some(Required::True);
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

/// The schema without its `null` alternative.
fn not_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                object.schema_type = match kept.as_slice() {
                    [one] => SchemaType::Type(one.clone()),
                    _ => SchemaType::Array(kept),
                };
            }
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::OneOf(mut one)) => {
            one.items.retain(|item| !is_null(item));
            if one.items.len() == 1 { one.items.remove(0) } else { RefOr::T(Schema::OneOf(one)) }
        }
        other => other,
    }
}

/// Properties that carry an id the service issued get the id pattern, wherever they appear.
fn id_properties(schema: &mut RefOr<Schema>) {
    const ID_FIELDS: [&str; 7] =
        ["need_id", "achievement_id", "docking_id", "org_id", "manager_id", "user_id", "transfer_id"];
    let RefOr::T(Schema::Object(object)) = schema else { return };
    for (name, property) in object.properties.iter_mut() {
        if !ID_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if let RefOr::T(Schema::Object(p)) = property
            && p.pattern.is_none()
        {
            p.pattern = Some(ID_PATTERN.to_string());
        }
    }
    if let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut("ids")
        && let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &mut array.items
        && let RefOr::T(Schema::Object(item)) = items.as_mut()
    {
        item.pattern = Some(ID_PATTERN.to_string());
    }
}

/// The error codes of the one catalogue (`app::error::Code`), each with its status and meaning.
fn error_codes() -> RefOr<Schema> {
    use crate::app::Code;
    let mut description = String::from(
        "Stable snake_case code; clients match on it, not on the message. The catalogue (code, HTTP status: meaning):\n",
    );
    for code in Code::ALL {
        description.push_str(&format!("\n- `{}` ({}): {}", code.as_str(), code.status(), code.meaning()));
    }
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
        .description(Some(description))
        .into()
}
