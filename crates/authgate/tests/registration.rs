//! Dynamic client registration (RFC 7591) and client management (RFC 7592) through the
//! engine, with the OpenID Connect Dynamic Registration members: every error code, the
//! policy, and registered clients that then run the flows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::jose::{KeyEncryptionKey, RotationPolicy};
use authgate::oidc::{ClaimsSource, OpenIdProvider};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

const ISSUER: &str = "https://as.example";
const T0: i64 = 1_800_000_000;
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";
const VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";

struct NoClaims;

#[async_trait]
impl ClaimsSource for NoClaims {
    async fn claims(&self, _: &str, _: &[&str]) -> Result<Map<String, Value>, StorageError> {
        Ok(Map::new())
    }
}

struct As {
    server: AuthorizationServer,
    store: MemoryStore,
}

fn server_with(rules: RegistrationRules, openid: bool) -> As {
    let store = MemoryStore::new();
    let mut config = ServerConfig::new(ISSUER).refresh_tokens(true);
    config.scopes_supported = ["openid", "profile", "email", "admin"]
        .map(String::from)
        .to_vec();
    let mut policy = RotationPolicy::default();
    policy.algorithms = vec![jose::Algorithm::RS256, jose::Algorithm::ES256];
    let mut server = AuthorizationServer::new(store.stores(), config)
        .with_clock(FrozenClock::at(T0))
        .with_signing_keys(KeyEncryptionKey::generate(&OsRng), policy);
    if openid {
        server
            .enable_openid(OpenIdProvider::new(NoClaims).pairwise_secret(vec![7; 32]))
            .unwrap();
    }
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_grant(DeviceCodeGrant::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    let registration = ClientRegistrationEndpoint::new(rules);
    server
        .register_endpoint(registration.configuration())
        .unwrap();
    server.register_endpoint(registration).unwrap();
    As { server, store }
}

fn open() -> As {
    server_with(RegistrationRules::new(), false)
}

fn request(
    method: &str,
    uri: &str,
    content_type: &str,
    body: &str,
    bearer: Option<&str>,
) -> OAuth2Request {
    let mut req = http::Request::builder().method(method).uri(uri);
    if !content_type.is_empty() {
        req = req.header("content-type", content_type);
    }
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    OAuth2Request::from_http(req.body(Bytes::from(body.to_owned())).unwrap(), 65536).unwrap()
}

impl As {
    async fn register_raw(
        &self,
        content_type: &str,
        body: &str,
        bearer: Option<&str>,
    ) -> OAuth2Response {
        self.server
            .create_endpoint_response(
                "registration",
                &request("POST", "/register", content_type, body, bearer),
            )
            .await
    }

    async fn register(&self, body: Value) -> (u16, Value) {
        let res = self
            .register_raw("application/json", &body.to_string(), None)
            .await;
        (res.status.as_u16(), res.json_body().unwrap_or(Value::Null))
    }

    async fn manage(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> OAuth2Response {
        let (ct, text) = match &body {
            Some(b) => ("application/json", b.to_string()),
            None => ("", String::new()),
        };
        let path = uri.strip_prefix(ISSUER).unwrap_or(uri);
        self.server
            .create_endpoint_response(
                "client_configuration",
                &request(method, path, ct, &text, token),
            )
            .await
    }
}

fn web_client() -> Value {
    json!({
        "redirect_uris": ["https://app.example/cb"],
        "client_name": "Example App",
        "client_name#ja": "アプリ",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid profile",
        "contacts": ["ops@app.example"],
        "logo_uri": "https://app.example/logo.png",
        "client_id": "chosen-by-the-client",
        "skip_consent": true,
        "x_unknown_member": 1
    })
}

fn form(body: &str, basic: Option<(&str, &str)>) -> OAuth2Request {
    let mut req =
        http::Request::post("/token").header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {b}"));
    }
    OAuth2Request::from_http(req.body(Bytes::from(body.to_owned())).unwrap(), 65536).unwrap()
}

#[tokio::test]
async fn rfc7591_3_2_1_registration_answers_the_client_and_its_credentials() {
    let a = open();
    let res = a
        .register_raw("application/json", &web_client().to_string(), None)
        .await;
    assert_eq!(res.status, 201);
    assert_eq!(res.headers["cache-control"], "no-store");
    let c = res.json_body().unwrap();
    let id = c["client_id"].as_str().unwrap();
    assert_ne!(
        id, "chosen-by-the-client",
        "RFC 7591 3.2.1: the server issues the client_id"
    );
    assert!(id.len() >= 22);
    assert!(c["client_secret"].as_str().unwrap().len() >= 43, "256 bits");
    assert_eq!(c["client_secret_expires_at"], 0);
    assert_eq!(c["client_id_issued_at"], T0);
    assert!(c["registration_access_token"].as_str().unwrap().len() >= 43);
    assert_eq!(
        c["registration_client_uri"],
        format!("{ISSUER}/register/{id}")
    );
    assert_eq!(c["redirect_uris"], json!(["https://app.example/cb"]));
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(c["client_name"], "Example App");
    assert_eq!(c["client_name#ja"], "アプリ");
    assert_eq!(c["contacts"], json!(["ops@app.example"]));
    assert_eq!(c["scope"], "openid profile");
    assert!(
        c.get("x_unknown_member").is_none(),
        "unknown members are not echoed"
    );
    assert!(
        c.get("skip_consent").is_none(),
        "operator-only members are not taken"
    );
    assert!(
        c.get("registration").is_none(),
        "bookkeeping is never echoed"
    );
    // The secret is stored hashed: the client record holds no clear text.
    let stored = a.store.registered_client(id).await.unwrap().unwrap();
    assert!(!format!("{:?}", stored.metadata)
        .contains(c["registration_access_token"].as_str().unwrap()));
    assert!(stored.check_secret(c["client_secret"].as_str().unwrap()));
    assert!(!stored.skip_consent());
}

#[tokio::test]
async fn a_registered_client_runs_the_code_flow_and_refreshes() {
    let a = open();
    let (status, c) = a.register(web_client()).await;
    assert_eq!(status, 201, "{c}");
    let (id, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    let authorize = request(
        "GET",
        &format!("/authorize?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=profile&code_challenge={CHALLENGE}&code_challenge_method=S256"),
        "",
        "",
        None,
    );
    let res = a
        .server
        .create_authorization_response(&authorize, Some(&ResourceOwner::new("user-1", "alice")))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = a
        .server
        .create_token_response(&form(
            &format!("grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier={VERIFIER}"),
            Some((id, secret)),
        ))
        .await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
    let tokens = res.json_body().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = a
        .server
        .create_token_response(&form(
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
            Some((id, secret)),
        ))
        .await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn rfc7591_3_2_2_bad_documents_are_invalid_client_metadata_never_5xx() {
    let a = open();
    for (ct, body, why) in [
        (
            "application/x-www-form-urlencoded",
            "redirect_uris=https://a.example/cb",
            "a form",
        ),
        ("text/plain", "{}", "text"),
        ("", "{}", "no content type"),
        (
            "application/json",
            "{\"redirect_uris\": [",
            "truncated JSON",
        ),
        ("application/json", "[\"https://a.example/cb\"]", "an array"),
        ("application/json", "\"x\"", "a string"),
        ("application/json", "", "empty"),
        ("application/json", "\u{0}", "a NUL byte"),
    ] {
        let res = a.register_raw(ct, body, None).await;
        assert_eq!(res.status, 400, "{why}");
        assert_eq!(
            res.json_body().unwrap()["error"],
            "invalid_client_metadata",
            "{why}"
        );
        assert!(res.json_body().unwrap()["error_description"].is_string());
    }
    for (body, why) in [
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "redirect_uris not an array",
        ),
        (json!({"redirect_uris": [1]}), "redirect_uris of numbers"),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": 3}),
            "grant_types a number",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "contacts": "a@b"}),
            "contacts a string",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": {}}),
            "client_name an object",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "unsupported auth method",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "jwks_uri": "https://a.example/jwks", "jwks": {"keys": []}}),
            "jwks and jwks_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "jwks": {"no": "keys"}}),
            "jwks without keys",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": "http://a.example/logo.png"}),
            "http logo_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "tos_uri": "/tos"}),
            "relative tos_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": ["token"]}),
            "token without implicit (RFC 7591 2.1)",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": []}),
            "code grant without code",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
            "a grant the server does not serve",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}),
            "a grant the policy does not open",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "a public client_credentials client",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "scope": "bad\"scope"}),
            "a malformed scope",
        ),
    ] {
        let (status, err) = a.register(body).await;
        assert_eq!(status, 400, "{why}: {err}");
        assert_eq!(err["error"], "invalid_client_metadata", "{why}: {err}");
    }
    let (status, err) = a
        .register(
            json!({"redirect_uris": ["https://a.example/cb"], "software_statement": "eyJ.x.y"}),
        )
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("unapproved_software_statement"))
    );
}

#[tokio::test]
async fn rfc7591_2_redirect_uris_absolute_no_fragment_https_or_loopback() {
    let a = open();
    for (uris, public, why) in [
        (json!(["https://a.example/cb#frag"]), false, "a fragment"),
        (json!(["/cb"]), false, "relative"),
        (json!(["javascript:alert(1)"]), true, "javascript:"),
        (json!(["data:text/html,hi"]), true, "data:"),
        (json!(["http://a.example/cb"]), false, "http off loopback"),
        (
            json!(["https://user:pw@a.example/cb"]),
            false,
            "credentials",
        ),
        (
            json!(["com.example.app:/cb"]),
            false,
            "a private-use scheme for a confidential client",
        ),
        (
            json!(["myapp:/cb"]),
            true,
            "a private-use scheme not in reverse domain form",
        ),
        (json!([]), false, "none at all for the code grant"),
    ] {
        let mut body = json!({"redirect_uris": uris});
        if public {
            body["token_endpoint_auth_method"] = "none".into();
        }
        let (status, err) = a.register(body).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (400, Some("invalid_redirect_uri")),
            "{why}: {err}"
        );
    }
    let (status, native) = a
        .register(json!({
            "redirect_uris": ["http://127.0.0.1/cb", "http://[::1]/cb", "com.example.app:/cb"],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    assert_eq!(status, 201, "{native}");
    assert!(
        native.get("client_secret").is_none(),
        "a public client gets no secret"
    );
    assert!(native.get("client_secret_expires_at").is_none());
    // A public client must use PKCE (RFC 9700 2.1.1).
    let id = native["client_id"].as_str().unwrap();
    let err = a
        .server
        .create_authorization_response(
            &request("GET", &format!("/authorize?response_type=code&client_id={id}&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb"), "", "", None),
            Some(&ResourceOwner::new("user-1", "alice")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error().code(), ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn rfc7591_3_an_initial_access_token_when_the_policy_asks_for_one() {
    let a = server_with(
        RegistrationRules::new().initial_access_token("onboard-me"),
        false,
    );
    let res = a
        .register_raw("application/json", &web_client().to_string(), None)
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json_body().unwrap()["error"], "invalid_token");
    let challenge = res.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let res = a
        .register_raw("application/json", &web_client().to_string(), Some("wrong"))
        .await;
    assert_eq!(res.status, 401);
    assert!(res.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    let res = a
        .register_raw(
            "application/json",
            &web_client().to_string(),
            Some("onboard-me"),
        )
        .await;
    assert_eq!(res.status, 201);
}

#[tokio::test]
async fn the_policy_narrows_scope_and_opens_grants() {
    let a = server_with(
        RegistrationRules::new()
            .scope("openid profile")
            .grant_types(["client_credentials"]),
        false,
    );
    let (status, c) = a
        .register(json!({"grant_types": ["client_credentials"], "scope": "profile admin"}))
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["scope"], "profile", "admin is beyond the policy");
    assert_eq!(c["response_types"], json!([]));
    let (_, all) = a
        .register(json!({"grant_types": ["client_credentials"]}))
        .await;
    assert_eq!(
        all["scope"], "openid profile",
        "no scope asked: the policy's"
    );
    // The registered client runs client credentials within its scope.
    let (id, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    let res = a
        .server
        .create_token_response(&form(
            "grant_type=client_credentials&scope=admin",
            Some((id, secret)),
        ))
        .await;
    assert_eq!(res.json_body().unwrap()["error"], "invalid_scope");
    let res = a
        .server
        .create_token_response(&form("grant_type=client_credentials", Some((id, secret))))
        .await;
    assert_eq!(res.status, 200);
    // Without a policy scope, the server's scopes_supported bounds it.
    let b = server_with(RegistrationRules::new(), false);
    let (_, c) = b
        .register(json!({"redirect_uris": ["https://a.example/cb"], "scope": "profile root"}))
        .await;
    assert_eq!(c["scope"], "profile");
}

#[tokio::test]
async fn rfc7592_read_update_delete_round_trip_and_the_deleted_clients_tokens_fail() {
    let a = server_with(
        RegistrationRules::new().grant_types(["client_credentials", "authorization_code"]),
        false,
    );
    let (_, c) = a
        .register(json!({"grant_types": ["client_credentials"], "client_name": "Batch", "scope": "profile"}))
        .await;
    let (id, secret) = (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    );
    let uri = c["registration_client_uri"].as_str().unwrap().to_owned();
    let token = c["registration_access_token"].as_str().unwrap().to_owned();
    let (_, other) = a
        .register(json!({"grant_types": ["client_credentials"]}))
        .await;
    let other_token = other["registration_access_token"].as_str().unwrap();

    // RFC 7592 2.1: read, with the token; without or with another client's: 401.
    let res = a.manage("GET", &uri, Some(&token), None).await;
    assert_eq!(res.status, 200);
    let read = res.json_body().unwrap();
    assert_eq!(read["client_id"], id.as_str());
    assert_eq!(read["client_name"], "Batch");
    assert!(
        read.get("client_secret").is_none(),
        "the secret is kept hashed: not readable"
    );
    for (t, why) in [
        (None, "no token"),
        (Some("wrong"), "a wrong token"),
        (Some(other_token), "another client's token"),
    ] {
        let res = a.manage("GET", &uri, t, None).await;
        assert_eq!(res.status, 401, "{why}");
        assert!(res.headers.contains_key("www-authenticate"), "{why}");
        assert_eq!(res.json_body().unwrap()["error"], "invalid_token", "{why}");
    }
    let res = a
        .manage(
            "GET",
            &format!("{ISSUER}/register/nobody"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        res.status, 401,
        "an unknown client looks like a wrong token"
    );

    // RFC 7592 2.2: a full replacement; client_id required and immutable.
    let update = json!({"client_id": id, "grant_types": ["client_credentials"], "client_name": "Batch v2", "scope": "profile email"});
    let res = a
        .manage("PUT", &uri, Some(&token), Some(update.clone()))
        .await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
    let updated = res.json_body().unwrap();
    assert_eq!(updated["client_name"], "Batch v2");
    assert_eq!(updated["scope"], "email profile");
    for (body, why) in [
        (
            json!({"client_id": "someone-else", "grant_types": ["client_credentials"]}),
            "another client_id",
        ),
        (
            json!({"grant_types": ["client_credentials"]}),
            "no client_id",
        ),
        (
            json!({"client_id": id, "grant_types": ["client_credentials"], "registration_access_token": token}),
            "the token in the body",
        ),
        (
            json!({"client_id": id, "grant_types": ["client_credentials"], "client_secret": "not-it"}),
            "a wrong secret",
        ),
    ] {
        let res = a.manage("PUT", &uri, Some(&token), Some(body)).await;
        assert_eq!(res.status, 400, "{why}");
        assert_eq!(
            res.json_body().unwrap()["error"],
            "invalid_request",
            "{why}"
        );
    }
    let bad =
        json!({"client_id": id, "grant_types": ["client_credentials"], "logo_uri": "javascript:x"});
    let res = a.manage("PUT", &uri, Some(&token), Some(bad)).await;
    assert_eq!(
        res.json_body().unwrap()["error"],
        "invalid_client_metadata",
        "updates are checked as registrations"
    );
    // The secret survived the update.
    let res = a
        .server
        .create_token_response(&form("grant_type=client_credentials", Some((&id, &secret))))
        .await;
    assert_eq!(res.status, 200);
    let access = res.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // RFC 7592 2.3: delete; the client, its token and its registration token stop working.
    let res = a.manage("DELETE", &uri, Some(&token), None).await;
    assert_eq!(res.status, 204);
    assert!(res.body.is_empty());
    assert_eq!(a.manage("GET", &uri, Some(&token), None).await.status, 401);
    let res = a
        .server
        .create_token_response(&form("grant_type=client_credentials", Some((&id, &secret))))
        .await;
    assert_eq!(res.json_body().unwrap()["error"], "invalid_client");
    let key = token::parse_token(&access).unwrap();
    assert!(
        a.store
            .find_token(&key.selector)
            .await
            .unwrap()
            .unwrap()
            .revoked,
        "its tokens are revoked"
    );
    let res = a.manage("PATCH", &uri, Some(other_token), None).await;
    assert_eq!(
        res.status, 401,
        "checked before the method, so nothing leaks"
    );
}

#[tokio::test]
async fn openid_connect_dynamic_registration_members() {
    let a = server_with(RegistrationRules::new(), true);
    let (status, c) = a
        .register(json!({
            "redirect_uris": ["https://rp.example/cb"],
            "scope": "openid email",
            "id_token_signed_response_alg": "ES256",
            "userinfo_signed_response_alg": "RS256",
            "subject_type": "pairwise",
            "post_logout_redirect_uris": ["https://rp.example/bye"],
            "default_max_age": 3600,
            "require_auth_time": true
        }))
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["id_token_signed_response_alg"], "ES256");
    assert_eq!(c["subject_type"], "pairwise");
    assert_eq!(c["default_max_age"], 3600);
    assert_eq!(c["require_auth_time"], true);
    for (body, why) in [
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "id_token_signed_response_alg": "HS256"}),
            "HMAC",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "id_token_signed_response_alg": "none"}),
            "none",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "sector_identifier_uri": "https://rp.example/sector.json"}),
            "sector_identifier_uri",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "subject_type": "secret"}),
            "an unknown subject type",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "default_max_age": "1h"}),
            "max age as a string",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "post_logout_redirect_uris": ["https://rp.example/bye#x"]}),
            "a post-logout URI with a fragment",
        ),
    ] {
        let (status, err) = a.register(body).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (400, Some("invalid_client_metadata")),
            "{why}: {err}"
        );
    }
}

#[tokio::test]
async fn rfc7591_2_3_a_software_statement_from_a_trusted_issuer_takes_precedence() {
    // The trusted issuer's keys: a key set of its own, on a store of its own.
    let issuer_store = MemoryStore::new();
    let issuer_keys = jose::KeySet::new(
        std::sync::Arc::new(issuer_store),
        KeyEncryptionKey::generate(&OsRng),
        RotationPolicy::default(),
    )
    .with_clock(std::sync::Arc::new(FrozenClock::at(T0)));
    let verifier = jose::JwksVerifier::new(issuer_keys.jwks().await.unwrap());
    let a = server_with(
        RegistrationRules::new().trust_software_statements(verifier),
        false,
    );
    let statement = issuer_keys
        .sign(
            jose::Algorithm::ES256,
            None,
            &json!({"iss": "https://issuer.example", "software_id": "4NRB1-0XZABZI9E6-5SM3R", "client_name": "Certified App", "exp": T0 + 600}),
        )
        .await
        .unwrap();
    let (status, c) = a
        .register(json!({"redirect_uris": ["https://app.example/cb"], "client_name": "Claimed Name", "software_statement": statement}))
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(
        c["client_name"], "Certified App",
        "the statement's claims take precedence"
    );
    assert_eq!(c["software_id"], "4NRB1-0XZABZI9E6-5SM3R");
    let mut forged = statement.clone();
    forged.pop();
    forged.push(if statement.ends_with('A') { 'B' } else { 'A' });
    let (status, err) = a
        .register(
            json!({"redirect_uris": ["https://app.example/cb"], "software_statement": forged}),
        )
        .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_software_statement"))
    );
    let (_, err) = a
        .register(
            json!({"redirect_uris": ["https://app.example/cb"], "software_statement": "not-a-jwt"}),
        )
        .await;
    assert_eq!(err["error"], "invalid_software_statement");
}

#[tokio::test]
async fn the_endpoints_need_a_registry_and_are_advertised_only_when_registered() {
    let store = MemoryStore::new();
    let mut server = AuthorizationServer::new(store, ServerConfig::new(ISSUER));
    let err = server
        .register_endpoint(ClientRegistrationEndpoint::new(RegistrationRules::new()))
        .unwrap_err();
    assert!(err.to_string().contains("client registry"), "{err}");
    assert!(server.metadata().registration_endpoint.is_none());
    let a = open();
    assert_eq!(
        a.server.metadata().registration_endpoint.as_deref(),
        Some("https://as.example/register")
    );
}

/// Each document by URL, with its `max-age`.
type DocumentMap = std::collections::HashMap<String, (Value, Option<u64>)>;

/// Serves metadata documents from memory and counts the fetches.
#[derive(Clone, Default)]
struct Documents {
    docs: std::sync::Arc<std::sync::Mutex<DocumentMap>>,
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait]
impl client::metadata_document::DocumentFetcher for Documents {
    async fn fetch(&self, url: &str) -> Result<client::metadata_document::FetchedDocument, String> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let docs = self.docs.lock().unwrap();
        let (doc, max_age) = docs.get(url).cloned().ok_or("404")?;
        Ok(client::metadata_document::FetchedDocument::new(
            doc.to_string().into_bytes(),
            max_age,
        ))
    }
}

#[tokio::test]
async fn client_id_metadata_documents_resolve_url_client_ids_with_a_bounded_cache() {
    const ID: &str = "https://tool.example/oauth/client.json";
    let docs = Documents::default();
    docs.docs.lock().unwrap().insert(
        ID.into(),
        (
            json!({"client_id": ID, "client_name": "MCP Tool", "redirect_uris": ["http://127.0.0.1/callback"], "scope": "profile email"}),
            Some(5),
        ),
    );
    docs.docs.lock().unwrap().insert(
        "https://evil.example/c.json".into(),
        (
            json!({"client_id": ID, "redirect_uris": ["https://evil.example/cb"]}),
            None,
        ),
    );
    let clock = FrozenClock::at(T0);
    let store = MemoryStore::new();
    let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_clock(clock.clone())
        .with_client_id_metadata_documents(docs.clone(), "openid profile".parse().unwrap(), false);
    server.register_grant(AuthorizationCodeGrant::new());
    assert_eq!(
        server.metadata().client_id_metadata_document_supported,
        Some(true)
    );
    let authorize = |id: &str| {
        request(
            "GET",
            &format!(
                "/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=profile&code_challenge={CHALLENGE}&code_challenge_method=S256",
                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
            ),
            "",
            "",
            None,
        )
    };
    let ok = server
        .validate_authorization_request(&authorize(ID))
        .await
        .unwrap();
    assert_eq!(ok.client.client_name(), Some("MCP Tool"));
    assert!(ok.client.is_public());
    assert_eq!(
        ok.client.scope().to_string(),
        "profile",
        "within the ceiling"
    );
    // The code flow completes with the URL as client_id (a public client: PKCE).
    let res = server
        .create_authorization_response(&authorize(ID), Some(&ResourceOwner::new("user-1", "alice")))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = server
        .create_token_response(&form(
            &format!(
                "grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&code_verifier={VERIFIER}&client_id={}",
                url::form_urlencoded::byte_serialize(ID.as_bytes()).collect::<String>()
            ),
            None,
        ))
        .await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
    let fetched = docs.fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(fetched, 1, "cached: one fetch for the three lookups");
    // max-age 5 is raised to the 60 s floor: still cached at +59, fetched again at +61.
    clock.advance(59);
    server
        .validate_authorization_request(&authorize(ID))
        .await
        .unwrap();
    assert_eq!(docs.fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    clock.advance(2);
    server
        .validate_authorization_request(&authorize(ID))
        .await
        .unwrap();
    assert_eq!(docs.fetches.load(std::sync::atomic::Ordering::SeqCst), 2);
    // A document whose client_id is another URL, or none at all: an unknown client, shown
    // (never redirected).
    for id in [
        "https://evil.example/c.json",
        "https://missing.example/c.json",
    ] {
        let err = server
            .validate_authorization_request(&authorize(id))
            .await
            .unwrap_err();
        assert!(matches!(err, AuthorizationError::Invalid(_)), "{id}");
    }
    // Fetches are bounded per minute: a flood of new URLs costs at most the budget.
    let before = docs.fetches.load(std::sync::atomic::Ordering::SeqCst);
    for n in 0..130 {
        let _ = server
            .validate_authorization_request(&authorize(&format!("https://flood.example/{n}.json")))
            .await;
    }
    let flood = docs.fetches.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(flood <= 120, "{flood} fetches in one minute");
    // Ordinary client ids still come from the store.
    store.add_client(
        ClientRecord::public("plain")
            .redirect_uris(["http://127.0.0.1/callback"])
            .grant_types(["authorization_code"])
            .response_types(["code"])
            .scope("profile"),
    );
    server
        .validate_authorization_request(&authorize("plain"))
        .await
        .unwrap();
}

#[tokio::test]
async fn without_a_ceiling_self_registered_clients_get_no_scope_and_an_admit_only_policy_keeps_the_default_rules(
) {
    /// A policy that overrides only `admit`.
    struct TokenOnly;
    #[async_trait]
    impl RegistrationPolicy for TokenOnly {
        async fn admit(&self, _: &ServerContext, t: Option<&str>) -> Result<bool, OAuth2Error> {
            Ok(t == Some("let-me-in"))
        }
    }
    let store = MemoryStore::new();
    let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER));
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_grant(PasswordGrant::new(store.clone()));
    server
        .register_endpoint(ClientRegistrationEndpoint::new(TokenOnly))
        .unwrap();
    let register = |body: Value| {
        request(
            "POST",
            "/register",
            "application/json",
            &body.to_string(),
            Some("let-me-in"),
        )
    };
    // ServerConfig::scopes_supported is empty: no ceiling means no scope, not any scope.
    let res = server
        .create_endpoint_response(
            "registration",
            &register(json!({"redirect_uris": ["https://a.example/cb"], "scope": "admin"})),
        )
        .await;
    assert_eq!(res.status, 201);
    assert!(
        res.json_body().unwrap().get("scope").is_none(),
        "{:?}",
        res.json_body()
    );
    // The default review still refuses grants that are not open to self-registration.
    for grant in ["client_credentials", "password"] {
        let res = server
            .create_endpoint_response("registration", &register(json!({"grant_types": [grant]})))
            .await;
        assert_eq!(
            res.json_body().unwrap()["error"],
            "invalid_client_metadata",
            "{grant}"
        );
    }
}

#[tokio::test]
async fn a_self_registered_pairwise_client_is_a_sector_of_its_own() {
    let a = server_with(RegistrationRules::new(), true);
    let (_, c) = a
        .register(json!({"redirect_uris": ["https://victim-rp.example/cb", "https://other.example/cb"], "subject_type": "pairwise"}))
        .await;
    let id = c["client_id"].as_str().unwrap();
    let registered = a.store.registered_client(id).await.unwrap().unwrap();
    // Its redirect URIs name another party's host; its sector is its own client id, so it
    // never sees the subject that party sees.
    let victim = ClientRecord::confidential("victim", "s")
        .redirect_uris(["https://victim-rp.example/cb"])
        .with_metadata("subject_type", "pairwise");
    let provider = oidc::provider(a.server.context()).unwrap();
    let theirs = provider.subject_for(&victim, "user-1").unwrap();
    let mine = provider.subject_for(&registered, "user-1").unwrap();
    assert_ne!(mine, theirs);
    assert_ne!(mine, "user-1");
}

#[tokio::test]
async fn rfc7591_2_3_an_update_keeps_what_the_software_statement_asserted() {
    let issuer_keys = jose::KeySet::new(
        std::sync::Arc::new(MemoryStore::new()),
        KeyEncryptionKey::generate(&OsRng),
        RotationPolicy::default(),
    )
    .with_clock(std::sync::Arc::new(FrozenClock::at(T0)));
    let verifier = jose::JwksVerifier::new(issuer_keys.jwks().await.unwrap());
    let a = server_with(
        RegistrationRules::new().trust_software_statements(verifier),
        false,
    );
    let statement = issuer_keys
        .sign(
            jose::Algorithm::ES256,
            None,
            &json!({"software_id": "sw-1", "client_name": "Certified", "redirect_uris": ["https://app.example/cb"]}),
        )
        .await
        .unwrap();
    let (_, c) = a
        .register(
            json!({"redirect_uris": ["https://app.example/cb"], "software_statement": statement}),
        )
        .await;
    let (id, uri, token) = (
        c["client_id"].as_str().unwrap(),
        c["registration_client_uri"].as_str().unwrap(),
        c["registration_access_token"].as_str().unwrap(),
    );
    let res = a
        .manage(
            "PUT",
            uri,
            Some(token),
            Some(json!({"client_id": id, "redirect_uris": ["https://evil.example/cb"], "client_name": "Renamed"})),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
    let updated = res.json_body().unwrap();
    assert_eq!(updated["client_name"], "Certified");
    assert_eq!(updated["redirect_uris"], json!(["https://app.example/cb"]));
    assert_eq!(updated["software_id"], "sw-1");
}

#[tokio::test]
async fn openid_registration_5_a_sector_identifier_uri_is_fetched_and_must_list_the_redirect_uris()
{
    let docs = Documents::default();
    docs.docs.lock().unwrap().insert(
        "https://rp.example/sector.json".into(),
        (
            json!(["https://rp.example/cb", "https://app.rp.example/cb"]),
            None,
        ),
    );
    let store = MemoryStore::new();
    let mut policy = RotationPolicy::default();
    policy.algorithms = vec![jose::Algorithm::RS256];
    let mut server = AuthorizationServer::new(store.stores(), ServerConfig::new(ISSUER))
        .with_signing_keys(KeyEncryptionKey::generate(&OsRng), policy);
    server
        .enable_openid(OpenIdProvider::new(NoClaims).pairwise_secret(vec![7; 32]))
        .unwrap();
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(DeviceCodeGrant::new());
    server
        .register_endpoint(
            ClientRegistrationEndpoint::new(RegistrationRules::new().scope("openid"))
                .sector_identifier_fetcher(docs.clone(), false),
        )
        .unwrap();
    let a = As { server, store };
    let (status, c) = a
        .register(json!({
            "redirect_uris": ["https://rp.example/cb", "https://app.rp.example/cb"],
            "subject_type": "pairwise",
            "sector_identifier_uri": "https://rp.example/sector.json"
        }))
        .await;
    assert_eq!(status, 201, "{c}");
    let id = c["client_id"].as_str().unwrap();
    let client = a.store.registered_client(id).await.unwrap().unwrap();
    // Its subjects are the sector's: the same as a configured client of rp.example sees.
    let sibling = ClientRecord::confidential("rp", "s")
        .redirect_uris(["https://rp.example/other"])
        .with_metadata("subject_type", "pairwise");
    let provider = oidc::provider(a.server.context()).unwrap();
    assert_eq!(
        provider.subject_for(&client, "user-1").unwrap(),
        provider.subject_for(&sibling, "user-1").unwrap()
    );
    for (body, why) in [
        (
            json!({"redirect_uris": ["https://evil.example/cb"], "subject_type": "pairwise", "sector_identifier_uri": "https://rp.example/sector.json"}),
            "a redirect URI the sector does not list",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "sector_identifier_uri": "https://rp.example/missing.json"}),
            "a document that cannot be fetched",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "sector_identifier_uri": "http://rp.example/sector.json"}),
            "http",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"], "sector_identifier_uri": "https://rp.example/sector.json"}),
            "the device grant",
        ),
    ] {
        let (status, err) = a.register(body).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (400, Some("invalid_client_metadata")),
            "{why}: {err}"
        );
    }
}
