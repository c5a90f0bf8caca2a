//! The API reference to browse, at `/docs`: Swagger UI reading `/api/v1/openapi.json`. Its files
//! come from the npm package `swagger-ui-dist` (see `docs/README.md`) and are part of the binary,
//! so the page works offline and loads nothing from another host.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

use super::error::ApiError;

const PAGE: &str = include_str!("docs/index.html");
const INIT: &str = include_str!("docs/init.js");
const BUNDLE: &[u8] = include_bytes!("docs/swagger-ui-bundle.js");
const STYLES: &[u8] = include_bytes!("docs/swagger-ui.css");

/// Only this host: the page's scripts, styles, images and the OpenAPI document it reads.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn served(content_type: &'static str, body: &'static [u8], cache: &'static str) -> HttpResponse {
    let mut response = HttpResponse::Ok().content_type(content_type).body(body);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `GET /docs`: the reference page.
pub async fn page() -> HttpResponse {
    served("text/html; charset=utf-8", PAGE.as_bytes(), "no-cache")
}

/// `GET /docs/{file}`: the page's script and styles.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(match file.as_str() {
        "swagger-ui-bundle.js" => served("text/javascript; charset=utf-8", BUNDLE, "public, max-age=86400"),
        "swagger-ui.css" => served("text/css; charset=utf-8", STYLES, "public, max-age=86400"),
        "init.js" => served("text/javascript; charset=utf-8", INIT.as_bytes(), "no-cache"),
        other => return Err(ApiError::from_status(StatusCode::NOT_FOUND, "GET", &format!("/docs/{other}"))),
    })
}
