//! `/office/case/:id`: one inspection, read-only with every section and photo, its case
//! timeline beside it, what changed since the review, and the actions that record events.
//!
//! The server gives the inspection and its events; the state is derived here with the same
//! shared function the server and the tablet use, so the three never disagree.

use chaski_client::components::fields::path_label;
use chaski_client::i18n::{use_i18n, Lang};
use chaski_client::pages::InspectionReadOnly;
use chaski_client::session::use_session;
use chaski_shared::domain::{
    derive_case, CaseEvent, CaseInspection, CaseView, Choice, Gap, ReferralState,
};
use chaski_shared::Document;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

use crate::api;
use crate::events::{CaseCtx, EventForm, ACTIONS};
use crate::i18n::*;
use crate::pages::short;
use crate::sealed::{self, SealedCard, SealedPhoto};
use crate::BASE;

/// A case as this page shows it.
#[derive(Clone, Debug, PartialEq)]
struct Loaded {
    inspection: Document,
    /// Raw event bodies by id, for their details.
    raw: Vec<(String, serde_json::Map<String, Value>)>,
    view: CaseView,
    changed: Vec<String>,
    ctx: CaseCtx,
}

#[derive(Clone, Debug, PartialEq)]
enum Load {
    Loading,
    Ready(Box<Loaded>),
    Failed(String),
}

fn loaded(db: &str, answer: api::CaseAnswer) -> Result<Loaded, String> {
    let inspection = Document::from_json(answer.inspection).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut events = Vec::new();
    for value in answer.events {
        let Ok(doc) = Document::from_json(value) else {
            continue;
        };
        if let Ok(event) = CaseEvent::from_document(&doc) {
            events.push(event);
        }
        raw.push((doc.id.as_str().to_string(), doc.body));
    }
    let case = CaseInspection::from_document(&inspection);
    let view = derive_case(case.as_ref(), &events);
    let ctx = CaseCtx {
        db: db.to_string(),
        inspection_id: inspection.id.as_str().to_string(),
        inspection_rev: inspection.rev.as_ref().map(|r| r.to_string()),
        people: case
            .map(|c| {
                c.person_codes
                    .iter()
                    .map(|p| p.as_str().to_string())
                    .collect()
            })
            .unwrap_or_default(),
        referrals: view
            .referrals
            .iter()
            .map(|r| {
                let people: Vec<&str> = r.people.iter().map(|p| p.as_str()).collect();
                (
                    r.id.as_str().to_string(),
                    r.service.name(),
                    format!("{} · {}", people.join(", "), short(r.at.as_str())),
                )
            })
            .collect(),
        events: view
            .timeline
            .iter()
            .map(|t| {
                (
                    t.id.as_str().to_string(),
                    t.kind.name(),
                    format!("{} · {}", t.by, short(t.at.as_str())),
                )
            })
            .collect(),
    };
    Ok(Loaded {
        inspection,
        raw,
        view,
        changed: answer.changed_since_review,
        ctx,
    })
}

#[component]
pub fn CasePage() -> impl IntoView {
    let session = use_session();
    let params = use_params_map();
    let load = RwSignal::new(Load::Loading);
    let reloads = RwSignal::new(0u32);
    Effect::new(move |_| {
        reloads.track();
        let id = params.with(|p| p.get("id")).unwrap_or_default();
        let (Some(token), Some(db)) = (session.token(), session.region()) else {
            return;
        };
        spawn_local(async move {
            let answer = api::case(&token, &db, &id).await;
            load.try_set(match answer {
                Ok(answer) => match loaded(&db, answer) {
                    Ok(l) => Load::Ready(Box::new(l)),
                    Err(e) => Load::Failed(e),
                },
                Err(e) => Load::Failed(format!("{e:?}")),
            });
        });
    });
    let on_saved = Callback::new(move |_| reloads.update(|n| *n += 1));
    view! {
        <p><A href=format!("{BASE}/") attr:id="back-to-inbox">{ot(O::BackToInbox)}</A></p>
        {move || match load.get() {
            Load::Loading => view! { <p class="hint">{ot(O::Loading)}</p> }.into_any(),
            Load::Failed(e) => view! {
                <p id="case-error" class="alert" role="alert">{ot(O::LoadFailed)} " " {e}</p>
            }.into_any(),
            Load::Ready(l) => view! { <Case loaded=*l on_saved=on_saved /> }.into_any(),
        }}
    }
}

#[component]
fn Case(loaded: Loaded, on_saved: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let state = loaded.view.state;
    let title = loaded
        .inspection
        .body
        .get("site_name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let changed = loaded.changed.clone();
    let resubmitted = state == chaski_shared::domain::CaseState::Resubmitted;
    let open = RwSignal::new(None::<&'static str>);
    let ctx = loaded.ctx.clone();
    // Moves when something sealed is opened, so that the openings list reads the log again.
    let openings_version = RwSignal::new(0u32);
    let sealed_photos = sealed::sealed_photos(&loaded.inspection);
    view! {
        <div class="title-row">
            <h1 id="case-title">{title}</h1>
            <span id="case-state" class="badge case-state" data-state=state.name()>
                {move || i18n.l(state)}
            </span>
        </div>
        <div class="case-layout">
            <div class="case-record">
                <InspectionReadOnly body=loaded.inspection.body.clone() />
                <SealedCard db=loaded.ctx.db.clone() doc_id=loaded.ctx.inspection_id.clone()
                    people=sealed::people(&loaded.inspection.body)
                    has_sealed=!sealed_photos.is_empty()
                    openings_version=openings_version />
                <Photos inspection=loaded.inspection.clone() db=loaded.ctx.db.clone()
                    sealed=sealed_photos openings_version=openings_version />
            </div>
            <aside class="case-side">
                <Show when=move || resubmitted || !changed.is_empty()>
                    <section id="changed-since-review" class="card">
                        <h2>{ot(O::ChangedSinceReview)}</h2>
                        {
                            let changed = loaded.changed.clone();
                            if changed.is_empty() {
                                view! { <p class="hint">{ot(O::NothingChanged)}</p> }.into_any()
                            } else {
                                view! {
                                    <ul id="changed-fields">
                                        {changed.into_iter().map(|path| {
                                            let p = path.clone();
                                            view! { <li data-path=path>{move || path_label(&p, i18n.lang())}</li> }
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }
                        }
                    </section>
                </Show>
                <Summary view=loaded.view.clone() />
                <Timeline view=loaded.view.clone() raw=loaded.raw.clone() />
                <section id="case-actions" class="card">
                    <h2>{ot(O::Actions)}</h2>
                    <div class="actions wrap">
                        {ACTIONS.iter().map(|a| view! {
                            <button id=format!("act-{}", a.kind) type="button"
                                class=move || if open.get() == Some(a.kind) { "button primary" } else { "button secondary" }
                                on:click=move |_| {
                                    // Again on the open one keeps what was typed.
                                    if open.get_untracked() != Some(a.kind) {
                                        open.set(Some(a.kind));
                                    }
                                }>
                                {move || i18n.l(a.title)}
                            </button>
                        }).collect_view()}
                    </div>
                    {move || open.get().and_then(|kind| ACTIONS.iter().find(|a| a.kind == kind)).map(|action| {
                        view! { <EventForm action=action ctx=ctx.clone() on_saved=on_saved /> }
                    })}
                </section>
            </aside>
        </div>
    }
}

/// The derived state's parts: the open issue, referrals (each with its own state), the
/// prosecution, the outcome, and any gap.
#[component]
fn Summary(view: CaseView) -> impl IntoView {
    let i18n = use_i18n();
    let en = move || i18n.lang() == Lang::En;
    let referrals = view.referrals.clone();
    let prosecution = view.prosecution.clone();
    let outcome = view.outcome.clone();
    let gaps = view.gaps.clone();
    let issue = view.open_issues.clone();
    view! {
        {issue.map(|note| view! {
            <section id="open-issue" class="card">
                <h2>{ot(O::OpenIssue)}</h2>
                <p class="issues-note">{note.note}</p>
                <p class="hint">{note.by} " · " {short(note.at.as_str())}</p>
            </section>
        })}
        <Show when=move || !referrals.is_empty()>
            <section id="referrals" class="card">
                <h2>{ot(O::Referrals)}</h2>
                <ul>
                    {view.referrals.iter().map(|r| {
                        let status = match &r.state {
                            ReferralState::Sent => "sent",
                            ReferralState::Received => "received",
                            ReferralState::Attended => "attended",
                            ReferralState::Declined { .. } => "declined",
                        };
                        let reason = match &r.state {
                            ReferralState::Declined { reason } => format!(" ({reason})"),
                            _ => String::new(),
                        };
                        let people: Vec<String> = r.people.iter().map(|p| p.as_str().to_string()).collect();
                        let service = r.service.name();
                        let reference = r.reference.clone().unwrap_or_default();
                        view! {
                            <li class="referral" data-id=r.id.as_str().to_string() data-status=status>
                                <strong>{move || code_label(SERVICES, service, en())}</strong>
                                " · " {people.join(", ")} " · "
                                <span class="badge">{move || code_label(REFERRAL_STATUS, status, en())}</span>
                                {reason} " " <span class="hint">{reference}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        </Show>
        {prosecution.map(|p| {
            let offence = p.offence.name();
            view! {
                <section id="prosecution" class="card" data-offence=offence>
                    <h2>{ot(O::Prosecution)}</h2>
                    <p>{p.office} " · " {p.case_number} " · " {move || code_label(OFFENCES, offence, en())}</p>
                </section>
            }
        })}
        {outcome.map(|o| {
            let kind = o.outcome.name();
            let sentence = o.sentence.map(|s| if s.life {
                "∞".to_string()
            } else {
                format!("{} a {} m", s.years, s.months)
            }).unwrap_or_default();
            view! {
                <section id="outcome" class="card" data-outcome=kind>
                    <h2>{ot(O::Outcome)}</h2>
                    <p>{move || code_label(OUTCOMES, kind, en())} " " {sentence}
                        " " {o.reason.unwrap_or_default()}</p>
                </section>
            }
        })}
        <Show when=move || !gaps.is_empty()>
            <section id="gaps" class="card">
                <h2>{ot(O::Gaps)}</h2>
                <ul>
                    {view.gaps.iter().map(|g| view! { <li>{gap_text(g, i18n.lang())}</li> }).collect_view()}
                </ul>
            </section>
        </Show>
    }
}

fn gap_text(gap: &Gap, lang: Lang) -> String {
    let es = lang == Lang::Es;
    match gap {
        Gap::OutcomeWithoutProsecution { .. } => if es {
            "Resultado registrado sin denuncia en fiscalía."
        } else {
            "Outcome recorded without a prosecution."
        }
        .into(),
        Gap::UpdateForUnknownReferral { .. } => if es {
            "Estado de una derivación que no está registrada."
        } else {
            "Update for a referral that is not recorded."
        }
        .into(),
        Gap::SupersedesUnknownEvent { .. } => if es {
            "Corrige un evento que no está aquí."
        } else {
            "Corrects an event that is not here."
        }
        .into(),
        Gap::ReferralForUnknownPerson { person, .. } => {
            if es {
                format!(
                    "Derivación de una persona que la inspección no tiene: {}",
                    person.as_str()
                )
            } else {
                format!(
                    "Referral of a person the inspection does not have: {}",
                    person.as_str()
                )
            }
        }
        Gap::SeveralOutcomes { .. } => if es {
            "Varios resultados registrados: corrija uno."
        } else {
            "Several outcomes recorded: correct one."
        }
        .into(),
    }
}

/// Every event in time order: what, who, when, from which device, and its details.
#[component]
fn Timeline(view: CaseView, raw: Vec<(String, serde_json::Map<String, Value>)>) -> impl IntoView {
    let i18n = use_i18n();
    let en = move || i18n.lang() == Lang::En;
    let entries = view.timeline.clone();
    let empty = entries.is_empty();
    view! {
        <section id="timeline" class="card">
            <h2>{ot(O::Timeline)}</h2>
            <Show when=move || !empty fallback=|| view! { <p class="hint">{ot(O::TimelineEmpty)}</p> }>
                <ol class="timeline">
                    {entries.iter().map(|t| {
                        let body = raw.iter().find(|(id, _)| id == t.id.as_str()).map(|(_, b)| b.clone()).unwrap_or_default();
                        let kind = t.kind.name();
                        let detail = detail(&body);
                        let note = body.get("note").and_then(Value::as_str).unwrap_or_default().to_string();
                        let device = t.device.clone();
                        view! {
                            <li class="timeline-entry" data-kind=kind data-superseded=t.superseded.to_string()
                                data-id=t.id.as_str().to_string()>
                                <strong>{move || code_label(KINDS, kind, en())}</strong>
                                " " <time datetime=t.at.as_str().to_string()>{short(t.at.as_str())}</time>
                                " · " {ot(O::By)} " " <span class="by">{t.by.clone()}</span>
                                {device.map(|d| view! { " · " {ot(O::Device)} " " <span class="device">{d}</span> })}
                                {(!detail.is_empty()).then(|| view! { <div class="detail">{move || detail_text(&detail, en())}</div> })}
                                {(!note.is_empty()).then(|| view! { <div class="note">{note.clone()}</div> })}
                                {t.superseded.then(|| view! { <div class="hint">{ot(O::Superseded)}</div> })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
            </Show>
        </section>
    }
}

/// The coded parts of an event worth a line in the timeline, as `(table, code)` or free text.
fn detail(body: &serde_json::Map<String, Value>) -> Vec<(Option<Codes>, String)> {
    let mut out = Vec::new();
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(people) = body.get("people").and_then(Value::as_array) {
        let codes: Vec<&str> = people.iter().filter_map(Value::as_str).collect();
        out.push((None, codes.join(", ")));
    }
    for (key, table) in [
        ("service", SERVICES),
        ("consent", CONSENTS),
        ("status", REFERRAL_STATUS),
        ("offence", OFFENCES),
        ("outcome", OUTCOMES),
    ] {
        if let Some(code) = text(key) {
            out.push((Some(table), code));
        }
    }
    for key in [
        "service_other",
        "reference",
        "office",
        "case_number",
        "reason",
        "court",
    ] {
        if let Some(t) = text(key) {
            out.push((None, t));
        }
    }
    if let Some(y) = body.get("sentence_years").and_then(Value::as_u64) {
        out.push((None, format!("{y} a")));
    }
    if let Some(m) = body.get("sentence_months").and_then(Value::as_u64) {
        out.push((None, format!("{m} m")));
    }
    if let Some(fine) = body.get("fine_uit") {
        out.push((None, format!("{fine} UIT")));
    }
    out
}

fn detail_text(parts: &[(Option<Codes>, String)], en: bool) -> String {
    parts
        .iter()
        .map(|(table, v)| match table {
            Some(t) => code_label(t, v, en),
            None => v.clone(),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The inspection's photos, fetched from the server one by one; those that show people are
/// sealed (`sealed`: their attachment names), and open only with the region's key (each opening
/// logged).
#[component]
fn Photos(
    inspection: Document,
    db: String,
    sealed: Vec<String>,
    openings_version: RwSignal<u32>,
) -> impl IntoView {
    let session = use_session();
    let names: Vec<String> = inspection.attachments.keys().cloned().collect();
    let empty = names.is_empty();
    let id = inspection.id.as_str().to_string();
    view! {
        <section id="case-photos" class="card">
            <h2>{ot(O::Photos)}</h2>
            <Show when=move || !empty fallback=|| view! { <p class="hint">{ot(O::NoPhotos)}</p> }>
                <div class="thumbs">
                    {names.iter().map(|name| {
                        if sealed.contains(name) {
                            return view! {
                                <SealedPhoto db=db.clone() doc_id=id.clone() name=name.clone()
                                    openings_version=openings_version />
                            }.into_any();
                        }
                        let src = RwSignal::new(None::<Result<String, ()>>);
                        let (db, id, name) = (db.clone(), id.clone(), name.clone());
                        if let Some(token) = session.token() {
                            let name = name.clone();
                            spawn_local(async move {
                                let got = api::photo(&token, &db, &id, &name).await.map_err(|_| ());
                                src.try_set(Some(got));
                            });
                        }
                        view! {
                            {move || match src.get() {
                                Some(Ok(url)) => view! { <img class="thumb case-photo" src=url alt=name.clone() /> }.into_any(),
                                Some(Err(())) => view! { <p class="alert">{ot(O::PhotoFailed)}</p> }.into_any(),
                                None => view! { <p class="hint">{ot(O::Loading)}</p> }.into_any(),
                            }}
                        }.into_any()
                    }).collect_view()}
                </div>
            </Show>
        </section>
    }
}
