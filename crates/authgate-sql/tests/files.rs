//! The SQLite database file is private to its owner (SECURITY.md 21): it holds token and
//! secret hashes and the sealed signing keys.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

#[cfg(unix)]
#[tokio::test]
async fn a_new_sqlite_database_and_its_wal_are_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("authgate-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("authgate.db");
    let store = authgate_sql::connect(
        &format!("sqlite://{}", path.display()),
        &authgate_sql::StoreOptions::default(),
    )
    .await
    .unwrap();
    store.shared_secret("x").await.unwrap(); // a write, so the WAL exists
    for file in [path.clone(), dir.join("authgate.db-wal")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under a steady stream of writes, with no pause for a passive checkpoint to catch up,
/// the WAL still stays bounded: the checkpointer starts it over (RESTART) once it passes
/// 32 MB. Each token written here costs a few kilobytes of WAL (every commit writes whole
/// pages of three B-trees), so the writes below put well over 100 MB through it: without
/// the restarts the file would hold all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_steady_writes() {
    use authgate::rng::OsRng;
    use authgate::token::generate_token;
    use authgate::{TokenKind, TokenRecord};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let dir = std::env::temp_dir().join(format!("authgate-wal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("authgate.db");
    let wal = dir.join("authgate.db-wal");
    let store = authgate_sql::connect(
        &format!("sqlite://{}", path.display()),
        &authgate_sql::StoreOptions::default(),
    )
    .await
    .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let largest = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (done, largest, wal) = (done.clone(), largest.clone(), wal.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
                largest.fetch_max(len, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    // 16 writers of single-token saves: the writer thread commits them in small groups.
    let mut writers = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..3_000_i64 {
                let t = generate_token(&OsRng, i);
                let record = TokenRecord::new(
                    t.key,
                    TokenKind::Access,
                    "c1",
                    "client_credentials",
                    1_700_000_000,
                    4_000_000_000,
                );
                store.save_tokens(&[record]).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    watcher.await.unwrap();
    let largest = largest.load(Ordering::SeqCst);
    let db = std::fs::metadata(&path).unwrap().len();
    eprintln!("48,000 tokens: database {db} bytes, largest WAL {largest} bytes");
    assert!(
        largest < 96 * 1024 * 1024,
        "the WAL reached {largest} bytes"
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
