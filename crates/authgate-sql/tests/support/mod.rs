//! Shared test support: stores per backend, and a TCP proxy that can cut the database off.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use authgate_sql::testing::PgSchema;
use authgate_sql::{connect, AnyStore, StoreOptions};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

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
