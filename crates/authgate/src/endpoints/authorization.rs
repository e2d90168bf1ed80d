//! The authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.2.1): verifies the client and
//! redirect URI, parses the request into [`AuthorizationParams`], dispatches on
//! `response_type` to the registered [`AuthorizationGrant`], and delivers the answer —
//! with `state` and `iss` (RFC 9207) — as a redirect or a form-post page.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use http::{header, HeaderValue, Method, StatusCode};

use crate::client::Client;
use crate::error::{ErrorCode, OAuth2Error};
use crate::grants::AuthorizationGrant;
use crate::metadata::Metadata;
use crate::params::{AuthorizationParams, AuthorizationRequest, ResponseMode, ResponseType};
use crate::redirect_uri::redirect_uri_matches;
use crate::request::OAuth2Request;
use crate::response::{AuthorizationResponse, FormPostPage, OAuth2Response};
use crate::server_context::ServerContext;
use crate::storage::ResourceOwner;

/// Why an authorization request failed, and how the failure must be delivered.
#[derive(Debug)]
pub enum AuthorizationError {
    /// The client or the redirect URI could not be verified: the error must be shown to the
    /// user, never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
    Invalid(OAuth2Error),
    /// The client and redirect URI are verified: the error goes back to the client in this
    /// response (a redirect, or a form-post page), with `state` and `iss`.
    Redirect {
        /// The error.
        error: OAuth2Error,
        /// The response carrying it.
        response: OAuth2Response,
    },
}

impl AuthorizationError {
    /// The protocol error.
    pub fn error(&self) -> &OAuth2Error {
        match self {
            Self::Invalid(e) | Self::Redirect { error: e, .. } => e,
        }
    }

    /// The response: the redirect, or for [`Self::Invalid`] a 400 JSON error (applications
    /// usually render their own page instead).
    pub fn into_response(self) -> OAuth2Response {
        match self {
            Self::Invalid(e) => {
                let status = if e.status() == StatusCode::SERVICE_UNAVAILABLE {
                    e.status()
                } else {
                    StatusCode::BAD_REQUEST
                };
                OAuth2Response::from(e.with_status(status))
            }
            Self::Redirect { response, .. } => response,
        }
    }
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error().fmt(f)
    }
}

impl std::error::Error for AuthorizationError {}

/// The authorization endpoint: the registry of authorization-endpoint grants, keyed by
/// `response_type` (as a set of values), mounted at
/// [`crate::EndpointPaths::authorization`]. Every server has one; grants join it through
/// [`crate::AuthorizationServer::register_grant`].
#[derive(Default)]
pub struct AuthorizationEndpoint {
    grants: HashMap<ResponseType, Arc<dyn AuthorizationGrant>>,
    form_post: Option<Arc<dyn FormPostPage>>,
}

impl AuthorizationEndpoint {
    /// Adds a grant under its `response_type`, replacing one registered before.
    pub(crate) fn insert(&mut self, grant: Arc<dyn AuthorizationGrant>) {
        self.grants.insert(grant.response_type(), grant);
    }

    /// Offers `response_mode=form_post`, rendered by `page`.
    pub(crate) fn set_form_post(&mut self, page: Arc<dyn FormPostPage>) {
        self.form_post = Some(page);
    }

    /// The registered grants.
    pub fn grants(&self) -> impl Iterator<Item = &Arc<dyn AuthorizationGrant>> {
        self.grants.values()
    }

    /// The registered response types, sorted.
    pub fn response_types(&self) -> Vec<&ResponseType> {
        let mut v: Vec<&ResponseType> = self.grants.keys().collect();
        v.sort_unstable();
        v
    }

    /// Validates an authorization request (RFC 6749 §4.1.1, §4.2.1) for the consent page.
    ///
    /// # Errors
    /// [`AuthorizationError::Invalid`] while the client or redirect URI is unverified,
    /// [`AuthorizationError::Redirect`] after.
    pub async fn validate(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
    ) -> Result<AuthorizationRequest, AuthorizationError> {
        let (client, redirect_uri) = verify_client_and_redirect(ctx, req).await?;
        // From here on errors are redirected. The response mode is known only once the
        // response type is; until then, the query. The first `state` is echoed even when
        // it is repeated; the repeat itself is rejected below, with that error redirected.
        let state = AuthorizationParams::first_state(req);
        let redirect =
            |e: OAuth2Error, mode| self.redirect_error(ctx, &redirect_uri, mode, e, &state);

        let unsupported = || {
            redirect(
                OAuth2Error::with_description(
                    ErrorCode::UnsupportedResponseType,
                    "this server does not support the response_type",
                ),
                ResponseMode::Query,
            )
        };
        let response_type = match req.authorization_value("response_type") {
            Ok(Some(rt)) => ResponseType::parse(rt).ok_or_else(unsupported)?,
            Ok(None) => {
                return Err(redirect(
                    OAuth2Error::invalid_request("missing 'response_type'"),
                    ResponseMode::Query,
                ))
            }
            Err(e) => return Err(redirect(e, ResponseMode::Query)),
        };
        let Some(grant) = self.grants.get(&response_type) else {
            return Err(unsupported());
        };
        let mut mode = grant.default_response_mode();
        let result = async {
            mode = self.response_mode(req.authorization_value("response_mode")?, mode)?;
            let params = AuthorizationParams::from_request(req)?;
            if !client.allows_response_type(&response_type.to_string())
                || !client.allows_grant_type(grant.grant_type())
            {
                return Err(OAuth2Error::unauthorized_client(
                    "the client may not use this response_type",
                ));
            }
            let scope = ctx.resolve_scope(client.as_ref(), params.scope.as_deref())?;
            // RFC 8707 §2: each resource registered, else `invalid_target` (redirected);
            // the scope is cut to what they accept when tokens are issued.
            let resource = ctx.config.resources.resolve(&params.resource, &[])?;
            ctx.config.resources.scope_for(&resource, &scope)?;
            let mut request = AuthorizationRequest::new(
                client.clone(),
                params,
                response_type.clone(),
                redirect_uri.clone(),
                mode,
                scope,
            );
            request.resource = resource;
            #[cfg(feature = "jose")]
            if crate::oidc::provider(ctx).is_some() && request.is_openid() {
                openid_checks(ctx, &mut request).await?;
            }
            grant.validate_request(ctx, &mut request)?;
            Ok(request)
        }
        .await;
        result.map_err(|e| redirect(e, mode))
    }

    /// The authorization response once the resource owner decided: `Some(owner)` grants,
    /// `None` denies (`access_denied`). The request is validated again, so a consent form
    /// can simply post back to the same URL.
    ///
    /// # Errors
    /// As [`Self::validate`]; grant failures after validation are redirected.
    pub async fn authorize(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        owner: Option<&ResourceOwner>,
    ) -> Result<AuthorizationResponse, AuthorizationError> {
        let request = self.validate(ctx, req).await?;
        let mode = request.response_mode;
        let fail = |e: OAuth2Error| {
            self.redirect_error(ctx, &request.redirect_uri, mode, e, &request.state)
        };
        let Some(owner) = owner else {
            return Err(fail(OAuth2Error::with_description(
                ErrorCode::AccessDenied,
                "the resource owner denied the request",
            )));
        };
        let Some(grant) = self.grants.get(&request.response_type) else {
            return Err(fail(OAuth2Error::new(ErrorCode::UnsupportedResponseType)));
        };
        remember(ctx, request.client.client_id(), &request.scope, owner)
            .await
            .map_err(fail)?;
        let mut response = grant.authorize(ctx, &request, owner).await.map_err(fail)?;
        if let Some(s) = &request.state {
            response.push("state", s.clone());
        }
        response.push("iss", ctx.config.issuer.clone());
        Ok(response)
    }

    /// [`Self::authorize`] as a response: a 302 (303 after a POST, RFC 9700 §4.12; 302
    /// when the config says the form carries no credentials) or the form-post page.
    ///
    /// # Errors
    /// As [`Self::authorize`].
    pub async fn respond(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        owner: Option<&ResourceOwner>,
    ) -> Result<OAuth2Response, AuthorizationError> {
        let result = self
            .authorize(ctx, req, owner)
            .await
            .map(|r| self.deliver(&r));
        if req.method() != Method::POST {
            return result;
        }
        // After a form POST, 303 makes the browser GET the redirect URI and never re-send
        // the form (RFC 9700 §4.12 forbids 307); 302 when the application configured it.
        let status = match ctx.config.post_redirect_status {
            StatusCode::FOUND => StatusCode::FOUND,
            _ => StatusCode::SEE_OTHER,
        };
        let see_other = |mut r: OAuth2Response| {
            if r.status == StatusCode::FOUND {
                r.status = status;
            }
            r
        };
        match result {
            Ok(r) => Ok(see_other(r)),
            Err(AuthorizationError::Redirect { error, response }) => {
                Err(AuthorizationError::Redirect {
                    error,
                    response: see_other(response),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// An error for a validated request, delivered the way its response would have been
    /// (redirect or form-post page, with `state` and `iss`; 303 after a POST): what an
    /// application answers when it decides the request fails — `login_required` for
    /// `prompt=none` without a session, say.
    pub fn error_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        request: &AuthorizationRequest,
        error: OAuth2Error,
    ) -> OAuth2Response {
        let e = self.redirect_error(
            ctx,
            &request.redirect_uri,
            request.response_mode,
            error,
            &request.state,
        );
        let mut res = e.into_response();
        if req.method() == Method::POST && res.status == StatusCode::FOUND {
            res.status = match ctx.config.post_redirect_status {
                StatusCode::FOUND => StatusCode::FOUND,
                _ => StatusCode::SEE_OTHER,
            };
        }
        res
    }

    /// The metadata of the authorization endpoint and its grants.
    pub fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        if self.grants.is_empty() {
            return;
        }
        let c = &ctx.config;
        metadata.authorization_endpoint = Some(c.endpoint_url(&c.endpoints.authorization));
        Metadata::add(
            &mut metadata.response_types_supported,
            self.response_types().into_iter().map(ToString::to_string),
        );
        let mut modes = vec!["query", "fragment"];
        if self.form_post.is_some() {
            modes.push("form_post");
        }
        Metadata::add(&mut metadata.response_modes_supported, modes);
        let mut grants: Vec<&Arc<dyn AuthorizationGrant>> = self.grants.values().collect();
        grants.sort_by_key(|g| g.response_type());
        for g in grants {
            g.contribute(ctx, metadata);
        }
    }

    /// The response mode: the request's `response_mode`, or the grant's default. Tokens
    /// never travel in a query (RFC 9700 §4.3.2); form_post only where a page renders it.
    fn response_mode(
        &self,
        requested: Option<&str>,
        default: ResponseMode,
    ) -> Result<ResponseMode, OAuth2Error> {
        match requested.map(ResponseMode::parse) {
            None => Ok(default),
            Some(Some(ResponseMode::Fragment)) => Ok(ResponseMode::Fragment),
            Some(Some(ResponseMode::Query)) if default == ResponseMode::Query => {
                Ok(ResponseMode::Query)
            }
            Some(Some(ResponseMode::Query)) => Err(OAuth2Error::invalid_request(
                "response_mode=query is not allowed for this response_type (RFC 9700 section 4.3.2)",
            )),
            Some(Some(ResponseMode::FormPost)) if self.form_post.is_some() => {
                Ok(ResponseMode::FormPost)
            }
            Some(_) => Err(OAuth2Error::invalid_request("unsupported response_mode")),
        }
    }

    fn deliver(&self, response: &AuthorizationResponse) -> OAuth2Response {
        match (&self.form_post, response.location()) {
            (_, Some(location)) => OAuth2Response::redirect(&location),
            (Some(page), None) => {
                // The page carries codes or tokens: whatever the renderer set, it is not
                // cached, not framed and sends no referrer (RFC 9700 §4.2, §4.16).
                let mut res = page.render(response);
                let h = &mut res.headers;
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                h.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
                if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
                    h.insert(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static("frame-ancestors 'none'"),
                    );
                }
                res
            }
            // form_post is accepted only with a page; nothing else reaches here.
            (None, None) => OAuth2Response::from(OAuth2Error::new(ErrorCode::ServerError)),
        }
    }

    fn redirect_error(
        &self,
        ctx: &ServerContext,
        redirect_uri: &str,
        mode: ResponseMode,
        error: OAuth2Error,
        state: &Option<String>,
    ) -> AuthorizationError {
        let error = error.state(state.clone());
        let mut response = AuthorizationResponse::new(redirect_uri, mode);
        for (k, v) in error.params() {
            response.push(k, v);
        }
        response.push("iss", ctx.config.issuer.clone());
        AuthorizationError::Redirect {
            response: self.deliver(&response),
            error,
        }
    }
}

impl fmt::Debug for AuthorizationEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationEndpoint")
            .field("response_types", &self.response_types())
            .field("form_post", &self.form_post.is_some())
            .finish()
    }
}

/// What an OpenID Connect authentication request must also be (OpenID Connect Core
/// §3.1.2.1, §3.1.2.6): no request objects (not supported yet), `prompt=none` alone, and a
/// valid `id_token_hint` when one is sent.
#[cfg(feature = "jose")]
async fn openid_checks(
    ctx: &ServerContext,
    request: &mut AuthorizationRequest,
) -> Result<(), OAuth2Error> {
    let p = &request.params;
    if p.request.is_some() {
        return Err(OAuth2Error::with_description(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.request_uri.is_some() {
        return Err(OAuth2Error::with_description(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if p.registration.is_some() {
        return Err(OAuth2Error::with_description(
            ErrorCode::RegistrationNotSupported,
            "the registration parameter is not supported",
        ));
    }
    if p.prompt.iter().any(|v| v == "none") && p.prompt.len() > 1 {
        return Err(OAuth2Error::invalid_request(
            "prompt=none cannot be combined with other values (OpenID Connect Core section 3.1.2.1)",
        ));
    }
    if let Some(hint) = p.id_token_hint.clone() {
        request.id_token_hint_subject =
            Some(verify_id_token_hint(ctx, &hint, request.client.client_id()).await?);
    }
    Ok(())
}

/// An ID token this server issued to `client_id` (expired ones included, as OpenID
/// Connect Core §3.1.2.1 allows); answers its `sub`.
#[cfg(feature = "jose")]
pub(crate) async fn verify_id_token_hint(
    ctx: &ServerContext,
    hint: &str,
    client_id: &str,
) -> Result<String, OAuth2Error> {
    let claims = crate::oidc::verify_own_id_token(ctx, hint).await?;
    if !crate::oidc::audience_has(&claims, client_id) {
        return Err(crate::oidc::not_our_id_token());
    }
    claims["sub"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(crate::oidc::not_our_id_token)
}

/// The client named by `client_id` and the redirect URI to answer at: the request's, when
/// it is registered for the client, or the client's only one.
async fn verify_client_and_redirect(
    ctx: &ServerContext,
    req: &OAuth2Request,
) -> Result<(Arc<dyn Client>, String), AuthorizationError> {
    let invalid = AuthorizationError::Invalid;
    let client_id = req
        .authorization_value("client_id")
        .map_err(invalid)?
        .ok_or_else(|| invalid(OAuth2Error::invalid_request("missing 'client_id'")))?;
    let unknown =
        || invalid(OAuth2Error::invalid_request("unknown client_id").reason("client_unknown"));
    if crate::identifier::has_control_characters(client_id) {
        return Err(unknown());
    }
    let client = ctx
        .clients
        .find_client(client_id)
        .await
        .map_err(|e| invalid(e.into()))?
        .ok_or_else(unknown)?;
    let requested = req
        .authorization_value("redirect_uri")
        .map_err(invalid)?
        .map(str::to_owned);
    match requested {
        Some(uri) => {
            if client
                .redirect_uris()
                .iter()
                .any(|r| redirect_uri_matches(r, &uri))
            {
                Ok((client, uri))
            } else {
                Err(invalid(
                    OAuth2Error::invalid_request("redirect_uri is not registered for this client")
                        .reason("redirect_uri_unregistered"),
                ))
            }
        }
        None => match client.default_redirect_uri() {
            Some(uri) => {
                let uri = uri.to_owned();
                Ok((client, uri))
            }
            None => Err(invalid(OAuth2Error::invalid_request(
                "redirect_uri is required: the client has no single registered one",
            ))),
        },
    }
}

/// Before issuing: the approval joins the user's remembered consent for the client (when
/// the stores keep consents and it adds scope), and the client joins the user's session
/// (when the stores keep sessions and the owner names one), so logout knows to tell it.
/// Done first so that a failure leaves nothing issued.
/// The device flow's approval does the same.
pub(crate) async fn remember(
    ctx: &ServerContext,
    client_id: &str,
    approved: &crate::scope::Scope,
    owner: &ResourceOwner,
) -> Result<(), OAuth2Error> {
    if let Some(consents) = &ctx.consents {
        let before = consents.find_consent(&owner.subject, client_id).await?;
        if !before.as_ref().is_some_and(|c| c.covers(approved)) {
            let scope = match before {
                Some(c) => c.scope.union(approved),
                None => approved.clone(),
            };
            consents
                .save_consent(&crate::storage::ConsentRecord::new(
                    owner.subject.clone(),
                    client_id,
                    scope,
                    ctx.now(),
                ))
                .await?;
        }
    }
    if let (Some(sessions), Some(sid)) = (&ctx.sessions, &owner.session_id) {
        sessions.add_session_client(sid, client_id).await?;
    }
    Ok(())
}
