//! Browser tests of the app shell: the real `App` mounted in headless Chromium.
//!
//! Run: `CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! cargo test -p chaski-client --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

use chaski_client::{i18n::STORAGE_KEY, session::SESSION_KEY, App};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement, HtmlSelectElement};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

fn by_id(id: &str) -> Element {
    document()
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("no element #{id}"))
}

fn text(id: &str) -> String {
    by_id(id).text_content().unwrap_or_default()
}

/// Lets Leptos run the effects and re-renders it schedules as tasks.
async fn settle() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 10)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Mounts the app into a fresh container at `path`; the handle unmounts it when dropped.
async fn mount_at(path: &str) -> impl Drop {
    let history = web_sys::window().unwrap().history().unwrap();
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(path))
        .unwrap();
    let root: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let handle = leptos::mount::mount_to(root, App);
    settle().await;
    Unmount(Some(handle))
}

struct Unmount<T>(Option<T>);

impl<T> Drop for Unmount<T> {
    fn drop(&mut self) {
        drop(self.0.take());
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("lang", "es");
        }
    }
}

#[wasm_bindgen_test]
async fn a_new_device_shows_the_sign_in_page_in_spanish() {
    storage().remove_item(STORAGE_KEY).unwrap();
    let _app = mount_at("/").await;

    assert_eq!(text("login-title"), "Iniciar sesión");
    assert_eq!(
        document()
            .document_element()
            .unwrap()
            .get_attribute("lang")
            .as_deref(),
        Some("es")
    );
    let online = by_id("net-status").get_attribute("data-online").unwrap();
    assert!(online == "true" || online == "false");
    assert!(text("app-version").starts_with(&format!("Chaski {}", chaski_shared::VERSION)));
}

#[wasm_bindgen_test]
async fn choosing_english_translates_the_app_and_is_remembered() {
    storage().remove_item(STORAGE_KEY).unwrap();
    let app = mount_at("/settings").await;

    let select: HtmlSelectElement = by_id("lang-select").unchecked_into();
    assert_eq!(select.value(), "es");
    select.set_value("en");
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    settle().await;

    assert_eq!(text("nav-settings").trim(), "Settings");
    assert_eq!(
        storage().get_item(STORAGE_KEY).unwrap().as_deref(),
        Some("en")
    );
    assert_eq!(
        document()
            .document_element()
            .unwrap()
            .get_attribute("lang")
            .as_deref(),
        Some("en")
    );
    drop(app);

    // A fresh start (as after a reload) reads the choice back.
    let _app = mount_at("/").await;
    assert_eq!(text("login-title"), "Sign in");
    storage().remove_item(STORAGE_KEY).unwrap();
}

#[wasm_bindgen_test]
async fn an_unknown_route_says_the_page_was_not_found() {
    storage().remove_item(STORAGE_KEY).unwrap();
    let _app = mount_at("/no/such/page").await;
    assert_eq!(text("not-found"), "Página no encontrada");
    assert_eq!(
        by_id("not-found-home").get_attribute("href").as_deref(),
        Some("/")
    );
}

/// Waits `ms` milliseconds (past the form's 300 ms autosave, say).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Polls for `#id` for up to 5 s: the IndexedDB store opens asynchronously.
async fn wait_for(id: &str) -> Element {
    for _ in 0..100 {
        if let Some(el) = document().get_element_by_id(id) {
            return el;
        }
        sleep(50).await;
    }
    let main = document()
        .get_element_by_id("main")
        .map(|m| m.inner_html())
        .unwrap_or_default();
    panic!(
        "no element #{id}; page: {}",
        main.chars().take(600).collect::<String>()
    )
}

fn type_into(id: &str, text: &str) {
    let input: HtmlInputElement = by_id(id).unchecked_into();
    input.set_value(text);
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

/// Focus leaves the field (a bubbling `focusout`, as when the inspector moves on).
fn leave(id: &str) {
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    by_id(id)
        .dispatch_event(&web_sys::Event::new_with_event_init_dict("focusout", &init).unwrap())
        .unwrap();
}

fn click(selector: &str) {
    let el: HtmlElement = document()
        .query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
        .unchecked_into();
    el.click();
}

/// A session as `POST /api/login` would have left it, so the app opens signed in (and offline).
fn sign_in_on_device() {
    storage()
        .set_item(
            SESSION_KEY,
            r#"{"token":"test-token","expires_at":null,
                "user":{"name":"ana","role":"inspector","regions":["madre-de-dios"]},
                "device":"tablet 07"}"#,
        )
        .unwrap();
}

#[wasm_bindgen_test]
async fn a_signed_out_device_shows_the_sign_in_form() {
    storage().remove_item(STORAGE_KEY).unwrap();
    storage().remove_item(SESSION_KEY).unwrap();
    let _app = mount_at("/inspections/new").await;
    for id in [
        "login-name",
        "login-password",
        "login-device",
        "login-submit",
    ] {
        by_id(id);
    }
    assert!(document().get_element_by_id("inspection-form").is_none());
}

#[wasm_bindgen_test]
async fn a_typed_draft_is_saved_listed_and_guards_sign_out() {
    storage().remove_item(STORAGE_KEY).unwrap();
    sign_in_on_device();
    let app = mount_at("/inspections/new").await;
    wait_for("f-region").await;
    by_id("sync-status");
    by_id("sync-now");
    // The signed-in user's only region is filled in for them.
    let region: HtmlSelectElement = by_id("f-region").unchecked_into();
    assert_eq!(region.value(), "madre-de-dios");

    type_into("f-site-name", "Campamento Huepetuhe");
    sleep(600).await;
    assert_eq!(
        by_id("save-status").get_attribute("data-state").as_deref(),
        Some("saved")
    );
    // The address became the record's own.
    let path = web_sys::window().unwrap().location().pathname().unwrap();
    assert!(path.starts_with("/inspections/inspection:"), "{path}");

    // A count that is not a number is shown as an error next to its field, in Spanish, once
    // the field is left (not while it is being typed).
    type_into("f-workers-total", "-3");
    settle().await;
    assert!(document()
        .get_element_by_id("f-workers-total-error")
        .is_none());
    leave("f-workers-total");
    settle().await;
    assert!(text("f-workers-total-error").contains("número"));

    // A fresh start, as after a reload: the draft is read back from IndexedDB.
    drop(app);
    let _app = mount_at("/").await;
    wait_for("inspection-list").await;
    let row = document()
        .query_selector(".inspection-row")
        .unwrap()
        .expect("the draft is listed");
    assert!(row.text_content().unwrap().contains("Campamento Huepetuhe"));

    // Nothing has reached a server: signing out asks for the typed word first.
    click("#logout");
    // The count is read from the store after the autosave delay.
    wait_for("logout-dialog").await;
    assert!(by_id("logout-discard").has_attribute("disabled"));
    type_into("logout-confirm-word", "borrar");
    settle().await;
    assert!(!by_id("logout-discard").has_attribute("disabled"));
    click("#logout-cancel");
    settle().await;
    assert!(document().get_element_by_id("logout-dialog").is_none());
    assert!(storage().get_item(SESSION_KEY).unwrap().is_some());
    storage().remove_item(SESSION_KEY).unwrap();
}

/// Polls `check` for up to 5 s.
async fn until(what: &str, check: &dyn Fn() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        sleep(50).await;
    }
    panic!("timed out waiting for {what}");
}

#[wasm_bindgen_test]
async fn a_new_sealing_key_reaches_the_session_without_reopening_the_store() {
    use chaski_client::api::SealKey;
    use chaski_client::records::Records;
    use chaski_client::session::Session;
    use leptos::prelude::GetUntracked;
    use std::rc::Rc;

    storage()
        .set_item(
            SESSION_KEY,
            r#"{"token":"rotation-token","expires_at":null,
                "user":{"name":"rosa","role":"inspector","regions":["loreto"]},
                "device":"tablet 09"}"#,
        )
        .unwrap();
    // Mounted (which starts Leptos's executor, for the effects), but only the two contexts.
    let handles = Rc::new(std::cell::Cell::new(None));
    let out = handles.clone();
    let root: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let app = leptos::mount::mount_to(root, move || {
        let session = Session::provide();
        out.set(Some((session, Records::provide(session))));
    });
    let (session, records) = handles.take().expect("mounted");
    until("the store to open", &|| records.store().is_some()).await;
    let id = chaski_client::records::new_id();
    let doc = chaski_shared::Document::new(
        id.clone(),
        chaski_shared::store::body(
            serde_json::json!({"type": "inspection", "site_name": "Aserradero", "status": "draft"}),
        ),
    );
    records.save(doc).await.expect("save");
    let listed = move || {
        records
            .index()
            .get_untracked()
            .iter()
            .any(|s| s.id == id.as_str())
    };
    until("the record to be listed", &listed).await;
    let store = records.store().expect("open");

    // `/api/me` brings the region's new key, as after a rotation at the office.
    let mut data = session.get_untracked().expect("signed in");
    data.user.seal_keys.push(SealKey {
        region: "loreto".into(),
        key_id: "loreto-0123456789abcdef".into(),
        public_key_b64: "AAAA".into(),
    });
    session.sign_in(data.clone());
    sleep(200).await;
    assert_eq!(
        session.get_untracked().map(|s| s.user.seal_keys.len()),
        Some(1)
    );
    let same = records.store().is_some_and(|s| Rc::ptr_eq(&s, &store));
    assert!(same, "the store was closed and reopened for a new key");
    assert!(listed(), "the list was emptied for a new key");

    // A new token (another sign-in) does reopen it: the check above can fail.
    data.token = "another-token".into();
    session.sign_in(data);
    until("the store to reopen", &|| {
        records.store().is_some_and(|s| !Rc::ptr_eq(&s, &store))
    })
    .await;

    chaski_client::sync::stop_sync_loop();
    drop(app);
    storage().remove_item(SESSION_KEY).unwrap();
    storage()
        .remove_item(chaski_client::session::REGION_KEY)
        .unwrap();
}
