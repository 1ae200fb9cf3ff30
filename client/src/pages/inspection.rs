//! `/inspections/new` and `/inspections/:id`: the inspection form.
//!
//! Every change is saved into the device's store 300 ms after the last keystroke (and at once
//! when the app goes to the background), so a reload, a crash or a flat battery loses nothing
//! typed. A submitted inspection is evidence: it opens read-only, and changing it takes an
//! explicit, confirmed "edit" that turns it back into a draft to be submitted again.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use chaski_shared::domain::{
    AccessMode, AgeBand, CaseState, Choice, Companion, ConsentBy, ConsentStatus, FieldError,
    Finding, Indicator, IndigenousPeople, Inspection, Nationality, Need, PersonCode,
    ReferralTarget, Region, Sector, Sex, Stage, Timestamp,
};
use chaski_shared::{Attachment, DocId, Document, RevId};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::{json, Map, Value};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

use crate::components::fields::{
    field_id, get_path, indicator_of, opts, CheckField, CountField, Errors, FormCtx, MultiField,
    SelectField, TextField,
};
use crate::components::photos;
use crate::i18n::{counted, tr, use_i18n, Label, Msg, Noun};
use crate::records::{new_id, use_records, Records};
use crate::session::use_session;

/// Milliseconds of quiet after the last change before the draft is written.
pub const AUTOSAVE_MS: i32 = 300;

#[derive(Clone, Debug, PartialEq)]
enum SaveState {
    Idle,
    Pending,
    Saving,
    Saved,
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Load {
    Loading,
    Missing,
    Ready,
}

/// The open inspection's UI state. `Copy`: every field is an arena handle, valid while the form
/// is mounted. The autosave itself lives in [`Saver`], outside the arena.
#[derive(Clone, Copy)]
struct Editor {
    body: RwSignal<Map<String, Value>>,
    thumbs: RwSignal<Vec<(String, photos::Thumb)>>,
    conflicts: RwSignal<usize>,
    state: RwSignal<SaveState>,
    saver: StoredValue<Rc<Saver>, LocalStorage>,
}

impl Editor {
    /// The autosave, while the form is mounted (`None` once the page has been left).
    fn saver(self) -> Option<Rc<Saver>> {
        self.saver.try_get_value()
    }

    /// Called after every change: saves once the inspector pauses.
    fn schedule(self) {
        let (Some(saver), Some(body)) = (self.saver(), self.body.try_get_untracked()) else {
            return;
        };
        saver.schedule(body);
    }

    /// Writes what is pending now (background, leaving the page).
    fn save_now(self) {
        if let Some(saver) = self.saver() {
            saver.save_now();
        }
    }

    /// The record's id, for links.
    fn id(self) -> Option<DocId> {
        self.saver().and_then(|s| s.id.borrow().clone())
    }
}

/// The autosave of one open inspection. It is held by `Rc` (not in the reactive arena) because
/// it outlives the form: a save still running, or a change typed less than
/// [`AUTOSAVE_MS`] ago, when the inspector leaves the page must still reach the store, and its
/// continuation must not touch the form's signals once they are gone (reading a disposed arena
/// value is a panic, which in the release build aborts the whole wasm module).
struct Saver {
    records: Records,
    id: RefCell<Option<DocId>>,
    /// The latest body, copied at every change: what the next save writes.
    body: RefCell<Map<String, Value>>,
    rev: RefCell<Option<RevId>>,
    /// Photos by attachment name: inline until first saved, then stubs.
    attachments: RefCell<BTreeMap<String, Attachment>>,
    generation: Cell<u64>,
    in_flight: Cell<bool>,
    dirty: Cell<bool>,
    is_new: Cell<bool>,
    /// The form is still mounted: its address may still be rewritten and its status shown.
    mounted: Cell<bool>,
    /// The form's status line (written with `try_set`: it may be gone).
    state: RwSignal<SaveState>,
    /// Who edits, and on which device: written with each save, so that the two sides of a
    /// conflict can be named by device and time.
    editor: Option<(String, String)>,
}

impl Saver {
    fn show(&self, state: SaveState) {
        if self.mounted.get() {
            self.state.try_set(state);
        }
    }

    /// Takes `body` as the latest version and saves it once the inspector pauses.
    fn schedule(self: Rc<Self>, body: Map<String, Value>) {
        *self.body.borrow_mut() = body;
        self.dirty.set(true);
        self.show(SaveState::Pending);
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let saver = self.clone();
        let cb = Closure::once_into_js(move || {
            if saver.generation.get() == generation {
                saver.save_now();
            }
        });
        let _ = window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), AUTOSAVE_MS);
    }

    /// Writes the latest body now, unless a write is already running (it then writes again
    /// when it finishes, so saves never race each other for the same revision).
    fn save_now(self: Rc<Self>) {
        if self.in_flight.get() || !self.dirty.get() {
            return;
        }
        let Some(id) = self.id.borrow().clone() else {
            return;
        };
        self.in_flight.set(true);
        self.dirty.set(false);
        self.show(SaveState::Saving);
        let mut body = self.body.borrow().clone();
        body.insert(
            "updated_at".into(),
            Value::String(local_now().as_str().to_string()),
        );
        if let Some((user, device)) = &self.editor {
            body.insert("updated_by".into(), json!(user));
            body.insert("updated_device".into(), json!(device));
        }
        let mut doc = Document::new(id.clone(), body);
        doc.rev = self.rev.borrow().clone();
        doc.attachments = self.attachments.borrow().clone();
        spawn_local(async move {
            let result = self.records.save(doc).await;
            self.in_flight.set(false);
            match result {
                Ok(rev) => {
                    *self.rev.borrow_mut() = Some(rev);
                    // The store has the bytes now: later saves send stubs, not megabytes.
                    for att in self.attachments.borrow_mut().values_mut() {
                        att.data = None;
                    }
                    if self.is_new.replace(false) && self.mounted.get() {
                        // The address becomes the record's own, without remounting the form
                        // under the inspector's fingers (and only while it is still the page).
                        let url = format!("/inspections/{}", id.as_str());
                        if let Ok(history) = window().history() {
                            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
                        }
                    }
                    if self.dirty.get() {
                        self.save_now();
                    } else {
                        self.show(SaveState::Saved);
                    }
                }
                Err(e) => {
                    self.dirty.set(true);
                    self.show(SaveState::Failed(e.to_string()));
                }
            }
        });
    }
}

/// `/inspections/new`.
#[component]
pub fn InspectionNew() -> impl IntoView {
    view! { <InspectionEditor id=None /> }
}

/// `/inspections/:id`.
#[component]
pub fn InspectionEdit() -> impl IntoView {
    let params = use_params_map();
    move || {
        let id = params.with(|p| p.get("id"));
        view! { <InspectionEditor id=id /> }
    }
}

/// Now, as a timestamp with the device's UTC offset (what an inspector reads back).
fn local_now() -> Timestamp {
    let now = js_sys::Date::new_0();
    local_timestamp(&now).unwrap_or_else(|| Timestamp::from_utc_ms(now.get_time() as i64))
}

fn offset_text(date: &js_sys::Date) -> String {
    // getTimezoneOffset is minutes *behind* UTC: Lima gives 300 for -05:00.
    let minutes = -(date.get_timezone_offset() as i64);
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

fn local_timestamp(date: &js_sys::Date) -> Option<Timestamp> {
    Timestamp::parse(&format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        offset_text(date)
    ))
}

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` value) in the device's zone, from a stored timestamp.
fn to_input_value(stored: &str) -> String {
    match Timestamp::parse(stored) {
        Some(ts) => {
            let d = js_sys::Date::new(&JsValue::from_f64(ts.utc_ms() as f64));
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}",
                d.get_full_year(),
                d.get_month() + 1,
                d.get_date(),
                d.get_hours(),
                d.get_minutes()
            )
        }
        None => String::new(),
    }
}

/// A stored timestamp (with the device's offset) from a `datetime-local` value.
fn from_input_value(value: &str) -> Option<String> {
    if value.len() < 16 {
        return None;
    }
    // A date string without a zone is local time to `Date`, which also knows that instant's
    // offset (Peru has no daylight saving, other devices might).
    let date = js_sys::Date::new(&JsValue::from_str(value));
    if date.get_time().is_nan() {
        return None;
    }
    Some(format!("{}:00{}", &value[..16], offset_text(&date)))
}

#[component]
fn InspectionEditor(id: Option<String>) -> impl IntoView {
    let records = use_records();
    let session = use_session();
    let i18n = use_i18n();
    let load = RwSignal::new(Load::Loading);
    let state = RwSignal::new(SaveState::Idle);
    let saver = Rc::new(Saver {
        records,
        id: RefCell::new(None),
        body: RefCell::new(Map::new()),
        rev: RefCell::new(None),
        attachments: RefCell::new(BTreeMap::new()),
        generation: Cell::new(0),
        in_flight: Cell::new(false),
        dirty: Cell::new(false),
        is_new: Cell::new(false),
        mounted: Cell::new(true),
        state,
        editor: session
            .get_untracked()
            .map(|s| (s.user.name.clone(), s.device.clone())),
    });
    let editor = Editor {
        body: RwSignal::new(Map::new()),
        thumbs: RwSignal::new(Vec::new()),
        conflicts: RwSignal::new(0),
        state,
        saver: StoredValue::new_local(saver.clone()),
    };
    let editing = RwSignal::new(false);
    let confirm_edit = RwSignal::new(false);
    let reviewing = RwSignal::new(false);
    let show_all_errors = RwSignal::new(false);

    // Load once the store is open.
    let requested = id.clone();
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) || !records.ready() {
            return done.unwrap_or(false);
        }
        match requested.clone() {
            None => {
                let user = session.get();
                let mut body = Map::new();
                body.insert("type".into(), json!("inspection"));
                body.insert("status".into(), json!("draft"));
                body.insert("created_at".into(), json!(local_now().as_str()));
                body.insert("visit_start".into(), json!(local_now().as_str()));
                if let Some(s) = &user {
                    body.insert("created_by".into(), json!(s.user.name));
                    body.insert("device".into(), json!(s.device));
                    body.insert("team".into(), json!([{"id": s.user.name}]));
                }
                // The record goes to the working region's database, which refuses any other
                // region.
                if let Some(region) = session.region() {
                    body.insert("region".into(), json!(region));
                }
                if let Some(saver) = editor.saver() {
                    *saver.id.borrow_mut() = Some(new_id());
                    saver.is_new.set(true);
                    *saver.body.borrow_mut() = body.clone();
                }
                editor.body.set(body);
                load.set(Load::Ready);
            }
            Some(id) => {
                spawn_local(async move {
                    match records.load(&id).await {
                        Ok(doc) => {
                            let mut thumbs = Vec::new();
                            for (name, att) in &doc.attachments {
                                if let Some(thumb) = photos::thumb_of(att) {
                                    thumbs.push((name.clone(), thumb));
                                }
                            }
                            // The page may have been left while the record was read.
                            let Some(saver) = editor.saver() else { return };
                            // Inserted one by one: collecting into a map would compile
                            // another copy of the standard sort.
                            let mut stubs = BTreeMap::new();
                            for (k, a) in &doc.attachments {
                                stubs.insert(k.clone(), a.to_stub());
                            }
                            *saver.attachments.borrow_mut() = stubs;
                            *saver.rev.borrow_mut() = doc.rev.clone();
                            *saver.id.borrow_mut() = Some(doc.id.clone());
                            *saver.body.borrow_mut() = doc.body.clone();
                            editor.thumbs.set(thumbs);
                            editor.conflicts.set(doc.conflicts.len());
                            editor.body.set(doc.body);
                            load.set(Load::Ready);
                        }
                        Err(_) => load.set(Load::Missing),
                    }
                });
            }
        }
        true
    });

    // Write at once when the tablet goes to the background: the OS may kill a hidden tab.
    let hidden = window_event_listener(leptos::ev::visibilitychange, move |_| {
        if document().hidden() {
            editor.save_now();
        }
    });
    // Leaving the page writes a change still waiting for its pause; a save already running
    // writes it when it finishes. Either way it goes on without the form.
    // (Cleanups run before the arena drops the form's values, so the saver is still there.)
    on_cleanup(move || {
        hidden.remove();
        if let Some(saver) = editor.saver() {
            saver.mounted.set(false);
            saver.save_now();
        }
    });

    let submitted = Memo::new(move |_| {
        editor
            .body
            .with(|b| b.get("status").and_then(Value::as_str) == Some("submitted"))
    });
    let readonly = Signal::derive(move || submitted.get() && !editing.get());
    let errors = Memo::new(move |_| {
        editor.body.with(|b| {
            if show_all_errors.get() || submitted.get() {
                let mut as_submitted = b.clone();
                as_submitted.insert("status".into(), json!("submitted"));
                Inspection::parse(&as_submitted).err().unwrap_or_default()
            } else {
                Inspection::parse(b).err().unwrap_or_default()
            }
        })
    });
    let form = FormCtx::new(
        editor.body,
        errors,
        readonly,
        Signal::derive(move || show_all_errors.get() || submitted.get()),
        Rc::new(move || editor.schedule()),
    );
    provide_context(form);
    // The identity fields seal to this record's id (kept out of the body: see identity.rs).
    crate::components::identity::SealTarget::provide(move || {
        editor.id().map(|id| id.as_str().to_string())
    });

    // The office's "has issues" note, from the events sync brought (offline too).
    let case_id = StoredValue::new(id.clone());
    let title = move || {
        let site = editor.body.with(|b| {
            b.get("site_name")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        match (requested_is_new(&id), site) {
            (_, Some(site)) => site,
            (true, None) => i18n.t(Msg::NewTitle).to_string(),
            (false, None) => i18n.t(Msg::EditTitle).to_string(),
        }
    };

    let save_line = move || match editor.state.get() {
        SaveState::Idle => String::new(),
        SaveState::Pending | SaveState::Saving => i18n.t(Msg::Saving).to_string(),
        SaveState::Saved => i18n.t(Msg::Saved).to_string(),
        SaveState::Failed(e) => format!("{} {e}", i18n.t(Msg::SaveFailed)),
    };
    let save_code = move || match editor.state.get() {
        SaveState::Idle => "idle",
        SaveState::Pending => "pending",
        SaveState::Saving => "saving",
        SaveState::Saved => "saved",
        SaveState::Failed(_) => "failed",
    };

    let submit = move |_| {
        if !errors.get_untracked().is_empty() {
            return;
        }
        editor.body.update(|b| {
            b.insert("status".into(), json!("submitted"));
        });
        editing.set(false);
        reviewing.set(false);
        editor.schedule();
        editor.save_now();
    };

    let issue = move || {
        case_id
            .with_value(|id| id.as_deref().and_then(|id| records.case_of(id)))
            .and_then(|case| case.open_issues)
    };
    // Reopens a submitted record for correction (as "edit" does, without asking twice: the
    // office asked for it).
    let reopen = move |_| {
        editing.set(true);
        confirm_edit.set(false);
        editor.body.update(|b| {
            b.insert("status".into(), json!("draft"));
        });
        editor.schedule();
    };

    let form_view = move || {
        view! {
            {move || issue().map(|note| {
                let at = note.at.as_str().get(..16).unwrap_or_default().replace('T', " ");
                let by = note.by.clone();
                view! {
                    <div id="case-issues" class="banner issues" role="alert">
                        <h2>{move || i18n.l(CaseState::HasIssues)}</h2>
                        <p id="issues-note" class="issues-note">{note.note.clone()}</p>
                        <p id="issues-by" class="hint">
                            {move || i18n.f(Msg::IssuesBy, &[("by", &by), ("at", &at)])}
                        </p>
                        <Show when=move || readonly.get()
                            fallback=|| view! { <p class="hint">{tr(Msg::IssuesFixHint)}</p> }>
                            <button id="issues-fix" class="button primary" on:click=reopen>
                                {tr(Msg::IssuesFix)}
                            </button>
                        </Show>
                    </div>
                }
            })}
            <div class="form-bar">
                <p id="save-status" class="save-status" data-state=save_code role="status">
                    {save_line}
                </p>
                <Show when=move || { editor.conflicts.get() > 0 }>
                    <A href=move || format!("/inspections/{}/conflicts",
                            editor.id().map(|i| i.as_str().to_string()).unwrap_or_default())
                        attr:id="open-conflict" attr:class="button warn">
                        {tr(Msg::ConflictOpen)}
                    </A>
                </Show>
            </div>
            <Show when=move || readonly.get()>
                <div id="readonly-banner" class="banner">
                    <p>{tr(Msg::ReadOnly)}</p>
                    <Show when=move || !confirm_edit.get()
                        fallback=move || view! {
                            <p>{tr(Msg::EditConfirm)}</p>
                            <button id="edit-confirm" class="button warn" on:click=move |_| {
                                editing.set(true);
                                confirm_edit.set(false);
                                // Changed evidence must be submitted again, as a new revision.
                                editor.body.update(|b| { b.insert("status".into(), json!("draft")); });
                                editor.schedule();
                            }>{tr(Msg::EditYes)}</button>
                            <button class="button secondary" on:click=move |_| confirm_edit.set(false)>
                                {tr(Msg::Cancel)}
                            </button>
                        }>
                        <button id="edit-inspection" class="button secondary"
                            on:click=move |_| confirm_edit.set(true)>
                            {tr(Msg::EditSubmitted)}
                        </button>
                    </Show>
                </div>
            </Show>
            <nav class="section-nav" aria-label=move || i18n.t(Msg::EditTitle)>
                <a href="#sec-site">{tr(Msg::SecSite)}</a>
                <a href="#sec-visit">{tr(Msg::SecVisit)}</a>
                <a href="#sec-workers">{tr(Msg::SecWorkers)}</a>
                <a href="#sec-indicators">{tr(Msg::SecIndicators)}</a>
                <a href="#sec-findings">{tr(Msg::SecFindings)}</a>
                <a href="#sec-people">{tr(Msg::SecPeople)}</a>
                <a href="#sec-photos">{tr(Msg::SecPhotos)}</a>
                <a href="#sec-notes">{tr(Msg::SecNotes)}</a>
            </nav>
            <form id="inspection-form" class="inspection-form" on:submit=|ev| ev.prevent_default()
                on:focusout=move |ev| form.left(ev.target())>
                <fieldset class="plain" disabled=move || readonly.get()>
                    <SiteSection />
                    <VisitSection />
                    <WorkersSection />
                    <IndicatorsSection />
                    <section id="sec-findings" class="card">
                        <h2>{tr(Msg::SecFindings)}</h2>
                        <MultiField path="findings" label=Msg::FFindings options=opts(Finding::ALL) />
                    </section>
                    <PeopleSection />
                    <PhotosSection editor=editor />
                    <section id="sec-notes" class="card">
                        <h2>{tr(Msg::SecNotes)}</h2>
                        <TextField path="notes" label=Msg::FNotes multiline=true />
                    </section>
                </fieldset>
            </form>
            <Show when=move || !readonly.get()>
                <section id="review" class="card review">
                    <Show when=move || reviewing.get()
                        fallback=move || view! {
                            <button id="review-inspection" class="button primary" on:click=move |_| {
                                show_all_errors.set(true);
                                reviewing.set(true);
                            }>{tr(Msg::Review)}</button>
                        }>
                        <Summary errors=errors />
                        <div class="actions">
                            <button id="submit-inspection" class="button primary"
                                disabled=move || !errors.get().is_empty()
                                on:click=submit>{tr(Msg::Submit)}</button>
                            <button class="button secondary" on:click=move |_| reviewing.set(false)>
                                {tr(Msg::BackToForm)}
                            </button>
                        </div>
                    </Show>
                </section>
            </Show>
        }
    };

    view! {
        <h1 id="inspection-title">{title}</h1>
        {move || match load.get() {
            Load::Loading => view! { <p class="empty">{tr(Msg::StoreOpening)}</p> }.into_any(),
            Load::Missing => view! {
                <p id="inspection-missing" class="empty">{tr(Msg::NotFoundRecord)}</p>
            }.into_any(),
            Load::Ready => form_view().into_any(),
        }}
    }
}

/// An inspection's sections, read-only, with the form's own labels: the regional office's
/// case page shows the record as the inspector entered it. (Photos are not here: the office
/// fetches them from the server.) Not used by this app, so not in its bundle.
#[component]
pub fn InspectionReadOnly(body: Map<String, Value>) -> impl IntoView {
    let body = RwSignal::new(body);
    let errors = Memo::new(|_| Vec::new());
    provide_context(FormCtx::new(
        body,
        errors,
        Signal::derive(|| true),
        Signal::derive(|| false),
        Rc::new(|| {}),
    ));
    view! {
        <div id="inspection-readonly" class="inspection-form">
            <fieldset class="plain" disabled=true>
                <SiteSection />
                <VisitSection />
                <WorkersSection />
                <IndicatorsSection />
                <section id="sec-findings" class="card">
                    <h2>{tr(Msg::SecFindings)}</h2>
                    <MultiField path="findings" label=Msg::FFindings options=opts(Finding::ALL) />
                </section>
                <PeopleSection />
                <section id="sec-notes" class="card">
                    <h2>{tr(Msg::SecNotes)}</h2>
                    <TextField path="notes" label=Msg::FNotes multiline=true />
                </section>
            </fieldset>
        </div>
    }
}

fn requested_is_new(id: &Option<String>) -> bool {
    id.is_none()
}

/// The review before "submit": what was recorded, in numbers, and every problem left.
#[component]
fn Summary(errors: Memo<Vec<FieldError>>) -> impl IntoView {
    let form = crate::components::fields::use_form();
    let i18n = use_i18n();
    let counts = move || {
        form.body.with(|b| {
            let workers = get_path(b, "workers.total")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let indicators = b
                .get("indicators")
                .and_then(Value::as_object)
                .map_or(0, |m| {
                    m.values()
                        .filter(|o| o.get("seen").and_then(Value::as_bool) == Some(true))
                        .count()
                });
            let len = |k: &str| b.get(k).and_then(Value::as_array).map_or(0, Vec::len) as u64;
            let lang = i18n.lang();
            [
                counted(workers, Noun::Worker, lang),
                counted(indicators as u64, Noun::IndicatorSeen, lang),
                counted(len("people"), Noun::Person, lang),
                counted(len("photos"), Noun::Photo, lang),
            ]
            .join(" · ")
        })
    };
    view! {
        <h2>{tr(Msg::SummaryTitle)}</h2>
        <p id="summary-counts">{counts}</p>
        {move || {
            let errs = errors.get();
            if errs.is_empty() {
                view! { <p id="summary-ready" class="ok">{tr(Msg::SummaryReady)}</p> }.into_any()
            } else {
                let lang = i18n.lang();
                view! {
                    <p>{tr(Msg::SummaryProblems)}</p>
                    <ul id="summary-problems" class="problems">
                        {errs.into_iter().map(|e| {
                            let href = format!("#{}", field_id(&e.field));
                            let text = crate::i18n::error_text(&e.code, lang);
                            let mut name = form.field_name(&e.field, lang);
                            // "Cuándo" alone does not say which of the eleven indicators.
                            if let Some(indicator) = indicator_of(&e.field) {
                                name = format!("{} — {name}", indicator.label(lang));
                            }
                            view! { <li><a href=href>{name}</a> ": " {text}</li> }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }
        }}
    }
}

#[component]
fn SiteSection() -> impl IntoView {
    let form = crate::components::fields::use_form();
    let session = use_session();
    let i18n = use_i18n();
    let gps_busy = RwSignal::new(false);
    let gps_failed = RwSignal::new(false);
    let get_gps = move |_| {
        let Ok(geo) = window().navigator().geolocation() else {
            gps_failed.set(true);
            return;
        };
        gps_busy.set(true);
        gps_failed.set(false);
        let ok = Closure::once_into_js(move |pos: JsValue| {
            gps_busy.set(false);
            let coords = js_sys::Reflect::get(&pos, &"coords".into()).unwrap_or_default();
            let num = |k: &str| {
                js_sys::Reflect::get(&coords, &k.into())
                    .ok()
                    .and_then(|v| v.as_f64())
            };
            if let (Some(lat), Some(lon)) = (num("latitude"), num("longitude")) {
                let mut gps = json!({"lat": lat, "lon": lon});
                if let Some(acc) = num("accuracy") {
                    gps["accuracy_m"] = json!(acc.round());
                }
                form.update(|b| {
                    b.insert("gps".into(), gps);
                    b.insert("location_source".into(), json!("gps"));
                });
            } else {
                gps_failed.set(true);
            }
        });
        let err = Closure::once_into_js(move |_: JsValue| {
            gps_busy.set(false);
            gps_failed.set(true);
        });
        let options = web_sys::PositionOptions::new();
        options.set_enable_high_accuracy(true);
        // Under the forest canopy a first fix can take long; after that, type it by hand.
        options.set_timeout(45_000);
        options.set_maximum_age(60_000);
        if geo
            .get_current_position_with_error_callback_and_options(
                ok.unchecked_ref(),
                Some(err.unchecked_ref()),
                &options,
            )
            .is_err()
        {
            gps_busy.set(false);
            gps_failed.set(true);
        }
    };
    let coord = move |key: &'static str| {
        move || {
            get_path(&form.body.get(), &format!("gps.{key}"))
                .and_then(Value::as_f64)
                .map(crate::num::shortest)
                .unwrap_or_default()
        }
    };
    let set_coord = move |key: &'static str| {
        move |ev| {
            let text = event_target_value(&ev).replace(',', ".");
            form.update(|b| {
                let gps = b
                    .entry("gps")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|m| {
                        match crate::num::parse(&text) {
                            Some(v) => m.insert(key.into(), json!(v)),
                            None => m.remove(key),
                        };
                        // A hand-typed point has no measured accuracy.
                        m.remove("accuracy_m");
                        m.is_empty()
                    });
                if gps == Some(true) {
                    b.remove("gps");
                    b.remove("location_source");
                } else {
                    b.insert("location_source".into(), json!("manual"));
                }
            });
        }
    };
    let source_line = move || {
        form.body
            .with(|b| match b.get("location_source").and_then(Value::as_str) {
                Some("gps") => {
                    let acc = get_path(b, "gps.accuracy_m")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0);
                    i18n.f(Msg::GpsAccuracy, &[("n", &crate::num::fixed(acc, 0))])
                }
                Some("manual") => i18n.t(Msg::GpsManual).to_string(),
                _ => String::new(),
            })
    };
    // The coordinates are plain inputs: named here for the review.
    form.labelled("gps.lat", Msg::FLat);
    form.labelled("gps.lon", Msg::FLon);
    form.labelled("gps", Msg::FGps);
    view! {
        <section id="sec-site" class="card">
            <h2>{tr(Msg::SecSite)}</h2>
            <TextField path="site_name" label=Msg::FSiteName />
            <div class="grid2">
                <SelectField path="sector" label=Msg::FSector options=opts(Sector::ALL) />
                <SelectField path="region" label=Msg::FRegion options=opts(Region::ALL)
                    locked=true />
            </div>
            <Show when=move || { session.regions().len() > 1 }>
                <p class="hint" id="region-hint">{tr(Msg::RegionFixedHint)}</p>
            </Show>
            <Show when=move || form.get("sector") == json!("other")>
                <TextField path="sector_other" label=Msg::FSectorOther />
            </Show>
            <div class="grid2">
                <TextField path="district" label=Msg::FDistrict />
                <TextField path="locality" label=Msg::FLocality />
            </div>
            <fieldset class="field">
                <legend>{tr(Msg::FGps)}</legend>
                <button id="gps-get" type="button" class="button secondary"
                    disabled=move || gps_busy.get() on:click=get_gps>
                    {move || i18n.t(if gps_busy.get() { Msg::GpsBusy } else { Msg::GpsGet })}
                </button>
                <Show when=move || gps_failed.get()>
                    <p id="gps-failed" class="alert" role="alert">{tr(Msg::GpsFailed)}</p>
                </Show>
                <div class="grid2">
                    <div class="field">
                        <label for="f-gps-lat">{tr(Msg::FLat)}</label>
                        <input id="f-gps-lat" type="text" inputmode="decimal"
                            prop:value=coord("lat") on:change=set_coord("lat") />
                        <Errors path="gps.lat" />
                    </div>
                    <div class="field">
                        <label for="f-gps-lon">{tr(Msg::FLon)}</label>
                        <input id="f-gps-lon" type="text" inputmode="decimal"
                            prop:value=coord("lon") on:change=set_coord("lon") />
                        <Errors path="gps.lon" />
                    </div>
                </div>
                <p id="gps-source" class="hint">{source_line}</p>
                <Errors path="gps" />
            </fieldset>
            <MultiField path="access.modes" label=Msg::FAccess options=opts(AccessMode::ALL) />
            <TextField path="access.notes" label=Msg::FAccessNotes />
        </section>
    }
}

#[component]
fn DateTimeField(path: &'static str, label: Msg) -> impl IntoView {
    let form = crate::components::fields::use_form();
    let id = form.labelled(path, label);
    let value = move || to_input_value(form.get(path).as_str().unwrap_or_default());
    view! {
        <div class="field">
            <label for=id.clone()>{tr(label)}</label>
            <input id=id type="datetime-local" prop:value=value
                on:change=move |ev| {
                    let v = from_input_value(&event_target_value(&ev));
                    form.set(path, v.map(Value::String).unwrap_or(Value::Null));
                } />
            <Errors path=path />
        </div>
    }
}

#[component]
fn VisitSection() -> impl IntoView {
    let form = crate::components::fields::use_form();
    let count = Memo::new(move |_| form.len("team"));
    let add = move |_| {
        form.update(|b| {
            let team = b.entry("team").or_insert_with(|| json!([]));
            if let Some(a) = team.as_array_mut() {
                a.push(json!({"name": ""}));
            }
        })
    };
    view! {
        <section id="sec-visit" class="card">
            <h2>{tr(Msg::SecVisit)}</h2>
            <div class="grid2">
                <DateTimeField path="visit_start" label=Msg::FVisitStart />
                <DateTimeField path="visit_end" label=Msg::FVisitEnd />
            </div>
            <fieldset class="field" id="f-team">
                <legend>{tr(Msg::FTeam)}</legend>
                {move || (0..count.get()).map(|i| view! { <TeamRow i=i /> }).collect_view()}
                <Errors path="team" />
                <button id="team-add" type="button" class="button secondary" on:click=add>
                    {tr(Msg::TeamAdd)}
                </button>
            </fieldset>
            <MultiField path="accompanied_by" label=Msg::FAccompanied options=opts(Companion::ALL) />
            <TextField path="accompanied_notes" label=Msg::FAccompaniedNotes />
        </section>
    }
}

/// One team member: an account id (set when the member signed in here) or a typed name.
#[component]
fn TeamRow(i: usize) -> impl IntoView {
    let form = crate::components::fields::use_form();
    let i18n = use_i18n();
    let path = format!("team[{i}]");
    let p = path.clone();
    let shown = move || {
        let v = form.get(&p);
        v.get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| v.get("id").and_then(Value::as_str))
            .or_else(|| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let p = path.clone();
    let on_input = move |ev| {
        let text = event_target_value(&ev);
        form.set(&p, json!({ "name": text }));
    };
    let remove = move |_| {
        form.update(|b| {
            if let Some(a) = b.get_mut("team").and_then(Value::as_array_mut) {
                if i < a.len() {
                    a.remove(i);
                }
            }
        })
    };
    let id = form.labelled(&format!("{path}.name"), Msg::FTeamMember);
    view! {
        <div class="row">
            <input id=id type="text" aria-label=move || i18n.t(Msg::FTeamMember)
                prop:value=shown on:input=on_input />
            <button type="button" class="button secondary small" on:click=remove>
                {tr(Msg::Remove)}
            </button>
            <Errors path=format!("{path}.name") />
        </div>
    }
}

#[component]
fn WorkersSection() -> impl IntoView {
    let form = crate::components::fields::use_form();
    let i18n = use_i18n();
    let count = Memo::new(move |_| form.len("workers.nationalities"));
    let add = move |_| {
        form.update(|b| {
            let workers = b.entry("workers").or_insert_with(|| json!({}));
            if let Some(w) = workers.as_object_mut() {
                let list = w.entry("nationalities").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut() {
                    a.push(json!({"country": "VE"}));
                }
            }
        })
    };
    view! {
        <section id="sec-workers" class="card">
            <h2>{tr(Msg::SecWorkers)}</h2>
            <div class="grid4">
                <CountField path="workers.total" label=Msg::FTotal />
                <CountField path="workers.women" label=Msg::FWomen />
                <CountField path="workers.men" label=Msg::FMen />
                <CountField path="workers.other_or_unknown" label=Msg::FOtherSex />
                <CountField path="workers.minors_under_18" label=Msg::FUnder18 />
                <CountField path="workers.minors_under_14" label=Msg::FUnder14 />
                <CountField path="workers.indigenous" label=Msg::FIndigenous />
                <CountField path="workers.foreign" label=Msg::FForeign />
            </div>
            <fieldset class="field" id="f-workers-nationalities">
                <legend>{tr(Msg::FNationalities)}</legend>
                {move || (0..count.get()).map(|i| {
                    let base = format!("workers.nationalities[{i}]");
                    let is_other = {
                        let base = base.clone();
                        move || form.get(&format!("{base}.country")) == json!("other")
                    };
                    let remove = move |_| form.update(|b| {
                        if let Some(a) = b.get_mut("workers")
                            .and_then(|w| w.get_mut("nationalities"))
                            .and_then(Value::as_array_mut) {
                            if i < a.len() { a.remove(i); }
                        }
                    });
                    view! {
                        <div class="row nationality">
                            <SelectField path=format!("{base}.country") label=Msg::FNationality
                                options=opts(Nationality::ALL) />
                            <CountField path=format!("{base}.count") label=Msg::FCount />
                            <Show when=is_other.clone()>
                                <TextField path=format!("{base}.name") label=Msg::FCountryName />
                            </Show>
                            <button type="button" class="button secondary small" on:click=remove>
                                {move || i18n.t(Msg::Remove)}
                            </button>
                        </div>
                    }
                }).collect_view()}
                <Errors path="workers.nationalities" />
                <button id="nationality-add" type="button" class="button secondary" on:click=add>
                    {tr(Msg::NationalityAdd)}
                </button>
            </fieldset>
        </section>
    }
}

#[component]
fn IndicatorsSection() -> impl IntoView {
    view! {
        <section id="sec-indicators" class="card">
            <h2>{tr(Msg::SecIndicators)}</h2>
            {Indicator::ALL.iter().map(|ind| view! { <IndicatorRow indicator=*ind /> }).collect_view()}
        </section>
    }
}

/// One ILO indicator: seen or not; when seen (or already detailed), when and on what evidence.
#[component]
fn IndicatorRow(indicator: Indicator) -> impl IntoView {
    let form = crate::components::fields::use_form();
    let i18n = use_i18n();
    let base = format!("indicators.{}", indicator.name());
    let seen_path = format!("{base}.seen");
    let id = form.labelled(&seen_path, Msg::FSeen);
    let b2 = base.clone();
    let open = move || {
        let v = form.get(&b2);
        v.get("seen").and_then(Value::as_bool) == Some(true)
            || v.get("stages").is_some()
            || v.get("evidence").is_some()
    };
    let sp = seen_path.clone();
    let checked = move || form.get(&sp).as_bool().unwrap_or(false);
    let sp = seen_path.clone();
    let for_id = id.clone();
    view! {
        <div class="indicator" data-indicator=indicator.name()>
            <label class="chip wide" for=for_id>
                <input id=id type="checkbox" prop:checked=checked
                    on:change=move |ev| form.set(&sp, Value::Bool(event_target_checked(&ev))) />
                <span>{move || i18n.l(indicator)}</span>
            </label>
            <Errors path=seen_path.clone() />
            <Show when=open.clone()>
                <div class="indicator-detail">
                    <MultiField path=format!("{base}.stages") label=Msg::FStages options=opts(Stage::ALL) />
                    <TextField path=format!("{base}.evidence") label=Msg::FEvidence multiline=true
                        about=Signal::derive(move || i18n.l(indicator).to_string()) />
                </div>
            </Show>
        </div>
    }
}

/// The code of a person added to `people`: one more than the highest there. Not the first free
/// one: events and reports refer to people by code, so a person removed from the middle of the
/// list never lends their code to the next one. (Only the last person's code can come back, as
/// the document keeps no counter of removed people.)
fn next_person_code(people: &[Value]) -> PersonCode {
    let highest = people
        .iter()
        .filter_map(|p| p.get("code")?.as_str()?.strip_prefix("P-"))
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .map(|digits| {
            digits.bytes().fold(0u32, |n, b| {
                n.saturating_mul(10).saturating_add(u32::from(b - b'0'))
            })
        })
        .max()
        .unwrap_or(0);
    PersonCode::nth(highest.saturating_add(1))
}

#[component]
fn PeopleSection() -> impl IntoView {
    let form = crate::components::fields::use_form();
    let count = Memo::new(move |_| form.len("people"));
    let add = move |_| {
        form.update(|b| {
            let people = b.entry("people").or_insert_with(|| json!([]));
            if let Some(a) = people.as_array_mut() {
                let next = next_person_code(a);
                a.push(json!({
                    "code": next.as_str(),
                    "referral": {"made": false},
                    "consent": {},
                }));
            }
        })
    };
    view! {
        <section id="sec-people" class="card">
            <h2>{tr(Msg::SecPeople)}</h2>
            <p class="banner privacy">{tr(Msg::NoNames)}</p>
            {move || (0..count.get()).map(|i| view! { <PersonCard i=i /> }).collect_view()}
            <Errors path="people" />
            <button id="person-add" type="button" class="button secondary" on:click=add>
                {tr(Msg::PersonAdd)}
            </button>
        </section>
    }
}

#[component]
fn PersonCard(i: usize) -> impl IntoView {
    let form = crate::components::fields::use_form();
    let base = format!("people[{i}]");
    let b = base.clone();
    let code = move || {
        form.get(&format!("{b}.code"))
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let b = base.clone();
    let is = move |key: &'static str, value: &'static str| {
        let b = b.clone();
        move || form.get(&format!("{b}.{key}")) == json!(value)
    };
    let b = base.clone();
    let needs_other = move || {
        form.get(&format!("{b}.needs"))
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "other"))
    };
    let seal_target = use_context::<crate::components::identity::SealTarget>();
    let remove = move |_| {
        form.update(|b| {
            if let Some(a) = b.get_mut("people").and_then(Value::as_array_mut) {
                if i < a.len() {
                    let gone = a.remove(i);
                    // What was typed for them and not sealed goes with them: it must never
                    // show up (and be sealed) under someone else.
                    if let (Some(target), Some(code)) =
                        (seal_target, gone.get("code").and_then(Value::as_str))
                    {
                        target.forget(code);
                    }
                }
            }
        })
    };
    // Captures only the index, so the closure is `Copy` and every `Show` can own one.
    let p = move |k: &str| format!("people[{i}].{k}");
    let code2 = code.clone();
    view! {
        <div class="person card inner" data-code=code2>
            <h3>{tr(Msg::FCode)} " " {code}</h3>
            <div class="grid2">
                <SelectField path=p("age_band") label=Msg::FAgeBand options=opts(AgeBand::ALL) />
                <SelectField path=p("sex") label=Msg::FSex options=opts(Sex::ALL) />
                <SelectField path=p("nationality") label=Msg::FNationality options=opts(Nationality::ALL) />
                <SelectField path=p("indigenous_people") label=Msg::FIndigenousPeople
                    options=opts(IndigenousPeople::ALL) />
            </div>
            <Show when=is("nationality", "other")>
                <TextField path=p("nationality_other") label=Msg::FNationalityOther />
            </Show>
            <Show when=is("indigenous_people", "other")>
                <TextField path=p("indigenous_people_other") label=Msg::FIndigenousOther />
            </Show>
            <MultiField path=p("needs") label=Msg::FNeeds options=opts(Need::ALL) />
            <Show when=needs_other>
                <TextField path=p("needs_notes") label=Msg::FNeedsNotes />
            </Show>
            <CheckField path=p("referral.made") label=Msg::FReferralMade />
            <MultiField path=p("referral.to") label=Msg::FReferralTo options=opts(ReferralTarget::ALL) />
            <div class="grid2">
                <SelectField path=p("consent.status") label=Msg::FConsent options=opts(ConsentStatus::ALL) />
                <SelectField path=p("consent.given_by") label=Msg::FConsentBy options=opts(ConsentBy::ALL) />
            </div>
            <crate::components::identity::IdentityFields i=i />
            <Errors path=base.clone() />
            <button type="button" class="button secondary small" on:click=remove>
                {tr(Msg::Remove)}
            </button>
        </div>
    }
}

/// Adds a photo's entry to the body's list of photos.
fn push_photo(body: &mut Map<String, Value>, entry: Value) {
    let list = body.entry("photos").or_insert_with(|| json!([]));
    if let Some(a) = list.as_array_mut() {
        a.push(entry);
    }
}

#[component]
fn PhotosSection(editor: Editor) -> impl IntoView {
    let form = crate::components::fields::use_form();
    let i18n = use_i18n();
    let busy = RwSignal::new(0usize);
    // Photos of the current batch: how many were chosen, for "2 of 3 done".
    let batch = RwSignal::new(0usize);
    let failed = RwSignal::new(None::<photos::NotKept>);
    let shows_people = RwSignal::new(true);
    let session = use_session();
    let on_files = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(files) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        // Cleared so that choosing the same file again still fires `change`.
        input.set_value("");
        failed.set(None);
        let Some(saver) = editor.saver() else { return };
        if busy.get_untracked() == 0 {
            batch.set(0);
        }
        batch.update(|n| *n += files.len());
        // Asked at capture, on by default: a careless tap must never leave a face in clear.
        let people = shows_people.get_untracked();
        shows_people.set(true);
        let key = form
            .body
            .with_untracked(|b| b.get("region").and_then(Value::as_str).map(str::to_owned))
            .and_then(|r| crate::components::identity::key_for(session, &r));
        for file in files {
            busy.update(|n| *n += 1);
            let saver = saver.clone();
            let key = key.clone();
            spawn_local(async move {
                let doc_id = saver.id.borrow().as_ref().map(|id| id.as_str().to_string());
                let taken_at = local_now();
                let kept = match doc_id {
                    Some(doc_id) => {
                        photos::keep(&file, people, key, &doc_id, taken_at.as_str()).await
                    }
                    None => Err(photos::NotKept::Unreadable),
                };
                match kept {
                    Ok(photos::Kept {
                        name,
                        attachment,
                        entry,
                        thumb,
                    }) => {
                        let shown = saver.mounted.get().then_some(thumb);
                        saver
                            .attachments
                            .borrow_mut()
                            .insert(name.clone(), attachment);
                        match shown {
                            Some(thumb) => {
                                editor.thumbs.try_update(|t| t.push((name, thumb)));
                                form.update(|b| push_photo(b, entry));
                            }
                            // The inspector left the form while the photo was shrinking: it
                            // still joins the record.
                            None => {
                                let mut body = saver.body.borrow().clone();
                                push_photo(&mut body, entry);
                                saver.schedule(body);
                            }
                        }
                    }
                    Err(e) => {
                        failed.try_set(Some(e));
                    }
                }
                busy.try_update(|n| *n -= 1);
            });
        }
    };
    let remove = move |name: String| {
        form.update(|b| {
            if let Some(a) = b.get_mut("photos").and_then(Value::as_array_mut) {
                a.retain(|p| p.get("attachment").and_then(Value::as_str) != Some(&name));
            }
        });
        if let Some(saver) = editor.saver() {
            saver.attachments.borrow_mut().remove(&name);
        }
        editor.thumbs.update(|t| t.retain(|(n, _)| *n != name));
    };
    view! {
        <section id="sec-photos" class="card">
            <h2>{tr(Msg::SecPhotos)}</h2>
            <photos::ShowsPeopleSwitch on=shows_people />
            <label class="button secondary file-button" for="photo-input">{tr(Msg::PhotoAdd)}</label>
            <input id="photo-input" class="visually-hidden" type="file" accept="image/*"
                capture="environment" multiple on:change=on_files />
            <Show when=move || { busy.get() > 0 }>
                <p id="photo-busy" role="status">
                    {move || {
                        let (left, total) = (busy.get(), batch.get());
                        let done = total.saturating_sub(left);
                        (total > 1).then(|| view! {
                            <progress max=total.to_string() value=done.to_string()></progress> " "
                        })
                    }}
                    {move || {
                        let (left, total) = (busy.get(), batch.get());
                        if total > 1 {
                            i18n.f(Msg::PhotoBusyMany, &[
                                ("done", &total.saturating_sub(left).to_string()),
                                ("total", &total.to_string()),
                            ])
                        } else {
                            i18n.t(Msg::PhotoBusy).to_string()
                        }
                    }}
                    // A single photo: a bar that says work is going on.
                    {move || (batch.get() <= 1).then(|| view! { " " <progress></progress> })}
                </p>
            </Show>
            {move || failed.get().map(|e| view! {
                <p id="photo-failed" class="alert" role="alert">{photos::not_kept_text(&e, i18n.lang())}</p>
            })}
            <ul class="photos">
                <For each=move || editor.thumbs.get() key=|(name, _)| name.clone() let:thumb>
                    {
                        let name = thumb.0.clone();
                        view! {
                            <li class="photo-thumb" data-name=thumb.0.clone()>
                                {match thumb.1.clone() {
                                    photos::Thumb::Sealed => view! { <photos::SealedPhoto /> }.into_any(),
                                    photos::Thumb::Jpeg(url) => view! {
                                        <img src=url alt=move || i18n.t(Msg::PhotoAlt) loading="lazy" />
                                    }.into_any(),
                                }}
                                <button type="button" class="button secondary small"
                                    on:click=move |_| remove(name.clone())>
                                    {tr(Msg::Remove)}
                                </button>
                            </li>
                        }
                    }
                </For>
            </ul>
            <Errors path="photos" />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_under_an_indicator_names_it() {
        assert_eq!(
            indicator_of("indicators.debt_bondage.stages"),
            Some(Indicator::DebtBondage)
        );
        assert_eq!(indicator_of("notes"), None);
    }

    #[test]
    fn a_new_person_gets_a_code_above_every_code_in_the_list() {
        let codes =
            |list: &[&str]| -> Vec<Value> { list.iter().map(|c| json!({ "code": c })).collect() };
        assert_eq!(next_person_code(&[]).as_str(), "P-001");
        assert_eq!(
            next_person_code(&codes(&["P-001", "P-002"])).as_str(),
            "P-003"
        );
        // P-001 was removed: its code is not handed out again.
        assert_eq!(next_person_code(&codes(&["P-002"])).as_str(), "P-003");
        assert_eq!(
            next_person_code(&codes(&["P-010", "P-004"])).as_str(),
            "P-011"
        );
        // A person without a valid code does not stop the others.
        let mut odd = codes(&["P-002"]);
        odd.push(json!({"code": "x"}));
        odd.push(json!({}));
        assert_eq!(next_person_code(&odd).as_str(), "P-003");
    }

    #[test]
    fn a_new_id_names_an_inspection() {
        assert!(requested_is_new(&None));
        assert!(!requested_is_new(&Some("inspection:x".into())));
    }
}
