//! techmarket: a city technology market (科技大市场) that keeps the four libraries of needs,
//! achievements, dockings and transfers, and pairs needs with the achievements that answer them.

/// The application layer: every rule and every write, for every way in.
pub mod app;
/// Backup and restore of the embedded database (`techmarket backup DIR`, `techmarket restore DIR`).
pub mod backup;
/// Typed configuration: built-in defaults, an optional file, then environment variables.
pub mod config;
/// Chinese demo data of the city's industries, for a first look at the service.
pub mod demo;
/// Records and their rules: vocabularies, validation, access. No I/O.
pub mod domain;
/// Matching-quality evaluation on JSON Lines data (TREC runs for the CSL evaluation set).
pub mod eval;
/// Owner-only permissions for everything under the data directory.
pub mod files;
/// The change-log followers: the indexer, then the suggester.
pub mod followers;
/// Generated needs and achievements for load and speed measurements (`techmarket gen`).
pub mod generate;
/// The JSON API: routes, authentication, request/response types, the error envelope.
pub mod http;
pub mod i18n;
/// Search quality on the judged query set over the demo catalogue (`techmarket search-eval`).
pub mod judged;
/// Turns a need (or achievement) into ranked candidates with the evidence behind each.
pub mod matching;
/// Giving freed memory back to the system after large work.
pub mod memory;
/// Chinese full-text search: analysis and the tantivy index (the only code that knows tantivy).
pub mod search;
/// Builds the running service from a configuration.
pub mod startup;
/// The database: the `Store` trait with SQLite and PostgreSQL implementations.
pub mod storage;
/// Spreadsheet files in and out: CSV (UTF-8 or GBK), XLSX, JSON Lines.
pub mod tabular;
/// Structured logging setup.
pub mod telemetry;
/// Outgoing webhooks: payload formats, signatures, the SSRF guard, the request (reqwest).
pub mod webhooks;
