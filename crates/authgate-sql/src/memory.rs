//! The in-memory store behind the same interface as the SQL ones (`memory:`): for tests,
//! demos and benchmarks of a single process that may forget everything on restart.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use authgate::token::{SecretHash, Selector};
use authgate::{
    AuthorizationCodeRecord, AuthorizationCodeStore, Client, ClientRecord, ClientRegistry,
    ClientStore, ConsentRecord, ConsentStore, DeviceCodeRecord, DeviceCodeStore, DevicePoll,
    KeyStore, MemoryStore, ResourceOwner, SessionRecord, SessionStore, SigningKeyRecord,
    StorageError, TokenRecord, TokenStore, UserStore,
};

use crate::{Admin, Backend, InitialAccessToken, NewUser, UserInfo};

/// [`MemoryStore`] plus what [`Admin`] needs. Cheap to clone: clones share the data.
/// Each tenant is a separate set of maps.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    store: MemoryStore,
    extra: Arc<Extra>,
    /// Every tenant's maps, the default tenant's (`""`) included, shared by all handles.
    tenants: Arc<Mutex<HashMap<String, TenantMaps>>>,
}

/// One tenant's maps.
type TenantMaps = (MemoryStore, Arc<Extra>);

#[derive(Default)]
struct Extra {
    clients: Mutex<BTreeMap<String, ClientRecord>>,
    users: Mutex<HashMap<String, UserInfo>>,
    secrets: Mutex<HashMap<String, Vec<u8>>>,
    initial_tokens: Mutex<BTreeMap<String, (InitialAccessToken, [u8; 32])>>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The engine's in-memory store inside.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }
}

impl Backend for MemoryBackend {
    fn in_tenant(&self, tenant: &str) -> Arc<dyn Backend> {
        let mut tenants = lock(&self.tenants);
        if tenants.is_empty() {
            // The handle first asked is the default tenant's (or has been since its
            // creation): record it before answering for another.
            tenants.insert(String::new(), (self.store.clone(), self.extra.clone()));
        }
        let (store, extra) = tenants
            .entry(tenant.to_owned())
            .or_insert_with(|| (MemoryStore::new(), Arc::default()))
            .clone();
        Arc::new(Self {
            store,
            extra,
            tenants: self.tenants.clone(),
        })
    }
}

#[async_trait]
impl ClientStore for MemoryBackend {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        self.store.find_client(client_id).await
    }
}

#[async_trait]
impl AuthorizationCodeStore for MemoryBackend {
    async fn save_code(&self, code: AuthorizationCodeRecord) -> Result<(), StorageError> {
        self.store.save_code(code).await
    }
    async fn find_code(
        &self,
        sel: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError> {
        self.store.find_code(sel).await
    }
    async fn consume_code(&self, sel: &Selector) -> Result<bool, StorageError> {
        self.store.consume_code(sel).await
    }
    async fn remove_code(&self, sel: &Selector) -> Result<(), StorageError> {
        self.store.remove_code(sel).await
    }
}

#[async_trait]
impl TokenStore for MemoryBackend {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        self.store.save_tokens(tokens).await
    }
    async fn find_token(&self, sel: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        self.store.find_token(sel).await
    }
    async fn revoke_token(&self, sel: &Selector) -> Result<(), StorageError> {
        self.store.revoke_token(sel).await
    }
    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        self.store.revoke_family(family).await
    }
    async fn rotate_refresh_token(
        &self,
        sel: &Selector,
        repl: &[TokenRecord],
        sealed: Option<&[u8]>,
    ) -> Result<bool, StorageError> {
        self.store.rotate_refresh_token(sel, repl, sealed).await
    }
}

#[async_trait]
impl KeyStore for MemoryBackend {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StorageError> {
        self.store.signing_keys().await
    }
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StorageError> {
        self.store.add_signing_key(key).await
    }
    async fn update_signing_key(
        &self,
        kid: &str,
        not_before: i64,
        not_after: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        self.store
            .update_signing_key(kid, not_before, not_after, expires_at)
            .await
    }
    async fn remove_signing_key(&self, kid: &str) -> Result<(), StorageError> {
        self.store.remove_signing_key(kid).await
    }
}

#[async_trait]
impl UserStore for MemoryBackend {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        self.store.authenticate_user(username, password).await
    }
}

#[async_trait]
impl Admin for MemoryBackend {
    async fn upsert_client(&self, client: &ClientRecord) -> Result<(), StorageError> {
        self.store.add_client(client.clone());
        lock(&self.extra.clients).insert(client.client_id.clone(), client.clone());
        Ok(())
    }
    async fn remove_client(&self, client_id: &str) -> Result<bool, StorageError> {
        self.delete_client(client_id).await
    }
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StorageError> {
        Ok(lock(&self.extra.clients).values().cloned().collect())
    }
    async fn upsert_user(&self, user: &NewUser) -> Result<(), StorageError> {
        let (store, owner, password) = (
            self.store.clone(),
            ResourceOwner::new(user.subject.clone(), user.username.clone()),
            user.password.clone(),
        );
        // argon2 hashing takes tens of milliseconds: off the async workers.
        tokio::task::spawn_blocking(move || store.add_user(owner, &password))
            .await
            .map_err(|e| StorageError::Other(Box::new(e)))?;
        lock(&self.extra.users).insert(
            user.username.clone(),
            UserInfo {
                username: user.username.clone(),
                subject: user.subject.clone(),
                claims: user.claims.clone(),
            },
        );
        Ok(())
    }
    async fn remove_user(&self, username: &str) -> Result<bool, StorageError> {
        if let Some(u) = lock(&self.extra.users).remove(username) {
            self.store.revoke_subject(&u.subject);
        }
        Ok(self.store.remove_user(username))
    }
    async fn find_user(&self, username: &str) -> Result<Option<UserInfo>, StorageError> {
        Ok(lock(&self.extra.users).get(username).cloned())
    }
    async fn list_users(&self) -> Result<Vec<UserInfo>, StorageError> {
        let mut users: Vec<UserInfo> = lock(&self.extra.users).values().cloned().collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }
    async fn revoke_tokens(
        &self,
        client_id: Option<&str>,
        subject: Option<&str>,
    ) -> Result<u64, StorageError> {
        // Naming neither does nothing there too.
        Ok(self.store.revoke_tokens(client_id, subject))
    }
    async fn find_user_by_subject(&self, subject: &str) -> Result<Option<UserInfo>, StorageError> {
        Ok(lock(&self.extra.users)
            .values()
            .find(|u| u.subject == subject)
            .cloned())
    }
    async fn add_initial_access_token(
        &self,
        token: &InitialAccessToken,
        hash: &authgate::token::SecretHash,
    ) -> Result<(), StorageError> {
        lock(&self.extra.initial_tokens).insert(token.id.clone(), (token.clone(), hash.0));
        Ok(())
    }
    async fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>, StorageError> {
        Ok(lock(&self.extra.initial_tokens)
            .values()
            .map(|(t, _)| t.clone())
            .collect())
    }
    async fn revoke_initial_access_token(&self, id: &str) -> Result<bool, StorageError> {
        Ok(match lock(&self.extra.initial_tokens).get_mut(id) {
            Some((t, _)) if !t.revoked => {
                t.revoked = true;
                true
            }
            _ => false,
        })
    }
    async fn initial_access_token_valid(
        &self,
        hash: &authgate::token::SecretHash,
    ) -> Result<bool, StorageError> {
        Ok(lock(&self.extra.initial_tokens)
            .values()
            .any(|(t, h)| !t.revoked && authgate::token::SecretHash(*h).ct_eq(hash)))
    }
    async fn shared_secret(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        Ok(lock(&self.extra.secrets)
            .entry(name.to_owned())
            .or_insert_with(|| authgate::rng::random_bytes::<32>(&authgate::OsRng).to_vec())
            .clone())
    }
    async fn purge_expired(&self, now: i64, _batch: usize) -> Result<usize, StorageError> {
        Ok(self.store.purge_expired(now))
    }
}

#[async_trait]
impl authgate::ReplayCache for MemoryBackend {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StorageError> {
        self.store.first_use(key, expires_at, now).await
    }
}

#[async_trait]
impl ConsentStore for MemoryBackend {
    async fn find_consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StorageError> {
        self.store.find_consent(subject, client_id).await
    }
    async fn save_consent(&self, consent: &ConsentRecord) -> Result<(), StorageError> {
        self.store.save_consent(consent).await
    }
    async fn list_consents(&self, subject: &str) -> Result<Vec<ConsentRecord>, StorageError> {
        self.store.list_consents(subject).await
    }
    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError> {
        self.store.revoke_consent(subject, client_id).await
    }
}

#[async_trait]
impl SessionStore for MemoryBackend {
    async fn save_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        self.store.save_session(session).await
    }
    async fn find_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        self.store.find_session(sid).await
    }
    async fn add_session_client(&self, sid: &str, client_id: &str) -> Result<(), StorageError> {
        self.store.add_session_client(sid, client_id).await
    }
    async fn end_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        self.store.end_session(sid).await
    }
    async fn end_sessions_of(&self, subject: &str) -> Result<Vec<SessionRecord>, StorageError> {
        self.store.end_sessions_of(subject).await
    }
}

#[async_trait]
impl DeviceCodeStore for MemoryBackend {
    async fn save_device_code(&self, record: &DeviceCodeRecord) -> Result<bool, StorageError> {
        self.store.save_device_code(record).await
    }
    async fn find_device_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        self.store.find_device_code(selector).await
    }
    async fn find_user_code(
        &self,
        user_code_hash: &SecretHash,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        self.store.find_user_code(user_code_hash).await
    }
    async fn decide_device_code(
        &self,
        user_code_hash: &SecretHash,
        owner: Option<&ResourceOwner>,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.store
            .decide_device_code(user_code_hash, owner, now)
            .await
    }
    async fn poll_device_code(
        &self,
        selector: &Selector,
        now_ms: i64,
        slow_down_by: i64,
    ) -> Result<DevicePoll, StorageError> {
        self.store
            .poll_device_code(selector, now_ms, slow_down_by)
            .await
    }
    async fn redeem_device_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        self.store.redeem_device_code(selector).await
    }
}

#[async_trait]
impl ClientRegistry for MemoryBackend {
    async fn create_client(&self, client: &ClientRecord) -> Result<bool, StorageError> {
        // The engine's store decides (its lock orders concurrent creations); this map
        // follows for the admin listing.
        if lock(&self.extra.clients).contains_key(&client.client_id)
            || !self.store.create_client(client).await?
        {
            return Ok(false);
        }
        lock(&self.extra.clients).insert(client.client_id.clone(), client.clone());
        Ok(true)
    }
    async fn registered_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StorageError> {
        Ok(lock(&self.extra.clients).get(client_id).cloned())
    }
    async fn update_client(&self, client: &ClientRecord) -> Result<bool, StorageError> {
        let mut clients = lock(&self.extra.clients);
        if !clients.contains_key(&client.client_id) {
            return Ok(false);
        }
        self.store.add_client(client.clone());
        clients.insert(client.client_id.clone(), client.clone());
        Ok(true)
    }
    async fn delete_client(&self, client_id: &str) -> Result<bool, StorageError> {
        let existed = lock(&self.extra.clients).remove(client_id).is_some();
        Ok(self.store.delete_client(client_id).await? || existed)
    }
}
