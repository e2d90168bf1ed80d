//! The tutorial's finished app (`examples/tutorial.rs`) over a real socket: its own login
//! and session, the consent form's CSRF token, the page headers, the safe `next`, the HTML
//! refusal page, and every flow it offers, on a SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

#[path = "../examples/tutorial.rs"]
#[allow(dead_code, unreachable_pub)]
mod tutorial;

use reqwest::{redirect::Policy, Response, StatusCode};
use serde_json::Value;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CALLBACK: &str = "http://127.0.0.1:9000/callback";

struct Running {
    base: String,
    http: reqwest::Client,
    _dir: TempDir,
}

/// A directory removed when the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start() -> Running {
    let dir = std::env::temp_dir().join(format!(
        "authgate-tutorial-{}",
        authgate::rng::random_token(&authgate::OsRng)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("app.db");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = tutorial::app(db.to_str().unwrap(), &base).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    Running {
        base,
        http,
        _dir: TempDir(db.parent().unwrap().to_owned()),
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorize_path(&self, client_id: &str, state: &str) -> String {
        let mut url = url::Url::parse(&self.url("/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CALLBACK),
            ("scope", "profile"),
            ("state", state),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        format!("{}?{}", url.path(), url.query().unwrap())
    }

    /// Signs in as alice and answers the session cookie (`sid=...`).
    async fn login(&self, next: &str) -> (String, Response) {
        let res = self
            .http
            .post(self.url("/login"))
            .form(&[
                ("username", "alice"),
                ("password", "wonderland"),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = res.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        let sid = cookie.split(';').next().unwrap().to_owned();
        (sid, res)
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.unwrap()
    }

    async fn decide(&self, path: &str, cookie: &str, csrf: &str, confirm: &str) -> Response {
        self.http
            .post(self.url(path))
            .header("cookie", cookie)
            .form(&[("csrf", csrf), ("confirm", confirm)])
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, auth: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.http.post(self.url("/token")).form(form);
        if let Some((id, secret)) = auth {
            req = req.basic_auth(id, Some(secret));
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }
}

/// The consent page's CSRF token, read from its hidden field.
fn csrf_of(page: &str) -> String {
    let start = page.find("name=csrf value=\"").unwrap() + "name=csrf value=\"".len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

fn location(res: &Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Login and consent pages must not be framed, cached or leak their URL (RFC 6749 §10.13,
/// RFC 9700 §4.16).
fn assert_page_headers(res: &Response) {
    let h = res.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn a_new_user_signs_in_consents_and_the_app_gets_tokens_with_pkce() {
    let app = start().await;
    let authorize = app.authorize_path("web-app", "s1");
    // Not signed in: to the login page, and back after.
    let res = app.get(&authorize, None).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.headers().get("location")
    );
    let to_login = location(&res);
    assert!(
        to_login.starts_with("/login?next=%2Fauthorize%3F"),
        "{to_login}"
    );
    let res = app.get(&to_login, None).await;
    assert_page_headers(&res);
    let form = res.text().await.unwrap();
    assert!(form.contains("name=next value=\"/authorize?"), "{form}");
    let wrong = app
        .http
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", "nope"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let (sid, res) = app.login(&authorize).await;
    assert_eq!(location(&res), authorize);

    // Signed in: the consent page, with its CSRF token.
    let res = app.get(&authorize, Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_page_headers(&res);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("alice, allow web-app to use: profile?"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    let res = app.decide(&authorize, &sid, &csrf, "yes").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.starts_with(CALLBACK), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("s1"));
    let code = query_param(&back, "code").unwrap();

    let (status, tokens) = app
        .token(
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("client_id", "web-app"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let me: Value = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"], "alice");
    assert_eq!(me["client"], "web-app");

    // Refresh, then revoke the new access token; introspection (by the confidential
    // client) sees it inactive.
    let (status, fresh) = app
        .token(
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", "web-app"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{fresh}");
    let fresh_access = fresh["access_token"].as_str().unwrap();
    let svc = Some(("reporting", "a-long-generated-secret"));
    let introspect = |token: String| {
        let req = app
            .http
            .post(app.url("/introspect"))
            .basic_auth("reporting", Some("a-long-generated-secret"))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(introspect(fresh_access.to_owned()).await["active"], true);
    let res = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", fresh_access), ("client_id", "web-app")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(introspect(fresh_access.to_owned()).await["active"], false);

    // Client credentials: a token for the service, which /api/me refuses for its scope.
    let (status, cc) = app
        .token(svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, 200, "{cc}");
    let res = app
        .http
        .get(app.url("/api/me"))
        .bearer_auth(cc["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_consent_form_needs_its_own_csrf_token_for_this_session_and_request() {
    let app = start().await;
    let authorize = app.authorize_path("web-app", "s1");
    let (sid, _) = app.login(&authorize).await;
    let (other_sid, _) = app.login("/").await;
    let page = app.get(&authorize, Some(&sid)).await.text().await.unwrap();
    let csrf = csrf_of(&page);
    // No token, another session's, another request's: refused, nothing redirected.
    let other_request = app.authorize_path("web-app", "s2");
    for (path, cookie, token) in [
        (authorize.as_str(), sid.as_str(), ""),
        (authorize.as_str(), other_sid.as_str(), csrf.as_str()),
        (other_request.as_str(), sid.as_str(), csrf.as_str()),
    ] {
        let res = app.decide(path, cookie, token, "yes").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} {cookie}");
        assert!(res.headers().get("location").is_none());
    }
    // The right one still works, and a denial goes back as access_denied (RFC 6749 §4.1.2.1).
    let res = app.decide(&authorize, &sid, &csrf, "no").await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("access_denied")
    );
}

#[tokio::test]
async fn the_login_page_never_sends_the_user_off_site() {
    let app = start().await;
    for next in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let (_, res) = app.login(next).await;
        assert_eq!(location(&res), "/", "{next}");
    }
}

#[tokio::test]
async fn an_unverifiable_client_gets_the_app_s_html_page_never_a_redirect_rfc6749_4_1_2_1() {
    let app = start().await;
    let res = app.get(&app.authorize_path("no-such-app", "s"), None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_page_headers(&res);
    let body = res.text().await.unwrap();
    assert!(body.contains("<h1>Sign-in failed</h1>"), "{body}");
}

/// The guide includes parts of the examples by line numbers; each include is preceded by
/// `<!-- from "first line's text" to "last line's text" -->`, checked here, so an edit of an
/// example that moves its lines fails this test instead of showing the wrong lines.
#[test]
fn the_guide_s_listings_are_the_lines_they_name() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let book = root.join("docs/book/src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&book).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut marker: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("<!-- from \"") {
                let (first, rest) = rest.split_once("\" to \"").unwrap();
                let last = rest.strip_suffix("\" -->").unwrap();
                marker = Some((first.to_owned(), last.to_owned()));
                continue;
            }
            let Some(inner) = line
                .strip_prefix("{{#include ")
                .and_then(|l| l.strip_suffix("}}"))
            else {
                continue;
            };
            let mut parts = inner.rsplitn(3, ':');
            let (end, start, file) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let (start, end): (usize, usize) = (start.parse().unwrap(), end.parse().unwrap());
            let (first, last) = marker
                .take()
                .unwrap_or_else(|| panic!("{}: no marker before {line}", path.display()));
            let source = std::fs::read_to_string(book.join(file)).unwrap();
            let lines: Vec<&str> = source.lines().collect();
            assert!(
                lines[start - 1].contains(&first),
                "{}: line {start} of {file} is {:?}, not {first:?}",
                path.display(),
                lines[start - 1]
            );
            assert!(
                lines[end - 1].trim() == last || lines[end - 1].trim_start().starts_with(&last),
                "{}: line {end} of {file} is {:?}, not {last:?}",
                path.display(),
                lines[end - 1]
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} listings found");
}
