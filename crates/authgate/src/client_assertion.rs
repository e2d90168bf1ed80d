//! JWT client authentication: `private_key_jwt` and `client_secret_jwt` (RFC 7523 §2.2
//! and §3; OpenID Connect Core §9). With `private_key_jwt` the client signs a short-lived
//! JWT with its private key and sends it as `client_assertion`; the server checks it with
//! the client's registered public keys. No shared secret exists to leak, which is why
//! RFC 9700 §2.5 prefers it.
//!
//! With `client_secret_jwt` the client signs the same JWT with HMAC (HS256, HS384 or
//! HS512) keyed by its client secret, so the secret never travels. The server needs the
//! secret itself to check the HMAC: it keeps it sealed with AES-256-GCM under the
//! application's [`KeyEncryptionKey`] (the key that already seals the signing keys, kept
//! outside the store), bound to the client id, instead of hashed. A copy of the store
//! alone opens nothing; a copy of the store and the key encryption key together gives the
//! secrets away, so keep the two apart. Make the sealed form with [`seal_client_secret`],
//! register the client with [`crate::ClientRecord::with_sealed_secret`], and enable the
//! method with [`ClientAssertions::client_secrets`]. Secrets must be at least 32 bytes,
//! and at least as long as the hash output of the algorithm used (RFC 7518 §3.2); they
//! must be generated, never a password a person chose (RFC 8725 §3.5): every assertion is
//! an offline test of a guess.
//!
//! Each client's assertions use one algorithm (RFC 8725 §3.1): the one its metadata names
//! as `token_endpoint_auth_signing_alg` ([`SIGNING_ALG_MEMBER`]), or, for a secret that
//! names none, HS256.
//!
//! Enable it with [`crate::AuthorizationServer::enable_private_key_jwt`] (the stores
//! need a [`ReplayCache`](crate::ReplayCache)); register clients with
//! [`ClientAuthMethod::PrivateKeyJwt`] and their public keys in the client metadata: a JWK
//! Set under `jwks`, or its URL under `jwks_uri` (fetched with the
//! [`DocumentFetcher`] given, cached, and fetched again for an unknown `kid` at most once
//! a minute).
//!
//! What an assertion must be, or the request is refused with `invalid_client` (400 at the
//! token endpoint, as RFC 6749 §5.2 allows when no Authorization header was used):
//! - `client_assertion_type` is `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
//!   and the request uses no other mechanism (no Basic header, no `client_secret`:
//!   `invalid_request`);
//! - for a `private_key_jwt` client, signed with an asymmetric algorithm (RS256, PS256,
//!   ES256, ES384, EdDSA) by a key of the client's whose type fits that algorithm and whose
//!   own `alg`, if any, is that one: never `none`, never HMAC (so a public key can never
//!   serve as an HMAC secret, RFC 8725 §3.1); RSA keys of at least 2048 bits;
//! - for a `client_secret_jwt` client, signed with HS256, HS384 or HS512 keyed by its
//!   secret, which is at least as long as the algorithm's hash output;
//! - `iss` and `sub` both the client's id (and `client_id`, if sent, the same);
//! - `aud` naming this server: its issuer, or the URL of the endpoint that authenticates
//!   clients (token, introspection, revocation, device authorization);
//! - `exp` present, not passed, and at most [`AssertionRules::max_lifetime`] ahead
//!   (`exp - iat` too, when `iat` is sent); `iat` and `nbf`, if sent, not in the future;
//!   each with [`AssertionRules::leeway`] for clock skew;
//! - `jti` present and never seen before from this client while the assertion lives
//!   (checked last, so a refused assertion does not spend its `jti`; atomic in every
//!   store, so of concurrent presentations exactly one passes);
//! - the client registered for the method the assertion's algorithm belongs to: a
//!   `private_key_jwt` client cannot fall back to a secret or to HMAC, a
//!   `client_secret_jwt` client cannot send its secret or an asymmetric signature, and a
//!   client registered for a secret cannot present an assertion.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::client::metadata_document::DocumentFetcher;
use crate::client::{Client, ClientAuthMethod};
use crate::error::{ErrorCode, OAuth2Error};
use crate::identifier::has_control_characters;
use crate::jose::remote::{pick, JwksCache};
use crate::jose::{backend, Algorithm, JoseError, KeyEncryptionKey, PublicJwk};
use crate::request::{authorization_header, OAuth2Request};
use crate::rng::{random_bytes, Rng};
use crate::server_context::ServerContext;
use crate::storage::replay_key;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The algorithms a `private_key_jwt` assertion may be signed with, as metadata lists
/// them.
pub const SIGNING_ALGORITHMS: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/// The algorithms a `client_secret_jwt` assertion may be signed with: the one the client
/// registered as `token_endpoint_auth_signing_alg`, else HS256.
pub const HMAC_ALGORITHMS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// The client metadata member pinning the algorithm of its assertions (OpenID Connect
/// Dynamic Registration §2).
pub const SIGNING_ALG_MEMBER: &str = "token_endpoint_auth_signing_alg";

/// The shortest secret sealed for `client_secret_jwt`, in bytes (RFC 7518 §3.2: an HMAC
/// key at least as long as the hash output, 256 bits for HS256).
pub const MIN_SECRET_LEN: usize = 32;

/// The shortest secret, in bytes, that keys `alg` (RFC 7518 §3.2: at least the hash
/// output); `None` for an algorithm that is not one of [`HMAC_ALGORITHMS`].
pub fn hmac_secret_len(alg: &str) -> Option<usize> {
    match alg {
        "HS256" => Some(32),
        "HS384" => Some(48),
        "HS512" => Some(64),
        _ => None,
    }
}

/// What a sealed client secret is bound to: its purpose and the client id (a sealed
/// secret cannot be moved to another client's row).
fn secret_aad(client_id: &str) -> Vec<u8> {
    [
        b"authgate client_secret_jwt\0".as_slice(),
        client_id.as_bytes(),
    ]
    .concat()
}

/// Seals a `client_secret_jwt` client's secret under `kek`, bound to `client_id`: the value
/// [`crate::ClientRecord::with_sealed_secret`] takes and stores keep (nonce, ciphertext and
/// tag; never the secret in the clear).
///
/// ```
/// use authgate::client_assertion::seal_client_secret;
/// use authgate::jose::KeyEncryptionKey;
/// use authgate::{Client, ClientAuthMethod, ClientRecord, OsRng};
///
/// let kek = KeyEncryptionKey::generate(&OsRng);
/// let secret = "a secret of at least thirty-two bytes, chosen at random";
/// let sealed = seal_client_secret(&kek, "svc", secret, &OsRng).unwrap();
/// let client = ClientRecord::with_sealed_secret("svc", sealed);
/// assert_eq!(client.token_endpoint_auth_method(), ClientAuthMethod::ClientSecretJwt);
/// // No hash: the secret itself never authenticates at the token endpoint.
/// assert!(!client.check_secret(secret));
/// ```
///
/// # Errors
/// [`JoseError::Invalid`] for a secret shorter than [`MIN_SECRET_LEN`] bytes;
/// [`JoseError::Crypto`] if the cipher refused.
pub fn seal_client_secret(
    kek: &KeyEncryptionKey,
    client_id: &str,
    secret: &str,
    rng: &dyn Rng,
) -> Result<Vec<u8>, JoseError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(JoseError::Invalid(
            "a client_secret_jwt secret must be at least 32 bytes (RFC 7518 section 3.2)",
        ));
    }
    backend::seal(
        kek.bytes(),
        random_bytes(rng),
        &secret_aad(client_id),
        secret.as_bytes(),
    )
}

/// Opens what [`seal_client_secret`] made for `client_id`; `None` under another key, for
/// another client, or altered.
fn open_client_secret(kek: &KeyEncryptionKey, client_id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    backend::open(kek.bytes(), &secret_aad(client_id), sealed)
}

/// The largest assertion read.
pub(crate) const MAX_ASSERTION: usize = 16 * 1024;
/// The longest `jti` kept.
const MAX_JTI: usize = 256;
/// Seconds a used `jti` is kept beyond its assertion's expiry and leeway.
const REPLAY_MARGIN: i64 = 60;

/// Bounds on assertions.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionRules {
    /// The longest an assertion may live, in seconds (default 300).
    pub max_lifetime: u64,
    /// Clock skew allowed on `exp`, `iat` and `nbf`, in seconds (default 30).
    pub leeway: u64,
    /// The shortest time between two fetches of one `jwks_uri` for an unknown `kid`, in
    /// seconds (default 60).
    pub refetch_after: u64,
}

impl Default for AssertionRules {
    fn default() -> Self {
        Self {
            max_lifetime: 300,
            leeway: 30,
            refetch_after: 60,
        }
    }
}

/// `private_key_jwt` (and, with [`Self::client_secrets`], `client_secret_jwt`) client
/// authentication; see the module docs.
pub struct ClientAssertions {
    rules: AssertionRules,
    remote: Option<JwksCache>,
    secrets: Option<KeyEncryptionKey>,
}

impl ClientAssertions {
    /// Default rules; clients with `jwks_uri` cannot authenticate until a fetcher is
    /// set.
    pub fn new() -> Self {
        Self {
            rules: AssertionRules::default(),
            remote: None,
            secrets: None,
        }
    }

    /// Accepts `client_secret_jwt` too: the clients' secrets are opened with `kek`
    /// (see [`seal_client_secret`]).
    #[must_use]
    pub fn client_secrets(mut self, kek: KeyEncryptionKey) -> Self {
        self.secrets = Some(kek);
        self
    }

    /// Replaces the rules (set them before [`Self::jwks_fetcher`]).
    #[must_use]
    pub fn rules(mut self, rules: AssertionRules) -> Self {
        self.rules = rules;
        self
    }

    /// Fetches `jwks_uri` documents with `fetcher` (which must refuse private addresses
    /// and non-https URLs outside tests, and bound time and size).
    #[must_use]
    pub fn jwks_fetcher(mut self, fetcher: impl DocumentFetcher) -> Self {
        self.remote = Some(JwksCache::new(Arc::new(fetcher), self.rules.refetch_after));
        self
    }

    /// Authenticates the client of a request carrying `client_assertion`.
    ///
    /// # Errors
    /// `invalid_request` for a request mixing mechanisms or missing a parameter;
    /// `invalid_client` for any assertion that is not acceptable; a storage error when the
    /// client store or the replay cache fails.
    pub async fn authenticate(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
    ) -> Result<Arc<dyn Client>, OAuth2Error> {
        if authorization_header(req.headers())?.is_some()
            || req.form_value("client_secret")?.is_some()
        {
            return Err(OAuth2Error::invalid_request(
                "the client used more than one authentication mechanism",
            ));
        }
        match req.form_value("client_assertion_type")? {
            Some(ASSERTION_TYPE) => {}
            Some(_) => {
                return Err(fail(
                    "unsupported client_assertion_type (RFC 7523 section 2.2)",
                ))
            }
            None => {
                return Err(OAuth2Error::invalid_request(
                    "client_assertion_type is required with client_assertion",
                ))
            }
        }
        let assertion = req
            .form_value("client_assertion")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'client_assertion'"))?;
        if assertion.len() > MAX_ASSERTION {
            return Err(fail("the client assertion is too large"));
        }
        let (kid, alg_name, _typ) =
            backend::header(assertion).map_err(|_| fail("the client assertion is not a JWS"))?;
        // The algorithm decides the method: an asymmetric one is private_key_jwt, HMAC is
        // client_secret_jwt (when this server keeps secrets it can open); nothing else.
        let signed_with = match Algorithm::parse(&alg_name) {
            Some(alg) => SignedWith::Key(alg),
            None if self.secrets.is_some() && hmac_secret_len(&alg_name).is_some() => {
                SignedWith::Secret(&alg_name)
            }
            None => {
                return Err(fail(
                    "the client assertion's alg is not an algorithm this server accepts",
                ))
            }
        };
        // Who it claims to be, read before the signature is checked only to find the keys.
        let claimed = unverified_claims(assertion)
            .ok_or_else(|| fail("the client assertion's claims are not a JSON object"))?;
        let client_id = claimed["sub"]
            .as_str()
            .filter(|s| !s.is_empty() && !has_control_characters(s))
            .ok_or_else(|| fail("the client assertion has no sub"))?;
        if claimed["iss"].as_str() != Some(client_id) {
            return Err(fail(
                "the client assertion's iss and sub must both be the client_id (RFC 7523 section 3)",
            ));
        }
        if req
            .form_value("client_id")?
            .is_some_and(|id| id != client_id)
        {
            return Err(fail("client_id differs from the client assertion's sub"));
        }
        let client = ctx
            .clients
            .find_client(client_id)
            .await?
            .ok_or_else(|| fail("client authentication failed").reason("client_unknown"))?;
        let method = match signed_with {
            SignedWith::Key(_) => ClientAuthMethod::PrivateKeyJwt,
            SignedWith::Secret(_) => ClientAuthMethod::ClientSecretJwt,
        };
        if client.token_endpoint_auth_method() != method {
            return Err(fail(
                "client authentication failed: not the client's registered authentication method",
            )
            .reason("auth_method_mismatch"));
        }
        // One algorithm per key (RFC 8725 §3.1): the client's registered
        // `token_endpoint_auth_signing_alg` (OpenID Connect Dynamic Registration §2) when it
        // names one; a secret that names none keys HS256 only. (Public keys are pinned by
        // their own type and `alg` when picked.)
        let pinned = match (signed_with, client.metadata_str(SIGNING_ALG_MEMBER)) {
            (_, Some(registered)) => Some(registered),
            (SignedWith::Secret(_), None) => Some("HS256"),
            (SignedWith::Key(_), None) => None,
        };
        if pinned.is_some_and(|p| p != alg_name) {
            return Err(fail(
                "the client assertion's alg is not the client's registered token_endpoint_auth_signing_alg",
            ));
        }
        // One reading of the clock for every check and for the replay cache, so the two
        // cannot fall on either side of a second.
        let now = ctx.now();
        let claims = match signed_with {
            SignedWith::Key(alg) => {
                let jwk = self
                    .key_for(client.as_ref(), kid.as_deref(), alg, now)
                    .await?;
                backend::verify(assertion, &jwk, alg)
            }
            SignedWith::Secret(alg) => {
                let secret = self.secret_of(client.as_ref())?;
                // A secret shorter than the hash output (RFC 7518 §3.2) keys nothing; told
                // apart from a wrong signature, it would tell anyone the secret's length.
                if hmac_secret_len(alg).is_none_or(|min| secret.len() < min) {
                    Err(JoseError::Invalid("the secret is too short for this alg"))
                } else {
                    backend::verify_hmac(assertion, &secret, alg)
                }
            }
        }
        .map_err(|_| {
            fail("the client assertion's signature does not verify")
                .reason("assertion_signature_mismatch")
        })?;
        if claims["iss"].as_str() != Some(client_id) || claims["sub"].as_str() != Some(client_id) {
            return Err(fail(
                "the client assertion's iss and sub must both be the client_id (RFC 7523 section 3)",
            ));
        }
        let c = &ctx.config;
        let ours = [
            c.issuer.clone(),
            c.endpoint_url(&c.endpoints.token),
            c.endpoint_url(&c.endpoints.introspection),
            c.endpoint_url(&c.endpoints.revocation),
            c.endpoint_url(&c.endpoints.device_authorization),
        ];
        let (exp, jti) = check_claims(&claims, &ours, &self.rules, now).map_err(fail)?;
        if !spend_jti(
            ctx,
            "client_assertion",
            client_id,
            jti,
            exp,
            &self.rules,
            now,
        )
        .await?
        {
            return Err(
                fail("the client assertion was already used (RFC 7523 section 3: jti)")
                    .reason("assertion_replayed"),
            );
        }
        Ok(client)
    }

    /// Adds the methods and their algorithms to the metadata of an endpoint.
    pub(crate) fn advertise(
        &self,
        methods: &mut Option<Vec<String>>,
        algs: &mut Option<Vec<String>>,
    ) {
        crate::metadata::Metadata::add(methods, ["private_key_jwt"]);
        crate::metadata::Metadata::add(algs, SIGNING_ALGORITHMS);
        if self.accepts_client_secret_jwt() {
            crate::metadata::Metadata::add(methods, ["client_secret_jwt"]);
            crate::metadata::Metadata::add(algs, HMAC_ALGORITHMS);
        }
    }

    /// Whether `client_secret_jwt` is accepted (see [`Self::client_secrets`]).
    pub fn accepts_client_secret_jwt(&self) -> bool {
        self.secrets.is_some()
    }

    /// The secret of a `client_secret_jwt` client, opened.
    fn secret_of(&self, client: &dyn Client) -> Result<Vec<u8>, OAuth2Error> {
        let kek = self
            .secrets
            .as_ref()
            .ok_or_else(|| fail("this server does not accept client_secret_jwt"))?;
        let sealed = client
            .sealed_secret()
            .ok_or_else(|| fail("the client has no secret to check an HMAC with"))?;
        // Kept but not openable: the server's key encryption key is not the one it was
        // sealed with (or the row was altered). Not the client's fault, and not a verdict
        // on its assertion.
        open_client_secret(kek, client.client_id(), sealed).ok_or_else(|| {
            OAuth2Error::with_description(
                ErrorCode::ServerError,
                "the client's secret cannot be opened with this server's key encryption key",
            )
        })
    }

    /// The client's key that may verify an assertion with `kid` and `alg`.
    async fn key_for(
        &self,
        client: &dyn Client,
        kid: Option<&str>,
        alg: Algorithm,
        now: i64,
    ) -> Result<PublicJwk, OAuth2Error> {
        if let Some(jwks) = client.metadata().and_then(|m| m.get("jwks")) {
            return pick(jwks, kid, alg).ok_or_else(no_key);
        }
        let Some(url) = client.metadata_str("jwks_uri") else {
            return Err(fail("the client has no registered keys"));
        };
        let Some(remote) = &self.remote else {
            return Err(fail("the client's jwks_uri cannot be fetched here"));
        };
        remote
            .key(url, kid, alg, now)
            .await
            // The client's keys cannot be had: 503, not a verdict on its assertion.
            .map_err(|u| OAuth2Error::from(crate::error::StorageError::Unavailable(u.0.into())))?
            .ok_or_else(no_key)
    }
}

/// What an assertion's header says it was signed with.
#[derive(Clone, Copy)]
enum SignedWith<'a> {
    /// One of the client's registered public keys (`private_key_jwt`).
    Key(Algorithm),
    /// The client's secret, with this HMAC algorithm (`client_secret_jwt`).
    Secret(&'a str),
}

impl Default for ClientAssertions {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ClientAssertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAssertions")
            .field("rules", &self.rules)
            .field("client_secret_jwt", &self.secrets.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether a request presents a client assertion (so it goes to [`ClientAssertions`]).
pub(crate) fn presents_assertion(req: &OAuth2Request) -> bool {
    req.form_pairs()
        .iter()
        .any(|(k, _)| k == "client_assertion" || k == "client_assertion_type")
}

/// How many keys of a JWK Set an assertion could be verified with (see
/// [`crate::jose::remote::usable_keys`]): a client registering `jwks` needs at least one,
/// and none with private members.
pub fn usable_keys(jwks: &Value) -> usize {
    crate::jose::remote::usable_keys(jwks)
}

/// The claims of a JWS read before its signature is checked: only to find who claims to
/// have signed it (and so which keys check it), never for a decision.
pub(crate) fn unverified_claims(assertion: &str) -> Option<Value> {
    let payload = assertion.split('.').nth(1)?;
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(Value::is_object)
}

/// What RFC 7523 §3 asks of every assertion, a client's or a grant's, once its signature
/// verified (the issuer and subject are the caller's to check): [`check_times`] with the
/// lifetime bounded, and `jti` present. Answers `exp` and `jti`, or why not.
pub(crate) fn check_claims<'c>(
    claims: &'c Value,
    ours: &[String],
    rules: &AssertionRules,
    now: i64,
) -> Result<(i64, &'c str), &'static str> {
    let exp = check_times(claims, ours, rules, now, true)?;
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or("the assertion has no jti (RFC 7523 section 3)")?;
    Ok((exp, jti))
}

/// The audience and times of a verified JWT: `aud` names one of `ours`; `exp` is present
/// and not passed (and, when `bounded`, at most [`AssertionRules::max_lifetime`] ahead,
/// `exp - iat` too); `iat` and `nbf`, if sent, are not in the future; each with the
/// leeway. Answers `exp`, or why not.
pub(crate) fn check_times(
    claims: &Value,
    ours: &[String],
    rules: &AssertionRules,
    now: i64,
    bounded: bool,
) -> Result<i64, &'static str> {
    let names_us = |v: &Value| v.as_str().is_some_and(|a| ours.iter().any(|o| o == a));
    let aud_ok = match &claims["aud"] {
        Value::Array(all) => all.iter().any(names_us),
        one => names_us(one),
    };
    if !aud_ok {
        return Err("the JWT's aud does not name this server (RFC 7523 section 3)");
    }
    let (leeway, max) = (secs(rules.leeway), secs(rules.max_lifetime));
    let exp = claims["exp"]
        .as_i64()
        .ok_or("the JWT has no exp (RFC 7523 section 3)")?;
    if now >= exp.saturating_add(leeway) {
        return Err("the JWT expired");
    }
    let too_long = "the assertion lives longer than this server accepts";
    if bounded && exp.saturating_sub(now) > max.saturating_add(leeway) {
        return Err(too_long);
    }
    for name in ["iat", "nbf"] {
        let t = match &claims[name] {
            Value::Null => continue,
            v => v.as_i64().ok_or("the JWT has a malformed time claim")?,
        };
        if t > now.saturating_add(leeway) {
            return Err("the JWT is not valid yet");
        }
        if bounded && name == "iat" && exp.saturating_sub(t) > max {
            return Err(too_long);
        }
    }
    Ok(exp)
}

/// Spends `jti` of `issuer` for `purpose` in the stores' replay cache, kept past the last
/// moment any server would take the assertion: its `exp`, the leeway, and a margin for
/// clocks of several servers (or their purger) disagreeing. Answers whether it was unused.
pub(crate) async fn spend_jti(
    ctx: &ServerContext,
    purpose: &str,
    issuer: &str,
    jti: &str,
    exp: i64,
    rules: &AssertionRules,
    now: i64,
) -> Result<bool, OAuth2Error> {
    let replay = ctx
        .replay
        .as_ref()
        .ok_or_else(|| OAuth2Error::with_description(ErrorCode::ServerError, "no replay cache"))?;
    let keep_until = exp
        .saturating_add(secs(rules.leeway))
        .saturating_add(REPLAY_MARGIN);
    Ok(replay
        .first_use(&replay_key(purpose, issuer, jti), keep_until, now)
        .await?)
}

/// An assertion refused; the description says which check failed, and the reason is the
/// general one unless the caller names a closer one.
fn fail(description: &'static str) -> OAuth2Error {
    OAuth2Error::invalid_client(description).reason("assertion_invalid")
}

fn no_key() -> OAuth2Error {
    fail("no key of the client verifies this assertion's kid and alg")
}

pub(crate) fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}
