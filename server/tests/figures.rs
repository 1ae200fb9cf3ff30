//! Figures and exports (issue 9), against the real server: every figure of a fixture whose
//! answers are worked out by hand below, who may see which region, small-cell suppression,
//! bad input, the exports (CSV through an RFC 4180 parser, GeoJSON against RFC 7946's rules),
//! and the property test: after random writes, conflicts, resolutions and deletions the
//! incremental index equals a rebuild from scratch.

#[allow(dead_code)]
#[path = "support/binary.rs"]
mod binary;
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use chaski_server::auth::Role;
use chaski_server::db::SledStore;
use chaski_server::figures::report::{FiguresQuery, Report};
use chaski_shared::domain::fixtures::{event_id, inspection_id};
use chaski_shared::domain::{Region, Timestamp};
use chaski_shared::{Document, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

use helpers::{spawn_app, TestApp};

const MDD: &str = "madre-de-dios";
const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------------
// The fixture: 30 submitted inspections in Madre de Dios, inspection n (0..30):
// - visit on 2026-(1 + n/10)-(1 + n%10) at 08:00-05:00 (13:00Z), three months of ten;
// - sector gold_mining (n%3 = 0), logging (1), agriculture (2): ten each;
// - district Inambari (n < 15) or Tambopata;
// - findings: forced_labour n < 8 (8), child_labour n = 0, 1 (2), sexual_exploitation n = 2 (1),
//   trafficking_suspected n = 0, 3, 4 (3);
// - indicators seen: debt_bondage (recruitment, during_work) n < 8; retention of identity
//   documents (during_work) n < 3; isolation (when_trying_to_leave) n = 7; isolation marked
//   not seen on n = 8;
// - workers: 10 each (3 women, 7 men); under 18: 1 on n = 0, 1; under 14: 1 on n = 0;
//   indigenous 2 on n < 5; foreign 2 (VE 1, CO 1) on n < 3;
// - people, 12 in all, k = 0..11: n=0 has k 0,1,2; n=1 k 3,4,5; n=2 k 6,7; n=3 k 8,9; n=4 k 10;
//   n=5 k 11. Female k < 5; ages 18_24 (k 0-2), 25_39 (3-5), 14_17 (6), 40_59 (7-11);
//   Peruvian k < 9, else Venezuelan; Awajún k 0, 1, else none.
// Events (visit + d days):
// - n=0: P-001 and P-002 referred to a shelter with consent (+12), attended; prosecution under
//   168-B (+30); conviction to 8 years (96 months);
// - n=1: P-001 referred to health, consent not asked (+40); prosecution under 153 (+55);
// - n=2: P-001 (a minor) referred to a shelter, consent by a guardian (+5), received;
// - n=3: P-002 referred to the police (+3), superseded by a referral to an NGO (+4) with
//   consent, attended.
// Plus what must not count: a draft (n=30), a submitted inspection then deleted (n=31), and a
// losing conflict of n=6 that says fishing and forced labour.
// ---------------------------------------------------------------------------------------------

fn visit_start(n: u64) -> String {
    format!("2026-{:02}-{:02}T08:00:00-05:00", 1 + n / 10, 1 + n % 10)
}

fn at_days(n: u64, days: i64) -> String {
    let start = Timestamp::parse(&visit_start(n)).expect("visit").utc_ms();
    Timestamp::from_utc_ms(start + days * DAY_MS)
        .as_str()
        .to_owned()
}

fn person(k: usize, n_code: usize) -> Value {
    let age = match k {
        0..=2 => "18_24",
        3..=5 => "25_39",
        6 => "14_17",
        _ => "40_59",
    };
    json!({
        "code": format!("P-{n_code:03}"),
        "age_band": age,
        "sex": if k < 5 { "female" } else { "male" },
        "nationality": if k < 9 { "PE" } else { "VE" },
        "indigenous_people": if k < 2 { "awajun" } else { "none" },
        "consent": {"status": "given", "given_by": if k == 6 { "guardian" } else { "self" }},
        "sealed": {"alg": chaski_shared::sealed::ALG,
                   "recipient_key_id": "madre-de-dios-0123456789abcdef",
                   "ciphertext_b64": "U0VDUkVUTkFNRVNFQ1JFVE5BTUVTRUNSRVROQU1FU0VDUkVUTkFNRVNFQ1JFVE5BTUVTRUNSRVROQU1F"}
    })
}

fn people_of(n: u64) -> Vec<Value> {
    let ks: &[usize] = match n {
        0 => &[0, 1, 2],
        1 => &[3, 4, 5],
        2 => &[6, 7],
        3 => &[8, 9],
        4 => &[10],
        5 => &[11],
        _ => &[],
    };
    ks.iter()
        .enumerate()
        .map(|(i, k)| person(*k, i + 1))
        .collect()
}

fn inspection(n: u64) -> Value {
    let mut findings = Vec::new();
    if n < 8 {
        findings.push("forced_labour");
    }
    if n < 2 {
        findings.push("child_labour");
    }
    if n == 2 {
        findings.push("sexual_exploitation");
    }
    if [0, 3, 4].contains(&n) {
        findings.push("trafficking_suspected");
    }
    let mut indicators = serde_json::Map::new();
    if n < 8 {
        indicators.insert(
            "debt_bondage".into(),
            json!({"seen": true,
            "stages": ["recruitment", "during_work"], "evidence": "Debts for food and transport."}),
        );
    }
    if n < 3 {
        indicators.insert(
            "retention_of_identity_documents".into(),
            json!({"seen": true,
            "stages": ["during_work"], "evidence": "The boss keeps their DNIs."}),
        );
    }
    if n == 7 {
        indicators.insert(
            "isolation".into(),
            json!({"seen": true,
            "stages": ["when_trying_to_leave"], "evidence": "Four hours by boat."}),
        );
    }
    if n == 8 {
        indicators.insert("isolation".into(), json!({"seen": false}));
    }
    let foreign = if n < 3 { 2 } else { 0 };
    let mut workers = json!({
        "total": 10, "women": 3, "men": 7, "other_or_unknown": 0,
        "minors_under_18": if n < 2 { 1 } else { 0 },
        "minors_under_14": if n == 0 { 1 } else { 0 },
        "indigenous": if n < 5 { 2 } else { 0 },
        "foreign": foreign,
    });
    if foreign > 0 {
        workers["nationalities"] =
            json!([{"country": "VE", "count": 1}, {"country": "CO", "count": 1}]);
    }
    let start = visit_start(n);
    let end = start.replace("T08:", "T11:");
    let sector = ["gold_mining", "logging", "agriculture"][(n % 3) as usize];
    json!({
        "_id": inspection_id(n).as_str(),
        "_rev": format!("1-{:032x}", 0xabc000 + n),
        "type": "inspection",
        "status": "submitted",
        "site_name": format!("Campamento km {n}"),
        "sector": sector,
        "region": MDD,
        "district": if n < 15 { "Inambari" } else { "Tambopata" },
        "locality": "La Pampa",
        "gps": {"lat": -12.9 - n as f64 / 100.0, "lon": -69.9 - n as f64 / 100.0, "accuracy_m": 10.0},
        "location_source": "gps",
        "visit_start": start,
        "visit_end": end,
        "team": [{"id": "inspector-1", "name": "Ana Quispe"}],
        "workers": workers,
        "indicators": indicators,
        "findings": findings,
        "people": people_of(n),
        "notes": "Nombre del patrón: Juan Secreto",
        "created_by": "inspector-1",
        "created_at": start,
        "updated_at": end,
    })
}

fn event(n: u64, k: u64, days: i64, kind: &str, extra: Value) -> Value {
    let mut e = json!({
        "_id": event_id(n, k).as_str(),
        "_rev": format!("1-{:032x}", 0xe000 + n * 100 + k),
        "type": "case_event",
        "inspection": inspection_id(n).as_str(),
        "kind": kind,
        "at": at_days(n, days),
        "by": "supervisor-1",
    });
    if let (Some(e), Value::Object(extra)) = (e.as_object_mut(), extra) {
        e.extend(extra);
    }
    e
}

fn fixture_events() -> Vec<Value> {
    let shelter_with_consent = |people: &[&str]| json!({"people": people, "service": "shelter", "consent": "given", "consent_by": "self"});
    vec![
        event(
            0,
            0,
            12,
            "referred",
            shelter_with_consent(&["P-001", "P-002"]),
        ),
        event(
            0,
            1,
            14,
            "referral_update",
            json!({"referral": event_id(0, 0).as_str(), "status": "attended"}),
        ),
        event(
            0,
            2,
            30,
            "prosecution_opened",
            json!({"office": "Fiscalía de Tambopata",
            "case_number": "CF-1", "offence": "cp_168b"}),
        ),
        event(
            0,
            3,
            200,
            "outcome",
            json!({"outcome": "conviction", "sentence_years": 8,
            "sentence_months": 0}),
        ),
        event(
            1,
            0,
            40,
            "referred",
            json!({"people": ["P-001"], "service": "health",
            "consent": "not_asked"}),
        ),
        event(
            1,
            1,
            55,
            "prosecution_opened",
            json!({"office": "Fiscalía de Tambopata",
            "case_number": "CF-2", "offence": "cp_153"}),
        ),
        event(
            2,
            0,
            5,
            "referred",
            json!({"people": ["P-001"], "service": "shelter",
            "consent": "given", "consent_by": "guardian"}),
        ),
        event(
            2,
            1,
            6,
            "referral_update",
            json!({"referral": event_id(2, 0).as_str(), "status": "received"}),
        ),
        event(
            3,
            0,
            3,
            "referred",
            json!({"people": ["P-002"], "service": "police",
            "consent": "not_asked"}),
        ),
        event(
            3,
            1,
            4,
            "referred",
            json!({"people": ["P-002"], "service": "ngo",
            "consent": "given", "consent_by": "self", "supersedes": event_id(3, 0).as_str()}),
        ),
        event(
            3,
            2,
            9,
            "referral_update",
            json!({"referral": event_id(3, 1).as_str(), "status": "attended"}),
        ),
    ]
}

struct Fixture {
    app: TestApp,
    admin: String,
    supervisor: String,
}

impl Fixture {
    async fn start() -> Fixture {
        let app = spawn_app().await;
        let admin = app.token_for("nacional", Role::Admin, &[]).await;
        let supervisor = app
            .token_for("supervisor-1", Role::Supervisor, &[MDD])
            .await;
        let f = Fixture {
            app,
            admin,
            supervisor,
        };
        for db in [MDD, "cusco"] {
            let status = f
                .app
                .client
                .put(f.app.url(&format!("/db/{db}")))
                .bearer_auth(&f.admin)
                .send()
                .await
                .expect("create db")
                .status();
            assert_eq!(status, 201);
        }
        f
    }

    async fn bulk(&self, docs: Vec<Value>, new_edits: bool) {
        let response = self
            .app
            .client
            .post(self.app.url(&format!("/db/{MDD}/_bulk_docs")))
            .bearer_auth(&self.admin)
            .json(&json!({"docs": docs, "new_edits": new_edits}))
            .send()
            .await
            .expect("bulk");
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert!(status.is_success(), "{status} {body}");
        for result in body.as_array().into_iter().flatten() {
            assert!(result.get("error").is_none(), "{result}");
        }
    }

    async fn load(&self) {
        let mut docs: Vec<Value> = (0..30).map(inspection).collect();
        // A draft, and a submitted inspection deleted below.
        docs.push(
            json!({"_id": inspection_id(30).as_str(), "_rev": "1-d0", "type": "inspection",
            "status": "draft", "site_name": "Borrador"}),
        );
        docs.push(inspection(31));
        // A losing branch of n = 6 (a lower hash at the same generation).
        let mut loser = inspection(6);
        loser["_rev"] = json!("1-0000");
        loser["sector"] = json!("fishing");
        docs.push(loser);
        docs.extend(fixture_events());
        self.bulk(docs, false).await;
        let rev31 = inspection(31)["_rev"].clone();
        self.bulk(
            vec![json!({"_id": inspection_id(31).as_str(), "_rev": rev31, "_deleted": true})],
            true,
        )
        .await;
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn text(&self, token: &str, path: &str) -> (StatusCode, String, String) {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, kind, response.text().await.expect("body"))
    }
}

/// A minimal RFC 4180 parser: quoted fields with doubled quotes, CRLF or LF line ends.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            other => field.push(other),
        }
    }
    assert!(!quoted, "unterminated quoted field");
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[tokio::test]
async fn every_figure_of_the_fixture_matches_the_hand_count() {
    let f = Fixture::start().await;
    f.load().await;
    let (status, body) = f.get(&f.supervisor, "/api/figures").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["regions"], json!([MDD]));
    assert_eq!(body["public"], json!(false));
    let t = &body["totals"];
    assert_eq!(t["inspections"], 30);
    assert_eq!(
        t["findings"],
        json!({"forced_labour": 8, "child_labour": 2, "sexual_exploitation": 1, "trafficking_suspected": 3})
    );
    assert_eq!(t["indicators"].as_object().unwrap().len(), 11);
    assert_eq!(t["indicators"]["debt_bondage"], 8);
    assert_eq!(t["indicators"]["retention_of_identity_documents"], 3);
    assert_eq!(t["indicators"]["isolation"], 1);
    assert_eq!(t["indicators"]["deception"], 0);
    assert_eq!(
        t["indicator_stages"],
        json!({"recruitment": 8, "during_work": 8, "when_trying_to_leave": 1})
    );
    let w = &t["workers"];
    assert_eq!(
        (
            &w["women"],
            &w["men"],
            &w["under_18"],
            &w["under_14"],
            &w["indigenous"]
        ),
        (&json!(90), &json!(210), &json!(2), &json!(1), &json!(10))
    );
    assert_eq!(w["foreign"]["VE"], 3);
    assert_eq!(w["foreign"]["CO"], 3);
    assert_eq!(w["foreign"]["BO"], 0);
    let p = &t["people"];
    assert_eq!(p["identified"], 12);
    assert_eq!(
        p["by_sex"],
        json!({"female": 5, "male": 7, "other": 0, "unknown": 0})
    );
    assert_eq!(
        p["by_age_band"],
        json!({"under_14": 0, "14_17": 1, "18_24": 3, "25_39": 3, "40_59": 5, "60_plus": 0, "unknown": 0})
    );
    assert_eq!(p["by_nationality"]["PE"], 9);
    assert_eq!(p["by_nationality"]["VE"], 3);
    assert_eq!(p["by_indigenous_people"]["awajun"], 2);
    assert_eq!(p["by_indigenous_people"]["none"], 10);
    let r = &t["referrals"];
    assert_eq!(r["people_referred"], 5);
    assert_eq!(r["by_service"]["shelter"], 3);
    assert_eq!(r["by_service"]["health"], 1);
    assert_eq!(r["by_service"]["ngo"], 1);
    assert_eq!(
        r["by_service"]["police"], 0,
        "the superseded referral does not count"
    );
    assert_eq!(r["with_consent"], 4);
    assert_eq!(r["attended"], 3);
    assert_eq!(t["prosecutions"]["opened"], 2);
    assert_eq!(t["prosecutions"]["by_offence"]["cp_168b"], 1);
    assert_eq!(t["prosecutions"]["by_offence"]["cp_153"], 1);
    assert_eq!(t["prosecutions"]["by_offence"]["cp_153a"], 0);
    let o = &t["outcomes"];
    assert_eq!(
        (&o["convictions"], &o["acquittals"], &o["closed"]),
        (&json!(1), &json!(0), &json!(0))
    );
    assert_eq!(
        o["sentence_months"],
        json!({"min": 96, "median": 96, "max": 96})
    );
    assert_eq!(
        t["funnel"],
        json!([{"step": "inspections", "count": 30}, {"step": "forced_labour", "count": 8},
               {"step": "people_identified", "count": 12}, {"step": "referred", "count": 5},
               {"step": "prosecution", "count": 2}, {"step": "conviction", "count": 1}])
    );
    // Referral days 12, 40, 5 and 4 (the superseding referral): median 5, p90 40.
    assert_eq!(
        t["days_to_referral"],
        json!({"cases": 4, "median": 5, "p90": 40})
    );
    assert_eq!(
        t["days_to_prosecution"],
        json!({"cases": 2, "median": 30, "p90": 55})
    );
    // Every case but the convicted one is far past 90 days without a step (the visits are
    // in early 2026); with a century's patience none is.
    assert_eq!(body["stalled"]["days"], 90);
    assert_eq!(body["stalled"]["count"], 29);
    let ids = body["stalled"]["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 29);
    assert!(!ids.contains(&json!(inspection_id(0).as_str())));
    let (_, patient) = f
        .get(&f.supervisor, "/api/figures?stalled_days=36500")
        .await;
    assert_eq!(patient["stalled"]["count"], 0);

    // Breakdowns.
    let (_, by_sector) = f
        .get(&f.admin, "/api/figures?region=madre-de-dios&by=sector")
        .await;
    let groups = by_sector["breakdown"].as_array().unwrap();
    assert_eq!(groups.len(), 9, "every sector, zeros included");
    assert_eq!(groups[0]["key"], "gold_mining");
    assert_eq!(groups[0]["figures"]["inspections"], 10);
    assert_eq!(groups[0]["figures"]["findings"]["forced_labour"], 3); // n = 0, 3, 6
    let fishing = groups.iter().find(|g| g["key"] == "fishing").unwrap();
    assert_eq!(
        fishing["figures"]["inspections"], 0,
        "the losing conflict is not counted"
    );
    let (_, by_month) = f.get(&f.admin, "/api/figures?by=month").await;
    let months: Vec<(&str, i64)> = by_month["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap(),
                g["figures"]["inspections"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        months,
        vec![("2026-01", 10), ("2026-02", 10), ("2026-03", 10)]
    );
    let (_, by_district) = f.get(&f.admin, "/api/figures?by=district").await;
    let districts: Vec<&str> = by_district["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(districts, vec!["Inambari", "Tambopata"]);
    let (_, by_region) = f
        .get(
            &f.admin,
            "/api/figures?by=region&region=madre-de-dios,cusco",
        )
        .await;
    let regions: Vec<(&str, i64)> = by_region["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap(),
                g["figures"]["inspections"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(regions, vec![("cusco", 0), (MDD, 30)]);

    // A period: February alone has ten inspections, none with forced labour or people.
    let (_, feb) = f
        .get(&f.supervisor, "/api/figures?from=2026-02-01&to=2026-02-28")
        .await;
    assert_eq!(feb["from"], "2026-02-01");
    assert_eq!(feb["totals"]["inspections"], 10);
    assert_eq!(feb["totals"]["findings"]["forced_labour"], 0);
    assert_eq!(feb["totals"]["people"]["identified"], 0);
    assert_eq!(feb["totals"]["outcomes"]["sentence_months"], Value::Null);
    assert_eq!(
        feb["totals"]["days_to_referral"],
        json!({"cases": 0, "median": null, "p90": null})
    );

    // CSV, by format and by Accept, through a CSV parser.
    for (path, accept) in [
        ("/api/figures?format=csv&by=sector", "*/*"),
        ("/api/figures?by=sector", "text/csv"),
    ] {
        let response = f
            .app
            .client
            .get(f.app.url(path))
            .bearer_auth(&f.supervisor)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let rows = parse_csv(&response.text().await.unwrap());
        assert_eq!(rows[0], vec!["key", "figure", "value"]);
        let cell = |key: &str, figure: &str| {
            rows.iter()
                .find(|r| r[0] == key && r[1] == figure)
                .map(|r| r[2].clone())
                .unwrap_or_else(|| panic!("no row {key},{figure}"))
        };
        assert!(rows.iter().all(|r| r.len() == 3));
        assert_eq!(cell("total", "findings.forced_labour"), "8");
        assert_eq!(cell("total", "workers.foreign.VE"), "3");
        assert_eq!(cell("total", "funnel.referred"), "5");
        assert_eq!(cell("total", "outcomes.sentence_months.median"), "96");
        assert_eq!(cell("total", "stalled.count"), "29");
        assert_eq!(cell("gold_mining", "inspections"), "10");
        assert_eq!(cell("fishing", "days_to_referral.median"), "");
    }
}

#[tokio::test]
async fn public_figures_hide_cells_under_five_and_the_stalled_ids() {
    let f = Fixture::start().await;
    f.load().await;
    let (status, body) = f
        .get(&f.supervisor, "/api/figures?public=1&by=district")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["public"], true);
    let t = &body["totals"];
    assert_eq!(t["inspections"], 30);
    assert_eq!(t["findings"]["forced_labour"], 8);
    assert_eq!(t["findings"]["child_labour"], "<5");
    assert_eq!(t["findings"]["sexual_exploitation"], "<5");
    assert_eq!(t["findings"]["trafficking_suspected"], "<5");
    assert_eq!(
        t["indicators"]["deception"], "<5",
        "zero is a small cell too"
    );
    assert_eq!(t["people"]["identified"], 12);
    assert_eq!(t["people"]["by_sex"]["female"], 5);
    assert_eq!(t["people"]["by_nationality"]["VE"], "<5");
    assert_eq!(t["referrals"]["people_referred"], 5);
    assert_eq!(t["prosecutions"]["opened"], "<5");
    assert_eq!(t["outcomes"]["convictions"], "<5");
    assert_eq!(
        t["outcomes"]["sentence_months"],
        Value::Null,
        "one sentence would identify"
    );
    assert_eq!(
        t["days_to_prosecution"],
        json!({"cases": "<5", "median": null, "p90": null})
    );
    assert_eq!(t["funnel"][5], json!({"step": "conviction", "count": "<5"}));
    assert_eq!(body["stalled"]["count"], 29);
    assert!(body["stalled"].get("ids").is_none());
    let text = body.to_string();
    assert!(!text.contains("inspection:"), "no ids in public figures");
    assert!(!text.contains("P-00"), "no person codes");
}

#[tokio::test]
async fn only_supervisors_of_the_region_and_admins_see_figures_and_exports() {
    let f = Fixture::start().await;
    let inspector = f.app.token_for("ana", Role::Inspector, &[MDD]).await;
    let cusco = f.app.token_for("luis", Role::Supervisor, &["cusco"]).await;
    for path in [
        "/api/figures",
        "/api/export/inspections.csv",
        "/api/export/people.csv",
        "/api/export/inspections.geojson",
    ] {
        let (status, body) = f.get(&inspector, path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body["reason"]
            .as_str()
            .unwrap()
            .contains("supervisors and administrators"));
        let asked = format!("{path}?region={MDD}");
        let (status, body) = f.get(&cusco, &asked).await;
        assert_eq!(status, 403, "{asked}: {body}");
        assert!(body["reason"].as_str().unwrap().contains(MDD), "{body}");
        let anonymous = f.app.get(path).await.status();
        assert_eq!(anonymous, 401, "{path}");
    }
    let (status, body) = f.get(&cusco, "/api/figures").await;
    assert_eq!(status, 200);
    assert_eq!(body["regions"], json!(["cusco"]));
    let (status, body) = f.get(&f.admin, "/api/figures").await;
    assert_eq!(status, 200);
    assert_eq!(body["regions"], json!(["cusco", MDD]));
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_reason_and_a_century_is_allowed() {
    let f = Fixture::start().await;
    f.load().await;
    for (query, expect) in [
        ("from=2026-03-01&to=2026-02-01", "after"),
        ("from=2026-3-1", "YYYY-MM-DD"),
        ("to=31/12/2026", "YYYY-MM-DD"),
        ("from=2026-02-30", "YYYY-MM-DD"),
        ("by=colour", "sector, region, month, district"),
        ("region=atlantis", "not one of Peru"),
        ("public=maybe", "public"),
        ("stalled_days=-3", "stalled_days"),
        ("format=xml", "format"),
        ("colour=red", "Unknown parameter"),
    ] {
        let (status, body) = f.get(&f.supervisor, &format!("/api/figures?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let reason = body["reason"].as_str().unwrap();
        assert!(reason.contains(expect), "{query}: {reason}");
    }
    let (status, body) = f
        .get(&f.supervisor, "/api/export/inspections.csv?by=sector")
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = f
        .get(
            &f.supervisor,
            "/api/figures?from=1926-01-01&to=2026-12-31&by=month",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totals"]["inspections"], 30);
}

#[tokio::test]
async fn exports_round_trip_through_a_csv_parser_and_carry_nothing_that_identifies() {
    let f = Fixture::start().await;
    f.load().await;
    let (status, kind, text) = f.text(&f.supervisor, "/api/export/inspections.csv").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let rows = parse_csv(&text);
    let header = &rows[0];
    assert_eq!(rows.len(), 31, "a header and the 30 submitted inspections");
    assert!(rows.iter().all(|r| r.len() == header.len()));
    for column in [
        "id",
        "sector",
        "visit_date",
        "lat",
        "lon",
        "indicator_debt_bondage",
        "finding_forced_labour",
        "case_state",
    ] {
        assert!(header.iter().any(|h| h == column), "{column}");
    }
    assert_eq!(
        header
            .iter()
            .filter(|h| h.starts_with("indicator_"))
            .count(),
        11
    );
    for banned in [
        "Ana Quispe",
        "Juan Secreto",
        "U0VDUkVU",
        "Campamento",
        "inspector-1",
        "notes",
        "site_name",
    ] {
        assert!(!text.contains(banned), "{banned} must not be exported");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let first = rows
        .iter()
        .find(|r| r[col("id")] == inspection_id(0).as_str())
        .expect("inspection 0");
    assert_eq!(first[col("indicator_debt_bondage")], "1");
    assert_eq!(first[col("indicator_deception")], "0");
    assert_eq!(first[col("finding_child_labour")], "1");
    assert_eq!(first[col("case_state")], "closed");
    assert_eq!(first[col("outcome")], "conviction");
    assert_eq!(first[col("sentence_months")], "96");
    assert_eq!(first[col("people_found")], "3");
    assert_eq!(first[col("workers_nationalities")], "VE:1;CO:1");
    let six = rows
        .iter()
        .find(|r| r[col("id")] == inspection_id(6).as_str())
        .unwrap();
    assert_eq!(
        six[col("sector")],
        "gold_mining",
        "the winner, not the losing conflict"
    );
    // A period narrows it.
    let (_, _, march) = f
        .text(
            &f.supervisor,
            "/api/export/inspections.csv?from=2026-03-01&to=2026-03-31",
        )
        .await;
    assert_eq!(parse_csv(&march).len(), 11);

    let (status, _, people) = f.text(&f.admin, "/api/export/people.csv").await;
    assert_eq!(status, 200);
    let rows = parse_csv(&people);
    assert_eq!(rows.len(), 13, "a header and 12 people");
    let header = &rows[0];
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert!(rows[1..]
        .iter()
        .all(|r| r[col("person_code")].starts_with("P-0")));
    assert_eq!(
        rows[1..]
            .iter()
            .filter(|r| r[col("referred")] == "1")
            .count(),
        5
    );
    assert_eq!(
        rows[1..]
            .iter()
            .filter(|r| r[col("referral_attended")] == "1")
            .count(),
        3
    );
    for banned in ["sealed", "U0VDUkVU", "x25519", "Ana Quispe"] {
        assert!(!people.contains(banned), "{banned} must not be exported");
    }
}

#[tokio::test]
async fn the_geojson_export_is_a_valid_rfc_7946_feature_collection_in_lon_lat_order() {
    let f = Fixture::start().await;
    f.load().await;
    let (status, kind, text) = f
        .text(&f.supervisor, "/api/export/inspections.geojson")
        .await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/geo+json");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["type"], "FeatureCollection");
    let features = doc["features"].as_array().expect("features");
    assert_eq!(features.len(), 30);
    for feature in features {
        assert_eq!(feature["type"], "Feature");
        assert_eq!(feature["geometry"]["type"], "Point");
        let c = feature["geometry"]["coordinates"].as_array().unwrap();
        assert_eq!(c.len(), 2);
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat));
        // Madre de Dios: longitude about -70, latitude about -13: longitude first.
        assert!(lon < -69.0 && lat > -14.0, "{lon},{lat}");
        let props = feature["properties"].as_object().unwrap();
        for banned in [
            "people",
            "team",
            "notes",
            "site_name",
            "sealed",
            "created_by",
        ] {
            assert!(!props.contains_key(banned), "{banned}");
        }
    }
    assert!(!text.contains("Ana Quispe") && !text.contains("P-001"));
    // A period with nothing in it is still a valid, empty collection.
    let (_, _, none) = f
        .text(
            &f.supervisor,
            "/api/export/inspections.geojson?from=2030-01-01",
        )
        .await;
    let doc: Value = serde_json::from_str(&none).expect("valid JSON");
    assert_eq!(doc["features"], json!([]));
}

#[tokio::test]
async fn chaski_figures_rebuild_on_a_stopped_server_gives_the_same_figures() {
    let f = Fixture::start().await;
    f.load().await;
    let (_, before) = f
        .get(&f.admin, "/api/figures?by=district&stalled_days=36500")
        .await;
    let Fixture { app, admin, .. } = f;
    let (data_dir, _keep) = app.stop().await;

    let out = binary::run(&data_dir, &["figures", "rebuild", "--db", MDD], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 30 inspections and 11 events; the draft, the deleted one and the loser give nothing.
    assert!(
        stdout.contains("madre-de-dios\t41 documents counted"),
        "{stdout}"
    );
    let out = binary::run(&data_dir, &["figures", "rebuild"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cusco\t0 documents") && stdout.contains("madre-de-dios\t41"),
        "{stdout}"
    );
    let out = binary::run(&data_dir, &["figures", "rebuild", "--db", "atlantis"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a region database"));

    let app = helpers::spawn_app_on(data_dir.clone()).await;
    let after: Value = app
        .client
        .get(app.url("/api/figures?by=district&stalled_days=36500"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(after["totals"]["inspections"], 30);
}

#[tokio::test]
async fn a_database_from_before_the_index_is_rebuilt_when_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let sled = sled::Config::new().path(dir.path()).open().unwrap();
    let store = SledStore::open(&sled, MDD).unwrap();
    let mut docs: Vec<Value> = (0..30).map(inspection).collect();
    docs.extend(fixture_events());
    let docs = docs
        .into_iter()
        .map(|d| Document::from_json(d).unwrap())
        .collect();
    store.bulk_docs(docs, false).await.unwrap();
    let rows = store.figure_rows().unwrap();
    assert_eq!(rows.len(), 41);
    drop(store);
    // A data folder written before the index: no rows and no version.
    sled.open_tree(format!("couch:{MDD}:figures"))
        .unwrap()
        .clear()
        .unwrap();
    sled.open_tree(format!("couch:{MDD}:meta"))
        .unwrap()
        .remove("figures_version")
        .unwrap();
    let reopened = SledStore::open(&sled, MDD).unwrap();
    assert_eq!(reopened.figure_rows().unwrap(), rows);
    let report = report_of(&reopened).await;
    assert_eq!(report["totals"]["inspections"], 30);
    assert_eq!(report["totals"]["prosecutions"]["opened"], 2);
}

#[tokio::test]
async fn an_export_whose_reading_fails_midway_ends_in_an_error_never_a_short_complete_body() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let f = Fixture::start().await;
    // Three pages of 500: the stream holds at most two pages ahead of its reader.
    let docs: Vec<Value> = (0..1_200)
        .map(|n| {
            let mut doc = inspection(n % 30);
            doc["_id"] = json!(inspection_id(1_000 + n).as_str());
            doc
        })
        .collect();
    f.bulk(docs, false).await;
    let router = chaski_server::routes::router(f.app.state.clone(), &[]);
    let response = router
        .oneshot(
            Request::get("/api/export/inspections.csv")
                .header("authorization", format!("Bearer {}", f.supervisor))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The database goes away before the reader has taken anything: the producer is at most
    // two pages ahead, so a later page fails to read.
    f.app.state.databases.delete(MDD).await.unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    assert!(
        body.is_err(),
        "a cut export must end in an error, not a clean end"
    );
}

#[tokio::test]
async fn a_compressed_export_arrives_whole() {
    use std::io::Read;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    // Browsers always ask for compression; the compression layer polls the body once more
    // after its end, which a body stream must survive.
    let f = Fixture::start().await;
    f.load().await;
    let (_, _, plain) = f.text(&f.supervisor, "/api/export/inspections.csv").await;
    for encoding in ["gzip", "br"] {
        let router = chaski_server::routes::router(f.app.state.clone(), &[]);
        let response = router
            .oneshot(
                Request::get("/api/export/inspections.csv")
                    .header("authorization", format!("Bearer {}", f.supervisor))
                    .header("accept-encoding", encoding)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the whole compressed body");
        let mut text = String::new();
        if encoding == "gzip" {
            flate2::read::GzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .unwrap();
        } else {
            brotli::Decompressor::new(&body[..], 4096)
                .read_to_string(&mut text)
                .unwrap();
        }
        assert_eq!(text, plain, "{encoding}");
    }
}

// ---------------------------------------------------------------------------------------------
// The property test: incremental index == rebuild.
// ---------------------------------------------------------------------------------------------

/// A small seeded generator (xorshift64*): the same seed replays the same sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn random_inspection(rng: &mut Rng, n: u64) -> Value {
    let mut doc = inspection(n % 8);
    doc["_id"] = json!(inspection_id(n).as_str());
    doc.as_object_mut().unwrap().remove("_rev");
    let sector = ["gold_mining", "logging", "fishing", "textile"][rng.below(4) as usize];
    let district = ["Inambari", "Tambopata", "Huepetuhe"][rng.below(3) as usize];
    doc["sector"] = json!(sector);
    doc["district"] = json!(district);
    if rng.chance(20) {
        doc["status"] = json!("draft");
    }
    if rng.chance(5) {
        doc["workers"]["total"] = json!("many"); // invalid: contributes nothing
    }
    doc
}

fn random_event(rng: &mut Rng, n: u64, k: u64) -> Value {
    let kind = rng.below(5);
    let mut e = match kind {
        0 => event(
            n,
            k,
            rng.below(60) as i64,
            "referred",
            json!({"people": ["P-001"],
            "service": "shelter", "consent": "given", "consent_by": "guardian"}),
        ),
        1 => event(
            n,
            k,
            rng.below(60) as i64,
            "referral_update",
            json!({
            "referral": event_id(n, rng.below(3)).as_str(), "status": "attended"}),
        ),
        2 => event(
            n,
            k,
            rng.below(90) as i64,
            "prosecution_opened",
            json!({"office": "F",
            "case_number": "1", "offence": "cp_153b"}),
        ),
        3 => event(
            n,
            k,
            rng.below(300) as i64,
            "outcome",
            json!({"outcome": "acquittal"}),
        ),
        _ => event(
            n,
            k,
            rng.below(60) as i64,
            "referred",
            json!({"people": ["P-002"],
            "service": "ngo", "consent": "refused",
            "supersedes": event_id(n, rng.below(3)).as_str()}),
        ),
    };
    e.as_object_mut().unwrap().remove("_rev");
    e
}

async fn report_of(store: &SledStore) -> Value {
    let query = FiguresQuery::parse(&[("by".to_owned(), "district".to_owned())], true).unwrap();
    let regions = [Region::MadreDeDios];
    let store = store.clone();
    store
        .blocking(move |s| {
            let mut report = Report::new(&query, &regions);
            s.with_figures(|f| {
                report.add_region(&query, Region::MadreDeDios, f, 1_800_000_000_000)
            })?;
            Ok(report.to_json(&query, &regions))
        })
        .await
        .unwrap()
}

async fn winner(store: &SledStore, id: &str) -> Option<(String, bool)> {
    let id = id.to_owned();
    store
        .blocking(move |s| Ok(s.winner(&id)?.map(|(r, d)| (r.to_string(), d))))
        .await
        .unwrap()
}

#[tokio::test]
async fn random_writes_conflicts_resolutions_and_deletions_leave_the_index_equal_to_a_rebuild() {
    let seeds: u64 = std::env::var("CHASKI_FIGURES_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let (mut counted, mut events) = (0u64, 0u64);
    for seed in 1..=seeds {
        let dir = tempfile::tempdir().unwrap();
        let sled = sled::Config::new().path(dir.path()).open().unwrap();
        let store = SledStore::open(&sled, MDD).unwrap();
        // The cache is loaded first, so every write below updates it incrementally.
        let empty = report_of(&store).await;
        assert_eq!(empty["totals"]["inspections"], 0);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for step in 0..60 {
            let n = rng.below(6);
            let id = inspection_id(n).as_str().to_owned();
            let op = rng.below(10);
            let mut docs = Vec::new();
            let mut new_edits = true;
            match op {
                // Write or edit an inspection.
                0..=2 => {
                    let mut doc = random_inspection(&mut rng, n);
                    if let Some((rev, deleted)) = winner(&store, &id).await {
                        if !deleted || rng.chance(50) {
                            doc["_rev"] = json!(rev);
                        }
                    }
                    docs.push(doc);
                }
                // A conflicting branch from replication.
                3 | 4 => {
                    let mut doc = random_inspection(&mut rng, n);
                    let generation = 1 + rng.below(3);
                    let ids: Vec<String> = (0..generation)
                        .map(|_| format!("{:08x}", rng.next() as u32))
                        .collect();
                    doc["_rev"] = json!(format!("{generation}-{}", ids[0]));
                    doc["_revisions"] = json!({"start": generation, "ids": ids});
                    docs.push(doc);
                    new_edits = false;
                }
                // Resolve: delete a losing leaf, or delete the winner.
                5 | 6 => {
                    let id_c = id.clone();
                    let leaves = store
                        .blocking(move |s| {
                            let doc = s.get_now(
                                &chaski_shared::doc::DocId::parse(id_c).unwrap(),
                                &chaski_shared::store::GetOptions {
                                    conflicts: true,
                                    ..Default::default()
                                },
                            );
                            Ok(doc.ok().map(|d| (d.rev, d.conflicts)))
                        })
                        .await
                        .unwrap();
                    if let Some((Some(rev), conflicts)) = leaves {
                        let target = if op == 5 && !conflicts.is_empty() {
                            conflicts[rng.below(conflicts.len() as u64) as usize].to_string()
                        } else {
                            rev.to_string()
                        };
                        docs.push(json!({"_id": id, "_rev": target, "_deleted": true}));
                    }
                }
                // Case events, new or replicated (possibly conflicting: the store takes them).
                _ => {
                    let k = rng.below(4);
                    let mut e = random_event(&mut rng, n, k);
                    let eid = event_id(n, k).as_str().to_owned();
                    match winner(&store, &eid).await {
                        Some((rev, _)) if rng.chance(50) => e["_rev"] = json!(rev),
                        Some(_) => {
                            e["_rev"] = json!(format!("1-{:08x}", rng.next() as u32));
                            new_edits = false;
                        }
                        None => {}
                    }
                    if rng.chance(15) {
                        let rev = winner(&store, &eid).await.map(|(r, _)| r);
                        e = json!({"_id": eid, "_rev": rev, "_deleted": true});
                        new_edits = true;
                    }
                    docs.push(e);
                }
            }
            let docs: Vec<Document> = docs
                .into_iter()
                .map(|d| Document::from_json(d).expect("document"))
                .collect();
            let _ = store.bulk_docs(docs, new_edits).await;
            if step % 20 == 19 {
                check_equal(&store, seed, step).await;
            }
        }
        let last = check_equal(&store, seed, 60).await;
        counted += last["totals"]["inspections"].as_u64().unwrap();
        events += last["totals"]["referrals"]["people_referred"]
            .as_u64()
            .unwrap()
            + last["totals"]["prosecutions"]["opened"].as_u64().unwrap()
            + last["totals"]["outcomes"]["acquittals"].as_u64().unwrap();
    }
    // The sequences reach the interesting states, not only refusals.
    assert!(
        counted > seeds,
        "only {counted} inspections counted over {seeds} seeds"
    );
    assert!(events > 0, "no event ever counted");
}

async fn check_equal(store: &SledStore, seed: u64, step: u64) -> Value {
    let incremental_rows = store.figure_rows().unwrap();
    let incremental = report_of(store).await;
    let rows = store.blocking(|s| s.rebuild_figures()).await.unwrap();
    let rebuilt_rows = store.figure_rows().unwrap();
    assert_eq!(rows as usize, rebuilt_rows.len());
    assert_eq!(
        incremental_rows, rebuilt_rows,
        "seed {seed}, step {step}: the rows differ from a rebuild"
    );
    let rebuilt = report_of(store).await;
    assert_eq!(
        incremental, rebuilt,
        "seed {seed}, step {step}: the figures differ from a rebuild"
    );
    rebuilt
}
