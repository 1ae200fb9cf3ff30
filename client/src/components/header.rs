//! The top bar: product name, navigation, the online/offline indicator, the account, and
//! under it the sync strip.

use leptos::prelude::*;

use crate::components::account::Account;
use crate::components::sync_strip::SyncStrip;
use crate::components::Nav;
use crate::i18n::{tr, use_i18n, Msg};
use crate::network::use_network;
use crate::session::use_session;
use crate::PRODUCT_NAME;

#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    view! {
        <a class="skip-link" href="#main">{tr(Msg::SkipToContent)}</a>
        <header class="app-header">
            <span class="brand" id="app-name">{PRODUCT_NAME}</span>
            <Nav />
            <NetStatus />
            <Account />
        </header>
        <Show when=move || session.signed_in()>
            <SyncStrip />
        </Show>
    }
}

/// The online/offline indicator. Tests and styles key on `data-online`; the words (not only a
/// colour) carry the state, because colours wash out in sunlight and some users cannot tell them
/// apart.
#[component]
pub fn NetStatus() -> impl IntoView {
    let network = use_network();
    let i18n = use_i18n();
    let online = move || network.is_online();
    view! {
        <span
            id="net-status"
            class="net-status"
            role="status"
            aria-label=move || i18n.t(Msg::NetStatusLabel)
            data-online=move || if online() { "true" } else { "false" }
        >
            <span class="net-dot" aria-hidden="true"></span>
            <span class="net-text">
                {move || i18n.t(if online() { Msg::NetOnline } else { Msg::NetOffline })}
            </span>
        </span>
    }
}
