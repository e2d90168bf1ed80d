//! The load generator: a fixed number of keep-alive connections, each a loop of requests,
//! a warm-up, a measured window; and the server's own CPU and memory accounting from /proc.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::{Options, Target, CLIENT_ID, CLIENT_SECRET, PASSWORD, USER};

/// What one request (or one flow) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// POST /token, client_credentials with Basic auth.
    Issue,
    /// GET /api/me with an opaque Bearer token.
    Bearer,
    /// POST /revoke.
    Revoke,
    /// POST /introspect.
    Introspect,
    /// A whole authorization code flow with PKCE, the login session reused:
    /// POST /authorize (consent) + POST /token (exchange).
    CodeFlow,
    /// The same flow as an OpenID Connect authentication (scope `openid`, a nonce): the
    /// exchange also signs an ID token (RS256).
    OidcCodeFlow,
    /// GET /userinfo with a user's access token (scope `openid profile`).
    UserInfo,
    /// POST /register: dynamic client registration (RFC 7591), open registration, a
    /// confidential client with one redirect URI.
    Register,
    /// POST /token with the device_code grant (RFC 8628 §3.4) for codes nobody approved:
    /// each answer is `authorization_pending` or `slow_down` (§3.5), both counted as
    /// served; the engine records the poll either way.
    DevicePoll,
}

impl Scenario {
    pub(crate) const ALL: [Scenario; 9] = [
        Self::Issue,
        Self::Bearer,
        Self::Revoke,
        Self::Introspect,
        Self::CodeFlow,
        Self::OidcCodeFlow,
        Self::UserInfo,
        Self::Register,
        Self::DevicePoll,
    ];

    /// What a JWT access-token target (one signing algorithm, `memory:`) runs: issuance
    /// signs, the Bearer check reads the token's record as for an opaque token.
    pub(crate) const JWT: [Scenario; 2] = [Self::Issue, Self::Bearer];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Issue => "client_credentials issuance",
            Self::Bearer => "Bearer GET /api/me",
            Self::Revoke => "revocation",
            Self::Introspect => "introspection",
            Self::CodeFlow => "code flow + PKCE (flows)",
            Self::OidcCodeFlow => "OIDC code flow + ID token (flows)",
            Self::UserInfo => "UserInfo GET",
            Self::Register => "client registration",
            Self::DevicePoll => "device code poll",
        }
    }

    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Bearer => "bearer",
            Self::Revoke => "revoke",
            Self::Introspect => "introspect",
            Self::CodeFlow => "code_flow",
            Self::OidcCodeFlow => "oidc_code_flow",
            Self::UserInfo => "userinfo",
            Self::Register => "register",
            Self::DevicePoll => "device_poll",
        }
    }

    /// Whether the ceiling serves the scenario.
    pub(crate) fn on_ceiling(self) -> bool {
        matches!(
            self,
            Self::Issue | Self::Bearer | Self::Revoke | Self::Introspect
        )
    }

    /// Whether the scenario is a browser flow (needs a signed-in session).
    pub(crate) fn is_flow(self) -> bool {
        matches!(self, Self::CodeFlow | Self::OidcCodeFlow)
    }

    /// The scope a flow asks for.
    fn scope(self) -> &'static str {
        match self {
            Self::OidcCodeFlow => "openid%20profile&nonce=n-0S6_WzA2Mj",
            _ => "profile",
        }
    }
}

/// One scenario's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ScenarioResult {
    pub(crate) rps: f64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) errors: u64,
    pub(crate) cpu_us_per_req: f64,
    pub(crate) requests: u64,
    /// The server's CPU in the window, in cores (1.0: one core busy throughout).
    pub(crate) server_cpu_share: Option<f64>,
    /// The load generator's own CPU in the window, in cores.
    pub(crate) loadgen_cpu_share: Option<f64>,
    /// req/s and p99 over the ceiling's in the same run (set when the report is made).
    pub(crate) ratio_to_ceiling: Option<f64>,
    pub(crate) p99_to_ceiling: Option<f64>,
}

pub(crate) const PKCE_VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";

pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .map_err(|e| e.to_string())
}

pub(crate) async fn issue_token(http: &reqwest::Client, base: &str) -> Result<String, String> {
    let res = http
        .post(format!("{base}/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=profile%20read")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: serde_json::Value = res.json().await.map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no token: {body}"))
}

/// A signed-in browser session on the reference server: its cookies and the consent form's
/// CSRF token.
pub(crate) struct Browser {
    pub(crate) cookies: String,
    pub(crate) csrf: String,
}

fn set_cookies(res: &reqwest::Response, jar: &mut Vec<(String, String)>) {
    for v in res.headers().get_all("set-cookie") {
        if let Some((kv, _)) = v.to_str().unwrap_or("").split_once(';') {
            if let Some((k, val)) = kv.split_once('=') {
                jar.retain(|(n, _)| n != k);
                jar.push((k.to_owned(), val.to_owned()));
            }
        }
    }
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub(crate) fn authorize_query(s: Scenario) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(PKCE_VERIFIER.as_bytes()));
    format!("response_type=code&client_id={CLIENT_ID}&scope={}&state=s&code_challenge={challenge}&code_challenge_method=S256", s.scope())
}

pub(crate) async fn sign_in(http: &reqwest::Client, base: &str) -> Result<Browser, String> {
    let mut jar = Vec::new();
    let res = http
        .get(format!("{base}/login"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    set_cookies(&res, &mut jar);
    let page = res.text().await.map_err(|e| e.to_string())?;
    let csrf = hidden(&page, "csrf").ok_or("no csrf on the login page")?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("username", USER)
        .append_pair("password", PASSWORD)
        .append_pair("next", "/")
        .finish();
    let res = http
        .post(format!("{base}/login"))
        .header("cookie", cookie_header(&jar))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != 303 {
        return Err(format!("login answered {}", res.status()));
    }
    set_cookies(&res, &mut jar);
    // The session's CSRF token, which the consent form carries, from the home page's
    // sign-out form (the consent page itself may not show: consent is remembered).
    let res = http
        .get(format!("{base}/"))
        .header("cookie", cookie_header(&jar))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let page = res.text().await.map_err(|e| e.to_string())?;
    let csrf = hidden(&page, "csrf").ok_or("no csrf on the home page")?;
    Ok(Browser {
        cookies: cookie_header(&jar),
        csrf,
    })
}

/// A user's access token (scope `openid profile`), from one OpenID Connect code flow.
pub(crate) async fn user_token(http: &reqwest::Client, base: &str) -> Result<String, String> {
    let b = sign_in(http, base).await?;
    let body = exchange(http, base, &b, Scenario::OidcCodeFlow)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the code flow for a user token failed")?;
    let body: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no token: {body}"))
}

/// `n` device codes nobody approves (RFC 8628 §3.1), for the polling scenario.
pub(crate) async fn device_codes(
    http: &reqwest::Client,
    base: &str,
    n: usize,
) -> Result<Vec<String>, String> {
    let mut codes = Vec::with_capacity(n);
    for _ in 0..n {
        let res = http
            .post(format!("{base}/device_authorization"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("scope=profile")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: serde_json::Value = res.json().await.map_err(|e| e.to_string())?;
        codes.push(
            body["device_code"]
                .as_str()
                .ok_or_else(|| format!("no device code: {body}"))?
                .to_owned(),
        );
    }
    Ok(codes)
}

/// What the registration scenario sends: a confidential web client.
pub(crate) const REGISTRATION: &str = r#"{"redirect_uris":["https://app.example/cb"],"client_name":"bench app","grant_types":["authorization_code"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_basic"}"#;

/// Whether a device poll got one of the two answers a pending code gets (RFC 8628 §3.5).
pub(crate) fn poll_served(status: u16, body: &[u8]) -> bool {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    status == 400 && (has(b"\"authorization_pending\"") || has(b"\"slow_down\""))
}

async fn code_flow(
    http: &reqwest::Client,
    base: &str,
    b: &Browser,
    s: Scenario,
) -> Result<bool, reqwest::Error> {
    let Some(body) = exchange(http, base, b, s).await? else {
        return Ok(false);
    };
    // The OpenID Connect flow counts only when the ID token came back.
    Ok(s != Scenario::OidcCodeFlow || body.windows(10).any(|w| w == b"\"id_token\""))
}

/// One consent and code exchange: the token response's body when it was a 200.
async fn exchange(
    http: &reqwest::Client,
    base: &str,
    b: &Browser,
    s: Scenario,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let res = http
        .post(format!("{base}/authorize?{}", authorize_query(s)))
        .header("cookie", &b.cookies)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}&confirm=yes", b.csrf))
        .send()
        .await?;
    let Some(loc) = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let _ = res.bytes().await;
    let Some(code) = url::Url::parse(&loc).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    }) else {
        return Ok(None);
    };
    let res = http
        .post(format!("{base}/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&code_verifier={PKCE_VERIFIER}"
        ))
        .send()
        .await?;
    let ok = res.status() == 200;
    let body = res.bytes().await?;
    Ok(ok.then(|| body.to_vec()))
}

async fn one(
    http: &reqwest::Client,
    base: &str,
    s: Scenario,
    token: &str,
    pool: &[String],
    next: &AtomicUsize,
    b: Option<&Browser>,
) -> bool {
    let send = |req: reqwest::RequestBuilder| async move {
        match req.send().await {
            Ok(r) => {
                let ok = r.status() == 200;
                let _ = r.bytes().await;
                ok
            }
            Err(_) => false,
        }
    };
    let form = |path: &str, body: String| {
        http.post(format!("{base}{path}"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    match s {
        Scenario::Issue => {
            send(form(
                "/token",
                "grant_type=client_credentials&scope=profile%20read".into(),
            ))
            .await
        }
        Scenario::Bearer => send(http.get(format!("{base}/api/me")).bearer_auth(token)).await,
        Scenario::Introspect => send(form("/introspect", format!("token={token}"))).await,
        Scenario::Revoke => {
            let t = &pool[next.fetch_add(1, Ordering::Relaxed) % pool.len()];
            send(form("/revoke", format!("token={t}"))).await
        }
        Scenario::CodeFlow | Scenario::OidcCodeFlow => match b {
            Some(b) => code_flow(http, base, b, s).await.unwrap_or(false),
            None => false,
        },
        Scenario::UserInfo => send(http.get(format!("{base}/userinfo")).bearer_auth(token)).await,
        Scenario::Register => match http
            .post(format!("{base}/register"))
            .header("content-type", "application/json")
            .body(REGISTRATION)
            .send()
            .await
        {
            Ok(r) => {
                let ok = r.status() == 201;
                let _ = r.bytes().await;
                ok
            }
            Err(_) => false,
        },
        Scenario::DevicePoll => {
            let code = &pool[next.fetch_add(1, Ordering::Relaxed) % pool.len()];
            match form(
                "/token",
                format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={code}"),
            )
            .send()
            .await
            {
                Ok(r) => {
                    let status = r.status().as_u16();
                    r.bytes().await.is_ok_and(|b| poll_served(status, &b))
                }
                Err(_) => false,
            }
        }
    }
}

/// Runs one scenario against one target.
pub(crate) async fn run(t: &Target, s: Scenario, o: &Options) -> Result<ScenarioResult, String> {
    let setup = http_client()?;
    let token = if s == Scenario::UserInfo {
        user_token(&setup, &t.base).await?
    } else {
        issue_token(&setup, &t.base).await?
    };
    let pool_size = if o.smoke { 50 } else { 5000 };
    let mut pool = Vec::new();
    if s == Scenario::Revoke {
        for _ in 0..pool_size {
            pool.push(issue_token(&setup, &t.base).await?);
        }
    } else if s == Scenario::DevicePoll {
        pool = device_codes(&setup, &t.base, pool_size).await?;
    }
    let pool = Arc::new(pool);
    let phase = Arc::new(AtomicU8::new(0)); // 0 warm-up, 1 measured, 2 stop
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let http = http_client()?;
        let browser = if s.is_flow() {
            Some(sign_in(&http, &t.base).await?)
        } else {
            None
        };
        let (base, token, pool, phase, done, errors, next) = (
            t.base.clone(),
            token.clone(),
            pool.clone(),
            phase.clone(),
            done.clone(),
            errors.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(1 << 14);
            loop {
                let p = phase.load(Ordering::Relaxed);
                if p == 2 {
                    return lat;
                }
                let started = Instant::now();
                let ok = one(&http, &base, s, &token, &pool, &next, browser.as_ref()).await;
                if phase.load(Ordering::Relaxed) == 1 && p == 1 {
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                        lat.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
    let tck = clock_ticks_per_sec();
    let cpu0 = cpu_ticks(t.pid());
    let own0 = cpu_ticks(std::process::id());
    let t0 = Instant::now();
    phase.store(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(o.secs)).await;
    phase.store(2, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks(t.pid());
    let own1 = cpu_ticks(std::process::id());
    let mut lat = Vec::new();
    for task in tasks {
        lat.extend(task.await.map_err(|e| e.to_string())?);
    }
    lat.sort_unstable();
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    let requests = done.load(Ordering::Relaxed);
    let cpu_us = (cpu1.saturating_sub(cpu0)) as f64 * 1e6 / tck;
    Ok(ScenarioResult {
        rps: requests as f64 / elapsed,
        p50_us: u64::from(pct(0.50)),
        p99_us: u64::from(pct(0.99)),
        errors: errors.load(Ordering::Relaxed),
        cpu_us_per_req: if requests == 0 {
            0.0
        } else {
            cpu_us / requests as f64
        },
        requests,
        server_cpu_share: Some(cpu_us / 1e6 / elapsed),
        loadgen_cpu_share: Some(own1.saturating_sub(own0) as f64 / tck / elapsed),
        ratio_to_ceiling: None,
        p99_to_ceiling: None,
    })
}

/// Bytes per live token: issue `o.tokens` tokens, then the server's RSS growth (in-memory)
/// or the database file's size (SQLite) divided by that count.
pub(crate) async fn bytes_per_token(
    t: &Target,
    o: &Options,
) -> Result<(Option<f64>, String), String> {
    if t.name == "postgres" {
        return Ok((
            None,
            "not measured (the database is another process)".into(),
        ));
    }
    // The baseline once start-up has settled: the argon2 buffers hashing the config's
    // client secret needed are given back 3 s after it, which taken during the issuing
    // would hide that much growth.
    if !o.smoke {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let before = rss_kb(t.pid(), "VmRSS");
    let issued = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        let (http, base, issued, total) =
            (http_client()?, t.base.clone(), issued.clone(), o.tokens);
        tasks.push(tokio::spawn(async move {
            while issued.fetch_add(1, Ordering::Relaxed) < total {
                let _ = issue_token(&http, &base).await;
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())?;
    }
    let n = o.tokens as f64;
    match &t.db_file {
        Some(db) => {
            // Give the checkpointer time to fold the WAL into the database file.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let wal = size(&db.with_extension("db-wal"));
            Ok((
                Some(size(db) as f64 / n),
                format!(
                    "database file size / {} tokens (WAL file: {wal} bytes)",
                    o.tokens
                ),
            ))
        }
        None => {
            let after = rss_kb(t.pid(), "VmRSS");
            let grown = after.saturating_sub(before) as f64 * 1024.0;
            Ok((
                Some(grown / n),
                format!("server RSS growth / {} tokens", o.tokens),
            ))
        }
    }
}

/// A `/proc/PID/status` field in kB (VmRSS, VmHWM).
pub(crate) fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU of a process, in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces) start at "state".
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12) // utime, stime
}

/// User + system CPU ticks of every process named `postgres` (all of the machine's
/// PostgreSQL; the bench's database is the only busy one), by pid.
pub(crate) fn postgres_ticks() -> std::collections::HashMap<u32, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return std::collections::HashMap::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_ticks(pid)))
        .collect()
}

/// The ticks PostgreSQL used between two [`postgres_ticks`] readings: each process's
/// growth, a backend started in between counted from zero (one that exited in between
/// takes its ticks with it, so the figure can only be low).
pub(crate) fn postgres_ticks_between(
    before: &std::collections::HashMap<u32, u64>,
    after: &std::collections::HashMap<u32, u64>,
) -> u64 {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

pub(crate) fn clock_ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// How long a revocation through instance `a` takes to reach instance `b`'s token cache:
/// `n` times, a fresh token is checked on `b` twice (so `b` caches it), revoked through
/// `a`'s `/revoke`, then checked on `b` every millisecond until refused. Milliseconds from
/// `a`'s answer to `b`'s first refusal, each sample.
// Latency on the monotonic clock: what is measured is a delay.
#[allow(clippy::disallowed_methods)]
pub(crate) async fn invalidation_latency(
    a: &Target,
    b: &Target,
    n: usize,
) -> Result<Vec<f64>, String> {
    let http = http_client()?;
    let me = |token: &str| {
        http.get(format!("{}/api/me", b.base))
            .bearer_auth(token)
            .send()
    };
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let token = issue_token(&http, &a.base).await?;
        for _ in 0..2 {
            let status = me(&token).await.map_err(|e| e.to_string())?.status();
            if status != 200 {
                return Err(format!("{}: a fresh token answered {status}", b.name));
            }
        }
        let res = http
            .post(format!("{}/revoke", a.base))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if res.status() != 200 {
            return Err(format!("{}: revocation answered {}", a.name, res.status()));
        }
        let revoked = Instant::now();
        loop {
            let status = me(&token).await.map_err(|e| e.to_string())?.status();
            if status == 401 {
                break;
            }
            if revoked.elapsed() > Duration::from_secs(5) {
                return Err(format!(
                    "{}: a revoked token still worked after 5 s",
                    b.name
                ));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(revoked.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(samples)
}
