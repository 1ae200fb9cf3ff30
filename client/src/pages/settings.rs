//! `/settings`: preferences kept on this device (the language), the safety of its storage, and
//! the app's own recent failures.

use leptos::prelude::*;

use crate::client_errors;
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
        <ClientErrors />
    }
}

/// The device's log of the app's own failures (see [`crate::client_errors`]), newest first.
#[component]
fn ClientErrors() -> impl IntoView {
    let mut log = client_errors::load();
    log.reverse();
    let list = if log.is_empty() {
        view! { <p id="client-errors-none">{tr(Msg::ClientErrorsNone)}</p> }.into_any()
    } else {
        view! {
            <ul id="client-errors-list">
                {log.into_iter().map(|e| {
                    let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(e.at_ms))
                        .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
                        .as_string()
                        .unwrap_or_default();
                    let state = if e.sent { Msg::ClientErrorSent } else { Msg::ClientErrorUnsent };
                    view! {
                        <li class="client-error" data-sent=e.sent.to_string()>
                            <code>{e.message}</code>
                            " · " {e.location.unwrap_or_default()}
                            " · " {when} " · " {tr(state)}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section id="client-errors" class="card">
            <h2>{tr(Msg::ClientErrorsTitle)}</h2>
            <p class="hint">{tr(Msg::ClientErrorsIntro)}</p>
            {list}
        </section>
    }
}
