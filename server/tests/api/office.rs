//! The regional office (issue 8): who may write which case event, on every write path; events
//! are append-only and point at what exists in their region; the inbox (filters, paging,
//! facets, who may see it); the case page; the loop back to the tablet (has issues, corrected,
//! resubmitted, what changed).

use chaski_server::auth::Role;
use chaski_shared::domain::fixtures;
use chaski_shared::domain::Region;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const MDD: &str = "madre-de-dios";
const CUSCO: &str = "cusco";

/// A server with Madre de Dios and Cusco, and a token per kind of user.
struct Office {
    app: TestApp,
    inspector: String,
    supervisor: String,
    /// A supervisor of Cusco only.
    cusco_supervisor: String,
    admin: String,
}

impl Office {
    async fn start() -> Office {
        let app = spawn_app().await;
        let admin = app.token_for("nacional", Role::Admin, &[]).await;
        let inspector = app.token_for("ana", Role::Inspector, &[MDD]).await;
        // The fixtures' events say `"by": "supervisor-1"`: the events' author.
        let supervisor = app
            .token_for("supervisor-1", Role::Supervisor, &[MDD])
            .await;
        let cusco_supervisor = app.token_for("luis", Role::Supervisor, &[CUSCO]).await;
        let office = Office {
            app,
            inspector,
            supervisor,
            cusco_supervisor,
            admin,
        };
        for db in [MDD, CUSCO] {
            let (status, body) = office
                .send(
                    &office.admin.clone(),
                    Method::PUT,
                    &format!("/db/{db}"),
                    None,
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
        office
    }

    async fn send(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(token, Method::GET, path, None).await
    }

    /// PUTs `doc` at its `_id` in `db`.
    async fn put(&self, token: &str, db: &str, doc: Value) -> (StatusCode, Value) {
        let id = doc["_id"].as_str().expect("_id").to_owned();
        self.send(token, Method::PUT, &format!("/db/{db}/{id}"), Some(doc))
            .await
    }

    /// Writes `doc` and returns its new revision.
    async fn create(&self, token: &str, db: &str, doc: Value) -> String {
        let (status, answer) = self.put(token, db, doc).await;
        assert_eq!(status, 201, "{answer}");
        answer["rev"].as_str().expect("rev").to_owned()
    }

    async fn bulk(&self, token: &str, db: &str, docs: Value, new_edits: bool) -> Vec<Value> {
        let (status, answer) = self
            .send(
                token,
                Method::POST,
                &format!("/db/{db}/_bulk_docs"),
                Some(json!({"docs": docs, "new_edits": new_edits})),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        answer.as_array().expect("results").clone()
    }

    async fn inbox(&self, query: &str) -> Value {
        let (status, answer) = self
            .get(
                &self.supervisor,
                &format!("/api/office/{MDD}/inbox?{query}"),
            )
            .await;
        assert_eq!(status, 200, "{query}: {answer}");
        answer
    }
}

/// `event` recorded in the name of `name` (the server checks `by` against the writer).
fn by(mut event: Value, name: &str) -> Value {
    event["by"] = json!(name);
    event
}

#[track_caller]
fn assert_refused(answer: &(StatusCode, Value), status: u16, words: &str) {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.1);
    let reason = answer.1["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(words), "expected {words:?} in: {reason}");
}

#[track_caller]
fn assert_forbidden_result(result: &Value, words: &str) {
    assert_eq!(result["error"], "forbidden", "{result}");
    let reason = result["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(words), "expected {words:?} in: {reason}");
}

fn ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn only_supervisors_and_admins_record_case_events_on_every_write_path() {
    let office = Office::start().await;
    let rev = office
        .create(&office.inspector, MDD, fixtures::inspection_json(1))
        .await;
    let event = |k| fixtures::reviewed_json(1, k, &rev);
    let event_path = |k| format!("/db/{MDD}/{}", fixtures::event_id(1, k));

    let put = office.put(&office.inspector, MDD, event(1)).await;
    assert_refused(
        &put,
        403,
        "Only supervisors and administrators record case events; ana is an inspector.",
    );
    let post = office
        .send(
            &office.inspector,
            Method::POST,
            &format!("/db/{MDD}"),
            Some(event(2)),
        )
        .await;
    assert_refused(&post, 403, "ana is an inspector");
    let batch = office
        .bulk(&office.inspector, MDD, json!([event(3)]), true)
        .await;
    assert_forbidden_result(&batch[0], "ana is an inspector");
    let mut replicated = event(4);
    replicated["_rev"] = json!("1-0123456789abcdef0123456789abcdef");
    let batch = office
        .bulk(&office.inspector, MDD, json!([replicated]), false)
        .await;
    assert_forbidden_result(&batch[0], "ana is an inspector");
    for k in 1..=4 {
        assert_eq!(
            office.get(&office.admin, &event_path(k)).await.0,
            404,
            "event {k}"
        );
    }

    // Another region's supervisor may not write here at all.
    let other = office.put(&office.cusco_supervisor, MDD, event(5)).await;
    assert_refused(&other, 403, "not one of their regions");

    // The region's supervisor and an administrator may.
    office.create(&office.supervisor, MDD, event(6)).await;
    office
        .create(&office.admin, MDD, by(event(7), "nacional"))
        .await;
    let batch = office
        .bulk(&office.supervisor, MDD, json!([event(8)]), true)
        .await;
    assert_eq!(batch[0]["ok"], true, "{}", batch[0]);
}

#[tokio::test]
async fn case_events_are_never_edited_nor_deleted_only_superseded() {
    let office = Office::start().await;
    let rev = office
        .create(&office.inspector, MDD, fixtures::inspection_json(1))
        .await;
    let event = fixtures::has_issues_json(1, 1, &rev, "Falta la evidencia de la deuda.");
    let event_rev = office.create(&office.supervisor, MDD, event.clone()).await;

    let mut edited = event.clone();
    edited["_rev"] = json!(event_rev);
    edited["note"] = json!("Otra cosa.");
    let never = "Case events are never edited";
    assert_refused(
        &office.put(&office.supervisor, MDD, edited.clone()).await,
        403,
        never,
    );
    let path = format!("/db/{MDD}/{}?rev={event_rev}", fixtures::event_id(1, 1));
    assert_refused(
        &office
            .send(&office.admin, Method::DELETE, &path, None)
            .await,
        403,
        never,
    );
    let batch = office
        .bulk(&office.admin, MDD, json!([edited, {"_id": fixtures::event_id(1, 1).as_str(), "_rev": event_rev, "_deleted": true}]), true)
        .await;
    assert_forbidden_result(&batch[0], never);
    assert_forbidden_result(&batch[1], never);
    // Without `_rev` either: it exists.
    assert_refused(
        &office.put(&office.supervisor, MDD, event).await,
        403,
        never,
    );

    // The correction is a new event that names the old one.
    let mut correction =
        fixtures::has_issues_json(1, 2, &rev, "Falta la evidencia de la deuda y las fotos.");
    correction["supersedes"] = json!(fixtures::event_id(1, 1).as_str());
    office.create(&office.supervisor, MDD, correction).await;
    let mut bogus = fixtures::has_issues_json(1, 3, &rev, "x");
    bogus["supersedes"] = json!(fixtures::event_id(1, 99).as_str());
    assert_refused(
        &office.put(&office.supervisor, MDD, bogus).await,
        400,
        "supersedes:",
    );
}

#[tokio::test]
async fn each_bad_event_is_refused_with_its_reason_and_nothing_is_written() {
    let office = Office::start().await;
    let rev = office
        .create(&office.inspector, MDD, fixtures::inspection_json(1))
        .await;
    let cusco_rev = office
        .create(
            &office.admin,
            CUSCO,
            fixtures::inspection_json_in(2, Region::Cusco),
        )
        .await;

    // An inspection that does not exist in that database.
    let unknown = fixtures::reviewed_json(7, 1, "1-0123456789abcdef0123456789abcdef");
    assert_refused(
        &office.put(&office.supervisor, MDD, unknown.clone()).await,
        400,
        "there is no inspection",
    );
    // An event addressed to another region's inspection (by a user of both regions).
    let elsewhere = by(fixtures::reviewed_json(2, 1, &cusco_rev), "nacional");
    assert_refused(
        &office.put(&office.admin, MDD, elsewhere).await,
        400,
        "there is no inspection",
    );
    // A person code the inspection does not have.
    let stranger = fixtures::referred_json(1, 2, &["P-001", "P-099"]);
    assert_refused(
        &office.put(&office.supervisor, MDD, stranger).await,
        400,
        "people: P-099 is not among the people found",
    );
    // A referral update for a referral that does not exist.
    let orphan = fixtures::referral_update_json(1, 3, &fixtures::event_id(1, 42), "received");
    assert_refused(
        &office.put(&office.supervisor, MDD, orphan).await,
        400,
        "referral:",
    );
    // A referral without consent recorded.
    let mut no_consent = fixtures::referred_json(1, 4, &["P-001"]);
    no_consent.as_object_mut().unwrap().remove("consent");
    no_consent.as_object_mut().unwrap().remove("consent_by");
    assert_refused(
        &office.put(&office.supervisor, MDD, no_consent).await,
        400,
        "consent",
    );
    // A sentence out of range.
    let mut long = fixtures::conviction_json(1, 5);
    long["sentence_years"] = json!(51);
    assert_refused(
        &office.put(&office.supervisor, MDD, long).await,
        400,
        "sentence_years",
    );
    // An event in someone else's name.
    let forged = by(fixtures::reviewed_json(1, 8, &rev), "rosa");
    assert_refused(
        &office.put(&office.supervisor, MDD, forged).await,
        400,
        "by: must be the account that records the event (supervisor-1), not \"rosa\".",
    );
    // A review note left empty.
    let blank = fixtures::has_issues_json(1, 6, &rev, "   ");
    assert_refused(
        &office.put(&office.supervisor, MDD, blank).await,
        400,
        "note",
    );
    // In a batch, each is its own `forbidden` and the good one is written.
    let batch = office
        .bulk(
            &office.supervisor,
            MDD,
            json!([unknown, fixtures::referred_json(1, 7, &["P-001"])]),
            true,
        )
        .await;
    assert_forbidden_result(&batch[0], "there is no inspection");
    assert_eq!(batch[1]["ok"], true, "{}", batch[1]);

    // Nothing of the refused ones was written: only the inspection and the referral.
    let (_, info) = office.get(&office.admin, &format!("/db/{MDD}")).await;
    assert_eq!(info["doc_count"], 2, "{info}");
}

#[tokio::test]
async fn an_inspection_and_its_events_may_come_together_and_replication_skips_existence() {
    let office = Office::start().await;
    let referral = fixtures::referred_json(1, 0, &["P-001"]);
    let update = fixtures::referral_update_json(1, 1, &fixtures::event_id(1, 0), "attended");
    // New edits, in any order within the batch: the inspection and the referral are in it.
    let docs = json!([update, referral, fixtures::inspection_json(1)]);
    let batch = office.bulk(&office.supervisor, MDD, docs, true).await;
    for result in &batch {
        assert_eq!(result["ok"], true, "{result}");
    }
    // Replicated (new_edits=false), an event may arrive before its inspection.
    let mut early = fixtures::reviewed_json(3, 1, "1-0123456789abcdef0123456789abcdef");
    early["_rev"] = json!("1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    let batch = office.bulk(&office.admin, MDD, json!([early]), false).await;
    assert!(
        batch.is_empty() || batch[0].get("error").is_none(),
        "{batch:?}"
    );
    // The inbox counts it once its inspection arrives, whatever the order.
    assert_eq!(office.inbox("state=reviewed").await["total"], 0);
    let mut late = fixtures::inspection_json(3);
    late["_rev"] = json!("1-0123456789abcdef0123456789abcdef");
    let batch = office.bulk(&office.admin, MDD, json!([late]), false).await;
    assert!(
        batch.is_empty() || batch[0].get("error").is_none(),
        "{batch:?}"
    );
    let reviewed = office.inbox("state=reviewed").await;
    assert_eq!(
        ids(&reviewed["rows"]),
        vec![fixtures::inspection_id(3).as_str().to_owned()]
    );
}

#[tokio::test]
async fn the_inbox_is_for_the_region_s_supervisors_and_administrators() {
    let office = Office::start().await;
    let inbox = format!("/api/office/{MDD}/inbox");
    assert_refused(
        &office.get(&office.inspector, &inbox).await,
        403,
        "The office workspace is for supervisors and administrators; ana is an inspector.",
    );
    assert_refused(
        &office.get(&office.cusco_supervisor, &inbox).await,
        403,
        "not one of their regions",
    );
    assert_eq!(office.get(&office.admin, &inbox).await.0, 200);
    let anonymous = office.app.get(&inbox).await;
    assert_eq!(anonymous.status(), 401);
    let (status, body) = office.get(&office.admin, "/api/office/lima/inbox").await;
    assert_eq!(status, 404, "{body}");
    let case = format!("/api/office/{MDD}/case/{}", fixtures::inspection_id(1));
    assert_eq!(office.get(&office.inspector, &case).await.0, 403);
    assert_eq!(office.get(&office.supervisor, &case).await.0, 404);

    for (query, parameter) in [
        ("state=done", "state:"),
        ("sector=mining", "sector:"),
        ("from=28-11-2026", "from:"),
        ("to=2026-02-30", "to:"),
        ("indicator=debt", "indicator:"),
        ("finding=theft", "finding:"),
        ("limit=500", "limit:"),
        ("offset=-3", "offset:"),
        ("stat=reviewed", "stat:"),
    ] {
        let answer = office
            .get(&office.supervisor, &format!("{inbox}?{query}"))
            .await;
        assert_refused(&answer, 400, parameter);
        assert_eq!(answer.1["error"], "bad_request");
    }
}

/// Three submitted inspections and a draft, varied: (n, sector, district, site, finding,
/// indicator seen).
async fn three_cases(office: &Office) -> Vec<String> {
    let mut revs = Vec::new();
    for (n, sector, district, site, finding, indicator) in [
        (
            1,
            "gold_mining",
            "Inambari",
            "Campamento La Pampa",
            "forced_labour",
            "debt_bondage",
        ),
        (
            2,
            "logging",
            "Tahuamanu",
            "Aserradero Iñapari",
            "child_labour",
            "isolation",
        ),
        (
            3,
            "agriculture",
            "Tambopata",
            "Chacra Jose",
            "trafficking_suspected",
            "deception",
        ),
    ] {
        let mut doc = fixtures::inspection_json(n);
        doc["sector"] = json!(sector);
        doc["district"] = json!(district);
        doc["site_name"] = json!(site);
        doc["findings"] = json!([finding]);
        doc["indicators"] = json!({indicator: {"seen": true, "stages": ["during_work"], "evidence": "Visto en el campamento."}});
        revs.push(office.create(&office.inspector, MDD, doc).await);
    }
    office
        .create(&office.inspector, MDD, fixtures::draft_inspection_json(4))
        .await;
    revs
}

#[tokio::test]
async fn the_inbox_lists_submitted_inspections_longest_waiting_first_with_filters_and_pages() {
    let office = Office::start().await;
    let revs = three_cases(&office).await;
    let id = |n| fixtures::inspection_id(n).as_str().to_owned();

    let all = office.inbox("").await;
    assert_eq!(all["total"], 3, "the draft is not a case: {all}");
    assert_eq!(ids(&all["rows"]), vec![id(1), id(2), id(3)]);
    let row = &all["rows"][0];
    assert_eq!(row["state"], "awaiting_review");
    assert_eq!(row["rev"], revs[0].as_str());
    assert_eq!(row["inspector"], "inspector-1");
    assert_eq!(row["visit_date"], "2026-11-28");
    assert_eq!(row["sector"], "gold_mining");
    assert_eq!(row["district"], "Inambari");
    assert_eq!(row["site_name"], "Campamento La Pampa");
    let code = id(1)[id(1).len() - 8..].to_uppercase();
    assert_eq!(row["code"], code.as_str());
    assert_eq!(row["people_found"], 1);
    assert!(row["waiting_days"].as_i64().unwrap() >= 0, "{row}");
    assert_eq!(row["findings"], json!(["forced_labour"]));
    assert_eq!(row["indicators"], json!(["debt_bondage"]));
    assert_eq!(
        all["facets"]["districts"],
        json!(["Inambari", "Tahuamanu", "Tambopata"])
    );
    assert_eq!(all["facets"]["states"]["awaiting_review"], 3);

    for (query, expected) in [
        ("sector=logging", vec![2]),
        ("sector=logging&sector=agriculture", vec![2, 3]),
        ("district=tambopata", vec![3]),
        ("finding=child_labour", vec![2]),
        ("indicator=deception&indicator=debt_bondage", vec![1, 3]),
        ("q=inapari", vec![2]),
        ("q=JOSÉ", vec![3]),
        (&format!("q={}", &code[2..]), vec![1]),
        ("from=2026-11-28&to=2026-11-28", vec![1, 2, 3]),
        ("from=2026-11-29", vec![]),
        ("state=awaiting_review&sector=gold_mining", vec![1]),
        ("state=reviewed", vec![]),
    ] {
        let page = office.inbox(query).await;
        let want: Vec<String> = expected.iter().map(|n| id(*n)).collect();
        assert_eq!(ids(&page["rows"]), want, "{query}");
        assert_eq!(page["total"], want.len(), "{query}");
    }
    let page = office.inbox("offset=1&limit=1").await;
    assert_eq!(
        (page["total"].as_u64(), page["offset"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(ids(&page["rows"]), vec![id(2)]);
    assert_eq!(ids(&office.inbox("offset=5").await["rows"]).len(), 0);

    // A review is seen at once (the index catches up on every request), and moves the case.
    office
        .create(
            &office.supervisor,
            MDD,
            fixtures::reviewed_json(2, 1, &revs[1]),
        )
        .await;
    let reviewed = office.inbox("state=reviewed").await;
    assert_eq!(ids(&reviewed["rows"]), vec![id(2)]);
    assert_eq!(reviewed["facets"]["states"]["awaiting_review"], 2);
}

#[tokio::test]
async fn a_case_with_issues_corrected_and_resubmitted_shows_what_changed_since_the_review() {
    let office = Office::start().await;
    let inspection = fixtures::inspection_json(1);
    let id = inspection["_id"].as_str().unwrap().to_owned();
    let rev1 = office
        .create(&office.inspector, MDD, inspection.clone())
        .await;
    let note = "Falta la evidencia de la retención de documentos.";
    office
        .create(
            &office.supervisor,
            MDD,
            fixtures::has_issues_json(1, 1, &rev1, note),
        )
        .await;
    let case_path = format!("/api/office/{MDD}/case/{id}");
    let (status, case) = office.get(&office.supervisor, &case_path).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["state"]["state"], "has_issues");
    assert_eq!(case["state"]["open_issues"]["note"], note);
    assert_eq!(case["changed_since_review"], json!([]));
    assert_eq!(office.inbox("state=has_issues").await["total"], 1);

    // The inspector corrects the record and submits it again.
    let mut corrected = inspection;
    corrected["_rev"] = json!(rev1);
    corrected["site_name"] = json!("Campamento km 108 (corregido)");
    corrected["indicators"]["retention_of_identity_documents"]["evidence"] =
        json!("El jefe guarda 9 DNI en una caja fuerte.");
    let rev2 = office.create(&office.inspector, MDD, corrected).await;

    let resubmitted = office.inbox("state=resubmitted").await;
    assert_eq!(ids(&resubmitted["rows"]), vec![id.clone()]);
    assert_eq!(resubmitted["rows"][0]["rev"], rev2.as_str());
    let (_, case) = office.get(&office.supervisor, &case_path).await;
    assert_eq!(case["state"]["state"], "resubmitted");
    assert_eq!(case["inspection"]["_rev"], rev2.as_str());
    assert_eq!(
        case["changed_since_review"],
        json!([
            "indicators.retention_of_identity_documents.evidence",
            "site_name"
        ])
    );
    assert_eq!(case["review_body_missing"], false);
    // Once compacted, the reviewed body is gone: the page says so rather than guessing.
    let (status, _) = office
        .send(
            &office.admin,
            Method::POST,
            &format!("/db/{MDD}/_compact"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 202);
    let (_, compacted) = office.get(&office.supervisor, &case_path).await;
    assert_eq!(compacted["changed_since_review"], json!([]));
    assert_eq!(compacted["review_body_missing"], true);

    // Reviewed now; then the follow-up; the timeline is every event in time order.
    office
        .create(
            &office.supervisor,
            MDD,
            fixtures::reviewed_json(1, 2, &rev2),
        )
        .await;
    office
        .create(
            &office.supervisor,
            MDD,
            fixtures::referred_json(1, 3, &["P-001"]),
        )
        .await;
    office
        .create(
            &office.supervisor,
            MDD,
            fixtures::referral_update_json(1, 4, &fixtures::event_id(1, 3), "attended"),
        )
        .await;
    office
        .create(
            &office.admin,
            MDD,
            by(fixtures::prosecution_json(1, 5), "nacional"),
        )
        .await;
    office
        .create(&office.supervisor, MDD, fixtures::conviction_json(1, 6))
        .await;
    let (_, case) = office.get(&office.admin, &case_path).await;
    assert_eq!(case["state"]["state"], "closed");
    let events: Vec<&str> = case["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["_id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=6)
        .map(|k| fixtures::event_id(1, k).as_str().to_owned())
        .collect();
    assert_eq!(events, expected);
    assert_eq!(case["state"]["timeline"].as_array().unwrap().len(), 6);
    assert_eq!(case["changed_since_review"], json!([]));
    assert_eq!(office.inbox("state=closed").await["total"], 1);
}

#[tokio::test]
async fn inbox_requests_during_writes_all_answer_and_the_next_one_sees_every_write() {
    let office = Office::start().await;
    let writes = async {
        for batch in 0..3u64 {
            let docs: Vec<Value> = (0..20)
                .map(|i| fixtures::inspection_json(batch * 20 + i))
                .collect();
            let results = office.bulk(&office.inspector, MDD, json!(docs), true).await;
            assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
        }
    };
    let reads = futures::future::join_all((0..8).map(|i| {
        let query = format!("limit={}", i * 10);
        let office = &office;
        async move {
            let (status, page) = office
                .get(
                    &office.supervisor,
                    &format!("/api/office/{MDD}/inbox?{query}"),
                )
                .await;
            assert_eq!(status, 200, "{page}");
            page["total"].as_u64().unwrap_or(u64::MAX)
        }
    }));
    let ((), totals) = tokio::join!(writes, reads);
    assert!(totals.iter().all(|t| *t <= 60), "{totals:?}");
    assert_eq!(office.inbox("limit=0").await["total"], 60);
}

#[tokio::test]
async fn a_case_with_more_events_than_a_page_reads_is_refused_in_words_not_with_a_500() {
    let office = Office::start().await;
    let limit = chaski_server::routes::office::MAX_CASE_EVENTS as u64;
    let rev = office
        .create(&office.supervisor, MDD, fixtures::inspection_json(1))
        .await;
    let events: Vec<Value> = (0..=limit)
        .map(|k| fixtures::reviewed_json(1, k, &rev))
        .collect();
    let batch = office
        .bulk(&office.supervisor, MDD, Value::Array(events), true)
        .await;
    assert_eq!(batch.len() as u64, limit + 1);
    let id = fixtures::inspection_id(1);
    let answer = office
        .get(&office.supervisor, &format!("/api/office/{MDD}/case/{id}"))
        .await;
    assert_refused(&answer, 400, "more than 5000 case events");
    // The inbox still answers for that case.
    assert_eq!(office.inbox("").await["total"], 1);
}
