//! Typed configuration. Layers, each overriding the one before: the built-in
//! `config/default.toml`, an optional file, then `TECHMARKET__SECTION__KEY` environment
//! variables. Unknown keys and wrong types fail at start with a message naming the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use crate::storage::DatabaseOptions;

/// The built-in defaults, the same file that ships in `config/`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// Prefix of environment overrides; `__` separates section and key.
pub const ENV_PREFIX: &str = "TECHMARKET__";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub data: DataConfig,
    pub search: SearchConfig,
    pub matching: MatchingConfig,
    pub limits: LimitsConfig,
    pub accounts: AccountsConfig,
    pub notifications: NotificationsConfig,
    pub log: LogConfig,
}

/// Notifications, webhooks and the expiry of records (README, "Notifications").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// The service's address as people reach it, for the links in messages; empty for none.
    pub public_url: String,
    /// Hosts (names or addresses, as written in webhook URLs) that may be internal; every other
    /// webhook must resolve to public addresses only.
    pub allow_hosts: Vec<String>,
    /// One delivery attempt's time limit.
    pub timeout_secs: u64,
    /// Attempts before a delivery is given up (dead).
    pub max_attempts: i64,
    /// The first retry's wait, doubled each time up to the cap (in milliseconds).
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How often the notifier looks for events written elsewhere and deliveries due.
    pub poll_interval_ms: u64,
    /// Deliveries sent at once by one instance.
    pub concurrency: usize,
    /// A new suggestion is announced when its score is at least this.
    pub suggestion_min_score: f64,
    /// An achievement, and a need without a deadline, expire this many days after their last
    /// confirmation (creation or renewal).
    pub achievement_validity_days: i64,
    pub need_validity_days: i64,
    /// Owners are reminded this many days before a record expires.
    pub remind_days: i64,
    /// How often records are checked for expiry, and the weekly summary's hour, in milliseconds.
    pub expiry_interval_ms: u64,
    /// Events (the inboxes, the delivery logs) are kept this many days.
    pub retention_days: i64,
    /// The weekly summary goes out on this weekday (1 = Monday) at this hour, market time.
    pub summary_weekday: u32,
    pub summary_hour: u32,
}

/// Signing in, sessions, API tokens and the audit log (SECURITY.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// A session ends this many hours after sign-in, however it is used.
    pub session_max_hours: i64,
    /// `auto`: the session cookie is `Secure` unless the service listens on a loopback address
    /// over plain HTTP; `always`; `never` (plain HTTP on a trusted network only).
    pub cookie_secure: CookieSecure,
    /// An API token issued without an expiry ends after this many days.
    pub token_days: i64,
    /// Failed sign-ins allowed per login, and per client address, in the window; past either the
    /// next attempt is refused (429, Retry-After) until the oldest failure leaves the window.
    pub max_failures_per_login: i64,
    pub max_failures_per_client: i64,
    pub failure_window_minutes: i64,
    /// Audit entries are kept this many days.
    pub audit_retention_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecure {
    Auto,
    Always,
    Never,
}

fn default_import_keep_bytes() -> usize {
    8 * 1024 * 1024
}

/// Caps on the work one request may cause (SECURITY.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub import_max_bytes: usize,
    pub import_max_rows: usize,
    pub import_max_cells: usize,
    pub xlsx_max_unpacked_bytes: u64,
    /// Bytes of cells an import keeps as built records between its check and its write (0: every
    /// row to create is read and built again from the file when it is written).
    #[serde(default = "default_import_keep_bytes")]
    pub import_keep_bytes: usize,
    pub export_max_rows: usize,
    pub heavy_concurrency: usize,
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: usize,
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// SQLite: the most pages (4 KiB each) the database file may grow to; 0 for no cap.
    pub sqlite_max_pages: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub commit_delay_ms: u64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingConfig {
    pub threshold: f32,
    pub max_suggestions: usize,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
}

impl Config {
    /// Loads the layers: defaults, `file` if given, then the `TECHMARKET__*` variables of `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let defaults: Table = DEFAULT_TOML
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax { path: "<built-in>".into(), message: e.to_string() })?;
        let mut merged = defaults.clone();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
            let table: Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
                path: path.display().to_string(),
                message: e.message().to_string(),
            })?;
            merge(&mut merged, table, "");
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            set_from_env(&mut merged, &defaults, &path, &raw, &name)?;
        }
        let config: Config = serde_path_to_error::deserialize(Value::Table(merged))
            .map_err(|e| ConfigError::Key { key: e.path().to_string(), message: e.inner().message().to_string() })?;
        config.check()?;
        Ok(config)
    }

    /// Rules serde cannot express.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| Err(ConfigError::Key { key: key.into(), message });
        if self.server.max_body_bytes < 1024 {
            return bad(
                "server.max_body_bytes",
                format!("{} is too small; give at least 1024", self.server.max_body_bytes),
            );
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections", "must be at least 1".into());
        }
        let url = self.database.url.as_str();
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return bad(
                "database.url",
                format!("`{url}` is neither empty, sqlite://PATH nor postgres://USER@HOST:PORT/DB"),
            );
        }
        if !(0.0..=1.0).contains(&self.matching.threshold) {
            return bad(
                "matching.threshold",
                format!("{} is not a score: give a number from 0 to 1", self.matching.threshold),
            );
        }
        if self.matching.max_suggestions == 0 || self.matching.max_suggestions > 50 {
            return bad("matching.max_suggestions", "must be 1 to 50".into());
        }
        let l = &self.limits;
        for (key, value) in [
            ("limits.import_max_bytes", l.import_max_bytes as u64),
            ("limits.import_max_rows", l.import_max_rows as u64),
            ("limits.import_max_cells", l.import_max_cells as u64),
            ("limits.xlsx_max_unpacked_bytes", l.xlsx_max_unpacked_bytes),
            ("limits.export_max_rows", l.export_max_rows as u64),
            ("limits.heavy_concurrency", l.heavy_concurrency as u64),
            ("limits.retry_after_secs", l.retry_after_secs),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        let a = &self.accounts;
        for (key, value) in [
            ("accounts.session_idle_minutes", a.session_idle_minutes),
            ("accounts.session_max_hours", a.session_max_hours),
            ("accounts.token_days", a.token_days),
            ("accounts.max_failures_per_login", a.max_failures_per_login),
            ("accounts.max_failures_per_client", a.max_failures_per_client),
            ("accounts.failure_window_minutes", a.failure_window_minutes),
            ("accounts.audit_retention_days", a.audit_retention_days),
        ] {
            if !(1..=100_000).contains(&value) {
                return bad(key, format!("{value} is out of range: give 1 to 100000"));
            }
        }
        let n = &self.notifications;
        for (key, value, range) in [
            ("notifications.timeout_secs", n.timeout_secs as i64, 1..=300),
            ("notifications.max_attempts", n.max_attempts, 1..=100),
            ("notifications.retry_base_ms", n.retry_base_ms as i64, 1..=86_400_000),
            ("notifications.retry_max_ms", n.retry_max_ms as i64, 1..=86_400_000),
            ("notifications.poll_interval_ms", n.poll_interval_ms as i64, 10..=3_600_000),
            ("notifications.concurrency", n.concurrency as i64, 1..=256),
            ("notifications.need_validity_days", n.need_validity_days, 1..=100_000),
            ("notifications.achievement_validity_days", n.achievement_validity_days, 1..=100_000),
            ("notifications.remind_days", n.remind_days, 0..=3650),
            ("notifications.expiry_interval_ms", n.expiry_interval_ms as i64, 10..=86_400_000),
            ("notifications.retention_days", n.retention_days, 1..=100_000),
            ("notifications.summary_weekday", i64::from(n.summary_weekday), 1..=7),
            ("notifications.summary_hour", i64::from(n.summary_hour), 0..=23),
        ] {
            if !range.contains(&value) {
                return bad(key, format!("{value} is out of range: give {} to {}", range.start(), range.end()));
            }
        }
        if !(0.0..=1.0).contains(&n.suggestion_min_score) {
            return bad(
                "notifications.suggestion_min_score",
                format!("{} is not a score from 0 to 1", n.suggestion_min_score),
            );
        }
        let public = n.public_url.trim();
        if !public.is_empty() && !(public.starts_with("https://") || public.starts_with("http://")) {
            return bad("notifications.public_url", format!("`{public}` is not an http(s) address"));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return bad("log.level", format!("`{}` is not a log filter: {e}", self.log.level));
        }
        Ok(())
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data.dir.join("techmarket.db").display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn search_settings(&self) -> crate::search::engine::SearchSettings {
        crate::search::engine::SearchSettings {
            dir: self.data.dir.join("index"),
            commit_delay: std::time::Duration::from_millis(self.search.commit_delay_ms),
            poll_interval: std::time::Duration::from_millis(self.search.poll_interval_ms.max(10)),
        }
    }

    /// The caps an import file is read within.
    pub fn import_limits(&self) -> crate::tabular::Limits {
        crate::tabular::Limits {
            max_rows: self.limits.import_max_rows,
            max_cells: self.limits.import_max_cells,
            max_unpacked_bytes: self.limits.xlsx_max_unpacked_bytes,
        }
    }

    /// What the application layer is configured with.
    pub fn settings(&self) -> crate::app::Settings {
        crate::app::Settings {
            matching: self.match_settings(),
            limits: self.limits.clone(),
            accounts: self.accounts.clone(),
            notifications: self.notifications.clone(),
            secure_cookies: self.secure_cookies(),
        }
    }

    /// Whether session cookies carry `Secure`: always, unless the operator says never, or (auto)
    /// the service listens on a loopback address, where browsers reach it over plain HTTP.
    pub fn secure_cookies(&self) -> bool {
        match self.accounts.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => {
                let host = self.server.host.trim_start_matches('[').trim_end_matches(']');
                !(host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()))
            }
        }
    }

    pub fn match_settings(&self) -> crate::matching::service::MatchSettings {
        crate::matching::service::MatchSettings {
            threshold: self.matching.threshold,
            max_suggestions: self.matching.max_suggestions,
            poll_interval: std::time::Duration::from_millis(self.matching.poll_interval_ms.max(10)),
        }
    }

    pub fn database_options(&self) -> DatabaseOptions {
        DatabaseOptions {
            url: self.database_url(),
            max_connections: self.database.max_connections,
            acquire_timeout_secs: self.database.acquire_timeout_secs,
            sqlite_max_pages: self.database.sqlite_max_pages,
        }
    }
}

fn merge(into: &mut Table, from: Table, prefix: &str) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(table)) => merge(existing, table, &format!("{prefix}{key}.")),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Sets one key from an environment variable, typed like the built-in default of that key.
fn set_from_env(
    merged: &mut Table,
    defaults: &Table,
    path: &[String],
    raw: &str,
    var: &str,
) -> Result<(), ConfigError> {
    let key = path.join(".");
    let unknown = || ConfigError::Key { key: key.clone(), message: format!("unknown key (set by {var})") };
    let [section, name] = path else {
        return Err(unknown());
    };
    let default = defaults.get(section).and_then(Value::as_table).and_then(|t| t.get(name)).ok_or_else(unknown)?;
    let wrong =
        |expected: &str| ConfigError::Key { key: key.clone(), message: format!("{var}=`{raw}` is not {expected}") };
    let value = match default {
        Value::Integer(_) => Value::Integer(raw.trim().parse().map_err(|_| wrong("an integer"))?),
        Value::Boolean(_) => Value::Boolean(raw.trim().parse().map_err(|_| wrong("true or false"))?),
        Value::Float(_) => Value::Float(raw.trim().parse().map_err(|_| wrong("a number"))?),
        // A list from the environment: comma-separated.
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.into()))
                .collect(),
        ),
        _ => Value::String(raw.to_string()),
    };
    if let Some(Value::Table(table)) = merged.get_mut(section) {
        table.insert(name.clone(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_run_everything_embedded() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.server.port, 8080);
        assert_eq!(config.database_url(), "sqlite://data/techmarket.db");
    }

    #[test]
    fn environment_overrides_a_file_which_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("tm-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("local.toml");
        std::fs::write(&file, "[server]\nport = 9000\nhost = \"0.0.0.0\"\n").unwrap();
        let config = Config::load(Some(&file), env(&[("TECHMARKET__SERVER__PORT", "9100")])).unwrap();
        assert_eq!(config.server.port, 9100);
        assert_eq!(config.server.host, "0.0.0.0");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Config::load(None, env(&[("TECHMARKET__SERVER__PORT", "八千")])).unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
        let err = Config::load(None, env(&[("TECHMARKET__SERVER__PROT", "1")])).unwrap_err();
        assert!(err.to_string().contains("server.prot") && err.to_string().contains("unknown"), "{err}");
        let err = Config::load(None, env(&[("TECHMARKET__DATABASE__URL", "mysql://x")])).unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
    }

    #[test]
    fn an_unknown_key_in_a_file_is_named() {
        let dir = std::env::temp_dir().join(format!("tm-config-unknown-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "[server]\nprt = 1\n").unwrap();
        let err = Config::load(Some(&file), env(&[])).unwrap_err();
        assert!(err.to_string().contains("server"), "{err}");
        assert!(err.to_string().contains("prt"), "{err}");
    }
}
