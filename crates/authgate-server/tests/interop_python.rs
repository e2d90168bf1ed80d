//! Interoperability with a relying party that shares no code with this project: Python's
//! Authlib client (`tests/python/authlib_rp.py`) discovers the reference server, signs a
//! user in through the login and consent pages, redeems the code with PKCE, verifies the
//! ID token and reads UserInfo.
//!
//! Needs `python3` with `authlib` and `requests` (`.ci/run` installs them from PyPI).
//! Without them the test prints `SKIPPED` and passes, except under `CI`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::process::Command;

use common::server::TestServer;

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[[clients]]
client_id = "py"
client_secret = "py-secret"
client_name = "Python RP"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code"]
scope = "openid email profile"

[[users]]
username = "alice"
password = "wonderland"
subject = "user-alice"
email = "alice@example.com"
"#;

/// Whether `python3` can import Authlib and requests.
fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn authlib_completes_the_code_flow_and_verifies_the_id_token() {
    if !python_ready() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the Authlib interop test: pip install authlib requests"
        );
        eprintln!("SKIPPED: python3 with authlib and requests is not installed");
        return;
    }
    let server = TestServer::sqlite("authlib", CONFIG).await;
    let base = server.base().to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/authlib_rp.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([
                script,
                &base,
                "py",
                "py-secret",
                "http://127.0.0.1:9/cb",
                "alice",
                "wonderland",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Authlib RP failed:\n{stdout}\n{stderr}"
    );
    let got: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        got,
        serde_json::json!({
            "sub": "user-alice",
            "aud": "py",
            "nonce_ok": true,
            "email": "alice@example.com",
            "token_type": "Bearer"
        })
    );
}
