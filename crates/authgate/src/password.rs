//! Human passwords: argon2id, computed off the async workers, at most one per core at a
//! time, with the same work spent for unknown usernames.
//!
//! Machine-generated secrets (client secrets, tokens) are 256-bit random values and use a
//! fast hash instead (see [`crate::token::SecretHash`]); argon2 is for what people type.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::StorageError;
use crate::rng::{random_bytes, OsRng, Rng};

/// Hashes a password with argon2id (default parameters) and a 16-byte salt from `rng`, on
/// the calling thread: tens of milliseconds of CPU. Async code uses [`hash`].
///
/// # Errors
/// argon2 refused the input (a password longer than argon2's 4 GiB limit).
pub fn hash_blocking(password: &str, rng: &dyn Rng) -> Result<String, StorageError> {
    let salt_bytes: [u8; 16] = random_bytes(rng);
    let failed = |e: &dyn std::fmt::Display| StorageError::Other(e.to_string().into());
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| failed(&e))?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(params.block_count(), |blocks| {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut out, blocks)
    })
    .map_err(|e| failed(&e))?;
    let output = argon2::password_hash::Output::new(&out).map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// The most memory a stored hash may ask of a check, in KiB (argon2's `m`): 64 MiB, over
/// three times the default. A hash asking more (a corrupt or foreign row) matches nothing
/// rather than making the process allocate whatever it says.
const MAX_MEMORY_KIB: u32 = 64 * 1024;
/// The most passes (`t`) and lanes (`p`) a stored hash may ask.
const MAX_PASSES: u32 = 16;
const MAX_LANES: u32 = 16;

/// Whether `password` matches an argon2id (version 0x13) PHC string, on the calling thread.
/// A hash that does not parse, another argon2 variant or version, or costs beyond the caps
/// above match nothing.
pub fn verify_blocking(hash: &str, password: &str) -> bool {
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) = (
        Algorithm::try_from(h.algorithm),
        Params::try_from(&h),
        h.hash,
        h.salt,
    ) else {
        return false;
    };
    let version = h.version.map_or(Ok(Version::default()), Version::try_from);
    let (Ok(version), Ok(salt)) = (version, salt.decode_b64(&mut [0u8; 64]).map(<[u8]>::to_vec))
    else {
        return false;
    };
    if algorithm != Algorithm::Argon2id
        || version != Version::V0x13
        || params.m_cost() > MAX_MEMORY_KIB
        || params.t_cost() > MAX_PASSES
        || params.p_cost() > MAX_LANES
    {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let computed = with_memory(params.block_count(), |blocks| {
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            blocks,
        )
    });
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

/// Idle argon2 buffers, at most one per gate permit (see [`with_memory`]).
static POOL: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Password checks finished so far: the idle release below compares it before and after
/// its wait.
static CHECKS_DONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long the pooled buffers outlive the last check: a burst of sign-ins reuses them,
/// and a server that checks no password for this long gives their memory back (about
/// 19 MiB per buffer; a server whose config holds a client secret hashes it at start, and
/// would otherwise keep that buffer for its whole life).
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(3);

/// How many times the idle release emptied the pool (for the tests).
#[cfg(test)]
static POOL_EMPTIED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Notes a finished check (async or not: a client secret hashed at start counts) and, on
/// a Tokio runtime, empties the pool after [`POOL_IDLE`] unless another check finished
/// meanwhile. Outside a runtime (a CLI command) the pool lives as long as the process.
fn release_pool_when_idle() {
    use std::sync::atomic::Ordering;
    let seen = CHECKS_DONE.fetch_add(1, Ordering::SeqCst) + 1;
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            tokio::time::sleep(POOL_IDLE).await;
            if CHECKS_DONE.load(Ordering::SeqCst) == seen {
                // Freed outside the lock: a check starting now does not wait on it.
                let idle = std::mem::take(
                    &mut *POOL
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                drop(idle);
                #[cfg(test)]
                POOL_EMPTIED.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
}

/// Runs `f` with argon2's working memory (`blocks` blocks of 1 KiB) taken from a pool
/// rather than freshly allocated: at most one buffer per gate permit is ever in use, so
/// the ~19 MiB buffers are allocated once each and reused while checks keep coming, and
/// the process's memory stays flat however many passwords it checks (a fresh allocation
/// each time left the C allocator holding several hundred MiB after a burst of logins).
/// [`POOL_IDLE`] after the last check, the pool is emptied.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let take = || {
        POOL.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    };
    let mut buf = take().unwrap_or_default();
    if buf.len() != blocks {
        buf = vec![Block::default(); blocks];
    }
    let answer = f(&mut buf);
    {
        let mut pool = POOL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Never more idle buffers than can be in use at once (one per gate permit).
        if pool.len() < parallelism() {
            pool.push(buf);
        }
    }
    release_pool_when_idle();
    answer
}

/// Hashes a password with argon2id on Tokio's blocking pool, behind the gate.
///
/// # Errors
/// The blocking task failed, or argon2 refused the input.
pub async fn hash(password: String) -> Result<String, StorageError> {
    gated(move || hash_blocking(&password, &OsRng)).await?
}

/// Checks a password against an argon2 hash on Tokio's blocking pool, behind the gate.
///
/// # Errors
/// The blocking task failed.
pub async fn verify(hash: String, password: String) -> Result<bool, StorageError> {
    gated(move || verify_blocking(&hash, &password)).await
}

/// Checks a secret a person chose (a client secret from a config file, say) against its
/// argon2id hash, remembering in this process the secret that matched each stored hash: a
/// keyed hash of it under a random per-process key, filed under a keyed digest of `hash`.
/// A presented secret equal to the remembered one for the same stored hash is accepted
/// after two HMAC computations; anything else pays the argon2 check (behind the gate). So
/// the slow hash protects a store dump without slowing every token request, the memory
/// holds nothing that would serve as a password hash elsewhere, and a changed secret (a
/// new stored hash, with a new salt) is checked afresh.
///
/// At most 10,000 hashes are remembered; past that the memory starts again.
///
/// # Errors
/// The blocking task failed, or too many checks are queued (`Unavailable`).
pub async fn verify_remembered(hash: &str, secret: &str) -> Result<bool, StorageError> {
    let entry = remembered_entry(hash, secret);
    let known = lock_remembered()
        .get(&entry.hash_digest)
        .is_some_and(|mac| bool::from(mac.ct_eq(&entry.secret_mac)));
    if known {
        return Ok(true);
    }
    let ok = verify(hash.to_owned(), secret.to_owned()).await?;
    if ok {
        let mut map = lock_remembered();
        if map.len() >= MAX_REMEMBERED && !map.contains_key(&entry.hash_digest) {
            map.clear();
        }
        map.insert(entry.hash_digest, entry.secret_mac);
    }
    Ok(ok)
}

/// How many stored hashes [`verify_remembered`] keeps at most.
const MAX_REMEMBERED: usize = 10_000;

struct Remembered {
    hash_digest: [u8; 32],
    secret_mac: [u8; 32],
}

fn remembered_entry(hash: &str, secret: &str) -> Remembered {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let key = KEY.get_or_init(|| random_bytes(&OsRng));
    let mac = |label: &[u8], value: &str| -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(label);
        m.update(value.as_bytes());
        m.finalize().into_bytes().into()
    };
    Remembered {
        hash_digest: mac(b"hash\0", hash),
        secret_mac: mac(b"secret\0", secret),
    }
}

fn lock_remembered() -> std::sync::MutexGuard<'static, HashMap<[u8; 32], [u8; 32]>> {
    static MAP: OnceLock<Mutex<HashMap<[u8; 32], [u8; 32]>>> = OnceLock::new();
    MAP.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Spends the work of one verification for a username that does not exist, so the time a
/// login takes does not tell which usernames exist. Always answers `Ok(())`.
///
/// # Errors
/// The blocking task failed.
pub async fn verify_unknown_user(password: String) -> Result<(), StorageError> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    let hash = DUMMY
        .get_or_try_init(|| hash(crate::token::generate_client_secret(&OsRng)))
        .await?
        .clone();
    verify(hash, password).await.map(|_| ())
}

/// A login's password check: [`verify`] against the user's stored hash, or, for a user that
/// does not exist (`None`), the same work by [`verify_unknown_user`] and `false`, so the
/// answer's timing does not tell which usernames exist.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use authgate::password;
/// let stored = password::hash("wonderland".into()).await?;
/// assert!(password::verify_login(Some(stored.clone()), "wonderland".into()).await?);
/// assert!(!password::verify_login(Some(stored), "guess".into()).await?);
/// assert!(!password::verify_login(None, "wonderland".into()).await?);
/// # Ok::<(), authgate::StorageError>(()) }).unwrap();
/// ```
///
/// # Errors
/// The blocking task failed.
pub async fn verify_login(stored: Option<String>, password: String) -> Result<bool, StorageError> {
    match stored {
        Some(hash) => verify(hash, password).await,
        None => verify_unknown_user(password).await.map(|()| false),
    }
}

/// What checking a login's password against a stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordCheck {
    /// The password is wrong (or the stored hash is of no format this build reads).
    Mismatch,
    /// The password is right and the hash is argon2id, as [`hash`] makes them.
    Match,
    /// The password is right and the hash was of an older format (Werkzeug's, from an
    /// Authlib application, with the `werkzeug` feature): store this argon2id hash of the
    /// same password in its place.
    MatchRehashed(String),
}

/// Verify-and-rehash for a login: checks `password` against `stored` — an argon2 PHC
/// string, or, with the `werkzeug` feature, a Werkzeug hash (`scrypt:N:r:p$salt$hex` or
/// `pbkdf2:sha256|sha512:iterations$salt$hex`, what Flask and Authlib applications store)
/// — and, when a Werkzeug hash matches, answers the argon2id hash to store instead, so
/// users moved from an Authlib application sign in with their passwords and their hashes
/// move on as they do.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use authgate::password::{self, PasswordCheck};
/// let stored = password::hash("wonderland".into()).await?;
/// assert_eq!(password::check(stored.clone(), "wonderland".into()).await?, PasswordCheck::Match);
/// assert_eq!(password::check(stored, "guess".into()).await?, PasswordCheck::Mismatch);
/// # Ok::<(), authgate::StorageError>(()) }).unwrap();
/// ```
///
/// Limits: an argon2 hash of any variant or cost that matches is `Match` (only Werkzeug
/// hashes are replaced); Werkzeug's older `pbkdf2:sha1` hashes are not read (a mismatch);
/// and while users still have Werkzeug hashes, a check of one takes a different time from
/// [`verify_unknown_user`]'s, so timing can tell those users' names from unknown ones until
/// they have signed in once (or their hashes are reset).
///
/// # Errors
/// The blocking task failed, or argon2 refused to hash the password again.
pub async fn check(stored: String, password: String) -> Result<PasswordCheck, StorageError> {
    #[cfg(feature = "werkzeug")]
    if crate::password::werkzeug::is_werkzeug(&stored) {
        let (hash_of, pw) = (stored, password.clone());
        if !gated(move || werkzeug::verify(&hash_of, &pw)).await? {
            return Ok(PasswordCheck::Mismatch);
        }
        return Ok(PasswordCheck::MatchRehashed(hash(password).await?));
    }
    Ok(if verify(stored, password).await? {
        PasswordCheck::Match
    } else {
        PasswordCheck::Mismatch
    })
}

/// Werkzeug's password hashes (`werkzeug.security`), read to move users off them.
#[cfg(feature = "werkzeug")]
mod werkzeug {
    use subtle::ConstantTimeEq;

    /// Whether `stored` names a Werkzeug method this module reads.
    pub(super) fn is_werkzeug(stored: &str) -> bool {
        stored.starts_with("scrypt:") || stored.starts_with("pbkdf2:")
    }

    /// The most work a stored hash may ask for: Werkzeug's defaults (scrypt N=32768, r=8,
    /// p=1: 32 MiB; PBKDF2: 1,000,000 iterations) with room to spare, and no more, so a
    /// planted row cannot take gigabytes or seconds per check.
    const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;
    const MAX_SCRYPT_P: u32 = 4;
    const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;

    /// Checks `password` against a Werkzeug hash: `method$salt$hex`, where the salt is
    /// used as its UTF-8 text and the hex is the derived key, of the length Werkzeug writes
    /// (scrypt: 64 bytes; PBKDF2: the digest's). Any other hash — unreadable, of another
    /// length, or asking for more work than the bounds above — is a mismatch.
    pub(super) fn verify(stored: &str, password: &str) -> bool {
        let mut parts = stored.splitn(3, '$');
        let (Some(method), Some(salt), Some(hex)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Some(expected) = decode_hex(hex) else {
            return false;
        };
        let params: Vec<&str> = method.split(':').collect();
        let derived = match params.as_slice() {
            ["scrypt", n, r, p] => scrypt_key(password, salt, n, r, p),
            ["pbkdf2", digest, iterations] => pbkdf2_key(password, salt, digest, iterations),
            _ => None,
        };
        derived.is_some_and(|d| d.len() == expected.len() && bool::from(d.ct_eq(&expected)))
    }

    /// scrypt's 64-byte key, within the bounds.
    fn scrypt_key(password: &str, salt: &str, n: &str, r: &str, p: &str) -> Option<Vec<u8>> {
        let (n, r, p) = (
            n.parse::<u64>().ok()?,
            r.parse::<u32>().ok()?,
            p.parse::<u32>().ok()?,
        );
        if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 || p > MAX_SCRYPT_P {
            return None;
        }
        if 128u64.checked_mul(n)?.checked_mul(u64::from(r))? > MAX_SCRYPT_MEMORY {
            return None;
        }
        let log_n = u8::try_from(n.trailing_zeros()).ok()?;
        let params = scrypt::Params::new(log_n, r, p, 64).ok()?;
        let mut key = vec![0u8; 64];
        scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut key).ok()?;
        Some(key)
    }

    /// PBKDF2-HMAC's key of the digest's length, within the bounds.
    fn pbkdf2_key(password: &str, salt: &str, digest: &str, iterations: &str) -> Option<Vec<u8>> {
        let iterations = iterations.parse::<u32>().ok()?;
        if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
            return None;
        }
        let (p, s) = (password.as_bytes(), salt.as_bytes());
        match digest {
            "sha256" => {
                let mut key = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(p, s, iterations, &mut key);
                Some(key)
            }
            "sha512" => {
                let mut key = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(p, s, iterations, &mut key);
                Some(key)
            }
            _ => None,
        }
    }

    /// Lower-case or upper-case hex digits only (no sign, no spaces).
    fn decode_hex(hex: &str) -> Option<Vec<u8>> {
        if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 128 {
            return None;
        }
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::verify;

        // Made by Werkzeug 3.1.8's generate_password_hash.
        const SCRYPT: &str = "scrypt:32768:8:1$YIwCJga60qrE7BVe$e6bc3c7cd30ef4144acdb21fe3d65230245ecf5b2f73b469a524e009e5f42cc0832c53d085762e7f6052c156dc6bf5fc5995ec30979ea5d2fad91db1681186e8";
        const PBKDF2_SHA256: &str = "pbkdf2:sha256:1000$p6lMoTEisuuqKlls$50b922c477b13fc271d96bc392db24ff19610572459ad62a409bbb5b88d03a27";
        const PBKDF2_SHA512: &str = "pbkdf2:sha512:1000$RlxDFHddCBCTWsm1$9e3e05f3b6150bf65a96daff3945a56ac209f8aca4a8201e00313478491a6c065f83b289cf1d2d143c7a20561c51c8198da9572103a65e318fc487dbdd8d9f78";

        #[test]
        fn werkzeug_hashes_verify_their_password_only() {
            assert!(verify(SCRYPT, "correct horse"));
            assert!(!verify(SCRYPT, "correct horsE"));
            assert!(verify(PBKDF2_SHA256, "pässwörd"));
            assert!(!verify(PBKDF2_SHA256, "passwort"));
            assert!(verify(PBKDF2_SHA512, "correct horse"));
            assert!(!verify(PBKDF2_SHA512, ""));
        }

        #[tokio::test]
        async fn a_matching_werkzeug_hash_is_answered_with_its_argon2id_successor() {
            use crate::password::{check, verify, PasswordCheck};
            let PasswordCheck::MatchRehashed(new) =
                check(SCRYPT.into(), "correct horse".into()).await.unwrap()
            else {
                panic!("a Werkzeug match is rehashed");
            };
            assert!(new.starts_with("$argon2id$"), "{new}");
            assert!(verify(new.clone(), "correct horse".into()).await.unwrap());
            assert_eq!(
                check(new, "correct horse".into()).await.unwrap(),
                PasswordCheck::Match
            );
            assert_eq!(
                check(PBKDF2_SHA256.into(), "wrong".into()).await.unwrap(),
                PasswordCheck::Mismatch
            );
        }

        #[test]
        fn unreadable_short_or_too_costly_hashes_never_match() {
            let pbkdf2_key = PBKDF2_SHA256.rsplit('$').next().unwrap();
            for bad in [
                "pbkdf2:md5:1000$salt$00".to_owned(),
                "pbkdf2:sha1:1000$salt$00".to_owned(),
                "pbkdf2:sha256$salt$00".to_owned(),
                "pbkdf2:sha256:0$salt$00".to_owned(),
                // More work than the bounds: iterations, scrypt memory (128·N·r), p.
                format!("pbkdf2:sha256:2000001$p6lMoTEisuuqKlls${pbkdf2_key}"),
                "scrypt:1000:8:1$salt$00".to_owned(),
                "scrypt:1048576:8:1$salt$00".to_owned(),
                "scrypt:32768:32:1$salt$00".to_owned(),
                "scrypt:32768:8:5$salt$00".to_owned(),
                "scrypt:32768:8:1$salt$zz".to_owned(),
                "scrypt:32768:8:1$salt$+f".to_owned(),
                "scrypt:32768:8:1$salt".to_owned(),
                "scrypt:32768:8:1$salt$".to_owned(),
                // A right prefix of the key is not the key (the length is the format's).
                format!("pbkdf2:sha256:1000$p6lMoTEisuuqKlls${}", &pbkdf2_key[..2]),
            ] {
                assert!(!verify(&bad, "pässwörd"), "{bad}");
            }
        }
    }
}

/// At most one argon2 computation per core at a time: each takes ~19 MiB and tens of
/// milliseconds, so a burst of logins queues here instead of exhausting memory.
fn gate() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(parallelism()))
}

/// The gate's size: the number of cores.
fn parallelism() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
}

/// How many checks may wait at the gate, per core, before more are refused as
/// unavailable (a 503 with `Retry-After`): 16 per core is under a second of work, and a
/// flood of wrong secrets or passwords cannot queue up minutes of it.
const QUEUED_PER_CORE: usize = 16;

/// Runs `f` on the blocking pool behind the gate. The permit travels into the blocking
/// task, so the work stays bounded even when the request that asked for it is dropped
/// (a client hanging up) while it runs; a full queue answers `Unavailable` at once.
async fn gated<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StorageError> {
    static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            WAITING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    if WAITING.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= QUEUED_PER_CORE * parallelism()
    {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        return Err(StorageError::Unavailable(
            "too many password checks are waiting; try again shortly".into(),
        ));
    }
    let waiting = Waiting;
    let permit = gate()
        .acquire()
        .await
        .map_err(|e| StorageError::Other(Box::new(e)))?;
    drop(waiting);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(|e| StorageError::Other(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_buffer_pool_is_emptied_once_no_check_came_for_a_while() {
        use std::sync::atomic::Ordering;
        // Other tests of this binary may check passwords meanwhile and postpone the
        // release: a few tries.
        let (mut early, mut emptied) = (0, 0);
        for _ in 0..5 {
            let before = POOL_EMPTIED.load(Ordering::SeqCst);
            hash("pw".to_owned()).await.unwrap();
            tokio::time::sleep(POOL_IDLE / 2).await;
            if POOL_EMPTIED.load(Ordering::SeqCst) != before {
                early += 1;
                continue;
            }
            tokio::time::sleep(POOL_IDLE).await;
            if POOL_EMPTIED.load(Ordering::SeqCst) > before {
                emptied += 1;
            }
        }
        assert!(
            emptied >= 1,
            "the pool was never emptied after its idle time"
        );
        assert!(
            early < 5,
            "the pool was emptied before its idle time every time"
        );
    }

    #[test]
    fn hashes_are_standard_argon2id_phc_strings() {
        // Made with the pooled memory, checked by the argon2 crate's own verifier, and the
        // other way round: the format is the standard one.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_blocking("pooled", &OsRng).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"pooled", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"pooleD", &parsed)
            .is_err());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"theirs", &salt)
            .unwrap()
            .to_string();
        assert!(verify_blocking(&theirs, "theirs"));
        assert!(!verify_blocking(&theirs, "Theirs"));
        // Other parameters (and so another buffer size) verify too.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"small", &salt)
        .unwrap()
        .to_string();
        assert!(verify_blocking(&small, "small"));
        assert!(
            verify_blocking(&ours, "pooled"),
            "after a buffer of another size"
        );
        for broken in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA",
            "plain",
        ] {
            assert!(!verify_blocking(broken, "x"), "{broken}");
        }
        // Other variants, the old version and outsized costs match nothing, even for the
        // right password.
        for (alg, version, params) in [
            (
                Algorithm::Argon2i,
                Version::V0x13,
                Params::new(1024, 1, 1, None),
            ),
            (
                Algorithm::Argon2d,
                Version::V0x13,
                Params::new(1024, 1, 1, None),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x10,
                Params::new(1024, 1, 1, None),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(1024, 17, 1, None),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(1024 * 17, 1, 17, None),
            ),
        ] {
            let h = Argon2::new(alg, version, params.unwrap())
                .hash_password(b"right", &salt)
                .unwrap()
                .to_string();
            assert!(!verify_blocking(&h, "right"), "{h}");
        }
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(
            !verify_blocking(huge, "x"),
            "4 GiB of memory is never allocated"
        );
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(h.clone(), "correct horse".into()).await.unwrap());
        assert!(!verify(h, "correct horsE".into()).await.unwrap());
        assert!(!verify_blocking("not a hash", "x"));
        verify_unknown_user("whatever".into()).await.unwrap();
    }

    #[tokio::test]
    async fn a_remembered_secret_is_the_matching_one_for_that_hash_only() {
        let h = hash("chosen secret".into()).await.unwrap();
        let other = hash("chosen secret".into()).await.unwrap();
        assert!(!verify_remembered(&h, "chosen secreT").await.unwrap());
        assert!(verify_remembered(&h, "chosen secret").await.unwrap());
        // Remembered now, and still only the matching secret passes.
        assert!(verify_remembered(&h, "chosen secret").await.unwrap());
        assert!(!verify_remembered(&h, "chosen secreT").await.unwrap());
        assert!(!verify_remembered(&h, "").await.unwrap());
        // Another stored hash (a changed secret) is checked again.
        assert!(verify_remembered(&other, "chosen secret").await.unwrap());
        let changed = hash("new secret".into()).await.unwrap();
        assert!(!verify_remembered(&changed, "chosen secret").await.unwrap());
    }
}
