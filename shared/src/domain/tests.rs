//! Behaviour of the domain validation, one rule per test, through the same entry points the
//! server and the client call.

use serde_json::{json, Value};

use super::fixtures::{self, doc, inspection_json, person_json};
use super::inspection::{MAX_PHOTO_BYTES, MAX_SEALED_PHOTO_BYTES};
use super::*;
use crate::doc::Attachment;

fn errors_of(value: Value) -> Vec<FieldError> {
    validate_document(&doc(value)).expect_err("the document should be rejected")
}

#[track_caller]
fn assert_has(errors: &[FieldError], field: &str, code: ErrorCode) {
    let wanted = FieldError::new(field, code);
    assert!(
        errors.contains(&wanted),
        "expected {wanted:?} among {errors:#?}"
    );
}

#[track_caller]
fn assert_rejected_with(value: Value, field: &str, code: ErrorCode) {
    assert_has(&errors_of(value), field, code);
}

fn inconsistent(rule: Rule) -> ErrorCode {
    ErrorCode::Inconsistent { rule }
}

fn draft() -> Value {
    fixtures::draft_inspection_json(1)
}

// --- whole documents -------------------------------------------------------------------------

#[test]
fn a_valid_submitted_inspection_passes_and_round_trips_through_its_body() {
    let document = doc(inspection_json(1));
    assert_eq!(validate_document(&document), Ok(Kind::Inspection));
    let inspection = Inspection::try_from(&document).expect("valid");
    assert_eq!(inspection.status, Status::Submitted);
    assert_eq!(inspection.region, Some(Region::MadreDeDios));
    assert_eq!(inspection.people[0].code.as_str(), "P-001");
    let again = Inspection::try_from(&inspection.to_body()).expect("its own body is valid");
    assert_eq!(again, inspection);
}

#[test]
fn a_draft_just_started_passes_with_almost_nothing_in_it() {
    assert_eq!(validate_document(&doc(draft())), Ok(Kind::Inspection));
    let mut bare = json!({"_id": "inspection:x", "type": "inspection"});
    assert_eq!(validate_document(&doc(bare.clone())), Ok(Kind::Inspection));
    bare["status"] = json!("draft");
    let parsed = Inspection::try_from(&doc(bare)).expect("valid");
    assert_eq!(parsed, Inspection::default());
}

#[test]
fn a_draft_may_be_inconsistent_while_typed_but_submission_problems_lists_what_to_fix() {
    let mut value = draft();
    value["workers"] = json!({"total": 5, "minors_under_14": 3});
    value["visit_start"] = json!("2026-11-28T10:00:00-05:00");
    value["visit_end"] = json!("2026-11-28T09:00:00-05:00");
    let inspection = Inspection::try_from(&doc(value.clone())).expect("a draft autosaves");
    let problems = inspection.submission_problems();
    assert_has(&problems, "sector", ErrorCode::Required);
    assert_has(&problems, "team", ErrorCode::Required);
    assert_has(
        &problems,
        "workers.minors_under_14",
        inconsistent(Rule::Under14ExceedsUnder18),
    );
    assert_has(&problems, "visit_end", inconsistent(Rule::EndBeforeStart));
    value["status"] = json!("submitted");
    let errors = errors_of(value);
    assert_eq!(errors, problems, "submitting enforces exactly the summary");
}

#[test]
fn a_submitted_inspection_requires_where_what_when_and_who() {
    let mut value = inspection_json(1);
    let body = value.as_object_mut().expect("object");
    for key in [
        "site_name",
        "sector",
        "region",
        "district",
        "visit_start",
        "visit_end",
        "team",
    ] {
        body.remove(key);
    }
    body.insert("workers".into(), json!({}));
    let errors = errors_of(value);
    for field in [
        "site_name",
        "sector",
        "region",
        "district",
        "visit_start",
        "visit_end",
        "team",
        "workers.total",
    ] {
        assert_has(&errors, field, ErrorCode::Required);
    }
}

#[test]
fn drafts_still_refuse_wrong_types_unknown_values_and_out_of_range_numbers() {
    let mut value = draft();
    value["sector"] = json!("mining");
    value["site_name"] = json!(42);
    value["workers"] = json!({"total": -1, "women": 2.5});
    value["status"] = json!("final");
    let errors = errors_of(value);
    assert_has(
        &errors,
        "sector",
        ErrorCode::NotInList {
            allowed: Sector::NAMES,
        },
    );
    assert_has(
        &errors,
        "site_name",
        ErrorCode::WrongType {
            expected: JsonType::String,
        },
    );
    assert_has(
        &errors,
        "workers.total",
        ErrorCode::OutOfRange {
            min: 0.0,
            max: 100_000.0,
        },
    );
    assert_has(
        &errors,
        "workers.women",
        ErrorCode::WrongType {
            expected: JsonType::Integer,
        },
    );
    assert_has(
        &errors,
        "status",
        ErrorCode::NotInList {
            allowed: Status::NAMES,
        },
    );
}

#[test]
fn texts_longer_than_their_limit_are_too_long_and_lists_too_many() {
    let mut value = draft();
    value["site_name"] = json!("x".repeat(201));
    value["notes"] = json!("ñ".repeat(10_000));
    value["photos"] = json!(vec![json!({"attachment": "a.jpg"}); 51]);
    let errors = errors_of(value);
    assert_has(&errors, "site_name", ErrorCode::TooLong { max: 200 });
    assert!(
        !errors.iter().any(|e| e.field == "notes"),
        "limits count characters, not bytes"
    );
    assert_has(&errors, "photos", ErrorCode::TooMany { max: 50 });
}

#[test]
fn timestamps_must_be_rfc3339_with_an_offset() {
    let mut value = draft();
    value["visit_start"] = json!("28/11/2026 08:30");
    value["created_at"] = json!("2026-11-28T08:30:00");
    let errors = errors_of(value);
    let bad = ErrorCode::BadFormat {
        expected: Format::Rfc3339,
    };
    assert_has(&errors, "visit_start", bad.clone());
    assert_has(&errors, "created_at", bad);
}

#[test]
fn a_malformed_required_field_reports_its_format_not_also_required() {
    let mut value = inspection_json(1);
    value["visit_start"] = json!("yesterday");
    let errors = errors_of(value);
    let on_field: Vec<_> = errors.iter().filter(|e| e.field == "visit_start").collect();
    assert_eq!(on_field.len(), 1, "{errors:#?}");
}

#[test]
fn null_and_blank_values_count_as_absent() {
    let mut value = draft();
    value["site_name"] = json!("   ");
    value["sector"] = Value::Null;
    value["gps"] = Value::Null;
    let inspection = Inspection::try_from(&doc(value)).expect("a cleared field is fine in a draft");
    assert_eq!(inspection.site_name, None);
    assert_eq!(inspection.sector, None);
}

#[test]
fn unknown_fields_from_a_newer_app_are_tolerated_and_kept_on_round_trip() {
    let mut value = inspection_json(1);
    value["weather"] = json!({"rain": true});
    let inspection = Inspection::try_from(&doc(value)).expect("tolerated");
    assert_eq!(inspection.extra["weather"], json!({"rain": true}));
    assert_eq!(inspection.to_body()["weather"], json!({"rain": true}));
}

#[test]
fn an_inspection_id_must_start_with_inspection() {
    let mut value = draft();
    value["_id"] = json!("md-0001");
    assert_rejected_with(
        value,
        "_id",
        ErrorCode::BadFormat {
            expected: Format::InspectionId,
        },
    );
}

// --- workers ---------------------------------------------------------------------------------

#[test]
fn counts_by_sex_must_add_up_to_the_total() {
    let mut value = inspection_json(1);
    value["workers"]["women"] = json!(5);
    assert_rejected_with(value, "workers.total", inconsistent(Rule::SexCountsSum));
    let mut unknown_sex = inspection_json(1);
    unknown_sex["workers"]["women"] = json!(0);
    unknown_sex["workers"]["other_or_unknown"] = json!(4);
    assert!(validate_document(&doc(unknown_sex)).is_ok());
}

#[test]
fn minors_under_14_cannot_exceed_minors_under_18() {
    let mut value = inspection_json(1);
    value["workers"]["minors_under_14"] = json!(4);
    assert_rejected_with(
        value,
        "workers.minors_under_14",
        inconsistent(Rule::Under14ExceedsUnder18),
    );
}

#[test]
fn minors_indigenous_and_foreign_cannot_exceed_the_total() {
    for key in ["minors_under_18", "indigenous", "foreign"] {
        let mut value = inspection_json(1);
        value["workers"][key] = json!(13);
        assert_rejected_with(
            value,
            &format!("workers.{key}"),
            inconsistent(Rule::ExceedsTotal),
        );
    }
}

#[test]
fn foreign_workers_need_their_nationalities_and_peru_is_not_foreign() {
    let mut value = inspection_json(1);
    value["workers"]["nationalities"] = json!([]);
    assert_rejected_with(value, "workers.nationalities", ErrorCode::Required);

    let mut value = inspection_json(1);
    value["workers"]["nationalities"] =
        json!([{"country": "PE", "count": 1}, {"country": "VE", "count": 1}]);
    assert_rejected_with(
        value,
        "workers.nationalities[0].country",
        inconsistent(Rule::PeruIsNotForeign),
    );

    let mut value = inspection_json(1);
    value["workers"]["nationalities"] = json!([{"country": "VE"}, {"country": "VE"}]);
    assert_rejected_with(
        value,
        "workers.nationalities[1].country",
        ErrorCode::Duplicate,
    );

    let mut value = inspection_json(1);
    value["workers"]["nationalities"] = json!([{"country": "other", "count": 2}]);
    assert_rejected_with(value, "workers.nationalities[0].name", ErrorCode::Required);

    let mut value = inspection_json(1);
    value["workers"]["nationalities"] = json!([{"country": "other", "name": "Haití", "count": 2}]);
    assert!(validate_document(&doc(value)).is_ok());
}

#[test]
fn nationalities_cannot_count_more_people_than_the_foreign_workers() {
    let mut value = inspection_json(1);
    value["workers"]["nationalities"][0]["count"] = json!(2);
    assert_rejected_with(
        value,
        "workers.nationalities",
        inconsistent(Rule::NationalitiesExceedForeign),
    );
}

// --- place and time --------------------------------------------------------------------------

#[test]
fn gps_with_latitude_and_longitude_swapped_is_named_as_such() {
    let mut value = draft();
    value["gps"] = json!({"lat": -69.95, "lon": -12.95, "accuracy_m": 10});
    assert_rejected_with(value, "gps", ErrorCode::LatLonSwapped);
}

#[test]
fn gps_outside_peru_is_out_of_range_with_peru_s_bounds() {
    let mut value = draft();
    value["gps"] = json!({"lat": 12.95, "lon": -69.95});
    assert_rejected_with(
        value,
        "gps.lat",
        ErrorCode::OutOfRange {
            min: -18.5,
            max: 0.1,
        },
    );
    let mut value = draft();
    value["gps"] = json!({"lat": -12.95, "lon": 190, "accuracy_m": -3});
    let errors = errors_of(value);
    assert_has(
        &errors,
        "gps.lon",
        ErrorCode::OutOfRange {
            min: -180.0,
            max: 180.0,
        },
    );
    assert_has(
        &errors,
        "gps.accuracy_m",
        ErrorCode::OutOfRange {
            min: 0.0,
            max: 100_000.0,
        },
    );
    let mut value = draft();
    value["gps"] = json!({"lon": -69.95});
    assert_rejected_with(value, "gps.lat", ErrorCode::Required);
}

#[test]
fn a_gps_location_source_needs_a_gps_point_but_manual_does_not() {
    let mut value = inspection_json(1);
    value.as_object_mut().expect("object").remove("gps");
    assert_rejected_with(
        value.clone(),
        "gps",
        inconsistent(Rule::GpsSourceWithoutPoint),
    );
    value["location_source"] = json!("manual");
    assert!(validate_document(&doc(value)).is_ok());
}

#[test]
fn a_visit_cannot_end_before_it_starts_comparing_instants_not_text() {
    let mut value = inspection_json(1);
    value["visit_start"] = json!("2026-11-28T10:00:00-05:00");
    value["visit_end"] = json!("2026-11-28T14:59:00Z");
    assert_rejected_with(
        value.clone(),
        "visit_end",
        inconsistent(Rule::EndBeforeStart),
    );
    value["visit_end"] = json!("2026-11-28T15:00:00Z");
    assert!(validate_document(&doc(value)).is_ok(), "the same instant");
}

#[test]
fn other_sector_and_other_access_need_their_description() {
    let mut value = inspection_json(1);
    value["sector"] = json!("other");
    value["access"] = json!({"modes": ["other"]});
    let errors = errors_of(value);
    assert_has(&errors, "sector_other", ErrorCode::Required);
    assert_has(&errors, "access.notes", ErrorCode::Required);
}

#[test]
fn team_members_need_an_id_or_a_name_and_appear_once() {
    let mut value = inspection_json(1);
    value["team"] = json!(["inspector-1", {"name": "Rosa Mamani"}]);
    assert!(
        validate_document(&doc(value.clone())).is_ok(),
        "bare ids work"
    );
    value["team"] = json!(["inspector-1", {}, {"id": "inspector-1"}]);
    let errors = errors_of(value);
    assert_has(&errors, "team[1].name", ErrorCode::Required);
    assert_has(&errors, "team[2].id", ErrorCode::Duplicate);
}

// --- indicators and findings -----------------------------------------------------------------

#[test]
fn child_labour_requires_a_minor_counted_or_listed() {
    let mut value = inspection_json(1);
    value["workers"]["minors_under_18"] = json!(0);
    value["workers"]["minors_under_14"] = json!(0);
    assert_rejected_with(
        value.clone(),
        "findings",
        inconsistent(Rule::ChildLabourWithoutMinors),
    );
    let mut minor = person_json(2);
    minor["age_band"] = json!("14_17");
    minor["consent"] = json!({"status": "given", "given_by": "guardian"});
    value["people"] = json!([person_json(1), minor]);
    assert!(validate_document(&doc(value)).is_ok());
}

#[test]
fn forced_labour_and_trafficking_require_a_seen_indicator() {
    let mut value = inspection_json(1);
    value["indicators"] = json!({"isolation": {"seen": false}});
    value["findings"] = json!(["trafficking_suspected"]);
    assert_rejected_with(
        value,
        "findings",
        inconsistent(Rule::FindingWithoutIndicators),
    );
}

#[test]
fn a_seen_indicator_needs_its_stages_and_evidence_and_an_unseen_one_carries_none() {
    let mut value = inspection_json(1);
    value["indicators"]["deception"] = json!({"seen": true});
    value["indicators"]["isolation"] = json!({"seen": false, "evidence": "far away"});
    let errors = errors_of(value);
    assert_has(&errors, "indicators.deception.stages", ErrorCode::Required);
    assert_has(
        &errors,
        "indicators.deception.evidence",
        ErrorCode::Required,
    );
    assert_has(
        &errors,
        "indicators.isolation.seen",
        inconsistent(Rule::NotSeenButDetailed),
    );
}

#[test]
fn indicators_are_the_ilo_s_eleven_and_evidence_is_length_limited() {
    assert_eq!(Indicator::ALL.len(), 11);
    let mut value = draft();
    value["indicators"] = json!({
        "debt": {"seen": true},
        "debt_bondage": {"seen": true, "stages": ["at_night"], "evidence": "x".repeat(2001)}
    });
    let errors = errors_of(value);
    assert_has(
        &errors,
        "indicators.debt",
        ErrorCode::NotInList {
            allowed: Indicator::NAMES,
        },
    );
    assert_has(
        &errors,
        "indicators.debt_bondage.stages[0]",
        ErrorCode::NotInList {
            allowed: Stage::NAMES,
        },
    );
    assert_has(
        &errors,
        "indicators.debt_bondage.evidence",
        ErrorCode::TooLong { max: 2000 },
    );
}

#[test]
fn a_finding_listed_twice_is_a_duplicate() {
    let mut value = draft();
    value["findings"] = json!(["forced_labour", "forced_labour"]);
    assert_rejected_with(value, "findings[1]", ErrorCode::Duplicate);
}

// --- people found ----------------------------------------------------------------------------

#[test]
fn a_person_with_clear_identity_fields_is_refused_on_each_field() {
    let mut value = draft();
    let mut person = person_json(1);
    for key in [
        "name",
        "full_name",
        "dni",
        "document_number",
        "passport",
        "Nombres",
        "apellido_paterno",
        "telefono",
    ] {
        person[key] = json!("Juana Pérez 45678912");
    }
    person["referral"]["contact_name"] = json!("Juana's sister");
    value["people"] = json!([person]);
    let errors = errors_of(value);
    for key in [
        "name",
        "full_name",
        "dni",
        "document_number",
        "passport",
        "Nombres",
        "apellido_paterno",
        "telefono",
        "referral.contact_name",
    ] {
        assert_has(
            &errors,
            &format!("people[0].{key}"),
            ErrorCode::ClearIdentity,
        );
    }
    let reason = reason_en(&errors);
    assert!(
        reason.contains("people[0].dni: names, identity numbers"),
        "{reason}"
    );
}

#[test]
fn the_searchable_person_fields_are_not_mistaken_for_identity() {
    for key in person_json(1).as_object().expect("object").keys() {
        assert!(!person::is_clear_identity_key(key), "{key}");
    }
    for key in [
        "nationality_other",
        "indigenous_people_other",
        "needs_notes",
    ] {
        assert!(!person::is_clear_identity_key(key), "{key}");
    }
}

#[test]
fn a_sealed_identity_has_exactly_its_three_fields_in_base64_within_size() {
    let mut value = draft();
    let mut bad_b64 = person_json(1);
    bad_b64["sealed"]["ciphertext_b64"] = json!("not base64!");
    let mut too_big = person_json(2);
    too_big["sealed"]["ciphertext_b64"] = json!(base64_of(&vec![7u8; 4097]));
    let mut extra = person_json(3);
    extra["sealed"]["name"] = json!("Juana");
    extra["sealed"]["nonce"] = json!("abc");
    let mut missing = person_json(4);
    missing["sealed"] = json!({"alg": "x25519"});
    value["people"] = json!([bad_b64, too_big, extra, missing]);
    let errors = errors_of(value);
    assert_has(
        &errors,
        "people[0].sealed.ciphertext_b64",
        ErrorCode::BadFormat {
            expected: Format::Base64,
        },
    );
    assert_has(
        &errors,
        "people[1].sealed.ciphertext_b64",
        ErrorCode::TooLarge { max_bytes: 4096 },
    );
    assert_has(&errors, "people[2].sealed.name", ErrorCode::UnknownField);
    assert_has(&errors, "people[2].sealed.nonce", ErrorCode::UnknownField);
    assert_has(
        &errors,
        "people[3].sealed.recipient_key_id",
        ErrorCode::Required,
    );
    assert_has(
        &errors,
        "people[3].sealed.ciphertext_b64",
        ErrorCode::Required,
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_sealed_identity_is_kept_apart_from_the_searchable_fields() {
    let inspection = Inspection::try_from(&doc(inspection_json(1))).expect("valid");
    let sealed = inspection.people[0].sealed.as_ref().expect("sealed");
    assert_eq!(sealed.recipient_key_id, "madre-de-dios-0123456789abcdef");
    assert_eq!(sealed.alg, crate::sealed::ALG);
}

#[test]
fn person_codes_are_required_well_formed_and_unique_even_in_a_draft() {
    let mut value = draft();
    let mut bad = person_json(2);
    bad["code"] = json!("Juana");
    let mut none = person_json(3);
    none.as_object_mut().expect("object").remove("code");
    value["people"] = json!([person_json(1), person_json(1), bad, none]);
    let errors = errors_of(value);
    assert_has(&errors, "people[1].code", ErrorCode::Duplicate);
    assert_has(
        &errors,
        "people[2].code",
        ErrorCode::BadFormat {
            expected: Format::PersonCode,
        },
    );
    assert_has(&errors, "people[3].code", ErrorCode::Required);
}

#[test]
fn a_submitted_person_needs_age_band_sex_and_consent() {
    let mut value = inspection_json(1);
    value["people"] = json!([{"code": "P-001"}]);
    let errors = errors_of(value);
    for field in [
        "people[0].age_band",
        "people[0].sex",
        "people[0].consent.status",
    ] {
        assert_has(&errors, field, ErrorCode::Required);
    }
}

#[test]
fn a_minor_cannot_consent_alone_and_given_consent_says_by_whom() {
    let mut value = inspection_json(1);
    let mut minor = person_json(1);
    minor["age_band"] = json!("under_14");
    let mut adult = person_json(2);
    adult["consent"] = json!({"status": "given"});
    value["people"] = json!([minor, adult]);
    let errors = errors_of(value);
    assert_has(
        &errors,
        "people[0].consent.given_by",
        inconsistent(Rule::MinorConsentBySelf),
    );
    assert_has(&errors, "people[1].consent.given_by", ErrorCode::Required);
}

#[test]
fn a_referral_made_names_its_target_and_targets_imply_a_referral() {
    let mut value = inspection_json(1);
    let mut a = person_json(1);
    a["referral"] = json!({"made": true});
    let mut b = person_json(2);
    b["referral"] = json!({"made": false, "to": ["police"]});
    value["people"] = json!([a, b]);
    let errors = errors_of(value);
    assert_has(&errors, "people[0].referral.to", ErrorCode::Required);
    assert_has(
        &errors,
        "people[1].referral.made",
        inconsistent(Rule::ReferralTargetsButNotMade),
    );
}

// --- photos ----------------------------------------------------------------------------------

#[test]
fn a_photo_within_200_kb_of_jpeg_passes() {
    let value = fixtures::inspection_with_photo_json(1, MAX_PHOTO_BYTES as usize);
    assert_eq!(validate_document(&doc(value)), Ok(Kind::Inspection));
}

#[test]
fn a_photo_over_200_kb_is_too_large() {
    let value = fixtures::inspection_with_photo_json(1, MAX_PHOTO_BYTES as usize + 1);
    assert_rejected_with(
        value,
        "photos[0].attachment",
        ErrorCode::TooLarge { max_bytes: 204_800 },
    );
}

#[test]
fn a_photo_that_is_not_a_jpeg_is_refused_by_label_or_by_bytes() {
    let mut value = fixtures::inspection_with_photo_json(1, 1000);
    value["_attachments"]["photo-1.jpg"]["content_type"] = json!("image/png");
    assert_rejected_with(value, "photos[0].attachment", ErrorCode::NotJpeg);
    let mut value = fixtures::inspection_with_photo_json(1, 1000);
    value["_attachments"]["photo-1.jpg"]["data"] = json!(base64_of(b"\x89PNG\r\n\x1a\n"));
    assert_rejected_with(value, "photos[0].attachment", ErrorCode::NotJpeg);
}

#[test]
fn a_photo_must_name_an_attachment_of_the_document() {
    let mut value = inspection_json(1);
    value["photos"] = json!([{"attachment": "photo-9.jpg"}, {"caption": "no name"}]);
    let errors = errors_of(value);
    assert_has(&errors, "photos[1].attachment", ErrorCode::Required);
    let mut value = inspection_json(1);
    value["photos"] = json!([{"attachment": "photo-9.jpg"}]);
    assert_rejected_with(value, "photos[0].attachment", ErrorCode::MissingAttachment);
}

#[test]
fn photo_stubs_are_checked_by_their_declared_type_and_length() {
    let mut document = doc(fixtures::inspection_with_photo_json(1, 1000));
    let stub = Attachment::inline("image/jpeg", fixtures::jpeg_bytes(1000)).to_stub();
    document.attachments.insert("photo-1.jpg".into(), stub);
    assert!(validate_document(&document).is_ok());
    let mut big = Attachment::inline("image/jpeg", fixtures::jpeg_bytes(10)).to_stub();
    big.length = 300_000;
    document.attachments.insert("photo-1.jpg".into(), big);
    assert_has(
        &validate_document(&document).expect_err("too large"),
        "photos[0].attachment",
        ErrorCode::TooLarge { max_bytes: 204_800 },
    );
}

#[test]
fn every_attachment_of_an_inspection_is_a_jpeg_photo_named_or_not() {
    let mut value = inspection_json(1);
    value["_attachments"] = json!({
        "report.html": {"content_type": "text/html", "data": base64_of(b"<script></script>")},
        "setup.exe": {"content_type": "application/x-msdownload", "stub": true,
                      "digest": "md5-x", "length": 9_437_184},
        "spare.jpg": {"content_type": "image/jpeg", "data": base64_of(&fixtures::jpeg_bytes(64))},
    });
    let errors = errors_of(value);
    assert_has(&errors, "_attachments.report.html", ErrorCode::NotJpeg);
    assert_has(&errors, "_attachments.setup.exe", ErrorCode::NotJpeg);
    assert_has(
        &errors,
        "_attachments.setup.exe",
        ErrorCode::TooLarge { max_bytes: 204_800 },
    );
    assert!(
        !errors.iter().any(|e| e.field.contains("spare.jpg")),
        "{errors:#?}"
    );
}

// --- case events -----------------------------------------------------------------------------

#[test]
fn case_events_of_each_kind_pass_and_round_trip_through_their_body() {
    for (k, kind) in CaseEventKind::ALL.iter().enumerate() {
        let value = fixtures::case_event_json(1, k as u64, *kind);
        let document = doc(value);
        assert_eq!(validate_document(&document), Ok(Kind::CaseEvent), "{kind}");
        let event = CaseEvent::try_from(&document).expect("valid");
        assert_eq!(event.detail.kind(), *kind);
        assert_eq!(event.inspection_id, fixtures::inspection_id(1));
        let mut again = document.clone();
        again.body = event.to_body();
        assert_eq!(CaseEvent::try_from(&again).expect("own body"), event);
    }
}

#[test]
fn has_issues_needs_a_note_for_the_inspector() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::HasIssues);
    value.as_object_mut().expect("object").remove("note");
    assert_rejected_with(value, "note", ErrorCode::Required);
}

#[test]
fn a_referral_event_names_whom_by_code_and_the_service() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::Referred);
    value["service"] = json!("church");
    value["people"] = json!(["P-001", "Juana"]);
    let errors = errors_of(value.clone());
    assert_has(
        &errors,
        "service",
        ErrorCode::NotInList {
            allowed: Service::NAMES,
        },
    );
    assert_has(
        &errors,
        "people[1]",
        ErrorCode::BadFormat {
            expected: Format::PersonCode,
        },
    );
    value.as_object_mut().expect("object").remove("service");
    assert_rejected_with(value, "service", ErrorCode::Required);
}

#[test]
fn an_opened_prosecution_needs_its_case_number() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::ProsecutionOpened);
    value.as_object_mut().expect("object").remove("case_number");
    assert_rejected_with(value, "case_number", ErrorCode::Required);
}

#[test]
fn a_conviction_needs_a_sentence_and_only_a_conviction_has_one() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::Outcome);
    value["sentence_years"] = json!(0);
    value.as_object_mut().expect("object").remove("fine_uit");
    assert_rejected_with(
        value.clone(),
        "sentence_years",
        inconsistent(Rule::ConvictionWithoutSentence),
    );
    value["life_sentence"] = json!(true);
    assert!(validate_document(&doc(value.clone())).is_ok());
    value["outcome"] = json!("acquittal");
    assert_rejected_with(
        value.clone(),
        "sentence_years",
        inconsistent(Rule::SentenceWithoutConviction),
    );
    value["sentence_months"] = json!(12);
    assert_rejected_with(
        value,
        "sentence_months",
        ErrorCode::OutOfRange {
            min: 0.0,
            max: 11.0,
        },
    );
    let mut closed = fixtures::case_event_json(1, 2, CaseEventKind::Outcome);
    for key in ["sentence_years", "sentence_months", "fine_uit"] {
        closed.as_object_mut().expect("object").remove(key);
    }
    closed["outcome"] = json!("closed");
    closed["reason"] = json!("The employer paid and the workers went home.");
    assert!(validate_document(&doc(closed)).is_ok());
}

#[test]
fn an_event_id_names_its_inspection_and_the_inspection_field_agrees() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::Reviewed);
    value["inspection"] = json!(fixtures::inspection_id(2).as_str());
    assert_rejected_with(
        value.clone(),
        "inspection",
        inconsistent(Rule::EventInspectionMismatch),
    );
    value["_id"] = json!("event:20261128-1");
    assert_rejected_with(
        value,
        "_id",
        ErrorCode::BadFormat {
            expected: Format::CaseEventId,
        },
    );
}

#[test]
fn an_event_needs_its_kind_time_and_author() {
    let value = json!({"_id": "event:inspection:a:b", "type": "case_event"});
    let errors = errors_of(value);
    for field in ["kind", "at", "by"] {
        assert_has(&errors, field, ErrorCode::Required);
    }
}

#[track_caller]
fn remove(value: &mut Value, key: &str) {
    value.as_object_mut().expect("object").remove(key);
}

#[track_caller]
fn round_trips(value: Value) {
    let document = doc(value);
    let event = CaseEvent::try_from(&document).expect("valid");
    let mut again = document.clone();
    again.body = event.to_body();
    assert_eq!(
        again.body, document.body,
        "the body is written back as read"
    );
    assert_eq!(CaseEvent::try_from(&again).expect("own body"), event);
}

#[test]
fn every_kind_is_written_by_the_office_only() {
    for kind in CaseEventKind::ALL {
        assert!(office_only(*kind), "{kind}");
    }
}

#[test]
fn events_of_every_shape_round_trip_through_their_body_unchanged() {
    let referral = fixtures::event_id(1, 0);
    let mut other_service = fixtures::referred_json(1, 1, &["P-001", "P-002"]);
    other_service["service"] = json!("other");
    other_service["service_other"] = json!("Defensoría del Pueblo");
    other_service["consent"] = json!("not_asked");
    remove(&mut other_service, "consent_by");
    let mut infraction = fixtures::prosecution_json(1, 3);
    infraction["offence"] = json!("labour_infraction");
    infraction["fine_uit"] = json!(26.52);
    let mut archived = fixtures::event_base_json(1, 4, CaseEventKind::Outcome);
    archived["outcome"] = json!("archived");
    archived["reason"] = json!("No evidence beyond the inspection.");
    let mut life = fixtures::conviction_json(1, 5);
    life["life_sentence"] = json!(true);
    life["supersedes"] = json!(fixtures::event_id(1, 4).as_str());
    life["note"] = json!("Corrected: the court's ruling arrived.");
    for value in [
        other_service,
        fixtures::referral_update_json(1, 2, &referral, "declined"),
        fixtures::referral_update_json(1, 2, &referral, "attended"),
        infraction,
        archived,
        life,
        fixtures::has_issues_json(1, 6, "3-abc", "Missing GPS."),
    ] {
        round_trips(value);
    }
}

#[test]
fn a_review_names_the_revision_it_looked_at() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::Reviewed);
    remove(&mut value, "inspection_rev");
    assert_rejected_with(value.clone(), "inspection_rev", ErrorCode::Required);
    value["inspection_rev"] = json!("latest");
    assert_rejected_with(
        value,
        "inspection_rev",
        ErrorCode::BadFormat {
            expected: Format::RevId,
        },
    );
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::HasIssues);
    remove(&mut value, "inspection_rev");
    assert_rejected_with(value, "inspection_rev", ErrorCode::Required);
}

#[test]
fn a_review_note_left_blank_is_required() {
    let value = fixtures::has_issues_json(1, 1, fixtures::REVIEWED_REV, "   \n ");
    assert_rejected_with(value, "note", ErrorCode::Required);
}

#[test]
fn a_referral_names_at_least_one_person_each_once() {
    let mut value = fixtures::referred_json(1, 1, &[]);
    assert_rejected_with(value.clone(), "people", ErrorCode::Required);
    remove(&mut value, "people");
    assert_rejected_with(value.clone(), "people", ErrorCode::Required);
    value["people"] = json!(["P-001", "P-001"]);
    assert_rejected_with(value, "people[1]", ErrorCode::Duplicate);
}

#[test]
fn a_referral_to_another_service_says_which() {
    let mut value = fixtures::referred_json(1, 1, &["P-001"]);
    value["service"] = json!("other");
    assert_rejected_with(value, "service_other", ErrorCode::Required);
}

#[test]
fn a_referral_without_consent_recorded_is_refused() {
    let mut value = fixtures::referred_json(1, 1, &["P-001"]);
    remove(&mut value, "consent");
    assert_rejected_with(value, "consent", ErrorCode::Required);
    let mut value = fixtures::referred_json(1, 1, &["P-001"]);
    value["consent"] = json!("yes");
    assert_rejected_with(
        value,
        "consent",
        ErrorCode::NotInList {
            allowed: ConsentStatus::NAMES,
        },
    );
}

#[test]
fn consent_given_says_by_whom_and_only_then() {
    let mut value = fixtures::referred_json(1, 1, &["P-001"]);
    remove(&mut value, "consent_by");
    assert_rejected_with(value.clone(), "consent_by", ErrorCode::Required);
    value["consent"] = json!("refused");
    assert!(validate_document(&doc(value.clone())).is_ok());
    value["consent_by"] = json!("guardian");
    assert_rejected_with(
        value,
        "consent_by",
        inconsistent(Rule::ConsentByWithoutConsent),
    );
}

#[test]
fn a_referral_reference_is_at_most_100_characters() {
    let mut value = fixtures::referred_json(1, 1, &["P-001"]);
    value["reference"] = json!("x".repeat(101));
    assert_rejected_with(value, "reference", ErrorCode::TooLong { max: 100 });
}

#[test]
fn a_referral_update_follows_a_referral_of_the_same_inspection() {
    let mut value = fixtures::case_event_json(1, 2, CaseEventKind::ReferralUpdate);
    remove(&mut value, "referral");
    assert_rejected_with(value.clone(), "referral", ErrorCode::Required);
    value["referral"] = json!(fixtures::event_id(2, 0).as_str());
    assert_rejected_with(
        value.clone(),
        "referral",
        inconsistent(Rule::EventOfAnotherInspection),
    );
    value["referral"] = json!("referral-1");
    assert_rejected_with(
        value,
        "referral",
        ErrorCode::BadFormat {
            expected: Format::CaseEventId,
        },
    );
}

#[test]
fn a_referral_update_has_a_status_and_a_declined_one_a_reason() {
    let referral = fixtures::event_id(1, 0);
    let mut value = fixtures::referral_update_json(1, 2, &referral, "declined");
    remove(&mut value, "reason");
    assert_rejected_with(value.clone(), "reason", ErrorCode::Required);
    value["status"] = json!("lost");
    assert_rejected_with(
        value.clone(),
        "status",
        ErrorCode::NotInList {
            allowed: ReferralStatus::NAMES,
        },
    );
    remove(&mut value, "status");
    assert_rejected_with(value, "status", ErrorCode::Required);
}

#[test]
fn an_opened_prosecution_needs_its_office_and_offence() {
    for key in ["office", "offence"] {
        let mut value = fixtures::prosecution_json(1, 1);
        remove(&mut value, key);
        assert_rejected_with(value, key, ErrorCode::Required);
    }
    let mut value = fixtures::prosecution_json(1, 1);
    value["offence"] = json!("cp_999");
    assert_rejected_with(
        value,
        "offence",
        ErrorCode::NotInList {
            allowed: Offence::NAMES,
        },
    );
}

#[test]
fn a_fine_in_uit_goes_only_and_always_with_a_labour_infraction() {
    let mut value = fixtures::prosecution_json(1, 1);
    value["fine_uit"] = json!(10);
    assert_rejected_with(
        value.clone(),
        "fine_uit",
        inconsistent(Rule::FineWithoutInfraction),
    );
    value["offence"] = json!("labour_infraction");
    assert!(validate_document(&doc(value.clone())).is_ok());
    remove(&mut value, "fine_uit");
    assert_rejected_with(value, "fine_uit", ErrorCode::Required);
}

#[test]
fn a_fine_is_above_zero_at_most_1000_uit_with_two_decimals() {
    let mut value = fixtures::prosecution_json(1, 1);
    value["offence"] = json!("labour_infraction");
    for ok in [json!(0.01), json!(1000), json!(2.25), json!(0.1)] {
        value["fine_uit"] = ok.clone();
        assert!(validate_document(&doc(value.clone())).is_ok(), "{ok}");
    }
    value["fine_uit"] = json!(2.255);
    assert_rejected_with(
        value.clone(),
        "fine_uit",
        ErrorCode::BadFormat {
            expected: Format::UitAmount,
        },
    );
    value["fine_uit"] = json!(0);
    assert_rejected_with(
        value.clone(),
        "fine_uit",
        ErrorCode::OutOfRange {
            min: 0.01,
            max: 1000.0,
        },
    );
    for bad in [json!(1000.01), json!(-1)] {
        value["fine_uit"] = bad;
        assert_rejected_with(
            value.clone(),
            "fine_uit",
            ErrorCode::OutOfRange {
                min: 0.0,
                max: 1000.0,
            },
        );
    }
    value["fine_uit"] = json!("10");
    assert_rejected_with(
        value,
        "fine_uit",
        ErrorCode::WrongType {
            expected: JsonType::Number,
        },
    );
}

#[test]
fn a_sentence_beyond_50_years_is_out_of_range() {
    let mut value = fixtures::conviction_json(1, 1);
    value["sentence_years"] = json!(51);
    assert_rejected_with(
        value,
        "sentence_years",
        ErrorCode::OutOfRange {
            min: 0.0,
            max: 50.0,
        },
    );
}

#[test]
fn only_a_conviction_carries_a_fine() {
    let mut value = fixtures::conviction_json(1, 1);
    for key in ["sentence_years", "sentence_months"] {
        remove(&mut value, key);
    }
    value["outcome"] = json!("acquittal");
    assert_rejected_with(value, "fine_uit", inconsistent(Rule::FineWithoutConviction));
}

#[test]
fn an_archived_or_closed_case_says_why() {
    for outcome in ["archived", "closed"] {
        let mut value = fixtures::event_base_json(1, 1, CaseEventKind::Outcome);
        value["outcome"] = json!(outcome);
        assert_rejected_with(value, "reason", ErrorCode::Required);
    }
    let mut value = fixtures::event_base_json(1, 1, CaseEventKind::Outcome);
    value["outcome"] = json!("acquittal");
    assert!(validate_document(&doc(value.clone())).is_ok());
    remove(&mut value, "outcome");
    assert_rejected_with(value, "outcome", ErrorCode::Required);
}

#[test]
fn a_correction_supersedes_another_event_of_the_same_inspection() {
    let mut value = fixtures::case_event_json(1, 3, CaseEventKind::Reviewed);
    value["supersedes"] = json!(fixtures::event_id(1, 1).as_str());
    assert!(validate_document(&doc(value.clone())).is_ok());
    value["supersedes"] = json!(fixtures::event_id(1, 3).as_str());
    assert_rejected_with(
        value.clone(),
        "supersedes",
        inconsistent(Rule::SupersedesItself),
    );
    value["supersedes"] = json!(fixtures::event_id(2, 1).as_str());
    assert_rejected_with(
        value.clone(),
        "supersedes",
        inconsistent(Rule::EventOfAnotherInspection),
    );
    value["supersedes"] = json!(fixtures::inspection_id(1).as_str());
    assert_rejected_with(
        value,
        "supersedes",
        ErrorCode::BadFormat {
            expected: Format::CaseEventId,
        },
    );
}

#[test]
fn a_note_is_at_most_4000_characters() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::Reviewed);
    value["note"] = json!("x".repeat(4001));
    assert_rejected_with(value, "note", ErrorCode::TooLong { max: 4000 });
}

#[test]
fn every_new_rule_has_an_english_message() {
    for rule in [
        Rule::SupersedesItself,
        Rule::EventOfAnotherInspection,
        Rule::ConsentByWithoutConsent,
        Rule::FineWithoutInfraction,
        Rule::FineWithoutConviction,
    ] {
        let message = FieldError::new("x", inconsistent(rule)).message_en();
        assert!(message.len() > 10, "{rule:?}: {message}");
    }
}

// --- dispatch and databases ------------------------------------------------------------------

#[test]
fn an_unknown_or_missing_type_is_refused_with_the_types_allowed() {
    assert_rejected_with(
        json!({"_id": "x", "type": "invoice"}),
        "type",
        ErrorCode::NotInList {
            allowed: DOCUMENT_TYPES,
        },
    );
    assert_rejected_with(json!({"_id": "x"}), "type", ErrorCode::Required);
}

#[test]
fn tombstones_and_design_documents_pass() {
    let tombstone = doc(json!({"_id": "inspection:x", "_deleted": true}));
    assert_eq!(validate_document(&tombstone), Ok(Kind::Tombstone));
    assert_eq!(
        validate_for_database(&tombstone, "loreto"),
        Ok(Kind::Tombstone)
    );
    let routed = doc(json!({"_id": "inspection:x", "_deleted": true,
        "_revisions": {"start": 2, "ids": ["b", "a"]}, "type": "inspection", "region": "loreto"}));
    assert_eq!(
        validate_for_database(&routed, "loreto"),
        Ok(Kind::Tombstone)
    );
    let design = doc(json!({"_id": "_design/reports", "views": {}}));
    assert_eq!(validate_document(&design), Ok(Kind::Design));
}

#[test]
fn a_tombstone_in_a_region_database_carries_only_its_routing_fields() {
    let named = doc(json!({"_id": "inspection:x", "_deleted": true,
        "people": [{"code": "P-001", "name": "Juana", "dni": "45678912"}], "notes": "x"}));
    let errors = validate_for_database(&named, "loreto").expect_err("refused");
    assert_has(&errors, "people", ErrorCode::UnknownField);
    assert_has(&errors, "notes", ErrorCode::UnknownField);
    // Outside the regions' databases (an administrator's archive) nothing is checked.
    assert_eq!(
        validate_for_database(&named, "national-archive"),
        Ok(Kind::Tombstone)
    );

    let misrouted = doc(json!({"_id": "inspection:x", "_deleted": true,
        "type": "person", "region": "cusco"}));
    let errors = validate_for_database(&misrouted, "loreto").expect_err("refused");
    assert_has(
        &errors,
        "type",
        ErrorCode::NotInList {
            allowed: DOCUMENT_TYPES,
        },
    );
    assert_has(
        &errors,
        "region",
        ErrorCode::RegionMismatch {
            database: "loreto".into(),
        },
    );

    let mut with_photo = doc(json!({"_id": "inspection:x", "_deleted": true}));
    with_photo.attachments.insert(
        "p.jpg".into(),
        Attachment::inline("image/jpeg", fixtures::jpeg_bytes(10)),
    );
    assert_eq!(
        validate_for_database(&with_photo, "loreto"),
        Err(vec![FieldError::new(
            "_attachments",
            ErrorCode::UnknownField
        )])
    );
}

#[test]
fn an_inspection_in_another_region_s_database_is_refused() {
    let document = doc(inspection_json(1));
    assert_eq!(
        validate_for_database(&document, "madre-de-dios"),
        Ok(Kind::Inspection)
    );
    assert_eq!(
        validate_for_database(&document, "loreto"),
        Err(vec![FieldError::new(
            "region",
            ErrorCode::RegionMismatch {
                database: "loreto".into()
            }
        )])
    );
    assert_eq!(
        validate_for_database(&document, "test-db"),
        Ok(Kind::Inspection),
        "a database that is not a region's is not checked"
    );
    assert_eq!(
        validate_for_database(&doc(draft()), "loreto"),
        Ok(Kind::Inspection),
        "a draft without a region yet"
    );
    let mut bad = inspection_json(1);
    bad["site_name"] = json!(1);
    let errors = validate_for_database(&doc(bad), "loreto").expect_err("both problems");
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn the_server_s_reason_lists_every_field_in_one_sentence() {
    let mut value = inspection_json(1);
    value["workers"]["minors_under_14"] = json!(9);
    value.as_object_mut().expect("object").remove("site_name");
    let reason = reason_en(&errors_of(value));
    assert!(
        reason.starts_with("The document is not valid (2 problems): "),
        "{reason}"
    );
    assert!(reason.contains("site_name: is required"), "{reason}");
    assert!(
        reason.contains("workers.minors_under_14: must not exceed"),
        "{reason}"
    );
}

// --- fixtures --------------------------------------------------------------------------------

#[test]
fn the_fixture_inspection_is_about_one_kilobyte_and_ids_are_distinct_and_ordered() {
    let len = serde_json::to_vec(&inspection_json(7)).expect("json").len();
    assert!((800..=1800).contains(&len), "{len} bytes");
    let ids: Vec<_> = (0..100).map(fixtures::inspection_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for region in Region::ALL {
        let document = doc(fixtures::inspection_json_in(3, *region));
        assert_eq!(
            validate_for_database(&document, region.db_name()),
            Ok(Kind::Inspection)
        );
    }
}

#[test]
fn a_case_event_carries_no_attachments() {
    let mut value = fixtures::case_event_json(1, 1, CaseEventKind::Reviewed);
    value["_attachments"] = json!({"ruling.jpg": {"content_type": "image/jpeg",
        "data": base64_of(&fixtures::jpeg_bytes(64))}});
    assert_rejected_with(value, "_attachments.ruling.jpg", ErrorCode::UnknownField);
}

// --- sealed identities and sealed photos (issue 11) --------------------------------------------

fn envelope(key_id: &str, ciphertext_len: usize) -> Vec<u8> {
    let mut out = crate::sealed::ENVELOPE_MAGIC.to_vec();
    out.extend_from_slice(key_id.as_bytes());
    out.push(b'\n');
    out.extend(std::iter::repeat_n(0x5a, ciphertext_len));
    out
}

fn sealed_photo_json(bytes: &[u8]) -> Value {
    let mut value = inspection_json(1);
    value["photos"] = json!([{"attachment": "p1", "shows_people": true}]);
    value["_attachments"] = json!({
        "p1": {"content_type": crate::sealed::SEALED_CONTENT_TYPE, "data": base64_of(bytes)}
    });
    value
}

fn sealed(what: Format) -> ErrorCode {
    ErrorCode::BadFormat { expected: what }
}

#[test]
fn a_sealed_identity_names_the_scheme_a_key_id_and_a_ciphertext_long_enough_to_be_one() {
    let mut value = draft();
    let mut alg = person_json(1);
    alg["sealed"]["alg"] = json!("x25519-xsalsa20poly1305");
    let mut key = person_json(2);
    key["sealed"]["recipient_key_id"] = json!("Loreto 2026");
    let mut short = person_json(3);
    short["sealed"]["ciphertext_b64"] = json!(base64_of(&[1u8; 47]));
    let mut garbage = person_json(4);
    garbage["sealed"]["ciphertext_b64"] = json!("SGVsbG8=");
    value["people"] = json!([alg, key, short, garbage, person_json(5)]);
    let errors = errors_of(value);
    assert_has(&errors, "people[0].sealed.alg", sealed(Format::SealAlg));
    assert_has(
        &errors,
        "people[1].sealed.recipient_key_id",
        sealed(Format::SealKeyId),
    );
    assert_has(
        &errors,
        "people[2].sealed.ciphertext_b64",
        sealed(Format::SealedCiphertext),
    );
    assert_has(
        &errors,
        "people[3].sealed.ciphertext_b64",
        sealed(Format::SealedCiphertext),
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    let reason = reason_en(&errors);
    assert!(reason.contains("truncated"), "{reason}");
}

#[test]
fn a_photo_that_shows_people_must_be_a_sealed_envelope_by_label_and_by_bytes() {
    let key = "madre-de-dios-0123456789abcdef";
    assert!(validate_document(&doc(sealed_photo_json(&envelope(key, 5000)))).is_ok());
    let parsed = Inspection::try_from(&doc(sealed_photo_json(&envelope(key, 60)))).unwrap();
    assert!(parsed.photos[0].shows_people);

    // A JPEG in clear, as the tablet would send it without sealing: by label or by bytes.
    let mut clear = fixtures::inspection_with_photo_json(1, 1000);
    clear["photos"][0]["shows_people"] = json!(true);
    assert_rejected_with(clear, "photos[0].attachment", sealed(Format::SealedPhoto));
    let jpeg_labelled_sealed = sealed_photo_json(&fixtures::jpeg_bytes(1000));
    assert_rejected_with(
        jpeg_labelled_sealed,
        "photos[0].attachment",
        sealed(Format::SealedEnvelope),
    );
    // Truncated, or naming no valid key.
    assert_rejected_with(
        sealed_photo_json(&envelope(key, 20)),
        "photos[0].attachment",
        sealed(Format::SealedEnvelope),
    );
    assert_rejected_with(
        sealed_photo_json(&envelope("Loreto", 100)),
        "photos[0].attachment",
        sealed(Format::SealedEnvelope),
    );
    // At most a photo and its envelope: to the byte.
    let header = crate::sealed::ENVELOPE_MAGIC.len() + key.len() + 1;
    let largest = envelope(key, MAX_SEALED_PHOTO_BYTES as usize - header);
    assert_eq!(largest.len() as u64, MAX_SEALED_PHOTO_BYTES);
    assert_eq!(
        validate_document(&doc(sealed_photo_json(&largest))),
        Ok(Kind::Inspection)
    );
    assert_rejected_with(
        sealed_photo_json(&envelope(key, MAX_SEALED_PHOTO_BYTES as usize - header + 1)),
        "photos[0].attachment",
        ErrorCode::TooLarge {
            max_bytes: MAX_SEALED_PHOTO_BYTES,
        },
    );
    // A stub is checked by its label.
    let mut stubbed = doc(sealed_photo_json(&envelope(key, 100)));
    let stub = Attachment::inline("image/jpeg", fixtures::jpeg_bytes(100)).to_stub();
    stubbed.attachments.insert("p1".into(), stub);
    assert_has(
        &validate_document(&stubbed).expect_err("a JPEG stub"),
        "photos[0].attachment",
        sealed(Format::SealedPhoto),
    );
}

#[test]
fn a_photo_of_a_place_stays_a_jpeg_and_shows_people_must_be_a_boolean() {
    let key = "madre-de-dios-0123456789abcdef";
    let mut value = sealed_photo_json(&envelope(key, 100));
    value["photos"][0]["shows_people"] = json!(false);
    assert_rejected_with(value, "photos[0].attachment", ErrorCode::NotJpeg);
    let mut value = fixtures::inspection_with_photo_json(1, 1000);
    value["photos"][0]["shows_people"] = json!("yes");
    assert_rejected_with(
        value,
        "photos[0].shows_people",
        ErrorCode::WrongType {
            expected: JsonType::Boolean,
        },
    );
    // An attachment no photo names yet is a JPEG or a sealed envelope, checked as such.
    let mut value = inspection_json(1);
    value["_attachments"] = json!({
        "later": {"content_type": crate::sealed::SEALED_CONTENT_TYPE,
                  "data": base64_of(&envelope(key, 100))},
        "broken": {"content_type": crate::sealed::SEALED_CONTENT_TYPE,
                   "data": base64_of(&fixtures::jpeg_bytes(100))},
    });
    let errors = errors_of(value);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_has(
        &errors,
        "_attachments.broken",
        sealed(Format::SealedEnvelope),
    );
}
