//! Valid domain documents for tests and benchmarks in every crate (feature `fixtures`), so that
//! the server's, the client's and the benches' data always passes the real validation.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::case_event::{CaseEvent, CaseEventKind};
use super::region::Region;
use super::time::{new_event_id, new_inspection_id, Timestamp};
use crate::doc::{DocId, Document};

/// 2026-11-28T13:30:00Z, the instant fixture ids count from.
const BASE_MS: i64 = 1_795_872_600_000;

fn entropy(n: u64) -> [u8; 8] {
    // A fixed mix of `n`: distinct for every n, stable across runs.
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes()
}

/// The id of fixture inspection `n`: `inspection:<time n seconds after the base>-<hex>`.
pub fn inspection_id(n: u64) -> DocId {
    new_inspection_id(BASE_MS + n as i64 * 1000, entropy(n))
}

/// The id of event `k` of fixture inspection `n`.
pub fn event_id(n: u64, k: u64) -> DocId {
    new_event_id(
        &inspection_id(n),
        BASE_MS + 86_400_000 + k as i64 * 1000,
        entropy(k ^ 0xE0E0),
    )
}

/// A person found, valid for a submitted inspection: `P-00i`, a young woman from Venezuela who
/// consented and was referred to a shelter, with a (dummy) sealed identity.
pub fn person_json(i: u32) -> Value {
    json!({
        "code": format!("P-{i:03}"),
        "age_band": "18_24",
        "sex": "female",
        "nationality": "VE",
        "indigenous_people": "none",
        "needs": ["shelter", "medical"],
        "referral": {"made": true, "to": ["shelter"]},
        "consent": {"status": "given", "given_by": "self"},
        "sealed": {
            "alg": crate::sealed::ALG,
            "recipient_key_id": "madre-de-dios-0123456789abcdef",
            // The shortest a ciphertext can be (HPKE's encapsulated key and tag), plus a little.
            "ciphertext_b64": BASE64.encode([i as u8; 64]),
        }
    })
}

/// A submitted inspection in `region`, about 1 KB of JSON, with `_id`: ready for `_bulk_docs`.
pub fn inspection_json_in(n: u64, region: Region) -> Value {
    let start = Timestamp::from_utc_ms(BASE_MS + n as i64 * 1000);
    let end = Timestamp::from_utc_ms(BASE_MS + n as i64 * 1000 + 3 * 3600 * 1000);
    json!({
        "_id": inspection_id(n).as_str(),
        "type": "inspection",
        "status": "submitted",
        "site_name": format!("Campamento km {}", 100 + n % 50),
        "sector": "gold_mining",
        "region": region.db_name(),
        "district": "Inambari",
        "locality": "La Pampa",
        "gps": {"lat": -12.95, "lon": -69.95, "accuracy_m": 12.0},
        "location_source": "gps",
        "access": {"modes": ["river_boat", "on_foot"]},
        "visit_start": start.as_str(),
        "visit_end": end.as_str(),
        "team": [{"id": "inspector-1", "name": "Ana Quispe"}, {"id": "inspector-2"}],
        "accompanied_by": ["police", "prosecutor"],
        "workers": {
            "total": 12, "women": 4, "men": 8, "other_or_unknown": 0,
            "minors_under_18": 3, "minors_under_14": 1, "indigenous": 2, "foreign": 2,
            "nationalities": [{"country": "VE", "count": 1}, {"country": "BO", "count": 1}]
        },
        "indicators": {
            "debt_bondage": {
                "seen": true, "stages": ["recruitment", "during_work"],
                "evidence": "Workers owe the camp for transport and food; debts grow each week."
            },
            "retention_of_identity_documents": {
                "seen": true, "stages": ["during_work"],
                "evidence": "The camp boss keeps their DNIs."
            },
            "isolation": {"seen": false}
        },
        "findings": ["forced_labour", "child_labour"],
        "people": [person_json(1)],
        "notes": "Camp reached after four hours by boat.",
        "created_by": "inspector-1",
        "device": "tablet-07",
        "created_at": start.as_str(),
        "updated_at": end.as_str()
    })
}

/// [`inspection_json_in`] Madre de Dios.
pub fn inspection_json(n: u64) -> Value {
    inspection_json_in(n, Region::MadreDeDios)
}

/// A draft just started: only what the app fills in itself.
pub fn draft_inspection_json(n: u64) -> Value {
    json!({
        "_id": inspection_id(n).as_str(),
        "type": "inspection",
        "status": "draft",
        "site_name": "Campamento sin nombre",
        "created_by": "inspector-1",
        "created_at": Timestamp::from_utc_ms(BASE_MS + n as i64 * 1000).as_str()
    })
}

/// `len` bytes that look like a JPEG (SOI marker first, EOI last).
pub fn jpeg_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0x55; len.max(4)];
    bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let end = bytes.len();
    bytes[end - 2..].copy_from_slice(&[0xFF, 0xD9]);
    bytes
}

/// [`inspection_json`] with one photo, `photo-1.jpg`, of `len` bytes inline.
pub fn inspection_with_photo_json(n: u64, len: usize) -> Value {
    let mut value = inspection_json(n);
    value["photos"] = json!([{"attachment": "photo-1.jpg", "caption": "Campamento"}]);
    value["_attachments"] = json!({
        "photo-1.jpg": {"content_type": "image/jpeg", "data": BASE64.encode(jpeg_bytes(len))}
    });
    value
}

/// The revision fixture events review (`inspection_rev`): any valid `N-hash` will do.
pub const REVIEWED_REV: &str = "1-5f0c6a0e9d2b4c7a8e1f3b2a9c8d7e6f";

/// The common fields of event `k` of fixture inspection `n`: `_id`, `type`, `inspection`,
/// `kind`, `at` (one second per `k`, a day after the inspections), `by`, `device`.
pub fn event_base_json(n: u64, k: u64, kind: CaseEventKind) -> Value {
    json!({
        "_id": event_id(n, k).as_str(),
        "type": "case_event",
        "inspection": inspection_id(n).as_str(),
        "kind": kind.to_string(),
        "at": Timestamp::from_utc_ms(BASE_MS + 86_400_000 + k as i64 * 1000).as_str(),
        "by": "supervisor-1",
        "device": "office-pc-1"
    })
}

fn with(mut value: Value, extra: Value) -> Value {
    if let (Some(target), Value::Object(extra)) = (value.as_object_mut(), extra) {
        target.extend(extra);
    }
    value
}

/// `reviewed` of revision `rev`.
pub fn reviewed_json(n: u64, k: u64, rev: &str) -> Value {
    with(
        event_base_json(n, k, CaseEventKind::Reviewed),
        json!({"inspection_rev": rev}),
    )
}

/// `has_issues` on revision `rev`, with `note`.
pub fn has_issues_json(n: u64, k: u64, rev: &str, note: &str) -> Value {
    with(
        event_base_json(n, k, CaseEventKind::HasIssues),
        json!({"inspection_rev": rev, "note": note}),
    )
}

/// `referred`: `people` to a shelter, with consent given by themselves and a reference.
pub fn referred_json(n: u64, k: u64, people: &[&str]) -> Value {
    with(
        event_base_json(n, k, CaseEventKind::Referred),
        json!({"people": people, "service": "shelter", "consent": "given",
               "consent_by": "self", "reference": "CAR-MDD-2026-117"}),
    )
}

/// `referral_update` of `referral` to `status` (`declined` gets a reason).
pub fn referral_update_json(n: u64, k: u64, referral: &DocId, status: &str) -> Value {
    let mut value = with(
        event_base_json(n, k, CaseEventKind::ReferralUpdate),
        json!({"referral": referral.as_str(), "status": status}),
    );
    if status == "declined" {
        value["reason"] = json!("No places left at the shelter.");
    }
    value
}

/// `prosecution_opened` under art. 168-B (forced labour).
pub fn prosecution_json(n: u64, k: u64) -> Value {
    with(
        event_base_json(n, k, CaseEventKind::ProsecutionOpened),
        json!({"office": "Fiscalía Provincial de Tambopata", "case_number": "CF-2026-0412",
               "offence": "cp_168b"}),
    )
}

/// `outcome`: a conviction to 15 years with a fine.
pub fn conviction_json(n: u64, k: u64) -> Value {
    with(
        event_base_json(n, k, CaseEventKind::Outcome),
        json!({"outcome": "conviction", "sentence_years": 15, "sentence_months": 0,
               "fine_uit": 2.5, "court": "Juzgado Penal Colegiado de Tambopata"}),
    )
}

/// A valid case event `k` of fixture inspection `n`, of the given kind, with `_id`. Reviews
/// look at [`REVIEWED_REV`]; a referral names `P-001`; a referral update follows event
/// `(n, 0)` (make that one a referral for a case without gaps).
pub fn case_event_json(n: u64, k: u64, kind: CaseEventKind) -> Value {
    match kind {
        CaseEventKind::Reviewed => reviewed_json(n, k, REVIEWED_REV),
        CaseEventKind::HasIssues => {
            has_issues_json(n, k, REVIEWED_REV, "Add the evidence for debt bondage.")
        }
        CaseEventKind::Referred => referred_json(n, k, &["P-001"]),
        CaseEventKind::ReferralUpdate => referral_update_json(n, k, &event_id(n, 0), "received"),
        CaseEventKind::ProsecutionOpened => prosecution_json(n, k),
        CaseEventKind::Outcome => conviction_json(n, k),
    }
}

/// A fixture event JSON (with `_id`) parsed into a [`CaseEvent`].
pub fn case_event(value: Value) -> CaseEvent {
    CaseEvent::from_document(&doc(value)).expect("fixture events are valid")
}

/// Parses a fixture into a [`Document`].
pub fn doc(value: Value) -> Document {
    Document::from_json(value).expect("fixtures are valid CouchDB JSON")
}
