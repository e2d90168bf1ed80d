//! Bad input (issue 12): a generated sweep of malformed requests against the `authgate`
//! binary, on SQLite and on PostgreSQL, plus a focused test for each failure it found.
//!
//! The sweep sends [`REQUESTS`] requests per backend to every endpoint and page: random
//! methods, duplicated and missing parameters, NUL bytes and other control characters in
//! every parameter (client ids in Basic credentials and in forms, usernames and passwords,
//! tokens, redirect URIs, scopes, user codes, registration JSON), invalid UTF-8, oversized
//! bodies, odd content types, truncated JSON, huge headers and cookies, malformed `Basic`
//! and `Bearer` values. Requests are written as raw bytes over TCP (keep-alive, a few
//! connections at once), so nothing a client library would refuse to send is left out.
//!
//! Each request is generated from the seed and its index alone, so a failure names the
//! request that caused it: rerun with `AUTHGATE_BAD_INPUT_SEED` set to the printed seed.
//! The sweep fails on any 5xx, on a request that never gets an answer, when `/healthz`
//! stops answering or the process dies, and when the server's resident memory grows past
//! the bounds below. docs/bad-input.md describes it and the figures measured.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::oauth::{assert_error, issued, pkce, token, Auth};
use common::server::TestServer;
use common::{Browser, Page};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WEB_CB: &str = "http://127.0.0.1:9/cb";
const SPA_CB: &str = "http://127.0.0.1:9/spa";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The sweep's seed unless `AUTHGATE_BAD_INPUT_SEED` names another (decimal or 0x-hex).
const SEED: u64 = 0x5eed_0bad_c0de_2025;
/// Requests per backend unless `AUTHGATE_BAD_INPUT_REQUESTS` says otherwise.
const REQUESTS: usize = 10_000;
/// Connections used at once.
const CONNECTIONS: usize = 8;
/// Resident memory after the sweep may not exceed this many times the figure before it...
const RSS_GROWTH: u64 = 3;
/// ...nor this many KiB.
const RSS_CAP_KIB: u64 = 256 * 1024;

/// Every feature on: registration open (and not limited per hour: the sweep comes from one
/// host), the password and device grants, the implicit grant; 127.0.0.1 is a trusted proxy,
/// so the sweep's random `X-Forwarded-For` addresses spread the per-address limits and
/// most requests reach the stores instead of a 429.
const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
trusted_proxies = ["127.0.0.1"]
{DATABASE}

[tokens]
refresh_tokens = true

[registration]
enabled = true
requests_per_hour = 10000000
allowed_grant_types = ["authorization_code", "refresh_token", "client_credentials"]

[[clients]]
client_id = "web"
client_secret = "web-secret"
client_name = "Web Portal"
redirect_uris = ["http://127.0.0.1:9/cb"]
post_logout_redirect_uris = ["http://127.0.0.1:9/bye"]
grant_types = ["authorization_code", "refresh_token"]
response_types = ["code", "code id_token"]
scope = "openid profile email"
token_endpoint_auth_method = "client_secret_basic"

[[clients]]
client_id = "svc"
client_secret = "svc-secret"
grant_types = ["client_credentials", "password", "refresh_token"]
scope = "openid read profile"
token_endpoint_auth_method = "client_secret_post"

[[clients]]
client_id = "spa"
redirect_uris = ["http://127.0.0.1:9/spa"]
grant_types = ["authorization_code", "implicit", "refresh_token"]
response_types = ["code", "token"]
scope = "openid profile"
token_endpoint_auth_method = "none"

[[clients]]
client_id = "tv"
client_name = "Living Room TV"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
scope = "openid profile"

[[users]]
username = "alice"
password = "wonderland"
email = "alice@example.com"
"#;

// ----- the focused tests: one per failure the sweep found ----------------------------------

on_both_backends!(crate::CONFIG;
    nul_in_client_id_is_invalid_client_at_token_revocation_and_introspection_rfc6749_5_2,
    nul_in_username_of_the_password_grant_is_invalid_grant_rfc6749_5_2,
    nul_in_username_of_the_login_form_is_wrong_username_or_password,
    nul_in_registration_strings_is_invalid_client_metadata_rfc7591_3_2_2,
    control_characters_in_other_lookups_are_not_found,
);

/// Basic credentials as RFC 6749 §2.3.1 writes them (each part form-urlencoded).
fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// POSTs `form` to `path` with `authorization` (when given), each time from another
/// address behind the trusted proxy (these tests fail client authentication on purpose,
/// more often than one address may).
async fn post_form(
    base: &str,
    path: &str,
    authorization: Option<&str>,
    form: &[(&str, &str)],
) -> Page {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut req = common::http()
        .post(format!("{base}{path}"))
        .header(
            "x-forwarded-for",
            format!("10.77.{}.{}", n / 250, n % 250 + 1),
        )
        .form(form);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    Page::read(req.send().await.unwrap()).await
}

/// A JSON error as the RFCs shape it: `error` is `code`, `error_description` is text.
fn assert_spec_error(page: &Page, status: u16, code: &str) {
    assert_error(page, status, code);
    assert!(
        page.json()["error_description"].is_string(),
        "no error_description: {}",
        page.body
    );
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        page.headers
    );
}

async fn nul_in_client_id_is_invalid_client_at_token_revocation_and_introspection_rfc6749_5_2(
    base: &str,
) {
    let bodies: [&[(&str, &str)]; 3] = [
        &[("grant_type", "client_credentials")],
        &[("token", "whatever")],
        &[("token", "whatever")],
    ];
    for (path, form) in ["/token", "/revoke", "/introspect"].into_iter().zip(bodies) {
        for id in ["svc\0", "\0", "s\u{1}vc", "web\u{7f}"] {
            // In HTTP Basic: 401 with a Basic challenge (RFC 6749 §5.2).
            let page = post_form(base, path, Some(&basic(id, "svc-secret")), form).await;
            assert_spec_error(&page, 401, "invalid_client");
            assert!(
                page.header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Basic")),
                "{path} {id:?}: {:?}",
                page.headers
            );
            // In the body, with and without a secret: the answer an unknown client gets
            // (400 here: RFC 6749 §5.2 asks for 401 only when the header was used).
            for secret in [Some("svc-secret"), None] {
                let body = |id| {
                    let mut f = form.to_vec();
                    f.push(("client_id", id));
                    f.extend(secret.map(|s| ("client_secret", s)));
                    f
                };
                let unknown = post_form(base, path, None, &body("nobody")).await;
                let page = post_form(base, path, None, &body(id)).await;
                assert_eq!(
                    (page.status, page.json()["error"].clone()),
                    (unknown.status, unknown.json()["error"].clone()),
                    "{path} {id:?} {secret:?}: {} / unknown: {}",
                    page.body,
                    unknown.body
                );
                assert_spec_error(&page, unknown.status, "invalid_client");
                assert!(
                    matches!(page.status, 400 | 401),
                    "{path} {id:?}: {}",
                    page.body
                );
            }
        }
    }
    // The device authorization endpoint authenticates clients the same way.
    let unknown = post_form(
        base,
        "/device_authorization",
        None,
        &[("client_id", "nobody")],
    )
    .await;
    let page = post_form(
        base,
        "/device_authorization",
        None,
        &[("client_id", "tv\0")],
    )
    .await;
    assert_spec_error(&unknown, 400, "invalid_client");
    assert_spec_error(&page, 400, "invalid_client");
    // And the well-formed client still works.
    issued(
        &token(
            base,
            Auth::Post("svc", "svc-secret"),
            &[("grant_type", "client_credentials")],
        )
        .await,
    );
}

async fn nul_in_username_of_the_password_grant_is_invalid_grant_rfc6749_5_2(base: &str) {
    for username in ["alice\0", "\0", "al\u{1b}ice", "alice\u{85}"] {
        let page = token(
            base,
            Auth::Post("svc", "svc-secret"),
            &[
                ("grant_type", "password"),
                ("username", username),
                ("password", "wonderland"),
            ],
        )
        .await;
        assert_spec_error(&page, 400, "invalid_grant");
    }
    // A NUL in the password is only a wrong password.
    let page = token(
        base,
        Auth::Post("svc", "svc-secret"),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wonder\0land"),
        ],
    )
    .await;
    assert_spec_error(&page, 400, "invalid_grant");
    issued(
        &token(
            base,
            Auth::Post("svc", "svc-secret"),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wonderland"),
            ],
        )
        .await,
    );
}

async fn nul_in_username_of_the_login_form_is_wrong_username_or_password(base: &str) {
    let mut browser = Browser::new(base);
    for username in ["alice\0", "\0", "al\u{7}ice"] {
        let form = browser.get("/login").await;
        assert_eq!(form.status, 200);
        let page = browser.submit_login(&form, username, "wonderland").await;
        assert_eq!(page.status, 401, "{username:?}: {}", page.body);
        assert!(
            page.body.contains("Wrong username or password."),
            "{}",
            page.body
        );
        assert!(page.set_cookie("authgate_session").is_none());
    }
    browser.login("alice", "wonderland").await;
}

async fn nul_in_registration_strings_is_invalid_client_metadata_rfc7591_3_2_2(base: &str) {
    let good = json!({
        "redirect_uris": [WEB_CB],
        "client_name": "fine",
        "grant_types": ["authorization_code"],
        "scope": "openid",
    });
    let bad = [
        ("client_name", json!("bad\u{0}name")),
        ("redirect_uris", json!(["http://127.0.0.1:9/c\u{0}b"])),
        ("scope", json!("openid\u{0}")),
        ("contacts", json!(["a\u{0}@example.com"])),
        ("extension_member", json!({"nested": "x\u{0}"})),
        ("tos_uri", json!("https://example.com/\u{0}")),
    ];
    for (member, value) in bad {
        let mut doc = good.clone();
        doc[member] = value;
        let page = Page::read(
            common::http()
                .post(format!("{base}/register"))
                .json(&doc)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_spec_error(&page, 400, "invalid_client_metadata");
        assert!(
            page.json()["error_description"]
                .as_str()
                .is_some_and(|d| !d.contains('\0')),
            "{}",
            page.body
        );
    }
    // An update (RFC 7592 §2.2) is checked the same way.
    let created = Page::read(
        common::http()
            .post(format!("{base}/register"))
            .json(&good)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let c = created.json();
    let (id, rat) = (
        c["client_id"].as_str().unwrap(),
        c["registration_access_token"].as_str().unwrap(),
    );
    let mut update = good.clone();
    update["client_id"] = json!(id);
    update["client_name"] = json!("x\u{0}y");
    let page = Page::read(
        common::http()
            .put(format!("{base}/register/{id}"))
            .bearer_auth(rat)
            .json(&update)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_spec_error(&page, 400, "invalid_client_metadata");
    // The registration is unchanged and still readable.
    let page = Page::read(
        common::http()
            .get(format!("{base}/register/{id}"))
            .bearer_auth(rat)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["client_name"], "fine");
}

async fn control_characters_in_other_lookups_are_not_found(base: &str) {
    // The client configuration endpoint with a NUL in the path's client id.
    let page = Page::read(
        common::http()
            .get(format!("{base}/register/abc%00def"))
            .bearer_auth("token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_spec_error(&page, 401, "invalid_token");
    // The authorization endpoint: an unknown client, shown and never redirected.
    let page = Page::read(
        common::http()
            .get(format!(
                "{base}/authorize?response_type=code&client_id=web%00&redirect_uri={WEB_CB}"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.location().is_none());
    assert!(page.body.contains("unknown client_id"), "{}", page.body);
    // RP-initiated logout with a NUL-bearing client id.
    let page = Page::read(
        common::http()
            .get(format!("{base}/end_session?client_id=web%00"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("unknown client_id"), "{}", page.body);
    // Tokens with a NUL are not active, and a Bearer one is invalid_token.
    let page = post_form(
        base,
        "/introspect",
        Some(&basic("web", "web-secret")),
        &[("token", "abc\0def")],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.json()["active"], false);
}

// ----- the sweep ---------------------------------------------------------------------------

/// The server runs with its default allocator settings: the argon2 working memory of the
/// password checks comes from a pool of reused buffers (authgate::password), so resident
/// memory tracks what is live and the bound below catches a leak.
const ALLOCATOR: &[(&str, &str)] = &[];

/// Both sweeps run one after the other (two servers at once on two cores would make the
/// figures meaningless).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_sqlite_never_answers_5xx_and_stays_bounded() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = TestServer::sqlite_with_env("bad-input", CONFIG, ALLOCATOR).await;
    sweep(&server, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_postgres_never_answers_5xx_and_stays_bounded() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(server) = TestServer::postgres_with_env("bad-input", CONFIG, ALLOCATOR).await else {
        return;
    };
    sweep(&server, "postgres").await;
}

/// A small, fast, seedable generator (xorshift64*): the same seed, the same requests.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    /// The generator for request `index` of the sweep seeded `seed`.
    fn for_request(seed: u64, index: usize) -> Self {
        let mut s = seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // splitmix64 once, so neighbouring indices start far apart; never zero.
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        s = (s ^ (s >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        s = (s ^ (s >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((s ^ (s >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a sweep needs from the live server to reach past the first checks: tokens,
/// a registration, a device request, a signed-in session and a login form's CSRF pair.
struct Fixture {
    access: String,
    refresh: String,
    id_token: String,
    service_token: String,
    registered: Vec<(String, String)>,
    device_code: String,
    user_code: String,
    session_cookies: String,
    session_csrf: String,
    login_cookies: String,
    login_csrf: String,
}

impl Fixture {
    async fn load(base: &str) -> Self {
        let password = issued(
            &token(
                base,
                Auth::Post("svc", "svc-secret"),
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "wonderland"),
                    ("scope", "openid profile"),
                ],
            )
            .await,
        );
        let service = issued(
            &token(
                base,
                Auth::Post("svc", "svc-secret"),
                &[("grant_type", "client_credentials"), ("scope", "read")],
            )
            .await,
        );
        let mut registered = Vec::new();
        for name in ["sweep-one", "sweep-two"] {
            let page = Page::read(
                common::http()
                    .post(format!("{base}/register"))
                    .json(&json!({"redirect_uris": [WEB_CB], "client_name": name, "scope": "openid profile"}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(page.status, 201, "{}", page.body);
            let c = page.json();
            registered.push((
                c["client_id"].as_str().unwrap().to_owned(),
                c["registration_access_token"].as_str().unwrap().to_owned(),
            ));
        }
        let device = post_form(
            base,
            "/device_authorization",
            None,
            &[("client_id", "tv"), ("scope", "profile")],
        )
        .await;
        assert_eq!(device.status, 200, "{}", device.body);
        let device = device.json();

        let mut signed_in = Browser::new(base);
        signed_in.login("alice", "wonderland").await;
        let (_, challenge) = pkce();
        let consent = signed_in
            .get(&common::oauth::authorize_path(&[
                ("response_type", "code"),
                ("client_id", "web"),
                ("redirect_uri", WEB_CB),
                ("scope", "openid profile"),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ]))
            .await;
        assert_eq!(consent.status, 200, "{}", consent.body);
        let mut before_login = Browser::new(base);
        let login = before_login.get("/login").await;
        let cookies = |b: &Browser| {
            b.jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        Self {
            access: password["access_token"].as_str().unwrap().to_owned(),
            refresh: password["refresh_token"].as_str().unwrap().to_owned(),
            id_token: password["id_token"].as_str().unwrap_or("").to_owned(),
            service_token: service["access_token"].as_str().unwrap().to_owned(),
            registered,
            device_code: device["device_code"].as_str().unwrap().to_owned(),
            user_code: device["user_code"].as_str().unwrap().to_owned(),
            session_cookies: cookies(&signed_in),
            session_csrf: consent.hidden("csrf").unwrap(),
            login_cookies: cookies(&before_login),
            login_csrf: login.hidden("csrf").unwrap(),
        }
    }
}

/// One request as bytes on the wire, and what to print about it.
struct Wire {
    bytes: Vec<u8>,
    /// `HEAD`: the answer has no body.
    head: bool,
    /// Its framing may be broken on purpose: sent on a connection of its own.
    alone: bool,
    /// It announces a longer body than it sends: the connection is shut for writing after
    /// it, so the server sees the body end early instead of waiting for the rest.
    half_close: bool,
    method: String,
    path: String,
    /// The endpoint it was made for (the route, without parameters).
    endpoint: &'static str,
}

/// Values that break things: NUL and other control characters, invalid UTF-8, very long,
/// markup, separators, numbers out of range.
fn nasty(rng: &mut Rng) -> Vec<u8> {
    const FIXED: &[&[u8]] = &[
        b"",
        b"\0",
        b"a\0b",
        b"\0\0\0\0",
        b"\x01",
        b"\x07\x08",
        b"\x1b[31m",
        b"\x7f",
        b"\r\n",
        b"\n",
        b"\t",
        b" ",
        b"\xc2\x85",
        b"\xc2\x9b",
        b"\xe2\x80\xae",
        b"\xef\xbb\xbf",
        b"\xef\xbf\xbd",
        b"\xf0\x9f\x99\x82",
        b"\xff",
        b"\xc3",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xc0\x80",
        b"%",
        b"%zz",
        b"%00",
        b"+",
        b"=",
        b"&",
        b";",
        b",",
        b"\"",
        b"'",
        b"\\",
        b"../../etc/passwd",
        b"<script>alert(1)</script>",
        b"' OR '1'='1",
        b"null",
        b"{}",
        b"[]",
        b"-1",
        b"0",
        b"99999999999999999999999",
        b"1e308",
        b"NaN",
        b"http://[::1",
        b"javascript:alert(1)",
        b"//evil.example",
        b"https://evil.example/cb",
        b"http://127.0.0.1:9/cb#frag",
        b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ];
    match rng.below(10) {
        0 => {
            // A long run of one character.
            let len = *rng.pick(&[256usize, 1000, 4096, 20_000]);
            vec![*rng.pick(b"a\0%\xff/"); len]
        }
        1 => {
            // Random bytes.
            let len = rng.below(64);
            (0..len).map(|_| rng.byte()).collect()
        }
        2 => {
            // Random control characters.
            let len = 1 + rng.below(8);
            (0..len)
                .map(|_| *rng.pick(&[0u8, 1, 2, 8, 9, 10, 11, 12, 13, 27, 31, 127]))
                .collect()
        }
        _ => rng.pick(FIXED).to_vec(),
    }
}

/// Splices a nasty value into a good one: before, after, or in the middle.
fn splice(rng: &mut Rng, good: &[u8]) -> Vec<u8> {
    let bad = nasty(rng);
    let at = if good.is_empty() {
        0
    } else {
        rng.below(good.len() + 1)
    };
    let mut out = good[..at].to_vec();
    out.extend_from_slice(&bad);
    out.extend_from_slice(&good[at..]);
    if rng.chance(10) {
        out.truncate(rng.below(out.len() + 1));
    }
    out
}

/// Plausible values for a parameter, some of them right.
fn good(fx: &Fixture, rng: &mut Rng, name: &str) -> Vec<u8> {
    let reg = &fx.registered[rng.below(fx.registered.len())];
    let v: String = match name {
        "client_id" => rng
            .pick(&[
                "web",
                "svc",
                "spa",
                "tv",
                reg.0.as_str(),
                "https://127.0.0.1:9/doc",
            ])
            .to_string(),
        "client_secret" => rng.pick(&["web-secret", "svc-secret", "nope"]).to_string(),
        "grant_type" => rng
            .pick(&[
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "password",
                DEVICE_GRANT,
                "implicit",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ])
            .to_string(),
        "response_type" => rng
            .pick(&[
                "code",
                "token",
                "id_token",
                "code id_token",
                "none",
                "code token",
            ])
            .to_string(),
        "redirect_uri" | "post_logout_redirect_uri" => rng
            .pick(&[
                WEB_CB,
                SPA_CB,
                "http://127.0.0.1:9/bye",
                "https://evil.example/cb",
            ])
            .to_string(),
        "scope" => rng
            .pick(&[
                "openid",
                "profile",
                "openid profile",
                "read",
                "openid profile email offline_access",
            ])
            .to_string(),
        "code_challenge" => pkce().1,
        "code_verifier" | "code" => pkce().0,
        "code_challenge_method" => rng.pick(&["S256", "plain", "S512"]).to_string(),
        "refresh_token" => fx.refresh.clone(),
        "token" | "access_token" => rng
            .pick(&[&fx.access, &fx.refresh, &fx.service_token, &reg.1])
            .to_string(),
        "token_type_hint" => rng
            .pick(&["access_token", "refresh_token", "id_token"])
            .to_string(),
        "device_code" => fx.device_code.clone(),
        "user_code" => rng
            .pick(&[
                fx.user_code.clone(),
                fx.user_code.to_lowercase(),
                fx.user_code.replace('-', ""),
            ])
            .clone(),
        "csrf" => rng.pick(&[&fx.session_csrf, &fx.login_csrf]).to_string(),
        "confirm" => rng.pick(&["yes", "no"]).to_string(),
        "next" => rng
            .pick(&["/", "/authorize?client_id=web", "//evil.example", "/device"])
            .to_string(),
        "prompt" => rng
            .pick(&["none", "login", "consent", "select_account", "none login"])
            .to_string(),
        "max_age" => rng.pick(&["0", "10", "-1", "3600"]).to_string(),
        "id_token_hint" => fx.id_token.clone(),
        "response_mode" => rng
            .pick(&["query", "fragment", "form_post", "jwt"])
            .to_string(),
        "claims" => {
            r#"{"userinfo":{"email":null},"id_token":{"auth_time":{"essential":true}}}"#.to_owned()
        }
        "request_uri" => "http://127.0.0.1:9/request".to_owned(),
        "resource" => rng
            .pick(&["https://api.example", "http://127.0.0.1:9/api"])
            .to_string(),
        "login_hint" => "alice".to_owned(),
        _ => "x".to_owned(),
    };
    v.into_bytes()
}

/// A parameter's value: right, nasty, or a right one with something nasty inside.
fn value(fx: &Fixture, rng: &mut Rng, name: &str) -> Vec<u8> {
    match rng.below(10) {
        0..=4 => good(fx, rng, name),
        5..=6 => nasty(rng),
        _ => {
            let g = good(fx, rng, name);
            splice(rng, &g)
        }
    }
}

/// Form parameters: names and values, as bytes.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;
/// HTTP Basic credentials: client id and secret, before encoding.
type Basic = Option<(Vec<u8>, Vec<u8>)>;

/// A request as a well-behaved client would send it to `endpoint`: the parameters, and
/// HTTP Basic credentials when it authenticates that way. Usernames are made unique per
/// request when the password is not alice's (each user's failures slow that user down,
/// and one repeated name would turn the sweep into sleeps).
fn template(fx: &Fixture, rng: &mut Rng, endpoint: &str, method: &str) -> (Pairs, Basic) {
    let p = |pairs: &[(&str, &str)]| -> Pairs {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    };
    let web = Some((b"web".to_vec(), b"web-secret".to_vec()));
    let svc = [("client_id", "svc"), ("client_secret", "svc-secret")];
    let (verifier, challenge) = pkce();
    match endpoint {
        "/token" => match rng.below(5) {
            0 => (
                p(&[
                    &[("grant_type", "client_credentials"), ("scope", "read")][..],
                    &svc,
                ]
                .concat()),
                None,
            ),
            1 => (
                p(&[
                    &[
                        ("grant_type", "password"),
                        ("username", "alice"),
                        ("password", "wonderland"),
                        ("scope", "profile"),
                    ][..],
                    &svc,
                ]
                .concat()),
                None,
            ),
            2 => (
                p(&[
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", fx.refresh.as_str()),
                    ][..],
                    &svc,
                ]
                .concat()),
                None,
            ),
            3 => (
                p(&[
                    ("grant_type", "authorization_code"),
                    ("code", &verifier),
                    ("redirect_uri", WEB_CB),
                    ("code_verifier", &verifier),
                ]),
                web,
            ),
            _ => (
                p(&[
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", &fx.device_code),
                    ("client_id", "tv"),
                ]),
                None,
            ),
        },
        "/revoke" | "/introspect" => {
            let token = rng
                .pick(&[&fx.access, &fx.refresh, &fx.service_token])
                .to_string();
            let hint = rng.pick(&["access_token", "refresh_token"]).to_string();
            if rng.chance(50) {
                (p(&[("token", &token), ("token_type_hint", &hint)]), web)
            } else {
                (
                    p(&[
                        &[
                            ("token", token.as_str()),
                            ("token_type_hint", hint.as_str()),
                        ][..],
                        &svc,
                    ]
                    .concat()),
                    None,
                )
            }
        }
        "/device_authorization" => (p(&[("client_id", "tv"), ("scope", "profile")]), None),
        "/authorize" => {
            let mut pairs = p(&[
                ("response_type", "code"),
                ("client_id", "web"),
                ("redirect_uri", WEB_CB),
                ("scope", "openid profile"),
                ("state", "st"),
                ("nonce", "n"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ]);
            if method == "POST" {
                let confirm = if rng.chance(50) { "yes" } else { "no" };
                pairs.extend(p(&[("csrf", &fx.session_csrf), ("confirm", confirm)]));
            }
            (pairs, None)
        }
        "/login" if method == "POST" => (
            p(&[
                ("username", "alice"),
                ("password", "wonderland"),
                ("csrf", &fx.login_csrf),
                ("next", "/"),
            ]),
            None,
        ),
        "/login" => (p(&[("next", "/device"), ("login_hint", "alice")]), None),
        "/device" => {
            let mut pairs = p(&[("user_code", &fx.user_code), ("csrf", &fx.session_csrf)]);
            if rng.chance(30) {
                pairs.extend(p(&[("confirm", "no")]));
            }
            (pairs, None)
        }
        "/userinfo" => (p(&[("access_token", &fx.access)]), None),
        "/end_session" => (
            p(&[
                ("client_id", "web"),
                ("post_logout_redirect_uri", "http://127.0.0.1:9/bye"),
                ("state", "s"),
                ("id_token_hint", &fx.id_token),
            ]),
            None,
        ),
        "/consents/revoke" => (p(&[("client_id", "web"), ("csrf", &fx.session_csrf)]), None),
        "/logout" => (p(&[("csrf", "not-the-token")]), None),
        _ => (Vec::new(), None),
    }
}

/// A well-formed request with one or two things wrong: a parameter (or a Basic
/// credential) replaced by or spliced with something nasty, left out, or sent twice.
fn focused(
    fx: &Fixture,
    rng: &mut Rng,
    index: usize,
    endpoint: &str,
    method: &str,
) -> (Pairs, Basic) {
    let (mut pairs, mut basic) = template(fx, rng, endpoint, method);
    let faults = 1 + usize::from(rng.chance(30));
    let mut password_touched = false;
    for _ in 0..faults {
        let targets = pairs.len() + if basic.is_some() { 2 } else { 0 };
        if targets == 0 {
            break;
        }
        let t = rng.below(targets);
        let slot: &mut Vec<u8> = if t < pairs.len() {
            if pairs[t].0 == b"password" {
                password_touched = true;
            }
            match rng.below(10) {
                0 => {
                    pairs.remove(t);
                    continue;
                }
                1 => {
                    let again = pairs[t].clone();
                    pairs.push(again);
                    continue;
                }
                _ => &mut pairs[t].1,
            }
        } else {
            let (id, secret) = basic.as_mut().unwrap();
            if t == pairs.len() {
                id
            } else {
                secret
            }
        };
        *slot = if rng.chance(40) {
            nasty(rng)
        } else {
            splice(rng, slot)
        };
    }
    for (k, v) in &mut pairs {
        if k == b"username" && (password_touched || v != b"alice") {
            v.extend_from_slice(format!("~{index}").as_bytes());
        }
    }
    (pairs, basic)
}

/// Parameters named `names`, some left out, some doubled, an odd one added.
fn params(fx: &Fixture, rng: &mut Rng, index: usize, names: &[&str]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for name in names {
        if !rng.chance(75) {
            continue;
        }
        let v = match *name {
            // Usernames are made unique per request: each user's failures slow that user
            // down (a per-user delay), which one repeated name would turn into sleeps.
            "username" => {
                if rng.chance(10) {
                    // The right pair: the limits for alice are reset by it.
                    out.push((b"username".to_vec(), b"alice".to_vec()));
                    out.push((b"password".to_vec(), b"wonderland".to_vec()));
                    continue;
                }
                let mut u = if rng.chance(50) {
                    splice(rng, b"alice")
                } else {
                    nasty(rng)
                };
                u.extend_from_slice(format!("~{index}").as_bytes());
                u
            }
            "password" if out.iter().any(|(k, _)| k == b"password") => continue,
            "password" => {
                if rng.chance(50) {
                    nasty(rng)
                } else {
                    splice(rng, b"wonderland")
                }
            }
            _ => value(fx, rng, name),
        };
        out.push((name.as_bytes().to_vec(), v));
    }
    if !out.is_empty() && rng.chance(15) {
        // A parameter twice (RFC 6749 §3.1: parameters must not be repeated).
        let i = rng.below(out.len());
        let again = if rng.chance(50) {
            out[i].1.clone()
        } else {
            value(fx, rng, std::str::from_utf8(&out[i].0).unwrap_or("x"))
        };
        out.push((out[i].0.clone(), again));
    }
    if rng.chance(8) {
        let name = nasty(rng);
        let v = nasty(rng);
        out.push((name, v));
    }
    if rng.chance(10) && out.len() > 1 {
        let i = rng.below(out.len());
        out.swap(0, i);
    }
    out
}

/// Percent-encodes every byte outside the unreserved set.
fn pct(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// `a=b&c=d`, mostly percent-encoded; sometimes raw bytes or broken separators.
fn encode_pairs(rng: &mut Rng, pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let raw = rng.chance(5);
    let mut out = Vec::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(if rng.chance(3) { b"&&" } else { b"&" });
        }
        if raw {
            out.extend_from_slice(k);
            out.push(b'=');
            out.extend_from_slice(v);
        } else {
            out.extend_from_slice(pct(k).as_bytes());
            if !rng.chance(3) {
                out.push(b'=');
            }
            out.extend_from_slice(pct(v).as_bytes());
        }
    }
    if rng.chance(3) {
        const TAILS: &[&[u8]] = &[b"%", b"=", b"&=", b"%g1", b"%00"];
        let tail: &[u8] = TAILS[rng.below(TAILS.len())];
        out.extend_from_slice(tail);
    }
    out
}

/// A registration document (RFC 7591 §2), with bad members and values now and then.
fn registration_json(fx: &Fixture, rng: &mut Rng, client_id: Option<&str>) -> Value {
    if rng.chance(70) {
        return registration_focused(rng, client_id);
    }
    let text = |rng: &mut Rng, good: &str| -> Value {
        let bytes = match rng.below(4) {
            0 | 1 => good.as_bytes().to_vec(),
            2 => nasty(rng),
            _ => splice(rng, good.as_bytes()),
        };
        // JSON strings are Unicode: invalid bytes become U+FFFD here (the raw-bytes case
        // is covered below, on the serialized document).
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    let mut doc = serde_json::Map::new();
    let members: &[(&str, &str)] = &[
        ("redirect_uris", WEB_CB),
        ("client_name", "sweep"),
        ("grant_types", "authorization_code"),
        ("response_types", "code"),
        ("scope", "openid profile"),
        ("token_endpoint_auth_method", "client_secret_basic"),
        ("contacts", "ops@example.com"),
        ("logo_uri", "https://example.com/logo.png"),
        ("client_uri", "https://example.com/"),
        ("policy_uri", "https://example.com/policy"),
        ("tos_uri", "https://example.com/tos"),
        ("software_id", "sweep"),
        ("software_version", "1.0"),
        ("subject_type", "public"),
        ("sector_identifier_uri", "http://127.0.0.1:9/sector"),
        ("id_token_signed_response_alg", "RS256"),
        ("post_logout_redirect_uris", "http://127.0.0.1:9/bye"),
        ("backchannel_logout_uri", "http://127.0.0.1:9/bc"),
        ("software_statement", "eyJhbGciOiJub25lIn0.e30."),
        ("jwks_uri", "http://127.0.0.1:9/jwks"),
        ("client_name#fr", "balayage"),
        ("default_max_age", "60"),
    ];
    for (name, good) in members {
        if !rng.chance(if *name == "redirect_uris" { 85 } else { 25 }) {
            continue;
        }
        let arrays = [
            "redirect_uris",
            "grant_types",
            "response_types",
            "contacts",
            "post_logout_redirect_uris",
        ];
        let v = match rng.below(12) {
            0 => Value::Null,
            1 => json!(rng.next() as i64),
            2 => json!({"nested": text(rng, good)}),
            3 => json!([text(rng, good), 7, null]),
            _ if arrays.contains(name) => {
                let n = 1 + rng.below(3);
                Value::Array((0..n).map(|_| text(rng, good)).collect())
            }
            _ if *name == "default_max_age" => json!(rng.next() as i64 % 100_000),
            _ => text(rng, good),
        };
        doc.insert((*name).to_owned(), v);
    }
    if rng.chance(10) {
        doc.insert(
            String::from_utf8_lossy(&nasty(rng)).into_owned(),
            text(rng, "extension"),
        );
    }
    if rng.chance(5) {
        doc.insert(
            "jwks".into(),
            json!({"keys": [{"kty": "RSA", "n": "\u{0}", "e": "AQAB"}]}),
        );
    }
    if let Some(id) = client_id {
        if rng.chance(85) {
            doc.insert("client_id".into(), text(rng, id));
        }
    }
    let _ = fx;
    Value::Object(doc)
}

/// A valid registration document with one or two members broken: a string with
/// something nasty in it, an array holding one, the wrong type, or a member removed.
fn registration_focused(rng: &mut Rng, client_id: Option<&str>) -> Value {
    let mut doc = json!({
        "redirect_uris": [WEB_CB],
        "client_name": "sweep",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid profile",
        "token_endpoint_auth_method": "client_secret_basic",
        "contacts": ["ops@example.com"],
        "client_uri": "https://example.com/",
        "software_id": "sweep",
        "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
    });
    if let Some(id) = client_id {
        doc["client_id"] = json!(id);
    }
    let names: Vec<String> = doc.as_object().unwrap().keys().cloned().collect();
    for _ in 0..1 + usize::from(rng.chance(30)) {
        let extra = [
            "tos_uri",
            "policy_uri",
            "logo_uri",
            "software_version",
            "client_name#de",
            "x_extension",
            "jwks",
        ];
        let name = if rng.chance(25) {
            rng.pick(&extra).to_string()
        } else {
            rng.pick(&names).clone()
        };
        let bad_text = |rng: &mut Rng, good: &str| {
            let bytes = if rng.chance(40) {
                nasty(rng)
            } else {
                splice(rng, good.as_bytes())
            };
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        let current = doc[&name].clone();
        let v = match (&current, rng.below(10)) {
            (_, 0) => {
                doc.as_object_mut().unwrap().remove(&name);
                continue;
            }
            (_, 1) => json!(rng.next() as i64),
            (_, 2) => json!({"k": bad_text(rng, "v")}),
            (Value::Array(items), _) => {
                let mut items = items.clone();
                let good = items
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("x")
                    .to_owned();
                items.push(bad_text(rng, &good));
                if rng.chance(50) {
                    let last = items.len() - 1;
                    items.swap(0, last);
                }
                Value::Array(items)
            }
            (Value::String(good), _) => bad_text(rng, good),
            _ => bad_text(rng, "https://example.com/x"),
        };
        doc[&name] = v;
    }
    doc
}

/// The JSON body: a document, sometimes truncated, with raw invalid bytes, or not JSON.
fn json_body(rng: &mut Rng, doc: &Value) -> Vec<u8> {
    let mut body = serde_json::to_vec(doc).unwrap();
    match rng.below(20) {
        0 | 1 => body.truncate(rng.below(body.len() + 1)),
        2 => {
            let at = rng.below(body.len() + 1);
            body.splice(at..at, nasty(rng));
        }
        3 => {
            // Invalid UTF-8 inside a string.
            if let Some(at) = body.iter().position(|&b| b == b':') {
                body.splice(at + 2..at + 2, [0xffu8, 0xfe, 0xc3]);
            }
        }
        4 => body = b"[]".to_vec(),
        5 => body = b"\"just a string\"".to_vec(),
        6 => body = vec![b'['; 5000],
        _ => {}
    }
    body
}

/// An `Authorization` header value, right or broken.
fn authorization(fx: &Fixture, rng: &mut Rng) -> Option<Vec<u8>> {
    let b64 = |s: &[u8]| STANDARD.encode(s).into_bytes();
    let v: Vec<u8> = match rng.below(16) {
        0..=3 => return None,
        4 => basic("web", "web-secret").into_bytes(),
        5 => basic("svc", "svc-secret").into_bytes(),
        6 => {
            // A client id with something nasty in it, form-urlencoded as RFC 6749 says.
            let id = splice(rng, b"web");
            [
                b"Basic ".to_vec(),
                b64(format!("{}:web-secret", pct(&id)).as_bytes()),
            ]
            .concat()
        }
        7 => {
            // The same, raw (not form-urlencoded).
            let mut cred = splice(rng, b"web");
            cred.extend_from_slice(b":");
            cred.extend_from_slice(&nasty(rng));
            [b"Basic ".to_vec(), b64(&cred)].concat()
        }
        8 => [b"Basic ".to_vec(), nasty(rng)].concat(),
        9 => rng
            .pick(&[
                &b"Basic"[..],
                b"Basic ",
                b"basic d2ViOndlYi1zZWNyZXQ=",
                b"Basic =",
                b"Basic Og==",
                b"Basic bm9jb2xvbg==",
                b"Bearer",
                b"Bearer ",
                b"Digest x",
                b"Basic d2ViOndlYi1zZWNyZXQ= extra",
            ])
            .to_vec(),
        10 | 11 => format!(
            "Bearer {}",
            rng.pick(&[
                &fx.access,
                &fx.service_token,
                &fx.refresh,
                &fx.registered[0].1
            ])
        )
        .into_bytes(),
        12 => {
            let mut t = splice(rng, fx.access.as_bytes());
            t.splice(0..0, b"Bearer ".iter().copied());
            t
        }
        13 => [
            b"Bearer ".to_vec(),
            vec![b'A'; *rng.pick(&[100usize, 5000, 60_000])],
        ]
        .concat(),
        14 => [b"Bearer ".to_vec(), nasty(rng)].concat(),
        _ => nasty(rng),
    };
    Some(v)
}

/// The `Cookie` header, if any: the signed-in session, the login form's, broken or huge.
fn cookie(fx: &Fixture, rng: &mut Rng, prefer_login: bool) -> Option<Vec<u8>> {
    let v: Vec<u8> = match rng.below(12) {
        0..=1 => return None,
        2..=5 => {
            if prefer_login {
                fx.login_cookies.clone().into_bytes()
            } else {
                fx.session_cookies.clone().into_bytes()
            }
        }
        6 => fx.login_cookies.clone().into_bytes(),
        7 => splice(rng, fx.session_cookies.as_bytes()),
        8 => {
            let mut c = fx.session_cookies.clone().into_bytes();
            c.extend_from_slice(b"; ");
            c.extend_from_slice(&fx.session_cookies.clone().into_bytes());
            c.extend_from_slice(b"; authgate_session=");
            c.extend_from_slice(&nasty(rng));
            c
        }
        9 => {
            let len = *rng.pick(&[4096usize, 16_000, 70_000]);
            let mut c = b"authgate_session=".to_vec();
            c.extend(std::iter::repeat_n(b'x', len));
            c
        }
        10 => (0..200)
            .flat_map(|i| format!("c{i}=v{i}; ").into_bytes())
            .collect(),
        _ => nasty(rng),
    };
    Some(v)
}

/// The endpoints and pages: path, methods, parameters, and how the body is made.
#[derive(Clone, Copy)]
enum Body {
    /// Form parameters (query for GET).
    Form,
    /// A registration document.
    Register,
    /// A configuration request (RFC 7592) on a registered client.
    Configure,
    /// Nothing in particular.
    Nothing,
}

const ENDPOINTS: &[(&str, &[&str], &[&str], Body)] = &[
    (
        "/token",
        &["POST"],
        &[
            "grant_type",
            "code",
            "redirect_uri",
            "code_verifier",
            "refresh_token",
            "scope",
            "username",
            "password",
            "device_code",
            "client_id",
            "client_secret",
            "resource",
        ],
        Body::Form,
    ),
    (
        "/authorize",
        &["GET", "POST"],
        &[
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "prompt",
            "max_age",
            "login_hint",
            "id_token_hint",
            "response_mode",
            "claims",
            "request_uri",
            "csrf",
            "confirm",
        ],
        Body::Form,
    ),
    (
        "/revoke",
        &["POST"],
        &["token", "token_type_hint", "client_id", "client_secret"],
        Body::Form,
    ),
    (
        "/introspect",
        &["POST"],
        &["token", "token_type_hint", "client_id", "client_secret"],
        Body::Form,
    ),
    ("/userinfo", &["GET", "POST"], &["access_token"], Body::Form),
    (
        "/device_authorization",
        &["POST"],
        &["client_id", "client_secret", "scope"],
        Body::Form,
    ),
    (
        "/device",
        &["GET", "POST"],
        &["user_code", "csrf", "confirm"],
        Body::Form,
    ),
    ("/register", &["POST"], &[], Body::Register),
    (
        "/register/",
        &["GET", "PUT", "DELETE"],
        &[],
        Body::Configure,
    ),
    (
        "/login",
        &["GET", "POST"],
        &["username", "password", "csrf", "next", "login_hint"],
        Body::Form,
    ),
    ("/logout", &["POST"], &["csrf"], Body::Form),
    (
        "/end_session",
        &["GET", "POST"],
        &[
            "id_token_hint",
            "client_id",
            "post_logout_redirect_uri",
            "state",
            "confirm",
            "csrf",
        ],
        Body::Form,
    ),
    (
        "/consents/revoke",
        &["POST"],
        &["client_id", "csrf"],
        Body::Form,
    ),
    ("/api/me", &["GET"], &[], Body::Nothing),
    (
        "/.well-known/openid-configuration",
        &["GET"],
        &[],
        Body::Nothing,
    ),
    (
        "/.well-known/oauth-authorization-server",
        &["GET"],
        &[],
        Body::Nothing,
    ),
    ("/jwks", &["GET"], &[], Body::Nothing),
    ("/healthz", &["GET"], &[], Body::Nothing),
    ("/", &["GET"], &[], Body::Nothing),
];

/// Request number `index` of the sweep seeded `seed`.
fn generate(fx: &Fixture, seed: u64, index: usize, host: &str) -> Wire {
    let mut rng = Rng::for_request(seed, index);
    let rng = &mut rng;
    // The endpoints that reach the stores come up more often than the static documents.
    let weights: &[usize] = &[14, 10, 8, 8, 5, 6, 6, 8, 7, 9, 2, 4, 3, 2, 1, 1, 1, 1, 1];
    let total: usize = weights.iter().sum();
    let mut roll = rng.below(total);
    let mut which = 0;
    while roll >= weights[which] {
        roll -= weights[which];
        which += 1;
    }
    let (path, methods, names, body_kind) = ENDPOINTS[which];
    let method: String = if rng.chance(90) {
        rng.pick(methods).to_string()
    } else {
        rng.pick(&[
            "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO", "get",
        ])
        .to_string()
    };
    let mut path = path.to_owned();
    let mut query: Option<Vec<u8>> = None;
    let mut body = Vec::new();
    let mut content_type: Option<Vec<u8>> = None;
    let mut bearer_for_configuration = None;
    let mut template_authorization: Option<Vec<u8>> = None;
    match body_kind {
        Body::Form => {
            let pairs = if rng.chance(70) {
                let (pairs, basic) = focused(fx, rng, index, ENDPOINTS[which].0, &method);
                if let Some((id, secret)) = basic {
                    let mut cred = pct(&id).into_bytes();
                    cred.push(b':');
                    cred.extend_from_slice(pct(&secret).as_bytes());
                    template_authorization =
                        Some([b"Basic ".to_vec(), STANDARD.encode(cred).into_bytes()].concat());
                }
                pairs
            } else {
                params(fx, rng, index, names)
            };
            let encoded = encode_pairs(rng, &pairs);
            if method == "GET" || method == "HEAD" || rng.chance(10) {
                query = Some(encoded);
            } else {
                body = encoded;
                content_type = Some(b"application/x-www-form-urlencoded".to_vec());
            }
        }
        Body::Register => {
            let doc = registration_json(fx, rng, None);
            body = json_body(rng, &doc);
            content_type = Some(b"application/json".to_vec());
        }
        Body::Configure => {
            let (id, rat) = &fx.registered[rng.below(fx.registered.len())];
            let id_bytes = if rng.chance(70) {
                id.as_bytes().to_vec()
            } else {
                value(fx, rng, "client_id")
            };
            path.push_str(&pct(&id_bytes));
            if method == "PUT" || rng.chance(10) {
                let doc = registration_json(fx, rng, Some(id));
                body = json_body(rng, &doc);
                content_type = Some(b"application/json".to_vec());
            }
            // A DELETE with the right token would end the registration the rest of the
            // sweep uses: deletes present a damaged one.
            bearer_for_configuration = Some(if method == "DELETE" || rng.chance(30) {
                let mut t = splice(rng, rat.as_bytes());
                t.splice(0..0, b"Bearer ".iter().copied());
                t
            } else {
                format!("Bearer {rat}").into_bytes()
            });
        }
        Body::Nothing => {
            if rng.chance(20) {
                let pairs = params(fx, rng, index, &["x", "access_token", "client_id"]);
                query = Some(encode_pairs(rng, &pairs));
            }
        }
    }
    // The logout forms never carry the session's real CSRF token: the session would end
    // and the rest of the sweep would run signed out.
    if matches!(path.as_str(), "/logout" | "/end_session") {
        let needle = pct(fx.session_csrf.as_bytes()).into_bytes();
        if let Some(at) = find(&body, &needle) {
            body[at] ^= 0x01;
        }
        if let Some(q) = query.as_mut() {
            if let Some(at) = find(q, &needle) {
                q[at] ^= 0x01;
            }
        }
    }
    // The body: a different content type, another encoding, oversized, or random bytes.
    match rng.below(40) {
        0 => content_type = None,
        1 => content_type = Some(b"text/plain".to_vec()),
        2 => content_type = Some(b"application/json".to_vec()),
        3 => content_type = Some(b"multipart/form-data; boundary=xyz".to_vec()),
        4 => content_type = Some(b"application/x-www-form-urlencoded; charset=ISO-8859-1".to_vec()),
        5 => content_type = Some(nasty(rng)),
        6 => content_type = Some(b"application/x-www-form-urlencoded, application/json".to_vec()),
        7 => {
            // Over the 64 KiB limit (sometimes far over).
            let len = if rng.chance(10) {
                1 << 20
            } else {
                65_537 + rng.below(100_000)
            };
            body.extend_from_slice(b"&pad=");
            body.extend(std::iter::repeat_n(b'a', len));
        }
        8 => {
            // Just under it.
            body.extend_from_slice(b"&pad=");
            body.extend(std::iter::repeat_n(
                b'b',
                65_000usize.saturating_sub(body.len()),
            ));
        }
        9 => body = (0..rng.below(4096)).map(|_| rng.byte()).collect(),
        _ => {}
    }

    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let login_page = path == "/login";
    if let Some(c) = cookie(fx, rng, login_page) {
        headers.push((b"cookie".to_vec(), c));
    }
    if template_authorization.is_none() && ENDPOINTS[which].0 == "/userinfo" && rng.chance(50) {
        template_authorization = Some(format!("Bearer {}", fx.access).into_bytes());
    }
    match bearer_for_configuration.or(template_authorization) {
        Some(b) if rng.chance(85) => headers.push((b"authorization".to_vec(), b)),
        _ => {
            if let Some(a) = authorization(fx, rng) {
                headers.push((b"authorization".to_vec(), a));
                if rng.chance(3) {
                    // Two of them.
                    headers.push((
                        b"authorization".to_vec(),
                        basic("web", "web-secret").into_bytes(),
                    ));
                }
            }
        }
    }
    if let Some(ct) = content_type {
        headers.push((b"content-type".to_vec(), ct));
    }
    // A random address behind the trusted proxy, so the per-address limits count many
    // clients; sometimes a broken header, sometimes none (then 127.0.0.1 is the client).
    let xff: Option<Vec<u8>> = match rng.below(20) {
        0 => None,
        1 => Some(nasty(rng)),
        2 => Some(b"1.2.3.4, , garbage, ::1, [::1]:80".to_vec()),
        3 => Some(format!("2001:db8::{:x}", rng.below(65_536)).into_bytes()),
        _ => Some(
            format!(
                "10.{}.{}.{}",
                rng.below(256),
                rng.below(256),
                rng.below(256)
            )
            .into_bytes(),
        ),
    };
    if let Some(x) = xff {
        headers.push((b"x-forwarded-for".to_vec(), x));
    }
    match rng.below(30) {
        0 => headers.push((
            b"forwarded".to_vec(),
            b"for=\"[2001:db8::1]\";proto=https, for=unknown".to_vec(),
        )),
        1 => headers.push((
            b"x-huge".to_vec(),
            vec![b'h'; *rng.pick(&[8_000usize, 40_000, 200_000])],
        )),
        2 => {
            for i in 0..150 {
                headers.push((format!("x-many-{i}").into_bytes(), b"v".to_vec()));
            }
        }
        3 => headers.push((b"origin".to_vec(), b"https://evil.example".to_vec())),
        4 => headers.push((b"accept".to_vec(), nasty(rng))),
        5 => headers.push((b"content-encoding".to_vec(), b"gzip".to_vec())),
        6 => headers.push((b"accept-language".to_vec(), nasty(rng))),
        _ => {}
    }

    // Header values keep their control characters only in the requests broken on purpose
    // below (an HTTP parser refuses them, and they would hide what comes after).
    for (_, v) in &mut headers {
        v.retain(|&b| (b >= 0x20 || b == b'\t') && b != 0x7f);
    }
    // The request line and framing. Most requests are well framed; a few are broken on
    // purpose (raw bytes in the target, a header or the method; a short or long
    // Content-Length; chunked encoding), and those go on a connection of their own.
    let mut target = path.clone().into_bytes();
    if let Some(q) = &query {
        target.push(b'?');
        target.extend_from_slice(q);
    }
    let mut alone = false;
    let mut method_bytes = method.clone().into_bytes();
    let mut framing = None;
    match rng.below(60) {
        0 => {
            target.extend_from_slice(&nasty(rng));
            alone = true;
        }
        1 => {
            if let Some(h) = headers.last_mut() {
                h.1.extend_from_slice(&nasty(rng));
            }
            alone = true;
        }
        2 => {
            method_bytes = nasty(rng);
            alone = true;
        }
        3 => {
            framing = Some("short");
            alone = true;
        }
        4 => {
            framing = Some("chunked");
        }
        5 => {
            target = format!("http://{host}{path}").into_bytes();
        }
        6 => {
            target = rng
                .pick(&[
                    &b"/%00"[..],
                    b"//token",
                    b"/token/..%2f",
                    b"/register/%ff%fe",
                    b"/nope",
                    b"*",
                    b"/device?user_code=%00",
                    b"/authorize?%",
                ])
                .to_vec();
        }
        _ => {}
    }
    let mut bytes = Vec::with_capacity(body.len() + 512);
    bytes.extend_from_slice(&method_bytes);
    bytes.push(b' ');
    bytes.extend_from_slice(&target);
    bytes.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    bytes.extend_from_slice(host.as_bytes());
    bytes.extend_from_slice(b"\r\n");
    for (k, v) in &headers {
        bytes.extend_from_slice(k);
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(v);
        bytes.extend_from_slice(b"\r\n");
    }
    match framing {
        Some("chunked") => {
            bytes.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            for chunk in body.chunks(1000) {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
        Some(_) => {
            // Announces more than it sends, then the connection is closed.
            bytes.extend_from_slice(
                format!("content-length: {}\r\n\r\n", body.len() + 10).as_bytes(),
            );
            bytes.extend_from_slice(&body);
        }
        None => {
            if alone {
                bytes.extend_from_slice(b"connection: close\r\n");
            }
            bytes.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            bytes.extend_from_slice(&body);
        }
    }
    let shown_path = String::from_utf8_lossy(&target)
        .chars()
        .take(120)
        .collect::<String>();
    Wire {
        bytes,
        head: method_bytes == b"HEAD",
        alone,
        half_close: framing == Some("short"),
        endpoint: ENDPOINTS[which].0,
        method: String::from_utf8_lossy(&method_bytes)
            .escape_debug()
            .to_string(),
        path: shown_path.escape_debug().to_string(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An answer: the status, the start of the body, whether the connection stays open.
struct Answer {
    status: u16,
    body: Vec<u8>,
    keep_alive: bool,
}

/// A keep-alive connection with the bytes read past the last answer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    /// Writes the request while reading the answer (a server may answer an oversized body
    /// before reading all of it).
    async fn exchange(&mut self, wire: &Wire) -> std::io::Result<Answer> {
        let (req, head) = (&wire.bytes, wire.head);
        let (mut r, mut w) = self.stream.split();
        let buf = &mut self.buf;
        let write = async {
            let res = w.write_all(req).await;
            let _ = w.flush().await;
            if wire.half_close {
                let _ = w.shutdown().await;
            }
            res
        };
        let read = async {
            loop {
                let answer = read_answer(&mut r, buf, head).await?;
                if !(100..200).contains(&answer.status) {
                    return Ok(answer);
                }
            }
        };
        let (written, read) = tokio::join!(write, read);
        match read {
            Ok(a) => Ok(a),
            Err(e) => {
                written?;
                Err(e)
            }
        }
    }
}

async fn fill(r: &mut tokio::net::tcp::ReadHalf<'_>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = r.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Reads one HTTP/1.1 response (Content-Length, chunked, or until the connection closes).
async fn read_answer(
    r: &mut tokio::net::tcp::ReadHalf<'_>,
    buf: &mut Vec<u8>,
    head: bool,
) -> std::io::Result<Answer> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let end = loop {
        if let Some(at) = find(buf, b"\r\n\r\n") {
            break at;
        }
        if buf.len() > 1 << 20 {
            return Err(bad("response head over 1 MiB"));
        }
        fill(r, buf).await?;
    };
    let head_text = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end + 4);
    let mut lines = head_text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let (mut length, mut chunked, mut keep_alive) = (None, false, true);
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
        match k.as_str() {
            "content-length" => length = v.parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.contains("chunked"),
            "connection" => keep_alive = !v.contains("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if head || (100..200).contains(&status) || status == 204 || status == 304 {
        // No body.
    } else if chunked {
        loop {
            let line_end = loop {
                if let Some(at) = find(buf, b"\r\n") {
                    break at;
                }
                fill(r, buf).await?;
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                fill(r, buf).await?;
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        while buf.len() < n {
            fill(r, buf).await?;
        }
        body = buf.drain(..n).collect();
    } else {
        loop {
            match fill(r, buf).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        body = std::mem::take(buf);
        keep_alive = false;
    }
    Ok(Answer {
        status,
        body,
        keep_alive,
    })
}

/// What one sweep saw.
#[derive(Default)]
struct Tally {
    /// Status code (or "closed" / "timeout") to count.
    statuses: BTreeMap<String, usize>,
    /// The 5xx answers and unanswered requests, described.
    failures: Vec<String>,
    /// Per endpoint: status code (and the `error` member, if any) to count.
    by_endpoint: BTreeMap<&'static str, BTreeMap<String, usize>>,
}

/// A process's resident memory in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed: `AUTHGATE_BAD_INPUT_SEED` (decimal or 0x-hex) or [`SEED`].
fn seed() -> u64 {
    match std::env::var("AUTHGATE_BAD_INPUT_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).expect("AUTHGATE_BAD_INPUT_SEED"),
            None => s.parse().expect("AUTHGATE_BAD_INPUT_SEED"),
        },
        Err(_) => SEED,
    }
}

#[allow(clippy::disallowed_methods)] // wall time of the sweep, for the summary line
async fn sweep(server: &TestServer, backend: &str) {
    let base = server.base().to_owned();
    let host = base.trim_start_matches("http://").to_owned();
    let pid = server.running.child.id();
    let seed = seed();
    let total: usize = env_or("AUTHGATE_BAD_INPUT_REQUESTS", REQUESTS);
    eprintln!("bad input sweep on {backend}: seed {seed:#x}, {total} requests (AUTHGATE_BAD_INPUT_SEED / AUTHGATE_BAD_INPUT_REQUESTS to change)");
    let fx = Arc::new(Fixture::load(&base).await);
    let rss_before = rss_kib(pid);
    let started = std::time::Instant::now();

    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (fx, next, tally, host) = (fx.clone(), next.clone(), tally.clone(), host.clone());
        workers.push(tokio::spawn(async move {
            let mut conn: Option<Conn> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let wire = generate(&fx, seed, i, &host);
                if wire.alone {
                    conn = None;
                }
                let outcome = send(&mut conn, &host, &wire).await;
                let key = match &outcome {
                    Ok(a) => a.status.to_string(),
                    Err(Unanswered::Closed(_)) => "closed".to_owned(),
                    Err(Unanswered::Timeout) => "timeout".to_owned(),
                };
                let detail = match &outcome {
                    Ok(a) => match serde_json::from_slice::<Value>(&a.body) {
                        Ok(v) if v["error"].is_string() => {
                            format!("{key}/{}", v["error"].as_str().unwrap_or(""))
                        }
                        _ => key.clone(),
                    },
                    Err(_) => key.clone(),
                };
                let mut t = tally.lock().unwrap();
                *t.statuses.entry(key).or_default() += 1;
                *t.by_endpoint
                    .entry(wire.endpoint)
                    .or_default()
                    .entry(detail)
                    .or_default() += 1;
                let failure = match &outcome {
                    Ok(a) if a.status >= 500 || hides_a_store_failure(&a.body) => Some(format!(
                        "{} answered: {}",
                        a.status,
                        String::from_utf8_lossy(&a.body[..a.body.len().min(400)]).escape_debug()
                    )),
                    Err(Unanswered::Timeout) => Some("no answer within 30 s".to_owned()),
                    _ => None,
                };
                if let Some(f) = failure {
                    let body_at = find(&wire.bytes, b"\r\n\r\n").map_or(0, |e| e + 4);
                    let excerpt: String = String::from_utf8_lossy(&wire.bytes[body_at..])
                        .chars()
                        .take(200)
                        .collect();
                    t.failures.push(format!(
                        "request #{i}: {} {} body {:?}: {f}",
                        wire.method, wire.path, excerpt
                    ));
                }
                drop(t);
                if wire.alone {
                    conn = None;
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();

    let health = common::http()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    let alive = std::fs::metadata(format!("/proc/{pid}")).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/status"))
            .is_ok_and(|s| !s.contains("State:\tZ"));
    let rss_after = rss_kib(pid);
    let tally = tally.lock().unwrap();
    let histogram = tally
        .statuses
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let fivexx: usize = tally
        .statuses
        .iter()
        .filter(|(k, _)| k.starts_with('5'))
        .map(|(_, v)| v)
        .sum();
    eprintln!(
        "bad input sweep on {backend}: {total} requests, statuses {histogram}, 5xx {fivexx}, RSS {rss_before} KiB before / {rss_after} KiB after, {seconds:.1} s"
    );
    if std::env::var_os("AUTHGATE_BAD_INPUT_VERBOSE").is_some() {
        for (endpoint, statuses) in &tally.by_endpoint {
            let line = statuses
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("  {endpoint}: {line}");
        }
    }
    for f in tally.failures.iter().take(40) {
        eprintln!("  {f}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} requests answered 5xx or not at all on {backend} (seed {seed:#x}); first: {}",
        tally.failures.len(),
        tally.failures[0]
    );
    assert!(alive, "the server process died during the sweep");
    assert_eq!(health.ok(), Some(200), "/healthz after the sweep");
    assert!(
        rss_after <= rss_before * RSS_GROWTH && rss_after <= RSS_CAP_KIB,
        "resident memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

/// Whether an answer (a page's 400, say) reports a storage failure: the pages show the
/// engine's error description, so a store that failed behind one is still a failure.
fn hides_a_store_failure(body: &[u8]) -> bool {
    find(body, b"internal storage error").is_some()
        || find(body, b"storage is unavailable").is_some()
}

/// Why a request got no answer.
enum Unanswered {
    /// The server closed the connection (a broken request may deserve that).
    Closed(#[allow(dead_code)] std::io::Error),
    /// Nothing within 30 seconds.
    Timeout,
}

/// Sends one request on the kept connection (a fresh one when there is none or the kept
/// one turns out closed) and reads the answer.
async fn send(conn: &mut Option<Conn>, host: &str, wire: &Wire) -> Result<Answer, Unanswered> {
    for attempt in 0..2 {
        let reused = conn.is_some();
        if conn.is_none() {
            *conn = Some(Conn::open(host).await.map_err(Unanswered::Closed)?);
        }
        let c = conn.as_mut().unwrap();
        let res = tokio::time::timeout(Duration::from_secs(30), c.exchange(wire)).await;
        match res {
            Err(_) => {
                *conn = None;
                return Err(Unanswered::Timeout);
            }
            Ok(Ok(a)) => {
                if !a.keep_alive || !c.buf.is_empty() {
                    *conn = None;
                }
                return Ok(a);
            }
            Ok(Err(e)) => {
                *conn = None;
                // A kept connection the server had closed meanwhile: once more on a new one.
                if reused && attempt == 0 && !wire.alone {
                    continue;
                }
                return Err(Unanswered::Closed(e));
            }
        }
    }
    Err(Unanswered::Closed(
        std::io::ErrorKind::ConnectionAborted.into(),
    ))
}
