//! Chaski's regional office app: supervisors and administrators review the region's submitted
//! inspections and follow each case (referrals, prosecution, outcome) with append-only events.
//!
//! A separate Trunk build served at `/office/`, so the inspector's tablet never downloads it.
//! It reuses the inspector app's library for what both need: the translations and language
//! context, sign-in and the session kept on the device (one sign-in serves both apps on a
//! browser), the server call wrapper, and the form's sections shown read-only.
//!
//! # Layout
//! - [`i18n`]: the office's own words (Spanish and English) and the wire codes' names.
//! - [`api`]: the office's server calls (inbox, case, writing an event, photos).
//! - [`keys`]: the region's private keys, unlocked with the passphrase for this session only.
//! - [`sealed`]: the case page's sealed identities and photos, and the openings log.
//! - [`pages`]: the inbox, the case page, the figures ("Cifras") and administration.
//! - [`events`]: the forms that record case events, validated by the shared rules first.
//! - [`figures`]: the figures' model with no I/O (counts, tables, CSV, the map's grid).
//! - [`charts`]: SVG bar charts, the funnel and the tile-grid map, each with its table.

pub mod api;
pub mod charts;
pub mod events;
pub mod figures;
pub mod i18n;
pub mod keys;
pub mod pages;
pub mod sealed;

use chaski_client::i18n::{use_i18n, I18n, Lang};
use chaski_client::pages::Login;
use chaski_client::session::{use_session, Session};
use chaski_shared::domain::{Choice, Region};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

use crate::i18n::{ot, O};
use crate::pages::{AdminPage, CasePage, FiguresPage, Inbox};

/// Where the app is served (Trunk's `public_url`).
pub const BASE: &str = "/office";

/// The whole app: contexts, the header, and the inbox or a case.
#[component]
pub fn App() -> impl IntoView {
    I18n::provide();
    let session = Session::provide();
    let ring = keys::KeyRing::provide();
    // Unlocked keys belong to the user who unlocked them: another sign-in on this browser
    // (or a sign-out) forgets them.
    Effect::new(move |previous: Option<Option<String>>| {
        let user = session.get().map(|s| s.user.name);
        if previous.is_some_and(|p| p != user) {
            ring.lock();
        }
        user
    });
    // Roles and regions may have changed since sign-in.
    Effect::new(move |_| {
        if session.signed_in() {
            spawn_local(session.refresh_profile());
        }
    });
    // The figures and administration serve a national admin too, who may have no region.
    let gate = move |page: fn() -> AnyView, needs_region: bool| {
        move || {
            if !session.signed_in() {
                view! { <Login /> }.into_any()
            } else if !session.is_office() {
                view! {
                    <p id="not-office" class="alert" role="alert">{ot(O::NotOffice)}</p>
                    <a class="button primary" href="/" rel="external">{ot(O::OpenInspectorApp)}</a>
                }
                .into_any()
            } else if needs_region && session.region().is_none() {
                // A national administrator works without a region: the figures and
                // administration are theirs, the inbox and cases are a region's.
                let admin = session.get().is_some_and(|s| s.user.role == "admin");
                let msg = if admin { O::NoRegionAdmin } else { O::NoRegion };
                view! { <p id="no-region" class="alert" role="alert">{ot(msg)}</p> }.into_any()
            } else {
                page()
            }
        }
    };
    view! {
        <Router>
            <OfficeHeader />
            <main id="main" class="page office" tabindex="-1">
                // The gate is a reactive child, so signing in (or out, or a changed profile)
                // redraws the page under its own owner; the inbox is the fallback, for
                // `/office` and `/office/` alike.
                <Routes fallback=move || view! { {gate(|| view! { <Inbox /> }.into_any(), true)} }>
                    <Route path=path!("/office/case/:id")
                        view=move || view! { {gate(|| view! { <CasePage /> }.into_any(), true)} } />
                    <Route path=path!("/office/figures")
                        view=move || view! { {gate(|| view! { <FiguresPage /> }.into_any(), false)} } />
                    <Route path=path!("/office/admin")
                        view=move || view! { {gate(|| view! { <AdminPage /> }.into_any(), false)} } />
                </Routes>
            </main>
        </Router>
    }
}

/// The top bar: the app's name, the sections (inbox, figures, and administration for admins),
/// the region worked in (a choice for users with several), the language, who is signed in and
/// "sign out".
#[component]
fn OfficeHeader() -> impl IntoView {
    let session = use_session();
    let i18n = use_i18n();
    let ring = keys::use_keys();
    let regions = move || session.regions();
    let sign_out = move |_| {
        if let Some(token) = session.token() {
            spawn_local(async move {
                let _ = chaski_client::api::logout(&token).await;
            });
        }
        // The office keeps no records on the device: nothing to erase. The unlocked keys go.
        ring.lock();
        session.sign_out();
    };
    view! {
        <header class="app-header">
            <A href=format!("{BASE}/") attr:class="brand" attr:id="app-name">{ot(O::Brand)}</A>
            <Show when=move || session.is_office()>
                <nav class="office-nav" aria-label=move || i18n.l(O::Menu)>
                    <A href=format!("{BASE}/") attr:id="nav-inbox" exact=true>{ot(O::NavInbox)}</A>
                    <A href=format!("{BASE}/figures") attr:id="nav-figures">{ot(O::NavFigures)}</A>
                    <Show when=move || session.get().is_some_and(|s| s.user.role == "admin")>
                        <A href=format!("{BASE}/admin") attr:id="nav-admin">{ot(O::NavAdmin)}</A>
                    </Show>
                </nav>
            </Show>
            <span class="account">
                <select id="lang" class="small" aria-label="Idioma / Language"
                    on:change=move |ev| {
                        if let Some(lang) = Lang::from_code(&event_target_value(&ev)) {
                            i18n.set_lang(lang);
                        }
                    }>
                    {Lang::ALL.into_iter().map(|lang| view! {
                        <option value=lang.code() selected=move || i18n.lang() == lang>
                            {lang.endonym()}
                        </option>
                    }).collect_view()}
                </select>
                <Show when=move || session.signed_in()>
                    <Show when=move || { regions().len() > 1 }>
                        <select id="working-region" class="small"
                            aria-label=move || i18n.l(O::Region)
                            on:change=move |ev| session.choose_region(&event_target_value(&ev))>
                            {move || regions().into_iter().map(|r| {
                                let label = Region::from_name(&r).map(|r| i18n.l(r)).unwrap_or_default();
                                let selected = session.region().as_ref() == Some(&r);
                                view! { <option value=r.clone() selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                    </Show>
                    <span id="signed-in-as" class="who">
                        {move || session.get().map(|s| s.user.name).unwrap_or_default()}
                    </span>
                    <button id="logout" type="button" class="button small secondary"
                        on:click=sign_out>
                        {move || i18n.t(chaski_client::i18n::Msg::Logout)}
                    </button>
                </Show>
            </span>
        </header>
    }
}
