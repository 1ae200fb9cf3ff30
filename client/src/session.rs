//! Who is signed in on this device, remembered across reloads so the app opens offline.
//!
//! The token and profile live in `localStorage` (`chaski.session`): an inspector signs in once in
//! the regional office and then works for days with no network, so the session must survive
//! restarts without asking the server. The server can still revoke the token (a lost tablet);
//! the next sync then fails with 401 and the app asks to sign in again, keeping the records.

use chaski_shared::domain::{Choice, Region};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{Profile, SealKey};

/// `localStorage` key of the signed-in session.
pub const SESSION_KEY: &str = "chaski.session";
/// `localStorage` key of the device's name, remembered across sign-outs.
pub const DEVICE_KEY: &str = "chaski.device";
/// `localStorage` key of the last user's name, to pre-fill the sign-in form.
pub const LAST_USER_KEY: &str = "chaski.last-user";
/// `localStorage` key of the region the signed-in inspector is working in (one of theirs).
pub const REGION_KEY: &str = "chaski.region";

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
    /// Who is signed in, notifying only when that changes: see [`Session::who`].
    who: Memo<Option<String>>,
    /// Whether they work in the office's app, notifying only when that changes.
    office: Memo<bool>,
    /// The region chosen among the user's (see [`working_region`]).
    chosen: RwSignal<Option<String>>,
    /// The working region, notifying only when it really changes.
    region: Memo<Option<String>>,
}

impl Session {
    /// Reads the remembered session and provides the context.
    pub fn provide() -> Session {
        let data = RwSignal::new(stored_session());
        // One text rather than a struct: a memo of a type the app already has adds nothing to
        // the first load, where a new one costs about 1 KB.
        let who = Memo::new(move |_| {
            data.with(|d| {
                d.as_ref().map(|d| {
                    let (user, regions) = (&d.user, d.user.regions.join(","));
                    format!("{}\n{}\n{}\n{regions}", user.name, d.token, user.role)
                })
            })
        });
        let office = Memo::new(move |_| {
            data.with(|d| d.as_ref().is_some_and(|d| is_office_role(&d.user.role)))
        });
        let chosen =
            RwSignal::new(local_storage().and_then(|s| s.get_item(REGION_KEY).ok().flatten()));
        let region = Memo::new(move |_| {
            let chosen = chosen.get();
            who.track();
            data.with_untracked(|d| {
                d.as_ref()
                    .and_then(|d| working_region(&d.user.regions, chosen.as_deref()))
            })
        });
        let session = Session {
            data,
            who,
            office,
            chosen,
            region,
        };
        provide_context(session);
        session
    }

    /// The signed-in session (tracked: any change, the sealing keys' too).
    pub fn get(self) -> Option<SessionData> {
        self.data.get()
    }

    /// Who is signed in: a text that changes exactly when the user, their token, role or
    /// regions do (tracked). What decides whose store is open and how it syncs; not the sealing
    /// keys, which a rotation at the office changes while the tablet works, and which must not
    /// close and reopen the store.
    pub fn who(self) -> Option<String> {
        self.who.get()
    }

    /// The signed-in session, without subscribing (event handlers).
    /// The current sealing key of `region` (tracked), read in place: no copy of the session.
    pub fn seal_key(self, region: &str) -> Option<SealKey> {
        self.data.with(|s| {
            s.as_ref()?
                .user
                .seal_keys
                .iter()
                .find(|k| k.region == region)
                .cloned()
        })
    }

    pub fn get_untracked(self) -> Option<SessionData> {
        self.data.get_untracked()
    }

    /// Whether someone is signed in (tracked).
    pub fn signed_in(self) -> bool {
        self.who.with(Option::is_some)
    }

    /// Whether the signed-in user works in the regional office (supervisor or admin): their
    /// app is the office's, at `/office/`, and this one keeps no records for them (tracked).
    pub fn is_office(self) -> bool {
        self.office.get()
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
            let _ = storage.remove_item(REGION_KEY);
        }
        self.chosen.set(None);
        self.data.set(None);
    }

    /// Asks the server who the token belongs to now and keeps the answer, so that a region the
    /// office adds (or takes away) reaches the tablet at its next connection without signing
    /// out, which would erase the tablet's records. Failures change nothing: offline, or a
    /// revoked token, which the sync loop reports.
    pub async fn refresh_profile(self) {
        let Some(data) = self.get_untracked() else {
            return;
        };
        let Ok(profile) = crate::api::me(&data.token).await else {
            return;
        };
        // Still the same session, and something changed.
        let current = self.get_untracked();
        if current.as_ref().map(|c| &c.token) == Some(&data.token) && profile != data.user {
            self.sign_in(SessionData {
                user: profile,
                ..data
            });
        }
    }

    /// What the sync loop needs for this session: the user, the working region first and then
    /// the others, and the token (untracked).
    pub fn sync_session(self) -> Option<crate::sync::SyncSession> {
        let region = self.region.get_untracked()?;
        self.data.with_untracked(|d| {
            let d = d.as_ref()?;
            Some(crate::sync::SyncSession {
                user: d.user.name.clone(),
                other_regions: valid_regions(&d.user.regions)
                    .into_iter()
                    .filter(|r| *r != region)
                    .collect(),
                region,
                token: d.token.clone(),
                origin: None,
            })
        })
    }

    /// The region whose records the app shows and where new inspections go (tracked).
    pub fn region(self) -> Option<String> {
        self.region.get()
    }

    /// The user's regions that are department databases, in the order the server gave them
    /// (tracked).
    pub fn regions(self) -> Vec<String> {
        self.who.track();
        self.data.with_untracked(|d| {
            d.as_ref()
                .map(|d| valid_regions(&d.user.regions))
                .unwrap_or_default()
        })
    }

    /// Works in `region` from now on, remembered on the device. The region in use is remembered
    /// too (by [`crate::records::Records`]), so that a region the office adds later, which may
    /// sort first, does not move the inspector out of the one they were working in.
    pub fn choose_region(self, region: &str) {
        if self.chosen.get_untracked().as_deref() == Some(region) {
            return;
        }
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(REGION_KEY, region);
        }
        self.chosen.set(Some(region.to_owned()));
    }
}

/// Whether `role` (as the server names it) belongs in the regional office's app.
pub fn is_office_role(role: &str) -> bool {
    matches!(role, "supervisor" | "admin")
}

/// The user's regions that name one of the 25 department databases.
pub fn valid_regions(regions: &[String]) -> Vec<String> {
    regions
        .iter()
        .filter(|r| Region::from_name(r).is_some())
        .cloned()
        .collect()
}

/// The region to work in: the chosen one while it is still among the user's regions, else the
/// first of them. `None` for a user with no region (an office account): nothing to sync.
pub fn working_region(regions: &[String], chosen: Option<&str>) -> Option<String> {
    let valid = valid_regions(regions);
    chosen
        .and_then(|c| valid.iter().find(|r| r.as_str() == c).cloned())
        .or_else(|| valid.into_iter().next())
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
                seal_keys: vec![],
            },
            device: "tablet 07".into(),
        };
        let json = serde_json::to_string(&data).unwrap();
        assert_eq!(serde_json::from_str::<SessionData>(&json).unwrap(), data);
    }

    #[test]
    fn the_working_region_is_the_chosen_one_while_it_is_still_the_users() {
        let regions: Vec<String> = ["nacional", "loreto", "madre-de-dios"]
            .map(String::from)
            .to_vec();
        assert_eq!(valid_regions(&regions), ["loreto", "madre-de-dios"]);
        assert_eq!(working_region(&regions, None).as_deref(), Some("loreto"));
        assert_eq!(
            working_region(&regions, Some("madre-de-dios")).as_deref(),
            Some("madre-de-dios")
        );
        // A region taken away by the office, or never the user's, falls back to the first.
        assert_eq!(
            working_region(&regions, Some("cusco")).as_deref(),
            Some("loreto")
        );
        assert_eq!(working_region(&["nacional".into()], None), None);
    }
}
