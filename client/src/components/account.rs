//! The signed-in user's name and "sign out", which refuses to leave unsynced records behind
//! unless the inspector types a confirmation word.
//!
//! A tap on the wrong button in the rain must never cost a week of inspections: with records
//! not yet on the server, signing out first says how many, then needs the word typed.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::sync_strip::use_sync_view;
use crate::i18n::{tr, use_i18n, Msg};
use crate::network::use_network;
use crate::session::use_session;

#[component]
pub fn Account() -> impl IntoView {
    let session = use_session();
    let sync = use_sync_view();
    let network = use_network();
    let i18n = use_i18n();
    let asking = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let pending = Memo::new(move |_| sync.pending());

    let leave = move || {
        // Revoking the token on the server is a courtesy when online; offline, the device
        // forgets it and an office can still revoke it by the device's name.
        if let Some(token) = session.token() {
            if network.is_online() {
                spawn_local(async move {
                    let _ = api::logout(&token).await;
                });
            }
        }
        asking.set(false);
        typed.set(String::new());
        session.sign_out();
    };
    let on_logout = move |_| {
        if pending.get_untracked() == 0 {
            leave();
        } else {
            asking.set(true);
        }
    };
    let word_ok = move || typed.get().trim().to_uppercase() == i18n.t(Msg::LogoutConfirmWord);

    view! {
        <Show when=move || session.signed_in()>
            <span class="account">
                <span id="signed-in-as" class="who">
                    {move || session.get().map(|s| s.user.name).unwrap_or_default()}
                </span>
                <button id="logout" type="button" class="button small secondary" on:click=on_logout>
                    {tr(Msg::Logout)}
                </button>
            </span>
        </Show>
        <Show when=move || asking.get()>
            <div id="logout-dialog" class="dialog" role="alertdialog" aria-modal="true"
                aria-labelledby="logout-warning">
                <div class="dialog-box">
                    <p id="logout-warning" class="alert">
                        {move || i18n.f(Msg::LogoutUnsynced, &[("n", &pending.get().to_string())])}
                    </p>
                    <label for="logout-confirm-word">{tr(Msg::LogoutTypeToConfirm)}</label>
                    <input id="logout-confirm-word" type="text" autocomplete="off"
                        prop:value=move || typed.get()
                        on:input=move |ev| typed.set(event_target_value(&ev)) />
                    <div class="actions">
                        <button id="logout-cancel" type="button" class="button primary"
                            on:click=move |_| { asking.set(false); typed.set(String::new()); }>
                            {tr(Msg::Cancel)}
                        </button>
                        <button id="logout-discard" type="button" class="button danger"
                            disabled=move || !word_ok()
                            on:click=move |_| if word_ok() { leave() }>
                            {move || i18n.f(Msg::LogoutDiscard, &[("n", &pending.get().to_string())])}
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
