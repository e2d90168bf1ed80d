//! A relying party built on the `openidconnect` crate, configured with nothing but the
//! issuer URL: discovery, the code flow with PKCE and a nonce, ID token verification with
//! the discovered keys, UserInfo, a refresh, and an RP-initiated logout URL. Shared by the
//! example app's and the reference server's interop tests; the provider-specific part (how
//! the user signs in and approves) is the `approve` callback.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
    CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
};

/// One relying party registered at the provider.
pub struct RelyingParty<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    /// The algorithm the client registered (`id_token_signed_response_alg`).
    pub alg: CoreJwsSigningAlgorithm,
    /// Extra scope values beyond `openid`.
    pub scopes: &'a [&'a str],
}

/// What a signed-in relying party knows.
pub struct SignedIn {
    pub claims: CoreIdTokenClaims,
    pub refreshed: CoreIdTokenClaims,
    pub userinfo: CoreUserInfoClaims,
    /// The RP-initiated logout URL (with `id_token_hint` and `state`), when the provider
    /// advertises an end-session endpoint and `post_logout` is given.
    pub logout_url: Option<String>,
}

/// A `reqwest` client as `openidconnect` asks for it: no redirects followed.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Runs the whole relying-party side. `approve` takes the authorization URL the RP built,
/// signs the user in and approves, and answers the redirect back to the RP (its Location).
pub async fn sign_in(
    issuer: &str,
    rp: &RelyingParty<'_>,
    post_logout: Option<&str>,
    approve: impl AsyncFnOnce(String) -> String,
) -> SignedIn {
    let http = http_client();
    let meta = ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(issuer.to_owned()).unwrap(),
        &http,
    )
    .await
    .unwrap_or_else(|e| panic!("discovery of {issuer}: {e:?}"));
    let end_session = meta.additional_metadata().end_session_endpoint.clone();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.client_id.to_owned()),
        Some(ClientSecret::new(rp.client_secret.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.to_owned()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in rp.scopes {
        request = request.add_scope(Scope::new((*s).to_owned()));
    }
    let (url, state, nonce) = request.url();
    let back = url::Url::parse(&approve(url.to_string()).await).unwrap();
    let params: std::collections::HashMap<String, String> =
        back.query_pairs().into_owned().collect();
    assert_eq!(params.get("state"), Some(state.secret()), "{back}");
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(issuer),
        "RFC 9207"
    );

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    let id_token = tokens.id_token().expect("an ID token for scope openid");
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![rp.alg.clone()]);
    let claims = id_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|e| panic!("the ID token does not verify: {e:?}"))
        .clone();
    assert_eq!(
        *id_token.signing_alg().unwrap(),
        rp.alg,
        "signed with the client's algorithm"
    );

    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("UserInfo: {e:?}"));

    let refresh = tokens.refresh_token().expect("a refresh token");
    let again = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    // OpenID Connect Core §12.2: no nonce in a refreshed ID token.
    let refreshed = again
        .id_token()
        .expect("a new ID token on refresh")
        .claims(&verifier, |n: Option<&Nonce>| {
            n.is_none()
                .then_some(())
                .ok_or_else(|| "a refreshed ID token carries a nonce".to_owned())
        })
        .unwrap_or_else(|e| panic!("the refreshed ID token does not verify: {e:?}"))
        .clone();

    let logout_url = match (end_session, post_logout) {
        (Some(end), Some(uri)) => Some(
            LogoutRequest::from(end)
                .set_id_token_hint(id_token)
                .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(uri.to_owned()).unwrap())
                .set_state(CsrfToken::new("logged-out".to_owned()))
                .http_get_url()
                .to_string(),
        ),
        _ => None,
    };
    SignedIn {
        claims,
        refreshed,
        userinfo,
        logout_url,
    }
}
