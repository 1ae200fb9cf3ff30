//! `/settings`: preferences kept on this device (the language) and the safety of its storage.

use leptos::prelude::*;

use crate::components::storage::StoragePanel;
use crate::i18n::{tr, use_i18n, Lang, Msg};
use crate::session::use_session;

#[component]
pub fn Settings() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let on_change = move |ev| {
        if let Some(lang) = Lang::from_code(&event_target_value(&ev)) {
            i18n.set_lang(lang);
        }
    };
    view! {
        <h1>{tr(Msg::SettingsTitle)}</h1>
        <div class="field">
            <label for="lang-select">{tr(Msg::LanguageLabel)}</label>
            <select
                id="lang-select"
                aria-describedby="lang-hint"
                prop:value=move || i18n.lang().code()
                on:change=on_change
            >
                {Lang::ALL
                    .into_iter()
                    .map(|lang| {
                        view! {
                            <option value=lang.code() lang=lang.code()
                                selected=move || i18n.lang() == lang>
                                {lang.endonym()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <p id="lang-hint" class="hint">{tr(Msg::LanguageHint)}</p>
        </div>
        // Storage only matters once records can exist, that is once someone signed in.
        <Show when=move || session.signed_in()>
            <StoragePanel />
        </Show>
    }
}
