//! How a case's state follows from its events, one rule per test, then the property that makes
//! it safe to sync: any order, any duplicates, any split between replicas, the same view.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::domain::fixtures::{self, event_id, inspection_id, REVIEWED_REV};

const NEWER_REV: &str = "2-0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn rev(s: &str) -> RevId {
    RevId::parse(s).expect("valid rev")
}

/// Fixture inspection 1 at `rev`, with people P-001 and P-002.
fn inspection(rev_text: &str, submitted: bool) -> CaseInspection {
    CaseInspection {
        id: inspection_id(1),
        rev: Some(rev(rev_text)),
        submitted,
        person_codes: vec![PersonCode::nth(1), PersonCode::nth(2)],
        updated_at: Timestamp::parse("2026-11-28T16:30:00Z"),
    }
}

fn submitted() -> CaseInspection {
    inspection(REVIEWED_REV, true)
}

fn ev(value: Value) -> CaseEvent {
    fixtures::case_event(value)
}

fn at(mut value: Value, second: u32) -> Value {
    value["at"] = json!(format!("2026-12-01T10:00:{second:02}Z"));
    value
}

fn superseding(mut value: Value, target: u64) -> Value {
    value["supersedes"] = json!(event_id(1, target).as_str());
    value
}

fn derive(events: &[CaseEvent]) -> CaseView {
    checked(Some(&submitted()), events)
}

/// [`derive_case`], checking that the tablet's [`case_summary`] agrees with it.
fn checked(inspection: Option<&CaseInspection>, events: &[CaseEvent]) -> CaseView {
    let view = derive_case(inspection, events);
    let summary = case_summary(inspection, events);
    assert_eq!(summary.state, view.state, "the summary's state");
    assert_eq!(summary.open_issues, view.open_issues, "the summary's note");
    view
}

// --- review ----------------------------------------------------------------------------------

#[test]
fn a_submitted_inspection_without_events_awaits_review_since_its_last_save() {
    let view = derive(&[]);
    assert_eq!(view.state, CaseState::AwaitingReview);
    assert_eq!(view.last_step_at, submitted().updated_at);
    assert_eq!(view.reviewed_rev, None);
    assert!(view.gaps.is_empty() && view.timeline.is_empty());
    assert_eq!(
        view.people.keys().cloned().collect::<Vec<_>>(),
        [PersonCode::nth(1), PersonCode::nth(2)]
    );
}

#[test]
fn reviewed_on_the_current_revision_is_reviewed() {
    let e = ev(fixtures::reviewed_json(1, 1, REVIEWED_REV));
    let view = derive(std::slice::from_ref(&e));
    assert_eq!(view.state, CaseState::Reviewed);
    assert_eq!(view.reviewed_rev, Some(rev(REVIEWED_REV)));
    assert_eq!(view.last_step_at, Some(e.at.clone()));
    assert_eq!(view.open_issues, None);
}

#[test]
fn has_issues_on_the_current_revision_shows_the_note_who_and_when() {
    let e = ev(fixtures::has_issues_json(
        1,
        1,
        REVIEWED_REV,
        "Falta la evidencia.",
    ));
    let view = derive(std::slice::from_ref(&e));
    assert_eq!(view.state, CaseState::HasIssues);
    assert_eq!(
        view.open_issues,
        Some(IssueNote {
            event: e.id.clone(),
            note: "Falta la evidencia.".into(),
            by: "supervisor-1".into(),
            at: e.at.clone(),
            device: Some("office-pc-1".into()),
        })
    );
}

#[test]
fn a_resubmitted_case_waits_from_its_resubmission_not_from_the_note() {
    let mut newer = inspection(NEWER_REV, true);
    // The note came on 2026-12-01; the inspector answered on 2026-12-03.
    newer.updated_at = Timestamp::parse("2026-12-03T08:00:00Z");
    let note = ev(fixtures::has_issues_json(1, 1, REVIEWED_REV, "Fix it."));
    let view = checked(Some(&newer), std::slice::from_ref(&note));
    assert_eq!(view.state, CaseState::Resubmitted);
    assert_eq!(view.last_step_at, newer.updated_at);
    // Still waiting on the inspector: the note is the last step.
    let view = checked(
        Some(&inspection(REVIEWED_REV, true)),
        std::slice::from_ref(&note),
    );
    assert_eq!(view.state, CaseState::HasIssues);
    assert_eq!(view.last_step_at, Some(note.at));
}

#[test]
fn a_record_submitted_again_after_a_review_is_resubmitted() {
    let newer = inspection(NEWER_REV, true);
    for value in [
        fixtures::has_issues_json(1, 1, REVIEWED_REV, "Fix it."),
        fixtures::reviewed_json(1, 1, REVIEWED_REV),
    ] {
        let view = checked(Some(&newer), &[ev(value)]);
        assert_eq!(view.state, CaseState::Resubmitted);
        assert_eq!(view.open_issues, None);
        assert_eq!(view.reviewed_rev, Some(rev(REVIEWED_REV)));
    }
}

#[test]
fn a_replica_that_has_not_pulled_the_reviewed_revision_is_not_resubmitted() {
    let behind = inspection(REVIEWED_REV, true);
    let view = checked(
        Some(&behind),
        &[ev(fixtures::has_issues_json(1, 1, NEWER_REV, "Fix it."))],
    );
    assert_eq!(view.state, CaseState::HasIssues);
    assert!(view.open_issues.is_some());
}

#[test]
fn a_record_reopened_as_a_draft_still_has_its_issues_while_the_inspector_corrects_it() {
    let draft = inspection(NEWER_REV, false);
    let view = checked(
        Some(&draft),
        &[ev(fixtures::has_issues_json(1, 1, REVIEWED_REV, "Fix it."))],
    );
    assert_eq!(view.state, CaseState::HasIssues);
    assert!(view.open_issues.is_some());
}

#[test]
fn the_latest_review_decides_by_time_then_id() {
    let issues = ev(at(fixtures::has_issues_json(1, 1, REVIEWED_REV, "Fix."), 5));
    let reviewed = ev(at(fixtures::reviewed_json(1, 2, REVIEWED_REV), 9));
    assert_eq!(
        derive(&[reviewed.clone(), issues.clone()]).state,
        CaseState::Reviewed
    );
    // Same instant: the larger id is the later one.
    let tie = ev(at(fixtures::reviewed_json(1, 2, REVIEWED_REV), 5));
    assert_eq!(derive(&[tie, issues.clone()]).state, CaseState::Reviewed);
    let later_issues = ev(at(
        fixtures::has_issues_json(1, 3, REVIEWED_REV, "Again."),
        12,
    ));
    assert_eq!(
        derive(&[later_issues, reviewed, issues]).state,
        CaseState::HasIssues
    );
}

#[test]
fn without_the_inspection_the_review_event_speaks_for_itself() {
    let view = checked(
        None,
        &[ev(fixtures::has_issues_json(1, 1, NEWER_REV, "Fix."))],
    );
    assert_eq!(view.state, CaseState::HasIssues);
    assert!(view.people.is_empty());
}

// --- referrals and people --------------------------------------------------------------------

#[test]
fn a_referral_is_sent_then_received_then_attended() {
    let referral = ev(fixtures::referred_json(1, 0, &["P-001", "P-002"]));
    let view = derive(std::slice::from_ref(&referral));
    assert_eq!(view.state, CaseState::Referred);
    assert_eq!(view.referrals.len(), 1);
    assert_eq!(view.referrals[0].state, ReferralState::Sent);
    assert_eq!(view.referrals[0].state_at, None);
    let received = ev(fixtures::referral_update_json(
        1,
        1,
        &referral.id,
        "received",
    ));
    let attended = ev(fixtures::referral_update_json(
        1,
        2,
        &referral.id,
        "attended",
    ));
    let view = derive(&[attended.clone(), referral.clone(), received.clone()]);
    assert_eq!(view.referrals[0].state, ReferralState::Attended);
    assert_eq!(view.referrals[0].state_at, Some(attended.at.clone()));
    for code in [PersonCode::nth(1), PersonCode::nth(2)] {
        assert_eq!(
            view.people[&code].referrals,
            [PersonReferral {
                referral: referral.id.clone(),
                service: Service::Shelter,
                state: ReferralState::Attended,
            }]
        );
    }
    let view = derive(&[referral, received]);
    assert_eq!(view.referrals[0].state, ReferralState::Received);
}

#[test]
fn a_declined_referral_carries_its_reason() {
    let referral = ev(fixtures::referred_json(1, 0, &["P-001"]));
    let declined = ev(fixtures::referral_update_json(
        1,
        1,
        &referral.id,
        "declined",
    ));
    let view = derive(&[referral, declined]);
    assert_eq!(
        view.referrals[0].state,
        ReferralState::Declined {
            reason: "No places left at the shelter.".into()
        }
    );
    assert!(view.people[&PersonCode::nth(2)].referrals.is_empty());
}

#[test]
fn an_update_for_an_unknown_referral_is_a_gap() {
    let orphan = ev(fixtures::referral_update_json(
        1,
        1,
        &event_id(1, 0),
        "received",
    ));
    let view = derive(std::slice::from_ref(&orphan));
    assert_eq!(
        view.gaps,
        [Gap::UpdateForUnknownReferral {
            update: orphan.id.clone(),
            referral: event_id(1, 0),
        }]
    );
    assert_eq!(view.state, CaseState::AwaitingReview);
    // Naming an event that is not a referral is the same gap.
    let review = ev(fixtures::reviewed_json(1, 0, REVIEWED_REV));
    let view = derive(&[review, orphan]);
    assert_eq!(view.gaps.len(), 1);
    assert_eq!(view.state, CaseState::Reviewed);
}

#[test]
fn a_referral_naming_a_code_the_inspection_lacks_is_a_gap_and_still_listed() {
    let referral = ev(fixtures::referred_json(1, 0, &["P-001", "P-009"]));
    let view = derive(std::slice::from_ref(&referral));
    assert_eq!(
        view.gaps,
        [Gap::ReferralForUnknownPerson {
            referral: referral.id.clone(),
            person: PersonCode::nth(9),
        }]
    );
    assert_eq!(view.people[&PersonCode::nth(9)].referrals.len(), 1);
}

// --- prosecution and outcome -----------------------------------------------------------------

#[test]
fn a_prosecution_then_an_outcome_closes_the_case() {
    let referral = ev(fixtures::referred_json(1, 0, &["P-001"]));
    let prosecution = ev(fixtures::prosecution_json(1, 1));
    let view = derive(&[referral.clone(), prosecution.clone()]);
    assert_eq!(view.state, CaseState::InProsecution);
    let p = view.prosecution.expect("prosecution");
    assert_eq!(
        (p.offence, p.case_number.as_str()),
        (Offence::Cp168B, "CF-2026-0412")
    );
    let conviction = ev(fixtures::conviction_json(1, 2));
    let view = derive(&[conviction.clone(), referral, prosecution]);
    assert_eq!(view.state, CaseState::Closed);
    let o = view.outcome.expect("outcome");
    assert_eq!(o.outcome, OutcomeKind::Conviction);
    assert_eq!(o.sentence.map(|s| s.years), Some(15));
    assert_eq!(o.fine_uit.map(FineUit::hundredths), Some(250));
    assert!(view.gaps.is_empty());
    assert_eq!(view.last_step_at, Some(conviction.at));
}

#[test]
fn an_outcome_without_a_prosecution_is_accepted_and_shown_as_a_gap() {
    let conviction = ev(fixtures::conviction_json(1, 2));
    let view = derive(std::slice::from_ref(&conviction));
    assert_eq!(view.state, CaseState::Closed);
    assert_eq!(
        view.gaps,
        [Gap::OutcomeWithoutProsecution {
            outcome: conviction.id
        }]
    );
}

#[test]
fn two_outcomes_not_correcting_each_other_are_a_gap_and_the_latest_shows() {
    let first = ev(fixtures::conviction_json(1, 2));
    let mut acquittal = fixtures::event_base_json(1, 3, CaseEventKind::Outcome);
    acquittal["outcome"] = json!("acquittal");
    let second = ev(acquittal);
    let view = derive(&[
        second.clone(),
        first.clone(),
        ev(fixtures::prosecution_json(1, 1)),
    ]);
    assert_eq!(
        view.gaps,
        [Gap::SeveralOutcomes {
            outcomes: vec![first.id, second.id.clone()]
        }]
    );
    assert_eq!(view.outcome.map(|o| o.id), Some(second.id));
}

// --- corrections -----------------------------------------------------------------------------

#[test]
fn a_superseded_event_no_longer_counts_but_stays_in_the_timeline() {
    let wrong = ev(fixtures::conviction_json(1, 2));
    let mut acquittal = fixtures::event_base_json(1, 3, CaseEventKind::Outcome);
    acquittal["outcome"] = json!("acquittal");
    let fixed = ev(superseding(acquittal, 2));
    let prosecution = ev(fixtures::prosecution_json(1, 1));
    let view = derive(&[fixed.clone(), wrong.clone(), prosecution]);
    assert!(view.gaps.is_empty(), "{:?}", view.gaps);
    assert_eq!(
        view.outcome.map(|o| o.outcome),
        Some(OutcomeKind::Acquittal)
    );
    let entry = view
        .timeline
        .iter()
        .find(|t| t.id == wrong.id)
        .expect("in the timeline");
    assert!(entry.superseded);
    assert_eq!(entry.superseded_by, [fixed.id]);
}

#[test]
fn in_a_chain_of_corrections_only_the_last_counts() {
    let a = ev(fixtures::referred_json(1, 0, &["P-001"]));
    let b = ev(superseding(fixtures::referred_json(1, 1, &["P-002"]), 0));
    let c = ev(superseding(
        fixtures::referred_json(1, 2, &["P-001", "P-002"]),
        1,
    ));
    let view = derive(&[c.clone(), a, b]);
    assert_eq!(view.referrals.len(), 1);
    assert_eq!(view.referrals[0].id, c.id);
    assert_eq!(view.timeline.iter().filter(|t| t.superseded).count(), 2);
}

#[test]
fn withdrawing_the_only_referral_returns_the_case_to_its_review_state() {
    let referral = ev(fixtures::referred_json(1, 0, &["P-001"]));
    let update = ev(fixtures::referral_update_json(
        1,
        1,
        &referral.id,
        "received",
    ));
    let review = ev(superseding(fixtures::reviewed_json(1, 2, REVIEWED_REV), 0));
    let view = derive(&[referral, update, review]);
    assert_eq!(view.state, CaseState::Reviewed);
    assert!(view.referrals.is_empty());
    // The update follows a referral that was corrected away: ignored, not a gap.
    assert!(view.gaps.is_empty(), "{:?}", view.gaps);
}

#[test]
fn a_correction_of_an_unknown_event_is_a_gap_and_still_counts() {
    let review = ev(superseding(fixtures::reviewed_json(1, 2, REVIEWED_REV), 7));
    let view = derive(std::slice::from_ref(&review));
    assert_eq!(view.state, CaseState::Reviewed);
    assert_eq!(
        view.gaps,
        [Gap::SupersedesUnknownEvent {
            event: review.id,
            supersedes: event_id(1, 7),
        }]
    );
}

// --- timeline, duplicates, other inspections -------------------------------------------------

#[test]
fn the_timeline_is_every_event_once_by_time_then_id() {
    let late = ev(at(fixtures::reviewed_json(1, 0, REVIEWED_REV), 30));
    let early = ev(at(fixtures::referred_json(1, 9, &["P-001"]), 10));
    let tie_a = ev(at(fixtures::prosecution_json(1, 3), 20));
    let tie_b = ev(at(fixtures::prosecution_json(1, 4), 20));
    let view = derive(&[
        late.clone(),
        tie_b.clone(),
        early.clone(),
        tie_a.clone(),
        late.clone(),
    ]);
    let ids: Vec<&DocId> = view.timeline.iter().map(|t| &t.id).collect();
    assert_eq!(ids, [&early.id, &tie_a.id, &tie_b.id, &late.id]);
    assert_eq!(view.timeline[0].kind, CaseEventKind::Referred);
}

#[test]
fn events_of_another_inspection_are_ignored() {
    let other = ev(fixtures::conviction_json(2, 1));
    let view = derive(&[other]);
    assert_eq!(view.state, CaseState::AwaitingReview);
    assert!(view.timeline.is_empty());
}

#[test]
fn the_view_serialises_to_snake_case_json() {
    let referral = ev(fixtures::referred_json(1, 0, &["P-001"]));
    let declined = ev(fixtures::referral_update_json(
        1,
        1,
        &referral.id,
        "declined",
    ));
    let conviction = ev(fixtures::conviction_json(1, 2));
    let json = serde_json::to_value(derive(&[referral, declined, conviction])).expect("json");
    assert_eq!(json["state"], "closed");
    assert_eq!(json["referrals"][0]["status"], "declined");
    assert_eq!(json["referrals"][0]["service"], "shelter");
    assert_eq!(
        json["people"]["P-001"]["referrals"][0]["status"],
        "declined"
    );
    assert_eq!(json["gaps"][0]["gap"], "outcome_without_prosecution");
    assert_eq!(json["outcome"]["fine_uit"], 2.5);
    assert_eq!(json["outcome"]["sentence"]["years"], 15);
    assert_eq!(json["timeline"][2]["kind"], "outcome");
    assert_eq!(json["timeline"][2]["superseded"], false);
    assert!(json["last_step_at"].is_string());
}

#[test]
fn case_states_parse_from_their_wire_names() {
    assert_eq!("has_issues".parse::<CaseState>(), Ok(CaseState::HasIssues));
    assert_eq!(CaseState::ALL.len(), 7);
    assert!(matches!(
        "lost".parse::<CaseState>(),
        Err(crate::domain::ErrorCode::NotInList { .. })
    ));
}

#[test]
fn parse_events_keeps_the_valid_events_only() {
    let good = fixtures::doc(fixtures::reviewed_json(1, 1, REVIEWED_REV));
    let mut bad = fixtures::reviewed_json(1, 2, REVIEWED_REV);
    bad["inspection_rev"] = json!("nope");
    let bad = fixtures::doc(bad);
    let inspection = fixtures::doc(fixtures::inspection_json(1));
    let gone = fixtures::doc(json!({"_id": event_id(1, 3).as_str(), "_deleted": true}));
    let events = parse_events([&good, &bad, &inspection, &gone]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, good.id);
}

#[test]
fn the_inspection_s_case_fields_come_from_its_document() {
    let mut value = fixtures::inspection_json(1);
    value["_rev"] = json!(REVIEWED_REV);
    value["people"] = json!([fixtures::person_json(2), fixtures::person_json(1), {"code": 7}]);
    let doc = fixtures::doc(value);
    let case = CaseInspection::from_document(&doc).expect("an inspection");
    assert_eq!(case.id, inspection_id(1));
    assert_eq!(case.rev, Some(rev(REVIEWED_REV)));
    assert!(case.submitted);
    assert_eq!(case.person_codes, [PersonCode::nth(1), PersonCode::nth(2)]);
    assert!(case.updated_at.is_some());
    let event = fixtures::doc(fixtures::reviewed_json(1, 1, REVIEWED_REV));
    assert_eq!(CaseInspection::from_document(&event), None);
}

// --- changed_fields --------------------------------------------------------------------------

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => panic!("an object"),
    }
}

#[test]
fn changed_fields_names_nested_paths_and_people_by_code() {
    let before = fixtures::inspection_json(1);
    let mut after = before.clone();
    after["site_name"] = json!("Campamento km 109");
    after["workers"]["women"] = json!(5);
    after["indicators"]["isolation"]["seen"] = json!(true);
    after["indicators"]["deception"] = json!({"seen": true});
    after["people"][0]["sex"] = json!("male");
    after["findings"] = json!(["forced_labour"]);
    after["status"] = json!("draft");
    after["updated_at"] = json!("2026-12-01T00:00:00Z");
    after["updated_by"] = json!("inspector-2");
    let changed = changed_fields(&obj(before), &obj(after));
    assert_eq!(
        changed,
        [
            "findings",
            "indicators.deception",
            "indicators.isolation.seen",
            "people[P-001].sex",
            "site_name",
            "workers.women",
        ]
    );
}

#[test]
fn changed_fields_sees_people_added_removed_and_reordered() {
    let mut before = fixtures::inspection_json(1);
    before["people"] = json!([fixtures::person_json(1), fixtures::person_json(2)]);
    let mut after = before.clone();
    after["people"] = json!([fixtures::person_json(3), fixtures::person_json(1)]);
    assert_eq!(
        changed_fields(&obj(before.clone()), &obj(after)),
        ["people[P-002]", "people[P-003]"]
    );
    let mut reordered = before.clone();
    reordered["people"] = json!([fixtures::person_json(2), fixtures::person_json(1)]);
    assert!(changed_fields(&obj(before), &obj(reordered)).is_empty());
}

#[test]
fn changed_fields_treats_null_as_absent_and_a_new_field_as_a_change() {
    let before = obj(json!({"notes": null, "district": "Inambari", "gps": {"lat": -12.0}}));
    let after = obj(json!({"locality": "La Pampa", "district": "Inambari", "gps": null}));
    assert_eq!(changed_fields(&before, &after), ["gps", "locality"]);
    assert!(changed_fields(&before, &before).is_empty());
}

// --- the property: any order, any duplicates, any split, the same view ------------------------

/// One generated event: its kind and fields by number, so that shrinking stays meaningful.
#[derive(Clone, Debug)]
struct Spec {
    kind: u8,
    second: u32,
    variant: u8,
    /// Another event's index (or one past the end: an unknown event).
    target: usize,
    supersedes: Option<usize>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..6,
        0u32..6,
        0u8..4,
        0usize..10,
        prop::option::weighted(0.25, 0usize..10),
    )
        .prop_map(|(kind, second, variant, target, supersedes)| Spec {
            kind,
            second,
            variant,
            target,
            supersedes,
        })
}

fn build(specs: &[Spec]) -> Vec<CaseEvent> {
    let revs = [REVIEWED_REV, NEWER_REV];
    let people: [&[&str]; 4] = [&["P-001"], &["P-002"], &["P-001", "P-002"], &["P-009"]];
    let statuses = ["received", "attended", "declined", "received"];
    specs
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let k = k as u64;
            let v = usize::from(s.variant);
            let target = event_id(1, s.target as u64);
            let mut value = match s.kind {
                0 => fixtures::reviewed_json(1, k, revs[v % 2]),
                1 => fixtures::has_issues_json(1, k, revs[v % 2], "Fix."),
                2 => fixtures::referred_json(1, k, people[v]),
                3 => fixtures::referral_update_json(1, k, &target, statuses[v]),
                4 => fixtures::prosecution_json(1, k),
                _ => fixtures::conviction_json(1, k),
            };
            value = at(value, s.second);
            if let Some(t) = s.supersedes.filter(|t| *t as u64 != k) {
                value = superseding(value, t as u64);
            }
            ev(value)
        })
        .collect()
}

/// A case's events, and the inspection as each replica sees it.
fn case() -> impl Strategy<Value = (Vec<CaseEvent>, Option<CaseInspection>)> {
    let inspection = prop_oneof![
        Just(None),
        any::<(bool, bool)>().prop_map(|(newer, submitted)| Some(inspection(
            if newer { NEWER_REV } else { REVIEWED_REV },
            submitted
        ))),
    ];
    (prop::collection::vec(spec(), 0..10), inspection)
        .prop_map(|(specs, inspection)| (build(&specs), inspection))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_permutation_with_duplicates_gives_the_same_view(
        (events, inspection) in case(),
        seed in any::<u64>(),
        dups in prop::collection::vec(0usize..10, 0..6),
    ) {
        let expected = derive_case(inspection.as_ref(), &events);
        let mut shuffled = events.clone();
        for d in dups {
            if let Some(e) = events.get(d) {
                shuffled.push(e.clone());
            }
        }
        // A seeded Fisher–Yates: proptest's own shuffle would do, but this keeps the seed
        // visible when a case fails.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(derive_case(inspection.as_ref(), &shuffled), expected.clone());
        // The tablet's summary agrees with the full view, for any order and copies.
        let summary = case_summary(inspection.as_ref(), &shuffled);
        prop_assert_eq!(summary.state, expected.state);
        prop_assert_eq!(summary.open_issues, expected.open_issues);
    }

    #[test]
    fn replicas_that_received_different_subsets_agree_once_merged(
        (events, inspection) in case(),
        masks in prop::collection::vec(0u8..3, 10),
    ) {
        // Each event reaches replica A, replica B, or both; each replica derives from what it
        // has, in arrival order, and then they sync: each appends what the other had.
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (e, m) in events.iter().zip(masks) {
            if m != 1 { a.push(e.clone()); }
            if m != 0 { b.push(e.clone()); }
        }
        let alone_a = derive_case(inspection.as_ref(), &a);
        let reversed: Vec<CaseEvent> = a.iter().rev().cloned().collect();
        prop_assert_eq!(derive_case(inspection.as_ref(), &reversed), alone_a);
        let merged_a: Vec<CaseEvent> = a.iter().chain(b.iter()).cloned().collect();
        let merged_b: Vec<CaseEvent> = b.iter().rev().chain(a.iter()).cloned().collect();
        let view_a = derive_case(inspection.as_ref(), &merged_a);
        let view_b = derive_case(inspection.as_ref(), &merged_b);
        prop_assert_eq!(&view_a, &view_b);
        prop_assert_eq!(view_a, derive_case(inspection.as_ref(), &events));
        let alone_b = derive_case(inspection.as_ref(), &b);
        prop_assert_eq!(case_summary(inspection.as_ref(), &b).state, alone_b.state);
        prop_assert_eq!(
            case_summary(inspection.as_ref(), &a).open_issues,
            derive_case(inspection.as_ref(), &a).open_issues
        );
    }
}
