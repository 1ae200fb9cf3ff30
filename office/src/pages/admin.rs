//! `/office/admin`, administrators only: users (add with role and regions, change role and
//! regions, disable and enable, reset the password), the devices signed in (revoke a lost
//! tablet), the regional databases (create), the relays' status and the audit log, all through
//! `/api/admin/...` and `/api/relay` while the server runs.
//!
//! A refusal shows the server's reason beside the field it is about. After any change every
//! list is read again, so the page shows what the server now holds (and the log names it).

use chaski_client::api::ApiError;
use chaski_client::i18n::{use_i18n, Label, Lang};
use chaski_client::session::{use_session, Session};
use chaski_shared::domain::{Choice, Region};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};

use crate::api::{self, encode, AdminToken, AdminUser, LogEntry, RelayStatus};
use crate::charts::region_label;
use crate::i18n::*;
use crate::keys::{self, RegionKey};
use crate::pages::{error_text, short};

/// Lines of the audit log shown.
const LOG_LIMIT: usize = 100;

/// Which field of a user's form a server's refusal is about, from its reason's words (the
/// server names what it refuses: "The password is too short…", "The user name … is not
/// allowed", "\"x\" is not a region…", "… role …").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserField {
    Name,
    Password,
    Role,
    Regions,
}

pub fn field_of(reason: &str, fallback: UserField) -> UserField {
    let r = reason.to_lowercase();
    if r.contains("password") {
        UserField::Password
    } else if r.contains("region") {
        UserField::Regions
    } else if r.contains("role") || r.contains("admin") {
        UserField::Role
    } else if r.contains("name") || r.contains("user") {
        UserField::Name
    } else {
        fallback
    }
}

/// A list read from the server (as JSON), again whenever `version` moves.
fn loaded(
    version: RwSignal<u32>,
    url: impl Fn() -> String + 'static,
) -> RwSignal<Option<Result<Value, ApiError>>> {
    loaded_by(version, move |token| {
        let url = url();
        Some(async move { api::get_value(&token, &url).await })
    })
}

/// What `read(token)` reads, again whenever `version` (or a signal `read` reads before its
/// future) moves; `read` gives `None` when there is nothing to read yet.
fn loaded_by<T, F>(
    version: RwSignal<u32>,
    read: impl Fn(String) -> Option<F> + 'static,
) -> RwSignal<Option<Result<T, ApiError>>>
where
    T: Send + Sync + 'static,
    F: std::future::Future<Output = Result<T, ApiError>> + 'static,
{
    let session = use_session();
    let out = RwSignal::new(None);
    Effect::new(move |_| {
        version.track();
        let Some(token) = session.token() else {
            return;
        };
        let Some(answer) = read(token) else {
            return;
        };
        spawn_local(async move {
            out.try_set(Some(answer.await));
        });
    });
    out
}

/// Shows a list once loaded, or its error in words. `draw` is boxed so that this function is
/// compiled once per type of list (the JSON ones and the keys), not once per list.
fn list_view<T: Clone + Send + Sync + 'static>(
    list: RwSignal<Option<Result<T, ApiError>>>,
    id: &'static str,
    draw: impl Fn(T) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    list_view_boxed(list, id, std::sync::Arc::new(draw))
}

type Draw<T> = std::sync::Arc<dyn Fn(T) -> AnyView + Send + Sync>;

fn list_view_boxed<T: Clone + Send + Sync + 'static>(
    list: RwSignal<Option<Result<T, ApiError>>>,
    id: &'static str,
    draw: Draw<T>,
) -> impl IntoView {
    let i18n = use_i18n();
    move || match list.get() {
        None => view! { <p class="hint">{ot(O::Loading)}</p> }.into_any(),
        Some(Err(e)) => view! {
            <p id=format!("{id}-error") class="alert" role="alert">
                {ot(O::LoadFailed)} " " {error_text(&e, i18n.lang())}
            </p>
        }
        .into_any(),
        Some(Ok(value)) => draw(value),
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let session = use_session();
    let is_admin = move || session.get().is_some_and(|s| s.user.role == "admin");
    view! {
        <h1>{ot(O::AdminTitle)}</h1>
        {move || if is_admin() {
            view! { <Admin /> }.into_any()
        } else {
            view! { <p id="admin-only" class="alert" role="alert">{ot(O::AdminOnly)}</p> }.into_any()
        }}
    }
}

#[component]
fn Admin() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let users = loaded(version, || "/api/admin/users".to_string());
    // One request for the databases, read by their table and by the key's region list.
    let dbs = loaded(version, || "/api/admin/databases".to_string());
    view! {
        <div id="admin" class="admin">
            <Users users=users version=version />
            <AddUser version=version />
            <Devices users=users version=version />
            <Databases dbs=dbs version=version />
            <Relays version=version />
            <RegionKeys dbs=dbs version=version />
            <WitnessFlags version=version />
            <AuditLog version=version />
        </div>
    }
}

fn role_label(role: &str, lang: Lang) -> String {
    code_label(ROLES, role, lang == Lang::En)
}

fn regions_text(regions: &[String], lang: Lang) -> String {
    if regions.is_empty() {
        return O::NoRegions.label(lang).to_string();
    }
    regions
        .iter()
        .map(|r| region_label(r, lang))
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn Users(
    users: RwSignal<Option<Result<Value, ApiError>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let editing = RwSignal::new(None::<String>);
    // Outside the editor, which is drawn again when the list is read again after a change.
    let done = RwSignal::new(None::<O>);
    let table = list_view(users, "users", move |users: Value| {
        let users = AdminUser::list(&users);
        let lang = i18n.lang();
        view! {
            <table id="users-table" class="inbox-table">
                <thead><tr>
                    <th>{ot(O::ColUser)}</th><th>{ot(O::Role)}</th><th>{ot(O::Regions)}</th>
                    <th>{ot(O::ColStatus)}</th><th></th>
                </tr></thead>
                <tbody>
                    {users.into_iter().map(|u| {
                        let name = u.name.clone();
                        view! {
                            <tr class="user-row" data-user=u.name.clone() data-role=u.role.clone()
                                data-disabled=u.disabled.to_string()>
                                <td>{u.name.clone()}</td>
                                <td>{role_label(&u.role, lang)}</td>
                                <td class="user-regions">{regions_text(&u.regions, lang)}</td>
                                <td>{if u.disabled { O::Disabled.label(lang) } else { O::Active.label(lang) }}</td>
                                <td><button type="button" class="button small secondary"
                                    id=format!("edit-{}", u.name)
                                    on:click=move |_| {
                                        done.set(None);
                                        editing.set(Some(name.clone()));
                                    }>
                                    {ot(O::Edit)}
                                </button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    });
    let editor = move || {
        let name = editing.get()?;
        let user = users.with(|u| {
            u.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|list| AdminUser::list(list).into_iter().find(|u| u.name == name))
        })?;
        Some(view! { <UserEditor user=user version=version editing=editing done=done /> })
    };
    view! {
        <section id="admin-users" class="admin-section">
            <h2>{ot(O::Users)}</h2>
            {table}
            {editor}
        </section>
    }
}

/// Checkboxes of the 25 departments: `#<id> input[value=<db>]`.
#[component]
fn RegionPicker(id: &'static str, chosen: RwSignal<Vec<String>>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <fieldset id=id class="chips region-picker">
            <legend>{ot(O::Regions)}</legend>
            {Region::ALL.iter().map(|r| {
                let code = r.name();
                view! {
                    <label class="chip">
                        <input type="checkbox" value=code
                            prop:checked=move || chosen.with(|c| c.iter().any(|x| x == code))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|x| x != code);
                                    if on { c.push(code.to_string()); }
                                });
                            } />
                        {move || i18n.l(*r)}
                    </label>
                }
            }).collect_view()}
        </fieldset>
    }
}

/// A field's error line, empty when there is none.
fn field_error(id: String, error: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <p class="field-error" id=id role="alert" hidden=move || error.with(Option::is_none)>
            {move || error.get()}
        </p>
    }
}

/// Sends a change; on refusal puts the reason at its field.
fn send(
    session: Session,
    method: &'static str,
    url: String,
    body: Value,
    on_ok: impl FnOnce() + 'static,
    on_err: impl FnOnce(ApiError) + 'static,
) {
    let Some(token) = session.token() else {
        return;
    };
    spawn_local(async move {
        match api::send_json(&token, method, &url, &body).await {
            Ok(()) => on_ok(),
            Err(e) => on_err(e),
        }
    });
}

#[component]
fn UserEditor(
    user: AdminUser,
    version: RwSignal<u32>,
    editing: RwSignal<Option<String>>,
    done: RwSignal<Option<O>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let name = user.name.clone();
    let role = RwSignal::new(user.role.clone());
    let regions = RwSignal::new(user.regions.clone());
    let password = RwSignal::new(String::new());
    let errors: [RwSignal<Option<String>>; 4] = std::array::from_fn(|_| RwSignal::new(None));
    let [role_err, regions_err, password_err, state_err] = errors;
    let clear = move || {
        errors.iter().for_each(|e| e.set(None));
        done.set(None);
    };
    let url = format!("/api/admin/users/{}", encode(&name));
    let put_error = move |e: ApiError, fallback: UserField| {
        let text = error_text(&e, i18n.lang());
        let at = match e {
            ApiError::Server(ref reason) => field_of(reason, fallback),
            _ => fallback,
        };
        match at {
            UserField::Regions => regions_err.try_set(Some(text)),
            UserField::Password => password_err.try_set(Some(text)),
            _ if fallback == UserField::Name => state_err.try_set(Some(text)),
            _ => role_err.try_set(Some(text)),
        };
    };
    let save = {
        let url = url.clone();
        move |_| {
            clear();
            let body = json!({ "role": role.get_untracked(), "regions": regions.get_untracked() });
            send(
                session,
                "PATCH",
                url.clone(),
                body,
                move || {
                    done.try_set(Some(O::Saved));
                    version.try_update(|v| *v += 1);
                },
                move |e| put_error(e, UserField::Role),
            );
        }
    };
    let disabled = user.disabled;
    let toggle = {
        let url = url.clone();
        move |_| {
            clear();
            send(
                session,
                "PATCH",
                url.clone(),
                json!({ "disabled": !disabled }),
                move || {
                    version.try_update(|v| *v += 1);
                },
                move |e| put_error(e, UserField::Name),
            );
        }
    };
    let reset = {
        let url = format!("{url}/password");
        move |_| {
            clear();
            let p = password.get_untracked();
            if p.chars().count() < 10 {
                password_err.set(Some(O::PasswordShort.label(i18n.lang()).to_string()));
                return;
            }
            send(
                session,
                "POST",
                url.clone(),
                json!({ "password": p }),
                move || {
                    password.try_set(String::new());
                    done.try_set(Some(O::PasswordChanged));
                    version.try_update(|v| *v += 1);
                },
                move |e| put_error(e, UserField::Password),
            );
        }
    };
    let title = name.clone();
    view! {
        <div id="user-editor" class="card user-editor" data-user=name.clone()>
            <h3>{move || i18n.l(O::EditingUser).replace("{name}", &title)}</h3>
            <div class="office-filters">
                <div class="field" data-key="role">
                    <label for="edit-role">{ot(O::Role)}</label>
                    <select id="edit-role" aria-describedby="edit-role-error"
                        on:change=move |ev| role.set(event_target_value(&ev))>
                        {ROLES.iter().map(|(code, _, _)| view! {
                            <option value=*code selected=role.get_untracked() == *code>
                                {move || role_label(code, i18n.lang())}
                            </option>
                        }).collect_view()}
                    </select>
                    {field_error("edit-role-error".into(), role_err)}
                </div>
            </div>
            <div class="field" data-key="regions">
                <RegionPicker id="edit-regions" chosen=regions />
                {field_error("edit-regions-error".into(), regions_err)}
            </div>
            <div class="actions wrap">
                <button type="button" id="edit-save" class="button primary" on:click=save>
                    {ot(O::SaveRoleRegions)}
                </button>
                <button type="button" id="edit-disable" class="button secondary" on:click=toggle>
                    {ot(if disabled { O::Enable } else { O::Disable })}
                </button>
                <button type="button" id="edit-close" class="button secondary"
                    on:click=move |_| editing.set(None)>{ot(O::Close)}</button>
            </div>
            {field_error("edit-state-error".into(), state_err)}
            <div class="field" data-key="password">
                <label for="edit-password">{ot(O::NewPassword)}</label>
                <input id="edit-password" type="password" autocomplete="new-password"
                    aria-describedby="edit-password-error"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev)) />
                <button type="button" id="edit-password-save" class="button secondary" on:click=reset>
                    {ot(O::ResetPassword)}
                </button>
                {field_error("edit-password-error".into(), password_err)}
            </div>
            {move || done.get().map(|m| view! { <p id="edit-done" class="ok" role="status">{ot(m)}</p> })}
        </div>
    }
}

#[component]
fn AddUser(version: RwSignal<u32>) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("inspector".to_string());
    let regions = RwSignal::new(Vec::<String>::new());
    let errors: [RwSignal<Option<String>>; 4] = std::array::from_fn(|_| RwSignal::new(None));
    let [name_err, password_err, role_err, regions_err] = errors;
    let created = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.iter().for_each(|e| e.set(None));
        created.set(None);
        let lang = i18n.lang();
        let (n, p) = (
            name.get_untracked().trim().to_string(),
            password.get_untracked(),
        );
        let mut bad = false;
        if n.is_empty() {
            name_err.set(Some(O::Required.label(lang).into()));
            bad = true;
        }
        if p.chars().count() < 10 {
            password_err.set(Some(O::PasswordShort.label(lang).into()));
            bad = true;
        }
        if bad {
            return;
        }
        let body = json!({
            "name": n, "password": p, "role": role.get_untracked(), "regions": regions.get_untracked(),
        });
        busy.set(true);
        send(
            session,
            "POST",
            "/api/admin/users".into(),
            body,
            move || {
                busy.try_set(false);
                created.try_set(Some(n));
                name.try_set(String::new());
                password.try_set(String::new());
                regions.try_set(Vec::new());
                version.try_update(|v| *v += 1);
            },
            move |e| {
                busy.try_set(false);
                let text = error_text(&e, lang);
                let at = match e {
                    ApiError::Server(ref reason) => field_of(reason, UserField::Name),
                    _ => UserField::Name,
                };
                match at {
                    UserField::Name => name_err.try_set(Some(text)),
                    UserField::Password => password_err.try_set(Some(text)),
                    UserField::Role => role_err.try_set(Some(text)),
                    UserField::Regions => regions_err.try_set(Some(text)),
                };
            },
        );
    };
    view! {
        <section id="admin-add-user" class="admin-section">
            <h2>{ot(O::AddUser)}</h2>
            <form id="add-user" class="card" on:submit=submit novalidate=true>
                <div class="office-filters">
                    <div class="field" data-key="name">
                        <label for="new-name">{ot(O::UserName)}</label>
                        <input id="new-name" type="text" autocomplete="off" autocapitalize="none"
                            spellcheck="false" aria-describedby="new-name-hint new-name-error"
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev)) />
                        <span id="new-name-hint" class="hint">{ot(O::UserNameHint)}</span>
                        {field_error("new-name-error".into(), name_err)}
                    </div>
                    <div class="field" data-key="password">
                        <label for="new-password">{ot(O::Password)}</label>
                        <input id="new-password" type="password" autocomplete="new-password"
                            aria-describedby="new-password-hint new-password-error"
                            prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev)) />
                        <span id="new-password-hint" class="hint">{ot(O::PasswordHint)}</span>
                        {field_error("new-password-error".into(), password_err)}
                    </div>
                    <div class="field" data-key="role">
                        <label for="new-role">{ot(O::Role)}</label>
                        <select id="new-role" aria-describedby="new-role-error"
                            on:change=move |ev| role.set(event_target_value(&ev))>
                            {ROLES.iter().map(|(code, _, _)| view! {
                                <option value=*code selected=move || role.get() == *code>
                                    {move || role_label(code, i18n.lang())}
                                </option>
                            }).collect_view()}
                        </select>
                        {field_error("new-role-error".into(), role_err)}
                    </div>
                </div>
                <div class="field" data-key="regions">
                    <RegionPicker id="new-regions" chosen=regions />
                    {field_error("new-regions-error".into(), regions_err)}
                </div>
                <button type="submit" id="add-user-submit" class="button primary" disabled=busy>
                    {ot(O::AddUser)}
                </button>
                {move || created.get().map(|n| view! {
                    <p id="add-user-done" class="ok" role="status">
                        {move || i18n.l(O::UserCreated).replace("{name}", &n)}
                    </p>
                })}
            </form>
        </section>
    }
}

#[component]
fn Devices(
    users: RwSignal<Option<Result<Value, ApiError>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let user = RwSignal::new(String::new());
    let tokens = loaded(version, move || {
        let u = user.get();
        if u.is_empty() {
            "/api/admin/tokens".to_string()
        } else {
            format!("/api/admin/tokens?user={}", encode(&u))
        }
    });
    let confirming = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let revoke = move |id: String| {
        error.set(None);
        let url = format!("/api/admin/tokens/{}/revoke", encode(&id));
        send(
            session,
            "POST",
            url,
            json!({}),
            move || {
                confirming.try_set(None);
                version.try_update(|v| *v += 1);
            },
            move |e| {
                error.try_set(Some(error_text(&e, i18n.lang())));
            },
        );
    };
    let names = move || {
        users.with(|u| {
            u.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|l| {
                    AdminUser::list(l)
                        .into_iter()
                        .map(|u| u.name)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let table = list_view(tokens, "devices", move |tokens: Value| {
        let tokens = AdminToken::list(&tokens);
        if tokens.is_empty() {
            return view! { <p id="devices-empty" class="hint">{ot(O::NoDevices)}</p> }.into_any();
        }
        view! {
            <table id="devices-table" class="inbox-table">
                <thead><tr>
                    <th>{ot(O::ColUser)}</th><th>{ot(O::ColDevice)}</th><th>{ot(O::ColSince)}</th>
                    <th>{ot(O::ColExpires)}</th><th>{ot(O::ColStatus)}</th><th></th>
                </tr></thead>
                <tbody>
                    {tokens.into_iter().map(|t| {
                        let id = t.id.clone();
                        let id2 = t.id.clone();
                        let id3 = t.id.clone();
                        let asking = move || confirming.get().as_deref() == Some(id.as_str());
                        view! {
                            <tr class="device-row" data-token=t.id.clone() data-user=t.user.clone()
                                data-device=t.device.clone() data-revoked=t.revoked.to_string()>
                                <td>{t.user.clone()}</td>
                                <td>{t.device.clone()}</td>
                                <td><time>{short(&t.created_at)}</time></td>
                                <td><time>{short(&t.expires_at)}</time></td>
                                <td>{move || if t.revoked { i18n.l(O::Revoked) } else { i18n.l(O::DeviceActive) }}</td>
                                <td>
                                    {(!t.revoked).then(|| view! {
                                        <Show when=asking fallback=move || {
                                            let id = id2.clone();
                                            view! {
                                                <button type="button" class="button small secondary revoke"
                                                    on:click=move |_| confirming.set(Some(id.clone()))>
                                                    {ot(O::Revoke)}
                                                </button>
                                            }
                                        }>
                                            <span class="hint">{ot(O::ConfirmRevoke)}</span> " "
                                            <button type="button" class="button small primary revoke-confirm"
                                                on:click={
                                                    let id = id3.clone();
                                                    move |_| revoke(id.clone())
                                                }>
                                                {ot(O::YesRevoke)}
                                            </button>
                                            <button type="button" class="button small secondary"
                                                on:click=move |_| confirming.set(None)>
                                                {ot(O::Cancel)}
                                            </button>
                                        </Show>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    });
    view! {
        <section id="admin-devices" class="admin-section">
            <h2>{ot(O::Devices)}</h2>
            <p class="hint">{ot(O::DevicesHint)}</p>
            <div class="field">
                <label for="devices-user">{ot(O::ColUser)}</label>
                <select id="devices-user" on:change=move |ev| user.set(event_target_value(&ev))>
                    <option value="">{ot(O::AllUsers)}</option>
                    {move || names().into_iter().map(|n| view! {
                        <option value=n.clone() selected=user.get_untracked() == n>{n.clone()}</option>
                    }).collect_view()}
                </select>
            </div>
            {move || error.get().map(|e| view! { <p id="devices-revoke-error" class="alert" role="alert">{e}</p> })}
            {table}
        </section>
    }
}

#[component]
fn Databases(
    dbs: RwSignal<Option<Result<Value, ApiError>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        created.set(None);
        let n = name.get_untracked().trim().to_string();
        if n.is_empty() {
            error.set(Some(O::Required.label(i18n.lang()).into()));
            return;
        }
        let lang = i18n.lang();
        send(
            session,
            "POST",
            "/api/admin/databases".into(),
            json!({ "name": n }),
            move || {
                created.try_set(Some(n));
                name.try_set(String::new());
                version.try_update(|v| *v += 1);
            },
            move |e| {
                error.try_set(Some(error_text(&e, lang)));
            },
        );
    };
    let list = list_view(dbs, "databases", move |dbs: Value| {
        let dbs: Vec<String> = dbs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str().map(str::to_owned))
            .collect();
        if dbs.is_empty() {
            return view! { <p class="hint">{ot(O::NoDatabases)}</p> }.into_any();
        }
        let lang = i18n.lang();
        view! {
            <ul id="databases-list" class="database-list">
                {dbs.into_iter().map(|d| {
                    let label = region_label(&d, lang);
                    view! { <li data-db=d.clone()>{label} " " <code>{d.clone()}</code></li> }
                }).collect_view()}
            </ul>
        }
        .into_any()
    });
    view! {
        <section id="admin-databases" class="admin-section">
            <h2>{ot(O::Databases)}</h2>
            {list}
            <form id="add-database" class="office-filters" on:submit=submit novalidate=true>
                <div class="field" data-key="name">
                    <label for="new-db">{ot(O::DbName)}</label>
                    <input id="new-db" type="text" list="region-names" autocomplete="off"
                        aria-describedby="new-db-error"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev)) />
                    <datalist id="region-names">
                        {Region::ALL.iter().map(|r| view! { <option value=r.name()></option> }).collect_view()}
                    </datalist>
                    {field_error("new-db-error".into(), error)}
                </div>
                <button type="submit" id="add-database-submit" class="button secondary">{ot(O::CreateDb)}</button>
                {move || created.get().map(|n| view! {
                    <p id="add-database-done" class="ok" role="status">
                        {move || i18n.l(O::DbCreated).replace("{name}", &n)}
                    </p>
                })}
            </form>
        </section>
    }
}

#[component]
fn Relays(version: RwSignal<u32>) -> impl IntoView {
    let i18n = use_i18n();
    let relays = loaded(version, || "/api/relay".to_string());
    let table = list_view(relays, "relays", move |relays: Value| {
        let relays = RelayStatus::list(&relays);
        if relays.is_empty() {
            return view! { <p id="relays-empty" class="hint">{ot(O::NoRelays)}</p> }.into_any();
        }
        let en = i18n.lang() == Lang::En;
        let never = O::Never.label(i18n.lang());
        view! {
            <table id="relays-table" class="inbox-table">
                <thead><tr>
                    <th>{ot(O::ColRelay)}</th><th>{ot(O::DbName)}</th><th>{ot(O::ColTarget)}</th>
                    <th>{ot(O::ColDirection)}</th><th>{ot(O::ColStatus)}</th>
                    <th>{ot(O::ColLastSuccess)}</th><th>{ot(O::ColPending)}</th><th>{ot(O::ColLastError)}</th>
                </tr></thead>
                <tbody>
                    {relays.into_iter().map(|r| view! {
                        <tr class="relay-row" data-relay=r.name.clone() data-state=r.state.clone()>
                            <td>{r.name.clone()}</td>
                            <td>{r.db.clone()}</td>
                            <td><code>{r.target.clone()}</code></td>
                            <td>{code_label(RELAY_WORDS, &r.direction, en)}</td>
                            <td>{code_label(RELAY_WORDS, &r.state, en)}</td>
                            <td>{r.last_success.as_deref().map(short).unwrap_or_else(|| never.to_string())}</td>
                            <td class="num">{r.pending.map(|p| p.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td class="relay-error">{r.last_error.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    });
    view! {
        <section id="admin-relays" class="admin-section">
            <h2>{ot(O::Relays)}</h2>
            {table}
        </section>
    }
}

#[component]
fn AuditLog(version: RwSignal<u32>) -> impl IntoView {
    let log = loaded(version, || format!("/api/admin/log?limit={LOG_LIMIT}"));
    let table = list_view(log, "log", move |entries: Value| {
        let entries = LogEntry::list(&entries);
        if entries.is_empty() {
            return view! { <p class="hint">{ot(O::NoLog)}</p> }.into_any();
        }
        view! {
            <table id="log-table" class="inbox-table">
                <thead><tr>
                    <th>{ot(O::ColAt)}</th><th>{ot(O::ColBy)}</th><th>{ot(O::ColAction)}</th>
                    <th>{ot(O::ColObject)}</th><th>{ot(O::ColDetail)}</th>
                </tr></thead>
                <tbody>
                    {entries.into_iter().map(|e| view! {
                        <tr class="log-row" data-action=e.action.clone()>
                            <td><time>{short(&e.at)}</time></td>
                            <td>{e.by.clone()}</td>
                            <td><code>{e.action.clone()}</code></td>
                            <td>{e.target.clone()}</td>
                            <td class="log-detail">{e.detail.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    });
    view! {
        <section id="admin-log" class="admin-section">
            <h2>{ot(O::AuditLog)}</h2>
            {table}
        </section>
    }
}

/// What a passphrase's strength level ([`keys::strength`]) is called beside its field and in
/// its refusal.
fn strength_word(level: u8) -> O {
    match level {
        0 => O::PassphraseTooShort,
        1 => O::StrengthWeak,
        2 => O::StrengthFair,
        _ => O::StrengthStrong,
    }
}

/// "Claves de la región": the keys of a region (id, created, current or rotated), and a new
/// key made in this browser (generated, wrapped under a passphrase typed twice, posted to
/// `POST /api/admin/keys`). Rotating is creating a new one: tablets seal new records to the
/// newest; the older keys still open old records.
#[component]
fn RegionKeys(
    dbs: RwSignal<Option<Result<Value, ApiError>>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    let region = RwSignal::new(String::new());
    // The first database once the list arrives.
    Effect::new(move |_| {
        if region.with_untracked(String::is_empty) {
            if let Some(Ok(list)) = dbs.get() {
                if let Some(first) = list
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_str)
                {
                    region.set(first.to_string());
                }
            }
        }
    });
    let list = loaded_by(version, move |token| {
        let r = region.get();
        if r.is_empty() {
            return None;
        }
        Some(async move { keys::fetch(&token, &r).await.map_err(ApiError::from) })
    });
    let pass = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let pass_err = RwSignal::new(None::<String>);
    let again_err = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let progress = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let lang = i18n.lang();
        for e in [pass_err, again_err, error] {
            e.set(None);
        }
        created.set(None);
        let r = region.get_untracked();
        if r.is_empty() {
            error.set(Some(O::Required.label(lang).into()));
            return;
        }
        // The same bar as `chaski keys create`, as near as a check without zxcvbn gets: the CLI
        // takes only zxcvbn's best score, this only the strongest level.
        let refused = pass.with_untracked(|p| {
            let level = keys::strength(p);
            (level < 3).then(|| strength_word(level))
        });
        if let Some(why) = refused {
            pass_err.set(Some(why.label(lang).into()));
            return;
        }
        if pass.with_untracked(|p| again.with_untracked(|a| p != a)) {
            again_err.set(Some(O::PassphraseMismatch.label(lang).into()));
            return;
        }
        let Some(token) = session.token() else {
            return;
        };
        let p = pass.get_untracked();
        busy.set(true);
        progress.set(Some(O::KeyCreating.label(lang).into()));
        spawn_local(async move {
            keys::repaint().await;
            let made = chaski_seal::generate().and_then(|secret| {
                let id = chaski_seal::key_id(&r, &secret.public());
                let wrapped = chaski_seal::wrap(&secret, &id, &p)?;
                Ok((id, wrapped))
            });
            // Used: the fields forget the passphrase (the page's only copies of it), whatever
            // the server answers next.
            pass.try_set(String::new());
            again.try_set(String::new());
            let result = match made {
                Ok((id, wrapped)) => {
                    let body = json!({
                        "region": r,
                        "public_key_b64": wrapped.public_key_b64,
                        "wrapped": wrapped,
                    });
                    api::send_json(&token, "POST", "/api/admin/keys", &body)
                        .await
                        .map(|()| id)
                        .map_err(|e| error_text(&e, lang))
                }
                // Only "no random numbers" can happen here; no key material in it.
                Err(e) => Err(e.to_string()),
            };
            busy.try_set(false);
            progress.try_set(None);
            match result {
                Ok(id) => {
                    created.try_set(Some(id));
                    // Every list again, the key's and the audit log's among them.
                    version.try_update(|v| *v += 1);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let has_keys = move || matches!(list.get(), Some(Ok(k)) if !k.is_empty());
    let strength = move || {
        let p = pass.get();
        (!p.is_empty()).then(|| {
            let level = keys::strength(&p);
            (level, strength_word(level))
        })
    };
    view! {
        <section id="admin-keys" class="admin-section">
            <h2>{ot(O::RegionKeys)}</h2>
            <p class="hint">{ot(O::KeysIntro)}</p>
            <div class="field">
                <label for="keys-region">{ot(O::Region)}</label>
                <select id="keys-region" on:change=move |ev| {
                    created.set(None);
                    region.set(event_target_value(&ev));
                }>
                    {move || match dbs.get() {
                        Some(Ok(list)) => list.as_array().into_iter().flatten()
                            .filter_map(|d| d.as_str().map(str::to_owned))
                            .map(|d| {
                                let label = region_label(&d, i18n.lang());
                                let selected = region.get_untracked() == d;
                                view! { <option value=d.clone() selected=selected>{label}</option> }
                            }).collect_view().into_any(),
                        _ => ().into_any(),
                    }}
                </select>
            </div>
            {list_view(list, "keys", move |k: Vec<RegionKey>| if k.is_empty() {
                view! { <p id="keys-empty" class="hint">{ot(O::NoKeys)}</p> }.into_any()
            } else {
                view! {
                    <table id="keys-table" class="inbox-table">
                        <thead><tr>
                            <th>{ot(O::ColKeyId)}</th><th>{ot(O::ColCreated)}</th><th>{ot(O::ColKeyState)}</th>
                        </tr></thead>
                        <tbody>
                            {k.into_iter().map(|key| view! {
                                <tr class="key-row" data-key=key.key_id.clone()
                                    data-state=if key.current { "current" } else { "rotated" }>
                                    <td><code>{key.key_id.clone()}</code></td>
                                    <td><time datetime=key.created_at.clone()>{short(&key.created_at)}</time></td>
                                    <td>{move || i18n.l(if key.current { O::KeyCurrent } else { O::KeyRotated })}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <p class="hint">{ot(O::RotateNote)}</p>
                }.into_any()
            })}
            <form id="create-key" class="office-filters" on:submit=submit novalidate=true>
                <div class="field">
                    <label for="key-passphrase">{ot(O::NewPassphrase)}</label>
                    <input id="key-passphrase" type="password" autocomplete="new-password"
                        spellcheck="false" aria-describedby="key-passphrase-error key-strength"
                        prop:value=move || pass.get()
                        on:input=move |ev| pass.set(event_target_value(&ev)) />
                    {move || strength().map(|(level, msg)| view! {
                        <p id="key-strength" class="hint" data-level=level.to_string()>{move || i18n.l(msg)}</p>
                    })}
                    {field_error("key-passphrase-error".into(), pass_err)}
                </div>
                <div class="field">
                    <label for="key-passphrase-again">{ot(O::RepeatPassphrase)}</label>
                    <input id="key-passphrase-again" type="password" autocomplete="new-password"
                        spellcheck="false" aria-describedby="key-passphrase-again-error"
                        prop:value=move || again.get()
                        on:input=move |ev| again.set(event_target_value(&ev)) />
                    {field_error("key-passphrase-again-error".into(), again_err)}
                </div>
                <button type="submit" id="create-key-submit" class="button secondary"
                    disabled=move || busy.get()>
                    {move || i18n.l(if has_keys() { O::RotateKey } else { O::CreateKey })}
                </button>
                {move || progress.get().map(|p| view! { <p id="create-key-progress" class="hint" role="status">{p}</p> })}
                {field_error("create-key-error".into(), error)}
                {move || created.get().map(|id| view! {
                    <p id="create-key-done" class="ok" role="status" data-key=id.clone()>
                        {let id = id.clone(); move || i18n.l(O::KeyCreated).replace("{key}", &id)}
                    </p>
                })}
            </form>
        </section>
    }
}

/// The national server's witness of the regions' custody logs (`GET /api/log/witness`): a
/// region whose new checkpoint did not extend the last is flagged, in words.
#[component]
fn WitnessFlags(version: RwSignal<u32>) -> impl IntoView {
    let i18n = use_i18n();
    let witness = loaded(version, || "/api/log/witness".to_string());
    let body = list_view(witness, "witness", move |rows: Value| {
        let rows: Vec<(String, u64, Option<String>)> = rows
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r.get("origin")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    r.get("size").and_then(Value::as_u64).unwrap_or(0),
                    r.get("flagged").and_then(Value::as_str).map(str::to_owned),
                )
            })
            .collect();
        if rows.is_empty() {
            return view! { <p id="witness-empty" class="hint">{ot(O::WitnessEmpty)}</p> }
                .into_any();
        }
        let flagged = rows.iter().filter(|r| r.2.is_some()).count();
        let lang = i18n.lang();
        let summary = if flagged == 0 {
            O::WitnessAllOk.label(lang).to_string()
        } else {
            O::WitnessSomeFlagged
                .label(lang)
                .replace("{n}", &flagged.to_string())
        };
        // Flagged first.
        let mut rows = rows;
        rows.sort_by_key(|r| r.2.is_none());
        view! {
            <p id="witness-summary" class=if flagged == 0 { "ok" } else { "alert" }
                role=if flagged == 0 { "status" } else { "alert" }>{summary}</p>
            <ul id="witness-list" class="flag-list">
                {rows.into_iter().map(|(origin, size, flag)| {
                    let is_flagged = flag.is_some();
                    view! {
                        <li class="witness-row" data-origin=origin.clone() data-flagged=is_flagged.to_string()>
                            <strong>{origin.clone()}</strong> ": "
                            {match flag {
                                Some(reason) => view! {
                                    <span class="alert">{O::WitnessFlagged.label(lang)} " " {reason}</span>
                                }.into_any(),
                                None => view! {
                                    <span>{O::WitnessOk.label(lang).replace("{size}", &size.to_string())}</span>
                                }.into_any(),
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    });
    view! {
        <section id="admin-witness" class="admin-section">
            <h2>{ot(O::Witness)}</h2>
            <p class="hint">{ot(O::WitnessIntro)}</p>
            {body}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_reason_lands_at_the_field_it_names() {
        let f = |r| field_of(r, UserField::Name);
        assert_eq!(
            f("The password is too easy to guess: it contains the user's name."),
            UserField::Password
        );
        assert_eq!(
            f("\"lima-norte\" is not a region. Use a department's database name, one of: …"),
            UserField::Regions
        );
        assert_eq!(
            f("The user name \"Ana\" is not allowed: use 2 to 64 characters …"),
            UserField::Name
        );
        assert_eq!(f("There is already a user called ana."), UserField::Name);
        assert_eq!(
            f("Unknown role \"boss\": use inspector, supervisor, admin or relay."),
            UserField::Role
        );
        assert_eq!(f("Something else."), UserField::Name);
    }
}
