//! The sign-in page, shown instead of every other page while nobody is signed in on the device.
//!
//! Signing in needs the server; everything after it works offline. The device name is
//! remembered because an office revokes a lost tablet by that name.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::i18n::{tr, use_i18n, Msg};
use crate::session::{remembered, use_session, SessionData, DEVICE_KEY, LAST_USER_KEY};

#[component]
pub fn Login() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let name = RwSignal::new(remembered(LAST_USER_KEY));
    let password = RwSignal::new(String::new());
    let device = RwSignal::new(remembered(DEVICE_KEY));
    let busy = RwSignal::new(false);
    // The message, and the server's own reason for an unexpected refusal.
    let error: RwSignal<Option<(Msg, String)>> = RwSignal::new(None);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (n, p, d) = (
            name.get_untracked().trim().to_string(),
            password.get_untracked(),
            device.get_untracked().trim().to_string(),
        );
        if n.is_empty() || p.is_empty() || d.is_empty() {
            error.set(Some((Msg::LoginMissing, String::new())));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::login(&n, &p, &d).await {
                Ok(answer) => {
                    password.set(String::new());
                    session.sign_in(SessionData {
                        token: answer.token,
                        expires_at: answer.expires_at,
                        user: answer.user,
                        device: d,
                    });
                }
                Err(e) => {
                    error.set(Some(match e {
                        ApiError::Unauthorized => (Msg::LoginBadCredentials, String::new()),
                        ApiError::Network => (Msg::LoginNeedsNetwork, String::new()),
                        ApiError::TooManyAttempts => (Msg::LoginTooMany, String::new()),
                        ApiError::Server(reason) => (Msg::LoginServerError, reason),
                    }));
                }
            }
            // Signed in, this page is gone (the app shows the next one): `try_`.
            busy.try_set(false);
        });
    };

    view! {
        <h1 id="login-title">{tr(Msg::SignInTitle)}</h1>
        <p class="lead">{tr(Msg::SignInIntro)}</p>
        <form id="login-form" class="card stack" on:submit=submit novalidate>
            <div class="field">
                <label for="login-name">{tr(Msg::LoginName)}</label>
                <input id="login-name" type="text" autocomplete="username" autocapitalize="none"
                    spellcheck="false" required
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="login-password">{tr(Msg::LoginPassword)}</label>
                <input id="login-password" type="password" autocomplete="current-password" required
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="login-device">{tr(Msg::LoginDevice)}</label>
                <input id="login-device" type="text" autocomplete="off" required
                    aria-describedby="login-device-hint"
                    prop:value=move || device.get()
                    on:input=move |ev| device.set(event_target_value(&ev)) />
                <p id="login-device-hint" class="hint">{tr(Msg::LoginDeviceHint)}</p>
            </div>
            {move || error.get().map(|(msg, reason)| view! {
                <p id="login-error" class="alert" role="alert">{i18n.t(msg)} " " {reason}</p>
            })}
            <button id="login-submit" type="submit" class="button primary"
                disabled=move || busy.get()>
                {move || i18n.t(if busy.get() { Msg::LoginBusy } else { Msg::LoginSubmit })}
            </button>
        </form>
    }
}
