//! The server's configuration: from flags, `CHASKI_*` environment variables, and a TOML file
//! (`--config chaski.toml`, see [`file`]), in that order of precedence, then the defaults.

pub mod file;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use file::{CredentialSource, Credentials, Direction, RelayConfig};

/// Everything the server needs to start. Tests build it directly; the binary fills it from
/// the command line, the environment and the configuration file (a flag wins over its
/// variable, which wins over the file, which wins over the default).
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// A TOML file holding any of these settings (named like the flags, with `_` for `-`) and
    /// the relays (`[[relay]]`). A flag or an environment variable wins over the file.
    #[arg(long = "config", env = "CHASKI_CONFIG")]
    pub config_file: Option<PathBuf>,

    /// Address and port to listen on. Port 0 picks a free port.
    #[arg(long, env = "CHASKI_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Folder of the sled database (created if missing).
    #[arg(long, env = "CHASKI_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Folder of the built PWA (Trunk's `dist`), served at `/`.
    #[arg(long, env = "CHASKI_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// How many days a device's login token lasts. Long by default: an inspector may work
    /// offline for weeks and must still sync on return; a lost tablet is revoked instead.
    #[arg(long, env = "CHASKI_TOKEN_TTL_DAYS", default_value_t = 30)]
    pub token_ttl_days: u64,

    /// Largest request body on the CouchDB API, in bytes (413 above it).
    #[arg(long, env = "CHASKI_MAX_REQUEST_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_request_bytes: usize,

    /// Largest document, in bytes of JSON without its attachments.
    #[arg(long, env = "CHASKI_MAX_DOCUMENT_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_document_bytes: usize,

    /// Largest attachment (a photo), in bytes.
    #[arg(long, env = "CHASKI_MAX_ATTACHMENT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_attachment_bytes: usize,

    /// Most documents in one `_bulk_docs` or `_bulk_get` (and revisions in one `_revs_diff`).
    #[arg(long, env = "CHASKI_MAX_DOCS_PER_REQUEST", default_value_t = 10_000)]
    pub max_docs_per_request: usize,

    /// Most rows in one `_changes` answer; clients page with `since`.
    #[arg(long, env = "CHASKI_MAX_CHANGES_LIMIT", default_value_t = 10_000)]
    pub max_changes_limit: usize,

    /// Longest wait of `_changes?feed=longpoll`, in seconds.
    #[arg(long, env = "CHASKI_MAX_LONGPOLL_SECS", default_value_t = 60)]
    pub max_longpoll_secs: u64,

    /// Most bytes of request bodies held at once across all requests, counting what parsing
    /// their JSON costs. A request that would go past it waits briefly, then gets 503 with
    /// `Retry-After`; one that could never fit gets 413.
    #[arg(long, env = "CHASKI_BODY_BUDGET_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub body_budget_bytes: usize,

    /// Seconds a client has to send a request's headers (and an idle kept-alive connection
    /// stays open); the connection is closed after it.
    #[arg(long, env = "CHASKI_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a request body may go without sending a byte before it is cut with 408.
    #[arg(long, env = "CHASKI_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// Most open client connections; beyond it a new connection gets 503 and is closed. 0
    /// picks a cap below the process's descriptor limit (that limit less 128, at most 4096).
    #[arg(long, env = "CHASKI_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,

    /// Most password checks (argon2, about 19 MiB each) running at once; a login waits up to
    /// 2 s for a free slot, then gets 503 with `Retry-After`.
    #[arg(long, env = "CHASKI_MAX_PASSWORD_CHECKS", default_value_t = 4)]
    pub max_password_checks: usize,

    /// A web origin (`https://app.example.org`) whose pages may call `/db` and `/api` from the
    /// browser, with credentials. Repeat the flag for several; none by default, since the PWA
    /// is served from the same origin and needs no CORS.
    #[arg(
        long = "cors-origin",
        env = "CHASKI_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub cors_origins: Vec<String>,

    /// The server sits behind a reverse proxy that terminates HTTPS: session cookies get the
    /// `Secure` attribute. Set it in every deployment reached over HTTPS.
    #[arg(long, env = "CHASKI_BEHIND_HTTPS_PROXY")]
    pub behind_https_proxy: bool,

    /// The continuous relays to other servers: only from the configuration file.
    #[arg(skip)]
    pub relays: Vec<RelayConfig>,
}

/// An origin as browsers send it: scheme, host and optional port, nothing after.
pub(crate) fn parse_origin(text: &str) -> Result<String, String> {
    let origin = text.trim();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin:?} must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*']) {
        return Err(format!(
            "{origin:?} must be just a scheme, host and port, like https://app.example.org \
             (no path, no trailing slash, no wildcard)"
        ));
    }
    Ok(origin.to_owned())
}

impl Config {
    /// A configuration for tests and tools: a free port on loopback.
    pub fn ephemeral(data_dir: PathBuf, static_dir: PathBuf) -> Self {
        Self {
            config_file: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            static_dir,
            token_ttl_days: 30,
            max_request_bytes: 64 * 1024 * 1024,
            max_document_bytes: 8 * 1024 * 1024,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_docs_per_request: 10_000,
            max_changes_limit: 10_000,
            max_longpoll_secs: 60,
            body_budget_bytes: 256 * 1024 * 1024,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 0,
            max_password_checks: 4,
            cors_origins: Vec::new(),
            behind_https_proxy: false,
            relays: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{parse_origin, Config};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn cors_origins_come_from_repeated_flags_or_one_comma_separated_variable() {
        let origins = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("chaski").chain(args.iter().copied()))
                .map(|cli| cli.config.cors_origins)
        };
        // The only test that sets this variable, and no other test parses a `Config`.
        std::env::remove_var("CHASKI_CORS_ORIGINS");
        assert_eq!(
            origins(&[]).unwrap(),
            Vec::<String>::new(),
            "off by default"
        );
        assert_eq!(
            origins(&[
                "--cors-origin",
                "https://a.org",
                "--cors-origin",
                "http://b.org:81"
            ])
            .unwrap(),
            ["https://a.org", "http://b.org:81"]
        );
        assert!(origins(&["--cors-origin", "https://a.org/app"]).is_err());
        std::env::set_var("CHASKI_CORS_ORIGINS", "https://a.org,https://c.org");
        let from_env = origins(&[]);
        std::env::remove_var("CHASKI_CORS_ORIGINS");
        assert_eq!(from_env.unwrap(), ["https://a.org", "https://c.org"]);
    }

    #[test]
    fn cors_origins_are_a_scheme_a_host_and_a_port_only() {
        assert_eq!(
            parse_origin("https://app.example.org").as_deref(),
            Ok("https://app.example.org")
        );
        assert!(parse_origin("http://localhost:8081").is_ok());
        for bad in [
            "app.example.org",
            "https://",
            "https://a.org/",
            "https://*.org",
            "*",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
