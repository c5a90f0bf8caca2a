//! Integration tests: the real service over HTTP, on SQLite by default and on PostgreSQL when
//! TECHMARKET_TEST_POSTGRES is set (see .ci/run). One binary, one fresh database per test.

mod access;
mod admin;
mod audit;
mod backup;
mod console;
mod dockings;
mod errors;
mod faults;
mod helpers;
mod hostile;
mod imports;
mod joining;
mod lifecycle;
mod matrix;
mod migrations;
mod notifications;
mod process;
mod records;
mod search;
mod sessions;
mod storage;
mod transfers;
mod upgrade;
mod validation;
mod ways_in;
