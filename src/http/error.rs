//! The one error envelope of the API: `{"error": {"code", "message", "details"?, "request_id"}}`.
//! Every failure, including malformed JSON, bad query strings, oversized bodies and unknown
//! routes, reaches the client in this shape with a stable snake_case code and a message that says
//! what to fix. Infrastructure errors are logged in full and shown without internals.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::{Code, Error};
pub use crate::i18n::{Language, localize};

/// The request id of the current request, set by the request-id middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `validation_failed`, `version_conflict`.
    pub code: String,
    /// What went wrong and what to do about it.
    pub message: String,
    /// Structured detail: the invalid fields, the current version, the allowed actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// The id of the request, also in the `x-request-id` header; quote it when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An error the API answers with: an `app::Error` (its code fixes the status) in the envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub message_zh: String,
    pub details: Option<Value>,
    /// Seconds after which the client may try again (`Retry-After`), for 503 and 429.
    pub retry_after: Option<u64>,
    /// A header the answer carries (`Allow` with a 405).
    pub header: Option<(header::HeaderName, &'static str)>,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError {
            status: StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: e.code.as_str(),
            message_zh: e.message_zh(),
            message: e.message,
            details: e.details,
            retry_after: e.retry_after,
            header: e.allow.map(|methods| (header::ALLOW, methods)),
        }
    }
}

impl ApiError {
    /// A fallback for error responses produced outside our handlers (unknown routes, methods).
    pub fn from_status(status: StatusCode, method: &str, path: &str) -> ApiError {
        match status {
            StatusCode::NOT_FOUND => Error::new(
                Code::RouteNotFound,
                format!("there is no route {method} {path}; the API is described at /api/v1/openapi.json"),
            )
            .into(),
            StatusCode::METHOD_NOT_ALLOWED => {
                Error::new(Code::MethodNotAllowed, format!("{path} does not accept {method}; see /api/v1/openapi.json"))
                    .into()
            }
            s if s.is_server_error() => Error::internal().into(),
            s => {
                // Whatever the HTTP layer refused, under its own status.
                let mut e = ApiError::from(Error::new(
                    Code::RequestRejected,
                    s.canonical_reason().unwrap_or("request rejected").to_string(),
                ));
                e.status = s;
                e
            }
        }
    }

    /// The envelope in `language`: the message, and every message in the details.
    pub fn body(&self, request_id: Option<String>, language: Language) -> ErrorBody {
        let mut details = self.details.clone();
        if let Some(d) = details.as_mut() {
            localize(d, language);
        }
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: match language {
                    Language::Zh => self.message_zh.clone(),
                    Language::En => self.message.clone(),
                },
                details,
                request_id,
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // The request id is added by the middleware, which rewrites the body with it.
        let mut response = HttpResponse::build(self.status).json(self.body(None, Language::Zh));
        if let Some((name, value)) = &self.header {
            response.headers_mut().insert(name.clone(), HeaderValue::from_static(value));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"techmarket\""));
        }
        response.extensions_mut().insert(self.clone());
        response
    }
}

/// Answers malformed, mistyped or oversized JSON bodies in the envelope (PITFALLS 21).
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::OverflowKnownLength { length, limit } => {
            Error::new(Code::PayloadTooLarge, format!("the body has {length} bytes; at most {limit} are accepted"))
        }
        JsonPayloadError::Overflow { limit } => {
            Error::new(Code::PayloadTooLarge, format!("the body is larger than the {limit} bytes accepted"))
        }
        JsonPayloadError::ContentType => Error::new(
            Code::UnsupportedMediaType,
            "send the body as JSON with the header `Content-Type: application/json`",
        ),
        JsonPayloadError::Deserialize(e) if e.is_syntax() || e.is_eof() => {
            Error::new(Code::MalformedJson, format!("the body is not valid JSON: {e}"))
        }
        JsonPayloadError::Deserialize(e) => Error::new(Code::InvalidBody, format!("the body does not fit: {e}")),
        other => Error::new(Code::InvalidBody, format!("the body could not be read: {other}")),
    };
    ApiError::from(api).into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let QueryPayloadError::Deserialize(e) = &err else {
        return ApiError::from(Error::new(Code::InvalidQuery, format!("the query string could not be read: {err}")))
            .into();
    };
    ApiError::from(Error::new(Code::InvalidQuery, format!("the query string does not fit: {e}"))).into()
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::from(Error::new(Code::InvalidPath, format!("a path parameter does not fit: {err}"))).into()
}

/// The language a request asks for (`Accept-Language`).
pub fn language_of(req: &HttpRequest) -> Language {
    Language::from_header(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

/// Puts the request id into error bodies, and turns any error response that is not yet in the
/// envelope (unknown route, wrong method, errors from actix itself) into it.
pub fn envelope_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
    request_id: &str,
) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res.map_into_boxed_body();
    }
    let api = res.response().extensions().get::<ApiError>().cloned();
    let (req, old) = res.into_parts();
    let api = api.unwrap_or_else(|| ApiError::from_status(status, req.method().as_str(), req.path()));
    let language = language_of(&req);
    let mut response = HttpResponse::build(status).json(api.body(Some(request_id.to_string()), language));
    response.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.tag()));
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, response).map_into_boxed_body()
}
