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
