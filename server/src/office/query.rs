//! The inbox's query: parameters parsed once at the edge (each bad value is a 400 naming its
//! parameter), then a filter over the region's sorted rows, a page and the facets.

use std::collections::{BTreeMap, BTreeSet};

use chaski_shared::domain::validate::Choice;
use chaski_shared::domain::{CaseState, Finding, Indicator, Sector, Timestamp};
use serde::Serialize;

use super::{Row, Sorted};

/// Most rows per page.
pub const MAX_LIMIT: usize = 200;
/// Rows per page when the request names none.
pub const DEFAULT_LIMIT: usize = 50;
/// Longest free-text search, in characters.
pub const MAX_Q_CHARS: usize = 200;
/// Most values of one repeatable parameter.
pub const MAX_VALUES: usize = 50;
/// Largest offset: far beyond any region's inspections, small enough to never overflow.
pub const MAX_OFFSET: usize = 10_000_000;

/// A parsed inbox query. Repeated `state`, `sector`, `finding`, `indicator` and `district`
/// mean "any of".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InboxQuery {
    pub states: BTreeSet<CaseState>,
    pub sectors: BTreeSet<Sector>,
    pub findings: BTreeSet<Finding>,
    pub indicators: BTreeSet<Indicator>,
    /// Folded district names.
    pub districts: BTreeSet<String>,
    /// Inclusive `YYYY-MM-DD` bounds on the visit date.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Folded search text.
    pub q: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

/// Why a query is refused: the parameter and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParameter {
    pub name: String,
    pub reason: String,
}

impl std::fmt::Display for BadParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.reason)
    }
}

fn bad(name: &str, reason: String) -> BadParameter {
    BadParameter {
        name: name.to_owned(),
        reason,
    }
}

fn choice<T: Choice + Ord>(
    name: &str,
    value: &str,
    into: &mut BTreeSet<T>,
) -> Result<(), BadParameter> {
    let parsed = T::from_name(value.trim()).ok_or_else(|| {
        bad(
            name,
            format!("{value:?} is not one of {}.", T::NAMES.join(", ")),
        )
    })?;
    into.insert(parsed);
    Ok(())
}

fn date(name: &str, value: &str) -> Result<String, BadParameter> {
    let value = value.trim();
    if value.len() == 10 && Timestamp::parse(&format!("{value}T00:00:00Z")).is_some() {
        Ok(value.to_owned())
    } else {
        Err(bad(
            name,
            format!("{value:?} is not a date written YYYY-MM-DD (for example 2026-11-28)."),
        ))
    }
}

fn number(name: &str, value: &str, max: usize) -> Result<usize, BadParameter> {
    match value.trim().parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(bad(
            name,
            format!("{value:?} is not a whole number from 0 to {max}."),
        )),
    }
}

impl InboxQuery {
    /// Parses the query string's pairs. Unknown parameters are refused too: a misspelt filter
    /// would otherwise silently show everything.
    pub fn parse(pairs: &[(String, String)]) -> Result<InboxQuery, BadParameter> {
        let mut query = InboxQuery {
            limit: DEFAULT_LIMIT,
            ..InboxQuery::default()
        };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, value) in pairs {
            let count = counts.entry(name.as_str()).or_default();
            *count += 1;
            if *count > MAX_VALUES {
                return Err(bad(name, format!("at most {MAX_VALUES} values.")));
            }
            let single = |query_has: bool| {
                if query_has {
                    Err(bad(name, "may be given only once.".to_owned()))
                } else {
                    Ok(())
                }
            };
            match name.as_str() {
                "state" => choice(name, value, &mut query.states)?,
                "sector" => choice(name, value, &mut query.sectors)?,
                "finding" => choice(name, value, &mut query.findings)?,
                "indicator" => choice(name, value, &mut query.indicators)?,
                "district" => {
                    let folded = fold(value.trim());
                    if folded.is_empty() || value.chars().count() > MAX_Q_CHARS {
                        return Err(bad(
                            name,
                            format!("must be a district name of 1 to {MAX_Q_CHARS} characters."),
                        ));
                    }
                    query.districts.insert(folded);
                }
                "from" => {
                    single(query.from.is_some())?;
                    query.from = Some(date(name, value)?);
                }
                "to" => {
                    single(query.to.is_some())?;
                    query.to = Some(date(name, value)?);
                }
                "q" => {
                    single(query.q.is_some())?;
                    if value.chars().count() > MAX_Q_CHARS {
                        return Err(bad(name, format!("at most {MAX_Q_CHARS} characters.")));
                    }
                    let folded = fold(value.trim());
                    query.q = (!folded.is_empty()).then_some(folded);
                }
                "offset" => {
                    single(*count > 1)?;
                    query.offset = number(name, value, MAX_OFFSET)?;
                }
                "limit" => {
                    single(*count > 1)?;
                    query.limit = number(name, value, MAX_LIMIT)?;
                }
                other => {
                    return Err(bad(
                        other,
                        "is not a parameter of the inbox (state, sector, from, to, district, \
                         finding, indicator, q, offset, limit)."
                            .to_owned(),
                    ))
                }
            }
        }
        if let (Some(from), Some(to)) = (&query.from, &query.to) {
            if from > to {
                return Err(bad(
                    "from",
                    format!("{from} is after to ({to}): the range is empty."),
                ));
            }
        }
        Ok(query)
    }

    /// Whether `row` passes every filter.
    pub fn matches(&self, row: &Row) -> bool {
        let s = &row.summary;
        (self.states.is_empty() || self.states.contains(&row.state))
            && (self.sectors.is_empty() || s.sector.is_some_and(|x| self.sectors.contains(&x)))
            && (self.findings.is_empty() || s.findings.iter().any(|f| self.findings.contains(f)))
            && (self.indicators.is_empty()
                || s.indicators.iter().any(|i| self.indicators.contains(i)))
            && (self.districts.is_empty()
                || s.district_key
                    .as_ref()
                    .is_some_and(|d| self.districts.contains(d)))
            && self
                .from
                .as_ref()
                .is_none_or(|from| s.visit_date.as_ref().is_some_and(|d| d >= from))
            && self
                .to
                .as_ref()
                .is_none_or(|to| s.visit_date.as_ref().is_some_and(|d| d <= to))
            && self
                .q
                .as_ref()
                .is_none_or(|q| s.search.contains(q.as_str()))
    }

    /// The page of the inbox (longest-waiting first) this query asks for, at `now_ms`.
    pub fn run(&self, inbox: &Sorted, now_ms: i64) -> InboxPage {
        let mut total = 0usize;
        let mut rows = Vec::new();
        for row in &inbox.rows {
            if !self.matches(row) {
                continue;
            }
            if total >= self.offset && rows.len() < self.limit {
                rows.push(InboxRow::new(row, now_ms));
            }
            total += 1;
        }
        InboxPage {
            total,
            offset: self.offset,
            rows,
            facets: Facets {
                districts: inbox.districts.clone(),
                states: inbox
                    .states
                    .iter()
                    .map(|(state, n)| (state.name(), *n))
                    .collect(),
            },
        }
    }
}

/// `GET /api/office/{db}/inbox`'s answer.
#[derive(Debug, Serialize)]
pub struct InboxPage {
    /// Rows matching the filters, over every page.
    pub total: usize,
    pub offset: usize,
    pub rows: Vec<InboxRow>,
    pub facets: Facets,
}

/// Values to offer in the filters, over the region's whole inbox (whatever the filters).
#[derive(Debug, Serialize)]
pub struct Facets {
    /// Every district of the region's submitted inspections, sorted.
    pub districts: Vec<String>,
    /// How many cases are in each state (every state, zero included).
    pub states: BTreeMap<&'static str, usize>,
}

/// One inbox row on the wire.
#[derive(Debug, Serialize)]
pub struct InboxRow {
    pub id: String,
    pub rev: String,
    pub state: CaseState,
    pub inspector: Option<String>,
    pub visit_date: Option<String>,
    pub sector: Option<Sector>,
    pub district: Option<String>,
    pub site_name: Option<String>,
    pub code: String,
    pub people_found: usize,
    /// Whole days since the last step (0 when it has none).
    pub waiting_days: i64,
    pub last_step_at: Option<String>,
    pub findings: Vec<Finding>,
    pub indicators: Vec<Indicator>,
}

const DAY_MS: i64 = 86_400_000;

impl InboxRow {
    fn new(row: &Row, now_ms: i64) -> InboxRow {
        let s = &row.summary;
        InboxRow {
            id: s.id.clone(),
            rev: s.rev.clone(),
            state: row.state,
            inspector: s.inspector.clone(),
            visit_date: s.visit_date.clone(),
            sector: s.sector,
            district: s.district.clone(),
            site_name: s.site_name.clone(),
            code: s.code.clone(),
            people_found: s.people_found,
            waiting_days: row
                .last_step_ms
                .map_or(0, |at| (now_ms.saturating_sub(at) / DAY_MS).max(0)),
            last_step_at: row.last_step_at.as_ref().map(|t| t.as_str().to_owned()),
            findings: s.findings.clone(),
            indicators: s.indicators.clone(),
        }
    }
}

/// Text folded for search: lower case, Spanish (and common Portuguese and French) accents
/// removed, so "Jose" finds "José" and "PAMPA" finds "La Pampa". By hand: a Unicode
/// normalisation table would be a dependency for a handful of letters.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn repeated_filters_mean_any_of_and_defaults_apply() {
        let q = InboxQuery::parse(&pairs(&[
            ("state", "has_issues"),
            ("state", "resubmitted"),
            ("sector", "logging"),
            ("q", "  Pámpa "),
        ]))
        .unwrap();
        assert_eq!(q.states.len(), 2);
        assert_eq!(q.q.as_deref(), Some("pampa"));
        assert_eq!((q.offset, q.limit), (0, DEFAULT_LIMIT));
    }

    #[test]
    fn each_bad_value_names_its_parameter() {
        for (name, value) in [
            ("state", "done"),
            ("sector", "mining"),
            ("finding", "x"),
            ("indicator", "debt"),
            ("from", "28/11/2026"),
            ("to", "2026-13-01"),
            ("limit", "201"),
            ("limit", "-1"),
            ("offset", "many"),
            ("stat", "reviewed"),
        ] {
            let err = InboxQuery::parse(&pairs(&[(name, value)])).unwrap_err();
            assert_eq!(err.name, name, "{err}");
        }
        let long = "x".repeat(MAX_Q_CHARS + 1);
        assert_eq!(
            InboxQuery::parse(&pairs(&[("q", &long)])).unwrap_err().name,
            "q"
        );
        let err =
            InboxQuery::parse(&pairs(&[("from", "2026-12-01"), ("to", "2026-11-01")])).unwrap_err();
        assert_eq!(err.name, "from");
    }

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("Ñuñoa JOSÉ Güemes"), "nunoa jose guemes");
    }
}
