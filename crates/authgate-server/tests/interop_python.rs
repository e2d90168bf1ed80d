//! Interoperability with a relying party that shares no code with this project: Python's
//! Authlib client (`tests/python/authlib_rp.py`) discovers the reference server, signs a
//! user in through the login and consent pages, redeems the code with PKCE, verifies the
//! ID token and reads UserInfo; and as a resource server (`tests/python/at_jwt_resource.py`)
//! it validates a JWT access token (RFC 9068) with the published keys alone.
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

[[clients]]
client_id = "py-svc"
client_secret = "py-svc-secret"
grant_types = ["client_credentials"]
scope = "read write"

# A service holding a key, not a secret (private_key_jwt).
[[clients]]
client_id = "py-keyed"
token_endpoint_auth_method = "private_key_jwt"
grant_types = ["client_credentials"]
scope = "read"
jwks = { keys = [{ kty = "EC", crv = "P-256", x = "nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8", y = "1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c", kid = "test-client-key", use = "sig", alg = "ES256" }] }

# Services whose assertions are keyed by their secret (client_secret_jwt): HS256 unless
# they register another algorithm; 64 bytes or more for HS512 (RFC 7518 section 3.2).
[[clients]]
client_id = "py-hmac"
token_endpoint_auth_method = "client_secret_jwt"
client_secret = "hmac-secret-0123456789abcdef0123456789abcdef0123456789abcdef01234"
grant_types = ["client_credentials"]
scope = "read"

[[clients]]
client_id = "py-hmac512"
token_endpoint_auth_method = "client_secret_jwt"
token_endpoint_auth_signing_alg = "HS512"
client_secret = "hmac-secret-0123456789abcdef0123456789abcdef0123456789abcdef01234"
grant_types = ["client_credentials"]
scope = "read"

# An API whose tokens are JWTs (RFC 9068) that it checks by itself.
[[resources]]
identifier = "https://api.example/"
scope = "read"
access_token_format = "jwt"
access_token_ttl = 300

[[users]]
username = "alice"
password = "wonderland"
subject = "user-alice"
email = "alice@example.com"
"#;

/// `py-hmac`'s secret.
const HMAC_SECRET: &str = "hmac-secret-0123456789abcdef0123456789abcdef0123456789abcdef01234";

/// Whether `python3` can import Authlib and requests.
fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether to run: Python with Authlib is there; without it, a skip outside CI and a
/// failure under it.
fn python_or_skip() -> bool {
    if python_ready() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the Authlib interop tests: pip install authlib requests"
    );
    eprintln!("SKIPPED: python3 with authlib and requests is not installed");
    false
}

/// Runs a script of `tests/python` with `args`; its one JSON line of output.
async fn run_script(name: &str, args: Vec<String>) -> serde_json::Value {
    let script = format!("{}/tests/python/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap()
}

#[tokio::test]
async fn authlib_validates_a_jwt_access_token_as_a_resource_rfc9068_4() {
    if !python_or_skip() {
        return;
    }
    let server = TestServer::sqlite("authlib-at-jwt", CONFIG).await;
    let got = run_script(
        "at_jwt_resource.py",
        [
            server.base(),
            "py-svc",
            "py-svc-secret",
            "https://api.example/",
            "read write",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    assert_eq!(
        got,
        serde_json::json!({
            "alg": "ES256",
            "aud": "https://api.example/",
            "sub": "py-svc",
            "client_id": "py-svc",
            "scope": "read",
            "lifetime": 300
        })
    );
}

#[tokio::test]
async fn authlib_authenticates_with_private_key_jwt_once_per_assertion_rfc7523_2_2() {
    if !python_or_skip() {
        return;
    }
    let server = TestServer::sqlite("authlib-pkj", CONFIG).await;
    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/client-es256.pem");
    let got = run_script(
        "jwt_client_auth.py",
        [
            "private_key_jwt",
            server.base(),
            "py-keyed",
            pem,
            "test-client-key",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    assert_eq!(
        got,
        serde_json::json!({
            "token_type": "Bearer",
            "scope": "read",
            "replay_status": 400,
            "replay_error": "invalid_client"
        })
    );
}

#[tokio::test]
async fn authlib_authenticates_with_client_secret_jwt_once_per_assertion_rfc7523_2_2() {
    if !python_or_skip() {
        return;
    }
    // The secret is kept sealed under the server's key encryption key: the HMAC checks
    // only if the server can open it again.
    let server = TestServer::sqlite("authlib-csj", CONFIG).await;
    for (client, alg) in [("py-hmac", "HS256"), ("py-hmac512", "HS512")] {
        let got = run_script(
            "jwt_client_auth.py",
            ["client_secret_jwt", server.base(), client, HMAC_SECRET, alg]
                .map(str::to_owned)
                .to_vec(),
        )
        .await;
        assert_eq!(
            got,
            serde_json::json!({
                "token_type": "Bearer",
                "scope": "read",
                "replay_status": 400,
                "replay_error": "invalid_client"
            }),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn authlib_completes_the_code_flow_and_verifies_the_id_token() {
    if !python_or_skip() {
        return;
    }
    let server = TestServer::sqlite("authlib", CONFIG).await;
    let got = run_script(
        "authlib_rp.py",
        [
            server.base(),
            "py",
            "py-secret",
            "http://127.0.0.1:9/cb",
            "alice",
            "wonderland",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
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
