//! Running the real `chaski` binary from a test on a temporary data folder: administration
//! commands, and the server started on a free port. Shared by the test files that need the
//! binary (`#[path = "support/binary.rs"] mod binary;`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary with `args`, on `data_dir`, quiet, with no password from the environment.
pub fn chaski(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chaski"));
    cmd.args(args)
        .env("CHASKI_DATA_DIR", data_dir)
        .env_remove("CHASKI_PASSWORD")
        .env("RUST_LOG", "warn");
    cmd
}

/// Runs an administration command to its end, with `password` in `CHASKI_PASSWORD` if given.
pub fn run(data_dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = chaski(data_dir, args);
    if let Some(password) = password {
        cmd.env("CHASKI_PASSWORD", password);
    }
    cmd.output().expect("run chaski")
}

/// Starts the server on a free port; returns it, its address (`http://host:port`) and the
/// lines it logged before saying where it listens.
pub fn start_server(data_dir: &Path, static_dir: &Path) -> (Child, String, Vec<String>) {
    let mut cmd = chaski(data_dir, &["--bind", "127.0.0.1:0", "--static-dir"]);
    cmd.arg(static_dir);
    spawn_listening(cmd)
}

/// Starts the server `cmd` describes and waits (20 s at most) until it says where it listens;
/// returns it, its address (`http://host:port`) and the lines it logged before. Its log keeps
/// being read, so it never blocks on a full pipe.
pub fn spawn_listening(mut cmd: Command) -> (Child, String, Vec<String>) {
    let mut child = cmd
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chaski");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no 'listening on' line in 20 s");
        };
        if let Some(rest) = line.split("listening on ").nth(1) {
            return (child, rest.trim().to_owned(), lines);
        }
        lines.push(line);
    }
}
