//! Who is signed in on this device, remembered across reloads so the app opens offline.
//!
//! The token and profile live in `localStorage` (`chaski.session`): an inspector signs in once in
//! the regional office and then works for days with no network, so the session must survive
//! restarts without asking the server. The server can still revoke the token (a lost tablet);
//! the next sync then fails with 401 and the app asks to sign in again, keeping the records.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::Profile;

/// `localStorage` key of the signed-in session.
pub const SESSION_KEY: &str = "chaski.session";
/// `localStorage` key of the device's name, remembered across sign-outs.
pub const DEVICE_KEY: &str = "chaski.device";
/// `localStorage` key of the last user's name, to pre-fill the sign-in form.
pub const LAST_USER_KEY: &str = "chaski.last-user";

/// What the device keeps about the signed-in inspector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    pub token: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    pub user: Profile,
    pub device: String,
}

/// A `Copy` handle on the session, shared by context.
#[derive(Clone, Copy, Debug)]
pub struct Session {
    data: RwSignal<Option<SessionData>>,
}

impl Session {
    /// Reads the remembered session and provides the context.
    pub fn provide() -> Session {
        let session = Session {
            data: RwSignal::new(stored_session()),
        };
        provide_context(session);
        session
    }

    /// The signed-in session (tracked).
    pub fn get(self) -> Option<SessionData> {
        self.data.get()
    }

    /// Whether someone is signed in (tracked).
    pub fn signed_in(self) -> bool {
        self.data.with(Option::is_some)
    }

    /// The bearer token, for the sync loop (untracked).
    pub fn token(self) -> Option<String> {
        self.data
            .with_untracked(|d| d.as_ref().map(|d| d.token.clone()))
    }

    /// Remembers a new session on the device.
    pub fn sign_in(self, data: SessionData) {
        if let Some(storage) = local_storage() {
            if let Ok(json) = serde_json::to_string(&data) {
                let _ = storage.set_item(SESSION_KEY, &json);
            }
            let _ = storage.set_item(DEVICE_KEY, &data.device);
            let _ = storage.set_item(LAST_USER_KEY, &data.user.name);
        }
        self.data.set(Some(data));
    }

    /// Forgets the session (the caller has already made sure no record would be lost).
    pub fn sign_out(self) {
        if let Some(storage) = local_storage() {
            let _ = storage.remove_item(SESSION_KEY);
        }
        self.data.set(None);
    }
}

/// The session handle provided at the root of the app.
pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// The signed-in session's token straight from storage, for code outside the component tree
/// (the sync loop).
pub fn stored_token() -> Option<String> {
    stored_session().map(|s| s.token)
}

/// The device name remembered from the last sign-in.
pub fn remembered(key: &str) -> String {
    local_storage()
        .and_then(|s| s.get_item(key).ok().flatten())
        .unwrap_or_default()
}

fn stored_session() -> Option<SessionData> {
    let json = local_storage()?.get_item(SESSION_KEY).ok()??;
    serde_json::from_str(&json).ok()
}

fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_round_trips_through_json() {
        let data = SessionData {
            token: "tok".into(),
            expires_at: None,
            user: Profile {
                name: "ana".into(),
                role: "inspector".into(),
                regions: vec!["loreto".into()],
            },
            device: "tablet 07".into(),
        };
        let json = serde_json::to_string(&data).unwrap();
        assert_eq!(serde_json::from_str::<SessionData>(&json).unwrap(), data);
    }
}
