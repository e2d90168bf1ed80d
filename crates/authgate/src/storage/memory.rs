//! A thread-safe in-memory store: for tests, examples and single-process servers that may
//! forget everything on restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;

use super::{
    AuthorizationCodeRecord, AuthorizationCodeStore, ClientRegistry, ClientStore, ConsentRecord,
    ConsentStore, DeviceCodeRecord, DeviceCodeStatus, DeviceCodeStore, DevicePoll, GrantDetails,
    KeyStore, ResourceOwner, SessionRecord, SessionStore, SigningKeyRecord, TokenKind, TokenRecord,
    TokenStore, UserStore,
};
use crate::client::{Client, ClientRecord};
use crate::error::StorageError;
#[cfg(feature = "password")]
use crate::password;
#[cfg(feature = "password")]
use crate::rng::OsRng;
use crate::scope::Scope;
use crate::token::{SecretHash, Selector, TokenKey};

const SHARDS: usize = 16;

/// A token as the in-memory store keeps it: the per-token fields inline, everything tokens
/// commonly share (client, owner, scope, grant type) behind one interned `Arc`. About 100
/// bytes a token instead of the ~900 of a `TokenRecord` with its own strings.
struct MemToken {
    verifier_hash: SecretHash,
    family: Selector,
    issued_at: i64,
    expires_at: i64,
    meta: Arc<TokenMeta>,
    /// Audience, authentication facts, claims: none for most tokens (a client's), shared
    /// with the record otherwise.
    details: Option<Arc<GrantDetails>>,
    kind: TokenKind,
    revoked: bool,
    rotated: bool,
    /// Set on rotation under a grace window.
    successors: Option<Box<[u8]>>,
}

struct TokenMeta {
    client_id: String,
    subject: Option<String>,
    username: Option<String>,
    scope: Scope,
    grant_type: String,
}

impl MemToken {
    fn record(&self, selector: Selector) -> TokenRecord {
        let m = &self.meta;
        let mut r = TokenRecord::new(
            TokenKey {
                selector,
                verifier_hash: self.verifier_hash,
            },
            self.kind,
            m.client_id.clone(),
            m.grant_type.clone(),
            self.issued_at,
            self.expires_at,
        );
        r.subject.clone_from(&m.subject);
        r.username.clone_from(&m.username);
        r.scope = m.scope.clone();
        r.family = self.family;
        r.revoked = self.revoked;
        r.rotated = self.rotated;
        r.sealed_successors = self.successors.as_deref().map(<[u8]>::to_vec);
        r.details.clone_from(&self.details);
        r
    }
}

/// Every storage trait, in memory. Cheap to clone: clones share the same data.
///
/// Tokens live in 16 shards, each behind its own lock, picked by a random byte of the
/// selector, so concurrent Bearer checks and issuances rarely meet on one lock.
///
/// ```
/// use authgate::{MemoryStore, ClientRecord};
/// let store = MemoryStore::new();
/// store.add_client(ClientRecord::confidential("svc", "secret").grant_types(["client_credentials"]));
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    clients: RwLock<HashMap<String, Arc<dyn Client>>>,
    codes: Mutex<HashMap<Selector, AuthorizationCodeRecord>>,
    tokens: [RwLock<HashMap<Selector, MemToken>>; SHARDS],
    /// Members of families with more than their founding token (whose selector is the
    /// family's); single-token families, the common case, cost nothing here.
    families: Mutex<HashMap<Selector, Vec<Selector>>>,
    /// Interned metadata, in shards by a hash of the borrowed fields, so that finding the
    /// shared entry for a new token allocates nothing and rarely meets another thread.
    metas: [Mutex<HashMap<u64, Vec<Arc<TokenMeta>>>>; SHARDS],
    /// Held across a rotation (retire + insert) and a family revocation, so a revocation
    /// never runs between the two halves of a rotation.
    rotations: Mutex<()>,
    users: RwLock<HashMap<String, (String, ResourceOwner)>>,
    keys: Mutex<Vec<SigningKeyRecord>>,
    consents: Mutex<HashMap<(String, String), ConsentRecord>>,
    sessions: Mutex<HashMap<String, SessionRecord>>,
    device_codes: Mutex<HashMap<Selector, DeviceCodeRecord>>,
    /// Used one-time values and when each may be forgotten.
    replay: Mutex<HashMap<String, i64>>,
    /// Clients created through the [`ClientRegistry`], as data (the `clients` map has them
    /// too, for lookups).
    registered: Mutex<HashMap<String, ClientRecord>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The engine's stores, all served by this store: signing keys, consents and sessions
    /// included.
    pub fn stores(&self) -> super::Stores {
        let me = Arc::new(self.clone());
        super::Stores::from_store(me.clone())
            .with_keys(me.clone())
            .with_consents(me.clone())
            .with_sessions(me.clone())
            .with_device_codes(me.clone())
            .with_replay_cache(me.clone())
            .with_client_registry(me)
    }

    /// Adds or replaces a client.
    pub fn add_client(&self, client: impl Client + 'static) {
        let id = client.client_id().to_owned();
        write(&self.inner.clients).insert(id, Arc::new(client));
    }

    /// Removes a client.
    pub fn remove_client(&self, client_id: &str) {
        write(&self.inner.clients).remove(client_id);
    }

    /// Adds or replaces a user for the password grant; the password is kept as an argon2id
    /// hash only. Hashing takes tens of milliseconds on the calling thread.
    ///
    /// # Panics
    /// Never in practice: argon2 refuses only passwords longer than 4 GiB.
    #[cfg(feature = "password")]
    pub fn add_user(&self, owner: ResourceOwner, password: &str) {
        let Some(username) = owner.username.clone() else {
            return;
        };
        // Only a password over argon2's 4 GiB limit fails to hash.
        #[allow(clippy::expect_used)]
        let hash = password::hash_blocking(password, &OsRng).expect("argon2 hashes the password");
        write(&self.inner.users).insert(username, (hash, owner));
    }

    /// Removes a user; answers whether it existed.
    pub fn remove_user(&self, username: &str) -> bool {
        write(&self.inner.users).remove(username).is_some()
    }

    /// Revokes every token issued for a resource owner, deletes their unredeemed codes and
    /// device approvals, and forgets their consents and sessions (when the owner is
    /// removed).
    pub fn revoke_subject(&self, subject: &str) {
        let _ = self.revoke_where(|m| m.subject.as_deref() == Some(subject));
        lock(&self.inner.codes).retain(|_, c| c.subject != subject);
        lock(&self.inner.device_codes).retain(|_, d| d.subject.as_deref() != Some(subject));
        lock(&self.inner.consents).retain(|(s, _), _| s != subject);
        lock(&self.inner.sessions).retain(|_, s| s.subject != subject);
    }

    /// Revokes the unrevoked tokens issued to `client_id`, or for `subject`, or both when
    /// both are named (an administrator's "revoke everything this client / this user
    /// holds"), and deletes their codes and device codes not yet exchanged; answers how
    /// many tokens were revoked. Naming neither does nothing.
    pub fn revoke_tokens(&self, client_id: Option<&str>, subject: Option<&str>) -> u64 {
        if client_id.is_none() && subject.is_none() {
            return 0;
        }
        let client_ok = |c: &str| client_id.is_none_or(|want| c == want);
        let subject_ok = |s: Option<&str>| subject.is_none_or(|want| s == Some(want));
        lock(&self.inner.codes)
            .retain(|_, c| !(client_ok(&c.client_id) && subject_ok(Some(&c.subject))));
        lock(&self.inner.device_codes)
            .retain(|_, d| !(client_ok(&d.client_id) && subject_ok(d.subject.as_deref())));
        self.revoke_where(|m| client_ok(&m.client_id) && subject_ok(m.subject.as_deref()))
    }

    fn revoke_where(&self, matches: impl Fn(&TokenMeta) -> bool) -> u64 {
        let mut revoked = 0;
        for shard in &self.inner.tokens {
            for t in write(shard).values_mut() {
                if !t.revoked && matches(&t.meta) {
                    t.revoked = true;
                    revoked += 1;
                }
            }
        }
        revoked
    }

    /// Drops codes, device codes, tokens and sessions that expired before `now` (seconds);
    /// answers how many.
    pub fn purge_expired(&self, now: i64) -> usize {
        let mut n = 0;
        lock(&self.inner.replay).retain(|_, expires_at| {
            let keep = *expires_at > now;
            n += usize::from(!keep);
            keep
        });
        lock(&self.inner.device_codes).retain(|_, d| {
            let keep = d.expires_at > now;
            n += usize::from(!keep);
            keep
        });
        lock(&self.inner.codes).retain(|_, c| {
            let keep = c.expires_at > now;
            n += usize::from(!keep);
            keep
        });
        lock(&self.inner.sessions).retain(|_, s| {
            let keep = s.expires_at > now;
            n += usize::from(!keep);
            keep
        });
        let mut gone = Vec::new();
        for shard in &self.inner.tokens {
            write(shard).retain(|sel, t| {
                let keep = t.expires_at > now;
                if !keep {
                    gone.push((t.family, *sel));
                }
                keep
            });
        }
        n += gone.len();
        {
            let mut fams = lock(&self.inner.families);
            for (fam, sel) in gone {
                if let Some(v) = fams.get_mut(&fam) {
                    v.retain(|s| *s != sel);
                    if v.is_empty() {
                        fams.remove(&fam);
                    }
                }
            }
        }
        // Shared metadata nobody points at any more.
        for shard in &self.inner.metas {
            let mut metas = lock(shard);
            metas.retain(|_, v| {
                v.retain(|m| Arc::strong_count(m) > 1);
                !v.is_empty()
            });
        }
        n
    }

    /// How many tokens are stored.
    pub fn token_count(&self) -> usize {
        self.inner.tokens.iter().map(|s| read(s).len()).sum()
    }

    fn shard(&self, sel: &Selector) -> &RwLock<HashMap<Selector, MemToken>> {
        // Byte 15 is random (bytes 6..16 are), so shards fill evenly.
        &self.inner.tokens[usize::from(sel.0[15]) % SHARDS]
    }

    fn intern(&self, t: &TokenRecord) -> Arc<TokenMeta> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            &t.client_id,
            &t.subject,
            &t.username,
            &t.scope,
            &t.grant_type,
        )
            .hash(&mut h);
        let key = h.finish();
        let same = |m: &TokenMeta| {
            m.client_id == t.client_id
                && m.subject == t.subject
                && m.username == t.username
                && m.scope == t.scope
                && m.grant_type == t.grant_type
        };
        let shard = &self.inner.metas[usize::try_from(key % SHARDS as u64).unwrap_or(0)];
        let mut metas = lock(shard);
        let bucket = metas.entry(key).or_default();
        if let Some(m) = bucket.iter().find(|m| same(m)) {
            return m.clone();
        }
        let m = Arc::new(TokenMeta {
            client_id: t.client_id.clone(),
            subject: t.subject.clone(),
            username: t.username.clone(),
            scope: t.scope.clone(),
            grant_type: t.grant_type.clone(),
        });
        bucket.push(m.clone());
        m
    }

    fn insert_tokens(&self, tokens: &[TokenRecord]) {
        for t in tokens {
            let mem = MemToken {
                verifier_hash: t.verifier_hash,
                family: t.family,
                issued_at: t.issued_at,
                expires_at: t.expires_at,
                meta: self.intern(t),
                details: t.details.clone(),
                kind: t.kind,
                revoked: t.revoked,
                rotated: t.rotated,
                successors: t.sealed_successors.as_deref().map(Box::from),
            };
            if t.family != t.selector {
                lock(&self.inner.families)
                    .entry(t.family)
                    .or_default()
                    .push(t.selector);
            }
            write(self.shard(&t.selector)).insert(t.selector, mem);
        }
    }
}

// A poisoned lock means a thread panicked while holding it; the maps are still consistent
// (every critical section is a single insert/update), so the data is used as it stands.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn find_client(&self, client_id: &str) -> Result<Option<Arc<dyn Client>>, StorageError> {
        Ok(read(&self.inner.clients).get(client_id).cloned())
    }
}

#[async_trait]
impl AuthorizationCodeStore for MemoryStore {
    async fn save_code(&self, code: AuthorizationCodeRecord) -> Result<(), StorageError> {
        lock(&self.inner.codes).insert(code.selector, code);
        Ok(())
    }

    async fn find_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<AuthorizationCodeRecord>, StorageError> {
        Ok(lock(&self.inner.codes).get(selector).cloned())
    }

    async fn remove_code(&self, selector: &Selector) -> Result<(), StorageError> {
        lock(&self.inner.codes).remove(selector);
        Ok(())
    }

    async fn consume_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let mut codes = lock(&self.inner.codes);
        Ok(match codes.get_mut(selector) {
            Some(c) if !c.used => {
                c.used = true;
                true
            }
            _ => false,
        })
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn save_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StorageError> {
        self.insert_tokens(tokens);
        Ok(())
    }

    async fn find_token(&self, selector: &Selector) -> Result<Option<TokenRecord>, StorageError> {
        Ok(read(self.shard(selector))
            .get(selector)
            .map(|t| t.record(*selector)))
    }

    async fn revoke_token(&self, selector: &Selector) -> Result<(), StorageError> {
        if let Some(t) = write(self.shard(selector)).get_mut(selector) {
            t.revoked = true;
        }
        Ok(())
    }

    async fn revoke_family(&self, family: &Selector) -> Result<(), StorageError> {
        let _order = lock(&self.inner.rotations);
        let mut members = lock(&self.inner.families)
            .get(family)
            .cloned()
            .unwrap_or_default();
        members.push(*family); // the founding token, if it belongs to the family
        for sel in members {
            if let Some(t) = write(self.shard(&sel)).get_mut(&sel) {
                if t.family == *family {
                    t.revoked = true;
                }
            }
        }
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        selector: &Selector,
        replacements: &[TokenRecord],
        sealed_successors: Option<&[u8]>,
    ) -> Result<bool, StorageError> {
        let _order = lock(&self.inner.rotations);
        let rotatable = |t: &MemToken| t.kind == TokenKind::Refresh && !t.revoked && !t.rotated;
        if !read(self.shard(selector))
            .get(selector)
            .is_some_and(rotatable)
        {
            return Ok(false);
        }
        // The successors first, then the mark: whoever sees the token rotated (a replay
        // within the grace window, say) finds its successors already there.
        self.insert_tokens(replacements);
        let marked = match write(self.shard(selector)).get_mut(selector) {
            Some(t) if rotatable(t) => {
                t.rotated = true;
                t.successors = sealed_successors.map(Box::from);
                true
            }
            _ => false,
        };
        if !marked {
            // Revoked in between (revocation does not wait for rotations): the successors
            // must not outlive it.
            for r in replacements {
                if let Some(t) = write(self.shard(&r.selector)).get_mut(&r.selector) {
                    t.revoked = true;
                }
            }
        }
        Ok(marked)
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        #[cfg(feature = "password")]
        {
            let entry = read(&self.inner.users).get(username).cloned();
            let Some((hash, owner)) = entry else {
                password::verify_unknown_user(password.to_owned()).await?;
                return Ok(None);
            };
            let ok = password::verify(hash, password.to_owned()).await?;
            Ok(ok.then_some(owner))
        }
        // Without the `password` feature no user can be added, so none is found.
        #[cfg(not(feature = "password"))]
        {
            let _ = (username, password);
            Ok(None)
        }
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StorageError> {
        Ok(lock(&self.inner.keys).clone())
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<bool, StorageError> {
        let mut keys = lock(&self.inner.keys);
        if keys
            .iter()
            .any(|k| (k.alg == key.alg && k.generation == key.generation) || k.kid == key.kid)
        {
            return Ok(false);
        }
        keys.push(key.clone());
        Ok(true)
    }

    async fn update_signing_key(
        &self,
        kid: &str,
        not_before: i64,
        not_after: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        if let Some(k) = lock(&self.inner.keys).iter_mut().find(|k| k.kid == kid) {
            k.not_before = not_before;
            k.not_after = not_after;
            k.expires_at = expires_at;
        }
        Ok(())
    }

    async fn remove_signing_key(&self, kid: &str) -> Result<(), StorageError> {
        lock(&self.inner.keys).retain(|k| k.kid != kid);
        Ok(())
    }
}

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn find_consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StorageError> {
        Ok(lock(&self.inner.consents)
            .get(&(subject.to_owned(), client_id.to_owned()))
            .cloned())
    }

    async fn save_consent(&self, consent: &ConsentRecord) -> Result<(), StorageError> {
        lock(&self.inner.consents).insert(
            (consent.subject.clone(), consent.client_id.clone()),
            consent.clone(),
        );
        Ok(())
    }

    async fn list_consents(&self, subject: &str) -> Result<Vec<ConsentRecord>, StorageError> {
        let mut all: Vec<ConsentRecord> = lock(&self.inner.consents)
            .values()
            .filter(|c| c.subject == subject)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(all)
    }

    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError> {
        // Held while the tokens are revoked, so a save racing the revocation is ordered
        // with it rather than half-seen.
        let mut consents = lock(&self.inner.consents);
        let existed = consents
            .remove(&(subject.to_owned(), client_id.to_owned()))
            .is_some();
        lock(&self.inner.codes).retain(|_, c| !(c.client_id == client_id && c.subject == subject));
        let _ = self
            .revoke_where(|m| m.client_id == client_id && m.subject.as_deref() == Some(subject));
        Ok(existed)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn save_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        lock(&self.inner.sessions).insert(session.sid.clone(), session.clone());
        Ok(())
    }

    async fn find_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        Ok(lock(&self.inner.sessions).get(sid).cloned())
    }

    async fn add_session_client(&self, sid: &str, client_id: &str) -> Result<(), StorageError> {
        if let Some(s) = lock(&self.inner.sessions).get_mut(sid) {
            if !s.clients.iter().any(|c| c == client_id) {
                s.clients.push(client_id.to_owned());
            }
        }
        Ok(())
    }

    async fn end_session(&self, sid: &str) -> Result<Option<SessionRecord>, StorageError> {
        Ok(lock(&self.inner.sessions).remove(sid))
    }

    async fn end_sessions_of(&self, subject: &str) -> Result<Vec<SessionRecord>, StorageError> {
        let mut sessions = lock(&self.inner.sessions);
        let sids: Vec<String> = sessions
            .values()
            .filter(|s| s.subject == subject)
            .map(|s| s.sid.clone())
            .collect();
        Ok(sids.iter().filter_map(|sid| sessions.remove(sid)).collect())
    }
}

#[async_trait]
impl DeviceCodeStore for MemoryStore {
    async fn save_device_code(&self, record: &DeviceCodeRecord) -> Result<bool, StorageError> {
        let mut all = lock(&self.inner.device_codes);
        if all
            .values()
            .any(|d| d.user_code_hash.ct_eq(&record.user_code_hash))
        {
            return Ok(false);
        }
        all.insert(record.selector, record.clone());
        Ok(true)
    }

    async fn find_device_code(
        &self,
        selector: &Selector,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        Ok(lock(&self.inner.device_codes).get(selector).cloned())
    }

    async fn find_user_code(
        &self,
        user_code_hash: &SecretHash,
    ) -> Result<Option<DeviceCodeRecord>, StorageError> {
        Ok(lock(&self.inner.device_codes)
            .values()
            .find(|d| d.user_code_hash.ct_eq(user_code_hash))
            .cloned())
    }

    async fn decide_device_code(
        &self,
        user_code_hash: &SecretHash,
        owner: Option<&ResourceOwner>,
        now: i64,
    ) -> Result<bool, StorageError> {
        let mut all = lock(&self.inner.device_codes);
        let Some(d) = all.values_mut().find(|d| {
            d.user_code_hash.ct_eq(user_code_hash)
                && d.status == DeviceCodeStatus::Pending
                && now < d.expires_at
        }) else {
            return Ok(false);
        };
        match owner {
            Some(o) => {
                d.status = DeviceCodeStatus::Approved;
                d.subject = Some(o.subject.clone());
                d.username.clone_from(&o.username);
                d.details = GrantDetails::of_owner(o);
            }
            None => d.status = DeviceCodeStatus::Denied,
        }
        Ok(true)
    }

    async fn poll_device_code(
        &self,
        selector: &Selector,
        now_ms: i64,
        slow_down_by: i64,
    ) -> Result<DevicePoll, StorageError> {
        let mut all = lock(&self.inner.device_codes);
        let Some(d) = all
            .get_mut(selector)
            .filter(|d| d.status == DeviceCodeStatus::Pending)
        else {
            return Ok(DevicePoll::NotPending);
        };
        let too_fast = super::device_codes::polled_too_soon(d.last_polled_ms, d.interval, now_ms);
        d.last_polled_ms = Some(now_ms);
        if too_fast {
            d.interval = d.interval.saturating_add(slow_down_by);
            return Ok(DevicePoll::TooFast);
        }
        Ok(DevicePoll::Pending)
    }

    async fn redeem_device_code(&self, selector: &Selector) -> Result<bool, StorageError> {
        let mut all = lock(&self.inner.device_codes);
        match all.get_mut(selector) {
            Some(d) if d.status == DeviceCodeStatus::Approved => {
                d.status = DeviceCodeStatus::Redeemed;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl ClientRegistry for MemoryStore {
    async fn create_client(&self, client: &ClientRecord) -> Result<bool, StorageError> {
        let mut clients = write(&self.inner.clients);
        if clients.contains_key(&client.client_id) {
            return Ok(false);
        }
        clients.insert(client.client_id.clone(), Arc::new(client.clone()));
        lock(&self.inner.registered).insert(client.client_id.clone(), client.clone());
        Ok(true)
    }

    async fn registered_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StorageError> {
        Ok(lock(&self.inner.registered).get(client_id).cloned())
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<bool, StorageError> {
        let mut clients = write(&self.inner.clients);
        if !clients.contains_key(&client.client_id) {
            return Ok(false);
        }
        clients.insert(client.client_id.clone(), Arc::new(client.clone()));
        lock(&self.inner.registered).insert(client.client_id.clone(), client.clone());
        Ok(true)
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StorageError> {
        let existed = write(&self.inner.clients).remove(client_id).is_some();
        lock(&self.inner.registered).remove(client_id);
        lock(&self.inner.codes).retain(|_, c| c.client_id != client_id);
        lock(&self.inner.device_codes).retain(|_, d| d.client_id != client_id);
        lock(&self.inner.consents).retain(|(_, c), _| c != client_id);
        let _ = self.revoke_where(|m| m.client_id == client_id);
        Ok(existed)
    }
}

#[async_trait]
impl super::ReplayCache for MemoryStore {
    async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StorageError> {
        let mut used = lock(&self.inner.replay);
        match used.get_mut(key) {
            Some(until) if *until > now => Ok(false),
            Some(until) => {
                *until = expires_at;
                Ok(true)
            }
            None => {
                used.insert(key.to_owned(), expires_at);
                Ok(true)
            }
        }
    }
}
