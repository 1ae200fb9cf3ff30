//! `/`: the inspections on this device. For now there is no store yet, so the list is empty and
//! says so in words rather than showing a blank page.

use leptos::prelude::*;

use crate::i18n::{tr, Msg};

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <h1>{tr(Msg::HomeTitle)}</h1>
        <section class="inspections">
            <p id="inspections-empty" class="empty">{tr(Msg::InspectionsEmpty)}</p>
        </section>
    }
}
