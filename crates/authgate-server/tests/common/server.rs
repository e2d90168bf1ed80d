//! A server under test with its folder and, on PostgreSQL, its schema; and the macro that
//! runs one flow on both backends.

use std::path::{Path, PathBuf};

/// A running server with its folder (config, SQLite file, log) and, on PostgreSQL, its
/// schema. Its log is printed when the test fails; its folder removed when it passes.
pub struct TestServer {
    pub running: super::Running,
    config: PathBuf,
    port: u16,
    pub log: PathBuf,
    env: &'static [(&'static str, &'static str)],
    _schema: Option<super::PgSchema>,
}

impl TestServer {
    /// On SQLite, with `database_url` absent; `config` is the file's text, `{PORT}` and
    /// `{DATABASE}` (a `database_url` line or nothing) filled in.
    pub async fn sqlite(tag: &str, config: &str) -> Self {
        Self::sqlite_with_env(tag, config, &[]).await
    }

    /// [`Self::sqlite`], the server started with more environment variables.
    pub async fn sqlite_with_env(
        tag: &str,
        config: &str,
        env: &'static [(&'static str, &'static str)],
    ) -> Self {
        let s = Self::start(tag, config, "", None, env).await;
        assert!(
            s.running.dir.join("authgate.db").is_file(),
            "without database_url the database is authgate.db beside the config"
        );
        s
    }

    /// On PostgreSQL, in a fresh schema; `None` when no server answers (outside CI).
    pub async fn postgres(tag: &str, config: &str) -> Option<Self> {
        Self::postgres_with_env(tag, config, &[]).await
    }

    /// [`Self::postgres`], the server started with more environment variables.
    pub async fn postgres_with_env(
        tag: &str,
        config: &str,
        env: &'static [(&'static str, &'static str)],
    ) -> Option<Self> {
        let schema = super::PgSchema::create().await?;
        let line = format!("database_url = \"{}\"", schema.url());
        Some(Self::start(tag, config, &line, Some(schema), env).await)
    }

    /// On the database that the `database_url` line `database` names (nothing: SQLite
    /// beside the config), keeping `schema` (if any) alive as long as the server.
    pub async fn start(
        tag: &str,
        config: &str,
        database: &str,
        schema: Option<super::PgSchema>,
        env: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self::start_with_files(tag, config, database, schema, env, &[]).await
    }

    /// On SQLite, with `files` (name, content) written beside the config first.
    pub async fn sqlite_with_files(
        tag: &str,
        config: &str,
        env: &'static [(&'static str, &'static str)],
        files: &[(&str, &str)],
    ) -> Self {
        Self::start_with_files(tag, config, "", None, env, files).await
    }

    /// [`Self::start`], with `files` (name, content) written beside the config first.
    pub async fn start_with_files(
        tag: &str,
        config: &str,
        database: &str,
        schema: Option<super::PgSchema>,
        env: &'static [(&'static str, &'static str)],
        files: &[(&str, &str)],
    ) -> Self {
        let dir = super::temp_dir(tag);
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let (config, port) = super::write_config(&dir, &config.replace("{DATABASE}", database));
        let log = dir.join("server.log");
        let running = super::start_logging_to_with_env(&dir, &config, port, &log, env).await;
        Self {
            running,
            config,
            port,
            log,
            env,
            _schema: schema,
        }
    }

    pub fn base(&self) -> &str {
        &self.running.base
    }

    pub fn dir(&self) -> &Path {
        &self.running.dir
    }

    /// Stops the server with SIGTERM (it must exit 0: graceful shutdown) and starts it again
    /// on the same config, database and port.
    pub async fn restart(&mut self) {
        let status = super::terminate(&mut self.running);
        assert!(
            status.success(),
            "SIGTERM must shut down cleanly, got {status}"
        );
        self.start_again().await;
    }

    /// Kills the server with SIGKILL — no shutdown of any kind, as a crash or the OOM
    /// killer would — and starts it again on the same config, database and port.
    pub async fn crash_and_restart(&mut self) {
        let _ = self.running.child.kill();
        let _ = self.running.child.wait();
        self.start_again().await;
    }

    async fn start_again(&mut self) {
        let dir = self.dir().to_owned();
        self.running = super::start_logging_to_with_env(
            &dir,
            &self.config,
            self.port,
            &self.log.with_extension("2.log"),
            self.env,
        )
        .await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.running.child.kill();
        let _ = self.running.child.wait();
        if std::thread::panicking() {
            for log in [self.log.clone(), self.log.with_extension("2.log")] {
                if let Ok(text) = std::fs::read_to_string(&log) {
                    eprintln!("----- {} -----\n{text}", log.display());
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.running.dir);
        }
    }
}

/// Makes `sqlite::<flow>` and `postgres::<flow>` tests of each flow (an async fn taking
/// the server's base URL), each against a server of its own on the config `$config`.
#[macro_export]
macro_rules! on_both_backends {
    ($config:expr; $($flow:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $flow() {
                    let server = $crate::common::server::TestServer::sqlite(stringify!($flow), $config).await;
                    super::$flow(server.base()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $flow() {
                    let Some(server) = $crate::common::server::TestServer::postgres(stringify!($flow), $config).await else {
                        return;
                    };
                    super::$flow(server.base()).await;
                }
            )+
        }
    };
}
