//! The configuration file (`--config chaski.toml` or `CHASKI_CONFIG`): every setting the flags
//! hold, plus the relays (`[[relay]]`).
//!
//! # Precedence
//! A flag wins over its environment variable, which wins over the file, which wins over the
//! default. clap says where each value came from ([`clap::parser::ValueSource`]); the file
//! fills only the settings that came from a default.
//!
//! # Errors
//! The file is read once, at start, with `serde(deny_unknown_fields)`: an unknown key, a wrong
//! type or a bad value stops the start with the file, the line and the key named (the `toml`
//! crate keeps each value's position). Credentials are never in the file in clear: a relay
//! names an environment variable or a file that holds `name:password`, and a target URL with
//! `user:password@` in it is refused.
//!
//! An `https://` target is checked against the system's certificate authorities (Debian's
//! `ca-certificates`; a national office's own CA is added there).
//!
//! Relative paths in the file (`data_dir`, `static_dir`, `credentials_file`) are relative to
//! the file's own folder, so a service finds them whatever its working directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::Config;

/// Which way a relay copies documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// This server's databases to the target.
    Push,
    /// The target's databases to this server.
    Pull,
    /// Both (the default): the national office's events come back to the region.
    #[default]
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Push => "push",
            Direction::Pull => "pull",
            Direction::Both => "both",
        }
    }

    /// The one-way legs this direction runs.
    pub fn legs(self) -> &'static [Direction] {
        match self {
            Direction::Push => &[Direction::Push],
            Direction::Pull => &[Direction::Pull],
            Direction::Both => &[Direction::Push, Direction::Pull],
        }
    }
}

/// A relay account's name and password, read from the environment or a file. Its `Debug`
/// never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:***)", self.name)
    }
}

impl Credentials {
    /// `name:password` (one line; surrounding white space and a final newline are ignored).
    fn parse(text: &str, from: &str) -> Result<Self, String> {
        let line = text.trim();
        match line.split_once(':') {
            Some((name, password)) if !name.is_empty() && !password.is_empty() => Ok(Credentials {
                name: name.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(format!(
                "{from} must hold the relay account's `name:password` on one line"
            )),
        }
    }
}

/// One configured relay: these databases, to or from the same-named databases under `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// What the status calls it ("lima").
    pub name: String,
    /// The local databases it relays (each to the same name at the target).
    pub databases: Vec<String>,
    /// The target server's CouchDB root, no trailing slash (`https://lima.example/db`); a
    /// database's URL is `<target>/<db>`.
    pub target: String,
    pub direction: Direction,
    /// Where its account's `name:password` is read from, at start.
    pub credentials_from: CredentialSource,
    /// The account, once read ([`Config::read_relay_credentials`]); `None`: the target needs
    /// none (an open PouchDB server).
    pub credentials: Option<Credentials>,
    /// Where it was set (`chaski.toml line 12`), for start-up errors.
    pub origin: String,
}

/// Where a relay's credentials are kept: read when the server starts, so that the
/// administration commands, which read the same file, never need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    None,
    /// An environment variable's name.
    Env(String),
    /// A file (relative paths already made relative to the configuration file's folder).
    File(PathBuf),
}

impl RelayConfig {
    /// Reads the credentials from where the file says; `env` reads the environment.
    fn read_credentials(
        &self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Credentials>, String> {
        let (at, name) = (&self.origin, &self.name);
        let (text, from) = match &self.credentials_from {
            CredentialSource::None => return Ok(None),
            CredentialSource::Env(var) => (
                env(var).ok_or_else(|| {
                    format!(
                        "{at}: relay {name:?}: credentials_env names {var}, which is not set; \
                         set it to the relay account's `name:password`"
                    )
                })?,
                format!("the variable {var}"),
            ),
            CredentialSource::File(file) => (
                std::fs::read_to_string(file).map_err(|e| {
                    format!(
                        "{at}: relay {name:?}: cannot read credentials_file {}: {e}",
                        file.display()
                    )
                })?,
                format!("the file {}", file.display()),
            ),
        };
        Credentials::parse(&text, &from)
            .map(Some)
            .map_err(|e| format!("{at}: relay {name:?}: {e}"))
    }

    /// The URL of database `db` at the target (a `/` in its name as `%2F`, as CouchDB wants).
    pub fn db_url(&self, db: &str) -> String {
        format!("{}/{}", self.target, db.replace('/', "%2F"))
    }
}

/// The file's shape: every key optional; unknown keys refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    static_dir: Option<PathBuf>,
    token_ttl_days: Option<u64>,
    max_request_bytes: Option<usize>,
    max_document_bytes: Option<usize>,
    max_attachment_bytes: Option<usize>,
    max_docs_per_request: Option<usize>,
    max_changes_limit: Option<usize>,
    max_longpoll_secs: Option<u64>,
    body_budget_bytes: Option<usize>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_password_checks: Option<usize>,
    #[serde(default, deserialize_with = "origins")]
    cors_origins: Option<Vec<String>>,
    behind_https_proxy: Option<bool>,
    #[serde(default)]
    relay: Vec<RelayFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelayFile {
    name: Spanned<String>,
    databases: Vec<Spanned<String>>,
    #[serde(deserialize_with = "target_url")]
    target: String,
    #[serde(default)]
    direction: Direction,
    credentials_env: Option<String>,
    credentials_file: Option<PathBuf>,
}

fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .map(|o| super::parse_origin(o).map_err(serde::de::Error::custom))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A target's URL: http(s), no credentials, no query; the trailing slash dropped.
fn target_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    check_target(&raw).map_err(serde::de::Error::custom)
}

fn check_target(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return Err(format!(
            "{url:?} must start with http:// or https:// (the target server's CouchDB root, \
             like https://chaski.lima.example/db)"
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "the target URL must not carry credentials (user:password@): name them with \
             credentials_env or credentials_file, so the password is never in this file"
                .to_owned(),
        );
    }
    if authority.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!(
            "{url:?} must be a server's CouchDB root with no query, like \
             https://chaski.lima.example/db"
        ));
    }
    Ok(url.to_owned())
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

impl Config {
    /// Fills, from the configuration file named by `--config` or `CHASKI_CONFIG` (if any),
    /// every setting that `matches` took from a default, and reads the relays. `Err` names
    /// the file, the line and the key.
    pub fn apply_file(&mut self, matches: &clap::ArgMatches) -> Result<(), String> {
        let Some(path) = self.config_file.clone() else {
            return Ok(());
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
        let explicit = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        self.apply_text(&path, &text, explicit)
    }

    /// Reads every relay's credentials (from the environment, or a file): when the server
    /// starts, not when the file is read, so that administration commands need none. `Err`
    /// names the file's line, the relay and what is missing.
    pub fn read_relay_credentials(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), String> {
        for relay in &mut self.relays {
            relay.credentials = relay.read_credentials(&env)?;
        }
        Ok(())
    }

    /// [`apply_file`](Self::apply_file) on the file's `text`: `explicit(id)` says a setting
    /// came from a flag or a variable.
    pub fn apply_text(
        &mut self,
        path: &Path,
        text: &str,
        explicit: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let shown = path.display();
        let file: FileConfig = toml::from_str(text)
            .map_err(|e| format!("configuration file {shown}: {}", e.to_string().trim_end()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        let relative = |p: PathBuf| if p.is_relative() { folder.join(p) } else { p };
        macro_rules! fill {
            ($($field:ident),*) => {$(
                if let Some(value) = file.$field {
                    if !explicit(stringify!($field)) {
                        self.$field = value;
                    }
                }
            )*};
        }
        fill!(
            bind,
            token_ttl_days,
            max_request_bytes,
            max_document_bytes,
            max_attachment_bytes,
            max_docs_per_request,
            max_changes_limit,
            max_longpoll_secs,
            body_budget_bytes,
            header_timeout_secs,
            body_timeout_secs,
            max_connections,
            max_password_checks,
            cors_origins,
            behind_https_proxy
        );
        if let Some(dir) = file.data_dir {
            if !explicit("data_dir") {
                self.data_dir = relative(dir);
            }
        }
        if let Some(dir) = file.static_dir {
            if !explicit("static_dir") {
                self.static_dir = relative(dir);
            }
        }

        let mut relays = Vec::with_capacity(file.relay.len());
        for relay in file.relay {
            let line = line_of(text, relay.name.span().start);
            let at = format!("configuration file {shown}, line {line}");
            let name = relay.name.into_inner();
            if name.trim().is_empty() {
                return Err(format!("{at}: relay: name must not be empty"));
            }
            if relays.iter().any(|r: &RelayConfig| r.name == name) {
                return Err(format!(
                    "{at}: relay: two relays are called {name:?}; give each its own name"
                ));
            }
            if relay.databases.is_empty() {
                return Err(format!(
                    "{at}: relay {name:?}: databases must name at least one database"
                ));
            }
            let mut databases = Vec::new();
            for db in relay.databases {
                let db_line = line_of(text, db.span().start);
                let db = db.into_inner();
                if let Err(e) = crate::db::DbName::parse(&db) {
                    return Err(format!(
                        "configuration file {shown}, line {db_line}: relay {name:?}: databases: {e}"
                    ));
                }
                if !databases.contains(&db) {
                    databases.push(db);
                }
            }
            let credentials_from = match (relay.credentials_env, relay.credentials_file) {
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "{at}: relay {name:?}: give credentials_env or credentials_file, not both"
                    ))
                }
                (Some(var), None) => CredentialSource::Env(var),
                (None, Some(file)) => CredentialSource::File(relative(file)),
                (None, None) => CredentialSource::None,
            };
            if let Some((other, db)) = relays.iter().find_map(|r: &RelayConfig| {
                (r.target == relay.target)
                    .then(|| databases.iter().find(|db| r.databases.contains(db)))
                    .flatten()
                    .map(|db| (r.name.clone(), db.clone()))
            }) {
                return Err(format!(
                    "{at}: relay {name:?}: relay {other:?} already relays {db:?} to {}; name \
                     each database once per target",
                    relay.target
                ));
            }
            relays.push(RelayConfig {
                name,
                databases,
                target: relay.target,
                direction: relay.direction,
                credentials_from,
                credentials: None,
                origin: at,
            });
        }
        self.relays = relays;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        Config::ephemeral(PathBuf::from("data"), PathBuf::from("dist"))
    }

    fn apply(text: &str, explicit: &[&str]) -> Result<Config, String> {
        let mut config = base();
        config.apply_text(Path::new("/etc/chaski/chaski.toml"), text, |id| {
            explicit.contains(&id)
        })?;
        config.read_relay_credentials(|var| {
            (var == "CHASKI_RELAY_LIMA").then(|| "relay-lima:una clave larga\n".to_owned())
        })?;
        Ok(config)
    }

    #[test]
    fn the_file_fills_what_no_flag_or_variable_set() {
        let config = apply(
            "bind = \"0.0.0.0:9000\"\nmax_longpoll_secs = 30\ndata_dir = \"data\"\n\
             static_dir = \"/srv/dist\"\ncors_origins = [\"https://a.org\"]\n",
            &["max_longpoll_secs"],
        )
        .unwrap();
        assert_eq!(config.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(config.max_longpoll_secs, 60, "the flag or variable wins");
        assert_eq!(config.data_dir, PathBuf::from("/etc/chaski/data"));
        assert_eq!(config.static_dir, PathBuf::from("/srv/dist"));
        assert_eq!(config.cors_origins, ["https://a.org"]);
    }

    #[test]
    fn a_flag_wins_over_a_variable_which_wins_over_the_file_which_wins_over_the_default() {
        use clap::{CommandFactory, FromArgMatches, Parser};

        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chaski.toml");
        std::fs::write(
            &file,
            "max_longpoll_secs = 30\nmax_changes_limit = 5\nheader_timeout_secs = 3\n\
             data_dir = \"region-data\"\n",
        )
        .unwrap();
        // Only this test reads this variable.
        std::env::set_var("CHASKI_HEADER_TIMEOUT_SECS", "7");
        let matches = Cli::command().get_matches_from([
            "chaski",
            "--config",
            file.to_str().unwrap(),
            "--max-longpoll-secs",
            "9",
        ]);
        std::env::remove_var("CHASKI_HEADER_TIMEOUT_SECS");
        let mut config = Cli::from_arg_matches(&matches).unwrap().config;
        config.apply_file(&matches).unwrap();
        assert_eq!(config.max_longpoll_secs, 9, "the flag");
        assert_eq!(config.header_timeout_secs, 7, "the variable");
        assert_eq!(config.max_changes_limit, 5, "the file");
        assert_eq!(
            config.data_dir,
            dir.path().join("region-data"),
            "beside the file"
        );
        assert_eq!(config.max_password_checks, 4, "the default");
    }

    #[test]
    fn a_credentials_file_is_read_beside_the_configuration_file_when_the_server_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chaski.toml");
        let text = "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\"]\n\
                    target = \"https://lima.example/db\"\ncredentials_file = \"secrets/lima\"\n";
        let mut config = base();
        config.apply_text(&path, text, |_| false).unwrap();
        assert_eq!(
            config.relays[0].credentials_from,
            CredentialSource::File(dir.path().join("secrets/lima"))
        );
        let err = config.read_relay_credentials(|_| None).unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("secrets/lima"),
            "{err}"
        );
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(
            dir.path().join("secrets/lima"),
            "relay-lima:selva verde 2026\n",
        )
        .unwrap();
        config.read_relay_credentials(|_| None).unwrap();
        let credentials = config.relays[0].credentials.clone().unwrap();
        assert_eq!(credentials.name, "relay-lima");
        assert_eq!(credentials.password, "selva verde 2026");
        std::fs::write(dir.path().join("secrets/lima"), "no colon here\n").unwrap();
        let err = config.read_relay_credentials(|_| None).unwrap_err();
        assert!(err.contains("name:password"), "{err}");
    }

    #[test]
    fn an_unknown_key_or_a_wrong_type_names_the_file_the_line_and_the_key() {
        let err = apply("bind = \"127.0.0.1:1\"\nmax_longpol_secs = 5\n", &[]).unwrap_err();
        assert!(err.contains("/etc/chaski/chaski.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("max_longpol_secs"), "{err}");
        let err = apply("\n\ntoken_ttl_days = \"thirty\"\n", &[]).unwrap_err();
        assert!(
            err.contains("line 3") && err.contains("token_ttl_days"),
            "{err}"
        );
        let err = apply(
            "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\"]\ntarget = \"http://x/db\"\n\
             direction = \"sideways\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.contains("line 5") && err.contains("sideways"), "{err}");
        let err = apply(
            "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\"]\ntarget = \"http://x/db\"\n\
             password = \"x\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.contains("line 5") && err.contains("password"), "{err}");
    }

    #[test]
    fn relays_read_their_credentials_from_the_environment_and_never_from_the_url() {
        let config = apply(
            "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\", \"ucayali\"]\n\
             target = \"http://lima.example:8080/db/\"\ncredentials_env = \"CHASKI_RELAY_LIMA\"\n",
            &[],
        )
        .unwrap();
        let relay = &config.relays[0];
        assert_eq!(relay.target, "http://lima.example:8080/db");
        assert_eq!(relay.db_url("loreto"), "http://lima.example:8080/db/loreto");
        assert_eq!(relay.direction, Direction::Both);
        let credentials = relay.credentials.as_ref().unwrap();
        assert_eq!(credentials.name, "relay-lima");
        assert_eq!(credentials.password, "una clave larga");
        assert!(
            !format!("{config:?}").contains("una clave"),
            "Debug hides it"
        );

        let err = apply(
            "[[relay]]\nname = \"a\"\ndatabases = [\"loreto\"]\ntarget = \"http://x/db\"\n\
             [[relay]]\nname = \"b\"\ndatabases = [\"cusco\", \"loreto\"]\n\
             target = \"http://x/db/\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains("line 6") && err.contains("\"loreto\""),
            "{err}"
        );
        let err = apply(
            "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\"]\n\
             target = \"http://relay:secret@lima.example/db\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains("line 4") && err.contains("credentials_env"),
            "{err}"
        );
        let err = apply(
            "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\"]\ntarget = \"http://x/db\"\n\
             credentials_env = \"CHASKI_NOT_SET_ANYWHERE\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.contains("CHASKI_NOT_SET_ANYWHERE"), "{err}");
    }
}
