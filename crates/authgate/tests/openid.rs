//! OpenID Connect through the engine: ID tokens from the code, refresh, implicit and hybrid
//! flows, UserInfo, pairwise subjects, authentication request rules and discovery — each
//! token verified against the server's published keys.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;

use authgate::jose::{JwksVerifier, KeyEncryptionKey, RotationPolicy};
use authgate::oidc::{ClaimsSource, OpenIdProvider};
use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

const ISSUER: &str = "https://op.example";
const T0: i64 = 1_800_000_000;
const VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

struct Users;

#[async_trait]
impl ClaimsSource for Users {
    async fn claims(
        &self,
        subject: &str,
        names: &[&str],
    ) -> Result<Map<String, Value>, StorageError> {
        assert_eq!(subject, "user-1", "claims are asked by local subject");
        let all = json!({
            "name": "Alice Liddell",
            "email": "alice@example.com",
            "email_verified": true,
            "phone_number": "+44 20 7946 0000",
            "sub": "an attempt to override sub",
        });
        Ok(all
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

fn client(id: &str) -> ClientRecord {
    ClientRecord::confidential(id, "secret")
        .redirect_uris(["https://rp.example/cb"])
        .grant_types(["authorization_code", "refresh_token", "implicit"])
        .response_types([
            "code",
            "id_token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token",
        ])
        .scope("openid profile email phone")
}

struct Op {
    server: AuthorizationServer,
    clock: FrozenClock,
    store: MemoryStore,
}

fn op() -> Op {
    let store = MemoryStore::new();
    store.add_client(client("rp"));
    store.add_client(client("es").with_metadata("id_token_signed_response_alg", "ES256"));
    store.add_client(client("ed").with_metadata("id_token_signed_response_alg", "EdDSA"));
    store.add_client(
        client("pw")
            .with_metadata("subject_type", "pairwise")
            .with_metadata("userinfo_signed_response_alg", "ES256"),
    );
    store.add_client(
        client("bc")
            .with_metadata("backchannel_logout_uri", "https://rp.example/backchannel")
            .with_metadata(
                "post_logout_redirect_uris",
                json!(["https://rp.example/bye", "https://rp.example/bye?lang=en"]),
            ),
    );
    store.add_client(client("first").with_metadata("skip_consent", true));
    store.add_client(
        ClientRecord::public("native")
            .redirect_uris(["http://127.0.0.1/cb", "com.example.app:/cb"])
            .grant_types(["authorization_code"])
            .response_types(["code"])
            .scope("openid email"),
    );
    store.add_client(
        ClientRecord::confidential("plain", "secret")
            .redirect_uris(["https://plain.example/cb"])
            .grant_types(["authorization_code"])
            .response_types(["code"])
            .scope("profile"),
    );
    let clock = FrozenClock::at(T0);
    let mut policy = RotationPolicy::default();
    policy.algorithms = vec![
        jose::Algorithm::RS256,
        jose::Algorithm::ES256,
        jose::Algorithm::EdDSA,
    ];
    let mut server = AuthorizationServer::new(
        store.stores(),
        ServerConfig::new(ISSUER).refresh_tokens(true),
    )
    .with_clock(clock.clone())
    .with_signing_keys(KeyEncryptionKey::generate(&OsRng), policy);
    server
        .enable_openid(
            OpenIdProvider::new(Users)
                .pairwise_secret(vec![9; 32])
                .logout(true),
        )
        .unwrap();
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new());
    for g in OpenIdGrant::all() {
        server.register_grant(g);
    }
    server.register_endpoint(JwksEndpoint::new()).unwrap();
    server.register_endpoint(UserInfoEndpoint::new()).unwrap();
    Op {
        server,
        clock,
        store,
    }
}

fn alice() -> ResourceOwner {
    ResourceOwner::new("user-1", "alice")
        .authenticated_at(T0 - 30)
        .acr("urn:example:loa:1")
        .amr(["pwd"])
        .session_id("sid-1")
}

fn get(uri: &str) -> OAuth2Request {
    OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 65536).unwrap()
}

fn token_post(client: &str, body: &str) -> OAuth2Request {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:secret"));
    OAuth2Request::from_http(
        http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", format!("Basic {basic}"))
            .body(Bytes::from(body.to_owned()))
            .unwrap(),
        65536,
    )
    .unwrap()
}

fn authorize(client: &str, response_type: &str, extra: &str) -> OAuth2Request {
    get(&format!(
        "/authorize?client_id={client}&response_type={}&scope=openid%20email&state=st&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        response_type.replace(' ', "%20")
    ))
}

/// A code request of `client` for `scope` (space-separated, as in a URL: `%20`), with PKCE.
fn code_request(client: &str, scope: &str) -> OAuth2Request {
    get(&format!(
        "/authorize?client_id={client}&response_type=code&scope={scope}&code_challenge={CHALLENGE}&code_challenge_method=S256"
    ))
}

/// Alice approves `req`.
async fn approve(op: &Op, req: &OAuth2Request) -> OAuth2Response {
    op.server
        .create_authorization_response(req, Some(&alice()))
        .await
        .unwrap()
}

/// The redirect's parameters (query or fragment).
fn params(res: &OAuth2Response) -> HashMap<String, String> {
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let part = loc
        .fragment()
        .or(loc.query())
        .unwrap_or_default()
        .to_owned();
    url::form_urlencoded::parse(part.as_bytes())
        .into_owned()
        .collect()
}

async fn verify(op: &Op, jwt: &str) -> jose::VerifiedJwt {
    let jwks: jose::Jwks = serde_json::from_slice(
        &op.server
            .create_endpoint_response("jwks", &get("/jwks"))
            .await
            .body,
    )
    .unwrap();
    JwksVerifier::new(jwks).verify(jwt).unwrap()
}

async fn code_for(op: &Op, client: &str, extra: &str) -> String {
    let res = op
        .server
        .create_authorization_response(&authorize(client, "code", extra), Some(&alice()))
        .await
        .unwrap();
    params(&res).remove("code").unwrap()
}

async fn exchange(op: &Op, client: &str, code: &str) -> Value {
    let res = op
        .server
        .create_token_response(&token_post(
            client,
            &format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}"),
        ))
        .await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
    res.json_body().unwrap()
}

#[tokio::test]
async fn the_code_flow_answers_an_id_token_with_the_required_claims_oidc_core_3_1_3_3() {
    let op = op();
    let code = code_for(&op, "rp", "&nonce=n-0S6_WzA2Mj").await;
    let body = exchange(&op, "rp", &code).await;
    let id = verify(&op, body["id_token"].as_str().unwrap()).await;
    assert_eq!(
        id.alg,
        jose::Algorithm::RS256,
        "RS256 when the client names none"
    );
    let c = &id.claims;
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "user-1");
    assert_eq!(c["aud"], "rp");
    assert_eq!(c["iat"], T0);
    assert_eq!(c["exp"], T0 + 3600);
    assert_eq!(c["auth_time"], T0 - 30);
    assert_eq!(
        c["nonce"], "n-0S6_WzA2Mj",
        "the nonce exactly as sent (OIDC Core 3.1.3.7)"
    );
    assert_eq!(c["acr"], "urn:example:loa:1");
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["sid"], "sid-1");
    assert!(c.get("azp").is_none(), "one audience: no azp");
    assert!(
        c.get("email").is_none(),
        "an access token is issued: scope claims go to UserInfo (OIDC Core 5.4)"
    );
}

#[tokio::test]
async fn no_openid_scope_no_id_token() {
    let op = op();
    let res = approve(&op, &code_request("rp", "email")).await;
    let code = params(&res).remove("code").unwrap();
    let body = exchange(&op, "rp", &code).await;
    assert!(body.get("id_token").is_none());
}

#[tokio::test]
async fn each_client_gets_its_registered_algorithm_oidc_registration_2() {
    let op = op();
    for (client, alg) in [
        ("es", jose::Algorithm::ES256),
        ("ed", jose::Algorithm::EdDSA),
    ] {
        let code = code_for(&op, client, "").await;
        let body = exchange(&op, client, &code).await;
        assert_eq!(
            verify(&op, body["id_token"].as_str().unwrap()).await.alg,
            alg
        );
    }
}

#[tokio::test]
async fn a_refresh_answers_a_new_id_token_with_the_same_sub_and_auth_time_and_no_nonce_oidc_core_12_2(
) {
    let op = op();
    let code = code_for(&op, "rp", "&nonce=n1").await;
    let body = exchange(&op, "rp", &code).await;
    op.clock.advance(100);
    let res = op
        .server
        .create_token_response(&token_post(
            "rp",
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                body["refresh_token"].as_str().unwrap()
            ),
        ))
        .await;
    let refreshed = res.json_body().unwrap();
    let id = verify(&op, refreshed["id_token"].as_str().unwrap())
        .await
        .claims;
    assert_eq!(id["sub"], "user-1");
    assert_eq!(id["auth_time"], T0 - 30);
    assert_eq!(id["iat"], T0 + 100);
    assert!(id.get("nonce").is_none());
    // Narrowed to a scope without openid: no ID token.
    let res = op
        .server
        .create_token_response(&token_post(
            "rp",
            &format!(
                "grant_type=refresh_token&refresh_token={}&scope=email",
                body["refresh_token"].as_str().unwrap()
            ),
        ))
        .await;
    assert!(res.json_body().unwrap().get("id_token").is_none());
}

#[tokio::test]
async fn implicit_id_token_carries_the_scope_claims_and_id_token_token_carries_at_hash_oidc_core_3_2_2_10(
) {
    let op = op();
    let res = op
        .server
        .create_authorization_response(&authorize("rp", "id_token", "&nonce=n2"), Some(&alice()))
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    assert!(loc.query().is_none(), "never in the query");
    let p = params(&res);
    assert!(!p.contains_key("access_token"));
    assert_eq!(p["state"], "st");
    assert_eq!(p["iss"], ISSUER);
    let id = verify(&op, &p["id_token"]).await.claims;
    assert_eq!(id["nonce"], "n2");
    assert_eq!(
        id["email"], "alice@example.com",
        "no access token: scope claims in the ID token (OIDC Core 5.4)"
    );
    assert_eq!(id["sub"], "user-1", "a claims source cannot override sub");

    let res = op
        .server
        .create_authorization_response(
            &authorize("rp", "id_token token", "&nonce=n3"),
            Some(&alice()),
        )
        .await
        .unwrap();
    let p = params(&res);
    let id = verify(&op, &p["id_token"]).await.claims;
    assert_eq!(
        id["at_hash"],
        oidc::half_hash(jose::Algorithm::RS256, &p["access_token"])
    );
    assert!(id.get("email").is_none());
    assert_eq!(p["token_type"], "Bearer");
    assert!(!p.contains_key("refresh_token"));
}

#[tokio::test]
async fn hybrid_responses_carry_c_hash_and_their_code_redeems_for_an_id_token_with_the_nonce_oidc_core_3_3(
) {
    let op = op();
    for rt in ["code id_token", "code token", "code id_token token"] {
        let res = op
            .server
            .create_authorization_response(&authorize("rp", rt, "&nonce=hy"), Some(&alice()))
            .await
            .unwrap();
        let p = params(&res);
        let code = &p["code"];
        let with_token = rt.split(' ').any(|t| t == "token");
        if rt.contains("id_token") {
            let id = verify(&op, &p["id_token"]).await.claims;
            assert_eq!(
                id["c_hash"],
                oidc::half_hash(jose::Algorithm::RS256, code),
                "{rt}"
            );
            if with_token {
                assert_eq!(
                    id["at_hash"],
                    oidc::half_hash(jose::Algorithm::RS256, &p["access_token"])
                );
            }
            // OIDC Core 5.4: an access token results (here or from the code), so scope claims go to UserInfo.
            assert!(id.get("email").is_none(), "{rt}");
        } else {
            assert!(!p.contains_key("id_token"));
            assert!(p.contains_key("access_token"));
        }
        let body = exchange(&op, "rp", code).await;
        let id = verify(&op, body["id_token"].as_str().unwrap()).await.claims;
        assert_eq!(id["nonce"], "hy", "{rt}");
    }
}

async fn redirected_error(op: &Op, req: &OAuth2Request) -> HashMap<String, String> {
    match op
        .server
        .create_authorization_response(req, Some(&alice()))
        .await
    {
        Err(AuthorizationError::Redirect { response, .. }) => params(&response),
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

#[tokio::test]
async fn implicit_and_hybrid_need_a_nonce_and_id_token_needs_openid_oidc_core_3_2_2_1() {
    let op = op();
    for rt in [
        "id_token",
        "id_token token",
        "code id_token",
        "code token",
        "code id_token token",
    ] {
        let p = redirected_error(&op, &authorize("rp", rt, "")).await;
        assert_eq!(p["error"], "invalid_request", "{rt}");
        assert!(p["error_description"].contains("nonce"), "{rt}");
        assert_eq!(p["iss"], ISSUER);
        assert_eq!(p["state"], "st");
    }
    let req = get("/authorize?client_id=rp&response_type=id_token&scope=email&nonce=n&state=st");
    let res = op
        .server
        .create_authorization_response(&req, Some(&alice()))
        .await;
    let Err(AuthorizationError::Redirect { error, response }) = res else {
        panic!()
    };
    assert_eq!(error.code(), ErrorCode::InvalidRequest);
    assert!(
        url::Url::parse(response.location().unwrap())
            .unwrap()
            .fragment()
            .is_some(),
        "in the fragment"
    );
}

#[tokio::test]
async fn authentication_request_rules_oidc_core_3_1_2_1_and_3_1_2_6() {
    let op = op();
    for (extra, code) in [
        ("&prompt=none%20login", "invalid_request"),
        ("&request=eyJhbGciOiJub25lIn0.e30.", "request_not_supported"),
        (
            "&request_uri=https%3A%2F%2Frp.example%2Fr",
            "request_uri_not_supported",
        ),
        ("&registration=%7B%7D", "registration_not_supported"),
        ("&id_token_hint=not-a-jwt", "invalid_request"),
        ("&max_age=soon", "invalid_request"),
        ("&claims=%5B%5D", "invalid_request"),
    ] {
        let p = redirected_error(&op, &authorize("rp", "code", extra)).await;
        assert_eq!(p["error"], code, "{extra}");
    }
}

#[tokio::test]
async fn an_id_token_hint_is_verified_and_names_the_user_it_was_issued_for() {
    let op = op();
    let code = code_for(&op, "pw", "").await;
    let hint = exchange(&op, "pw", &code).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Expired hints are fine (OIDC Core 3.1.2.1).
    op.clock.advance(7200);
    let req = authorize("pw", "code", &format!("&prompt=none&id_token_hint={hint}"));
    let request = op
        .server
        .validate_authorization_request(&req)
        .await
        .unwrap();
    assert!(
        op.server.hint_names(&request, "user-1"),
        "pairwise sub maps back"
    );
    assert!(!op.server.hint_names(&request, "user-2"));
    // Another client's hint is refused.
    let req = authorize("rp", "code", &format!("&id_token_hint={hint}"));
    assert!(op
        .server
        .validate_authorization_request(&req)
        .await
        .is_err());
    // So is another JWT the same keys signed: a logout token for the client is no hint.
    let openid = oidc::provider(op.server.context()).unwrap().clone();
    let logout = openid
        .logout_token(op.server.context(), &client("rp"), "user-1", Some("sid-1"))
        .await
        .unwrap();
    let req = authorize("rp", "code", &format!("&id_token_hint={logout}"));
    assert!(op
        .server
        .validate_authorization_request(&req)
        .await
        .is_err());
}

#[tokio::test]
async fn prompt_and_max_age_tell_the_application_when_to_ask_oidc_core_3_1_2_1() {
    let op = op();
    let v = |extra: &str| {
        let req = authorize("rp", "code", extra);
        let server = &op.server;
        async move { server.validate_authorization_request(&req).await.unwrap() }
    };
    let plain = v("").await;
    assert!(plain.login_required(None, T0), "no session");
    assert!(!plain.login_required(Some(T0 - 3600), T0));
    assert!(v("&prompt=login").await.login_required(Some(T0), T0));
    assert!(v("&prompt=select_account")
        .await
        .login_required(Some(T0), T0));
    assert!(
        v("&max_age=0").await.login_required(Some(T0), T0),
        "max_age=0 is prompt=login"
    );
    let m = v("&max_age=60").await;
    assert!(!m.login_required(Some(T0 - 60), T0));
    assert!(m.login_required(Some(T0 - 61), T0));
    let remembered: Scope = "openid email profile".parse().unwrap();
    assert!(plain.consent_required(None));
    assert!(!plain.consent_required(Some(&remembered)));
    assert!(v("&prompt=consent")
        .await
        .consent_required(Some(&remembered)));

    // prompt=none with a login needed: the application answers login_required, redirected.
    let req = authorize("rp", "code", "&prompt=none");
    let request = op
        .server
        .validate_authorization_request(&req)
        .await
        .unwrap();
    assert!(request.has_prompt("none"));
    let res = op.server.create_authorization_error(
        &req,
        &request,
        OAuth2Error::new(ErrorCode::LoginRequired),
    );
    let p = params(&res);
    assert_eq!(
        (p["error"].as_str(), p["state"].as_str(), p["iss"].as_str()),
        ("login_required", "st", ISSUER)
    );
}

async fn userinfo(op: &Op, req: OAuth2Request) -> OAuth2Response {
    op.server.create_endpoint_response("userinfo", &req).await
}

fn bearer_get(token: &str) -> OAuth2Request {
    OAuth2Request::from_http(
        http::Request::get("/userinfo")
            .header("authorization", format!("Bearer {token}"))
            .body(Bytes::new())
            .unwrap(),
        65536,
    )
    .unwrap()
}

#[tokio::test]
async fn userinfo_answers_the_scope_claims_and_the_claims_request_oidc_core_5_3_and_5_5() {
    let op = op();
    // Granted: openid email phone. The claims request moves phone_number into the ID token
    // and asks for name (profile, not granted) in both places.
    let claims =
        r#"{"userinfo":{"name":null},"id_token":{"phone_number":{"essential":true},"name":null}}"#;
    let req = get(&format!(
        "/authorize?client_id=rp&response_type=code&scope=openid%20email%20phone&code_challenge={CHALLENGE}&code_challenge_method=S256&claims={}",
        url::form_urlencoded::byte_serialize(claims.as_bytes()).collect::<String>()
    ));
    let res = op
        .server
        .create_authorization_response(&req, Some(&alice()))
        .await
        .unwrap();
    let body = exchange(&op, "rp", &params(&res)["code"]).await;
    let id = verify(&op, body["id_token"].as_str().unwrap()).await.claims;
    assert_eq!(
        id["phone_number"], "+44 20 7946 0000",
        "the claims request's id_token member"
    );
    assert!(
        id.get("name").is_none() && id.get("email").is_none(),
        "nothing beyond the granted scope, nothing not asked for: {id}"
    );
    let at = body["access_token"].as_str().unwrap();

    let res = userinfo(&op, bearer_get(at)).await;
    assert_eq!(res.status, 200);
    let u = res.json_body().unwrap();
    assert_eq!(
        u["sub"], id["sub"],
        "the same sub as the ID token (OIDC Core 5.3.2)"
    );
    assert_eq!(u["email"], "alice@example.com");
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["phone_number"], "+44 20 7946 0000", "the phone scope");
    assert!(
        u.get("name").is_none(),
        "profile was not granted: a claims request cannot widen consent (OIDC Core 5.5)"
    );

    // POST with the token in the form body (OIDC Core 5.3.1).
    let post = OAuth2Request::from_http(
        http::Request::post("/userinfo")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(format!("access_token={at}")))
            .unwrap(),
        65536,
    )
    .unwrap();
    assert_eq!(
        userinfo(&op, post).await.json_body().unwrap()["sub"],
        "user-1"
    );

    // No token, a bad one, one without openid: RFC 6750 errors.
    let res = userinfo(&op, get("/userinfo")).await;
    assert_eq!(res.status, 401);
    assert!(res.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let res = userinfo(&op, bearer_get("nope")).await;
    assert_eq!(res.status, 401);
    assert!(res.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let res = approve(&op, &code_request("rp", "email")).await;
    let no_openid = exchange(&op, "rp", &params(&res)["code"]).await;
    let res = userinfo(&op, bearer_get(no_openid["access_token"].as_str().unwrap())).await;
    assert_eq!(res.status, 403);
    assert!(res.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
}

#[tokio::test]
async fn a_pairwise_client_sees_its_own_sub_everywhere_and_may_get_signed_userinfo_oidc_core_8_and_5_3_2(
) {
    let op = op();
    let code = code_for(&op, "pw", "").await;
    let body = exchange(&op, "pw", &code).await;
    let id = verify(&op, body["id_token"].as_str().unwrap()).await.claims;
    assert_ne!(id["sub"], "user-1");
    let res = userinfo(&op, bearer_get(body["access_token"].as_str().unwrap())).await;
    assert_eq!(res.headers["content-type"], "application/jwt");
    let signed = verify(&op, std::str::from_utf8(&res.body).unwrap()).await;
    assert_eq!(signed.alg, jose::Algorithm::ES256);
    assert_eq!(signed.claims["sub"], id["sub"]);
    assert_eq!(signed.claims["iss"], ISSUER);
    assert_eq!(signed.claims["aud"], "pw");
}

#[tokio::test]
async fn discovery_lists_what_openid_connect_serves_discovery_3() {
    let m = op().server.metadata().to_json();
    assert_eq!(m["userinfo_endpoint"], format!("{ISSUER}/userinfo"));
    assert_eq!(m["jwks_uri"], format!("{ISSUER}/jwks"));
    assert_eq!(m["subject_types_supported"], json!(["public", "pairwise"]));
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        m["response_types_supported"],
        json!([
            "code",
            "code id_token",
            "code id_token token",
            "code token",
            "id_token",
            "id_token token"
        ])
    );
    assert_eq!(m["claims_parameter_supported"], true);
    assert_eq!(m["request_parameter_supported"], false);
    assert_eq!(m["request_uri_parameter_supported"], false);
    assert!(m["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "email"));
    assert!(m["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "openid"));
}

#[tokio::test]
async fn a_logout_token_names_the_user_and_session_and_has_no_nonce_backchannel_logout_2_4() {
    let op = op();
    let store_client = client("rp");
    let openid = oidc::provider(op.server.context()).unwrap().clone();
    let jwt = openid
        .logout_token(op.server.context(), &store_client, "user-1", Some("sid-1"))
        .await
        .unwrap();
    let t = verify(&op, &jwt).await;
    assert_eq!(t.typ.as_deref(), Some("logout+jwt"));
    let c = t.claims;
    assert_eq!(
        (
            c["iss"].as_str(),
            c["aud"].as_str(),
            c["sub"].as_str(),
            c["sid"].as_str()
        ),
        (Some(ISSUER), Some("rp"), Some("user-1"), Some("sid-1"))
    );
    assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(c["jti"].is_string());
    assert!(c.get("nonce").is_none());
}

#[tokio::test]
async fn remembered_consent_skips_asking_for_a_subset_and_prompt_consent_asks_anyway_oidc_core_3_1_2_4(
) {
    let op = op();
    let request = |client: &str, scope: &str, extra: &str| {
        let req = get(&format!(
            "/authorize?client_id={client}&response_type=code&scope={scope}&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
        ));
        let server = &op.server;
        async move { server.validate_authorization_request(&req).await.unwrap() }
    };
    let wide = request("rp", "openid%20email%20profile", "").await;
    assert!(op.server.consent_required(&wide, "user-1").await.unwrap());
    approve(&op, &code_request("rp", "openid%20email%20profile")).await;
    let remembered = op
        .store
        .find_consent("user-1", "rp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(remembered.scope.to_string(), "email openid profile");
    assert_eq!(remembered.granted_at, T0);
    for scope in ["openid", "openid%20email", "openid%20email%20profile"] {
        let r = request("rp", scope, "").await;
        assert!(
            !op.server.consent_required(&r, "user-1").await.unwrap(),
            "{scope}"
        );
    }
    let more = request("rp", "openid%20phone", "").await;
    assert!(
        op.server.consent_required(&more, "user-1").await.unwrap(),
        "a scope not approved yet"
    );
    let forced = request("rp", "openid", "&prompt=consent").await;
    assert!(op.server.consent_required(&forced, "user-1").await.unwrap());
    let other_user = request("rp", "openid", "").await;
    assert!(op
        .server
        .consent_required(&other_user, "user-2")
        .await
        .unwrap());
    let first_party = request("first", "openid%20phone", "").await;
    assert!(
        !op.server
            .consent_required(&first_party, "user-1")
            .await
            .unwrap(),
        "skip_consent"
    );

    // A public client on a loopback or custom-scheme redirect URI is asked every time: any
    // local app can receive there (RFC 8252 §8.6).
    for uri in [
        "http%3A%2F%2F127.0.0.1%3A5555%2Fcb",
        "com.example.app%3A%2Fcb",
    ] {
        let path = format!(
            "/authorize?client_id=native&response_type=code&scope=openid&redirect_uri={uri}&code_challenge={CHALLENGE}&code_challenge_method=S256"
        );
        op.server
            .create_authorization_response(&get(&path), Some(&alice()))
            .await
            .unwrap();
        let r = op
            .server
            .validate_authorization_request(&get(&path))
            .await
            .unwrap();
        assert!(op
            .store
            .find_consent("user-1", "native")
            .await
            .unwrap()
            .is_some());
        assert!(
            op.server.consent_required(&r, "user-1").await.unwrap(),
            "{uri}"
        );
    }

    // A later approval of more adds to what is remembered.
    approve(&op, &code_request("rp", "openid%20phone")).await;
    let remembered = op
        .store
        .find_consent("user-1", "rp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(remembered.scope.to_string(), "email openid phone profile");
}

#[tokio::test]
async fn revoking_consent_revokes_that_clients_tokens_for_that_user() {
    let op = op();
    let code = code_for(&op, "rp", "").await;
    let mine = exchange(&op, "rp", &code).await;
    let code = code_for(&op, "bc", "").await;
    let other_client = exchange(&op, "bc", &code).await;
    let at = |b: &Value| b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&op, bearer_get(&at(&mine))).await.status, 200);
    assert!(op.server.revoke_consent("user-1", "rp").await.unwrap());
    assert_eq!(userinfo(&op, bearer_get(&at(&mine))).await.status, 401);
    assert_eq!(
        userinfo(&op, bearer_get(&at(&other_client))).await.status,
        200
    );
    let refresh = op
        .server
        .create_token_response(&token_post(
            "rp",
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                mine["refresh_token"].as_str().unwrap()
            ),
        ))
        .await;
    assert_eq!(refresh.json_body().unwrap()["error"], "invalid_grant");
    assert!(!op.server.revoke_consent("user-1", "rp").await.unwrap());
}

async fn with_session(op: &Op) {
    op.store
        .save_session(&SessionRecord::new("sid-1", "user-1", T0 - 30, T0 + 3600).username("alice"))
        .await
        .unwrap();
}

#[tokio::test]
async fn logout_ends_the_session_and_has_a_logout_token_for_each_client_with_a_backchannel_uri_backchannel_logout_2_5(
) {
    let op = op();
    with_session(&op).await;
    code_for(&op, "bc", "").await;
    code_for(&op, "rp", "").await;
    code_for(&op, "bc", "").await;
    let session = op.store.find_session("sid-1").await.unwrap().unwrap();
    assert_eq!(session.clients, ["bc", "rp"], "each client once, in order");

    let ended = op.server.end_session("sid-1").await.unwrap().unwrap();
    assert!(ended.failed.is_empty());
    assert_eq!(
        ended.backchannel.len(),
        1,
        "rp registered no backchannel_logout_uri"
    );
    let notice = &ended.backchannel[0];
    assert_eq!(
        (notice.client_id.as_str(), notice.uri.as_str()),
        ("bc", "https://rp.example/backchannel")
    );
    let t = verify(&op, &notice.logout_token).await;
    assert_eq!(t.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(
        (
            t.claims["aud"].as_str(),
            t.claims["sub"].as_str(),
            t.claims["sid"].as_str()
        ),
        (Some("bc"), Some("user-1"), Some("sid-1"))
    );
    assert!(
        op.server.end_session("sid-1").await.unwrap().is_none(),
        "a session ends once"
    );

    // A user's every session ends at once (password change, removal).
    for sid in ["a", "b"] {
        op.store
            .save_session(&SessionRecord::new(sid, "user-1", T0, T0 + 60))
            .await
            .unwrap();
    }
    assert_eq!(op.server.end_sessions_of("user-1").await.unwrap().len(), 2);
}

fn end_session(query: &str) -> OAuth2Request {
    get(&format!("/end_session?{query}"))
}

#[tokio::test]
async fn end_session_requests_are_validated_rp_initiated_logout_2_and_3_1() {
    let op = op();
    with_session(&op).await;
    let code = code_for(&op, "bc", "").await;
    let hint = exchange(&op, "bc", &code).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let validate = |q: String| {
        let server = &op.server;
        async move { server.validate_end_session_request(&end_session(&q)).await }
    };

    // The hint's audience is the client; a registered URI is redirected to with state.
    op.clock.advance(7200); // an expired ID token is still a good hint
    let ok = validate(format!(
        "id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye%3Flang%3Den&state=s%201"
    ))
    .await
    .unwrap();
    assert_eq!(ok.client.as_ref().unwrap().client_id(), "bc");
    assert_eq!(
        ok.redirect_uri().unwrap(),
        "https://rp.example/bye?lang=en&state=s+1"
    );
    let session = op.store.find_session("sid-1").await.unwrap().unwrap();
    assert!(ok.is_tied_to(op.server.context(), &session));
    let stranger = SessionRecord::new("sid-2", "user-1", T0, T0 + 60);
    assert!(
        !ok.is_tied_to(op.server.context(), &stranger),
        "the hint names another session"
    );

    // client_id alone identifies the client, and ties nothing to a session.
    let by_id =
        validate("client_id=bc&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye".into())
            .await
            .unwrap();
    assert_eq!(by_id.redirect_uri().unwrap(), "https://rp.example/bye");
    assert!(!by_id.is_tied_to(op.server.context(), &session));
    let bare = validate(String::new()).await.unwrap();
    assert!(bare.redirect_uri().is_none() && bare.client.is_none());

    for (query, why) in [
        (
            format!("id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"),
            "not registered",
        ),
        (
            "client_id=bc&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye%2F".into(),
            "not registered",
        ),
        (
            "post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye".into(),
            "client_id or id_token_hint",
        ),
        (format!("id_token_hint={hint}&client_id=rp"), "audience"),
        ("id_token_hint=not.a.jwt".into(), "id_token_hint"),
        ("client_id=nobody".into(), "unknown client_id"),
    ] {
        let e = validate(query.clone()).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest, "{query}");
        assert!(
            e.error_description().unwrap().contains(why),
            "{query}: {:?}",
            e.error_description()
        );
    }
}

#[tokio::test]
async fn discovery_lists_logout_when_enabled_backchannel_logout_2_1() {
    let m = op().server.metadata().to_json();
    assert_eq!(m["end_session_endpoint"], format!("{ISSUER}/end_session"));
    assert_eq!(m["backchannel_logout_supported"], true);
    assert_eq!(m["backchannel_logout_session_supported"], true);
}

#[tokio::test]
async fn openid_needs_signing_keys_and_userinfo_needs_openid() {
    let mut s = AuthorizationServer::new(MemoryStore::new(), ServerConfig::new(ISSUER));
    assert!(s.enable_openid(OpenIdProvider::new(Users)).is_err());
    assert!(s.register_endpoint(UserInfoEndpoint::new()).is_err());
}
