//! Storage safety: ask the browser to keep Chaski's data (`navigator.storage.persist()`), show
//! how much is used, and say in words when the browser refuses.
//!
//! Without persistence a browser may evict a site's IndexedDB under storage pressure, silently,
//! and with it every inspection not yet synced. Inspectors must know when that risk exists.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::i18n::{tr, use_i18n, Msg};

/// `None`: the browser has no storage manager, or has not answered yet.
async fn persisted(ask: bool) -> Option<bool> {
    let storage = window().navigator().storage();
    let promise = if ask {
        storage.persist().ok()?
    } else {
        storage.persisted().ok()?
    };
    JsFuture::from(promise).await.ok()?.as_bool()
}

async fn estimate() -> Option<(f64, f64)> {
    let promise = window().navigator().storage().estimate().ok()?;
    let value = JsFuture::from(promise).await.ok()?;
    let get = |k: &str| js_sys::Reflect::get(&value, &k.into()).ok()?.as_f64();
    Some((get("usage")?, get("quota")?))
}

/// `12.3 MB`: decimal units, as tablets' settings screens show them.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if unit == 0 { 0 } else { 1 };
    format!("{} {}", crate::num::fixed(value, digits), UNITS[unit])
}

/// What the browser said about keeping this app's data, shared by context so the question is
/// asked once at start (not only when the inspector happens to open the settings).
#[derive(Clone, Copy)]
pub struct StorageSafety {
    /// `Some(false)`: the browser refused; it may evict the records under storage pressure.
    pub persistent: RwSignal<Option<bool>>,
    /// Bytes used and the quota.
    pub usage: RwSignal<Option<(f64, f64)>>,
    /// The browser offered to install the app (its `beforeinstallprompt`, kept to show later):
    /// an installed app is far more likely to be granted persistent storage.
    install_prompt: StoredValue<Option<JsValue>, LocalStorage>,
    installable: RwSignal<bool>,
}

impl StorageSafety {
    /// Provides the context; once someone is signed in (records can exist), asks the browser
    /// to keep the data.
    pub fn provide(session: crate::session::Session) -> StorageSafety {
        let safety = StorageSafety {
            persistent: RwSignal::new(None),
            usage: RwSignal::new(None),
            install_prompt: StoredValue::new_local(None),
            installable: RwSignal::new(false),
        };
        provide_context(safety);
        // Kept for the notice's "install" button; the browser's own mini-bar is not shown.
        let _ = window_event_listener_untyped("beforeinstallprompt", move |ev| {
            ev.prevent_default();
            let ev: JsValue = ev.into();
            safety.install_prompt.set_value(Some(ev));
            safety.installable.set(true);
        });
        Effect::new(move |asked: Option<bool>| {
            let asked = asked.unwrap_or(false);
            if session.signed_in() && !asked {
                safety.refresh(true);
                return true;
            }
            asked
        });
        safety
    }

    /// Shows the browser's install dialog; once installed, asks again for persistent storage.
    pub fn install(self) {
        let Some(prompt) = self.install_prompt.try_get_value().flatten() else {
            return;
        };
        self.install_prompt.set_value(None);
        self.installable.set(false);
        let ev = prompt;
        let call = |name: &str| -> Option<js_sys::Promise> {
            let f: js_sys::Function = js_sys::Reflect::get(&ev, &name.into())
                .ok()?
                .dyn_into()
                .ok()?;
            f.call0(&ev).ok()?.dyn_into().ok()
        };
        let Some(shown) = call("prompt") else { return };
        let choice = js_sys::Reflect::get(&ev, &"userChoice".into())
            .ok()
            .and_then(|c| c.dyn_into::<js_sys::Promise>().ok());
        spawn_local(async move {
            let _ = JsFuture::from(shown).await;
            let Some(choice) = choice else { return };
            let Ok(answer) = JsFuture::from(choice).await else {
                return;
            };
            let outcome = js_sys::Reflect::get(&answer, &"outcome".into()).ok();
            if outcome.and_then(|o| o.as_string()).as_deref() == Some("accepted") {
                self.refresh(true);
            }
        });
    }

    /// Reads the state again, asking for persistence first when `ask`.
    pub fn refresh(self, ask: bool) {
        // `try_set`: the answer may come after the app that asked is gone.
        spawn_local(async move {
            self.persistent.try_set(persisted(ask).await);
            self.usage.try_set(estimate().await);
        });
    }
}

pub fn use_storage_safety() -> StorageSafety {
    expect_context::<StorageSafety>()
}

/// `localStorage` key: until when (milliseconds since 1970) the list's warning stays hidden.
const WARNING_HIDDEN_UNTIL: &str = "chaski.storage-warning-hidden-until";
/// How long "hide for today" hides it.
const HIDE_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

fn warning_hidden_until() -> f64 {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(WARNING_HIDDEN_UNTIL).ok().flatten())
        .and_then(|v| crate::num::parse(&v))
        .unwrap_or(0.0)
}

/// A small notice on the list when the browser refused to keep the data: what to do about it
/// (install, then ask again in the settings), hidden for a day on request. The settings keep
/// saying it in full.
#[component]
pub fn StorageWarning() -> impl IntoView {
    let safety = use_storage_safety();
    let hidden = RwSignal::new(warning_hidden_until() > js_sys::Date::now());
    let hide = move |_| {
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let until = js_sys::Date::now() + HIDE_MS;
            let _ = storage.set_item(WARNING_HIDDEN_UNTIL, &crate::num::fixed(until, 0));
        }
        hidden.set(true);
    };
    view! {
        <Show when=move || safety.persistent.get() == Some(false) && !hidden.get()>
            <p id="storage-warning" class="notice" role="status">
                {tr(Msg::StorageWarnShort)} " "
                <a href="/settings">{tr(Msg::NavSettings)}</a>
                <Show when=move || safety.installable.get()>
                    <button id="storage-install" type="button" class="button small"
                        on:click=move |_| safety.install()>{tr(Msg::StorageInstall)}</button>
                </Show>
                <button id="storage-warning-hide" type="button" class="button secondary small"
                    on:click=hide>{tr(Msg::StorageWarnDismiss)}</button>
            </p>
        </Show>
    }
}

#[component]
pub fn StoragePanel() -> impl IntoView {
    let i18n = use_i18n();
    let safety = use_storage_safety();
    let (persistent, usage) = (safety.persistent, safety.usage);
    let refresh = move |ask: bool| safety.refresh(ask);
    // Read afresh on opening the settings: the usage grows with every photo.
    refresh(false);
    view! {
        <section id="storage" class="card">
            <h2>{tr(Msg::StorageTitle)}</h2>
            <p id="storage-persistent" data-persistent=move || match persistent.get() {
                Some(true) => "true",
                Some(false) => "false",
                None => "unknown",
            } class=move || if persistent.get() == Some(true) { "ok" } else { "alert" }>
                {move || i18n.t(if persistent.get() == Some(true) {
                    Msg::StoragePersistent
                } else {
                    Msg::StorageNotPersistent
                })}
            </p>
            <Show when=move || persistent.get() != Some(true)>
                <button id="storage-persist" type="button" class="button secondary"
                    on:click=move |_| refresh(true)>{tr(Msg::StorageAsk)}</button>
            </Show>
            <p id="storage-usage">
                {move || match usage.get() {
                    Some((used, quota)) => i18n.f(Msg::StorageUsage, &[
                        ("used", &human_bytes(used)),
                        ("quota", &human_bytes(quota)),
                    ]),
                    None => i18n.t(Msg::StorageUnknown).to_string(),
                }}
            </p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_like_a_settings_screen() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(12_345_678.0), "12.3 MB");
    }
}
