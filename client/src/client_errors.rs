//! The app's own failures: a panic hook that keeps the last [`KEEP`] panics (message and
//! location) on the device, for the settings page and for the server, which gets them with the
//! next successful sync (`POST /api/client-errors`).
//!
//! The release build aborts on a panic (`panic = "abort"`): the hook is the only code that runs
//! between the panic and the abort, so it writes synchronously, to `localStorage`, and keeps
//! the entry small. The next load of the app reads it back.

use serde::{Deserialize, Serialize};

/// `localStorage` key of the log.
pub const STORAGE_KEY: &str = "chaski.client-errors";
/// How many entries the device keeps (the oldest go first).
pub const KEEP: usize = 20;
/// The longest message kept, in characters.
const MAX_MESSAGE: usize = 500;

/// One panic, as recorded on the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientError {
    /// When, in milliseconds since 1970 (also what tells two entries apart).
    pub at_ms: f64,
    /// The panic's message.
    pub message: String,
    /// `file:line:column` in the app's source.
    pub location: Option<String>,
    /// The build that panicked.
    pub version: String,
    /// The server has acknowledged it.
    #[serde(default)]
    pub sent: bool,
}

/// Adds `entry` to `log`, keeping only the newest [`KEEP`].
pub fn push(log: &mut Vec<ClientError>, mut entry: ClientError) {
    if let Some((i, _)) = entry.message.char_indices().nth(MAX_MESSAGE) {
        entry.message.truncate(i);
    }
    log.push(entry);
    let excess = log.len().saturating_sub(KEEP);
    log.drain(..excess);
}

/// Marks as sent the entries of `log` that are in `sent` (compared by time and message).
pub fn mark_sent(log: &mut [ClientError], sent: &[ClientError]) {
    for entry in log.iter_mut() {
        if sent
            .iter()
            .any(|s| s.at_ms == entry.at_ms && s.message == entry.message)
        {
            entry.sent = true;
        }
    }
}

/// The text of a panic's payload.
fn payload_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// Installs the hook: every panic is printed to the console (as the browser's developer tools
/// show it) and kept in the device's log.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let message = payload_text(info);
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        leptos::logging::error!(
            "chaski panicked at {}: {message}",
            location.as_deref().unwrap_or("?")
        );
        record(message, location);
    }));
}

/// Adds a failure to the device's log.
pub fn record(message: String, location: Option<String>) {
    let mut log = load();
    push(
        &mut log,
        ClientError {
            at_ms: js_sys::Date::now(),
            message,
            location,
            version: chaski_shared::VERSION.to_owned(),
            sent: false,
        },
    );
    save(&log);
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The device's log, oldest first.
pub fn load() -> Vec<ClientError> {
    storage()
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save(log: &[ClientError]) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(log)) {
        let _ = storage.set_item(STORAGE_KEY, &text);
    }
}

/// Sends the entries the server has not acknowledged to `origin`'s `/api/client-errors` with
/// `token`, and marks them sent once it has. Called after a successful sync: a failure here
/// only means they go with the next one.
pub async fn send_unsent(origin: &str, token: &str) {
    let unsent: Vec<ClientError> = load().into_iter().filter(|e| !e.sent).collect();
    if unsent.is_empty() {
        return;
    }
    let errors: Vec<serde_json::Value> = unsent
        .iter()
        .map(|e| {
            serde_json::json!({
                "message": e.message,
                "location": e.location,
                "at": e.at_ms,
                "version": e.version,
            })
        })
        .collect();
    let body = serde_json::json!({ "errors": errors }).to_string();
    let url = format!("{}/api/client-errors", origin.trim_end_matches('/'));
    if crate::api::post_json(&url, token, &body).await.is_ok() {
        let mut log = load();
        mark_sent(&mut log, &unsent);
        save(&log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> ClientError {
        ClientError {
            at_ms: i as f64,
            message: format!("panic {i}"),
            location: Some("client/src/lib.rs:1:1".into()),
            version: "0.1.0".into(),
            sent: false,
        }
    }

    #[test]
    fn the_log_keeps_only_the_newest_twenty() {
        let mut log = Vec::new();
        for i in 0..25 {
            push(&mut log, entry(i));
        }
        assert_eq!(log.len(), KEEP);
        assert_eq!(log[0].message, "panic 5");
        assert_eq!(log[KEEP - 1].message, "panic 24");
    }

    #[test]
    fn a_long_message_is_cut_and_only_what_the_server_acknowledged_is_marked_sent() {
        let mut log = Vec::new();
        let mut long = entry(1);
        long.message = "é".repeat(2000);
        push(&mut log, long);
        push(&mut log, entry(2));
        assert_eq!(log[0].message.chars().count(), MAX_MESSAGE);
        let acknowledged = vec![log[1].clone()];
        push(&mut log, entry(3));
        mark_sent(&mut log, &acknowledged);
        let sent: Vec<bool> = log.iter().map(|e| e.sent).collect();
        assert_eq!(sent, [false, true, false]);
    }
}
