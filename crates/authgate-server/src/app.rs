//! The reference server: the engine, a store, and the pages, wired on axum.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::request_scope::OwnLogLine;
use authgate::*;
use authgate_axum::pages::local_path;
use authgate_axum::{into_response, OAuthRequest, OAuthResponse, RequireBearerLayer, Server};
use authgate_sql::{AnyStore, NewUser};
use axum::extract::{ConnectInfo, FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use minijinja::{context, Environment};

use crate::backchannel::Backchannel;
use crate::config::{displayable, ClientConfig, Config, GRANT_TYPES, RESPONSE_TYPES};
use crate::session::{
    random_token, same_token, Attempt, ClientAuthLimits, LoginLimiter, PasswordLimiter,
    RateLimiter, Session, Sessions, SESSION_TTL,
};

/// Router state: the engine plus what the pages need.
#[derive(Clone)]
pub(crate) struct AppState {
    server: Server,
    inner: Arc<Inner>,
}

struct Inner {
    store: AnyStore,
    sessions: Sessions,
    limiter: Arc<PasswordLimiter>,
    /// Wrong user codes on the device page, per session and per address (RFC 8628 §5.1).
    device_limiter: LoginLimiter,
    /// Registration requests per address.
    registrations: RateLimiter,
    /// The reverse proxies whose forwarding headers are believed.
    proxies: crate::proxies::TrustedProxies,
    /// Failed client authentications at the token, revocation, introspection and device
    /// authorization endpoints.
    client_auth: ClientAuthLimits,
    pages: Environment<'static>,
    /// The config's `[scope_descriptions]`, over the built-in ones.
    scope_descriptions: std::collections::BTreeMap<String, String>,
    clock: Arc<dyn Clock>,
    backchannel: Backchannel,
    /// Client logos, fetched and shown inline on the consent pages.
    logos: crate::logos::Logos,
}

impl FromRef<AppState> for Server {
    fn from_ref(state: &AppState) -> Self {
        state.server.clone()
    }
}

/// Builds the server from a config and an open store: clients and users from the file are
/// created or updated, grants registered as the clients need them.
pub(crate) async fn build(config: &Config, store: AnyStore) -> Result<(Router, Server), String> {
    let wants = |grant: &str| {
        config
            .clients
            .iter()
            .any(|c| c.grant_types.iter().any(|g| g == grant))
    };
    // A client that came from the file but is no longer listed in it is reported, not
    // silently kept. It is not removed here: servers sharing a database may run different
    // versions of the file during a rolling change, and one must not delete what another
    // just added. `authgate client remove` removes it (revoking its tokens and codes).
    let listed: std::collections::HashSet<&str> = config
        .clients
        .iter()
        .map(|c| c.client_id.as_str())
        .collect();
    let stored = store
        .list_clients()
        .await
        .map_err(|e| format!("cannot list clients: {e}"))?;
    for old in stored {
        let from_file = old.metadata.get(FROM_CONFIG).is_some_and(|v| v == true);
        if from_file && !listed.contains(old.client_id.as_str()) {
            tracing::warn!(client_id = %old.client_id.escape_debug(), "a client of an earlier config file is still in the database and still works; remove it with `authgate client remove`");
        }
    }
    // The key that seals the signing keys and client_secret_jwt secrets at rest: outside
    // the database, so a dump alone opens neither.
    let kek_path = config
        .keys
        .encryption_key_file
        .clone()
        .unwrap_or_else(|| "authgate.kek".into());
    let (kek, created) = crate::keys::load_or_create(&kek_path)?;
    if created {
        tracing::warn!(path = %kek_path.display(), "created a new key encryption key for the signing keys and client secrets; back it up, and give every server on this database the same file");
    }
    for c in &config.clients {
        warn_unsupported(c, !config.trusted_issuers.is_empty());
        let base = match (&c.client_secret, c.token_endpoint_auth_method.as_deref()) {
            // HMAC needs the secret itself: the database keeps it sealed under the key
            // encryption key, bound to the client id.
            (Some(secret), Some("client_secret_jwt")) => ClientRecord::with_sealed_secret(
                c.client_id.clone(),
                authgate::client_assertion::seal_client_secret(
                    &kek,
                    &c.client_id,
                    secret,
                    &authgate::OsRng,
                )
                .map_err(|e| format!("cannot seal the secret of client '{}': {e}", c.client_id))?,
            ),
            // A person chose this secret: the database keeps an argon2id hash of it, so a
            // dump does not give it away at SHA-256 speed (the engine remembers a verified
            // secret in memory, so requests do not pay for the slow hash each time).
            (Some(secret), _) => ClientRecord::with_chosen_secret_hash(
                c.client_id.clone(),
                authgate::password::hash(secret.clone())
                    .await
                    .map_err(|e| {
                        format!("cannot hash the secret of client '{}': {e}", c.client_id)
                    })?,
            ),
            (None, _) => ClientRecord::public(c.client_id.clone()),
        };
        store
            .upsert_client(&client_record(c, base))
            .await
            .map_err(|e| format!("cannot save client '{}': {e}", c.client_id))?;
    }
    for u in &config.users {
        store
            .upsert_user(&NewUser {
                username: u.username.clone(),
                subject: u.subject.clone().unwrap_or_else(|| u.username.clone()),
                password: u.password.clone(),
                claims: u.claims.to_json(),
            })
            .await
            .map_err(|e| format!("cannot save user '{}': {e}", u.username))?;
    }

    let mut engine_config = ServerConfig::new(&config.issuer);
    engine_config.refresh_tokens = config.tokens.refresh_tokens;
    // The consent form carries no credentials (only the decision and a CSRF token), so the
    // 302 that the server's contract names is safe here (RFC 9700 §4.12 is about
    // re-sending credentials; the login form's redirect stays 303).
    engine_config.post_redirect_status = StatusCode::FOUND;
    engine_config.access_token_ttl = config.tokens.access_token_ttl;
    engine_config.refresh_token_grace_seconds = config.tokens.refresh_grace_seconds;
    for (grant, secs) in &config.tokens.expires_in {
        engine_config.expires_in.insert(grant.clone(), *secs);
    }
    engine_config.resources = resource_registry(config)?;
    engine_config.access_token_format = crate::config::parse_format(
        &config.tokens.access_token_format,
        "tokens.access_token_format",
    )?;
    engine_config.scopes_supported = {
        let mut all: Vec<String> = config
            .clients
            .iter()
            .flat_map(|c| c.scope.split(' ').map(str::to_owned))
            .filter(|s| !s.is_empty())
            .collect();
        all.sort();
        all.dedup();
        all
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The session-signing key lives outside the database (a file or the environment), so
    // a dump of the database alone cannot forge a session.
    let session_key_path = config
        .keys
        .session_key_file
        .clone()
        .unwrap_or_else(|| "authgate.session-key".into());
    let (key, created) = crate::keys::session_key(&session_key_path)?;
    if created {
        tracing::warn!(path = %session_key_path.display(), "created a new session key; give every server on this database the same file (or AUTHGATE_SESSION_KEY)");
    }
    // One clock for the engine, the sessions, the login limits and the purger.
    let mut server = AuthorizationServer::new(store.stores(), engine_config)
        .with_clock(clock.clone())
        // Refresh grace window seals: keyed by the session key too (outside the database),
        // so that a dump plus an old refresh token opens nothing.
        .with_refresh_grace_secret(crate::keys::derived(&key, b"authgate: refresh grace seals"))
        .with_signing_keys(kek.clone(), config.keys.policy())
        // JWT access tokens (RFC 9068): ES256 when the key set keeps it (what every JOSE
        // library checks, and ten times cheaper to sign than RS256), else its first.
        .with_access_token_algorithm(config.keys.access_token_algorithm())
        .with_form_post(AutoSubmitForm::new());
    if config.registration.client_id_metadata_documents {
        // Client ID Metadata Documents: https client ids, fetched from public addresses
        // only (tests on loopback set the private-outbound variable, which also lets them
        // use http on loopback).
        let allow_private =
            std::env::var(crate::backchannel::ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "1");
        let ceiling: Scope = match &config.registration.allowed_scope {
            Some(s) => s.split(' ').collect(),
            None => server
                .config()
                .scopes_supported
                .iter()
                .map(String::as_str)
                .collect(),
        };
        server = server.with_client_id_metadata_documents(
            crate::documents::Documents::new(allow_private)?,
            ceiling,
            allow_private,
        );
    }
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_grant(DeviceCodeGrant::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new().policy(
            // RFC 7662 §4: confidential clients, unless the config says `may_introspect = false`.
            |c: &dyn Client| {
                !c.is_public()
                    && c.metadata()
                        .and_then(|m| m.get(MAY_INTROSPECT))
                        .is_none_or(|v| v != false)
            },
        ));
    server
        .register_endpoint(DeviceAuthorizationEndpoint::new("/device"))
        .map_err(|e| e.to_string())?;
    // The JWT bearer grant (RFC 7523 §2.1), when issuers are trusted; their jwks_uri
    // fetched like metadata documents.
    if !config.trusted_issuers.is_empty() {
        let allow_private =
            std::env::var(crate::backchannel::ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "1");
        let mut grant = authgate::JwtBearerGrant::new()
            .jwks_fetcher(crate::documents::Documents::new(allow_private)?);
        for t in &config.trusted_issuers {
            grant = grant.trust(t.trusted());
        }
        server.register_grant(grant);
    }
    // private_key_jwt and client_secret_jwt (RFC 7523): clients' jwks_uri fetched like
    // metadata documents (https, public addresses, no redirects, 5 s, 64 KiB); HMAC secrets
    // opened with the key encryption key; assertions single-use through the database's
    // replay cache.
    {
        let allow_private =
            std::env::var(crate::backchannel::ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "1");
        let mut assertions = authgate::client_assertion::ClientAssertions::new()
            .jwks_fetcher(crate::documents::Documents::new(allow_private)?);
        // HMAC assertions only when a client of the file uses them (the only way such a
        // client comes to be: the CLI and registration refuse it), so a server without one
        // neither accepts nor advertises HMAC.
        if config
            .clients
            .iter()
            .any(|c| c.token_endpoint_auth_method.as_deref() == Some("client_secret_jwt"))
        {
            assertions = assertions.client_secrets(kek);
        }
        server
            .enable_private_key_jwt(assertions)
            .map_err(|e| e.to_string())?;
    }
    server
        .register_endpoint(JwksEndpoint::new())
        .map_err(|e| e.to_string())?;
    if let Some(keys) = &server.context().keys {
        keys.load().await.map_err(|e| match e {
            authgate::jose::JoseError::Undecryptable { kid } => format!(
                "signing key {kid} cannot be decrypted with {}: every server on one database needs the same keys.encryption_key_file",
                kek_path.display()
            ),
            other => format!("signing keys: {other}"),
        })?;
    }
    if wants("implicit") {
        tracing::warn!("enabling the implicit grant because a client lists it; RFC 9700 section 2.1.2 advises against it");
        server.register_grant(ImplicitGrant::new());
    }
    if !config.keys.algorithms.iter().any(|a| a == "RS256") {
        tracing::warn!("keys.algorithms lacks RS256: OpenID Connect Discovery expects every provider to sign ID tokens with it, and relying parties that know only RS256 cannot sign in here");
    }
    // OpenID Connect: ID tokens, UserInfo, the implicit and hybrid response types the
    // clients list, logout.
    let pairwise = store
        .shared_secret("pairwise-subject")
        .await
        .map_err(|e| format!("cannot read the pairwise subject secret: {e}"))?;
    server
        .enable_openid(
            authgate::oidc::OpenIdProvider::new(UserClaims {
                store: store.clone(),
            })
            .id_token_ttl(3600.min(config.keys.retain))
            .pairwise_secret(pairwise)
            .logout(true),
        )
        .map_err(|e| e.to_string())?;
    for grant in OpenIdGrant::all() {
        let rt = grant.response_type().to_string();
        if config.clients.iter().any(|c| {
            c.response_types
                .iter()
                .any(|r| ResponseType::parse(r).is_some_and(|p| p.to_string() == rt))
        }) {
            server.register_grant(grant);
        }
    }
    server
        .register_endpoint(UserInfoEndpoint::new())
        .map_err(|e| e.to_string())?;
    // One limiter for the login page and the password grant: a guess is a guess.
    let limiter = Arc::new(PasswordLimiter::new(5, 20, 5, 300));
    {
        // The limiter's memory ages out on a timer, not only when it grows.
        let (limiter, clock) = (Arc::downgrade(&limiter), clock.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let Some(l) = limiter.upgrade() else { break };
                l.purge(clock.now());
            }
        });
    }
    if wants("password") {
        tracing::warn!("enabling the password grant because a client lists it; RFC 9700 section 2.4 forbids it for new deployments");
        server.register_grant(PasswordGrant::new(LimitedUsers {
            store: store.clone(),
            limiter: limiter.clone(),
            clock: clock.clone(),
        }));
    }
    if config.registration.enabled {
        enable_registration(&mut server, config, &store).await?;
    }
    let server: Server = Arc::new(server);
    // `/api/me` is a protected resource of its own (RFC 9728): its 401s point at its
    // metadata document, which names this server as the one issuing its tokens.
    let me_resource = me_resource(&config.issuer);
    let me_metadata_url =
        authgate::protected_resource::well_known_url(&me_resource).ok_or_else(|| {
            format!(
                "issuer: '{}' gives no protected resource metadata URL",
                config.issuer
            )
        })?;
    // It takes tokens for no resource and tokens for its own identifier (RFC 8707).
    let protector = ResourceProtector::from_server(&server)
        .resource_metadata(&me_metadata_url)
        .audience(authgate::ExpectedAudience::ResourceOrDefault(
            me_resource.clone(),
        ));
    let me_metadata = authgate::protected_resource::ProtectedResourceMetadata::new(&me_resource)
        .authorization_server(&config.issuer)
        .scopes(["profile"])
        .name("authgate: the signed-in user's profile (/api/me)")
        .bearer_methods(protector.bearer_methods());
    let me_metadata = Arc::new(me_metadata.to_json());
    let me_metadata_path = url::Url::parse(&me_metadata_url)
        .map(|u| u.path().to_owned())
        .map_err(|e| format!("issuer: {e}"))?;
    let protector = Arc::new(protector);

    let state = AppState {
        server: server.clone(),
        inner: Arc::new(Inner {
            store,
            sessions: Sessions::new(key, Sessions::is_https(&config.issuer)),
            limiter,
            device_limiter: LoginLimiter::new(DEVICE_TRIES_PER_SESSION, DEVICE_TRIES_PER_ADDR, 300),
            registrations: RateLimiter::new(config.registration.requests_per_hour, 3600),
            client_auth: ClientAuthLimits::new(10, 50, 300),
            proxies: crate::proxies::TrustedProxies::new(&config.trusted_proxies),
            pages: pages(config.templates_dir.as_deref())?,
            scope_descriptions: config.scope_descriptions.clone(),
            logos: crate::logos::Logos::new(
                std::env::var(crate::backchannel::ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "1"),
                clock.clone(),
            )?,
            clock,
            backchannel: Backchannel::new()?,
        }),
    };
    authgate_sql::spawn_purger(
        state.inner.store.clone(),
        state.inner.clock.clone(),
        Duration::from_secs(60),
        1000,
    );

    let me = get(api_me).route_layer(RequireBearerLayer::new(
        protector,
        ScopeRequirement::all_of("profile"),
    ));
    let origins = cors_origins(config);
    let router = Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/.well-known/openid-configuration",
            get(authgate_axum::metadata).layer(cors(None)),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(authgate_axum::metadata).layer(cors(None)),
        )
        .route(
            &me_metadata_path,
            get(move || {
                let doc = me_metadata.clone();
                async move { Json((*doc).clone()) }
            })
            .layer(cors(None)),
        )
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route(
            "/token",
            post(token).fallback(token).layer(cors(Some(&origins))),
        )
        .route(
            "/revoke",
            post(revoke).fallback(revoke).layer(cors(Some(&origins))),
        )
        .route("/introspect", post(introspect).fallback(introspect))
        .route("/jwks", get(jwks).fallback(jwks).layer(cors(None)))
        .route(
            "/userinfo",
            get(userinfo)
                .post(userinfo)
                .fallback(userinfo)
                .layer(cors(Some(&origins))),
        )
        .route("/end_session", get(end_session).post(end_session))
        .route(
            "/device_authorization",
            post(device_authorization).fallback(device_authorization),
        )
        .route("/device", get(device_page).post(device_submit))
        .route("/register", post(register).fallback(register))
        .route(
            "/register/{client_id}",
            axum::routing::any(client_configuration),
        )
        .route("/consents/revoke", post(revoke_consent))
        .route("/api/me", me)
        .layer(crate::answer::AnswerLayer);
    Ok((request_layers(router).with_state(state), server))
}

/// CORS for what browsers' applications call from another origin (SECURITY.md 17): the
/// discovery documents and the keys for any origin (public data); the token, revocation
/// and UserInfo endpoints for `allowed` origins only (`cors_origins` and the origins of the
/// configured clients' redirect URIs, where single-page apps live). No cookies are involved
/// (credentials travel in `Authorization` or the body). Preflights are answered by the
/// layer, without reaching the endpoint or the store. The authorization endpoint and the
/// pages send no CORS headers.
fn cors(allowed: Option<&[HeaderValue]>) -> tower_http::cors::CorsLayer {
    let origin = match allowed {
        None => tower_http::cors::AllowOrigin::any(),
        Some(list) => tower_http::cors::AllowOrigin::list(list.iter().cloned()),
    };
    tower_http::cors::CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([http::Method::GET, http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600))
}

/// The origins allowed to call the token, revocation and UserInfo endpoints: the config's
/// `cors_origins` and the origin of every configured client's http(s) redirect URI.
fn cors_origins(config: &Config) -> Vec<HeaderValue> {
    let mut origins: Vec<String> = config
        .cors_origins
        .iter()
        .filter_map(|o| url::Url::parse(o).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    for c in &config.clients {
        for uri in &c.redirect_uris {
            if let Ok(u) = url::Url::parse(uri) {
                if matches!(u.scheme(), "https" | "http") {
                    origins.push(u.origin().ascii_serialization());
                }
            }
        }
    }
    origins.sort();
    origins.dedup();
    origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect()
}

/// Dynamic client registration (RFC 7591, RFC 7592) as `[registration]` configures it.
async fn enable_registration(
    server: &mut AuthorizationServer,
    config: &Config,
    store: &AnyStore,
) -> Result<(), String> {
    let r = &config.registration;
    let mut rules = RegistrationRules::new()
        .grant_types(r.allowed_grant_types.clone())
        .scope(&r.scope_ceiling());
    if let Some(jwks) = &r.software_statement_jwks {
        rules = rules.trust_software_statements(authgate::jose::JwksVerifier::new(jwks.clone()));
    }
    let stored = store
        .list_initial_access_tokens()
        .await
        .map_err(|e| format!("cannot read the initial access tokens: {e}"))?;
    if r.initial_access_token.is_none() && stored.is_empty() {
        tracing::warn!("client registration is open: anyone who reaches /register can register a client (set registration.initial_access_token or run `authgate registration token create` to require a token)");
    }
    let allow_private =
        std::env::var(crate::backchannel::ALLOW_PRIVATE_ENV).is_ok_and(|v| v == "1");
    let registration = ClientRegistrationEndpoint::new(ServerRegistrationPolicy {
        rules,
        config_token: r
            .initial_access_token
            .as_deref()
            .map(|t| authgate::token::SecretHash::of(t.as_bytes())),
        store: store.clone(),
    })
    .sector_identifier_fetcher(
        crate::documents::Documents::new(allow_private)?,
        allow_private,
    );
    server
        .register_endpoint(registration.configuration())
        .map_err(|e| e.to_string())?;
    server
        .register_endpoint(registration)
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The reference server's registration policy: the configured rules, and an initial access
/// token that is the configured one or one made with `authgate registration token create`;
/// without either, registration is open.
struct ServerRegistrationPolicy {
    rules: RegistrationRules,
    config_token: Option<authgate::token::SecretHash>,
    store: AnyStore,
}

#[async_trait]
impl RegistrationPolicy for ServerRegistrationPolicy {
    async fn admit(&self, _ctx: &ServerContext, token: Option<&str>) -> Result<bool, OAuth2Error> {
        let hash = token.map(|t| authgate::token::SecretHash::of(t.as_bytes()));
        if let (Some(want), Some(got)) = (&self.config_token, &hash) {
            if want.ct_eq(got) {
                return Ok(true);
            }
        }
        if let Some(got) = &hash {
            if self.store.initial_access_token_valid(got).await? {
                return Ok(true);
            }
        }
        let open = self.config_token.is_none()
            && self.store.list_initial_access_tokens().await?.is_empty();
        Ok(open)
    }

    fn review(
        &self,
        ctx: &ServerContext,
        metadata: &mut ClientMetadata,
    ) -> Result<(), OAuth2Error> {
        self.rules.review(ctx, metadata)
    }
}

/// The registration endpoint (RFC 7591 §3), limited per address.
async fn register(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> OAuthResponse {
    if let Err(wait) = state
        .inner
        .registrations
        .hit(&addr, state.inner.clock.now())
    {
        tracing::warn!(%addr, "registration refused: too many requests from one address");
        let mut res = OAuth2Response::json(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": "too many registration requests from this address; try again later"
            }),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            res.headers.insert(header::RETRY_AFTER, v);
        }
        return OAuthResponse(res);
    }
    let res = state
        .server
        .create_endpoint_response("registration", &req)
        .await;
    if res.status == StatusCode::CREATED {
        let client_id = res
            .json_body()
            .and_then(|b| b["client_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        tracing::info!(%addr, %client_id, "client registered");
    }
    OAuthResponse(res)
}

/// The client configuration endpoint (RFC 7592) at each `registration_client_uri`.
async fn client_configuration(
    State(state): State<AppState>,
    OAuthRequest(req): OAuthRequest,
) -> OAuthResponse {
    OAuthResponse(
        state
            .server
            .create_endpoint_response("client_configuration", &req)
            .await,
    )
}

/// User claims for ID tokens and UserInfo, from the users table (`preferred_username`
/// defaults to the login name).
struct UserClaims {
    store: AnyStore,
}

#[async_trait]
impl authgate::oidc::ClaimsSource for UserClaims {
    async fn claims(
        &self,
        subject: &str,
        names: &[&str],
    ) -> Result<serde_json::Map<String, serde_json::Value>, StorageError> {
        let Some(user) = self.store.find_user_by_subject(subject).await? else {
            return Ok(serde_json::Map::new());
        };
        let mut all = match user.claims {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        all.entry("preferred_username")
            .or_insert_with(|| user.username.into());
        all.retain(|k, _| names.contains(&k.as_str()));
        Ok(all)
    }
}

tokio::task_local! {
    /// The client's address during a token request, for the password grant's limits (the
    /// engine's `UserStore` hook does not carry it).
    static CLIENT_ADDR: String;
}

/// The password grant's user check, behind the same attempt limits as the login page.
struct LimitedUsers {
    store: AnyStore,
    limiter: Arc<PasswordLimiter>,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl UserStore for LimitedUsers {
    async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<ResourceOwner>, StorageError> {
        let addr = CLIENT_ADDR
            .try_with(Clone::clone)
            .unwrap_or_else(|_| "unknown".to_owned());
        match self.limiter.begin(username, &addr, self.clock.now()) {
            Attempt::Refused => {
                tracing::warn!(%addr, "password grant refused: too many failed attempts");
                return Ok(None);
            }
            Attempt::Go(0) => {}
            Attempt::Go(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
        }
        let owner = self.store.authenticate_user(username, password).await?;
        if owner.is_some() {
            self.limiter.succeeded(username, &addr);
        }
        Ok(owner)
    }
}

/// The metadata member marking a client that came from the config file.
pub(crate) const FROM_CONFIG: &str = "from_config_file";

/// The record of a config file's client, on `base` (the client with its kept secret).
fn client_record(c: &ClientConfig, base: ClientRecord) -> ClientRecord {
    let method = c
        .token_endpoint_auth_method
        .as_deref()
        .and_then(ClientAuthMethod::parse)
        .unwrap_or(if c.client_secret.is_some() {
            ClientAuthMethod::ClientSecretBasic
        } else {
            ClientAuthMethod::None
        });
    let mut r = base
        .auth_method(method)
        .redirect_uris(c.redirect_uris.clone())
        .grant_types(c.grant_types.clone())
        .response_types(c.response_types.clone())
        .scope(&c.scope);
    r.client_name = c.client_name.clone();
    let strings = [
        (
            "id_token_signed_response_alg",
            &c.id_token_signed_response_alg,
        ),
        (
            "userinfo_signed_response_alg",
            &c.userinfo_signed_response_alg,
        ),
        ("subject_type", &c.subject_type),
        ("sector_identifier_uri", &c.sector_identifier_uri),
        ("backchannel_logout_uri", &c.backchannel_logout_uri),
        (
            "token_endpoint_auth_signing_alg",
            &c.token_endpoint_auth_signing_alg,
        ),
    ];
    let strings = strings.into_iter().map(|(k, v)| (k, v.as_ref()));
    for (key, value) in strings.chain(c.display_uris()) {
        if let Some(v) = value {
            r = r.with_metadata(key, v.clone());
        }
    }
    if !c.post_logout_redirect_uris.is_empty() {
        r = r.with_metadata(
            "post_logout_redirect_uris",
            c.post_logout_redirect_uris.clone(),
        );
    }
    for (key, on) in [
        (
            "backchannel_logout_session_required",
            c.backchannel_logout_session_required,
        ),
        ("skip_consent", c.skip_consent),
        ("require_auth_time", c.require_auth_time),
    ] {
        if on {
            r = r.with_metadata(key, true);
        }
    }
    if let Some(m) = c.default_max_age {
        r = r.with_metadata("default_max_age", m);
    }
    if let Some(may) = c.may_introspect {
        r = r.with_metadata(MAY_INTROSPECT, may);
    }
    if let Some(jwks) = &c.jwks {
        r = r.with_metadata("jwks", jwks.clone());
    }
    if let Some(uri) = &c.jwks_uri {
        r = r.with_metadata("jwks_uri", uri.clone());
    }
    r.with_metadata(FROM_CONFIG, true)
}

/// The metadata member carrying a client's `may_introspect`.
const MAY_INTROSPECT: &str = "may_introspect";

/// Secrets shorter than this, chosen by a person in the config, start with a warning: a
/// generated one (`authgate client add`) has 43 characters.
const SHORT_SECRET: usize = 16;

fn warn_unsupported(c: &ClientConfig, jwt_bearer: bool) {
    if c.client_secret
        .as_ref()
        .is_some_and(|s| s.chars().count() < SHORT_SECRET)
    {
        tracing::warn!(client_id = %c.client_id.escape_debug(), "client_secret is shorter than {SHORT_SECRET} characters: a short secret can be guessed; generate one with `authgate client add`");
    }
    let grants: Vec<&str> = c
        .grant_types
        .iter()
        .map(String::as_str)
        .filter(|g| {
            let served =
                GRANT_TYPES.contains(g) || (jwt_bearer && *g == authgate::JWT_BEARER_GRANT_TYPE);
            !served
        })
        .collect();
    let responses: Vec<&str> = c
        .response_types
        .iter()
        .map(String::as_str)
        .filter(|r| !RESPONSE_TYPES.contains(r))
        .collect();
    if !grants.is_empty() || !responses.is_empty() {
        tracing::warn!(
            client_id = %c.client_id,
            grant_types = ?grants,
            response_types = ?responses,
            "client lists types this server does not support yet; they are ignored and not advertised"
        );
    }
}

/// Whether the pages build from `dir`'s templates (what `authgate config check` asks).
pub(crate) fn check_pages(dir: Option<&Path>) -> Result<(), String> {
    pages(dir).map(|_| ())
}

fn pages(dir: Option<&Path>) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    let builtin = [
        ("base.html", include_str!("../templates/base.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("consent.html", include_str!("../templates/consent.html")),
        ("error.html", include_str!("../templates/error.html")),
        ("index.html", include_str!("../templates/index.html")),
        ("logout.html", include_str!("../templates/logout.html")),
        ("device.html", include_str!("../templates/device.html")),
    ];
    for (name, source) in builtin {
        let text = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
            Some(p) => std::fs::read_to_string(&p)
                .map_err(|e| format!("templates_dir: cannot read {}: {e}", p.display()))?,
            None => source.to_owned(),
        };
        env.add_template_owned(name, text)
            .map_err(|e| format!("templates_dir: template {name}: {e}"))?;
    }
    Ok(env)
}

// ----- pages ------------------------------------------------------------------------------

/// An HTML page with the headers every page carries: no framing (RFC 9700 §4.16), no
/// referrer (§4.2), no caching, no third-party anything, and forms that post to this
/// server only.
fn page(state: &AppState, status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
    page_to(state, status, template, ctx, &[])
}

/// [`page`] for a page whose form submission may end at another origin after this
/// server's redirects (a client's redirect URI after consent): browsers hold every hop
/// of a form submission's redirects to `form-action`, so those origins are listed too.
fn page_to(
    state: &AppState,
    status: StatusCode,
    template: &str,
    ctx: minijinja::Value,
    form_targets: &[String],
) -> Response {
    page_with(state, status, template, ctx, form_targets, None)
}

/// [`page_to`] for a page that shows one image from elsewhere (a client's logo): its
/// origin, `img_source`, is the one image source the page's policy allows.
fn page_with(
    state: &AppState,
    status: StatusCode,
    template: &str,
    ctx: minijinja::Value,
    form_targets: &[String],
    img_source: Option<&str>,
) -> Response {
    let html = state
        .inner
        .pages
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, template, "template failed");
            "<!doctype html><title>Error</title><p>The page could not be rendered.</p>".to_owned()
        });
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let mut form_action = String::from("'self'");
    for origin in form_targets {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    let img_src = img_source
        .map(|s| format!("img-src {s}; "))
        .unwrap_or_default();
    let csp = format!("default-src 'none'; {img_src}style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'");
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        }),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn error_page(state: &AppState, err: &OAuth2Error) -> Response {
    let status = if err.status() == StatusCode::SERVICE_UNAVAILABLE {
        err.status()
    } else {
        StatusCode::BAD_REQUEST
    };
    page(
        state,
        status,
        "error.html",
        context! { title => "This request cannot be processed", message => err.error_description().unwrap_or("invalid request"), code => err.code().as_str() },
    )
}

fn plain_error(state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
    page(
        state,
        status,
        "error.html",
        context! { title => title, message => message },
    )
}

fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// The login page, with a fresh pre-login CSRF token in a cookie and a hidden field. Its
/// form may end, through `next`, at an authorization request that redirects straight to
/// the client (consent remembered): that client's redirect origins join `form-action`.
async fn login_form(
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let csrf = random_token();
    let targets = client_origins_after(state, next).await;
    let res = page_to(
        state,
        status,
        "login.html",
        context! { csrf => csrf, next => next, username => username, error => error },
        &targets,
    );
    with_cookie(res, &state.inner.sessions.csrf_cookie(&csrf))
}

/// The origins of the registered redirect URIs of the client an authorization request at
/// `next` (a local path) names; none for any other path.
async fn client_origins_after(state: &AppState, next: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(&format!("http://local{next}")) else {
        return Vec::new();
    };
    if url.path() != state.server.config().endpoints.authorization {
        return Vec::new();
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let Some(id) = param("client_id") else {
        return Vec::new();
    };
    // A page is never the reason for an outbound fetch: metadata-document clients are not
    // looked up here (their consent page lists the origin when it comes to that).
    if authgate::client::metadata_document::is_document_url(&id, true) {
        return Vec::new();
    }
    let Ok(Some(client)) = state.server.context().clients.find_client(&id).await else {
        return Vec::new();
    };
    // Only the redirect URI this request will use, once it matches a registered one (with
    // a loopback URI's actual port): the page tells nobody the client's other origins.
    let requested = param("redirect_uri");
    let used = match requested.as_deref() {
        Some(r) => client
            .redirect_uris()
            .iter()
            .any(|registered| authgate::redirect_uri_matches(registered, r))
            .then_some(r),
        None => client.default_redirect_uri(),
    };
    used.map(|u| redirect_origins(&[u])).unwrap_or_default()
}

/// The distinct `form-action` sources for these redirect URIs: `scheme://host:port` for a
/// web origin whose host is an IP address or a plain DNS name, `scheme:` for a private-use
/// scheme (a native app's `com.example.app:/cb`, RFC 8252 §7.1); anything else (a host
/// with characters a CSP source cannot carry) is left out.
fn redirect_origins<S: AsRef<str>>(uris: &[S]) -> Vec<String> {
    let mut out: Vec<String> = uris
        .iter()
        .filter_map(|u| url::Url::parse(u.as_ref()).ok())
        .filter_map(|u| form_action_source(&u))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn form_action_source(u: &url::Url) -> Option<String> {
    let scheme_ok = |s: &str| {
        s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    };
    match u.host() {
        Some(url::Host::Domain(d))
            if !d.is_empty()
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.')) =>
        {
            Some(u.origin().ascii_serialization()).filter(|o| o != "null")
        }
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
            Some(u.origin().ascii_serialization()).filter(|o| o != "null")
        }
        None if scheme_ok(u.scheme()) && !matches!(u.scheme(), "http" | "https") => {
            Some(format!("{}:", u.scheme()))
        }
        _ => None,
    }
}

/// The signed-in user: the cookie, and the live session row it names.
struct Current {
    cookie: Session,
    record: SessionRecord,
}

impl Current {
    /// The user as the engine sees them: who, when and how they authenticated, in which
    /// session.
    fn owner(&self) -> ResourceOwner {
        ResourceOwner::new(self.cookie.sub.clone(), self.cookie.username.clone())
            .authenticated_at(self.record.auth_time)
            .amr(self.record.amr.clone())
            .session_id(self.record.sid.clone())
    }
}

/// The signed-in user: a session cookie that is ours, naming a session that has not ended
/// (logout, a new password and the user's removal end sessions in the database).
async fn session(state: &AppState, headers: &HeaderMap) -> Option<Current> {
    let now = state.inner.clock.now();
    let cookie = state.inner.sessions.open(headers, now)?;
    match state.inner.store.find_session(&cookie.sid).await {
        Ok(Some(record)) if record.is_active(now) && record.subject == cookie.sub => {
            Some(Current { cookie, record })
        }
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "session: session store failed");
            None
        }
    }
}

/// Ends a session in the database and tells its clients (back-channel logout), without
/// waiting for them.
async fn end_and_announce(state: &AppState, sid: &str) {
    match state.server.end_session(sid).await {
        Ok(Some(ended)) => {
            for (client_id, e) in &ended.failed {
                tracing::warn!(%client_id, error = %e, "no back-channel logout for the client");
            }
            state.inner.backchannel.deliver(ended.backchannel);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "logout: session store failed"),
    }
}

async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let current = session(&state, &headers).await;
    let mut approvals = Vec::new();
    if let Some(c) = &current {
        match state.inner.store.list_consents(&c.cookie.sub).await {
            Ok(list) => {
                for consent in list {
                    let name = match state.inner.store.find_client(&consent.client_id).await {
                        Ok(Some(client)) => client
                            .client_name()
                            .unwrap_or(&consent.client_id)
                            .to_owned(),
                        _ => consent.client_id.clone(),
                    };
                    let granted = civil_date(consent.granted_at);
                    let scope_list = scope_list(&state, &consent.scope);
                    approvals.push(context! { client_id => consent.client_id, name => name, scope => consent.scope.to_string(), scope_list => scope_list, granted => granted });
                }
            }
            Err(e) => tracing::error!(error = %e, "index: consent store failed"),
        }
    }
    page(
        &state,
        StatusCode::OK,
        "index.html",
        context! {
            username => current.as_ref().map(|c| c.cookie.username.clone()),
            csrf => current.map(|c| c.cookie.csrf),
            approvals => approvals,
        },
    )
}

async fn login_page(State(state): State<AppState>, OAuthRequest(req): OAuthRequest) -> Response {
    let next = local_path(req.query_value("next").ok().flatten()).to_owned();
    let hint = req.query_value("login_hint").ok().flatten().unwrap_or("");
    login_form(&state, StatusCode::OK, &next, hint, None).await
}

/// The key per-address limits count under: the IPv4 address, or the /64 of an IPv6 one
/// (one host commonly holds a whole /64, so counting single addresses would let it rotate
/// past any limit).
fn address_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The client's address, as the per-address limits count it: the socket's peer, or —
/// when that peer is a trusted proxy — the address it forwarded (see `proxies`).
pub(crate) struct PeerAddr(String);

impl axum::extract::FromRequestParts<AppState> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(
                    || "unknown".to_owned(),
                    |c| address_key(state.inner.proxies.client(c.0.ip(), &parts.headers)),
                ),
        ))
    }
}

async fn login_submit(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> Response {
    let field = |n: &str| req.form_value(n).ok().flatten().unwrap_or("").to_owned();
    let (username, password, next) = (field("username"), field("password"), field("next"));
    let next = local_path(Some(&next)).to_owned();
    let csrf_ok = state
        .inner
        .sessions
        .csrf_from(req.headers())
        .is_some_and(|c| same_token(c, &field("csrf")));
    if !csrf_ok {
        return login_form(
            &state,
            StatusCode::BAD_REQUEST,
            &next,
            &username,
            Some("Your session expired; please sign in again."),
        )
        .await;
    }
    let now = state.inner.clock.now();
    match state.inner.limiter.begin(&username, &addr, now) {
        Attempt::Refused => {
            // Failed attempts log the address, not the username: people type passwords there.
            tracing::warn!(%addr, "login refused: too many failed attempts");
            crate::admin::record_login("locked");
            let shown: String = username
                .chars()
                .take(crate::session::MAX_USERNAME)
                .collect();
            return login_form(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                &shown,
                Some("Too many failed attempts. Wait a few minutes and try again."),
            )
            .await;
        }
        Attempt::Go(0) => {}
        // Someone is guessing this user's password elsewhere: each attempt waits.
        Attempt::Go(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
    }
    let unavailable = || {
        plain_error(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The sign-in service is unavailable; try again shortly.",
        )
    };
    // A username with a control character names nobody (and PostgreSQL cannot even look
    // one up): wrong credentials, without asking the store.
    let lookup = if authgate::identifier::has_control_characters(&username) {
        Ok(None)
    } else {
        state
            .inner
            .store
            .authenticate_user(&username, &password)
            .await
    };
    let owner = match lookup {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "login: user store failed");
            return unavailable();
        }
    };
    let Some(owner) = owner else {
        tracing::info!(%addr, outcome = "bad_credentials", "login");
        crate::admin::record_login("bad_credentials");
        return login_form(
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            &username,
            Some("Wrong username or password."),
        )
        .await;
    };
    state.inner.limiter.succeeded(&username, &addr);
    crate::admin::record_login("ok");
    let username = owner.username.clone().unwrap_or(username);
    // Signing in again as the same user (prompt=login, max_age) renews the session: same
    // sid, its clients kept, a new auth_time. As someone else, the old session ends.
    let (sid, clients) = match session(&state, req.headers()).await {
        Some(c) if c.record.subject == owner.subject => (c.record.sid, c.record.clients),
        Some(c) => {
            end_and_announce(&state, &c.record.sid).await;
            (random_token(), Vec::new())
        }
        None => (random_token(), Vec::new()),
    };
    let mut record = SessionRecord::new(sid.clone(), owner.subject.clone(), now, now + SESSION_TTL)
        .username(username.clone())
        .amr(["pwd"]);
    record.clients = clients;
    if let Err(e) = state.inner.store.save_session(&record).await {
        tracing::error!(error = %e, "login: session store failed");
        return unavailable();
    }
    tracing::info!(username = %username.escape_debug(), outcome = "ok", "login");
    let s = Session {
        sid,
        sub: owner.subject,
        username,
        exp: now + SESSION_TTL,
        csrf: random_token(),
    };
    let cookie = state
        .inner
        .sessions
        .set_cookie(&state.inner.sessions.seal(&s), SESSION_TTL);
    with_cookie(see_other(&next), &cookie)
}

/// Whether a form's `csrf` field is the session's CSRF token.
fn form_csrf_matches(s: &Session, req: &OAuth2Request) -> bool {
    same_token(&s.csrf, req.form_value("csrf").ok().flatten().unwrap_or(""))
}

fn expired_form(state: &AppState) -> Response {
    plain_error(
        state,
        StatusCode::BAD_REQUEST,
        "Invalid form",
        "The form expired or did not come from this server; go back and try again.",
    )
}

fn clear_session_cookie(state: &AppState, res: Response) -> Response {
    with_cookie(res, &state.inner.sessions.set_cookie("", 0))
}

async fn logout(State(state): State<AppState>, OAuthRequest(req): OAuthRequest) -> Response {
    if let Some(c) = session(&state, req.headers()).await {
        if !form_csrf_matches(&c.cookie, &req) {
            return expired_form(&state);
        }
        end_and_announce(&state, &c.record.sid).await;
    }
    clear_session_cookie(&state, see_other("/"))
}

fn uri_path_and_query(req: &OAuth2Request) -> String {
    req.uri()
        .path_and_query()
        .map_or_else(|| "/authorize".to_owned(), ToString::to_string)
}

/// The authorization request to come back to after signing in: without `prompt=login` /
/// `select_account` and `max_age=0`, which the sign-in just satisfied (asked again, they
/// would ask for a sign-in forever).
fn after_login(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_owned();
    };
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "max_age" if v == "0" => {}
            "prompt" => {
                let kept: Vec<&str> = v
                    .split(' ')
                    .filter(|p| !p.is_empty() && *p != "login" && *p != "select_account")
                    .collect();
                if !kept.is_empty() {
                    out.append_pair("prompt", &kept.join(" "));
                }
            }
            _ => {
                out.append_pair(&k, &v);
            }
        }
    }
    format!("{path}?{}", out.finish())
}

/// The engine's answer to an authorization request the user approved (`Some`) or denied.
async fn authorization_answer(
    state: &AppState,
    req: &OAuth2Request,
    owner: Option<&ResourceOwner>,
    username: &str,
    how: &str,
) -> Response {
    let client_id = presented_client_id(req).unwrap_or_default();
    match state.server.create_authorization_response(req, owner).await {
        Ok(res) => {
            tracing::info!(client_id = %client_id.escape_debug(), username = %username.escape_debug(), outcome = how, "authorization");
            into_response(res)
        }
        Err(AuthorizationError::Invalid(e)) => error_page(state, &e),
        Err(e) => {
            tracing::info!(client_id = %client_id.escape_debug(), username = %username.escape_debug(), outcome = %e.error().code(), "authorization");
            into_response(e.into_response())
        }
    }
}

async fn authorize_get(State(state): State<AppState>, OAuthRequest(req): OAuthRequest) -> Response {
    let request = match state.server.validate_authorization_request(&req).await {
        Ok(r) => r,
        Err(AuthorizationError::Invalid(e)) => return error_page(&state, &e),
        // RFC 9700 §4.11.2: the server redirects without the user's involvement only to
        // redirect URIs it trusts; a self-registered client's are its own claim, so its
        // errors are shown here instead.
        Err(e) if untrusted_redirect(&state, &req).await => return error_page(&state, e.error()),
        Err(e) => return into_response(e.into_response()),
    };
    let current = session(&state, req.headers()).await;
    let now = state.inner.clock.now();
    // OpenID Connect Core §3.1.2.3: a sign-in is needed without a session, for prompt=login
    // or select_account, past max_age, or when id_token_hint names someone else.
    let signed_in = current.filter(|c| {
        !request.login_required(Some(c.record.auth_time), now)
            && state.server.hint_names(&request, &c.record.subject)
    });
    let untrusted = request.client.is_self_registered();
    let fail = |code: ErrorCode| {
        if untrusted {
            // As above (RFC 9700 §4.11.2): no silent redirect to a self-registered
            // client's URI.
            return error_page(
                &state,
                &OAuth2Error::with_description(
                    code,
                    "this app registered itself, so the answer is shown here rather than sent to it without you",
                ),
            );
        }
        into_response(state.server.create_authorization_error(
            &req,
            &request,
            OAuth2Error::new(code),
        ))
    };
    let Some(c) = signed_in else {
        if request.has_prompt("none") {
            return fail(ErrorCode::LoginRequired);
        }
        let hint = request.params.login_hint.as_deref().unwrap_or("");
        return login_form(
            &state,
            StatusCode::OK,
            &after_login(&uri_path_and_query(&req)),
            hint,
            None,
        )
        .await;
    };
    let consent = match state.server.consent_required(&request, &c.cookie.sub).await {
        Ok(needed) => needed,
        Err(e) => return into_response(state.server.create_authorization_error(&req, &request, e)),
    };
    if !consent {
        // Approved before for this scope, or a first-party client: no page.
        let owner = c.owner();
        return authorization_answer(&state, &req, Some(&owner), &c.cookie.username, "remembered")
            .await;
    }
    if request.has_prompt("none") {
        return fail(ErrorCode::ConsentRequired);
    }
    let client_name = request
        .client
        .client_name()
        .unwrap_or(request.client.client_id())
        .to_owned();
    let redirect_host = url::Url::parse(&request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| request.redirect_uri.clone());
    let scopes: Vec<&str> = request.scope.iter().collect();
    let scope_list = scope_list(&state, &request.scope);
    let links = client_links(request.client.as_ref());
    let logo = client_logo(&state, request.client.as_ref()).await;
    // The decision's POST is answered with a redirect to the client: its origin must be
    // a form-action target, or the browser stops there.
    page_with(
        &state,
        StatusCode::OK,
        "consent.html",
        context! { client_name => client_name, scopes => scopes, scope_list => scope_list, links => links, logo_uri => logo.as_deref(), username => c.cookie.username, csrf => c.cookie.csrf, redirect_host => redirect_host, unverified => self_registered(request.client.as_ref()), client_host => document_host(request.client.as_ref()) },
        &redirect_origins(&[request.redirect_uri.as_str()]),
        logo.is_some().then_some("data:"),
    )
}

/// The built-in descriptions of the OpenID Connect scopes (Core §5.4, §11), in the words
/// of the person asked.
const STANDARD_SCOPES: [(&str, &str); 6] = [
    (
        "openid",
        "Confirm who you are: sign you in with your account here",
    ),
    (
        "profile",
        "Your name and basic profile (such as picture, locale and birthdate)",
    ),
    ("email", "Your email address"),
    ("address", "Your postal address"),
    ("phone", "Your phone number"),
    (
        "offline_access",
        "Keep access while you are not using it, until you revoke it",
    ),
];

/// Each scope with its description for the pages: the config's `[scope_descriptions]`,
/// else the built-in one, else none (the page shows the name alone).
fn scope_list(state: &AppState, scope: &Scope) -> Vec<minijinja::Value> {
    scope
        .iter()
        .map(|name| {
            let description = state
                .inner
                .scope_descriptions
                .get(name)
                .map(String::as_str)
                .or_else(|| {
                    STANDARD_SCOPES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, d)| *d)
                });
            context! { name => name, description => description }
        })
        .collect()
}

/// The links a client registered about itself (`client_uri`, `policy_uri`, `tos_uri`:
/// RFC 7591 §2), https or loopback http only, for the consent pages; what it claims, shown
/// as such.
fn client_links(client: &dyn Client) -> Vec<minijinja::Value> {
    [
        ("client_uri", "Website"),
        ("policy_uri", "Privacy policy"),
        ("tos_uri", "Terms of service"),
    ]
    .into_iter()
    .filter_map(|(member, label)| {
        let url = displayable(client.metadata_str(member)?)?;
        Some(context! { label => label, url => url.as_str() })
    })
    .collect()
}

/// The client's logo for the consent pages, as a `data:` URL (see `crate::logos`: the page
/// loads nothing from elsewhere).
async fn client_logo(state: &AppState, client: &dyn Client) -> Option<Arc<str>> {
    let url = logo_to_fetch(client)?;
    state
        .inner
        .logos
        .data_url(url.as_str(), client.is_self_registered())
        .await
}

/// The client's `logo_uri` when the pages may show it: https (or http on a loopback host);
/// for a client taken from its metadata document, only on the document's host; for one
/// that registered itself, only on the host of one of its redirect URIs (RFC 7591 §5: a
/// rogue client should not show a logo from wherever it likes).
fn logo_to_fetch(client: &dyn Client) -> Option<url::Url> {
    let url = displayable(client.metadata_str("logo_uri")?)?;
    let same_host = |other: &str| {
        url::Url::parse(other)
            .is_ok_and(|o| o.host_str().is_some() && o.host_str() == url.host_str())
    };
    let from_document = client
        .metadata()
        .is_some_and(|m| m.contains_key(authgate::client::metadata_document::DOCUMENT_CLIENT_KEY));
    let fit = if from_document {
        same_host(client.client_id())
    } else if client.is_self_registered() {
        client.redirect_uris().iter().any(|r| same_host(r))
    } else {
        true
    };
    fit.then_some(url)
}

/// A Unix time as its UTC calendar date, `YYYY-MM-DD`.
fn civil_date(unix_seconds: i64) -> String {
    let mut date = crate::utc(unix_seconds);
    date.truncate("YYYY-MM-DD".len());
    date
}

/// Whether the request's client registered itself (or comes from its metadata document):
/// its redirect URI is not one the server vouches for.
async fn untrusted_redirect(state: &AppState, req: &OAuth2Request) -> bool {
    let Some(id) = presented_client_id(req) else {
        return false;
    };
    matches!(
        state.server.context().clients.find_client(&id).await,
        Ok(Some(c)) if c.is_self_registered()
    )
}

/// Whether a client registered itself (RFC 7591) or is taken from its metadata document:
/// its name is what it claims, which the pages say (RFC 9700 §4.15 on impersonation).
fn self_registered(client: &dyn Client) -> bool {
    client.is_self_registered()
}

/// The host a metadata document client is published at (its `client_id` is the URL), for
/// the pages to show prominently.
fn document_host(client: &dyn Client) -> Option<String> {
    let is_document = client
        .metadata()
        .is_some_and(|m| m.contains_key(authgate::client::metadata_document::DOCUMENT_CLIENT_KEY));
    is_document
        .then(|| {
            url::Url::parse(client.client_id())
                .ok()?
                .host_str()
                .map(str::to_owned)
        })
        .flatten()
}

/// A form POST that is not one of this server's own forms (they carry `csrf` and
/// `confirm`): a request
/// sent by POST, which OpenID Connect Core §3.1.2.1 and RP-Initiated Logout §2 require
/// servers to take. It is answered with a 303 to the same path with the form as the query,
/// so the browser comes back by GET — a top-level navigation, which carries the
/// `SameSite=Lax` session cookie that a cross-site POST does not.
fn foreign_post(req: &OAuth2Request) -> Option<Response> {
    let ours = req
        .form_pairs()
        .iter()
        .any(|(k, _)| k == "csrf" || k == "confirm");
    if req.method() != http::Method::POST || ours {
        return None;
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(req.query_pairs().iter().chain(req.form_pairs()));
    Some(see_other(&format!(
        "{}?{}",
        req.uri().path(),
        query.finish()
    )))
}

async fn authorize_post(
    State(state): State<AppState>,
    OAuthRequest(req): OAuthRequest,
) -> Response {
    if let Some(again) = foreign_post(&req) {
        return again;
    }
    let Some(c) = session(&state, req.headers()).await else {
        return login_form(
            &state,
            StatusCode::UNAUTHORIZED,
            &uri_path_and_query(&req),
            "",
            Some("Please sign in first."),
        )
        .await;
    };
    if !form_csrf_matches(&c.cookie, &req) {
        return expired_form(&state);
    }
    let owner = c.owner();
    let (decision, how) = match req.form_value("confirm").ok().flatten() {
        Some("yes") => (Some(&owner), "approved"),
        Some("no") => (None, "denied"),
        _ => {
            return plain_error(
                &state,
                StatusCode::BAD_REQUEST,
                "Invalid form",
                "Choose Approve or Deny.",
            )
        }
    };
    authorization_answer(&state, &req, decision, &c.cookie.username, how).await
}

/// The user withdraws an approval: it is forgotten and the client's tokens for the user
/// are revoked.
async fn revoke_consent(
    State(state): State<AppState>,
    OAuthRequest(req): OAuthRequest,
) -> Response {
    let Some(c) = session(&state, req.headers()).await else {
        return see_other("/login");
    };
    if !form_csrf_matches(&c.cookie, &req) {
        return expired_form(&state);
    }
    let client_id = req.form_value("client_id").ok().flatten().unwrap_or("");
    match state.server.revoke_consent(&c.cookie.sub, client_id).await {
        Ok(_) => {
            tracing::info!(client_id = %client_id.escape_debug(), username = %c.cookie.username.escape_debug(), "consent revoked");
            see_other("/")
        }
        Err(e) => error_page(&state, &e),
    }
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): GET or POST from a
/// client; a request tied to the browser's session (its `id_token_hint` names it) ends it
/// at once, any other asks the user first. Then back to the client's registered
/// `post_logout_redirect_uri`, or a "signed out" page.
async fn end_session(State(state): State<AppState>, OAuthRequest(req): OAuthRequest) -> Response {
    if let Some(again) = foreign_post(&req) {
        return again;
    }
    let request = match state.server.validate_end_session_request(&req).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, &e),
    };
    let done = |state: &AppState| match request.redirect_uri() {
        Some(uri) => see_other(&uri),
        None => page(
            state,
            StatusCode::OK,
            "logout.html",
            context! { signed_out => true },
        ),
    };
    let Some(c) = session(&state, req.headers()).await else {
        return done(&state);
    };
    // Our own confirmation form posts `confirm`.
    match req.form_value("confirm").ok().flatten() {
        Some(answer) => {
            if !form_csrf_matches(&c.cookie, &req) {
                return expired_form(&state);
            }
            if answer != "yes" {
                return see_other("/");
            }
        }
        None if request.is_tied_to(state.server.context(), &c.record) => {}
        None => {
            let carried: Vec<(String, String)> = [
                "id_token_hint",
                "client_id",
                "post_logout_redirect_uri",
                "state",
                "ui_locales",
                "logout_hint",
            ]
            .into_iter()
            .filter_map(|n| {
                req.authorization_value(n)
                    .ok()
                    .flatten()
                    .map(|v| (n.to_owned(), v.to_owned()))
            })
            .collect();
            let client_name = request
                .client
                .as_ref()
                .map(|cl| cl.client_name().unwrap_or(cl.client_id()).to_owned());
            let targets = request
                .redirect_uri()
                .map(|u| redirect_origins(&[u]))
                .unwrap_or_default();
            return page_to(
                &state,
                StatusCode::OK,
                "logout.html",
                context! { username => c.cookie.username, csrf => c.cookie.csrf, fields => carried, client_name => client_name },
                &targets,
            );
        }
    }
    end_and_announce(&state, &c.record.sid).await;
    tracing::info!(username = %c.cookie.username.escape_debug(), "logout");
    clear_session_cookie(&state, done(&state))
}

// ----- the device flow (RFC 8628) ---------------------------------------------------------

/// Wrong user codes a session may enter in five minutes, and an address: with 20^8 codes
/// and ten-minute lifetimes, guessing a live one stays hopeless (RFC 8628 §5.1).
const DEVICE_TRIES_PER_SESSION: usize = 10;
const DEVICE_TRIES_PER_ADDR: usize = 30;

/// The device authorization endpoint (RFC 8628 §3.1).
async fn device_authorization(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> OAuthResponse {
    let run = state
        .server
        .create_endpoint_response("device_authorization", &req);
    OAuthResponse(limited(&state, &addr, &req, run).await)
}

/// The revocation endpoint (RFC 7009), behind the client authentication limits.
async fn revoke(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> OAuthResponse {
    let run = state.server.create_revocation_response(&req);
    OAuthResponse(limited(&state, &addr, &req, run).await)
}

/// The introspection endpoint (RFC 7662), behind the client authentication limits.
async fn introspect(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> OAuthResponse {
    let run = state.server.create_introspection_response(&req);
    OAuthResponse(limited(&state, &addr, &req, run).await)
}

/// Runs an endpoint where clients authenticate, within the failure limits: over them, 429
/// with `Retry-After` and nothing checked; a failed authentication (`invalid_client`)
/// counts. Reaching a limit is logged once, not per refused request.
async fn limited(
    state: &AppState,
    addr: &str,
    req: &OAuth2Request,
    run: impl std::future::Future<Output = OAuth2Response>,
) -> OAuth2Response {
    let limits = &state.inner.client_auth;
    let now = state.inner.clock.now();
    let blocked = if limits.quiet() {
        None
    } else {
        limits.blocked(&presented_client_id(req).unwrap_or_default(), addr, now)
    };
    if let Some(wait) = blocked {
        let mut res = OAuth2Response::json(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": "too many failed client authentications; try again later"
            }),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            res.headers.insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    // A request dropped before it answers (the client hung up, perhaps while a slow secret
    // check ran on its behalf) counts as a failure: hanging up must not be a way around
    // the count.
    let mut pending = Unanswered {
        limits,
        req,
        addr,
        now,
        answered: false,
    };
    let res = run.await;
    pending.answered = true;
    let failed = res.status == StatusCode::UNAUTHORIZED
        || (res.status == StatusCode::BAD_REQUEST
            && res
                .json_body()
                .is_some_and(|b| b["error"] == "invalid_client"));
    if failed {
        count_client_auth_failure(limits, req, addr, now);
    } else if res.status == StatusCode::OK {
        limits.succeeded(addr, &presented_credentials(req), now);
    }
    res
}

/// What a request presents to authenticate its client, as sent (nothing decoded or
/// copied: this runs on every answered token request): the Authorization header, and the
/// form's `client_id`, `client_secret` and `client_assertion`.
fn presented_credentials(req: &OAuth2Request) -> [&[u8]; 4] {
    let form = |name: &str| {
        req.form_value(name)
            .ok()
            .flatten()
            .map_or(&b""[..], str::as_bytes)
    };
    [
        req.headers()
            .get(header::AUTHORIZATION)
            .map_or(&b""[..], HeaderValue::as_bytes),
        form("client_id"),
        form("client_secret"),
        form("client_assertion"),
    ]
}

/// A client-authenticating request under way; counted as failed if dropped unanswered,
/// unless the same credentials authenticated from the same address within the last minute
/// (then its check is a cached one, and it guesses nothing).
struct Unanswered<'a> {
    limits: &'a ClientAuthLimits,
    req: &'a OAuth2Request,
    addr: &'a str,
    now: i64,
    answered: bool,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if !self.answered {
            let credentials = presented_credentials(self.req);
            if !self
                .limits
                .recently_succeeded(self.addr, &credentials, self.now)
            {
                count_client_auth_failure(self.limits, self.req, self.addr, self.now);
            }
        }
    }
}

fn count_client_auth_failure(limits: &ClientAuthLimits, req: &OAuth2Request, addr: &str, now: i64) {
    let client_id = presented_client_id(req).unwrap_or_default();
    if limits.failed(&client_id, addr, now) {
        tracing::warn!(client_id = %client_id.escape_debug(), %addr, "client authentication refused from now on for a while: too many failures");
    }
}

/// The verification page's entry form, with an error when a code was not accepted.
fn device_entry(
    state: &AppState,
    status: StatusCode,
    c: &Current,
    typed: &str,
    error: Option<&str>,
) -> Response {
    page(
        state,
        status,
        "device.html",
        context! { step => "enter", username => c.cookie.username, csrf => c.cookie.csrf, user_code => typed, error => error },
    )
}

/// Looks up the code a user typed, within the attempt limits: the pending request, or the
/// page to answer instead (the entry form with a message that says nothing of other codes).
async fn device_lookup(
    state: &AppState,
    c: &Current,
    addr: &str,
    typed: &str,
) -> Result<DeviceRequest, Response> {
    let now = state.inner.clock.now();
    let limiter = &state.inner.device_limiter;
    if !limiter.begin(&c.record.sid, Some(addr), now) {
        tracing::warn!(%addr, "device page: too many wrong user codes");
        return Err(device_entry(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            c,
            "",
            Some("Too many wrong codes. Wait a few minutes and try again."),
        ));
    }
    match state.server.find_device_request(typed).await {
        Ok(Some(r)) => {
            limiter.give_back(&c.record.sid, Some(addr));
            Ok(r)
        }
        Ok(None) => Err(device_entry(
            state,
            StatusCode::BAD_REQUEST,
            c,
            typed,
            Some("That code is not valid or has expired. Check the code on your device and try again."),
        )),
        Err(e) => Err(error_page(state, &e)),
    }
}

async fn device_confirm(state: &AppState, c: &Current, request: &DeviceRequest) -> Response {
    let client_name = request
        .client
        .client_name()
        .unwrap_or(request.client.client_id())
        .to_owned();
    let scopes: Vec<&str> = request.scope.iter().collect();
    let scope_list = scope_list(state, &request.scope);
    let links = client_links(request.client.as_ref());
    let logo = client_logo(state, request.client.as_ref()).await;
    page_with(
        state,
        StatusCode::OK,
        "device.html",
        context! { step => "confirm", client_name => client_name, scopes => scopes, scope_list => scope_list, links => links, logo_uri => logo.as_deref(), username => c.cookie.username, csrf => c.cookie.csrf, user_code => request.user_code(), unverified => self_registered(request.client.as_ref()) },
        &[],
        logo.is_some().then_some("data:"),
    )
}

/// The verification page (RFC 8628 §3.3): signed-in users only; with `user_code` in the
/// query (`verification_uri_complete`) it goes straight to the confirmation, which shows
/// the code so the user can check it against the device.
async fn device_page(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> Response {
    let Some(c) = session(&state, req.headers()).await else {
        return login_form(&state, StatusCode::OK, &uri_path_and_query(&req), "", None).await;
    };
    match req.query_value("user_code").ok().flatten() {
        Some(typed) if !typed.trim().is_empty() => {
            match device_lookup(&state, &c, &addr, typed).await {
                Ok(request) => device_confirm(&state, &c, &request).await,
                Err(page) => page,
            }
        }
        _ => device_entry(&state, StatusCode::OK, &c, "", None),
    }
}

/// The verification page's forms: `user_code` alone looks the code up; with
/// `confirm=yes|no` the user decides.
async fn device_submit(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> Response {
    let typed = req
        .form_value("user_code")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let Some(c) = session(&state, req.headers()).await else {
        let back = format!(
            "/device?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("user_code", &typed)
                .finish()
        );
        return login_form(
            &state,
            StatusCode::UNAUTHORIZED,
            &back,
            "",
            Some("Please sign in first."),
        )
        .await;
    };
    if !form_csrf_matches(&c.cookie, &req) {
        return expired_form(&state);
    }
    let request = match device_lookup(&state, &c, &addr, &typed).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let owner = c.owner();
    let client_id = request.client.client_id().to_owned();
    let decided = match req.form_value("confirm").ok().flatten() {
        None => return device_confirm(&state, &c, &request).await,
        Some("yes") => state.server.approve_device_request(&request, &owner).await,
        Some("no") => state.server.deny_device_request(&request).await,
        Some(_) => {
            return plain_error(
                &state,
                StatusCode::BAD_REQUEST,
                "Invalid form",
                "Choose Approve or Deny.",
            )
        }
    };
    let approved = req.form_value("confirm").ok().flatten() == Some("yes");
    match decided {
        Ok(true) => {
            tracing::info!(client_id = %client_id.escape_debug(), username = %c.cookie.username.escape_debug(), outcome = if approved { "approved" } else { "denied" }, "device authorization");
            let client_name = request
                .client
                .client_name()
                .unwrap_or(&client_id)
                .to_owned();
            page(
                &state,
                StatusCode::OK,
                "device.html",
                context! { step => "done", approved => approved, client_name => client_name, username => c.cookie.username },
            )
        }
        Ok(false) => device_entry(
            &state,
            StatusCode::CONFLICT,
            &c,
            "",
            Some("That request was already answered or has expired. Start again on your device."),
        ),
        Err(e) => error_page(&state, &e),
    }
}

/// UserInfo (OpenID Connect Core §5.3).
async fn userinfo(State(state): State<AppState>, OAuthRequest(req): OAuthRequest) -> OAuthResponse {
    OAuthResponse(
        state
            .server
            .create_endpoint_response("userinfo", &req)
            .await,
    )
}

/// The token endpoint, with a log line per request: client, grant, outcome, latency.
// Latency is measured on the monotonic clock; the injected Clock is for protocol time.
#[allow(clippy::disallowed_methods)]
async fn token(
    State(state): State<AppState>,
    PeerAddr(addr): PeerAddr,
    OAuthRequest(req): OAuthRequest,
) -> Response {
    let started = std::time::Instant::now();
    let run = CLIENT_ADDR.scope(addr.clone(), state.server.create_token_response(&req));
    let res = limited(&state, &addr, &req, run).await;
    // The line and the counters are made only when someone reads them.
    let log = tracing::enabled!(tracing::Level::INFO);
    if log || crate::admin::enabled() {
        let grant = req.form_value("grant_type").ok().flatten().unwrap_or("-");
        let outcome: std::borrow::Cow<'static, str> = if res.status == StatusCode::OK {
            "issued".into()
        } else {
            res.json_body()
                .and_then(|b| b["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| res.status.to_string())
                .into()
        };
        crate::admin::record_token(grant, (res.status != StatusCode::OK).then_some(&*outcome));
        if log {
            let client_id = presented_client_id(&req).unwrap_or_else(|| "-".to_owned());
            // The request's one line: the generic one at the end is left out for it.
            tracing::info!(client_id = %client_id.escape_debug(), grant_type = %grant.escape_debug(), outcome = %outcome.escape_debug(), status = res.status.as_u16(), latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX), "token");
        }
    }
    let mut response = OAuthResponse(res).into_response();
    response.extensions_mut().insert(OwnLogLine);
    response
}

/// The public signing keys (RFC 7517), as `jwks_uri` advertises.
async fn jwks(State(state): State<AppState>, OAuthRequest(req): OAuthRequest) -> OAuthResponse {
    OAuthResponse(state.server.create_endpoint_response("jwks", &req).await)
}

async fn api_me(authgate_axum::CurrentToken(t): authgate_axum::CurrentToken) -> Json<Me> {
    Json(Me {
        client_id: t.client_id,
        scope: t.scope.to_string(),
        sub: t.subject,
        username: t.username,
    })
}

/// `/api/me`'s answer, written straight from the token's fields (keys in the order a JSON
/// object built with `json!` had: sorted).
#[derive(serde::Serialize)]
struct Me {
    client_id: String,
    scope: String,
    sub: Option<String>,
    username: Option<String>,
}

/// The request layer (`request_scope`): every request gets an id, echoed in
/// `X-Request-Id`, and runs labelled with it, its method and path (never the query: it
/// can carry codes), so the engine's events during the request name it too; a line at
/// the end gives status and latency.
fn request_layers<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(crate::request_scope::RequestScopeLayer)
}

/// The identifier of `/api/me` as a protected resource.
pub(crate) fn me_resource(issuer: &str) -> String {
    format!("{}/api/me", issuer.trim_end_matches('/'))
}

/// The resources of `[[resources]]`, and `/api/me` unless listed there: a client may ask
/// for a token aimed at it alone (an MCP client names the resource it calls), carrying at
/// most `profile` and the OpenID Connect scopes.
fn resource_registry(config: &Config) -> Result<authgate::ResourceRegistry, String> {
    let mut registry = authgate::ResourceRegistry::new();
    let me = me_resource(&config.issuer);
    if !config.resources.iter().any(|r| r.identifier == me) {
        let r = authgate::RegisteredResource::new(&me)
            .map_err(|_| format!("issuer: '{me}' is not a resource identifier"))?
            .scope(authgate::Scope::parse("profile").map_err(|e| e.to_string())?);
        registry = registry.with(r);
    }
    for r in &config.resources {
        registry = registry.with(r.registered()?);
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::{
        civil_date, local_path, logo_to_fetch, redirect_origins, ClientAuthLimits, Unanswered,
    };

    #[test]
    fn a_self_registered_clients_logo_only_from_its_redirect_host_rfc7591_5() {
        let client = |logo: &str, registered: bool| {
            let mut c = authgate::ClientRecord::public("c")
                .redirect_uris(vec!["https://app.example/cb".to_owned()])
                .with_metadata("logo_uri", logo);
            if registered {
                c = c.with_metadata(authgate::client::REGISTRATION_KEY, true);
            }
            c
        };
        let fetched = |logo: &str, registered: bool| {
            logo_to_fetch(&client(logo, registered)).map(|u| u.to_string())
        };
        // A client the operator configured: any https host.
        assert_eq!(
            fetched("https://cdn.example/l.png", false).as_deref(),
            Some("https://cdn.example/l.png")
        );
        // A self-registered one: its redirect URIs' hosts only.
        assert_eq!(fetched("https://cdn.example/l.png", true), None);
        assert_eq!(
            fetched("https://app.example/l.png", true).as_deref(),
            Some("https://app.example/l.png")
        );
        // A metadata document's client: the document's host only, whatever its redirects.
        let document = |logo: &str| {
            let c = authgate::ClientRecord::public("https://docs.example/client.json")
                .redirect_uris(vec!["https://app.example/cb".to_owned()])
                .with_metadata("logo_uri", logo)
                .with_metadata(
                    authgate::client::metadata_document::DOCUMENT_CLIENT_KEY,
                    true,
                );
            logo_to_fetch(&c).map(|u| u.to_string())
        };
        assert_eq!(document("https://app.example/l.png"), None);
        assert_eq!(
            document("https://docs.example/l.png").as_deref(),
            Some("https://docs.example/l.png")
        );
        // Never plain http off loopback, nor another scheme.
        assert_eq!(fetched("http://cdn.example/l.png", false), None);
        assert_eq!(fetched("data:image/png;base64,AAAA", false), None);
        assert_eq!(
            fetched("http://127.0.0.1:8080/l.png", false).as_deref(),
            Some("http://127.0.0.1:8080/l.png")
        );
    }

    #[test]
    fn unix_times_become_their_utc_dates() {
        for (t, date) in [
            (0, "1970-01-01"),
            (951_782_400, "2000-02-29"),
            (1_709_164_799, "2024-02-28"),
            (1_709_251_199, "2024-02-29"),
            (1_798_761_599, "2026-12-31"),
            (4_107_542_400, "2100-03-01"),
        ] {
            assert_eq!(civil_date(t), date, "{t}");
        }
    }
    use authgate::OAuth2Request;

    fn token_request(body: &'static str) -> OAuth2Request {
        let req = axum::http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(bytes::Bytes::from_static(body.as_bytes()))
            .unwrap();
        OAuth2Request::from_http(req, 65536).unwrap()
    }

    /// A client that hangs up while its authentication is checked (the handler is dropped
    /// unanswered) is counted as failing, so hanging up is no way around the limits; an
    /// answered request is counted only by its answer.
    #[test]
    fn a_request_dropped_unanswered_counts_as_a_failed_client_authentication() {
        let req = token_request("grant_type=client_credentials&client_id=svc&client_secret=x");
        let limits = ClientAuthLimits::new(2, 50, 300);
        for _ in 0..2 {
            let pending = Unanswered {
                limits: &limits,
                req: &req,
                addr: "192.0.2.7",
                now: 1000,
                answered: false,
            };
            drop(pending);
        }
        assert!(limits.blocked("svc", "192.0.2.7", 1000).is_some());
        assert!(limits.blocked("svc", "192.0.2.8", 1000).is_none());

        let answered = ClientAuthLimits::new(2, 50, 300);
        for _ in 0..2 {
            let mut pending = Unanswered {
                limits: &answered,
                req: &req,
                addr: "192.0.2.7",
                now: 1000,
                answered: false,
            };
            pending.answered = true;
            drop(pending);
        }
        assert!(
            answered.quiet(),
            "answered requests are not counted by the guard"
        );
    }

    #[test]
    fn a_drop_just_after_the_pair_authenticated_is_not_counted() {
        let req = token_request("grant_type=client_credentials&client_id=svc&client_secret=x");
        let guess = token_request("grant_type=client_credentials&client_id=svc&client_secret=y");
        let limits = ClientAuthLimits::new(2, 50, 300);
        limits.succeeded("192.0.2.7", &super::presented_credentials(&req), 1000);
        let drop_at = |req: &OAuth2Request, addr: &'static str, now: i64| {
            drop(Unanswered {
                limits: &limits,
                req,
                addr,
                now,
                answered: false,
            });
        };
        // The same secret hung up within the minute after its success, from the same
        // address: not counted.
        for _ in 0..5 {
            drop_at(&req, "192.0.2.7", 1059);
        }
        assert!(limits.quiet());
        // Another secret from that address counts: a success does not cover guesses.
        drop_at(&guess, "192.0.2.7", 1001);
        assert!(!limits.quiet());
        drop_at(&guess, "192.0.2.7", 1001);
        assert!(limits.blocked("svc", "192.0.2.7", 1001).is_some());
        // From another address, or a minute later, the same secret's drops count again.
        let fresh = ClientAuthLimits::new(2, 50, 300);
        fresh.succeeded("192.0.2.7", &super::presented_credentials(&req), 1000);
        for (addr, now) in [("192.0.2.8", 1000), ("192.0.2.7", 1060)] {
            drop(Unanswered {
                limits: &fresh,
                req: &req,
                addr,
                now,
                answered: false,
            });
        }
        assert!(!fresh.quiet());
    }

    #[test]
    fn form_action_sources_of_redirect_uris() {
        assert_eq!(
            redirect_origins(&[
                "https://app.example/cb",
                "https://app.example/other",
                "http://127.0.0.1:53123/cb",
                "http://[::1]:8080/cb",
                "com.example.app:/cb",
            ]),
            [
                "com.example.app:",
                "http://127.0.0.1:53123",
                "http://[::1]:8080",
                "https://app.example",
            ]
        );
        // Hosts a CSP source cannot carry are left out, never written into the header.
        for odd in [
            "https://*/cb",
            "https://x;sandbox/cb",
            "https://a,b/cb",
            "not a uri",
        ] {
            assert!(redirect_origins(&[odd]).is_empty(), "{odd}");
        }
    }

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(
            local_path(Some("/authorize?a=1&b=%20")),
            "/authorize?a=1&b=%20"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "/\t/evil.example",
            "/\t\\evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/x\\y",
            "evil.example",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
