//! The inspection: what a field team saw at one site on one visit, parsed from its document.
//!
//! Two levels of rules. A **draft** is autosaved on every keystroke, so it may be incomplete and
//! even momentarily inconsistent: only type, format and range errors block it. A **submitted**
//! inspection is evidence, so it must also say where, when, who, and carry counts and findings
//! that agree with each other. [`Inspection::submission_problems`] runs the second level on a
//! draft, for the summary the inspector reviews before pressing "submit".

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::indicators::{self, Indicators};
use super::person::{self, Nationality, PersonFound};
use super::region::Region;
use super::time::{Timestamp, INSPECTION_PREFIX};
use super::validate::{
    choice, index, is_empty, join, object_value, ErrorCode, Errors, FieldError, Format, Obj, Rule,
};
use crate::doc::{Attachment, Document};
use crate::sealed::{ENVELOPE_MAGIC, MAX_KEY_ID, MIN_CIPHERTEXT, SEALED_CONTENT_TYPE};

/// The `type` of an inspection document.
pub const INSPECTION_TYPE: &str = "inspection";
/// Largest photo attachment: photos are resized and compressed on the device first.
pub const MAX_PHOTO_BYTES: u64 = 200 * 1024;
/// Largest sealed photo attachment: a photo and the envelope around it (the magic line, the
/// longest key id and its newline, HPKE's encapsulated key and tag): 200 KiB + 129 bytes.
pub const MAX_SEALED_PHOTO_BYTES: u64 = MAX_PHOTO_BYTES + SEALED_ENVELOPE_OVERHEAD;
/// The most a sealed envelope adds to what it seals.
pub const SEALED_ENVELOPE_OVERHEAD: u64 =
    (ENVELOPE_MAGIC.len() + MAX_KEY_ID + 1 + MIN_CIPHERTEXT) as u64;
/// Most photos per inspection.
pub const MAX_PHOTOS: usize = 50;
/// Most people found per inspection.
pub const MAX_PEOPLE: usize = 500;
/// Most team members.
pub const MAX_TEAM: usize = 20;
/// Largest worker count: beyond this a number is a typo (the largest mining camps count
/// thousands).
pub const MAX_WORKERS: u32 = 100_000;
/// Longest free notes, in characters.
pub const MAX_NOTES_CHARS: usize = 10_000;
/// Longest short text (site name, locality, captions), in characters.
pub const MAX_SHORT_CHARS: usize = 200;
/// Longest note on one part of the form (access, companions), in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// Peru's bounding box, with a margin: a point outside it is a typing mistake, most often
/// latitude and longitude swapped.
pub const PERU_LAT: (f64, f64) = (-18.5, 0.1);
/// See [`PERU_LAT`].
pub const PERU_LON: (f64, f64) = (-81.5, -68.5);

choice! {
    /// The economic sector of the site.
    pub enum Sector {
        GoldMining = "gold_mining",
        Logging = "logging",
        Agriculture = "agriculture",
        BrickMaking = "brick_making",
        DomesticWork = "domestic_work",
        BarsAndNightclubs = "bars_and_nightclubs",
        Fishing = "fishing",
        Textile = "textile",
        Other = "other",
    }
}

choice! {
    /// Whether an inspection is still being written or handed in as evidence.
    pub enum Status {
        Draft = "draft",
        Submitted = "submitted",
    }
}

choice! {
    /// Where the coordinates came from.
    pub enum LocationSource {
        Gps = "gps",
        Manual = "manual",
    }
}

choice! {
    /// How the team reached the site.
    pub enum AccessMode {
        RiverBoat = "river_boat",
        Road = "road",
        OnFoot = "on_foot",
        Air = "air",
        Other = "other",
    }
}

choice! {
    /// Who accompanied the team.
    pub enum Companion {
        Police = "police",
        Prosecutor = "prosecutor",
        Ngo = "ngo",
        Ombudsman = "ombudsman",
        Other = "other",
    }
}

choice! {
    /// What the team concluded.
    pub enum Finding {
        ForcedLabour = "forced_labour",
        ChildLabour = "child_labour",
        SexualExploitation = "sexual_exploitation",
        TraffickingSuspected = "trafficking_suspected",
    }
}

/// A GPS point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GpsPoint {
    pub lat: f64,
    pub lon: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// How the site was reached (often by boat, then on foot).
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Access {
    #[serde(skip_serializing_if = "is_empty")]
    pub modes: Vec<AccessMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A member of the inspection team: an account id, a name, or both (officials from another
/// office may have no account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TeamMember {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Foreign workers of one nationality.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NationalityCount {
    pub country: Nationality,
    /// The country's name when `country` is `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// Workers found at the site.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct Workers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub women: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub men: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_or_unknown: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minors_under_18: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minors_under_14: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indigenous: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign: Option<u32>,
    #[serde(skip_serializing_if = "is_empty")]
    pub nationalities: Vec<NationalityCount>,
}

/// A photo: the name of an attachment of the same document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Photo {
    pub attachment: String,
    /// Whether the photo shows people: then it is sealed on the device (issue 11) and its
    /// attachment is a sealed envelope, never a JPEG in clear. Photos of places stay in clear.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shows_people: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<Timestamp>,
}

/// An inspection document's body, typed. Fields a draft may leave empty are `Option`s.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inspection {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector: Option<Sector>,
    /// What the sector is when `sector` is `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector_other: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gps: Option<GpsPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_source: Option<LocationSource>,
    pub access: Access,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_end: Option<Timestamp>,
    #[serde(skip_serializing_if = "is_empty")]
    pub team: Vec<TeamMember>,
    #[serde(skip_serializing_if = "is_empty")]
    pub accompanied_by: Vec<Companion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accompanied_notes: Option<String>,
    pub workers: Workers,
    pub indicators: Indicators,
    #[serde(skip_serializing_if = "is_empty")]
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "is_empty")]
    pub people: Vec<PersonFound>,
    #[serde(skip_serializing_if = "is_empty")]
    pub photos: Vec<Photo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Fields this version does not know, written by a newer app: kept so that editing a record
    /// on an older tablet never drops them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Every field this version reads; the rest go to [`Inspection::extra`].
const KNOWN_FIELDS: &[&str] = &[
    "type",
    "status",
    "site_name",
    "sector",
    "sector_other",
    "region",
    "district",
    "locality",
    "gps",
    "location_source",
    "access",
    "visit_start",
    "visit_end",
    "team",
    "accompanied_by",
    "accompanied_notes",
    "workers",
    "indicators",
    "findings",
    "people",
    "photos",
    "notes",
    "created_by",
    "device",
    "created_at",
    "updated_at",
];

impl Default for Inspection {
    /// An empty draft.
    fn default() -> Self {
        Inspection {
            status: Status::Draft,
            site_name: None,
            sector: None,
            sector_other: None,
            region: None,
            district: None,
            locality: None,
            gps: None,
            location_source: None,
            access: Access::default(),
            visit_start: None,
            visit_end: None,
            team: Vec::new(),
            accompanied_by: Vec::new(),
            accompanied_notes: None,
            workers: Workers::default(),
            indicators: Indicators::new(),
            findings: Vec::new(),
            people: Vec::new(),
            photos: Vec::new(),
            notes: None,
            created_by: None,
            device: None,
            created_at: None,
            updated_at: None,
            extra: Map::new(),
        }
    }
}

fn parse_gps(map: &Map<String, Value>, path: &str, errs: &mut Errors) -> Option<GpsPoint> {
    let o = Obj::new(map, path);
    let lat = o.number("lat", -90.0, 90.0, errs);
    let lon = o.number("lon", -180.0, 180.0, errs);
    let accuracy_m = o.number("accuracy_m", 0.0, 100_000.0, errs);
    if o.get("lat").is_none() {
        errs.push(o.at("lat"), ErrorCode::Required);
    }
    if o.get("lon").is_none() {
        errs.push(o.at("lon"), ErrorCode::Required);
    }
    let (lat, lon) = (lat?, lon?);
    let in_range = |v: f64, (lo, hi): (f64, f64)| (lo..=hi).contains(&v);
    let lat_ok = in_range(lat, PERU_LAT);
    let lon_ok = in_range(lon, PERU_LON);
    if !(lat_ok && lon_ok) {
        if in_range(lon, PERU_LAT) && in_range(lat, PERU_LON) {
            errs.push(path, ErrorCode::LatLonSwapped);
        } else {
            if !lat_ok {
                errs.push(
                    o.at("lat"),
                    ErrorCode::OutOfRange {
                        min: PERU_LAT.0,
                        max: PERU_LAT.1,
                    },
                );
            }
            if !lon_ok {
                errs.push(
                    o.at("lon"),
                    ErrorCode::OutOfRange {
                        min: PERU_LON.0,
                        max: PERU_LON.1,
                    },
                );
            }
        }
        return None;
    }
    Some(GpsPoint {
        lat,
        lon,
        accuracy_m,
    })
}

fn parse_workers(map: &Map<String, Value>, path: &str, errs: &mut Errors) -> Workers {
    let o = Obj::new(map, path);
    let count = |key: &str, errs: &mut Errors| o.count(key, MAX_WORKERS, errs);
    let nat_path = o.at("nationalities");
    let mut nationalities: Vec<NationalityCount> = Vec::new();
    let max_nat = Nationality::ALL.len() + 20;
    for (i, item) in o.array("nationalities", max_nat, errs).iter().enumerate() {
        let at = index(&nat_path, i);
        let Some(m) = object_value(item, &at, errs) else {
            continue;
        };
        let n = Obj::new(m, &at);
        let country = n.choice::<Nationality>("country", errs);
        let name = n.text("name", 100, errs);
        let count = n.count("count", MAX_WORKERS, errs);
        let Some(country) = country else {
            if n.get("country").is_none() {
                errs.push(n.at("country"), ErrorCode::Required);
            }
            continue;
        };
        if country == Nationality::Peru {
            errs.push(
                n.at("country"),
                ErrorCode::Inconsistent {
                    rule: Rule::PeruIsNotForeign,
                },
            );
            continue;
        }
        // `other` may appear once per named country; a listed code only once.
        let duplicate = nationalities.iter().any(|x| {
            x.country == country
                && (country != Nationality::Other
                    || x.name.as_deref().map(str::to_lowercase)
                        == name.as_deref().map(str::to_lowercase))
        });
        if duplicate {
            errs.push(n.at("country"), ErrorCode::Duplicate);
        }
        nationalities.push(NationalityCount {
            country,
            name,
            count,
        });
    }
    Workers {
        total: count("total", errs),
        women: count("women", errs),
        men: count("men", errs),
        other_or_unknown: count("other_or_unknown", errs),
        minors_under_18: count("minors_under_18", errs),
        minors_under_14: count("minors_under_14", errs),
        indigenous: count("indigenous", errs),
        foreign: count("foreign", errs),
        nationalities,
    }
}

fn parse_team(items: &[Value], path: &str, errs: &mut Errors) -> Vec<TeamMember> {
    let mut team = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index(path, i);
        match item {
            // A bare string is an account id: the simplest form a client can write.
            Value::String(_) => {
                if let Some(id) = super::validate::text_value(item, || at.clone(), 64, errs) {
                    team.push(TeamMember {
                        id: Some(id),
                        name: None,
                    });
                }
            }
            _ => {
                let Some(m) = object_value(item, &at, errs) else {
                    continue;
                };
                let o = Obj::new(m, &at);
                team.push(TeamMember {
                    id: o.text("id", 64, errs),
                    name: o.text("name", 120, errs),
                });
            }
        }
    }
    team
}

fn parse_photos(items: &[Value], path: &str, errs: &mut Errors) -> Vec<Photo> {
    let mut photos: Vec<Photo> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index(path, i);
        let Some(m) = object_value(item, &at, errs) else {
            continue;
        };
        let o = Obj::new(m, &at);
        let caption = o.text("caption", MAX_SHORT_CHARS, errs);
        let taken_at = o.timestamp("taken_at", errs);
        let shows_people = o.boolean("shows_people", errs).unwrap_or(false);
        let Some(attachment) = o.text("attachment", MAX_SHORT_CHARS, errs) else {
            if o.get("attachment").is_none() {
                errs.push(o.at("attachment"), ErrorCode::Required);
            }
            continue;
        };
        if photos.iter().any(|p| p.attachment == attachment) {
            errs.push(o.at("attachment"), ErrorCode::Duplicate);
        }
        photos.push(Photo {
            attachment,
            shows_people,
            caption,
            taken_at,
        });
    }
    photos
}

/// Whether an attachment is labelled as sealed ([`SEALED_CONTENT_TYPE`]).
fn labelled_sealed(att: &Attachment) -> bool {
    let mime = att.content_type.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case(SEALED_CONTENT_TYPE)
}

/// A sealed photo attachment: labelled [`SEALED_CONTENT_TYPE`], its bytes (when they are
/// inline, whichever way they came) a sealed envelope ([`crate::sealed::check_envelope`]), at
/// most [`MAX_SEALED_PHOTO_BYTES`]. The server cannot open it; it checks that it is not a
/// photo in clear under another name, nor damaged.
fn check_sealed_bytes(att: &Attachment, at: &str, errs: &mut Errors) {
    if !labelled_sealed(att) {
        errs.push(
            at,
            ErrorCode::BadFormat {
                expected: Format::SealedPhoto,
            },
        );
    }
    if let Some(data) = &att.data {
        if crate::sealed::check_envelope(data).is_err() {
            errs.push(
                at,
                ErrorCode::BadFormat {
                    expected: Format::SealedEnvelope,
                },
            );
        }
    }
    let len = att.data.as_ref().map_or(att.length, |d| d.len() as u64);
    if len > MAX_SEALED_PHOTO_BYTES {
        errs.push(
            at,
            ErrorCode::TooLarge {
                max_bytes: MAX_SEALED_PHOTO_BYTES,
            },
        );
    }
}

/// A photo attachment is a JPEG of at most [`MAX_PHOTO_BYTES`]: by its label, and by its bytes
/// when they are inline (a JPEG starts with FF D8 FF whatever its label says).
fn check_photo_bytes(att: &Attachment, at: &str, errs: &mut Errors) {
    let mime = att.content_type.split(';').next().unwrap_or("").trim();
    let looks_jpeg = att
        .data
        .as_deref()
        .is_none_or(|d| d.starts_with(&[0xFF, 0xD8, 0xFF]));
    if !mime.eq_ignore_ascii_case("image/jpeg") || !looks_jpeg {
        errs.push(at, ErrorCode::NotJpeg);
    }
    let len = att.data.as_ref().map_or(att.length, |d| d.len() as u64);
    if len > MAX_PHOTO_BYTES {
        errs.push(
            at,
            ErrorCode::TooLarge {
                max_bytes: MAX_PHOTO_BYTES,
            },
        );
    }
}

/// Checks that `type` is `expected`.
pub(crate) fn check_type(
    body: &Map<String, Value>,
    expected: &'static [&'static str],
    errs: &mut Errors,
) {
    match body.get("type") {
        None | Some(Value::Null) => errs.push("type", ErrorCode::Required),
        Some(Value::String(t)) if expected.contains(&t.as_str()) => {}
        Some(_) => errs.push("type", ErrorCode::NotInList { allowed: expected }),
    }
}

/// The fields of `body` this version does not know, kept as they are. Inserted one by one:
/// collecting into a map would compile another copy of the standard sort into the app.
fn unknown_fields(body: &Map<String, Value>) -> Map<String, Value> {
    let mut extra = Map::new();
    for (k, v) in body {
        if !KNOWN_FIELDS.contains(&k.as_str()) {
            extra.insert(k.clone(), v.clone());
        }
    }
    extra
}

/// Drops a `Required` reported by a submission rule for a field that already has a more precise
/// error (a malformed date is "bad format", not also "required").
fn dedupe(errors: &mut Vec<FieldError>) {
    let precise: Vec<String> = errors
        .iter()
        .filter(|e| e.code != ErrorCode::Required)
        .map(|e| e.field.clone())
        .collect();
    errors.retain(|e| e.code != ErrorCode::Required || !precise.contains(&e.field));
    let mut seen: Vec<FieldError> = Vec::with_capacity(errors.len());
    errors.retain(|e| {
        if seen.contains(e) {
            false
        } else {
            seen.push(e.clone());
            true
        }
    });
}

impl Inspection {
    /// Reads every field it can, recording each problem; never stops early.
    fn read(body: &Map<String, Value>, errs: &mut Errors) -> Inspection {
        check_type(body, &[INSPECTION_TYPE], errs);
        let o = Obj::new(body, "");
        let access = match o.object("access", errs) {
            Some(m) => {
                let a = Obj::new(m, "access");
                Access {
                    modes: a.choices("modes", errs),
                    notes: a.text("notes", MAX_NOTE_CHARS, errs),
                }
            }
            None => Access::default(),
        };
        let team = parse_team(o.array("team", MAX_TEAM, errs), "team", errs);
        let workers = match o.object("workers", errs) {
            Some(m) => parse_workers(m, "workers", errs),
            None => Workers::default(),
        };
        let indicators = match o.object("indicators", errs) {
            Some(m) => indicators::parse_indicators(m, "indicators", errs),
            None => Indicators::new(),
        };
        let people = person::parse_people(o.array("people", MAX_PEOPLE, errs), "people", errs);
        let photos = parse_photos(o.array("photos", MAX_PHOTOS, errs), "photos", errs);
        let gps = o
            .object("gps", errs)
            .and_then(|m| parse_gps(m, "gps", errs));
        Inspection {
            status: o.choice("status", errs).unwrap_or(Status::Draft),
            site_name: o.text("site_name", MAX_SHORT_CHARS, errs),
            sector: o.choice("sector", errs),
            sector_other: o.text("sector_other", 100, errs),
            region: o.choice("region", errs),
            district: o.text("district", 100, errs),
            locality: o.text("locality", MAX_SHORT_CHARS, errs),
            gps,
            location_source: o.choice("location_source", errs),
            access,
            visit_start: o.timestamp("visit_start", errs),
            visit_end: o.timestamp("visit_end", errs),
            team,
            accompanied_by: o.choices("accompanied_by", errs),
            accompanied_notes: o.text("accompanied_notes", MAX_NOTE_CHARS, errs),
            workers,
            indicators,
            findings: o.choices("findings", errs),
            people,
            photos,
            notes: o.text("notes", MAX_NOTES_CHARS, errs),
            created_by: o.text("created_by", 64, errs),
            device: o.text("device", 64, errs),
            created_at: o.timestamp("created_at", errs),
            updated_at: o.timestamp("updated_at", errs),
            extra: unknown_fields(body),
        }
    }

    /// Parses an inspection body: type, format and range rules always, and the submission rules
    /// when `status` is `submitted`. Every problem is reported, not just the first.
    pub fn parse(body: &Map<String, Value>) -> Result<Inspection, Vec<FieldError>> {
        let mut errs = Errors::default();
        let inspection = Inspection::read(body, &mut errs);
        if inspection.status == Status::Submitted {
            inspection.submission_rules(&mut errs);
        }
        let mut errors = errs.0;
        dedupe(&mut errors);
        if errors.is_empty() {
            Ok(inspection)
        } else {
            Err(errors)
        }
    }

    /// Parses an inspection document: its id, its body ([`Inspection::parse`]) and its photos
    /// against its attachments ([`Inspection::check_photos`]).
    pub fn from_document(doc: &Document) -> Result<Inspection, Vec<FieldError>> {
        let mut errors = Vec::new();
        let id = doc.id.as_str();
        if !id.starts_with(INSPECTION_PREFIX) || id.len() == INSPECTION_PREFIX.len() {
            errors.push(FieldError::new(
                "_id",
                ErrorCode::BadFormat {
                    expected: Format::InspectionId,
                },
            ));
        }
        let parsed = Inspection::parse(&doc.body);
        match parsed {
            Ok(inspection) => {
                errors.extend(inspection.check_photos(&doc.attachments));
                if errors.is_empty() {
                    Ok(inspection)
                } else {
                    Err(errors)
                }
            }
            Err(body_errors) => {
                errors.extend(body_errors);
                Err(errors)
            }
        }
    }

    /// The rules a submitted inspection must pass, run on any inspection: the client shows them
    /// as the summary before "submit".
    pub fn submission_problems(&self) -> Vec<FieldError> {
        let mut errs = Errors::default();
        self.submission_rules(&mut errs);
        errs.0
    }

    /// Each photo names an attachment of the document: sealed ([`check_sealed_bytes`]) when
    /// it shows people, else a JPEG of at most [`MAX_PHOTO_BYTES`]. An attachment no photo
    /// names yet (a photo sent before the record that lists it) is either of the two, by its
    /// label. At most [`MAX_PHOTOS`] attachments. Anything else (an HTML page, a program) would
    /// be stored and served to the office.
    pub fn check_photos(&self, attachments: &BTreeMap<String, Attachment>) -> Vec<FieldError> {
        let mut errs = Errors::default();
        for (i, photo) in self.photos.iter().enumerate() {
            let at = join(&index("photos", i), "attachment");
            let Some(att) = attachments.get(&photo.attachment) else {
                errs.push(at, ErrorCode::MissingAttachment);
                continue;
            };
            if photo.shows_people {
                check_sealed_bytes(att, &at, &mut errs);
            } else {
                check_photo_bytes(att, &at, &mut errs);
            }
        }
        if attachments.len() > MAX_PHOTOS {
            errs.push("_attachments", ErrorCode::TooMany { max: MAX_PHOTOS });
        }
        for (name, att) in attachments.iter().take(MAX_PHOTOS + 1) {
            if !self.photos.iter().any(|p| &p.attachment == name) {
                let at = join("_attachments", name);
                if labelled_sealed(att) {
                    check_sealed_bytes(att, &at, &mut errs);
                } else {
                    check_photo_bytes(att, &at, &mut errs);
                }
            }
        }
        errs.0
    }

    fn submission_rules(&self, errs: &mut Errors) {
        // Where, what and when: without these an inspection cannot be placed before a court.
        errs.require("site_name", &self.site_name);
        errs.require("sector", &self.sector);
        if self.sector == Some(Sector::Other) {
            errs.require("sector_other", &self.sector_other);
        }
        errs.require("region", &self.region);
        errs.require("district", &self.district);
        if self.location_source == Some(LocationSource::Gps) && self.gps.is_none() {
            errs.push(
                "gps",
                ErrorCode::Inconsistent {
                    rule: Rule::GpsSourceWithoutPoint,
                },
            );
        }
        if self.access.modes.contains(&AccessMode::Other) {
            errs.require("access.notes", &self.access.notes);
        }
        errs.require("visit_start", &self.visit_start);
        errs.require("visit_end", &self.visit_end);
        if let (Some(start), Some(end)) = (&self.visit_start, &self.visit_end) {
            if end < start {
                errs.push(
                    "visit_end",
                    ErrorCode::Inconsistent {
                        rule: Rule::EndBeforeStart,
                    },
                );
            }
        }
        // Who: a record nobody signed is worthless as evidence.
        if self.team.is_empty() {
            errs.push("team", ErrorCode::Required);
        }
        for (i, member) in self.team.iter().enumerate() {
            if member.id.is_none() && member.name.is_none() {
                errs.push(join(&index("team", i), "name"), ErrorCode::Required);
            }
            if member.id.is_some() && self.team[..i].iter().any(|m| m.id == member.id) {
                errs.push(join(&index("team", i), "id"), ErrorCode::Duplicate);
            }
        }
        self.workers_rules(errs);
        indicators::submission_rules(&self.indicators, "indicators", errs);
        for (i, p) in self.people.iter().enumerate() {
            p.submission_rules(&index("people", i), errs);
        }
        if self.findings.contains(&Finding::ChildLabour) {
            let minors = self.workers.minors_under_18.unwrap_or(0) > 0
                || self.people.iter().any(PersonFound::is_minor);
            if !minors {
                errs.push(
                    "findings",
                    ErrorCode::Inconsistent {
                        rule: Rule::ChildLabourWithoutMinors,
                    },
                );
            }
        }
        let needs_indicator = self
            .findings
            .iter()
            .any(|f| matches!(f, Finding::ForcedLabour | Finding::TraffickingSuspected));
        if needs_indicator && !indicators::any_seen(&self.indicators) {
            errs.push(
                "findings",
                ErrorCode::Inconsistent {
                    rule: Rule::FindingWithoutIndicators,
                },
            );
        }
    }

    fn workers_rules(&self, errs: &mut Errors) {
        let w = &self.workers;
        let inconsistent = |rule| ErrorCode::Inconsistent { rule };
        let Some(total) = w.total else {
            errs.push("workers.total", ErrorCode::Required);
            return;
        };
        let by_sex = [w.women, w.men, w.other_or_unknown]
            .iter()
            .map(|c| u64::from(c.unwrap_or(0)))
            .sum::<u64>();
        if by_sex != u64::from(total) {
            errs.push("workers.total", inconsistent(Rule::SexCountsSum));
        }
        for (key, value) in [
            ("workers.minors_under_18", w.minors_under_18),
            ("workers.indigenous", w.indigenous),
            ("workers.foreign", w.foreign),
        ] {
            if value.unwrap_or(0) > total {
                errs.push(key, inconsistent(Rule::ExceedsTotal));
            }
        }
        if w.minors_under_14.unwrap_or(0) > w.minors_under_18.unwrap_or(0) {
            errs.push(
                "workers.minors_under_14",
                inconsistent(Rule::Under14ExceedsUnder18),
            );
        }
        let foreign = w.foreign.unwrap_or(0);
        if foreign > 0 && w.nationalities.is_empty() {
            errs.push("workers.nationalities", ErrorCode::Required);
        }
        let listed: u64 = w
            .nationalities
            .iter()
            .map(|n| u64::from(n.count.unwrap_or(0)))
            .sum();
        if listed > u64::from(foreign) {
            errs.push(
                "workers.nationalities",
                inconsistent(Rule::NationalitiesExceedForeign),
            );
        }
        for (i, n) in w.nationalities.iter().enumerate() {
            let at = index("workers.nationalities", i);
            if n.country == Nationality::Other {
                errs.require(join(&at, "name"), &n.name);
            }
        }
    }

    /// The body to store: this inspection's JSON, with `type` set.
    pub fn to_body(&self) -> Map<String, Value> {
        let Ok(Value::Object(mut map)) = serde_json::to_value(self) else {
            unreachable!("an inspection serializes to a JSON object");
        };
        map.insert("type".into(), Value::String(INSPECTION_TYPE.into()));
        map
    }
}

impl TryFrom<&Map<String, Value>> for Inspection {
    type Error = Vec<FieldError>;
    fn try_from(body: &Map<String, Value>) -> Result<Self, Self::Error> {
        Inspection::parse(body)
    }
}

impl TryFrom<&Document> for Inspection {
    type Error = Vec<FieldError>;
    fn try_from(doc: &Document) -> Result<Self, Self::Error> {
        Inspection::from_document(doc)
    }
}
