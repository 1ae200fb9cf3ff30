//! [`Accounts`]: users and their devices' tokens, kept in sled and flushed before any change
//! is acknowledged.
//!
//! Two trees: `auth_users` (name → [`User`] as JSON) and `auth_tokens` (token id →
//! [`TokenRecord`] as JSON). A token handed to a device is `<id>.<secret>`; only the SHA-256 of
//! the secret is stored, so a copy of the data folder does not let anyone in.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::limiter::{Attempt, Limited, LoginLimiter};
use super::password;
use super::Role;
use crate::regions;
use crate::storage::Storage;

const USERS_TREE: &str = "auth_users";
const TOKENS_TREE: &str = "auth_tokens";

/// How long a token lives unless the configuration says otherwise: an inspector may be
/// offline in the field for weeks and must still be able to sync on return.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A successful Basic-auth check is remembered this long, so that a replication making
/// hundreds of requests does not pay for argon2 on each one.
const VERIFIED_CACHE_TTL: Duration = Duration::from_secs(300);

/// How many argon2 computations may run at once unless the configuration says otherwise:
/// each holds about 19 MiB and a core for a fraction of a second.
pub const DEFAULT_PASSWORD_CHECKS: usize = 4;

/// How long a password check waits for a free slot before the request is answered 503.
const PASSWORD_CHECK_QUEUE: Duration = Duration::from_secs(2);

/// What can go wrong with accounts, each in words the caller can pass on.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("There is already a user called {0}.")]
    UserExists(String),
    #[error("There is no user called {0}.")]
    NoSuchUser(String),
    #[error("There is no token {0} (it may have been revoked or have expired).")]
    NoSuchToken(String),
    /// Unknown user or wrong password: deliberately one case, so that names cannot be probed.
    #[error("The name or the password is wrong.")]
    BadCredentials,
    #[error("The account {0} is disabled. Ask an administrator.")]
    Disabled(String),
    #[error(
        "The token is not valid: it was revoked, has expired, or was never issued. Log in again."
    )]
    BadToken,
    #[error("{}", .0.reason)]
    Limited(Limited),
    /// Too many password checks are running; the request may be retried shortly (503).
    #[error("The server is checking too many passwords at once. Try again in a few seconds.")]
    Busy,
    #[error("account store: {0}")]
    Store(#[from] sled::Error),
    #[error("account store: {0}")]
    Internal(String),
}

/// A user as stored. The password hash never leaves the server: see [`UserInfo`].
#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub regions: BTreeSet<String>,
    pub disabled: bool,
    password_hash: String,
    /// Unix seconds.
    pub created_at: u64,
    pub updated_at: u64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("regions", &self.regions)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// What may be shown of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub regions: BTreeSet<String>,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserInfo {
    fn from(u: &User) -> Self {
        Self {
            name: u.name.clone(),
            role: u.role,
            regions: u.regions.clone(),
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// How a token may be presented: the two kinds are never interchangeable, so that a token
/// copied out of an app's storage cannot ride as a cookie, nor a cookie as a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// From `POST /api/login`: only as `Authorization: Bearer`. Records written before kinds
    /// existed read as this, so old cookie sessions end (they last a day at most).
    #[default]
    Bearer,
    /// From `POST /db/_session`: only as the `AuthSession` cookie.
    Session,
}

/// A device's token as stored (the secret itself is not).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    pub device: String,
    #[serde(default)]
    pub kind: TokenKind,
    secret_sha256: String,
    pub created_at: u64,
    pub expires_at: u64,
}

/// What may be shown of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub device: String,
    pub created_at: String,
    pub expires_at: String,
}

impl From<&TokenRecord> for TokenInfo {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id.clone(),
            user: t.user.clone(),
            device: t.device.clone(),
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
        }
    }
}

/// A token just issued: `token` is shown once, to the device, and never again.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub record: TokenRecord,
}

/// Users, tokens and the failed-login limiter. Cloning is cheap.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Storage,
    users: sled::Tree,
    tokens: sled::Tree,
    token_ttl: Duration,
    limiter: LoginLimiter,
    /// sha256(name, password) → (the stored hash it matched, when). Only successes are kept,
    /// and an entry counts only while the stored hash is unchanged, so a new password or a
    /// disabled account takes effect at once.
    verified: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    /// Bounds the argon2 computations running at once (memory and cores).
    password_checks: Arc<tokio::sync::Semaphore>,
    /// How many run now, and the most that ever ran at once (for tests and monitoring).
    checks_running: Arc<AtomicUsize>,
    checks_peak: Arc<AtomicUsize>,
}

impl Accounts {
    /// Opens the account trees of `storage`.
    pub fn open(storage: &Storage, token_ttl: Duration) -> Result<Self, sled::Error> {
        Self::open_with_checks(storage, token_ttl, DEFAULT_PASSWORD_CHECKS)
    }

    /// Opens the account trees, with at most `max_password_checks` argon2 computations at once.
    pub fn open_with_checks(
        storage: &Storage,
        token_ttl: Duration,
        max_password_checks: usize,
    ) -> Result<Self, sled::Error> {
        Ok(Self {
            inner: Arc::new(Inner {
                users: storage.sled().open_tree(USERS_TREE)?,
                tokens: storage.sled().open_tree(TOKENS_TREE)?,
                storage: storage.clone(),
                token_ttl,
                limiter: LoginLimiter::default(),
                verified: Mutex::new(HashMap::new()),
                password_checks: Arc::new(tokio::sync::Semaphore::new(max_password_checks.max(1))),
                checks_running: Arc::new(AtomicUsize::new(0)),
                checks_peak: Arc::new(AtomicUsize::new(0)),
            }),
        })
    }

    /// How long new tokens live.
    pub fn token_ttl(&self) -> Duration {
        self.inner.token_ttl
    }

    /// Runs the synchronous `work` (sled reads and writes) on tokio's blocking pool. A sled
    /// read can wait on sled's process-wide lock while any database's transaction commits;
    /// on an async worker that wait once took the whole server down (issue #12).
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, AccountError>
    where
        T: Send + 'static,
        F: FnOnce(&Accounts) -> Result<T, AccountError> + Send + 'static,
    {
        let accounts = self.clone();
        tokio::task::spawn_blocking(move || work(&accounts))
            .await
            .map_err(|e| AccountError::Internal(format!("account store task failed: {e}")))?
    }

    /// Adds a user. The name, password and regions are checked first; the password is hashed
    /// with argon2id. Returns once the user is on disk.
    pub async fn create_user<I, S>(
        &self,
        name: &str,
        password: &str,
        role: Role,
        regions: I,
    ) -> Result<UserInfo, AccountError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        validate_name(name).map_err(AccountError::Invalid)?;
        password::validate_password(password, name).map_err(AccountError::Invalid)?;
        let regions = validate_regions(regions)?;
        let exists = {
            let name = name.to_owned();
            self.blocking(move |a| Ok(a.inner.users.contains_key(name)?))
                .await?
        };
        if exists {
            return Err(AccountError::UserExists(name.to_owned()));
        }
        let password_hash = self.hash_blocking(password).await?;
        let now = now_secs();
        let user = User {
            name: name.to_owned(),
            role,
            regions,
            disabled: false,
            password_hash,
            created_at: now,
            updated_at: now,
        };
        let bytes = to_json(&user)?;
        // Compare-and-swap against "absent": two concurrent creations cannot both win.
        let key = name.to_owned();
        let swapped = self
            .blocking(move |a| {
                Ok(a.inner
                    .users
                    .compare_and_swap(key, None as Option<&[u8]>, Some(bytes))?)
            })
            .await?;
        if swapped.is_err() {
            return Err(AccountError::UserExists(name.to_owned()));
        }
        self.inner.storage.flush().await?;
        Ok(UserInfo::from(&user))
    }

    /// The stored user called `name`, if any.
    pub fn user(&self, name: &str) -> Result<Option<User>, AccountError> {
        match self.inner.users.get(name)? {
            Some(bytes) => Ok(Some(from_json(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Every user, by name.
    pub fn list_users(&self) -> Result<Vec<UserInfo>, AccountError> {
        self.inner
            .users
            .iter()
            .map(|item| {
                let (_, bytes) = item?;
                Ok(UserInfo::from(&from_json::<User>(&bytes)?))
            })
            .collect()
    }

    /// Disables (cuts off at once: Basic auth and every token stop working) or re-enables a
    /// user.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<UserInfo, AccountError> {
        self.update_user(name, move |u| {
            u.disabled = disabled;
            Ok(())
        })
        .await
    }

    /// Replaces a user's regions.
    pub async fn set_regions<I, S>(&self, name: &str, regions: I) -> Result<UserInfo, AccountError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let regions = validate_regions(regions)?;
        self.update_user(name, move |u| {
            u.regions = regions.clone();
            Ok(())
        })
        .await
    }

    /// Changes a user's role.
    pub async fn set_role(&self, name: &str, role: Role) -> Result<UserInfo, AccountError> {
        self.update_user(name, move |u| {
            u.role = role;
            Ok(())
        })
        .await
    }

    /// Sets a new password (checked against the rules first).
    pub async fn set_password(&self, name: &str, password: &str) -> Result<UserInfo, AccountError> {
        password::validate_password(password, name).map_err(AccountError::Invalid)?;
        let hash = self.hash_blocking(password).await?;
        self.update_user(name, move |u| {
            u.password_hash = hash.clone();
            Ok(())
        })
        .await
    }

    /// Changes a user's role, regions and disabled flag together, in one write (`None`:
    /// unchanged); the regions are checked first, so a bad one changes nothing.
    pub async fn change_user(
        &self,
        name: &str,
        role: Option<Role>,
        regions: Option<Vec<String>>,
        disabled: Option<bool>,
    ) -> Result<UserInfo, AccountError> {
        let regions = regions.map(validate_regions).transpose()?;
        self.update_user(name, move |u| {
            if let Some(role) = role {
                u.role = role;
            }
            if let Some(regions) = &regions {
                u.regions = regions.clone();
            }
            if let Some(disabled) = disabled {
                u.disabled = disabled;
            }
            Ok(())
        })
        .await
    }

    async fn update_user(
        &self,
        name: &str,
        change: impl Fn(&mut User) -> Result<(), AccountError> + Send + 'static,
    ) -> Result<UserInfo, AccountError> {
        let name = name.to_owned();
        let user = self
            .blocking(move |a| {
                // Read, change, compare-and-swap; retried if someone else wrote in between.
                loop {
                    let old = a
                        .inner
                        .users
                        .get(&name)?
                        .ok_or_else(|| AccountError::NoSuchUser(name.clone()))?;
                    let mut user: User = from_json(&old)?;
                    change(&mut user)?;
                    user.updated_at = now_secs();
                    let new = to_json(&user)?;
                    if a.inner
                        .users
                        .compare_and_swap(name.as_str(), Some(old), Some(new))?
                        .is_ok()
                    {
                        return Ok(user);
                    }
                }
            })
            .await?;
        self.inner.storage.flush().await?;
        Ok(UserInfo::from(&user))
    }

    /// Checks a name and password, with the failed-login limit for the account and the client
    /// address. Unknown names and wrong passwords give the same error after the same delay.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        addr: Option<IpAddr>,
    ) -> Result<User, AccountError> {
        self.login_from(name, password, addr, false).await
    }

    /// [`Accounts::login`] for a request that may also carry a valid token of the account
    /// `name` (`holds_token`): such a request is the account's own device, so the limiter
    /// neither stops it nor counts its failures, and a stranger's guesses cannot lock the
    /// user out of it. A password verified moments ago skips the limiter too (it costs no
    /// hashing and proves the password).
    pub async fn login_from(
        &self,
        name: &str,
        password: &str,
        addr: Option<IpAddr>,
        holds_token: bool,
    ) -> Result<User, AccountError> {
        let cached = self.recently_verified_user(name, password).await?;
        let attempt = match (&cached, holds_token) {
            (Some(_), _) | (None, true) => None,
            (None, false) => Some(
                self.inner
                    .limiter
                    .reserve(name, addr, Instant::now())
                    .map_err(AccountError::Limited)?,
            ),
        };
        let checked = match cached {
            Some(user) => Ok(user),
            None => self.check_password(name, password).await,
        };
        match checked {
            Ok(user) if !user.disabled => {
                if let Some(attempt) = attempt {
                    attempt.succeeded(Instant::now());
                }
                Ok(user)
            }
            // A disabled account answers a right password exactly as a wrong one (same error,
            // same count against the limit), so that nobody can test a password against it;
            // the administrator who disabled it tells its owner.
            Ok(_disabled) => {
                if let Some(attempt) = attempt {
                    Attempt::failed(attempt, Instant::now());
                }
                tracing::warn!(user = %name, addr = ?addr, "login refused: account disabled");
                Err(AccountError::BadCredentials)
            }
            Err(AccountError::BadCredentials) => {
                if let Some(attempt) = attempt {
                    Attempt::failed(attempt, Instant::now());
                }
                tracing::warn!(user = %name, addr = ?addr, holds_token, "failed login");
                Err(AccountError::BadCredentials)
            }
            Err(other) => Err(other),
        }
    }

    /// The user, when this name and password were verified a moment ago and the stored hash
    /// is unchanged.
    async fn recently_verified_user(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, AccountError> {
        if validate_name(name).is_err() {
            return Ok(None);
        }
        let key = credential_key(name, password);
        if !self.lock_verified().contains_key(&key) {
            return Ok(None);
        }
        let user = {
            let name = name.to_owned();
            self.blocking(move |a| a.user(&name)).await?
        };
        // A disabled account never skips the full check: its answer and timing stay those of
        // a wrong password.
        Ok(user.filter(|user| !user.disabled && self.recently_verified(&key, &user.password_hash)))
    }

    /// Runs an argon2 computation on a blocking thread, once one of the bounded slots is
    /// free; `Busy` (503) if none frees up soon. The slot is held until the computation ends,
    /// even if the request that asked for it goes away meanwhile.
    async fn with_password_slot<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountError> {
        let permit = tokio::time::timeout(
            PASSWORD_CHECK_QUEUE,
            self.inner.password_checks.clone().acquire_owned(),
        )
        .await
        .map_err(|_| AccountError::Busy)?
        .map_err(|_| AccountError::Busy)?;
        let (running, peak) = (
            self.inner.checks_running.clone(),
            self.inner.checks_peak.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let result = work();
            running.fetch_sub(1, Ordering::SeqCst);
            result
        })
        .await
        .map_err(|e| AccountError::Internal(format!("password check panicked: {e}")))
    }

    /// The most argon2 computations that ever ran at once in this process.
    pub fn password_checks_peak(&self) -> usize {
        self.inner.checks_peak.load(Ordering::SeqCst)
    }

    async fn hash_blocking(&self, password: &str) -> Result<String, AccountError> {
        let password = password.to_owned();
        self.with_password_slot(move || password::hash_password(&password))
            .await?
            .map_err(AccountError::Internal)
    }

    async fn check_password(&self, name: &str, password: &str) -> Result<User, AccountError> {
        let user = if validate_name(name).is_ok() {
            let name = name.to_owned();
            self.blocking(move |a| a.user(&name)).await?
        } else {
            None
        };
        let Some(user) = user else {
            let password = password.to_owned();
            self.with_password_slot(move || password::waste_time_like_a_verification(&password))
                .await?;
            return Err(AccountError::BadCredentials);
        };
        let key = credential_key(name, password);
        // A disabled account always pays the full check: a quick answer would tell a right
        // password from a wrong one.
        if !user.disabled && self.recently_verified(&key, &user.password_hash) {
            return Ok(user);
        }
        let (pw, phc) = (password.to_owned(), user.password_hash.clone());
        let ok = self
            .with_password_slot(move || password::verify_password(&pw, &phc))
            .await?;
        if !ok {
            return Err(AccountError::BadCredentials);
        }
        if user.disabled {
            return Ok(user);
        }
        let mut verified = self.lock_verified();
        if verified.len() > 10_000 {
            verified.clear();
        }
        verified.insert(key, (user.password_hash.clone(), Instant::now()));
        drop(verified);
        Ok(user)
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (String, Instant)>> {
        self.inner
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn recently_verified(&self, key: &[u8; 32], current_hash: &str) -> bool {
        self.lock_verified()
            .get(key)
            .is_some_and(|(hash, at)| hash == current_hash && at.elapsed() < VERIFIED_CACHE_TTL)
    }

    /// Issues a token for `user` on `device`, valid for the configured time.
    pub async fn issue_token(&self, user: &str, device: &str) -> Result<IssuedToken, AccountError> {
        self.issue_token_with_ttl(user, device, self.inner.token_ttl)
            .await
    }

    /// Issues a bearer token valid for `ttl` (zero gives an already expired token, for tests).
    pub async fn issue_token_with_ttl(
        &self,
        user: &str,
        device: &str,
        ttl: Duration,
    ) -> Result<IssuedToken, AccountError> {
        self.issue(user, device, ttl, TokenKind::Bearer).await
    }

    /// Issues a cookie session (`AuthSession`) valid for `ttl`.
    pub async fn issue_session(
        &self,
        user: &str,
        device: &str,
        ttl: Duration,
    ) -> Result<IssuedToken, AccountError> {
        self.issue(user, device, ttl, TokenKind::Session).await
    }

    async fn issue(
        &self,
        user: &str,
        device: &str,
        ttl: Duration,
        kind: TokenKind,
    ) -> Result<IssuedToken, AccountError> {
        let device = validate_device(device)?;
        let user = user.to_owned();
        let issued = self
            .blocking(move |a| a.issue_token_now(&user, device, ttl, kind))
            .await?;
        self.inner.storage.flush().await?;
        Ok(issued)
    }

    fn issue_token_now(
        &self,
        user: &str,
        device: String,
        ttl: Duration,
        kind: TokenKind,
    ) -> Result<IssuedToken, AccountError> {
        if !self.inner.users.contains_key(user)? {
            return Err(AccountError::NoSuchUser(user.to_owned()));
        }
        self.purge_expired(Some(user))?;
        let now = now_secs();
        loop {
            let id = random_hex(8);
            let secret = random_hex(32);
            let record = TokenRecord {
                id: id.clone(),
                user: user.to_owned(),
                device: device.clone(),
                kind,
                secret_sha256: sha256_hex(secret.as_bytes()),
                created_at: now,
                expires_at: now.saturating_add(ttl.as_secs()),
            };
            let bytes = to_json(&record)?;
            if self
                .inner
                .tokens
                .compare_and_swap(id.as_bytes(), None as Option<&[u8]>, Some(bytes))?
                .is_ok()
            {
                return Ok(IssuedToken {
                    token: format!("{id}.{secret}"),
                    record,
                });
            }
            // Two random 64-bit ids collided: draw again.
        }
    }

    /// The token's record and its user, if the token is live and the user enabled.
    pub fn resolve_token(&self, token: &str) -> Result<(TokenRecord, User), AccountError> {
        let (id, secret) = token.split_once('.').ok_or(AccountError::BadToken)?;
        let bytes = self
            .inner
            .tokens
            .get(id.as_bytes())?
            .ok_or(AccountError::BadToken)?;
        let record: TokenRecord = from_json(&bytes)?;
        if !constant_time_eq(
            sha256_hex(secret.as_bytes()).as_bytes(),
            record.secret_sha256.as_bytes(),
        ) {
            return Err(AccountError::BadToken);
        }
        if now_secs() >= record.expires_at {
            return Err(AccountError::BadToken);
        }
        let user = self.user(&record.user)?.ok_or(AccountError::BadToken)?;
        if user.disabled {
            return Err(AccountError::Disabled(user.name));
        }
        Ok((record, user))
    }

    /// A token's record by id.
    pub fn token(&self, id: &str) -> Result<Option<TokenRecord>, AccountError> {
        match self.inner.tokens.get(id.as_bytes())? {
            Some(bytes) => Ok(Some(from_json(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Revokes a token: the device using it is refused from the next request on.
    pub async fn revoke_token(&self, id: &str) -> Result<TokenInfo, AccountError> {
        let id = id.to_owned();
        let bytes = self
            .blocking(move |a| {
                a.inner
                    .tokens
                    .remove(id.as_bytes())?
                    .ok_or(AccountError::NoSuchToken(id))
            })
            .await?;
        self.inner.storage.flush().await?;
        let record: TokenRecord = from_json(&bytes)?;
        Ok(TokenInfo::from(&record))
    }

    /// The live tokens, of one user or of everyone, oldest first.
    pub fn list_tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>, AccountError> {
        let now = now_secs();
        let mut out = Vec::new();
        for item in self.inner.tokens.iter() {
            let (_, bytes) = item?;
            let record: TokenRecord = from_json(&bytes)?;
            if now < record.expires_at && user.is_none_or(|u| u == record.user) {
                out.push(record);
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out.iter().map(TokenInfo::from).collect())
    }

    /// Drops expired tokens (of one user, or all), so that the tree does not grow forever.
    /// Not flushed on its own: losing a purge in a crash only leaves dead tokens behind.
    fn purge_expired(&self, user: Option<&str>) -> Result<(), AccountError> {
        let now = now_secs();
        for item in self.inner.tokens.iter() {
            let (key, bytes) = item?;
            let record: TokenRecord = from_json(&bytes)?;
            if now >= record.expires_at && user.is_none_or(|u| u == record.user) {
                self.inner.tokens.remove(key)?;
            }
        }
        Ok(())
    }
}

/// Checks a user name: 2 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit (CouchDB
/// reserves names starting with `_`).
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok_len = (2..=64).contains(&name.len());
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    let ok_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(format!(
            "The user name {name:?} is not allowed: use 2 to 64 characters among lowercase \
             letters a-z, digits, '.', '_' and '-', starting with a letter or a digit."
        ))
    }
}

fn validate_regions<I, S>(regions: I) -> Result<BTreeSet<String>, AccountError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let regions: BTreeSet<String> = regions.into_iter().map(Into::into).collect();
    if let Some(bad) = regions.iter().find(|r| !regions::is_region_db(r)) {
        return Err(AccountError::Invalid(format!(
            "{bad:?} is not a region. Use a department's database name, one of: {}.",
            regions::db_names().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(regions)
}

fn validate_device(device: &str) -> Result<String, AccountError> {
    let device = device.trim();
    if device.is_empty() || device.chars().count() > 100 || device.chars().any(char::is_control) {
        return Err(AccountError::Invalid(
            "The device name must be 1 to 100 printable characters (e.g. \"tablet 07\")."
                .to_owned(),
        ));
    }
    Ok(device.to_owned())
}

fn credential_key(name: &str, password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, AccountError> {
    serde_json::to_vec(value).map_err(|e| AccountError::Internal(format!("encode: {e}")))
}

fn from_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, AccountError> {
    serde_json::from_slice(bytes)
        .map_err(|e| AccountError::Internal(format!("corrupt record: {e}")))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Compares without stopping at the first difference, so timing tells nothing of a secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `2026-11-28T14:03:00Z` for Unix seconds (UTC; civil-from-days after H. Hinnant).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
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
    use super::*;

    async fn accounts() -> (Accounts, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&dir.path().join("data")).unwrap();
        (Accounts::open(&storage, DEFAULT_TOKEN_TTL).unwrap(), dir)
    }

    #[test]
    fn user_names_are_short_lowercase_words() {
        for ok in ["ana", "ana.quispe", "inspector_07", "j-p", "00"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "Ana",
            "_admin",
            ".x",
            "-x",
            "ana quispe",
            "añez",
            "",
            &"a".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_must_be_department_databases() {
        assert!(validate_regions(["madre-de-dios", "cusco"]).is_ok());
        let err = validate_regions(["Madre de Dios"]).unwrap_err().to_string();
        assert!(err.contains("madre-de-dios"), "{err}");
    }

    #[test]
    fn dates_are_written_in_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_874_581), "2026-11-28T14:03:01Z");
    }

    #[tokio::test]
    async fn a_user_logs_in_with_the_right_password_only() {
        let (accounts, _dir) = accounts().await;
        accounts
            .create_user("ana", "una clave larga", Role::Inspector, ["loreto"])
            .await
            .unwrap();
        let user = accounts
            .login("ana", "una clave larga", None)
            .await
            .unwrap();
        assert_eq!(user.regions, BTreeSet::from(["loreto".to_owned()]));
        assert!(matches!(
            accounts.login("ana", "otra clave larga", None).await,
            Err(AccountError::BadCredentials)
        ));
        assert!(matches!(
            accounts.login("nadie", "una clave larga", None).await,
            Err(AccountError::BadCredentials)
        ));
        assert!(matches!(
            accounts
                .create_user("ana", "una clave larga", Role::Admin, Vec::<String>::new())
                .await,
            Err(AccountError::UserExists(_))
        ));
    }

    #[tokio::test]
    async fn a_token_works_until_it_expires_or_is_revoked() {
        let (accounts, _dir) = accounts().await;
        accounts
            .create_user("ana", "una clave larga", Role::Inspector, ["loreto"])
            .await
            .unwrap();
        let live = accounts.issue_token("ana", "tablet 1").await.unwrap();
        let (record, user) = accounts.resolve_token(&live.token).unwrap();
        assert_eq!(
            (record.device.as_str(), user.name.as_str()),
            ("tablet 1", "ana")
        );

        let expired = accounts
            .issue_token_with_ttl("ana", "tablet 2", Duration::ZERO)
            .await
            .unwrap();
        assert!(matches!(
            accounts.resolve_token(&expired.token),
            Err(AccountError::BadToken)
        ));
        // A token with the right id but a wrong secret is refused.
        let forged = format!("{}.{}", live.record.id, "0".repeat(64));
        assert!(matches!(
            accounts.resolve_token(&forged),
            Err(AccountError::BadToken)
        ));

        assert_eq!(accounts.list_tokens(Some("ana")).unwrap().len(), 1);
        accounts.revoke_token(&live.record.id).await.unwrap();
        assert!(matches!(
            accounts.resolve_token(&live.token),
            Err(AccountError::BadToken)
        ));
    }

    #[tokio::test]
    async fn disabling_a_user_stops_their_tokens_and_password() {
        let (accounts, _dir) = accounts().await;
        accounts
            .create_user("ana", "una clave larga", Role::Inspector, ["loreto"])
            .await
            .unwrap();
        let token = accounts.issue_token("ana", "tablet").await.unwrap();
        accounts
            .login("ana", "una clave larga", None)
            .await
            .unwrap();
        accounts.set_disabled("ana", true).await.unwrap();
        assert!(matches!(
            accounts.resolve_token(&token.token),
            Err(AccountError::Disabled(_))
        ));
        // The right password is refused exactly as a wrong one: no oracle for passwords.
        assert!(matches!(
            accounts.login("ana", "una clave larga", None).await,
            Err(AccountError::BadCredentials)
        ));
    }

    #[tokio::test]
    async fn a_new_password_replaces_the_old_one_at_once() {
        let (accounts, _dir) = accounts().await;
        accounts
            .create_user("ana", "una clave larga", Role::Inspector, ["loreto"])
            .await
            .unwrap();
        accounts
            .login("ana", "una clave larga", None)
            .await
            .unwrap();
        accounts
            .set_password("ana", "otra clave larga")
            .await
            .unwrap();
        assert!(accounts
            .login("ana", "una clave larga", None)
            .await
            .is_err());
        assert!(accounts
            .login("ana", "otra clave larga", None)
            .await
            .is_ok());
    }
}
