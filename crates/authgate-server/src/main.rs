//! `authgate`: the reference OAuth 2.0 authorization server and its admin CLI.
//!
//! ```text
//! authgate serve [--config PATH] [--bind ADDR]
//! authgate migrate [--config PATH | --database-url URL]
//! authgate client add|list|show|remove ...
//! authgate user add|remove ...
//! authgate keys list|rotate ...
//! authgate registration token create|list|revoke ...
//! ```
#![forbid(unsafe_code)]

mod admin;
mod answer;
mod app;
mod backchannel;
mod config;
mod documents;
mod keys;
mod logline;
mod logos;
mod logwriter;
mod proxies;
mod request_scope;
mod session;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use authgate::{ClientAuthMethod, ClientRecord, Clock, Scope, SystemClock};
use authgate_sql::{connect, AnyStore, NewUser, StoreOptions};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::{Args, Parser, Subcommand};

use crate::config::{
    ClientConfig, Config, Keys, Registration, ResourceConfig, StandardClaims, Tokens, UserConfig,
};

/// The demo mode's data folder, beside the working directory.
const DEMO_DIR: &str = "authgate-data";

#[derive(Parser)]
#[command(name = "authgate", version, about = "OAuth 2.0 authorization server")]
struct Cli {
    /// How commands print what they list or make: `text` for people, `json` for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// The `--output` formats.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

impl Output {
    /// Prints `json` (one document) with `--output json`, else runs `text`.
    fn print(self, json: &serde_json::Value, text: impl FnOnce()) {
        match self {
            Self::Json => println!("{json}"),
            Self::Text => text(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server. Without --config: a demo on 127.0.0.1:8080 with a demo client and user.
    Serve {
        /// The TOML config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides the address to listen on.
        #[arg(long)]
        bind: Option<String>,
        /// Lets the demo (no --config) listen on an address other machines reach. Its
        /// client secret and user password are public: only for a throw-away try-out.
        #[arg(long)]
        insecure_demo: bool,
    },
    /// Applies the database migrations and exits.
    Migrate(Db),
    /// Manages clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manages users.
    #[command(subcommand)]
    User(Box<UserCommand>),
    /// Manages the signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Revokes issued tokens.
    #[command(subcommand)]
    Token(IssuedTokenCommand),
    /// Manages dynamic client registration.
    #[command(subcommand)]
    Registration(RegistrationCommand),
    /// The config file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum IssuedTokenCommand {
    /// Revokes the live access and refresh tokens of a client (--client), of a user
    /// (--user), or of a client for a user (both). Consents and sessions stay; JWT access
    /// tokens stay usable at resource servers that check them offline until they expire.
    Revoke {
        #[command(flatten)]
        db: Db,
        /// The client identifier.
        #[arg(long, allow_hyphen_values = true, required_unless_present = "user")]
        client: Option<String>,
        /// The username.
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Reads and checks a config file, with the environment's AUTHGATE_ overrides and its
    /// *_file secrets, without starting anything or touching the database.
    Check {
        /// The TOML config file.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum RegistrationCommand {
    /// Initial access tokens (RFC 7591 section 3): once one exists, registering needs one.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Makes an initial access token, printed once (only its hash is kept).
    Create {
        #[command(flatten)]
        db: Db,
        /// What it is for (shown by `list`).
        #[arg(long)]
        label: Option<String>,
    },
    /// Lists the initial access tokens: id, when made, label (never the tokens).
    List(Db),
    /// Revokes an initial access token by its id (registering keeps needing a live token,
    /// even once the last is revoked).
    Revoke {
        #[command(flatten)]
        db: Db,
        /// The id, as `list` shows it (it may begin with `-`: base64url).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// Which database: the config's, an explicit URL, or the demo's.
#[derive(Args, Clone)]
struct Db {
    /// The config file whose database to use.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The database URL (overrides --config).
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Registers a client; a confidential client's generated secret is printed once.
    Add {
        #[command(flatten)]
        db: Db,
        /// The client identifier.
        client_id: String,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
        /// A redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A grant type (repeatable; default authorization_code).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// A response type (repeatable; default code when authorization_code is allowed).
        #[arg(long = "response-type")]
        response_types: Vec<String>,
        /// The allowed scope, space-delimited.
        #[arg(long, default_value = "")]
        scope: String,
        /// A public client (token_endpoint_auth_method none, no secret).
        #[arg(long)]
        public: bool,
        /// client_secret_basic (default) or client_secret_post.
        #[arg(long)]
        auth_method: Option<String>,
    },
    /// Lists clients.
    List(Db),
    /// Changes a client's name, redirect URIs, grant types, response types or scope; a list
    /// given replaces the client's whole list. A client declared in the config file is
    /// changed there instead (the file wins at the next start).
    Update {
        #[command(flatten)]
        db: Db,
        /// The client identifier (a generated one may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// A display name.
        #[arg(long)]
        name: Option<String>,
        /// A redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A grant type (repeatable).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// A response type (repeatable).
        #[arg(long = "response-type")]
        response_types: Vec<String>,
        /// The allowed scope, space-delimited.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Gives a client_secret_basic or client_secret_post client a new generated secret,
    /// printed once; the old one stops working at once (tokens already issued stay: see
    /// `authgate token revoke --client`).
    RotateSecret {
        #[command(flatten)]
        db: Db,
        /// The client identifier (a generated one may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Shows one client.
    Show {
        #[command(flatten)]
        db: Db,
        /// The client identifier (a generated one may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Removes a client.
    Remove {
        #[command(flatten)]
        db: Db,
        /// The client identifier (a generated one may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Creates or updates a user. The password comes from --password-stdin (a line of
    /// standard input: it stays out of the process list), AUTHGATE_PASSWORD or --password.
    Add {
        #[command(flatten)]
        db: Db,
        username: String,
        #[arg(long, env = "AUTHGATE_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Reads the password from the first line of standard input.
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The subject identifier (default: the username).
        #[arg(long)]
        subject: Option<String>,
        /// The user's standard claims (OpenID Connect Core section 5.1).
        #[command(flatten)]
        claims: Box<StandardClaims>,
    },
    /// Removes a user.
    Remove {
        #[command(flatten)]
        db: Db,
        username: String,
    },
    /// Lists users: username and subject.
    List(Db),
    /// Sets a user's password (from --password-stdin, AUTHGATE_PASSWORD or --password) and
    /// ends their sessions.
    SetPassword {
        #[command(flatten)]
        db: Db,
        username: String,
        #[arg(long, env = "AUTHGATE_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Reads the password from the first line of standard input.
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Lists the published signing keys: id, algorithm, generation, state (next, active,
    /// retired), and when each signs from, stops signing and leaves the key set.
    List(Db),
    /// Rotates: the next key (or a new one, published now) signs once keys.publish_ahead
    /// has passed, so relying parties hold it first; the old key stops signing then and
    /// stays published for keys.retain. With --now (a compromised key) the switch is
    /// immediate. Running servers follow within a minute.
    Rotate {
        #[command(flatten)]
        db: Db,
        /// Switch now instead of after keys.publish_ahead.
        #[arg(long)]
        now: bool,
        /// Only this algorithm (RS256, PS256, ES256, ES384, EdDSA).
        #[arg(long)]
        alg: Option<String>,
        /// The key encryption key file (default: the config's keys.encryption_key_file,
        /// or the demo's).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // AUTHGATE_LOG: error, warn, info (default) or debug.
    let level = std::env::var("AUTHGATE_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    // Lines go to stderr from a writer thread of their own, in batches (logwriter.rs): a
    // request copies its line into a buffer and goes on. Not lossy: when the writer falls
    // behind, requests wait rather than lines being dropped. `_flush` writes what is left
    // when main returns.
    let (writer, _flush) = match logwriter::start(std::io::stderr()) {
        Ok(w) => w,
        Err(e) => return fail(&format!("cannot start the log writer: {e}")),
    };
    // The lines' own format (logline.rs): the same text as tracing-subscriber's default,
    // made at a fraction of its cost.
    tracing_subscriber::fmt()
        .with_max_level(level)
        .event_format(logline::LineFormat {
            ansi: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        })
        .fmt_fields(logline::LineFields)
        .with_writer(writer)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("authgate: error: {message}");
    ExitCode::from(2)
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            config,
            bind,
            insecure_demo,
        } => serve(config.as_deref(), bind, insecure_demo).await,
        Command::Migrate(db) => {
            open(&db).await?;
            cli.output
                .print(&serde_json::json!({ "migrated": true }), || {
                    println!("migrations applied");
                });
            Ok(())
        }
        Command::Client(c) => client_command(c, cli.output).await,
        Command::User(u) => user_command(*u, cli.output).await,
        Command::Keys(k) => keys_command(k, cli.output).await,
        Command::Token(IssuedTokenCommand::Revoke { db, client, user }) => {
            revoke_tokens(&db, client.as_deref(), user.as_deref(), cli.output).await
        }
        Command::Registration(RegistrationCommand::Token(t)) => token_command(t, cli.output).await,
        Command::Config(ConfigCommand::Check { config }) => {
            // What a start would read before it touches the database: the file with the
            // environment, the keys the environment gives, and the page templates.
            let loaded = Config::load(&config)?;
            keys::check_env()?;
            app::check_pages(loaded.templates_dir.as_deref())?;
            let json = serde_json::json!({ "config": config.display().to_string(), "ok": true });
            cli.output
                .print(&json, || println!("config {}: ok", config.display()));
            Ok(())
        }
    }
}

async fn serve(
    config_path: Option<&Path>,
    bind: Option<String>,
    insecure_demo: bool,
) -> Result<(), String> {
    let mut config = match config_path {
        Some(p) => Config::load(p)?,
        None => demo_config(bind.as_deref().unwrap_or("127.0.0.1:8080"))?,
    };
    if let Some(b) = bind {
        b.parse::<std::net::SocketAddr>()
            .map_err(|_| format!("--bind: '{b}' is not an address like 127.0.0.1:8080"))?;
        config.bind = b;
    }
    // The demo's credentials are printed and public: on an address others reach it would
    // be an open door, so it takes an explicit flag.
    let loopback = config
        .bind
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if config_path.is_none() && !loopback && !insecure_demo {
        return Err(format!(
            "demo mode listens on loopback addresses only (its client secret and user password are public): use --config for {}, or add --insecure-demo if you mean it",
            config.bind
        ));
    }
    // The port first: a server that cannot listen should touch nothing else.
    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .map_err(|e| format!("bind: cannot listen on {}: {e}", config.bind))?;
    // The admin listener too, when configured. Its pages have no authentication: an
    // address only monitoring reaches.
    let admin = match &config.admin {
        Some(a) => Some({
            if a.bind
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|addr| !addr.ip().is_loopback())
            {
                tracing::warn!(bind = %a.bind, "admin listener on a non-loopback address: /metrics and the probes have no authentication; keep it where only monitoring reaches");
            }
            (
                tokio::net::TcpListener::bind(&a.bind)
                    .await
                    .map_err(|e| format!("admin.bind: cannot listen on {}: {e}", a.bind))?,
                admin::install()?,
            )
        }),
        None => None,
    };
    let url = config.database_url.clone().unwrap_or_default();
    let mut store = connect(&url, &StoreOptions::default())
        .await
        .map_err(|e| format!("database_url '{}': {e}", redact(&url)))?;
    if admin.is_some() {
        // Store latency and errors are recorded only where metrics are.
        store = store.observed(std::sync::Arc::new(admin::StoreMetrics));
    }
    // The token cache, over the observer so that store metrics count real database
    // calls. `memory:` needs none (it is a map already).
    if config.tokens.cache_size > 0 && !url.starts_with("memory:") {
        store = store.cached(&authgate_sql::TokenCacheOptions {
            capacity: config.tokens.cache_size,
            ..authgate_sql::TokenCacheOptions::default()
        });
    }
    let (router, server) = app::build(&config, store.clone()).await?;
    if let Some((listener, metrics)) = admin {
        let router = admin::router(admin::AdminState {
            metrics,
            store,
            server,
        });
        tracing::info!(bind = %config.admin.as_ref().map(|a| a.bind.as_str()).unwrap_or_default(), "admin listening: /metrics, /healthz, /readyz");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "admin listener failed");
            }
        });
    }
    if config_path.is_none() {
        print_demo(&config);
        if !loopback {
            tracing::warn!(bind = %config.bind, "demo mode on a non-loopback address: its client secret and user password are public; use --config for anything but a local try-out");
        }
    }
    tracing::info!(issuer = %config.issuer, bind = %config.bind, database = %redact(&url), "authgate listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server failed: {e}"))?;
    tracing::info!("authgate stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing open requests");
}

/// A database URL without its password — in the authority or as a `password=` query
/// parameter (libpq style) — for logs and errors.
fn redact(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let has_query_password = u
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"));
    if has_query_password {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

const DEMO_CLIENT: &str = "demo-client";
const DEMO_SECRET: &str = "demo-secret";
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo-password";
const DEMO_API: &str = "https://api.example.com/";

fn demo_config(bind: &str) -> Result<Config, String> {
    bind.parse::<std::net::SocketAddr>()
        .map_err(|_| format!("--bind: '{bind}' is not an address like 127.0.0.1:8080"))?;
    std::fs::create_dir_all(DEMO_DIR).map_err(|e| format!("cannot create {DEMO_DIR}: {e}"))?;
    let issuer = format!("http://{bind}");
    Ok(Config {
        issuer: issuer.clone(),
        bind: bind.to_owned(),
        database_url: Some(format!("sqlite://{DEMO_DIR}/authgate.db")),
        database_url_file: None,
        templates_dir: None,
        trusted_proxies: Vec::new(),
        cors_origins: Vec::new(),
        // An API of the demo's (RFC 8707) whose tokens are JWTs (RFC 9068), so both can be
        // tried with curl.
        trusted_issuers: Vec::new(),
        admin: None,
        scope_descriptions: std::collections::BTreeMap::new(),
        resources: vec![ResourceConfig {
            identifier: DEMO_API.into(),
            scope: Some("profile".into()),
            access_token_format: "jwt".into(),
            access_token_ttl: None,
        }],
        tokens: Tokens {
            refresh_tokens: true,
            ..Tokens::default()
        },
        keys: Keys {
            encryption_key_file: Some(std::path::PathBuf::from(format!("{DEMO_DIR}/authgate.kek"))),
            session_key_file: Some(std::path::PathBuf::from(format!(
                "{DEMO_DIR}/authgate.session-key"
            ))),
            ..Keys::default()
        },
        clients: vec![ClientConfig {
            client_id: DEMO_CLIENT.into(),
            client_secret: Some(DEMO_SECRET.into()),
            client_name: Some("Demo Client".into()),
            redirect_uris: vec![format!("{issuer}/demo/callback")],
            grant_types: vec![
                "authorization_code".into(),
                "refresh_token".into(),
                "client_credentials".into(),
                authgate::DEVICE_CODE_GRANT_TYPE.into(),
            ],
            response_types: vec!["code".into()],
            scope: "openid profile email".into(),
            token_endpoint_auth_method: Some("client_secret_basic".into()),
            ..ClientConfig::default()
        }],
        // Open registration on a loopback demo, so that registration can be tried; never
        // on an address others can reach.
        registration: Registration {
            enabled: bind
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback()),
            ..Registration::default()
        },
        users: vec![UserConfig {
            username: DEMO_USER.into(),
            password: DEMO_PASSWORD.into(),
            subject: Some("demo-user".into()),
            claims: StandardClaims {
                email: Some("demo@example.com".into()),
                email_verified: Some(true),
                name: Some("Demo User".into()),
                ..StandardClaims::default()
            },
        }],
    })
}

fn print_demo(config: &Config) {
    println!("authgate demo on {} (data in ./{DEMO_DIR})", config.issuer);
    println!(
        "  client: {DEMO_CLIENT} / {DEMO_SECRET}  (redirect URI {}/demo/callback)",
        config.issuer
    );
    println!("  user:   {DEMO_USER} / {DEMO_PASSWORD}");
    println!("  try:    curl -s -u {DEMO_CLIENT}:{DEMO_SECRET} -d grant_type=client_credentials -d scope=profile {}/token", config.issuer);
}

/// Opens (and migrates) the database named by the flags.
async fn open(db: &Db) -> Result<AnyStore, String> {
    let url = match (&db.database_url, &db.config) {
        (Some(u), _) => u.clone(),
        (None, Some(p)) => Config::load(p)?.database_url.unwrap_or_default(),
        (None, None) => format!("sqlite://{DEMO_DIR}/authgate.db"),
    };
    connect(&url, &StoreOptions::default())
        .await
        .map_err(|e| format!("database_url '{}': {e}", redact(&url)))
}

async fn token_command(t: TokenCommand, out: Output) -> Result<(), String> {
    match t {
        TokenCommand::Create { db, label } => {
            let store = open(&db).await?;
            let token = authgate::token::generate_client_secret(&authgate::OsRng);
            let id = URL_SAFE_NO_PAD.encode(authgate::rng::random_bytes::<6>(&authgate::OsRng));
            let created_at = SystemClock.now();
            store
                .add_initial_access_token(
                    &authgate_sql::InitialAccessToken {
                        id: id.clone(),
                        label,
                        created_at,
                        revoked: false,
                    },
                    &authgate::token::SecretHash::of(token.as_bytes()),
                )
                .await
                .map_err(|e| e.to_string())?;
            let json = serde_json::json!({ "id": id, "token": token });
            out.print(&json, || {
                println!("initial access token {id} (shown once; registering now needs a token):");
                println!("{token}");
            });
            Ok(())
        }
        TokenCommand::List(db) => {
            let store = open(&db).await?;
            let all = store
                .list_initial_access_tokens()
                .await
                .map_err(|e| e.to_string())?;
            let json = serde_json::Value::from(
                all.iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id,
                            "created_at": utc(t.created_at),
                            "label": t.label,
                            "revoked": t.revoked,
                        })
                    })
                    .collect::<Vec<_>>(),
            );
            out.print(&json, || {
                if all.is_empty() {
                    println!("no initial access tokens");
                }
                for t in &all {
                    println!(
                        "{}  created {}  {}{}",
                        t.id,
                        t.created_at,
                        t.label.as_deref().unwrap_or("-"),
                        if t.revoked { "  (revoked)" } else { "" }
                    );
                }
            });
            Ok(())
        }
        TokenCommand::Revoke { db, id } => {
            let store = open(&db).await?;
            if store
                .revoke_initial_access_token(&id)
                .await
                .map_err(|e| e.to_string())?
            {
                let json = serde_json::json!({ "revoked": id });
                out.print(&json, || println!("revoked initial access token {id}"));
                Ok(())
            } else {
                Err(format!("no initial access token '{id}'"))
            }
        }
    }
}

/// A client as `show` and `list --output json` print it (never a secret nor its hash).
fn client_json(c: &ClientRecord) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.client_id,
        "client_name": c.client_name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "response_types": c.response_types,
        "scope": c.scope.to_string(),
        "token_endpoint_auth_method": c.auth_method.as_str(),
    })
}

/// Redirect URIs a client may register, as dynamic registration checks them (RFC 7591
/// §2, RFC 9700 §2.1): absolute, no fragment nor credentials; https, http on a loopback
/// host, or (public clients) a private-use scheme.
fn check_redirect_uris(uris: &[String], public: bool) -> Result<(), String> {
    for uri in uris {
        authgate::redirect_uri::check_redirect_uri(uri, public).map_err(|e| {
            format!(
                "--redirect-uri: {}",
                e.error_description()
                    .unwrap_or("not a redirect URI a client may register")
            )
        })?;
    }
    Ok(())
}

/// A `--scope` value: space-delimited scope tokens (RFC 6749 §3.3).
fn check_scope(scope: &str) -> Result<(), String> {
    Scope::parse(scope)
        .map(|_| ())
        .map_err(|_| format!("--scope: '{scope}' holds a character RFC 6749 section 3.3 forbids"))
}

/// A client by id, with a clear error when there is none.
async fn find_client(store: &AnyStore, client_id: &str) -> Result<ClientRecord, String> {
    store
        .list_clients()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.client_id == client_id)
        .ok_or_else(|| format!("no client '{client_id}'"))
}

/// Refuses to change a client a config file declares (the server marks those it saves):
/// the file would undo the change at the next start.
fn not_from_config(c: &ClientRecord) -> Result<(), String> {
    if c.metadata.get(app::FROM_CONFIG).is_some_and(|v| v == true) {
        return Err(format!(
            "client '{}' is declared in a config file: change it there (the file is applied at every start)",
            c.client_id
        ));
    }
    Ok(())
}

async fn client_command(c: ClientCommand, out: Output) -> Result<(), String> {
    match c {
        ClientCommand::Add {
            db,
            client_id,
            name,
            redirect_uris,
            grant_types,
            response_types,
            scope,
            public,
            auth_method,
        } => {
            let store = open(&db).await?;
            check_redirect_uris(&redirect_uris, public)?;
            check_scope(&scope)?;
            let grant_types = if grant_types.is_empty() {
                vec!["authorization_code".to_owned()]
            } else {
                grant_types
            };
            let response_types = if response_types.is_empty()
                && grant_types.iter().any(|g| g == "authorization_code")
            {
                vec!["code".to_owned()]
            } else {
                response_types
            };
            let (mut record, secret) = if public {
                (ClientRecord::public(client_id.clone()), None)
            } else {
                let secret = authgate::token::generate_client_secret(&authgate::OsRng);
                let method = match auth_method.as_deref() {
                    None | Some("client_secret_basic") => ClientAuthMethod::ClientSecretBasic,
                    Some("client_secret_post") => ClientAuthMethod::ClientSecretPost,
                    Some(m @ ("client_secret_jwt" | "private_key_jwt")) => {
                        return Err(format!(
                            "--auth-method: declare {m} clients in the config file's [[clients]] (their secret is sealed with the server's key encryption key, or their keys listed)"
                        ))
                    }
                    Some(other) => {
                        return Err(format!(
                        "--auth-method: '{other}' is not client_secret_basic or client_secret_post"
                    ))
                    }
                };
                (
                    ClientRecord::confidential(client_id.clone(), &secret).auth_method(method),
                    Some(secret),
                )
            };
            record = record
                .redirect_uris(redirect_uris)
                .grant_types(grant_types)
                .response_types(response_types)
                .scope(&scope);
            record.client_name = name;
            store
                .upsert_client(&record)
                .await
                .map_err(|e| e.to_string())?;
            let json = serde_json::json!({ "client_id": client_id, "client_secret": secret });
            out.print(&json, || {
                println!("client_id: {client_id}");
                match &secret {
                    Some(s) => {
                        println!("client_secret: {s}\n(shown once: only its hash is stored)");
                    }
                    None => println!("public client: no secret"),
                }
            });
            Ok(())
        }
        ClientCommand::List(db) => {
            let store = open(&db).await?;
            let clients = store.list_clients().await.map_err(|e| e.to_string())?;
            let json = serde_json::Value::from(clients.iter().map(client_json).collect::<Vec<_>>());
            out.print(&json, || {
                for c in &clients {
                    println!(
                        "{}\t{}\t{}",
                        c.client_id,
                        c.auth_method,
                        c.grant_types.join(",")
                    );
                }
            });
            Ok(())
        }
        ClientCommand::Show { db, client_id } => {
            let store = open(&db).await?;
            let json = client_json(&find_client(&store, &client_id).await?);
            out.print(&json, || {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                );
            });
            Ok(())
        }
        ClientCommand::Update {
            db,
            client_id,
            name,
            redirect_uris,
            grant_types,
            response_types,
            scope,
        } => {
            if let Some(s) = &scope {
                check_scope(s)?;
            }
            let store = open(&db).await?;
            let mut c = find_client(&store, &client_id).await?;
            not_from_config(&c)?;
            check_redirect_uris(&redirect_uris, c.auth_method == ClientAuthMethod::None)?;
            if let Some(n) = name {
                c.client_name = Some(n);
            }
            if !redirect_uris.is_empty() {
                c.redirect_uris = redirect_uris;
            }
            if !grant_types.is_empty() {
                c.grant_types = grant_types;
            }
            if !response_types.is_empty() {
                c.response_types = response_types;
            } else if c.response_types.is_empty()
                && c.grant_types.iter().any(|g| g == "authorization_code")
            {
                // As `add` does: the code flow needs the `code` response type.
                c.response_types = vec!["code".to_owned()];
            }
            if let Some(s) = scope {
                c = c.scope(&s);
            }
            store.upsert_client(&c).await.map_err(|e| e.to_string())?;
            let json = client_json(&c);
            out.print(&json, || println!("updated client {client_id}"));
            Ok(())
        }
        ClientCommand::RotateSecret { db, client_id } => {
            let store = open(&db).await?;
            let mut c = find_client(&store, &client_id).await?;
            not_from_config(&c)?;
            if !matches!(
                c.auth_method,
                ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
            ) {
                return Err(format!(
                    "client '{client_id}' authenticates with {}: only client_secret_basic and client_secret_post clients have a secret to rotate here",
                    c.auth_method.as_str()
                ));
            }
            let secret = authgate::token::generate_client_secret(&authgate::OsRng);
            c.secret_hash = Some(authgate::token::SecretHash::of(secret.as_bytes()));
            c.chosen_secret_hash = None;
            store.upsert_client(&c).await.map_err(|e| e.to_string())?;
            let json = serde_json::json!({ "client_id": client_id, "client_secret": secret });
            out.print(&json, || {
                println!("client_id: {client_id}");
                println!("client_secret: {secret}\n(shown once: only its hash is stored; the old secret no longer works)");
            });
            Ok(())
        }
        ClientCommand::Remove { db, client_id } => {
            let store = open(&db).await?;
            if store
                .remove_client(&client_id)
                .await
                .map_err(|e| e.to_string())?
            {
                let json = serde_json::json!({ "removed": client_id });
                out.print(&json, || println!("removed client {client_id}"));
                Ok(())
            } else {
                Err(format!("no client '{client_id}'"))
            }
        }
    }
}

/// The password a user command was given: a line of standard input, AUTHGATE_PASSWORD or
/// --password; never empty.
fn read_password(password: Option<String>, from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("--password-stdin: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        password.ok_or("a password is needed: --password-stdin, AUTHGATE_PASSWORD or --password")?
    };
    if password.is_empty() {
        return Err("--password: must not be empty".into());
    }
    Ok(password)
}

/// Refuses to set the password of a user the config file declares (`[[users]]`: the file's
/// password returns at every start); with `--database-url` alone the file is unknown, and
/// a warning says so.
fn user_not_from_config(db: &Db, username: &str) -> Result<(), String> {
    match (&db.config, &db.database_url) {
        (Some(path), None) => {
            if Config::load(path)?
                .users
                .iter()
                .any(|u| u.username == username)
            {
                return Err(format!(
                    "user '{username}' is declared in {}: change the password there (the file is applied at every start)",
                    path.display()
                ));
            }
        }
        _ => eprintln!(
            "authgate: note: if '{username}' is declared in a config file's [[users]], that file's password returns at the server's next start"
        ),
    }
    Ok(())
}

/// `authgate token revoke`: the live tokens of a client, of a user, or of both at once.
async fn revoke_tokens(
    db: &Db,
    client: Option<&str>,
    user: Option<&str>,
    out: Output,
) -> Result<(), String> {
    let store = open(db).await?;
    let subject = match user {
        Some(name) => Some(
            store
                .find_user(name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user '{name}'"))?
                .subject,
        ),
        None => None,
    };
    if let Some(id) = client {
        // A client ID metadata document's client (an https client id) is never stored.
        if !id.starts_with("https://") {
            find_client(&store, id).await?;
        }
    }
    let revoked = store
        .revoke_tokens(client, subject.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let json = serde_json::json!({ "client": client, "user": user, "revoked": revoked });
    out.print(&json, || {
        let whose = match (client, user) {
            (Some(c), Some(u)) => format!("client {c} held for user {u}"),
            (Some(c), None) => format!("client {c}"),
            (None, Some(u)) => format!("user {u}"),
            (None, None) => String::new(),
        };
        let noun = if revoked == 1 { "token" } else { "tokens" };
        println!("revoked {revoked} {noun} of {whose}");
    });
    Ok(())
}

async fn user_command(u: UserCommand, out: Output) -> Result<(), String> {
    match u {
        UserCommand::List(db) => {
            let store = open(&db).await?;
            let users = store.list_users().await.map_err(|e| e.to_string())?;
            let json = serde_json::Value::from(
                users
                    .iter()
                    .map(|u| serde_json::json!({ "username": u.username, "subject": u.subject }))
                    .collect::<Vec<_>>(),
            );
            out.print(&json, || {
                for u in &users {
                    println!("{}\t{}", u.username, u.subject);
                }
            });
            Ok(())
        }
        UserCommand::SetPassword {
            db,
            username,
            password,
            password_stdin,
        } => {
            let password = read_password(password, password_stdin)?;
            user_not_from_config(&db, &username)?;
            let store = open(&db).await?;
            let user = store
                .find_user(&username)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user '{username}'"))?;
            store
                .upsert_user(&NewUser {
                    subject: user.subject.clone(),
                    username: username.clone(),
                    password,
                    claims: user.claims,
                })
                .await
                .map_err(|e| e.to_string())?;
            // A new password ends the user's sessions at once.
            end_user_sessions(&db, &store, &username, &user.subject).await?;
            let json = serde_json::json!({ "username": username, "password_set": true });
            out.print(&json, || println!("set the password of {username}"));
            Ok(())
        }
        UserCommand::Add {
            db,
            username,
            password,
            password_stdin,
            subject,
            claims,
        } => {
            let password = read_password(password, password_stdin)?;
            user_not_from_config(&db, &username)?;
            claims
                .check()
                .map_err(|e| format!("--{}", e.replacen('_', "-", 1)))?;
            let store = open(&db).await?;
            let before = store
                .find_user(&username)
                .await
                .map_err(|e| e.to_string())?;
            store
                .upsert_user(&NewUser {
                    subject: subject.unwrap_or_else(|| username.clone()),
                    username: username.clone(),
                    password,
                    claims: claims.to_json(),
                })
                .await
                .map_err(|e| e.to_string())?;
            let json = serde_json::json!({ "username": username, "saved": true });
            out.print(&json, || println!("saved user {username}"));
            // A new password (or subject) ends the user's sessions at once.
            if let Some(old) = before {
                end_user_sessions(&db, &store, &username, &old.subject).await?;
            }
            Ok(())
        }
        UserCommand::Remove { db, username } => {
            let store = open(&db).await?;
            if let Some(user) = store
                .find_user(&username)
                .await
                .map_err(|e| e.to_string())?
            {
                end_user_sessions(&db, &store, &username, &user.subject).await?;
            }
            if store
                .remove_user(&username)
                .await
                .map_err(|e| e.to_string())?
            {
                let json = serde_json::json!({ "removed": username });
                out.print(&json, || println!("removed user {username}"));
                Ok(())
            } else {
                Err(format!("no user '{username}'"))
            }
        }
    }
}

/// Ends a user's sessions and tells their clients by back-channel logout, as the server
/// would: signed with the servers' keys (the config's key encryption key), delivered
/// before the command returns. Without a config (`--database-url` alone) there is no key to
/// sign with: the sessions end, and the command says that nobody was told.
async fn end_user_sessions(
    db: &Db,
    store: &AnyStore,
    username: &str,
    subject: &str,
) -> Result<(), String> {
    let config = match (&db.config, &db.database_url) {
        (Some(p), _) => Some(Config::load(p)?),
        (None, None) => Some(demo_config("127.0.0.1:8080")?),
        (None, Some(_)) => None,
    };
    let server = match config {
        Some(c) => signing_server(&c, store).await,
        None => Err("without --config there is no key to sign logout tokens with".into()),
    };
    let server = match server {
        Ok(s) => s,
        Err(why) => {
            let ended = store
                .end_sessions_of(subject)
                .await
                .map_err(|e| e.to_string())?;
            if !ended.is_empty() {
                eprintln!(
                    "ended {} session(s) of {username}; no back-channel logout was sent ({why})",
                    ended.len()
                );
            }
            return Ok(());
        }
    };
    let ended = server
        .end_sessions_of(subject)
        .await
        .map_err(|e| e.to_string())?;
    if ended.is_empty() {
        return Ok(());
    }
    let notices: Vec<_> = ended.iter().flat_map(|e| e.backchannel.clone()).collect();
    for (client_id, e) in ended.iter().flat_map(|e| e.failed.iter()) {
        eprintln!("authgate: warning: no back-channel logout for client {client_id}: {e}");
    }
    let told = crate::backchannel::Backchannel::new()?
        .deliver_and_wait(notices)
        .await;
    eprintln!(
        "ended {} session(s) of {username}; back-channel logout delivered to {told} client(s)",
        ended.len()
    );
    Ok(())
}

/// An engine over the configured keys, enough to sign logout tokens.
async fn signing_server(
    config: &Config,
    store: &AnyStore,
) -> Result<authgate::AuthorizationServer, String> {
    let kek_path = config
        .keys
        .encryption_key_file
        .clone()
        .unwrap_or_else(|| PathBuf::from("authgate.kek"));
    let kek = crate::keys::load_existing(&kek_path)?;
    let pairwise = store
        .shared_secret("pairwise-subject")
        .await
        .map_err(|e| e.to_string())?;
    let mut server = authgate::AuthorizationServer::new(
        store.stores(),
        authgate::ServerConfig::new(&config.issuer),
    )
    .with_signing_keys(kek, config.keys.policy());
    server
        .enable_openid(authgate::oidc::OpenIdProvider::new(NoClaims).pairwise_secret(pairwise))
        .map_err(|e| e.to_string())?;
    Ok(server)
}

/// Logout tokens need no user claims.
struct NoClaims;

#[authgate::async_trait]
impl authgate::oidc::ClaimsSource for NoClaims {
    async fn claims(
        &self,
        _: &str,
        _: &[&str],
    ) -> Result<serde_json::Map<String, serde_json::Value>, authgate::StorageError> {
        Ok(serde_json::Map::new())
    }
}

async fn keys_command(k: KeysCommand, out: Output) -> Result<(), String> {
    use authgate::jose::{summarize, Algorithm, KeySet, KeyState};
    use authgate::{Clock, SystemClock};
    match k {
        KeysCommand::List(db) => {
            let store = open(&db).await?;
            let records = store.signing_keys().await.map_err(|e| e.to_string())?;
            let keys = summarize(records, SystemClock.now());
            let json = serde_json::Value::from(
                keys.iter()
                    .map(|key| {
                        serde_json::json!({
                            "kid": key.kid,
                            "alg": key.alg.to_string(),
                            "generation": key.generation,
                            "state": key.state.as_str(),
                            "signs_from": utc(key.not_before),
                            "signs_until": utc(key.not_after),
                            "published_until": utc(key.expires_at),
                        })
                    })
                    .collect::<Vec<_>>(),
            );
            out.print(&json, || {
                println!("kid\talg\tgeneration\tstate\tsigns_from\tsigns_until\tpublished_until");
                for key in &keys {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        key.kid,
                        key.alg,
                        key.generation,
                        key.state.as_str(),
                        utc(key.not_before),
                        utc(key.not_after),
                        utc(key.expires_at)
                    );
                }
            });
            Ok(())
        }
        KeysCommand::Rotate {
            db,
            now,
            alg,
            key_file,
        } => {
            let alg = match alg.as_deref() {
                None => None,
                Some(a) => Some(Algorithm::parse(a).ok_or_else(|| {
                    format!("--alg: '{a}' is not one of RS256, PS256, ES256, ES384, EdDSA")
                })?),
            };
            let keys = match &db.config {
                Some(p) => Config::load(p)?.keys,
                None => demo_config("127.0.0.1:8080")?.keys,
            };
            let kek_path = key_file
                .or_else(|| keys.encryption_key_file.clone())
                .unwrap_or_else(|| PathBuf::from("authgate.kek"));
            // The CLI never creates a key encryption key: a new one could not open the keys
            // the servers made, and keys it sealed could not be opened by them.
            let kek = crate::keys::load_existing(&kek_path)?;
            let store = open(&db).await?;
            let set = KeySet::new(store.backend(), kek, keys.policy());
            set.rotate(alg, now).await.map_err(|e| match e {
                authgate::jose::JoseError::Undecryptable { kid } => format!(
                    "signing key {kid} cannot be decrypted with {}: use the key encryption key file the servers use (--key-file)",
                    kek_path.display()
                ),
                other => other.to_string(),
            })?;
            // The successors: the keys whose signing starts now or after publish_ahead.
            let at = SystemClock.now() - 1;
            let next: Vec<_> = set
                .summary()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|key| key.state != KeyState::Retired && key.not_before >= at)
                .collect();
            let json = serde_json::Value::from(
                next.iter()
                    .map(|key| {
                        serde_json::json!({ "kid": key.kid, "alg": key.alg.to_string(), "signs_from": utc(key.not_before) })
                    })
                    .collect::<Vec<_>>(),
            );
            out.print(&json, || {
                for key in &next {
                    println!("{} {} signs from {}", key.alg, key.kid, utc(key.not_before));
                }
            });
            Ok(())
        }
    }
}

/// Seconds since the epoch as an RFC 3339 UTC time.
fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_passwords_in_the_authority_and_the_query() {
        assert_eq!(
            super::redact("postgres://u:hunter2@db/authgate"),
            "postgres://u:***@db/authgate"
        );
        let r = super::redact("postgres://db/authgate?user=u&password=hunter2&sslmode=require");
        assert!(!r.contains("hunter2"), "{r}");
        assert!(
            r.contains("sslmode=require") && r.contains("password=***"),
            "{r}"
        );
        assert_eq!(
            super::redact("sqlite://authgate.db"),
            "sqlite://authgate.db"
        );
    }

    #[test]
    fn utc_formats_epoch_seconds() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
