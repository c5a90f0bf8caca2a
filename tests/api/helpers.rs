//! Test harness: each test gets its own service on a random port, its own database (a SQLite file
//! in a temp dir, or a fresh PostgreSQL database when TECHMARKET_TEST_POSTGRES is set) and its
//! own organisations, users and tokens.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use techmarket::app::accounts;
use techmarket::config::Config;
use techmarket::startup::Application;
use techmarket::storage::{self, Store};
use tempfile::TempDir;

/// Base URL of a PostgreSQL server (without database); set to run the suite on PostgreSQL.
pub const POSTGRES_ENV: &str = "TECHMARKET_TEST_POSTGRES";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub admin: String,
    pub config: Config,
    handle: actix_web::dev::ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The application context the service runs on.
    pub context: Arc<techmarket::app::App>,
    pub search: Indexer,
    pub matcher: Suggester,
    pub dir: Arc<TempDir>,
}

/// The indexer's work, run on demand by a test (the follower runs it in the background too).
pub struct Indexer(Arc<techmarket::app::App>);

impl Indexer {
    /// Applies the change log to the index; how many changes it read.
    pub async fn catch_up(&self) -> Result<usize, techmarket::app::indexing::IndexingError> {
        let cx = &self.0;
        Ok(techmarket::app::indexing::catch_up(cx.store().as_ref(), cx.search()).await?.0)
    }

    /// The analyzer version the index in use was built with.
    pub fn analyzer_version(&self) -> String {
        self.0.search().analyzer_version()
    }

    /// The index searches read now.
    pub fn current(&self) -> Arc<techmarket::search::index::SearchIndex> {
        self.0.search().current()
    }

    /// Compares the index with the database.
    pub async fn check(
        &self,
    ) -> Result<techmarket::app::indexing::DriftReport, techmarket::app::indexing::IndexingError> {
        techmarket::app::indexing::check(self.0.store().as_ref(), self.0.search()).await
    }

    /// Rebuilds the index from the database and switches to it.
    pub async fn rebuild(&self) -> Result<String, techmarket::app::indexing::IndexingError> {
        techmarket::app::indexing::rebuild(self.0.store().as_ref(), self.0.search()).await
    }

    /// Releases the index writer: from then on, writes are no longer indexed.
    pub async fn close(&self) {
        self.0.search().close().await;
    }
}

/// The suggester's work, run on demand by a test.
pub struct Suggester(Arc<techmarket::app::App>);

impl Suggester {
    /// Suggests for every record written up to what the index holds; how many were created.
    pub async fn run_pending(&self) -> Result<usize, techmarket::storage::StoreError> {
        let indexed = self.0.search().current().last_seq();
        Ok(techmarket::app::matches::run_pending(&self.0, indexed, || false).await?.created)
    }

    /// Re-runs suggestion for every record: (records, created).
    pub async fn match_all(&self) -> Result<(usize, usize), techmarket::app::Error> {
        techmarket::app::matches::match_all(&self.0).await
    }
}

/// A signed-in user of a fresh organisation.
#[derive(Clone, Debug)]
pub struct Actor {
    pub token: String,
    pub org_id: String,
    pub user_id: String,
}

/// A database URL for one test: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database_url(dir: &TempDir) -> String {
    match std::env::var(POSTGRES_ENV) {
        Ok(base) if !base.is_empty() => {
            let base = base.trim_end_matches('/');
            let name = format!("tm_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
                .await
                .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={base} is set but PostgreSQL is unreachable: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .expect("create test database");
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}", dir.path().join("techmarket.db").display()),
    }
}

pub fn test_config(dir: &TempDir, url: &str) -> Config {
    test_config_with(dir, url, &[])
}

/// The test configuration with more settings (`TECHMARKET__...` names and values).
pub fn test_config_with(dir: &TempDir, url: &str, extra: &[(&str, &str)]) -> Config {
    let mut env = vec![
        ("TECHMARKET__SERVER__PORT".to_string(), "0".to_string()),
        ("TECHMARKET__SERVER__WORKERS".to_string(), "1".to_string()),
        ("TECHMARKET__DATABASE__URL".to_string(), url.to_string()),
        ("TECHMARKET__DATABASE__MAX_CONNECTIONS".to_string(), "4".to_string()),
        ("TECHMARKET__DATA__DIR".to_string(), dir.path().display().to_string()),
        ("TECHMARKET__LOG__LEVEL".to_string(), "warn".to_string()),
        ("TECHMARKET__SEARCH__POLL_INTERVAL_MS".to_string(), "100".to_string()),
        ("TECHMARKET__MATCHING__POLL_INTERVAL_MS".to_string(), "100".to_string()),
        // A handful of records make every keyword common, so scores run lower than in a market.
        ("TECHMARKET__MATCHING__THRESHOLD".to_string(), "0.1".to_string()),
        // Tests move the service's clock years ahead: their tokens (issued without an expiry)
        // last a century, so that only the tests of expiry see one end.
        ("TECHMARKET__ACCOUNTS__TOKEN_DAYS".to_string(), "36500".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::load(None, env).expect("test configuration")
}

/// Now on the system clock, truncated to microseconds as the databases store it (for records
/// the storage tests build themselves; the service reads its context's clock).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    techmarket::app::Clock::default().now()
}

/// Runs `f` in one write transaction of `store` and commits it (the storage conformance tests
/// write directly; the service writes through the application layer's unit of work).
pub async fn write<T>(
    store: &dyn Store,
    f: impl AsyncFnOnce(&mut (dyn storage::StoreTx + 'static)) -> storage::StoreResult<T>,
) -> storage::StoreResult<T> {
    let mut tx = store.begin().await?;
    let out = f(tx.as_mut()).await?;
    tx.commit().await?;
    Ok(out)
}

/// Opens a store on a fresh database (for the storage conformance tests).
pub async fn spawn_store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(&dir).await;
    let store = storage::connect(&test_config(&dir, &url).database_options()).await.expect("open store");
    (store, dir)
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database_url(&dir).await;
    let config = test_config(&dir, &url);
    start(config, Arc::new(dir), None).await
}

/// Starts the service on `config`; issues an admin token unless one is given (restarts).
pub async fn start(config: Config, dir: Arc<TempDir>, admin: Option<String>) -> TestApp {
    techmarket::telemetry::init(&config.log);
    techmarket::webhooks::install_tls();
    let app = Application::build(&config).await.expect("build application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = app.store();
    let context = app.context();
    let search = Indexer(context.clone());
    let matcher = Suggester(context.clone());
    let handle = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    let admin = match admin {
        Some(token) => token,
        None => accounts::bootstrap_admin(&context, "tests", None).await.expect("bootstrap admin").1,
    };
    TestApp {
        address,
        // English messages, which the tests quote; Chinese, the default, is tested on its own.
        client: reqwest::Client::builder()
            .default_headers(
                [(reqwest::header::ACCEPT_LANGUAGE, reqwest::header::HeaderValue::from_static("en"))]
                    .into_iter()
                    .collect(),
            )
            .build()
            .expect("a client"),
        store,
        admin,
        config,
        handle,
        running,
        context,
        search,
        matcher,
        dir,
    }
}

impl TestApp {
    /// Sets the service's clock to `at` (RFC 3339); it runs on from there.
    pub fn travel_to(&self, at: &str) {
        let at = chrono::DateTime::parse_from_rfc3339(at).expect("an RFC 3339 time").with_timezone(&chrono::Utc);
        self.context.clock.travel_to(at);
    }

    /// Today in the market's calendar (China Standard Time), as the service's clock reads it.
    pub fn market_today(&self) -> String {
        techmarket::domain::market_today(self.context.clock.now()).to_string()
    }

    /// Stops the server and closes the database, as a shutdown would.
    pub async fn stop(self) -> (Config, Arc<TempDir>, String) {
        self.handle.stop(true).await;
        let _ = self.running.await;
        (self.config, self.dir, self.admin)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Response::from(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value, if_match: Option<i64>) -> Response {
        let mut request = self.client.patch(self.url(path)).bearer_auth(token).json(&body);
        if let Some(version) = if_match {
            request = request.header("If-Match", format!("\"{version}\""));
        }
        Response::from(request.send().await.expect("request sent")).await
    }

    /// Creates an organisation through the API as admin.
    pub async fn org(&self, name: &str, kind: &str) -> String {
        let r = self
            .post("/api/v1/organisations", &self.admin, json!({"name": name, "kind": kind, "region": "370502"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a user of `role` in `org_id` and issues a token, through the API.
    pub async fn user_in(&self, org_id: &str, role: &str) -> Actor {
        let r = self
            .post(
                "/api/v1/users",
                &self.admin,
                json!({"org_id": org_id, "name": format!("{role}用户"), "role": role, "phone": "13800000000"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let user_id = r.body["id"].as_str().unwrap().to_string();
        let t = self.post(&format!("/api/v1/users/{user_id}/tokens"), &self.admin, json!({"name": "测试"})).await;
        assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
        Actor { token: t.body["token"].as_str().unwrap().to_string(), org_id: org_id.to_string(), user_id }
    }

    pub async fn enterprise(&self, name: &str) -> Actor {
        let org = self.org(name, "enterprise").await;
        self.user_in(&org, "enterprise").await
    }

    pub async fn university(&self, name: &str) -> Actor {
        let org = self.org(name, "university").await;
        self.user_in(&org, "university").await
    }

    /// A technology manager of the operator organisation.
    pub async fn manager(&self) -> Actor {
        let me = self.get("/api/v1/me", &self.admin).await;
        let operator = me.body["organisation"]["id"].as_str().unwrap().to_string();
        self.user_in(&operator, "manager").await
    }

    /// Searches as `token`; `query` is the query string after `?`.
    pub async fn search(&self, token: &str, query: &[(&str, &str)]) -> Response {
        let request = self.client.get(self.url("/api/v1/search")).bearer_auth(token).query(query);
        Response::from(request.send().await.expect("request sent")).await
    }

    /// Polls a search until `done` holds for its body, for at most 10 seconds.
    pub async fn search_until(&self, token: &str, query: &[(&str, &str)], done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let r = self.search(token, query).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            if done(&r.body) {
                return r.body;
            }
            assert!(std::time::Instant::now() < deadline, "search {query:?} never satisfied the condition: {}", r.body);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn create_need(&self, actor: &Actor, overrides: Value) -> Value {
        let r = self.post("/api/v1/needs", &actor.token, merge(need_body(), overrides)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    pub async fn create_achievement(&self, actor: &Actor, overrides: Value) -> Value {
        let r = self.post("/api/v1/achievements", &actor.token, merge(achievement_body(), overrides)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

/// The ids of a search response's items.
pub fn hit_ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .map(|a| a.iter().map(|h| h["id"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

/// A complete, valid need in Chinese.
pub fn need_body() -> Value {
    json!({
        "title": "固态电池电解液溶剂高纯化工艺",
        "description": "现有碳酸酯溶剂水分和金属离子含量偏高，影响固态电池循环寿命，需要高纯化工艺包。",
        "targets": "水分≤10ppm；金属离子≤1ppm",
        "tried": "分子筛吸附+多级精馏",
        "keywords": ["固态电池", "电解液溶剂"],
        "field": "new_energy",
        "need_type": "tech_breakthrough",
        "cooperation_modes": ["transfer", "joint_development"],
        "budget_min": 500,
        "budget_max": 1200.5,
        "deadline": "2099-12-31",
        "region": "370523",
        "contact": {"name": "刘思远", "phone": "13905461202", "email": "liusy@example.cn"},
        "visibility": "public"
    })
}

/// A complete, valid achievement in Chinese.
pub fn achievement_body() -> Value {
    json!({
        "title": "锂电池碳酸酯溶剂深度除杂提纯工艺",
        "abstract": "络合吸附除金属离子与精密精馏耦合，产品水分低于8ppm。",
        "keywords": ["电解液溶剂", "高纯化"],
        "field": "new_energy",
        "achievement_type": "new_process",
        "trl": 6,
        "stage": "pilot_trial",
        "ip_form": "invention_patent",
        "patent_numbers": ["ZL202310123456.7"],
        "cooperation_modes": ["transfer", "license_exclusive"],
        "asking_price": 900,
        "team_lead": "沈化成",
        "region": "370502",
        "contact": {"name": "沈化成", "phone": "0546-8392102", "email": "shenhc@example.cn"},
        "visibility": "public"
    })
}

/// `base` with the keys of `overrides` replaced (a null override removes the key).
pub fn merge(mut base: Value, overrides: Value) -> Value {
    if let (Some(map), Value::Object(over)) = (base.as_object_mut(), overrides) {
        for (k, v) in over {
            if v.is_null() {
                map.remove(&k);
            } else {
                map.insert(k, v);
            }
        }
    }
    base
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    pub async fn from(r: reqwest::Response) -> Response {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response { status, headers, body, text }
    }

    /// Asserts the error envelope with this status and code, and returns the message.
    pub fn assert_error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.text);
        let message = self.body["error"]["message"].as_str().expect("error message").to_string();
        assert!(!message.is_empty());
        assert_eq!(
            self.body["error"]["request_id"].as_str(),
            self.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            "the error carries the request id of its response"
        );
        message
    }
}
