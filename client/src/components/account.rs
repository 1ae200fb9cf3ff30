//! The signed-in user's name, the working region (for an inspector with several), and "sign
//! out", which refuses to leave unsynced records behind unless the inspector types a
//! confirmation word.
//!
//! A tap on the wrong button in the rain must never cost a week of inspections: with records
//! not yet on the server, signing out first says how many, then needs the word typed. Signing
//! out erases the user's local databases, so a tablet left behind holds no victim's name.

use leptos::prelude::*;
use leptos::task::spawn_local;

use chaski_shared::domain::{Choice, Region};
use leptos_router::hooks::use_navigate;

use crate::api;
use crate::components::sync_strip::use_sync_view;
use crate::i18n::{tr, use_i18n, Msg};
use crate::network::use_network;
use crate::pages::AUTOSAVE_MS;
use crate::session::{use_session, valid_regions};
use crate::store::{all_regions, erase_user_stores};

#[component]
pub fn Account() -> impl IntoView {
    let session = use_session();
    let sync = use_sync_view();
    let network = use_network();
    let i18n = use_i18n();
    let asking = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let pending = Memo::new(move |_| sync.pending());

    let erasing = RwSignal::new(false);
    let navigate = StoredValue::new_local(use_navigate());
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
        let user = session
            .get_untracked()
            .map(|s| (s.user.name, s.user.regions));
        asking.set(false);
        typed.set(String::new());
        // Signing out stops the sync loop and closes the store; then its databases go.
        session.sign_out();
        if let Some((name, regions)) = user {
            erasing.set(true);
            spawn_local(async move {
                if let Err(e) = erase_user_stores(&name, &regions).await {
                    leptos::logging::warn!("could not erase the local records of {name}: {e}");
                }
                erasing.set(false);
            });
        }
    };
    let regions = move || session.regions();
    let on_region = move |ev| {
        let region = event_target_value(&ev);
        if Some(&region) != session.region().as_ref() {
            session.choose_region(&region);
            // The open record belongs to the other region's database.
            navigate.with_value(|go| go("/", Default::default()));
        }
    };
    // The count in the dialog: read from the stores when "sign out" is pressed.
    let unsynced = RwSignal::new(0u64);
    let checking = RwSignal::new(false);
    let on_logout = move |_| {
        if checking.get_untracked() {
            return;
        }
        let Some(data) = session.get_untracked() else {
            return;
        };
        checking.set(true);
        spawn_local(async move {
            // A change typed just now is saved after the autosave delay: wait for it, then
            // count from the stores, not from the status strip, which may not know it yet.
            crate::timer::Sleep::new(AUTOSAVE_MS.unsigned_abs() + 300).await;
            // Every region with a database here, also one the office has taken away.
            let regions = all_regions(&data.user.name, &valid_regions(&data.user.regions)).await;
            let count = crate::sync::unsynced_count(&data.user.name, &data.token, &regions).await;
            checking.set(false);
            match count {
                Some(0) => leave(),
                known => {
                    // Unknown (a store could not be read) is treated as "some".
                    unsynced.set(known.unwrap_or_else(|| pending.get_untracked().max(1) as u64));
                    asking.set(true);
                }
            }
        });
    };
    // ASCII only: the words are ASCII, and `to_uppercase` would bring Unicode's case table (4 KB
    // brotli).
    let word_ok = move || typed.get().trim().to_ascii_uppercase() == i18n.t(Msg::LogoutConfirmWord);

    view! {
        <Show when=move || session.signed_in()>
            <span class="account">
                <span id="signed-in-as" class="who">
                    {move || session.get().map(|s| s.user.name).unwrap_or_default()}
                </span>
                <Show when=move || { regions().len() > 1 }>
                    <select id="working-region" class="small"
                        aria-label=move || i18n.t(Msg::WorkingRegion)
                        prop:value=move || session.region().unwrap_or_default()
                        on:change=on_region>
                        {move || regions().into_iter().map(|r| {
                            let label = Region::from_name(&r).map(|r| i18n.l(r)).unwrap_or_default();
                            let selected = session.region().as_ref() == Some(&r);
                            view! { <option value=r.clone() selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                </Show>
                <button id="logout" type="button" class="button small secondary"
                    disabled=move || checking.get() on:click=on_logout>
                    {tr(Msg::Logout)}
                </button>
            </span>
        </Show>
        <Show when=move || erasing.get()>
            <p id="logout-erasing" class="hint" role="status">{tr(Msg::LogoutErasing)}</p>
        </Show>
        <Show when=move || asking.get()>
            <div id="logout-dialog" class="dialog" role="alertdialog" aria-modal="true"
                aria-labelledby="logout-warning">
                <div class="dialog-box">
                    <p id="logout-warning" class="alert">
                        {move || i18n.f(Msg::LogoutUnsynced, &[("n", &unsynced.get().to_string())])}
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
                            {move || i18n.f(Msg::LogoutDiscard, &[("n", &unsynced.get().to_string())])}
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
