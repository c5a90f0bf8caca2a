//! The only code that touches jieba or tantivy: Chinese analysis, the index schema, indexing
//! from the database's change log, and queries.

pub mod analyzer;
pub mod engine;
pub mod index;
pub mod query;
pub mod schema;
