//! The one catalogue of error codes. Every failure any way in (the API, an import, the command
//! line) reports carries one of these codes; the code fixes the HTTP status, and its meaning is
//! listed in the OpenAPI document. The message of each error says what to fix in the case at hand.

use serde_json::Value;

use crate::domain::validate::ValidationErrors;
use crate::storage::StoreError;

macro_rules! catalogue {
    ($($variant:ident => ($code:literal, $status:literal, $meaning:literal),)*) => {
        /// A stable error code: its snake_case text, its HTTP status and what it means.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the catalogue's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable snake_case text clients match on.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// The HTTP status the code is answered with.
            pub fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            /// What the code means, in general (each error's message says what to fix).
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

catalogue! {
    // The request is outside the contract: 400.
    MalformedRequest => ("malformed_request", 400, "The request is not valid HTTP/1.1."),
    MalformedJson => ("malformed_json", 400, "The body is not valid JSON."),
    InvalidBody => ("invalid_body", 400, "The body is not an object of the documented shape, or a field has the wrong type."),
    UnknownField => ("unknown_field", 400, "The body has a field the operation does not know."),
    InvalidQuery => ("invalid_query", 400, "A query parameter is unknown, malformed or out of range."),
    InvalidPath => ("invalid_path", 400, "A path parameter does not fit."),
    InvalidId => ("invalid_id", 400, "A path id is not an id (ids are hyphenated UUIDs)."),
    InvalidIfMatch => ("invalid_if_match", 400, "If-Match does not carry a version number."),
    QueryTooLong => ("query_too_long", 400, "The search text is longer than allowed."),
    TooManyTransfers => ("too_many_transfers", 400, "A report asks for more transfers than one answer lists."),
    // Who is asking: 401 and 403.
    Unauthenticated => ("unauthenticated", 401, "No valid bearer token was sent."),
    TokenExpired => ("token_expired", 401, "The token has expired: ask an administrator for a new one."),
    TokenRevoked => ("token_revoked", 401, "The token was revoked: ask an administrator for a new one."),
    Forbidden => ("forbidden", 403, "Your role or organisation may not do this."),
    // What is asked for: 404, 405.
    NotFound => ("not_found", 404, "No such record, or not one you may see."),
    RouteNotFound => ("route_not_found", 404, "No route has this path (or this action)."),
    MethodNotAllowed => ("method_not_allowed", 405, "The path exists but not with this method; `Allow` lists the methods."),
    RequestTimeout => ("request_timeout", 408, "The request's head did not arrive in time."),
    // The state of what is changed: 409.
    VersionConflict => ("version_conflict", 409, "The record changed since you read it: read it again and resend with the new version."),
    AlreadyExists => ("already_exists", 409, "A record with the same unique value exists."),
    AlreadyRevoked => ("already_revoked", 409, "The token was revoked before."),
    InvalidStatusTransition => ("invalid_status_transition", 409, "The record's status does not allow this action; `details.allowed` lists what does."),
    InvalidDockingTransition => ("invalid_docking_transition", 409, "The docking's state does not allow this action; `details.allowed` lists what does."),
    DockingClosed => ("docking_closed", 409, "The docking is closed (signed, rejected, failed or withdrawn)."),
    DockingExists => ("docking_exists", 409, "The pair already has an open docking."),
    RegistrationNumberTaken => ("registration_number_taken", 409, "Another transfer has this contract registration number."),
    // Sizes and media: 413, 414, 415, 431.
    PayloadTooLarge => ("payload_too_large", 413, "The body is larger than accepted."),
    FileTooLarge => ("file_too_large", 413, "The import file is larger than accepted (bytes, rows, cells or unpacked size)."),
    UriTooLong => ("uri_too_long", 414, "The URL is too long: send long inputs in a body."),
    UnsupportedMediaType => ("unsupported_media_type", 415, "The body's Content-Type is not one the operation reads."),
    HeadersTooLarge => ("headers_too_large", 431, "The request's headers are too large."),
    // Well-formed but not acceptable: 422.
    ValidationFailed => ("validation_failed", 422, "Fields are invalid; `details.fields` lists every problem."),
    ReadOnlyField => ("read_only_field", 422, "A field only the service sets was sent."),
    FieldNotAllowed => ("field_not_allowed", 422, "A field does not apply to this operation or caller."),
    FieldRequired => ("field_required", 422, "A field this operation needs is missing."),
    ConflictingParameters => ("conflicting_parameters", 422, "Valid parameters that contradict each other."),
    VersionMismatch => ("version_mismatch", 422, "If-Match and the body name different versions."),
    OrgIdRequired => ("org_id_required", 422, "Managers act on behalf of an organisation: name it."),
    UnknownOrganisation => ("unknown_organisation", 422, "No organisation has this id or name."),
    WrongOrganisationKind => ("wrong_organisation_kind", 422, "The organisation's kind cannot own records of this library."),
    NotAManager => ("not_a_manager", 422, "The user is not a technology manager."),
    InvalidReason => ("invalid_reason", 422, "The action needs a reason code (and, for `other`, a note), or takes none."),
    InvalidNote => ("invalid_note", 422, "A note must be 1 to 2000 characters."),
    InvalidBulkAction => ("invalid_bulk_action", 422, "Bulk review takes accept or reject."),
    InvalidBulkIds => ("invalid_bulk_ids", 422, "Bulk review takes 1 to 200 ids."),
    ContractRequired => ("contract_required", 422, "Signing needs the contract."),
    ContractNotAccepted => ("contract_not_accepted", 422, "A contract goes only with the action sign."),
    UnreadableFile => ("unreadable_file", 422, "The import file cannot be read in the format and encoding given."),
    MissingColumn => ("missing_column", 422, "The import file lacks a required column."),
    ImportInvalid => ("import_invalid", 422, "Rows of the import are invalid; nothing was written; `details` is the report."),
    ExportTooLarge => ("export_too_large", 422, "The export would have more rows than allowed: narrow the filter."),
    // The version the write expects: 428.
    VersionRequired => ("version_required", 428, "Send the version you read, as If-Match or `version`."),
    // The service: 500, 503.
    InternalError => ("internal_error", 500, "The service failed; the request id locates the log entry."),
    Busy => ("busy", 503, "The service runs as much heavy work as it allows; try again after `Retry-After` seconds."),
    NotReady => ("not_ready", 503, "The service is starting or its database does not answer."),
    RequestRejected => ("request_rejected", 400, "The HTTP layer refused the request before it reached an operation."),
}

/// An error of an operation: its code, what to fix, and structured detail.
#[derive(Debug, Clone)]
pub struct Error {
    pub code: Code,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds after which the caller may try again (with `Busy`).
    pub retry_after: Option<u64>,
    /// The methods a path accepts (with `MethodNotAllowed`).
    pub allow: Option<&'static str>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error { code, message: message.into(), details: None, retry_after: None, allow: None }
    }

    pub fn with_details(mut self, details: Value) -> Error {
        self.details = Some(details);
        self
    }

    pub fn with_allow(mut self, methods: &'static str) -> Error {
        self.allow = Some(methods);
        self
    }

    pub fn not_found(what: &str, id: &str) -> Error {
        Error::new(Code::NotFound, format!("no {what} with id `{id}` that you may see"))
    }

    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(Code::Forbidden, message)
    }

    pub fn internal() -> Error {
        Error::new(
            Code::InternalError,
            "the server failed to handle the request; it has been logged, quote the request id when reporting it",
        )
    }

    /// The service is at its limit of heavy work: try again after `seconds`.
    pub fn busy(seconds: u64, what: &str) -> Error {
        let mut e = Error::new(
            Code::Busy,
            format!(
                "the service is already running as many {what} as it allows at once; try again in {seconds} seconds"
            ),
        );
        e.retry_after = Some(seconds);
        e
    }

    /// The record was changed since it was read.
    pub fn version_conflict(current: i64) -> Error {
        StoreError::VersionConflict { current }.into()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Error::new(Code::ValidationFailed, errors.summary()).with_details(serde_json::json!({ "fields": errors.0 }))
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::VersionConflict { current } => Error::new(
                Code::VersionConflict,
                format!("the record was changed by someone else and is now at version {current}; read it again, reapply your change and send it with that version"),
            )
            .with_details(serde_json::json!({ "current_version": current })),
            StoreError::NotFound => Error::new(Code::NotFound, "the record no longer exists"),
            StoreError::UniqueViolation { constraint } => Error::new(
                Code::AlreadyExists,
                format!("a record with the same unique value already exists ({constraint})"),
            ),
            other => {
                tracing::error!(error = %other, "storage failed");
                Error::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_snake_case_with_a_client_or_server_status() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{text}");
            assert!((400..600).contains(&code.status()), "{text}");
            assert!(!code.meaning().is_empty());
        }
    }
}
