//! Configuration for containers, through the binary: `AUTHGATE_` variables override the
//! file's keys (errors name the variable), secrets come from `*_file` keys, and
//! `authgate config check` validates without starting.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::process::Command;

use common::oauth::{token, Auth};
use common::server::TestServer;

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"
{DATABASE}

[tokens]
access_token_ttl = 3600

[[clients]]
client_id = "svc"
client_secret_file = "svc.secret"
grant_types = ["client_credentials"]
scope = "read"
"#;

/// `authgate config check` on `body` (its `svc.secret` beside it) with `env`: the exit
/// status and what it printed.
fn check(body: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = common::temp_dir("config-check");
    std::fs::write(dir.join("svc.secret"), "svc-secret-from-a-file\n").unwrap();
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        body.replace("{DATABASE}", "").replace("{PORT}", "8080"),
    )
    .unwrap();
    std::fs::write(dir.join("db.url"), "memory:\n").unwrap();
    let mut cmd = Command::new(common::BIN);
    // Only the variables the case sets: none of the caller's.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AUTHGATE_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["config", "check", "--config"])
        .arg(&path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.success(), text)
}

#[test]
fn config_check_validates_with_the_environment_and_names_a_bad_variable() {
    let (ok, out) = check(CONFIG, &[]);
    assert!(ok, "{out}");
    assert!(out.contains(": ok"), "{out}");
    // A value the key cannot take: the variable is named.
    let (ok, out) = check(CONFIG, &[("AUTHGATE_TOKENS__ACCESS_TOKEN_TTL", "soon")]);
    assert!(!ok);
    assert!(
        out.contains("AUTHGATE_TOKENS__ACCESS_TOKEN_TTL") && out.contains("expected u64"),
        "{out}"
    );
    // A misspelt table is an unknown key, as in the file, not silently ignored.
    let (ok, out) = check(CONFIG, &[("AUTHGATE_TOKNES__ACCESS_TOKEN_TTL", "60")]);
    assert!(!ok);
    assert!(
        out.contains("AUTHGATE_TOKNES") && out.contains("unknown field"),
        "{out}"
    );
    // An override goes through the same checks as the file's value.
    let (ok, out) = check(CONFIG, &[("AUTHGATE_BIND", "nowhere")]);
    assert!(!ok);
    assert!(out.contains("bind: 'nowhere'"), "{out}");
    // The server's own variables are not config keys, and the keys they give are
    // checked like a start would.
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
    let (ok, out) = check(
        CONFIG,
        &[("AUTHGATE_LOG", "debug"), ("AUTHGATE_SESSION_KEY", key)],
    );
    assert!(ok, "{out}");
    let (ok, out) = check(CONFIG, &[("AUTHGATE_SESSION_KEY", "x")]);
    assert!(!ok);
    assert!(out.contains("AUTHGATE_SESSION_KEY"), "{out}");
    // Every top-level key can be overridden, lists too, and is checked like the file's.
    let (ok, out) = check(CONFIG, &[("AUTHGATE_TRUSTED_PROXIES", r#"["10.0.0.0/8"]"#)]);
    assert!(ok, "{out}");
    let (ok, out) = check(CONFIG, &[("AUTHGATE_TRUSTED_PROXIES", r#"["nowhere"]"#)]);
    assert!(!ok);
    assert!(out.contains("trusted_proxies"), "{out}");
    // A value of the wrong kind is never echoed: it may be a secret.
    let (ok, out) = check(
        CONFIG,
        &[("AUTHGATE_REGISTRATION__INITIAL_ACCESS_TOKEN", "12345678")],
    );
    assert!(!ok);
    assert!(
        out.contains("AUTHGATE_REGISTRATION__INITIAL_ACCESS_TOKEN") && !out.contains("12345678"),
        "{out}"
    );
    // Quoted, it is a string.
    let (ok, out) = check(
        CONFIG,
        &[(
            "AUTHGATE_REGISTRATION__INITIAL_ACCESS_TOKEN",
            r#""12345678""#,
        )],
    );
    assert!(ok, "{out}");
    // The environment's `_file` form replaces the file's value instead of clashing.
    let with_url = CONFIG.replace("{DATABASE}", "database_url = \"sqlite::memory:\"");
    let (ok, out) = check(&with_url, &[("AUTHGATE_DATABASE_URL_FILE", "db.url")]);
    assert!(ok, "{out}");
}

#[test]
fn a_secret_and_its_file_together_or_a_missing_file_are_refused() {
    let both = CONFIG.replace(
        "client_secret_file = \"svc.secret\"",
        "client_secret = \"inline-secret\"\nclient_secret_file = \"svc.secret\"",
    );
    let (ok, out) = check(&both, &[]);
    assert!(!ok);
    assert!(
        out.contains("clients[0] (svc).client_secret") && out.contains("not both"),
        "{out}"
    );
    let missing = CONFIG.replace("svc.secret", "nowhere.secret");
    let (ok, out) = check(&missing, &[]);
    assert!(!ok);
    assert!(
        out.contains("client_secret_file") && out.contains("nowhere.secret"),
        "{out}"
    );
    let database = format!("{CONFIG}\n").replace(
        "{DATABASE}",
        "database_url = \"memory:\"\ndatabase_url_file = \"db.url\"",
    );
    let (ok, out) = check(&database, &[]);
    assert!(!ok);
    assert!(
        out.contains("database_url") && out.contains("not both"),
        "{out}"
    );
}

#[tokio::test]
async fn the_environment_overrides_the_file_and_secrets_come_from_files() {
    // The server reads `svc.secret` beside its config file.
    let server = TestServer::sqlite_with_files(
        "config-env",
        CONFIG,
        &[("AUTHGATE_TOKENS__ACCESS_TOKEN_TTL", "120")],
        &[("svc.secret", "svc-secret-from-a-file\n")],
    )
    .await;
    let page = token(
        server.base(),
        Auth::Basic("svc", "svc-secret-from-a-file"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let t: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(
        t["expires_in"], 120,
        "the environment's value, not the file's 3600"
    );
}
