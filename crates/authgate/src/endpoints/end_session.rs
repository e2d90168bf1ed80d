//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the logout tokens of
//! back-channel logout (OpenID Connect Back-Channel Logout 1.0).
//!
//! The end-session endpoint is a page of the application, like the authorization
//! endpoint: the engine validates the request ([`EndSessionRequest::validate`], through
//! [`crate::AuthorizationServer::validate_end_session_request`]) and says whether it is
//! tied to the browser's session; the application asks the user to confirm when it is not,
//! ends its session ([`crate::AuthorizationServer::end_session`], which answers the
//! back-channel logout tokens to deliver) and redirects to the validated
//! `post_logout_redirect_uri`, if any ([`EndSessionRequest::redirect_uri`]).

use std::sync::Arc;

use serde_json::Value;
use url::Url;

use crate::client::Client;
use crate::error::OAuth2Error;
use crate::request::OAuth2Request;
use crate::server_context::ServerContext;
use crate::storage::SessionRecord;

/// A validated logout request (RP-Initiated Logout §2).
#[non_exhaustive]
#[derive(Clone)]
pub struct EndSessionRequest {
    /// The client asking: named by `client_id`, or the audience of `id_token_hint`.
    pub client: Option<Arc<dyn Client>>,
    /// `sub` of the `id_token_hint` (as the client knows the user: pairwise or public).
    pub hint_subject: Option<String>,
    /// `sid` of the `id_token_hint`: the session the client believes it is in.
    pub hint_session: Option<String>,
    /// `post_logout_redirect_uri`, verified: exactly one of the client's registered
    /// `post_logout_redirect_uris`.
    pub post_logout_redirect_uri: Option<String>,
    /// `state`, returned with the redirect.
    pub state: Option<String>,
    /// `logout_hint`: who the client believes is logging out (informational).
    pub logout_hint: Option<String>,
    /// `ui_locales`, for the confirmation page.
    pub ui_locales: Option<String>,
}

impl std::fmt::Debug for EndSessionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndSessionRequest")
            .field("client_id", &self.client.as_ref().map(|c| c.client_id()))
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .finish_non_exhaustive()
    }
}

/// One parameter, from the query (GET) or the form (POST): RP-Initiated Logout §2 has the
/// OP take both.
fn param<'a>(req: &'a OAuth2Request, name: &str) -> Result<Option<&'a str>, OAuth2Error> {
    Ok(req.authorization_value(name)?.filter(|v| !v.is_empty()))
}

impl EndSessionRequest {
    /// Validates a logout request: `id_token_hint` must be an ID token this server issued
    /// (expired ones are welcome: that is the usual case); `client_id`, when sent with it,
    /// must be its audience; `post_logout_redirect_uri` needs a known client and must equal
    /// one of its registered `post_logout_redirect_uris` exactly (RP-Initiated Logout §3.1:
    /// an unregistered URI is never redirected to).
    ///
    /// # Errors
    /// `invalid_request` for any of the above (to show on a page, never redirected); 503
    /// when a store is unavailable.
    pub async fn validate(ctx: &ServerContext, req: &OAuth2Request) -> Result<Self, OAuth2Error> {
        let hint = param(req, "id_token_hint")?;
        let client_id = param(req, "client_id")?;
        let redirect = param(req, "post_logout_redirect_uri")?;
        let mut out = Self {
            client: None,
            hint_subject: None,
            hint_session: None,
            post_logout_redirect_uri: None,
            state: param(req, "state")?.map(str::to_owned),
            logout_hint: param(req, "logout_hint")?.map(str::to_owned),
            ui_locales: param(req, "ui_locales")?.map(str::to_owned),
        };
        let mut audience: Option<String> = None;
        if let Some(hint) = hint {
            let claims = hinted_claims(ctx, hint).await?;
            out.hint_subject = claims["sub"].as_str().map(str::to_owned);
            out.hint_session = claims["sid"].as_str().map(str::to_owned);
            audience = match (&claims["aud"], claims["azp"].as_str()) {
                (_, Some(azp)) => Some(azp.to_owned()),
                (Value::String(a), None) => Some(a.clone()),
                (Value::Array(a), None) if a.len() == 1 => a[0].as_str().map(str::to_owned),
                _ => None,
            };
            if let Some(id) = client_id {
                if !crate::oidc::audience_has(&claims, id) {
                    return Err(OAuth2Error::invalid_request(
                        "client_id is not the audience of id_token_hint",
                    ));
                }
                audience = Some(id.to_owned());
            }
        }
        if let Some(id) = audience.as_deref().or(client_id) {
            if crate::identifier::has_control_characters(id) {
                return Err(OAuth2Error::invalid_request("unknown client_id"));
            }
            out.client = ctx.clients.find_client(id).await?;
            if out.client.is_none() {
                return Err(OAuth2Error::invalid_request("unknown client_id"));
            }
        }
        if let Some(uri) = redirect {
            let Some(client) = &out.client else {
                return Err(OAuth2Error::invalid_request(
                    "post_logout_redirect_uri needs client_id or id_token_hint to say whose it is",
                ));
            };
            if !client.post_logout_redirect_uris().contains(&uri) {
                return Err(OAuth2Error::invalid_request(
                    "post_logout_redirect_uri is not registered for the client",
                ));
            }
            out.post_logout_redirect_uri = Some(uri.to_owned());
        }
        Ok(out)
    }

    /// Whether the request is tied to `session` — its `id_token_hint` names the session
    /// (`sid`) or, without `sid`, the session's user (as the client knows the user). A
    /// request that is not tied to the browser's session should be confirmed by the user
    /// before the session ends (RP-Initiated Logout §2, §6: logout requests can be forged).
    pub fn is_tied_to(&self, ctx: &ServerContext, session: &SessionRecord) -> bool {
        if let Some(sid) = &self.hint_session {
            return *sid == session.sid;
        }
        let (Some(hinted), Some(client)) = (&self.hint_subject, &self.client) else {
            return false;
        };
        let seen = match crate::oidc::provider(ctx) {
            Some(o) => o.subject_for(client.as_ref(), &session.subject).ok(),
            None => Some(session.subject.clone()),
        };
        seen.as_deref() == Some(hinted.as_str())
    }

    /// Where to send the browser after logout: the verified `post_logout_redirect_uri`
    /// with `state` added to its query, or `None` (then the application shows its own
    /// "signed out" page).
    pub fn redirect_uri(&self) -> Option<String> {
        let uri = self.post_logout_redirect_uri.as_deref()?;
        let Some(state) = &self.state else {
            return Some(uri.to_owned());
        };
        let Ok(mut url) = Url::parse(uri) else {
            return Some(uri.to_owned());
        };
        url.query_pairs_mut().append_pair("state", state);
        Some(url.into())
    }
}

async fn hinted_claims(ctx: &ServerContext, hint: &str) -> Result<Value, OAuth2Error> {
    crate::oidc::verify_own_id_token(ctx, hint)
        .await
        .map_err(|e| match e.code() {
            crate::error::ErrorCode::InvalidRequest => {
                OAuth2Error::invalid_request("id_token_hint is not an ID token this server issued")
            }
            _ => e,
        })
}

/// A logout token to POST to a client's `backchannel_logout_uri` (Back-Channel Logout
/// §2.5): `application/x-www-form-urlencoded` with one parameter, `logout_token`.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct BackchannelLogout {
    /// The client told.
    pub client_id: String,
    /// Where to POST.
    pub uri: String,
    /// The signed logout token.
    pub logout_token: String,
}

impl BackchannelLogout {
    /// A notice for `client_id` at `uri`.
    pub fn new(
        client_id: impl Into<String>,
        uri: impl Into<String>,
        logout_token: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            uri: uri.into(),
            logout_token: logout_token.into(),
        }
    }
}

impl std::fmt::Debug for BackchannelLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelLogout")
            .field("client_id", &self.client_id)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// A session that ended, and what to tell its clients.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct EndedSession {
    /// The session as it was.
    pub session: SessionRecord,
    /// A logout token for each client of the session that registered a
    /// `backchannel_logout_uri`: deliver them (POST, a short timeout, a few retries) without
    /// holding up the user's logout.
    pub backchannel: Vec<BackchannelLogout>,
    /// The clients whose logout token could not be made (client gone from the store, no key
    /// for its algorithm), with why: one client must not keep the others from hearing of
    /// the logout, so these are reported rather than failing the whole logout.
    pub failed: Vec<(String, OAuth2Error)>,
}

impl EndedSession {
    /// The logout tokens for every client of `session` that registered a
    /// `backchannel_logout_uri` (Back-Channel Logout §2.4).
    pub(crate) async fn announce(ctx: &ServerContext, session: SessionRecord) -> Self {
        let mut out = Self {
            session,
            backchannel: Vec::new(),
            failed: Vec::new(),
        };
        let Some(openid) = crate::oidc::provider(ctx) else {
            return out;
        };
        for client_id in &out.session.clients {
            let client = match ctx.clients.find_client(client_id).await {
                Ok(Some(c)) => c,
                Ok(None) => continue, // removed: nobody to tell
                Err(e) => {
                    out.failed.push((client_id.clone(), e.into()));
                    continue;
                }
            };
            let Some(uri) = client.backchannel_logout_uri() else {
                continue;
            };
            match openid
                .logout_token(
                    ctx,
                    client.as_ref(),
                    &out.session.subject,
                    Some(&out.session.sid),
                )
                .await
            {
                Ok(logout_token) => out.backchannel.push(BackchannelLogout {
                    client_id: client_id.clone(),
                    uri: uri.to_owned(),
                    logout_token,
                }),
                Err(e) => out.failed.push((client_id.clone(), e)),
            }
        }
        out
    }
}
