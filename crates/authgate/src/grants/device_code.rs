//! The device authorization grant at the token endpoint (RFC 8628 §3.4–§3.5).

use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;

use super::{issue_with_hooks, Grant, GrantHooks, TokenGrant};
use crate::client::Client;
use crate::context::IssueContext;
use crate::error::{ErrorCode, OAuth2Error};
use crate::request::OAuth2Request;
use crate::resource_indicators::requested_resources;
use crate::response::TokenResponse;
use crate::server_context::ServerContext;
use crate::storage::{DeviceCodeStatus, DeviceCodeStore, DevicePoll};

/// The device authorization grant's `grant_type` (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The stores' device code store, or a 500 naming what is missing.
pub(crate) fn device_store(ctx: &ServerContext) -> Result<&Arc<dyn DeviceCodeStore>, OAuth2Error> {
    ctx.device_codes.as_ref().ok_or_else(|| {
        OAuth2Error::with_description(ErrorCode::ServerError, "the server keeps no device codes")
    })
}

/// By how much a `slow_down` stretches the interval (RFC 8628 §3.5: "increased by 5
/// seconds for this and all subsequent requests").
const SLOW_DOWN_SECS: i64 = 5;

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`: the device polls with its
/// `device_code` until the user decides on the verification page (see
/// [`crate::DeviceAuthorizationEndpoint`]).
///
/// While the user has not decided the answer is `authorization_pending`, or `slow_down`
/// when the device polls sooner than its interval (which then grows by five seconds);
/// `access_denied` once the user refused; `expired_token` once the code expired. After
/// approval the first poll gets the tokens — issued to the approving user, to the client
/// that asked and to no other — and every later one `invalid_grant`. With OpenID Connect
/// enabled and `openid` granted, the answer carries an ID token.
pub struct DeviceCodeGrant {
    hooks: Arc<dyn GrantHooks>,
}

hooked_grant!(DeviceCodeGrant);

impl Grant for DeviceCodeGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
}

/// An RFC 8628 §3.5 error: answered with 400 like any token endpoint error (RFC 6749
/// §5.2), `access_denied` included.
fn poll_error(code: ErrorCode, description: &'static str) -> OAuth2Error {
    OAuth2Error::with_description(code, description).with_status(StatusCode::BAD_REQUEST)
}

#[async_trait]
impl TokenGrant for DeviceCodeGrant {
    fn grant_type(&self) -> &str {
        DEVICE_CODE_GRANT_TYPE
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        let device_code = req
            .form_value("device_code")?
            .ok_or_else(|| OAuth2Error::invalid_request("missing 'device_code'"))?;
        let store = device_store(ctx)?;
        let invalid = |reason: &'static str| {
            OAuth2Error::invalid_grant("the device code is invalid").reason(reason)
        };
        let key = ctx
            .generator
            .parse(device_code)
            .ok_or_else(|| invalid("code_malformed"))?;
        let record = store
            .find_device_code(&key.selector)
            .await?
            .filter(|r| r.verifier_hash.ct_eq(&key.verifier_hash))
            .ok_or_else(|| invalid("code_unknown"))?;
        // RFC 8628 §3.4 refers to RFC 6749 §5.2: a code issued to another client is an
        // invalid grant for this one.
        if record.client_id != client.client_id() {
            return Err(invalid("code_of_another_client"));
        }
        match record.status {
            DeviceCodeStatus::Redeemed => {
                return Err(
                    OAuth2Error::invalid_grant("the device code was already used")
                        .reason("code_replayed"),
                )
            }
            DeviceCodeStatus::Denied => {
                return Err(poll_error(
                    ErrorCode::AccessDenied,
                    "the user denied the authorization request",
                ))
            }
            _ if ctx.now() >= record.expires_at => {
                return Err(poll_error(
                    ErrorCode::ExpiredToken,
                    "the device code expired; start a new device authorization",
                ))
            }
            DeviceCodeStatus::Pending => {
                let poll = store
                    .poll_device_code(&record.selector, ctx.clock.now_millis(), SLOW_DOWN_SECS)
                    .await?;
                return Err(match poll {
                    DevicePoll::TooFast => poll_error(
                        ErrorCode::SlowDown,
                        "polling too fast: the interval grew by 5 seconds",
                    ),
                    // Decided between the read and the poll: the next poll tells.
                    _ => poll_error(
                        ErrorCode::AuthorizationPending,
                        "the user has not yet approved the request",
                    ),
                });
            }
            _ => {}
        }
        let owner = record
            .owner()
            .ok_or_else(|| invalid("code_without_owner"))?;
        // Resources checked before the code is spent, so a wrong one leaves it usable.
        let requested = requested_resources(req.form_pairs());
        let audience = ctx
            .config
            .resources
            .resolve(&requested, &record.details.audience)?;
        ctx.config.resources.scope_for(&audience, &record.scope)?;
        // Exactly one poll of an approved code gets tokens.
        if !store.redeem_device_code(&record.selector).await? {
            return Err(OAuth2Error::invalid_grant(
                "the device code was already used",
            ));
        }
        #[cfg(feature = "jose")]
        let id_token = match crate::oidc::provider(ctx) {
            Some(openid) if record.scope.contains("openid") => Some(
                openid
                    .id_token(
                        ctx,
                        crate::oidc::IdTokenSpec::new(
                            client.as_ref(),
                            &owner.subject,
                            &record.details,
                            &record.scope,
                        ),
                    )
                    .await?,
            ),
            _ => None,
        };
        let issue = IssueContext::new(
            client.as_ref(),
            DEVICE_CODE_GRANT_TYPE,
            record.scope.clone(),
        )
        .owner(&owner)
        .with_details(record.details.clone())
        .family(record.selector)
        .refresh_token(ctx.issues_refresh_token(client.as_ref()))
        .target(&ctx.config.resources, &requested)?;
        #[allow(unused_mut)] // without `jose` there is no ID token to add
        let mut issued = issue_with_hooks(self.hooks.as_ref(), ctx, issue, &record.scope).await?;
        #[cfg(feature = "jose")]
        {
            issued.id_token = id_token;
        }
        Ok(issued.into_response())
    }
}
