//! `authgate-bench`: throughput, latency, CPU and memory of authgate's hot paths, against a
//! plain axum ceiling measured in the same run. See BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p authgate-bench -- [--secs 10] [--warmup 2] [--connections 32]
//!     [--tokens 1000000] [--postgres URL | --no-postgres] [--out bench-results] [--smoke]
//!     [--driver wrk|builtin] [--wrk-threads 1] [--runs 1] [--compare OLD/results.json]
//! cargo run --release -p authgate-bench -- growth [--sizes 10000,10000000]
//!     [--processes 1,2,4] [--distinct 20000] [--secs 10] [--postgres URL | --no-postgres]
//! cargo run --release -p authgate-bench -- pgdriver [--secs 10] [--warmup 2]
//!     [--connections 32] [--runs 1] [--postgres URL] [--out bench-results] [--smoke]
//! ```
#![forbid(unsafe_code)]
// Statistics over measured counts and durations: the float/integer conversions are of
// values far inside both ranges.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
// The load generator measures wall-clock time; the injected-clock rule is for the library.
#![allow(clippy::disallowed_methods)]

mod ceiling;
mod growth;
mod load;
mod pgdriver;
mod report;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use load::{Scenario, ScenarioResult};
use report::{Report, Row};

pub(crate) const CLIENT_ID: &str = "bench";
pub(crate) const CLIENT_SECRET: &str = "bench-secret-0123456789";
pub(crate) const USER: &str = "bench-user";
pub(crate) const PASSWORD: &str = "bench-password";

/// Run options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) secs: f64,
    pub(crate) warmup: f64,
    pub(crate) connections: usize,
    pub(crate) tokens: usize,
    pub(crate) postgres: Option<String>,
    pub(crate) out: PathBuf,
    pub(crate) smoke: bool,
    /// Drive the scenarios with wrk (the default) or the built-in generator.
    pub(crate) driver: Driver,
    pub(crate) wrk_threads: usize,
    /// Each scenario measured this many times; the report shows the median and the spread.
    pub(crate) runs: usize,
    /// An earlier run's results.json to compare against.
    pub(crate) compare: Option<PathBuf>,
    /// `growth`: the live-token counts to fill each store with.
    pub(crate) sizes: Vec<u64>,
    /// `growth`: the numbers of server processes to run on one PostgreSQL.
    pub(crate) processes: Vec<usize>,
    /// `growth`: distinct tokens presented in turn.
    pub(crate) distinct: usize,
}

/// Which load generator drives the scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    Wrk,
    Builtin,
}

impl Driver {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Wrk => "wrk",
            Self::Builtin => "built-in",
        }
    }
}

/// A comma-separated list of counts (`10000,10000000`).
fn counts(name: &str, v: &str) -> Result<Vec<u64>, String> {
    let out: Result<Vec<u64>, _> = v
        .split(',')
        .map(|x| x.trim().replace('_', "").parse::<u64>())
        .collect();
    match out {
        Ok(list) if !list.is_empty() && !list.contains(&0) => Ok(list),
        _ => Err(format!(
            "{name}: not a comma-separated list of positive counts"
        )),
    }
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        secs: 10.0,
        warmup: 2.0,
        connections: 32,
        tokens: 1_000_000,
        postgres: Some("postgres://postgres@127.0.0.1:5432/test".into()),
        out: PathBuf::from("bench-results"),
        smoke: false,
        driver: Driver::Wrk,
        wrk_threads: 1,
        runs: 1,
        compare: None,
        sizes: vec![10_000, 10_000_000],
        processes: vec![1, 2, 4],
        distinct: 20_000,
    };
    let mut args = args;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.parse::<f64>()
                .map_err(|_| format!("{name}: not a number"))
        };
        match a.as_str() {
            "--secs" => o.secs = number("--secs", value("--secs")?)?,
            "--warmup" => o.warmup = number("--warmup", value("--warmup")?)?,
            "--connections" => {
                o.connections = number("--connections", value("--connections")?)? as usize;
            }
            "--tokens" => {
                o.tokens = number("--tokens", value("--tokens")?)? as usize;
            }
            "--postgres" => o.postgres = Some(value("--postgres")?),
            "--no-postgres" => o.postgres = None,
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--smoke" => o.smoke = true,
            "--driver" => {
                o.driver = match value("--driver")?.as_str() {
                    "wrk" => Driver::Wrk,
                    "builtin" => Driver::Builtin,
                    other => return Err(format!("--driver: '{other}' is not wrk or builtin")),
                }
            }
            "--wrk-threads" => {
                o.wrk_threads = number("--wrk-threads", value("--wrk-threads")?)?.max(1.0) as usize;
            }
            "--runs" => o.runs = number("--runs", value("--runs")?)?.max(1.0) as usize,
            "--compare" => o.compare = Some(PathBuf::from(value("--compare")?)),
            "--sizes" => o.sizes = counts("--sizes", &value("--sizes")?)?,
            "--processes" => {
                o.processes = counts("--processes", &value("--processes")?)?
                    .into_iter()
                    .map(|n| n as usize)
                    .collect();
            }
            "--distinct" => {
                o.distinct = number("--distinct", value("--distinct")?)?.max(1.0) as usize;
            }
            // `cargo bench` / `cargo test` pass these; ignore them.
            "--bench" | "--nocapture" => {}
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if o.smoke {
        o.secs = o.secs.min(1.0);
        o.warmup = o.warmup.min(0.3);
        o.connections = o.connections.min(8);
        o.tokens = o.tokens.min(2000);
        o.sizes = vec![1000, 5000];
        o.processes = vec![1, 2];
        o.distinct = o.distinct.min(500);
    }
    Ok(o)
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("ceiling") {
        let bind = std::env::args()
            .nth(2)
            .unwrap_or_else(|| "127.0.0.1:0".into());
        if let Err(e) = run_ceiling(&bind) {
            eprintln!("authgate-bench ceiling: {e}");
            std::process::exit(1);
        }
        return;
    }
    let command = std::env::args()
        .nth(1)
        .filter(|c| c == "growth" || c == "pgdriver");
    let options = match parse_args(std::env::args().skip(if command.is_some() { 2 } else { 1 })) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("authgate-bench: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("authgate-bench: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = match command.as_deref() {
        Some("growth") => rt.block_on(growth::run(options)),
        Some(_) => rt.block_on(pgdriver::run(options)),
        None => rt.block_on(run(options)),
    };
    if let Err(e) = result {
        eprintln!("authgate-bench: {e}");
        std::process::exit(1);
    }
}

fn run_ceiling(bind: &str) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        println!("{}", listener.local_addr()?);
        axum::serve(listener, ceiling::router()).await
    })
}

/// A server under test: a child process and where it listens.
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) base: String,
    pub(crate) child: Child,
    pub(crate) db_file: Option<PathBuf>,
    /// Its working folder (config, SQLite file, key files); empty for the ceiling.
    pub(crate) dir: PathBuf,
    /// The `database_url` it was given, when one was.
    pub(crate) database_url: Option<String>,
}

impl Target {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port())
}

/// The `authgate` binary: beside this one, built first when run through cargo.
fn authgate_binary() -> Result<PathBuf, String> {
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = std::env::current_exe()
            .ok()
            .is_some_and(|p| p.components().any(|c| c.as_os_str() == "release"));
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "authgate-server"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("building authgate-server failed".into());
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut dir = exe.parent().ok_or("no parent folder")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("authgate");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: build it with `cargo build --release -p authgate-server`",
            bin.display()
        ))
    }
}

async fn wait_ready(base: &str, path: &str, child: &mut Child) -> Result<(), String> {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server at {base} exited with {status}"));
        }
        if let Ok(r) = http.get(format!("{base}{path}")).send().await {
            if r.status().as_u16() < 500 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("server at {base} did not become ready"))
}

async fn start_ceiling() -> Result<Target, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let port = free_port()?;
    let mut child = Command::new(exe)
        .args(["ceiling", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the ceiling: {e}"))?;
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, "/api/me", &mut child).await?;
    Ok(Target {
        name: "ceiling".into(),
        base,
        child,
        db_file: None,
        dir: PathBuf::new(),
        database_url: None,
    })
}

/// The JWT access-token targets (`memory:`): their `keys.algorithms`, whose first entry
/// signs access tokens (ES256 when listed); RS256 stays for the ID tokens.
const JWT_TARGETS: [(&str, &str); 3] = [
    ("jwt-es256", r#""ES256", "RS256""#),
    ("jwt-eddsa", r#""EdDSA", "RS256""#),
    ("jwt-rs256", r#""RS256""#),
];

async fn start_authgate(
    bin: &Path,
    store: &str,
    database_url: Option<&str>,
    dir: &Path,
) -> Result<Target, String> {
    start_authgate_with(bin, store, database_url, dir, "").await
}

/// A server under test; `extra` is appended to its config (top-level tables).
async fn start_authgate_with(
    bin: &Path,
    store: &str,
    database_url: Option<&str>,
    dir: &Path,
    extra: &str,
) -> Result<Target, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let db = database_url
        .map(|u| format!("database_url = \"{u}\"\n"))
        .unwrap_or_default();
    let config = format!(
        r#"issuer = "http://127.0.0.1:{port}"
bind = "127.0.0.1:{port}"
{db}
[[clients]]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"]
response_types = ["code"]
scope = "openid profile read"

[[users]]
username = "{USER}"
password = "{PASSWORD}"

# Open registration, without the per-address limit's effect on a load test.
[registration]
enabled = true
requests_per_hour = 100000000
{extra}"#
    );
    let path = dir.join("authgate.toml");
    std::fs::write(&path, config).map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(&path)
        // Its session key file lands in the working directory: the target's own folder.
        .current_dir(dir)
        .env("AUTHGATE_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start authgate: {e}"))?;
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, "/.well-known/openid-configuration", &mut child).await?;
    let db_file = database_url.is_none().then(|| dir.join("authgate.db"));
    Ok(Target {
        name: store.into(),
        base,
        child,
        db_file,
        dir: dir.to_path_buf(),
        database_url: database_url.map(str::to_owned),
    })
}

/// One scenario against one target with the chosen load generator.
async fn measure(
    t: &Target,
    s: Scenario,
    o: &Options,
    work: &Path,
) -> Result<ScenarioResult, String> {
    if o.driver == Driver::Builtin {
        return load::run(t, s, o).await;
    }
    let http = load::http_client()?;
    let token = if s == Scenario::UserInfo {
        load::user_token(&http, &t.base).await?
    } else {
        load::issue_token(&http, &t.base).await?
    };
    let dir = work.join("wrk").join(&t.name);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let n = if o.smoke { 50 } else { 5000 };
    let pool = match s {
        Scenario::Revoke => {
            let mut pool = Vec::with_capacity(n);
            for _ in 0..n {
                pool.push(load::issue_token(&http, &t.base).await?);
            }
            Some(pool)
        }
        Scenario::DevicePoll => Some(load::device_codes(&http, &t.base, n).await?),
        _ => None,
    };
    let pool_file = match pool {
        Some(pool) => {
            let path = dir.join(format!("{}-pool.txt", s.key()));
            std::fs::write(&path, pool.join("\n") + "\n").map_err(|e| e.to_string())?;
            Some(path)
        }
        None => None,
    };
    let session = if s.is_flow() {
        Some(load::sign_in(&http, &t.base).await?)
    } else {
        None
    };
    let inputs = wrk::Inputs {
        token: &token,
        pool_file: pool_file.as_deref(),
        session: session
            .as_ref()
            .map(|b| (b.cookies.as_str(), b.csrf.as_str())),
    };
    tokio::task::block_in_place(|| wrk::run(t, s, o, &inputs, &dir))
}

/// A pool on the PostgreSQL server at `url`, or why there is none.
pub(crate) async fn postgres_pool(url: &str) -> Result<sqlx::PgPool, String> {
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|e| e.to_string())
}

/// A fresh schema `schema` on the PostgreSQL server at `url` (dropped first if a crashed
/// run left it): a pool, and the URL that puts a server in it.
pub(crate) async fn postgres_schema(
    url: &str,
    schema: &str,
) -> Result<(sqlx::PgPool, String), String> {
    let pool = postgres_pool(url).await?;
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .execute(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok((
        pool,
        format!("{url}{sep}options=-c%20search_path%3D{schema}"),
    ))
}

async fn run(o: Options) -> Result<(), String> {
    let bin = authgate_binary()?;
    let work = std::env::temp_dir().join(format!("authgate-bench-{}", std::process::id()));
    let mut report = Report::new(&o);

    let mut targets = vec![start_ceiling().await?];
    targets.push(start_authgate(&bin, "memory", Some("memory:"), &work.join("memory")).await?);
    targets.push(start_authgate(&bin, "sqlite", None, &work.join("sqlite")).await?);
    let mut pg_pool = None;
    if let Some(url) = &o.postgres {
        let schema = format!("authgate_bench_{}", std::process::id());
        match postgres_schema(url, &schema).await {
            Ok((pool, db)) => {
                targets.push(
                    start_authgate(&bin, "postgres", Some(&db), &work.join("postgres")).await?,
                );
                pg_pool = Some((pool, schema));
            }
            Err(e) => eprintln!("postgres: skipped ({e})"),
        }
    }
    for (name, algs) in JWT_TARGETS {
        let extra =
            format!("\n[tokens]\naccess_token_format = \"jwt\"\n\n[keys]\nalgorithms = [{algs}]\n");
        targets.push(
            start_authgate_with(&bin, name, Some("memory:"), &work.join(name), &extra).await?,
        );
    }

    if o.driver == Driver::Wrk {
        wrk::ensure()?;
    }
    // Idle means settled: start-up work done, and the argon2 buffer the config's client
    // secret needed at start given back (3 s after the last password check).
    if !o.smoke {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let idle: Vec<u64> = targets
        .iter()
        .map(|t| load::rss_kb(t.pid(), "VmRSS"))
        .collect();
    for run in 0..o.runs {
        let mut rows = Vec::new();
        for (t, idle) in targets.iter().zip(&idle) {
            let mut row = Row::new(&t.name, *idle);
            let scenarios: &[Scenario] = if t.name.starts_with("jwt-") {
                &Scenario::JWT
            } else {
                &Scenario::ALL
            };
            for &scenario in scenarios {
                if t.name == "ceiling" && !scenario.on_ceiling() {
                    continue;
                }
                eprintln!(
                    "run {}/{}: {} / {} ...",
                    run + 1,
                    o.runs,
                    t.name,
                    scenario.name()
                );
                let r = measure(t, scenario, &o, &work).await?;
                row.results.push((scenario, r));
            }
            row.peak_rss_kb = load::rss_kb(t.pid(), "VmHWM");
            rows.push(row);
        }
        report.runs.push(rows);
    }
    // The load generator check: on the ceiling, the built-in generator beside wrk.
    if o.driver == Driver::Wrk {
        for s in [Scenario::Issue, Scenario::Bearer] {
            eprintln!(
                "check: ceiling / {} with the built-in generator ...",
                s.name()
            );
            let builtin = load::run(&targets[0], s, &o).await?;
            report.checks.push((s, builtin));
        }
    }
    // The token cache's invalidation delay: a second instance on each shared store.
    for t in &targets {
        if t.name != "sqlite" && t.name != "postgres" {
            continue;
        }
        eprintln!("cache invalidation: {} ...", t.name);
        // The same folder and URL: the same SQLite file or PostgreSQL schema, key
        // encryption key and session key.
        let b = start_authgate(
            &bin,
            &format!("{}-b", t.name),
            t.database_url.as_deref(),
            &t.dir,
        )
        .await?;
        let samples = load::invalidation_latency(t, &b, if o.smoke { 3 } else { 30 }).await?;
        report.invalidation.push((t.name.clone(), samples));
    }
    report.finish();
    drop(targets);
    // Bytes per live token, each on a fresh server so earlier scenarios' tokens and freed
    // memory do not blur the figure.
    for (store, url) in [("memory", Some("memory:")), ("sqlite", None)] {
        let fresh = start_authgate(&bin, store, url, &work.join(format!("{store}-tokens"))).await?;
        let (per_token, note) = load::bytes_per_token(&fresh, &o).await?;
        if let Some(row) = report.rows.iter_mut().find(|r| r.name == store) {
            row.bytes_per_token = per_token;
            row.bytes_note = note;
        }
    }
    if let Some((pool, schema)) = pg_pool {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&pool)
            .await;
    }
    let _ = std::fs::remove_dir_all(&work);

    report.write(&o.out)?;
    println!("{}", report.markdown());
    let errors: u64 = report
        .runs
        .iter()
        .flatten()
        .flat_map(|r| r.results.iter())
        .map(|(_, r)| r.errors)
        .sum();
    if errors > 0 {
        return Err(format!("{errors} requests failed during the run"));
    }
    Ok(())
}
