//! The JWKS endpoint (RFC 7517 §5; OpenID Connect Discovery `jwks_uri`): the server's
//! public signing keys — the next, the active and the retired ones still published.

use async_trait::async_trait;
use http::{header, HeaderValue, Method, StatusCode};

use super::{Endpoint, SetupError};
use crate::config::ServerConfig;
use crate::error::{ErrorCode, OAuth2Error};
use crate::metadata::Metadata;
use crate::request::OAuth2Request;
use crate::response::OAuth2Response;
use crate::server_context::ServerContext;

/// The JWKS endpoint, registered with [`crate::AuthorizationServer::register_endpoint`]
/// and mounted at [`crate::EndpointPaths::jwks`]; advertised as `jwks_uri`. It needs the
/// server's signing keys ([`crate::AuthorizationServer::with_signing_keys`]) and refuses to
/// register without them.
///
/// The answer is cacheable for an hour (`Cache-Control: public, max-age=3600`): keep
/// [`crate::jose::RotationPolicy::publish_ahead`] above that, so every cached copy holds a
/// key before it signs.
#[derive(Debug, Clone, Default)]
pub struct JwksEndpoint {
    _private: (),
}

impl JwksEndpoint {
    /// The endpoint.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Endpoint for JwksEndpoint {
    fn name(&self) -> &'static str {
        "jwks"
    }

    fn path(&self, config: &ServerConfig) -> String {
        config.endpoints.jwks.clone()
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::GET]
    }

    fn check(&self, ctx: &ServerContext) -> Result<(), SetupError> {
        if ctx.keys.is_some() {
            return Ok(());
        }
        Err(SetupError::Missing {
            needed_by: "JWKS endpoint",
            what: if ctx.key_store.is_none() {
                "a key store (Stores::with_keys)"
            } else {
                "signing keys (AuthorizationServer::with_signing_keys)"
            },
        })
    }

    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        let c = &ctx.config;
        metadata.jwks_uri = Some(c.endpoint_url(&c.endpoints.jwks));
    }

    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return OAuth2Response::from(
                OAuth2Error::invalid_request("this endpoint accepts GET only")
                    .with_status(StatusCode::METHOD_NOT_ALLOWED),
            );
        }
        let Some(keys) = &ctx.keys else {
            return super::not_enabled("jwks");
        };
        let jwks = match keys.jwks().await {
            Ok(j) => j,
            Err(crate::jose::JoseError::Storage(e)) => {
                return OAuth2Response::from(OAuth2Error::from(e))
            }
            Err(_) => {
                return OAuth2Response::from(OAuth2Error::with_description(
                    ErrorCode::ServerError,
                    "the signing keys cannot be read",
                ))
            }
        };
        let body = serde_json::to_value(&jwks).unwrap_or_default();
        let mut res = OAuth2Response::json(StatusCode::OK, &body);
        res.headers.remove(header::PRAGMA);
        res.headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        res.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/jwk-set+json"),
        );
        res
    }
}
