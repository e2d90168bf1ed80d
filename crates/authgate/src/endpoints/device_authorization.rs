//! The device authorization endpoint (RFC 8628 §3.1–§3.3), and the steps of the
//! verification page where the user approves or denies what a device asked for.
//!
//! The device POSTs its `client_id` (and credentials, when confidential) and `scope`; it
//! gets a `device_code` to poll the token endpoint with (see
//! [`crate::DeviceCodeGrant`]) and a `user_code` to show. The user opens the
//! `verification_uri` on another device, signs in, types the code, and the page calls
//! [`DeviceRequest::find`], then [`DeviceRequest::approve`] or [`DeviceRequest::deny`]
//! (or the [`crate::AuthorizationServer`] methods of the same purpose).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use serde_json::json;

use super::{authenticated_client, Endpoint, SetupError};
use crate::client::Client;
use crate::config::ServerConfig;
use crate::error::{ErrorCode, OAuth2Error};
use crate::generator::NewToken;
use crate::grants::device_store;
use crate::metadata::Metadata;
use crate::request::OAuth2Request;
use crate::response::OAuth2Response;
use crate::rng::Rng;
use crate::scope::Scope;
use crate::server_context::ServerContext;
use crate::storage::{DeviceCodeRecord, DeviceCodeStatus, ResourceOwner, TokenKind};
use crate::token::SecretHash;

pub use crate::grants::DEVICE_CODE_GRANT_TYPE;

/// RFC 8628 §6.1: twenty consonants, no vowels (no words spelled by accident) and nothing
/// easily confused.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Eight characters from twenty: 20^8 ≈ 2^34.6 codes.
const USER_CODE_LEN: usize = 8;

/// A user code: eight letters of the RFC 8628 §6.1 consonant alphabet, shown as
/// `XXXX-XXXX` and typed in any case, with or without the dash or spaces.
///
/// ```
/// use authgate::endpoints::device_authorization::UserCode;
/// let code = UserCode::parse("wdjb-mjht").unwrap();
/// assert_eq!(code.to_string(), "WDJB-MJHT");
/// assert_eq!(UserCode::parse("WDJBMJHT"), Some(code));
/// assert!(UserCode::parse("WDJB-MJH").is_none()); // too short
/// assert!(UserCode::parse("AEIO-UAEI").is_none()); // vowels are not in the alphabet
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode([u8; USER_CODE_LEN]);

impl UserCode {
    /// A fresh code, uniformly drawn (rejection sampling keeps every letter equally likely).
    pub fn generate(rng: &dyn Rng) -> Self {
        let mut out = [0u8; USER_CODE_LEN];
        let mut filled = 0;
        while filled < USER_CODE_LEN {
            let mut buf = [0u8; 16];
            rng.fill(&mut buf);
            // 240 = 12 × 20: bytes from 240 up would favour the first letters.
            for b in buf.into_iter().filter(|b| *b < 240) {
                if filled == USER_CODE_LEN {
                    break;
                }
                out[filled] = ALPHABET[usize::from(b % 20)];
                filled += 1;
            }
        }
        Self(out)
    }

    /// Reads what a user typed: letters of the alphabet in any case; dashes and white
    /// space are ignored. `None` for anything else.
    pub fn parse(input: &str) -> Option<Self> {
        let mut out = [0u8; USER_CODE_LEN];
        let mut n = 0;
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = u8::try_from(c.to_ascii_uppercase()).ok()?;
            if !ALPHABET.contains(&c) || n == USER_CODE_LEN {
                return None;
            }
            out[n] = c;
            n += 1;
        }
        (n == USER_CODE_LEN).then_some(Self(out))
    }

    /// What stores keep: SHA-256 of the eight letters.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Display for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = String::from_utf8_lossy(&self.0);
        write!(f, "{}-{}", &s[..4], &s[4..])
    }
}

impl fmt::Debug for UserCode {
    // A live user code lets whoever holds it approve the device's request as themselves:
    // not something to print in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserCode(..)")
    }
}

/// The device authorization endpoint (RFC 8628 §3.1), registered with
/// [`crate::AuthorizationServer::register_endpoint`] and mounted at
/// [`crate::EndpointPaths::device_authorization`]. It needs the stores'
/// [`DeviceCodeStore`](crate::DeviceCodeStore); register [`crate::DeviceCodeGrant`] beside it for the polling.
///
/// ```
/// use authgate::{AuthorizationServer, ClientRecord, DeviceAuthorizationEndpoint, DeviceCodeGrant, MemoryStore, ServerConfig};
/// let store = MemoryStore::new();
/// store.add_client(ClientRecord::public("tv").grant_types([authgate::DEVICE_CODE_GRANT_TYPE]).scope("profile"));
/// let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new("https://auth.example.com"));
/// server.register_grant(DeviceCodeGrant::new());
/// server.register_endpoint(DeviceAuthorizationEndpoint::new("/device").interval(5)).unwrap();
/// assert_eq!(
///     server.metadata().device_authorization_endpoint.as_deref(),
///     Some("https://auth.example.com/device_authorization"),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct DeviceAuthorizationEndpoint {
    verification_uri: String,
    expires_in: u64,
    interval: u64,
}

impl DeviceAuthorizationEndpoint {
    /// The endpoint, sending users to `verification_uri`: the verification page, a path
    /// under the issuer (`/device`) or an absolute URL. Codes live 600 seconds; devices
    /// poll every 5 seconds.
    pub fn new(verification_uri: impl Into<String>) -> Self {
        Self {
            verification_uri: verification_uri.into(),
            expires_in: 600,
            interval: 5,
        }
    }

    /// How long the codes live, in seconds (RFC 8628 §3.2 `expires_in`).
    #[must_use]
    pub fn expires_in(mut self, secs: u64) -> Self {
        self.expires_in = secs.max(1);
        self
    }

    /// The least time between polls, in seconds (RFC 8628 §3.2 `interval`).
    #[must_use]
    pub fn interval(mut self, secs: u64) -> Self {
        self.interval = secs;
        self
    }

    /// The verification page's absolute URL.
    pub fn verification_uri(&self, config: &ServerConfig) -> String {
        if self.verification_uri.starts_with('/') {
            config.endpoint_url(&self.verification_uri)
        } else {
            self.verification_uri.clone()
        }
    }

    async fn authorize(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
    ) -> Result<serde_json::Value, OAuth2Error> {
        let store = device_store(ctx)?;
        let client = authenticated_client(ctx, req).await?;
        if !client.allows_grant_type(DEVICE_CODE_GRANT_TYPE) {
            // RFC 8628 §3.2 refers to RFC 6749 §5.2.
            return Err(OAuth2Error::unauthorized_client(
                "the client may not use the device authorization grant",
            ));
        }
        let scope = ctx.resolve_scope(client.as_ref(), req.form_value("scope")?)?;
        if !crate::resource_indicators::requested_resources(req.form_pairs()).is_empty() {
            // The approval does not carry resources to the token, so the device names them
            // when it polls, where RFC 8707 §2.2 lets every token request name them.
            return Err(OAuth2Error::with_description(
                crate::error::ErrorCode::InvalidTarget,
                "name the resource in the device_code token request, not here",
            ));
        }
        let now_ms = ctx.clock.now_millis();
        let now = now_ms.div_euclid(1000);
        let expires_at = now.saturating_add(i64::try_from(self.expires_in).unwrap_or(600));
        let interval = i64::try_from(self.interval).unwrap_or(5);
        let device_code = ctx.generator.generate(&NewToken::new(
            TokenKind::DeviceCode,
            now_ms,
            expires_at,
            &ctx.config.issuer,
            ctx.rng.as_ref(),
        ));
        // 20^8 codes: a collision with a live one is rare, and a few draws end it.
        for _ in 0..8 {
            let user_code = UserCode::generate(ctx.rng.as_ref());
            let record = DeviceCodeRecord::new(
                device_code.key,
                user_code.hash(),
                client.client_id(),
                scope.clone(),
                now,
                expires_at,
                interval,
            );
            if store.save_device_code(&record).await? {
                let verification_uri = self.verification_uri(&ctx.config);
                let complete = format!(
                    "{verification_uri}{}user_code={user_code}",
                    if verification_uri.contains('?') {
                        '&'
                    } else {
                        '?'
                    }
                );
                return Ok(json!({
                    "device_code": device_code.value,
                    "user_code": user_code.to_string(),
                    "verification_uri": verification_uri,
                    "verification_uri_complete": complete,
                    "expires_in": self.expires_in,
                    "interval": self.interval,
                }));
            }
        }
        Err(OAuth2Error::with_description(
            ErrorCode::TemporarilyUnavailable,
            "no free user code was found; try again",
        ))
    }
}

#[async_trait]
impl Endpoint for DeviceAuthorizationEndpoint {
    fn name(&self) -> &'static str {
        "device_authorization"
    }

    fn path(&self, config: &ServerConfig) -> String {
        config.endpoints.device_authorization.clone()
    }

    fn check(&self, ctx: &ServerContext) -> Result<(), SetupError> {
        if ctx.device_codes.is_none() {
            return Err(SetupError::Missing {
                needed_by: "device authorization endpoint",
                what: "a device code store (Stores::with_device_codes)",
            });
        }
        Ok(())
    }

    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        // The grant type is listed by DeviceCodeGrant, registered beside this endpoint.
        metadata.device_authorization_endpoint =
            Some(ctx.config.endpoint_url(&self.path(&ctx.config)));
    }

    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        match self.authorize(ctx, req).await {
            Ok(body) => {
                crate::trace::served("device_authorization", req);
                OAuth2Response::json(StatusCode::OK, &body)
            }
            Err(e) => ctx.refuse("device_authorization", req, e),
        }
    }
}

/// A pending device authorization, found by the code the user typed: what the
/// verification page shows (the client, the scope) before the user decides.
pub struct DeviceRequest {
    /// The client that asked.
    pub client: Arc<dyn Client>,
    /// The scope it asked for.
    pub scope: Scope,
    /// When the request expires, seconds since the epoch.
    pub expires_at: i64,
    user_code: UserCode,
}

impl fmt::Debug for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceRequest")
            .field("client_id", &self.client.client_id())
            .field("scope", &self.scope)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl DeviceRequest {
    /// The pending, unexpired request holding the code the user typed, or `None` — for a
    /// malformed, unknown, expired, decided or redeemed code alike, so a page says the
    /// same about each.
    ///
    /// # Errors
    /// No device code store, or it failed.
    pub async fn find(ctx: &ServerContext, typed: &str) -> Result<Option<Self>, OAuth2Error> {
        let store = device_store(ctx)?;
        let Some(user_code) = UserCode::parse(typed) else {
            return Ok(None);
        };
        let Some(record) = store.find_user_code(&user_code.hash()).await? else {
            return Ok(None);
        };
        if record.status != DeviceCodeStatus::Pending || ctx.now() >= record.expires_at {
            return Ok(None);
        }
        let Some(client) = ctx.clients.find_client(&record.client_id).await? else {
            return Ok(None);
        };
        Ok(Some(Self {
            client,
            scope: record.scope,
            expires_at: record.expires_at,
            user_code,
        }))
    }

    /// The user code, formatted `XXXX-XXXX` (for the page's hidden field).
    pub fn user_code(&self) -> String {
        self.user_code.to_string()
    }

    /// The user approves: the device's next poll gets tokens for `owner`. The approval
    /// joins the user's remembered consent and the client their session (so that logout
    /// tells it), as at the authorization endpoint. Answers false when the request was
    /// decided meanwhile or expired.
    ///
    /// # Errors
    /// A store failed.
    pub async fn approve(
        &self,
        ctx: &ServerContext,
        owner: &ResourceOwner,
    ) -> Result<bool, OAuth2Error> {
        let store = device_store(ctx)?;
        if !store
            .decide_device_code(&self.user_code.hash(), Some(owner), ctx.now())
            .await?
        {
            return Ok(false);
        }
        super::authorization::remember(ctx, self.client.client_id(), &self.scope, owner).await?;
        Ok(true)
    }

    /// The user refuses: the device's next poll hears `access_denied`. Answers false when
    /// the request was decided meanwhile or expired.
    ///
    /// # Errors
    /// A store failed.
    pub async fn deny(&self, ctx: &ServerContext) -> Result<bool, OAuth2Error> {
        Ok(device_store(ctx)?
            .decide_device_code(&self.user_code.hash(), None, ctx.now())
            .await?)
    }
}
