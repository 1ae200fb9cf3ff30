//! The strip under the header that says what is waiting to sync, when the last sync succeeded,
//! how far a running sync has got, and offers "sync now".
//!
//! [`SyncView`] is what the pages read about sync. The sync loop (`crate::sync`) was not
//! available when this was written, so `SyncView` holds its own signals and
//! [`SyncView::sync_now`] reports that sync is not available; the loop feeds these signals
//! (`set_pushed_seq`, `set_rejected`, `set_progress`, `finished`) once it exists.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::i18n::{tr, use_i18n, Msg};
use crate::records::{Records, Summary, SyncState};

/// What the interface knows about sync. `Copy`: arena handles only.
#[derive(Clone, Copy)]
pub struct SyncView {
    /// The local store sequence up to which everything has been pushed to the server.
    pushed_seq: RwSignal<u64>,
    /// Documents the server refused, with its reason.
    rejected: RwSignal<HashMap<String, String>>,
    /// When the last sync succeeded (RFC 3339, device time).
    last_success: RwSignal<Option<String>>,
    /// Documents done and to do while a sync runs.
    progress: RwSignal<Option<(u64, u64)>>,
    last_error: RwSignal<Option<String>>,
    /// "Sync now" was pressed but there is no sync loop in this build.
    unavailable: RwSignal<bool>,
    records: Records,
}

impl SyncView {
    pub fn provide(records: Records) -> SyncView {
        let view = SyncView {
            pushed_seq: RwSignal::new(0),
            rejected: RwSignal::new(HashMap::new()),
            last_success: RwSignal::new(None),
            progress: RwSignal::new(None),
            last_error: RwSignal::new(None),
            unavailable: RwSignal::new(false),
            records,
        };
        provide_context(view);
        view
    }

    /// How far pushes have gone (tracked).
    pub fn pushed_seq(self) -> u64 {
        self.pushed_seq.get()
    }

    pub fn set_pushed_seq(self, seq: u64) {
        self.pushed_seq.set(seq);
    }

    pub fn set_rejected(self, rejected: HashMap<String, String>) {
        self.rejected.set(rejected);
    }

    pub fn set_progress(self, progress: Option<(u64, u64)>) {
        self.progress.set(progress);
    }

    /// Records the end of a sync run: its time on success, its error otherwise.
    pub fn finished(self, result: Result<String, String>) {
        self.progress.set(None);
        match result {
            Ok(at) => {
                self.last_success.set(Some(at));
                self.last_error.set(None);
            }
            Err(e) => self.last_error.set(Some(e)),
        }
    }

    /// A record's state (tracked).
    pub fn state_of(self, summary: &Summary) -> SyncState {
        let pushed = self.pushed_seq.get();
        self.rejected
            .with(|rejected| summary.sync_state(pushed, rejected))
    }

    /// Records not yet on the server (tracked).
    pub fn pending(self) -> usize {
        let pushed = self.pushed_seq.get();
        self.records
            .index()
            .with(|index| index.iter().filter(|s| s.seq > pushed).count())
    }

    /// Starts a sync now.
    pub fn sync_now(self) {
        self.unavailable.set(true);
    }
}

pub fn use_sync_view() -> SyncView {
    expect_context::<SyncView>()
}

#[component]
pub fn SyncStrip() -> impl IntoView {
    let sync = use_sync_view();
    let i18n = use_i18n();
    let pending = Memo::new(move |_| sync.pending());
    view! {
        <div id="sync-status" class="sync-strip" role="status"
            aria-label=move || i18n.t(Msg::SyncStripLabel)
            data-pending=move || pending.get().to_string()
            data-running=move || sync.progress.get().is_some().to_string()>
            <span id="sync-pending" class="sync-pending" data-count=move || pending.get().to_string()>
                {move || match pending.get() {
                    0 => i18n.t(Msg::SyncNothingPending).to_string(),
                    n => i18n.f(Msg::SyncPending, &[("n", &n.to_string())]),
                }}
            </span>
            <span id="sync-last" class="sync-last">
                {move || match sync.last_success.get() {
                    Some(t) => i18n.f(Msg::SyncLast, &[("t", &t.get(..16).unwrap_or(&t).replace('T', " "))]),
                    None => i18n.t(Msg::SyncNever).to_string(),
                }}
            </span>
            {move || sync.progress.get().map(|(done, total)| view! {
                <span id="sync-progress" class="sync-progress">
                    <progress max=total.to_string() value=done.to_string()></progress>
                    {i18n.f(Msg::SyncRunning, &[("done", &done.to_string()), ("total", &total.to_string())])}
                </span>
            })}
            {move || sync.last_error.get().map(|e| view! {
                <span id="sync-error" class="sync-error">{tr(Msg::SyncFailed)} " " {e}</span>
            })}
            <Show when=move || sync.unavailable.get()>
                <span class="sync-error">{tr(Msg::SyncUnavailable)}</span>
            </Show>
            <button id="sync-now" type="button" class="button small"
                disabled=move || sync.progress.get().is_some()
                on:click=move |_| sync.sync_now()>
                {tr(Msg::SyncNow)}
            </button>
        </div>
    }
}
