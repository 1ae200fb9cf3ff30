//! The domain rules on region databases: the server rejects what the client would reject,
//! with a reason naming each field. Single-document writes answer 400 `bad_request`;
//! `_bulk_docs` gives each invalid document its own `forbidden` result and writes the others;
//! design documents are for administrators (403). Tombstones carry nothing but their routing
//! fields; attachments are photos (JPEG, at most 200 KB). `_local` documents and databases
//! that are not a region's are not validated.

use base64::Engine as _;
use chaski_server::auth::Role;
use chaski_shared::domain::fixtures;
use chaski_shared::domain::{CaseEventKind, Region};
use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::{LocalPeer, MemoryStore, ReplicationOptions, Replicator, Store};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_error, Couch};

const MDD: &str = "madre-de-dios";

/// A server with the admin's [`Couch`] and the region database `madre-de-dios`.
async fn region() -> Couch {
    let couch = Couch::start().await;
    couch.create_db(MDD).await;
    couch
}

/// A submitted inspection with a child under 14 who is not under 18: inconsistent counts.
fn bad_counts(n: u64) -> Value {
    let mut doc = fixtures::inspection_json(n);
    doc["workers"]["minors_under_14"] = json!(9);
    doc
}

/// A review written by the admin, in the admin's name (the server checks `by`).
fn event_by_admin() -> Value {
    let mut event = fixtures::case_event_json(1, 1, CaseEventKind::Reviewed);
    event["by"] = json!("admin");
    event
}

/// An inspection whose visit has no start (required when submitted).
fn no_visit_start(n: u64) -> Value {
    let mut doc = fixtures::inspection_json(n);
    doc.as_object_mut().unwrap().remove("visit_start");
    doc
}

#[track_caller]
fn assert_reason_names(answer: &(StatusCode, Value), field: &str) {
    let reason = answer.1["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("{field}:")),
        "{field} in {}",
        answer.1
    );
}

#[tokio::test]
async fn a_bad_inspection_is_400_with_a_reason_naming_the_field_and_is_not_written() {
    let couch = region().await;
    let id = fixtures::inspection_id(1);
    let answer = couch.put(&format!("/db/{MDD}/{id}"), bad_counts(1)).await;
    assert_error(&answer, 400, "bad_request");
    assert_reason_names(&answer, "workers.minors_under_14");
    assert_error(
        &couch.get(&format!("/db/{MDD}/{id}")).await,
        404,
        "not_found",
    );

    let posted = couch.post(&format!("/db/{MDD}"), no_visit_start(2)).await;
    assert_error(&posted, 400, "bad_request");
    assert_reason_names(&posted, "visit_start");
    // A document with no type at all, as a careless client would send.
    let untyped = couch.post(&format!("/db/{MDD}"), json!({"v": 1})).await;
    assert_error(&untyped, 400, "bad_request");
    assert_reason_names(&untyped, "type");
    assert_eq!(couch.get(&format!("/db/{MDD}")).await.1["doc_count"], 0);

    // The same document, fixed, is accepted, and so is a draft with only what the app fills in.
    let good = couch
        .put(&format!("/db/{MDD}/{id}"), fixtures::inspection_json(1))
        .await;
    assert_eq!(good.0, 201, "{}", good.1);
    let draft = fixtures::draft_inspection_json(3);
    let path = format!("/db/{MDD}/{}", draft["_id"].as_str().unwrap());
    assert_eq!(couch.put(&path, draft).await.0, 201);
}

#[tokio::test]
async fn bulk_docs_writes_the_good_documents_and_rejects_each_bad_one_with_its_reason() {
    let couch = region().await;
    let docs = json!([
        fixtures::inspection_json(1),
        bad_counts(2),
        event_by_admin(),
        no_visit_start(3),
        fixtures::inspection_json(4),
    ]);
    let (status, results) = couch
        .post(&format!("/db/{MDD}/_bulk_docs"), json!({"docs": docs}))
        .await;
    assert_eq!(status, 201, "{results}");
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 5, "one result per document, in order");
    for (i, doc) in docs.as_array().unwrap().iter().enumerate() {
        assert_eq!(results[i]["id"], doc["_id"], "result {i} in request order");
    }
    for i in [0, 2, 4] {
        assert_eq!(results[i]["ok"], true, "{}", results[i]);
    }
    for (i, field) in [(1, "workers.minors_under_14"), (3, "visit_start")] {
        assert_eq!(results[i]["error"], "forbidden", "{}", results[i]);
        assert!(results[i].get("ok").is_none());
        let reason = results[i]["reason"].as_str().unwrap();
        assert!(reason.contains(&format!("{field}:")), "{reason}");
        let path = format!("/db/{MDD}/{}", docs[i]["_id"].as_str().unwrap());
        assert_error(&couch.get(&path).await, 404, "not_found");
    }
    let (_, info) = couch.get(&format!("/db/{MDD}")).await;
    assert_eq!(info["doc_count"], 3);
    assert_eq!(
        info["update_seq"], 3,
        "nothing of the rejected documents was written"
    );
}

#[tokio::test]
async fn bulk_docs_with_new_edits_false_rejects_the_bad_revisions_and_keeps_the_good() {
    let couch = region().await;
    let with_rev = |mut doc: Value, hash: &str| {
        doc["_rev"] = json!(format!("1-{hash}"));
        doc
    };
    let docs = json!([
        with_rev(fixtures::inspection_json(1), "a1"),
        with_rev(bad_counts(2), "b2"),
        with_rev(fixtures::inspection_json(3), "c3"),
        with_rev(no_visit_start(4), "d4"),
        with_rev(fixtures::inspection_json(5), "e5"),
    ]);
    let (status, results) = couch
        .post(
            &format!("/db/{MDD}/_bulk_docs"),
            json!({"new_edits": false, "docs": docs}),
        )
        .await;
    assert_eq!(status, 201, "{results}");
    let rejected: Vec<&Value> = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    assert_eq!(rejected.len(), 2, "{results}");
    for (result, (i, rev)) in rejected.iter().zip([(1, "1-b2"), (3, "1-d4")]) {
        assert_eq!(result["id"], docs[i]["_id"]);
        assert_eq!(result["rev"], rev, "the replicated revision is named");
        assert_eq!(result["error"], "forbidden");
    }
    for (i, rev) in [(0, "1-a1"), (2, "1-c3"), (4, "1-e5")] {
        let path = format!("/db/{MDD}/{}", docs[i]["_id"].as_str().unwrap());
        let (status, doc) = couch.get(&path).await;
        assert_eq!((status.as_u16(), &doc["_rev"]), (200, &json!(rev)));
    }
    for i in [1, 3] {
        let path = format!("/db/{MDD}/{}", docs[i]["_id"].as_str().unwrap());
        assert_error(&couch.get(&path).await, 404, "not_found");
    }
    assert_eq!(couch.get(&format!("/db/{MDD}")).await.1["doc_count"], 3);
}

#[tokio::test]
async fn a_person_found_with_a_clear_name_or_identity_number_is_rejected() {
    let couch = region().await;
    let mut named = fixtures::inspection_json(1);
    named["people"][0]["name"] = json!("Juana Quispe Mamani");
    named["people"][0]["dni"] = json!("45678912");
    let id = named["_id"].as_str().unwrap().to_owned();
    let answer = couch.put(&format!("/db/{MDD}/{id}"), named.clone()).await;
    assert_error(&answer, 400, "bad_request");
    assert_reason_names(&answer, "people[0].name");
    assert_reason_names(&answer, "people[0].dni");
    let reason = answer.1["reason"].as_str().unwrap();
    assert!(
        !reason.contains("Juana"),
        "the reason never echoes the name: {reason}"
    );
    // Replicated from a tablet, the same record is refused as well.
    named["_rev"] = json!("1-abc");
    let (_, results) = couch
        .post(
            &format!("/db/{MDD}/_bulk_docs"),
            json!({"new_edits": false, "docs": [named]}),
        )
        .await;
    assert_eq!(results[0]["error"], "forbidden", "{results}");
    assert_error(
        &couch.get(&format!("/db/{MDD}/{id}")).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn a_tombstone_always_passes() {
    let couch = region().await;
    let id = fixtures::inspection_id(1);
    let path = format!("/db/{MDD}/{id}");
    let (_, created) = couch.put(&path, fixtures::inspection_json(1)).await;
    let rev = created["rev"].as_str().unwrap();
    let (status, body) = couch.delete(&format!("{path}?rev={rev}")).await;
    assert_eq!(status, 200, "{body}");
    // A deletion replicated from a tablet, of a document this server never had, with a body
    // that would not pass as an inspection.
    let (status, results) = couch
        .post(
            &format!("/db/{MDD}/_bulk_docs"),
            json!({"new_edits": false, "docs": [
                {"_id": "inspection:gone", "_rev": "2-dd", "_deleted": true,
                 "_revisions": {"start": 2, "ids": ["dd", "cc"]}, "type": "inspection"}
            ]}),
        )
        .await;
    assert_eq!(status, 201);
    assert!(results[0].get("error").is_none(), "{results}");
    let (_, doc) = couch
        .get(&format!("/db/{MDD}/inspection:gone?rev=2-dd"))
        .await;
    assert_eq!(doc["_deleted"], true);
}

#[tokio::test]
async fn an_inspection_of_another_region_is_rejected() {
    let couch = region().await;
    let loreto = fixtures::inspection_json_in(1, Region::Loreto);
    let id = loreto["_id"].as_str().unwrap().to_owned();
    let answer = couch.put(&format!("/db/{MDD}/{id}"), loreto.clone()).await;
    assert_error(&answer, 400, "bad_request");
    assert_reason_names(&answer, "region");
    assert!(
        answer.1["reason"].as_str().unwrap().contains(MDD),
        "{}",
        answer.1
    );
    let (_, results) = couch
        .post(&format!("/db/{MDD}/_bulk_docs"), json!({"docs": [loreto]}))
        .await;
    assert_eq!(results[0]["error"], "forbidden", "{results}");
}

#[tokio::test]
async fn design_documents_are_written_by_administrators_only() {
    let couch = region().await;
    let token = couch.app.token_for("ana", Role::Supervisor, &[MDD]).await;
    let as_ana = |method: Method, path: &str| {
        couch
            .app
            .client
            .request(method, couch.app.url(path))
            .bearer_auth(&token)
    };
    let ddoc = json!({"views": {"by_sector": {"map": "function (doc) {}"}}});
    let response = as_ana(Method::PUT, &format!("/db/{MDD}/_design/reports"))
        .json(&ddoc)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    assert!(
        body["reason"].as_str().unwrap().contains("administrator"),
        "{body}"
    );
    let response = as_ana(Method::POST, &format!("/db/{MDD}/_bulk_docs"))
        .json(&json!({"docs": [{"_id": "_design/reports", "views": {}}, fixtures::inspection_json(1)]}))
        .send()
        .await
        .unwrap();
    let results: Value = response.json().await.unwrap();
    assert_eq!(results[0]["error"], "forbidden", "{results}");
    assert_eq!(results[1]["ok"], true, "{results}");

    // The administrator may write it; the supervisor may not delete it either.
    let (status, created) = couch.put(&format!("/db/{MDD}/_design/reports"), ddoc).await;
    assert_eq!(status, 201, "{created}");
    let rev = created["rev"].as_str().unwrap();
    let response = as_ana(
        Method::DELETE,
        &format!("/db/{MDD}/_design/reports?rev={rev}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 403);
    // Reading it stays open to the region's users.
    let response = as_ana(Method::GET, &format!("/db/{MDD}/_design/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_database_that_is_not_a_region_is_not_validated() {
    let couch = region().await;
    couch.create_db("national-archive").await;
    let (status, body) = couch
        .put("/db/national-archive/anything", json!({"v": 1}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, results) = couch
        .post(
            "/db/national-archive/_bulk_docs",
            json!({"docs": [bad_counts(1), {"_id": "note", "text": "free"}]}),
        )
        .await;
    assert!(
        results.as_array().unwrap().iter().all(|r| r["ok"] == true),
        "{results}"
    );
}

#[tokio::test]
async fn local_documents_of_a_region_database_are_not_validated() {
    let couch = region().await;
    let (status, body) = couch
        .put(
            &format!("/db/{MDD}/_local/checkpoint"),
            json!({"session_id": "s1", "history": []}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn attachment_writes_validate_the_document_with_the_new_attachment() {
    let couch = region().await;
    let doc = fixtures::inspection_with_photo_json(1, 1024);
    let id = doc["_id"].as_str().unwrap().to_owned();
    let (status, created) = couch.put(&format!("/db/{MDD}/{id}"), doc).await;
    assert_eq!(status, 201, "{created}");
    let rev = created["rev"].as_str().unwrap().to_owned();
    let put_photo = |rev: &str, content_type: &'static str, bytes: Vec<u8>| {
        couch
            .request(
                Method::PUT,
                &format!("/db/{MDD}/{id}/photo-1.jpg?rev={rev}"),
            )
            .header("content-type", content_type)
            .body(bytes)
            .send()
    };

    // The photo the inspection lists must stay a JPEG: by its label (refused before its body
    // is read) and by its bytes.
    let response = put_photo(&rev, "image/png", b"\x89PNG....".to_vec())
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("_attachments.photo-1.jpg: must be a JPEG"),
        "{body}"
    );
    let response = put_photo(&rev, "image/jpeg", b"\x89PNG....".to_vec())
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("photos[0].attachment:"),
        "{body}"
    );
    let response = put_photo(&rev, "image/jpeg", fixtures::jpeg_bytes(2048))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let rev: Value = response.json().await.unwrap();
    let rev = rev["rev"].as_str().unwrap().to_owned();

    // Removing the photo the inspection lists leaves it pointing at nothing.
    let removed = couch
        .delete(&format!("/db/{MDD}/{id}/photo-1.jpg?rev={rev}"))
        .await;
    assert_error(&removed, 400, "bad_request");
    assert_reason_names(&removed, "photos[0].attachment");

    // An attachment with no document creates one holding only the attachment: not an
    // inspection, so refused.
    let orphan = couch
        .request(Method::PUT, &format!("/db/{MDD}/inspection:orphan/p.jpg"))
        .header("content-type", "image/jpeg")
        .body(fixtures::jpeg_bytes(100))
        .send()
        .await
        .unwrap();
    assert_eq!(orphan.status(), 400);
    let (_, doc) = couch.get(&format!("/db/{MDD}/{id}?attachments=true")).await;
    let data = base64::engine::general_purpose::STANDARD
        .decode(doc["_attachments"]["photo-1.jpg"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, fixtures::jpeg_bytes(2048));
}

#[tokio::test]
async fn a_record_the_server_rejects_never_blocks_the_others_in_a_replication() {
    let couch = region().await;
    let tablet = LocalPeer::new("tablet", MemoryStore::new());
    let mut docs: Vec<_> = (0..20)
        .map(|i| fixtures::doc(fixtures::inspection_json(i)))
        .collect();
    docs.push(fixtures::doc(bad_counts(99)));
    tablet.store().bulk_docs(docs, true).await.unwrap();
    let server = HttpPeer::new(couch.app.url(&format!("/db/{MDD}")))
        .unwrap()
        .with_auth(Auth::Bearer(couch.token.clone()));
    let push = Replicator::new(&tablet, &server, ReplicationOptions::default());
    let report = push.run_once().await.unwrap();
    assert_eq!(report.docs_written, 20, "{report:?}");
    assert_eq!(report.doc_write_failures, 1, "{report:?}");
    let failure = &report.failures[0];
    assert_eq!(failure.id, fixtures::inspection_id(99).as_str());
    assert_eq!(failure.error, "forbidden");
    assert!(
        failure.reason.contains("workers.minors_under_14:"),
        "{failure:?}"
    );
    assert_eq!(couch.get(&format!("/db/{MDD}")).await.1["doc_count"], 20);
}

#[tokio::test]
async fn a_tombstone_carrying_a_name_or_anything_else_is_refused_on_every_path() {
    let couch = region().await;
    let id = fixtures::inspection_id(1);
    let path = format!("/db/{MDD}/{id}");
    let (_, created) = couch.put(&path, fixtures::inspection_json(1)).await;
    let rev = created["rev"].as_str().unwrap().to_owned();
    let hash = rev.split_once('-').unwrap().1.to_owned();
    let person = json!([{"code": "P-001", "name": "Juana Quispe Mamani", "dni": "45678912"}]);

    // PUT with `_deleted: true` and the record's people.
    let answer = couch
        .put(
            &path,
            json!({"_rev": rev, "_deleted": true, "people": person}),
        )
        .await;
    assert_error(&answer, 400, "bad_request");
    assert_reason_names(&answer, "people");
    let reason = answer.1["reason"].as_str().unwrap();
    assert!(
        reason.contains("A deletion") && !reason.contains("Juana"),
        "{reason}"
    );

    let bulk_path = format!("/db/{MDD}/_bulk_docs");
    let bulk = |docs: Value, new_edits: bool| {
        couch.post(&bulk_path, json!({"new_edits": new_edits, "docs": docs}))
    };
    // `_bulk_docs`, as an edit and as replication, each tombstone refused on its own.
    let (_, results) = bulk(
        json!([{"_id": id.as_str(), "_rev": rev, "_deleted": true, "dni": "45678912"}]),
        true,
    )
    .await;
    assert_eq!(results[0]["error"], "forbidden", "{results}");
    let replicated = |n: u32, extra: Value| {
        let mut doc = json!({"_id": id.as_str(), "_rev": format!("2-{n:032x}"), "_deleted": true,
            "_revisions": {"start": 2, "ids": [format!("{n:032x}"), hash]}});
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        doc
    };
    let photo = base64::engine::general_purpose::STANDARD.encode(fixtures::jpeg_bytes(100));
    let (_, results) = bulk(
        json!([
            replicated(1, json!({"people": person})),
            replicated(2, json!({"notes": "Juana Quispe Mamani, DNI 45678912"})),
            replicated(
                3,
                json!({"_attachments": {"p.jpg": {"content_type": "image/jpeg", "data": photo}}})
            ),
            replicated(4, json!({"type": "inspection", "region": "loreto"})),
            replicated(5, json!({"type": "person"})),
        ]),
        false,
    )
    .await;
    for (i, result) in results.as_array().unwrap().iter().enumerate() {
        assert_eq!(result["error"], "forbidden", "{i}: {results}");
    }

    // Nothing of it was stored or is served back.
    let (_, doc) = couch.get(&path).await;
    assert_eq!(doc["_rev"], rev.as_str(), "still the live record: {doc}");
    assert_error(
        &couch.get(&format!("{path}?rev=2-{:032x}", 1)).await,
        404,
        "not_found",
    );
    let (_, changes) = couch
        .get(&format!(
            "/db/{MDD}/_changes?include_docs=true&style=all_docs"
        ))
        .await;
    assert!(!changes.to_string().contains("45678912"), "{changes}");
    let (_, open) = couch.get(&format!("{path}?open_revs=all")).await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");

    // A tombstone with only its routing fields passes, as does a bare one.
    let (status, body) = couch
        .put(
            &path,
            json!({"_rev": rev, "_deleted": true, "type": "inspection", "region": MDD}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn region_databases_take_only_jpeg_photos_of_at_most_200_kb_on_every_path() {
    let couch = region().await;
    let doc = fixtures::inspection_json(1);
    let id = doc["_id"].as_str().unwrap().to_owned();
    let (_, created) = couch.put(&format!("/db/{MDD}/{id}"), doc.clone()).await;
    let rev = created["rev"].as_str().unwrap().to_owned();
    let put_att = |name: &str, content_type: &'static str, bytes: Vec<u8>| {
        couch
            .request(Method::PUT, &format!("/db/{MDD}/{id}/{name}?rev={rev}"))
            .header("content-type", content_type)
            .body(bytes)
            .send()
    };

    // A 9 MiB program is refused, before its body is even read to the end.
    let exe = put_att("setup.exe", "application/x-msdownload", vec![b'M'; 9 << 20])
        .await
        .unwrap();
    assert!(
        matches!(exe.status().as_u16(), 400 | 413),
        "{}",
        exe.status()
    );
    let body: Value = exe.json().await.unwrap();
    assert!(body["reason"].as_str().unwrap().contains("JPEG"), "{body}");
    // An HTML page, labelled as such or as a JPEG, and a JPEG over 200 KB.
    let html = b"<script>alert(document.cookie)</script>".to_vec();
    for (name, content_type, bytes) in [
        ("report.html", "text/html", html.clone()),
        ("report.jpg", "image/jpeg", html.clone()),
        ("big.jpg", "image/jpeg", fixtures::jpeg_bytes(201 * 1024)),
    ] {
        let response = put_att(name, content_type, bytes).await.unwrap();
        assert!(
            matches!(response.status().as_u16(), 400 | 413),
            "{name}: {}",
            response.status()
        );
    }
    // A photo not (yet) listed among the inspection's photos is fine.
    let ok = put_att("extra.jpg", "image/jpeg", fixtures::jpeg_bytes(1024))
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);

    // Inline, in a PUT, in `_bulk_docs` and in replication.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&html);
    let mut inline = fixtures::inspection_json(2);
    inline["_attachments"] = json!({"report.html": {"content_type": "text/html", "data": b64}});
    let inline_id = inline["_id"].as_str().unwrap().to_owned();
    let answer = couch
        .put(&format!("/db/{MDD}/{inline_id}"), inline.clone())
        .await;
    assert_error(&answer, 400, "bad_request");
    assert_reason_names(&answer, "_attachments.report.html");
    let mut replicated = inline.clone();
    replicated["_rev"] = json!("1-abc");
    let (_, results) = couch
        .post(
            &format!("/db/{MDD}/_bulk_docs"),
            json!({"new_edits": false, "docs": [replicated]}),
        )
        .await;
    assert_eq!(results[0]["error"], "forbidden", "{results}");
    let (_, results) = couch
        .post(&format!("/db/{MDD}/_bulk_docs"), json!({"docs": [inline]}))
        .await;
    assert_eq!(results[0]["error"], "forbidden", "{results}");
    assert_error(
        &couch.get(&format!("/db/{MDD}/{inline_id}")).await,
        404,
        "not_found",
    );

    // Case events carry no attachments at all.
    let mut event = fixtures::case_event_json(1, 1, CaseEventKind::Reviewed);
    event["_attachments"] = json!({"ruling.jpg": {"content_type": "image/jpeg",
        "data": base64::engine::general_purpose::STANDARD.encode(fixtures::jpeg_bytes(100))}});
    let event_id = event["_id"].as_str().unwrap().to_owned();
    let answer = couch.put(&format!("/db/{MDD}/{event_id}"), event).await;
    assert_error(&answer, 400, "bad_request");
    assert_reason_names(&answer, "_attachments.ruling.jpg");
}
