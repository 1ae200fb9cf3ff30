//! `chaski admin --server URL …`: the administration commands of [`crate::admin`], sent to a
//! running server's admin API instead of opening its data folder.
//!
//! The command signs in with `POST /api/login` as the administrator named by `--as` (or
//! `CHASKI_ADMIN_NAME`), with the password from `CHASKI_ADMIN_PASSWORD` or the first line of
//! standard input (`--admin-password-stdin`), so the failed-login limit applies as to anyone;
//! it revokes that token when it is done. A token from an earlier login in `CHASKI_TOKEN` is
//! used as it is instead. A new user's password comes, as offline, from `CHASKI_PASSWORD` or
//! the next line of standard input (`--password-stdin`). The answers are printed as the
//! offline commands print them.
//!
//! `https://` works when the binary is built with reqwest's TLS (the relay brings it); the
//! server's own plain-HTTP address on its machine (`http://127.0.0.1:8080`) always does.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::admin::{
    databases_to_create, print_log, read_password, read_secret, token_line, user_line, DbCommand,
    TokensCommand, UserCommand,
};
use crate::admin_ops::AdminToken;
use crate::audit::AuditEntry;
use crate::auth::UserInfo;

/// The device name of the command line's own login, as the list of devices shows it.
const DEVICE: &str = "chaski admin (command line)";

/// `chaski admin --server URL [--as ADMIN] <command>`.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// The running server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "CHASKI_SERVER")]
    pub server: String,
    /// The administrator who signs in (not needed when CHASKI_TOKEN holds a token).
    #[arg(long = "as", value_name = "ADMIN", env = "CHASKI_ADMIN_NAME")]
    pub admin: Option<String>,
    /// Read the administrator's password from the first line of standard input (else the
    /// CHASKI_ADMIN_PASSWORD variable). With `user add --password-stdin` as well, the new
    /// user's password is the second line.
    #[arg(long)]
    pub admin_password_stdin: bool,
    #[command(subcommand)]
    pub command: RemoteCommand,
}

/// What `chaski admin --server` can do: the offline commands but backup and restore.
#[derive(Debug, clap::Subcommand)]
pub enum RemoteCommand {
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// List and revoke devices' login tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Create and list regional databases.
    #[command(subcommand)]
    Db(DbCommand),
    /// Show the log of administration changes, newest first.
    Log {
        /// How many entries (at most 1,000).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show the state of each relay to the national server (`GET /api/relay`).
    Relays,
}

/// Runs `args.command` against the server at `args.server`.
pub async fn run(args: RemoteArgs) -> Result<(), String> {
    let base = server_url(&args.server)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("cannot set up an HTTP client: {e}"))?;
    let session = Session::sign_in(client, base, &args).await?;
    let result = session.execute(args.command).await;
    session.sign_out().await;
    result
}

/// The server's base URL without a trailing slash.
pub(crate) fn server_url(server: &str) -> Result<String, String> {
    let url = server.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("{server:?} is not a server address; give one like http://127.0.0.1:8080")
        })?;
    if rest.is_empty() || rest.contains(['/', '?', '#']) {
        return Err(format!(
            "{server:?} must be just the server's address, like http://127.0.0.1:8080"
        ));
    }
    Ok(url.to_owned())
}

pub(crate) struct Session {
    client: reqwest::Client,
    base: String,
    token: String,
    /// Whether the token is this command's own login, to revoke at the end.
    own_login: bool,
}

impl Session {
    async fn sign_in(
        client: reqwest::Client,
        base: String,
        args: &RemoteArgs,
    ) -> Result<Self, String> {
        Self::sign_in_as(client, base, args.admin.clone(), args.admin_password_stdin).await
    }

    /// Signs in as `admin` (password from `CHASKI_ADMIN_PASSWORD`, or standard input with
    /// `admin_password_stdin`), or uses the token in `CHASKI_TOKEN`. Also for `chaski keys
    /// --server` ([`crate::keys::cli`]).
    pub(crate) async fn sign_in_as(
        client: reqwest::Client,
        base: String,
        admin: Option<String>,
        admin_password_stdin: bool,
    ) -> Result<Self, String> {
        if let Ok(token) = std::env::var("CHASKI_TOKEN") {
            if !token.trim().is_empty() {
                return Ok(Self {
                    client,
                    base,
                    token: token.trim().to_owned(),
                    own_login: false,
                });
            }
        }
        let name = admin.ok_or_else(|| {
            "say which administrator signs in: --as ADMIN (or CHASKI_ADMIN_NAME), or put a \
             token from POST /api/login in CHASKI_TOKEN"
                .to_owned()
        })?;
        let password = read_secret(
            admin_password_stdin,
            "CHASKI_ADMIN_PASSWORD",
            "--admin-password-stdin",
        )
        .map_err(|e| format!("the administrator's password: {e}"))?;
        let answer = send(
            client
                .post(format!("{base}/api/login"))
                .header(CONTENT_TYPE, "application/json")
                .body(json!({"name": name, "password": password, "device": DEVICE}).to_string()),
            &base,
        )
        .await
        .map_err(|e| format!("cannot sign in as {name}: {e}"))?;
        let token = answer["token"]
            .as_str()
            .ok_or_else(|| format!("{base} answered the login without a token: is it chaski?"))?
            .to_owned();
        Ok(Self {
            client,
            base,
            token,
            own_login: true,
        })
    }

    /// Revokes this command's own token; a failure only leaves a token that expires.
    pub(crate) async fn sign_out(&self) {
        if self.own_login {
            let _ = self
                .client
                .post(format!("{}/api/logout", self.base))
                .bearer_auth(&self.token)
                .send()
                .await;
        }
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, String> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let answer = send(request, &self.base).await?;
        serde_json::from_value(answer)
            .map_err(|e| format!("{} answered in an unexpected shape: {e}", self.base))
    }

    async fn execute(&self, command: RemoteCommand) -> Result<(), String> {
        match command {
            RemoteCommand::User(cmd) => self.user(cmd).await,
            RemoteCommand::Tokens(TokensCommand::List { user }) => {
                let path = match &user {
                    Some(user) => format!("/api/admin/tokens?user={}", encode(user)),
                    None => "/api/admin/tokens".to_owned(),
                };
                let tokens: Vec<AdminToken> = self.call(Method::GET, &path, None).await?;
                println!("id\tuser\tdevice\tcreated\texpires");
                for token in tokens.iter().filter(|t| !t.revoked) {
                    println!("{}", token_line(&token.token));
                }
                Ok(())
            }
            RemoteCommand::Tokens(TokensCommand::Revoke { id }) => {
                let path = format!("/api/admin/tokens/{}/revoke", encode(&id));
                let answer: Value = self.call(Method::POST, &path, None).await?;
                let revoked = &answer["revoked"];
                println!(
                    "revoked token {} of {} ({})",
                    id,
                    revoked["user"].as_str().unwrap_or("?"),
                    revoked["device"].as_str().unwrap_or("?")
                );
                Ok(())
            }
            RemoteCommand::Db(DbCommand::Create {
                regions,
                all_regions,
            }) => {
                for name in databases_to_create(regions, all_regions)? {
                    let created = self
                        .call::<Value>(
                            Method::POST,
                            "/api/admin/databases",
                            Some(json!({ "name": name })),
                        )
                        .await;
                    match created {
                        Ok(_) => println!("{name}\tcreated"),
                        Err(e) if e.contains("HTTP 409") => println!("{name}\texists"),
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            RemoteCommand::Db(DbCommand::List) => {
                let names: Vec<String> =
                    self.call(Method::GET, "/api/admin/databases", None).await?;
                names.iter().for_each(|name| println!("{name}"));
                Ok(())
            }
            RemoteCommand::Relays => {
                let relays: Vec<Value> = self.call(Method::GET, "/api/relay", None).await?;
                println!("name\tdb\ttarget\tdirection\tstate\tlast_success\tpending\tlast_error");
                for relay in &relays {
                    let fields = [
                        "name",
                        "db",
                        "target",
                        "direction",
                        "state",
                        "last_success",
                        "pending",
                        "last_error",
                    ]
                    .map(|key| match &relay[key] {
                        Value::Null => "-".to_owned(),
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    });
                    println!("{}", fields.join("\t"));
                }
                Ok(())
            }
            RemoteCommand::Log { limit } => {
                let path = format!("/api/admin/log?limit={limit}");
                let entries: Vec<AuditEntry> = self.call(Method::GET, &path, None).await?;
                print_log(&entries);
                Ok(())
            }
        }
    }

    async fn user(&self, cmd: UserCommand) -> Result<(), String> {
        let user_path = |name: &str| format!("/api/admin/users/{}", encode(name));
        let (verb, path, method, body) = match cmd {
            UserCommand::Add {
                name,
                role,
                regions,
                password_stdin,
            } => {
                let password = read_password(password_stdin)?;
                let body = json!({"name": name, "password": password, "role": role,
                                  "regions": regions});
                ("added", "/api/admin/users".to_owned(), Method::POST, body)
            }
            UserCommand::Disable { name } => (
                "disabled",
                user_path(&name),
                Method::PATCH,
                json!({"disabled": true}),
            ),
            UserCommand::Enable { name } => (
                "enabled",
                user_path(&name),
                Method::PATCH,
                json!({"disabled": false}),
            ),
            UserCommand::Regions { name, regions } => (
                "updated",
                user_path(&name),
                Method::PATCH,
                json!({ "regions": regions }),
            ),
            UserCommand::Role { name, role } => (
                "updated",
                user_path(&name),
                Method::PATCH,
                json!({ "role": role }),
            ),
            UserCommand::Password {
                name,
                password_stdin,
            } => {
                let password = read_password(password_stdin)?;
                let path = format!("{}/password", user_path(&name));
                self.call::<Value>(Method::POST, &path, Some(json!({ "password": password })))
                    .await?;
                println!("password changed for {name}");
                return Ok(());
            }
            UserCommand::List => {
                let users: Vec<UserInfo> = self.call(Method::GET, "/api/admin/users", None).await?;
                println!("name\trole\tregions\tstate");
                users.iter().for_each(|u| println!("{}", user_line(u)));
                return Ok(());
            }
        };
        let user: UserInfo = self.call(method, &path, Some(body)).await?;
        println!("{verb} {}", user_line(&user));
        Ok(())
    }
}

/// Sends a request; a 2xx answer's JSON, or the server's reason with the status.
async fn send(request: reqwest::RequestBuilder, base: &str) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| {
        let tls = if base.starts_with("https://") {
            " If this chaski was built without TLS, use the server's plain-HTTP address on its \
             machine (its --bind, e.g. http://127.0.0.1:8080) or an SSH tunnel."
        } else {
            ""
        };
        format!("cannot reach {base}: {e}. Is the server running there?{tls}")
    })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{base} broke off its answer: {e}"))?;
    let json: Option<Value> = serde_json::from_str(&text).ok();
    if status.is_success() {
        return json.ok_or_else(|| format!("{base} answered something other than JSON"));
    }
    let reason = json
        .as_ref()
        .and_then(|j| j["reason"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(200).collect());
    Err(format!("{reason} (HTTP {})", status.as_u16()))
}

/// Percent-encodes a path segment or query value (names are plain words; anything else is
/// sent as it is written, for the server to refuse with its reason).
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_a_scheme_a_host_and_a_port() {
        assert_eq!(
            server_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            server_url("https://office.example").unwrap(),
            "https://office.example"
        );
        assert!(server_url("127.0.0.1:8080").is_err());
        assert!(server_url("http://a/b").is_err());
    }

    #[test]
    fn odd_names_are_encoded_not_spliced_into_the_path() {
        assert_eq!(encode("ana.q"), "ana.q");
        assert_eq!(encode("a/b?c"), "a%2Fb%3Fc");
    }
}
