//! Links between the app's pages. The router marks the current one with `aria-current="page"`.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::i18n::{tr, use_i18n, Msg};

#[component]
pub fn Nav() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <nav class="app-nav" aria-label=move || i18n.t(Msg::MainNavigation)>
            <A href="/" attr:id="nav-home" attr:class="nav-link">
                {tr(Msg::NavHome)}
            </A>
            <A href="/settings" attr:id="nav-settings" attr:class="nav-link">
                {tr(Msg::NavSettings)}
            </A>
        </nav>
    }
}
