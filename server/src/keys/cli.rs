//! `chaski keys create --region R` and `chaski keys list`: a region's sealing key made on this
//! machine, its private half wrapped under a passphrase before it leaves this process, then
//! stored in the data folder (server stopped) or sent to a running server (`--server URL`,
//! signed in as an administrator as `chaski admin --server` is).
//!
//! The passphrase comes from `--passphrase-file F` (its first line), the
//! `CHASKI_KEY_PASSPHRASE` variable, or is typed twice on the terminal with echo off; never
//! from the command line. It is checked ([`super::check_passphrase`]), used to wrap the key,
//! and zeroed; nothing prints or logs it, nor the private key.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use zeroize::Zeroizing;

use super::{KeyStore, StoredKey};
use crate::admin_remote::{encode, server_url, Session};

/// The variable a passphrase may come from (for scripts; a person types it).
pub const PASSPHRASE_VAR: &str = "CHASKI_KEY_PASSPHRASE";

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make a new key pair for a region and store it, its private half wrapped under a
    /// passphrase. It becomes the region's current key: tablets seal new records to it; older
    /// keys are kept and still open older records.
    Create {
        /// The region (its database name: loreto, madre-de-dios, …).
        #[arg(long)]
        region: String,
        /// Read the passphrase from the first line of this file (else CHASKI_KEY_PASSPHRASE,
        /// else it is asked twice on the terminal).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        remote: RemoteOpts,
    },
    /// List the keys of one region (or of every region), newest first.
    List {
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        remote: RemoteOpts,
    },
}

/// How to reach a running server instead of the data folder.
#[derive(Debug, clap::Args)]
pub struct RemoteOpts {
    /// A running server (e.g. http://127.0.0.1:8080): the key is sent to its admin API.
    #[arg(long)]
    pub server: Option<String>,
    /// The administrator who signs in (or a token in CHASKI_TOKEN).
    #[arg(long = "as", value_name = "ADMIN", env = "CHASKI_ADMIN_NAME")]
    pub admin: Option<String>,
    /// Read the administrator's password from standard input (else CHASKI_ADMIN_PASSWORD).
    #[arg(long)]
    pub admin_password_stdin: bool,
}

/// Runs a `chaski keys` command on `data_dir` (or the server it names).
pub async fn run(data_dir: &Path, command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::Create {
            region,
            passphrase_file,
            remote,
        } => create(data_dir, &region, passphrase_file.as_deref(), remote).await,
        KeysCommand::List { region, remote } => list(data_dir, region, remote).await,
    }
}

async fn create(
    data_dir: &Path,
    region: &str,
    passphrase_file: Option<&Path>,
    remote: RemoteOpts,
) -> Result<(), String> {
    if !crate::regions::is_region_db(region) {
        return Err(format!(
            "{region:?} is not a region; use one of: {}",
            crate::regions::db_names().collect::<Vec<_>>().join(", ")
        ));
    }
    // The data folder first: a running server holding it is said before anyone types a
    // passphrase for nothing.
    let local = match &remote.server {
        None => Some(open(data_dir)?),
        Some(_) => None,
    };
    let passphrase = read_passphrase(passphrase_file, region)?;
    super::check_passphrase(&passphrase, region)?;
    let secret = chaski_seal::generate().map_err(|e| e.to_string())?;
    let public = secret.public();
    let key_id = chaski_seal::key_id(region, &public);
    // argon2id at 64 MiB: a blocking second, off the async workers.
    let wrapped = {
        let (key_id, region) = (key_id.clone(), region.to_owned());
        tokio::task::spawn_blocking(move || {
            chaski_seal::wrap(&secret, &key_id, &passphrase)
                .map_err(|e| format!("cannot wrap the key of {region}: {e}"))
        })
        .await
        .map_err(|e| format!("key task: {e}"))??
    };
    let public_b64 = public.to_b64();
    let (stored, older) = match (remote.server, local) {
        (Some(server), _) => {
            let session = sign_in(&server, &remote.admin, remote.admin_password_stdin).await?;
            let answer: Result<StoredKey, String> = session
                .call(
                    Method::POST,
                    "/api/admin/keys",
                    Some(
                        json!({"region": region, "public_key_b64": public_b64, "wrapped": wrapped}),
                    ),
                )
                .await;
            let older = match &answer {
                Ok(_) => session
                    .call::<serde_json::Value>(
                        Method::GET,
                        &format!("/api/keys?region={}", encode(region)),
                        None,
                    )
                    .await
                    .ok()
                    .and_then(|v| v["keys"].as_array().map(|a| a.len().saturating_sub(1))),
                Err(_) => None,
            };
            session.sign_out().await;
            (answer?, older.unwrap_or(0))
        }
        (None, local) => {
            let cli_actor = crate::admin_ops::cli_actor();
            // The storage is held open (its lock) until the key is stored and logged.
            let (_storage, keys, audit) = match local {
                Some(opened) => opened,
                None => open(data_dir)?,
            };
            let stored = keys
                .add_recorded(&audit, &cli_actor, region, &public_b64, wrapped)
                .await
                .map_err(|e| format!("cannot store the new key: {e}"))?;
            let older = keys.list(region).map_err(|e| e.to_string())?.len() - 1;
            (stored, older)
        }
    };
    println!("created key {} for {region}", stored.key_id);
    println!(
        "It is now the current key of {region}: tablets seal new identities and photos of \
         people to it. {older} older key(s) of {region} are kept and still open older records."
    );
    println!(
        "BACK UP THE PASSPHRASE NOW. It is stored nowhere: write it down and keep it in two \
         safe places (for instance a sealed envelope in the regional director's safe and one \
         at the national office). Without it nobody, not even an administrator, can ever open \
         what is sealed to {}. Back up the data folder too (`chaski backup`): it holds the \
         wrapped key.",
        stored.key_id
    );
    Ok(())
}

async fn list(data_dir: &Path, region: Option<String>, remote: RemoteOpts) -> Result<(), String> {
    let regions: Vec<String> = match region {
        Some(r) if crate::regions::is_region_db(&r) => vec![r],
        Some(r) => return Err(format!("{r:?} is not a region")),
        None => crate::regions::db_names().map(str::to_owned).collect(),
    };
    let mut rows: Vec<StoredKey> = Vec::new();
    match remote.server {
        Some(server) => {
            let session = sign_in(&server, &remote.admin, remote.admin_password_stdin).await?;
            let mut result = Ok(());
            for r in &regions {
                let path = format!("/api/keys?region={}", encode(r));
                match session
                    .call::<serde_json::Value>(Method::GET, &path, None)
                    .await
                {
                    Ok(answer) => {
                        match serde_json::from_value::<Vec<StoredKey>>(answer["keys"].clone()) {
                            Ok(keys) => rows.extend(keys),
                            Err(e) => {
                                // Through `result`: the session is signed out below either way.
                                result = Err(format!("{server} answered an unexpected shape: {e}"));
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            session.sign_out().await;
            result?;
        }
        None => {
            let (_, keys, _) = open(data_dir)?;
            for r in &regions {
                rows.extend(keys.list(r).map_err(|e| e.to_string())?);
            }
        }
    }
    println!("region\tkey_id\tcreated\tstate");
    let mut last_region = None;
    for key in &rows {
        let state = if last_region.as_deref() != Some(key.region.as_str()) {
            "current"
        } else {
            "older"
        };
        last_region = Some(key.region.clone());
        println!(
            "{}\t{}\t{}\t{state}",
            key.region, key.key_id, key.created_at
        );
    }
    Ok(())
}

async fn sign_in(
    server: &str,
    admin: &Option<String>,
    admin_password_stdin: bool,
) -> Result<Session, String> {
    let base = server_url(server)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("cannot set up an HTTP client: {e}"))?;
    Session::sign_in_as(client, base, admin.clone(), admin_password_stdin).await
}

fn open(
    data_dir: &Path,
) -> Result<(crate::storage::Storage, KeyStore, crate::audit::AuditLog), String> {
    let storage = crate::admin::open_storage(
        data_dir,
        "Stop it first, or send the key to it: chaski keys create --region R --server \
         http://127.0.0.1:8080 --as <admin> (the admin's password from \
         CHASKI_ADMIN_PASSWORD, or --admin-password-stdin)",
    )?;
    let keys = KeyStore::open(storage.sled()).map_err(|e| e.to_string())?;
    let audit = crate::audit::AuditLog::open(&storage).map_err(|e| e.to_string())?;
    Ok((storage, keys, audit))
}

/// The passphrase: the file's first line, else the variable, else typed twice on the terminal.
fn read_passphrase(file: Option<&Path>, region: &str) -> Result<Zeroizing<String>, String> {
    if let Some(file) = file {
        let bytes = Zeroizing::new(
            std::fs::read(file)
                .map_err(|e| format!("cannot read the passphrase file {}: {e}", file.display()))?,
        );
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| format!("the passphrase file {} is not UTF-8 text", file.display()))?;
        let line = text.lines().next().unwrap_or_default();
        if line.is_empty() {
            return Err(format!(
                "the passphrase file {} is empty: put the passphrase on its first line",
                file.display()
            ));
        }
        return Ok(Zeroizing::new(line.to_owned()));
    }
    if let Ok(value) = std::env::var(PASSPHRASE_VAR) {
        if !value.is_empty() {
            return Ok(Zeroizing::new(value));
        }
    }
    let first = prompt(&format!("Passphrase for the new key of {region}: "))?;
    let second = prompt("The same passphrase again: ")?;
    if *first != *second {
        return Err("the two passphrases differ; nothing was created".to_owned());
    }
    Ok(first)
}

/// Asks on the terminal (`/dev/tty`) with echo off.
#[cfg(unix)]
fn prompt(question: &str) -> Result<Zeroizing<String>, String> {
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;
    let no_tty = || {
        format!(
            "no passphrase: give --passphrase-file FILE or the {PASSPHRASE_VAR} variable, or \
             run this on a terminal to type it"
        )
    };
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| no_tty())?;
    let fd = tty.as_raw_fd();
    // SAFETY: `termios` is plain data; tcgetattr fills it for a descriptor we hold open.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(no_tty());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: the same descriptor, a termios derived from the one it gave.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let mut out = &tty;
    let _ = out.write_all(question.as_bytes());
    let _ = out.flush();
    let mut line = Zeroizing::new(String::new());
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: restores what tcgetattr read, whatever the read did.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    read.map_err(|e| format!("cannot read the passphrase from the terminal: {e}"))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    Ok(trimmed)
}

#[cfg(not(unix))]
fn prompt(_question: &str) -> Result<Zeroizing<String>, String> {
    Err(format!(
        "give the passphrase with --passphrase-file FILE or the {PASSPHRASE_VAR} variable"
    ))
}
