//! `authgate-bench pgdriver`: the PostgreSQL store's hot statements through sqlx, the
//! driver the store uses, and through tokio-postgres, whose client pipelines the queries of
//! concurrent callers on one connection (issue 14, item 5).
//!
//! Both drivers run the same SQL on the store's own table (migrated by `PgStore` into a
//! fresh schema and filled with live tokens), with the same number of concurrent callers,
//! prepared once per connection. sqlx gets the store's default pool (10 connections);
//! tokio-postgres gets 1, 2 and 4 shared connections. The single-row statements have 32
//! concurrent callers (`--connections`), the batched ones 2, as the store's two writers per
//! kind of batch send them. Per statement and set-up: rows/s, p50/p99 latency, this
//! process's CPU per row (the driver's side, with the runtime) and PostgreSQL's CPU per
//! row. Each round starts the set-ups one further along their list, so that no set-up is
//! always the first after a batch of inserts; the report gives the median and the spread.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::load::{clock_ticks_per_sec, cpu_ticks, postgres_ticks, postgres_ticks_between};
use crate::{postgres_schema, Options};

/// The columns of a token row, in the order the statements below bind and read them.
const COLUMNS: &str = "selector, verifier_hash, kind, client_id, subject, username, scope, \
                       grant_type, issued_at, expires_at, family, revoked, rotated, details, \
                       successors";
/// Rows in one batched INSERT or UPDATE, as the store's writers send them under load.
const BATCH: usize = 32;

/// The statements measured: those behind a cache miss (find), issuance (insert, one row
/// or a batch) and revocation (the store's batched UPDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Statement {
    Find,
    Insert,
    InsertBatch,
    RevokeBatch,
}

impl Statement {
    const ALL: [Self; 4] = [
        Self::Find,
        Self::Insert,
        Self::InsertBatch,
        Self::RevokeBatch,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Find => "find a token by selector",
            Self::Insert => "insert one token",
            Self::InsertBatch => "insert 32 tokens in one statement",
            Self::RevokeBatch => "revoke 32 tokens in one statement",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Find => "find",
            Self::Insert => "insert",
            Self::InsertBatch => "insert_batch",
            Self::RevokeBatch => "revoke_batch",
        }
    }

    /// Concurrent callers: the store sends at most two batches of a kind at once.
    fn callers(self, single: usize) -> usize {
        if self.rows() > 1 {
            2
        } else {
            single
        }
    }

    fn rows(self) -> u64 {
        match self {
            Self::Find | Self::Insert => 1,
            Self::InsertBatch | Self::RevokeBatch => BATCH as u64,
        }
    }
}

/// One driver set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Setup {
    /// A sqlx pool of this many connections (the store's default is 10); with `true`, the
    /// pool pings each connection before handing it out (sqlx's default), with `false` only
    /// one idle for some seconds (what the store does).
    Sqlx(u32, bool),
    /// This many tokio-postgres clients, the callers spread over them.
    Pipelined(usize),
}

impl Setup {
    const ALL: [Self; 5] = [
        Self::Sqlx(10, true),
        Self::Sqlx(10, false),
        Self::Pipelined(1),
        Self::Pipelined(2),
        Self::Pipelined(4),
    ];

    fn label(self) -> String {
        match self {
            Self::Sqlx(n, true) => format!("sqlx, pool of {n}, ping on every acquire"),
            Self::Sqlx(n, false) => format!(
                "sqlx, pool of {n}, ping after {} s idle",
                authgate_sql::PgStore::IDLE_BEFORE_PING.as_secs()
            ),
            Self::Pipelined(1) => "tokio-postgres, 1 connection".into(),
            Self::Pipelined(n) => format!("tokio-postgres, {n} connections"),
        }
    }
}

/// The SQL of each statement, with `$n` placeholders both drivers take.
struct Sql {
    find: String,
    insert: String,
    insert_batch: String,
    revoke_batch: &'static str,
}

impl Sql {
    fn new() -> Self {
        let values = |rows: usize| {
            (0..rows)
                .map(|r| {
                    let p: Vec<String> = (1..=16).map(|c| format!("${}", r * 16 + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        Self {
            find: format!(
                "SELECT {COLUMNS} FROM authgate_tokens WHERE selector = $1 AND tenant = $2"
            ),
            insert: format!(
                "INSERT INTO authgate_tokens (tenant, {COLUMNS}) VALUES {}",
                values(1)
            ),
            insert_batch: format!(
                "INSERT INTO authgate_tokens (tenant, {COLUMNS}) VALUES {}",
                values(BATCH)
            ),
            revoke_batch: "UPDATE authgate_tokens t SET revoked = TRUE \
                 FROM unnest($1::bytea[], $2::text[]) AS v(selector, tenant) \
                 WHERE t.selector = v.selector AND t.tenant = v.tenant AND NOT t.revoked",
        }
    }
}

/// A token row as the store reads it back: every column owned.
#[allow(dead_code)] // Read to make the drivers decode every column; not looked at.
struct TokenRow {
    selector: Vec<u8>,
    verifier_hash: Vec<u8>,
    kind: i16,
    client_id: String,
    subject: Option<String>,
    username: Option<String>,
    scope: String,
    grant_type: String,
    issued_at: i64,
    expires_at: i64,
    family: Vec<u8>,
    revoked: bool,
    rotated: bool,
    details: Option<String>,
    successors: Option<Vec<u8>>,
}

/// Reads every column of a token row with the driver's `try_get`.
macro_rules! token_row {
    ($row:expr, $err:expr) => {
        TokenRow {
            selector: $row.try_get("selector").map_err($err)?,
            verifier_hash: $row.try_get("verifier_hash").map_err($err)?,
            kind: $row.try_get("kind").map_err($err)?,
            client_id: $row.try_get("client_id").map_err($err)?,
            subject: $row.try_get("subject").map_err($err)?,
            username: $row.try_get("username").map_err($err)?,
            scope: $row.try_get("scope").map_err($err)?,
            grant_type: $row.try_get("grant_type").map_err($err)?,
            issued_at: $row.try_get("issued_at").map_err($err)?,
            expires_at: $row.try_get("expires_at").map_err($err)?,
            family: $row.try_get("family").map_err($err)?,
            revoked: $row.try_get("revoked").map_err($err)?,
            rotated: $row.try_get("rotated").map_err($err)?,
            details: $row.try_get("details").map_err($err)?,
            successors: $row.try_get("successors").map_err($err)?,
        }
    };
}

/// A new token's values: a selector no other row has (first byte 0xFF; the filler's
/// selectors start with zero bytes) and the fields a client_credentials token carries.
struct NewToken {
    selector: [u8; 16],
    verifier_hash: [u8; 32],
    issued_at: i64,
}

impl NewToken {
    fn next(counter: &AtomicU64) -> Self {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let mut selector = [0u8; 16];
        selector[0] = 0xFF;
        selector[1..9].copy_from_slice(&n.to_be_bytes());
        let mut verifier_hash = [0u8; 32];
        verifier_hash[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        Self {
            selector,
            verifier_hash,
            issued_at: crate::growth::now_secs(),
        }
    }
}

const CLIENT: &str = "bench";
const SCOPE: &str = "profile read";
const GRANT: &str = "client_credentials";

/// What the callers share.
struct Shared {
    sql: Sql,
    /// Selectors of live filler rows the finds pick from.
    find_pool: Vec<[u8; 16]>,
    /// Selectors of filler rows the revocations walk through, each revoked once.
    revoke_pool: Vec<[u8; 16]>,
    next_revoke: AtomicU64,
    next_insert: AtomicU64,
    /// Batches that revoked fewer rows than they named (the pool ran out).
    short_revokes: AtomicU64,
}

impl Shared {
    /// Fresh tokens for one run of `s`.
    fn new_tokens(&self, s: Statement) -> Vec<NewToken> {
        (0..s.rows())
            .map(|_| NewToken::next(&self.next_insert))
            .collect()
    }
}

/// A driver's connections, ready for the callers.
enum Conn {
    Sqlx(sqlx::PgPool),
    Pipelined(Vec<Arc<Pipelined>>),
}

/// One tokio-postgres client and its prepared statements.
struct Pipelined {
    client: tokio_postgres::Client,
    find: tokio_postgres::Statement,
    insert: tokio_postgres::Statement,
    insert_batch: tokio_postgres::Statement,
    revoke_batch: tokio_postgres::Statement,
}

async fn connect(
    setup: Setup,
    db_url: &str,
    base_url: &str,
    schema: &str,
    sql: &Sql,
) -> Result<Conn, String> {
    match setup {
        Setup::Sqlx(n, ping) => {
            let options = if ping {
                sqlx::postgres::PgPoolOptions::new()
            } else {
                authgate_sql::PgStore::pool_options()
            };
            let pool = options
                .max_connections(n)
                .min_connections(n)
                .connect(db_url)
                .await
                .map_err(|e| format!("sqlx: {e}"))?;
            Ok(Conn::Sqlx(pool))
        }
        Setup::Pipelined(n) => {
            let mut clients = Vec::with_capacity(n);
            for _ in 0..n {
                let (client, connection) = tokio_postgres::connect(base_url, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| format!("tokio-postgres: {e}"))?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("SET search_path TO {schema}"))
                    .await
                    .map_err(|e| format!("tokio-postgres: {e}"))?;
                let prepare = |q: &str| {
                    let q = q.to_owned();
                    let c = &client;
                    async move { c.prepare(&q).await.map_err(|e| format!("prepare: {e}")) }
                };
                let find = prepare(&sql.find).await?;
                let insert = prepare(&sql.insert).await?;
                let insert_batch = prepare(&sql.insert_batch).await?;
                let revoke_batch = prepare(sql.revoke_batch).await?;
                clients.push(Arc::new(Pipelined {
                    client,
                    find,
                    insert,
                    insert_batch,
                    revoke_batch,
                }));
            }
            Ok(Conn::Pipelined(clients))
        }
    }
}

/// A small per-caller random walk over the find pool.
fn next_index(state: &mut u64, len: usize) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % len as u64) as usize
}

/// Runs `s` once through sqlx.
async fn sqlx_once(
    pool: &sqlx::PgPool,
    sh: &Shared,
    s: Statement,
    rng: &mut u64,
) -> Result<(), String> {
    use sqlx::Row;
    let err = |e: sqlx::Error| e.to_string();
    match s {
        Statement::Find => {
            let sel = sh.find_pool[next_index(rng, sh.find_pool.len())];
            let row = sqlx::query(&sh.sql.find)
                .bind(&sel[..])
                .bind("")
                .fetch_optional(pool)
                .await
                .map_err(err)?
                .ok_or("a filler token was not found")?;
            let r = token_row!(row, err);
            std::hint::black_box(r);
        }
        Statement::Insert | Statement::InsertBatch => {
            let tokens = sh.new_tokens(s);
            let mut q = sqlx::query(if s == Statement::Insert {
                &sh.sql.insert
            } else {
                &sh.sql.insert_batch
            });
            for t in &tokens {
                q = q
                    .bind("")
                    .bind(&t.selector[..])
                    .bind(&t.verifier_hash[..])
                    .bind(0_i16)
                    .bind(CLIENT)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(SCOPE)
                    .bind(GRANT)
                    .bind(t.issued_at)
                    .bind(t.issued_at + 3600)
                    .bind(&t.selector[..])
                    .bind(false)
                    .bind(false)
                    .bind(None::<&str>)
                    .bind(None::<&[u8]>);
            }
            q.execute(pool).await.map_err(err)?;
        }
        Statement::RevokeBatch => {
            let (selectors, tenants) = revoke_batch(sh);
            let done = sqlx::query(sh.sql.revoke_batch)
                .bind(&selectors)
                .bind(&tenants)
                .execute(pool)
                .await
                .map_err(err)?
                .rows_affected();
            count_short(sh, done, selectors.len());
        }
    }
    Ok(())
}

/// Runs `s` once through a tokio-postgres client (pipelined with the other callers').
async fn pipelined_once(
    c: &Pipelined,
    sh: &Shared,
    s: Statement,
    rng: &mut u64,
) -> Result<(), String> {
    use tokio_postgres::types::ToSql;
    let err = |e: tokio_postgres::Error| e.to_string();
    match s {
        Statement::Find => {
            let sel = sh.find_pool[next_index(rng, sh.find_pool.len())];
            let row = c
                .client
                .query_opt(&c.find, &[&&sel[..], &""])
                .await
                .map_err(err)?
                .ok_or("a filler token was not found")?;
            let r = token_row!(row, err);
            std::hint::black_box(r);
        }
        Statement::Insert | Statement::InsertBatch => {
            let tokens = sh.new_tokens(s);
            let expires: Vec<i64> = tokens.iter().map(|t| t.issued_at + 3600).collect();
            let none_text: Option<&str> = None;
            let none_bytes: Option<&[u8]> = None;
            let selectors: Vec<&[u8]> = tokens.iter().map(|t| &t.selector[..]).collect();
            let hashes: Vec<&[u8]> = tokens.iter().map(|t| &t.verifier_hash[..]).collect();
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(tokens.len() * 16);
            for (i, t) in tokens.iter().enumerate() {
                params.extend_from_slice(&[
                    &"",
                    &selectors[i],
                    &hashes[i],
                    &0_i16,
                    &CLIENT,
                    &none_text,
                    &none_text,
                    &SCOPE,
                    &GRANT,
                    &t.issued_at,
                    &expires[i],
                    &selectors[i],
                    &false,
                    &false,
                    &none_text,
                    &none_bytes,
                ]);
            }
            let stmt = if s == Statement::Insert {
                &c.insert
            } else {
                &c.insert_batch
            };
            c.client.execute(stmt, &params).await.map_err(err)?;
        }
        Statement::RevokeBatch => {
            let (selectors, tenants) = revoke_batch(sh);
            let done = c
                .client
                .execute(&c.revoke_batch, &[&selectors, &tenants])
                .await
                .map_err(err)?;
            count_short(sh, done, selectors.len());
        }
    }
    Ok(())
}

/// The next batch of the revoke pool, in selector order as the store sends it.
fn revoke_batch(sh: &Shared) -> (Vec<&[u8]>, Vec<&'static str>) {
    let from = sh.next_revoke.fetch_add(BATCH as u64, Ordering::Relaxed) as usize;
    let mut selectors: Vec<&[u8]> = (from..from + BATCH)
        .map(|i| &sh.revoke_pool[i % sh.revoke_pool.len()][..])
        .collect();
    selectors.sort_unstable();
    (selectors, vec![""; BATCH])
}

fn count_short(sh: &Shared, done: u64, asked: usize) {
    if done < asked as u64 {
        sh.short_revokes.fetch_add(1, Ordering::Relaxed);
    }
}

/// One measurement.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rows_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// This process's CPU per row, µs.
    driver_us: f64,
    /// PostgreSQL's CPU per row, µs.
    postgres_us: f64,
}

async fn measure(
    conn: &Conn,
    shared: &Arc<Shared>,
    s: Statement,
    callers: usize,
    warmup: Duration,
    secs: Duration,
) -> Result<Sample, String> {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let callers = s.callers(callers);
    let mut tasks = Vec::with_capacity(callers);
    for i in 0..callers {
        let (measuring, stop, shared) = (measuring.clone(), stop.clone(), shared.clone());
        let conn = match conn {
            Conn::Sqlx(pool) => Conn::Sqlx(pool.clone()),
            Conn::Pipelined(clients) => Conn::Pipelined(vec![clients[i % clients.len()].clone()]),
        };
        tasks.push(tokio::spawn(async move {
            let mut rng = 0x2545_F491_4F6C_DD1D_u64 ^ ((i as u64 + 1) << 32);
            let mut latencies_us: Vec<u32> = Vec::with_capacity(1 << 16);
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                match &conn {
                    Conn::Sqlx(pool) => sqlx_once(pool, &shared, s, &mut rng).await?,
                    Conn::Pipelined(c) => pipelined_once(&c[0], &shared, s, &mut rng).await?,
                }
                if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    latencies_us
                        .push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
            }
            Ok::<_, String>(latencies_us)
        }));
    }
    tokio::time::sleep(warmup).await;
    let ticks = clock_ticks_per_sec();
    let me = std::process::id();
    let (pg0, me0) = (postgres_ticks(), cpu_ticks(me));
    let t0 = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    // This process first, so that the walk over /proc is outside its window.
    let me1 = cpu_ticks(me);
    let pg1 = postgres_ticks();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    if all.is_empty() {
        return Err(format!("{}: no statement finished", s.name()));
    }
    all.sort_unstable();
    let pct = |p: f64| f64::from(all[((all.len() - 1) as f64 * p) as usize]) / 1000.0;
    let rows = all.len() as f64 * s.rows() as f64;
    let pg = postgres_ticks_between(&pg0, &pg1);
    let per_row = |t: u64| t as f64 / ticks * 1e6 / rows;
    let postgres_us = if pg1.is_empty() {
        f64::NAN
    } else {
        per_row(pg)
    };
    Ok(Sample {
        rows_per_sec: rows / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        driver_us: per_row(me1.saturating_sub(me0)),
        postgres_us,
    })
}

/// `authgate-bench pgdriver`.
pub(crate) async fn run(o: Options) -> Result<(), String> {
    let Some(base_url) = o.postgres.clone() else {
        return Err("pgdriver needs PostgreSQL (--postgres URL)".into());
    };
    // The process id and the clock: two runs on one server never share a schema.
    let schema = format!(
        "authgate_pgdriver_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let (admin, db_url) = postgres_schema(&base_url, &schema).await?;
    let result = run_in(&o, &base_url, &db_url, &schema, &admin).await;
    if let Err(e) = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
    {
        eprintln!("pgdriver: schema {schema} was not dropped: {e}");
    }
    result
}

async fn run_in(
    o: &Options,
    base_url: &str,
    db_url: &str,
    schema: &str,
    admin: &sqlx::PgPool,
) -> Result<(), String> {
    let store = authgate_sql::PgStore::connect(db_url, &authgate_sql::StoreOptions::default())
        .await
        .map_err(|e| format!("migrating: {e}"))?;
    drop(store);
    let fill: u64 = if o.smoke { 20_000 } else { 2_000_000 };
    eprintln!("pgdriver: filling {fill} tokens");
    // Filled as the growth runs fill it: time-ordered selectors, expiry spread over two
    // hours, then VACUUM ANALYZE.
    crate::growth::Db::Postgres {
        pool: admin.clone(),
        schema: schema.to_owned(),
    }
    .fill(fill, crate::growth::now_secs())
    .await?;
    let selectors: Vec<Vec<u8>> =
        sqlx::query_scalar(&format!("SELECT selector FROM {schema}.authgate_tokens"))
            .fetch_all(admin)
            .await
            .map_err(|e| format!("reading selectors: {e}"))?;
    // Every tenth token, spread over the whole table, for the finds; the rest for the
    // revocations.
    let (mut pool, mut revoke_pool) = (Vec::new(), Vec::new());
    for (i, s) in selectors.iter().enumerate() {
        if let Ok(sel) = <[u8; 16]>::try_from(&s[..]) {
            if i % 10 == 0 {
                &mut pool
            } else {
                &mut revoke_pool
            }
            .push(sel);
        }
    }
    let shared = Arc::new(Shared {
        sql: Sql::new(),
        find_pool: pool,
        revoke_pool,
        next_revoke: AtomicU64::new(0),
        next_insert: AtomicU64::new(0),
        short_revokes: AtomicU64::new(0),
    });
    let warmup = Duration::from_secs_f64(o.warmup);
    let secs = Duration::from_secs_f64(o.secs);
    let mut samples: HashMap<(Statement, Setup), Vec<Sample>> = HashMap::new();
    for round in 1..=o.runs {
        for s in Statement::ALL {
            for k in 0..Setup::ALL.len() {
                let setup = Setup::ALL[(k + round - 1) % Setup::ALL.len()];
                if s == Statement::RevokeBatch {
                    // Every set-up revokes live tokens: those the last one revoked are live
                    // again, their dead row versions vacuumed away.
                    for sql in [
                        format!(
                            "UPDATE {schema}.authgate_tokens SET revoked = FALSE WHERE revoked"
                        ),
                        format!("VACUUM ANALYZE {schema}.authgate_tokens"),
                    ] {
                        sqlx::raw_sql(&sql)
                            .execute(admin)
                            .await
                            .map_err(|e| format!("resetting revocations: {e}"))?;
                    }
                    shared.next_revoke.store(0, Ordering::Relaxed);
                }
                let conn = connect(setup, db_url, base_url, schema, &shared.sql).await?;
                let sample = measure(&conn, &shared, s, o.connections, warmup, secs).await?;
                eprintln!(
                    "pgdriver round {round}: {} / {}: {:.0} rows/s, p99 {:.2} ms, driver {:.1} us/row, postgres {:.1} us/row",
                    s.key(),
                    setup.label(),
                    sample.rows_per_sec,
                    sample.p99_ms,
                    sample.driver_us,
                    sample.postgres_us
                );
                samples.entry((s, setup)).or_default().push(sample);
                if let Conn::Sqlx(pool) = conn {
                    pool.close().await;
                }
            }
        }
    }
    let short = shared.short_revokes.load(Ordering::Relaxed);
    write_report(o, &samples, short)
}

fn median_and_spread(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn write_report(
    o: &Options,
    samples: &HashMap<(Statement, Setup), Vec<Sample>>,
    short: u64,
) -> Result<(), String> {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# PostgreSQL drivers: the store's hot statements\n\n{} concurrent callers for the single-row statements and 2 for the batched ones, {} s per set-up after {} s warm-up, {} interleaved round(s); median (spread).\n\
         Driver CPU is this process (the driver and the Tokio runtime); PostgreSQL CPU is all its processes.\n",
        o.connections, o.secs, o.warmup, o.runs
    );
    let mut json_rows = Vec::new();
    for s in Statement::ALL {
        let _ = writeln!(md, "## {}\n", s.name());
        let _ = writeln!(
            md,
            "| set-up | rows/s | p50 ms | p99 ms | driver µs/row | PostgreSQL µs/row |"
        );
        let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for setup in Setup::ALL {
            let Some(v) = samples.get(&(s, setup)) else {
                continue;
            };
            let col =
                |f: fn(&Sample) -> f64| median_and_spread(&v.iter().map(f).collect::<Vec<_>>());
            let (r, r0, r1) = col(|x| x.rows_per_sec);
            let (p50, ..) = col(|x| x.p50_ms);
            let (p99, p990, p991) = col(|x| x.p99_ms);
            let (d, d0, d1) = col(|x| x.driver_us);
            let (pg, pg0, pg1) = col(|x| x.postgres_us);
            let _ = writeln!(
                md,
                "| {} | {r:.0} ({r0:.0}–{r1:.0}) | {p50:.2} | {p99:.2} ({p990:.2}–{p991:.2}) | {d:.1} ({d0:.1}–{d1:.1}) | {} |",
                setup.label(),
                if pg.is_nan() {
                    "n/a".to_owned()
                } else {
                    format!("{pg:.1} ({pg0:.1}–{pg1:.1})")
                }
            );
            json_rows.push(json!({
                "statement": s.key(),
                "setup": setup.label(),
                "rows_per_sec": v.iter().map(|x| x.rows_per_sec).collect::<Vec<_>>(),
                "p50_ms": v.iter().map(|x| x.p50_ms).collect::<Vec<_>>(),
                "p99_ms": v.iter().map(|x| x.p99_ms).collect::<Vec<_>>(),
                "driver_us_per_row": v.iter().map(|x| x.driver_us).collect::<Vec<_>>(),
                "postgres_us_per_row": v.iter().map(|x| x.postgres_us).collect::<Vec<_>>(),
            }));
        }
        md.push('\n');
    }
    if short > 0 {
        let _ = writeln!(md, "{short} revocation batches found some of their tokens already revoked (the pool ran out).\n");
    }
    print!("{md}");
    std::fs::create_dir_all(&o.out).map_err(|e| e.to_string())?;
    let out = |name: &str| o.out.join(name);
    std::fs::write(out("pgdriver.md"), &md).map_err(|e| e.to_string())?;
    let json = json!({
        "connections": o.connections,
        "secs": o.secs,
        "warmup": o.warmup,
        "runs": o.runs,
        "short_revoke_batches": short,
        "results": json_rows,
    });
    std::fs::write(
        out("pgdriver.json"),
        serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}
