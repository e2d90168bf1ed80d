//! The row codecs, written once for both backends: each table's column list, the values a
//! record is written as ([`TokenValues`], [`CodeValues`], [`ClientValues`]) and the row a
//! backend reads back ([`TokenRow`], [`CodeRow`], [`ClientRow`]). A backend only moves
//! these values in and out of its driver's row type, in column order.
// With one backend compiled, the other's share of the codecs goes unused.
#![cfg_attr(not(all(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use authgate::token::{SecretHash, Selector, TokenKey};
use authgate::{
    AuthorizationCodeRecord, ClientAuthMethod, ClientRecord, CodeChallenge, CodeChallengeMethod,
    ConsentRecord, DeviceCodeRecord, DeviceCodeStatus, GrantDetails, Scope, SessionRecord,
    TokenKind, TokenRecord,
};

/// The token columns, in the order of [`TokenValues`] and [`TokenRow`].
pub(crate) const TOKEN_COLUMNS: &str = "selector, verifier_hash, kind, client_id, subject, username, scope, grant_type, issued_at, expires_at, family, revoked, rotated, details, successors";
/// The code columns, in the order of [`CodeValues`] and [`CodeRow`].
pub(crate) const CODE_COLUMNS: &str = "selector, verifier_hash, client_id, redirect_uri, redirect_uri_sent, scope, subject, username, code_challenge, code_challenge_method, nonce, issued_at, expires_at, used, details";
/// The client columns, in the order of [`ClientValues`] and [`ClientRow`].
pub(crate) const CLIENT_COLUMNS: &str = "client_id, secret_hash, client_name, redirect_uris, grant_types, response_types, scope, auth_method, metadata";

/// The signing key columns, in the order of [`SigningKeyRecord`]'s constructor.
pub(crate) const KEY_COLUMNS: &str = "kid, alg, generation, sealed_private_key, public_jwk, created_at, not_before, not_after, expires_at";

/// A row that does not decode: written by something other than this crate.
#[derive(Debug, thiserror::Error)]
#[error("malformed {0} in the database")]
pub(crate) struct Malformed(pub(crate) &'static str);

/// A token as column values.
pub(crate) struct TokenValues<'a> {
    pub(crate) selector: &'a [u8],
    pub(crate) verifier_hash: &'a [u8],
    pub(crate) kind: i16,
    pub(crate) client_id: &'a str,
    pub(crate) subject: Option<&'a str>,
    pub(crate) username: Option<&'a str>,
    pub(crate) scope: String,
    pub(crate) grant_type: &'a str,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) family: &'a [u8],
    pub(crate) revoked: bool,
    pub(crate) rotated: bool,
    pub(crate) details: Option<String>,
    pub(crate) successors: Option<&'a [u8]>,
}

impl<'a> TokenValues<'a> {
    pub(crate) fn of(t: &'a TokenRecord) -> Self {
        Self {
            selector: &t.selector.0,
            verifier_hash: &t.verifier_hash.0,
            kind: kind_to_int(t.kind),
            client_id: &t.client_id,
            subject: t.subject.as_deref(),
            username: t.username.as_deref(),
            scope: t.scope.to_string(),
            grant_type: &t.grant_type,
            issued_at: t.issued_at,
            expires_at: t.expires_at,
            family: &t.family.0,
            revoked: t.revoked,
            rotated: t.rotated,
            details: t.details().to_json(),
            successors: t.sealed_successors.as_deref(),
        }
    }
}

/// A token row as read.
pub(crate) struct TokenRow {
    pub(crate) selector: Vec<u8>,
    pub(crate) verifier_hash: Vec<u8>,
    pub(crate) kind: i64,
    pub(crate) client_id: String,
    pub(crate) subject: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) scope: String,
    pub(crate) grant_type: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) family: Vec<u8>,
    pub(crate) revoked: bool,
    pub(crate) rotated: bool,
    pub(crate) details: Option<String>,
    pub(crate) successors: Option<Vec<u8>>,
}

impl TokenRow {
    pub(crate) fn into_record(self) -> Result<TokenRecord, Malformed> {
        let key = TokenKey {
            selector: selector_from(&self.selector).ok_or(Malformed("selector"))?,
            verifier_hash: hash_from(&self.verifier_hash).ok_or(Malformed("verifier_hash"))?,
        };
        let mut t = TokenRecord::new(
            key,
            kind_from_int(self.kind),
            self.client_id,
            self.grant_type,
            self.issued_at,
            self.expires_at,
        );
        t.subject = self.subject;
        t.username = self.username;
        t.scope = text_to_scope(&self.scope);
        t.family = selector_from(&self.family).ok_or(Malformed("family"))?;
        t.revoked = self.revoked;
        t.rotated = self.rotated;
        t.set_details(GrantDetails::from_json(self.details.as_deref()));
        t.sealed_successors = self.successors;
        Ok(t)
    }
}

/// A code as column values.
pub(crate) struct CodeValues<'a> {
    pub(crate) selector: &'a [u8],
    pub(crate) verifier_hash: &'a [u8],
    pub(crate) client_id: &'a str,
    pub(crate) redirect_uri: &'a str,
    pub(crate) redirect_uri_sent: bool,
    pub(crate) scope: String,
    pub(crate) subject: &'a str,
    pub(crate) username: Option<&'a str>,
    pub(crate) code_challenge: Option<&'a str>,
    pub(crate) code_challenge_method: Option<&'static str>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) used: bool,
    pub(crate) details: Option<String>,
}

impl<'a> CodeValues<'a> {
    pub(crate) fn of(c: &'a AuthorizationCodeRecord) -> Self {
        Self {
            selector: &c.selector.0,
            verifier_hash: &c.verifier_hash.0,
            client_id: &c.client_id,
            redirect_uri: &c.redirect_uri,
            redirect_uri_sent: c.redirect_uri_sent,
            scope: c.scope.to_string(),
            subject: &c.subject,
            username: c.username.as_deref(),
            code_challenge: c.code_challenge.as_ref().map(|ch| ch.challenge.as_str()),
            code_challenge_method: c.code_challenge.as_ref().map(|ch| ch.method.as_str()),
            nonce: c.nonce.as_deref(),
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            used: c.used,
            details: c.details.to_json(),
        }
    }
}

/// A code row as read.
pub(crate) struct CodeRow {
    pub(crate) selector: Vec<u8>,
    pub(crate) verifier_hash: Vec<u8>,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) redirect_uri_sent: bool,
    pub(crate) scope: String,
    pub(crate) subject: String,
    pub(crate) username: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) code_challenge_method: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) used: bool,
    pub(crate) details: Option<String>,
}

impl CodeRow {
    pub(crate) fn into_record(self) -> Result<AuthorizationCodeRecord, Malformed> {
        let key = TokenKey {
            selector: selector_from(&self.selector).ok_or(Malformed("selector"))?,
            verifier_hash: hash_from(&self.verifier_hash).ok_or(Malformed("verifier_hash"))?,
        };
        let mut c = AuthorizationCodeRecord::new(
            key,
            self.client_id,
            self.redirect_uri,
            self.subject,
            self.issued_at,
            self.expires_at,
        );
        c.redirect_uri_sent = self.redirect_uri_sent;
        c.scope = text_to_scope(&self.scope);
        c.username = self.username;
        c.code_challenge =
            challenge_from(self.code_challenge, self.code_challenge_method.as_deref());
        c.nonce = self.nonce;
        c.used = self.used;
        c.details = GrantDetails::from_json(self.details.as_deref());
        Ok(c)
    }
}

/// A client as column values.
pub(crate) struct ClientValues<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) secret_hash: Option<Vec<u8>>,
    pub(crate) client_name: Option<&'a str>,
    pub(crate) redirect_uris: String,
    pub(crate) grant_types: String,
    pub(crate) response_types: String,
    pub(crate) scope: String,
    pub(crate) auth_method: &'static str,
    pub(crate) metadata: Option<String>,
}

impl<'a> ClientValues<'a> {
    pub(crate) fn of(c: &'a ClientRecord) -> Self {
        Self {
            client_id: &c.client_id,
            // One column for every kind of kept secret: 32 bytes of SHA-256 for a generated
            // secret, the argon2id PHC string (which never is 32 bytes) for a chosen one,
            // and for a client_secret_jwt client its sealed secret after a marker (so never
            // 32 bytes either, nor starting like a PHC string).
            secret_hash: match (&c.secret_hash, &c.chosen_secret_hash, &c.sealed_secret) {
                (Some(h), _, _) => Some(h.0.to_vec()),
                (None, Some(phc), _) => Some(phc.as_bytes().to_vec()),
                (None, None, Some(sealed)) => Some([SEALED_MARKER, sealed].concat()),
                (None, None, None) => None,
            },
            client_name: c.client_name.as_deref(),
            redirect_uris: list_to_text(&c.redirect_uris),
            grant_types: list_to_text(&c.grant_types),
            response_types: list_to_text(&c.response_types),
            scope: c.scope.to_string(),
            auth_method: c.auth_method.as_str(),
            metadata: (!c.metadata.is_empty())
                .then(|| serde_json::to_string(&c.metadata).ok())
                .flatten(),
        }
    }
}

/// What precedes a sealed `client_secret_jwt` secret in the secret column.
const SEALED_MARKER: &[u8] = b"sealed-secret:";

/// A client row as read.
pub(crate) struct ClientRow {
    pub(crate) client_id: String,
    pub(crate) secret_hash: Option<Vec<u8>>,
    pub(crate) client_name: Option<String>,
    pub(crate) redirect_uris: String,
    pub(crate) grant_types: String,
    pub(crate) response_types: String,
    pub(crate) scope: String,
    pub(crate) auth_method: String,
    pub(crate) metadata: Option<String>,
}

impl ClientRow {
    pub(crate) fn into_record(self) -> ClientRecord {
        let stored = self.secret_hash.as_deref();
        let chosen = stored
            .filter(|b| b.starts_with(b"$argon2"))
            .and_then(|b| std::str::from_utf8(b).ok());
        let sealed = stored.and_then(|b| b.strip_prefix(SEALED_MARKER));
        let mut c = match (stored.and_then(hash_from), chosen, sealed) {
            (Some(h), _, _) => ClientRecord::with_secret_hash(self.client_id, h),
            (None, Some(phc), _) => {
                ClientRecord::with_chosen_secret_hash(self.client_id, phc.to_owned())
            }
            (None, None, Some(sealed)) => {
                ClientRecord::with_sealed_secret(self.client_id, sealed.to_vec())
            }
            (None, None, None) => ClientRecord::public(self.client_id),
        }
        .auth_method(auth_method_from(&self.auth_method))
        .redirect_uris(text_to_list(&self.redirect_uris))
        .grant_types(text_to_list(&self.grant_types))
        .response_types(text_to_list(&self.response_types));
        c.scope = text_to_scope(&self.scope);
        c.client_name = self.client_name;
        c.metadata = self
            .metadata
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or_default();
        c
    }
}

/// A list of strings as a JSON array (redirect URIs, grant types, response types).
fn list_to_text(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// A JSON array back to strings; anything malformed reads as empty.
fn text_to_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// A stored scope string: written by us from a valid [`Scope`], so tokens that fail the
/// grammar are dropped rather than failing the whole read.
fn text_to_scope(s: &str) -> Scope {
    s.split(' ').collect()
}

fn selector_from(bytes: &[u8]) -> Option<Selector> {
    bytes.try_into().ok().map(Selector)
}

fn hash_from(bytes: &[u8]) -> Option<SecretHash> {
    bytes.try_into().ok().map(SecretHash)
}

fn auth_method_from(s: &str) -> ClientAuthMethod {
    // An unknown stored method fails closed: the client cannot authenticate with a secret
    // it does not have, and no request names "unknown".
    ClientAuthMethod::parse(s).unwrap_or(ClientAuthMethod::ClientSecretBasic)
}

fn challenge_from(challenge: Option<String>, method: Option<&str>) -> Option<CodeChallenge> {
    let challenge = challenge?;
    // A stored challenge whose method cannot be read stays a challenge, checked the strict
    // way: the code must never read back as issued without PKCE.
    let method = method
        .and_then(CodeChallengeMethod::parse)
        .unwrap_or(CodeChallengeMethod::S256);
    Some(CodeChallenge { challenge, method })
}

/// `TokenKind` as a small integer column.
fn kind_to_int(kind: TokenKind) -> i16 {
    match kind {
        TokenKind::Refresh => 1,
        _ => 0,
    }
}

fn kind_from_int(v: i64) -> TokenKind {
    if v == 1 {
        TokenKind::Refresh
    } else {
        TokenKind::Access
    }
}

/// The `authgate_sessions` columns, in the order [`SessionRow`] reads them.
pub(crate) const SESSION_COLUMNS: &str =
    "sid, subject, username, auth_time, expires_at, acr, amr, clients";

/// A session's column values.
pub(crate) struct SessionValues {
    pub(crate) amr: String,
    pub(crate) clients: String,
}

impl SessionValues {
    /// The list columns of a session (JSON arrays: a client id may hold spaces).
    pub(crate) fn of(s: &SessionRecord) -> Self {
        Self {
            amr: serde_json::to_string(&s.amr).unwrap_or_else(|_| "[]".into()),
            clients: serde_json::to_string(&s.clients).unwrap_or_else(|_| "[]".into()),
        }
    }
}

/// A row of `authgate_sessions` as read.
pub(crate) struct SessionRow {
    pub(crate) sid: String,
    pub(crate) subject: String,
    pub(crate) username: Option<String>,
    pub(crate) auth_time: i64,
    pub(crate) expires_at: i64,
    pub(crate) acr: Option<String>,
    pub(crate) amr: String,
    pub(crate) clients: String,
}

impl SessionRow {
    pub(crate) fn into_record(self) -> Result<SessionRecord, Malformed> {
        let mut s = SessionRecord::new(self.sid, self.subject, self.auth_time, self.expires_at);
        s.username = self.username;
        s.acr = self.acr;
        s.amr = serde_json::from_str(&self.amr).map_err(|_| Malformed("amr"))?;
        s.clients = serde_json::from_str(&self.clients).map_err(|_| Malformed("clients"))?;
        Ok(s)
    }
}

/// The JSON array of a session's clients with `client_id` added once.
pub(crate) fn with_client(clients: &str, client_id: &str) -> Result<String, Malformed> {
    let mut list: Vec<String> = serde_json::from_str(clients).map_err(|_| Malformed("clients"))?;
    if !list.iter().any(|c| c == client_id) {
        list.push(client_id.to_owned());
    }
    serde_json::to_string(&list).map_err(|_| Malformed("clients"))
}

/// A consent row: subject, client, scope, time.
pub(crate) fn consent_record(
    subject: String,
    client_id: String,
    scope: &str,
    granted_at: i64,
) -> Result<ConsentRecord, Malformed> {
    let scope = Scope::parse(scope).map_err(|_| Malformed("scope"))?;
    Ok(ConsentRecord::new(subject, client_id, scope, granted_at))
}

/// The `authgate_device_codes` columns, in the order [`DeviceCodeRow`] reads them.
pub(crate) const DEVICE_CODE_COLUMNS: &str = "selector, verifier_hash, user_code_hash, client_id, scope, issued_at, expires_at, poll_interval, last_polled_ms, status, subject, username, details";

/// A device code row as read.
pub(crate) struct DeviceCodeRow {
    pub(crate) selector: Vec<u8>,
    pub(crate) verifier_hash: Vec<u8>,
    pub(crate) user_code_hash: Vec<u8>,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) interval: i64,
    pub(crate) last_polled_ms: Option<i64>,
    pub(crate) status: String,
    pub(crate) subject: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) details: Option<String>,
}

impl DeviceCodeRow {
    pub(crate) fn into_record(self) -> Result<DeviceCodeRecord, Malformed> {
        let key = TokenKey {
            selector: selector_from(&self.selector).ok_or(Malformed("selector"))?,
            verifier_hash: hash_from(&self.verifier_hash).ok_or(Malformed("verifier_hash"))?,
        };
        let user_code_hash = hash_from(&self.user_code_hash).ok_or(Malformed("user_code_hash"))?;
        let mut d = DeviceCodeRecord::new(
            key,
            user_code_hash,
            self.client_id,
            text_to_scope(&self.scope),
            self.issued_at,
            self.expires_at,
            self.interval,
        );
        d.last_polled_ms = self.last_polled_ms;
        d.status = DeviceCodeStatus::parse(&self.status).ok_or(Malformed("device code status"))?;
        d.subject = self.subject;
        d.username = self.username;
        d.details = GrantDetails::from_json(self.details.as_deref());
        Ok(d)
    }
}
