//! Memory blow-up from small JSON, measured on the real `chaski` binary: hostile bodies sent at
//! once, to another region's database and to the sender's own, must not raise the process's
//! peak memory (VmHWM) past a stated bound. Before the body budget, four 60 MiB bodies of
//! `[0,0,…]` took 2.2 GiB.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

#[path = "support/binary.rs"]
mod binary;
use binary::{run, start_server};

/// The bound stated in the README: the 256 MiB body budget, plus the server's own needs.
const PEAK_BOUND_MIB: u64 = 512;

const HOSTILE_MIB: usize = 60;

fn admin(data_dir: &Path, args: &[&str], password: Option<&str>) {
    let out = run(data_dir, args, password);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The process's peak resident memory, in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024
}

#[tokio::test]
async fn hostile_json_bodies_sent_at_once_keep_the_servers_peak_memory_bounded() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    admin(&data, &["db", "create", "loreto", "cusco"], None);
    admin(
        &data,
        &[
            "user",
            "add",
            "ines",
            "--role",
            "inspector",
            "--region",
            "loreto",
        ],
        Some("selva verde 2026"),
    );
    let (mut child, address, lines) = start_server(&data, &temp.path().join("dist"));
    // The descriptor limit is raised and logged at start, with the limits derived from it.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("open descriptor limit") && l.contains("hard=")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("max_connections=")),
        "{lines:?}"
    );
    let pid = child.id();
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{address}/api/login"))
        .json(&serde_json::json!({"name": "ines", "password": "selva verde 2026"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login answer");
    let token = login["token"].as_str().expect("a token").to_owned();
    let before = peak_mib(pid);

    let mut body = String::with_capacity(HOSTILE_MIB << 20);
    body.push_str("{\"docs\":[");
    while body.len() < (HOSTILE_MIB << 20) - 4 {
        body.push_str("0,");
    }
    body.push_str("0]}");
    let body = axum::body::Bytes::from(body);
    // Four to another region (refused before the body is read) and four to the sender's own
    // (read within the budget, then refused before parsing).
    let sends = ["cusco", "loreto"].into_iter().flat_map(|db| {
        let (client, body, token) = (client.clone(), body.clone(), token.clone());
        let url = format!("{address}/db/{db}/_bulk_docs");
        (0..4).map(move |_| {
            client
                .post(url.clone())
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
        })
    });
    let answers = futures::future::join_all(sends).await;
    let statuses: Vec<Option<u16>> = answers
        .into_iter()
        .map(|a| a.ok().map(|r| r.status().as_u16()))
        .collect();
    let peak = peak_mib(pid);
    eprintln!("peak {peak} MiB (before the bodies: {before} MiB); answers {statuses:?}");
    let health = client
        .get(format!("{address}/api/health"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();

    // An answer, when the client got one before the server closed: 403 for the other region;
    // 413 (too much memory to parse) or 503 (budget full) for the own one.
    for (i, status) in statuses.iter().enumerate() {
        if let Some(status) = status {
            let expected: &[u16] = if i < 4 { &[403] } else { &[413, 503] };
            assert!(
                expected.contains(status),
                "request {i}: {status} ({statuses:?})"
            );
        }
    }
    assert!(
        statuses[4..].iter().any(Option::is_some),
        "the own region's requests were answered: {statuses:?}"
    );
    assert_eq!(health.ok(), Some(200));
    assert!(
        peak <= PEAK_BOUND_MIB,
        "peak memory {peak} MiB (before: {before} MiB) is over {PEAK_BOUND_MIB} MiB"
    );
}
