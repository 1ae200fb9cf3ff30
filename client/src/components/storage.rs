//! Storage safety: ask the browser to keep Chaski's data (`navigator.storage.persist()`), show
//! how much is used, and say in words when the browser refuses.
//!
//! Without persistence a browser may evict a site's IndexedDB under storage pressure, silently,
//! and with it every inspection not yet synced. Inspectors must know when that risk exists.

use leptos::prelude::*;
use leptos::task::spawn_local;
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
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[component]
pub fn StoragePanel() -> impl IntoView {
    let i18n = use_i18n();
    let persistent = RwSignal::new(None::<bool>);
    let usage = RwSignal::new(None::<(f64, f64)>);
    let refresh = move |ask: bool| {
        spawn_local(async move {
            persistent.set(persisted(ask).await);
            usage.set(estimate().await);
        });
    };
    // Asked at once: Chromium grants it silently to installed or often-used apps.
    refresh(true);
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
