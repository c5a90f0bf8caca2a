//! The records of the market and their rules: vocabularies, validation, access. No I/O.

pub mod account;
pub mod achievement;
pub mod audit;
pub mod dictionary;
pub mod docking;
pub mod need;
pub mod notification;
pub mod org;
pub mod record;
pub mod stats;
pub mod transfer;
pub mod validate;
pub mod vocab;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// A new record id: a UUIDv7, so ids sort by creation time (stable cursor pagination).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether `s` looks like an id this service issued, so bad ids are rejected before any query.
pub fn is_valid_id(s: &str) -> bool {
    // The hyphenated form only, as ids are issued (and as the OpenAPI document's pattern says).
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// The market works on China Standard Time (UTC+8): its days, months and deadlines.
pub fn market_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// "Today" for deadlines: the local date of the market.
pub fn market_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&market_offset()).date_naive()
}
