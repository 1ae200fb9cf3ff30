//! What a supervisor or administrator sees on the inspector's app: their work is in the regional
//! office's app, a separate build at [`OFFICE_URL`], where they are taken at once. This app keeps
//! no records for them and never loads the office's code.

use leptos::prelude::*;

use crate::i18n::{tr, Msg};

/// Where the office app is served.
pub const OFFICE_URL: &str = "/office/";

#[component]
pub fn OfficeAccount() -> impl IntoView {
    // Replace, not push: "back" from the office must not land here and bounce again.
    let _ = window().location().replace(OFFICE_URL);
    view! {
        <h1>{tr(Msg::OfficeTitle)}</h1>
        <p id="office-account" class="lead">{tr(Msg::OfficeAccount)}</p>
        <a id="open-office" class="button primary" href=OFFICE_URL rel="external">
            {tr(Msg::OfficeOpen)}
        </a>
    }
}
