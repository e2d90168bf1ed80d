//! The tutorial, finished: an axum app with its own users and login that is also an
//! authorization server (code flow with PKCE, client credentials, refresh, revocation,
//! introspection) on its SQLite database. `cargo run -p authgate-examples --example tutorial`
use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use authgate::*;
use authgate_axum::{authorization_response, pages::*, routes, CurrentToken, RequireBearerLayer};
use authgate_axum::{Server, ValidatedAuthorization};
use authgate_sql::{Admin, AnyStore, SqliteStore, StoreOptions};
use axum::http::{header::SET_COOKIE, HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{extract::Query, extract::State, routing::get, Extension, Form, Json, Router};

/// What the app's own pages need: its users, its sessions, the consent form's CSRF key.
#[derive(Clone)]
pub struct App {
    users: Arc<Mutex<rusqlite::Connection>>,
    sessions: SessionCookies,
    csrf: ConsentCsrf,
    limits: LoginLimits,
}

/// The app on the SQLite database at `path`, answering as `issuer`.
pub async fn app(path: &str, issuer: &str) -> Result<Router, Box<dyn std::error::Error>> {
    // The app's own users, in its own table.
    let users = rusqlite::Connection::open(path)?;
    users.execute_batch("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, hash TEXT)")?;
    let hash = password::hash("wonderland".into()).await?;
    users.execute("INSERT OR IGNORE INTO users VALUES ('alice', ?1)", [hash])?;
    // authgate's tables beside them; clients are seeded (or managed by an admin page).
    let store = SqliteStore::open(path, &StoreOptions::default())?;
    let web = ClientRecord::public("web-app")
        .redirect_uris(["http://127.0.0.1:9000/callback"])
        .grant_types(["authorization_code", "refresh_token"])
        .response_types(["code"])
        .scope("profile");
    let svc = ClientRecord::confidential("reporting", "a-long-generated-secret")
        .grant_types(["client_credentials"])
        .scope("reports");
    store.upsert_client(&web).await?;
    store.upsert_client(&svc).await?;
    // Nothing else deletes expired codes and tokens: purge every ten minutes.
    let (purged, every) = (AnyStore::new(store.clone()), Duration::from_secs(600));
    authgate_sql::spawn_purger(purged, Arc::new(SystemClock), every, 1000);
    let config = ServerConfig::new(issuer).refresh_tokens(true);
    let mut server = AuthorizationServer::new(store, config);
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    let server: Server = Arc::new(server);
    let protector = ResourceProtector::from_server(&server);
    let api = RequireBearerLayer::new(protector, ScopeRequirement::all_of("profile"));
    let refusal = RefusalPage::new(|e| Html(format!("<h1>Sign-in failed</h1><p>{}</p>", e.code())));
    let app = App {
        users: Arc::new(Mutex::new(users)),
        sessions: SessionCookies::random().secure(issuer.starts_with("https:")),
        csrf: ConsentCsrf::random(),
        limits: LoginLimits::new(5, Duration::from_secs(300)), // 5 failures per user, 5 minutes
    };
    let pages = Router::new()
        .route("/login", get(login_page).post(login))
        .route("/authorize", get(authorize).post(authorize))
        .route_layer(PageHeadersLayer);
    Ok(routes(&server)
        .merge(pages)
        .route("/api/me", get(me).route_layer(api))
        .layer((Extension(app), Extension(refusal)))
        .with_state(server))
}

async fn login_page(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let next = escape_html(local_path(q.get("next").map(String::as_str)));
    Html(format!(
        "<form method=post><input name=username><input name=password type=password>\
        <input type=hidden name=next value=\"{next}\"><button>Sign in</button></form>"
    ))
}

async fn login(Extension(app): Extension<App>, Form(f): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| f.get(name).cloned().unwrap_or_default();
    let (user, sql) = (field("username"), "SELECT hash FROM users WHERE name = ?1");
    let hash = {
        let db = app.users.lock().ok();
        db.and_then(|db| db.query_row(sql, [&user], |r| r.get(0)).ok())
    };
    let allowed = app.limits.allows(&user);
    let ok = allowed
        && password::verify_login(hash, field("password"))
            .await
            .unwrap_or(false);
    if !ok {
        app.limits.failed(&user);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    app.limits.succeeded(&user);
    let (_, cookie) = app.sessions.sign_in(&user);
    let next = local_path(f.get("next").map(String::as_str));
    ([(SET_COOKIE, cookie)], Redirect::to(next)).into_response()
}

/// /authorize, once the request is valid (else the refusal page answered): GET asks the
/// signed-in user; POST is their answer, from the form this app showed them for this request.
async fn authorize(
    Extension(app): Extension<App>,
    State(server): State<Server>,
    headers: HeaderMap,
    uri: Uri,
    ValidatedAuthorization { request, raw }: ValidatedAuthorization,
) -> Response {
    let Some(session) = app.sessions.current(&headers) else {
        return login_redirect("/login", &uri);
    };
    if raw.method() == Method::GET {
        let client = escape_html(request.client.client_id());
        let scope = escape_html(&request.scope.to_string());
        let csrf = app.csrf.token(&session.id, &request);
        let user = escape_html(&session.user);
        return Html(format!(
            "<p>{user}, allow {client} to use: {scope}?</p><form method=post>\
            <input type=hidden name=csrf value=\"{csrf}\"><button name=confirm value=yes>Allow</button>\
            <button name=confirm value=no>Deny</button></form>"
        ))
        .into_response();
    }
    let field = |name| raw.form_value(name).ok().flatten().unwrap_or_default();
    if !app.csrf.verify(&session.id, &request, field("csrf")) {
        return StatusCode::FORBIDDEN.into_response(); // not our form, or not for this request
    }
    // The subject should be a stable user id (never reassigned); here the name stands in.
    let owner = ResourceOwner::new(&session.user, &session.user);
    let owner = (field("confirm") == "yes").then_some(&owner);
    authorization_response(server.create_authorization_response(&raw, owner).await)
}

/// GET /api/me: the one protected route (scope `profile`).
async fn me(CurrentToken(token): CurrentToken) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user": token.username, "client": token.client_id }))
}

#[allow(dead_code)] // the test includes this file for app() only
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000 (alice / wonderland)");
    Ok(axum::serve(listener, app("tutorial.db", "http://127.0.0.1:3000").await?).await?)
}
