//! The administration commands of the real `chaski` binary, on a temporary data folder.

use std::io::Write;
use std::process::{Child, Command, Stdio};

#[path = "support/binary.rs"]
mod binary;
use binary::{chaski, run, start_server};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[tokio::test]
async fn a_user_added_on_the_command_line_can_log_in_to_the_started_server() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let added = run(
        &data,
        &[
            "user",
            "add",
            "ana",
            "--role",
            "inspector",
            "--region",
            "madre-de-dios",
        ],
        Some("una clave larga"),
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(
        text(&added.stdout).contains("added ana"),
        "{}",
        text(&added.stdout)
    );

    let (server, address, _) = start_server(&data, &temp.path().join("dist"));
    // The running server holds the data folder: administration says to stop it first.
    let refused = run(&data, &["user", "list"], None);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("Stop the server"),
        "{}",
        text(&refused.stderr)
    );

    let response = reqwest::Client::new()
        .post(format!("{address}/api/login"))
        .json(&serde_json::json!({"name": "ana", "password": "una clave larga", "device": "t1"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    stop(server);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["user"]["regions"],
        serde_json::json!(["madre-de-dios"])
    );

    let tokens = run(&data, &["tokens", "list", "--user", "ana"], None);
    assert!(tokens.status.success(), "{}", text(&tokens.stderr));
    let listing = text(&tokens.stdout);
    let id = listing
        .lines()
        .find(|l| l.contains("\tana\tt1\t"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no token in {listing}"))
        .to_owned();
    let revoked = run(&data, &["tokens", "revoke", &id], None);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let again = run(&data, &["tokens", "revoke", &id], None);
    assert!(!again.status.success());
}

#[test]
fn bad_users_are_refused_with_a_reason_and_a_failing_exit_code() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let no_password = run(&data, &["user", "add", "ana", "--role", "admin"], None);
    assert!(!no_password.status.success());
    assert!(text(&no_password.stderr).contains("CHASKI_PASSWORD"));

    let short = run(
        &data,
        &["user", "add", "ana", "--role", "admin"],
        Some("corta"),
    );
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("too short"),
        "{}",
        text(&short.stderr)
    );

    let region = run(
        &data,
        &[
            "user",
            "add",
            "ana",
            "--role",
            "inspector",
            "--region",
            "Madre de Dios",
        ],
        Some("una clave larga"),
    );
    assert!(!region.status.success());
    assert!(text(&region.stderr).contains("madre-de-dios"));

    let mut child = chaski(
        &data,
        &[
            "user",
            "add",
            "jefa",
            "--role",
            "supervisor",
            "--password-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"una clave larga\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    let disabled = run(&data, &["user", "disable", "jefa"], None);
    assert!(disabled.status.success());
    let list = text(&run(&data, &["user", "list"], None).stdout);
    assert!(list.contains("jefa\tsupervisor\t-\tdisabled"), "{list}");
    let missing = run(&data, &["user", "enable", "nadie"], None);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no user called nadie"));
}

#[test]
fn a_backup_restores_into_a_fresh_folder_and_a_corrupted_one_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let added = run(
        &data,
        &[
            "user",
            "add",
            "ana",
            "--role",
            "supervisor",
            "--region",
            "cusco",
        ],
        Some("una clave larga"),
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    let file = temp.path().join("chaski.backup");
    let backup = run(&data, &["backup", file.to_str().unwrap()], None);
    assert!(backup.status.success(), "{}", text(&backup.stderr));

    let fresh = temp.path().join("fresh");
    let restored = run(&fresh, &["restore", file.to_str().unwrap()], None);
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    let list = text(&run(&fresh, &["user", "list"], None).stdout);
    assert!(list.contains("ana\tsupervisor\tcusco\tenabled"), "{list}");

    // Not over data that is there already, unless forced.
    let over = run(&fresh, &["restore", file.to_str().unwrap()], None);
    assert!(!over.status.success());
    assert!(text(&over.stderr).contains("--force"));
    let forced = run(
        &fresh,
        &["restore", "--force", file.to_str().unwrap()],
        None,
    );
    assert!(forced.status.success(), "{}", text(&forced.stderr));

    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 40;
    bytes[last] ^= 0x5a;
    std::fs::write(&file, &bytes).unwrap();
    let other = temp.path().join("other");
    let refused = run(&other, &["restore", file.to_str().unwrap()], None);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("checksum"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!other.exists());
}

#[test]
fn regional_databases_are_created_from_the_command_line() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let one = run(&data, &["db", "create", "madre-de-dios"], None);
    assert!(one.status.success(), "{}", text(&one.stderr));
    assert!(text(&one.stdout).contains("madre-de-dios\tcreated"));
    let all = run(&data, &["db", "create", "--all-regions"], None);
    assert!(all.status.success(), "{}", text(&all.stderr));
    let out = text(&all.stdout);
    assert_eq!(out.lines().count(), 25, "{out}");
    assert!(out.contains("madre-de-dios\texists") && out.contains("san-martin\tcreated"));
    let bad = run(&data, &["db", "create", "atlantis"], None);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("not a region"));
}

#[test]
fn help_describes_the_administration_commands() {
    let temp = tempfile::tempdir().unwrap();
    let help = text(&run(temp.path(), &["--help"], None).stdout);
    for command in ["user", "tokens", "db", "backup", "restore", "serve"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn a_guessable_password_is_refused_on_the_command_line_with_the_reason() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let args = ["user", "add", "ana", "--role", "inspector"];
    for weak in ["1234567890", "qwertyuiop", "ana12345678"] {
        let refused = run(&data, &args, Some(weak));
        assert!(!refused.status.success(), "{weak} was accepted");
        let reason = text(&refused.stderr);
        assert!(reason.contains("too easy to guess"), "{weak}: {reason}");
    }
    let added = run(&data, &args, Some("una clave larga"));
    assert!(added.status.success(), "{}", text(&added.stderr));
    let weak = run(&data, &["user", "password", "ana"], Some("password12"));
    assert!(!weak.status.success());
    assert!(text(&weak.stderr).contains("too easy to guess"));
}
