//! Test support (the `testing` feature): the storage conformance suite's [`Fixture`] for
//! these backends, and a throw-away PostgreSQL schema per test — written once, used by this
//! crate's tests and the reference server's.
#![allow(clippy::expect_used)] // test support: a failure here is the calling test's failure

use std::sync::Arc;

use async_trait::async_trait;
use authgate::testing::{Fixture, StoreUnderTest};
use authgate::ClientRecord;

use crate::{connect, AnyStore, NewUser, StoreOptions};

#[async_trait]
impl Fixture for AnyStore {
    async fn add_client(&self, client: ClientRecord) {
        self.upsert_client(&client).await.expect("save the client");
    }

    async fn add_user(&self, username: &str, subject: &str, password: &str) {
        self.upsert_user(&NewUser {
            username: username.into(),
            subject: subject.into(),
            password: password.into(),
            claims: serde_json::json!({}),
        })
        .await
        .expect("save the user");
    }

    async fn purge_expired(&self, now: i64) -> Option<usize> {
        let mut total = 0;
        loop {
            let n = self
                .backend()
                .purge_expired(now, 1000)
                .await
                .expect("purge");
            total += n;
            if n < 1000 {
                return Some(total);
            }
        }
    }
}

/// A backend as the conformance suite's store under test.
pub fn under_test(store: AnyStore) -> StoreUnderTest {
    let backend = store.backend();
    StoreUnderTest::from_parts(store.stores(), backend, Arc::new(store))
}

/// The server the PostgreSQL tests use: `AUTHGATE_TEST_POSTGRES_URL`, or the machine's
/// local one (`postgres://postgres@127.0.0.1:5432/test`).
pub fn pg_base_url() -> String {
    std::env::var("AUTHGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own for one test on the PostgreSQL server, dropped when the guard is.
///
/// [`Self::create`] answers `None` (with the reason printed) when no server answers —
/// unless the `CI` variable is set: then it panics, so CI can never pass without running
/// the PostgreSQL tests.
#[derive(Debug)]
pub struct PgSchema {
    /// The schema's name.
    pub name: String,
    base: String,
}

impl PgSchema {
    /// Creates a fresh schema (see the type's documentation for when it answers `None`).
    ///
    /// # Panics
    /// When `CI` is set and PostgreSQL is unreachable, or the schema cannot be created.
    pub async fn create() -> Option<Self> {
        let base = pg_base_url();
        let admin = match sqlx::PgPool::connect(&base).await {
            Ok(p) => p,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL is required in CI but {base} is unreachable: {e}"
                );
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
            .expect("create a test schema");
        admin.close().await;
        Some(Self { name, base })
    }

    /// A URL whose connections use this schema.
    pub fn url(&self) -> String {
        self.url_via(&self.base)
    }

    /// The same, through another `postgres://host:port/db` base (a proxy).
    pub fn url_via(&self, base: &str) -> String {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{}", self.name)
    }

    /// A store on this schema (migrated).
    ///
    /// # Panics
    /// When the database cannot be opened.
    pub async fn store(&self) -> AnyStore {
        connect(&self.url(), &StoreOptions::default())
            .await
            .expect("open the test schema")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a thread of its own may block.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
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

/// A TCP proxy in front of the database that can be cut off (every connection closed, new
/// ones refused) and restored on the same port.
pub struct CutProxy {
    /// Where the proxy listens (point the store's URL here).
    pub addr: std::net::SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl CutProxy {
    /// Starts forwarding from a fresh loopback port to `target` (`host:port`).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (up2, cut2, target) = (up.clone(), cut.clone(), target.to_owned());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound); // refused while cut
                    continue;
                }
                let (target, cut) = (target.clone(), cut2.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    /// Closes every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
