//! Valid domain documents for tests and benchmarks in every crate (feature `fixtures`), so that
//! the server's, the client's and the benches' data always passes the real validation.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::case_event::CaseEventKind;
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
            "alg": "x25519-xsalsa20poly1305",
            "recipient_key_id": "madre-de-dios-2026",
            "ciphertext_b64": BASE64.encode([i as u8; 48]),
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

/// A valid case event `k` of fixture inspection `n`, of the given kind, with `_id`.
pub fn case_event_json(n: u64, k: u64, kind: CaseEventKind) -> Value {
    let mut value = json!({
        "_id": event_id(n, k).as_str(),
        "type": "case_event",
        "inspection": inspection_id(n).as_str(),
        "kind": kind.to_string(),
        "at": Timestamp::from_utc_ms(BASE_MS + 86_400_000 + k as i64 * 1000).as_str(),
        "by": "supervisor-1"
    });
    let extra = match kind {
        CaseEventKind::Reviewed => json!({}),
        CaseEventKind::HasIssues => json!({"note": "Add the evidence for debt bondage."}),
        CaseEventKind::Referred => {
            json!({"referred_to": ["prosecutor", "shelter"], "people": ["P-001"]})
        }
        CaseEventKind::ProsecutionOpened => {
            json!({"case_number": "CF-2026-0412", "office": "Fiscalía de Tambopata"})
        }
        CaseEventKind::Outcome => {
            json!({"outcome": "conviction", "sentence_years": 15, "sentence_months": 0, "court": "Juzgado Penal de Tambopata"})
        }
    };
    for (k, v) in extra.as_object().expect("object") {
        value[k] = v.clone();
    }
    value
}

/// Parses a fixture into a [`Document`].
pub fn doc(value: Value) -> Document {
    Document::from_json(value).expect("fixtures are valid CouchDB JSON")
}
