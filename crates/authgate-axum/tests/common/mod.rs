//! Shared set-up for the HTTP tests: a full authorization server on a real socket.
#![allow(dead_code)] // each test file uses a different part

use std::sync::Arc;

use authgate::*;
use authgate_axum::{
    authorization_response, routes, CurrentToken, OAuthRequest, OptionalToken, RequireBearerLayer,
    Server,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// A confidential web client (client_secret_basic) with the code and refresh grants.
pub const WEB_ID: &str = "web";
pub const WEB_SECRET: &str = "web-secret";
/// A confidential client using client_secret_post, with every token grant.
pub const POST_ID: &str = "poster";
pub const POST_SECRET: &str = "poster-secret";
/// A public native client (none): code + PKCE, refresh, implicit.
pub const NATIVE_ID: &str = "native";
/// A service client: client_credentials only; also allowed to introspect.
pub const SVC_ID: &str = "svc";
pub const SVC_SECRET: &str = "svc-secret";
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
pub const NATIVE_REDIRECT: &str = "http://127.0.0.1/native-cb";
pub const ISSUER: &str = "http://authgate.test";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "wonderland";
pub const SUBJECT: &str = "user-1";

/// A running test server.
pub struct TestServer {
    pub base: String,
    pub clock: FrozenClock,
    pub store: MemoryStore,
    pub server: Server,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

pub fn store() -> MemoryStore {
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential(WEB_ID, WEB_SECRET)
            .name("Web App")
            .redirect_uris([REDIRECT])
            .grant_types(["authorization_code", "refresh_token"])
            .response_types(["code"])
            .scope("openid profile email"),
    );
    store.add_client(
        ClientRecord::confidential(POST_ID, POST_SECRET)
            .auth_method(ClientAuthMethod::ClientSecretPost)
            .redirect_uris([REDIRECT])
            .grant_types([
                "authorization_code",
                "refresh_token",
                "password",
                "client_credentials",
            ])
            .response_types(["code"])
            .scope("profile email read"),
    );
    store.add_client(
        ClientRecord::public(NATIVE_ID)
            .redirect_uris([NATIVE_REDIRECT])
            .grant_types([
                "authorization_code",
                "refresh_token",
                "implicit",
                "client_credentials",
                "password",
            ])
            .response_types(["code", "token"])
            .scope("profile email"),
    );
    store.add_client(
        ClientRecord::confidential(SVC_ID, SVC_SECRET)
            .grant_types(["client_credentials"])
            .scope("read write"),
    );
    store.add_user(ResourceOwner::new(SUBJECT, USER), PASSWORD);
    store
}

/// The default server: every built-in grant, refresh tokens on, revocation and
/// introspection registered, a frozen clock.
pub fn default_server(store: MemoryStore, clock: FrozenClock) -> AuthorizationServer {
    let config = ServerConfig::new(ISSUER)
        .refresh_tokens(true)
        .expires_in("client_credentials", 600);
    let mut server = AuthorizationServer::new(store.clone(), config).with_clock(clock);
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(ImplicitGrant::new())
        .register_grant(PasswordGrant::new(store))
        .register_grant(ClientCredentialsGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    server
}

/// Serves `router` on 127.0.0.1:0; answers the base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// The app under test: the server's endpoints, an authorization endpoint that approves
/// as alice when the form says `confirm=yes`, and protected routes:
/// `/api/me` (scope profile), `/api/any` (profile or read, any-of), `/api/open` (optional).
pub fn app(server: Server) -> Router {
    let protector = Arc::new(ResourceProtector::from_server(&server));
    routes(&server)
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route(
            "/api/me",
            get(me).route_layer(RequireBearerLayer::new(
                protector.clone(),
                ScopeRequirement::all_of("profile"),
            )),
        )
        .route(
            "/api/any",
            get(me).route_layer(RequireBearerLayer::new(
                protector.clone(),
                ScopeRequirement::any_of("profile read"),
            )),
        )
        .route(
            "/api/open",
            get(open).route_layer(RequireBearerLayer::optional(
                protector,
                ScopeRequirement::none(),
            )),
        )
        .with_state(server)
}

async fn authorize_get(State(server): State<Server>, OAuthRequest(req): OAuthRequest) -> Response {
    match server.validate_authorization_request(&req).await {
        Ok(r) => Json(serde_json::json!({
            "client_id": r.client.client_id(),
            "redirect_uri": r.redirect_uri,
            "scope": r.scope.to_string(),
            "state": r.state,
            "response_type": r.response_type,
        }))
        .into_response(),
        Err(e) => authorization_response(Err(e)),
    }
}

async fn authorize_post(State(server): State<Server>, OAuthRequest(req): OAuthRequest) -> Response {
    let yes = req.form_value("confirm").ok().flatten() == Some("yes");
    let alice = ResourceOwner::new(SUBJECT, USER);
    authorization_response(
        server
            .create_authorization_response(&req, yes.then_some(&alice))
            .await,
    )
}

async fn me(CurrentToken(t): CurrentToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "sub": t.subject, "username": t.username, "client_id": t.client_id }))
}

async fn open(OptionalToken(t): OptionalToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "client_id": t.map(|t| t.client_id) }))
}

/// Starts the default server.
pub async fn start() -> TestServer {
    start_with(|s| s).await
}

/// Starts a server built by `customise` from the default one.
pub async fn start_with(
    customise: impl FnOnce(AuthorizationServer) -> AuthorizationServer,
) -> TestServer {
    let store = store();
    let clock = FrozenClock::at(1_800_000_000);
    let server: Server = Arc::new(customise(default_server(store.clone(), clock.clone())));
    let base = serve(app(server.clone())).await;
    TestServer {
        base,
        clock,
        store,
        server,
    }
}

/// An HTTP client that does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A PKCE pair (verifier, S256 challenge), computed independently with Python's hashlib.
pub const VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
pub const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

/// The query parameters of a redirect's Location (query or fragment).
pub fn redirect_params(res: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let loc = res
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap();
    let url = url::Url::parse(loc).unwrap();
    let mut m: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(f) = url.fragment() {
        m.extend(url::form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    m
}
