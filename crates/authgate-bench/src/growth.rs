//! `authgate-bench growth`: what a growing store costs (issue 14, item 6).
//!
//! For SQLite and PostgreSQL and each size asked for, a fresh database is filled with that
//! many live access tokens (time-ordered selectors, as authgate makes them, older than any
//! real one, each its own family as a client_credentials token is; expiry spread evenly over the next two hours in the selectors' order, as
//! tokens of one lifetime issued at a steady rate expire, so tokens keep expiring and the
//! server's purger keeps deleting them), then the release server is started on it with its
//! defaults (token cache of 10,000) and a pool of distinct tokens (20,000: twice the cache)
//! is issued through it. wrk presents the pool in turn, so most Bearer checks and
//! introspections read the database; issuance is the fixed client_credentials request.
//!
//! Then 1, 2 and 4 server processes share one PostgreSQL schema: each process gets its
//! own wrk with its share of the connections, all at once, and the report gives each
//! process's CPU beside the total.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::report::bar_chart;
use crate::wrk::{self, WrkReport};
use crate::{load, start_authgate, Options, Target};

/// Tokens' expiry is spread over this many seconds from the fill's start.
const EXPIRY_SPREAD: i64 = 7200;
/// `issued_at` of the filler rows: tells them apart from the tokens the server issues.
const FILLER_ISSUED_AT: i64 = 1;

/// What the growth runs measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bearer,
    Introspect,
    Issue,
}

impl Kind {
    const ALL: [Self; 3] = [Self::Bearer, Self::Introspect, Self::Issue];

    fn key(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Introspect => "introspect",
            Self::Issue => "issue",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer GET /api/me (distinct tokens)",
            Self::Introspect => "introspection (distinct tokens)",
            Self::Issue => "client_credentials issuance",
        }
    }

    /// The wrk script and the path its URL names.
    fn script(self, pool: &Path) -> (String, &'static str) {
        let pool = pool.display().to_string();
        match self {
            Self::Bearer => (
                wrk::pool_lua(
                    &pool,
                    r#"wrk.format("GET", "/api/me", { ["Authorization"] = "Bearer " .. line })"#,
                ),
                "/api/me",
            ),
            Self::Introspect => (
                wrk::form_lua()
                    + &wrk::pool_lua(
                        &pool,
                        r#"wrk.format("POST", "/introspect", h, "token=" .. line)"#,
                    ),
                "/introspect",
            ),
            Self::Issue => (wrk::issue_lua(), "/token"),
        }
    }
}

/// One measured scenario over one or more server processes run at once.
#[derive(Debug, Clone, serde::Serialize)]
struct Measured {
    /// Successful requests per second, all processes together.
    rps: f64,
    /// The highest p50 and p99 of the wrk instances.
    p50_us: u64,
    p99_us: u64,
    errors: u64,
    /// All server processes' CPU per request.
    server_us_per_req: f64,
    /// Each process: its requests/s and its CPU in cores.
    per_process: Vec<(f64, f64)>,
    /// PostgreSQL's processes' CPU per request and in cores (None on SQLite).
    db_us_per_req: Option<f64>,
    db_cores: Option<f64>,
    /// The wrk instances' own CPU, in cores.
    loadgen_cores: f64,
}

/// A store at one size.
#[derive(Debug, serde::Serialize)]
struct GrowthRow {
    store: &'static str,
    live_tokens: u64,
    fill_secs: f64,
    /// (what, bytes): PostgreSQL's table and indexes, SQLite's file and WAL.
    sizes: Vec<(&'static str, u64)>,
    /// Rows expired when the server started (they expired during the fill), and how long
    /// its purger took to delete them all.
    backlog_at_start: u64,
    backlog_secs: f64,
    /// Filler rows the purger deleted while the scenarios ran, and expired rows still
    /// there at the end.
    purged_during: u64,
    expired_at_end: u64,
    measured_secs: f64,
    results: Vec<(&'static str, Measured)>,
}

/// N server processes on one PostgreSQL schema.
#[derive(Debug, serde::Serialize)]
struct ProcessRow {
    processes: usize,
    results: Vec<(&'static str, Measured)>,
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Where the tokens live.
pub(crate) enum Db {
    Sqlite(PathBuf),
    Postgres { pool: sqlx::PgPool, schema: String },
}

impl Db {
    fn table(&self) -> String {
        match self {
            Self::Sqlite(_) => "authgate_tokens".into(),
            Self::Postgres { schema, .. } => format!("{schema}.authgate_tokens"),
        }
    }

    /// Adds `n` live access tokens, expiring evenly over the next two hours from `t0` in
    /// the order of their selectors.
    pub(crate) async fn fill(&self, n: u64, t0: i64) -> Result<(), String> {
        const CHUNK: u64 = 1_000_000;
        match self {
            Self::Postgres { pool, .. } => {
                let insert = format!(
                    "INSERT INTO {} (tenant, selector, verifier_hash, kind, client_id, subject, \
                     username, scope, grant_type, issued_at, expires_at, family, revoked, rotated) \
                     SELECT '', s, sha256(int8send(i)), 0, 'bench', NULL, NULL, 'profile read', \
                     'client_credentials', {FILLER_ISSUED_AT}, $1 + i * $2 / $5, s, false, false \
                     FROM generate_series($3::bigint, $4::bigint) AS i, LATERAL (SELECT \
                     decode(lpad(to_hex(i), 12, '0'), 'hex') || \
                     substr(decode(md5(i::text), 'hex'), 1, 10) AS s) AS sel",
                    self.table()
                );
                let mut from = 1;
                while from <= n {
                    let to = (from + CHUNK - 1).min(n);
                    sqlx::query(&insert)
                        .bind(t0)
                        .bind(EXPIRY_SPREAD)
                        .bind(from as i64)
                        .bind(to as i64)
                        .bind(n as i64)
                        .execute(pool)
                        .await
                        .map_err(|e| format!("filling PostgreSQL: {e}"))?;
                    from = to + 1;
                }
                sqlx::raw_sql(&format!("VACUUM ANALYZE {}", self.table()))
                    .execute(pool)
                    .await
                    .map_err(|e| format!("VACUUM: {e}"))?;
                Ok(())
            }
            Self::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || sqlite_fill(&path, n, t0, CHUNK))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("filling SQLite: {e}"))
            }
        }
    }

    /// Filler rows; with `expired_before`, only those expired by then.
    async fn count_filler(&self, expired_before: Option<i64>) -> Result<u64, String> {
        let mut sql = format!(
            "SELECT count(*) FROM {} WHERE issued_at = {FILLER_ISSUED_AT}",
            self.table()
        );
        if let Some(t) = expired_before {
            let _ = write!(sql, " AND expires_at < {t}");
        }
        match self {
            Self::Postgres { pool, .. } => sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(pool)
                .await
                .map(|n| n as u64)
                .map_err(|e| e.to_string()),
            Self::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path)?;
                    conn.busy_timeout(Duration::from_secs(10))?;
                    conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
                })
                .await
                .map_err(|e| e.to_string())?
                .map(|n| n as u64)
                .map_err(|e| e.to_string())
            }
        }
    }

    /// The store's size on disk, by part.
    async fn sizes(&self) -> Vec<(&'static str, u64)> {
        match self {
            Self::Postgres { pool, .. } => {
                let q = |f: &str| format!("SELECT {f}('{}')::bigint", self.table());
                let mut out = Vec::new();
                for (name, f) in [("table", "pg_table_size"), ("indexes", "pg_indexes_size")] {
                    if let Ok(n) = sqlx::query_scalar::<_, i64>(&q(f)).fetch_one(pool).await {
                        out.push((name, n as u64));
                    }
                }
                out
            }
            Self::Sqlite(path) => {
                let len = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                vec![("file", len(path.clone())), ("WAL", len(wal.into()))]
            }
        }
    }
}

/// A small deterministic generator for the filler's random bytes (splitmix64).
struct Filler(u64);

impl Filler {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }
}

fn sqlite_fill(path: &Path, n: u64, t0: i64, chunk: u64) -> rusqlite::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // A bulk load into a database no server has open: a crash here only loses the load.
    conn.pragma_update(None, "synchronous", "OFF")?;
    let mut rng = Filler(0x5EED);
    let mut from = 1;
    while from <= n {
        let to = (from + chunk - 1).min(n);
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO authgate_tokens (tenant, selector, verifier_hash, kind, client_id, \
                 subject, username, scope, grant_type, issued_at, expires_at, family, revoked, \
                 rotated) VALUES ('', ?1, ?2, 0, 'bench', NULL, NULL, 'profile read', \
                 'client_credentials', ?3, ?4, ?5, 0, 0)",
            )?;
            for i in from..=to {
                // Time-ordered like authgate's selectors (6 bytes of time, then random), with
                // a "time" far below any real token's.
                let mut selector = [0u8; 16];
                selector[..6].copy_from_slice(&i.to_be_bytes()[2..]);
                selector[6..].copy_from_slice(&rng.bytes::<10>());
                let expires = t0 + i as i64 * EXPIRY_SPREAD / n as i64;
                // A client_credentials token is its own family.
                insert.execute(rusqlite::params![
                    &selector[..],
                    &rng.bytes::<32>()[..],
                    FILLER_ISSUED_AT,
                    expires,
                    &selector[..],
                ])?;
            }
        }
        tx.commit()?;
        from = to + 1;
    }
    Ok(())
}

/// Issues `n` tokens through `t`, 16 at a time.
async fn issue_pool(t: &Target, n: usize) -> Result<Vec<String>, String> {
    let tasks = 16;
    let mut handles = Vec::new();
    for k in 0..tasks {
        let base = t.base.clone();
        let count = n / tasks + usize::from(k < n % tasks);
        handles.push(tokio::spawn(async move {
            let http = load::http_client()?;
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                out.push(load::issue_token(&http, &base).await?);
            }
            Ok::<_, String>(out)
        }));
    }
    let mut pool = Vec::with_capacity(n);
    for h in handles {
        pool.extend(h.await.map_err(|e| e.to_string())??);
    }
    Ok(pool)
}

/// Runs `kind` against every target at once, each with its own wrk and its share of the
/// connections: a warm-up, then the measured run.
fn measure(
    targets: &[Target],
    kind: Kind,
    pool_file: &Path,
    work: &Path,
    o: &Options,
    postgres: bool,
) -> Result<Measured, String> {
    let (lua, path) = kind.script(pool_file);
    let file = work.join(format!("growth-{}.lua", kind.key()));
    std::fs::write(&file, lua).map_err(|e| e.to_string())?;
    let mut share = o.clone();
    share.connections = (o.connections / targets.len()).max(1);
    let all = |secs: f64| -> Result<Vec<WrkReport>, String> {
        std::thread::scope(|s| {
            let runs: Vec<_> = targets
                .iter()
                .map(|t| {
                    let (file, share) = (&file, &share);
                    s.spawn(move || wrk::wrk(t, path, file, secs, share))
                })
                .collect();
            runs.into_iter()
                .map(|h| h.join().map_err(|_| "a wrk thread panicked".to_owned())?)
                .collect()
        })
    };
    if o.warmup > 0.0 {
        all(o.warmup)?;
    }
    let tck = load::clock_ticks_per_sec();
    let cpu0: Vec<u64> = targets.iter().map(|t| load::cpu_ticks(t.pid())).collect();
    let db0 = load::postgres_ticks();
    let reports = all(o.secs)?;
    let db1 = load::postgres_ticks();
    let cpu1: Vec<u64> = targets.iter().map(|t| load::cpu_ticks(t.pid())).collect();
    let secs = reports.iter().map(|r| r.secs).fold(0.0, f64::max).max(1e-9);
    let mut per_process = Vec::new();
    let (mut ok, mut errors, mut server_secs, mut loadgen) = (0u64, 0u64, 0.0, 0.0);
    for ((r, c0), c1) in reports.iter().zip(&cpu0).zip(&cpu1) {
        let served = r.requests.saturating_sub(r.non_2xx);
        let cpu = c1.saturating_sub(*c0) as f64 / tck;
        per_process.push((served as f64 / r.secs, cpu / r.secs));
        ok += served;
        errors += r.non_2xx + r.socket_errors;
        server_secs += cpu;
        loadgen += r.cpu_secs.unwrap_or(0.0) / r.secs;
    }
    let per_req = |cpu_secs: f64| {
        if ok == 0 {
            0.0
        } else {
            cpu_secs * 1e6 / ok as f64
        }
    };
    let db_secs = load::postgres_ticks_between(&db0, &db1) as f64 / tck;
    Ok(Measured {
        rps: per_process.iter().map(|(r, _)| r).sum(),
        p50_us: reports.iter().map(|r| r.p50_us).max().unwrap_or(0),
        p99_us: reports.iter().map(|r| r.p99_us).max().unwrap_or(0),
        errors,
        server_us_per_req: per_req(server_secs),
        per_process,
        db_us_per_req: postgres.then(|| per_req(db_secs)),
        db_cores: postgres.then(|| db_secs / secs),
        loadgen_cores: loadgen,
    })
}

/// A fresh PostgreSQL schema on `url` and the URL that puts a server in it.
async fn pg_schema(url: &str, name: &str) -> Result<(Db, String), String> {
    let schema = format!("authgate_growth_{}_{name}", std::process::id());
    let (pool, db_url) = crate::postgres_schema(url, &schema).await?;
    Ok((Db::Postgres { pool, schema }, db_url))
}

impl Db {
    async fn drop_schema(&self) {
        if let Self::Postgres { pool, schema } = self {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(pool)
                .await;
        }
    }
}

/// Writes the pool of tokens where wrk reads it.
fn write_pool(dir: &Path, pool: &[String]) -> Result<PathBuf, String> {
    let path = dir.join("growth-pool.txt");
    std::fs::write(&path, pool.join("\n") + "\n").map_err(|e| e.to_string())?;
    Ok(path)
}

/// One store at one size: fill, start, wait for the purger, measure.
async fn one_size(
    bin: &Path,
    store: &'static str,
    n: u64,
    o: &Options,
    work: &Path,
) -> Result<GrowthRow, String> {
    let dir = work.join(format!("growth-{store}-{n}"));
    let (db, url) = match (store, &o.postgres) {
        ("postgres", Some(url)) => {
            let (db, u) = pg_schema(url, &n.to_string()).await?;
            (db, Some(u))
        }
        _ => (Db::Sqlite(dir.join("authgate.db")), None),
    };
    // A first start creates the schema; the fill goes in with no server running.
    drop(start_authgate(bin, store, url.as_deref(), &dir).await?);
    eprintln!("growth: filling {store} with {n} tokens ...");
    let t0 = now_secs();
    let started = Instant::now();
    db.fill(n, t0).await?;
    let fill_secs = started.elapsed().as_secs_f64();
    let sizes = db.sizes().await;
    // The purger starts with the server: wait until the rows that expired during the
    // fill are gone. (Rows keep expiring meanwhile, 1/7200 of them a second; those wait
    // for the purger's next round, a minute later.)
    let server_start = now_secs();
    let backlog_at_start = db.count_filler(Some(server_start)).await?;
    let waited = Instant::now();
    let t = start_authgate(bin, store, url.as_deref(), &dir).await?;
    let pool = issue_pool(&t, o.distinct).await?;
    let pool_file = write_pool(&dir, &pool)?;
    while db.count_filler(Some(server_start)).await? > 0 {
        if waited.elapsed() > Duration::from_secs(900) {
            return Err(format!("{store}: the purger did not catch up in 900 s"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let backlog_secs = waited.elapsed().as_secs_f64();
    let before = db.count_filler(None).await?;
    let measuring = Instant::now();
    let mut results = Vec::new();
    for kind in Kind::ALL {
        eprintln!("growth: {store} at {n} / {} ...", kind.key());
        let m = tokio::task::block_in_place(|| {
            measure(
                std::slice::from_ref(&t),
                kind,
                &pool_file,
                &dir,
                o,
                store == "postgres",
            )
        })?;
        results.push((kind.key(), m));
    }
    let measured_secs = measuring.elapsed().as_secs_f64();
    let after = db.count_filler(None).await?;
    let expired_at_end = db.count_filler(Some(now_secs())).await?;
    drop(t);
    db.drop_schema().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(GrowthRow {
        store,
        live_tokens: n,
        fill_secs,
        sizes,
        backlog_at_start,
        backlog_secs,
        purged_during: before.saturating_sub(after),
        expired_at_end,
        measured_secs,
        results,
    })
}

/// N processes on one PostgreSQL schema holding the first size's tokens.
async fn processes(
    bin: &Path,
    url: &str,
    o: &Options,
    work: &Path,
) -> Result<Vec<ProcessRow>, String> {
    let mut rows = Vec::new();
    for &k in &o.processes {
        let dir = work.join(format!("growth-processes-{k}"));
        let (db, db_url) = pg_schema(url, &format!("p{k}")).await?;
        drop(start_authgate(bin, "postgres", Some(&db_url), &dir).await?);
        db.fill(o.sizes.first().copied().unwrap_or(10_000), now_secs())
            .await?;
        let mut targets = Vec::new();
        for i in 0..k {
            targets.push(start_authgate(bin, &format!("postgres-{i}"), Some(&db_url), &dir).await?);
        }
        let pool = issue_pool(&targets[0], o.distinct).await?;
        let pool_file = write_pool(&dir, &pool)?;
        let mut results = Vec::new();
        for kind in Kind::ALL {
            eprintln!("growth: {k} process(es) on PostgreSQL / {} ...", kind.key());
            let m =
                tokio::task::block_in_place(|| measure(&targets, kind, &pool_file, &dir, o, true))?;
            results.push((kind.key(), m));
        }
        drop(targets);
        db.drop_schema().await;
        let _ = std::fs::remove_dir_all(&dir);
        rows.push(ProcessRow {
            processes: k,
            results,
        });
    }
    Ok(rows)
}

/// Every store at every size, then the processes on PostgreSQL.
async fn measure_all(
    bin: &Path,
    o: &Options,
    work: &Path,
) -> Result<(Vec<GrowthRow>, Vec<ProcessRow>), String> {
    let mut stores = vec!["sqlite"];
    if let Some(url) = &o.postgres {
        match crate::postgres_pool(url).await {
            Ok(_) => stores.push("postgres"),
            Err(e) => eprintln!("postgres: skipped ({e})"),
        }
    }
    let mut rows = Vec::new();
    for &store in &stores {
        for &n in &o.sizes {
            rows.push(one_size(bin, store, n, o, work).await?);
        }
    }
    let procs = match (&o.postgres, stores.contains(&"postgres")) {
        (Some(url), true) => processes(bin, url, o, work).await?,
        _ => Vec::new(),
    };
    Ok((rows, procs))
}

/// Drops the schemas this process made (`authgate_growth_<pid>_...`).
async fn drop_run_schemas(url: &str) {
    let Ok(pool) = crate::postgres_pool(url).await else {
        return;
    };
    let prefix = format!("authgate_growth_{}_", std::process::id());
    let names: Vec<String> =
        sqlx::query_scalar("SELECT schema_name::text FROM information_schema.schemata")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    for name in names.iter().filter(|n| n.starts_with(&prefix)) {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .execute(&pool)
            .await;
    }
}

/// `authgate-bench growth`: runs everything and writes growth.json, growth.md and the two
/// charts into `o.out`.
pub(crate) async fn run(o: Options) -> Result<(), String> {
    let bin = crate::authgate_binary()?;
    wrk::ensure()?;
    let work = std::env::temp_dir().join(format!("authgate-growth-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let measured = measure_all(&bin, &o, &work).await;
    // Whatever happened, no schema or folder of this run is left behind (a schema can
    // hold ten million rows).
    if let Some(url) = &o.postgres {
        drop_run_schemas(url).await;
    }
    let _ = std::fs::remove_dir_all(&work);
    let (rows, procs) = measured?;
    let report = GrowthReport {
        rows,
        procs,
        options: o,
    };
    report.write()?;
    println!("{}", report.markdown());
    let errors: u64 = report
        .rows
        .iter()
        .flat_map(|r| &r.results)
        .chain(report.procs.iter().flat_map(|p| &p.results))
        .map(|(_, m)| m.errors)
        .sum();
    if errors > 0 {
        return Err(format!("{errors} requests failed during the growth run"));
    }
    Ok(())
}

struct GrowthReport {
    rows: Vec<GrowthRow>,
    procs: Vec<ProcessRow>,
    options: Options,
}

/// Bytes as MB with one decimal.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// 10000 as "10k", 10000000 as "10M".
fn short(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

fn kind_name(key: &str) -> &'static str {
    Kind::ALL
        .iter()
        .find(|k| k.key() == key)
        .map_or("?", |k| k.name())
}

impl GrowthReport {
    fn markdown(&self) -> String {
        let o = &self.options;
        let mut s = format!(
            "Growth: wrk -t{} -c{}, {} s warm-up, {} s measured per scenario; {} distinct tokens presented in turn (the cache keeps 10,000).\n\n",
            o.wrk_threads, o.connections, o.warmup, o.secs, o.distinct
        );
        s.push_str("| store | live tokens | size | fill s | expired at start (rows, s to purge) | purged while measuring (in s) | expired left at end |\n| --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
        for r in &self.rows {
            let sizes = r
                .sizes
                .iter()
                .map(|(what, b)| format!("{} {what}", mb(*b)))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                s,
                "| {} | {} | {sizes} | {:.0} | {} ({:.0} s) | {} ({:.0} s) | {} |",
                r.store,
                r.live_tokens,
                r.fill_secs,
                r.backlog_at_start,
                r.backlog_secs,
                r.purged_during,
                r.measured_secs,
                r.expired_at_end
            );
        }
        s.push_str("\n| scenario | store | live tokens | req/s | p50 ms | p99 ms | server CPU µs/req | database CPU µs/req | server CPU (cores) | database CPU (cores) | wrk CPU (cores) | errors |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for kind in Kind::ALL {
            for r in &self.rows {
                if let Some((_, m)) = r.results.iter().find(|(k, _)| *k == kind.key()) {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {:.2} | {} | {:.2} | {} |",
                        kind.name(),
                        r.store,
                        r.live_tokens,
                        m.rps,
                        m.p50_us as f64 / 1000.0,
                        m.p99_us as f64 / 1000.0,
                        m.server_us_per_req,
                        m.db_us_per_req.map_or("—".into(), |v| format!("{v:.1}")),
                        m.per_process.iter().map(|(_, c)| c).sum::<f64>(),
                        m.db_cores.map_or("—".into(), |v| format!("{v:.2}")),
                        m.loadgen_cores,
                        m.errors
                    );
                }
            }
        }
        if !self.procs.is_empty() {
            let _ = write!(
                s,
                "\nServer processes on one PostgreSQL ({} live tokens; the {} connections shared among the processes, one wrk each):\n\n| scenario | processes | req/s, all | each process: req/s (CPU cores) | server CPU µs/req | database CPU µs/req | database CPU (cores) | wrk CPU (cores) | p99 ms | errors |\n| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
                self.options.sizes.first().copied().unwrap_or(10_000),
                self.options.connections
            );
            for kind in Kind::ALL {
                for p in &self.procs {
                    if let Some((_, m)) = p.results.iter().find(|(k, _)| *k == kind.key()) {
                        let each = m
                            .per_process
                            .iter()
                            .map(|(r, c)| format!("{r:.0} ({c:.2})"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let _ = writeln!(
                            s,
                            "| {} | {} | {:.0} | {each} | {:.1} | {} | {} | {:.2} | {:.2} | {} |",
                            kind.name(),
                            p.processes,
                            m.rps,
                            m.server_us_per_req,
                            m.db_us_per_req.map_or("—".into(), |v| format!("{v:.1}")),
                            m.db_cores.map_or("—".into(), |v| format!("{v:.2}")),
                            m.loadgen_cores,
                            m.p99_us as f64 / 1000.0,
                            m.errors
                        );
                    }
                }
            }
        }
        s
    }

    /// req/s per store and scenario, one bar per size.
    fn growth_svg(&self) -> String {
        let mut groups = Vec::new();
        let mut keys = Vec::new();
        for r in &self.rows {
            for (k, _) in &r.results {
                if !keys.contains(&(r.store, *k)) {
                    keys.push((r.store, *k));
                    groups.push(format!("{} {k}", r.store));
                }
            }
        }
        let mut sizes: Vec<u64> = self.rows.iter().map(|r| r.live_tokens).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let series = sizes
            .iter()
            .map(|&n| {
                let values = keys
                    .iter()
                    .map(|(store, k)| {
                        self.rows
                            .iter()
                            .find(|r| r.store == *store && r.live_tokens == n)
                            .and_then(|r| r.results.iter().find(|(x, _)| x == k))
                            .map(|(_, m)| m.rps)
                    })
                    .collect();
                (format!("{} live tokens", short(n)), values)
            })
            .collect::<Vec<_>>();
        bar_chart(
            "requests/s by store, scenario and live tokens (distinct tokens presented)",
            &groups,
            &series,
        )
    }

    /// req/s per scenario, one bar per process count.
    fn processes_svg(&self) -> String {
        let groups: Vec<String> = Kind::ALL.iter().map(|k| k.key().to_owned()).collect();
        let series = self
            .procs
            .iter()
            .map(|p| {
                let values = Kind::ALL
                    .iter()
                    .map(|k| {
                        p.results
                            .iter()
                            .find(|(x, _)| *x == k.key())
                            .map(|(_, m)| m.rps)
                    })
                    .collect();
                let label = if p.processes == 1 {
                    "1 process".to_owned()
                } else {
                    format!("{} processes", p.processes)
                };
                (label, values)
            })
            .collect::<Vec<_>>();
        bar_chart(
            "requests/s, all processes together, on one PostgreSQL",
            &groups,
            &series,
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "measured_secs": self.options.secs,
            "warmup_secs": self.options.warmup,
            "connections": self.options.connections,
            "distinct_tokens": self.options.distinct,
            "smoke": self.options.smoke,
            "growth": self.rows,
            "processes": self.procs,
            "scenarios": Kind::ALL.iter().map(|k| (k.key(), kind_name(k.key()))).collect::<Vec<_>>(),
        })
    }

    fn write(&self) -> Result<(), String> {
        let dir = &self.options.out;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let w = |name: &str, body: String| {
            std::fs::write(dir.join(name), body).map_err(|e| format!("{name}: {e}"))
        };
        w(
            "growth.json",
            serde_json::to_string_pretty(&self.json()).unwrap_or_default(),
        )?;
        w("growth.md", self.markdown())?;
        w("growth.svg", self.growth_svg())?;
        if !self.procs.is_empty() {
            w("processes.svg", self.processes_svg())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_bytes_differ_and_sizes_read_short() {
        let mut f = Filler(1);
        let a = f.bytes::<10>();
        let b = f.bytes::<10>();
        assert_ne!(a, b);
        assert_eq!(short(10_000), "10k");
        assert_eq!(short(10_000_000), "10M");
        assert_eq!(short(1500), "1500");
    }
}
