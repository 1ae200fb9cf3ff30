//! The real `chaski` binary: starts, logs where it listens and keeps its data, and stops
//! cleanly on SIGTERM after flushing its store.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn the_binary_logs_its_address_and_data_folder_and_stops_cleanly_on_sigterm() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chaski"))
        .args(["--bind", "127.0.0.1:0", "--static-dir"])
        .arg(temp.path().join("dist"))
        .env("CHASKI_DATA_DIR", &data_dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chaski");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("no 'listening on' line in 20 s");
        lines.push(line.clone());
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_owned();
        }
    };
    assert!(
        lines
            .iter()
            .any(|l| l.contains("data store opened") && l.contains(&*data_dir.to_string_lossy())),
        "{lines:?}"
    );
    assert!(
        address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
        "{address}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("SIGTERM received")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("data store flushed")),
        "{rest:?}"
    );
    assert!(
        sled::open(&data_dir).is_ok(),
        "the store must be released after exit"
    );
}
