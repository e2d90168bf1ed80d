//! Token introspection (RFC 7662).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use serde_json::{json, Value};

use super::{authenticated_client, find_presented_token, Endpoint};
use crate::client::presented_client_id;
use crate::client::Client;
use crate::config::ServerConfig;
use crate::error::{ErrorCode, OAuth2Error};
use crate::metadata::Metadata;
use crate::request::OAuth2Request;
use crate::response::OAuth2Response;
use crate::server_context::ServerContext;
use crate::storage::TokenKind;

/// Decides which authenticated clients may introspect tokens (RFC 7662 §4 asks that the
/// endpoint be limited to authorized callers).
pub trait IntrospectionPolicy: Send + Sync + 'static {
    /// Whether `caller` may use the endpoint.
    fn may_introspect(&self, caller: &dyn Client) -> bool;
}

impl<F> IntrospectionPolicy for F
where
    F: Fn(&dyn Client) -> bool + Send + Sync + 'static,
{
    fn may_introspect(&self, caller: &dyn Client) -> bool {
        self(caller)
    }
}

/// The default policy: any authenticated confidential client, so resource servers
/// registered as clients can introspect.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfidentialClients;

impl IntrospectionPolicy for ConfidentialClients {
    fn may_introspect(&self, caller: &dyn Client) -> bool {
        !caller.is_public()
    }
}

/// The introspection endpoint, registered with
/// [`crate::AuthorizationServer::register_endpoint`] (or
/// [`crate::AuthorizationServer::register_introspection_endpoint`]), mounted at
/// [`crate::EndpointPaths::introspection`].
///
/// An active token answers `active: true` with `scope`, `client_id`, `username`, `sub`,
/// `aud` (its resources, RFC 8707, or the server's default audience), `token_type`, `exp`,
/// `iat` and `iss`; an unknown, expired or revoked one answers only
/// `{"active": false}` (RFC 7662 §2.2).
#[derive(Clone)]
pub struct IntrospectionEndpoint {
    policy: Arc<dyn IntrospectionPolicy>,
}

impl IntrospectionEndpoint {
    /// The endpoint with the default policy ([`ConfidentialClients`]).
    pub fn new() -> Self {
        Self {
            policy: Arc::new(ConfidentialClients),
        }
    }

    /// Replaces the policy.
    #[must_use]
    pub fn policy(mut self, policy: impl IntrospectionPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    async fn introspect(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        caller: &dyn Client,
    ) -> Result<Value, OAuth2Error> {
        if !self.policy.may_introspect(caller) {
            return Err(OAuth2Error::unauthorized_client(
                "this client may not use the introspection endpoint",
            ));
        }
        let token = find_presented_token(ctx, req).await?;
        let Some(t) = token.filter(|t| t.is_active(ctx.now())) else {
            return Ok(json!({ "active": false }));
        };
        let mut body = json!({
            "active": true,
            "client_id": t.client_id,
            "token_type": match t.kind {
                TokenKind::Access => "Bearer",
                TokenKind::Refresh | TokenKind::AuthorizationCode | TokenKind::DeviceCode => "refresh_token",
            },
            "exp": t.expires_at,
            "iat": t.issued_at,
            "iss": ctx.config.issuer,
        });
        if let Some(obj) = body.as_object_mut() {
            if !t.scope.is_empty() {
                obj.insert("scope".into(), t.scope.to_string().into());
            }
            if let Some(sub) = &t.subject {
                obj.insert("sub".into(), sub.as_str().into());
            }
            if let Some(u) = &t.username {
                obj.insert("username".into(), u.as_str().into());
            }
            // RFC 8693 §4.1: who acts for the subject, when the token came from a
            // delegation.
            if let Some(act) = t.details().claims.get("act") {
                obj.insert("act".into(), act.clone());
            }
            // RFC 7662 §2.2 `aud`: the resources the token is for (RFC 8707), or the
            // server's default audience.
            let aud = &t.details().audience;
            obj.insert(
                "aud".into(),
                match aud.as_slice() {
                    [] => ctx.config.default_audience().into(),
                    [one] => one.as_str().into(),
                    many => many.into(),
                },
            );
        }
        Ok(body)
    }
}

#[async_trait]
impl Endpoint for IntrospectionEndpoint {
    fn name(&self) -> &'static str {
        "introspection"
    }

    fn path(&self, config: &ServerConfig) -> String {
        config.endpoints.introspection.clone()
    }

    fn contribute(&self, ctx: &ServerContext, metadata: &mut Metadata) {
        let c = &ctx.config;
        metadata.introspection_endpoint = Some(c.endpoint_url(&c.endpoints.introspection));
        // Public clients cannot introspect (the default policy), so `none` is not offered.
        Metadata::add(
            &mut metadata.introspection_endpoint_auth_methods_supported,
            ["client_secret_basic", "client_secret_post"],
        );
        super::advertise_assertions(
            ctx,
            &mut metadata.introspection_endpoint_auth_methods_supported,
            &mut metadata.introspection_endpoint_auth_signing_alg_values_supported,
        );
    }

    async fn respond(&self, ctx: &ServerContext, req: &OAuth2Request) -> OAuth2Response {
        let result = match authenticated_client(ctx, req).await {
            Ok(client) => self.introspect(ctx, req, client.as_ref()).await,
            // RFC 7662 §2.1 (RFC 6749 §5.2): a caller that did not authenticate at all is
            // told how to, with 401 and a challenge.
            Err(e)
                if e.code() == ErrorCode::InvalidClient
                    && presented_client_id(req).is_none()
                    && !req
                        .form_pairs()
                        .iter()
                        .any(|(k, _)| k == "client_assertion") =>
            {
                Err(e.with_basic_challenge())
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(body) => {
                crate::trace::served("introspection", req);
                OAuth2Response::json(StatusCode::OK, &body)
            }
            Err(e) => ctx.refuse("introspection", req, e),
        }
    }
}

impl Default for IntrospectionEndpoint {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for IntrospectionEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionEndpoint")
            .finish_non_exhaustive()
    }
}
