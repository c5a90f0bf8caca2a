//! The audit log's entries: who did or tried what, when, from where, and how it ended. An entry
//! names records by id and never holds a secret or a contact detail.

use chrono::{DateTime, Utc};

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (a write committed, a confidential part read, a sign-in).
    Ok,
    /// Refused for who asked: not signed in, not allowed (403), or hidden (404).
    Denied,
    /// Tried and failed: invalid input, a conflict, a wrong password.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Denied, Outcome::Failed];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(code: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.code() == code)
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Its position in the log (0 until written).
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The acting user's id, `system:<name>` for the service itself, or `anonymous`.
    pub actor: String,
    /// The organisation the actor acted for (empty for the service and the anonymous).
    pub actor_org: String,
    /// Which credential: an API token's or a session's prefix (`tm_1a2b3c4d`, `tms_…`).
    pub credential: String,
    /// What was done: `POST /api/v1/needs`, `sign_in`, `read_contacts`, `matcher` …
    pub operation: String,
    /// The ids of the records concerned.
    pub records: Vec<String>,
    pub outcome: Outcome,
    /// The error code of a denied or failed action (`forbidden`, `invalid_credentials` …).
    pub detail: String,
    /// The client's address (the connection's peer).
    pub client: String,
    pub request_id: String,
}

/// The most record ids one entry lists (an import of 100,000 rows lists the first ones and
/// says how many more in `detail`).
pub const MAX_RECORDS_PER_ENTRY: usize = 200;

/// Filters of a reading of the log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub record: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    /// Entries before this position (the previous page's `next_cursor`).
    pub before: Option<i64>,
    pub limit: u32,
}
