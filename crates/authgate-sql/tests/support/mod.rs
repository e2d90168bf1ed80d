//! Shared test support: the per-backend fixture, a throw-away PostgreSQL schema per test,
//! and a TCP proxy that can cut the database off.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use authgate::{ClientRecord, MemoryStore, ResourceOwner};
use authgate_sql::{connect, Admin, AnyStore, NewUser, StoreOptions};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// What the conformance suite needs beyond the storage traits: a way to add clients and
/// users, and to purge.
#[async_trait]
pub trait Fixture: Send + Sync {
    async fn add_client(&self, c: ClientRecord);
    async fn add_user(&self, username: &str, subject: &str, password: &str);
    async fn purge(&self, now: i64) -> usize;
}

#[async_trait]
impl Fixture for MemoryStore {
    async fn add_client(&self, c: ClientRecord) {
        MemoryStore::add_client(self, c);
    }
    async fn add_user(&self, username: &str, subject: &str, password: &str) {
        MemoryStore::add_user(self, ResourceOwner::new(subject, username), password);
    }
    async fn purge(&self, now: i64) -> usize {
        self.purge_expired(now)
    }
}

#[async_trait]
impl Fixture for AnyStore {
    async fn add_client(&self, c: ClientRecord) {
        self.upsert_client(&c).await.unwrap();
    }
    async fn add_user(&self, username: &str, subject: &str, password: &str) {
        self.upsert_user(&NewUser {
            username: username.into(),
            subject: subject.into(),
            password: password.into(),
            claims: serde_json::json!({}),
        })
        .await
        .unwrap();
    }
    async fn purge(&self, now: i64) -> usize {
        let mut total = 0;
        loop {
            let n = self.purge_expired(now, 1000).await.unwrap();
            total += n;
            if n < 1000 {
                return total;
            }
        }
    }
}

pub async fn memory() -> Option<MemoryStore> {
    Some(MemoryStore::new())
}

pub async fn memory_backend() -> Option<AnyStore> {
    Some(connect("memory:", &StoreOptions::default()).await.unwrap())
}

pub async fn sqlite_memory() -> Option<AnyStore> {
    Some(
        connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap(),
    )
}

/// A fresh SQLite file in a temporary folder (left for the OS to clean).
pub fn temp_sqlite_path() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "authgate-test-{}-{}",
        std::process::id(),
        authgate::token::generate_client_secret(&authgate::OsRng)
    ));
    dir.join("authgate.db")
}

pub async fn sqlite_file() -> Option<AnyStore> {
    let path = temp_sqlite_path();
    Some(
        connect(
            &format!("sqlite://{}", path.display()),
            &StoreOptions::default(),
        )
        .await
        .unwrap(),
    )
}

/// The server the PostgreSQL tests use: `AUTHGATE_TEST_POSTGRES_URL`, or the machine's
/// local one.
pub fn pg_base_url() -> String {
    std::env::var("AUTHGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own for one test on the PostgreSQL server, dropped when the guard is.
/// `None` (with the reason printed) when no server answers, unless `CI` is set: then the
/// test fails, so CI can never pass without running them.
pub struct PgSchema {
    pub name: String,
    base: String,
}

impl PgSchema {
    pub async fn create() -> Option<Self> {
        let base = pg_base_url();
        let admin = match sqlx::PgPool::connect(&base).await {
            Ok(p) => p,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL is required in CI but {base} is unreachable: {e}");
                }
                eprintln!("SKIPPED: PostgreSQL at {base} is unreachable ({e}); set AUTHGATE_TEST_POSTGRES_URL or start it");
                return None;
            }
        };
        let name = format!(
            "authgate_t_{}",
            authgate::token::generate_client_secret(&authgate::OsRng)
                .to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
                .chars()
                .take(16)
                .collect::<String>()
        );
        sqlx::raw_sql(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        Some(Self { name, base })
    }

    /// A URL whose connections use this schema.
    pub fn url(&self) -> String {
        self.url_via(&self.base)
    }

    /// The same, through another host:port (a proxy).
    pub fn url_via(&self, base: &str) -> String {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{}", self.name)
    }

    pub async fn store(&self) -> AnyStore {
        connect(&self.url(), &StoreOptions::default())
            .await
            .unwrap()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a thread of its own may block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(p) = sqlx::PgPool::connect(&base).await {
                    let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&p)
                        .await;
                    p.close().await;
                }
            });
        })
        .join();
    }
}

/// A PostgreSQL store in a fresh schema; keep the guard alive for the test's length.
pub async fn postgres() -> Option<(AnyStore, PgSchema)> {
    let schema = PgSchema::create().await?;
    let store = schema.store().await;
    Some((store, schema))
}

/// A TCP proxy in front of the database that can be cut off (every connection closed, new
/// ones refused) and restored on the same port.
pub struct CutProxy {
    pub addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl CutProxy {
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Notify::new());
        let (up2, cut2, target) = (up.clone(), cut.clone(), target.to_owned());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound); // refused while cut
                    continue;
                }
                let (target, cut) = (target.clone(), cut2.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    /// Closes every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
