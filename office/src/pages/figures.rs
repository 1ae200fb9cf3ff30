//! `/office/figures`, "Cifras": the figures an annual report needs, for a period and the
//! regions the user may see, as SVG charts each beside its table (and its CSV), the funnel from
//! inspection to conviction, a tile-grid map of the departments, and the server's exports.
//!
//! Two calls to `GET /api/figures` per choice: broken down by sector (the totals and the
//! sector chart) and by region (the map). `#figures[data-state]` says when an answer is drawn.

use chaski_client::api::ApiError;
use chaski_client::i18n::{use_i18n, Label, Lang};
use chaski_client::session::use_session;
use chaski_shared::domain::{
    AgeBand, Choice, Finding, Indicator, Nationality, Region, Sector, Sex, Stage,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use crate::api::{self, FiguresQuery};
use crate::charts::{region_label, Chart, DataTable, TileMap};
use crate::figures::{
    at, breakdown_rows, funnel_rows, map_rows, ordered, Cell, Codes, Count, Table, WORKERS,
};
use crate::i18n::*;

#[derive(Clone, Debug, PartialEq)]
enum Load {
    Loading,
    Ready(Box<(Value, Value)>),
    Failed(ApiError),
}

/// Whether the map is shaded by inspections or by victims (people identified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    Inspections,
    Victims,
}

#[component]
pub fn FiguresPage() -> impl IntoView {
    let session = use_session();
    let i18n = use_i18n();
    let query = RwSignal::new(FiguresQuery::default());
    let load = RwSignal::new(Load::Loading);
    let generation = RwSignal::new(0u64);
    let asked = StoredValue::new(0u64);
    let metric = RwSignal::new(Metric::Inspections);

    Effect::new(move |_| {
        let q = query.get();
        let Some(token) = session.token() else {
            return;
        };
        let ticket = asked.get_value() + 1;
        asked.set_value(ticket);
        load.set(Load::Loading);
        spawn_local(async move {
            let by_sector = api::figures(&token, &q, "sector").await;
            let by_region = match &by_sector {
                Ok(_) => api::figures(&token, &q, "region").await,
                Err(e) => Err(e.clone()),
            };
            if asked.try_get_value() != Some(ticket) {
                return;
            }
            load.try_set(match (by_sector, by_region) {
                (Ok(a), Ok(b)) => Load::Ready(Box::new((a, b))),
                (Err(e), _) | (_, Err(e)) => Load::Failed(e),
            });
            generation.try_update(|g| *g += 1);
        });
    });

    let is_admin = move || session.get().is_some_and(|s| s.user.role == "admin");
    let regions = move || {
        if is_admin() {
            Region::ALL.iter().map(|r| r.name().to_string()).collect()
        } else {
            session.regions()
        }
    };
    let set_text = move |field: fn(&mut FiguresQuery) -> &mut String| {
        move |ev| {
            let value = event_target_value(&ev);
            query.update(|q| *field(q) = value);
        }
    };
    let state_code = move || match load.get() {
        Load::Loading => "loading",
        Load::Ready(_) => "ready",
        Load::Failed(_) => "failed",
    };

    view! {
        <h1>{ot(O::FiguresTitle)}</h1>
        <p class="hint">{ot(O::FiguresIntro)}</p>
        <div class="filters office-filters" role="search">
            <div class="field">
                <label for="fig-from">{ot(O::FilterFrom)}</label>
                <input id="fig-from" type="date" on:change=set_text(|q| &mut q.from) />
            </div>
            <div class="field">
                <label for="fig-to">{ot(O::FilterTo)}</label>
                <input id="fig-to" type="date" on:change=set_text(|q| &mut q.to) />
            </div>
            <div class="field">
                <label for="fig-region">{ot(O::FigRegion)}</label>
                <select id="fig-region" on:change=set_text(|q| &mut q.region)>
                    <option value="">{ot(O::AllMyRegions)}</option>
                    {move || regions().into_iter().map(|r| {
                        let label = region_label(&r, i18n.lang());
                        view! { <option value=r>{label}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label class="chip">
                    <input id="fig-public" type="checkbox"
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            query.update(|q| q.public = on);
                        } />
                    {ot(O::PublicToggle)}
                </label>
                <span class="hint">{ot(O::PublicHint)}</span>
            </div>
        </div>
        <Exports query=query />
        <section id="figures" class="figures" data-state=state_code
            data-generation=move || generation.get().to_string()
            data-public=move || query.with(|q| q.public).to_string()>
            {move || {
                let lang = i18n.lang();
                match load.get() {
                    Load::Loading => view! { <p class="hint">{ot(O::Loading)}</p> }.into_any(),
                    Load::Failed(e) => view! {
                        <p id="figures-error" class="alert" role="alert">
                            {ot(O::LoadFailed)} " " {crate::pages::error_text(&e, lang)}
                        </p>
                    }.into_any(),
                    Load::Ready(answers) => {
                        let (by_sector, by_region) = *answers;
                        let public = query.with_untracked(|q| q.public);
                        view! { <Drawn by_sector=by_sector by_region=by_region lang=lang public=public metric=metric /> }.into_any()
                    }
                }
            }}
        </section>
    }
}

/// The server's exports for the chosen period and regions, fetched with the token.
#[component]
fn Exports(query: RwSignal<FiguresQuery>) -> impl IntoView {
    let session = use_session();
    let i18n = use_i18n();
    let status = RwSignal::new(None::<Result<(), ApiError>>);
    let busy = RwSignal::new(false);
    let get = move |path: &'static str, filename: &'static str| {
        move |_| {
            let Some(token) = session.token() else {
                return;
            };
            let q = FiguresQuery {
                public: false,
                ..query.get_untracked()
            };
            let qs = q.query_string(None);
            let url = if qs.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{qs}")
            };
            busy.set(true);
            status.set(None);
            spawn_local(async move {
                let result = api::download(&token, &url, filename).await;
                busy.try_set(false);
                status.try_set(Some(result));
            });
        }
    };
    view! {
        <section id="exports" class="exports">
            <h2>{ot(O::Exports)}</h2>
            <p class="hint">{ot(O::ExportsHint)}</p>
            <div class="actions wrap">
                <button type="button" id="export-inspections" class="button secondary"
                    disabled=busy
                    on:click=get("/api/export/inspections.csv", "chaski-inspecciones.csv")>
                    {ot(O::ExportInspections)}
                </button>
                <button type="button" id="export-people" class="button secondary" disabled=busy
                    on:click=get("/api/export/people.csv", "chaski-personas.csv")>
                    {ot(O::ExportPeople)}
                </button>
                <button type="button" id="export-geojson" class="button secondary" disabled=busy
                    on:click=get("/api/export/inspections.geojson", "chaski-inspecciones.geojson")>
                    {ot(O::ExportGeojson)}
                </button>
                <span role="status" class="hint">
                    {move || busy.get().then(ot(O::Downloading))}
                    {move || match status.get() {
                        Some(Err(e)) => Some(view! {
                            <span id="export-error" class="alert">
                                {ot(O::DownloadFailed)} " " {crate::pages::error_text(&e, i18n.lang())}
                            </span>
                        }),
                        _ => None,
                    }}
                </span>
            </div>
        </section>
    }
}

/// The label of a code of `codes` (or of an office table).
fn label(
    codes: Codes,
    office: &[(&str, &'static str, &'static str)],
    key: &str,
    lang: Lang,
) -> String {
    let named = match codes {
        Codes::Sector => Sector::from_name(key).map(|v| v.label(lang)),
        Codes::Finding => Finding::from_name(key).map(|v| v.label(lang)),
        Codes::Indicator => Indicator::from_name(key).map(|v| v.label(lang)),
        Codes::Stage => Stage::from_name(key).map(|v| v.label(lang)),
        Codes::Sex => Sex::from_name(key).map(|v| v.label(lang)),
        Codes::AgeBand => AgeBand::from_name(key).map(|v| v.label(lang)),
        Codes::Nationality => Nationality::from_name(key).map(|v| v.label(lang)),
        Codes::Region => Region::from_name(key).map(|v| v.label(lang)),
        Codes::Office => None,
    };
    named
        .map(str::to_string)
        .unwrap_or_else(|| code_label(office, key, lang == Lang::En))
}

/// A one-column table of counts.
fn count_table(
    rows: Vec<(String, Count)>,
    codes: Codes,
    office: &[(&str, &'static str, &'static str)],
    lang: Lang,
) -> Table {
    Table {
        columns: vec![
            O::ColCategory.label(lang).to_string(),
            O::ColCount.label(lang).to_string(),
        ],
        rows: rows
            .into_iter()
            .map(|(k, c)| {
                let l = label(codes, office, &k, lang);
                (k, l, vec![Cell::Count(c)])
            })
            .collect(),
    }
}

/// Every code of `order` from a breakdown, a missing one as zero ("<5" when public).
fn complete(rows: Vec<(String, Count)>, order: &[&str], public: bool) -> Vec<(String, Count)> {
    let mut all: Vec<(String, Count)> = order
        .iter()
        .map(|code| {
            let found = rows.iter().find(|(k, _)| k == code).map(|(_, c)| *c);
            let none = if public { Count::Few } else { Count::N(0) };
            (code.to_string(), found.unwrap_or(none))
        })
        .collect();
    all.extend(
        rows.into_iter()
            .filter(|(k, _)| !order.contains(&k.as_str())),
    );
    all
}

/// The summary table: the report's headline numbers.
fn summary(totals: &Value, stalled: Option<&Value>, lang: Lang) -> Table {
    let rows: [(&str, O, &str); 16] = [
        ("inspections", O::SumInspections, "inspections"),
        (
            "forced_labour",
            O::SumForcedLabour,
            "findings.forced_labour",
        ),
        ("people_identified", O::SumPeople, "people.identified"),
        (
            "people_referred",
            O::SumReferred,
            "referrals.people_referred",
        ),
        ("with_consent", O::SumConsent, "referrals.with_consent"),
        ("attended", O::SumAttended, "referrals.attended"),
        ("prosecutions", O::SumProsecutions, "prosecutions.opened"),
        ("convictions", O::SumConvictions, "outcomes.convictions"),
        ("acquittals", O::SumAcquittals, "outcomes.acquittals"),
        ("closed", O::SumClosed, "outcomes.closed"),
        (
            "sentence_min",
            O::SumSentenceMin,
            "outcomes.sentence_months.min",
        ),
        (
            "sentence_median",
            O::SumSentenceMedian,
            "outcomes.sentence_months.median",
        ),
        (
            "sentence_max",
            O::SumSentenceMax,
            "outcomes.sentence_months.max",
        ),
        (
            "days_to_referral_median",
            O::SumReferralMedian,
            "days_to_referral.median",
        ),
        (
            "days_to_referral_p90",
            O::SumReferralP90,
            "days_to_referral.p90",
        ),
        (
            "days_to_prosecution_median",
            O::SumProsecutionMedian,
            "days_to_prosecution.median",
        ),
    ];
    let mut table_rows: Vec<(String, String, Vec<Cell>)> = rows
        .iter()
        .map(|(code, word, path)| {
            (
                code.to_string(),
                word.label(lang).to_string(),
                vec![Cell::from_json(at(totals, path))],
            )
        })
        .collect();
    table_rows.push((
        "days_to_prosecution_p90".into(),
        O::SumProsecutionP90.label(lang).into(),
        vec![Cell::from_json(at(totals, "days_to_prosecution.p90"))],
    ));
    if let Some(stalled) = stalled {
        let days = stalled.get("days").and_then(Value::as_u64).unwrap_or(90);
        table_rows.push((
            "stalled".into(),
            O::SumStalled.label(lang).replace("{n}", &days.to_string()),
            vec![Cell::from_json(stalled.get("count"))],
        ));
    }
    Table {
        columns: vec![
            O::ColFigure.label(lang).to_string(),
            O::ColValue.label(lang).to_string(),
        ],
        rows: table_rows,
    }
}

#[component]
fn Drawn(
    by_sector: Value,
    by_region: Value,
    lang: Lang,
    public: bool,
    metric: RwSignal<Metric>,
) -> impl IntoView {
    let totals = by_sector.get("totals").cloned().unwrap_or(Value::Null);
    let t = |path: &str| at(&totals, path);
    let sectors = complete(
        breakdown_rows(&by_sector, "inspections"),
        Codes::Sector.order(),
        public,
    );
    let empty = matches!(
        totals.get("inspections").and_then(Count::from_json),
        Some(Count::N(0)) | None
    );
    let charts: Vec<(&'static str, O, Table, bool)> = vec![
        (
            "sectors",
            O::ChartSectors,
            count_table(sectors, Codes::Sector, &[], lang),
            false,
        ),
        (
            "funnel",
            O::ChartFunnel,
            count_table(funnel_rows(t("funnel")), Codes::Office, FUNNEL_STEPS, lang),
            true,
        ),
        (
            "findings",
            O::ChartFindings,
            count_table(
                map_rows(t("findings"), Codes::Finding.order()),
                Codes::Finding,
                &[],
                lang,
            ),
            false,
        ),
        (
            "indicators",
            O::ChartIndicators,
            count_table(
                map_rows(t("indicators"), Codes::Indicator.order()),
                Codes::Indicator,
                &[],
                lang,
            ),
            false,
        ),
        (
            "stages",
            O::ChartStages,
            count_table(
                map_rows(t("indicator_stages"), Codes::Stage.order()),
                Codes::Stage,
                &[],
                lang,
            ),
            false,
        ),
        (
            "workers",
            O::ChartWorkers,
            count_table(
                map_rows(t("workers"), WORKERS),
                Codes::Office,
                WORKER_KINDS,
                lang,
            ),
            false,
        ),
        (
            "sex",
            O::ChartSex,
            count_table(
                map_rows(t("people.by_sex"), Codes::Sex.order()),
                Codes::Sex,
                &[],
                lang,
            ),
            false,
        ),
        (
            "age",
            O::ChartAge,
            count_table(
                map_rows(t("people.by_age_band"), Codes::AgeBand.order()),
                Codes::AgeBand,
                &[],
                lang,
            ),
            false,
        ),
        (
            "nationality",
            O::ChartNationality,
            count_table(
                map_rows(t("people.by_nationality"), Codes::Nationality.order()),
                Codes::Nationality,
                &[],
                lang,
            ),
            false,
        ),
        (
            "services",
            O::ChartServices,
            count_table(
                map_rows(
                    t("referrals.by_service"),
                    &SERVICES.iter().map(|s| s.0).collect::<Vec<_>>(),
                ),
                Codes::Office,
                SERVICES,
                lang,
            ),
            false,
        ),
        (
            "offences",
            O::ChartOffences,
            count_table(
                map_rows(
                    t("prosecutions.by_offence"),
                    &OFFENCES.iter().map(|s| s.0).collect::<Vec<_>>(),
                ),
                Codes::Office,
                OFFENCES,
                lang,
            ),
            false,
        ),
    ];
    let summary_table = summary(&totals, by_sector.get("stalled"), lang);

    // The map: every region of the selection, by inspections and by victims.
    let inspections = ordered(
        breakdown_rows(&by_region, "inspections"),
        Codes::Region.order(),
    );
    let victims = ordered(
        breakdown_rows(&by_region, "people.identified"),
        Codes::Region.order(),
    );
    let map_table = Table {
        columns: vec![
            O::ColDepartment.label(lang).to_string(),
            O::ColInspections.label(lang).to_string(),
            O::ColVictims.label(lang).to_string(),
        ],
        rows: inspections
            .iter()
            .map(|(k, c)| {
                let v = victims
                    .iter()
                    .find(|(vk, _)| vk == k)
                    .map(|(_, c)| Cell::Count(*c))
                    .unwrap_or(Cell::Missing);
                (k.clone(), region_label(k, lang), vec![Cell::Count(*c), v])
            })
            .collect(),
    };
    let map_csv = map_table.csv();

    view! {
        {empty.then(|| view! { <p id="figures-empty" class="hint">{ot(O::NoFigures)}</p> })}
        <section class="chart" id="chart-summary" aria-labelledby="title-summary">
            <h2 id="title-summary">{ot(O::Summary)}</h2>
            <div class="chart-table">
                <DataTable id="summary" table=summary_table.clone() />
                <button type="button" class="button small secondary csv" id="csv-summary"
                    on:click=move |_| api::save_text("chaski-cifras-summary.csv", "text/csv;charset=utf-8", &summary_table.csv())>
                    {ot(O::DownloadCsv)}
                </button>
            </div>
        </section>
        <section class="chart map" id="chart-map" aria-labelledby="title-map">
            <h2 id="title-map">{ot(O::ChartMap)}</h2>
            <fieldset class="chips" id="map-metric">
                <legend>{ot(O::ShadeBy)}</legend>
                <label class="chip">
                    <input type="radio" name="map-metric" value="inspections"
                        checked=move || metric.get() == Metric::Inspections
                        on:change=move |_| metric.set(Metric::Inspections) />
                    {ot(O::MapInspections)}
                </label>
                <label class="chip">
                    <input type="radio" name="map-metric" value="victims"
                        checked=move || metric.get() == Metric::Victims
                        on:change=move |_| metric.set(Metric::Victims) />
                    {ot(O::MapVictims)}
                </label>
            </fieldset>
            <div class="chart-body">
                {move || match metric.get() {
                    Metric::Inspections => view! { <TileMap counts=inspections.clone() what=O::MapInspections /> },
                    Metric::Victims => view! { <TileMap counts=victims.clone() what=O::MapVictims /> },
                }}
                <div class="chart-table">
                    <DataTable id="map" table=map_table />
                    <button type="button" class="button small secondary csv" id="csv-map"
                        on:click=move |_| api::save_text("chaski-cifras-map.csv", "text/csv;charset=utf-8", &map_csv)>
                        {ot(O::DownloadCsv)}
                    </button>
                </div>
            </div>
        </section>
        {charts.into_iter().map(|(id, title, table, funnel)| view! {
            <Chart id=id title=title table=table funnel=funnel />
        }).collect_view()}
    }
}
