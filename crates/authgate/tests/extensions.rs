//! Extension points: a custom grant type, a built-in grant customised through its hooks,
//! and replaced token / expires_in generators — driven through the engine directly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use authgate::*;
use base64::Engine;
use bytes::Bytes;

const ISSUER: &str = "https://auth.example";

fn form_post(path: &str, auth: Option<(&str, &str)>, body: &str) -> OAuth2Request {
    let mut b =
        http::Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = auth {
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        b = b.header("authorization", format!("Basic {enc}"));
    }
    OAuth2Request::from_http(b.body(Bytes::from(body.to_owned())).unwrap(), 65536).unwrap()
}

fn get(uri: &str) -> OAuth2Request {
    OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 65536).unwrap()
}

fn store() -> MemoryStore {
    let s = MemoryStore::new();
    s.add_client(
        ClientRecord::confidential("svc", "secret")
            .grant_types([
                "client_credentials",
                "urn:example:params:oauth:grant-type:magic",
            ])
            .scope("read write"),
    );
    s.add_client(
        ClientRecord::public("spa")
            .redirect_uris(["https://spa.example/cb"])
            .grant_types(["implicit"])
            .response_types(["token"])
            .scope("profile"),
    );
    s
}

/// A made-up extension grant: exchanges a "magic word" for a token with scope `read`.
struct MagicWordGrant;

impl Grant for MagicWordGrant {
    fn token_grant(self: Arc<Self>) -> Option<Arc<dyn TokenGrant>> {
        Some(self)
    }
}

#[async_trait]
impl TokenGrant for MagicWordGrant {
    fn grant_type(&self) -> &str {
        "urn:example:params:oauth:grant-type:magic"
    }

    async fn create_token_response(
        &self,
        ctx: &ServerContext,
        req: &OAuth2Request,
        client: Arc<dyn Client>,
    ) -> Result<TokenResponse, OAuth2Error> {
        if req.form_value("word")? != Some("please") {
            return Err(OAuth2Error::invalid_grant("that is not the magic word"));
        }
        let owner = ResourceOwner::new("magic-user", "merlin");
        let issue =
            IssueContext::new(client.as_ref(), self.grant_type(), "read".parse()?).owner(&owner);
        let issued = ctx.issue_tokens(&issue).await?;
        Ok(issued.into_response())
    }
}

#[tokio::test]
async fn custom_urn_grant_is_registered_used_and_advertised() {
    let mut server = AuthorizationServer::new(store(), ServerConfig::new(ISSUER));
    server.register_grant(MagicWordGrant);
    let grant = "urn%3Aexample%3Aparams%3Aoauth%3Agrant-type%3Amagic";

    let res = server
        .create_token_response(&form_post(
            "/token",
            Some(("svc", "secret")),
            &format!("grant_type={grant}&word=please"),
        ))
        .await;
    assert_eq!(res.status, 200);
    let body = res.json_body().unwrap();
    assert_eq!(body["scope"], "read");
    let token = body["access_token"].as_str().unwrap();

    let protector = ResourceProtector::from_server(&server);
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let record = protector
        .validate(&request_with(&headers), &ScopeRequirement::all_of("read"))
        .await
        .unwrap();
    assert_eq!(record.username.as_deref(), Some("merlin"));
    assert_eq!(
        record.grant_type,
        "urn:example:params:oauth:grant-type:magic"
    );

    let res = server
        .create_token_response(&form_post(
            "/token",
            Some(("svc", "secret")),
            &format!("grant_type={grant}&word=abracadabra"),
        ))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json_body().unwrap()["error"], "invalid_grant");

    let meta = server.metadata().to_json();
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "urn:example:params:oauth:grant-type:magic"));
}

/// Customises the implicit grant's token creation: 5-minute tokens and an extra member.
struct ShortImplicitTokens;

#[async_trait]
impl GrantHooks for ShortImplicitTokens {
    fn prepare(
        &self,
        _ctx: &ServerContext,
        issue: &mut IssueContext<'_>,
    ) -> Result<(), OAuth2Error> {
        issue.expires_in = Some(300);
        issue.refresh_token = true; // the grant must still never hand one out in a fragment
        Ok(())
    }

    fn issued(&self, _ctx: &ServerContext, _issue: &IssueContext<'_>, issued: &mut IssuedTokens) {
        issued.extra.insert("token_flavour".into(), "short".into());
    }
}

#[tokio::test]
async fn implicit_grant_token_creation_is_customised_through_its_hook() {
    let mut server = AuthorizationServer::new(store(), ServerConfig::new(ISSUER));
    server.register_grant(ImplicitGrant::new().with_hooks(ShortImplicitTokens));
    let owner = ResourceOwner::new("u1", "alice");
    let res = server
        .create_authorization_response(
            &get("/authorize?response_type=token&client_id=spa&state=s"),
            Some(&owner),
        )
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let frag: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(loc.fragment().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(frag["expires_in"], "300");
    assert_eq!(frag["token_flavour"], "short");
    assert_eq!(frag["state"], "s");
    assert_eq!(frag["iss"], ISSUER);
    assert!(
        !frag.contains_key("refresh_token"),
        "RFC 6749 4.2.2: no refresh token in implicit"
    );
    assert!(
        loc.query().is_none(),
        "RFC 9700 4.3.2: no token in the query"
    );
}

#[tokio::test]
async fn expires_in_generator_is_replaceable() {
    let mut server = AuthorizationServer::new(store(), ServerConfig::new(ISSUER)).with_expires_in(
        |grant_type: &str, client: &dyn Client| {
            if grant_type == "client_credentials" && client.client_id() == "svc" {
                42
            } else {
                1
            }
        },
    );
    server.register_grant(ClientCredentialsGrant::new());
    let res = server
        .create_token_response(&form_post(
            "/token",
            Some(("svc", "secret")),
            "grant_type=client_credentials",
        ))
        .await;
    assert_eq!(res.json_body().unwrap()["expires_in"], 42);
}

/// A generator that prefixes tokens, delegating the format to the default one.
struct Prefixed;

impl TokenGenerator for Prefixed {
    fn generate(&self, token: &NewToken<'_>) -> token::GeneratedToken {
        let mut t = OpaqueTokenGenerator.generate(token);
        t.value = format!("ag_{}", t.value);
        t
    }
    fn parse(&self, value: &str) -> Option<token::TokenKey> {
        OpaqueTokenGenerator.parse(value.strip_prefix("ag_")?)
    }
}

#[tokio::test]
async fn token_generator_is_replaceable_and_used_by_the_protector() {
    let mut server =
        AuthorizationServer::new(store(), ServerConfig::new(ISSUER)).with_token_generator(Prefixed);
    server.register_grant(ClientCredentialsGrant::new());
    let res = server
        .create_token_response(&form_post(
            "/token",
            Some(("svc", "secret")),
            "grant_type=client_credentials",
        ))
        .await;
    let token = res.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("ag_"));
    let protector = ResourceProtector::from_server(&server);
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    protector
        .validate(&request_with(&headers), &ScopeRequirement::none())
        .await
        .unwrap();
}

#[tokio::test]
async fn refresh_tokens_follow_config_and_environment() {
    let config = ServerConfig::new(ISSUER)
        .apply_env_vars([(
            "AUTHGATE_REFRESH_TOKEN_GENERATOR".to_owned(),
            "true".to_owned(),
        )])
        .unwrap();
    let s = MemoryStore::new();
    s.add_client(ClientRecord::confidential("c", "s").grant_types(["password", "refresh_token"]));
    s.add_user(ResourceOwner::new("u", "alice"), "pw");
    let mut server = AuthorizationServer::new(s.clone(), config);
    server.register_grant(PasswordGrant::new(s.clone()));
    let res = server
        .create_token_response(&form_post(
            "/token",
            Some(("c", "s")),
            "grant_type=password&username=alice&password=pw",
        ))
        .await;
    assert_eq!(res.status, 200);
    assert!(res.json_body().unwrap()["refresh_token"].is_string());

    let mut off = AuthorizationServer::new(s.clone(), ServerConfig::new(ISSUER));
    off.register_grant(PasswordGrant::new(s));
    let res = off
        .create_token_response(&form_post(
            "/token",
            Some(("c", "s")),
            "grant_type=password&username=alice&password=pw",
        ))
        .await;
    assert!(
        res.json_body().unwrap().get("refresh_token").is_none(),
        "refresh tokens are off by default"
    );
}

/// Replays the code from inside the winning redemption, after the code was consumed and
/// before the tokens are saved: the narrowest window of the race.
struct ReplayDuringIssue {
    server: Arc<std::sync::OnceLock<Arc<AuthorizationServer>>>,
    body: String,
    issued: Arc<std::sync::Mutex<Option<String>>>,
}

#[async_trait]
impl GrantHooks for ReplayDuringIssue {
    async fn issue_tokens(
        &self,
        ctx: &ServerContext,
        issue: &IssueContext<'_>,
    ) -> Result<IssuedTokens, OAuth2Error> {
        let server = self.server.get().unwrap().clone();
        let replay = server
            .create_token_response(&form_post("/token", Some(("web", "secret")), &self.body))
            .await;
        assert_eq!(replay.json_body().unwrap()["error"], "invalid_grant");
        let issued = ctx.issue_tokens(issue).await?;
        *self.issued.lock().unwrap() = Some(issued.access_token.clone());
        Ok(issued)
    }
}

#[tokio::test]
async fn replay_during_redemption_still_revokes_the_winners_tokens_rfc9700_4_5() {
    let s = web_store();
    let cell = Arc::new(std::sync::OnceLock::new());
    let issued = Arc::new(std::sync::Mutex::new(None));
    // The code is needed for the hook's body: issue it with a plain server on the same store.
    let mut plain = AuthorizationServer::new(s.clone(), ServerConfig::new(ISSUER));
    plain.register_grant(AuthorizationCodeGrant::new());
    let body = approved_code_body(&plain).await;

    let mut server = AuthorizationServer::new(s, ServerConfig::new(ISSUER));
    server.register_grant(AuthorizationCodeGrant::new().with_hooks(ReplayDuringIssue {
        server: cell.clone(),
        body: body.clone(),
        issued: issued.clone(),
    }));
    let server = Arc::new(server);
    assert!(cell.set(server.clone()).is_ok());

    let res = server
        .create_token_response(&form_post("/token", Some(("web", "secret")), &body))
        .await;
    // The redemption that won still gets its answer, but its tokens are revoked.
    assert_eq!(res.status, 200);
    let token = issued
        .lock()
        .unwrap()
        .clone()
        .expect("tokens were issued before the check");
    assert_eq!(res.json_body().unwrap()["access_token"], token.as_str());
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let e = ResourceProtector::from_server(&server)
        .validate(&request_with(&headers), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidToken);
}

/// A GET request head carrying `headers` (what `ResourceProtector::validate` takes).
fn request_with(headers: &http::HeaderMap) -> http::request::Parts {
    let (mut parts, ()) = http::Request::get("/api").body(()).unwrap().into_parts();
    parts.headers = headers.clone();
    parts
}

/// A hook that tries what hooks may not do: widen the scope, or take the tokens out of
/// their grant family (where a code replay could not reach them).
struct Overreaching {
    widen: bool,
}

#[async_trait]
impl GrantHooks for Overreaching {
    fn prepare(
        &self,
        _ctx: &ServerContext,
        issue: &mut IssueContext<'_>,
    ) -> Result<(), OAuth2Error> {
        if self.widen {
            issue.scope = "profile admin".parse()?;
        }
        issue.family = None;
        Ok(())
    }
}

#[tokio::test]
async fn hooks_can_neither_widen_the_scope_nor_leave_the_family_rfc9700_4_5() {
    let s = web_store();
    for widen in [true, false] {
        let mut server = AuthorizationServer::new(s.clone(), ServerConfig::new(ISSUER));
        server.register_grant(AuthorizationCodeGrant::new().with_hooks(Overreaching { widen }));
        let body = approved_code_body(&server).await;
        let res = server
            .create_token_response(&form_post("/token", Some(("web", "secret")), &body))
            .await;
        if widen {
            assert_eq!(res.status, 500);
            assert_eq!(res.json_body().unwrap()["error"], "server_error");
            continue;
        }
        assert_eq!(res.status, 200);
        let token = res.json_body().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        // The replay revokes the family, and the token is still in it.
        let replay = server
            .create_token_response(&form_post("/token", Some(("web", "secret")), &body))
            .await;
        assert_eq!(replay.json_body().unwrap()["error"], "invalid_grant");
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        let e = ResourceProtector::from_server(&server)
            .validate(&request_with(&headers), &ScopeRequirement::none())
            .await
            .unwrap_err();
        assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidToken);
    }
}

/// A form-post page as an integration would write it (without the headers the engine
/// adds).
struct PlainPage;

impl FormPostPage for PlainPage {
    fn render(&self, response: &AuthorizationResponse) -> OAuth2Response {
        let fields: String = response
            .params
            .iter()
            .map(|(k, v)| format!("<input type=hidden name=\"{k}\" value=\"{v}\">"))
            .collect();
        let mut res = OAuth2Response::empty_ok();
        res.headers.remove("cache-control");
        res.body = format!(
            "<form method=post action=\"{}\">{fields}<button>Continue</button></form>",
            response.redirect_uri
        )
        .into();
        res
    }
}

#[tokio::test]
async fn form_post_is_offered_only_with_a_page_and_the_page_is_never_cached_or_framed() {
    let query = "/authorize?response_type=code&client_id=web&response_mode=form_post&state=s1";
    let s = web_store();
    let owner = ResourceOwner::new("u1", "alice");

    let mut without = AuthorizationServer::new(s.clone(), ServerConfig::new(ISSUER));
    without.register_grant(AuthorizationCodeGrant::new());
    let modes = without.metadata().to_json()["response_modes_supported"].clone();
    assert_eq!(modes, serde_json::json!(["query", "fragment"]));
    let Err(AuthorizationError::Redirect { error, .. }) = without
        .create_authorization_response(&get(query), Some(&owner))
        .await
    else {
        panic!("form_post without a page must be refused");
    };
    assert_eq!(error.code(), ErrorCode::InvalidRequest);

    let mut with = AuthorizationServer::new(s, ServerConfig::new(ISSUER)).with_form_post(PlainPage);
    with.register_grant(AuthorizationCodeGrant::new());
    let modes = with.metadata().to_json()["response_modes_supported"].clone();
    assert_eq!(modes, serde_json::json!(["query", "fragment", "form_post"]));
    let res = with
        .create_authorization_response(&get(query), Some(&owner))
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    assert!(
        res.location().is_none(),
        "the parameters travel in the page, not the URL"
    );
    let page = String::from_utf8(res.body.to_vec()).unwrap();
    assert!(page.contains("action=\"https://app.example/cb\""), "{page}");
    assert!(
        page.contains("name=\"code\"") && page.contains("name=\"iss\""),
        "{page}"
    );
    assert!(page.contains("value=\"s1\""), "state travels too: {page}");
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(res.headers["referrer-policy"], "no-referrer");
    assert_eq!(res.headers["x-frame-options"], "DENY");
    assert_eq!(
        res.headers["content-security-policy"],
        "frame-ancestors 'none'"
    );
}

/// A store with one confidential web client of the code grant, scope `profile`.
fn web_store() -> MemoryStore {
    let s = MemoryStore::new();
    s.add_client(
        ClientRecord::confidential("web", "secret")
            .redirect_uris(["https://app.example/cb"])
            .grant_types(["authorization_code"])
            .response_types(["code"])
            .scope("profile"),
    );
    s
}

/// Approves a code request of `web` as alice; answers the token request body redeeming it.
async fn approved_code_body(server: &AuthorizationServer) -> String {
    let res = server
        .create_authorization_response(
            &get("/authorize?response_type=code&client_id=web"),
            Some(&ResourceOwner::new("u1", "alice")),
        )
        .await
        .unwrap();
    let loc = url::Url::parse(res.location().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    format!("grant_type=authorization_code&code={code}")
}
