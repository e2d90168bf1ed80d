//! Runs the `authgate` binary as a child process on a free port, as users run it.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

pub mod oauth;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary under test (built by cargo for integration tests).
pub const BIN: &str = env!("CARGO_BIN_EXE_authgate");

/// A running server; killed when dropped.
pub struct Running {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh folder for one test's config and database.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "authgate-srv-{tag}-{}-{}",
        std::process::id(),
        authgate::token::generate_client_secret(&authgate::OsRng).replace(['-', '_'], "")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes `config.toml` in `dir`: `{PORT}` in `body` becomes a free port; answers the
/// path and the port.
pub fn write_config(dir: &Path, body: &str) -> (PathBuf, u16) {
    let port = free_port();
    let path = dir.join("config.toml");
    std::fs::write(&path, body.replace("{PORT}", &port.to_string())).unwrap();
    (path, port)
}

/// Starts `authgate serve --config PATH` and waits until the metadata answers 200.
pub async fn start(dir: &Path, config: &Path, port: u16) -> Running {
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .current_dir(dir)
        .env("AUTHGATE_LOG", "warn")
        // The tests' back-channel receivers listen on 127.0.0.1.
        .env("AUTHGATE_TEST_ALLOW_PRIVATE_OUTBOUND", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut running = Running {
        child,
        base,
        dir: dir.to_owned(),
    };
    wait_ready(&mut running).await;
    running
}

/// Waits (at most 20 s) for `GET /.well-known/openid-configuration` to answer 200.
pub async fn wait_ready(r: &mut Running) {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if let Some(status) = r.child.try_wait().unwrap() {
            panic!("authgate exited early with {status}");
        }
        if let Ok(res) = http
            .get(format!("{}/.well-known/openid-configuration", r.base))
            .send()
            .await
        {
            if res.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("authgate did not become ready at {}", r.base);
}

/// Runs the binary with arguments to completion; answers (exit code, stdout, stderr).
pub fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("AUTHGATE_LOG", "warn")
        // The tests' back-channel receivers listen on 127.0.0.1.
        .env("AUTHGATE_TEST_ALLOW_PRIVATE_OUTBOUND", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ----- added for e2e.rs, bad_config.rs and cli.rs -------------------------------------------

/// Starts `authgate serve --config PATH` with its stderr (the logs) going to `log`, and waits
/// until the metadata answers 200.
pub async fn start_logging_to(dir: &Path, config: &Path, port: u16, log: &Path) -> Running {
    start_logging_to_with_env(dir, config, port, log, &[]).await
}

/// [`start_logging_to`] with more environment variables for the server.
pub async fn start_logging_to_with_env(
    dir: &Path,
    config: &Path,
    port: u16,
    log: &Path,
    env: &[(&str, &str)],
) -> Running {
    let file = std::fs::File::create(log).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("AUTHGATE_LOG", "warn")
        // The tests' back-channel receivers listen on 127.0.0.1.
        .env("AUTHGATE_TEST_ALLOW_PRIVATE_OUTBOUND", "1")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut running = Running {
        child,
        base,
        dir: dir.to_owned(),
    };
    wait_ready(&mut running).await;
    running
}

/// Like [`run`], but a child still running after `secs` seconds is killed and the test
/// fails (a bad config that starts a server must not hang the test).
pub fn run_timeout(dir: &Path, args: &[&str], secs: u64) -> (i32, String, String) {
    let out_path = dir.join(format!("run-{}.out", free_port()));
    let err_path = out_path.with_extension("err");
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("AUTHGATE_LOG", "warn")
        // The tests' back-channel receivers listen on 127.0.0.1.
        .env("AUTHGATE_TEST_ALLOW_PRIVATE_OUTBOUND", "1")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // Polls every 50 ms: 20 polls a second (the monotonic clock is off limits, clippy.toml).
    let mut polls = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        polls += 1;
        if polls > secs * 20 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`authgate {}` still running after {secs} s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(&out_path).unwrap(),
        std::fs::read_to_string(&err_path).unwrap(),
    )
}

/// Sends SIGTERM and waits (at most 10 s) for the server to exit; answers its exit status.
#[cfg(unix)]
pub fn terminate(r: &mut Running) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &r.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
    for _ in 0..100 {
        if let Some(status) = r.child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("authgate did not exit within 10 s of SIGTERM");
}

#[allow(unused_imports)] // not every test file uses PostgreSQL
pub use authgate_sql::testing::PgSchema;

/// An HTTP client that follows no redirects and keeps no idle connections (so a restarted
/// server is never reached through a dead keep-alive connection).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// One response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        Self {
            status,
            headers,
            body,
        }
    }

    /// A header's value (the first), if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// Every `Set-Cookie` header, whole.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `Set-Cookie` header for cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The page's `<input type="hidden">` fields, in order, values unescaped.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find("<input") {
            let tag_end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
            let tag = &rest[start..tag_end];
            if attribute(tag, "type").as_deref() == Some("hidden") {
                if let Some(name) = attribute(tag, "name") {
                    fields.push((name, attribute(tag, "value").unwrap_or_default()));
                }
            }
            rest = &rest[tag_end..];
        }
        fields
    }

    /// The hidden field `name`'s value.
    pub fn hidden(&self, name: &str) -> Option<String> {
        self.hidden_fields()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// An HTML attribute's value in one tag (double-quoted, as the templates write them).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(html_unescape(&tag[start..end]))
}

/// Undoes the HTML escaping of the template engine.
pub fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

/// A browser as far as the contract needs one: cookies kept from `Set-Cookie`, no redirects
/// followed (the test reads each `Location`).
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    /// Cookie name to value.
    pub jar: std::collections::BTreeMap<String, String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: http(),
            jar: Default::default(),
        }
    }

    /// `path` is a local path (`/login`) or an absolute URL.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(self.url(path));
        self.send(req).await
    }

    /// Posts an `application/x-www-form-urlencoded` form.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(self.url(path)).form(form);
        self.send(req).await
    }

    async fn send(&mut self, mut req: reqwest::RequestBuilder) -> Page {
        if !self.jar.is_empty() {
            let cookie = self
                .jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req = req.header("cookie", cookie);
        }
        let page = Page::read(req.send().await.unwrap()).await;
        for c in page.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = c
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        page
    }

    /// Submits the login page `page` (as a browser would: its hidden fields plus the
    /// credentials) and answers the response.
    pub async fn submit_login(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let hidden = page.hidden_fields();
        let mut form: Vec<(&str, &str)> = hidden
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form.push(("username", username));
        form.push(("password", password));
        self.post("/login", &form).await
    }

    /// GET /login, then signs in; panics unless that answers 303.
    pub async fn login(&mut self, username: &str, password: &str) -> Page {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let res = self.submit_login(&page, username, password).await;
        assert_eq!(res.status, 303, "login as {username}: {}", res.body);
        res
    }
}

/// Waits for `check` to hold, trying every 10 ms for at most 2 s: a revocation or a
/// client's change made by another process (the CLI) reaches a running server's cache
/// within 50 ms (the bound run-for-real.md states), so a test checks it this way, not at
/// once.
pub async fn within_cache_bound<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}
