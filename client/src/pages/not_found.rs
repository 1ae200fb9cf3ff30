//! Any client route the router does not know: say so and offer the way home.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::i18n::{tr, Msg};

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <h1 id="not-found">{tr(Msg::NotFoundTitle)}</h1>
        <p>{tr(Msg::NotFoundBody)}</p>
        <p>
            <A href="/" attr:id="not-found-home" attr:class="button">
                {tr(Msg::BackHome)}
            </A>
        </p>
    }
}
