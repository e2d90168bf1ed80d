//! The admin CLI against the configured database: `authgate client
//! add|list|show|update|rotate-secret|remove`, `authgate user add|list|set-password|remove`,
//! `authgate token revoke`, `authgate keys list|rotate` and `authgate migrate`, checked
//! through what a running server on the same config then does, with `--output json` read as
//! a script would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};

use authgate::token::SecretHash;
use authgate_sql::StoreOptions;
use common::{Browser, Page};
use serde_json::Value;

/// A config without clients of its own but `svc`, which may use the password grant.
const CONFIG: &str = r#"
issuer = "http://127.0.0.1:{PORT}"
bind = "127.0.0.1:{PORT}"

[[clients]]
client_id = "svc"
client_secret = "svc-secret"
redirect_uris = []
response_types = []
grant_types = ["password"]
scope = "profile"
token_endpoint_auth_method = "client_secret_post"

[[clients]]
client_id = "web"
client_secret = "web-secret"
redirect_uris = ["http://127.0.0.1:9/cb"]
grant_types = ["authorization_code"]
scope = "profile"
"#;

/// A folder with the config; answers it, the config path and the port.
fn setup(tag: &str) -> (PathBuf, PathBuf, u16) {
    let dir = common::temp_dir(tag);
    let (config, port) = common::write_config(&dir, CONFIG);
    (dir, config, port)
}

/// Runs the CLI with `--config` appended; answers (exit code, stdout, stderr).
fn cli(dir: &Path, config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["--config", config.to_str().unwrap()]);
    common::run_timeout(dir, &all, 30)
}

/// Runs the CLI and asserts it succeeded; answers stdout.
fn cli_ok(dir: &Path, config: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli(dir, config, args);
    assert_eq!(code, 0, "authgate {args:?} failed: {stderr}");
    stdout
}

/// `client add ID --grant-type client_credentials --scope read`; answers the printed secret,
/// checking it is printed exactly once.
fn add_reporter(dir: &Path, config: &Path, id: &str) -> String {
    let out = cli_ok(
        dir,
        config,
        &[
            "client",
            "add",
            id,
            "--grant-type",
            "client_credentials",
            "--scope",
            "read",
        ],
    );
    let secrets: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("client_secret: "))
        .collect();
    assert_eq!(secrets.len(), 1, "the secret is printed once: {out}");
    assert!(
        out.lines().any(|l| l == format!("client_id: {id}")),
        "{out}"
    );
    let secret = secrets[0].to_owned();
    assert!(secret.len() >= 43, "a 256-bit secret: {secret}");
    secret
}

async fn client_credentials(base: &str, id: &str, secret: &str) -> Page {
    let res = common::http()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap();
    Page::read(res).await
}

async fn password_grant(base: &str, username: &str, password: &str) -> Page {
    let res = common::http()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", "profile"),
            ("client_id", "svc"),
            ("client_secret", "svc-secret"),
        ])
        .send()
        .await
        .unwrap();
    Page::read(res).await
}

#[tokio::test]
async fn client_add_prints_a_secret_that_gets_a_token_and_only_its_hash_is_stored() {
    let (dir, config, port) = setup("client-add");
    let secret = add_reporter(&dir, &config, "reporter");
    let server = common::start(&dir, &config, port).await;

    let page = client_credentials(&server.base, "reporter", &secret).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = page.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    let wrong = client_credentials(&server.base, "reporter", "not-the-secret").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);

    // The database holds the secret's hash, never the secret: not in any of SQLite's files...
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("authgate.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "the secret is stored in {}",
                path.display()
            );
            files += usize::from(contains(&bytes, b"reporter"));
        }
    }
    assert!(files > 0, "the client is in the database files at all");
    // ...and the stored record's hash is the secret's.
    let record = stored_client(&dir, "reporter").await;
    assert!(record
        .secret_hash
        .unwrap()
        .ct_eq(&SecretHash::of(secret.as_bytes())));

    // Shown once: neither list nor show prints it again.
    for args in [&["client", "list"][..], &["client", "show", "reporter"][..]] {
        let out = cli_ok(&dir, &config, args);
        assert!(!out.contains(&secret), "{args:?} printed the secret");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12 item 4 (SECURITY.md 21): a secret a person wrote in the config file is kept
/// as an argon2id hash, not as a SHA-256 a dump would give away at GPU speed; the client
/// still authenticates, also again after a restart (a fresh hash each start).
#[tokio::test]
async fn a_config_file_secret_is_stored_as_argon2id_and_still_authenticates() {
    let (dir, config, port) = setup("chosen-secret");
    for _ in 0..2 {
        let server = common::start(&dir, &config, port).await;
        for secret in ["svc-secret", "svc-secret", "wrong-secret", "svc-secret"] {
            let res = common::http()
                .post(format!("{}/token", server.base))
                .form(&[
                    ("grant_type", "password"),
                    ("client_id", "svc"),
                    ("client_secret", secret),
                    ("username", "nobody"),
                    ("password", "x"),
                ])
                .send()
                .await
                .unwrap();
            let page = Page::read(res).await;
            // A right secret gets past client authentication to the unknown user.
            let want = if secret == "wrong-secret" {
                "invalid_client"
            } else {
                "invalid_grant"
            };
            assert!(page.body.contains(want), "{secret}: {}", page.body);
        }
        drop(server);
    }
    let record = stored_client(&dir, "svc").await;
    assert!(
        record.secret_hash.is_none(),
        "no fast hash of a chosen secret"
    );
    let phc = record.chosen_secret_hash.unwrap();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    let sha = SecretHash::of(b"svc-secret").0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        // SQLite may still be removing its -wal/-shm files after the server stopped: a
        // file gone between the listing and the read holds nothing.
        let Ok(bytes) = std::fs::read(entry.unwrap().path()) else {
            continue;
        };
        assert!(!contains(&bytes, &sha) && !contains(&bytes, b"svc-secret\0"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client added by the CLI works at once (the server's cache never keeps an unknown
/// client); one removed stops within the cache's bound (the server keeps clients it saw,
/// and the removal, made by another process, reaches it through the change count).
#[tokio::test]
async fn client_added_at_once_or_removed_within_the_cache_bound_while_the_server_runs() {
    let (dir, config, port) = setup("client-live");
    let server = common::start(&dir, &config, port).await;
    let secret = add_reporter(&dir, &config, "late");
    let page = client_credentials(&server.base, "late", &secret).await;
    assert_eq!(page.status, 200, "{}", page.body);

    let out = cli_ok(&dir, &config, &["client", "remove", "late"]);
    assert_eq!(out.trim(), "removed client late");
    assert!(
        common::within_cache_bound(|| async {
            client_credentials(&server.base, "late", &secret)
                .await
                .status
                == 401
        })
        .await,
        "a removed client cannot authenticate"
    );
    let page = client_credentials(&server.base, "late", &secret).await;
    assert_eq!(page.json()["error"], "invalid_client");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_list_show_and_remove() {
    let (dir, config, _) = setup("client-admin");
    add_reporter(&dir, &config, "reporter");
    let out = cli_ok(
        &dir,
        &config,
        &[
            "client",
            "add",
            "spa",
            "--public",
            "--name",
            "Single Page App",
            "--redirect-uri",
            "http://127.0.0.1:9/spa",
            "--grant-type",
            "authorization_code",
            "--scope",
            "openid profile",
        ],
    );
    assert!(out.contains("public client: no secret"), "{out}");
    assert!(!out.contains("client_secret:"), "{out}");

    let list = cli_ok(&dir, &config, &["client", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines,
        [
            "reporter\tclient_secret_basic\tclient_credentials",
            "spa\tnone\tauthorization_code"
        ],
        "{list}"
    );

    let show: Value = serde_json::from_str(&cli_ok(&dir, &config, &["client", "show", "spa"]))
        .expect("client show prints JSON");
    assert_eq!(
        show,
        serde_json::json!({
            "client_id": "spa",
            "client_name": "Single Page App",
            "redirect_uris": ["http://127.0.0.1:9/spa"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "scope": "openid profile",
            "token_endpoint_auth_method": "none",
        })
    );

    assert_eq!(
        cli_ok(&dir, &config, &["client", "remove", "reporter"]).trim(),
        "removed client reporter"
    );
    assert_eq!(
        cli_ok(&dir, &config, &["client", "list"]).trim(),
        "spa\tnone\tauthorization_code"
    );
    let (code, _, stderr) = cli(&dir, &config, &["client", "remove", "reporter"]);
    assert_ne!(code, 0, "removing it twice fails");
    assert!(stderr.contains("no client 'reporter'"), "{stderr}");
    let (code, _, stderr) = cli(&dir, &config, &["client", "show", "reporter"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no client 'reporter'"), "{stderr}");
    // A bad redirect URI is refused before anything is stored.
    let (code, _, stderr) = cli(
        &dir,
        &config,
        &["client", "add", "bad", "--redirect-uri", "/relative"],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("--redirect-uri"), "{stderr}");
    assert!(!cli_ok(&dir, &config, &["client", "list"]).contains("bad"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn user_add_then_password_grant_and_login_work_and_user_remove_stops_both() {
    let (dir, config, port) = setup("user");
    let out = cli_ok(
        &dir,
        &config,
        &[
            "user",
            "add",
            "bob",
            "--password",
            "pw",
            "--email",
            "bob@example.com",
        ],
    );
    assert_eq!(out.trim(), "saved user bob");
    let server = common::start(&dir, &config, port).await;
    let base = server.base.clone();

    let page = password_grant(&base, "bob", "pw").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let access = page.json()["access_token"].as_str().unwrap().to_owned();
    let me = Page::read(
        common::http()
            .get(format!("{base}/api/me"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        me.json()["sub"],
        "bob",
        "the subject defaults to the username"
    );
    assert_eq!(me.json()["username"], "bob");
    assert_eq!(password_grant(&base, "bob", "wrong").await.status, 400);
    let res = Browser::new(&base).login("bob", "pw").await;
    assert!(res.set_cookie("authgate_session").is_some());

    // Adding again updates the password.
    cli_ok(
        &dir,
        &config,
        &["user", "add", "bob", "--password", "new-pw"],
    );
    assert_eq!(password_grant(&base, "bob", "pw").await.status, 400);
    assert_eq!(password_grant(&base, "bob", "new-pw").await.status, 200);

    assert_eq!(
        cli_ok(&dir, &config, &["user", "remove", "bob"]).trim(),
        "removed user bob"
    );
    let page = password_grant(&base, "bob", "new-pw").await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(page.json()["error"], "invalid_grant");
    let mut browser = Browser::new(&base);
    let login = browser.get("/login").await;
    let refused = browser.submit_login(&login, "bob", "new-pw").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.set_cookie("authgate_session").is_none());

    let (code, _, stderr) = cli(&dir, &config, &["user", "remove", "bob"]);
    assert_ne!(code, 0, "removing it twice fails");
    assert!(stderr.contains("no user 'bob'"), "{stderr}");
    let (code, _, stderr) = cli(&dir, &config, &["user", "add", "carol", "--password", ""]);
    assert_ne!(code, 0, "an empty password is refused");
    assert!(stderr.contains("--password"), "{stderr}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A session outlives nothing it vouches for: once the user is removed, the browser that
/// signed in as them is asked to sign in again instead of being shown the consent page.
#[tokio::test]
async fn removed_user_session_no_longer_authorizes() {
    let (dir, config, port) = setup("user-session");
    cli_ok(&dir, &config, &["user", "add", "bob", "--password", "pw"]);
    let server = common::start(&dir, &config, port).await;
    let mut browser = Browser::new(&server.base);
    browser.login("bob", "pw").await;
    let authorize = "/authorize?response_type=code&client_id=web&scope=profile&state=s";
    let consent = browser.get(authorize).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        !consent.body.contains(r#"action="/login""#),
        "signed in: the consent page"
    );
    // A code bob approved but the client has not redeemed yet.
    let csrf = consent.hidden("csrf").unwrap();
    let approved = browser
        .post(authorize, &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    let code = common::oauth::query_of(approved.location().unwrap())["code"].clone();

    cli_ok(&dir, &config, &["user", "remove", "bob"]);
    // SECURITY.md 6: the removed user's unredeemed code no longer buys a token.
    let page = common::oauth::token(
        &server.base,
        common::oauth::Auth::Basic("web", "web-secret"),
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    common::oauth::assert_error(&page, 400, "invalid_grant");
    let page = browser.get(authorize).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"action="/login""#),
        "a removed user must sign in again: {}",
        page.body
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn migrate_applies_migrations_and_exits_zero() {
    let (dir, config, _) = setup("migrate");
    for _ in 0..2 {
        let (code, stdout, stderr) = cli(&dir, &config, &["migrate"]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout.trim(), "migrations applied");
    }
    assert!(
        dir.join("authgate.db").is_file(),
        "the database beside the config"
    );
    // A bad config is refused by migrate too.
    std::fs::write(
        &config,
        "issuer = \"http://127.0.0.1:1\"\nbind = \"127.0.0.1:1\"\ncolour = 1\n",
    )
    .unwrap();
    let (code, _, stderr) = cli(&dir, &config, &["migrate"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("unknown field `colour`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn migrate_and_client_commands_work_on_postgresql_by_database_url() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(schema) = rt.block_on(common::PgSchema::create()) else {
        return;
    };
    let url = schema.url();
    let dir = common::temp_dir("cli-pg");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database-url", &url]);
        common::run_timeout(&dir, &all, 30)
    };
    let (code, stdout, stderr) = run(&["migrate"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "migrations applied");
    let (code, stdout, stderr) = run(&[
        "client",
        "add",
        "reporter",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("client_secret: "))
            .count(),
        1,
        "{stdout}"
    );
    let (_, stdout, _) = run(&["client", "list"]);
    assert_eq!(
        stdout.trim(),
        "reporter\tclient_secret_basic\tclient_credentials"
    );
    let (code, _, _) = run(&["client", "remove", "reporter"]);
    assert_eq!(code, 0);
    let (_, stdout, _) = run(&["client", "list"]);
    assert_eq!(stdout.trim(), "");
    assert!(
        !dir.join("authgate.db").exists(),
        "no SQLite file when a database URL is given"
    );
    drop(schema);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The client `id` as the SQLite database in `dir` holds it.
async fn stored_client(dir: &Path, id: &str) -> authgate::ClientRecord {
    let store = authgate_sql::connect(
        &format!("sqlite://{}", dir.join("authgate.db").display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    store
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.client_id == id)
        .unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `keys list` shows the keys a server made (no key encryption key needed to list them);
/// `keys rotate` switches the active key at once, and the old one stays published.
#[tokio::test]
async fn keys_list_shows_the_servers_keys_and_keys_rotate_switches_the_active_one() {
    let (dir, config, port) = setup("keys");
    let server = common::start(&dir, &config, port).await;
    let jwks = jwks_of(&server.base).await;
    let published: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    drop(server);

    let active = |out: &str, alg: &str| -> String {
        out.lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|f| f[1] == alg && f[3] == "active")
            .map(|f| f[0].to_owned())
            .unwrap_or_else(|| panic!("no active {alg} key in:\n{out}"))
    };
    let out = cli_ok(&dir, &config, &["keys", "list"]);
    assert!(out.starts_with("kid\talg\tgeneration\tstate"), "{out}");
    let (rs, es) = (active(&out, "RS256"), active(&out, "ES256"));
    assert_eq!(
        published,
        [rs.clone(), es.clone()],
        "what the server published"
    );

    // A scheduled rotation publishes the successor now; it signs after publish_ahead.
    let out = cli_ok(&dir, &config, &["keys", "rotate", "--alg", "ES256"]);
    assert!(out.contains("ES256"), "{out}");
    let out = cli_ok(&dir, &config, &["keys", "list"]);
    assert_eq!(
        active(&out, "ES256"),
        es,
        "still the old key until publish_ahead"
    );
    let next: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("\tES256\t") && l.contains("\tnext\t"))
        .collect();
    assert_eq!(next.len(), 1, "{out}");
    // --now (a compromised key) switches at once, to that published successor.
    cli_ok(
        &dir,
        &config,
        &["keys", "rotate", "--alg", "ES256", "--now"],
    );
    let out = cli_ok(&dir, &config, &["keys", "list"]);
    assert_eq!(active(&out, "RS256"), rs, "only ES256 rotated");
    let new_es = active(&out, "ES256");
    assert_ne!(new_es, es);
    assert!(
        next[0].starts_with(&new_es),
        "the published successor signs"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&es) && l.contains("\tretired\t")),
        "{out}"
    );
    // Without the servers' key encryption key file the CLI refuses; it never makes one.
    let (code, _, stderr) = cli(
        &dir,
        &config,
        &[
            "keys",
            "rotate",
            "--key-file",
            dir.join("nope.kek").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("nope.kek"), "{stderr}");
    assert!(!dir.join("nope.kek").exists());

    // A server started now publishes both ES256 keys and the RS256 one.
    let server = common::start(&dir, &config, port).await;
    let jwks = jwks_of(&server.base).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    for kid in [&rs, &es, &new_es] {
        assert!(kids.contains(&kid.as_str()), "{kid} in {kids:?}");
    }
    let (code, _, stderr) = cli(&dir, &config, &["keys", "rotate", "--alg", "HS256"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--alg"), "{stderr}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The JWKS a running server publishes.
async fn jwks_of(base: &str) -> Value {
    Page::read(
        common::http()
            .get(format!("{base}/jwks"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .json()
}

/// `user add --password-stdin` takes the password from standard input (out of the process
/// list); the user can then sign in with it.
#[tokio::test]
async fn user_add_reads_the_password_from_standard_input() {
    use std::io::Write;
    let (dir, config, port) = setup("user-stdin");
    let mut child = std::process::Command::new(common::BIN)
        .args(["user", "add", "dora", "--password-stdin", "--config"])
        .arg(&config)
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin-pw\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = common::start(&dir, &config, port).await;
    let mut browser = Browser::new(&server.base);
    browser.login("dora", "from-stdin-pw").await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo's credentials are public: it listens on loopback only unless told otherwise.
#[test]
fn the_demo_refuses_a_public_bind_without_the_explicit_flag() {
    let dir = common::temp_dir("demo-public-bind");
    let port = common::free_port();
    let (code, _, stderr) =
        common::run_timeout(&dir, &["serve", "--bind", &format!("0.0.0.0:{port}")], 30);
    assert_ne!(code, 0);
    assert!(stderr.contains("--insecure-demo"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12 item 5: the session-signing key is a file of its own (owner-only), or
/// AUTHGATE_SESSION_KEY: not in the database, so a database dump cannot forge a session. A
/// session signed with one key is not accepted under another.
#[tokio::test]
async fn the_session_key_is_a_private_file_or_the_environment_not_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, config, port) = setup("session-key");
    cli_ok(&dir, &config, &["user", "add", "erin", "--password", "pw"]);
    let server = common::start(&dir, &config, port).await;
    let key_file = dir.join("authgate.session-key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut browser = Browser::new(&server.base);
    browser.login("erin", "pw").await;
    let signed_in = browser.get("/").await;
    assert!(signed_in.body.contains("erin"), "{}", signed_in.body);
    drop(server);
    // The same database, another key (from the environment): the old cookie is no session.
    let child = std::process::Command::new(common::BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .current_dir(&dir)
        .env("AUTHGATE_LOG", "warn")
        .env(
            "AUTHGATE_SESSION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut other = common::Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir: dir.clone(),
    };
    common::wait_ready(&mut other).await;
    let page = browser.get("/").await;
    assert!(
        !page.body.contains("erin"),
        "a session under another key: {}",
        page.body
    );
    browser.login("erin", "pw").await;
    assert!(
        browser.get("/").await.body.contains("erin"),
        "signing in again works"
    );
    drop(other);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12 item 5: the key encryption key may come from AUTHGATE_KEY_ENCRYPTION_KEY (no
/// file is written then); the signing keys it sealed open only with it.
#[tokio::test]
async fn the_key_encryption_key_may_come_from_the_environment() {
    let (dir, config, port) = setup("kek-env");
    let serve = |key: &str| {
        std::process::Command::new(common::BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .current_dir(&dir)
            .env("AUTHGATE_LOG", "warn")
            .env("AUTHGATE_KEY_ENCRYPTION_KEY", key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let k1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let k2 = "HxwdGhsYGRYXFBUSExAREA4PDA0KCwgJBgcEBQIDAAE";
    let mut first = common::Running {
        child: serve(k1),
        base: format!("http://127.0.0.1:{port}"),
        dir: dir.clone(),
    };
    common::wait_ready(&mut first).await;
    assert!(
        !dir.join("authgate.kek").exists(),
        "no key file when the environment gives the key"
    );
    drop(first);
    // Another key cannot open the stored signing keys: the start fails, naming why.
    let out = serve(k2).wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be decrypted"), "{stderr}");
    let mut again = common::Running {
        child: serve(k1),
        base: format!("http://127.0.0.1:{port}"),
        dir: dir.clone(),
    };
    common::wait_ready(&mut again).await;
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 13 item 7: `client update`, `client rotate-secret`, `user list`,
/// `user set-password` and `token revoke --client|--user`, each checked through what the
/// running server then does, and `--output json` parsed as scripts would.
#[tokio::test]
async fn update_rotate_list_set_password_and_revoke_work_and_print_json() {
    let (dir, config, port) = setup("cli-more");
    let secret = add_reporter(&dir, &config, "reporter");
    let server = common::start(&dir, &config, port).await;

    // update: a wider scope, a name; the file's own clients are refused.
    let out = cli_ok(
        &dir,
        &config,
        &[
            "client",
            "update",
            "reporter",
            "--scope",
            "read write",
            "--name",
            "Reports",
            "--output",
            "json",
        ],
    );
    let updated: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(updated["scope"], "read write");
    assert_eq!(updated["client_name"], "Reports");
    assert_eq!(
        updated["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    let (code, _, err) = cli(&dir, &config, &["client", "update", "web", "--scope", "x"]);
    assert_ne!(code, 0);
    assert!(err.contains("declared in"), "{err}");
    // Redirect URIs are checked as registration checks them: plain http only on loopback.
    for bad in [
        "not a uri",
        "http://app.example/cb",
        "https://app.example/cb#x",
    ] {
        let (code, _, err) = cli(
            &dir,
            &config,
            &["client", "update", "reporter", "--redirect-uri", bad],
        );
        assert_ne!(code, 0, "{bad}");
        assert!(err.contains("--redirect-uri"), "{err}");
    }
    let wide = common::http()
        .post(format!("{}/token", server.base))
        .basic_auth("reporter", Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "write")])
        .send()
        .await
        .unwrap();
    assert_eq!(wide.status(), 200, "the new scope holds at once");

    // list --output json: every client, no secret.
    let list: Value = serde_json::from_str(&cli_ok(
        &dir,
        &config,
        &["client", "list", "--output", "json"],
    ))
    .unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["reporter", "svc", "web"]);
    assert!(!list.to_string().contains("secret\":"), "{list}");

    // A token issued before the rotation, then the rotation: the old secret fails within
    // the cache's bound (the running server keeps the client it authenticated).
    let before = client_credentials(&server.base, "reporter", &secret).await;
    assert_eq!(before.status, 200, "{}", before.body);
    let access = before.json()["access_token"].as_str().unwrap().to_owned();
    let rotated: Value = serde_json::from_str(&cli_ok(
        &dir,
        &config,
        &["client", "rotate-secret", "reporter", "--output", "json"],
    ))
    .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert!(new_secret.len() >= 43 && new_secret != secret);
    // Asked at the introspection endpoint, which issues nothing: a token request that
    // the old secret still passed would add a token to the count revoked below.
    assert!(
        common::within_cache_bound(|| async {
            common::http()
                .post(format!("{}/introspect", server.base))
                .basic_auth("reporter", Some(&secret))
                .form(&[("token", access.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                == 401
        })
        .await
    );
    assert_eq!(
        client_credentials(&server.base, "reporter", new_secret)
            .await
            .status,
        200
    );
    let (code, _, err) = cli(&dir, &config, &["client", "rotate-secret", "svc"]);
    assert_ne!(code, 0, "a config client's secret lives in the file");
    assert!(err.contains("declared in"), "{err}");

    // token revoke --client: the token issued before the rotation stops working.
    let active = |token: String| {
        let base = server.base.clone();
        async move {
            let res = common::http()
                .post(format!("{base}/introspect"))
                .basic_auth("reporter", Some(new_secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            Page::read(res).await.json()["active"].as_bool().unwrap()
        }
    };
    assert!(active(access.clone()).await);
    let out: Value = serde_json::from_str(&cli_ok(
        &dir,
        &config,
        &[
            "token", "revoke", "--client", "reporter", "--output", "json",
        ],
    ))
    .unwrap();
    // The three it was issued: with the new scope, before and after the rotation.
    assert_eq!(out["revoked"], 3, "{out}");
    assert!(common::within_cache_bound(|| async { !active(access.clone()).await }).await);
    let (code, _, err) = cli(&dir, &config, &["token", "revoke", "--client", "ghost"]);
    assert_ne!(code, 0);
    assert!(err.contains("no client 'ghost'"), "{err}");
    let (code, _, err) = cli(&dir, &config, &["token", "revoke"]);
    assert_ne!(code, 0, "naming neither is a usage error: {err}");
    // A client ID metadata document client (an https id) is never stored, yet revocable.
    let out: Value = serde_json::from_str(&cli_ok(
        &dir,
        &config,
        &[
            "token",
            "revoke",
            "--client",
            "https://app.example/client.json",
            "--output",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(out["revoked"], 0);
    // Adding the code flow to a client gives it the `code` response type, as `add` does.
    let out: Value = serde_json::from_str(&cli_ok(
        &dir,
        &config,
        &[
            "client",
            "update",
            "reporter",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://reports.example/cb",
            "--output",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(out["response_types"], serde_json::json!(["code"]));

    // user add, list, set-password (the old one stops at once), token revoke --user.
    for name in ["zed", "amy"] {
        cli_ok(
            &dir,
            &config,
            &["user", "add", name, "--password", "first-password"],
        );
    }
    let users: Value = serde_json::from_str(&cli_ok(
        &dir,
        &config,
        &["user", "list", "--output", "json"],
    ))
    .unwrap();
    assert_eq!(
        users,
        serde_json::json!([{"username": "amy", "subject": "amy"}, {"username": "zed", "subject": "zed"}])
    );
    assert_eq!(
        cli_ok(&dir, &config, &["user", "list"]),
        "amy\tamy\nzed\tzed\n"
    );
    let page = password_grant(&server.base, "amy", "first-password").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let amys = page.json()["access_token"].as_str().unwrap().to_owned();
    cli_ok(
        &dir,
        &config,
        &[
            "user",
            "set-password",
            "amy",
            "--password",
            "second-password",
        ],
    );
    assert_eq!(
        password_grant(&server.base, "amy", "first-password")
            .await
            .status,
        400
    );
    assert_eq!(
        password_grant(&server.base, "amy", "second-password")
            .await
            .status,
        200
    );
    let (code, _, err) = cli(
        &dir,
        &config,
        &["user", "set-password", "nobody", "--password", "x"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("no user 'nobody'"), "{err}");
    let out = cli_ok(&dir, &config, &["token", "revoke", "--user", "amy"]);
    assert_eq!(out, "revoked 2 tokens of user amy\n");
    let refused = common::within_cache_bound(|| async {
        let res = common::http()
            .get(format!("{}/api/me", server.base))
            .bearer_auth(&amys)
            .send()
            .await
            .unwrap();
        res.status() == 401
    })
    .await;
    assert!(
        refused,
        "amy's token still worked 2 s after the CLI revoked it"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
