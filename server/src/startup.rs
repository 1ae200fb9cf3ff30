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
    /// Users, tokens and databases changed by administrators, with the audit log.
    pub admin: crate::admin_ops::AdminOps,
}

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    state: AppState,
    connection_limits: ConnectionLimits,
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
        let admin = crate::admin_ops::AdminOps::open(&storage, accounts.clone(), databases.clone())
            .map_err(|source| StartupError::Store {
                dir: config.data_dir.display().to_string(),
                source,
            })?;
        let state = AppState {
            admin,
            databases,
            limits: routes::couch::Limits::from_config(&config),
            storage,
            assets: Arc::new(assets),
            accounts,
            behind_https_proxy: config.behind_https_proxy,
            office: Arc::default(),
        };
        let router = routes::router(state.clone(), &config.cors_origins);
        Ok(Self {
            listener,
            addr,
            router,
            state,
            connection_limits,
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
        let served =
            connections::serve(self.listener, self.router, self.connection_limits, shutdown).await;
        match self.state.storage.flush().await {
            Ok(_) => tracing::info!("stopped; data store flushed"),
            Err(err) => tracing::error!(%err, "stopped, but the final flush failed"),
        }
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
