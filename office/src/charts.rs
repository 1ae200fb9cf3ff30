//! The Cifras page's widgets: a bar chart (or funnel) drawn as SVG by the app, beside its
//! accessible table and a "Descargar CSV" of that table; and the tile-grid map of Peru's
//! departments. No chart library and no network: the office may be offline.

use chaski_client::i18n::{use_i18n, Label, Lang};
use chaski_shared::domain::Choice;
use leptos::prelude::*;

use crate::figures::{shade, Cell, Count, Table, GRID, SHADES, TILES};
use crate::i18n::{ot, O};

/// Width of a chart's drawing, in SVG units (it scales to the page).
const W: u32 = 640;
/// Where the bars start: the labels sit to their left.
const BAR_X: u32 = 260;
/// The longest bar.
const BAR_W: u32 = 310;
const ROW_H: u32 = 26;
const BAR_H: u32 = 18;

/// One chart with its table and CSV: `#chart-<id>`, `#table-<id>`, `#csv-<id>`. Draws the
/// table's first count column; a funnel centres its bars.
#[component]
pub fn Chart(
    id: &'static str,
    title: O,
    table: Table,
    #[prop(optional)] funnel: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let max = table.max(0);
    let height = ROW_H * table.rows.len().max(1) as u32 + 4;
    let bars = table
        .rows
        .iter()
        .enumerate()
        .map(|(i, (code, label, cells))| {
            let count = cells.first().and_then(Cell::count).unwrap_or(Count::N(0));
            let value = count.draw_value();
            let w = ((value * u64::from(BAR_W)) / max) as u32;
            // A non-zero count never disappears.
            let w = if value > 0 { w.max(2) } else { 0 };
            let x = if funnel { BAR_X + (BAR_W - w) / 2 } else { BAR_X };
            let y = ROW_H * i as u32 + 4;
            let text_x = if funnel { BAR_X + BAR_W + 8 } else { BAR_X + w + 6 };
            let few = count == Count::Few;
            let hover = format!("{label}: {}", count.text());
            view! {
                <g class="bar" data-key=code.clone() data-few=few.to_string()>
                    <title>{hover}</title>
                    <text x=(BAR_X - 8).to_string() y=(y + BAR_H - 4).to_string()
                        text-anchor="end" class="bar-label">{label.clone()}</text>
                    <rect x=x.to_string() y=y.to_string() width=w.to_string()
                        height=BAR_H.to_string() class={if few { "bar-rect few" } else { "bar-rect" }} />
                    <text x=text_x.to_string() y=(y + BAR_H - 4).to_string()
                        class="bar-value">{count.text()}</text>
                </g>
            }
        })
        .collect_view();
    let csv = table.csv();
    let filename = format!("chaski-cifras-{id}.csv");
    view! {
        <section class="chart" id=format!("chart-{id}") aria-labelledby=format!("title-{id}")>
            <h2 id=format!("title-{id}")>{ot(title)}</h2>
            <div class="chart-body">
                <svg class="chart-svg" viewBox=format!("0 0 {W} {height}") role="img"
                    aria-labelledby=format!("title-{id}") preserveAspectRatio="xMinYMin meet">
                    {bars}
                </svg>
                <div class="chart-table">
                    <DataTable id=id table=table />
                    <button type="button" class="button small secondary csv" id=format!("csv-{id}")
                        on:click=move |_| crate::api::save_text(&filename, "text/csv;charset=utf-8", &csv)>
                        {move || i18n.l(O::DownloadCsv)}
                    </button>
                </div>
            </div>
        </section>
    }
}

/// The accessible table of a chart: `#table-<id>`, a row per code (`data-key`).
#[component]
pub fn DataTable(id: &'static str, table: Table) -> impl IntoView {
    let Table { columns, rows } = table;
    view! {
        <table class="figures-table" id=format!("table-{id}")>
            <thead><tr>
                {columns.into_iter().enumerate().map(|(i, c)| view! {
                    <th scope="col" class={if i > 0 { "num" } else { "" }}>{c}</th>
                }).collect_view()}
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|(code, label, cells)| view! {
                    <tr data-key=code>
                        <th scope="row">{label}</th>
                        {cells.into_iter().map(|c| view! { <td class="num">{c.text()}</td> }).collect_view()}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Side of a tile, in SVG units.
const TILE: u32 = 88;
const GAP: u32 = 4;

/// The departments as a grid of labelled squares, shaded by `counts` (one per region in the
/// selection; the others are drawn as outside it), each with its count on hover.
#[component]
pub fn TileMap(counts: Vec<(String, Count)>, what: O) -> impl IntoView {
    let i18n = use_i18n();
    let lang = i18n.lang();
    let max = counts
        .iter()
        .map(|(_, c)| c.draw_value())
        .max()
        .unwrap_or(0);
    let what_word = what.label(lang);
    let outside_word = O::MapOutside.label(lang);
    let tiles = TILES
        .iter()
        .map(|(region, col, row)| {
            let code = region.name();
            let name = region.label(lang);
            let count = counts.iter().find(|(k, _)| k == code).map(|(_, c)| *c);
            let x = u32::from(*col) * (TILE + GAP);
            let y = u32::from(*row) * (TILE + GAP);
            let (class, shade_n, hover, number) = match count {
                Some(c) => (
                    "tile",
                    shade(c, max).to_string(),
                    format!("{name}: {} {}", c.text(), what_word.to_lowercase()),
                    c.text(),
                ),
                None => (
                    "tile outside",
                    String::new(),
                    format!("{name}: {}", outside_word.to_lowercase()),
                    String::new(),
                ),
            };
            view! {
                <g class=class data-region=code data-shade=shade_n.clone()>
                    <title>{hover}</title>
                    <rect x=x.to_string() y=y.to_string() width=TILE.to_string()
                        height=TILE.to_string() rx="6" class=format!("shade-{shade_n}") />
                    <text x=(x + TILE / 2).to_string() y=(y + 22).to_string()
                        text-anchor="middle" class="tile-name">{name}</text>
                    <text x=(x + TILE / 2).to_string() y=(y + 58).to_string()
                        text-anchor="middle" class="tile-count">{number}</text>
                </g>
            }
        })
        .collect_view();
    let width = u32::from(GRID.0) * (TILE + GAP);
    let height = u32::from(GRID.1) * (TILE + GAP);
    let legend = (0..=SHADES)
        .map(|s| view! { <span class=format!("swatch shade-{s}") aria-hidden="true"></span> })
        .collect_view();
    view! {
        <div class="tile-map">
            <svg class="map-svg" viewBox=format!("0 0 {width} {height}") role="img"
                aria-label=move || format!("{} · {}", i18n.l(O::ChartMap), i18n.l(what))>
                {tiles}
            </svg>
            <p class="map-legend hint">
                {ot(O::MapLegendLow)} " " {legend} " " {ot(O::MapLegendHigh)}
            </p>
        </div>
    }
}

/// A region's name, or its code when it is not a department.
pub fn region_label(code: &str, lang: Lang) -> String {
    chaski_shared::domain::Region::from_name(code)
        .map(|r| r.label(lang).to_string())
        .unwrap_or_else(|| code.to_string())
}
