//! The UserInfo endpoint (OpenID Connect Core §5.3): the claims of the user an access
//! token with `openid` was issued for.

use async_trait::async_trait;
use http::{header, HeaderValue, Method, StatusCode};

use super::{Endpoint, SetupError};
use crate::config::ServerConfig;
use crate::error::{ErrorCode, OAuth2Error};
use crate::metadata::Metadata;
use crate::request::OAuth2Request;
use crate::resource::{ExpectedAudience, ResourceProtector, ScopeRequirement};
use crate::response::OAuth2Response;
use crate::server_context::ServerContext;

/// The UserInfo endpoint, registered with [`crate::AuthorizationServer::register_endpoint`]
/// once OpenID Connect is enabled, mounted at [`crate::EndpointPaths::userinfo`] and
/// advertised as `userinfo_endpoint`.
///
/// GET or POST, the access token in the `Authorization: Bearer` header (or, for POST, the
/// form body, OpenID Connect Core §5.3.1). The token must carry `openid`; the answer holds
/// `sub` — as the ID token's, pairwise for a pairwise client — and the claims of the
/// granted scope and of the `claims` request's `userinfo` member. A client registered with
/// `userinfo_signed_response_alg` gets a signed JWT (`application/jwt`, §5.3.2). Errors are
/// RFC 6750's: 401 `invalid_token`, 403 `insufficient_scope`, with `WWW-Authenticate`.
#[derive(Debug, Clone, Default)]
pub struct UserInfoEndpoint {
    _private: (),
}

impl UserInfoEndpoint {
    /// The endpoint.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Endpoint for UserInfoEndpoint {
    fn name(&self) -> &'static str {
        "userinfo"
    }

    fn path(&self, config: &ServerConfig) -> String {
        config.endpoints.userinfo.clone()
    }

    fn methods(&self) -> &'static [Method] {
        &[Method::GET, Method::POST]
    }

    fn check(&self, ctx: &ServerContext) -> Result<(), SetupError> {
        if crate::oidc::provider(ctx).is_some() {
            Ok(())
        } else {
            Err(SetupError::Missing {
                needed_by: "UserInfo endpoint",
                what: "OpenID Connect (AuthorizationServer::enable_openid)",
            })
        }
    }

    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        let c = &ctx.config;
        metadata.userinfo_endpoint = Some(c.endpoint_url(&c.endpoints.userinfo));
    }

    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        if req.method() != Method::GET && req.method() != Method::POST {
            return OAuth2Response::from(
                OAuth2Error::invalid_request("this endpoint accepts GET and POST only")
                    .with_status(StatusCode::METHOD_NOT_ALLOWED),
            );
        }
        let Some(openid) = crate::oidc::provider(ctx) else {
            return super::not_enabled("userinfo");
        };
        let protector = ResourceProtector::from_context(ctx)
            .allow_form_token(req.method() == Method::POST)
            // The provider's own endpoint: a token carrying `openid` serves here
            // whatever resources it is also for (RFC 8707 leaves the OpenID Connect
            // scopes to the provider).
            .audience(ExpectedAudience::Any);
        let token = match protector
            .validate_request(req, &ScopeRequirement::all_of("openid"))
            .await
        {
            Ok(t) => t,
            Err(e) => return e.into_response(),
        };
        let refuse = |description: &'static str| {
            protector
                .refusal(OAuth2Error::with_description(
                    ErrorCode::InvalidToken,
                    description,
                ))
                .into_response()
        };
        let Some(subject) = &token.subject else {
            return refuse("the access token was not issued for a user");
        };
        let client = match ctx.clients.find_client(&token.client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return refuse("the client of the access token no longer exists"),
            Err(e) => return OAuth2Response::from(OAuth2Error::from(e)),
        };
        let claims = match openid
            .userinfo(client.as_ref(), subject, &token.scope, token.details())
            .await
        {
            Ok(c) => c,
            Err(e) => return OAuth2Response::from(e),
        };
        match openid
            .signed_userinfo(ctx, client.as_ref(), claims.clone())
            .await
        {
            Ok(Some(jwt)) => {
                let mut res = OAuth2Response::json(StatusCode::OK, &serde_json::Value::Null);
                res.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/jwt"),
                );
                res.body = jwt.into();
                res
            }
            Ok(None) => OAuth2Response::json(StatusCode::OK, &serde_json::Value::Object(claims)),
            Err(e) => OAuth2Response::from(e),
        }
    }
}
