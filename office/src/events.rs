//! The forms that record case events. Each action is a list of fields over the event's JSON
//! body; the shared parser ([`CaseEvent::from_document`]) checks the whole event before it is
//! sent, so a missing note or a sentence out of range is shown at its field, in the same words
//! the server would use, and a refusal from the server (a rule only it can check) is shown with
//! its reason. Nothing is edited: a correction is a new event that `supersedes` an earlier one.

use chaski_client::api::ApiError;
use chaski_client::i18n::{error_text, use_i18n, Lang};
use chaski_client::session::use_session;
use chaski_shared::domain::{new_event_id, CaseEvent, FieldError, Timestamp};
use chaski_shared::{DocId, Document};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Map, Value};

use crate::api;
use crate::i18n::*;

/// How a field is entered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input {
    Text,
    Multiline,
    Number,
    Check,
    Select(&'static [(&'static str, &'static str, &'static str)]),
    /// Several of the inspection's person codes.
    People,
    /// One of the case's referrals.
    Referral,
    /// One of the case's events, which this one corrects.
    Supersedes,
}

/// One field of an action's form.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub key: &'static str,
    pub label: O,
    pub input: Input,
    /// Shown only while another field has one of these values.
    pub when: Option<(&'static str, &'static [&'static str])>,
}

const fn f(key: &'static str, label: O, input: Input) -> Field {
    Field {
        key,
        label,
        input,
        when: None,
    }
}

const fn when(field: Field, key: &'static str, values: &'static [&'static str]) -> Field {
    Field {
        when: Some((key, values)),
        ..field
    }
}

/// An action of the case page: one kind of event.
#[derive(Clone, Copy, Debug)]
pub struct Action {
    pub kind: &'static str,
    pub title: O,
    pub fields: &'static [Field],
    /// Review events name the inspection's revision they looked at.
    pub names_rev: bool,
}

const SUPERSEDES: Field = f("supersedes", O::Supersedes, Input::Supersedes);

pub const ACTIONS: &[Action] = &[
    Action {
        kind: "reviewed",
        title: O::ActReviewed,
        fields: &[f("note", O::Note, Input::Multiline), SUPERSEDES],
        names_rev: true,
    },
    Action {
        kind: "has_issues",
        title: O::ActHasIssues,
        fields: &[f("note", O::Note, Input::Multiline), SUPERSEDES],
        names_rev: true,
    },
    Action {
        kind: "referred",
        title: O::ActReferred,
        fields: &[
            f("people", O::People, Input::People),
            f("service", O::Service, Input::Select(SERVICES)),
            when(
                f("service_other", O::ServiceOther, Input::Text),
                "service",
                &["other"],
            ),
            f("consent", O::Consent, Input::Select(CONSENTS)),
            when(
                f("consent_by", O::ConsentBy, Input::Select(CONSENT_BY)),
                "consent",
                &["given"],
            ),
            f("reference", O::Reference, Input::Text),
            f("note", O::Note, Input::Multiline),
            SUPERSEDES,
        ],
        names_rev: false,
    },
    Action {
        kind: "referral_update",
        title: O::ActReferralUpdate,
        fields: &[
            f("referral", O::Referral, Input::Referral),
            f("status", O::Status, Input::Select(&REFERRAL_UPDATES)),
            when(f("reason", O::Reason, Input::Text), "status", &["declined"]),
            f("note", O::Note, Input::Multiline),
            SUPERSEDES,
        ],
        names_rev: false,
    },
    Action {
        kind: "prosecution_opened",
        title: O::ActProsecution,
        fields: &[
            f("office", O::ProsecutorOffice, Input::Text),
            f("case_number", O::CaseNumber, Input::Text),
            f("offence", O::Offence, Input::Select(OFFENCES)),
            when(
                f("fine_uit", O::FineUit, Input::Number),
                "offence",
                &["labour_infraction"],
            ),
            f("note", O::Note, Input::Multiline),
            SUPERSEDES,
        ],
        names_rev: false,
    },
    Action {
        kind: "outcome",
        title: O::ActOutcome,
        fields: &[
            f("outcome", O::Outcome, Input::Select(OUTCOMES)),
            when(
                f("sentence_years", O::SentenceYears, Input::Number),
                "outcome",
                &["conviction"],
            ),
            when(
                f("sentence_months", O::SentenceMonths, Input::Number),
                "outcome",
                &["conviction"],
            ),
            when(
                f("life_sentence", O::LifeSentence, Input::Check),
                "outcome",
                &["conviction"],
            ),
            when(
                f("fine_uit", O::FineUit, Input::Number),
                "outcome",
                &["conviction"],
            ),
            when(
                f("reason", O::Reason, Input::Text),
                "outcome",
                &["archived", "closed"],
            ),
            f("court", O::Court, Input::Text),
            f("note", O::Note, Input::Multiline),
            SUPERSEDES,
        ],
        names_rev: false,
    },
];

/// A referral's later states (its first, "sent", is the referral itself).
const REFERRAL_UPDATES: [(&str, &str, &str); 3] =
    [REFERRAL_STATUS[1], REFERRAL_STATUS[2], REFERRAL_STATUS[3]];

/// An event offered in a list: `(id, code named from a table, the rest of its name)`.
pub type Named = (String, &'static str, String);

/// What the forms need to know about the case.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseCtx {
    pub db: String,
    pub inspection_id: String,
    pub inspection_rev: Option<String>,
    pub people: Vec<String>,
    /// Each referral: its event id, its service's code and the rest of its name (people, date).
    pub referrals: Vec<Named>,
    /// Every event: its id, its kind's code and the rest of its name (who, when).
    pub events: Vec<Named>,
}

/// The event body an action's values make, with what every event carries.
pub fn event_body(
    action: &Action,
    ctx: &CaseCtx,
    values: &Map<String, Value>,
    by: &str,
    device: &str,
    at: &Timestamp,
) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("type".into(), json!("case_event"));
    body.insert("kind".into(), json!(action.kind));
    body.insert("inspection".into(), json!(ctx.inspection_id));
    body.insert("at".into(), json!(at.as_str()));
    body.insert("by".into(), json!(by));
    if !device.is_empty() {
        body.insert("device".into(), json!(device));
    }
    if action.names_rev {
        if let Some(rev) = &ctx.inspection_rev {
            body.insert("inspection_rev".into(), json!(rev));
        }
    }
    for field in action.fields {
        if !shown(field, values) {
            continue;
        }
        if let Some(value) = values.get(field.key) {
            body.insert(field.key.into(), value.clone());
        }
    }
    body
}

/// Whether `field` applies given the other values.
pub fn shown(field: &Field, values: &Map<String, Value>) -> bool {
    field.when.is_none_or(|(key, allowed)| {
        values
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| allowed.contains(&v))
    })
}

/// A typed number as JSON: whole numbers as integers, else as decimals; anything else stays
/// text, which the shared rules then name as the wrong type.
pub fn number_value(text: &str) -> Option<Value> {
    let text = text.trim().replace(',', ".");
    if text.is_empty() {
        return None;
    }
    Some(if let Ok(n) = text.parse::<u64>() {
        json!(n)
    } else if let Ok(x) = text.parse::<f64>() {
        json!(x)
    } else {
        json!(text)
    })
}

fn random_entropy() -> [u8; 8] {
    let mut entropy = [0u8; 8];
    for byte in &mut entropy {
        *byte = (js_sys::Math::random() * 256.0) as u8;
    }
    entropy
}

/// The form of one action.
#[component]
pub fn EventForm(action: &'static Action, ctx: CaseCtx, on_saved: Callback<()>) -> impl IntoView {
    let session = use_session();
    let i18n = use_i18n();
    let values = RwSignal::new(Map::<String, Value>::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let refused = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let ctx = StoredValue::new(ctx);
    let kind = action.kind;

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(s) = session.get_untracked() else {
            return;
        };
        let now = js_sys::Date::now() as i64;
        let at = Timestamp::from_utc_ms(now);
        let ctx = ctx.get_value();
        let body = event_body(
            action,
            &ctx,
            &values.get_untracked(),
            &s.user.name,
            &s.device,
            &at,
        );
        let Ok(inspection) = DocId::parse(ctx.inspection_id.clone()) else {
            return;
        };
        let id = new_event_id(&inspection, now, random_entropy());
        let doc = Document::new(id.clone(), body);
        refused.set(None);
        if let Err(errs) = CaseEvent::from_document(&doc) {
            errors.set(errs);
            return;
        }
        errors.set(Vec::new());
        busy.set(true);
        spawn_local(async move {
            let json = doc.to_json();
            // `try_`: the case may have been left meanwhile.
            match api::put_doc(&s.token, &ctx.db, id.as_str(), &json).await {
                Ok(()) => {
                    values.try_set(Map::new());
                    on_saved.try_run(());
                }
                Err(ApiError::Server(reason)) => {
                    refused.try_set(Some(reason));
                }
                Err(e) => {
                    refused.try_set(Some(format!("{e:?}")));
                }
            }
            busy.try_set(false);
        });
    };

    let field_view = move |field: &'static Field| {
        let key = field.key;
        let id = format!("ev-{kind}-{key}");
        let messages = move || {
            let lang = i18n.lang();
            errors.with(|errs| {
                errs.iter()
                    .filter(|e| {
                        e.field == key
                            || e.field.starts_with(&format!("{key}["))
                            || e.field.starts_with(&format!("{key}."))
                    })
                    .map(|e| error_text(&e.code, lang))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        };
        let set_text = move |text: String| {
            values.update(|v| {
                if text.trim().is_empty() {
                    v.remove(key);
                } else {
                    v.insert(key.into(), json!(text));
                }
            })
        };
        let text_value = move || {
            values.with(|v| match v.get(key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            })
        };
        let options = move |list: Vec<(String, String)>| {
            view! {
                <option value="">{move || i18n.l(O::Choose)}</option>
                {list.into_iter().map(|(code, name)| {
                    let c = code.clone();
                    view! {
                        <option value=code selected=move || text_value() == c>{name}</option>
                    }
                }).collect_view()}
            }
        };
        let input = match field.input {
            Input::Text => view! {
                <input id=id.clone() type="text" prop:value=text_value
                    on:input=move |ev| set_text(event_target_value(&ev)) />
            }
            .into_any(),
            Input::Multiline => view! {
                <textarea id=id.clone() rows="3" prop:value=text_value
                    on:input=move |ev| set_text(event_target_value(&ev))></textarea>
            }
            .into_any(),
            Input::Number => view! {
                <input id=id.clone() type="text" inputmode="decimal" prop:value=text_value
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        values.update(|v| match number_value(&text) {
                            Some(n) => { v.insert(key.into(), n); }
                            None => { v.remove(key); }
                        });
                    } />
            }
            .into_any(),
            Input::Check => view! {
                <input id=id.clone() type="checkbox"
                    prop:checked=move || values.with(|v| v.get(key) == Some(&json!(true)))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        values.update(|v| { v.insert(key.into(), json!(on)); });
                    } />
            }
            .into_any(),
            Input::Select(table) => {
                let id2 = id.clone();
                view! {
                    <select id=id2 on:change=move |ev| set_text(event_target_value(&ev))>
                        {move || {
                            let en = i18n.lang() == Lang::En;
                            options(table.iter().map(|(c, _, _)| (c.to_string(), code_label(table, c, en))).collect())
                        }}
                    </select>
                }
                .into_any()
            }
            Input::Referral | Input::Supersedes => {
                let from = field.input;
                view! {
                    <select id=id.clone() on:change=move |ev| set_text(event_target_value(&ev))>
                        {move || {
                            let en = i18n.lang() == Lang::En;
                            let (list, table) = ctx.with_value(|c| if from == Input::Referral {
                                (c.referrals.clone(), SERVICES)
                            } else {
                                (c.events.clone(), KINDS)
                            });
                            options(list.into_iter().map(|(id, code, rest)| {
                                (id, format!("{} · {rest}", code_label(table, code, en)))
                            }).collect())
                        }}
                    </select>
                }
                .into_any()
            }
            Input::People => view! {
                <div id=id.clone() class="chips">
                    {ctx.with_value(|c| c.people.clone()).into_iter().map(|code| {
                        let c = code.clone();
                        view! {
                            <label class="chip">
                                <input type="checkbox" value=code.clone() data-person=code.clone()
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let c = c.clone();
                                        values.update(|v| {
                                            let mut list: Vec<Value> = v.get(key)
                                                .and_then(Value::as_array).cloned().unwrap_or_default();
                                            list.retain(|x| x.as_str() != Some(&c));
                                            if on { list.push(json!(c)); }
                                            if list.is_empty() { v.remove(key); } else { v.insert(key.into(), Value::Array(list)); }
                                        });
                                    } />
                                {code}
                            </label>
                        }
                    }).collect_view()}
                </div>
            }
            .into_any(),
        };
        view! {
            <div class="field" data-key=key hidden=move || !values.with(|v| shown(field, v))>
                <label for=id.clone()>{move || i18n.l(field.label)}</label>
                {input}
                <p class="field-error" role="alert">{messages}</p>
            </div>
        }
    };
    // Errors on fields the form does not show (the event's own parts): listed as they are.
    let other_errors = move || {
        let lang = i18n.lang();
        errors.with(|errs| {
            errs.iter()
                .filter(|e| {
                    !action.fields.iter().any(|f| {
                        e.field == f.key
                            || e.field.starts_with(&format!("{}[", f.key))
                            || e.field.starts_with(&format!("{}.", f.key))
                    })
                })
                .map(|e| format!("{}: {}", e.field, error_text(&e.code, lang)))
                .collect::<Vec<_>>()
        })
    };

    view! {
        <form id=format!("form-{kind}") class="card stack event-form" novalidate on:submit=submit>
            <h3>{move || i18n.l(action.title)}</h3>
            {action.fields.iter().map(field_view).collect_view()}
            <Show when=move || !errors.with(Vec::is_empty)>
                <p class="alert" role="alert">{ot(O::FixFields)}</p>
                <ul class="problems">
                    {move || other_errors().into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}
                </ul>
            </Show>
            {move || refused.get().map(|reason| view! {
                <p id=format!("refused-{kind}") class="alert" role="alert">
                    {ot(O::Refused)} " " {reason}
                </p>
            })}
            <button id=format!("save-{kind}") type="submit" class="button primary"
                disabled=move || busy.get()>
                {move || i18n.l(if busy.get() { O::Saving } else { O::Save })}
            </button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: &str) -> &'static Action {
        ACTIONS.iter().find(|a| a.kind == kind).unwrap()
    }

    fn ctx() -> CaseCtx {
        CaseCtx {
            db: "madre-de-dios".into(),
            inspection_id: "inspection:20261130T120000Z-0011223344556677".into(),
            inspection_rev: Some("2-abc".into()),
            people: vec!["P-001".into(), "P-002".into()],
            ..CaseCtx::default()
        }
    }

    fn parse(kind: &str, values: serde_json::Value) -> Result<CaseEvent, Vec<FieldError>> {
        let at = Timestamp::parse("2026-11-30T12:00:00Z").unwrap();
        let ctx = ctx();
        let values = values.as_object().unwrap().clone();
        let body = event_body(action(kind), &ctx, &values, "sara", "oficina-1", &at);
        let id = new_event_id(&DocId::parse(ctx.inspection_id).unwrap(), 1, [7; 8]);
        CaseEvent::from_document(&Document::new(id, body))
    }

    fn fields(errs: Vec<FieldError>) -> Vec<String> {
        errs.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_review_names_the_revision_it_looked_at_and_an_issue_needs_its_note() {
        assert!(parse("reviewed", json!({})).is_ok());
        assert_eq!(
            fields(parse("has_issues", json!({})).unwrap_err()),
            ["note"]
        );
        assert!(parse("has_issues", json!({"note": "Falta el distrito."})).is_ok());
    }

    #[test]
    fn fields_hidden_by_another_choice_are_not_sent() {
        // `consent_by` typed and then consent changed to "refused": it is not part of the event.
        let event = parse(
            "referred",
            json!({"people": ["P-001"], "service": "shelter", "consent": "refused",
                   "consent_by": "self"}),
        );
        assert!(event.is_ok(), "{event:?}");
        assert!(fields(
            parse(
                "referred",
                json!({"people": ["P-001"], "service": "shelter"})
            )
            .unwrap_err()
        )
        .contains(&"consent".to_string()));
    }

    #[test]
    fn a_sentence_out_of_range_is_named_at_its_field() {
        let errs = parse(
            "outcome",
            json!({"outcome": "conviction", "sentence_years": 80}),
        )
        .unwrap_err();
        let fields = fields(errs);
        assert!(
            !fields.is_empty() && fields.iter().all(|f| f == "sentence_years"),
            "{fields:?}"
        );
        assert!(parse(
            "outcome",
            json!({"outcome": "conviction", "sentence_years": 12})
        )
        .is_ok());
    }

    #[test]
    fn numbers_are_typed_as_numbers_and_anything_else_stays_text() {
        assert_eq!(number_value(" 12 "), Some(json!(12)));
        assert_eq!(number_value("2,25"), Some(json!(2.25)));
        assert_eq!(number_value("doce"), Some(json!("doce")));
        assert_eq!(number_value(""), None);
    }
}
