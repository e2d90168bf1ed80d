//! Resource indicators (RFC 8707) through the engine: the `resource` parameter at the
//! authorization and token endpoints, the audience tokens carry, and protectors refusing
//! tokens aimed elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

const ISSUER: &str = "https://auth.example";
const A: &str = "https://a.example/";
const B: &str = "https://b.example/api";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn config() -> ServerConfig {
    let mut c = ServerConfig::new(ISSUER).refresh_tokens(true);
    c.resources = ResourceRegistry::new()
        .with(
            RegisteredResource::new(A)
                .unwrap()
                .scope("a1 a2".parse().unwrap())
                .access_token_lifetime(300),
        )
        .with(
            RegisteredResource::new(B)
                .unwrap()
                .scope("b1".parse().unwrap()),
        );
    c
}

fn server() -> AuthorizationServer {
    let s = MemoryStore::new();
    s.add_client(
        ClientRecord::confidential("web", "secret")
            .redirect_uris(["https://app.example/cb"])
            .grant_types([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                DEVICE_CODE_GRANT_TYPE,
            ])
            .response_types(["code"])
            .scope("a1 a2 b1 openid other"),
    );
    let mut server = AuthorizationServer::new(s.stores(), config());
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_grant(DeviceCodeGrant::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new())
        .register_endpoint(DeviceAuthorizationEndpoint::new(
            "https://auth.example/device",
        ))
        .unwrap();
    server
}

fn get(uri: &str) -> OAuth2Request {
    OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 65536).unwrap()
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

async fn token(s: &AuthorizationServer, body: &str) -> (u16, Value) {
    let res = s.create_token_response(&post("/token", body)).await;
    (res.status.as_u16(), res.json_body().unwrap())
}

async fn introspect(s: &AuthorizationServer, token: &str) -> Value {
    s.create_introspection_response(&post("/introspect", &format!("token={token}")))
        .await
        .json_body()
        .unwrap()
}

fn authorize_uri(extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
         &code_challenge={CHALLENGE}&code_challenge_method=S256&state=st{extra}"
    )
}

/// The query of the redirect answering an approved authorization request.
async fn authorize(s: &AuthorizationServer, extra: &str) -> Vec<(String, String)> {
    let res = s
        .create_authorization_response(
            &get(&authorize_uri(extra)),
            Some(&ResourceOwner::new("u1", "alice")),
        )
        .await
        .unwrap_or_else(AuthorizationError::into_response);
    url::Url::parse(res.location().unwrap())
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn an_unknown_or_malformed_resource_is_redirected_invalid_target_rfc8707_2() {
    let s = server();
    for bad in [
        "https://c.example/",
        "https://a.example/#x",
        "relative/path",
    ] {
        let q = authorize(&s, &format!("&scope=a1&resource={}", enc(bad))).await;
        assert_eq!(param(&q, "error"), Some("invalid_target"), "{bad}");
        assert_eq!(param(&q, "state"), Some("st"));
        assert!(param(&q, "code").is_none());
    }
}

#[tokio::test]
async fn the_authorization_request_s_resources_cap_the_token_request_rfc8707_2_2() {
    let s = server();
    let both = format!("&scope=a1+b1+other&resource={}&resource={}", enc(A), enc(B));
    // Naming none at the token endpoint: a token for both, scope cut to theirs.
    let q = authorize(&s, &both).await;
    let code = param(&q, "code").unwrap();
    let (status, t) = token(
        &s,
        &format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "a1 b1");
    let i = introspect(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(i["aud"], serde_json::json!([A, B]));
    assert_eq!(i["scope"], "a1 b1");

    // One of them: a token for that one, with its lifetime and only its scope.
    let q = authorize(&s, &both).await;
    let code = param(&q, "code").unwrap();
    let (status, t) = token(
        &s,
        &format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&resource={}",
            enc(A)
        ),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "a1");
    assert_eq!(t["expires_in"], 300);
    let i = introspect(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(i["aud"], A);

    // The refresh token keeps the whole grant: a refresh may name the other resource and
    // gets its scope (RFC 8707 §2.2), but never one outside the grant.
    let refresh = t["refresh_token"].as_str().unwrap();
    let ri = introspect(&s, refresh).await;
    assert_eq!(ri["scope"], "a1 b1 other");
    assert_eq!(ri["aud"], serde_json::json!([A, B]));
    let (status, r) = token(
        &s,
        &format!(
            "grant_type=refresh_token&refresh_token={refresh}&resource={}",
            enc(B)
        ),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["scope"], "b1");
    let i = introspect(&s, r["access_token"].as_str().unwrap()).await;
    assert_eq!(i["aud"], B);

    // A registered resource outside the grant: 400 invalid_target at the token endpoint.
    let q = authorize(&s, &format!("&scope=a1&resource={}", enc(A))).await;
    let code = param(&q, "code").unwrap();
    let (status, e) = token(
        &s,
        &format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&resource={}",
            enc(B)
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["error"], "invalid_target");
    assert!(e["error_description"].as_str().is_some());
}

#[tokio::test]
async fn a_refresh_may_only_narrow_the_resources_rfc8707_2_2() {
    let s = server();
    let q = authorize(&s, &format!("&scope=a1&resource={}", enc(A))).await;
    let code = param(&q, "code").unwrap();
    let (_, t) = token(
        &s,
        &format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"),
    )
    .await;
    let refresh = t["refresh_token"].as_str().unwrap();
    let (status, e) = token(
        &s,
        &format!(
            "grant_type=refresh_token&refresh_token={refresh}&resource={}",
            enc(B)
        ),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_target")));
    let (status, r) = token(
        &s,
        &format!(
            "grant_type=refresh_token&refresh_token={refresh}&resource={}",
            enc(A)
        ),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        introspect(&s, r["access_token"].as_str().unwrap()).await["aud"],
        A
    );
}

#[tokio::test]
async fn client_credentials_tokens_carry_the_audience_and_its_scope_rfc8707_2_2() {
    let s = server();
    let (status, t) = token(
        &s,
        &format!(
            "grant_type=client_credentials&scope=a1+b1+other&resource={}",
            enc(A)
        ),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "a1");
    assert_eq!(
        introspect(&s, t["access_token"].as_str().unwrap()).await["aud"],
        A
    );

    // No resource: the server's default audience, the whole scope.
    let (_, t) = token(&s, "grant_type=client_credentials&scope=a1+other").await;
    assert_eq!(t["scope"], "a1 other");
    assert_eq!(
        introspect(&s, t["access_token"].as_str().unwrap()).await["aud"],
        ISSUER
    );

    // Nothing of the scope left for the resource: invalid_scope.
    let (status, e) = token(
        &s,
        &format!(
            "grant_type=client_credentials&scope=other&resource={}",
            enc(B)
        ),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));

    // Unknown, malformed: invalid_target.
    for bad in ["https://c.example/", "https://a.example/#f", "no-scheme"] {
        let (status, e) = token(
            &s,
            &format!("grant_type=client_credentials&resource={}", enc(bad)),
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_target")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_configured_default_audience_is_what_introspection_states() {
    let mut c = config();
    c.default_audience = Some("https://default.example/".into());
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("web", "secret")
            .grant_types(["client_credentials"])
            .scope("a1"),
    );
    let mut s = AuthorizationServer::new(store, c);
    s.register_grant(ClientCredentialsGrant::new())
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    let (_, t) = token(&s, "grant_type=client_credentials").await;
    assert_eq!(
        introspect(&s, t["access_token"].as_str().unwrap()).await["aud"],
        "https://default.example/"
    );
}

#[tokio::test]
async fn a_token_for_one_resource_is_refused_by_every_other_rfc8707_1() {
    let s = server();
    let (_, for_a) = token(
        &s,
        &format!("grant_type=client_credentials&scope=a1&resource={}", enc(A)),
    )
    .await;
    let (_, for_none) = token(&s, "grant_type=client_credentials&scope=a1").await;
    let bearer = |t: &Value| {
        let (parts, ()) = http::Request::get("/api")
            .header(
                "authorization",
                format!("Bearer {}", t["access_token"].as_str().unwrap()),
            )
            .body(())
            .unwrap()
            .into_parts();
        parts
    };
    let none = ScopeRequirement::none();
    let at = |aud: ExpectedAudience| ResourceProtector::from_server(&s).audience(aud);

    // A's own protector takes it, and refuses a token for no resource (RFC 9068 4: its
    // identifier must be in the audience), which would otherwise work everywhere.
    let a = at(ExpectedAudience::Resource(A.into()));
    assert!(a.validate(&bearer(&for_a), &none).await.is_ok());
    let e = a.validate(&bearer(&for_none), &none).await.unwrap_err();
    assert_eq!(e.status(), 401);
    // An API of the server itself may take both.
    let own = at(ExpectedAudience::ResourceOrDefault(A.into()));
    assert!(own.validate(&bearer(&for_a), &none).await.is_ok());
    assert!(own.validate(&bearer(&for_none), &none).await.is_ok());
    // B's, and the default protector (the server's own APIs), refuse it with 401.
    for (p, takes_none) in [
        (at(ExpectedAudience::Resource(B.into())), false),
        (at(ExpectedAudience::ResourceOrDefault(B.into())), true),
        (ResourceProtector::from_server(&s), true),
    ] {
        let e = p.validate(&bearer(&for_a), &none).await.unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(
            e.www_authenticate().contains("invalid_token"),
            "{}",
            e.www_authenticate()
        );
        assert_eq!(
            p.validate(&bearer(&for_none), &none).await.is_ok(),
            takes_none
        );
    }
}

#[tokio::test]
async fn device_authorization_requests_name_resources_when_polling() {
    let s = server();
    let res = s
        .create_endpoint_response(
            "device_authorization",
            &post("/device", &format!("scope=a1&resource={}", enc(A))),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json_body().unwrap()["error"], "invalid_target");
}

#[tokio::test]
async fn a_wrong_resource_leaves_the_code_usable_rfc8707_2_2() {
    let s = server();
    let q = authorize(&s, &format!("&scope=a1&resource={}", enc(A))).await;
    let code = param(&q, "code").unwrap();
    let redeem = |extra: String| {
        format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcb{extra}"
        )
    };
    let (status, e) = token(&s, &redeem(format!("&resource={}", enc(B)))).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_target")));
    // Not spent: the corrected request gets the tokens (no replay, no revocation).
    let (status, t) = token(&s, &redeem(String::new())).await;
    assert_eq!(status, 200, "{t}");
}

/// Hooks that try to widen what a token is for.
struct Widen(&'static str);

#[async_trait]
impl GrantHooks for Widen {
    fn prepare(
        &self,
        _ctx: &ServerContext,
        issue: &mut IssueContext<'_>,
    ) -> Result<(), OAuth2Error> {
        match self.0 {
            "drop audience" => issue.audience.clear(),
            "other audience" => issue.audience = vec![B.to_owned()],
            "unregistered" => issue.audience = vec!["https://x.example/".to_owned()],
            "scope beyond resource" => issue.scope = "a1 b1".parse().unwrap(),
            "grant scope" => issue.grant_scope = Some("a1 b1 other openid a2 x".parse().unwrap()),
            "ceiling" => issue.details_mut().audience = vec![A.to_owned(), B.to_owned()],
            _ => {}
        }
        Ok(())
    }
}

#[tokio::test]
async fn hooks_may_not_widen_the_audience_or_its_scope_rfc8707_2() {
    for how in [
        "drop audience",
        "other audience",
        "unregistered",
        "scope beyond resource",
        "grant scope",
    ] {
        let store = MemoryStore::new();
        store.add_client(
            ClientRecord::confidential("web", "secret")
                .grant_types(["client_credentials"])
                .scope("a1 b1 other"),
        );
        let mut s = AuthorizationServer::new(store, config());
        s.register_grant(ClientCredentialsGrant::new().with_hooks(Widen(how)))
            .register_introspection_endpoint(IntrospectionEndpoint::new());
        let (status, e) = token(
            &s,
            &format!(
                "grant_type=client_credentials&scope=a1+b1&resource={}",
                enc(A)
            ),
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (500, Some("server_error")),
            "{how}: {e}"
        );
    }
    // The grant's resources are pinned: a hook's change is undone, not an error.
    let store = MemoryStore::new();
    store.add_client(
        ClientRecord::confidential("web", "secret")
            .grant_types(["client_credentials"])
            .scope("a1"),
    );
    let mut s = AuthorizationServer::new(store, config());
    s.register_grant(ClientCredentialsGrant::new().with_hooks(Widen("ceiling")))
        .register_introspection_endpoint(IntrospectionEndpoint::new());
    let (status, t) = token(
        &s,
        &format!("grant_type=client_credentials&scope=a1&resource={}", enc(A)),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        introspect(&s, t["access_token"].as_str().unwrap()).await["aud"],
        A
    );
}
