//! A separate API service — its own axum app on its own port — that checks JWT access
//! tokens (RFC 9068) from an authorization server by itself, with the server's published
//! keys: no database, no call to the server per request.
//!
//! Try it with the reference server's demo, which lists `https://api.example.com/` as a
//! resource whose tokens are JWTs:
//!
//! ```text
//! cargo run --release -p authgate-server -- serve          # http://127.0.0.1:8080
//! cargo run -p authgate-axum --example api_jwt             # http://127.0.0.1:8081
//! T=$(curl -s -u demo-client:demo-secret -d grant_type=client_credentials -d scope=profile \
//!       -d resource=https://api.example.com/ http://127.0.0.1:8080/token \
//!     | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//! curl -s http://127.0.0.1:8081/hello -H "Authorization: Bearer $T"
//! # -> {"aud":["https://api.example.com/"],"client_id":"demo-client","scope":"profile",...}
//! curl -si http://127.0.0.1:8081/hello | grep -i www-authenticate
//! # -> www-authenticate: Bearer realm="api", resource_metadata="..."
//! ```
//!
//! The key set is fetched from the issuer's `/jwks` with the small HTTP client below
//! (plain HTTP, for a local try-out; a real service fetches over https with a TLS-capable
//! client and the same bounds), and fetched again when a token names a key it has not
//! seen (a rotation), at most once a minute. A revoked token stays valid here until it
//! expires: keep such tokens short-lived (`access_token_ttl` on the resource), or
//! introspect where revocation must count at once.

use std::sync::Arc;
use std::time::Duration;

use authgate::client::metadata_document::{DocumentFetcher, FetchedDocument};
use authgate::protected_resource::{well_known_url, ProtectedResourceMetadata};
use authgate::resource::jwt::JwtValidator;
use authgate::ScopeRequirement;
use authgate_axum::{CurrentToken, RequireBearerLayer};
use axum::routing::get;
use axum::{Json, Router};

/// The API: `GET /hello` needs a token from `issuer` for `resource` with scope `profile`;
/// the resource's metadata (RFC 9728) is published where its 401s say.
pub fn app(issuer: &str, jwks_uri: &str, resource: &str, fetcher: impl DocumentFetcher) -> Router {
    app_with(
        JwtValidator::with_jwks_uri(issuer, resource, jwks_uri, fetcher),
        issuer,
        resource,
    )
}

/// [`app`] with a validator set up by the caller (its clock, leeway, algorithms).
pub fn app_with(validator: JwtValidator, issuer: &str, resource: &str) -> Router {
    let metadata_url = well_known_url(resource).unwrap_or_default();
    let protector = validator
        .protector()
        .realm("api")
        .resource_metadata(&metadata_url);
    let metadata = ProtectedResourceMetadata::new(resource)
        .authorization_server(issuer)
        .scopes(["profile"])
        .bearer_methods(protector.bearer_methods())
        .to_json();
    let metadata_path = url::Url::parse(&metadata_url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| "/.well-known/oauth-protected-resource".into());
    Router::new()
        .route(
            "/hello",
            get(hello).route_layer(RequireBearerLayer::new(
                Arc::new(protector),
                ScopeRequirement::all_of("profile"),
            )),
        )
        .route(&metadata_path, get(move || async move { Json(metadata) }))
}

/// GET /hello: what the token says.
async fn hello(CurrentToken(token): CurrentToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "client_id": token.client_id,
        "sub": token.subject,
        "scope": token.scope.to_string(),
        "aud": token.details().audience,
        "exp": token.expires_at,
    }))
}

/// Fetches the key set: 5 seconds at most, 64 KiB at most, no redirects.
pub struct HttpFetcher(reqwest::Client);

impl HttpFetcher {
    /// A fetcher with those bounds.
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
impl DocumentFetcher for HttpFetcher {
    async fn fetch(&self, url: &str) -> Result<FetchedDocument, String> {
        let mut res = self.0.get(url).send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("HTTP {}", res.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() > 64 * 1024 {
                return Err("the key set is larger than 64 KiB".into());
            }
        }
        Ok(FetchedDocument::new(body, None))
    }

    fn refused(&self, url: &str, why: &str) {
        eprintln!("api_jwt: key set at {url} not taken: {why}");
    }
}

#[allow(dead_code)] // tests include this file for app() only
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let issuer =
        std::env::var("AUTHGATE_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let resource =
        std::env::var("API_RESOURCE").unwrap_or_else(|_| "https://api.example.com/".into());
    let addr = std::env::var("API_BIND").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("api_jwt listening on http://{addr}: tokens from {issuer} for {resource}");
    let fetcher = HttpFetcher::new().map_err(std::io::Error::other)?;
    // Where the keys are: the server's metadata says (RFC 8414 jwks_uri).
    let metadata = fetcher
        .fetch(&format!("{issuer}/.well-known/oauth-authorization-server"))
        .await
        .map_err(std::io::Error::other)?;
    let jwks_uri = serde_json::from_slice::<serde_json::Value>(&metadata.body)
        .ok()
        .and_then(|m| m["jwks_uri"].as_str().map(str::to_owned))
        .ok_or_else(|| std::io::Error::other("the issuer's metadata has no jwks_uri"))?;
    axum::serve(listener, app(&issuer, &jwks_uri, &resource, fetcher)).await
}
