//! Form widgets bound to one JSON path of the document being edited, with the validation
//! messages for that path shown right under them.
//!
//! The form edits the document's JSON body directly (not the typed `Inspection`) because a draft
//! is allowed to be incomplete or wrong while it is being typed: the shared parser turns the same
//! body into per-path errors, and the widgets show the ones for their path.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use chaski_shared::domain::{Choice, FieldError, Indicator};
use leptos::prelude::*;
use serde_json::{Map, Value};
use wasm_bindgen::JsCast;

use crate::i18n::{error_text, tr, use_i18n, Label, Lang, Msg};

/// The form's shared state: the body, its errors, whether it may be edited, and the hook that
/// schedules an autosave after each change.
#[derive(Clone, Copy)]
pub struct FormCtx {
    pub body: RwSignal<Map<String, Value>>,
    pub errors: Memo<Vec<FieldError>>,
    pub readonly: Signal<bool>,
    on_change: StoredValue<Rc<dyn Fn()>, LocalStorage>,
    /// Each widget's label by path, so the review can name a field as the inspector sees it.
    labels: StoredValue<HashMap<String, Msg>>,
    /// Each widget's path by element id, to know which field focus has just left.
    paths: StoredValue<HashMap<String, String>>,
    /// The fields the inspector has left: their messages show. A field not reached yet stays
    /// quiet, even when a neighbour's value makes it required.
    touched: RwSignal<HashSet<String>>,
    /// Show every message at once (the review, a submitted record).
    reveal: Signal<bool>,
}

impl FormCtx {
    pub fn new(
        body: RwSignal<Map<String, Value>>,
        errors: Memo<Vec<FieldError>>,
        readonly: Signal<bool>,
        reveal: Signal<bool>,
        on_change: Rc<dyn Fn()>,
    ) -> FormCtx {
        FormCtx {
            body,
            errors,
            readonly,
            on_change: StoredValue::new_local(on_change),
            labels: StoredValue::new(HashMap::new()),
            paths: StoredValue::new(HashMap::new()),
            touched: RwSignal::new(HashSet::new()),
            reveal,
        }
    }

    /// Registers the widget at `path` under `label` and returns its element id.
    pub fn labelled(self, path: &str, label: Msg) -> String {
        self.labels.update_value(|l| {
            l.insert(path.to_owned(), label);
        });
        let id = field_id(path);
        self.paths.update_value(|p| {
            p.insert(id.clone(), path.to_owned());
        });
        id
    }

    /// Focus left `target`: the field it belongs to (the nearest enclosing widget) now shows
    /// its messages.
    pub fn left(self, target: Option<web_sys::EventTarget>) {
        let Some(mut el) = target.and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
            return;
        };
        loop {
            let Some(found) = el.closest("[id^='f-']").ok().flatten() else {
                return;
            };
            if let Some(path) = self.paths.with_value(|p| p.get(&found.id()).cloned()) {
                self.touched.update(|t| {
                    t.insert(path);
                });
                return;
            }
            match found.parent_element() {
                Some(parent) => el = parent,
                None => return,
            }
        }
    }

    /// Whether the messages for `path` show: everything in the review, else once the field (or
    /// one inside it, for a group's own messages) has been left.
    pub fn shows(self, path: &str) -> bool {
        self.reveal.get()
            || self.touched.with(|t| {
                t.iter().any(|p| {
                    p == path
                        || p.strip_prefix(path)
                            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
                })
            })
    }

    /// What to call the field at an error's `path` in `lang`: the label of its widget, or of the
    /// nearest enclosing one, with the row number of a list (`Edad (2)`); the path itself
    /// when nothing on the form shows it.
    pub fn field_name(self, path: &str, lang: Lang) -> String {
        let row = path
            .split_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .and_then(|(i, _)| i.parse::<usize>().ok());
        let mut candidate = path;
        let label = loop {
            if let Some(label) = self.labels.with_value(|l| l.get(candidate).copied()) {
                break Some(label);
            }
            match candidate.rfind(['.', '[']) {
                Some(cut) => candidate = &candidate[..cut],
                None => break None,
            }
        };
        match (label, row) {
            (Some(label), Some(i)) => format!("{} ({})", label.text(lang), i + 1),
            (Some(label), None) => label.text(lang).to_string(),
            (None, _) => {
                static_label(path).map_or_else(|| path.to_string(), |m| m.text(lang).into())
            }
        }
    }

    /// The value at `path` (tracked).
    pub fn get(self, path: &str) -> Value {
        self.body
            .with(|b| get_path(b, path).cloned().unwrap_or(Value::Null))
    }

    /// Sets the value at `path` (`Null` removes it) and schedules the autosave.
    ///
    /// Callbacks that arrive after the form was left (a GPS fix, a photo) find it gone and do
    /// nothing, rather than read its disposed values (a panic).
    pub fn set(self, path: &str, value: Value) {
        self.update(|b| set_path(b, path, value));
    }

    /// Applies `f` to the whole body and schedules the autosave.
    pub fn update(self, f: impl FnOnce(&mut Map<String, Value>)) {
        if self.readonly.try_get_untracked().unwrap_or(true) {
            return;
        }
        let Some(on_change) = self.on_change.try_get_value() else {
            return;
        };
        if self.body.try_update(f).is_some() {
            on_change();
        }
    }

    /// Length of the array at `path` (tracked).
    pub fn len(self, path: &str) -> usize {
        self.body.with(|b| {
            get_path(b, path)
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
    }
}

pub fn use_form() -> FormCtx {
    expect_context::<FormCtx>()
}

/// One step of a path: a key, or a key and an index (`people[2]`).
fn steps(path: &str) -> Vec<(&str, Option<usize>)> {
    path.split('.')
        .map(|part| match part.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse().ok()),
            None => (part, None),
        })
        .collect()
}

/// The value at a dotted path with indices (`people[2].consent.status`).
pub fn get_path<'a>(body: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut map = body;
    let steps = steps(path);
    for (n, (key, index)) in steps.iter().enumerate() {
        let mut value = map.get(*key)?;
        if let Some(i) = index {
            value = value.as_array()?.get(*i)?;
        }
        if n + 1 == steps.len() {
            return Some(value);
        }
        map = value.as_object()?;
    }
    None
}

/// Sets the value at `path`, creating objects on the way; `Null` removes the key so an emptied
/// field is absent rather than blank (the validator treats both alike, the wire prefers less).
pub fn set_path(body: &mut Map<String, Value>, path: &str, value: Value) {
    let steps = steps(path);
    let mut map = body;
    for (n, (key, index)) in steps.iter().enumerate() {
        let last = n + 1 == steps.len();
        match index {
            None if last => {
                if value.is_null() {
                    map.remove(*key);
                } else {
                    map.insert((*key).to_string(), value);
                }
                return;
            }
            None => {
                let entry = map
                    .entry((*key).to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                map = entry.as_object_mut().expect("just made an object");
            }
            Some(i) => {
                let Some(item) = map
                    .get_mut(*key)
                    .and_then(Value::as_array_mut)
                    .and_then(|a| a.get_mut(*i))
                else {
                    return;
                };
                if last {
                    *item = value;
                    return;
                }
                if !item.is_object() {
                    *item = Value::Object(Map::new());
                }
                map = item.as_object_mut().expect("just made an object");
            }
        }
    }
}

/// The label of the form's widget at `path`, for pages that show a record's fields without the
/// form (the conflict page): the same words the form and the review use. Indicator paths give
/// the detail's label; [`path_label`] adds the indicator's name.
pub fn static_label(path: &str) -> Option<Msg> {
    if let Some(rest) = path.strip_prefix("indicators.") {
        return match rest.rsplit('.').next() {
            Some("seen") => Some(Msg::FSeen),
            Some("stages") => Some(Msg::FStages),
            Some("evidence") => Some(Msg::FEvidence),
            _ => Some(Msg::SecIndicators),
        };
    }
    Some(match path {
        "site_name" => Msg::FSiteName,
        "sector" => Msg::FSector,
        "sector_other" => Msg::FSectorOther,
        "region" => Msg::FRegion,
        "district" => Msg::FDistrict,
        "locality" => Msg::FLocality,
        "gps" | "gps.accuracy_m" | "location_source" => Msg::FGps,
        "gps.lat" => Msg::FLat,
        "gps.lon" => Msg::FLon,
        "access.modes" => Msg::FAccess,
        "access.notes" => Msg::FAccessNotes,
        "visit_start" => Msg::FVisitStart,
        "visit_end" => Msg::FVisitEnd,
        "team" => Msg::FTeam,
        "accompanied_by" => Msg::FAccompanied,
        "accompanied_notes" => Msg::FAccompaniedNotes,
        "workers.total" => Msg::FTotal,
        "workers.women" => Msg::FWomen,
        "workers.men" => Msg::FMen,
        "workers.other_or_unknown" => Msg::FOtherSex,
        "workers.minors_under_18" => Msg::FUnder18,
        "workers.minors_under_14" => Msg::FUnder14,
        "workers.indigenous" => Msg::FIndigenous,
        "workers.foreign" => Msg::FForeign,
        "workers.nationalities" => Msg::FNationalities,
        "findings" => Msg::FFindings,
        "people" => Msg::SecPeople,
        "photos" => Msg::SecPhotos,
        "notes" => Msg::FNotes,
        _ => return None,
    })
}

/// The indicator a path belongs to (`indicators.debt_bondage.stages`), if any.
pub fn indicator_of(path: &str) -> Option<Indicator> {
    let name = path.strip_prefix("indicators.")?.split('.').next()?;
    Indicator::ALL.iter().copied().find(|i| i.name() == name)
}

/// A field's name for a person in `lang`: its label, after its indicator's name when it has one
/// ("Servidumbre por deudas — Cuándo"), or the path itself when nothing on the form shows it.
pub fn path_label(path: &str, lang: Lang) -> String {
    let label = static_label(path).map_or_else(|| path.to_string(), |m| m.text(lang).to_string());
    match indicator_of(path) {
        Some(indicator) if !path.ends_with(indicator.name()) => {
            format!("{} — {label}", indicator.label(lang))
        }
        Some(indicator) => indicator.label(lang).to_string(),
        None => label,
    }
}

/// A stable DOM id for a path: `site_name` → `f-site-name`, `people[0].sex` → `f-people-0-sex`.
pub fn field_id(path: &str) -> String {
    let mut id = String::from("f");
    for part in path.split(['.', '[', ']', '_']) {
        if !part.is_empty() {
            id.push('-');
            id.push_str(part);
        }
    }
    id
}

/// The messages for `path`, in the user's language.
#[component]
pub fn Errors(#[prop(into)] path: String) -> impl IntoView {
    let form = use_form();
    let i18n = use_i18n();
    let id = format!("{}-error", field_id(&path));
    let messages = Memo::new(move |_| {
        let lang = i18n.lang();
        if !form.shows(&path) {
            return Vec::new();
        }
        form.errors.with(|errors| {
            errors
                .iter()
                .filter(|e| e.field == path)
                .map(|e| error_text(&e.code, lang))
                .collect::<Vec<_>>()
        })
    });
    view! {
        <Show when=move || messages.with(|m| !m.is_empty())>
            <p class="field-error" id=id.clone() role="alert">{move || messages.get().join(" ")}</p>
        </Show>
    }
}

/// A text input or textarea.
#[component]
pub fn TextField(
    #[prop(into)] path: String,
    label: Msg,
    #[prop(optional)] multiline: bool,
    /// What the field belongs to, named in its label (the indicator of an evidence box): the
    /// same label repeated eleven times tells a screen reader user nothing.
    #[prop(optional, into)]
    about: Option<Signal<String>>,
) -> impl IntoView {
    let form = use_form();
    let id = form.labelled(&path, label);
    let p = path.clone();
    let value = move || form.get(&p).as_str().unwrap_or_default().to_string();
    let p = path.clone();
    let on_input = move |ev| {
        let text = event_target_value(&ev);
        form.set(
            &p,
            if text.trim().is_empty() {
                Value::Null
            } else {
                Value::String(text)
            },
        );
    };
    let input = if multiline {
        view! { <textarea id=id.clone() rows="4" prop:value=value on:input=on_input></textarea> }
            .into_any()
    } else {
        view! { <input id=id.clone() type="text" prop:value=value on:input=on_input /> }.into_any()
    };
    let about = about.map(|about| view! { " — " {about} });
    view! {
        <div class="field">
            <label for=id>{tr(label)} {about}</label>
            {input}
            <Errors path=path />
        </div>
    }
}

/// A whole number, 0 or more. Anything else typed is kept as text so the validator can say so
/// instead of the app silently dropping it.
#[component]
pub fn CountField(#[prop(into)] path: String, label: Msg) -> impl IntoView {
    let form = use_form();
    let id = form.labelled(&path, label);
    let p = path.clone();
    let value = move || match form.get(&p) {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s,
        _ => String::new(),
    };
    let p = path.clone();
    let on_input = move |ev| {
        let text = event_target_value(&ev);
        let text = text.trim();
        form.set(
            &p,
            if text.is_empty() {
                Value::Null
            } else if let Ok(n) = text.parse::<u64>() {
                Value::from(n)
            } else {
                Value::String(text.to_string())
            },
        );
    };
    view! {
        <div class="field count">
            <label for=id.clone()>{tr(label)}</label>
            <input id=id type="number" inputmode="numeric" min="0" step="1"
                prop:value=value on:input=on_input />
            <Errors path=path />
        </div>
    }
}

/// One option of a closed list: its JSON name and its labels. Widgets take these rather than
/// being generic over the domain enum, so each widget is compiled once, not once per enum
/// (a dozen copies of a view tree cost real bytes on a 3G link).
#[derive(Clone, Copy)]
pub struct Opt {
    name: &'static str,
    labels: (&'static str, &'static str),
}

impl Opt {
    fn label(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Es => self.labels.0,
            Lang::En => self.labels.1,
        }
    }
}

/// The options of a domain enum, in declaration order.
pub fn opts<T: Choice + Label>(all: &'static [T]) -> Vec<Opt> {
    all.iter()
        .map(|v| Opt {
            name: v.name(),
            labels: v.pair(),
        })
        .collect()
}

/// A choice from a closed list, as a `<select>`; `locked` shows the value without letting it
/// change (a record's region is its database's).
#[component]
pub fn SelectField(
    #[prop(into)] path: String,
    label: Msg,
    options: Vec<Opt>,
    #[prop(optional)] locked: bool,
) -> impl IntoView {
    let form = use_form();
    let i18n = use_i18n();
    let id = form.labelled(&path, label);
    let p = path.clone();
    let current = move || form.get(&p).as_str().unwrap_or_default().to_string();
    let p = path.clone();
    let on_change = move |ev| {
        let v = event_target_value(&ev);
        form.set(
            &p,
            if v.is_empty() {
                Value::Null
            } else {
                Value::String(v)
            },
        );
    };
    view! {
        <div class="field">
            <label for=id.clone()>{tr(label)}</label>
            <select id=id prop:value=current.clone() on:change=on_change disabled=locked>
                <option value="">{tr(Msg::Choose)}</option>
                {options.into_iter().map(|o| {
                    let name = o.name;
                    let current = current.clone();
                    view! {
                        <option value=name selected=move || current() == name>
                            {move || o.label(i18n.lang())}
                        </option>
                    }
                }).collect_view()}
            </select>
            <Errors path=path />
        </div>
    }
}

/// Several choices from a closed list (an array of names), as large toggle chips.
#[component]
pub fn MultiField(#[prop(into)] path: String, label: Msg, options: Vec<Opt>) -> impl IntoView {
    let form = use_form();
    let i18n = use_i18n();
    let id = form.labelled(&path, label);
    view! {
        <fieldset class="field chips" id=id>
            <legend>{tr(label)}</legend>
            {options.into_iter().map(|o| {
                let name = o.name;
                let p = path.clone();
                let checked = move || {
                    form.get(&p).as_array().is_some_and(|a| a.iter().any(|v| v == name))
                };
                let p = path.clone();
                let toggle = move |_| {
                    let mut list: Vec<Value> =
                        form.get(&p).as_array().cloned().unwrap_or_default();
                    if let Some(pos) = list.iter().position(|v| v == name) {
                        list.remove(pos);
                    } else {
                        list.push(Value::String(name.to_string()));
                    }
                    form.set(&p, if list.is_empty() { Value::Null } else { Value::Array(list) });
                };
                view! {
                    <label class="chip" data-value=name>
                        <input type="checkbox" value=name prop:checked=checked on:change=toggle />
                        <span>{move || o.label(i18n.lang())}</span>
                    </label>
                }
            }).collect_view()}
            <Errors path=path.clone() />
        </fieldset>
    }
}

/// A yes/no checkbox stored as a boolean (`false` is written, not omitted, where it matters).
#[component]
pub fn CheckField(#[prop(into)] path: String, label: Msg) -> impl IntoView {
    let form = use_form();
    let id = form.labelled(&path, label);
    let p = path.clone();
    let checked = move || form.get(&p).as_bool().unwrap_or(false);
    let p = path.clone();
    let for_id = id.clone();
    view! {
        <div class="field check">
            <label class="chip" for=for_id>
                <input id=id type="checkbox" prop:checked=checked
                    on:change=move |ev| form.set(&p, Value::Bool(event_target_checked(&ev))) />
                <span>{tr(label)}</span>
            </label>
            <Errors path=path />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn paths_read_and_write_nested_objects_and_arrays() {
        let mut b = map(json!({"people": [{"code": "P-001"}]}));
        set_path(&mut b, "workers.total", json!(12));
        set_path(&mut b, "people[0].consent.status", json!("given"));
        assert_eq!(get_path(&b, "workers.total"), Some(&json!(12)));
        assert_eq!(
            get_path(&b, "people[0].consent.status"),
            Some(&json!("given"))
        );
        set_path(&mut b, "workers.total", Value::Null);
        assert_eq!(get_path(&b, "workers.total"), None);
        // An index past the end is ignored rather than growing the list.
        set_path(&mut b, "people[3].sex", json!("male"));
        assert_eq!(b["people"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_path_reads_as_the_forms_label_with_its_indicator() {
        assert_eq!(path_label("district", Lang::Es), "Distrito");
        assert_eq!(
            path_label("indicators.debt_bondage.evidence", Lang::En),
            "Debt bondage — Evidence (what was seen or heard)"
        );
        assert_eq!(path_label("indicators.deception", Lang::Es), "Engaño");
        assert_eq!(path_label("created_by", Lang::Es), "created_by");
    }

    #[test]
    fn field_ids_are_stable_and_readable() {
        assert_eq!(field_id("site_name"), "f-site-name");
        assert_eq!(field_id("people[0].age_band"), "f-people-0-age-band");
        assert_eq!(
            field_id("workers.minors_under_14"),
            "f-workers-minors-under-14"
        );
    }
}
