//! A separate API service — its own axum app on its own port — that accepts opaque access
//! tokens and asks the authorization server about each (RFC 7662 introspection), as a
//! client of the server. Revocations reach it within the cache time (60 s by default).
//!
//! Try it with the reference server's demo (the demo client may introspect):
//!
//! ```text
//! cargo run --release -p authgate-server -- serve          # http://127.0.0.1:8080
//! cargo run -p authgate-axum --example api_introspect      # http://127.0.0.1:8082
//! T=$(curl -s -u demo-client:demo-secret -d grant_type=client_credentials -d scope=profile \
//!       -d resource=http://127.0.0.1:8080/api/me http://127.0.0.1:8080/token \
//!     | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//! curl -s http://127.0.0.1:8082/hello -H "Authorization: Bearer $T"
//! ```
//!
//! For the try-out the API introspects as `demo-client`; a real API has a client of its
//! own (confidential, allowed to introspect), not the one requesting tokens.
//!
//! The HTTP client below speaks plain HTTP for a local try-out; a real service reaches the
//! server over https with a TLS-capable client and the same bounds.

use std::sync::Arc;
use std::time::Duration;

use authgate::resource::introspection::{IntrospectionTransport, IntrospectionValidator};
use authgate::{ExpectedAudience, ResourceProtector, ScopeRequirement};
use authgate_axum::{CurrentToken, RequireBearerLayer};
use axum::routing::get;
use axum::{Json, Router};

/// The API: `GET /hello` needs a token for `resource` with scope `profile`, as the
/// validator's server tells.
pub fn app(validator: IntrospectionValidator, resource: &str) -> Router {
    let protector = ResourceProtector::new(validator)
        .realm("api")
        .audience(ExpectedAudience::Resource(resource.to_owned()));
    Router::new().route(
        "/hello",
        get(hello).route_layer(RequireBearerLayer::new(
            Arc::new(protector),
            ScopeRequirement::all_of("profile"),
        )),
    )
}

/// GET /hello: what the server said of the token.
async fn hello(CurrentToken(token): CurrentToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "client_id": token.client_id,
        "sub": token.subject,
        "scope": token.scope.to_string(),
        "aud": token.details().audience,
        "exp": token.expires_at,
    }))
}

/// POSTs to the introspection endpoint: 5 seconds at most, 64 KiB at most, no redirects.
pub struct HttpTransport(reqwest::Client);

impl HttpTransport {
    /// A transport with those bounds.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no usable system configuration).
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Self(
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        ))
    }
}

#[authgate::async_trait]
impl IntrospectionTransport for HttpTransport {
    async fn post_form(
        &self,
        url: &str,
        authorization: &str,
        body: String,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut res = self
            .0
            .post(url)
            .header("authorization", authorization)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let mut answer = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            answer.extend_from_slice(&chunk);
            if answer.len() > 64 * 1024 {
                return Err("the introspection answer is larger than 64 KiB".into());
            }
        }
        Ok((status, answer))
    }
}

#[allow(dead_code)] // tests include this file for app() only
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let issuer =
        std::env::var("AUTHGATE_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let resource = std::env::var("API_RESOURCE").unwrap_or_else(|_| format!("{issuer}/api/me"));
    let client_id = std::env::var("API_CLIENT_ID").unwrap_or_else(|_| "demo-client".into());
    let secret = std::env::var("API_CLIENT_SECRET").unwrap_or_else(|_| "demo-secret".into());
    let addr = std::env::var("API_BIND").unwrap_or_else(|_| "127.0.0.1:8082".into());
    let transport = HttpTransport::new().map_err(std::io::Error::other)?;
    let validator = IntrospectionValidator::new(
        format!("{issuer}/introspect"),
        &client_id,
        &secret,
        transport,
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("api_introspect listening on http://{addr}: tokens for {resource}, asked of {issuer}");
    axum::serve(listener, app(validator, &resource)).await
}
