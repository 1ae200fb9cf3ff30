//! Chaski's browser app: the offline-first PWA an inspector uses on a tablet.
//!
//! # Layout
//! - [`i18n`]: every user-facing string, Spanish and English, as one typed table, and the
//!   language context remembered on the device.
//! - [`num`]: numbers to and from text through the browser's `Number` (smaller than Rust's).
//! - [`network`]: whether the browser believes it is online, as a context signal fed by the
//!   `online`/`offline` events.
//! - [`components`]: widgets shared by pages (header with the online indicator, navigation,
//!   footer with the build's version).
//! - [`pages`]: one module per route (sign-in, the list, the inspection form, conflicts,
//!   settings, not found).
//! - [`api`]: the one module that calls the server outside sync (sign in, me, sign out, error
//!   reports).
//! - [`client_errors`]: the panic hook and the device's small log of the app's own failures.
//! - [`session`]: who is signed in, remembered on the device so the app opens offline.
//! - [`records`]: the inspections as pages see them: a compact index for the list, and load,
//!   save and conflict resolution on the local store.
//! - [`timer`]: the one timer future (`setTimeout`), for the sync loop and the pages.
//!
//! The service worker (`client/sw.js`), manifest and icons are not Rust: Trunk copies them into
//! the build and `client/build/sw-manifest.sh` writes the build's precache list into the worker.

pub mod api;
pub mod client_errors;
pub mod components;
pub mod i18n;
pub mod network;
pub mod num;
pub mod pages;
pub mod records;
pub mod session;
pub mod store;
pub mod sync;
pub mod timer;

use leptos::prelude::*;
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::components::storage::StorageSafety;
use crate::components::sync_strip::SyncView;
use crate::components::{Footer, Header};
use crate::i18n::I18n;
use crate::network::Network;
use crate::pages::{
    Conflicts, Home, InspectionEdit, InspectionNew, Login, NotFound, OfficeAccount, Settings,
};
use crate::records::Records;
use crate::session::Session;

/// The product name; a name, so the same in every language.
pub const PRODUCT_NAME: &str = "Chaski";

/// The whole app: shared contexts, the header, the routed page and the footer.
#[component]
pub fn App() -> impl IntoView {
    I18n::provide();
    let network = Network::provide();
    let session = Session::provide();
    // The profile (roles, regions, sealing keys) may have changed at the office since sign-in:
    // asked at start and whenever the network returns (and after a sign-in, but not again when
    // the answer only brings new sealing keys: `signed_in` and `is_office` track who, not keys).
    Effect::new(move |_| {
        if network.is_online() && session.signed_in() {
            leptos::task::spawn_local(session.refresh_profile());
            // The seal module, kept by the service worker now so that it is on the tablet
            // before it goes offline.
            if !session.is_office() {
                crate::components::identity::keep_for_offline();
            }
        }
    });
    let records = Records::provide(session);
    StorageSafety::provide(session);
    SyncView::provide(records);
    // Signed out, every page but the settings is the sign-in page: the records of a device
    // belong to whoever signed in on it.
    let gate = move |page: fn() -> AnyView| {
        move || {
            if session.is_office() {
                view! { <OfficeAccount /> }.into_any()
            } else if session.signed_in() {
                page()
            } else {
                view! { <Login /> }.into_any()
            }
        }
    };

    view! {
        <Router>
            <Header />
            <main id="main" class="page" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=gate(|| view! { <Home /> }.into_any()) />
                    <Route path=path!("/settings") view=Settings />
                    <Route path=path!("/inspections/new")
                        view=gate(|| view! { <InspectionNew /> }.into_any()) />
                    <Route path=path!("/inspections/:id")
                        view=gate(|| view! { <InspectionEdit /> }.into_any()) />
                    <Route path=path!("/inspections/:id/conflicts")
                        view=gate(|| view! { <Conflicts /> }.into_any()) />
                </Routes>
            </main>
            <Footer />
        </Router>
    }
}
