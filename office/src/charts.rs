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
    let svg = bars_svg(&table, funnel, &format!("title-{id}"));
    let csv = table.csv();
    let filename = format!("chaski-cifras-{id}.csv");
    view! {
        <section class="chart" id=format!("chart-{id}") aria-labelledby=format!("title-{id}")>
            <h2 id=format!("title-{id}")>{ot(title)}</h2>
            <div class="chart-body">
                <div class="chart-svg" inner_html=svg></div>
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

/// Escapes text for HTML and SVG markup.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar chart (or a funnel) as SVG markup: a bar per row of the table's first count column,
/// each `<g class="bar" data-key>` with its count on hover (`<title>`). Markup rather than
/// view code: drawn once per answer, and a fraction of the wasm that views of SVG elements take.
pub fn bars_svg(table: &Table, funnel: bool, labelled_by: &str) -> String {
    let max = table.max(0);
    let height = ROW_H * table.rows.len().max(1) as u32 + 4;
    let mut out = format!(
        r#"<svg viewBox="0 0 {W} {height}" role="img" aria-labelledby="{labelled_by}" preserveAspectRatio="xMinYMin meet">"#
    );
    for (i, (code, label, cells)) in table.rows.iter().enumerate() {
        let count = cells.first().and_then(Cell::count).unwrap_or(Count::N(0));
        let value = count.draw_value();
        let w = ((value * u64::from(BAR_W)) / max) as u32;
        // A non-zero count never disappears.
        let w = if value > 0 { w.max(2) } else { 0 };
        let x = if funnel {
            BAR_X + (BAR_W - w) / 2
        } else {
            BAR_X
        };
        let y = ROW_H * i as u32 + 4;
        let text_x = if funnel {
            BAR_X + BAR_W + 8
        } else {
            BAR_X + w + 6
        };
        let few = count == Count::Few;
        let (label, text) = (esc(label), esc(&count.text()));
        out.push_str(&format!(
            r#"<g class="bar" data-key="{code}" data-few="{few}"><title>{label}: {text}</title><text x="{lx}" y="{ty}" text-anchor="end" class="bar-label">{label}</text><rect x="{x}" y="{y}" width="{w}" height="{BAR_H}" class="bar-rect{cls}"/><text x="{text_x}" y="{ty}" class="bar-value">{text}</text></g>"#,
            code = esc(code),
            lx = BAR_X - 8,
            ty = y + BAR_H - 4,
            cls = if few { " few" } else { "" },
        ));
    }
    out.push_str("</svg>");
    out
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
    let svg = tiles_svg(
        &counts,
        max,
        what.label(lang),
        O::MapOutside.label(lang),
        lang,
    );
    let legend = (0..=SHADES)
        .map(|s| view! { <span class=format!("swatch shade-{s}") aria-hidden="true"></span> })
        .collect_view();
    view! {
        <div class="tile-map">
            <div class="map-svg" role="img"
                aria-label=move || format!("{} · {}", i18n.l(O::ChartMap), i18n.l(what))
                inner_html=svg></div>
            <p class="map-legend hint">
                {ot(O::MapLegendLow)} " " {legend} " " {ot(O::MapLegendHigh)}
            </p>
        </div>
    }
}

/// The tile-grid map as SVG markup: a `<g class="tile" data-region data-shade>` per department,
/// its name, its count and, on hover, both in words.
fn tiles_svg(
    counts: &[(String, Count)],
    max: u64,
    what: &str,
    outside: &str,
    lang: Lang,
) -> String {
    let width = u32::from(GRID.0) * (TILE + GAP);
    let height = u32::from(GRID.1) * (TILE + GAP);
    let mut out = format!(r#"<svg viewBox="0 0 {width} {height}" aria-hidden="true">"#);
    for (region, col, row) in TILES {
        let code = region.name();
        let name = esc(region.label(lang));
        let count = counts.iter().find(|(k, _)| k == code).map(|(_, c)| *c);
        let x = u32::from(col) * (TILE + GAP);
        let y = u32::from(row) * (TILE + GAP);
        let (class, shade_n, hover, number) = match count {
            Some(c) => (
                "tile",
                shade(c, max).to_string(),
                format!("{name}: {} {}", esc(&c.text()), esc(&what.to_lowercase())),
                esc(&c.text()),
            ),
            None => (
                "tile outside",
                String::new(),
                format!("{name}: {}", esc(&outside.to_lowercase())),
                String::new(),
            ),
        };
        out.push_str(&format!(
            r#"<g class="{class}" data-region="{code}" data-shade="{shade_n}"><title>{hover}</title><rect x="{x}" y="{y}" width="{TILE}" height="{TILE}" rx="6" class="shade-{shade_n}"/><text x="{cx}" y="{ny}" text-anchor="middle" class="tile-name">{name}</text><text x="{cx}" y="{cy}" text-anchor="middle" class="tile-count">{number}</text></g>"#,
            cx = x + TILE / 2,
            ny = y + 22,
            cy = y + 58,
        ));
    }
    out.push_str("</svg>");
    out
}

/// A region's name, or its code when it is not a department.
pub fn region_label(code: &str, lang: Lang) -> String {
    chaski_shared::domain::Region::from_name(code)
        .map(|r| r.label(lang).to_string())
        .unwrap_or_else(|| code.to_string())
}
