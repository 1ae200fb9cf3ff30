//! `GET /api/figures`: the query, the figures over the cached cases, and their JSON and CSV.
//!
//! Every count is over the submitted inspections (their winning revisions) of the regions
//! asked for, whose visit date is in the period; the definitions are in the README (and in
//! the notes of issue 9). With `public=1` every count of 0–4 becomes the string `"<5"`, and
//! the statistics measured over fewer than 5 cases (medians, percentiles, sentence lengths)
//! become `null`; the stalled cases' ids are left out.

use std::collections::BTreeMap;

use chaski_shared::domain::{
    AgeBand, Choice, Finding, Indicator, IndigenousPeople, Nationality, Offence, OutcomeKind,
    Region, Sector, Service, Sex, Stage,
};
use serde_json::{json, Map, Value};

use super::{CaseFacts, InspectionFacts, RegionFigures};

/// Longest `stalled.ids` list: beyond it `ids_truncated` is true (the count stays exact).
pub const MAX_STALLED_IDS: usize = 1_000;
/// Default and bounds of `stalled_days`.
pub const DEFAULT_STALLED_DAYS: u32 = 90;
const MAX_STALLED_DAYS: u32 = 36_500;
/// Below this a published count is `"<5"`.
pub const SUPPRESS_BELOW: u64 = 5;
const DAY_MS: i64 = 86_400_000;

/// One breakdown of the figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Sector,
    Region,
    Month,
    District,
}

impl By {
    pub const NAMES: [&'static str; 4] = ["sector", "region", "month", "district"];

    fn parse(name: &str) -> Option<By> {
        Some(match name {
            "sector" => By::Sector,
            "region" => By::Region,
            "month" => By::Month,
            "district" => By::District,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            By::Sector => "sector",
            By::Region => "region",
            By::Month => "month",
            By::District => "district",
        }
    }
}

/// The period, by visit date (`YYYY-MM-DD`, inclusive; either end may be open).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Period {
    /// Whether an inspection visited on `date` is in the period. With an open period (no
    /// `from`, no `to`) every inspection counts, dated or not; otherwise only dated ones.
    pub fn contains(&self, date: Option<&str>) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        let Some(date) = date else {
            return false;
        };
        self.from.as_deref().is_none_or(|f| date >= f)
            && self.to.as_deref().is_none_or(|t| date <= t)
    }
}

/// A parsed figures or export query.
#[derive(Clone, Debug)]
pub struct FiguresQuery {
    pub period: Period,
    /// The regions asked for (`None`: every region the user may see).
    pub regions: Option<Vec<Region>>,
    pub by: Option<By>,
    pub public: bool,
    pub stalled_days: u32,
    pub csv: bool,
}

/// Checks a `YYYY-MM-DD` date (a real calendar day).
fn parse_date(name: &str, value: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "{name}={value:?} is not a date: write it as YYYY-MM-DD (for example {name}=2026-03-01)."
        )
    };
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = value.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return Err(bad());
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if d == 0 || d > days {
        return Err(bad());
    }
    Ok(value.to_owned())
}

impl FiguresQuery {
    /// Parses the query string's pairs. `figures` allows the figures' own options (`by`,
    /// `public`, `stalled_days`, `format`); the exports take the period and regions only.
    /// The error is a reason a person can act on (a 400).
    pub fn parse(pairs: &[(String, String)], figures: bool) -> Result<FiguresQuery, String> {
        let mut query = FiguresQuery {
            period: Period::default(),
            regions: None,
            by: None,
            public: false,
            stalled_days: DEFAULT_STALLED_DAYS,
            csv: false,
        };
        for (key, value) in pairs {
            match (key.as_str(), figures) {
                ("from", _) => query.period.from = Some(parse_date("from", value)?),
                ("to", _) => query.period.to = Some(parse_date("to", value)?),
                ("region", _) => {
                    let list = query.regions.get_or_insert_with(Vec::new);
                    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        let region = Region::from_db_name(name).ok_or_else(|| {
                            format!(
                                "region={name:?} is not one of Peru's 25 regions; use the \
                                 database names: {}.",
                                Region::NAMES.join(", ")
                            )
                        })?;
                        if !list.contains(&region) {
                            list.push(region);
                        }
                    }
                }
                ("by", true) => {
                    query.by = Some(By::parse(value).ok_or_else(|| {
                        format!(
                            "by={value:?} is not a breakdown; use one of: {}.",
                            By::NAMES.join(", ")
                        )
                    })?)
                }
                ("public", true) => {
                    query.public = match value.as_str() {
                        "1" | "true" => true,
                        "0" | "false" | "" => false,
                        _ => return Err(format!("public={value:?}: use public=1 or public=0.")),
                    }
                }
                ("stalled_days", true) => {
                    query.stalled_days = value
                        .parse::<u32>()
                        .ok()
                        .filter(|d| (1..=MAX_STALLED_DAYS).contains(d))
                        .ok_or_else(|| {
                            format!(
                                "stalled_days={value:?}: give a whole number of days from 1 to \
                                 {MAX_STALLED_DAYS}."
                            )
                        })?
                }
                ("format", true) => {
                    query.csv = match value.as_str() {
                        "csv" => true,
                        "json" => false,
                        _ => {
                            return Err(format!("format={value:?}: use format=csv or format=json."))
                        }
                    }
                }
                (other, _) => {
                    let allowed = if figures {
                        "from, to, region, by, public, stalled_days, format"
                    } else {
                        "from, to, region"
                    };
                    return Err(format!(
                        "Unknown parameter {:?}; this endpoint takes: {allowed}.",
                        other.chars().take(60).collect::<String>()
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (&query.period.from, &query.period.to) {
            if from > to {
                return Err(format!(
                    "The period runs backwards: from={from} is after to={to}."
                ));
            }
        }
        Ok(query)
    }
}

/// Index of a choice value in its enum's declaration order, which is the order of its
/// `NAMES` (the `choice!` macro declares both from one list, as a field-less enum).
macro_rules! ix {
    ($value:expr) => {
        $value as usize
    };
}

/// The figures of one group of cases, as counters.
#[derive(Clone, Debug)]
pub struct Acc {
    inspections: u64,
    findings: Vec<u64>,
    indicators: Vec<u64>,
    stages: Vec<u64>,
    /// Women, men, under 18, under 14, indigenous.
    workers: [u64; 5],
    foreign: Vec<u64>,
    identified: u64,
    by_sex: Vec<u64>,
    by_age: Vec<u64>,
    by_nationality: Vec<u64>,
    by_indigenous: Vec<u64>,
    referred: u64,
    by_service: Vec<u64>,
    with_consent: u64,
    attended: u64,
    opened: u64,
    by_offence: Vec<u64>,
    convictions: u64,
    acquittals: u64,
    closed: u64,
    sentences: Vec<u32>,
    days_to_referral: Vec<i64>,
    days_to_prosecution: Vec<i64>,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            inspections: 0,
            findings: vec![0; Finding::NAMES.len()],
            indicators: vec![0; Indicator::NAMES.len()],
            stages: vec![0; Stage::NAMES.len()],
            workers: [0; 5],
            foreign: vec![0; Nationality::NAMES.len()],
            identified: 0,
            by_sex: vec![0; Sex::NAMES.len()],
            by_age: vec![0; AgeBand::NAMES.len()],
            by_nationality: vec![0; Nationality::NAMES.len()],
            by_indigenous: vec![0; IndigenousPeople::NAMES.len()],
            referred: 0,
            by_service: vec![0; Service::NAMES.len()],
            with_consent: 0,
            attended: 0,
            opened: 0,
            by_offence: vec![0; Offence::NAMES.len()],
            convictions: 0,
            acquittals: 0,
            closed: 0,
            sentences: Vec::new(),
            days_to_referral: Vec::new(),
            days_to_prosecution: Vec::new(),
        }
    }
}

impl Acc {
    /// Adds one case.
    pub fn add(&mut self, facts: &InspectionFacts, case: &CaseFacts) {
        self.inspections += 1;
        for f in &facts.findings {
            self.findings[ix!(*f)] += 1;
        }
        for i in &facts.indicators {
            self.indicators[ix!(*i)] += 1;
        }
        for s in &facts.stages {
            self.stages[ix!(*s)] += 1;
        }
        for (total, n) in self.workers.iter_mut().zip(facts.workers) {
            *total += u64::from(n);
        }
        for (country, n) in &facts.foreign {
            self.foreign[ix!(*country)] += u64::from(*n);
        }
        for p in &facts.people {
            self.identified += 1;
            self.by_sex[ix!(p.sex.unwrap_or(Sex::Unknown))] += 1;
            self.by_age[ix!(p.age_band.unwrap_or(AgeBand::Unknown))] += 1;
            if let Some(n) = p.nationality {
                self.by_nationality[ix!(n)] += 1;
            }
            self.by_indigenous[ix!(p.indigenous_people.unwrap_or(IndigenousPeople::Unknown))] += 1;
        }
        for r in &case.referred {
            self.referred += 1;
            for (i, count) in self.by_service.iter_mut().enumerate() {
                if r.services & (1 << i) != 0 {
                    *count += 1;
                }
            }
            self.with_consent += u64::from(r.consent_given);
            self.attended += u64::from(r.attended);
        }
        if let Some((at, offence)) = case.prosecution {
            self.opened += 1;
            self.by_offence[ix!(offence)] += 1;
            if let Some(visit) = facts.visit_ms {
                self.days_to_prosecution.push(days_between(visit, at));
            }
        }
        if let (Some(first), Some(visit)) = (case.first_referral_ms, facts.visit_ms) {
            self.days_to_referral.push(days_between(visit, first));
        }
        match case.outcome {
            Some((OutcomeKind::Conviction, sentence)) => {
                self.convictions += 1;
                if let Some(s) = sentence.filter(|s| !s.life) {
                    self.sentences.push(s.years * 12 + s.months);
                }
            }
            Some((OutcomeKind::Acquittal, _)) => self.acquittals += 1,
            Some((OutcomeKind::Archived | OutcomeKind::Closed, _)) => self.closed += 1,
            None => {}
        }
    }

    /// The figures as JSON (the contract's FIGURES).
    pub fn to_json(&self, public: bool) -> Value {
        let cell = |n: u64| -> Value {
            if public && n < SUPPRESS_BELOW {
                json!("<5")
            } else {
                json!(n)
            }
        };
        fn map<T: Choice>(counts: &[u64], cell: &dyn Fn(u64) -> Value) -> Value {
            let mut m = Map::new();
            for (name, n) in T::NAMES.iter().zip(counts) {
                m.insert((*name).to_owned(), cell(*n));
            }
            Value::Object(m)
        }
        let w = &self.workers;
        let stat = |values: &[i64]| -> Value {
            let mut sorted = values.to_vec();
            sorted.sort_unstable();
            let n = sorted.len() as u64;
            let hidden = public && n < SUPPRESS_BELOW;
            json!({
                "cases": cell(n),
                "median": if hidden { Value::Null } else { rank(&sorted, 50).map_or(Value::Null, |v| json!(v)) },
                "p90": if hidden { Value::Null } else { rank(&sorted, 90).map_or(Value::Null, |v| json!(v)) },
            })
        };
        let sentence_months = {
            let mut sorted = self.sentences.clone();
            sorted.sort_unstable();
            if sorted.is_empty() || (public && (sorted.len() as u64) < SUPPRESS_BELOW) {
                Value::Null
            } else {
                json!({
                    "min": sorted.first(),
                    "median": rank(&sorted, 50),
                    "max": sorted.last(),
                })
            }
        };
        let forced = self.findings[ix!(Finding::ForcedLabour)];
        json!({
            "inspections": cell(self.inspections),
            "findings": map::<Finding>(&self.findings, &cell),
            "indicators": map::<Indicator>(&self.indicators, &cell),
            "indicator_stages": map::<Stage>(&self.stages, &cell),
            "workers": {
                "women": cell(w[0]), "men": cell(w[1]), "under_18": cell(w[2]),
                "under_14": cell(w[3]), "indigenous": cell(w[4]),
                "foreign": map::<Nationality>(&self.foreign, &cell),
            },
            "people": {
                "identified": cell(self.identified),
                "by_sex": map::<Sex>(&self.by_sex, &cell),
                "by_age_band": map::<AgeBand>(&self.by_age, &cell),
                "by_nationality": map::<Nationality>(&self.by_nationality, &cell),
                "by_indigenous_people": map::<IndigenousPeople>(&self.by_indigenous, &cell),
            },
            "referrals": {
                "people_referred": cell(self.referred),
                "by_service": map::<Service>(&self.by_service, &cell),
                "with_consent": cell(self.with_consent),
                "attended": cell(self.attended),
            },
            "prosecutions": {
                "opened": cell(self.opened),
                "by_offence": map::<Offence>(&self.by_offence, &cell),
            },
            "outcomes": {
                "convictions": cell(self.convictions),
                "acquittals": cell(self.acquittals),
                "closed": cell(self.closed),
                "sentence_months": sentence_months,
            },
            "funnel": [
                {"step": "inspections", "count": cell(self.inspections)},
                {"step": "forced_labour", "count": cell(forced)},
                {"step": "people_identified", "count": cell(self.identified)},
                {"step": "referred", "count": cell(self.referred)},
                {"step": "prosecution", "count": cell(self.opened)},
                {"step": "conviction", "count": cell(self.convictions)},
            ],
            "days_to_referral": stat(&self.days_to_referral),
            "days_to_prosecution": stat(&self.days_to_prosecution),
        })
    }
}

/// Whole days from `from_ms` to `to_ms`, rounded down; a step dated before the visit (a
/// clock or typing error) counts as day 0.
fn days_between(from_ms: i64, to_ms: i64) -> i64 {
    (to_ms - from_ms).max(0) / DAY_MS
}

/// The nearest-rank percentile `p` of sorted values: the value at rank ⌈p/100 · n⌉. The
/// median is `p = 50` (for an even count, the lower middle value). `None` when empty.
pub fn rank<T: Copy>(sorted: &[T], p: usize) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let r = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(r - 1).copied()
}

/// The stalled cases of a group: not closed, last step more than `days` ago.
#[derive(Default)]
pub struct Stalled {
    pub count: u64,
    pub ids: Vec<String>,
}

/// Figures over the regions' caches: totals, the breakdown and the stalled cases.
pub struct Report {
    pub totals: Acc,
    pub breakdown: BTreeMap<String, Acc>,
    pub stalled: Stalled,
}

impl Report {
    /// An empty report; for `by=sector` and `by=region`, a group per value (zeros included)
    /// so that charts draw every bar.
    pub fn new(query: &FiguresQuery, regions: &[Region]) -> Report {
        let mut breakdown = BTreeMap::new();
        match query.by {
            Some(By::Sector) => {
                for s in Sector::NAMES {
                    breakdown.insert((*s).to_owned(), Acc::default());
                }
            }
            Some(By::Region) => {
                for r in regions {
                    breakdown.insert(r.db_name().to_owned(), Acc::default());
                }
            }
            _ => {}
        }
        Report {
            totals: Acc::default(),
            breakdown,
            stalled: Stalled::default(),
        }
    }

    /// Adds every case of `region`'s cache that is in the query's period.
    pub fn add_region(
        &mut self,
        query: &FiguresQuery,
        region: Region,
        figures: &RegionFigures,
        now_ms: i64,
    ) {
        let stalled_before = now_ms - i64::from(query.stalled_days) * DAY_MS;
        let mut stalled_ids: Vec<&str> = Vec::new();
        for (id, facts, case) in figures.cases() {
            if !query.period.contains(facts.visit_date.as_deref()) {
                continue;
            }
            self.totals.add(facts, case);
            if let Some(by) = query.by {
                let key: &str = match by {
                    By::Sector => facts.sector.map_or("unknown", |s| s.name()),
                    By::Region => region.db_name(),
                    By::Month => facts
                        .visit_date
                        .as_deref()
                        .and_then(|d| d.get(..7))
                        .unwrap_or("unknown"),
                    By::District => facts.district.as_deref().unwrap_or("unknown"),
                };
                // Looked up by `&str`: no allocation per case once a key exists.
                match self.breakdown.get_mut(key) {
                    Some(group) => group.add(facts, case),
                    None => {
                        let mut group = Acc::default();
                        group.add(facts, case);
                        self.breakdown.insert(key.to_owned(), group);
                    }
                }
            }
            let stalled =
                case.outcome.is_none() && case.last_step_ms.is_some_and(|ms| ms < stalled_before);
            if stalled {
                self.stalled.count += 1;
                if !query.public {
                    stalled_ids.push(id);
                }
            }
        }
        // Only the first ids (in order) are listed: keep those, without copying the rest.
        if stalled_ids.len() > MAX_STALLED_IDS {
            stalled_ids.select_nth_unstable(MAX_STALLED_IDS);
            stalled_ids.truncate(MAX_STALLED_IDS);
        }
        self.stalled
            .ids
            .extend(stalled_ids.into_iter().map(str::to_owned));
        self.stalled.ids.sort_unstable();
        self.stalled.ids.truncate(MAX_STALLED_IDS);
    }

    /// The JSON answer.
    pub fn to_json(&mut self, query: &FiguresQuery, regions: &[Region]) -> Value {
        let mut answer = json!({
            "from": query.period.from,
            "to": query.period.to,
            "regions": regions.iter().map(|r| r.db_name()).collect::<Vec<_>>(),
            "by": query.by.map(By::name),
            "public": query.public,
            "totals": self.totals.to_json(query.public),
        });
        if query.by.is_some() {
            answer["breakdown"] = self
                .breakdown_keys(query)
                .into_iter()
                .map(|key| json!({"key": key, "figures": self.breakdown[&key].to_json(query.public)}))
                .collect();
        }
        let count = if query.public && self.stalled.count < SUPPRESS_BELOW {
            json!("<5")
        } else {
            json!(self.stalled.count)
        };
        let mut stalled = json!({"days": query.stalled_days, "count": count});
        if !query.public {
            stalled["ids"] = json!(self.stalled.ids);
            if self.stalled.count > self.stalled.ids.len() as u64 {
                stalled["ids_truncated"] = json!(true);
            }
        }
        answer["stalled"] = stalled;
        answer
    }

    /// Breakdown keys in reading order: sectors in the domain's order, the rest sorted.
    fn breakdown_keys(&self, query: &FiguresQuery) -> Vec<String> {
        let mut keys: Vec<String> = self.breakdown.keys().cloned().collect();
        if query.by == Some(By::Sector) {
            keys.sort_by_key(|k| {
                Sector::NAMES
                    .iter()
                    .position(|n| n == k)
                    .unwrap_or(usize::MAX)
            });
        }
        keys
    }

    /// The CSV answer: `key,figure,value`, one row per (`total` or breakdown key) × figure,
    /// the figure a dotted path (`findings.forced_labour`, `funnel.referred`).
    pub fn to_csv(&mut self, query: &FiguresQuery, regions: &[Region]) -> String {
        let json = self.to_json(query, regions);
        let mut out = String::from("key,figure,value\r\n");
        flatten_rows(&mut out, "total", "", &json["totals"]);
        if let Some(groups) = json["breakdown"].as_array() {
            for group in groups {
                let key = group["key"].as_str().unwrap_or_default();
                flatten_rows(&mut out, key, "", &group["figures"]);
            }
        }
        flatten_rows(
            &mut out,
            "total",
            "stalled.count",
            &json["stalled"]["count"],
        );
        out
    }
}

fn flatten_rows(out: &mut String, key: &str, path: &str, value: &Value) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_rows(out, key, &join(k), v);
            }
        }
        // The funnel: its steps by name.
        Value::Array(items) => {
            for item in items {
                if let (Some(step), Some(count)) = (item["step"].as_str(), item.get("count")) {
                    flatten_rows(out, key, &join(step), count);
                }
            }
        }
        scalar => {
            let text = match scalar {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&csv_field(key));
            out.push(',');
            out.push_str(&csv_field(path));
            out.push(',');
            out.push_str(&csv_field(&text));
            out.push_str("\r\n");
        }
    }
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. A field
/// starting with `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run it
/// as a formula (districts and site data are typed by people).
pub fn csv_field(text: &str) -> String {
    let guarded;
    let text = if text.starts_with(['=', '+', '@'])
        || (text.starts_with('-') && text.parse::<f64>().is_err())
    {
        guarded = format!("'{text}");
        guarded.as_str()
    } else {
        text
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nearest_rank_percentiles_take_the_lower_middle_for_an_even_count() {
        assert_eq!(rank::<i64>(&[], 50), None);
        assert_eq!(rank(&[7], 50), Some(7));
        assert_eq!(rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(rank(&[1, 2, 3, 4, 5], 50), Some(3));
        assert_eq!(rank(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), Some(9));
        assert_eq!(rank(&[1, 2, 3], 90), Some(3));
    }

    #[test]
    fn a_query_refuses_bad_dates_backward_periods_and_unknown_breakdowns_with_reasons() {
        for (q, expect) in [
            (vec![("from", "2026-13-01")], "YYYY-MM-DD"),
            (vec![("from", "2026-02-30")], "YYYY-MM-DD"),
            (vec![("to", "01/02/2026")], "YYYY-MM-DD"),
            (vec![("from", "2026-03-01"), ("to", "2026-02-01")], "after"),
            (vec![("by", "colour")], "sector, region, month, district"),
            (vec![("region", "atlantis")], "not one of Peru"),
            (vec![("stalled_days", "0")], "stalled_days"),
            (vec![("colour", "red")], "Unknown parameter"),
        ] {
            let err = FiguresQuery::parse(&pairs(&q), true).unwrap_err();
            assert!(err.contains(expect), "{q:?}: {err}");
        }
        let ok = FiguresQuery::parse(
            &pairs(&[
                ("from", "1950-01-01"),
                ("to", "2050-12-31"),
                ("region", "loreto,cusco"),
                ("by", "month"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(ok.regions.unwrap().len(), 2);
        assert!(FiguresQuery::parse(&pairs(&[("by", "sector")]), false).is_err());
        assert!(FiguresQuery::parse(&pairs(&[("from", "2024-02-29")]), false).is_ok());
    }

    #[test]
    fn an_enum_value_s_index_is_its_place_in_names() {
        fn check<T: Choice + Copy>(all: &[T], index: impl Fn(T) -> usize) {
            for (i, value) in all.iter().enumerate() {
                assert_eq!(index(*value), i);
                assert_eq!(T::NAMES[i], value.name());
            }
            assert_eq!(all.len(), T::NAMES.len());
        }
        check(Finding::ALL, |v| ix!(v));
        check(Indicator::ALL, |v| ix!(v));
        check(Stage::ALL, |v| ix!(v));
        check(Nationality::ALL, |v| ix!(v));
        check(Sex::ALL, |v| ix!(v));
        check(AgeBand::ALL, |v| ix!(v));
        check(IndigenousPeople::ALL, |v| ix!(v));
        check(Service::ALL, |v| ix!(v));
        check(Offence::ALL, |v| ix!(v));
        check(Sector::ALL, |v| ix!(v));
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_are_defused() {
        assert_eq!(csv_field("Inambari"), "Inambari");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-12.95"), "-12.95");
    }
}
