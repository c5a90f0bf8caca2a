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
