//! A real browser through the reference server: headless Chromium, driven over WebDriver
//! by chromedriver, signs in, sees the consent page and approves (or denies); the test then
//! plays the client: it reads the redirect on its own callback server, exchanges the code and
//! calls `/api/me`.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them). Without
//! `chromedriver` the tests print `SKIPPED` and pass, except under `CI`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fantoccini::{Client, ClientBuilder, Locator};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "browser-app";
const CLIENT_SECRET: &str = "browser-app-secret";
const CLIENT_NAME: &str = "Looking Glass Notes";
const SUBJECT: &str = "user-alice-42";

/// How long any one page or redirect may take.
const PAGE_WAIT: Duration = Duration::from_secs(15);

/// Chromium's flags on this machine: headless, and no background connections (the closed
/// network refuses them, and they would only slow the test).
const CHROME_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=800,700",
];

/// `chromedriver` on a free port, in its own process group so that dropping it also ends the
/// Chromium it started, even when a test fails before closing its session.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group's id is the child's pid (process_group(0) below).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver, or answers `None` when it is not installed (a failure under `CI`).
async fn chromedriver() -> Option<ChromeDriver> {
    let port = common::free_port();
    let spawned = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromedriver not found: CI must run the browser tests (.ci/run installs chromium and chromium-driver)"
            );
            println!("SKIPPED: chromedriver not found");
            return None;
        }
        Err(e) => panic!("cannot start chromedriver: {e}"),
    };
    let mut driver = ChromeDriver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if let Some(status) = driver.child.try_wait().unwrap() {
            panic!("chromedriver exited early with {status}");
        }
        if let Ok(res) = http.get(format!("{}/status", driver.url)).send().await {
            if res.status() == 200 {
                return Some(driver);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {}", driver.url);
}

/// How a test's Chromium runs: the default, or JavaScript off and the dark theme asked for.
#[derive(Clone, Copy, Default)]
struct Look {
    /// `prefers-color-scheme: dark`.
    dark: bool,
    /// JavaScript blocked for every page.
    no_javascript: bool,
}

/// A WebDriver session with headless Chromium and a fresh, empty profile in `dir`.
async fn browser(driver: &ChromeDriver, dir: &Path, look: Look) -> Client {
    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| (*a).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    if look.dark {
        args.push("--force-dark-mode".into());
    }
    // 2 blocks: the content setting a policy would set.
    let javascript = if look.no_javascript { 2 } else { 1 };
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": args,
            "prefs": { "profile.managed_default_content_settings.javascript": javascript },
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session via chromedriver: {e}"))
}

/// The client's redirect endpoint: records each query string (GET) and form body (POST,
/// form_post) it receives and answers a small page; and its post-logout page, `/bye`.
struct Callback {
    uri: String,
    bye: String,
    queries: Arc<Mutex<Vec<String>>>,
    posts: Arc<Mutex<Vec<String>>>,
}

async fn callback_server() -> Callback {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let queries = Arc::new(Mutex::new(Vec::new()));
    let posts = Arc::new(Mutex::new(Vec::new()));
    let (seen, posted) = (queries.clone(), posts.clone());
    const DONE: &str =
        "<!doctype html><title>Client callback</title><h1 id=\"done\">Back at the client</h1>";
    let app = axum::Router::new()
        .route(
            "/cb",
            axum::routing::get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(q.unwrap_or_default());
                    axum::response::Html(DONE)
                }
            })
            .post(move |body: String| {
                let posted = posted.clone();
                async move {
                    posted.lock().unwrap().push(body);
                    axum::response::Html(DONE)
                }
            }),
        )
        .route(
            "/bye",
            axum::routing::get(|| async {
                axum::response::Html(
                    "<!doctype html><title>Signed out</title><h1 id=\"bye\">Signed out of the client</h1>",
                )
            }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Callback {
        uri: format!("http://127.0.0.1:{port}/cb"),
        bye: format!("http://127.0.0.1:{port}/bye"),
        queries,
        posts,
    }
}

impl Callback {
    /// Waits for the first redirect to arrive; answers its query parameters.
    async fn first(&self) -> Vec<(String, String)> {
        for _ in 0..(PAGE_WAIT.as_millis() / 50) {
            if let Some(q) = self.queries.lock().unwrap().first() {
                return form_urlencoded::parse(q.as_bytes()).into_owned().collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the browser never reached the client's redirect URI {}",
            self.uri
        );
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Everything one browser test needs, started.
struct Setup {
    // Field order is drop order: the server and chromedriver end when the test does.
    server: common::Running,
    _driver: ChromeDriver,
    browser: Client,
    callback: Callback,
    verifier: String,
    state: String,
}

async fn setup(tag: &str) -> Option<Setup> {
    setup_with(tag, Look::default()).await
}

async fn setup_with(tag: &str, look: Look) -> Option<Setup> {
    let driver = chromedriver().await?;
    let dir = common::temp_dir(tag);
    let callback = callback_server().await;
    let (config, port) = common::write_config(
        &dir,
        &format!(
            r#"
issuer = "http://127.0.0.1:{{PORT}}"
bind = "127.0.0.1:{{PORT}}"

[[clients]]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
client_name = "{CLIENT_NAME}"
redirect_uris = ["{}"]
post_logout_redirect_uris = ["{}"]
grant_types = ["authorization_code"]
response_types = ["code"]
scope = "openid profile email"
token_endpoint_auth_method = "client_secret_basic"

[[clients]]
client_id = "tv"
client_name = "Living Room TV"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code"]
scope = "profile"

[[users]]
username = "alice"
password = "wonderland"
subject = "{SUBJECT}"
name = "Alice Liddell"
"#,
            callback.uri, callback.bye
        ),
    );
    let server = common::start(&dir, &config, port).await;
    let browser = browser(&driver, &dir, look).await;
    Some(Setup {
        server,
        _driver: driver,
        browser,
        callback,
        verifier: format!(
            "{}{}",
            authgate::token::generate_client_secret(&authgate::OsRng),
            authgate::token::generate_client_secret(&authgate::OsRng)
        ),
        state: authgate::token::generate_client_secret(&authgate::OsRng),
    })
}

impl Setup {
    fn authorize_url(&self) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()));
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &self.callback.uri)
            .append_pair("scope", "profile")
            .append_pair("state", &self.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}/authorize?{query}", self.server.base)
    }

    /// Opens the authorization request, signs in as alice on the login page it shows, and
    /// waits for the consent page.
    async fn sign_in_to_consent(&self) {
        let b = &self.browser;
        b.goto(&self.authorize_url()).await.unwrap();
        let username = b
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Id("username"))
            .await
            .expect("the authorization request of a signed-out user shows the login form");
        assert_eq!(b.title().await.unwrap(), "Sign in · authgate");
        assert!(
            b.find(Locator::Id("approve")).await.is_err(),
            "no consent before signing in"
        );
        username.send_keys("alice").await.unwrap();
        b.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys("wonderland")
            .await
            .unwrap();
        b.find(Locator::Id("sign-in"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        if let Err(e) = b
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Id("approve"))
            .await
        {
            let at = b.current_url().await.map(|u| u.to_string());
            let page = b.source().await.unwrap_or_default();
            panic!(
                "after signing in the consent page shows ({e}); the browser is at {at:?}:\n{page}"
            );
        }
        let url = b.current_url().await.unwrap();
        assert_eq!(
            url.path(),
            "/authorize",
            "signing in returns to the request"
        );
    }
}

/// A PNG's width and height, after checking its signature and header chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "a PNG is more than its header");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG");
    assert_eq!(
        &bytes[12..16],
        b"IHDR",
        "the PNG starts with its header chunk"
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_approves_and_the_code_buys_a_token_for_api_me() {
    let Some(t) = setup("browser-approve").await else {
        return;
    };
    let b = &t.browser;
    t.sign_in_to_consent().await;

    // The consent page names the client, the signed-in user and exactly the requested scope.
    let text = b
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&format!("Authorize {CLIENT_NAME}")),
        "consent page names the client: {text}"
    );
    assert!(
        text.contains("Signed in as alice"),
        "consent page names the user: {text}"
    );
    let mut scopes = Vec::new();
    for li in b
        .find_all(Locator::Css("ul.scopes li .scope-name"))
        .await
        .unwrap()
    {
        scopes.push(li.text().await.unwrap());
    }
    assert_eq!(
        scopes,
        ["(profile)"],
        "consent lists the requested scope: {text}"
    );
    assert!(text.contains("profile"), "scope visible in the page text");
    assert!(
        t.callback.queries.lock().unwrap().is_empty(),
        "nothing reaches the client before consent"
    );

    let png = b.screenshot().await.unwrap();
    let (w, h) = png_size(&png);
    assert!(w >= 100 && h >= 100, "a real screenshot, not {w}x{h}");
    let shot = t.server.dir.join("consent.png");
    std::fs::write(&shot, &png).unwrap();
    println!("consent page screenshot: {}", shot.display());

    b.find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let params = t.callback.first().await;
    b.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("done"))
        .await
        .expect("the browser shows the client's callback page");
    let mut landed = b.current_url().await.unwrap();
    landed.set_query(None);
    assert_eq!(
        landed.as_str(),
        t.callback.uri,
        "the browser lands on the redirect URI"
    );
    assert_eq!(param(&params, "error"), None, "approved: {params:?}");
    assert_eq!(
        param(&params, "state"),
        Some(t.state.as_str()),
        "state comes back unchanged"
    );
    assert_eq!(
        param(&params, "iss"),
        Some(t.server.base.as_str()),
        "RFC 9207 iss"
    );
    let code = param(&params, "code")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| panic!("no code in {params:?}"))
        .to_owned();

    // The client's side: code + verifier, Basic auth.
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/token", t.server.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &t.callback.uri),
            ("code_verifier", &t.verifier),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let token: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status, 200, "token response: {token}");
    assert!(
        token["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{token}"
    );
    assert_eq!(token["scope"], "profile", "{token}");
    let access = token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {token}"));

    let res = http
        .get(format!("{}/api/me", t.server.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["sub"], SUBJECT, "{me}");
    assert_eq!(me["username"], "alice", "{me}");

    // The code was used once: a replay (say, from the browser history) buys nothing.
    let replay = http
        .post(format!("{}/token", t.server.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &t.callback.uri),
            ("code_verifier", &t.verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);

    t.browser.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_denies_and_the_client_gets_access_denied_with_its_state() {
    let Some(t) = setup("browser-deny").await else {
        return;
    };
    let b = &t.browser;
    t.sign_in_to_consent().await;
    b.find(Locator::Id("deny"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let params = t.callback.first().await;
    assert_eq!(
        param(&params, "error"),
        Some("access_denied"),
        "denied: {params:?}"
    );
    assert_eq!(
        param(&params, "state"),
        Some(t.state.as_str()),
        "state comes back unchanged"
    );
    assert_eq!(
        param(&params, "code"),
        None,
        "no code when denied: {params:?}"
    );
    assert_eq!(
        param(&params, "iss"),
        Some(t.server.base.as_str()),
        "RFC 9207 iss"
    );
    assert_eq!(
        t.callback.queries.lock().unwrap().len(),
        1,
        "one redirect only"
    );
    t.browser.clone().close().await.unwrap();
}

/// Waits until `seen` holds an entry; answers the first, as parameters.
async fn first_of(seen: &Mutex<Vec<String>>, what: &str) -> Vec<(String, String)> {
    for _ in 0..(PAGE_WAIT.as_millis() / 50) {
        if let Some(q) = seen.lock().unwrap().first() {
            return form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never delivered {what}");
}

/// Saves a screenshot of the browser's page beside the server's files; answers its path.
async fn screenshot(t: &Setup, name: &str) -> std::path::PathBuf {
    let png = t.browser.screenshot().await.unwrap();
    let (w, h) = png_size(&png);
    assert!(w >= 100 && h >= 100, "a real screenshot, not {w}x{h}");
    let shot = t.server.dir.join(name);
    std::fs::write(&shot, &png).unwrap();
    println!("screenshot: {}", shot.display());
    shot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_openid_login_hint_remembered_consent_form_post_and_rp_initiated_logout() {
    let Some(t) = setup("browser-openid").await else {
        return;
    };
    let b = &t.browser;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(t.verifier.as_bytes()));
    let url = |state: &str, extra: &[(&str, &str)]| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &t.callback.uri)
            .append_pair("scope", "openid profile")
            .append_pair("state", state)
            .append_pair("nonce", "n-42")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        format!("{}/authorize?{}", t.server.base, q.finish())
    };

    // 1. login_hint fills in the username: the user types only the password.
    b.goto(&url("one", &[("login_hint", "alice")]))
        .await
        .unwrap();
    let username = b
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("username"))
        .await
        .unwrap();
    assert_eq!(
        username.prop("value").await.unwrap().as_deref(),
        Some("alice"),
        "login_hint pre-fills the login form"
    );
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wonderland")
        .await
        .unwrap();
    b.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("approve"))
        .await
        .expect("the consent page")
        .click()
        .await
        .unwrap();
    let first = t.callback.first().await;
    let code = param(&first, "code").unwrap().to_owned();

    // 2. Consent is remembered: a form_post request goes straight to the client, the page
    //    submitting itself (its script allowed by the CSP hash).
    b.goto(&url("two", &[("response_mode", "form_post")]))
        .await
        .unwrap();
    let posted = first_of(&t.callback.posts, "the form_post response").await;
    assert_eq!(param(&posted, "state"), Some("two"));
    assert_eq!(param(&posted, "iss"), Some(t.server.base.as_str()));
    assert!(param(&posted, "code").is_some_and(|c| !c.is_empty()));
    b.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("done"))
        .await
        .expect("the browser lands on the client's page after the automatic POST");
    assert_eq!(
        t.callback.queries.lock().unwrap().len(),
        1,
        "no consent page, no second GET: the code came by POST"
    );

    // The first code buys an ID token.
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", t.server.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &t.callback.uri),
            ("code_verifier", &t.verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(token["id_token"].is_string(), "{token}");

    // 3. RP-initiated logout by client_id only: the user is asked, and signs out.
    let logout: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", CLIENT_ID)
        .append_pair("post_logout_redirect_uri", &t.callback.bye)
        .append_pair("state", "bye-state")
        .finish();
    b.goto(&format!("{}/end_session?{logout}", t.server.base))
        .await
        .unwrap();
    let sign_out = b
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("sign-out"))
        .await
        .expect("a logout not tied to the session asks first");
    let text = b
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(CLIENT_NAME), "{text}");
    screenshot(&t, "logout-confirm.png").await;
    sign_out.click().await.unwrap();
    b.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("bye"))
        .await
        .expect("back at the client's post-logout page");
    let at = b.current_url().await.unwrap();
    assert_eq!(at.query(), Some("state=bye-state"));

    // Signed out on the server: the next request asks for a sign-in again.
    b.goto(&url("three", &[])).await.unwrap();
    b.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("sign-in"))
        .await
        .expect("the login page after logout");
    t.browser.clone().close().await.unwrap();
}

/// RFC 8628 3.3: the user opens the verification page on another device, signs in, types
/// the code as they read it (lower case, no dash), checks it on the confirmation page and
/// approves; the device's next poll gets a token that is alice's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_approves_a_device_on_the_verification_page() {
    let Some(t) = setup("browser-device").await else {
        return;
    };
    let base = t.server.base.clone();
    let http = common::http();
    let started: serde_json::Value = http
        .post(format!("{base}/device_authorization"))
        .form(&[("client_id", "tv"), ("scope", "profile")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = started["user_code"].as_str().unwrap().to_owned();
    let b = &t.browser;
    b.goto(started["verification_uri"].as_str().unwrap())
        .await
        .unwrap();
    let username = b
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("username"))
        .await
        .expect("the verification page asks a signed-out user to sign in");
    username.send_keys("alice").await.unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wonderland")
        .await
        .unwrap();
    b.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let field = b
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("user_code"))
        .await
        .expect("signing in returns to the code entry form");
    assert_eq!(b.title().await.unwrap(), "Connect a device · authgate");
    screenshot(&t, "device-entry.png").await;
    field
        .send_keys(&user_code.replace('-', "").to_lowercase())
        .await
        .unwrap();
    b.find(Locator::Id("continue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let approve = b
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("approve"))
        .await
        .expect("a right code shows the confirmation");
    let shown = b
        .find(Locator::Id("user-code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown, user_code, "the code to compare with the device's");
    let source = b.source().await.unwrap();
    assert!(
        source.contains("Living Room TV"),
        "the client's name is shown"
    );
    screenshot(&t, "device-confirm.png").await;
    approve.click().await.unwrap();
    let outcome = b
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Id("outcome"))
        .await
        .unwrap();
    assert!(outcome.text().await.unwrap().contains("signed in as alice"));
    screenshot(&t, "device-done.png").await;

    let tokens: serde_json::Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", started["device_code"].as_str().unwrap()),
            ("client_id", "tv"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"]
        .as_str()
        .expect("tokens after approval");
    let me: serde_json::Value = http
        .get(format!("{base}/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], SUBJECT);
    t.browser.clone().close().await.unwrap();
}

/// Issue 13 item 6: every page works with JavaScript off (none has a script), reads at a
/// phone's width and a desktop's, and follows `prefers-color-scheme`; screenshots of each
/// page, both widths, both themes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_work_without_javascript_at_phone_and_desktop_widths_in_both_themes() {
    for (theme, dark) in [("light", false), ("dark", true)] {
        let look = Look {
            dark,
            no_javascript: true,
        };
        let Some(t) = setup_with(&format!("pages-{theme}"), look).await else {
            return;
        };
        let b = &t.browser;
        let background = if dark {
            "rgba(18, 18, 18, 1)"
        } else {
            "rgba(0, 0, 0, 0)"
        };
        // Shoots the page at both widths and checks what every page must be.
        let shoot = |name: &'static str| {
            let t = &t;
            async move {
                let page = t.browser.source().await.unwrap();
                assert!(!page.contains("<script"), "{name}: a script in\n{page}");
                let body = t.browser.find(Locator::Css("body")).await.unwrap();
                assert_eq!(
                    body.css_value("background-color").await.unwrap(),
                    background,
                    "{name} in the {theme} theme"
                );
                for (width, height, size) in [(390, 844, "phone"), (1280, 800, "desktop")] {
                    t.browser.set_window_size(width, height).await.unwrap();
                    screenshot(t, &format!("{name}-{size}-{theme}.png")).await;
                }
            }
        };
        b.goto(&format!("{}/login", t.server.base)).await.unwrap();
        shoot("login").await;
        t.sign_in_to_consent().await;
        shoot("consent").await;
        b.find(Locator::Id("approve"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let query = t.callback.first().await;
        assert_eq!(param(&query, "state"), Some(t.state.as_str()));
        assert!(param(&query, "code").is_some(), "{query:?}");
        // The account page: the approval, with its date and its scope in words.
        b.goto(&format!("{}/", t.server.base)).await.unwrap();
        let account = b.source().await.unwrap();
        assert!(account.contains(CLIENT_NAME), "{account}");
        assert!(account.contains("approved 20"), "{account}");
        shoot("account").await;
        // An error page: an unknown client is shown, never redirected.
        b.goto(&format!(
            "{}/authorize?response_type=code&client_id=nobody",
            t.server.base
        ))
        .await
        .unwrap();
        shoot("error").await;
        // Revoking from the account page works without a script too.
        b.goto(&format!("{}/", t.server.base)).await.unwrap();
        b.find(Locator::Css("button.revoke"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Css("h1"))
            .await
            .unwrap();
        assert!(!b.source().await.unwrap().contains("approved 20"));
    }
}
