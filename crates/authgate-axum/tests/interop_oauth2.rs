//! Interoperability: the `oauth2` crate (v5), an independent client implementation, against
//! the full server on a real socket. Each test uses `oauth2` to build the requests and parse
//! the answers, so what is checked is that a stock client understands us, and we it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

// `common` is shared by several test binaries; its items are `pub` so that each can use
// them, which `unreachable_pub` flags inside any one binary.
#[allow(unreachable_pub)]
mod common;

use std::time::Duration;

use common::TestServer;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, ConfigurationError,
    CsrfToken, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, HttpResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, RevocationUrl, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};

/// An `oauth2` client with the authorization, token and revocation endpoints set.
type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet>;

/// The token response type of [`OAuthClient`].
type Tokens = oauth2::basic::BasicTokenResponse;

/// A redirect URI on a loopback port other than the registered one (RFC 8252 §7.3).
const NATIVE_REDIRECT_PORT: &str = "http://127.0.0.1:53000/native-cb";

/// An `oauth2` client for one of the test clients. `secret: None` makes a public client;
/// `oauth2` then sends `client_id` in the body, whatever the auth type.
///
/// `oauth2` refuses a revocation URL that is not https (RFC 7009 §2), and the test server
/// speaks plain HTTP; the revocation URL is therefore the server's with the scheme set to
/// https, and [`transport`] sends it back to plain HTTP on the way out.
fn oauth_client(
    srv: &TestServer,
    id: &str,
    secret: Option<&str>,
    auth_type: AuthType,
    redirect: &str,
) -> OAuthClient {
    let client = BasicClient::new(ClientId::new(id.to_owned()))
        .set_auth_type(auth_type)
        .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
        .set_revocation_url(RevocationUrl::new(https(&srv.url("/revoke"))).unwrap())
        .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).unwrap());
    match secret {
        Some(s) => client.set_client_secret(ClientSecret::new(s.to_owned())),
        None => client,
    }
}

fn https(url: &str) -> String {
    let rest = url
        .strip_prefix("http://")
        .expect("the test server is plain http");
    format!("https://{rest}")
}

/// The HTTP client `oauth2` uses: `reqwest` without redirects (as `oauth2` asks, against
/// SSRF), after mapping the https revocation URL of [`oauth_client`] back to plain HTTP. The
/// request is otherwise sent exactly as `oauth2` built it.
async fn transport(mut req: HttpRequest) -> Result<HttpResponse, HttpClientError<reqwest::Error>> {
    let uri = req.uri().to_string();
    if let Some(rest) = uri.strip_prefix("https://") {
        *req.uri_mut() = format!("http://{rest}").parse().unwrap();
    }
    let http = common::http();
    oauth2::AsyncHttpClient::call(&http, req).await
}

/// Runs the authorization request `oauth2` builds (code + PKCE S256 + state) through the
/// test app's consent form (`confirm=yes`, approving as alice) and answers the code and the
/// PKCE verifier, after checking the redirect: a 303, as the consent is a POST
/// (RFC 9700 §4.12), to `redirect`, with the same `state` and the issuer as `iss` (RFC 9207).
async fn authorize(
    client: &OAuthClient,
    scopes: &[&str],
    redirect: &str,
) -> (AuthorizationCode, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
        .set_pkce_challenge(challenge)
        .url();
    let res = common::http()
        .post(url)
        .form(&[("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{redirect}?")),
        "{location} is not a redirect to {redirect}"
    );
    let params = common::redirect_params(&res);
    assert_eq!(params["state"], *csrf.secret());
    assert_eq!(params["iss"], common::ISSUER);
    assert!(!params.contains_key("error"), "{params:?}");
    (AuthorizationCode::new(params["code"].clone()), verifier)
}

/// The code flow end to end for `client`, with `oauth2` exchanging the code.
async fn code_flow(client: &OAuthClient, scopes: &[&str], redirect: &str) -> Tokens {
    let (code, verifier) = authorize(client, scopes, redirect).await;
    client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&transport)
        .await
        .expect("the code exchange succeeds")
}

/// The `error` of a token endpoint error response, or a panic for any other failure.
fn server_error<RE: std::error::Error>(
    e: RequestTokenError<RE, BasicErrorResponse>,
) -> BasicErrorResponseType {
    match e {
        RequestTokenError::ServerResponse(r) => r.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

/// The scopes of a token response, sorted.
fn scopes(t: &Tokens) -> Vec<String> {
    let mut v: Vec<String> = t
        .scopes()
        .expect("the response names the scope")
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.sort();
    v
}

/// GETs a protected route with the access token; answers the status and the JSON body
/// (`Null` when the body is not JSON).
async fn call_api(srv: &TestServer, path: &str, token: &AccessToken) -> (u16, serde_json::Value) {
    let res = common::http()
        .get(srv.url(path))
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Asserts the token answers 200 at `/api/me` as alice for `client_id`.
async fn assert_me(srv: &TestServer, token: &AccessToken, client_id: &str) {
    let (status, body) = call_api(srv, "/api/me", token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], common::SUBJECT);
    assert_eq!(body["username"], common::USER);
    assert_eq!(body["client_id"], client_id);
}

// ----- authorization code -------------------------------------------------------------

#[tokio::test]
async fn code_flow_with_pkce_s256_for_basic_auth_client_rfc6749_4_1_rfc7636() {
    let srv = common::start().await;
    let web = oauth_client(
        &srv,
        common::WEB_ID,
        Some(common::WEB_SECRET),
        AuthType::BasicAuth,
        common::REDIRECT,
    );
    let tokens = code_flow(&web, &["profile", "email"], common::REDIRECT).await;
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(3600)));
    assert_eq!(scopes(&tokens), ["email", "profile"]);
    assert!(tokens.refresh_token().is_some());
    assert_me(&srv, tokens.access_token(), common::WEB_ID).await;
}

#[tokio::test]
async fn code_flow_for_public_client_on_loopback_port_rfc8252_7_3() {
    let srv = common::start().await;
    let native = oauth_client(
        &srv,
        common::NATIVE_ID,
        None,
        AuthType::RequestBody,
        NATIVE_REDIRECT_PORT,
    );
    let tokens = code_flow(&native, &["profile"], NATIVE_REDIRECT_PORT).await;
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(scopes(&tokens), ["profile"]);
    assert!(tokens.refresh_token().is_some());
    assert_me(&srv, tokens.access_token(), common::NATIVE_ID).await;
}

#[tokio::test]
async fn public_client_with_default_basic_auth_type_sends_client_id_in_body() {
    // oauth2's default AuthType is BasicAuth; without a secret it falls back to the body.
    let srv = common::start().await;
    let native = oauth_client(
        &srv,
        common::NATIVE_ID,
        None,
        AuthType::BasicAuth,
        common::NATIVE_REDIRECT,
    );
    let tokens = code_flow(&native, &["email"], common::NATIVE_REDIRECT).await;
    assert_eq!(scopes(&tokens), ["email"]);
    let (status, _) = call_api(&srv, "/api/me", tokens.access_token()).await;
    assert_eq!(
        status, 403,
        "email alone does not meet /api/me's profile requirement"
    );
}

#[tokio::test]
async fn wrong_pkce_verifier_is_invalid_grant_rfc7636_4_6() {
    let srv = common::start().await;
    let native = oauth_client(
        &srv,
        common::NATIVE_ID,
        None,
        AuthType::RequestBody,
        NATIVE_REDIRECT_PORT,
    );
    let (code, _verifier) = authorize(&native, &["profile"], NATIVE_REDIRECT_PORT).await;
    let (_, other) = PkceCodeChallenge::new_random_sha256();
    let err = native
        .exchange_code(code)
        .set_pkce_verifier(other)
        .request_async(&transport)
        .await
        .unwrap_err();
    assert_eq!(server_error(err), BasicErrorResponseType::InvalidGrant);
}

// ----- client credentials -------------------------------------------------------------

#[tokio::test]
async fn client_credentials_with_basic_auth_rfc6749_4_4() {
    let srv = common::start().await;
    let svc = oauth_client(
        &srv,
        common::SVC_ID,
        Some(common::SVC_SECRET),
        AuthType::BasicAuth,
        common::REDIRECT,
    );
    let tokens = svc
        .exchange_client_credentials()
        .add_scope(Scope::new("read".into()))
        .request_async(&transport)
        .await
        .unwrap();
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(600)));
    assert_eq!(scopes(&tokens), ["read"]);
    assert!(tokens.refresh_token().is_none(), "RFC 6749 §4.4.3");

    let (status, body) = call_api(&srv, "/api/any", tokens.access_token()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], common::SVC_ID);
    assert_eq!(body["sub"], serde_json::Value::Null);
    let (status, _) = call_api(&srv, "/api/me", tokens.access_token()).await;
    assert_eq!(
        status, 403,
        "read does not meet /api/me's profile requirement"
    );
}

#[tokio::test]
async fn client_credentials_with_client_secret_post_rfc6749_2_3_1() {
    let srv = common::start().await;
    let poster = oauth_client(
        &srv,
        common::POST_ID,
        Some(common::POST_SECRET),
        AuthType::RequestBody,
        common::REDIRECT,
    );
    let tokens = poster
        .exchange_client_credentials()
        .add_scope(Scope::new("read".into()))
        .request_async(&transport)
        .await
        .unwrap();
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(600)));
    assert_eq!(scopes(&tokens), ["read"]);
    let (status, body) = call_api(&srv, "/api/any", tokens.access_token()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], common::POST_ID);

    // The same credentials through Basic are not the registered method.
    let as_basic = oauth_client(
        &srv,
        common::POST_ID,
        Some(common::POST_SECRET),
        AuthType::BasicAuth,
        common::REDIRECT,
    );
    let err = as_basic
        .exchange_client_credentials()
        .request_async(&transport)
        .await
        .unwrap_err();
    assert_eq!(server_error(err), BasicErrorResponseType::InvalidClient);
}

// ----- password -----------------------------------------------------------------------

#[tokio::test]
async fn password_grant_with_client_secret_post_rfc6749_4_3() {
    let srv = common::start().await;
    let poster = oauth_client(
        &srv,
        common::POST_ID,
        Some(common::POST_SECRET),
        AuthType::RequestBody,
        common::REDIRECT,
    );
    let user = ResourceOwnerUsername::new(common::USER.into());
    let tokens = poster
        .exchange_password(&user, &ResourceOwnerPassword::new(common::PASSWORD.into()))
        .add_scope(Scope::new("profile".into()))
        .request_async(&transport)
        .await
        .unwrap();
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(3600)));
    assert_eq!(scopes(&tokens), ["profile"]);
    assert!(tokens.refresh_token().is_some());
    assert_me(&srv, tokens.access_token(), common::POST_ID).await;

    let err = poster
        .exchange_password(&user, &ResourceOwnerPassword::new("looking-glass".into()))
        .request_async(&transport)
        .await
        .unwrap_err();
    assert_eq!(server_error(err), BasicErrorResponseType::InvalidGrant);
}

// ----- refresh ------------------------------------------------------------------------

#[tokio::test]
async fn refresh_narrows_scope_for_confidential_client_rfc6749_6() {
    let srv = common::start().await;
    let web = oauth_client(
        &srv,
        common::WEB_ID,
        Some(common::WEB_SECRET),
        AuthType::BasicAuth,
        common::REDIRECT,
    );
    let first = code_flow(&web, &["profile", "email"], common::REDIRECT).await;
    let refresh = first.refresh_token().unwrap().clone();

    let narrowed = web
        .exchange_refresh_token(&refresh)
        .add_scope(Scope::new("profile".into()))
        .request_async(&transport)
        .await
        .unwrap();
    assert_eq!(*narrowed.token_type(), BasicTokenType::Bearer);
    assert_eq!(scopes(&narrowed), ["profile"]);
    assert_ne!(
        narrowed.access_token().secret(),
        first.access_token().secret()
    );
    // Confidential clients' refresh tokens do not rotate by default.
    assert!(narrowed.refresh_token().is_none());
    assert_me(&srv, narrowed.access_token(), common::WEB_ID).await;

    // Still usable; beyond the original grant is invalid_scope even if the client may ask.
    let err = web
        .exchange_refresh_token(&refresh)
        .add_scope(Scope::new("openid".into()))
        .request_async(&transport)
        .await
        .unwrap_err();
    assert_eq!(server_error(err), BasicErrorResponseType::InvalidScope);
    let again = web
        .exchange_refresh_token(&refresh)
        .request_async(&transport)
        .await
        .unwrap();
    assert_eq!(scopes(&again), ["email", "profile"]);
}

#[tokio::test]
async fn public_client_refresh_rotates_and_reuse_is_invalid_grant_rfc9700_4_14_2() {
    let srv = common::start().await;
    let native = oauth_client(
        &srv,
        common::NATIVE_ID,
        None,
        AuthType::RequestBody,
        NATIVE_REDIRECT_PORT,
    );
    let first = code_flow(&native, &["profile", "email"], NATIVE_REDIRECT_PORT).await;
    let old = first.refresh_token().unwrap().clone();

    let second = native
        .exchange_refresh_token(&old)
        .request_async(&transport)
        .await
        .unwrap();
    let new = second
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(new.secret(), old.secret());
    assert_eq!(scopes(&second), ["email", "profile"]);
    assert_me(&srv, second.access_token(), common::NATIVE_ID).await;

    let err = native
        .exchange_refresh_token(&old)
        .request_async(&transport)
        .await
        .unwrap_err();
    assert_eq!(server_error(err), BasicErrorResponseType::InvalidGrant);

    // Reuse revoked the grant: the replacement and its access token are dead too.
    let err = native
        .exchange_refresh_token(&new)
        .request_async(&transport)
        .await
        .unwrap_err();
    assert_eq!(server_error(err), BasicErrorResponseType::InvalidGrant);
    let (status, _) = call_api(&srv, "/api/me", second.access_token()).await;
    assert_eq!(status, 401);
}

// ----- revocation ---------------------------------------------------------------------

#[tokio::test]
async fn oauth2_refuses_a_plain_http_revocation_url() {
    // Why the other revocation tests go through `transport`.
    let srv = common::start().await;
    let client = BasicClient::new(ClientId::new(common::WEB_ID.into()))
        .set_revocation_url(RevocationUrl::new(srv.url("/revoke")).unwrap());
    let err = client
        .revoke_token(StandardRevocableToken::AccessToken(AccessToken::new(
            "x".into(),
        )))
        .unwrap_err();
    assert!(
        matches!(err, ConfigurationError::InsecureUrl("revocation")),
        "{err:?}"
    );
}

#[tokio::test]
async fn revoking_access_token_makes_it_401_rfc7009_2() {
    let srv = common::start().await;
    let web = oauth_client(
        &srv,
        common::WEB_ID,
        Some(common::WEB_SECRET),
        AuthType::BasicAuth,
        common::REDIRECT,
    );
    let tokens = code_flow(&web, &["profile"], common::REDIRECT).await;
    assert_me(&srv, tokens.access_token(), common::WEB_ID).await;

    web.revoke_token(tokens.access_token().into())
        .unwrap()
        .request_async(&transport)
        .await
        .unwrap();
    let (status, _) = call_api(&srv, "/api/me", tokens.access_token()).await;
    assert_eq!(status, 401);

    // Revoking the access token leaves the grant's refresh token alone.
    let refreshed = web
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&transport)
        .await
        .unwrap();
    assert_me(&srv, refreshed.access_token(), common::WEB_ID).await;
}

#[tokio::test]
async fn revoking_refresh_token_revokes_the_grant_for_public_client_rfc7009_2_1() {
    let srv = common::start().await;
    let native = oauth_client(
        &srv,
        common::NATIVE_ID,
        None,
        AuthType::RequestBody,
        NATIVE_REDIRECT_PORT,
    );
    let tokens = code_flow(&native, &["profile"], NATIVE_REDIRECT_PORT).await;
    let refresh = tokens.refresh_token().unwrap().clone();

    native
        .revoke_token((&refresh).into())
        .unwrap()
        .request_async(&transport)
        .await
        .unwrap();
    let (status, _) = call_api(&srv, "/api/me", tokens.access_token()).await;
    assert_eq!(status, 401);
    let err = native
        .exchange_refresh_token(&refresh)
        .request_async(&transport)
        .await
        .unwrap_err();
    assert_eq!(server_error(err), BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn revoking_another_clients_token_is_200_and_changes_nothing_rfc7009_2_2() {
    let srv = common::start().await;
    let web = oauth_client(
        &srv,
        common::WEB_ID,
        Some(common::WEB_SECRET),
        AuthType::BasicAuth,
        common::REDIRECT,
    );
    let tokens = code_flow(&web, &["profile"], common::REDIRECT).await;
    let svc = oauth_client(
        &srv,
        common::SVC_ID,
        Some(common::SVC_SECRET),
        AuthType::BasicAuth,
        common::REDIRECT,
    );
    svc.revoke_token(tokens.access_token().into())
        .unwrap()
        .request_async(&transport)
        .await
        .unwrap();
    assert_me(&srv, tokens.access_token(), common::WEB_ID).await;
}
