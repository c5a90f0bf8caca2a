//! The console at `/console/`: the pages people of the market work in, in Chinese, compiled into
//! the binary (`src/http/console/`). It is a small client of the JSON API written without any
//! library: the browser signs in with the session cookie and sends the CSRF token with every
//! write, so the console can do and see exactly what the API lets the same person do and see,
//! and holds no rule of its own. Nothing is loaded from another host.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, web};

use super::error::ApiError;

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLES: &str = include_str!("console/console.css");
const ICON: &str = include_str!("console/icon.svg");

/// Scripts and styles from this host only, no inline script or style, no framing, and requests
/// only to this host: a record's text that got past the escaping could still run nothing.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn served(content_type: &'static str, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::Ok().content_type(content_type).body(body);
    let headers = response.headers_mut();
    // Revalidated on every load, so a new binary's console is the one people get.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    response
}

/// `GET /` and `GET /console`: to the console.
pub async fn to_console() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/console/")).finish()
}

/// `GET /console/`: the page; what it shows is chosen by the part of the address after `#`.
pub async fn page() -> HttpResponse {
    served("text/html; charset=utf-8", PAGE)
}

/// `GET /console/{file}`: the page's script, styles and icon.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(match file.as_str() {
        "console.js" => served("text/javascript; charset=utf-8", SCRIPT),
        "console.css" => served("text/css; charset=utf-8", STYLES),
        "icon.svg" => served("image/svg+xml", ICON),
        other => return Err(ApiError::from_status(StatusCode::NOT_FOUND, "GET", &format!("/console/{other}"))),
    })
}
