//! The inbox: the region's submitted inspections, a page at a time from the server's index,
//! filtered by case state, sector, visit dates, district, finding, indicators and free text.
//!
//! The server filters and sorts (longest waiting first), so the browser only ever holds one
//! page of rows, whatever the region's size. `#inbox[data-state]` and `data-generation` say when
//! an answer has been drawn, for the tests and the benchmark.

use chaski_client::i18n::use_i18n;
use chaski_client::session::use_session;
use chaski_shared::domain::{CaseState, Choice, Finding, Indicator, Sector};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::api::{self, InboxPage, InboxQuery, PAGE};
use crate::i18n::{ot, O};
use crate::BASE;

/// Milliseconds of quiet after typing in the search box before asking the server.
const TYPING_MS: u64 = 250;

#[derive(Clone, Debug, PartialEq)]
enum Load {
    Loading,
    Ready(InboxPage),
    Failed(String),
}

#[component]
pub fn Inbox() -> impl IntoView {
    let session = use_session();
    let i18n = use_i18n();
    let query = RwSignal::new(InboxQuery::default());
    let load = RwSignal::new(Load::Loading);
    let generation = RwSignal::new(0u64);
    // Only the newest request's answer is drawn: a slow answer to an older filter is dropped.
    let asked = StoredValue::new(0u64);
    let districts = RwSignal::new(Vec::<String>::new());

    Effect::new(move |_| {
        let q = query.get();
        let (Some(token), Some(db)) = (session.token(), session.region()) else {
            return;
        };
        let ticket = asked.get_value() + 1;
        asked.set_value(ticket);
        load.set(Load::Loading);
        spawn_local(async move {
            let answer = api::inbox(&token, &db, &q).await;
            if asked.try_get_value() != Some(ticket) {
                return;
            }
            // `try_`: the page may have been left (or redrawn by a session change) meanwhile.
            match answer {
                Ok(page) => {
                    if !page.facets.districts.is_empty() {
                        districts.try_set(page.facets.districts.clone());
                    }
                    load.try_set(Load::Ready(page));
                }
                Err(e) => {
                    load.try_set(Load::Failed(format!("{e:?}")));
                }
            }
            generation.try_update(|g| *g += 1);
        });
    });

    // A filter change starts again at the first page.
    let set = move |f: Box<dyn FnOnce(&mut InboxQuery)>| {
        query.update(|q| {
            f(q);
            q.offset = 0;
        });
    };
    let typing = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
    let on_text = move |ev| {
        let text = event_target_value(&ev);
        if let Some(handle) = typing.get_value() {
            handle.clear();
        }
        let handle = set_timeout_with_handle(
            move || set(Box::new(move |q| q.text = text)),
            std::time::Duration::from_millis(TYPING_MS),
        )
        .ok();
        typing.set_value(handle);
    };
    // Enter (or leaving the box) asks at once.
    let on_text_done = move |ev| {
        let text = event_target_value(&ev);
        if let Some(handle) = typing.get_value() {
            handle.clear();
        }
        if query.with_untracked(|q| q.text != text) {
            set(Box::new(move |q| q.text = text));
        }
    };
    let toggle = move |list: fn(&mut InboxQuery) -> &mut Vec<String>, code: &'static str| {
        move |ev| {
            let on = event_target_checked(&ev);
            set(Box::new(move |q| {
                let l = list(q);
                l.retain(|c| c != code);
                if on {
                    l.push(code.to_string());
                }
            }));
        }
    };
    let select = move |field: fn(&mut InboxQuery) -> &mut String| {
        move |ev| {
            let value = event_target_value(&ev);
            set(Box::new(move |q| *field(q) = value));
        }
    };

    let state_code = move || match load.get() {
        Load::Loading => "loading",
        Load::Ready(_) => "ready",
        Load::Failed(_) => "failed",
    };
    view! {
        <h1>{ot(O::InboxTitle)}</h1>
        <div class="filters office-filters" role="search">
            <fieldset id="filter-state" class="chips">
                <legend>{ot(O::FilterState)}</legend>
                {CaseState::ALL.iter().map(|s| {
                    let code = s.name();
                    view! {
                        <label class="chip">
                            <input type="checkbox" value=code
                                on:change=toggle(|q| &mut q.states, code) />
                            {move || i18n.l(*s)}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <div class="field">
                <label for="filter-sector">{ot(O::FilterSector)}</label>
                <select id="filter-sector" on:change=select(|q| &mut q.sector)>
                    <option value="">{ot(O::Any)}</option>
                    {Sector::ALL.iter().map(|s| view! {
                        <option value=s.name()>{move || i18n.l(*s)}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-from">{ot(O::FilterFrom)}</label>
                <input id="filter-from" type="date" on:change=select(|q| &mut q.from) />
            </div>
            <div class="field">
                <label for="filter-to">{ot(O::FilterTo)}</label>
                <input id="filter-to" type="date" on:change=select(|q| &mut q.to) />
            </div>
            <div class="field">
                <label for="filter-district">{ot(O::FilterDistrict)}</label>
                <select id="filter-district" on:change=select(|q| &mut q.district)>
                    <option value="">{ot(O::Any)}</option>
                    {move || districts.get().into_iter().map(|d| view! {
                        <option value=d.clone()>{d.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-finding">{ot(O::FilterFinding)}</label>
                <select id="filter-finding" on:change=select(|q| &mut q.finding)>
                    <option value="">{ot(O::Any)}</option>
                    {Finding::ALL.iter().map(|f| view! {
                        <option value=f.name()>{move || i18n.l(*f)}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field grow">
                <label for="filter-text">{ot(O::FilterText)}</label>
                <input id="filter-text" type="search"
                    placeholder=move || i18n.l(O::FilterTextHint) on:input=on_text
                    on:change=on_text_done />
            </div>
            <details id="filter-indicators" class="chips">
                <summary>{ot(O::FilterIndicators)}</summary>
                {Indicator::ALL.iter().map(|ind| {
                    let code = ind.name();
                    view! {
                        <label class="chip">
                            <input type="checkbox" value=code
                                on:change=toggle(|q| &mut q.indicators, code) />
                            {move || i18n.l(*ind)}
                        </label>
                    }
                }).collect_view()}
            </details>
        </div>
        <section id="inbox" class="inbox" data-state=state_code
            data-generation=move || generation.get().to_string()>
            {move || match load.get() {
                Load::Loading => view! { <p class="hint">{ot(O::Loading)}</p> }.into_any(),
                Load::Failed(e) => view! {
                    <p id="inbox-error" class="alert" role="alert">{ot(O::LoadFailed)} " " {e}</p>
                }.into_any(),
                Load::Ready(page) => view! { <Rows page=page query=query /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Rows(page: InboxPage, query: RwSignal<InboxQuery>) -> impl IntoView {
    let i18n = use_i18n();
    if page.rows.is_empty() {
        return view! { <p id="inbox-empty" class="empty">{ot(O::NoRows)}</p> }.into_any();
    }
    let (total, offset, n) = (page.total, page.offset, page.rows.len());
    let shown = move || {
        i18n.l(O::Shown)
            .replace("{from}", &(offset + 1).to_string())
            .replace("{to}", &(offset + n).to_string())
            .replace("{total}", &total.to_string())
    };
    let rows = page
        .rows
        .into_iter()
        .map(|row| {
            let state = CaseState::from_name(&row.state);
            let sector = Sector::from_name(&row.sector);
            let href = format!("{BASE}/case/{}", row.id);
            let site = if row.site_name.is_empty() {
                row.code.clone()
            } else {
                row.site_name.clone()
            };
            let days = row.waiting_days.to_string();
            view! {
                <tr class="inbox-row" data-id=row.id.clone() data-state=row.state.clone()>
                    <td><span class="badge case-state" data-state=row.state.clone()>
                        {move || state.map(|s| i18n.l(s)).unwrap_or_default()}
                    </span></td>
                    <td><A href=href attr:class="row-link">
                        <strong>{site}</strong> " · " <span class="code">{row.code.clone()}</span>
                    </A><br /><span class="hint">{row.district.clone()}</span></td>
                    <td>{row.inspector.clone()}</td>
                    <td><time>{row.visit_date.clone()}</time></td>
                    <td>{move || sector.map(|s| i18n.l(s)).unwrap_or_default()}</td>
                    <td class="num">{row.people_found}</td>
                    <td class="num">{move || i18n.l(O::Days).replace("{n}", &days)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p id="inbox-count" class="hint" aria-live="polite">{shown}</p>
        <table id="inbox-table" class="inbox-table">
            <thead><tr>
                <th>{ot(O::ColState)}</th><th>{ot(O::ColSite)}</th><th>{ot(O::ColInspector)}</th>
                <th>{ot(O::ColDate)}</th><th>{ot(O::ColSector)}</th><th>{ot(O::ColPeople)}</th>
                <th>{ot(O::ColWaiting)}</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <div class="actions pager">
            <button id="inbox-prev" class="button secondary" disabled=offset == 0
                on:click=move |_| query.update(|q| q.offset = q.offset.saturating_sub(PAGE))>
                {ot(O::Prev)}
            </button>
            <button id="inbox-next" class="button secondary" disabled=offset + n >= total
                on:click=move |_| query.update(|q| q.offset += PAGE)>
                {ot(O::Next)}
            </button>
        </div>
    }
    .into_any()
}
