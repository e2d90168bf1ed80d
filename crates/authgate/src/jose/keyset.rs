//! [`KeySet`]: the server's signing keys — generated on first use, sealed at rest, rotated
//! on a schedule that publishes each key before it signs and keeps it published until
//! what it signed has expired.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use super::backend::{self, Signer};
use super::verify::JwksVerifier;
use super::{Algorithm, JoseError, Jwks, PublicJwk};
use crate::clock::{Clock, SystemClock};
use crate::rng::{random_bytes, OsRng, Rng};
use crate::storage::{KeyStore, SigningKeyRecord};

const DAY: u64 = 24 * 3600;

/// The key that seals private keys at rest (AES-256-GCM): 32 bytes the application keeps
/// outside the key store — in its configuration, a file, or a secret manager — so that a
/// copy of the store alone cannot sign anything. Every server sharing a key store needs
/// the same one.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl KeyEncryptionKey {
    /// From 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// From 32 bytes in base64 or base64url (padding optional, surrounding whitespace
    /// ignored); `None` for anything else.
    pub fn from_base64(s: &str) -> Option<Self> {
        let s = s.trim();
        let decoded = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(s))
            .ok()?;
        <[u8; 32]>::try_from(decoded.as_slice()).ok().map(Self)
    }

    /// A fresh random key.
    pub fn generate(rng: &dyn Rng) -> Self {
        Self(random_bytes(rng))
    }

    /// The key as base64url, for writing to a file.
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The raw key, for sealing inside the crate.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

/// When keys are made, used and dropped.
///
/// Each algorithm has one active key at a time. It signs for `signing_period`; the key
/// that follows it is published `publish_ahead` before it starts signing (so relying
/// parties that cache the key set already hold it); a key that stopped signing stays
/// published for `retain`, which bounds the lifetime of anything signed ([`KeySet::sign`]
/// refuses claims whose `exp` lies further out). On first start there is nothing to
/// publish ahead of: the first key signs at once.
///
/// Servers sharing a key store must keep their clocks in step (NTP): keys switch and
/// leave the store by each server's clock.
///
/// ```
/// use authgate::jose::{Algorithm, RotationPolicy};
/// let p = RotationPolicy::default();
/// assert_eq!(p.algorithms, [Algorithm::RS256, Algorithm::ES256]);
/// assert_eq!(p.signing_period, 90 * 24 * 3600);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RotationPolicy {
    /// The algorithms to keep keys for (default RS256 and ES256).
    pub algorithms: Vec<Algorithm>,
    /// How long a key signs, in seconds (default 90 days).
    pub signing_period: u64,
    /// How long before it signs a key is published (default 2 days; keep it above the
    /// JWKS cache lifetime).
    pub publish_ahead: u64,
    /// How long a key stays published after it stopped signing (default 7 days).
    pub retain: u64,
    /// How often a server re-reads the key store to see rotations by others (default
    /// 60 s; it also re-reads at every scheduled switch).
    pub refresh_interval: u64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            signing_period: 90 * DAY,
            publish_ahead: 2 * DAY,
            retain: 7 * DAY,
            refresh_interval: 60,
        }
    }
}

/// Where a key is in its life.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signing.
    Active,
    /// Published, no longer signing.
    Retired,
}

impl KeyState {
    /// `next`, `active` or `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

/// A key as an operator sees it.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct KeySummary {
    /// The key id.
    pub kid: String,
    /// The algorithm.
    pub alg: String,
    /// Its generation.
    pub generation: i64,
    /// Its state now.
    pub state: KeyState,
    /// When it signs from.
    pub not_before: i64,
    /// When it stops signing.
    pub not_after: i64,
    /// When it leaves the key set.
    pub expires_at: i64,
}

/// Every published key with its state at `now`, by algorithm and generation: what an
/// operator lists. Needs no key encryption key.
pub fn summarize(mut records: Vec<SigningKeyRecord>, now: i64) -> Vec<KeySummary> {
    records.sort_by(|a, b| (&a.alg, a.generation).cmp(&(&b.alg, b.generation)));
    records
        .into_iter()
        .filter(|r| now < r.expires_at)
        .map(|r| KeySummary {
            state: if now < r.not_before {
                KeyState::Next
            } else if now < r.not_after {
                KeyState::Active
            } else {
                KeyState::Retired
            },
            kid: r.kid,
            alg: r.alg,
            generation: r.generation,
            not_before: r.not_before,
            not_after: r.not_after,
            expires_at: r.expires_at,
        })
        .collect()
}

/// One loaded key.
struct Loaded {
    record: SigningKeyRecord,
    alg: Algorithm,
    jwk: PublicJwk,
    signer: Arc<Signer>,
}

/// What the key set holds between reads of the store.
#[derive(Default)]
struct Snapshot {
    keys: Vec<Loaded>,
    refresh_at: i64,
}

impl Snapshot {
    /// The key that signs with `alg` at `now`: the newest active one; when none is (a
    /// switch this server has not seen yet), the newest published one that has started.
    fn signing(&self, alg: Algorithm, now: i64) -> Option<&Loaded> {
        let of_alg = || self.keys.iter().filter(move |k| k.alg == alg);
        of_alg()
            .filter(|k| k.record.not_before <= now && now < k.record.not_after)
            .max_by_key(|k| k.record.generation)
            .or_else(|| {
                of_alg()
                    .filter(|k| k.record.not_before <= now && now < k.record.expires_at)
                    .max_by_key(|k| k.record.generation)
            })
    }
}

/// The server's signing keys.
///
/// ```
/// # async fn run() -> Result<(), authgate::jose::JoseError> {
/// use std::sync::Arc;
/// use authgate::jose::{Algorithm, KeyEncryptionKey, KeySet, RotationPolicy};
/// use authgate::{MemoryStore, OsRng};
/// let keys = KeySet::new(
///     Arc::new(MemoryStore::new()),
///     KeyEncryptionKey::generate(&OsRng),
///     RotationPolicy::default(),
/// );
/// keys.load().await?; // generates RS256 and ES256 keys on first use
/// let jwt = keys.sign(Algorithm::ES256, Some("JWT"), &serde_json::json!({ "sub": "alice" })).await?;
/// let claims = keys.verifier().await?.verify(&jwt)?.claims;
/// assert_eq!(claims["sub"], "alice");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
pub struct KeySet {
    store: Arc<dyn KeyStore>,
    kek: KeyEncryptionKey,
    policy: RotationPolicy,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    snapshot: RwLock<Arc<Snapshot>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl KeySet {
    /// A key set over `store`, sealing private keys with `kek`, rotating by `policy`, on
    /// the system clock. Nothing is read until the first use (or [`Self::load`]).
    pub fn new(store: Arc<dyn KeyStore>, kek: KeyEncryptionKey, policy: RotationPolicy) -> Self {
        Self {
            store,
            kek,
            policy,
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRng),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// Replaces the clock (tests move through a rotation with a frozen clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the random number generator (the nonces of sealed keys).
    #[must_use]
    pub fn with_rng(mut self, rng: Arc<dyn Rng>) -> Self {
        self.rng = rng;
        self
    }

    /// The rotation policy.
    pub fn policy(&self) -> &RotationPolicy {
        &self.policy
    }

    /// Reads the store, creates and retires keys as the policy says, and loads them: call
    /// it at start, so a wrong key encryption key or an unreachable store is an error
    /// then, not at the first signature.
    ///
    /// # Errors
    /// The store failed, a key cannot be decrypted, or a key cannot be generated.
    pub async fn load(&self) -> Result<(), JoseError> {
        let _one = self.refreshing.lock().await;
        let snap = self.refresh(self.clock.now()).await?;
        self.set(snap);
        Ok(())
    }

    /// Signs `claims` as a compact JWS with the active key of `alg`, with `typ` in the
    /// header when given.
    ///
    /// What a key signs must expire within [`RotationPolicy::retain`] of being signed: a
    /// key stays published that long after it stops signing, and no longer, so anything
    /// living longer could outlive its key. Such claims are refused.
    ///
    /// # Errors
    /// No key of `alg` is kept (not in the policy), an `exp` beyond the retention, or the
    /// store or crypto failed.
    pub async fn sign(
        &self,
        alg: Algorithm,
        typ: Option<&str>,
        claims: &serde_json::Value,
    ) -> Result<String, JoseError> {
        let now = self.clock.now();
        if let Some(exp) = claims.get("exp").and_then(serde_json::Value::as_i64) {
            if exp > now.saturating_add(secs(self.policy.retain)) {
                return Err(JoseError::OutlivesKey);
            }
        }
        let snap = self.current(now).await?;
        let key = snap.signing(alg, now).ok_or(JoseError::NoKey(alg))?;
        key.signer.sign(typ, claims)
    }

    /// The key id and public key that would sign with `alg` now.
    ///
    /// # Errors
    /// As [`Self::sign`].
    pub async fn signing_key(&self, alg: Algorithm) -> Result<PublicJwk, JoseError> {
        let now = self.clock.now();
        let snap = self.current(now).await?;
        snap.signing(alg, now)
            .map(|k| k.jwk.clone())
            .ok_or(JoseError::NoKey(alg))
    }

    /// The published keys: the next, active and retired ones — public members only.
    ///
    /// # Errors
    /// The store failed and nothing was loaded before.
    pub async fn jwks(&self) -> Result<Jwks, JoseError> {
        let now = self.clock.now();
        let snap = self.current(now).await?;
        let mut keys: Vec<&Loaded> = snap
            .keys
            .iter()
            .filter(|k| now < k.record.expires_at)
            .collect();
        keys.sort_by_key(|k| (k.alg, k.record.generation));
        Ok(Jwks {
            keys: keys.into_iter().map(|k| k.jwk.clone()).collect(),
        })
    }

    /// A verifier over the published keys.
    ///
    /// # Errors
    /// As [`Self::jwks`].
    pub async fn verifier(&self) -> Result<JwksVerifier, JoseError> {
        Ok(JwksVerifier::new(self.jwks().await?))
    }

    /// Every key with its state now, by algorithm and generation (what `authgate keys
    /// list` shows).
    ///
    /// # Errors
    /// As [`Self::load`].
    pub async fn summary(&self) -> Result<Vec<KeySummary>, JoseError> {
        self.load().await?;
        Ok(summarize(
            self.store.signing_keys().await?,
            self.clock.now(),
        ))
    }

    /// Rotates, for `alg` or every algorithm of the policy.
    ///
    /// Scheduled (`immediate` false): the successor — the next key already published, or
    /// a new one published now — signs from [`RotationPolicy::publish_ahead`] from now, so
    /// relying parties that cache the key set hold it before it signs; the active key signs
    /// until then. Immediate (for a compromised key): the successor signs from now, and
    /// relying parties with a cached key set refetch it when they meet its unknown `kid`.
    /// Either way the old key stays published for [`RotationPolicy::retain`] after it stops
    /// signing. Servers sharing the store follow within their refresh interval.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub async fn rotate(&self, alg: Option<Algorithm>, immediate: bool) -> Result<(), JoseError> {
        let _one = self.refreshing.lock().await;
        let now = self.clock.now();
        let records = self.store.signing_keys().await?;
        // Nothing is written with a key encryption key that cannot open what is there.
        self.snapshot_of(records.clone(), now)?;
        let retain = secs(self.policy.retain);
        let period = secs(self.policy.signing_period);
        let switch = if immediate {
            now
        } else {
            now.saturating_add(secs(self.policy.publish_ahead))
        };
        for a in self
            .policy
            .algorithms
            .iter()
            .copied()
            .filter(|a| alg.is_none_or(|x| x == *a))
        {
            let of_alg: Vec<&SigningKeyRecord> =
                records.iter().filter(|r| r.alg == a.as_str()).collect();
            for active in of_alg
                .iter()
                .filter(|r| r.not_before <= now && switch < r.not_after)
            {
                self.store
                    .update_signing_key(
                        &active.kid,
                        active.not_before,
                        switch,
                        switch.saturating_add(retain),
                    )
                    .await?;
            }
            let next = of_alg
                .iter()
                .filter(|r| r.not_before > now)
                .min_by_key(|r| r.generation);
            let not_after = switch.saturating_add(period);
            match next {
                Some(n) => {
                    self.store
                        .update_signing_key(
                            &n.kid,
                            switch,
                            not_after,
                            not_after.saturating_add(retain),
                        )
                        .await?;
                }
                None => {
                    let generation = of_alg.iter().map(|r| r.generation).max().unwrap_or(0) + 1;
                    self.create(a, generation, switch, now).await?;
                }
            }
        }
        let snap = self.refresh(now).await?;
        self.set(snap);
        Ok(())
    }

    /// The snapshot to use at `now`, re-read when due.
    async fn current(&self, now: i64) -> Result<Arc<Snapshot>, JoseError> {
        let snap = self.get();
        if now < snap.refresh_at {
            return Ok(snap);
        }
        let _one = self.refreshing.lock().await;
        let snap = self.get();
        if now < snap.refresh_at {
            return Ok(snap); // another task refreshed it meanwhile
        }
        match self.refresh(now).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                self.set_arc(fresh.clone());
                Ok(fresh)
            }
            // The store is unreachable, or holds a key this server cannot open (another
            // server sealed it under a different key encryption key): keep signing with the
            // keys already loaded — they are still published — and try again shortly.
            // (At start, `load` reports such problems instead.)
            Err(_) if !snap.keys.is_empty() => {
                let retry = Arc::new(Snapshot {
                    keys: snap.keys.iter().map(Loaded::share).collect(),
                    refresh_at: now + 5,
                });
                self.set_arc(retry.clone());
                Ok(retry)
            }
            Err(e) => Err(e),
        }
    }

    /// Applies the policy to the store at `now` and loads the result.
    async fn refresh(&self, now: i64) -> Result<Snapshot, JoseError> {
        let mut records = self.store.signing_keys().await?;
        for stale in records.iter().filter(|r| r.expires_at <= now) {
            self.store.remove_signing_key(&stale.kid).await?;
        }
        records.retain(|r| now < r.expires_at);
        // Nothing is written with a key encryption key that cannot open what is there: a
        // misconfigured server must not add keys the others cannot use.
        self.snapshot_of(records.clone(), now)?;
        let ahead = secs(self.policy.publish_ahead);
        for alg in self.policy.algorithms.clone() {
            // A few rounds: a lost race (another server created the same generation)
            // means reading again and deciding again.
            for _ in 0..3 {
                let of_alg: Vec<&SigningKeyRecord> =
                    records.iter().filter(|r| r.alg == alg.as_str()).collect();
                let latest = of_alg.iter().max_by_key(|r| r.generation);
                let active = of_alg
                    .iter()
                    .any(|r| r.not_before <= now && now < r.not_after);
                let wanted = match latest {
                    None => Some((1, now)),
                    Some(_) if !active => latest.map(|l| (l.generation + 1, now)),
                    // The newest key signs now and its end is near: publish its successor.
                    Some(l) if l.not_before <= now && now >= l.not_after.saturating_sub(ahead) => {
                        Some((l.generation + 1, l.not_after))
                    }
                    Some(_) => None,
                };
                let Some((generation, not_before)) = wanted else {
                    break;
                };
                if let Some(r) = self.create(alg, generation, not_before, now).await? {
                    records.push(r);
                } else {
                    records = self.store.signing_keys().await?;
                    records.retain(|r| now < r.expires_at);
                }
            }
        }
        self.snapshot_of(records, now)
    }

    /// Generates, seals and stores a key; `None` when another server stored that
    /// generation first.
    async fn create(
        &self,
        alg: Algorithm,
        generation: i64,
        not_before: i64,
        now: i64,
    ) -> Result<Option<SigningKeyRecord>, JoseError> {
        // RSA key generation takes a good part of a second of CPU: off the async workers.
        let pkcs8 = tokio::task::spawn_blocking(move || backend::generate(alg))
            .await
            .map_err(|e| JoseError::Crypto(e.to_string()))??;
        let signer = Signer::new(alg, &pkcs8)?;
        let kid = signer.jwk().kid.clone();
        let nonce: [u8; 12] = random_bytes(self.rng.as_ref());
        let sealed = backend::seal(&self.kek.0, nonce, &aad(&kid, alg), &pkcs8)?;
        let not_after = not_before.saturating_add(secs(self.policy.signing_period));
        let record = SigningKeyRecord::new(
            kid,
            alg.as_str(),
            generation,
            sealed,
            serde_json::to_string(signer.jwk()).map_err(|e| JoseError::Crypto(e.to_string()))?,
            now,
            not_before,
            not_after,
            not_after.saturating_add(secs(self.policy.retain)),
        );
        Ok(self.store.add_signing_key(&record).await?.then_some(record))
    }

    /// Decrypts and loads records; the next refresh is due at the first scheduled change
    /// or after the refresh interval, whichever comes first.
    fn snapshot_of(&self, records: Vec<SigningKeyRecord>, now: i64) -> Result<Snapshot, JoseError> {
        let ahead = secs(self.policy.publish_ahead);
        let mut refresh_at = now.saturating_add(secs(self.policy.refresh_interval).max(1));
        let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
        for r in &records {
            let n = newest.entry(r.alg.as_str()).or_insert(r.not_after);
            *n = (*n).max(r.not_after);
        }
        for r in &records {
            for t in [r.not_before, r.not_after, r.expires_at] {
                if t > now {
                    refresh_at = refresh_at.min(t);
                }
            }
        }
        for end in newest.values() {
            let publish = end.saturating_sub(ahead);
            if publish > now {
                refresh_at = refresh_at.min(publish);
            }
        }
        let mut keys = Vec::with_capacity(records.len());
        for record in records {
            // A key of an algorithm this version does not know is left alone.
            let Some(alg) = Algorithm::parse(&record.alg) else {
                continue;
            };
            let pkcs8 = backend::open(
                &self.kek.0,
                &aad(&record.kid, alg),
                &record.sealed_private_key,
            )
            .ok_or_else(|| JoseError::Undecryptable {
                kid: record.kid.clone(),
            })?;
            let signer = Signer::new(alg, &pkcs8)?;
            if signer.jwk().kid != record.kid {
                return Err(JoseError::Undecryptable { kid: record.kid });
            }
            keys.push(Loaded {
                jwk: signer.jwk().clone(),
                signer: Arc::new(signer),
                alg,
                record,
            });
        }
        Ok(Snapshot { keys, refresh_at })
    }

    fn get(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, snap: Snapshot) {
        self.set_arc(Arc::new(snap));
    }

    fn set_arc(&self, snap: Arc<Snapshot>) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = snap;
    }
}

impl Loaded {
    fn share(&self) -> Self {
        Self {
            record: self.record.clone(),
            alg: self.alg,
            jwk: self.jwk.clone(),
            signer: self.signer.clone(),
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a sealed key is bound to: its id and algorithm (a row cannot be passed off as
/// another key).
fn aad(kid: &str, alg: Algorithm) -> Vec<u8> {
    format!("authgate-signing-key:v1:{alg}:{kid}").into_bytes()
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}
