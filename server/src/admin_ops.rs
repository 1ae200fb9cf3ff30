//! The administration operations, written once for the admin API (`/api/admin/...`) and the
//! `chaski` command line: users, device tokens and databases, each change checked against the
//! safety rules and written to the [audit log](crate::audit).
//!
//! # Rules
//! - The last active administrator (role `admin`, not disabled) can be neither disabled nor
//!   given another role: 409 with the reason, on the page, the API and the command line alike.
//! - Passwords follow the rules of [`crate::auth::password`] wherever they are set.
//! - Every change is durable before it is acknowledged, and takes effect on the next request:
//!   nothing in [`crate::auth`] caches a user or a token (the password check cache is keyed to
//!   the stored hash and re-reads the user every time).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditLog, By};
use crate::auth::accounts::{now_secs, rfc3339};
use crate::auth::{AccountError, Accounts, Role, TokenInfo, UserInfo};
use crate::db::{Databases, DbName};
use crate::error::ApiError;
use crate::regions;
use crate::storage::Storage;

/// Tokens revoked by an administrator, kept until they would have expired so that the list of
/// devices can show them as revoked (`Accounts` forgets a token as it revokes it).
const REVOKED_TREE: &str = "admin_revoked_tokens";

/// What a change of a user asks for (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub regions: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

impl UserChange {
    fn is_empty(&self) -> bool {
        self.role.is_none() && self.regions.is_none() && self.disabled.is_none()
    }
}

/// A device's token as the administration lists it: live ones, and those an administrator
/// revoked (until they would have expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminToken {
    #[serde(flatten)]
    pub token: TokenInfo,
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RevokedRecord {
    token: TokenInfo,
    /// Unix seconds: the record is dropped once the token would have expired.
    expires_at: u64,
    revoked_at: String,
}

/// The operations. Cloning is cheap; clones share the lock that orders changes of users.
#[derive(Clone)]
pub struct AdminOps {
    accounts: Accounts,
    databases: Databases,
    audit: AuditLog,
    revoked: sled::Tree,
    /// Held across the last-admin check and the change it allows, so that two
    /// administrators disabling each other at the same moment cannot both pass it. One
    /// process at a time holds the data folder (sled's lock), so a lock in memory is enough.
    user_changes: Arc<tokio::sync::Mutex<()>>,
}

impl AdminOps {
    /// Opens the audit log and the revoked tokens' tree (sled calls: at start-up).
    pub fn open(
        storage: &Storage,
        accounts: Accounts,
        databases: Databases,
    ) -> Result<Self, sled::Error> {
        Ok(Self {
            accounts,
            databases,
            audit: AuditLog::open(storage)?,
            revoked: storage.sled().open_tree(REVOKED_TREE)?,
            user_changes: Arc::default(),
        })
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserInfo>, ApiError> {
        Ok(self.accounts.blocking(|a| a.list_users()).await?)
    }

    /// Adds a user (name, password and regions checked first); they can sign in at once.
    pub async fn add_user(
        &self,
        by: impl Into<By<'_>>,
        name: &str,
        password: &str,
        role: Role,
        regions: Vec<String>,
    ) -> Result<UserInfo, ApiError> {
        let user = self
            .accounts
            .create_user(name, password, role, regions)
            .await?;
        let detail = format!("{}; regions: {}", user.role, regions_text(&user.regions));
        self.record(by, "user.add", &user.name, &detail).await?;
        Ok(user)
    }

    /// Changes a user's role, regions or disabled flag in one write, unless that would leave
    /// no active administrator (409).
    pub async fn change_user(
        &self,
        by: impl Into<By<'_>>,
        name: &str,
        change: UserChange,
    ) -> Result<UserInfo, ApiError> {
        let by: By = by.into();
        if change.is_empty() {
            return Err(ApiError::BadRequest(
                "Nothing to change: give a role, regions, or disabled (true or false).".to_owned(),
            ));
        }
        let _ordered = self.user_changes.lock().await;
        let before = {
            let name = name.to_owned();
            self.accounts.blocking(move |a| a.user(&name)).await?
        }
        .ok_or_else(|| AccountError::NoSuchUser(name.to_owned()))?;
        let role_after = change.role.unwrap_or(before.role);
        let disabled_after = change.disabled.unwrap_or(before.disabled);
        let active_admin = |role: Role, disabled: bool| role == Role::Admin && !disabled;
        if active_admin(before.role, before.disabled) && !active_admin(role_after, disabled_after) {
            let others = {
                let name = name.to_owned();
                self.accounts
                    .blocking(move |a| {
                        Ok(a.list_users()?
                            .iter()
                            .filter(|u| u.name != name && active_admin(u.role, u.disabled))
                            .count())
                    })
                    .await?
            };
            if others == 0 {
                let what = if disabled_after {
                    "disabling them".to_owned()
                } else {
                    format!("making them a {role_after}")
                };
                return Err(ApiError::Conflict(format!(
                    "{name} is the last active administrator: {what} would leave nobody able \
                     to manage users, devices and databases. Make another user an \
                     administrator (or enable one) first."
                )));
            }
        }
        let after = self
            .accounts
            .change_user(name, change.role, change.regions, change.disabled)
            .await?;
        if before.role != after.role {
            let detail = format!("{} → {}", before.role, after.role);
            self.record(by, "user.role", name, &detail).await?;
        }
        if before.regions != after.regions {
            let detail = format!(
                "{} → {}",
                regions_text(&before.regions),
                regions_text(&after.regions)
            );
            self.record(by, "user.regions", name, &detail).await?;
        }
        if before.disabled != after.disabled {
            let action = if after.disabled {
                "user.disable"
            } else {
                "user.enable"
            };
            self.record(by, action, name, "").await?;
        }
        Ok(after)
    }

    /// Sets a new password (checked against the password rules first). The log says only that
    /// it was set.
    pub async fn set_password(
        &self,
        by: impl Into<By<'_>>,
        name: &str,
        password: &str,
    ) -> Result<UserInfo, ApiError> {
        let user = self.accounts.set_password(name, password).await?;
        self.record(by, "user.password", name, "password set")
            .await?;
        Ok(user)
    }

    /// The live tokens and those an administrator revoked (of one user with `user`, 404 when
    /// there is no such user), oldest first.
    pub async fn tokens(&self, user: Option<String>) -> Result<Vec<AdminToken>, ApiError> {
        let revoked = self.revoked.clone();
        let tokens = self
            .accounts
            .blocking(move |a| {
                if let Some(name) = &user {
                    if a.user(name)?.is_none() {
                        return Err(AccountError::NoSuchUser(name.clone()));
                    }
                }
                let mut out: Vec<AdminToken> = a
                    .list_tokens(user.as_deref())?
                    .into_iter()
                    .map(|token| AdminToken {
                        token,
                        revoked: false,
                        revoked_at: None,
                    })
                    .collect();
                let now = now_secs();
                for item in revoked.iter() {
                    let (key, bytes) = item?;
                    let Ok(record) = serde_json::from_slice::<RevokedRecord>(&bytes) else {
                        continue;
                    };
                    if now >= record.expires_at {
                        // Not flushed: losing this purge in a crash only keeps a dead entry.
                        revoked.remove(key)?;
                        continue;
                    }
                    if user.as_ref().is_none_or(|u| *u == record.token.user) {
                        out.push(AdminToken {
                            token: record.token,
                            revoked: true,
                            revoked_at: Some(record.revoked_at),
                        });
                    }
                }
                Ok(out)
            })
            .await?;
        let mut tokens = tokens;
        tokens.sort_by(|a, b| {
            (&a.token.created_at, &a.token.id).cmp(&(&b.token.created_at, &b.token.id))
        });
        Ok(tokens)
    }

    /// Revokes a device's token: that device gets 401 from its next request on.
    pub async fn revoke_token(
        &self,
        by: impl Into<By<'_>>,
        id: &str,
    ) -> Result<TokenInfo, ApiError> {
        let record = {
            let id = id.to_owned();
            self.accounts.blocking(move |a| a.token(&id)).await?
        }
        .ok_or_else(|| AccountError::NoSuchToken(id.to_owned()))?;
        let info = self.accounts.revoke_token(id).await?;
        let kept = RevokedRecord {
            token: info.clone(),
            expires_at: record.expires_at,
            revoked_at: rfc3339(now_secs()),
        };
        if let Ok(bytes) = serde_json::to_vec(&kept) {
            let (revoked, key) = (self.revoked.clone(), id.to_owned());
            // Flushed with the audit entry below.
            tokio::task::spawn_blocking(move || revoked.insert(key.as_bytes(), bytes))
                .await
                .map_err(|e| ApiError::Internal(format!("revoked tokens task: {e}")))??;
        }
        let detail = format!("{} of {}", info.device, info.user);
        self.record(by, "token.revoke", id, &detail).await?;
        Ok(info)
    }

    /// Every database, sorted.
    pub fn databases(&self) -> Vec<String> {
        self.databases.list()
    }

    /// Creates a region's database unless it exists; returns whether it was created.
    pub async fn create_database(
        &self,
        by: impl Into<By<'_>>,
        name: &str,
    ) -> Result<bool, ApiError> {
        if !regions::is_region_db(name) {
            return Err(ApiError::BadRequest(format!(
                "{name:?} is not a region; use one of: {}.",
                regions::db_names().collect::<Vec<_>>().join(", ")
            )));
        }
        let db = DbName::parse(name)?;
        let created = self.databases.ensure(&db).await?;
        if created {
            self.record(by, "db.create", name, "").await?;
        }
        Ok(created)
    }

    /// The newest `limit` entries of the audit log, newest first.
    pub async fn log(&self, limit: usize) -> Result<Vec<AuditEntry>, ApiError> {
        let audit = self.audit.clone();
        tokio::task::spawn_blocking(move || audit.recent(limit))
            .await
            .map_err(|e| ApiError::Internal(format!("audit log task: {e}")))?
            .map_err(ApiError::from)
    }

    /// Logs a change made elsewhere (a database created or deleted through CouchDB's API, a
    /// device revoked through `DELETE /api/tokens/{id}`); durable on return.
    /// The administration log these operations record to.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub async fn record(
        &self,
        by: impl Into<By<'_>>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), ApiError> {
        self.audit.record(by, action, target, detail).await?;
        Ok(())
    }
}

/// Who the command line acts as in the log: `cli (<system user>)`.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown system user".to_owned());
    format!("cli ({user})")
}

fn regions_text(regions: &std::collections::BTreeSet<String>) -> String {
    if regions.is_empty() {
        "none".to_owned()
    } else {
        regions.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::accounts::DEFAULT_TOKEN_TTL;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    async fn ops() -> (AdminOps, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&dir.path().join("data")).unwrap();
        let accounts = Accounts::open(&storage, DEFAULT_TOKEN_TTL).unwrap();
        let databases = Databases::open(storage.sled()).unwrap();
        (AdminOps::open(&storage, accounts, databases).unwrap(), dir)
    }

    fn status(err: ApiError) -> StatusCode {
        err.into_response().status()
    }

    #[tokio::test]
    async fn the_last_active_admin_can_be_neither_disabled_nor_demoted() {
        let (ops, _dir) = ops().await;
        ops.add_user("cli", "ana", "una clave larga", Role::Admin, vec![])
            .await
            .unwrap();
        let disable = UserChange {
            disabled: Some(true),
            ..UserChange::default()
        };
        let demote = UserChange {
            role: Some(Role::Supervisor),
            ..UserChange::default()
        };
        let err = ops
            .change_user("ana", "ana", disable.clone())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("last active administrator"),
            "{err}"
        );
        assert_eq!(status(err), StatusCode::CONFLICT);
        let err = ops
            .change_user("ana", "ana", demote.clone())
            .await
            .unwrap_err();
        assert_eq!(status(err), StatusCode::CONFLICT);

        // A second admin, disabled, does not count; enabled, it does.
        ops.add_user("cli", "beto", "otra clave larga", Role::Admin, vec![])
            .await
            .unwrap();
        ops.change_user("ana", "beto", disable.clone())
            .await
            .unwrap();
        assert!(ops.change_user("ana", "ana", demote.clone()).await.is_err());
        ops.change_user(
            "ana",
            "beto",
            UserChange {
                disabled: Some(false),
                ..UserChange::default()
            },
        )
        .await
        .unwrap();
        let ana = ops.change_user("beto", "ana", demote).await.unwrap();
        assert_eq!(ana.role, Role::Supervisor);

        let log = ops.log(10).await.unwrap();
        let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "user.role",
                "user.enable",
                "user.disable",
                "user.add",
                "user.add"
            ]
        );
        assert_eq!(log[0].detail, "admin → supervisor");
        assert_eq!(log[0].by, "beto");
    }

    #[tokio::test]
    async fn a_revoked_token_is_listed_as_revoked_and_its_device_refused() {
        let (ops, _dir) = ops().await;
        ops.add_user("cli", "ines", "una clave larga", Role::Inspector, vec![])
            .await
            .unwrap();
        let issued = ops.accounts.issue_token("ines", "tablet 3").await.unwrap();
        ops.revoke_token("ana", &issued.record.id).await.unwrap();
        assert!(ops.accounts.resolve_token(&issued.token).is_err());
        let tokens = ops.tokens(Some("ines".to_owned())).await.unwrap();
        assert_eq!(tokens.len(), 1);
        assert!(tokens[0].revoked && tokens[0].revoked_at.is_some());
        let err = ops
            .revoke_token("ana", &issued.record.id)
            .await
            .unwrap_err();
        assert_eq!(status(err), StatusCode::NOT_FOUND);
        let err = ops.tokens(Some("nadie".to_owned())).await.unwrap_err();
        assert_eq!(status(err), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn only_region_databases_are_created_and_a_second_creation_changes_nothing() {
        let (ops, _dir) = ops().await;
        assert!(ops.create_database("ana", "loreto").await.unwrap());
        assert!(!ops.create_database("ana", "loreto").await.unwrap());
        let err = ops.create_database("ana", "Loreto").await.unwrap_err();
        assert_eq!(status(err), StatusCode::BAD_REQUEST);
        assert_eq!(ops.databases(), ["loreto"]);
        assert_eq!(ops.log(10).await.unwrap().len(), 1);
    }
}
