//! `/`: every inspection on this device, newest first, searchable by site, region, sector and
//! status, each with where it stands with the server.
//!
//! The list filters the in-memory summaries (a few short strings per record) and renders them a
//! page at a time, so 5,000 records on a cheap tablet cost one scan per keystroke, never 5,000
//! DOM rows.

use chaski_shared::domain::{Choice, Region, Sector};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::storage::StorageWarning;
use crate::components::sync_strip::use_sync_view;
use crate::i18n::{fill, tr, use_i18n, Msg};
use crate::records::{use_records, Filter, StatusFilter, Summary, SyncState};
use crate::session::use_session;
use crate::store::stored_regions;
use crate::sync::unsynced_count;

/// Rows rendered at first and added by each "show more".
const PAGE: usize = 50;

/// Unsent records kept on this device in a region the user no longer works in: the list does not
/// show them and they cannot reach the server, so the page says so, and what to do.
#[component]
fn Orphaned() -> impl IntoView {
    let session = use_session();
    let i18n = use_i18n();
    let found = RwSignal::new(Vec::<(String, u64)>::new());
    Effect::new(move |_| {
        let current = session.regions();
        // Who, not the whole session: a new sealing key is no reason to count again.
        let signed_in = session.who().is_some();
        let Some(who) = session.get_untracked().filter(|_| signed_in) else {
            found.set(Vec::new());
            return;
        };
        spawn_local(async move {
            let mut orphaned = Vec::new();
            for region in stored_regions(&who.user.name).await {
                if current.contains(&region) {
                    continue;
                }
                let one = [region.clone()];
                match unsynced_count(&who.user.name, &who.token, &one).await {
                    Some(0) => {}
                    n => orphaned.push((region, n.unwrap_or(1))),
                }
            }
            found.try_set(orphaned);
        });
    });
    view! {
        {move || found.get().into_iter().map(|(region, n)| {
            let name = Region::from_name(&region).map(|r| i18n.l(r)).unwrap_or_default();
            view! {
                <p class="alert orphaned" role="alert" data-region=region.clone()>
                    {move || i18n.f(Msg::OrphanedRecords, &[("n", &n.to_string()), ("region", name)])}
                </p>
            }
        }).collect_view()}
    }
}

#[component]
pub fn Home() -> impl IntoView {
    let records = use_records();
    let session = use_session();
    let i18n = use_i18n();
    let sync = use_sync_view();
    // `?status=conflict` (the sync strip's link to several conflicts) opens the list filtered.
    let initial_status = use_query_map()
        .with_untracked(|q| q.get("status"))
        .and_then(|code| StatusFilter::from_code(&code));
    let filter = RwSignal::new(Filter {
        status: initial_status,
        ..Filter::default()
    });
    let shown = RwSignal::new(PAGE);

    // Recomputed when the index or the filter changes: ids of the matching records.
    let matching = Memo::new(move |_| {
        let pushed = sync.pushed_seq();
        filter.with(|f| {
            records.index().with(|index| {
                index
                    .iter()
                    .filter(|s| f.matches(s, pushed))
                    .map(|s| s.id.clone())
                    .collect::<Vec<_>>()
            })
        })
    });
    let total = Memo::new(move |_| records.index().with(Vec::len));
    let rows = move || {
        let ids = matching.get();
        let limit = shown.get();
        records.index().with(|index| {
            let wanted: std::collections::HashSet<&String> = ids.iter().take(limit).collect();
            index
                .iter()
                .filter(|s| wanted.contains(&s.id))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let set_filter = move |f: Box<dyn FnOnce(&mut Filter)>| {
        shown.set(PAGE);
        filter.update(f);
    };

    view! {
        <div class="title-row">
            <h1>{tr(Msg::HomeTitle)}</h1>
            <A href="/inspections/new" attr:id="new-inspection" attr:class="button primary">
                "+ " {tr(Msg::NavNew)}
            </A>
        </div>
        <StorageWarning />
        <Show when=move || session.signed_in() && session.region().is_none()>
            <p id="no-region" class="alert" role="alert">{tr(Msg::NoRegion)}</p>
        </Show>
        <Orphaned />
        {move || records.open_error().map(|e| view! {
            <p id="store-error" class="alert" role="alert">{tr(Msg::StoreFailed)} " " {e}</p>
        })}
        <section class="inspections">
            <Show when=move || { total.get() > 0 }
                fallback=move || view! {
                    <p id="inspections-empty" class="empty">{tr(Msg::InspectionsEmpty)}</p>
                }>
                <div class="filters" role="search">
                    <div class="field grow">
                        <label for="search">{tr(Msg::Search)}</label>
                        <input id="search" type="search"
                            placeholder=move || i18n.t(Msg::SearchPlaceholder)
                            on:input=move |ev| {
                                let text = event_target_value(&ev);
                                set_filter(Box::new(move |f| f.text = text));
                            } />
                    </div>
                    <select id="filter-region" aria-label=move || i18n.t(Msg::FRegion)
                        on:change=move |ev| {
                            let r = Region::from_name(&event_target_value(&ev));
                            set_filter(Box::new(move |f| f.region = r));
                        }>
                        <option value="">{tr(Msg::AllRegions)}</option>
                        {Region::ALL.iter().map(|r| view! {
                            <option value=r.name()>{r.name_es()}</option>
                        }).collect_view()}
                    </select>
                    <select id="filter-sector" aria-label=move || i18n.t(Msg::FSector)
                        on:change=move |ev| {
                            let s = Sector::from_name(&event_target_value(&ev));
                            set_filter(Box::new(move |f| f.sector = s));
                        }>
                        <option value="">{tr(Msg::AllSectors)}</option>
                        {Sector::ALL.iter().map(|s| view! {
                            <option value=s.name()>{move || i18n.l(*s)}</option>
                        }).collect_view()}
                    </select>
                    <select id="filter-status" aria-label=move || i18n.t(Msg::AllStatuses)
                        on:change=move |ev| {
                            let s = StatusFilter::from_code(&event_target_value(&ev));
                            set_filter(Box::new(move |f| f.status = s));
                        }>
                        <option value="">{tr(Msg::AllStatuses)}</option>
                        {StatusFilter::ALL.iter().map(|s| {
                            let msg = match s {
                                StatusFilter::Draft => Msg::StatusDraft,
                                StatusFilter::Submitted => Msg::StatusSubmitted,
                                StatusFilter::NotSynced => Msg::FilterNotSynced,
                                StatusFilter::Conflict => Msg::FilterConflict,
                            };
                            view! {
                                <option value=s.code() selected=initial_status == Some(*s)>{tr(msg)}</option>
                            }
                        }).collect_view()}
                    </select>
                </div>
                <p id="list-count" class="hint" aria-live="polite">
                    {move || fill(i18n.t(Msg::ListCount), &[
                        ("shown", &matching.with(Vec::len).to_string()),
                        ("total", &total.get().to_string()),
                    ])}
                </p>
                <Show when=move || matching.with(Vec::is_empty)>
                    <p id="no-matches" class="empty">{tr(Msg::NoMatches)}</p>
                </Show>
                <ul id="inspection-list" class="inspection-list">
                    <For each=rows key=|s| (s.id.clone(), s.seq) let:summary>
                        <Row summary=summary />
                    </For>
                </ul>
                <Show when=move || { matching.with(Vec::len) > shown.get() }>
                    <button id="list-more" class="button secondary"
                        on:click=move |_| shown.update(|n| *n += PAGE)>
                        {tr(Msg::ListMore)}
                    </button>
                </Show>
            </Show>
        </section>
    }
}

#[component]
fn Row(summary: Summary) -> impl IntoView {
    let i18n = use_i18n();
    let sync = use_sync_view();
    let records = use_records();
    let s = summary.clone();
    let state = Memo::new(move |_| sync.state_of(&s));
    let s = summary.clone();
    let case = move || records.case_for(&s).map(|c| c.state);
    let href = format!("/inspections/{}", summary.id);
    let site = if summary.site.trim().is_empty() {
        None
    } else {
        Some(summary.site.clone())
    };
    let place = {
        let region = summary.region.map(|r| r.name_es()).unwrap_or_default();
        match (summary.district.is_empty(), region.is_empty()) {
            (false, false) => format!("{} · {region}", summary.district),
            (false, true) => summary.district.clone(),
            _ => region.to_string(),
        }
    };
    let sector = summary.sector;
    let status = summary.status;
    // As written, in the zone of the device that wrote it: the visit's date is the one the
    // inspector wrote down on site.
    let short = |stamp: &str| stamp.get(..16).unwrap_or_default().replace('T', " ");
    let visit = short(&summary.visit_start);
    let edited = short(&summary.updated_at);
    view! {
        <li class="inspection-row" data-id=summary.id.clone()
            data-sync-state=move || state.get().code()
            data-status=status.name()>
            <A href=href attr:class="row-link">
                <span class="row-main">
                    <strong class="row-site">
                        {move || site.clone().unwrap_or_else(|| i18n.t(Msg::Untitled).to_string())}
                    </strong>
                    <span class="row-place">{place}</span>
                    <span class="row-sector">{move || sector.map(|s| i18n.l(s)).unwrap_or_default()}</span>
                </span>
                <span class="row-side">
                    <span class="badge status" data-status=status.name()>{move || i18n.l(status)}</span>
                    {move || case().map(|c| view! {
                        <span class="badge case-state" data-case-state=c.name()>{move || i18n.l(c)}</span>
                    })}
                    <span class="badge sync" data-sync-state=move || state.get().code()>
                        {move || i18n.t(match state.get() {
                            SyncState::LocalOnly => Msg::SyncLocalOnly,
                            SyncState::Synced => Msg::SyncSynced,
                            SyncState::Conflict => Msg::SyncConflict,
                            SyncState::Rejected(_) => Msg::SyncRejected,
                        })}
                    </span>
                    <time class="row-visit" datetime=summary.visit_start.clone()>
                        {move || (!visit.is_empty()).then(|| i18n.f(Msg::RowVisit, &[("t", &visit)]))}
                    </time>
                    <time class="row-time row-edited" datetime=summary.updated_at.clone()>
                        {move || (!edited.is_empty()).then(|| i18n.f(Msg::RowEdited, &[("t", &edited)]))}
                    </time>
                </span>
            </A>
            {move || match state.get() {
                SyncState::Rejected(reason) => Some(view! {
                    <p class="row-reason alert">{reason}</p>
                }),
                _ => None,
            }}
        </li>
    }
}
