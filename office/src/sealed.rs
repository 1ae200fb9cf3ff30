//! The case page's sealed parts: unlocking the region's key, each person's sealed identity,
//! the photos that show people, and the openings the custody log holds for this case.
//!
//! Order of an opening: the value is opened in memory, then `POST /api/log/opening` records
//! who opened what; only after its `201` does the page show it. A failed log write shows
//! nothing. A value sealed to a key this browser does not hold is named; a damaged one says
//! "cannot open" for that person or photo alone.

use chaski_client::components::identity::{DOCUMENT_TYPES, M as IdentityText};
use chaski_client::i18n::{use_i18n, Label, Lang};
use chaski_client::session::use_session;
use chaski_seal::{Identity, SealError, Sealed};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use crate::api::{self, Opening, OpeningEntry};
use crate::i18n::*;
use crate::keys::{use_keys, FetchError, Progress, UnlockError};
use crate::pages::error_text;

/// A person of the inspection and their sealed identity, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct SealedPerson {
    pub code: String,
    pub sealed: Option<Sealed>,
    /// The sealed field is there but not in the expected shape.
    pub malformed: bool,
}

/// The people of an inspection's body, with what each has sealed.
pub fn people(body: &serde_json::Map<String, Value>) -> Vec<SealedPerson> {
    body.get("people")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let code = p.get("code")?.as_str()?.to_string();
            let raw = p.get("sealed").filter(|s| !s.is_null());
            let sealed = raw.and_then(|s| serde_json::from_value::<Sealed>(s.clone()).ok());
            Some(SealedPerson {
                code,
                malformed: raw.is_some() && sealed.is_none(),
                sealed,
            })
        })
        .collect()
}

/// The attachment names of the photos that show people (sealed): `photos[i].shows_people`, or
/// an attachment stored with the sealed content type.
pub fn sealed_photos(doc: &chaski_shared::Document) -> Vec<String> {
    let mut out: Vec<String> = doc
        .body
        .get("photos")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("shows_people").and_then(Value::as_bool) == Some(true))
        .filter_map(|p| {
            p.get("attachment")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    for (name, att) in &doc.attachments {
        if att.content_type == chaski_seal::SEALED_CONTENT_TYPE && !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// The card: unlock, the identities, and this case's openings. A case with nothing sealed
/// (`has_sealed` false: no identity and no photo of people) shows only a line saying so.
#[component]
pub fn SealedCard(
    db: String,
    doc_id: String,
    people: Vec<SealedPerson>,
    has_sealed: bool,
    openings_version: RwSignal<u32>,
) -> impl IntoView {
    let sealed_count = people
        .iter()
        .filter(|p| p.sealed.is_some() || p.malformed)
        .count();
    if !has_sealed && sealed_count == 0 {
        return view! {
            <section id="identities" class="card">
                <h2>{ot(O::Identities)}</h2>
                <p id="no-identities" class="hint">{ot(O::NoIdentities)}</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section id="identities" class="card">
            <h2>{ot(O::Identities)}</h2>
            <Unlock />
            {if sealed_count == 0 {
                view! { <p id="no-identities" class="hint">{ot(O::NoIdentities)}</p> }.into_any()
            } else {
                view! {
                    <ul class="identity-list">
                        {people.into_iter().filter(|p| p.sealed.is_some() || p.malformed).map(|p| view! {
                            <PersonIdentity person=p db=db.clone() doc_id=doc_id.clone()
                                openings_version=openings_version />
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <Openings db=db.clone() doc_id=doc_id.clone() version=openings_version />
    }
    .into_any()
}

/// The passphrase form, or that the region's key is unlocked here.
#[component]
pub fn Unlock() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let ring = use_keys();
    let passphrase = RwSignal::new(String::new());
    let progress = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let region = move || session.region().unwrap_or_default();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let lang = i18n.lang();
        error.set(None);
        note.set(None);
        let pass = passphrase.get_untracked();
        if pass.is_empty() {
            error.set(Some(O::Required.label(lang).to_string()));
            return;
        }
        let (Some(token), Some(region)) = (session.token(), session.region()) else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let said = move |p: Progress| {
                progress.try_set(match p {
                    Progress::Fetching => Some(O::UnlockFetching.label(lang).to_string()),
                    Progress::Unwrapping { n, of } => Some(
                        O::UnlockUnwrapping
                            .label(lang)
                            .replace("{n}", &n.to_string())
                            .replace("{of}", &of.to_string()),
                    ),
                });
            };
            let result = ring.unlock(&token, &region, &pass, said).await;
            // Used: the field forgets it, right or wrong (the one copy the page kept).
            passphrase.try_set(String::new());
            progress.try_set(None);
            busy.try_set(false);
            match result {
                Ok(done) => {
                    if !done.not_opened.is_empty() {
                        note.try_set(Some(
                            O::UnlockPartly
                                .label(lang)
                                .replace("{keys}", &done.not_opened.join(", ")),
                        ));
                    }
                }
                Err(e) => {
                    error.try_set(unlock_error_text(&e, lang));
                }
            }
        });
    };
    view! {
        <div id="unlock" class="unlock"
            data-unlocked=move || (ring.holds_region(&region()) && !busy.get()).to_string()>
            // Said once every key of the region has been tried, not after the first.
            <Show when=move || ring.holds_region(&region()) && !busy.get()>
                <p id="unlocked" class="ok" role="status">
                    {move || i18n.l(O::Unlocked).replace("{n}", &ring.ids().len().to_string())}
                    " "
                    <button id="lock" type="button" class="button small secondary"
                        on:click=move |_| ring.lock()>{ot(O::Lock)}</button>
                </p>
            </Show>
            {move || note.get().map(|n| view! { <p id="unlock-note" class="hint">{n}</p> })}
            // A second passphrase may open the keys the first did not (after a rotation), so the
            // form stays while any key of the region may be missing.
            <Show when=move || !ring.holds_region(&region()) || note.get().is_some() || busy.get()>
                <form id="unlock-form" class="office-filters" on:submit=submit novalidate=true>
                    <div class="field">
                        <label for="unlock-passphrase">{ot(O::KeyPassphrase)}</label>
                        <input id="unlock-passphrase" type="password" autocomplete="off"
                            spellcheck="false" aria-describedby="unlock-error"
                            prop:value=move || passphrase.get()
                            on:input=move |ev| passphrase.set(event_target_value(&ev)) />
                    </div>
                    <button id="unlock-submit" type="submit" class="button primary"
                        disabled=move || busy.get()>{ot(O::UnlockKey)}</button>
                    <p class="hint">{ot(O::UnlockHint)}</p>
                </form>
            </Show>
            {move || progress.get().map(|p| view! { <p id="unlock-progress" class="hint" role="status">{p}</p> })}
            {move || error.get().map(|e| view! { <p id="unlock-error" class="alert" role="alert">{e}</p> })}
        </div>
    }
}

/// Why an unlock failed, in words; nothing when it was interrupted by a lock or a sign-out
/// (the person did that themselves).
fn unlock_error_text(e: &UnlockError, lang: Lang) -> Option<String> {
    Some(match e {
        UnlockError::WrongPassphrase => O::WrongKeyPassphrase.label(lang).to_string(),
        UnlockError::NoKeys => O::NoRegionKey.label(lang).to_string(),
        UnlockError::Damaged(id) => O::KeyDamaged.label(lang).replace("{key}", id),
        UnlockError::Fetch(FetchError::Forbidden(reason)) => {
            format!("{} {reason}", O::KeysForbidden.label(lang))
        }
        UnlockError::Fetch(FetchError::Api(e)) => error_text(e, lang),
        UnlockError::Interrupted => return None,
    })
}

/// What a person's line shows.
#[derive(Clone, Debug, PartialEq)]
enum Shown {
    Closed,
    Working,
    Open(Box<Identity>),
    Failed(String),
}

#[component]
fn PersonIdentity(
    person: SealedPerson,
    db: String,
    doc_id: String,
    openings_version: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let ring = use_keys();
    let shown = RwSignal::new(Shown::Closed);
    let code = person.code.clone();
    let key_id = person
        .sealed
        .as_ref()
        .map(|s| s.recipient_key_id.clone())
        .unwrap_or_default();
    let malformed = person.malformed;
    let held = {
        let key_id = key_id.clone();
        move || ring.holds(&key_id)
    };
    // Forget what was shown (or is being opened) once the key is locked.
    Effect::new({
        let held = held.clone();
        move |_| {
            if !held() && shown.with_untracked(|s| !matches!(s, Shown::Closed)) {
                shown.set(Shown::Closed);
            }
        }
    });
    let open = {
        let (code, db, doc_id) = (code.clone(), db.clone(), doc_id.clone());
        let sealed = person.sealed.clone();
        move |_| {
            let Some(sealed) = sealed.clone() else {
                return;
            };
            let Some(token) = session.token() else {
                return;
            };
            let lang = i18n.lang();
            let generation = ring.generation();
            shown.set(Shown::Working);
            let opened = ring.with_keys(|keys| Identity::open(keys, &sealed, &doc_id, &code));
            let identity = match opened {
                Ok(identity) => identity,
                Err(e) => {
                    shown.set(Shown::Failed(seal_error_text(&e, lang)));
                    return;
                }
            };
            let opening = Opening {
                db: db.clone(),
                doc_id: doc_id.clone(),
                person_code: Some(code.clone()),
                attachment: None,
                key_id: sealed.recipient_key_id.clone(),
            };
            spawn_local(async move {
                let logged = api::log_opening(&token, &opening).await;
                if logged.is_ok() {
                    openings_version.try_update(|v| *v += 1);
                }
                // Locked (or signed out) while the log answered: the identity is dropped unseen.
                if !ring.still(generation) {
                    return;
                }
                shown.try_set(match logged {
                    Ok(_) => Shown::Open(Box::new(identity)),
                    Err(e) => Shown::Failed(format!(
                        "{} {}",
                        O::OpeningNotLogged.label(lang),
                        error_text(&e, lang)
                    )),
                });
            });
        }
    };
    let label_key = key_id.clone();
    view! {
        <li class="identity" data-person=code.clone()>
            <strong class="identity-code">{code.clone()}</strong>
            " "
            {move || {
                let lang = i18n.lang();
                if malformed {
                    return view! { <span class="identity-damaged alert">{O::CannotOpen.label(lang)}</span> }.into_any();
                }
                if !held() {
                    let msg = if ring.ids().is_empty() {
                        O::SealedLocked
                    } else {
                        O::SealedKeyNotHeld
                    };
                    return view! {
                        <span class="identity-locked hint" data-key=label_key.clone()>
                            {msg.label(lang).replace("{key}", &label_key)}
                        </span>
                    }.into_any();
                }
                match shown.get() {
                    Shown::Closed => view! {
                        <button type="button" class="button small secondary open-identity"
                            on:click=open.clone()>{O::OpenIdentity.label(lang)}</button>
                    }.into_any(),
                    Shown::Working => view! { <span class="hint">{O::Opening.label(lang)}</span> }.into_any(),
                    Shown::Failed(why) => view! {
                        <span class="identity-damaged alert" role="alert">{why}</span>
                    }.into_any(),
                    Shown::Open(identity) => identity_view(&identity, lang).into_any(),
                }
            }}
        </li>
    }
}

fn seal_error_text(e: &SealError, lang: Lang) -> String {
    match e {
        SealError::KeyNotHeld(id) => O::SealedKeyNotHeld.label(lang).replace("{key}", id),
        _ => O::CannotOpen.label(lang).to_string(),
    }
}

fn document_type(code: &str, lang: Lang) -> String {
    code_label(&DOCUMENT_TYPES, code, lang == Lang::En)
}

fn identity_view(identity: &Identity, lang: Lang) -> impl IntoView {
    let names = format!("{} {}", identity.given_names, identity.family_names)
        .trim()
        .to_string();
    let document = if identity.document_type.is_empty() && identity.document_number.is_empty() {
        String::new()
    } else {
        format!(
            "{} {}",
            document_type(&identity.document_type, lang),
            identity.document_number
        )
        .trim()
        .to_string()
    };
    let rows: Vec<(&'static str, &'static str, String)> = vec![
        ("names", O::IdNames.label(lang), names),
        ("document", O::IdDocument.label(lang), document),
        // The tablet's words for the fields it sealed; names and document are shown joined,
        // so they keep the office's own labels.
        (
            "phone",
            IdentityText::Phone.text(lang),
            identity.phone.clone(),
        ),
        (
            "address",
            IdentityText::Address.text(lang),
            identity.address.clone(),
        ),
        ("note", IdentityText::Note.text(lang), identity.note.clone()),
    ];
    view! {
        <dl class="identity-open">
            {rows.into_iter().filter(|(_, _, v)| !v.is_empty()).map(|(k, label, value)| view! {
                <dt>{label}</dt><dd data-field=k>{value}</dd>
            }).collect_view()}
        </dl>
    }
}

/// A photo that shows people: sealed until opened (and logged), then an object URL.
#[component]
pub fn SealedPhoto(
    db: String,
    doc_id: String,
    name: String,
    openings_version: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let ring = use_keys();
    let shown = RwSignal::new(None::<Result<String, String>>);
    let working = RwSignal::new(false);
    // Locking forgets the opened photo too: its object URL is revoked.
    Effect::new(move |_| {
        if ring.ids().is_empty() {
            if let Some(Some(Ok(url))) = shown.try_get_untracked() {
                let _ = web_sys::Url::revoke_object_url(&url);
                shown.set(None);
            }
        }
    });
    // The object URL is revoked when the photo leaves the page.
    on_cleanup(move || {
        if let Some(Some(Ok(url))) = shown.try_get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    });
    let open = {
        let (db, doc_id, name) = (db.clone(), doc_id.clone(), name.clone());
        move |_| {
            let Some(token) = session.token() else {
                return;
            };
            let lang = i18n.lang();
            let (db, doc_id, name) = (db.clone(), doc_id.clone(), name.clone());
            let generation = ring.generation();
            working.set(true);
            spawn_local(async move {
                let result = open_photo(ring, &token, &db, &doc_id, &name, lang).await;
                working.try_set(false);
                if result.is_ok() {
                    openings_version.try_update(|v| *v += 1);
                }
                // Locked (or signed out) while it opened: not shown, its URL revoked at once;
                // likewise if the photo left the page meanwhile.
                let unshown = if ring.still(generation) {
                    shown.try_set(Some(result)).flatten()
                } else {
                    Some(result)
                };
                if let Some(Ok(url)) = unshown {
                    let _ = web_sys::Url::revoke_object_url(&url);
                }
            });
        }
    };
    let alt = name.clone();
    view! {
        <figure class="sealed-photo" data-attachment=name.clone()>
            {move || {
                let lang = i18n.lang();
                match shown.get() {
                    Some(Ok(url)) => view! {
                        <img class="thumb case-photo opened-photo" src=url alt=alt.clone() />
                    }.into_any(),
                    Some(Err(why)) => view! { <p class="alert photo-damaged" role="alert">{why}</p> }.into_any(),
                    _ if ring.ids().is_empty() => view! {
                        <p class="hint photo-locked">{O::SealedPhotoLocked.label(lang)}</p>
                    }.into_any(),
                    _ if working.get() => view! { <p class="hint">{O::Opening.label(lang)}</p> }.into_any(),
                    _ => view! {
                        <button type="button" class="button small secondary open-photo"
                            on:click=open.clone()>{O::OpenPhoto.label(lang)}</button>
                    }.into_any(),
                }
            }}
            <figcaption class="hint">{O::ShowsPeople.label(untrack(move || i18n.lang()))}</figcaption>
        </figure>
    }
}

async fn open_photo(
    ring: crate::keys::KeyRing,
    token: &str,
    db: &str,
    doc_id: &str,
    name: &str,
    lang: Lang,
) -> Result<String, String> {
    let bytes = api::attachment_bytes(token, db, doc_id, name)
        .await
        .map_err(|e| error_text(&e, lang))?;
    let key_id = chaski_seal::check_envelope(&bytes)
        .map(str::to_owned)
        .map_err(|_| O::CannotOpen.label(lang).to_string())?;
    let plain = ring
        .with_keys(|keys| {
            chaski_seal::open_bytes(keys, &bytes, &chaski_seal::photo_aad(doc_id, name))
        })
        .map_err(|e| seal_error_text(&e, lang))?;
    let opening = Opening {
        db: db.to_string(),
        doc_id: doc_id.to_string(),
        person_code: None,
        attachment: Some(name.to_string()),
        key_id,
    };
    api::log_opening(token, &opening).await.map_err(|e| {
        format!(
            "{} {}",
            O::OpeningNotLogged.label(lang),
            error_text(&e, lang)
        )
    })?;
    object_url(&plain).ok_or_else(|| O::CannotOpen.label(lang).to_string())
}

/// A `blob:` URL of JPEG bytes.
fn object_url(bytes: &[u8]) -> Option<String> {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/jpeg");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// The openings of this case, from the custody log.
#[component]
fn Openings(db: String, doc_id: String, version: RwSignal<u32>) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let list = RwSignal::new(None::<Result<Vec<OpeningEntry>, String>>);
    Effect::new(move |_| {
        version.track();
        let Some(token) = session.token() else {
            return;
        };
        let (db, doc_id) = (db.clone(), doc_id.clone());
        let lang = untrack(move || i18n.lang());
        spawn_local(async move {
            let got = api::openings(&token, &db, &doc_id)
                .await
                .map_err(|e| error_text(&e, lang));
            list.try_set(Some(got));
        });
    });
    view! {
        <section id="openings" class="card">
            <h2>{ot(O::Openings)}</h2>
            {move || match list.get() {
                None => view! { <p class="hint">{ot(O::Loading)}</p> }.into_any(),
                Some(Err(e)) => view! {
                    <p id="openings-error" class="alert" role="alert">{ot(O::LoadFailed)} " " {e}</p>
                }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => view! {
                    <p id="openings-empty" class="hint">{ot(O::NoOpenings)}</p>
                }.into_any(),
                Some(Ok(rows)) => view! {
                    <table id="openings-table" class="inbox-table">
                        <thead><tr>
                            <th>{ot(O::ColAt)}</th><th>{ot(O::ColBy)}</th>
                            <th>{ot(O::OpenedWhat)}</th><th>{ot(O::ColDevice)}</th>
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|o| view! {
                                <tr class="opening-row" data-index=o.index.to_string()
                                    data-user=o.user.clone() data-what=o.what.clone()>
                                    <td><time datetime=o.at.clone()>{crate::pages::short(&o.at)}</time></td>
                                    <td class="opening-user">{o.user.clone()}</td>
                                    <td class="opening-what">
                                        {o.photo.then(|| view! { {ot(O::PhotoWord)} " " }.into_any())}
                                        {o.what.clone()}
                                    </td>
                                    <td>{o.device.clone()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_with_a_sealed_identity_and_a_malformed_one() {
        let body = serde_json::json!({"people": [
            {"code": "P-001", "sealed": {"alg": chaski_seal::ALG, "recipient_key_id": "loreto-0011223344556677", "ciphertext_b64": "AAAA"}},
            {"code": "P-002"},
            {"code": "P-003", "sealed": {"alg": 3}},
        ]});
        let people = people(body.as_object().unwrap());
        assert_eq!(people.len(), 3);
        assert_eq!(
            people[0].sealed.as_ref().unwrap().recipient_key_id,
            "loreto-0011223344556677"
        );
        assert!(people[1].sealed.is_none() && !people[1].malformed);
        assert!(people[2].malformed);
    }
}
