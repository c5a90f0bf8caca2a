//! Structured logs with tracing: human-readable text or JSON lines, filtered by `log.level`
//! (overridden by RUST_LOG when set), written to standard error.
//!
//! A log that cannot be written never stops the service: a line standard error refuses (a full
//! disk, a closed pipe) is dropped and counted, and the next line that can be written is
//! preceded by one that says how many were dropped. (tracing-subscriber's own report of a failed
//! write goes to standard error with `eprintln!`, which panics when that fails too: it is off.)

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Log lines dropped since the last one written.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many log lines were dropped since the last one that could be written.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Standard error that drops what it cannot write instead of failing.
struct LossyStderr;

impl Write for LossyStderr {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut stderr = std::io::stderr().lock();
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 && writeln!(stderr, "({dropped} log lines could not be written and were dropped)").is_err() {
            DROPPED.fetch_add(dropped, Ordering::Relaxed);
        }
        if stderr.write_all(line).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    // actix-http reports a request it cannot parse (a URL or head too large, garbage) as an
    // error: it is the client's doing, and `http::connection` logs it as a warning instead.
    let filter = match "actix_http::h1::dispatcher=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| LossyStderr).log_internal_errors(false);
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
