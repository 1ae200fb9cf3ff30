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

use crate::components::fields::set_path;
use crate::i18n::{tr, use_i18n, Msg};
use crate::records::use_records;

/// Fields that change on every save and would only add noise.
const IGNORED: &[&str] = &["updated_at"];

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
    let paths: BTreeSet<&String> = flat.iter().flat_map(|f| f.keys()).collect();
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

/// The winner's body with, for each differing path, the value of the chosen version.
pub fn merge(
    winner: &Map<String, Value>,
    diffs: &[(String, Vec<Value>)],
    choice: &BTreeMap<String, usize>,
) -> Map<String, Value> {
    let mut body = winner.clone();
    for (path, values) in diffs {
        let pick = choice.get(path).copied().unwrap_or(0);
        set_path(&mut body, path, values[pick].clone());
    }
    body
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

    let resolve = move |_| {
        let Some(docs) = versions.get_untracked() else {
            return;
        };
        let winner = docs[0].clone();
        let body = merge(
            &winner.body,
            &diffs.get_untracked(),
            &choice.get_untracked(),
        );
        let mut merged = Document::new(winner.id.clone(), body);
        // Photos chosen from a losing version bring their bytes along.
        let wanted: BTreeSet<String> = merged
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
        {move || error.get().map(|e| view! { <p class="alert" role="alert">{e}</p> })}
        {move || versions.get().map(|docs| {
            let n = docs.len();
            view! {
                <div class="table-wrap">
                <table id="conflict-view" class="conflict-table">
                    <thead>
                        <tr>
                            <th scope="col">{tr(Msg::ConflictField)}</th>
                            {(0..n).map(|i| view! {
                                <th scope="col">{move || i18n.f(Msg::ConflictVersion, &[("n", &(i + 1).to_string())])}</th>
                            }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {move || diffs.get().into_iter().map(|(path, values)| {
                            let p = path.clone();
                            view! {
                                <tr class="conflict-row" data-path=path.clone()>
                                    <th scope="row">{path.clone()}</th>
                                    {values.into_iter().enumerate().map(|(i, v)| {
                                        let p = p.clone();
                                        let p2 = p.clone();
                                        let text = show(&v);
                                        let empty = text.is_empty();
                                        view! {
                                            <td>
                                                <label class="chip pick">
                                                    <input type="radio" name=format!("pick-{p}") value=i.to_string()
                                                        prop:checked=move || choice.with(|c| c.get(&p).copied().unwrap_or(0) == i)
                                                        on:change=move |_| choice.update(|c| { c.insert(p2.clone(), i); }) />
                                                    <span>{if empty { i18n.t(Msg::ConflictEmpty).to_string() } else { text }}</span>
                                                </label>
                                            </td>
                                        }
                                    }).collect_view()}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
                <Show when=move || diffs.with(Vec::is_empty)>
                    <p class="hint">{tr(Msg::ConflictSame)}</p>
                </Show>
                <button id="resolve-conflict" class="button primary" on:click=resolve.clone()>
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
        let merged = merge(&a, &diffs, &choice);
        assert_eq!(merged["workers"]["total"], json!(12));
        assert_eq!(
            merged.get("notes"),
            None,
            "unchosen stays the winner's (absent)"
        );
    }
}
