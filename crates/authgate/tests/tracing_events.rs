//! The engine's `tracing` events: every refusal names the endpoint, the client, the error
//! code and the internal reason, while the answer stays as generic as the RFC asks; no
//! secret, token or code reaches the log; request values are escaped; successes are
//! `debug` only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::io::Write;
use std::sync::{Arc, Mutex};

use authgate::*;
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

const ISSUER: &str = "https://auth.example";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const SECRET: &str = "the-secret-of-web";

/// The log lines written while a test runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs a subscriber for this thread (the tests run on a current-thread runtime) at
/// `level`, writing plain lines into the returned buffer.
fn capture(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_max_level(level)
        .with_ansi(false)
        .without_time()
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (out, guard)
}

fn server() -> (AuthorizationServer, MemoryStore) {
    let s = MemoryStore::new();
    s.add_client(
        ClientRecord::confidential("web", SECRET)
            .redirect_uris(["https://app.example/cb"])
            .grant_types(["authorization_code", "refresh_token", "client_credentials"])
            .response_types(["code"])
            .scope("read write"),
    );
    let mut server =
        AuthorizationServer::new(s.stores(), ServerConfig::new(ISSUER).refresh_tokens(true));
    server
        .register_grant(AuthorizationCodeGrant::new())
        .register_grant(RefreshTokenGrant::new())
        .register_grant(ClientCredentialsGrant::new())
        .register_revoke_token_endpoint(RevocationEndpoint::new());
    (server, s)
}

fn post(auth: Option<(&str, &str)>, body: &str) -> OAuth2Request {
    let mut b =
        http::Request::post("/token").header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = auth {
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        b = b.header("authorization", format!("Basic {enc}"));
    }
    OAuth2Request::from_http(b.body(Bytes::from(body.to_owned())).unwrap(), 65536).unwrap()
}

async fn token(s: &AuthorizationServer, auth: Option<(&str, &str)>, body: &str) -> (u16, Value) {
    let res = s.create_token_response(&post(auth, body)).await;
    (res.status.as_u16(), res.json_body().unwrap())
}

async fn code(s: &AuthorizationServer) -> String {
    let uri = format!(
        "/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
         &code_challenge={CHALLENGE}&code_challenge_method=S256&state=st&scope=read"
    );
    let req = OAuth2Request::from_http(http::Request::get(uri).body(Bytes::new()).unwrap(), 65536)
        .unwrap();
    let res = s
        .create_authorization_response(&req, Some(&ResourceOwner::new("u1", "alice")))
        .await
        .unwrap();
    let url = url::Url::parse(res.location().unwrap()).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    code
}

fn redeem(code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb\
         &code_verifier={VERIFIER}"
    )
}

#[tokio::test]
async fn a_wrong_secret_is_logged_as_secret_mismatch_and_answered_generically_rfc6749_5_2() {
    let (s, _) = server();
    let (log, _guard) = capture(tracing::Level::INFO);
    let (status, body) = token(
        &s,
        Some(("web", "not-the-secret")),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_description"], "client authentication failed");
    assert!(!body.to_string().contains("mismatch"), "{body}");
    let lines = log.lines_with("refused");
    assert_eq!(lines.len(), 1, "{}", log.text());
    let line = &lines[0];
    for field in [
        "endpoint=\"token\"",
        "grant_type=\"client_credentials\"",
        "client_id=\"web\"",
        "error=\"invalid_client\"",
        "reason=\"secret_mismatch\"",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(line.trim_start().starts_with("INFO"), "{line}");
    assert!(!log.text().contains("not-the-secret"), "{}", log.text());
}

#[tokio::test]
async fn each_client_authentication_failure_has_its_own_reason() {
    let (s, _) = server();
    let (log, _guard) = capture(tracing::Level::INFO);
    type Case<'a> = (Option<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: [Case<'_>; 4] = [
        (
            Some(("ghost", "x")),
            "grant_type=client_credentials",
            "client_unknown",
        ),
        (
            None,
            "grant_type=client_credentials&client_id=web&client_secret=the-secret-of-web",
            "auth_method_mismatch",
        ),
        (
            None,
            "grant_type=client_credentials&client_id=web",
            "auth_method_mismatch",
        ),
        (None, "grant_type=client_credentials", "credentials_missing"),
    ];
    for (auth, body, reason) in cases {
        let before = log.lines_with("refused").len();
        let (_, answer) = token(&s, auth, body).await;
        assert_eq!(answer["error"], "invalid_client", "{body}");
        let lines = log.lines_with("refused");
        assert_eq!(lines.len(), before + 1, "{body}");
        let line = lines.last().unwrap();
        assert!(
            line.contains(&format!("reason=\"{reason}\"")),
            "{body}: {line}"
        );
    }
    // The secret sent in the body to a Basic client never reaches the log.
    assert!(!log.text().contains(SECRET), "{}", log.text());
}

#[tokio::test]
async fn a_replayed_code_is_logged_as_code_replayed_and_the_code_never_rfc6749_4_1_2() {
    let (s, _) = server();
    let code = code(&s).await;
    let auth = Some(("web", SECRET));
    let (status, first) = token(&s, auth, &redeem(&code)).await;
    assert_eq!(status, 200, "{first}");
    let (log, _guard) = capture(tracing::Level::INFO);
    let (status, again) = token(&s, auth, &redeem(&code)).await;
    assert_eq!(status, 400);
    assert_eq!(again["error"], "invalid_grant");
    let lines = log.lines_with("refused");
    assert_eq!(lines.len(), 1, "{}", log.text());
    assert!(
        lines[0].contains("reason=\"code_replayed\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("grant_type=\"authorization_code\""),
        "{}",
        lines[0]
    );
    let text = log.text();
    for secret in [
        code.as_str(),
        VERIFIER,
        SECRET,
        first["access_token"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // A wrong verifier and an unknown code have reasons of their own.
    let code = self::code(&s).await;
    let wrong = redeem(&code).replace(VERIFIER, &"a".repeat(43));
    let (_, body) = token(&s, auth, &wrong).await;
    assert_eq!(body["error"], "invalid_grant");
    let (_, body) = token(&s, auth, &redeem("not-a-code")).await;
    assert_eq!(body["error"], "invalid_grant");
    let lines = log.lines_with("refused");
    assert!(
        lines[1].contains("reason=\"pkce_mismatch\""),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("reason=\"code_malformed\""),
        "{}",
        lines[2]
    );
}

#[tokio::test]
async fn a_request_value_cannot_forge_a_log_line() {
    let (s, _) = server();
    let (log, _guard) = capture(tracing::Level::INFO);
    let forged = "web\" reason=\"ok\nINFO forged line";
    let body = format!(
        "grant_type=client_credentials&client_id={}",
        url::form_urlencoded::byte_serialize(forged.as_bytes()).collect::<String>()
    );
    let (_, answer) = token(&s, None, &body).await;
    assert_eq!(answer["error"], "invalid_client");
    let text = log.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("INFO forged")),
        "{text}"
    );
    assert!(
        text.contains(r#"client_id="web\" reason=\"ok\nINFO forged line""#),
        "{text}"
    );
}

#[tokio::test]
async fn successes_are_debug_events_and_silent_at_info() {
    let (s, _) = server();
    {
        let (log, _guard) = capture(tracing::Level::INFO);
        let (status, _) = token(&s, Some(("web", SECRET)), "grant_type=client_credentials").await;
        assert_eq!(status, 200);
        assert_eq!(log.text(), "", "a success logged at info");
    }
    let (log, _guard) = capture(tracing::Level::DEBUG);
    let (status, body) = token(&s, Some(("web", SECRET)), "grant_type=client_credentials").await;
    assert_eq!(status, 200);
    let lines = log.lines_with("served");
    assert_eq!(lines.len(), 1, "{}", log.text());
    assert!(lines[0].contains("endpoint=\"token\""), "{}", lines[0]);
    assert!(lines[0].trim_start().starts_with("DEBUG"), "{}", lines[0]);
    assert!(!log.text().contains(body["access_token"].as_str().unwrap()));
}

#[tokio::test]
async fn bearer_refusals_carry_their_reason_and_never_the_token_rfc6750_3_1() {
    let (s, store) = server();
    let protector = ResourceProtector::from_server(&s);
    let (_, body) = token(
        &s,
        Some(("web", SECRET)),
        "grant_type=client_credentials&scope=read",
    )
    .await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let (log, _guard) = capture(tracing::Level::INFO);
    let parts = |token: &str| {
        http::Request::get("/api")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts()
            .0
    };
    let e = protector
        .validate(&parts(&access), &ScopeRequirement::all_of("write"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);
    let e = protector
        .validate(&parts("unknown-token"), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 401);
    // Revoked: the answer says only invalid_token; the log says why.
    let (status, _) = {
        let res = s
            .create_revocation_response(&post(Some(("web", SECRET)), &format!("token={access}")))
            .await;
        (res.status.as_u16(), ())
    };
    assert_eq!(status, 200);
    let e = protector
        .validate(&parts(&access), &ScopeRequirement::none())
        .await
        .unwrap_err();
    assert_eq!(e.error().unwrap().code(), ErrorCode::InvalidToken);
    let lines = log.lines_with("refused");
    assert_eq!(lines.len(), 3, "{}", log.text());
    for (line, reason) in lines
        .iter()
        .zip(["scope_insufficient", "token_unknown", "token_revoked"])
    {
        assert!(line.contains("endpoint=\"bearer\""), "{line}");
        assert!(line.contains(&format!("reason=\"{reason}\"")), "{line}");
    }
    assert!(!log.text().contains(&access), "{}", log.text());
    drop(store);
}

#[tokio::test]
async fn a_long_request_value_is_cut_in_the_log() {
    let (s, _) = server();
    let (log, _guard) = capture(tracing::Level::INFO);
    let long = "é".repeat(5000);
    let (_, answer) = token(
        &s,
        None,
        &format!("grant_type=client_credentials&client_id={long}"),
    )
    .await;
    assert_eq!(answer["error"], "invalid_client");
    let text = log.text();
    assert!(text.len() < 600, "{} bytes logged", text.len());
    assert!(
        text.contains(&format!("client_id=\"{}\"", "é".repeat(64))),
        "{text}"
    );
}
