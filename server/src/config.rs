//! The server's configuration: from flags, or from `CHASKI_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the server needs to start. Tests build it directly; the binary fills it from
/// the command line and the environment (a flag wins over its variable).
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
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
}

impl Config {
    /// A configuration for tests and tools: a free port on loopback.
    pub fn ephemeral(data_dir: PathBuf, static_dir: PathBuf) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            static_dir,
            token_ttl_days: 30,
        }
    }
}
