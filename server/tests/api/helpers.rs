//! `spawn_app()`: the real server on a free port, with a temporary store and static folder.

use std::future::Future;
use std::path::{Path, PathBuf};

use chaski_server::config::Config;
use chaski_server::startup::{AppState, Application};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A fake build of the PWA, shaped like Trunk's output.
pub const INDEX_HTML: &str =
    "<!doctype html><html lang=\"es\"><head><title>Chaski</title></head><body></body></html>";
pub const HASHED_JS: &str = "chaski-client-0123456789abcdef.js";
pub const HASHED_WASM: &str = "chaski-client-0123456789abcdef_bg.wasm";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    pub static_dir: PathBuf,
    /// The running server's state, to set up data (users, databases) without HTTP.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// The server's own runtime, when it has one ([`spawn_app_on_own_runtime`]).
    _runtime: ServerRuntime,
    _temp: TempDir,
}

/// A server's own runtime, shut down without waiting when the test ends (dropping a runtime
/// inside the test's async context would panic).
struct ServerRuntime(Option<tokio::runtime::Runtime>);

impl Drop for ServerRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// Stops the server as SIGTERM would and waits until it has flushed and let go of
    /// the store. The returned folder holds the data until it is dropped.
    pub async fn stop(mut self) -> (PathBuf, TempDir) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task panicked")
                .expect("server failed");
        }
        (self.data_dir, self._temp)
    }
}

impl TestApp {
    /// A bearer token of a new user with `role` and `regions` (bearer tokens skip argon2 on
    /// every request, which keeps the API tests fast).
    pub async fn token_for(
        &self,
        name: &str,
        role: chaski_server::auth::Role,
        regions: &[&str],
    ) -> String {
        self.state
            .accounts
            .create_user(
                name,
                "una clave larga y segura",
                role,
                regions.iter().copied(),
            )
            .await
            .expect("create test user");
        self.state
            .accounts
            .issue_token(name, "test-device")
            .await
            .expect("issue test token")
            .token
    }
}

/// Like [`spawn_app`], with the configuration adjusted first (small limits, short longpolls).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    let static_dir = temp.path().join("dist");
    write_fake_build(&static_dir);
    let mut config = Config::ephemeral(data_dir.clone(), static_dir.clone());
    adjust(&mut config);
    start(config, temp, data_dir, static_dir).await
}

async fn start(config: Config, temp: TempDir, data_dir: PathBuf, static_dir: PathBuf) -> TestApp {
    let app = Application::build(config)
        .await
        .expect("server failed to start");
    let address = format!("http://{}", app.local_addr());
    let state = app.state();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        data_dir,
        static_dir,
        state,
        shutdown: Some(tx),
        server: Some(server),
        _runtime: ServerRuntime(None),
        _temp: temp,
    }
}

/// The real server on a runtime of its own, multi-threaded with two workers as in production
/// on a two-core machine. The test's client (on the test's runtime) keeps running if the
/// server stops answering, so a watchdog ([`within`]) can fail the test instead of hanging.
pub async fn spawn_app_on_own_runtime() -> TestApp {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    let static_dir = temp.path().join("dist");
    write_fake_build(&static_dir);
    let config = Config::ephemeral(data_dir.clone(), static_dir.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server-worker")
        .enable_all()
        .build()
        .expect("server runtime");
    let (ready_tx, ready_rx) = oneshot::channel();
    let (tx, rx) = oneshot::channel::<()>();
    let server = runtime.spawn(async move {
        let app = Application::build(config)
            .await
            .expect("server failed to start");
        let _ = ready_tx.send((format!("http://{}", app.local_addr()), app.state()));
        app.run_until_stopped(async {
            let _ = rx.await;
        })
        .await
    });
    let (address, state) = ready_rx.await.expect("server started");
    TestApp {
        address,
        client: reqwest::Client::new(),
        data_dir,
        static_dir,
        state,
        shutdown: Some(tx),
        server: Some(server),
        _runtime: ServerRuntime(Some(runtime)),
        _temp: temp,
    }
}

/// Runs `work`, failing the test with `what`, the threads' stacks and a note if it has not
/// finished within `limit`: the watchdog of the tests that look for hangs.
pub async fn within<T>(limit: std::time::Duration, what: &str, work: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, work).await {
        Ok(value) => value,
        Err(_) => panic!(
            "{what}: no answer within {limit:?}; the server looks hung. Threads:\n{}",
            thread_stacks()
        ),
    }
}

/// The stacks of every thread of this process (via gdb when it is installed and allowed to
/// attach), else each thread's name and what the kernel says it waits in.
pub fn thread_stacks() -> String {
    let pid = std::process::id().to_string();
    if let Ok(out) = std::process::Command::new("gdb")
        .args(["-p", &pid, "-batch", "-nx", "-ex", "thread apply all bt 25"])
        .stdin(std::process::Stdio::null())
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("Thread ") {
            return text.into_owned();
        }
    }
    let mut out = String::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let read = |f: &str| {
                std::fs::read_to_string(task.path().join(f))
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            out.push_str(&format!(
                "{} {} wchan={}\n",
                task.file_name().to_string_lossy(),
                read("comm"),
                read("wchan")
            ));
        }
    }
    out
}

/// The real server on an existing data folder (after [`TestApp::stop`]).
pub async fn spawn_app_on(data_dir: PathBuf) -> TestApp {
    let temp = tempfile::tempdir().expect("temp dir");
    let static_dir = temp.path().join("dist");
    write_fake_build(&static_dir);
    let config = Config::ephemeral(data_dir.clone(), static_dir.clone());
    start(config, temp, data_dir, static_dir).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Large enough that compression pays off, like the real files.
pub fn fake_js() -> String {
    "export function start(){console.log('chaski');}\n".repeat(200)
}

pub fn fake_wasm() -> Vec<u8> {
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(b"chaski-wasm-section".as_slice(), 300).flatten());
    wasm
}

fn write_fake_build(dir: &Path) {
    std::fs::create_dir_all(dir.join("icons")).expect("mkdir");
    let files: [(&str, Vec<u8>); 6] = [
        ("index.html", INDEX_HTML.into()),
        (
            "sw.js",
            b"self.addEventListener('fetch', () => {});".to_vec(),
        ),
        (HASHED_JS, fake_js().into_bytes()),
        (HASHED_WASM, fake_wasm()),
        (
            "manifest.webmanifest",
            br#"{"name":"Chaski","start_url":"/","display":"standalone"}"#.to_vec(),
        ),
        (
            "icons/icon-192.png",
            b"\x89PNG\r\n\x1a\nnot-really-a-png".to_vec(),
        ),
    ];
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("write fake build file");
    }
}

/// Accounts for tests (see `auth.rs`).
impl TestApp {
    /// Creates a user directly in the store; returns (name, password).
    pub async fn create_user(
        &self,
        name: &str,
        role: chaski_server::auth::Role,
        regions: &[&str],
    ) -> (String, String) {
        let password = format!("clave-de-{name}-123");
        self.state
            .accounts
            .create_user(name, &password, role, regions.iter().copied())
            .await
            .expect("create user");
        (name.to_owned(), password)
    }

    /// Logs in through `POST /api/login`; returns the token.
    pub async fn login(&self, name: &str, password: &str, device: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/login"))
            .json(&serde_json::json!({"name": name, "password": password, "device": device}))
            .send()
            .await
            .expect("request failed");
        assert_eq!(response.status(), 200, "login of {name} failed");
        let body: serde_json::Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }
}

/// The value of an `Authorization: Basic` header.
pub fn basic_auth(name: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"))
    )
}
