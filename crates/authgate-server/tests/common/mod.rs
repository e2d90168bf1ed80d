//! Runs the `authgate` binary as a child process on a free port, as users run it.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

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
        authgate::token::generate_client_secret().replace(['-', '_'], "")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut running = Running { child, base, dir: dir.to_owned() };
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
        if let Ok(res) = http.get(format!("{}/.well-known/openid-configuration", r.base)).send().await {
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
    let out = Command::new(BIN).args(args).current_dir(dir).env("AUTHGATE_LOG", "warn").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The PostgreSQL server for tests, as in authgate-sql's tests.
pub fn pg_base_url() -> String {
    std::env::var("AUTHGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}
