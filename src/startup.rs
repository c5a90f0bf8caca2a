//! Builds the running service from a `Config`: store, HTTP server, middleware. Used by `main` and
//! by the tests, which bind port 0 and read back the real port.

use crate::domain::record::Principal;
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_service::{IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpResponse, web};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};

use crate::app::indexing::{self, IndexingError};
use crate::app::{App as Context, Writes};
use crate::config::Config;
use crate::followers::Followers;
use crate::http::connection::EnvelopeIo;
use crate::http::error::{ApiError, RequestId, envelope_errors, json_error, path_error, query_error};
use crate::http::openapi::ApiDoc;
use crate::http::{meta, routes};
use crate::search::engine::{Search, SearchError};
use crate::search::index::IndexError;
use crate::storage::{self, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot open the search index: {0}")]
    Search(#[from] IndexingError),
    #[error(
        "数据目录 {path} 正被另一个 techmarket 进程使用{pid}：先停止它（在它的终端按 Ctrl+C，或 kill 该进程），或者让这个进程用另一个数据目录和数据库，例如 TECHMARKET__DATA__DIR=./data2 cargo run -- serve。\nThe data directory {path} is in use by another techmarket process{pid_en}: stop it (Ctrl+C in its terminal, or kill it), or give this one another data directory and database, e.g. TECHMARKET__DATA__DIR=./data2 cargo run -- serve"
    )]
    DataDirInUse { path: String, pid: String, pid_en: String },
    #[error("cannot make the data directory {path} private (owner-only): {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
}

/// In the data directory: the id of the process that last opened it (shown to a second one).
const PID_FILE: &str = "techmarket.pid";

/// The data directory's absolute path, for messages (as given when it cannot be resolved).
pub fn absolute(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn data_dir_in_use(dir: &std::path::Path) -> StartupError {
    let pid = std::fs::read_to_string(dir.join(PID_FILE)).ok().map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
    StartupError::DataDirInUse {
        path: absolute(dir).display().to_string(),
        pid: pid.as_ref().map(|p| format!("（进程号 {p}）")).unwrap_or_default(),
        pid_en: pid.map(|p| format!(" (process {p})")).unwrap_or_default(),
    }
}

/// Applies the database's migrations (`techmarket migrate`).
pub async fn migrate(config: &Config) -> Result<(), StartupError> {
    storage::connect(&config.database_options()).await?.close().await;
    Ok(())
}

/// Closes a command's context: brings the index up to date with what the command wrote (a
/// running service's indexer would do it too), then closes the index writer and the database.
pub async fn close(cx: &Context) {
    if let Err(error) = indexing::catch_up(cx.store().as_ref(), cx.search()).await {
        tracing::warn!(%error, "the index could not catch up; the service does when it starts");
    }
    close_as_found(cx).await;
}

/// Audits a refused request of a signed-in user: every 401, 403 and 404 (the 404s that hide a
/// record), and every failed write. Requests without a credential are only logged, so that
/// nobody outside can fill the audit log.
fn audit_refusal<B>(
    response: &actix_web::dev::ServiceResponse<B>,
    who: Option<&Principal>,
    method: &actix_web::http::Method,
    status: u16,
) {
    let write = !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
    // A failure of the service's own (a full disk, a lost database) is not the client's doing,
    // and an entry could not be written then anyway.
    if status >= 500 || !(matches!(status, 401 | 403 | 404) || write) {
        return;
    }
    let Some(cx) = response.request().app_data::<web::Data<Context>>().cloned() else { return };
    let code = response.response().extensions().get::<crate::http::error::ApiError>().map(|e| e.code).unwrap_or("");
    let route = who
        .and_then(|p| p.origin.operation.clone())
        .unwrap_or_else(|| format!("{method} {}", response.request().path()));
    let who = who.cloned();
    let record = response.request().match_info().get("id").map(str::to_string);
    // Written beside the answer, not before it: a refusal does not wait for its entry.
    actix_web::rt::spawn(async move {
        crate::app::audit::record_refusal(&cx, who.as_ref(), &route, record.as_deref(), status, code).await
    });
}

/// Closes a context without touching its index (`index check` leaves it as it found it).
pub async fn close_as_found(cx: &Context) {
    cx.search().close().await;
    cx.store().close().await;
}

/// The context of a configuration with its index as found (not caught up), to inspect it.
pub async fn open_context_as_found(config: &Config) -> Result<Arc<Context>, StartupError> {
    let (store, search) = open_parts(config).await?;
    let (writes, _signals) = Writes::channel();
    Ok(Arc::new(Context::new(store, search, writes, config.settings())))
}

/// The application context of a configuration: the store (migrations applied), the search index
/// (built, or caught up with the change log), and the write signals for followers to take.
pub async fn open_context(config: &Config) -> Result<(Arc<Context>, crate::app::WriteSignals), StartupError> {
    let (store, search) = open_parts(config).await?;
    indexing::catch_up(store.as_ref(), &search).await?;
    let (writes, signals) = Writes::channel();
    let cx = Context::new(store, search, writes, config.settings());
    Ok((Arc::new(cx), signals))
}

/// The store and the index of a configuration, the data directory made private and marked as
/// this process's.
async fn open_parts(config: &Config) -> Result<(Arc<dyn Store>, Arc<Search>), StartupError> {
    crate::files::private_by_default();
    let dir = &config.data.dir;
    crate::files::make_private(dir)
        .map_err(|source| StartupError::DataDir { path: dir.display().to_string(), source })?;
    let store = storage::connect(&config.database_options()).await?;
    let search = match indexing::open(store.as_ref(), config.search_settings()).await {
        Ok(search) => search,
        Err(IndexingError::Search(SearchError::Index(IndexError::Locked))) => {
            store.close().await;
            return Err(data_dir_in_use(dir));
        }
        Err(other) => return Err(other.into()),
    };
    // This process holds the index now: say which one, for a second process to tell its user.
    if let Err(error) = std::fs::write(dir.join(PID_FILE), std::process::id().to_string()) {
        tracing::warn!(%error, "cannot write the process id into the data directory");
    }
    Ok((store, search))
}

/// A bound, not yet running, service.
pub struct Application {
    port: u16,
    server: Server,
    context: Arc<Context>,
    followers: Followers,
}

impl Application {
    /// Opens the context (store, index), starts the followers (indexer, then suggester), and
    /// binds the listener.
    pub async fn build(config: &Config) -> Result<Application, StartupError> {
        Self::build_holding(config, false).await
    }

    /// `build`, for a service that loads data before it is ready (`serve --demo`): `/ready`
    /// answers 503 from the first request until `App::ready_once_indexed` is met.
    pub async fn build_for_loading(config: &Config) -> Result<Application, StartupError> {
        Self::build_holding(config, true).await
    }

    async fn build_holding(config: &Config, loading: bool) -> Result<Application, StartupError> {
        let (context, signals) = open_context(config).await?;
        if loading {
            context.loading();
        }
        let followers = Followers::start(context.clone(), signals);
        Self::with_parts(config, context, followers)
    }

    /// Binds the listener for an opened context.
    pub fn with_parts(
        config: &Config,
        context: Arc<Context>,
        followers: Followers,
    ) -> Result<Application, StartupError> {
        let address = format!("{}:{}", config.server.host, config.server.port);
        let bind_error = |source| StartupError::Bind { address: address.clone(), source };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let state = web::Data::from(context.clone());
        let max_body = config.server.max_body_bytes;
        // The document is collected from the routes as each worker registers them; the route that
        // serves it sits inside the /api/v1 scope, so it is filled in after registration.
        let document: Arc<OnceLock<web::Bytes>> = Arc::new(OnceLock::new());
        let make_app = move || {
            let served = document.clone();
            let (app, api) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(state.clone())
                .app_data(web::JsonConfig::default().limit(max_body).error_handler(json_error))
                .app_data(web::PayloadConfig::default().limit(max_body))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .service(meta::health)
                .service(meta::ready)
                .service(scope::scope("/api/v1").configure(routes).route(
                    "/openapi.json",
                    web::get().to(move || {
                        let body = served.get().cloned().unwrap_or_default();
                        async move { HttpResponse::Ok().content_type("application/json").body(body) }
                    }),
                ))
                .split_for_parts();
            let mut api = api;
            crate::http::openapi::tighten(&mut api);
            let _ = document.set(web::Bytes::from(api.to_json().unwrap_or_default()));
            let known = Arc::new(KnownRoutes::from_document(&api));
            app.route("/", web::get().to(crate::http::console::to_console))
                .route("/console", web::get().to(crate::http::console::to_console))
                .route("/console/", web::get().to(crate::http::console::page))
                .route("/console/{file}", web::get().to(crate::http::console::asset))
                .route("/docs", web::get().to(crate::http::docs::page))
                .route("/docs/{file}", web::get().to(crate::http::docs::asset))
                .default_service(web::to(move |req: actix_web::HttpRequest| {
                    let known = known.clone();
                    async move { known.unrouted(req.method(), req.path()) }
                }))
                .wrap_fn(|req, srv| {
                    let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    req.extensions_mut().insert(RequestId(request_id.clone()));
                    let method = req.method().clone();
                    let path = req.path().to_string();
                    let started = Instant::now();
                    let response = srv.call(req);
                    async move {
                        let response = response.await?;
                        let status = response.status().as_u16();
                        let who = response.request().extensions().get::<Principal>().cloned();
                        if status >= 400 {
                            audit_refusal(&response, who.as_ref(), &method, status);
                        }
                        let client = response.request().peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
                        let mut response = envelope_errors(response, &request_id);
                        if let Ok(value) = HeaderValue::from_str(&request_id) {
                            response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
                        }
                        let elapsed_us = started.elapsed().as_micros() as u64;
                        let (user, org, credential) = who
                            .as_ref()
                            .map(|p| (p.user_id.as_str(), p.org_id.as_str(), p.credential.prefix()))
                            .unwrap_or_default();
                        tracing::info!(request_id, method = %method, path, status, elapsed_us, user, org, credential, client, "request");
                        Ok(response)
                    }
                })
        };
        let local = listener.local_addr().map_err(bind_error)?;
        let mut builder = actix_server::Server::build();
        if config.server.workers > 0 {
            builder = builder.workers(config.server.workers);
        }
        // The HTTP layer over connections whose parse-error answers come out in the envelope
        // (http::connection); otherwise what actix-web's HttpServer sets up.
        let server = builder
            .listen("techmarket-http", listener, move || {
                let app = make_app().into_factory().map_err(|err| err.error_response());
                let http = actix_http::HttpService::build()
                    .keep_alive(actix_http::KeepAlive::Timeout(Duration::from_secs(5)))
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .local_addr(local)
                    .finish(actix_service::map_config(app, |_| actix_web::dev::AppConfig::default()));
                actix_service::fn_service(|io: actix_web::rt::net::TcpStream| async move {
                    let _ = io.set_nodelay(true);
                    let peer = io.peer_addr().ok();
                    Ok((EnvelopeIo::new(io), actix_http::Protocol::Http1, peer))
                })
                .and_then(http)
            })
            .map_err(bind_error)?
            .run();
        Ok(Application { port, server, context, followers })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application context every way in calls.
    pub fn context(&self) -> Arc<Context> {
        self.context.clone()
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.context.store().clone()
    }

    pub fn search(&self) -> Arc<Search> {
        self.context.search().clone()
    }

    /// Stops the server gracefully from elsewhere (tests, signals).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until stopped (SIGINT/SIGTERM or the handle), then stops the indexer and closes
    /// the store.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.followers.close().await;
        self.context.search().close().await;
        self.context.store().close().await;
        result
    }
}

/// A client-supplied request id is kept when it is short and plain, so logs can be correlated.
fn incoming_request_id(req: &actix_web::dev::ServiceRequest) -> Option<String> {
    let value = req.headers().get("x-request-id")?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    plain.then(|| value.to_string())
}

/// Every documented route's path pattern and methods, so a request that reaches no handler is
/// told precisely why: 405 with `Allow` when the path exists under other methods (TRACE, OPTIONS,
/// a PUT where PATCH is meant), 404 when no route has that path.
struct KnownRoutes(Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)>);

impl KnownRoutes {
    fn from_document(api: &utoipa::openapi::OpenApi) -> KnownRoutes {
        let mut routes: Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)> = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                let methods = methods.iter().filter(|(_, on)| *on).map(|(m, _)| *m).collect();
                (actix_web::dev::ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        routes.push((actix_web::dev::ResourceDef::new("/api/v1/openapi.json"), vec!["GET"]));
        for page in ["/", "/console", "/console/", "/console/{file}", "/docs", "/docs/{file}"] {
            routes.push((actix_web::dev::ResourceDef::new(page), vec!["GET"]));
        }
        KnownRoutes(routes)
    }

    fn unrouted(&self, method: &actix_web::http::Method, path: &str) -> HttpResponse {
        use actix_web::ResponseError;
        let mut allowed: Vec<&str> = Vec::new();
        // Where several patterns match (/needs/{id}/matches and /needs/{id}/{action}), the most
        // specific names the resource.
        let dynamic = |p: &actix_web::dev::ResourceDef| p.pattern().map_or(0, |s| s.matches('{').count());
        let fewest = self.0.iter().filter(|(p, _)| p.is_match(path)).map(|(p, _)| dynamic(p)).min();
        for (pattern, methods) in &self.0 {
            if pattern.is_match(path) && Some(dynamic(pattern)) == fewest {
                for m in methods {
                    if !allowed.contains(m) {
                        allowed.push(m);
                    }
                }
            }
        }
        if allowed.is_empty() || allowed.contains(&method.as_str()) {
            return ApiError::from_status(actix_web::http::StatusCode::NOT_FOUND, method.as_str(), path)
                .error_response();
        }
        let mut response = ApiError::from(
            crate::app::Error::new(
                crate::app::Code::MethodNotAllowed,
                format!("{path} does not accept {method}; it accepts {}", allowed.join(", ")),
            )
            .with_details(serde_json::json!({ "allowed": allowed })),
        )
        .error_response();
        if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert(actix_web::http::header::ALLOW, value);
        }
        response
    }
}
