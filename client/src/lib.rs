//! Chaski's browser app: the offline-first PWA an inspector uses on a tablet.
//!
//! # Layout
//! - [`i18n`]: every user-facing string, Spanish and English, as one typed table, and the
//!   language context remembered on the device.
//! - [`network`]: whether the browser believes it is online, as a context signal fed by the
//!   `online`/`offline` events.
//! - [`components`]: widgets shared by pages (header with the online indicator, navigation,
//!   footer with the build's version).
//! - [`pages`]: one module per route (home, settings, not found).
//!
//! The service worker (`client/sw.js`), manifest and icons are not Rust: Trunk copies them into
//! the build and `client/build/sw-manifest.sh` writes the build's precache list into the worker.

pub mod api;
pub mod components;
pub mod i18n;
pub mod network;
pub mod pages;
pub mod records;
pub mod session;
pub mod store;

use leptos::prelude::*;
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::components::{Footer, Header};
use crate::i18n::I18n;
use crate::network::Network;
use crate::pages::{Home, NotFound, Settings};

/// The product name; a name, so the same in every language.
pub const PRODUCT_NAME: &str = "Chaski";

/// The whole app: shared contexts, the header, the routed page and the footer.
#[component]
pub fn App() -> impl IntoView {
    I18n::provide();
    Network::provide();

    view! {
        <Router>
            <Header />
            <main id="main" class="page" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/settings") view=Settings />
                </Routes>
            </main>
            <Footer />
        </Router>
    }
}
