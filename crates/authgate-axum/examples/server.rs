//! A minimal authorization server, OpenID Provider and API on axum, in well under 100
//! lines of setup.
//!
//! Run: `cargo run -p authgate-axum --example server`, then follow README's quick start.
//! For brevity the demo user counts as logged in; a real app checks its session here.

use std::sync::Arc;

use authgate::*;
use authgate_axum::{
    authorization_response, routes, CurrentToken, OAuthRequest, RequireBearerLayer, Server,
    ValidatedAuthorization,
};
use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::{Json, Router};

/// The whole app: authorization server, its endpoints, and a protected API.
///
/// # Errors
/// A part the server needs is missing (see [`SetupError`]).
pub fn app(issuer: &str) -> Result<Router, SetupError> {
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("demo-client", "demo-secret")
            .name("Demo App")
            .redirect_uris(["http://127.0.0.1:9000/callback"])
            .grant_types([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "password",
            ])
            .response_types(["code"])
            .scope("openid profile email"),
    );
    store.add_user(ResourceOwner::new("user-1", "alice"), "wonderland");

    let config = ServerConfig::new(issuer).refresh_tokens(true);
    // Signing keys live in the store, sealed with a key encryption key; a real app loads
    // that key from a file or a secret manager (a fresh one here forgets the keys' use).
    let kek = jose::KeyEncryptionKey::generate(&OsRng);
    let mut server = AuthorizationServer::new(store.stores(), config)
        .with_signing_keys(kek, jose::RotationPolicy::default());
    server.enable_openid(oidc::OpenIdProvider::new(Claims))?;
    server.register_endpoint(JwksEndpoint::new())?;
    server.register_endpoint(UserInfoEndpoint::new())?;
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(PasswordGrant::new(store))
        .register_revoke_token_endpoint(RevocationEndpoint::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    let server: Server = Arc::new(server);
    let protector = Arc::new(ResourceProtector::from_server(&server));

    Ok(routes(&server)
        .route("/authorize", get(authorize_page).post(authorize_decision))
        .route(
            "/api/me",
            get(me).route_layer(RequireBearerLayer::new(
                protector,
                ScopeRequirement::all_of("profile"),
            )),
        )
        .with_state(server))
}

/// The user's claims for ID tokens and UserInfo; a real app reads its user table.
struct Claims;

#[async_trait]
impl oidc::ClaimsSource for Claims {
    async fn claims(
        &self,
        subject: &str,
        names: &[&str],
    ) -> Result<serde_json::Map<String, serde_json::Value>, StorageError> {
        let mut all = serde_json::Map::new();
        if subject == "user-1" {
            all.insert("name".into(), "Alice Liddell".into());
            all.insert("email".into(), "alice@example.com".into());
            all.insert("email_verified".into(), true.into());
        }
        all.retain(|k, _| names.contains(&k.as_str()));
        Ok(all)
    }
}

/// GET /authorize: the extractor validated the request; show the consent page.
async fn authorize_page(
    ValidatedAuthorization { request, .. }: ValidatedAuthorization,
) -> Html<String> {
    let client = request
        .client
        .client_name()
        .unwrap_or(request.client.client_id());
    Html(format!(
        "<!doctype html><title>Authorize</title><h1>{} wants: {}</h1>\
         <form method=post><button name=confirm value=yes>Approve</button>\
         <button name=confirm value=no>Deny</button></form>",
        html_escape(client),
        html_escape(&request.scope.to_string()),
    ))
}

/// POST /authorize: the user's decision.
async fn authorize_decision(
    State(server): State<Server>,
    OAuthRequest(req): OAuthRequest,
) -> Response {
    let approved = req.form_value("confirm").ok().flatten() == Some("yes");
    // When and how the user signed in: what OpenID Connect reports as auth_time and amr.
    let user = ResourceOwner::new("user-1", "alice")
        .authenticated_at(SystemClock.now())
        .amr(["pwd"]);
    let owner = approved.then_some(&user);
    authorization_response(server.create_authorization_response(&req, owner).await)
}

/// GET /api/me: needs scope `profile`.
async fn me(CurrentToken(token): CurrentToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "sub": token.subject, "username": token.username }))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[allow(dead_code)] // the integration test includes this file for app() only
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("AUTHGATE_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("authgate example listening on http://{addr}");
    println!("client: demo-client / demo-secret; user: alice / wonderland");
    let app = app(&format!("http://{addr}")).map_err(std::io::Error::other)?;
    axum::serve(listener, app).await
}
