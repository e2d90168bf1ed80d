//! JWT access tokens (RFC 9068) through the engine, each checked from the test side with
//! `jsonwebtoken` against the published key set: header, claims, audience, and revocation
//! still reaching introspection and the server's own protectors.
#![cfg(feature = "jose")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::jose::{self, KeyEncryptionKey, RotationPolicy};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

const ISSUER: &str = "https://auth.example";
const API: &str = "https://api.example/";
const OPAQUE_API: &str = "https://opaque.example/";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn server_with(format: AccessTokenFormat, alg: Option<jose::Algorithm>) -> AuthorizationServer {
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("web", "secret")
            .redirect_uris(["https://app.example/cb"])
            .grant_types(["authorization_code", "refresh_token", "client_credentials"])
            .response_types(["code"])
            .scope("read write openid"),
    );
    let mut config = ServerConfig::new(ISSUER).refresh_tokens(true);
    config.access_token_format = format;
    config.resources = ResourceRegistry::new()
        .with(
            RegisteredResource::new(API)
                .unwrap()
                .scope("read".parse().unwrap())
                .access_token_format(AccessTokenFormat::Jwt),
        )
        .with(RegisteredResource::new(OPAQUE_API).unwrap());
    let mut policy = RotationPolicy::default();
    policy.algorithms = vec![
        jose::Algorithm::RS256,
        jose::Algorithm::ES256,
        jose::Algorithm::EdDSA,
    ];
    let mut server = AuthorizationServer::new(store.stores(), config)
        .with_signing_keys(KeyEncryptionKey::generate(&OsRng), policy);
    if let Some(alg) = alg {
        server = server.with_access_token_algorithm(alg);
    }
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new());
    server
}

fn server() -> AuthorizationServer {
    server_with(AccessTokenFormat::Opaque, None)
}

fn post(path: &str, body: &str) -> OAuth2Request {
    let auth = base64::engine::general_purpose::STANDARD.encode("web:secret");
    let req = http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {auth}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    OAuth2Request::from_http(req, 65536).unwrap()
}

async fn token(s: &AuthorizationServer, body: &str) -> Value {
    let res = s.create_token_response(&post("/token", body)).await;
    let body = res.json_body().unwrap();
    assert_eq!(res.status, 200, "{body}");
    body
}

async fn introspect(s: &AuthorizationServer, token: &str) -> Value {
    s.create_introspection_response(&post("/introspect", &format!("token={token}")))
        .await
        .json_body()
        .unwrap()
}

/// Checks `jwt` with `jsonwebtoken` against the server's published keys, as a resource
/// would: the signature, `typ`, `iss`, `aud` and `exp`. Answers the header's `alg` and the
/// claims.
async fn verify_independently(s: &AuthorizationServer, jwt: &str, aud: &str) -> (String, Value) {
    let published = s.context().keys.as_ref().unwrap().jwks().await.unwrap();
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(serde_json::to_value(&published).unwrap()).unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"), "RFC 9068 2.1");
    let kid = header.kid.clone().unwrap();
    let jwk = set.find(&kid).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data =
        jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap();
    (format!("{:?}", header.alg), data.claims)
}

fn bearer(t: &str) -> http::request::Parts {
    http::Request::get("/api")
        .header("authorization", format!("Bearer {t}"))
        .body(())
        .unwrap()
        .into_parts()
        .0
}

#[tokio::test]
async fn a_token_for_a_jwt_resource_is_an_at_jwt_with_the_claims_of_rfc9068_2_2() {
    let s = server();
    let t = token(
        &s,
        &format!(
            "grant_type=client_credentials&scope=read+write&resource={}",
            enc(API)
        ),
    )
    .await;
    let jwt = t["access_token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3, "a compact JWS");
    let (alg, c) = verify_independently(&s, jwt, API).await;
    assert_eq!(alg, "ES256", "ES256 by default");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], API);
    // RFC 9068 2.2: without a user, `sub` is the client.
    assert_eq!(c["sub"], "web");
    assert_eq!(c["client_id"], "web");
    assert_eq!(c["scope"], "read");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        t["expires_in"].as_i64().unwrap()
    );
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(c.get("auth_time").is_none(), "no user authenticated");

    // The token for the opaque resource, and for none, stay opaque.
    for extra in [format!("&resource={}", enc(OPAQUE_API)), String::new()] {
        let t = token(
            &s,
            &format!("grant_type=client_credentials&scope=read{extra}"),
        )
        .await;
        assert_eq!(t["access_token"].as_str().unwrap().len(), 64, "opaque");
    }
}

#[tokio::test]
async fn revoking_a_jwt_access_token_reaches_introspection_and_protectors_rfc9068_5() {
    let s = server();
    let t = token(
        &s,
        &format!(
            "grant_type=client_credentials&scope=read&resource={}",
            enc(API)
        ),
    )
    .await;
    let jwt = t["access_token"].as_str().unwrap();
    let i = introspect(&s, jwt).await;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["aud"], API);
    assert_eq!(i["client_id"], "web");
    let protector =
        ResourceProtector::from_server(&s).audience(ExpectedAudience::Resource(API.into()));
    let none = ScopeRequirement::all_of("read");
    assert!(protector.validate(&bearer(jwt), &none).await.is_ok());

    let res = s
        .create_revocation_response(&post("/revoke", &format!("token={jwt}")))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(introspect(&s, jwt).await, json!({ "active": false }));
    let e = protector.validate(&bearer(jwt), &none).await.unwrap_err();
    assert_eq!(e.status(), 401);
    // The signature still holds: a resource checking locally accepts it until it expires
    // (RFC 9068 5), which is why such tokens should be short-lived.
    verify_independently(&s, jwt, API).await;
}

#[tokio::test]
async fn a_forged_jwt_naming_a_real_jti_matches_nothing() {
    let s = server();
    let t = token(
        &s,
        &format!(
            "grant_type=client_credentials&scope=read&resource={}",
            enc(API)
        ),
    )
    .await;
    let jwt = t["access_token"].as_str().unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = "read write".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(introspect(&s, &forged).await, json!({ "active": false }));
    let protector =
        ResourceProtector::from_server(&s).audience(ExpectedAudience::Resource(API.into()));
    assert!(protector
        .validate(&bearer(&forged), &ScopeRequirement::none())
        .await
        .is_err());
    // Nor does a string that only looks like a JWT.
    assert_eq!(introspect(&s, "a.b.c").await, json!({ "active": false }));
}

#[tokio::test]
async fn a_user_s_jwt_carries_sub_and_auth_time_and_refresh_tokens_stay_opaque_rfc9068_2_2() {
    let s = server_with(AccessTokenFormat::Jwt, Some(jose::Algorithm::EdDSA));
    let owner = ResourceOwner::new("user-1", "alice").authenticated_at(1_700_000_000);
    let uri = format!(
        "/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
         &scope=read+openid&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s"
    );
    let req = OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 65536)
        .unwrap();
    let res = s
        .create_authorization_response(&req, Some(&owner))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let code = loc.query_pairs().find(|(k, _)| k == "code").unwrap().1;
    let t = token(
        &s,
        &format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
        ),
    )
    .await;
    // The format for tokens with no resource is JWT here; the algorithm EdDSA.
    let (alg, c) = verify_independently(&s, t["access_token"].as_str().unwrap(), ISSUER).await;
    assert_eq!(alg, "EdDSA");
    assert_eq!(c["sub"], "user-1");
    assert_eq!(c["auth_time"], 1_700_000_000);
    assert_eq!(c["scope"], "openid read");
    let refresh = t["refresh_token"].as_str().unwrap();
    assert_eq!(refresh.len(), 64, "refresh tokens stay opaque");

    // A refresh naming the JWT resource: a JWT for it, scope cut to its own.
    let r = token(
        &s,
        &format!(
            "grant_type=refresh_token&refresh_token={refresh}&resource={}",
            enc(API)
        ),
    )
    .await;
    let (_, c) = verify_independently(&s, r["access_token"].as_str().unwrap(), API).await;
    assert_eq!(c["scope"], "openid read");
    assert_eq!(c["sub"], "user-1");
}

#[tokio::test]
async fn without_signing_keys_a_jwt_token_is_a_server_error_not_a_panic() {
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("web", "secret")
            .grant_types(["client_credentials"])
            .scope("read"),
    );
    let mut config = ServerConfig::new(ISSUER);
    config.access_token_format = AccessTokenFormat::Jwt;
    let mut s = AuthorizationServer::new(store, config);
    s.register_grant(ClientCredentialsGrant::new());
    let res = s
        .create_token_response(&post("/token", "grant_type=client_credentials"))
        .await;
    assert_eq!(res.status, 500);
    assert_eq!(res.json_body().unwrap()["error"], "server_error");
}

struct NoClaims;

#[async_trait]
impl oidc::ClaimsSource for NoClaims {
    async fn claims(
        &self,
        _subject: &str,
        _names: &[&str],
    ) -> Result<serde_json::Map<String, Value>, StorageError> {
        Ok(serde_json::Map::new())
    }
}

#[tokio::test]
async fn a_pairwise_client_s_jwt_names_the_user_as_its_id_token_does_oidc_core_8_1() {
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("rp", "secret")
            .redirect_uris(["https://rp.example/cb"])
            .grant_types(["authorization_code"])
            .response_types(["code"])
            .scope("openid read")
            .with_metadata("subject_type", "pairwise"),
    );
    let mut config = ServerConfig::new(ISSUER);
    config.access_token_format = AccessTokenFormat::Jwt;
    let mut s = AuthorizationServer::new(store.stores(), config).with_signing_keys(
        KeyEncryptionKey::generate(&OsRng),
        RotationPolicy::default(),
    );
    s.enable_openid(oidc::OpenIdProvider::new(NoClaims).pairwise_secret(vec![7; 32]))
        .unwrap();
    s.register_grant(AuthorizationCodeGrant::new());
    let uri = format!(
        "/authorize?response_type=code&client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb\
         &scope=openid+read&code_challenge={CHALLENGE}&code_challenge_method=S256&nonce=n"
    );
    let req = OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 65536)
        .unwrap();
    let res = s
        .create_authorization_response(&req, Some(&ResourceOwner::new("user-1", "alice")))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let code = loc.query_pairs().find(|(k, _)| k == "code").unwrap().1;
    let auth = base64::engine::general_purpose::STANDARD.encode("rp:secret");
    let body = format!(
        "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}\
         &redirect_uri=https%3A%2F%2Frp.example%2Fcb"
    );
    let req = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {auth}"))
        .body(Bytes::from(body))
        .unwrap();
    let t = s
        .create_token_response(&OAuth2Request::from_http(req, 65536).unwrap())
        .await
        .json_body()
        .unwrap();
    let (_, at) = verify_independently(&s, t["access_token"].as_str().unwrap(), ISSUER).await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id: Value = serde_json::from_slice(
        &b64.decode(t["id_token"].as_str().unwrap().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_ne!(at["sub"], "user-1", "the local subject stays hidden");
    assert_eq!(
        at["sub"], id["sub"],
        "the same pairwise subject as the ID token"
    );
}

/// Serves the server's current key set, as its `/jwks` would, counting fetches.
#[derive(Clone)]
struct ServerKeys {
    keys: std::sync::Arc<jose::KeySet>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait]
impl authgate::client::metadata_document::DocumentFetcher for ServerKeys {
    async fn fetch(
        &self,
        _url: &str,
    ) -> Result<authgate::client::metadata_document::FetchedDocument, String> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let jwks = self.keys.jwks().await.map_err(|e| e.to_string())?;
        Ok(authgate::client::metadata_document::FetchedDocument::new(
            serde_json::to_vec(&jwks).unwrap(),
            Some(3600),
        ))
    }
}

#[tokio::test]
async fn a_resource_validates_jwt_access_tokens_locally_rfc9068_4() {
    use authgate::resource::jwt::JwtValidator;
    let s = server();
    let keys = s.context().keys.clone().unwrap();
    let now = Clock::now(&SystemClock);
    // The resource's clock runs a little ahead of the server's (no leeway below).
    let clock = FrozenClock::at(now + 5);
    let jwks = serde_json::to_value(keys.jwks().await.unwrap()).unwrap();
    let fixed = || {
        JwtValidator::with_keys(ISSUER, API, jwks.clone())
            .leeway(0)
            .with_clock(std::sync::Arc::new(clock.clone()))
    };
    let t = token(
        &s,
        &format!(
            "grant_type=client_credentials&scope=read&resource={}",
            enc(API)
        ),
    )
    .await;
    let jwt = t["access_token"].as_str().unwrap().to_owned();

    // Valid: what the token says comes through, for a protector of this resource.
    let record = fixed().validate(&jwt).await.unwrap();
    assert_eq!(record.client_id, "web");
    assert_eq!(record.scope.to_string(), "read");
    assert_eq!(record.details().audience, [API]);
    let protector = fixed().protector();
    assert!(protector
        .validate(&bearer(&jwt), &ScopeRequirement::all_of("read"))
        .await
        .is_ok());
    let e = protector
        .validate(&bearer(&jwt), &ScopeRequirement::all_of("write"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403, "insufficient_scope");

    // Refused, each a 401 invalid_token: another resource, another issuer, expired.
    for (what, v) in [
        (
            "another resource",
            JwtValidator::with_keys(ISSUER, OPAQUE_API, jwks.clone()),
        ),
        (
            "another issuer",
            JwtValidator::with_keys("https://other.example", API, jwks.clone()),
        ),
    ] {
        assert!(v.validate(&jwt).await.is_err(), "{what}");
        let e = v
            .protector()
            .validate(&bearer(&jwt), &ScopeRequirement::none())
            .await
            .unwrap_err();
        assert_eq!(e.status(), 401, "{what}");
        assert!(e.www_authenticate().contains("invalid_token"), "{what}");
    }
    clock.advance(3600);
    assert_eq!(
        fixed().validate(&jwt).await.unwrap_err(),
        "the access token expired"
    );
    let e = fixed()
        .protector()
        .validate(&bearer(&jwt), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert!(
        e.www_authenticate().contains("expired"),
        "{}",
        e.www_authenticate()
    );
    clock.advance(-3600);

    // Not access tokens: an ID-token-like JWT from the same keys (typ JWT), alg none,
    // HS256 keyed with the public key.
    let claims =
        json!({"iss": ISSUER, "aud": API, "sub": "u", "exp": now + 60, "client_id": "web"});
    let id_like = keys
        .sign(jose::Algorithm::ES256, Some("JWT"), &claims)
        .await
        .unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"at+jwt"}"#),
        b64.encode(claims.to_string())
    );
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.typ = Some("at+jwt".into());
    let hs = jsonwebtoken::encode(
        &h,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(jwks["keys"][0].to_string().as_bytes()).unwrap(),
    )
    .unwrap();
    for (what, t) in [("typ JWT", id_like), ("alg none", none), ("HS256", hs)] {
        assert!(fixed().validate(&t).await.is_err(), "{what}");
    }
    // Pinned algorithms: a validator for EdDSA only refuses this ES256 token.
    assert!(fixed()
        .algorithms([jose::Algorithm::EdDSA])
        .validate(&jwt)
        .await
        .is_err());
}

#[tokio::test]
async fn a_key_rotation_is_followed_through_the_jwks_uri_once_a_minute_rfc9068_4() {
    use authgate::resource::jwt::JwtValidator;
    let s = server();
    let keys = s.context().keys.clone().unwrap();
    let clock = FrozenClock::at(Clock::now(&SystemClock));
    let fetcher = ServerKeys {
        keys: keys.clone(),
        fetches: Default::default(),
    };
    let v = JwtValidator::with_jwks_uri(ISSUER, API, "https://auth.example/jwks", fetcher.clone())
        .with_clock(std::sync::Arc::new(clock.clone()));
    let fetches = || fetcher.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let issue = || async {
        token(
            &s,
            &format!(
                "grant_type=client_credentials&scope=read&resource={}",
                enc(API)
            ),
        )
        .await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = issue().await;
    assert!(v.validate(&before).await.is_ok());
    assert!(v.validate(&issue().await).await.is_ok());
    assert_eq!(fetches(), 1, "cached");

    // A compromised key: the server switches at once; a token of the new key names a kid
    // the validator has not seen.
    keys.rotate(Some(jose::Algorithm::ES256), true)
        .await
        .unwrap();
    let after = issue().await;
    assert_ne!(
        jsonwebtoken::decode_header(&after).unwrap().kid,
        jsonwebtoken::decode_header(&before).unwrap().kid
    );
    assert!(
        v.validate(&after).await.is_err(),
        "no refetch within the minute"
    );
    assert_eq!(fetches(), 1);
    clock.advance(61);
    assert!(
        v.validate(&after).await.is_ok(),
        "refetched for the unknown kid"
    );
    assert_eq!(fetches(), 2);
    // The retired key stays published, so tokens it signed still validate.
    assert!(v.validate(&before).await.is_ok());
}

/// A key set host that answers `ok` times, then fails.
#[derive(Clone)]
struct Failing {
    keys: std::sync::Arc<jose::KeySet>,
    ok: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait]
impl authgate::client::metadata_document::DocumentFetcher for Failing {
    async fn fetch(
        &self,
        _url: &str,
    ) -> Result<authgate::client::metadata_document::FetchedDocument, String> {
        let left = self.ok.load(std::sync::atomic::Ordering::SeqCst);
        if left == 0 {
            return Err("connection refused".into());
        }
        self.ok.store(left - 1, std::sync::atomic::Ordering::SeqCst);
        let jwks = self.keys.jwks().await.map_err(|e| e.to_string())?;
        Ok(authgate::client::metadata_document::FetchedDocument::new(
            serde_json::to_vec(&jwks).unwrap(),
            Some(3600),
        ))
    }
}

#[tokio::test]
async fn unreachable_keys_are_a_503_and_stale_keys_serve_an_hour_at_most() {
    use authgate::resource::jwt::JwtValidator;
    let s = server();
    let keys = s.context().keys.clone().unwrap();
    let jwt = token(
        &s,
        &format!(
            "grant_type=client_credentials&scope=read&resource={}",
            enc(API)
        ),
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let clock = FrozenClock::at(Clock::now(&SystemClock) + 5);
    let protector = |ok: usize| {
        JwtValidator::with_jwks_uri(
            ISSUER,
            API,
            "https://auth.example/jwks",
            Failing {
                keys: keys.clone(),
                ok: std::sync::Arc::new(ok.into()),
            },
        )
        // A long leeway keeps the token itself valid while the clock moves by hours.
        .leeway(100_000)
        .with_clock(std::sync::Arc::new(clock.clone()))
        .protector()
    };
    let none = ScopeRequirement::none();
    // Never reachable: 503 (a storage outage), not 401: the token may well be good.
    let down = protector(0);
    let e = down.validate(&bearer(&jwt), &none).await.unwrap_err();
    assert_eq!(e.status(), 503);
    // Reachable once: the keys serve their hour, then an hour stale while fetches fail,
    // then no more.
    let once = protector(1);
    assert!(once.validate(&bearer(&jwt), &none).await.is_ok());
    clock.advance(3600 + 1800);
    assert!(
        once.validate(&bearer(&jwt), &none).await.is_ok(),
        "stale, within the hour"
    );
    clock.advance(1801);
    let e = once.validate(&bearer(&jwt), &none).await.unwrap_err();
    assert_eq!(e.status(), 503, "stale beyond the limit: dropped");
}

#[tokio::test]
async fn audiences_times_and_confirmation_keys_are_checked_rfc9068_4() {
    use authgate::resource::jwt::JwtValidator;
    let s = server();
    let keys = s.context().keys.clone().unwrap();
    let now = Clock::now(&SystemClock);
    let jwks = serde_json::to_value(keys.jwks().await.unwrap()).unwrap();
    let v = JwtValidator::with_keys(ISSUER, API, jwks)
        .leeway(0)
        .with_clock(std::sync::Arc::new(FrozenClock::at(now)));
    let at = |extra: Value| {
        let keys = keys.clone();
        async move {
            let mut c = json!({"iss": ISSUER, "aud": API, "sub": "u", "client_id": "web",
                "iat": now, "exp": now + 60, "jti": "AAAAAAAAAAAAAAAAAAAAAA"});
            for (k, val) in extra.as_object().unwrap() {
                c[k] = val.clone();
            }
            keys.sign(jose::Algorithm::ES256, Some("at+jwt"), &c)
                .await
                .unwrap()
        }
    };
    // Several audiences, this resource among them: taken.
    let many = at(json!({"aud": ["https://other.example/", API]})).await;
    assert_eq!(v.validate(&many).await.unwrap().details().audience.len(), 2);
    // Not valid yet, issued in the future, sender-constrained, no exp: refused.
    for (what, extra) in [
        ("nbf ahead", json!({"nbf": now + 30})),
        ("iat ahead", json!({"iat": now + 30})),
        (
            "cnf",
            json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
        ),
        ("exp as a string", json!({"exp": "soon"})),
    ] {
        assert!(v.validate(&at(extra).await).await.is_err(), "{what}");
    }
}
