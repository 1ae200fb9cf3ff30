//! The "Cifras" page's model, with no I/O: reading the server's figures (`GET /api/figures`)
//! into rows of (code, count), the tables every chart is drawn from (and downloaded as CSV),
//! and the tile-grid map of Peru's 25 departments.
//!
//! The answer is read from its JSON leniently: a figure the server does not send reads as
//! missing, a map's keys are put in the domain enum's order (codes the app does not know come
//! last, under their code), so a server a version ahead still draws.

use chaski_shared::domain::{
    AgeBand, Choice, Finding, Indicator, Nationality, Region, Sector, Sex, Stage,
};
use serde_json::Value;

/// One count of the figures: a number, or "<5" when the server suppressed a small cell
/// (`public=1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    N(u64),
    Few,
}

impl Count {
    /// Reads a count: a number, or the string `"<5"`. Anything else is no count.
    pub fn from_json(value: &Value) -> Option<Count> {
        match value {
            Value::Number(n) => n
                .as_u64()
                .or_else(|| n.as_f64().map(|f| f.max(0.0).round() as u64))
                .map(Count::N),
            Value::String(s) if s.trim() == "<5" => Some(Count::Few),
            _ => None,
        }
    }

    /// For drawing: a suppressed cell is drawn as if it were 4, its largest possible value,
    /// with its own style.
    pub fn draw_value(self) -> u64 {
        match self {
            Count::N(n) => n,
            Count::Few => 4,
        }
    }

    pub fn text(self) -> String {
        match self {
            Count::N(n) => n.to_string(),
            Count::Few => "<5".to_string(),
        }
    }
}

/// A value that may be missing (a median of nothing is `null`): `—` in a table, empty in CSV.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Count(Count),
    /// A measure that is not a count (a median of days); shown with at most one decimal.
    Measure(f64),
    Missing,
}

impl Cell {
    pub fn from_json(value: Option<&Value>) -> Cell {
        match value {
            None | Some(Value::Null) => Cell::Missing,
            Some(v) => match v.as_f64() {
                Some(f) if f.fract() != 0.0 => Cell::Measure(f),
                _ => Count::from_json(v).map_or(Cell::Missing, Cell::Count),
            },
        }
    }

    pub fn text(&self) -> String {
        match self {
            Cell::Count(c) => c.text(),
            // By hand: precision formatting would link a second float formatter into the app.
            Cell::Measure(f) => {
                let tenths = (f * 10.0).round() as i64;
                let sign = if tenths < 0 { "-" } else { "" };
                format!("{sign}{}.{}", tenths.abs() / 10, tenths.abs() % 10)
            }
            Cell::Missing => "—".to_string(),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Missing => String::new(),
            other => other.text(),
        }
    }

    pub fn count(&self) -> Option<Count> {
        match self {
            Cell::Count(c) => Some(*c),
            _ => None,
        }
    }
}

/// The value at a dotted path (`people.by_sex`) of a JSON object.
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// The rows of a map of counts (`{"female": 5, "male": 7}`), in `order` (the enum's codes)
/// first, then any other key the server sent, by name.
pub fn map_rows(value: Option<&Value>, order: &[&str]) -> Vec<(String, Count)> {
    let Some(map) = value.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut rows: Vec<(String, Count)> = order
        .iter()
        .filter_map(|code| {
            map.get(*code)
                .and_then(Count::from_json)
                .map(|c| (code.to_string(), c))
        })
        .collect();
    let mut rest: Vec<(String, Count)> = map
        .iter()
        .filter(|(k, _)| !order.contains(&k.as_str()))
        .filter_map(|(k, v)| Count::from_json(v).map(|c| (k.clone(), c)))
        .collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    rows.extend(rest);
    rows
}

/// The funnel's steps, in the server's order: `[{"step", "count"}]`.
pub fn funnel_rows(value: Option<&Value>) -> Vec<(String, Count)> {
    value
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| {
                    let step = s.get("step")?.as_str()?.to_string();
                    Some((step, Count::from_json(s.get("count")?)?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One figure of every breakdown row: `[(key, count)]` for `breakdown[].figures.<path>`.
pub fn breakdown_rows(answer: &Value, path: &str) -> Vec<(String, Count)> {
    answer
        .get("breakdown")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(|row| {
                    let key = row.get("key")?.as_str()?.to_string();
                    let count = at(row.get("figures")?, path)
                        .and_then(Count::from_json)
                        .unwrap_or(Count::N(0));
                    Some((key, count))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Puts breakdown rows in `order` (the enum's codes), keeping unknown keys after them.
pub fn ordered(mut rows: Vec<(String, Count)>, order: &[&str]) -> Vec<(String, Count)> {
    rows.sort_by_key(|(k, _)| order.iter().position(|c| c == k).unwrap_or(order.len()));
    rows
}

/// The order of the workers' figures (`workers` also holds `foreign`, a map of its own).
pub const WORKERS: &[&str] = &["women", "men", "under_18", "under_14", "indigenous"];

/// Which domain enum names the keys of a chart, for their labels and their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codes {
    Sector,
    Finding,
    Indicator,
    Stage,
    Sex,
    AgeBand,
    Nationality,
    Region,
    /// The office's own tables (services, offences, funnel steps, workers) label these.
    Office,
}

impl Codes {
    /// The codes in the enum's declaration order.
    pub fn order(self) -> &'static [&'static str] {
        match self {
            Codes::Sector => Sector::NAMES,
            Codes::Finding => Finding::NAMES,
            Codes::Indicator => Indicator::NAMES,
            Codes::Stage => Stage::NAMES,
            Codes::Sex => Sex::NAMES,
            Codes::AgeBand => AgeBand::NAMES,
            Codes::Nationality => Nationality::NAMES,
            Codes::Region => Region::NAMES,
            Codes::Office => &[],
        }
    }
}

/// A table of figures: what a chart draws, its accessible table, and its CSV.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The header of each column, the first naming the rows.
    pub columns: Vec<String>,
    /// Each row: its code (`data-key`), its label, and one cell per further column.
    pub rows: Vec<(String, String, Vec<Cell>)>,
}

impl Table {
    /// The table as CSV (RFC 4180: quoted when needed, CRLF line ends), with the labels as shown
    /// and the code as a last column so a spreadsheet can join on it.
    pub fn csv(&self) -> String {
        let mut out = String::new();
        let mut header: Vec<String> = self.columns.iter().map(|c| csv_field(c)).collect();
        header.push("code".to_string());
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for (code, label, cells) in &self.rows {
            let mut line = vec![csv_field(label)];
            line.extend(cells.iter().map(|c| csv_field(&c.csv())));
            line.push(csv_field(code));
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The largest count of column `col`, for scaling bars (at least 1).
    pub fn max(&self, col: usize) -> u64 {
        self.rows
            .iter()
            .filter_map(|(_, _, cells)| cells.get(col).and_then(Cell::count))
            .map(Count::draw_value)
            .max()
            .unwrap_or(0)
            .max(1)
    }
}

/// One CSV field, quoted when it holds a comma, a quote or a line break. A leading `=`, `+`,
/// `-` or `@` is prefixed with `'` so that a spreadsheet never runs a district's name as a
/// formula.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Where each department sits on the tile-grid map: (region, column, row), columns west to
/// east, rows north to south, so that neighbours on the grid are mostly neighbours in Peru.
pub const TILES: [(Region, u8, u8); 25] = [
    (Region::Tumbes, 0, 0),
    (Region::Amazonas, 2, 0),
    (Region::Piura, 0, 1),
    (Region::Cajamarca, 1, 1),
    (Region::SanMartin, 2, 1),
    (Region::Loreto, 3, 1),
    (Region::Lambayeque, 0, 2),
    (Region::LaLibertad, 1, 2),
    (Region::Huanuco, 2, 2),
    (Region::Ucayali, 3, 2),
    (Region::Ancash, 1, 3),
    (Region::Pasco, 2, 3),
    (Region::Junin, 3, 3),
    (Region::MadreDeDios, 4, 3),
    (Region::Callao, 1, 4),
    (Region::Lima, 2, 4),
    (Region::Huancavelica, 3, 4),
    (Region::Cusco, 4, 4),
    (Region::Ica, 2, 5),
    (Region::Ayacucho, 3, 5),
    (Region::Apurimac, 4, 5),
    (Region::Puno, 5, 5),
    (Region::Arequipa, 3, 6),
    (Region::Moquegua, 4, 6),
    (Region::Tacna, 5, 6),
];

/// Columns and rows of the tile grid.
pub const GRID: (u8, u8) = (6, 7);

/// Shades of the map's scale; 0 is "none".
pub const SHADES: u8 = 5;

/// The shade of a count on a scale up to `max`: 0 for zero, else 1 to [`SHADES`] in equal steps.
/// A suppressed count takes the first shade: all that is known is that it is under 5.
pub fn shade(count: Count, max: u64) -> u8 {
    match count {
        Count::Few => 1,
        Count::N(0) => 0,
        Count::N(n) => {
            let max = max.max(1);
            let step = (n.min(max) * u64::from(SHADES)).div_ceil(max);
            step.clamp(1, u64::from(SHADES)) as u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_read_numbers_and_the_suppressed_marker() {
        assert_eq!(Count::from_json(&json!(12)), Some(Count::N(12)));
        assert_eq!(Count::from_json(&json!("<5")), Some(Count::Few));
        assert_eq!(Count::from_json(&json!("lots")), None);
        assert_eq!(Count::from_json(&Value::Null), None);
    }

    #[test]
    fn a_median_of_nothing_is_missing_and_a_half_day_keeps_its_decimal() {
        assert_eq!(Cell::from_json(Some(&Value::Null)).text(), "—");
        assert_eq!(Cell::from_json(None), Cell::Missing);
        assert_eq!(Cell::from_json(Some(&json!(12.5))).text(), "12.5");
        assert_eq!(Cell::from_json(Some(&json!(12))).text(), "12");
        assert_eq!(Cell::from_json(Some(&json!(0.25))).text(), "0.3");
        assert_eq!(Cell::from_json(Some(&json!("<5"))).text(), "<5");
    }

    #[test]
    fn map_rows_follow_the_enum_order_and_keep_unknown_codes_last() {
        let v = json!({"male": 7, "zzz": 1, "female": "<5", "other": 0, "unknown": 0});
        let rows = map_rows(Some(&v), Codes::Sex.order());
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["female", "male", "other", "unknown", "zzz"]);
        assert_eq!(rows[0].1, Count::Few);
    }

    #[test]
    fn breakdown_rows_read_one_figure_of_each_key() {
        let answer = json!({"breakdown": [
            {"key": "loreto", "figures": {"inspections": 3, "people": {"identified": 2}}},
            {"key": "cusco", "figures": {"inspections": "<5", "people": {"identified": "<5"}}}
        ]});
        assert_eq!(
            breakdown_rows(&answer, "people.identified"),
            vec![
                ("loreto".to_string(), Count::N(2)),
                ("cusco".to_string(), Count::Few)
            ]
        );
        let sorted = ordered(
            breakdown_rows(&answer, "inspections"),
            Codes::Region.order(),
        );
        assert_eq!(sorted[0].0, "cusco");
    }

    #[test]
    fn funnel_keeps_the_servers_order() {
        let v = json!([{"step": "inspections", "count": 30}, {"step": "conviction", "count": 1}]);
        assert_eq!(
            funnel_rows(Some(&v)),
            vec![
                ("inspections".to_string(), Count::N(30)),
                ("conviction".to_string(), Count::N(1))
            ]
        );
    }

    #[test]
    fn csv_quotes_commas_and_quotes_and_disarms_formulas() {
        let table = Table {
            columns: vec!["Sector".into(), "Inspecciones".into()],
            rows: vec![
                (
                    "a".into(),
                    "Minería, aurífera".into(),
                    vec![Cell::Count(Count::N(3))],
                ),
                (
                    "b".into(),
                    "=HYPERLINK(\"x\")".into(),
                    vec![Cell::Count(Count::Few)],
                ),
                ("c".into(), "Mediana".into(), vec![Cell::Missing]),
            ],
        };
        assert_eq!(
            table.csv(),
            "Sector,Inspecciones,code\r\n\"Minería, aurífera\",3,a\r\n\"'=HYPERLINK(\"\"x\"\")\",<5,b\r\nMediana,,c\r\n"
        );
        assert_eq!(csv_field("-3"), "-3");
    }

    #[test]
    fn every_department_has_its_own_tile_inside_the_grid() {
        let mut seen = std::collections::BTreeSet::new();
        for (region, col, row) in TILES {
            assert!(col < GRID.0 && row < GRID.1, "{region:?} is off the grid");
            assert!(seen.insert((col, row)), "{region:?} shares a tile");
        }
        let regions: std::collections::BTreeSet<_> = TILES.iter().map(|t| t.0).collect();
        assert_eq!(regions.len(), Region::ALL.len());
    }

    #[test]
    fn shades_grow_with_the_count_and_zero_is_unshaded() {
        assert_eq!(shade(Count::N(0), 10), 0);
        assert_eq!(shade(Count::N(1), 10), 1);
        assert_eq!(shade(Count::N(10), 10), SHADES);
        assert_eq!(shade(Count::N(6), 10), 3);
        assert_eq!(shade(Count::Few, 10), 1);
        assert_eq!(shade(Count::N(3), 0), SHADES);
    }
}
