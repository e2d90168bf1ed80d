//! The storage traits a [`Backend`](crate::Backend) is made of, method by method, for the
//! wrappers that forward every call to an inner backend ([`observed`](crate::observed),
//! [`cached`](crate::cached)): each wrapper says what it does around a call, and this list
//! is the one place a new storage method is added.

/// Calls `$m!(Trait { fn method(&self, arg: Type...) -> Ok type; ... })` once for each
/// storage trait of [`Backend`](crate::Backend), listing every method.
///
/// A new method that revokes or deletes tokens must also be named in `cached.rs`'s
/// `REVOKES_MANY` (or written out there, as `TokenStore` is), and one that changes or
/// removes a client in its `CHANGES_CLIENTS`, or the cache will not forget what it
/// changed until its next read of the change count.
macro_rules! for_each_store_trait {
    ($m:ident) => {
        $m!(ClientStore {
            fn find_client(&self, client_id: &str) -> Option<Arc<dyn Client>>;
        });

        $m!(AuthorizationCodeStore {
            fn save_code(&self, code: AuthorizationCodeRecord) -> ();
            fn find_code(&self, selector: &Selector) -> Option<AuthorizationCodeRecord>;
            fn consume_code(&self, selector: &Selector) -> bool;
            fn remove_code(&self, selector: &Selector) -> ();
        });

        $m!(TokenStore {
            fn save_tokens(&self, tokens: &[TokenRecord]) -> ();
            fn find_token(&self, selector: &Selector) -> Option<TokenRecord>;
            fn revoke_token(&self, selector: &Selector) -> ();
            fn revoke_family(&self, family: &Selector) -> ();
            fn rotate_refresh_token(
                &self,
                selector: &Selector,
                replacements: &[TokenRecord],
                sealed_successors: Option<&[u8]>
            ) -> bool;
        });

        $m!(UserStore {
            fn authenticate_user(&self, username: &str, password: &str) -> Option<ResourceOwner>;
        });

        $m!(SessionStore {
            fn save_session(&self, session: &SessionRecord) -> ();
            fn find_session(&self, sid: &str) -> Option<SessionRecord>;
            fn add_session_client(&self, sid: &str, client_id: &str) -> ();
            fn end_session(&self, sid: &str) -> Option<SessionRecord>;
            fn end_sessions_of(&self, subject: &str) -> Vec<SessionRecord>;
        });

        $m!(DeviceCodeStore {
            fn save_device_code(&self, record: &DeviceCodeRecord) -> bool;
            fn find_device_code(&self, selector: &Selector) -> Option<DeviceCodeRecord>;
            fn find_user_code(&self, user_code_hash: &SecretHash) -> Option<DeviceCodeRecord>;
            fn decide_device_code(
                &self,
                user_code_hash: &SecretHash,
                owner: Option<&ResourceOwner>,
                now: i64
            ) -> bool;
            fn poll_device_code(&self, selector: &Selector, now_ms: i64, slow_down_by: i64) -> DevicePoll;
            fn redeem_device_code(&self, selector: &Selector) -> bool;
        });

        $m!(ClientRegistry {
            fn create_client(&self, client: &ClientRecord) -> bool;
            fn registered_client(&self, client_id: &str) -> Option<ClientRecord>;
            fn update_client(&self, client: &ClientRecord) -> bool;
            fn delete_client(&self, client_id: &str) -> bool;
        });

        $m!(KeyStore {
            fn signing_keys(&self) -> Vec<SigningKeyRecord>;
            fn add_signing_key(&self, key: &SigningKeyRecord) -> bool;
            fn update_signing_key(&self, kid: &str, not_before: i64, not_after: i64, expires_at: i64) -> ();
            fn remove_signing_key(&self, kid: &str) -> ();
        });

        $m!(ConsentStore {
            fn find_consent(&self, subject: &str, client_id: &str) -> Option<ConsentRecord>;
            fn save_consent(&self, consent: &ConsentRecord) -> ();
            fn list_consents(&self, subject: &str) -> Vec<ConsentRecord>;
            fn revoke_consent(&self, subject: &str, client_id: &str) -> bool;
        });

        $m!(ReplayCache {
            fn first_use(&self, key: &str, expires_at: i64, now: i64) -> bool;
        });

        $m!(Admin {
            fn upsert_client(&self, client: &ClientRecord) -> ();
            fn remove_client(&self, client_id: &str) -> bool;
            fn list_clients(&self) -> Vec<ClientRecord>;
            fn upsert_user(&self, user: &NewUser) -> ();
            fn remove_user(&self, username: &str) -> bool;
            fn find_user(&self, username: &str) -> Option<UserInfo>;
            fn list_users(&self) -> Vec<UserInfo>;
            fn revoke_tokens(&self, client_id: Option<&str>, subject: Option<&str>) -> u64;
            fn find_user_by_subject(&self, subject: &str) -> Option<UserInfo>;
            fn shared_secret(&self, name: &str) -> Vec<u8>;
            fn add_initial_access_token(&self, token: &InitialAccessToken, hash: &SecretHash) -> ();
            fn list_initial_access_tokens(&self) -> Vec<InitialAccessToken>;
            fn revoke_initial_access_token(&self, id: &str) -> bool;
            fn initial_access_token_valid(&self, hash: &SecretHash) -> bool;
            fn purge_expired(&self, now: i64, batch: usize) -> usize;
            fn token_changes(&self) -> Option<u64>;
        });
    };
}
