//! Building and running the server: [`Application::build`] then
//! [`Application::run_until_stopped`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::auth::Accounts;
use crate::config::Config;
use crate::connections::{self, ConnectionLimits};
use crate::db::Databases;
use crate::routes;
use crate::storage::Storage;

/// Why the server could not start, in words an administrator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the data store in {dir}: {source} (is another chaski using it?)")]
    Store { dir: String, source: sled::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// A relay of the configuration file that cannot run (a database it names is missing, or
    /// its credentials cannot be read).
    #[error("{0}")]
    Relay(String),
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub storage: Storage,
    /// The CouchDB databases served under `/db`.
    pub databases: Databases,
    /// The CouchDB API's size and count limits.
    pub limits: routes::couch::Limits,
    pub assets: Arc<routes::assets::Assets>,
    /// Users, device tokens and the failed-login limit.
    pub accounts: Accounts,
    /// Requests reach us through a proxy that terminates HTTPS (cookies get `Secure`).
    pub behind_https_proxy: bool,
    /// The office's inbox index, per region database.
    pub office: Arc<crate::office::Inboxes>,
    /// The continuous relays' status (`GET /api/relay`).
    pub relays: Arc<crate::relay::Relays>,
    /// Turns true when the server is told to stop: longpolls answer at once and relays end,
    /// so that a graceful stop does not wait out their timeouts.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Users, tokens and databases changed by administrators, with the audit log.
    pub admin: crate::admin_ops::AdminOps,
    /// The custody log and its signing key.
    pub custody: crate::custody::CustodyLog,
    pub custody_key: crate::custody::checkpoint::LogKey,
    /// The regions' sealing keys (`crate::keys`).
    pub keys: crate::keys::KeyStore,
}

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    state: AppState,
    connection_limits: ConnectionLimits,
    /// Started with the server, stopped with it.
    relays: Vec<crate::config::RelayConfig>,
    /// Sets [`AppState::stopping`].
    stop: tokio::sync::watch::Sender<bool>,
}

impl Application {
    /// Opens the store and binds the listener; nothing is served until
    /// [`Application::run_until_stopped`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let storage = Storage::open(&config.data_dir).map_err(|source| StartupError::Store {
            dir: config.data_dir.display().to_string(),
            source,
        })?;
        tracing::info!(data_dir = %config.data_dir.display(), "data store opened");

        let assets = routes::assets::Assets::new(config.static_dir.clone());
        if !config.static_dir.join("index.html").is_file() {
            tracing::warn!(
                static_dir = %config.static_dir.display(),
                "no index.html in the static folder: the app is not built (see README)"
            );
        } else {
            tracing::info!(static_dir = %config.static_dir.display(), "serving the app");
        }

        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.bind,
            source,
        })?;

        let databases = Databases::open(storage.sled()).map_err(|source| StartupError::Store {
            dir: config.data_dir.display().to_string(),
            source,
        })?;
        crate::relay::check_databases(&config.relays, &databases).map_err(StartupError::Relay)?;
        let mut config = config;
        config
            .read_relay_credentials(|var| std::env::var(var).ok())
            .map_err(StartupError::Relay)?;
        let token_ttl = Duration::from_secs(config.token_ttl_days.saturating_mul(24 * 3600));
        let accounts = Accounts::open_with_checks(&storage, token_ttl, config.max_password_checks)
            .map_err(|source| StartupError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        let fd_limit = connections::raise_fd_limit();
        let connection_limits = ConnectionLimits {
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(config.body_timeout_secs.max(1)),
            max_connections: connections::connection_cap(config.max_connections, fd_limit),
            max_request_bytes: config.max_request_bytes,
        };
        tracing::info!(
            max_connections = connection_limits.max_connections,
            header_timeout_secs = connection_limits.header_timeout.as_secs(),
            body_timeout_secs = config.body_timeout_secs,
            body_budget_bytes = config.body_budget_bytes,
            max_password_checks = config.max_password_checks,
            "limits"
        );
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let admin = crate::admin_ops::AdminOps::open(&storage, accounts.clone(), databases.clone())
            .map_err(|source| StartupError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        // Only to measure the log's cost: `CHASKI_CUSTODY_LOG=off` (README: "The custody log's cost").
        if std::env::var("CHASKI_CUSTODY_LOG").is_ok_and(|v| v == "off") {
            tracing::warn!("the custody log is off: revisions are not logged");
            crate::custody::set_enabled(false);
        }
        let custody =
            crate::custody::CustodyLog::open(&storage).map_err(|source| StartupError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        let custody_key = crate::custody::checkpoint::LogKey::load_or_create(&custody.trees)
            .map_err(|source| StartupError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        tracing::info!(key = %custody_key.verifier(), "custody log key");
        let keys =
            crate::keys::KeyStore::open(storage.sled()).map_err(|source| StartupError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        let state = AppState {
            keys,
            custody,
            custody_key,
            admin,
            databases,
            limits: routes::couch::Limits::from_config(&config),
            storage,
            assets: Arc::new(assets),
            accounts,
            behind_https_proxy: config.behind_https_proxy,
            office: Arc::default(),
            relays: Arc::default(),
            stopping,
        };
        let router = routes::router(state.clone(), &config.cors_origins);
        Ok(Self {
            listener,
            addr,
            router,
            state,
            connection_limits,
            relays: config.relays.clone(),
            stop,
        })
    }

    /// The address actually bound (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the handlers share (the store, accounts…): tests use it to set up data directly.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, lets requests in flight finish, then flushes the
    /// store so that nothing acknowledged is lost.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!("listening on http://{}", self.addr);
        crate::office::warm_up(&self.state.databases, &self.state.office);
        crate::figures::warm_up(&self.state.databases);
        // The relays stop when the server is told to stop, before the final flush.
        let stop_relays = self.stop;
        let stopped = self.state.stopping.clone();
        // Started on a worker of its own (building the HTTP client reads the system's
        // certificates), so that nothing delays serving and listening for SIGTERM.
        // A region posts its checkpoints to the national server it pushes to.
        let witness = tokio::spawn(crate::custody::witness::post_to_relays(
            self.relays.clone(),
            self.state.custody.trees.clone(),
            self.state.custody_key.clone(),
            Duration::from_secs(60),
            self.state.stopping.clone(),
        ));
        let relays = {
            let (configs, state) = (self.relays, self.state.clone());
            tokio::spawn(async move {
                crate::relay::start(
                    &configs,
                    &state.databases,
                    &state.limits,
                    &state.relays,
                    &stopped,
                )
            })
        };
        // Signs a checkpoint every minute while the log grows; stops with the server.
        let signer = tokio::spawn(crate::custody::checkpoint::run_signer(
            self.state.custody.trees.clone(),
            self.state.custody_key.clone(),
            self.state.storage.clone(),
            Duration::from_secs(60),
            self.state.stopping.clone(),
        ));
        let stop_sender = stop_relays.clone();
        let shutdown = async move {
            shutdown.await;
            let _ = stop_sender.send(true);
        };
        let served =
            connections::serve(self.listener, self.router, self.connection_limits, shutdown).await;
        let _ = stop_relays.send(true);
        for relay in relays.await.unwrap_or_default() {
            // Each leg ends at its next await point; a store call already on the blocking pool
            // finishes on its own, before the flush below is reached or soon after.
            let _ = tokio::time::timeout(Duration::from_secs(5), relay).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), signer).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), witness).await;
        match self.state.storage.flush().await {
            Ok(_) => tracing::info!("stopped; data store flushed"),
            Err(err) => tracing::error!(%err, "stopped, but the final flush failed"),
        }
        served
    }
}

/// Completes on Ctrl-C or SIGTERM. Call it (in the runtime) before the server says where it
/// listens: the handlers are installed by the call itself, not when the future is first polled,
/// so a SIGTERM sent the moment "listening on" is logged stops the server gracefully instead of
/// killing it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        let (ctrl_c, terminate) = (
            wait_for(interrupt, "Ctrl-C"),
            wait_for(terminate, "SIGTERM"),
        );
        #[cfg(not(unix))]
        let (ctrl_c, terminate) = (
            async {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            },
            std::future::pending::<()>(),
        );
        tokio::select! {
            () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
            () = terminate => tracing::info!("SIGTERM received, shutting down"),
        }
    }
}

/// Completes when `signal` arrives; never when it could not be installed (said in the log).
#[cfg(unix)]
async fn wait_for(signal: std::io::Result<tokio::signal::unix::Signal>, what: &str) {
    match signal {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(err) => {
            tracing::error!(%err, "cannot listen for {what}");
            std::future::pending::<()>().await;
        }
    }
}
