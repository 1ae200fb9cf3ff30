//! The strip under the header that says what is waiting to sync, when the last sync succeeded,
//! how far a running sync has got, and offers "sync now".
//!
//! [`SyncView`] wraps the sync loop's status (`crate::sync`) for the pages.

use std::collections::HashMap;

use leptos::prelude::*;

use leptos_router::components::A;

use crate::i18n::{counted, tr, use_i18n, Msg, Noun};
use crate::records::{Records, Summary, SyncState};
use crate::sync::{sync_status, SyncPhase, SyncStatus};

/// What the pages read about sync: the sync loop's status, plus what follows from it for each
/// record of the list. `Copy`: arena handles only.
#[derive(Clone, Copy)]
pub struct SyncView {
    status: Signal<SyncStatus>,
    records: Records,
}

impl SyncView {
    pub fn provide(records: Records) -> SyncView {
        let status = sync_status();
        let view = SyncView {
            status: Signal::derive(move || status.get()),
            records,
        };
        // A run may have pulled records from the server or another device: re-read the index.
        Effect::new(move |_| {
            let s = view.status.get();
            let _ = (s.last_success_ms, s.in_progress.is_some(), s.pending);
            leptos::task::spawn_local(records.refresh());
        });
        provide_context(view);
        view
    }

    /// The local sequence up to which the server has everything (tracked). The loop counts the
    /// changes after its push checkpoint; those are the records with the highest sequences.
    /// Without a running loop nothing is known to be on the server, so nothing counts as synced.
    pub fn pushed_seq(self) -> u64 {
        let (active, pending) = self.status.with(|s| (s.active, s.working_pending as usize));
        if !active {
            return 0;
        }
        self.records
            .index()
            .with(|index| pushed_seq(index, pending))
    }

    /// A record's state (tracked).
    pub fn state_of(self, summary: &Summary) -> SyncState {
        let pushed = self.pushed_seq();
        self.status.with(|s| {
            let rejected: HashMap<String, String> = s
                .rejections
                .get(&summary.id)
                .map(|r| (summary.id.clone(), r.reason.clone()))
                .into_iter()
                .collect();
            summary.sync_state(pushed, &rejected)
        })
    }

    /// Records not yet on the server (tracked): the loop's count, or with no loop every record.
    pub fn pending(self) -> usize {
        let (active, pending) = self.status.with(|s| (s.active, s.pending as usize));
        if active {
            pending
        } else {
            self.records.index().with(Vec::len)
        }
    }

    /// Starts a sync now.
    pub fn sync_now(self) {
        crate::sync::sync_now();
    }
}

/// The sequence below which every record is on the server, given that `pending` records are
/// not: the `pending`-th highest sequence among the records (or everything when `pending` is 0).
pub fn pushed_seq(index: &[Summary], pending: usize) -> u64 {
    if pending == 0 {
        return u64::MAX;
    }
    let mut seqs: Vec<u64> = index.iter().map(|s| s.seq).collect();
    chaski_shared::sort::sort_by(&mut seqs, |a, b| b.cmp(a));
    seqs.get(pending).copied().unwrap_or(0)
}

pub fn use_sync_view() -> SyncView {
    expect_context::<SyncView>()
}

#[component]
pub fn SyncStrip() -> impl IntoView {
    let sync = use_sync_view();
    let i18n = use_i18n();
    let pending = Memo::new(move |_| sync.pending());
    let status = sync.status;
    let running = Memo::new(move |_| status.with(|s| s.in_progress.is_some()));
    // What needs a person: records in conflict, and records the server refused. "Todo
    // sincronizado" while one of them waits would be false comfort.
    let records = sync.records;
    let conflicts = Memo::new(move |_| {
        records.index().with(|index| {
            index
                .iter()
                .filter(|s| s.has_conflicts)
                .map(|s| s.id.clone())
                .collect::<Vec<_>>()
        })
    });
    let rejected = Memo::new(move |_| status.with(|s| s.rejections.len()));
    view! {
        <div id="sync-status" class="sync-strip" role="status"
            aria-label=move || i18n.t(Msg::SyncStripLabel)
            data-pending=move || pending.get().to_string()
            data-running=move || running.get().to_string()>
            <span id="sync-pending" class="sync-pending" data-count=move || pending.get().to_string()>
                {move || match pending.get() {
                    0 if conflicts.with(Vec::is_empty) && rejected.get() == 0 => {
                        i18n.t(Msg::SyncNothingPending).to_string()
                    }
                    0 => i18n.t(Msg::SyncNothingToSend).to_string(),
                    n => counted(n as u64, Noun::ToSync, i18n.lang()),
                }}
            </span>
            {move || {
                let ids = conflicts.get();
                (!ids.is_empty()).then(|| {
                    // One conflict opens it; several open the list filtered to them.
                    let href = match ids.as_slice() {
                        [one] => format!("/inspections/{one}/conflicts"),
                        _ => "/?status=conflict".to_string(),
                    };
                    let n = ids.len();
                    view! {
                        <A href=href attr:id="sync-conflicts" attr:class="sync-error"
                            attr:data-count=n.to_string()>
                            {move || counted(n as u64, Noun::Conflict, i18n.lang())}
                        </A>
                    }
                })
            }}
            {move || match rejected.get() {
                0 => None,
                n => Some(view! {
                    <A href="/" attr:id="sync-rejected" attr:class="sync-error"
                        attr:data-count=n.to_string()>
                        {move || counted(n as u64, Noun::Rejected, i18n.lang())}
                    </A>
                }),
            }}
            <span id="sync-last" class="sync-last">
                {move || match status.with(|s| s.last_success_ms) {
                    Some(ms) => i18n.f(Msg::SyncLast, &[("t", &local_time(ms))]),
                    None => i18n.t(Msg::SyncNever).to_string(),
                }}
            </span>
            {move || status.with(|s| s.in_progress).map(|p| {
                let done = p.written;
                let total = p.read + p.pending;
                let arrow = match p.phase { SyncPhase::Push => "↑", SyncPhase::Pull => "↓" };
                view! {
                    <span id="sync-progress" class="sync-progress">
                        <progress max=total.max(1).to_string() value=done.to_string()></progress>
                        {arrow} " "
                        {i18n.f(Msg::SyncRunning, &[("done", &done.to_string()), ("total", &total.to_string())])}
                    </span>
                }
            })}
            <Show when=move || status.with(|s| s.unauthorized)>
                <span id="sync-unauthorized" class="sync-error">{tr(Msg::SessionExpired)}</span>
            </Show>
            {move || status.with(|s| s.last_error.clone()).map(|e| view! {
                <span id="sync-error" class="sync-error">{tr(Msg::SyncFailed)} " " {e}</span>
            })}
            <button id="sync-now" type="button" class="button small"
                disabled=running
                on:click=move |_| sync.sync_now()>
                {tr(Msg::SyncNow)}
            </button>
        </div>
    }
}

/// `dd/mm HH:MM` in the device's time zone.
fn local_time(ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:02}/{:02} {:02}:{:02}",
        d.get_date(),
        d.get_month() + 1,
        d.get_hours(),
        d.get_minutes()
    )
}
