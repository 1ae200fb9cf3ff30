//! `/inspections/:id/conflicts`: the competing versions of an inspection side by side, field
//! by field; the inspector picks a value per field, and the result becomes a new revision on the
//! winning branch while every other branch is closed.
//!
//! Fields are compared flattened (`workers.total`, `indicators.deception`) so a difference deep
//! inside an object is one row, not a whole object to re-read; lists (people, photos, team) are
//! compared whole, because merging two lists item by item could invent a record nobody wrote.

use std::collections::{BTreeMap, BTreeSet};

use chaski_shared::{Document, RevId};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::{Map, Value};

use crate::components::fields::{path_label, set_path};
use crate::i18n::{fill, tr, use_i18n, Msg};
use crate::records::use_records;
use crate::session::use_session;

/// Fields that change on every save and would only add noise (they name the versions instead).
const IGNORED: &[&str] = &["updated_at", "updated_by", "updated_device"];

/// `path → value` for every leaf of `body`, descending into objects but not into arrays.
pub fn flatten(body: &Map<String, Value>) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, map: &Map<String, Value>, out: &mut BTreeMap<String, Value>) {
        for (k, v) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(inner) if !inner.is_empty() => walk(&path, inner, out),
                _ => {
                    out.insert(path, v.clone());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", body, &mut out);
    for k in IGNORED {
        out.remove(*k);
    }
    out
}

/// The paths where the versions disagree, with each version's value (`Null` when absent).
pub fn differences(bodies: &[Map<String, Value>]) -> Vec<(String, Vec<Value>)> {
    let flat: Vec<_> = bodies.iter().map(flatten).collect();
    let mut paths: Vec<&String> = flat.iter().flat_map(|f| f.keys()).collect();
    chaski_shared::sort::sort_dedup(&mut paths);
    paths
        .into_iter()
        .filter_map(|p| {
            let values: Vec<Value> = flat
                .iter()
                .map(|f| f.get(p).cloned().unwrap_or(Value::Null))
                .collect();
            let first = &values[0];
            values
                .iter()
                .any(|v| v != first)
                .then(|| (p.clone(), values))
        })
        .collect()
}

/// Whether a path holds free text, where two inspectors adding different facts is the common
/// case: those rows offer "keep both".
pub fn is_free_text(path: &str, values: &[Value]) -> bool {
    (path.ends_with("notes") || path.ends_with("evidence"))
        && values.iter().all(|v| v.is_string() || v.is_null())
        && values.iter().filter(|v| is_text(v)).count() >= 2
}

fn is_text(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// Every version's text, each marked with the version's name, one paragraph each.
pub fn keep_both(values: &[Value], names: &[String]) -> Value {
    let mut seen = BTreeSet::new();
    let parts: Vec<String> = values
        .iter()
        .zip(names)
        .filter_map(|(v, name)| v.as_str().map(|t| (t.trim(), name)))
        .filter(|(t, _)| !t.is_empty() && seen.insert(*t))
        .map(|(t, name)| format!("[{name}] {t}"))
        .collect();
    Value::String(parts.join("\n\n"))
}

/// The winner's body with, for each differing path, the value of the chosen version (the
/// winner's when none is chosen); a choice equal to the number of versions keeps them all
/// ([`keep_both`], named by `names`).
pub fn merge(
    winner: &Map<String, Value>,
    diffs: &[(String, Vec<Value>)],
    choice: &BTreeMap<String, usize>,
    names: &[String],
) -> Map<String, Value> {
    let mut body = winner.clone();
    for (path, values) in diffs {
        let pick = choice.get(path).copied().unwrap_or(0);
        let value = match values.get(pick) {
            Some(v) => v.clone(),
            None => keep_both(values, names),
        };
        set_path(&mut body, path, value);
    }
    body
}

/// A version's device (the one that made its last edit, else the one that created it).
fn device_of(doc: &Document) -> Option<String> {
    ["updated_device", "device"]
        .iter()
        .find_map(|k| doc.body.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// `dd/mm HH:MM` of a version's last edit, in the device's time zone.
fn edited_at(doc: &Document) -> Option<String> {
    let stored = doc.body.get("updated_at").and_then(Value::as_str)?;
    let ts = chaski_shared::domain::Timestamp::parse(stored)?;
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts.utc_ms() as f64));
    Some(format!(
        "{:02}/{:02} {:02}:{:02}",
        d.get_date(),
        d.get_month() + 1,
        d.get_hours(),
        d.get_minutes()
    ))
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[component]
pub fn Conflicts() -> impl IntoView {
    let params = use_params_map();
    let records = use_records();
    let i18n = use_i18n();
    let navigate = use_navigate();
    let id = move || params.with(|p| p.get("id")).unwrap_or_default();
    // Winner first, then the other leaves.
    let versions: RwSignal<Option<Vec<Document>>> = RwSignal::new(None);
    let choice: RwSignal<BTreeMap<String, usize>> = RwSignal::new(BTreeMap::new());
    let error = RwSignal::new(None::<String>);
    let this_device = use_session().get_untracked().map(|s| s.device);

    Effect::new(move |_| {
        if !records.ready() {
            return;
        }
        let id = id();
        spawn_local(async move {
            let winner = match records.load(&id).await {
                Ok(doc) => doc,
                Err(e) => return error.set(Some(e.to_string())),
            };
            let mut all = vec![winner.clone()];
            for rev in &winner.conflicts {
                match records.load_rev(&id, rev).await {
                    Ok(doc) => all.push(doc),
                    Err(e) => return error.set(Some(e.to_string())),
                }
            }
            versions.set(Some(all));
        });
    });

    let diffs = Memo::new(move |_| {
        versions.with(|v| {
            v.as_ref()
                .map(|docs| differences(&docs.iter().map(|d| d.body.clone()).collect::<Vec<_>>()))
                .unwrap_or_default()
        })
    });

    // Each version by the device and time of its last edit.
    let names = Memo::new(move |_| {
        let lang = i18n.lang();
        versions.with(|v| {
            v.iter()
                .flatten()
                .enumerate()
                .map(|(i, doc)| match (device_of(doc), edited_at(doc)) {
                    (Some(device), Some(at)) => format!("{device} · {at}"),
                    (Some(device), None) => device,
                    _ => fill(
                        Msg::ConflictVersion.text(lang),
                        &[("n", &(i + 1).to_string())],
                    ),
                })
                .collect::<Vec<_>>()
        })
    });
    // This device's version, when exactly one is: preselected, and said so. Otherwise nothing
    // is preselected (guessing would favour whichever branch happens to win).
    let device_here = this_device.clone();
    let mine = Memo::new(move |_| {
        let device = device_here.as_deref()?;
        versions.with(|v| {
            let docs = v.as_ref()?;
            let of_mine: Vec<usize> = (0..docs.len())
                .filter(|&i| device_of(&docs[i]).as_deref() == Some(device))
                .collect();
            match of_mine.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        })
    });
    let pick = move |path: &str| choice.with(|c| c.get(path).copied()).or(mine.get());
    let complete = Memo::new(move |_| diffs.with(|d| d.iter().all(|(p, _)| pick(p).is_some())));

    let resolve = move |_| {
        let Some(docs) = versions.get_untracked() else {
            return;
        };
        let winner = docs[0].clone();
        let diffs = diffs.get_untracked();
        let mut chosen = BTreeMap::new();
        for (path, _) in &diffs {
            match pick(path) {
                Some(i) => chosen.insert(path.clone(), i),
                None => return,
            };
        }
        let body = merge(&winner.body, &diffs, &chosen, &names.get_untracked());
        let mut merged = Document::new(winner.id.clone(), body);
        // Photos chosen from a losing version bring their bytes along.
        let wanted: Vec<String> = merged
            .body
            .get("photos")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get("attachment").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for doc in &docs {
            for (name, att) in &doc.attachments {
                if wanted.contains(name) && !merged.attachments.contains_key(name) {
                    merged.attachments.insert(name.clone(), att.clone());
                }
            }
        }
        let winner_rev = winner
            .rev
            .clone()
            .unwrap_or_else(|| RevId::parse("1-0").unwrap());
        let losers: Vec<RevId> = docs[1..].iter().filter_map(|d| d.rev.clone()).collect();
        let navigate = navigate.clone();
        spawn_local(async move {
            match records.resolve(merged, winner_rev, losers).await {
                Ok(()) => navigate(
                    &format!("/inspections/{}", winner.id.as_str()),
                    Default::default(),
                ),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <h1>{tr(Msg::ConflictTitle)}</h1>
        <p>{tr(Msg::ConflictIntro)}</p>
        {move || versions.with(Option::is_some).then(|| {
            let line = match mine.get() {
                Some(_) => i18n.f(
                    Msg::ConflictMine,
                    &[("device", this_device.as_deref().unwrap_or_default())],
                ),
                None => i18n.t(Msg::ConflictNoneMine).to_string(),
            };
            view! { <p id="conflict-preselected" class="hint">{line}</p> }
        })}
        {move || error.get().map(|e| view! { <p class="alert" role="alert">{e}</p> })}
        {move || versions.get().map(|docs| {
            let n = docs.len();
            let any_free = diffs.with(|d| d.iter().any(|(p, v)| is_free_text(p, v)));
            view! {
                <div class="table-wrap">
                <table id="conflict-view" class="conflict-table">
                    <thead>
                        <tr>
                            <th scope="col">{tr(Msg::ConflictField)}</th>
                            {(0..n).map(|i| view! {
                                <th scope="col" class="conflict-version"
                                    data-mine=move || (mine.get() == Some(i)).to_string()>
                                    {move || names.with(|v| v.get(i).cloned().unwrap_or_default())}
                                    {move || (mine.get() == Some(i)).then(|| view! {
                                        " (" {tr(Msg::ConflictThisDevice)} ")"
                                    })}
                                </th>
                            }).collect_view()}
                            {any_free.then(|| view! { <th scope="col"></th> })}
                        </tr>
                    </thead>
                    <tbody>
                        {move || diffs.get().into_iter().map(|(path, values)| {
                            let free = is_free_text(&path, &values);
                            let label = path.clone();
                            let keep = {
                                let p = path.clone();
                                let p2 = path.clone();
                                view! {
                                    <td>
                                        <label class="chip pick keep-both">
                                            <input type="radio" name=format!("pick-{path}") value=n.to_string()
                                                prop:checked=move || pick(&p) == Some(n)
                                                on:change=move |_| choice.update(|c| { c.insert(p2.clone(), n); }) />
                                            <span>{tr(Msg::ConflictKeepBoth)}</span>
                                        </label>
                                    </td>
                                }
                            };
                            view! {
                                <tr class="conflict-row" data-path=path.clone()>
                                    <th scope="row">{move || path_label(&label, i18n.lang())}</th>
                                    {values.into_iter().enumerate().map(|(i, v)| {
                                        let p = path.clone();
                                        let p2 = path.clone();
                                        let text = show(&v);
                                        let empty = text.is_empty();
                                        view! {
                                            <td>
                                                <label class="chip pick">
                                                    <input type="radio" name=format!("pick-{p}") value=i.to_string()
                                                        prop:checked=move || pick(&p) == Some(i)
                                                        on:change=move |_| choice.update(|c| { c.insert(p2.clone(), i); }) />
                                                    <span>{if empty { i18n.t(Msg::ConflictEmpty).to_string() } else { text }}</span>
                                                </label>
                                            </td>
                                        }
                                    }).collect_view()}
                                    {match (free, any_free) {
                                        (true, _) => Some(keep.into_any()),
                                        (false, true) => Some(view! { <td></td> }.into_any()),
                                        _ => None,
                                    }}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
                <Show when=move || diffs.with(Vec::is_empty)>
                    <p class="hint">{tr(Msg::ConflictSame)}</p>
                </Show>
                <Show when=move || !complete.get()>
                    <p id="conflict-choose-all" class="hint">{tr(Msg::ConflictChooseAll)}</p>
                </Show>
                <button id="resolve-conflict" class="button primary" disabled=move || !complete.get()
                    on:click=resolve.clone()>
                    {tr(Msg::ConflictResolve)}
                </button>
            }
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn differences_are_listed_per_nested_field_and_merged_by_choice() {
        let a =
            m(json!({"site_name": "A", "workers": {"total": 10, "men": 10}, "updated_at": "x"}));
        let b = m(
            json!({"site_name": "A", "workers": {"total": 12, "men": 10}, "notes": "n", "updated_at": "y"}),
        );
        let diffs = differences(&[a.clone(), b]);
        let paths: Vec<&str> = diffs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["notes", "workers.total"]);
        let mut choice = BTreeMap::new();
        choice.insert("workers.total".to_string(), 1);
        let merged = merge(&a, &diffs, &choice, &[]);
        assert_eq!(merged["workers"]["total"], json!(12));
        assert_eq!(
            merged.get("notes"),
            None,
            "unchosen stays the winner's (absent)"
        );
    }

    #[test]
    fn keep_both_joins_the_free_texts_marked_by_version() {
        let a = m(json!({"notes": "Hay menores en el campamento."}));
        let b = m(json!({"notes": "El capataz retiene los DNI."}));
        let diffs = differences(&[a.clone(), b]);
        assert!(is_free_text("notes", &diffs[0].1));
        let names = vec![
            "tableta-a · 30/11 10:00".to_string(),
            "tableta-b · 30/11 10:05".to_string(),
        ];
        let mut choice = BTreeMap::new();
        choice.insert("notes".to_string(), 2);
        let merged = merge(&a, &diffs, &choice, &names);
        assert_eq!(
            merged["notes"],
            json!("[tableta-a · 30/11 10:00] Hay menores en el campamento.\n\n[tableta-b · 30/11 10:05] El capataz retiene los DNI.")
        );
        assert!(
            !is_free_text("district", &diffs[0].1),
            "only free text offers keep both"
        );
    }
}
