//! The exports, one page at a time: inspections as CSV, people found as CSV (pseudonymous
//! codes only) and inspection points as GeoJSON (RFC 7946). The route streams the pages
//! ([`crate::routes::figures`]); each page is read on the blocking pool from the winning
//! revisions, so memory stays flat whatever the size.
//!
//! What is never exported: names of anyone (team members, `created_by`), sealed identities,
//! free text (notes, evidence, site names, localities, "other" descriptions: a person's name
//! can hide in any of them), photos, and every field of a person but its code and coded
//! categories.

use chaski_shared::doc::DocId;
use chaski_shared::domain::time::INSPECTION_PREFIX;
use chaski_shared::domain::{
    Choice, ConsentStatus, Finding, Indicator, Inspection, Region, Service, Status,
};
use chaski_shared::store::GetOptions;
use serde_json::json;

use super::report::{csv_field, Period};
use super::{CaseFacts, ReferredPerson};
use crate::db::SledStore;

/// Inspections read per page.
pub const PAGE: usize = 500;

/// What to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    InspectionsCsv,
    PeopleCsv,
    GeoJson,
}

impl ExportKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportKind::InspectionsCsv | ExportKind::PeopleCsv => "text/csv; charset=utf-8",
            ExportKind::GeoJson => "application/geo+json",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            ExportKind::InspectionsCsv => "inspections.csv",
            ExportKind::PeopleCsv => "people.csv",
            ExportKind::GeoJson => "inspections.geojson",
        }
    }

    /// What comes before the first row.
    pub fn header(self) -> Vec<u8> {
        match self {
            ExportKind::InspectionsCsv => csv_line(&inspection_columns()),
            ExportKind::PeopleCsv => csv_line(&PEOPLE_COLUMNS.map(str::to_owned)),
            ExportKind::GeoJson => br#"{"type":"FeatureCollection","features":["#.to_vec(),
        }
    }

    /// What comes after the last row.
    pub fn footer(self) -> Vec<u8> {
        match self {
            ExportKind::GeoJson => b"\n]}\n".to_vec(),
            _ => Vec::new(),
        }
    }
}

/// The inspections CSV's columns.
pub fn inspection_columns() -> Vec<String> {
    let mut columns: Vec<String> = [
        "id",
        "code",
        "region",
        "district",
        "sector",
        "visit_date",
        "visit_start",
        "visit_end",
        "lat",
        "lon",
        "gps_accuracy_m",
        "location_source",
        "access_modes",
        "accompanied_by",
        "team_size",
        "workers_total",
        "workers_women",
        "workers_men",
        "workers_other_or_unknown",
        "workers_under_18",
        "workers_under_14",
        "workers_indigenous",
        "workers_foreign",
        "workers_nationalities",
    ]
    .map(str::to_owned)
    .to_vec();
    columns.extend(Indicator::NAMES.iter().map(|n| format!("indicator_{n}")));
    columns.extend(Finding::NAMES.iter().map(|n| format!("finding_{n}")));
    columns.extend(
        [
            "people_found",
            "photos",
            "case_state",
            "referrals",
            "people_referred",
            "prosecution_offence",
            "outcome",
            "sentence_months",
            "created_at",
            "updated_at",
        ]
        .map(str::to_owned),
    );
    columns
}

/// The people CSV's columns.
pub const PEOPLE_COLUMNS: [&str; 17] = [
    "inspection_id",
    "inspection_code",
    "region",
    "district",
    "sector",
    "visit_date",
    "person_code",
    "age_band",
    "sex",
    "nationality",
    "indigenous_people",
    "needs",
    "consent",
    "consent_given_by",
    "referred",
    "referred_to",
    "referral_attended",
];

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line.into_bytes()
}

fn joined<T: Choice>(values: &[T]) -> String {
    values
        .iter()
        .map(|v| v.name())
        .collect::<Vec<_>>()
        .join(";")
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn name<T: Choice>(value: Option<T>) -> String {
    value.map(|v| v.name().to_owned()).unwrap_or_default()
}

/// One page of an export.
pub struct Page {
    pub bytes: Vec<u8>,
    /// Where the next page starts (after this id); `None` when the region is done.
    pub next: Option<String>,
    /// Whether a GeoJSON feature has been written (so the next needs a comma).
    pub wrote_feature: bool,
}

/// Reads the page of `region`'s inspections after `after` (from the first when `None`),
/// keeps the submitted ones visited in `period`, and writes their rows. Synchronous: run it
/// on the blocking pool.
pub fn page(
    store: &SledStore,
    region: Region,
    kind: ExportKind,
    period: &Period,
    after: Option<&str>,
    mut wrote_feature: bool,
) -> chaski_shared::Result<Page> {
    let mut ids: Vec<String> = Vec::with_capacity(PAGE);
    let mut full = false;
    store.scan_winners(Some(after.unwrap_or(INSPECTION_PREFIX)), false, |id, _| {
        if !id.starts_with(INSPECTION_PREFIX) {
            return Ok(false);
        }
        if Some(id) == after {
            return Ok(true);
        }
        if ids.len() >= PAGE {
            full = true;
            return Ok(false);
        }
        ids.push(id.to_owned());
        Ok(true)
    })?;
    let cases: Vec<Option<CaseFacts>> = store
        .with_figures(|figures| {
            ids.iter()
                .map(|id| figures.case(id).map(|(_, case)| case.clone()))
                .collect()
        })?
        .unwrap_or_else(|| vec![None; ids.len()]);
    let mut out = Vec::new();
    for (id, case) in ids.iter().zip(cases) {
        let Ok(doc_id) = DocId::parse(id.as_str()) else {
            continue;
        };
        let doc = match store.get_now(&doc_id, &GetOptions::default()) {
            Ok(doc) => doc,
            Err(chaski_shared::Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        if doc.deleted {
            continue;
        }
        let Ok(inspection) = Inspection::parse(&doc.body) else {
            continue;
        };
        if inspection.status != Status::Submitted {
            continue;
        }
        let visit_date = super::visit_date(&inspection);
        if !period.contains(visit_date.as_deref()) {
            continue;
        }
        let row = Row {
            id,
            region,
            inspection: &inspection,
            visit_date: visit_date.as_deref(),
            case: case.as_ref(),
            photos: doc.attachments.len(),
        };
        match kind {
            ExportKind::InspectionsCsv => out.extend(row.inspection_csv()),
            ExportKind::PeopleCsv => out.extend(row.people_csv()),
            ExportKind::GeoJson => {
                if let Some(feature) = row.feature() {
                    out.extend_from_slice(if wrote_feature { b",\n" } else { b"\n" });
                    // Writing into a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut out, &feature);
                    wrote_feature = true;
                }
            }
        }
    }
    Ok(Page {
        bytes: out,
        next: if full { ids.last().cloned() } else { None },
        wrote_feature,
    })
}

struct Row<'a> {
    id: &'a str,
    region: Region,
    inspection: &'a Inspection,
    visit_date: Option<&'a str>,
    case: Option<&'a CaseFacts>,
    photos: usize,
}

impl Row<'_> {
    fn code(&self) -> String {
        crate::office::short_code(self.id)
    }

    fn district(&self) -> String {
        self.inspection.district.clone().unwrap_or_default()
    }

    fn inspection_csv(&self) -> Vec<u8> {
        let i = self.inspection;
        let w = &i.workers;
        let gps = i.gps.as_ref();
        let mut fields: Vec<String> = vec![
            self.id.to_owned(),
            self.code(),
            self.region.db_name().to_owned(),
            self.district(),
            name(i.sector),
            opt(self.visit_date),
            opt(i.visit_start.as_ref().map(|t| t.as_str())),
            opt(i.visit_end.as_ref().map(|t| t.as_str())),
            opt(gps.map(|g| g.lat)),
            opt(gps.map(|g| g.lon)),
            opt(gps.and_then(|g| g.accuracy_m)),
            name(i.location_source),
            joined(&i.access.modes),
            joined(&i.accompanied_by),
            i.team.len().to_string(),
            opt(w.total),
            opt(w.women),
            opt(w.men),
            opt(w.other_or_unknown),
            opt(w.minors_under_18),
            opt(w.minors_under_14),
            opt(w.indigenous),
            opt(w.foreign),
            w.nationalities
                .iter()
                .map(|n| format!("{}:{}", n.country.name(), n.count.unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(";"),
        ];
        for indicator in Indicator::ALL {
            let seen = i.indicators.get(indicator).is_some_and(|o| o.seen);
            fields.push(if seen { "1" } else { "0" }.to_owned());
        }
        for finding in Finding::ALL {
            fields.push(
                if i.findings.contains(finding) {
                    "1"
                } else {
                    "0"
                }
                .to_owned(),
            );
        }
        let case = self.case;
        let outcome = case.and_then(|c| c.outcome);
        fields.extend([
            i.people.len().to_string(),
            self.photos.to_string(),
            case.map(|c| c.state.name().to_owned()).unwrap_or_default(),
            case.map_or(0, |c| c.referrals).to_string(),
            case.map_or(0, |c| c.referred.len()).to_string(),
            name(case.and_then(|c| c.prosecution).map(|(_, o)| o)),
            name(outcome.map(|(kind, _)| kind)),
            opt(outcome
                .and_then(|(_, s)| s)
                .filter(|s| !s.life)
                .map(|s| s.years * 12 + s.months)),
            opt(i.created_at.as_ref().map(|t| t.as_str())),
            opt(i.updated_at.as_ref().map(|t| t.as_str())),
        ]);
        csv_line(&fields)
    }

    fn people_csv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.inspection.people {
            let referred: Option<&ReferredPerson> = self
                .case
                .and_then(|c| c.referred.iter().find(|r| r.code == p.code.as_str()));
            let services: Vec<Service> = Service::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| referred.is_some_and(|r| r.services & (1 << i) != 0))
                .map(|(_, s)| *s)
                .collect();
            let fields = vec![
                self.id.to_owned(),
                self.code(),
                self.region.db_name().to_owned(),
                self.district(),
                name(self.inspection.sector),
                opt(self.visit_date),
                p.code.as_str().to_owned(),
                name(p.age_band),
                name(p.sex),
                name(p.nationality),
                name(p.indigenous_people),
                joined(&p.needs),
                name(p.consent.status),
                name(
                    p.consent
                        .given_by
                        .filter(|_| p.consent.status == Some(ConsentStatus::Given)),
                ),
                if referred.is_some() { "1" } else { "0" }.to_owned(),
                joined(&services),
                if referred.is_some_and(|r| r.attended) {
                    "1"
                } else {
                    "0"
                }
                .to_owned(),
            ];
            out.extend(csv_line(&fields));
        }
        out
    }

    /// The GeoJSON feature of an inspection with a GPS point in range; `None` without one.
    fn feature(&self) -> Option<serde_json::Value> {
        let i = self.inspection;
        let gps = i.gps.as_ref()?;
        let in_range = (-90.0..=90.0).contains(&gps.lat)
            && (-180.0..=180.0).contains(&gps.lon)
            && gps.lat.is_finite()
            && gps.lon.is_finite();
        if !in_range {
            return None;
        }
        Some(json!({
            "type": "Feature",
            // RFC 7946 §3.1.1: longitude first.
            "geometry": {"type": "Point", "coordinates": [gps.lon, gps.lat]},
            "properties": {
                "id": self.id,
                "code": self.code(),
                "region": self.region.db_name(),
                "district": i.district,
                "sector": i.sector.map(|s| s.name()),
                "visit_date": self.visit_date,
                "findings": i.findings.iter().map(|f| f.name()).collect::<Vec<_>>(),
                "indicators_seen": i.indicators.values().filter(|o| o.seen).count(),
                "people_found": i.people.len(),
                "workers_total": i.workers.total,
                "case_state": self.case.map(|c| c.state.name()),
            }
        }))
    }
}
