//! The storage conformance suite (`authgate::testing`) on every backend of this crate,
//! through the same public entry point a user's own store would use; then what only these
//! backends promise: shared secrets, user removal, listing users, revoking tokens by client
//! or user, and tenant isolation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod support;

use authgate_sql::testing::under_test;

authgate::storage_conformance_tests!(memory_backend, async {
    crate::support::memory_backend().await.map(under_test)
});
authgate::storage_conformance_tests!(sqlite_memory, async {
    crate::support::sqlite_memory().await.map(under_test)
});
authgate::storage_conformance_tests!(sqlite_file, async {
    crate::support::sqlite_file().await.map(under_test)
});
authgate::storage_conformance_tests!(postgres, async {
    crate::support::postgres()
        .await
        .map(|(store, schema)| under_test(store).keep(schema))
});
// The store wrapped for metrics behaves as the store it wraps.
authgate::storage_conformance_tests!(observed_sqlite_file, async {
    crate::support::sqlite_file()
        .await
        .map(|s| under_test(s.observed(std::sync::Arc::new(crate::observed::Calls::default()))))
});
// The store with its token cache behaves as the store it wraps.
authgate::storage_conformance_tests!(cached_sqlite_file, async {
    crate::support::sqlite_file()
        .await
        .map(|s| under_test(s.cached(&Default::default())))
});
authgate::storage_conformance_tests!(cached_postgres, async {
    crate::support::postgres()
        .await
        .map(|(store, schema)| under_test(store.cached(&Default::default())).keep(schema))
});

mod shared_secrets {
    async fn same_secret_on_every_call(s: &authgate_sql::AnyStore) {
        let a = s.shared_secret("session").await.unwrap();
        let b = s.shared_secret("session").await.unwrap();
        let other = s.shared_secret("other").await.unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[tokio::test]
    async fn sqlite() {
        let s = crate::support::sqlite_memory().await.unwrap();
        same_secret_on_every_call(&s).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some((s, guard)) = crate::support::postgres().await else {
            return;
        };
        same_secret_on_every_call(&s).await;
        // A second pool (another process) sees the same bytes.
        let again = guard.store().await;
        assert_eq!(
            again.shared_secret("session").await.unwrap(),
            s.shared_secret("session").await.unwrap()
        );
    }
}

mod user_removal {
    use authgate::rng::OsRng;
    use authgate::testing::Fixture;
    use authgate::token::generate_token;
    use authgate::{TokenKind, TokenRecord};
    use authgate_sql::AnyStore;

    const NOW: i64 = 1_800_000_000;

    fn token(kind: TokenKind, subject: &str) -> TokenRecord {
        let t = generate_token(&OsRng, NOW * 1000);
        let mut r = TokenRecord::new(t.key, kind, "c1", "authorization_code", NOW, NOW + 3600);
        r.subject = Some(subject.into());
        r
    }

    async fn removing_a_user_revokes_their_tokens(s: &AnyStore) {
        s.add_user("alice", "user-1", "pw").await;
        let mine = token(TokenKind::Refresh, "user-1");
        let other = token(TokenKind::Access, "user-2");
        s.save_tokens(&[mine.clone(), other.clone()]).await.unwrap();
        assert!(s.remove_user("alice").await.unwrap());
        assert!(s.find_token(&mine.selector).await.unwrap().unwrap().revoked);
        assert!(
            !s.find_token(&other.selector)
                .await
                .unwrap()
                .unwrap()
                .revoked
        );
        assert!(!s.remove_user("alice").await.unwrap());
    }

    #[tokio::test]
    async fn memory() {
        removing_a_user_revokes_their_tokens(&crate::support::memory_backend().await.unwrap())
            .await;
    }

    #[tokio::test]
    async fn sqlite() {
        removing_a_user_revokes_their_tokens(&crate::support::sqlite_memory().await.unwrap()).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some((s, _guard)) = crate::support::postgres().await else {
            return;
        };
        removing_a_user_revokes_their_tokens(&s).await;
    }
}

mod admin_tokens_and_users {
    use authgate::rng::OsRng;
    use authgate::testing::Fixture;
    use authgate::token::generate_token;
    use authgate::{TokenKind, TokenRecord};
    use authgate_sql::AnyStore;

    const NOW: i64 = 1_800_000_000;

    fn token(client_id: &str, subject: Option<&str>) -> TokenRecord {
        let t = generate_token(&OsRng, NOW * 1000);
        let mut r = TokenRecord::new(
            t.key,
            TokenKind::Access,
            client_id,
            "authorization_code",
            NOW,
            NOW + 3600,
        );
        r.subject = subject.map(str::to_owned);
        r
    }

    async fn revoked(s: &AnyStore, t: &TokenRecord) -> bool {
        s.find_token(&t.selector).await.unwrap().unwrap().revoked
    }

    async fn tokens_are_revoked_by_client_by_user_or_both(s: &AnyStore) {
        let a1 = token("a", Some("u1"));
        let a2 = token("a", Some("u2"));
        let a_service = token("a", None);
        let b1 = token("b", Some("u1"));
        let b2 = token("b", Some("u2"));
        s.save_tokens(&[
            a1.clone(),
            a2.clone(),
            a_service.clone(),
            b1.clone(),
            b2.clone(),
        ])
        .await
        .unwrap();
        // Naming nothing revokes nothing.
        assert_eq!(s.revoke_tokens(None, None).await.unwrap(), 0);
        // Client b's tokens for u2 only.
        assert_eq!(s.revoke_tokens(Some("b"), Some("u2")).await.unwrap(), 1);
        assert!(revoked(s, &b2).await && !revoked(s, &b1).await);
        // Everything u1 holds, from any client.
        assert_eq!(s.revoke_tokens(None, Some("u1")).await.unwrap(), 2);
        assert!(revoked(s, &a1).await && revoked(s, &b1).await);
        assert!(!revoked(s, &a2).await);
        // Everything client a holds, its own client-credentials token too; the count
        // leaves out what was revoked already.
        assert_eq!(s.revoke_tokens(Some("a"), None).await.unwrap(), 2);
        assert!(revoked(s, &a2).await && revoked(s, &a_service).await);
        assert_eq!(s.revoke_tokens(Some("a"), None).await.unwrap(), 0);
        // Codes not yet exchanged go with the tokens (they would buy new ones); another
        // user's stay.
        let code = |client: &str, subject: &str| {
            let t = generate_token(&OsRng, NOW * 1000);
            authgate::AuthorizationCodeRecord::new(
                t.key,
                client,
                "https://app.example/cb",
                subject,
                NOW,
                NOW + 60,
            )
        };
        let (b_u1, b_u3) = (code("b", "u1"), code("b", "u3"));
        s.save_code(b_u1.clone()).await.unwrap();
        s.save_code(b_u3.clone()).await.unwrap();
        assert_eq!(s.revoke_tokens(Some("b"), Some("u1")).await.unwrap(), 0);
        assert!(s.find_code(&b_u1.selector).await.unwrap().is_none());
        assert!(s.find_code(&b_u3.selector).await.unwrap().is_some());
        // An id no token has, one with a NUL (PostgreSQL's text cannot hold it).
        assert_eq!(s.revoke_tokens(Some("nobody"), None).await.unwrap(), 0);
        assert_eq!(s.revoke_tokens(Some("a\0"), None).await.unwrap(), 0);
    }

    async fn users_are_listed_by_name(s: &AnyStore) {
        assert!(s.list_users().await.unwrap().is_empty());
        s.add_user("zoe", "user-z", "pw").await;
        s.add_user("alice", "user-a", "pw").await;
        let users = s.list_users().await.unwrap();
        let names: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u.username.as_str(), u.subject.as_str()))
            .collect();
        assert_eq!(names, [("alice", "user-a"), ("zoe", "user-z")]);
    }

    #[tokio::test]
    async fn memory() {
        let s = crate::support::memory_backend().await.unwrap();
        tokens_are_revoked_by_client_by_user_or_both(&s).await;
        users_are_listed_by_name(&s).await;
    }

    #[tokio::test]
    async fn sqlite() {
        let s = crate::support::sqlite_memory().await.unwrap();
        tokens_are_revoked_by_client_by_user_or_both(&s).await;
        users_are_listed_by_name(&s).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some((s, _guard)) = crate::support::postgres().await else {
            return;
        };
        tokens_are_revoked_by_client_by_user_or_both(&s).await;
        users_are_listed_by_name(&s).await;
    }
}

/// `AnyStore::observed`: every call reported by name, with its outcome; tenants too.
mod observed {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use authgate::rng::OsRng;
    use authgate::token::generate_token;
    use authgate::{StorageError, TokenKind, TokenRecord};
    use authgate_sql::{PoolState, StoreObserver};

    /// What an observer was told: (operation, failed).
    #[derive(Default)]
    pub(crate) struct Calls(Mutex<Vec<(&'static str, bool)>>);

    impl StoreObserver for Calls {
        fn observe(
            &self,
            operation: &'static str,
            _took: Duration,
            result: Result<(), &StorageError>,
        ) {
            self.0.lock().unwrap().push((operation, result.is_err()));
        }
    }

    #[tokio::test]
    async fn every_call_is_reported_with_its_outcome() {
        let calls = Arc::new(Calls::default());
        let store = crate::support::sqlite_file()
            .await
            .unwrap()
            .observed(calls.clone());
        let t = generate_token(&OsRng, 1_800_000_000_000);
        let record = TokenRecord::new(
            t.key,
            TokenKind::Access,
            "c1",
            "client_credentials",
            1_800_000_000,
            1_800_003_600,
        );
        store
            .save_tokens(std::slice::from_ref(&record))
            .await
            .unwrap();
        // The same selector again: the store refuses it, and the observer hears of it.
        assert!(store
            .save_tokens(std::slice::from_ref(&record))
            .await
            .is_err());
        assert!(store.find_token(&record.selector).await.unwrap().is_some());
        // A tenant's handle reports through the same observer.
        assert!(store
            .tenant("b")
            .find_client("nobody")
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            *calls.0.lock().unwrap(),
            [
                ("save_tokens", false),
                ("save_tokens", true),
                ("find_token", false),
                ("find_client", false)
            ]
        );
    }

    #[tokio::test]
    async fn pool_state_shows_sqlite_connections() {
        let store = crate::support::sqlite_file().await.unwrap();
        let observed = store.observed(Arc::new(Calls::default()));
        // The writer and the two default readers, all open, nothing queued.
        let expected = store.pool_state();
        assert_eq!((expected.connections, expected.max_connections), (3, 3));
        assert_eq!((expected.queued_writes, expected.queued_reads), (0, 0));
        assert_eq!(observed.pool_state(), expected);
    }

    #[tokio::test]
    async fn pool_state_shows_postgres_pool() {
        let Some((store, _schema)) = crate::support::postgres().await else {
            return;
        };
        store.list_clients().await.unwrap();
        let state: PoolState = store.pool_state();
        assert_eq!(
            state.max_connections,
            authgate_sql::StoreOptions::default().max_connections
        );
        assert!(
            state.connections >= 1 && state.idle.is_some_and(|i| i <= state.connections),
            "{state:?}"
        );
    }
}
