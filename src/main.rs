//! The `techmarket` command line: run the service and administer it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use techmarket::app::queries::{DockingFilter, RecordQuery};
use techmarket::app::{self, accounts, indexing};
use techmarket::config::Config;
use techmarket::domain::org::{NewOrganisation, NewUser, OrganisationInput, UserInput};
use techmarket::domain::record::Library;
use techmarket::followers::Followers;
use techmarket::i18n::Language;
use techmarket::startup::{self, Application, open_context};
use techmarket::tabular::Format;
use techmarket::{demo, telemetry};

#[derive(Parser)]
#[command(
    name = "techmarket",
    version,
    about = "A city technology market (科技大市场): needs, achievements, matching, dockings, transfers"
)]
struct Cli {
    /// A TOML file overriding config/default.toml (environment TECHMARKET__SECTION__KEY overrides both).
    #[arg(long, global = true, env = "TECHMARKET_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve {
        /// Load the Chinese demo data set (organisations, users, needs, achievements) into an
        /// empty database and print API tokens to try it with.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Copy the database (SQLite) into a new folder while the service runs and takes writes:
    /// every write acknowledged before the copy began is in it. The search index is rebuilt
    /// from the database on restore. PostgreSQL: use pg_dump (README, "Backup and restore").
    Backup {
        /// The folder to write the backup into (new, or empty).
        dir: std::path::PathBuf,
    },
    /// Bring a backup into an empty data folder (the configured one); `techmarket serve` then
    /// starts on it and rebuilds the search index.
    Restore {
        /// The backup folder `techmarket backup` wrote.
        dir: std::path::PathBuf,
    },
    /// Load the demo data set into the database and print its tokens.
    SeedDemo,
    /// Rebuild the search index from the database with the current dictionary (run it while
    /// the service is stopped; a running service rebuilds with POST /api/v1/admin/index/rebuild).
    Reindex,
    /// The search index.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Import needs or achievements from a file (CSV in UTF-8 or GBK, XLSX, JSON Lines), as
    /// `POST /api/v1/imports` does: all rows or none (unless --skip-invalid), idempotent on
    /// 外部编号. Prints the report as JSON; a running service indexes and matches the records.
    Import(ImportArgs),
    /// Export a library to a file, as `GET /api/v1/exports/...` does: needs or achievements (what
    /// the user may see, in the import columns, so a file can be edited and imported again),
    /// dockings or transfers (managers).
    Export {
        /// needs, achievements, dockings or transfers.
        #[arg(long)]
        library: String,
        /// Where to write the file.
        #[arg(long)]
        out: PathBuf,
        /// csv, xlsx or jsonl (default: from the file name, else csv).
        #[arg(long)]
        format: Option<String>,
        /// The user the export is made for (default: the operator's admin).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Run the matcher and store suggestions (run it while the service is stopped; a running
    /// service matches every write in the background).
    Match {
        /// Re-run matching for every need and achievement. Pairs with an open docking, and
        /// closed pairs whose records have not changed materially, are left alone.
        #[arg(long)]
        all: bool,
        /// Match the records written since the matcher's checkpoint, as a running service does
        /// in the background (after a large `import` with the service stopped), printing the
        /// rate as it goes.
        #[arg(long, conflicts_with = "all")]
        pending: bool,
    },
    /// Rank achievements for needs from JSON Lines files with the production search path and
    /// write a TREC run (the formats are in README.md, "Matching quality"). Nothing is written to the database.
    Eval(EvalArgs),
    /// Show how the search reads a text: its tokens (sub-words marked) and the concepts a query
    /// of it is read as, with their synonyms, narrower terms and parts (for keeping the
    /// dictionary; no database needed).
    Analyze { text: String },
    /// Measure search on the judged query set (README, "Search quality"): the demo catalogue in a
    /// temporary database, every query as a technology manager; prints each query's first hits
    /// and precision@5, recall@10, MRR@10 and the zero-result rate.
    SearchEval {
        /// The judged set (JSON Lines; default: the one shipped in benches/search-judged.jsonl).
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Also write the catalogue and the queries as the analyzer's tokens here, for
        /// benches/peers/search_judged.py.
        #[arg(long)]
        peer_dir: Option<PathBuf>,
        /// Print every query, not only those that miss relevant records.
        #[arg(long)]
        verbose: bool,
    },
    /// Generate realistic Chinese needs and achievements for load and speed measurements:
    /// JSON Lines in the import columns (needs.jsonl, achievements.jsonl, organisations.jsonl),
    /// built from the demo data and, when found, the CSL records of the evaluation set; with
    /// --into-db also created in the database through the import (its organisations first).
    Gen {
        /// How many needs.
        #[arg(long, default_value_t = 1000)]
        needs: usize,
        /// How many achievements.
        #[arg(long, default_value_t = 10000)]
        achievements: usize,
        /// Where to write the files.
        #[arg(long, default_value = "data/generated")]
        out: PathBuf,
        /// The same seed gives the same records.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The CSL folder whose texts to borrow (default: ../shared/eval/csl, or $EVAL/csl).
        #[arg(long)]
        from: Option<PathBuf>,
        /// Also create the records in the database, through the import, in batches.
        #[arg(long)]
        into_db: bool,
    },
    /// Administration: organisations, users, tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Compare the index with the database (counts, versions, checkpoint) without changing
    /// anything; exits with 1 when they differ.
    Check,
}

// The variants are the verbs of the command line (create-token, create-org, create-user).
#[allow(clippy::enum_variant_names)]
#[derive(Subcommand)]
enum AdminCommand {
    /// Issue an API token. Without --user: for the admin user, creating the operator organisation
    /// and the admin on a fresh install.
    CreateToken {
        /// The user to issue the token for (id).
        #[arg(long)]
        user: Option<String>,
        /// What the token is for.
        #[arg(long, default_value = "command line")]
        name: String,
        /// Days until the token expires (default: the configured accounts.token_days, 365).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Give the operator's admin (created on a fresh install) a login and a password, to sign in
    /// with: the first admin of a new market, or a new password for an admin who lost it (every
    /// session of the admin ends). The password is read from the terminal (asked twice, not
    /// shown), from standard input when it is not a terminal, or from the first line of a file;
    /// never from an argument, which other users of the machine could read.
    SetAdminPassword {
        /// The admin's login: a mobile number or an e-mail address.
        #[arg(long)]
        login: String,
        /// Read the password from the first line of this file (make it readable by you alone).
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
    /// Create an organisation.
    CreateOrg {
        #[arg(long)]
        name: String,
        /// enterprise | university | institute | operator
        #[arg(long)]
        kind: String,
        /// 6-digit administrative division code, e.g. 370502.
        #[arg(long)]
        region: String,
    },
    /// Create a user.
    CreateUser {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// enterprise | university | manager | admin
        #[arg(long)]
        role: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Whatever the command, files it creates under the data directory are the owner's alone.
    techmarket::files::private_by_default();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let mut log = config.log.clone();
    if matches!(cli.command, Command::SearchEval { .. } | Command::Analyze { .. }) {
        // Measurements print figures, not the demo's loading.
        log.level = "warn".to_string();
    }
    telemetry::init(&log);
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The command line's language: English when `LANG` (or `LC_ALL`) names it, Chinese otherwise.
fn cli_language() -> Language {
    let locale = std::env::var("LC_ALL").ok().filter(|v| !v.is_empty()).or_else(|| std::env::var("LANG").ok());
    match locale {
        Some(l) if l.starts_with("en") => Language::En,
        _ => Language::Zh,
    }
}

type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Each subcommand parses its arguments, opens the context through `startup`, calls `app` and
/// prints.
async fn run(command: Command, config: Config) -> CliResult {
    match command {
        Command::Serve { demo: with_demo } => serve(&config, with_demo).await,
        Command::Migrate => {
            startup::migrate(&config).await?;
            println!("migrations applied to {}", redact(&config.database_url()));
            Ok(())
        }
        Command::Backup { dir } => {
            let manifest = techmarket::backup::backup(&config, &dir).await?;
            println!(
                "backed up database {} (feed position {}) into {}",
                manifest.database_id,
                manifest.last_change_seq,
                dir.display()
            );
            Ok(())
        }
        Command::Restore { dir } => {
            let manifest = techmarket::backup::restore(&config, &dir).await?;
            println!(
                "restored database {} (taken {}) into {}; `techmarket serve` rebuilds the search index as it starts",
                manifest.database_id,
                manifest.taken_at,
                config.data.dir.display()
            );
            Ok(())
        }
        Command::SeedDemo => {
            let (cx, _) = open_context(&config).await?;
            let seeded = demo::seed(&cx).await;
            startup::close(&cx).await;
            Ok(demo::print_tokens(&seeded?, &config, config.server.port)?)
        }
        Command::Reindex => reindex(&config).await,
        Command::Index(IndexCommand::Check) => index_check(&config).await,
        Command::Import(args) => import(&config, args).await,
        Command::Gen { needs, achievements, out, seed, from, into_db } => {
            generate(&config, needs, achievements, &out, seed, from, into_db).await
        }
        Command::Analyze { text } => {
            analyze(&text);
            Ok(())
        }
        Command::SearchEval { queries, peer_dir, verbose } => search_eval(queries, peer_dir, verbose).await,
        Command::Export { library, out, format, as_user } => export(&config, &library, &out, format, as_user).await,
        Command::Match { all, pending } => match_records(&config, all, pending).await,
        Command::Eval(args) => eval(args),
        Command::Admin(admin) => {
            let (cx, _) = open_context(&config).await?;
            let result = run_admin(admin, &cx).await;
            startup::close(&cx).await;
            result
        }
    }
}

/// `techmarket serve`: the service, with the demo data set if asked.
async fn serve(config: &Config, with_demo: bool) -> CliResult {
    // With the demo, not ready (503) until its records are written and searchable.
    let service =
        if with_demo { Application::build_for_loading(config).await? } else { Application::build(config).await? };
    if with_demo {
        let seeded = demo::seed(&service.context()).await?;
        demo::print_tokens(&seeded, config, service.port())?;
        service.context().ready_once_indexed().await?;
    } else if !accounts::has_users(&service.context()).await? {
        println!(
            "数据库中还没有任何用户：另开一个终端运行 `cargo run -- admin create-token`（或 `techmarket admin create-token`）\n\
             创建第一个管理员令牌，再用它创建机构、用户和令牌；想先看演示数据，用 `serve --demo` 启动。\n\
             The database has no users yet: run `techmarket admin create-token` for the first admin token, \
             or start with `serve --demo` for the demo data."
        );
    }
    print_where(config, service.port());
    tracing::info!(host = %config.server.host, port = service.port(), database = %redact(&config.database_url()), "techmarket listening");
    service.run_until_stopped().await?;
    Ok(())
}

/// `techmarket reindex`: rebuilds the index and says what it holds.
async fn reindex(config: &Config) -> CliResult {
    let (cx, _) = open_context(config).await?;
    let started = std::time::Instant::now();
    let result = indexing::reindex(&cx).await;
    startup::close(&cx).await;
    let (version, report) = result?;
    let counts: Vec<String> = report.libraries.iter().map(|l| format!("{} {}", l.in_index, l.library)).collect();
    println!(
        "index rebuilt with analyzer {version} in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        counts.join(", ")
    );
    Ok(())
}

/// `techmarket index check`: compares the index as found with the database.
async fn index_check(config: &Config) -> CliResult {
    let cx = startup::open_context_as_found(config).await?;
    let report = indexing::drift(&cx).await;
    startup::close_as_found(&cx).await;
    let report = report?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.consistent {
        return Err(
            "the index differs from the database: run `techmarket reindex`, or start the service, which catches up"
                .into(),
        );
    }
    Ok(())
}

/// The arguments of `techmarket import`.
#[derive(clap::Args)]
struct ImportArgs {
    /// The file.
    file: PathBuf,
    /// needs or achievements.
    #[arg(long)]
    library: String,
    /// The owner of rows whose 单位 column is empty: an organisation's id or name.
    #[arg(long)]
    org: Option<String>,
    /// Report only; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import the valid rows even if some are invalid.
    #[arg(long)]
    skip_invalid: bool,
    /// csv, xlsx or jsonl (default: from the file name, else the bytes).
    #[arg(long)]
    format: Option<String>,
    /// A CSV's encoding, utf-8 or gbk (default: detected).
    #[arg(long)]
    encoding: Option<String>,
    /// The user the records are created by (default: the operator's admin).
    #[arg(long = "as")]
    as_user: Option<String>,
}

/// `techmarket import`: one file through the import, its report printed.
async fn import(config: &Config, a: ImportArgs) -> CliResult {
    let library = record_library(&a.library)?;
    // The file is read where it lies (twice: to check, then to write), never held whole.
    let file = std::fs::File::open(&a.file).map_err(|e| format!("cannot read {}: {e}", a.file.display()))?;
    let file = techmarket::tabular::Input::File(file);
    let format = match a.format {
        Some(f) => Format::parse(&f)?,
        None => Format::from_name(&a.file.to_string_lossy()).unwrap_or_else(|| Format::sniff(file.source())),
    };
    let encoding = a.encoding.map(|e| techmarket::tabular::Encoding::parse(&e)).transpose()?;
    let options = app::imports::Options {
        library,
        format,
        encoding,
        dry_run: a.dry_run,
        skip_invalid: a.skip_invalid,
        default_org: a.org,
        limits: config.import_limits(),
        // A process of its own: every record kept between check and write.
        keep_bytes: app::imports::KEEP_ALL,
    };
    let (cx, signals) = open_context(config).await?;
    let indexer = Followers::start_indexer(cx.clone(), signals);
    let result = async {
        let who = accounts::acting_user(&cx, a.as_user.as_deref()).await?;
        Ok::<_, app::Error>(app::imports::run(&cx, &who, file, &options).await?)
    }
    .await;
    indexer.close().await;
    startup::close(&cx).await;
    let report = result?;
    let language = cli_language();
    // The refusal's message is taken before the report's messages are put in one language.
    let refused = app::imports::refusal(&report, &options);
    let mut shown = report;
    shown.localize(language);
    println!("{}", serde_json::to_string_pretty(&shown)?);
    if let Some(refused) = refused {
        return Err(match language {
            Language::Zh => format!("{}（加 --skip-invalid 可只导入有效的行）", refused.message_zh()),
            Language::En => format!("{} (run with --skip-invalid to import the valid rows)", refused.message),
        }
        .into());
    }
    Ok(())
}

/// `techmarket gen`: generated records into files, and with `--into-db` through the import.
async fn generate(
    config: &Config,
    needs: usize,
    achievements: usize,
    out: &std::path::Path,
    seed: u64,
    from: Option<PathBuf>,
    into_db: bool,
) -> CliResult {
    let csl = from.or_else(|| {
        let default = std::env::var_os("EVAL")
            .map(|e| PathBuf::from(e).join("csl"))
            .unwrap_or_else(|| PathBuf::from("../shared/eval/csl"));
        default.join("achievements.jsonl").exists().then_some(default)
    });
    let started = std::time::Instant::now();
    let sources = techmarket::generate::Sources::load(csl.as_deref())?;
    let written = techmarket::generate::generate(out, needs, achievements, seed, &sources)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!(
        "{} needs and {} achievements written to {} in {:.1} s ({} source texts and {} further sentences{}; {:.1} % distinct titles)",
        written.needs,
        written.achievements,
        out.display(),
        started.elapsed().as_secs_f64(),
        written.sources,
        written.extra_sentences,
        if csl.is_some() { ", CSL and demo" } else { ", demo only" },
        written.distinct_titles * 100.0
    );
    if into_db {
        let (cx, signals) = open_context(config).await?;
        // The index follows the imports on the other core.
        let indexer = Followers::start_indexer(cx.clone(), signals);
        let result = techmarket::generate::load_into(&cx, out, config.import_limits()).await;
        let imported = std::time::Instant::now();
        indexer.close().await;
        startup::close(&cx).await;
        eprintln!(
            "the index caught up {:.1} s after the last import ({:.1} s in all)",
            imported.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        for line in result? {
            eprintln!("{line}");
        }
    }
    Ok(())
}

/// `techmarket match --all` and `techmarket match --pending`.
async fn match_records(config: &Config, all: bool, pending: bool) -> CliResult {
    if !all && !pending {
        return Err("say what to match: `techmarket match --all` re-runs matching for every record, \
                    `techmarket match --pending` matches the records written since the matcher last ran"
            .into());
    }
    let (cx, _) = open_context(config).await?;
    if pending {
        let result = match_pending(&cx).await;
        startup::close(&cx).await;
        return result;
    }
    let started = std::time::Instant::now();
    let result = app::matches::match_all(&cx).await;
    startup::close(&cx).await;
    let (records, created) = result?;
    println!(
        "matched {records} records in {:.1} s: {created} new suggestions (threshold {})",
        started.elapsed().as_secs_f64(),
        config.matching.threshold
    );
    Ok(())
}

/// `techmarket match --pending`: the suggester's backlog up to the index's position, in steps
/// of `STEP` change-log positions, each step's rate printed.
async fn match_pending(cx: &app::App) -> CliResult {
    const STEP: i64 = 2_000;
    let target = cx.search().current().last_seq();
    let started = std::time::Instant::now();
    let mut created = 0;
    let mut from = cx.store().checkpoint(app::matches::SUGGESTER).await?;
    let first = from;
    let mut among = app::matches::Among::default();
    while from < target {
        let step = std::time::Instant::now();
        let pass = app::matches::run_pending_among(cx, &mut among, (from + STEP).min(target), || false).await?;
        created += pass.created;
        eprintln!(
            "matched changes {}..{} in {:.1} s ({:.0}/s): {} new suggestions",
            from + 1,
            pass.checkpoint,
            step.elapsed().as_secs_f64(),
            (pass.checkpoint - from) as f64 / step.elapsed().as_secs_f64().max(1e-9),
            pass.created
        );
        if pass.checkpoint <= from {
            break;
        }
        from = pass.checkpoint;
    }
    println!("matched {} changes in {:.1} s: {created} new suggestions", from - first, started.elapsed().as_secs_f64());
    Ok(())
}

/// The arguments of `techmarket eval`.
#[derive(clap::Args)]
struct EvalArgs {
    /// Achievements (JSON Lines: id, title, abstract, keywords, field); repeatable.
    #[arg(long, required = true)]
    achievements: Vec<PathBuf>,
    /// Needs (JSON Lines: id, title, optional description).
    #[arg(long)]
    needs: PathBuf,
    /// Where to write the run.
    #[arg(long)]
    run: PathBuf,
    /// The run's tag column.
    #[arg(long, default_value = "techmarket")]
    tag: String,
    /// Field weights title,keywords,body (for tuning on the dev split).
    #[arg(long, value_parser = parse_weights)]
    weights: Option<techmarket::eval::FieldWeights>,
    /// words-and-subwords (the service's), words, search-mode or bigrams (to compare).
    #[arg(long, default_value = "words-and-subwords")]
    segmentation: techmarket::eval::Segmentation,
    /// search (the search API's ranking) or match (the matcher's re-ranking).
    #[arg(long, default_value = "match")]
    method: techmarket::eval::Method,
    /// Matcher knobs for tuning on the dev split, as name=value pairs separated by commas
    /// (candidates, field_voters, keyword_field_vote, field_floor, keyword_weight,
    /// feedback_depth, feedback_weight).
    #[arg(long, value_parser = parse_match_params)]
    match_params: Option<techmarket::matching::MatchParams>,
    /// Measure manager feedback: a simulated manager reviews each need's first five
    /// matches using these qrels (accepting the related ones, rejecting the others as
    /// field mismatches when their discipline differs), then the need is matched again with
    /// that feedback. The run holds what the manager has not reviewed yet; RUN.baseline the
    /// same without feedback, for comparison.
    #[arg(long)]
    simulate_feedback: Option<PathBuf>,
}

/// `techmarket eval`: a TREC run of the files' needs over the files' achievements (an offline
/// measurement: no database, an index in memory).
fn eval(a: EvalArgs) -> CliResult {
    let started = std::time::Instant::now();
    let catalogue =
        techmarket::eval::catalogue_from_files(&a.achievements, a.weights.unwrap_or_default(), a.segmentation)?;
    let needs = techmarket::eval::load(&a.needs)?;
    let loaded = started.elapsed();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&a.run)?);
    let params = a.match_params.unwrap_or_default();
    match a.simulate_feedback {
        None => techmarket::eval::run(&catalogue, &needs, &mut out, &a.tag, a.method, &params)?,
        Some(qrels) => {
            let qrels = techmarket::eval::load_qrels(&qrels)?;
            let mut baseline_path = a.run.clone().into_os_string();
            baseline_path.push(".baseline");
            let mut baseline = std::io::BufWriter::new(std::fs::File::create(&baseline_path)?);
            techmarket::eval::run_with_feedback(&catalogue, &needs, &qrels, &mut out, &mut baseline, &a.tag, &params)?;
            std::io::Write::flush(&mut baseline)?;
        }
    }
    std::io::Write::flush(&mut out)?;
    eprintln!(
        "ranked {} needs in {:.1} s (catalogue loaded in {:.1} s); run written to {}",
        needs.len(),
        (started.elapsed() - loaded).as_secs_f64(),
        loaded.as_secs_f64(),
        a.run.display()
    );
    Ok(())
}

/// Where the service keeps its data and where to reach it, printed at start.
fn print_where(config: &Config, port: u16) {
    let data = techmarket::startup::absolute(&config.data.dir);
    let database = match config.database_url().strip_prefix("sqlite://") {
        Some(file) => format!("SQLite {}", techmarket::startup::absolute(std::path::Path::new(file)).display()),
        None => redact(&config.database_url()),
    };
    let host = &config.server.host;
    println!(
        "数据目录 data directory: {}\n数据库 database: {database}\nAPI: http://{host}:{port}/api/v1 ，接口文档 API reference: http://{host}:{port}/docs",
        data.display(),
    );
}

/// `techmarket analyze`: the tokens of a text and the concepts a search reads in it.
fn analyze(text: &str) {
    let reading = app::search::analyze(text);
    println!("tokens: {}", reading.tokens.join(" "));
    for concept in reading.concepts {
        println!("{concept}");
    }
}

/// `techmarket search-eval`: the judged set over the demo catalogue, its misses and figures.
async fn search_eval(queries: Option<PathBuf>, peer_dir: Option<PathBuf>, verbose: bool) -> CliResult {
    let text = match &queries {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => techmarket::judged::SHIPPED.to_string(),
    };
    let set = techmarket::judged::parse(&text)?;
    let (_dir, cx, who) = techmarket::judged::demo_catalogue().await?;
    let result = async {
        if let Some(dir) = &peer_dir {
            techmarket::judged::write_peer_files(&cx, &who, &set, dir).await?;
        }
        techmarket::judged::run(&cx, &who, &set).await
    }
    .await;
    startup::close_as_found(&cx).await;
    let results = result?;
    for (r, _) in &results {
        if verbose || !r.missed.is_empty() || r.total == 0 {
            println!(
                "{}\t{}\ttotal {}\tP@5 {:.2} R@10 {:.2}\tmissed: {}\ttop: {}",
                r.q,
                r.matched,
                r.total,
                r.precision_at_5,
                r.recall_at_10,
                r.missed.join("、"),
                r.top.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")
            );
        }
    }
    let s = techmarket::judged::summarise(&results);
    println!(
        "RESULT techmarket queries={} P@5={:.3} R@10={:.3} MRR@10={:.3} zero-result={:.3} partial={:.3}",
        s.queries, s.precision_at_5, s.recall_at_10, s.mrr_at_10, s.zero_result_rate, s.partial_rate
    );
    Ok(())
}

fn record_library(text: &str) -> Result<Library, String> {
    match text {
        "needs" => Ok(Library::Needs),
        "achievements" => Ok(Library::Achievements),
        other => Err(format!("--library must be needs or achievements (got `{other}`)")),
    }
}

/// `techmarket export`: a library to a file as `as_user` may see it.
async fn export(
    config: &Config,
    library: &str,
    out: &std::path::Path,
    format: Option<String>,
    as_user: Option<String>,
) -> CliResult {
    let format = match format {
        Some(f) => Format::parse(&f)?,
        None => Format::from_name(&out.to_string_lossy()).unwrap_or(Format::Csv),
    };
    let (cx, _) = open_context(config).await?;
    let result = write_export(&cx, library, as_user.as_deref(), format, out).await;
    startup::close(&cx).await;
    let rows = result?;
    eprintln!("{rows} rows written to {}", out.display());
    Ok(())
}

/// Writes an export of `library` as `as_user` may see it; returns the rows written.
async fn write_export(
    cx: &app::App,
    library: &str,
    as_user: Option<&str>,
    format: Format,
    out: &std::path::Path,
) -> CliResult<usize> {
    use app::exports;
    let who = accounts::acting_user(cx, as_user).await?;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?,
    );
    let rows = match library {
        "dockings" => {
            exports::write(exports::dockings(cx, &who, DockingFilter::default()).await?, format, &mut file).await?
        }
        "transfers" => {
            let filter = techmarket::domain::stats::StatsFilter::default();
            exports::write(exports::transfers(cx, &who, filter).await?, format, &mut file).await?
        }
        other => {
            let library = record_library(other)
                .map_err(|_| format!("--library must be needs, achievements, dockings or transfers (got `{other}`)"))?;
            let query = RecordQuery { limit: 500, ..Default::default() };
            exports::write(exports::library(cx, &who, library, query).await?, format, &mut file).await?
        }
    };
    std::io::Write::flush(&mut file)?;
    Ok(rows)
}

/// A password from the first line of `file`, else from the terminal (asked twice, without
/// echo), else from the first line of standard input.
fn read_password(file: Option<&std::path::Path>) -> CliResult<String> {
    use std::io::IsTerminal;
    let first_line = |text: String| text.lines().next().unwrap_or_default().to_string();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok(first_line(text));
    }
    if std::io::stdin().is_terminal() {
        let once = rpassword::prompt_password("新密码 (new password): ")?;
        let twice = rpassword::prompt_password("再输入一次 (again): ")?;
        if once != twice {
            return Err("the two passwords differ; nothing was changed".into());
        }
        return Ok(once);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(first_line(line))
}

async fn run_admin(command: AdminCommand, cx: &app::App) -> CliResult {
    let operator = app::Actor::System(accounts::COMMAND_LINE);
    match command {
        AdminCommand::CreateToken { user, name, expires_in_days } => {
            let (user, secret) = match user {
                None => accounts::bootstrap_admin(cx, &name, expires_in_days).await?,
                Some(id) => accounts::issue_token_for(cx, operator, &id, &name, expires_in_days).await?,
            };
            eprintln!("token for {} ({}), shown once:", user.name, user.role);
            println!("{secret}");
        }
        AdminCommand::SetAdminPassword { login, password_file } => {
            let password = read_password(password_file.as_deref())?;
            let (admin, login) = app::sessions::set_admin_password(cx, &login, password).await?;
            eprintln!("{} ({}) signs in as `{login}` (POST /api/v1/sessions)", admin.name, admin.id);
        }
        AdminCommand::CreateOrg { name, kind, region } => {
            let new = NewOrganisation::parse(&OrganisationInput {
                name: Some(name),
                kind: Some(kind),
                region: Some(region),
            })?;
            let org = accounts::create_organisation(cx, operator, new).await?;
            println!("{}", org.id);
        }
        AdminCommand::CreateUser { org, name, role, email, phone } => {
            let new =
                NewUser::parse(&UserInput { org_id: Some(org), name: Some(name), role: Some(role), email, phone })?;
            let user = accounts::create_user(cx, operator, new).await?;
            println!("{}", user.id);
        }
    }
    Ok(())
}

fn parse_weights(text: &str) -> Result<techmarket::eval::FieldWeights, String> {
    let parts: Vec<f32> =
        text.split(',').map(|p| p.trim().parse::<f32>()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    match parts[..] {
        [title, keywords, body] => Ok(techmarket::eval::FieldWeights { title, keywords, body }),
        _ => Err("give three numbers: title,keywords,body".into()),
    }
}

fn parse_match_params(text: &str) -> Result<techmarket::matching::MatchParams, String> {
    techmarket::matching::MatchParams::parse(text)
}

/// Hides a password in a database URL before it is logged.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
