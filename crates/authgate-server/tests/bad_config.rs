//! Bad config files: `authgate serve --config` exits non-zero with one line on stderr that
//! names the key or the problem (and, for a parse error, the line). And the one unusual
//! config that is valid: a client that never uses the authorization endpoint, with empty
//! `redirect_uris` and `response_types`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::Path;

/// The valid part every case starts from.
const BASE: &str = "issuer = \"http://127.0.0.1:{PORT}\"\nbind = \"127.0.0.1:{PORT}\"\n";

/// Runs `authgate serve --config` on `body` in a fresh folder and asserts it fails with one
/// line on stderr containing each of `needles`; answers that line.
fn refused(tag: &str, body: &str, needles: &[&str]) -> String {
    let dir = common::temp_dir(tag);
    let (config, _) = common::write_config(&dir, body);
    refused_at(&dir, &config, needles)
}

fn refused_at(dir: &Path, config: &Path, needles: &[&str]) -> String {
    let (code, stdout, stderr) =
        common::run_timeout(dir, &["serve", "--config", config.to_str().unwrap()], 20);
    assert_ne!(
        code, 0,
        "a bad config must not start the server; stderr: {stderr}"
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "", "nothing on stdout");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got:\n{stderr}");
    let line = lines[0];
    assert!(line.starts_with("authgate: error: "), "{line}");
    for needle in needles {
        assert!(
            line.contains(needle),
            "the error should mention {needle:?}: {line}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    line.to_owned()
}

#[test]
fn unknown_top_level_key_is_named_with_its_line() {
    let line = refused(
        "unknown-top",
        &format!("{BASE}colour = \"blue\"\n"),
        &["unknown field `colour`", "line 3"],
    );
    assert!(line.contains("config.toml"), "names the file: {line}");
}

#[test]
fn unknown_key_in_a_client_is_named_with_its_line() {
    let body = format!(
        "{BASE}\n[[clients]]\nclient_id = \"web\"\nclient_secret = \"s\"\nredirect_uri = \"http://127.0.0.1:9/cb\"\n"
    );
    refused(
        "unknown-client",
        &body,
        &["unknown field `redirect_uri`", "line 7", "redirect_uris"],
    );
}

#[test]
fn unknown_key_in_tokens_is_named_with_its_line() {
    let body = format!("{BASE}\n[tokens]\nrefresh_token = true\n");
    refused(
        "unknown-tokens",
        &body,
        &["unknown field `refresh_token`", "line 5", "refresh_tokens"],
    );
}

#[test]
fn unknown_grant_type_in_expires_in_is_named() {
    let body = format!("{BASE}\n[tokens.expires_in]\nclient_credential = 600\n");
    refused(
        "expires-in-typo",
        &body,
        &["tokens.expires_in.client_credential", "client_credentials"],
    );
}

#[test]
fn a_refresh_grace_window_of_minutes_is_refused() {
    let body = format!("{BASE}\n[tokens]\nrefresh_grace_seconds = 301\n");
    refused(
        "refresh-grace",
        &body,
        &["tokens.refresh_grace_seconds", "301", "300"],
    );
}

#[test]
fn resources_that_break_rfc8707_are_refused() {
    let entry = |fields: &str| format!("{BASE}\n[[resources]]\n{fields}\n");
    refused(
        "resource-fragment",
        &entry("identifier = \"https://api.example/#x\""),
        &["resources", "https://api.example/#x", "without a fragment"],
    );
    refused(
        "resource-relative",
        &entry("identifier = \"/api\""),
        &["resources", "'/api'", "absolute URI"],
    );
    refused(
        "resource-format",
        &entry("identifier = \"https://api.example/\"\naccess_token_format = \"paseto\""),
        &[
            "resources (https://api.example/).access_token_format",
            "paseto",
        ],
    );
    refused(
        "resource-scope",
        &entry("identifier = \"https://api.example/\"\nscope = \"a\\\"b\""),
        &[
            "resources (https://api.example/).scope",
            "not a valid scope",
        ],
    );
    refused(
        "resource-twice",
        &format!(
            "{}[[resources]]\nidentifier = \"https://api.example/\"\n",
            entry("identifier = \"https://api.example/\"")
        ),
        &["resources", "listed twice"],
    );
    refused(
        "resource-unknown-key",
        &entry("identifier = \"https://api.example/\"\naudience = \"x\""),
        &["audience"],
    );
    refused(
        "client-named-like-a-user",
        &format!(
            "{BASE}\n[[clients]]\nclient_id = \"alice\"\nclient_secret = \"s\"\ngrant_types = [\"client_credentials\"]\n[[users]]\nusername = \"alice\"\npassword = \"p\"\n"
        ),
        &["users[0] (alice)", "'alice' is also a client_id"],
    );
    refused(
        "token-format",
        &format!("{BASE}\n[tokens]\naccess_token_format = \"JWT\"\n"),
        &["tokens.access_token_format", "'JWT'"],
    );
}

#[test]
fn database_url_of_an_unsupported_scheme_is_refused() {
    let body = format!("{BASE}database_url = \"mysql://root:hunter2@127.0.0.1/authgate\"\n");
    let stderr = refused(
        "mysql",
        &body,
        &["database_url", "mysql://", "not supported"],
    );
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

#[test]
fn issuer_that_is_not_a_url_is_refused() {
    refused(
        "issuer-not-url",
        "issuer = \"auth server\"\nbind = \"127.0.0.1:{PORT}\"\n",
        &["issuer", "'auth server'", "not a URL"],
    );
    // A URL, but not one RFC 8414 allows as an issuer.
    refused(
        "issuer-query",
        "issuer = \"http://127.0.0.1:{PORT}/?tenant=1\"\nbind = \"127.0.0.1:{PORT}\"\n",
        &["issuer", "without query or fragment"],
    );
}

#[test]
fn bind_that_is_not_an_address_is_refused() {
    for bad in ["localhost", "127.0.0.1", "127.0.0.1:99999"] {
        let body = format!("issuer = \"http://127.0.0.1:{{PORT}}\"\nbind = \"{bad}\"\n");
        refused(
            "bad-bind",
            &body,
            &["bind", &format!("'{bad}'"), "not an address"],
        );
    }
}

#[test]
fn port_already_taken_is_refused_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let body = format!("issuer = \"http://{addr}\"\nbind = \"{addr}\"\n");
    refused("port-taken", &body, &["bind", &addr, "cannot listen"]);
    drop(taken);
}

#[test]
fn invalid_redirect_uri_is_refused_naming_the_client_and_uri() {
    for bad in [
        "/relative/cb",
        "http://127.0.0.1:9/cb#fragment",
        "not a uri",
    ] {
        let body = format!(
            "{BASE}\n[[clients]]\nclient_id = \"web\"\nclient_secret = \"s\"\nredirect_uris = [\"{bad}\"]\n"
        );
        refused(
            "bad-redirect",
            &body,
            &["clients[0] (web).redirect_uris", &format!("'{bad}'")],
        );
    }
}

#[test]
fn auth_method_none_with_a_client_secret_is_refused() {
    let body = format!(
        "{BASE}\n[[clients]]\nclient_id = \"spa\"\nclient_secret = \"s\"\ntoken_endpoint_auth_method = \"none\"\nredirect_uris = [\"http://127.0.0.1:9/cb\"]\n"
    );
    refused(
        "none-with-secret",
        &body,
        &[
            "clients[0] (spa)",
            "token_endpoint_auth_method",
            "client_secret",
        ],
    );
}

#[test]
fn unknown_auth_method_or_missing_secret_is_refused() {
    let body = format!("{BASE}\n[[clients]]\nclient_id = \"c\"\nclient_secret = \"s\"\ntoken_endpoint_auth_method = \"client_secret_jvt\"\n");
    refused(
        "unknown-method",
        &body,
        &[
            "clients[0] (c).token_endpoint_auth_method",
            "'client_secret_jvt'",
        ],
    );
    // RFC 8725 section 3.5: a generated secret, never a password (43 characters at least);
    // RFC 7518 section 3.2: at least the hash output of its algorithm.
    let hmac_client = |secret: &str, extra: &str| {
        format!("{BASE}\n[[clients]]\nclient_id = \"c\"\nclient_secret = \"{secret}\"\ntoken_endpoint_auth_method = \"client_secret_jwt\"\n{extra}\n")
    };
    let s42 = "x".repeat(42);
    let s48 = "x".repeat(48);
    refused(
        "short-hmac-secret",
        &hmac_client(&s42, ""),
        &[
            "clients[0] (c).client_secret",
            "generated",
            "at least 43 characters",
        ],
    );
    refused(
        "hs512-short-secret",
        &hmac_client(&s48, "token_endpoint_auth_signing_alg = \"HS512\""),
        &[
            "clients[0] (c).client_secret",
            "HS512",
            "RFC 7518 section 3.2",
        ],
    );
    refused(
        "hmac-asymmetric-alg",
        &hmac_client(&s48, "token_endpoint_auth_signing_alg = \"ES256\""),
        &[
            "clients[0] (c).token_endpoint_auth_signing_alg",
            "'ES256' is not one of HS256, HS384, HS512",
        ],
    );
    refused(
        "alg-on-basic",
        &format!("{BASE}\n[[clients]]\nclient_id = \"c\"\nclient_secret = \"{s48}\"\ntoken_endpoint_auth_signing_alg = \"HS256\"\n"),
        &["clients[0] (c).token_endpoint_auth_signing_alg", "only for"],
    );
    let body = format!("{BASE}\n[[clients]]\nclient_id = \"c\"\ntoken_endpoint_auth_method = \"client_secret_jwt\"\n");
    refused(
        "hmac-without-secret",
        &body,
        &["clients[0] (c)", "needs a client_secret"],
    );
    let body = format!("{BASE}\n[[clients]]\nclient_id = \"c\"\ntoken_endpoint_auth_method = \"client_secret_post\"\n");
    refused(
        "missing-secret",
        &body,
        &["clients[0] (c)", "needs a client_secret"],
    );
}

#[test]
fn private_key_jwt_clients_need_public_keys_and_no_secret() {
    const KEY: &str = r#"{ kty = "EC", crv = "P-256", x = "nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8", y = "1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c" }"#;
    let client = |fields: &str| {
        format!("{BASE}\n[[clients]]\nclient_id = \"k\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\n{fields}\n")
    };
    refused(
        "pkj-no-keys",
        &client(""),
        &["clients[0] (k)", "needs jwks or jwks_uri"],
    );
    refused(
        "pkj-secret",
        &client(&format!(
            "client_secret = \"s\"\njwks = {{ keys = [{KEY}] }}"
        )),
        &["clients[0] (k)", "not a client_secret"],
    );
    refused(
        "pkj-both",
        &client(&format!(
            "jwks = {{ keys = [{KEY}] }}\njwks_uri = \"https://k.example/jwks\""
        )),
        &["clients[0] (k)", "exclusive"],
    );
    // A private key pasted by mistake: refused, and never stored.
    let private = KEY.replace(" }", r#", d = "secret-part" }"#);
    refused(
        "pkj-private",
        &client(&format!("jwks = {{ keys = [{private}] }}")),
        &["clients[0] (k).jwks", "private or symmetric"],
    );
    refused(
        "pkj-hmac",
        &client(r#"jwks = { keys = [{ kty = "oct", k = "c2VjcmV0" }] }"#),
        &["clients[0] (k).jwks", "no usable public signing key"],
    );
    refused(
        "pkj-http",
        &client("jwks_uri = \"http://k.example/jwks\""),
        &["clients[0] (k).jwks_uri", "not an https URL"],
    );
    refused(
        "jwks-on-basic",
        &format!("{BASE}\n[[clients]]\nclient_id = \"b\"\nclient_secret = \"a-long-enough-secret\"\njwks = {{ keys = [{KEY}] }}\n"),
        &["clients[0] (b)", "for token_endpoint_auth_method = \"private_key_jwt\""],
    );
}

#[test]
fn trusted_issuers_need_public_keys() {
    const KEY: &str = r#"{ kty = "EC", crv = "P-256", x = "nF9mEop7C3OmSZXQkjH1ro8MJdshVv6UEovD_GCy7X8", y = "1Ibfb90TJj03G3LzPLF-E4fiKzdv2xxXlpKWspe33-c" }"#;
    let entry = |fields: &str| {
        format!("{BASE}\n[[trusted_issuers]]\nissuer = \"https://idp.example\"\n{fields}\n")
    };
    refused(
        "issuer-no-keys",
        &entry(""),
        &[
            "trusted_issuers[0] (https://idp.example)",
            "needs jwks or jwks_uri",
        ],
    );
    refused(
        "issuer-private",
        &entry(&format!(
            "jwks = {{ keys = [{}] }}",
            KEY.replace(" }", r#", d = "x" }"#)
        )),
        &[
            "trusted_issuers[0] (https://idp.example).jwks",
            "private or symmetric",
        ],
    );
    refused(
        "issuer-bad-scope",
        &entry(&format!(
            "jwks = {{ keys = [{KEY}] }}\nscope = \"read \\\"all\\\"\""
        )),
        &[
            "trusted_issuers[0] (https://idp.example).scope",
            "RFC 6749 section 3.3",
        ],
    );
    refused(
        "issuer-http",
        &entry("jwks_uri = \"http://idp.example/jwks\""),
        &[
            "trusted_issuers[0] (https://idp.example).jwks_uri",
            "not an https URL",
        ],
    );
    refused(
        "issuer-subjects",
        &entry(&format!(
            "jwks = {{ keys = [{KEY}] }}\nsubjects = \"shared\""
        )),
        &[
            "trusted_issuers[0] (https://idp.example).subjects",
            "'shared'",
        ],
    );
    refused(
        "issuer-self",
        &format!("{BASE}\n[[trusted_issuers]]\nissuer = \"http://127.0.0.1:{{PORT}}\"\njwks = {{ keys = [{KEY}] }}\n"),
        &["trusted_issuers[0]", "this server itself"],
    );
    refused(
        "issuer-twice",
        &format!("{}[[trusted_issuers]]\nissuer = \"https://idp.example\"\njwks = {{ keys = [{KEY}] }}\n", entry(&format!("jwks = {{ keys = [{KEY}] }}"))),
        &["trusted_issuers", "listed twice"],
    );
}

#[test]
fn missing_required_key_is_named() {
    refused(
        "no-issuer",
        "bind = \"127.0.0.1:{PORT}\"\n",
        &["missing field `issuer`"],
    );
    refused(
        "no-bind",
        "issuer = \"http://127.0.0.1:{PORT}\"\n",
        &["missing field `bind`"],
    );
    refused(
        "no-client-id",
        &format!("{BASE}\n[[clients]]\nclient_secret = \"s\"\n"),
        &["missing field `client_id`"],
    );
}

#[test]
fn missing_file_or_broken_toml_is_refused() {
    let dir = common::temp_dir("no-file");
    refused_at(
        &dir,
        &dir.join("absent.toml"),
        &["cannot read config file", "absent.toml"],
    );
    refused("broken-toml", &format!("{BASE}[tokens\n"), &["line 3"]);
}

/// A client_credentials-only client needs neither redirect URIs nor response types.
#[tokio::test]
async fn empty_redirect_uris_and_response_types_are_valid_and_the_server_starts() {
    let dir = common::temp_dir("empty-lists");
    let body = format!(
        "{BASE}\n[[clients]]\nclient_id = \"svc\"\nclient_secret = \"svc-secret\"\nredirect_uris = []\nresponse_types = []\ngrant_types = [\"client_credentials\"]\nscope = \"read\"\n"
    );
    let (config, port) = common::write_config(&dir, &body);
    let server = common::start(&dir, &config, port).await;
    let res = common::http()
        .post(format!("{}/token", server.base))
        .basic_auth("svc", Some("svc-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    // And svc cannot use the authorization endpoint: no redirect URI to send anything to.
    let page = common::Page::read(
        common::http()
            .get(format!(
                "{}/authorize?response_type=code&client_id=svc",
                server.base
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.location().is_none());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_key_in_keys_and_a_bad_rotation_are_named() {
    refused(
        "keys-unknown",
        &format!("{BASE}[keys]\nrotate = true\n"),
        &["unknown field `rotate`", "line 4"],
    );
    refused(
        "keys-alg",
        &format!("{BASE}[keys]\nalgorithms = [\"HS256\"]\n"),
        &["keys.algorithms", "HS256"],
    );
    refused(
        "keys-ahead",
        &format!("{BASE}[keys]\nsigning_period = 100\npublish_ahead = 100\n"),
        &["keys.publish_ahead"],
    );
    refused(
        "keys-cache",
        &format!("{BASE}[keys]\npublish_ahead = 60\n"),
        &["keys.publish_ahead", "3600", "/jwks"],
    );
    refused(
        "keys-retain",
        &format!("{BASE}[tokens]\naccess_token_ttl = 7200\n[keys]\nretain = 3600\n"),
        &["keys.retain", "7200"],
    );
}

#[test]
fn a_key_encryption_key_file_that_is_not_a_key_is_named() {
    let dir = common::temp_dir("kek-garbage");
    std::fs::write(dir.join("authgate.kek"), "not a key").unwrap();
    let (config, _) = common::write_config(&dir, BASE);
    refused_at(
        &dir,
        &config,
        &["encryption_key_file", "authgate.kek", "32-byte"],
    );
}

/// Signing keys sealed under one key encryption key cannot be opened with another: the
/// start fails, saying what to fix, instead of serving without keys.
#[test]
fn signing_keys_sealed_with_another_key_encryption_key_fail_the_start() {
    let dir = common::temp_dir("kek-wrong");
    let (config, port) = common::write_config(&dir, BASE);
    // A first start creates authgate.kek and the keys; it is stopped right after.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut running = common::start(&dir, &config, port).await;
        assert!(common::terminate(&mut running).success());
    });
    std::fs::remove_file(dir.join("authgate.kek")).unwrap();
    let other = dir.join("other.kek");
    std::fs::write(
        &other,
        authgate::jose::KeyEncryptionKey::generate(&authgate::OsRng).to_base64(),
    )
    .unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let body =
        std::fs::read_to_string(&config).unwrap() + "[keys]\nencryption_key_file = \"other.kek\"\n";
    std::fs::write(&config, body).unwrap();
    refused_at(
        &dir,
        &config,
        &["cannot be decrypted", "other.kek", "encryption_key_file"],
    );
}

/// A client of `extra` lines on top of a valid one.
fn client_with(extra: &str) -> String {
    format!(
        "{BASE}\n[[clients]]\nclient_id = \"rp\"\nclient_secret = \"s\"\nredirect_uris = [\"https://a.example/cb\", \"https://b.example/cb\"]\nscope = \"openid\"\n{extra}"
    )
}

#[test]
fn openid_client_keys_are_checked() {
    refused(
        "alg-not-kept",
        &client_with("id_token_signed_response_alg = \"EdDSA\"\n"),
        &[
            "clients[0] (rp).id_token_signed_response_alg",
            "EdDSA",
            "keys.algorithms",
        ],
    );
    refused(
        "subject-type",
        &client_with("subject_type = \"secret\"\n"),
        &["clients[0] (rp).subject_type", "public or pairwise"],
    );
    refused(
        "pairwise-two-hosts",
        &client_with("subject_type = \"pairwise\"\n"),
        &["clients[0] (rp).subject_type", "sector_identifier_uri"],
    );
    refused(
        "logout-uri",
        &client_with("post_logout_redirect_uris = [\"/bye\"]\n"),
        &["post_logout_redirect_uris", "'/bye'"],
    );
    refused(
        "hybrid-without-grant",
        &client_with("response_types = [\"id_token\"]\n"),
        &[
            "response_types",
            "'id_token' needs grant_types to list implicit",
        ],
    );
    refused(
        "max-age-zero",
        &client_with("default_max_age = 0\n"),
        &["default_max_age"],
    );
    refused(
        "unknown-client-key",
        &client_with("frontchannel_logout_uri = \"https://a.example/fc\"\n"),
        &["unknown field `frontchannel_logout_uri`"],
    );
    let public_http = format!(
        "{BASE}\n[[clients]]\nclient_id = \"spa\"\nredirect_uris = [\"https://a.example/cb\"]\ntoken_endpoint_auth_method = \"none\"\nbackchannel_logout_uri = \"http://a.example/bc\"\n"
    );
    refused(
        "public-http-backchannel",
        &public_http,
        &["backchannel_logout_uri", "https"],
    );
    // The consent page's URIs: https, or http on a loopback host only.
    for (key, uri) in [
        ("logo_uri", "http://cdn.example/logo.png"),
        ("client_uri", "javascript:alert(1)"),
        ("policy_uri", "not a url"),
        ("tos_uri", "ftp://a.example/terms"),
    ] {
        refused(
            &format!("display-{key}"),
            &client_with(&format!("{key} = \"{uri}\"\n")),
            &[&format!(".{key}: '{uri}'"), "https"],
        );
    }
}

#[test]
fn users_take_standard_claims_only() {
    let user = |extra: &str| {
        format!("{BASE}\n[[users]]\nusername = \"alice\"\npassword = \"pw\"\n{extra}")
    };
    refused(
        "user-unknown-claim",
        &user("shoe_size = 38\n"),
        &["unknown field `shoe_size`"],
    );
    refused(
        "user-bad-birthdate",
        &user("birthdate = \"May 4th\"\n"),
        &["users[0] (alice).birthdate", "YYYY"],
    );
    refused(
        "user-address-key",
        &user("address = { planet = \"Mars\" }\n"),
        &["unknown field `planet`"],
    );
}

#[test]
fn registration_keys_are_checked() {
    refused(
        "reg-unknown",
        &format!("{BASE}\n[registration]\nenabled = true\nopen = true\n"),
        &["unknown field `open`", "line 6", "initial_access_token"],
    );
    refused(
        "reg-password",
        &format!("{BASE}\n[registration]\nenabled = true\nallowed_grant_types = [\"password\"]\n"),
        &["registration.allowed_grant_types", "password"],
    );
    refused(
        "reg-unknown-grant",
        &format!("{BASE}\n[registration]\nenabled = true\nallowed_grant_types = [\"urn:example:nope\"]\n"),
        &["registration.allowed_grant_types", "urn:example:nope"],
    );
    refused(
        "reg-empty-token",
        &format!("{BASE}\n[registration]\nenabled = true\ninitial_access_token = \"\"\n"),
        &["registration.initial_access_token", "empty"],
    );
}

#[test]
fn an_empty_client_secret_is_refused() {
    refused(
        "empty-secret",
        &format!("{BASE}\n[[clients]]\nclient_id = \"web\"\nclient_secret = \"\"\nredirect_uris = [\"http://127.0.0.1:9/cb\"]\n"),
        &["clients[0] (web).client_secret", "must not be empty"],
    );
}

#[test]
fn a_trusted_proxy_that_is_not_an_address_is_refused() {
    refused(
        "bad-proxy",
        &format!("{BASE}trusted_proxies = [\"10.0.0.0/99\"]\n"),
        &["trusted_proxies", "10.0.0.0/99"],
    );
}

#[test]
fn a_public_client_allowed_to_introspect_is_refused() {
    refused(
        "public-introspect",
        &format!("{BASE}\n[[clients]]\nclient_id = \"spa\"\nredirect_uris = [\"http://127.0.0.1:9/cb\"]\nmay_introspect = true\n"),
        &["clients[0] (spa).may_introspect", "public"],
    );
}

#[test]
fn a_cors_origin_with_a_path_is_refused() {
    refused(
        "bad-cors",
        &format!("{BASE}cors_origins = [\"https://app.example/spa\"]\n"),
        &["cors_origins", "https://app.example/spa"],
    );
}

#[test]
fn a_scope_description_for_no_scope_or_of_several_lines_is_refused() {
    refused(
        "bad-scope-name",
        &format!("{BASE}\n[scope_descriptions]\n\"read write\" = \"Two scopes\"\n"),
        &["scope_descriptions", "'read write' is not a scope name"],
    );
    refused(
        "bad-scope-text",
        &format!("{BASE}\n[scope_descriptions]\nread = \"one\\ntwo\"\n"),
        &["scope_descriptions.read", "one line of 1 to 200 characters"],
    );
    refused(
        "empty-scope-text",
        &format!("{BASE}\n[scope_descriptions]\nread = \" \"\n"),
        &["scope_descriptions.read"],
    );
}
