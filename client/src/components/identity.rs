//! The identity of a person found (names, identity document, phone, address or community, a
//! note), typed on the tablet and sealed there to the regional office's key before anything is
//! stored; and the seal module that does it, loaded the first time it is needed.
//!
//! What the inspector types lives only in memory (signals, and a per-form map so that adding a
//! person does not wipe what was typed for another): never in the form's body, so never in the
//! autosaved draft. "Sellar identidad" seals it with HPKE to the current key of the
//! inspection's region (`/api/me`'s `seal_keys`, kept with the session for offline use), writes
//! the result to `people[i].sealed` and clears the inputs. The tablet cannot open it again: a
//! lost or seized tablet holds no name in clear. "Reemplazar" seals a new identity over it.
//!
//! The crypto is not in the app's own wasm: HPKE is about 17 KB of brotli and the first load
//! crosses 3G links. It is the seal module (`sealer/`, built by `client/build/sealer.sh`),
//! imported with a dynamic `import()` from a small JS snippet (the page's CSP allows scripts
//! from the app's own origin only, so no `eval`), only when something is sealed. So that it is
//! on the tablet before the tablet goes offline, the app asks the service worker to keep it
//! ([`keep_for_offline`]) after sign-in and at each online start: the worker fetches it into
//! its cache without the page instantiating anything.

use std::rc::Rc;

use chaski_shared::domain::{Choice, Region};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{js_reason, SealKey};
use crate::components::fields::{get_path, use_form};
use crate::i18n::{fill, tr, use_i18n, Label, Lang, Msg};
use crate::session::{use_session, Session};

/// Where the seal module's JS glue is served (`client/build/sealer.sh`).
pub const SEALER_URL: &str = "/sealer.js";

#[wasm_bindgen(inline_js = r#"
let loading = null;
// The seal module, imported and instantiated once per page; a failed import (offline before it
// was ever fetched) is tried again next time.
function load(url) {
  if (!loading) {
    loading = import(url).then(async (m) => { await m.default(); return m; });
    loading.catch(() => { loading = null; });
  }
  return loading;
}
export function sealer_load(url) {
  return load(url).then(() => true);
}
// To the newest worker, even one still installing (a first visit): it starts the fetch at once
// rather than after the whole shell is precached.
export function sealer_keep_offline() {
  const sw = navigator.serviceWorker;
  const ask = (w) => w && w.postMessage({ type: 'cache-lazy' });
  if (sw) sw.getRegistration().then((r) => r ? ask(r.installing || r.waiting || r.active)
    : sw.ready.then((r) => ask(r.active)), () => {});
}
export async function sealer_identity(url, pk, keyId, docId, code, fields) {
  return (await load(url)).seal_identity(pk, keyId, docId, code, ...fields);
}
export async function sealer_photo(url, pk, keyId, docId, name, bytes) {
  return (await load(url)).seal_photo(pk, keyId, docId, name, bytes);
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn sealer_load(url: &str) -> Result<JsValue, JsValue>;
    fn sealer_keep_offline();
    #[wasm_bindgen(catch)]
    async fn sealer_identity(
        url: &str,
        public_key_b64: &str,
        key_id: &str,
        doc_id: &str,
        person_code: &str,
        fields: js_sys::Array,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn sealer_photo(
        url: &str,
        public_key_b64: &str,
        key_id: &str,
        doc_id: &str,
        attachment: &str,
        bytes: js_sys::Uint8Array,
    ) -> Result<JsValue, JsValue>;
}

/// Why sealing failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealFailure {
    /// The seal module is not on this device (never fetched, and no network now).
    ModuleMissing,
    /// The module refused, with its reason (a damaged key, no random numbers).
    Refused(String),
}

impl SealFailure {
    /// What to tell the inspector.
    pub fn text(&self, lang: Lang) -> String {
        match self {
            SealFailure::ModuleMissing => M::ModuleMissing.text(lang).to_string(),
            SealFailure::Refused(reason) => fill(M::Failed.text(lang), &[("reason", reason)]),
        }
    }
}

/// Loads the seal module (once per page); `Err` when it is not on this device.
async fn load() -> Result<(), SealFailure> {
    sealer_load(SEALER_URL)
        .await
        .map(|_| ())
        .map_err(|_| SealFailure::ModuleMissing)
}

/// Asks the service worker to keep the seal module for offline use (`client/sw.js`, message
/// `cache-lazy`): called after sign-in and at each start while online. The worker fetches it
/// itself, so the module is neither parsed nor instantiated here, and the list the inspector
/// is waiting for does not compete with it. Nothing happens without a service worker.
pub fn keep_for_offline() {
    sealer_keep_offline();
}

/// Seals an identity (the values of [`IDENTITY_FIELDS`], in that order) for person
/// `person_code` of the inspection `doc_id`: the value of `people[i].sealed`.
pub async fn seal_identity(
    key: &SealKey,
    doc_id: &str,
    person_code: &str,
    values: &[String; 7],
) -> Result<Value, SealFailure> {
    load().await?;
    let fields = js_sys::Array::new();
    for value in values {
        fields.push(&JsValue::from_str(value.trim()));
    }
    let sealed = sealer_identity(
        SEALER_URL,
        &key.public_key_b64,
        &key.key_id,
        doc_id,
        person_code,
        fields,
    )
    .await
    .map_err(|e| SealFailure::Refused(js_reason(&e)))?;
    sealed
        .as_string()
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| SealFailure::Refused("no sealed value".into()))
}

/// Seals the bytes of photo `attachment` of the inspection `doc_id`: the envelope to store with
/// content type [`chaski_shared::sealed::SEALED_CONTENT_TYPE`].
pub async fn seal_photo(
    key: &SealKey,
    doc_id: &str,
    attachment: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, SealFailure> {
    load().await?;
    // A copy in JS memory: a view into the app's memory could be detached by the time the
    // module runs.
    let copy = js_sys::Uint8Array::from(bytes);
    let sealed = sealer_photo(
        SEALER_URL,
        &key.public_key_b64,
        &key.key_id,
        doc_id,
        attachment,
        copy,
    )
    .await
    .map_err(|e| SealFailure::Refused(js_reason(&e)))?;
    sealed
        .dyn_into::<js_sys::Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| SealFailure::Refused("no sealed bytes".into()))
}

/// The current sealing key of `region` on this device (tracked: the session).
pub fn key_for(session: Session, region: &str) -> Option<SealKey> {
    session.seal_key(region)
}

/// Why the inspector cannot seal for `region` now (no region, no key yet), in words; `None`
/// when they can.
pub fn blocked_reason(session: Session, region: Option<&str>, lang: Lang) -> Option<String> {
    match region {
        None => Some(M::NoRegion.text(lang).to_string()),
        Some(r) if key_for(session, r).is_none() => {
            let name = Region::from_name(r).map_or(r, |x| x.label(lang));
            Some(fill(M::NoKey.text(lang), &[("region", name)]))
        }
        Some(_) => None,
    }
}

/// The open inspection, for the identity fields: its id (the seal's associated data names it)
/// and what has been typed and not yet sealed, by person code. Provided by the inspection form;
/// absent elsewhere (the office's read-only view), where the identity fields do not show.
#[derive(Clone, Copy)]
pub struct SealTarget {
    doc_id: StoredValue<Rc<dyn Fn() -> Option<String>>, LocalStorage>,
    /// A list, not a map: a form has a handful of people, and a map type would add its own
    /// code to the app's first load.
    drafts: StoredValue<Vec<(String, [String; 7])>>,
}

impl SealTarget {
    /// Provides the context for the form of the inspection whose id `doc_id` gives.
    pub fn provide(doc_id: impl Fn() -> Option<String> + 'static) {
        provide_context(SealTarget {
            doc_id: StoredValue::new_local(Rc::new(doc_id)),
            drafts: StoredValue::new(Vec::new()),
        });
    }

    fn doc_id(self) -> Option<String> {
        self.doc_id.try_get_value().and_then(|f| f())
    }

    /// Forgets what was typed and not sealed for person `code` (removed from the form).
    pub fn forget(self, code: &str) {
        self.drafts
            .try_update_value(|d| d.retain(|(c, _)| c != code));
    }
}

/// The fields of an identity, as the seal module expects them (`chaski_seal::Identity`).
pub use chaski_shared::sealed::IDENTITY_FIELDS;

/// Identity document types (the sealed identity's `document_type`, and its label in Spanish
/// and English): the tablet's choices and the office's names for what it opens.
pub const DOCUMENT_TYPES: [(&str, &str, &str); 5] = [
    ("dni", "DNI", "DNI (Peruvian ID)"),
    ("ce", "Carné de extranjería (CE)", "Foreigner's card (CE)"),
    ("passport", "Pasaporte", "Passport"),
    // The CPP replaced the PTP in 2021; people still carry either.
    (
        "ptp",
        "PTP / CPP (permiso temporal)",
        "PTP / CPP (temporary permit)",
    ),
    ("other", "Otro documento", "Other document"),
];

/// Whether nothing was typed (blanks do not count).
pub fn is_blank(values: &[String; 7]) -> bool {
    values.iter().all(|v| v.trim().is_empty())
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Idle,
    Sealing,
    Empty,
    Failed(SealFailure),
}

/// The identity fields of person `i` of the open inspection.
#[component]
pub fn IdentityFields(i: usize) -> impl IntoView {
    let Some(target) = use_context::<SealTarget>() else {
        return ().into_any();
    };
    let form = use_form();
    let session = use_session();
    let i18n = use_i18n();
    let code = form.body.with_untracked(|b| {
        get_path(b, &format!("people[{i}].code"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    });
    let typed = target
        .drafts
        .with_value(|d| d.iter().find(|(c, _)| *c == code).map(|(_, v)| v.clone()))
        .unwrap_or_default();
    let values: [RwSignal<String>; 7] = std::array::from_fn(|n| RwSignal::new(typed[n].clone()));
    let state = RwSignal::new(State::Idle);
    let replacing = RwSignal::new(false);
    // Memos, so that typing elsewhere in the form does not redraw (and unfocus) these inputs.
    let sealed = Memo::new(move |_| form.get(&format!("people[{i}].sealed")).is_object());
    let region = Memo::new(move |_| form.get("region").as_str().map(str::to_owned));
    let blocked = Memo::new(move |_| blocked_reason(session, region.get().as_deref(), i18n.lang()));
    let unsealed = move || values.iter().any(|v| v.with(|v| !v.trim().is_empty()));
    let id = move |field: &str| format!("identity-{i}-{}", field.replace('_', "-"));

    let code = StoredValue::new(code);
    let remember = move || {
        let now: [String; 7] = std::array::from_fn(|n| values[n].get_untracked());
        let code = code.get_value();
        target.drafts.update_value(|d| {
            d.retain(|(c, _)| *c != code);
            d.push((code, now));
        });
    };
    let set = move |n: usize, value: String| {
        values[n].set(value);
        state.set(State::Idle);
        remember();
    };

    let seal = move |_| {
        let now: [String; 7] = std::array::from_fn(|n| values[n].get_untracked());
        if is_blank(&now) {
            state.set(State::Empty);
            return;
        }
        let key = region.get_untracked().and_then(|r| key_for(session, &r));
        let (Some(key), Some(doc_id)) = (key, target.doc_id()) else {
            return;
        };
        state.set(State::Sealing);
        let code = code.get_value();
        spawn_local(async move {
            match seal_identity(&key, &doc_id, &code, &now).await {
                Ok(value) => {
                    // Found by its code: a person before it may have been removed meanwhile.
                    let at = form.body.try_with_untracked(|b| {
                        b.get("people").and_then(Value::as_array).and_then(|a| {
                            a.iter()
                                .position(|p| p.get("code").and_then(Value::as_str) == Some(&code))
                        })
                    });
                    if let Some(Some(at)) = at {
                        form.set(&format!("people[{at}].sealed"), value);
                    }
                    for v in values {
                        v.try_set(String::new());
                    }
                    target
                        .drafts
                        .try_update_value(|d| d.retain(|(c, _)| *c != code));
                    replacing.try_set(false);
                    state.try_set(State::Idle);
                }
                Err(e) => {
                    state.try_set(State::Failed(e));
                }
            }
        });
    };

    let t = move |m: M| m.text(i18n.lang());
    let text_input = move |n: usize, label: M, kind: &'static str| {
        let field = IDENTITY_FIELDS[n];
        view! {
            <div class="field">
                <label for=id(field)>{move || t(label)}</label>
                <input id=id(field) type=kind autocomplete="off" spellcheck="false"
                    prop:value=move || values[n].get()
                    on:input=move |ev| set(n, event_target_value(&ev)) />
            </div>
        }
    };
    let inputs = move || {
        view! {
            <fieldset class="plain" disabled=move || blocked.get().is_some() || state.get() == State::Sealing>
                <div class="grid2">
                    {text_input(0, M::GivenNames, "text")}
                    {text_input(1, M::FamilyNames, "text")}
                    <div class="field">
                        <label for=id("document_type")>{move || t(M::DocumentType)}</label>
                        <select id=id("document_type")
                            prop:value=move || values[2].get()
                            on:change=move |ev| set(2, event_target_value(&ev))>
                            <option value="">{tr(Msg::Choose)}</option>
                            {DOCUMENT_TYPES.iter().map(|(value, es, en)| {
                                let (es, en) = (*es, *en);
                                view! {
                                    <option value=*value>
                                        {move || if i18n.lang() == Lang::Es { es } else { en }}
                                    </option>
                                }
                            }).collect_view()}
                        </select>
                    </div>
                    {text_input(3, M::DocumentNumber, "text")}
                    {text_input(4, M::Phone, "tel")}
                    {text_input(5, M::Address, "text")}
                </div>
                <div class="field">
                    <label for=id("note")>{move || t(M::Note)}</label>
                    <textarea id=id("note") rows="2" autocomplete="off"
                        prop:value=move || values[6].get()
                        on:input=move |ev| set(6, event_target_value(&ev))></textarea>
                </div>
                <div class="actions">
                    <button id=id("seal") type="button" class="button primary" on:click=seal>
                        {move || t(M::Seal)}
                    </button>
                    <Show when=move || replacing.get()>
                        <button id=id("cancel") type="button" class="button secondary"
                            on:click=move |_| replacing.set(false)>
                            {tr(Msg::Cancel)}
                        </button>
                    </Show>
                </div>
            </fieldset>
            <Show when=unsealed>
                <p class="hint identity-unsealed">{move || t(M::Unsealed)}</p>
            </Show>
        }
    };

    view! {
        <fieldset class="identity" id=format!("identity-{i}")
            data-sealed=move || sealed.get().to_string()>
            <legend>{move || t(M::Title)}</legend>
            {move || blocked.get().map(|reason| view! {
                <p id=id("blocked") class="hint identity-blocked">{reason}</p>
            })}
            {move || {
                if sealed.get() && !replacing.get() {
                    view! {
                        <p id=id("sealed") class="ok identity-sealed">{move || t(M::Sealed)}</p>
                        <button id=id("replace") type="button" class="button secondary small"
                            on:click=move |_| replacing.set(true)>
                            {move || t(M::Replace)}
                        </button>
                    }.into_any()
                } else {
                    view! {
                        <p class="hint">
                            {move || t(if replacing.get() { M::ReplaceHint } else { M::Hint })}
                        </p>
                        {inputs()}
                    }.into_any()
                }
            }}
            <p id=id("status") role="status" class="identity-status">
                {move || match state.get() {
                    State::Idle => String::new(),
                    State::Sealing => t(M::Sealing).to_string(),
                    State::Empty => t(M::Empty).to_string(),
                    State::Failed(e) => e.text(i18n.lang()),
                }}
            </p>
        </fieldset>
    }
    .into_any()
}

/// This module's messages, in Spanish and English (kept here rather than in the app's table:
/// they belong to this one widget and its photo counterpart; words the whole app uses, such as
/// "Cancel", come from [`Msg`]). The office labels an opened identity's phone, address and note
/// with these too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum M {
    Title,
    Hint,
    ReplaceHint,
    GivenNames,
    FamilyNames,
    DocumentType,
    DocumentNumber,
    Phone,
    Address,
    Note,
    Seal,
    Sealing,
    Sealed,
    Replace,
    Empty,
    Unsealed,
    NoRegion,
    NoKey,
    ModuleMissing,
    Failed,
    PhotoShowsPeople,
    PhotoShowsPeopleHint,
    PhotoSealed,
    PhotoNoKey,
}

impl M {
    pub const ALL: [M; 24] = [
        M::Title,
        M::Hint,
        M::ReplaceHint,
        M::GivenNames,
        M::FamilyNames,
        M::DocumentType,
        M::DocumentNumber,
        M::Phone,
        M::Address,
        M::Note,
        M::Seal,
        M::Sealing,
        M::Sealed,
        M::Replace,
        M::Empty,
        M::Unsealed,
        M::NoRegion,
        M::NoKey,
        M::ModuleMissing,
        M::Failed,
        M::PhotoShowsPeople,
        M::PhotoShowsPeopleHint,
        M::PhotoSealed,
        M::PhotoNoKey,
    ];

    /// The message in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (es, en) = match self {
            M::Title => ("Identidad (sellada en el tablet)", "Identity (sealed on the tablet)"),
            M::Hint => (
                "Estos datos no se guardan en el tablet. «Sellar identidad» los cifra para la \
                 oficina regional y los borra de la pantalla; después nadie puede leerlos aquí.",
                "These details are not stored on the tablet. \"Seal identity\" encrypts them for \
                 the regional office and clears them from the screen; after that nobody can read \
                 them here.",
            ),
            M::ReplaceHint => (
                "La identidad sellada no se puede ver en el tablet. Escriba la nueva: al sellarla \
                 reemplaza a la anterior.",
                "The sealed identity cannot be seen on the tablet. Type the new one: sealing it \
                 replaces the old one.",
            ),
            M::GivenNames => ("Nombres", "Given names"),
            M::FamilyNames => ("Apellidos", "Family names"),
            M::DocumentType => ("Documento de identidad", "Identity document"),
            M::DocumentNumber => ("Número de documento", "Document number"),
            M::Phone => ("Teléfono", "Phone"),
            M::Address => ("Dirección o comunidad", "Address or community"),
            M::Note => ("Nota", "Note"),
            M::Seal => ("Sellar identidad", "Seal identity"),
            M::Sealing => ("Sellando…", "Sealing…"),
            M::Sealed => (
                "Identidad sellada — se abre en la oficina",
                "Identity sealed — opened at the office",
            ),
            M::Replace => ("Reemplazar", "Replace"),
            M::Empty => (
                "No hay nada que sellar: escriba al menos un dato.",
                "Nothing to seal: type at least one detail.",
            ),
            M::Unsealed => (
                "Aún sin sellar: estos datos se pierden si sale de esta inspección.",
                "Not sealed yet: these details are lost if you leave this inspection.",
            ),
            M::NoRegion => (
                "Sin región no se puede sellar: la identidad se sella con la clave de la región \
                 de la inspección.",
                "No region, so nothing can be sealed: an identity is sealed with the key of the \
                 inspection's region.",
            ),
            M::NoKey => (
                "Todavía no hay clave de sellado para {region}: la oficina regional debe crearla, \
                 y el tablet la recibe la próxima vez que se conecte. Hasta entonces no se pueden \
                 registrar identidades.",
                "There is no sealing key for {region} yet: the regional office must create it, and \
                 the tablet receives it the next time it connects. Until then no identity can be \
                 recorded.",
            ),
            M::ModuleMissing => (
                "El módulo de sellado no está en este tablet: conéctese a internet una vez con la \
                 app abierta para descargarlo.",
                "The sealing module is not on this tablet: connect to the internet once with the \
                 app open to download it.",
            ),
            M::Failed => ("No se pudo sellar: {reason}", "Could not seal: {reason}"),
            M::PhotoShowsPeople => ("La foto muestra personas", "The photo shows people"),
            M::PhotoShowsPeopleHint => (
                "Activado, la foto se sella para la oficina y no se ve en el tablet. Desactívelo \
                 solo para fotos de lugares u objetos donde no se ve a nadie.",
                "When on, the photo is sealed for the office and cannot be seen on the tablet. \
                 Turn it off only for photos of places or objects where nobody can be seen.",
            ),
            M::PhotoSealed => ("Foto sellada", "Sealed photo"),
            M::PhotoNoKey => (
                "La foto no se guardó: muestra personas y no hay clave de sellado para esta \
                 región todavía.",
                "The photo was not kept: it shows people and there is no sealing key for this \
                 region yet.",
            ),
        };
        match lang {
            Lang::Es => es,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_in_both_languages_and_they_differ() {
        for m in M::ALL {
            assert!(!m.text(Lang::Es).trim().is_empty(), "{m:?}");
            assert!(!m.text(Lang::En).trim().is_empty(), "{m:?}");
        }
        assert_ne!(M::Seal.text(Lang::Es), M::Seal.text(Lang::En));
    }

    #[test]
    fn blanks_are_nothing_to_seal() {
        let mut values: [String; 7] = Default::default();
        assert!(is_blank(&values));
        values[6] = "   ".into();
        assert!(is_blank(&values));
        values[3] = "41234567".into();
        assert!(!is_blank(&values));
    }
}
