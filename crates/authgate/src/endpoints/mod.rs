//! The endpoints, one module each.
//!
//! | module | endpoint | specification | registered with |
//! | --- | --- | --- | --- |
//! | [`authorization`] | authorization endpoint | RFC 6749 §3.1, §4.1.1, §4.2.1; RFC 9207 | always present; grants register on it |
//! | [`token`] | token endpoint | RFC 6749 §3.2, §5 | always present; grants register on it |
//! | [`revocation`] | revocation endpoint | RFC 7009 | [`crate::AuthorizationServer::register_endpoint`] |
//! | [`introspection`] | introspection endpoint | RFC 7662 | [`crate::AuthorizationServer::register_endpoint`] |
//! | `jwks` | the server's public signing keys | RFC 7517 §5 | [`crate::AuthorizationServer::register_endpoint`] (needs signing keys; feature `jose`) |
//! | `userinfo` | the user's claims | OpenID Connect Core §5.3 | [`crate::AuthorizationServer::register_endpoint`] (needs OpenID Connect; feature `jose`) |
//! | `end_session` | RP-initiated logout; back-channel logout tokens | OpenID Connect RP-Initiated Logout 1.0, Back-Channel Logout 1.0 | the application's page, validated by [`crate::AuthorizationServer::validate_end_session_request`]; advertised by [`crate::oidc::OpenIdProvider::logout`] (feature `jose`) |
//! | [`device_authorization`] | device authorization endpoint; the verification page's steps | RFC 8628 §3.1–§3.3 | [`crate::AuthorizationServer::register_endpoint`] (needs a [`crate::DeviceCodeStore`]); [`crate::DeviceCodeGrant`] polls |
//! | [`registration`] | dynamic client registration and its management | RFC 7591, RFC 7592, OpenID Connect Dynamic Registration §2 | [`crate::AuthorizationServer::register_endpoint`] (needs a [`crate::ClientRegistry`]), both [`registration::ClientRegistrationEndpoint`] and its `configuration()` |
//! | [`metadata`] | the metadata document | RFC 8414 §2, OpenID Connect Discovery §3 | always present; lists what is registered |
//!
//! A new endpoint is a type implementing [`Endpoint`] in a module of its own: it names
//! itself, says where it is mounted and which methods it answers, checks at registration
//! that the server has what it needs, adds its entries to the [`Metadata`] and answers
//! requests. Nothing in `server.rs` changes for it.

pub mod authorization;
pub mod device_authorization;
#[cfg(feature = "jose")]
pub mod end_session;
pub mod introspection;
#[cfg(feature = "jose")]
pub mod jwks;

pub mod metadata;
pub mod registration;
pub mod revocation;
pub mod token;
#[cfg(feature = "jose")]
pub mod userinfo;

use async_trait::async_trait;
use http::{Method, StatusCode};

pub use authorization::AuthorizationEndpoint;
pub use device_authorization::{
    DeviceAuthorizationEndpoint, DeviceRequest, UserCode, DEVICE_CODE_GRANT_TYPE,
};
#[cfg(feature = "jose")]
pub use end_session::{BackchannelLogout, EndSessionRequest, EndedSession};
pub use introspection::{ConfidentialClients, IntrospectionEndpoint, IntrospectionPolicy};
#[cfg(feature = "jose")]
pub use jwks::JwksEndpoint;

pub use registration::{
    ClientConfigurationEndpoint, ClientMetadata, ClientRegistrationEndpoint, RegistrationPolicy,
    RegistrationRules,
};
pub use revocation::RevocationEndpoint;
pub use token::TokenEndpoint;
#[cfg(feature = "jose")]
pub use userinfo::UserInfoEndpoint;

use crate::client::{authenticate_client, Client};
use crate::config::ServerConfig;
use crate::error::OAuth2Error;
use crate::metadata::Metadata;
use crate::request::OAuth2Request;
use crate::response::OAuth2Response;
use crate::server_context::ServerContext;
use crate::storage::TokenRecord;

/// An endpoint registered on the server with
/// [`crate::AuthorizationServer::register_endpoint`] (the Authlib habit of
/// `register_endpoint(...)`).
///
/// ```
/// use authgate::{async_trait, Endpoint, Metadata, OAuth2Request, OAuth2Response, ServerConfig, ServerContext};
/// use http::StatusCode;
///
/// /// Answers the server's issuer: a made-up endpoint, to show the shape.
/// struct WhoAmI;
///
/// #[async_trait]
/// impl Endpoint for WhoAmI {
///     fn name(&self) -> &'static str { "whoami" }
///     fn path(&self, _config: &ServerConfig) -> String { "/whoami".into() }
///     fn methods(&self) -> &'static [http::Method] { &[http::Method::GET] }
///     fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
///         metadata.extra.insert("whoami_endpoint".into(), ctx.config.endpoint_url("/whoami").into());
///     }
///     async fn respond(&self, ctx: &ServerContext, _req: &OAuth2Request) -> OAuth2Response {
///         OAuth2Response::json(StatusCode::OK, &serde_json::json!({ "issuer": ctx.config.issuer }))
///     }
/// }
/// ```
#[async_trait]
pub trait Endpoint: Send + Sync + 'static {
    /// The endpoint's name, unique within a server (`revocation`, `introspection`,
    /// `jwks`...): what [`crate::AuthorizationServer::create_endpoint_response`] takes.
    fn name(&self) -> &'static str;

    /// The path it is mounted at, relative to the issuer.
    fn path(&self, config: &ServerConfig) -> String;

    /// The HTTP methods it answers; a web integration answers others with 405.
    fn methods(&self) -> &'static [Method] {
        &[Method::POST]
    }

    /// Checks, at registration, that the server has what the endpoint needs (a store, a
    /// key set): a missing part is an error at start, not at the first request.
    ///
    /// # Errors
    /// What is missing.
    fn check(&self, _ctx: &ServerContext) -> Result<(), SetupError> {
        Ok(())
    }

    /// Adds the endpoint's entries to the metadata document.
    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata);

    /// Answers a request.
    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response;
}

/// Why the server cannot be assembled as asked.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An endpoint or grant needs a store the server was built without.
    #[error("the {needed_by} needs {what}; add it when building the server's stores")]
    Missing {
        /// Who needs it.
        needed_by: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// Two endpoints with one name.
    #[error("an endpoint named '{0}' is already registered")]
    Duplicate(&'static str),
}

/// RFC 6749 §3.2: the token endpoint takes POST with a form body; RFC 7009 and RFC 7662 say
/// the same of theirs.
pub(crate) fn check_post_form(req: &OAuth2Request) -> Result<(), OAuth2Error> {
    if req.method() != Method::POST {
        return Err(
            OAuth2Error::invalid_request("this endpoint accepts POST only")
                .with_status(StatusCode::METHOD_NOT_ALLOWED),
        );
    }
    if !req.is_form_encoded() {
        return Err(OAuth2Error::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(())
}

/// A POSTed form from an authenticated client.
pub(crate) async fn authenticated_client(
    ctx: &ServerContext,
    req: &OAuth2Request,
) -> Result<std::sync::Arc<dyn Client>, OAuth2Error> {
    check_post_form(req)?;
    client_of(ctx, req).await
}

/// The client a request authenticates as: by a client assertion when it presents one
/// (`private_key_jwt`, when enabled), else by [`authenticate_client`].
pub(crate) async fn client_of(
    ctx: &ServerContext,
    req: &OAuth2Request,
) -> Result<std::sync::Arc<dyn Client>, OAuth2Error> {
    #[cfg(feature = "jose")]
    if crate::client_assertion::presents_assertion(req) {
        return match ctx
            .extensions
            .get::<std::sync::Arc<crate::client_assertion::ClientAssertions>>()
        {
            Some(assertions) => assertions.authenticate(ctx, req).await,
            None => Err(OAuth2Error::invalid_client(
                "this server does not accept client assertions",
            )),
        };
    }
    authenticate_client(ctx.clients.as_ref(), req).await
}

/// Adds `private_key_jwt` and its algorithms to an endpoint's metadata when the server
/// accepts client assertions.
pub(crate) fn advertise_assertions(
    ctx: &ServerContext,
    methods: &mut Option<Vec<String>>,
    algs: &mut Option<Vec<String>>,
) {
    #[cfg(feature = "jose")]
    if let Some(assertions) = ctx
        .extensions
        .get::<std::sync::Arc<crate::client_assertion::ClientAssertions>>()
    {
        assertions.advertise(methods, algs);
    }
    #[cfg(not(feature = "jose"))]
    let _ = (ctx, methods, algs);
}

/// The 404 JSON answer for an endpoint that is not registered.
pub(crate) fn not_enabled(what: &str) -> OAuth2Response {
    OAuth2Response::from(
        OAuth2Error::invalid_request(format!("the {what} endpoint is not enabled"))
            .with_status(StatusCode::NOT_FOUND),
    )
}

/// Finds the token named by the `token` parameter, whatever its kind; `token_type_hint` is
/// read but not trusted (RFC 7009 §2.1: the search extends to every type, and one store
/// keyed by selector already searches every type at once).
async fn find_presented_token(
    ctx: &ServerContext,
    req: &OAuth2Request,
) -> Result<Option<TokenRecord>, OAuth2Error> {
    let token = req
        .form_value("token")?
        .ok_or_else(|| OAuth2Error::invalid_request("missing 'token'"))?;
    // The hint only needs to be well-formed (not repeated): one lookup by selector finds
    // any kind, and an unknown hint value is ignored, as RFC 7009 §2.1 lets the server do.
    req.form_value("token_type_hint")?;
    let Some(key) = crate::generator::access_token_key(ctx.generator.as_ref(), token) else {
        return Ok(None);
    };
    Ok(ctx
        .tokens
        .find_token(&key.selector)
        .await?
        .filter(|t| t.verifier_hash.ct_eq(&key.verifier_hash)))
}
