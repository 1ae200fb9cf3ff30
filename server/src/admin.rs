//! Administration from the command line: users, device tokens, backup and restore.
//!
//! These commands open the data folder directly, so they run while the server is stopped;
//! sled's lock refuses a folder that a running server holds, and the message then says how to
//! do the same through the running server: its admin page, `chaski admin --server URL …`
//! ([`crate::admin_remote`]) or the admin API with `curl`. Changes go through
//! [`crate::admin_ops`], so the safety rules and the audit log are the API's.

use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::admin_ops::{cli_actor, AdminOps, UserChange};
use crate::auth::{accounts::DEFAULT_TOKEN_TTL, Accounts, Role, TokenInfo, UserInfo};
use crate::config::Config;
use crate::storage::Storage;

/// The administration subcommands of `chaski`.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Manage users (server stopped; while it runs: `chaski admin --server URL user …`).
    #[command(subcommand)]
    User(UserCommand),
    /// List and revoke devices' login tokens (server stopped; while it runs: `chaski admin
    /// --server URL tokens …`).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Create and list regional databases (server stopped; while it runs: `chaski admin
    /// --server URL db …`).
    #[command(subcommand)]
    Db(DbCommand),
    /// Show the log of administration changes, newest first (server stopped); `chaski log
    /// verify` checks the custody log instead (the same as `chaski custody verify`).
    Log {
        /// How many entries (at most 1,000).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(subcommand)]
        action: Option<LogAction>,
    },
    /// Write every tree of the data folder to FILE, with a checksum (server stopped).
    Backup { file: PathBuf },
    /// Restore a backup FILE into the data folder, which must be empty or absent unless
    /// --force (the old folder is then kept beside it, renamed).
    Restore {
        file: PathBuf,
        /// Replace a data folder that already holds data.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user. The password comes from --password-stdin or the CHASKI_PASSWORD variable,
    /// never from the command line (other users could read it in the process list).
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// A region's database (repeat for several): amazonas, ancash, …, madre-de-dios, …
        #[arg(long = "region")]
        regions: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: their password and every device token stop working at once.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// Replace a user's regions (none given: no region).
    Regions { name: String, regions: Vec<String> },
    /// Set a user's role.
    Role {
        name: String,
        #[arg(value_enum)]
        role: Role,
    },
    /// Set a new password (from --password-stdin or CHASKI_PASSWORD).
    Password {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List every user.
    List,
}

/// What `chaski log` does besides listing.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum LogAction {
    /// Recompute the custody log from the stored documents and attachments (server stopped);
    /// exits non-zero on any mismatch. The same as `chaski custody verify`.
    Verify,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DbCommand {
    /// Create the databases of the given regions (e.g. madre-de-dios), or of all 25 with
    /// --all-regions. Existing ones are left as they are.
    Create {
        regions: Vec<String>,
        #[arg(long)]
        all_regions: bool,
    },
    /// List the databases.
    List,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokensCommand {
    /// List the live tokens (of one user with --user).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its id: that device is cut off at once.
    Revoke { id: String },
}

/// Runs an administration command on the data folder of `config`.
pub async fn run(config: &Config, command: AdminCommand) -> Result<(), String> {
    let data_dir = config.data_dir.as_path();
    let running = running_server_hint(&command, &local_url(config.bind));
    match command {
        AdminCommand::User(cmd) => user(&open_ops(data_dir, &running)?, cmd).await,
        AdminCommand::Tokens(cmd) => tokens(&open_ops(data_dir, &running)?, cmd).await,
        AdminCommand::Db(DbCommand::Create {
            regions,
            all_regions,
        }) => {
            let names = databases_to_create(regions, all_regions)?;
            create_databases(&open_ops(data_dir, &running)?, names).await
        }
        AdminCommand::Db(DbCommand::List) => {
            open_ops(data_dir, &running)?
                .databases()
                .iter()
                .for_each(|name| println!("{name}"));
            Ok(())
        }
        AdminCommand::Log {
            action: Some(LogAction::Verify),
            ..
        } => crate::custody::verify::run(data_dir),
        AdminCommand::Log { limit, .. } => {
            let entries = open_ops(data_dir, &running)?
                .log(limit)
                .await
                .map_err(|e| e.to_string())?;
            print_log(&entries);
            Ok(())
        }
        AdminCommand::Backup { file } => {
            let (n_trees, n_items) = backup(data_dir, &file)?;
            println!(
                "backed up {n_items} records in {n_trees} trees from {} to {}",
                data_dir.display(),
                file.display()
            );
            Ok(())
        }
        AdminCommand::Restore { file, force } => {
            let outcome = restore(&file, data_dir, force)?;
            println!(
                "restored {} records in {} trees from {} into {}",
                outcome.items,
                outcome.trees,
                file.display(),
                data_dir.display()
            );
            if let Some(old) = outcome.previous {
                println!("the previous data folder was kept as {}", old.display());
            }
            Ok(())
        }
    }
}

fn open(data_dir: &Path) -> Result<(Storage, Accounts), String> {
    open_or(
        data_dir,
        "Stop the server first: these commands need it to themselves.",
    )
}

/// Opens the data folder; `running` is what to say when a running server holds it.
fn open_or(data_dir: &Path, running: &str) -> Result<(Storage, Accounts), String> {
    let storage = open_storage(data_dir, running)?;
    let accounts = Accounts::open(&storage, DEFAULT_TOKEN_TTL).map_err(|e| e.to_string())?;
    Ok((storage, accounts))
}

/// Opens the data folder's store for a command that needs it to itself; `running` is what to
/// say when a running server holds it (sled's lock).
pub(crate) fn open_storage(data_dir: &Path, running: &str) -> Result<Storage, String> {
    Storage::open(data_dir).map_err(|e| {
        // sled's words when another process holds the folder's lock.
        if e.to_string().contains("could not acquire lock") {
            format!(
                "the data folder {} is in use by a running chaski server. {running}",
                data_dir.display()
            )
        } else {
            format!(
                "cannot open the data folder {}: {e}. Stop the server first: these commands \
                 need it to themselves.",
                data_dir.display()
            )
        }
    })
}

fn open_ops(data_dir: &Path, running: &str) -> Result<AdminOps, String> {
    let (storage, accounts) = open_or(data_dir, running)?;
    let databases = crate::db::Databases::open(storage.sled()).map_err(|e| e.to_string())?;
    AdminOps::open(&storage, accounts, databases).map_err(|e| e.to_string())
}

/// One line of `user list`: name, role, regions, state, tab-separated.
pub fn user_line(u: &UserInfo) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        u.name,
        u.role,
        if u.regions.is_empty() {
            "-".to_owned()
        } else {
            u.regions.iter().cloned().collect::<Vec<_>>().join(",")
        },
        if u.disabled { "disabled" } else { "enabled" }
    )
}

/// One line of `tokens list`: id, user, device, created, expires, tab-separated.
pub fn token_line(t: &TokenInfo) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        t.id, t.user, t.device, t.created_at, t.expires_at
    )
}

/// The log, one change a line: when, who, what, on what, detail.
pub fn print_log(entries: &[crate::audit::AuditEntry]) {
    println!("at\tby\taction\ttarget\tdetail");
    for e in entries {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            e.at, e.by, e.action, e.target, e.detail
        );
    }
}

async fn user(ops: &AdminOps, cmd: UserCommand) -> Result<(), String> {
    let by = cli_actor();
    let change = |role, regions, disabled| UserChange {
        role,
        regions,
        disabled,
    };
    let (verb, user) = match cmd {
        UserCommand::Add {
            name,
            role,
            regions,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            (
                "added",
                ops.add_user(&by, &name, &password, role, regions).await,
            )
        }
        UserCommand::Disable { name } => (
            "disabled",
            ops.change_user(&by, &name, change(None, None, Some(true)))
                .await,
        ),
        UserCommand::Enable { name } => (
            "enabled",
            ops.change_user(&by, &name, change(None, None, Some(false)))
                .await,
        ),
        UserCommand::Regions { name, regions } => (
            "updated",
            ops.change_user(&by, &name, change(None, Some(regions), None))
                .await,
        ),
        UserCommand::Role { name, role } => (
            "updated",
            ops.change_user(&by, &name, change(Some(role), None, None))
                .await,
        ),
        UserCommand::Password {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            ops.set_password(&by, &name, &password)
                .await
                .map_err(|e| e.to_string())?;
            println!("password changed for {name}");
            return Ok(());
        }
        UserCommand::List => {
            let users = ops.users().await.map_err(|e| e.to_string())?;
            println!("name\trole\tregions\tstate");
            users.iter().for_each(|u| println!("{}", user_line(u)));
            return Ok(());
        }
    };
    let user = user.map_err(|e| e.to_string())?;
    println!("{verb} {}", user_line(&user));
    Ok(())
}

async fn tokens(ops: &AdminOps, cmd: TokensCommand) -> Result<(), String> {
    match cmd {
        TokensCommand::List { user } => {
            let tokens = ops.tokens(user).await.map_err(|e| e.to_string())?;
            println!("id\tuser\tdevice\tcreated\texpires");
            for token in tokens.iter().filter(|t| !t.revoked) {
                println!("{}", token_line(&token.token));
            }
        }
        TokensCommand::Revoke { id } => {
            let revoked = ops
                .revoke_token(&cli_actor(), &id)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "revoked token {} of {} ({})",
                revoked.id, revoked.user, revoked.device
            );
        }
    }
    Ok(())
}

/// The regions to create: those named, or all 25; each must be a region.
pub fn databases_to_create(regions: Vec<String>, all_regions: bool) -> Result<Vec<String>, String> {
    let names: Vec<String> = if all_regions {
        crate::regions::db_names().map(str::to_owned).collect()
    } else {
        regions
    };
    if names.is_empty() {
        return Err("name the regions to create (e.g. madre-de-dios), or use --all-regions".into());
    }
    if let Some(bad) = names.iter().find(|n| !crate::regions::is_region_db(n)) {
        return Err(format!(
            "{bad:?} is not a region; use one of: {}",
            crate::regions::db_names().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(names)
}

async fn create_databases(ops: &AdminOps, names: Vec<String>) -> Result<(), String> {
    let by = cli_actor();
    for name in names {
        let created = ops
            .create_database(&by, &name)
            .await
            .map_err(|e| e.to_string())?;
        println!("{name}\t{}", if created { "created" } else { "exists" });
    }
    Ok(())
}

/// The server's address as seen from this machine, from `--bind`.
fn local_url(bind: SocketAddr) -> String {
    let ip = match bind.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{ip}:{}", bind.port())
}

/// A word for a shell: as it is when harmless, else in single quotes.
fn sh(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:@=,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// An admin API call: method, path and JSON body.
type ApiCall = (&'static str, String, Option<serde_json::Value>);

/// What to say when a running server holds the data folder: the same change through the
/// admin page, `chaski admin --server`, or `curl` on the admin API. Passwords are never
/// repeated, only shown as placeholders.
fn running_server_hint(command: &AdminCommand, url: &str) -> String {
    // (the command's words for `chaski admin --server`, the API call: method, path, body)
    let (words, call): (Vec<String>, Option<ApiCall>) = match command {
        AdminCommand::User(cmd) => match cmd {
            UserCommand::Add {
                name,
                role,
                regions,
                ..
            } => {
                let mut words = vec!["user".into(), "add".into(), sh(name)];
                words.extend(["--role".into(), role.to_string()]);
                for r in regions {
                    words.extend(["--region".into(), sh(r)]);
                }
                words.push("--password-stdin".into());
                let body = serde_json::json!({"name": name, "password": "<new password>",
                        "role": role, "regions": regions});
                (words, Some(("POST", "/api/admin/users".into(), Some(body))))
            }
            UserCommand::Disable { name } | UserCommand::Enable { name } => {
                let disable = matches!(cmd, UserCommand::Disable { .. });
                let verb = if disable { "disable" } else { "enable" };
                (
                    vec!["user".into(), verb.into(), sh(name)],
                    Some((
                        "PATCH",
                        format!("/api/admin/users/{name}"),
                        Some(serde_json::json!({ "disabled": disable })),
                    )),
                )
            }
            UserCommand::Regions { name, regions } => {
                let mut words = vec!["user".into(), "regions".into(), sh(name)];
                words.extend(regions.iter().map(|r| sh(r)));
                (
                    words,
                    Some((
                        "PATCH",
                        format!("/api/admin/users/{name}"),
                        Some(serde_json::json!({ "regions": regions })),
                    )),
                )
            }
            UserCommand::Role { name, role } => (
                vec!["user".into(), "role".into(), sh(name), role.to_string()],
                Some((
                    "PATCH",
                    format!("/api/admin/users/{name}"),
                    Some(serde_json::json!({ "role": role })),
                )),
            ),
            UserCommand::Password { name, .. } => (
                vec![
                    "user".into(),
                    "password".into(),
                    sh(name),
                    "--password-stdin".into(),
                ],
                Some((
                    "POST",
                    format!("/api/admin/users/{name}/password"),
                    Some(serde_json::json!({"password": "<new password>"})),
                )),
            ),
            UserCommand::List => (
                vec!["user".into(), "list".into()],
                Some(("GET", "/api/admin/users".into(), None)),
            ),
        },
        AdminCommand::Tokens(TokensCommand::List { user }) => {
            let mut words = vec!["tokens".into(), "list".into()];
            let mut path = "/api/admin/tokens".to_owned();
            if let Some(user) = user {
                words.extend(["--user".into(), sh(user)]);
                path.push_str(&format!("?user={user}"));
            }
            (words, Some(("GET", path, None)))
        }
        AdminCommand::Tokens(TokensCommand::Revoke { id }) => (
            vec!["tokens".into(), "revoke".into(), sh(id)],
            Some(("POST", format!("/api/admin/tokens/{id}/revoke"), None)),
        ),
        AdminCommand::Db(DbCommand::Create {
            regions,
            all_regions,
        }) => {
            let mut words = vec!["db".into(), "create".into()];
            words.extend(regions.iter().map(|r| sh(r)));
            if *all_regions {
                words.push("--all-regions".into());
            }
            let first = regions.first().map_or("loreto", String::as_str);
            (
                words,
                Some((
                    "POST",
                    "/api/admin/databases".into(),
                    Some(serde_json::json!({ "name": first })),
                )),
            )
        }
        AdminCommand::Db(DbCommand::List) => (
            vec!["db".into(), "list".into()],
            Some(("GET", "/api/admin/databases".into(), None)),
        ),
        AdminCommand::Log {
            action: Some(LogAction::Verify),
            ..
        } => (Vec::new(), None),
        AdminCommand::Log { limit, .. } => (
            vec!["log".into(), "--limit".into(), limit.to_string()],
            Some(("GET", format!("/api/admin/log?limit={limit}"), None)),
        ),
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } => (Vec::new(), None),
    };
    let Some((method, path, body)) = call else {
        return "Stop the server first: a backup, a restore or `chaski log verify` needs the data folder to itself."
            .to_owned();
    };
    let mut curl = format!(
        "curl -X {method} {} -H \"Authorization: Bearer $TOKEN\"",
        sh(&format!("{url}{path}"))
    );
    if let Some(body) = body {
        curl.push_str(&format!(
            " -H 'Content-Type: application/json' -d {}",
            sh(&body.to_string())
        ));
    }
    format!(
        "Stop the server first to work on the folder directly, or do the same while it runs \
         (as an administrator; {url} is this machine's --bind address):\n\
         \x20 on the admin page:  {url}/office/admin\n\
         \x20 from this command:  chaski admin --server {url} --as <admin> {words}\n\
         \x20                     (the admin's password from CHASKI_ADMIN_PASSWORD, or \
         --admin-password-stdin)\n\
         \x20 with curl:          TOKEN=$(curl -s -X POST '{url}/api/login' -H \
         'Content-Type: application/json' -d \
         '{{\"name\":\"<admin>\",\"password\":\"<password>\",\"device\":\"curl\"}}' \
         | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')\n\
         \x20                     {curl}",
        words = words.join(" ")
    )
}

/// A password from the first unread line of standard input (`from_stdin`), else from the
/// environment variable `var`; never from the command line.
pub fn read_secret(from_stdin: bool, var: &str, flag: &str) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            return Err("no password on standard input".to_owned());
        }
        return Ok(password);
    }
    match std::env::var(var) {
        Ok(password) if !password.is_empty() => Ok(password),
        _ => Err(format!(
            "give the password on standard input with {flag}, or in the {var} environment \
             variable (never on the command line)"
        )),
    }
}

pub(crate) fn read_password(from_stdin: bool) -> Result<String, String> {
    read_secret(from_stdin, "CHASKI_PASSWORD", "--password-stdin")
}

/// The first bytes of a backup file.
const MAGIC: &[u8] = b"CHASKI-BACKUP\n";
/// The format written today; a newer one is refused with a clear message.
const FORMAT_VERSION: u32 = 1;
const TAG_COLLECTION: u8 = 1;
const TAG_ITEM: u8 = 2;
const TAG_END: u8 = 0;

/// Writes every tree of `data_dir` to `file`: magic, version, the collections from sled's
/// `export()`, and a SHA-256 of all that at the end. Written to a temporary file, synced, then
/// renamed, so a crash never leaves half a backup under the real name.
/// Returns (trees, records).
pub fn backup(data_dir: &Path, file: &Path) -> Result<(usize, usize), String> {
    if !data_dir.is_dir() {
        return Err(format!("there is no data folder at {}", data_dir.display()));
    }
    let (storage, _accounts) = open(data_dir)?;
    let tmp = temp_path(file);
    let result = write_backup(storage.sled(), &tmp);
    match result {
        Ok(counts) => {
            std::fs::rename(&tmp, file)
                .map_err(|e| format!("cannot move the backup to {}: {e}", file.display()))?;
            Ok(counts)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn write_backup(db: &sled::Db, tmp: &Path) -> Result<(usize, usize), String> {
    let err = |e: std::io::Error| format!("cannot write the backup {}: {e}", tmp.display());
    let f = std::fs::File::create(tmp).map_err(err)?;
    let mut out = HashingWriter {
        inner: std::io::BufWriter::new(f),
        hasher: Sha256::new(),
    };
    out.write_all(MAGIC).map_err(err)?;
    out.write_all(&FORMAT_VERSION.to_be_bytes()).map_err(err)?;
    let (mut trees, mut items) = (0, 0);
    for (kind, name, records) in db.export() {
        trees += 1;
        out.write_all(&[TAG_COLLECTION]).map_err(err)?;
        write_chunk(&mut out, &kind).map_err(err)?;
        write_chunk(&mut out, &name).map_err(err)?;
        for fields in records {
            items += 1;
            out.write_all(&[TAG_ITEM]).map_err(err)?;
            out.write_all(&(fields.len() as u32).to_be_bytes())
                .map_err(err)?;
            for field in &fields {
                write_chunk(&mut out, field).map_err(err)?;
            }
        }
    }
    out.write_all(&[TAG_END]).map_err(err)?;
    let digest = out.hasher.finalize();
    let mut inner = out.inner;
    inner.write_all(&digest).map_err(err)?;
    let f = inner.into_inner().map_err(|e| err(e.into_error()))?;
    f.sync_all().map_err(err)?;
    Ok((trees, items))
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_chunk(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u32).to_be_bytes())?;
    out.write_all(bytes)
}

type Collection = (Vec<u8>, Vec<u8>, Vec<Vec<Vec<u8>>>);

/// Reads and checks a backup file: the magic, the version and the checksum must all hold.
fn read_backup(file: &Path) -> Result<Vec<Collection>, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read the backup {}: {e}", file.display()))?;
    let corrupt = |why: &str| {
        format!(
            "{} is not a usable Chaski backup ({why}); nothing was restored",
            file.display()
        )
    };
    if !bytes.starts_with(MAGIC) {
        return Err(corrupt("it does not start like one"));
    }
    if bytes.len() < MAGIC.len() + 4 + 1 + 32 {
        return Err(corrupt("it is truncated"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err(corrupt(
            "its checksum does not match: it is damaged or truncated",
        ));
    }
    let mut r = Reader {
        bytes: body,
        pos: MAGIC.len(),
    };
    let version = r.u32().ok_or_else(|| corrupt("no version"))?;
    if version != FORMAT_VERSION {
        return Err(corrupt(&format!(
            "format version {version}; this chaski reads version {FORMAT_VERSION}"
        )));
    }
    let mut collections: Vec<Collection> = Vec::new();
    loop {
        match r.u8().ok_or_else(|| corrupt("it ends early"))? {
            TAG_END => break,
            TAG_COLLECTION => {
                let kind = r.chunk().ok_or_else(|| corrupt("bad collection"))?;
                let name = r.chunk().ok_or_else(|| corrupt("bad collection"))?;
                if kind != b"tree" {
                    return Err(corrupt("unknown collection kind"));
                }
                collections.push((kind, name, Vec::new()));
            }
            TAG_ITEM => {
                let n = r.u32().ok_or_else(|| corrupt("bad record"))?;
                if n != 2 {
                    return Err(corrupt("a record is not a key and a value"));
                }
                let key = r.chunk().ok_or_else(|| corrupt("bad record"))?;
                let value = r.chunk().ok_or_else(|| corrupt("bad record"))?;
                collections
                    .last_mut()
                    .ok_or_else(|| corrupt("a record outside any tree"))?
                    .2
                    .push(vec![key, value]);
            }
            _ => return Err(corrupt("unknown entry")),
        }
    }
    if r.pos != body.len() {
        return Err(corrupt("bytes after the end"));
    }
    Ok(collections)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }
    fn chunk(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        self.take(n).map(<[u8]>::to_vec)
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub trees: usize,
    pub items: usize,
    /// Where the data folder that was replaced now is (with `--force`).
    pub previous: Option<PathBuf>,
}

/// Restores `file` into `data_dir`. The backup is checked in full first; the data goes into a
/// new folder beside `data_dir`, which replaces it only once complete and flushed.
pub fn restore(file: &Path, data_dir: &Path, force: bool) -> Result<Restored, String> {
    let collections = read_backup(file)?;
    let occupied = data_dir
        .read_dir()
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    if occupied && !force {
        return Err(format!(
            "the data folder {} already holds data; restore into an empty or new folder, or \
             add --force to replace it (the old folder is kept, renamed)",
            data_dir.display()
        ));
    }
    if occupied {
        // Refuses at once if a server is running on it.
        drop(open(data_dir)?);
    }
    let staging = sibling(data_dir, "restoring");
    let _ = std::fs::remove_dir_all(&staging);
    let (trees, items) = import(&staging, collections).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staging);
    })?;
    let previous = if occupied {
        let old = sibling(
            data_dir,
            &format!("before-restore-{}", crate::auth::accounts::now_secs()),
        );
        std::fs::rename(data_dir, &old)
            .map_err(|e| format!("cannot move the old data folder aside: {e}"))?;
        Some(old)
    } else {
        if data_dir.exists() {
            let _ = std::fs::remove_dir(data_dir);
        }
        None
    };
    std::fs::rename(&staging, data_dir).map_err(|e| {
        format!(
            "the restored data is complete in {} but cannot be moved to {}: {e}",
            staging.display(),
            data_dir.display()
        )
    })?;
    Ok(Restored {
        trees,
        items,
        previous,
    })
}

fn import(dir: &Path, collections: Vec<Collection>) -> Result<(usize, usize), String> {
    let err = |e: sled::Error| format!("cannot write the restored data in {}: {e}", dir.display());
    let db = crate::storage::open_sled(dir).map_err(err)?;
    let (mut trees, mut items) = (0, 0);
    // Like sled's own `import`, but with errors instead of panics.
    for (_, name, records) in collections {
        trees += 1;
        let tree = db.open_tree(name).map_err(err)?;
        for mut kv in records {
            let (Some(value), Some(key)) = (kv.pop(), kv.pop()) else {
                return Err("a record is not a key and a value".to_owned());
            };
            tree.insert(key, value).map_err(err)?;
            items += 1;
        }
    }
    db.flush().map_err(err)?;
    Ok((trees, items))
}

fn temp_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    file.with_file_name(name)
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_restores_every_tree_and_a_damaged_one_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        {
            let db = sled::open(&data).unwrap();
            db.open_tree("t1").unwrap().insert(b"k", b"v").unwrap();
            db.insert(b"root", b"r").unwrap();
            db.flush().unwrap();
        }
        let file = temp.path().join("backup.chaski");
        backup(&data, &file).unwrap();

        let restored = temp.path().join("restored");
        let outcome = restore(&file, &restored, false).unwrap();
        assert!(outcome.items >= 2 && outcome.previous.is_none());
        let db = crate::storage::open_sled(&restored).unwrap();
        assert_eq!(
            db.open_tree("t1").unwrap().get(b"k").unwrap().unwrap(),
            b"v".as_slice()
        );
        assert_eq!(db.get(b"root").unwrap().unwrap(), b"r".as_slice());
        drop(db);

        // Not over existing data without --force.
        assert!(restore(&file, &restored, false)
            .unwrap_err()
            .contains("--force"));
        let replaced = restore(&file, &restored, true).unwrap();
        assert!(replaced.previous.is_some_and(|p| p.is_dir()));

        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&file, &bytes).unwrap();
        let err = restore(&file, &temp.path().join("other"), false).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        assert!(!temp.path().join("other").exists());
    }
}
