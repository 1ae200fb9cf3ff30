//! CouchDB behaviour that stock PouchDB and other CouchDB clients rely on (issue #12, C.13):
//! `_bulk_docs` result and error shapes, `_local` documents, filters Chaski cannot run,
//! `_all_docs` and `_changes` options, attachment options, and earlier revisions kept until
//! `_compact`.

use base64::Engine as _;
use chaski_server::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};

use super::{assert_error, Couch, DB};

fn path(rest: &str) -> String {
    format!("/db/{DB}/{rest}")
}

#[tokio::test]
async fn bulk_docs_error_entries_carry_no_rev_when_new_edits_is_true() {
    let couch = Couch::start().await;
    let rev = couch.create("a", json!({"v": 1})).await;
    let (status, results) = couch
        .post(
            &path("_bulk_docs"),
            json!({"docs": [{"_id": "a", "v": 2}, {"_id": "a", "_rev": "1-stale", "v": 3}, {"_id": "b"}]}),
        )
        .await;
    assert_eq!(status, 201, "{results}");
    for conflict in &results.as_array().unwrap()[..2] {
        assert_eq!(conflict["error"], "conflict", "{results}");
        assert_eq!(conflict["id"], "a");
        assert!(
            conflict.get("rev").is_none(),
            "no rev on a conflict: {conflict}"
        );
    }
    assert_eq!(results[2]["ok"], true);
    assert!(results[2]["rev"].as_str().unwrap().starts_with("1-"));
    let (_, doc) = couch.get(&path("a")).await;
    assert_eq!(
        doc["_rev"],
        rev.as_str(),
        "the conflicting edits wrote nothing"
    );
}

#[tokio::test]
async fn new_edits_false_needs_rev_or_revisions_and_revisions_name_the_revision() {
    let couch = Couch::start().await;
    // Neither `_rev` nor `_revisions`: CouchDB's 400 for the whole request, nothing written.
    let answer = couch
        .post(
            &path("_bulk_docs"),
            json!({"new_edits": false, "docs": [{"_id": "ok", "_rev": "1-a"}, {"_id": "norev"}]}),
        )
        .await;
    assert_error(&answer, 400, "bad_request");
    assert!(answer.1["reason"]
        .as_str()
        .unwrap()
        .contains("`_rev` or `_revisions`"));
    assert_error(&couch.get(&path("ok")).await, 404, "not_found");
    let single = couch
        .put(&path("norev?new_edits=false"), json!({"v": 1}))
        .await;
    assert_error(&single, 400, "bad_request");

    // `_revisions` alone, or with a `_rev` it does not start at: `_revisions` names the
    // revision, as in CouchDB (it reads `_revisions` after `_rev`).
    let (status, results) = couch
        .post(
            &path("_bulk_docs"),
            json!({"new_edits": false, "docs": [
                {"_id": "r", "_revisions": {"start": 2, "ids": ["bbb", "aaa"]}, "v": 2},
                {"_id": "m", "_rev": "1-zzz", "_revisions": {"start": 3, "ids": ["ccc", "bbb", "aaa"]}}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{results}");
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("error").is_none()),
        "{results}"
    );
    let (_, r) = couch.get(&path("r?revs=true")).await;
    assert_eq!(r["_rev"], "2-bbb");
    assert_eq!(r["_revisions"], json!({"start": 2, "ids": ["bbb", "aaa"]}));
    let (_, m) = couch.get(&path("m")).await;
    assert_eq!(m["_rev"], "3-ccc");

    // A revision with no hash is malformed (400), never stored.
    let answer = couch
        .post(
            &path("_bulk_docs"),
            json!({"new_edits": false, "docs": [{"_id": "x", "_rev": "1-"}]}),
        )
        .await;
    assert_error(&answer, 400, "bad_request");
    assert_error(&couch.get(&path("x")).await, 404, "not_found");
}

#[tokio::test]
async fn local_documents_in_bulk_docs_are_written_as_local_documents_with_their_own_results() {
    let couch = Couch::start().await;
    let (status, results) = couch
        .post(
            &path("_bulk_docs"),
            json!({"docs": [
                {"_id": "_local/ck", "last_seq": 5},
                {"_id": "doc", "v": 1},
                {"_id": "_local/other", "_rev": "0-7", "x": 1}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{results}");
    assert_eq!(
        results[0],
        json!({"ok": true, "id": "_local/ck", "rev": "0-1"})
    );
    assert_eq!(results[1]["ok"], true);
    assert_eq!(
        results[2]["error"], "conflict",
        "a stale local revision: {results}"
    );
    let (_, ck) = couch.get(&path("_local/ck")).await;
    assert_eq!(
        ck,
        json!({"_id": "_local/ck", "_rev": "0-1", "last_seq": 5})
    );
    let (_, results) = couch
        .post(
            &path("_bulk_docs"),
            json!({"docs": [{"_id": "_local/ck", "_rev": "0-1", "last_seq": 9}]}),
        )
        .await;
    assert_eq!(results[0]["rev"], "0-2", "{results}");
    // Replicated (new_edits=false), a local document replaces what is there.
    let (_, results) = couch
        .post(
            &path("_bulk_docs"),
            json!({"new_edits": false, "docs": [{"_id": "_local/ck", "last_seq": 12}]}),
        )
        .await;
    assert_eq!(results[0]["ok"], true, "{results}");
    let (_, ck) = couch.get(&path("_local/ck")).await;
    assert_eq!(ck["last_seq"], 12);
    assert_eq!(ck["_rev"], "0-3");
    // Local documents never appear among the replicated ones.
    let (_, all) = couch.get(&path("_all_docs")).await;
    assert_eq!(all["rows"].as_array().unwrap().len(), 1, "{all}");
}

#[tokio::test]
async fn local_documents_keep_no_revisions_refuse_attachments_and_404_a_missing_delete() {
    let couch = Couch::start().await;
    let (status, put) = couch
        .put(
            &path("_local/ck"),
            json!({"history": [], "_revisions": {"start": 3, "ids": ["c", "b", "a"]}}),
        )
        .await;
    assert_eq!(status, 201, "{put}");
    assert_eq!(put["rev"], "0-1");
    let (_, ck) = couch.get(&path("_local/ck")).await;
    assert!(ck.get("_revisions").is_none(), "{ck}");

    let reason = "_local documents do not accept attachments.";
    let inline = couch
        .put(
            &path("_local/photo"),
            json!({"_attachments": {"a.txt": {"content_type": "text/plain", "data": "aGk="}}}),
        )
        .await;
    assert_error(&inline, 400, "bad_request");
    assert_eq!(inline.1["reason"], reason);
    for method in [Method::PUT, Method::GET] {
        let response = couch
            .request(method, &path("_local/ck/a.txt"))
            .body("hi")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["reason"], reason);
    }
    assert_error(
        &couch.delete(&path("_local/never?rev=0-1")).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn design_document_and_view_filters_answer_couchdbs_404() {
    let couch = Couch::start().await;
    couch.create("a", json!({})).await;
    for query in ["filter=app/by_region", "filter=_view&view=app/by_region"] {
        let answer = couch.get(&path(&format!("_changes?{query}"))).await;
        assert_error(&answer, 404, "not_found");
    }
    let answer = couch
        .post(
            &path("_changes?filter=app/by_region&query_params=%7B%7D"),
            json!({}),
        )
        .await;
    assert_error(&answer, 404, "not_found");
    // The filters Chaski has still work.
    let (status, _) = couch
        .get(&path("_changes?filter=_doc_ids&doc_ids=%5B%22a%22%5D"))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn all_docs_answers_conflicts_update_seq_and_deleted_keys_and_refuses_keys_with_a_range() {
    let couch = Couch::start().await;
    let rev = couch.create("gone", json!({})).await;
    couch.delete(&path(&format!("gone?rev={rev}"))).await;
    couch.create("live", json!({"v": 1})).await;
    couch
        .post(
            &path("_bulk_docs"),
            json!({"new_edits": false, "docs": [{"_id": "live", "_rev": "1-zzzz", "v": 2}]}),
        )
        .await;
    let (status, all) = couch
        .get(&path(
            "_all_docs?include_docs=true&conflicts=true&update_seq=true",
        ))
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["update_seq"], 4);
    assert_eq!(all["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        all["rows"][0]["doc"]["_conflicts"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{all}"
    );

    let (_, keyed) = couch
        .post(
            &path("_all_docs?include_docs=true"),
            json!({"keys": ["gone", "nope"]}),
        )
        .await;
    assert_eq!(keyed["rows"][0]["value"]["deleted"], true, "{keyed}");
    assert_eq!(keyed["rows"][0]["doc"], Value::Null);
    assert!(keyed["rows"][0]["value"]["rev"]
        .as_str()
        .unwrap()
        .starts_with("2-"));
    assert_eq!(keyed["rows"][1]["error"], "not_found");

    let answer = couch
        .post(
            &path("_all_docs?startkey=%22a%22"),
            json!({"keys": ["live"]}),
        )
        .await;
    assert_error(&answer, 400, "query_parse_error");
}

#[tokio::test]
async fn changes_pages_across_deletions_run_backwards_and_take_opaque_sequences() {
    let couch = Couch::start().await;
    for id in ["a", "b", "c", "d"] {
        couch.create(id, json!({})).await;
    }
    let (_, b) = couch.get(&path("b")).await;
    couch
        .delete(&path(&format!("b?rev={}", b["_rev"].as_str().unwrap())))
        .await;
    // Sequences now: a=1, c=3, d=4, b(deleted)=5.
    let (_, page) = couch.get(&path("_changes?limit=3")).await;
    let ids: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "c", "d"]);
    assert_eq!(page["last_seq"], 4);
    assert_eq!(page["pending"], 1);
    let (_, rest) = couch.get(&path("_changes?since=4&limit=3")).await;
    assert_eq!(rest["results"][0]["id"], "b");
    assert_eq!(rest["results"][0]["deleted"], true);

    let (_, newest) = couch.get(&path("_changes?descending=true&limit=2")).await;
    let ids: Vec<&str> = newest["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b", "d"], "{newest}");
    assert_eq!(newest["last_seq"], 4);

    // A sequence sent back as a JSON string, or in CouchDB's opaque form, and seq_interval.
    for since in ["%224%22", "4-g1AAAAAA", "4"] {
        let (status, page) = couch
            .get(&path(&format!("_changes?since={since}&seq_interval=100")))
            .await;
        assert_eq!(status, 200, "{since}: {page}");
        assert_eq!(
            page["results"].as_array().unwrap().len(),
            1,
            "{since}: {page}"
        );
    }
    assert_error(
        &couch.get(&path("_changes?since=nonsense")).await,
        400,
        "bad_request",
    );
}

#[tokio::test]
async fn attachments_have_couchdb_stubs_options_names_and_content_md5() {
    let couch = Couch::start().await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let rev1 = couch
        .create(
            "d",
            json!({"_attachments": {"a.txt": {"content_type": "text/plain", "data": b64.encode("uno")}}}),
        )
        .await;
    let (_, doc) = couch.get(&path("d")).await;
    let stub = &doc["_attachments"]["a.txt"];
    assert_eq!(stub["stub"], true);
    assert_eq!(stub["length"], 3);
    assert_eq!(stub["revpos"], 1);
    let md5 = b64.encode(md5_of(b"uno"));
    assert_eq!(stub["digest"], format!("md5-{md5}"));

    // A name with a slash and one in Spanish with accents, by their URL.
    let mut rev = rev1.clone();
    for (encoded, name) in [
        ("fotos%2Fd%C3%ADa1.txt", "fotos/día1.txt"),
        ("informe%20ñandú.txt", "informe ñandú.txt"),
    ] {
        let response = couch
            .request(Method::PUT, &path(&format!("d/{encoded}?rev={rev}")))
            .header("content-type", "text/plain")
            .body("dos")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{name}");
        rev = response.json::<Value>().await.unwrap()["rev"]
            .as_str()
            .unwrap()
            .to_owned();
        let back = couch
            .request(Method::GET, &path(&format!("d/{encoded}")))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 200, "{name}");
        assert_eq!(back.bytes().await.unwrap().as_ref(), b"dos");
        let (_, doc) = couch.get(&path("d")).await;
        assert!(doc["_attachments"].get(name).is_some(), "{name} in {doc}");
    }

    // attachments=true inlines; atts_since leaves what the reader has as stubs; encoding info
    // is accepted (nothing is stored compressed, so there is none to give).
    let (status, full) = couch
        .get(&path("d?attachments=true&att_encoding_info=true"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(full["_attachments"]["a.txt"]["data"], b64.encode("uno"));
    let (_, since) = couch
        .get(&path(&format!(
            "d?attachments=true&atts_since=%5B%22{rev1}%22%5D"
        )))
        .await;
    assert_eq!(since["_attachments"]["a.txt"]["stub"], true, "{since}");
    assert_eq!(
        since["_attachments"]["fotos/día1.txt"]["data"],
        b64.encode("dos")
    );

    // Honoured by _all_docs and _changes with include_docs.
    let (_, all) = couch
        .get(&path("_all_docs?include_docs=true&attachments=true"))
        .await;
    assert_eq!(
        all["rows"][0]["doc"]["_attachments"]["a.txt"]["data"],
        b64.encode("uno")
    );
    let (_, feed) = couch
        .get(&path("_changes?include_docs=true&attachments=true"))
        .await;
    assert_eq!(
        feed["results"][0]["doc"]["_attachments"]["a.txt"]["data"],
        b64.encode("uno"),
        "{feed}"
    );

    // Content-MD5 must match the bytes.
    let bad = couch
        .request(Method::PUT, &path(&format!("d/c.txt?rev={rev}")))
        .header("content-md5", b64.encode(md5_of(b"something else")))
        .body("tres")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "content_md5_mismatch"
    );
    let good = couch
        .request(Method::PUT, &path(&format!("d/c.txt?rev={rev}")))
        .header("content-md5", b64.encode(md5_of(b"tres")))
        .body("tres")
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 201);

    // Names starting with `_` are CouchDB's, by URL or inline.
    let (_, doc) = couch.get(&path("d")).await;
    let rev = doc["_rev"].as_str().unwrap();
    let by_url = couch
        .request(Method::PUT, &path(&format!("d/_secret?rev={rev}")))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(by_url.status(), 400);
    let inline = couch
        .put(
            &path("e"),
            json!({"_attachments": {"_x": {"content_type": "text/plain", "data": "eA=="}}}),
        )
        .await;
    assert_error(&inline, 400, "bad_request");
    assert!(inline.1["reason"]
        .as_str()
        .unwrap()
        .contains("prohibited character '_'"));
}

fn md5_of(bytes: &[u8]) -> Vec<u8> {
    // The digest format is CouchDB's: md5-<base64 of the 16 bytes>.
    let digest = chaski_shared::doc::attachment_digest(bytes);
    base64::engine::general_purpose::STANDARD
        .decode(digest.trim_start_matches("md5-"))
        .unwrap()
}

#[tokio::test]
async fn earlier_revisions_and_their_attachments_are_readable_until_compaction() {
    let couch = Couch::start().await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let rev1 = couch
        .create(
            "case",
            json!({"status": "draft", "_attachments": {"p.txt": {"content_type": "text/plain", "data": b64.encode("v1")}}}),
        )
        .await;
    let rev2 = couch
        .create(
            "case",
            json!({"_rev": rev1, "status": "submitted", "_attachments": {"p.txt": {"content_type": "text/plain", "data": b64.encode("v2")}}}),
        )
        .await;
    let (status, old) = couch.get(&path(&format!("case?rev={rev1}"))).await;
    assert_eq!(status, 200, "{old}");
    assert_eq!(old["status"], "draft");
    assert_eq!(old["_rev"], rev1.as_str());
    let (_, both) = couch
        .get(&path(&format!("case?open_revs=%5B%22{rev1}%22%5D")))
        .await;
    assert_eq!(both[0]["ok"]["status"], "draft", "{both}");
    let att = couch
        .request(Method::GET, &path(&format!("case/p.txt?rev={rev1}")))
        .send()
        .await
        .unwrap();
    assert_eq!(att.status(), 200);
    assert_eq!(att.bytes().await.unwrap().as_ref(), b"v1");
    let (_, info) = couch.get(&path("case?revs_info=true")).await;
    assert_eq!(
        info["_revs_info"][1],
        json!({"rev": rev1, "status": "available"})
    );

    // Only an administrator compacts.
    let inspector = couch.app.token_for("ines", Role::Inspector, &[]).await;
    let refused = couch
        .app
        .client
        .post(couch.app.url(&path("_compact")))
        .bearer_auth(inspector)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(refused.status().as_u16(), 401 | 403),
        "{}",
        refused.status()
    );

    let (status, answer) = couch.post(&path("_compact"), json!({})).await;
    assert_eq!(status, 202);
    assert_eq!(answer, json!({"ok": true}));
    assert_error(
        &couch.get(&path(&format!("case?rev={rev1}"))).await,
        404,
        "not_found",
    );
    let (_, info) = couch.get(&path("case?revs_info=true")).await;
    assert_eq!(
        info["_revs_info"][1],
        json!({"rev": rev1, "status": "missing"})
    );
    let (_, current) = couch.get(&path("case?attachments=true")).await;
    assert_eq!(current["_rev"], rev2.as_str());
    assert_eq!(current["_attachments"]["p.txt"]["data"], b64.encode("v2"));
}

#[tokio::test]
async fn a_new_document_may_be_created_deleted() {
    let couch = Couch::start().await;
    let (status, answer) = couch
        .put(&path("born-deleted"), json!({"_deleted": true}))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer["rev"].as_str().unwrap().starts_with("1-"));
    assert_error(&couch.get(&path("born-deleted")).await, 404, "not_found");
    let (_, info) = couch.get(&format!("/db/{DB}")).await;
    assert_eq!(info["doc_del_count"], 1);
}

#[tokio::test]
async fn a_cut_changes_or_bulk_get_answer_never_parses_as_a_shorter_complete_one() {
    let couch = Couch::start().await;
    for i in 0..5 {
        couch.create(&format!("doc{i}"), json!({"i": i})).await;
    }
    let changes = couch
        .request(
            Method::GET,
            &path("_changes?style=all_docs&include_docs=true"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bulk_get = couch
        .request(Method::POST, &path("_bulk_get?revs=true"))
        .json(&json!({"docs": [{"id": "doc0"}, {"id": "doc3"}, {"id": "missing"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // `last_seq` comes after every row, so a reader never learns where to resume from a
    // partial page; and no proper prefix of either answer is valid JSON, so a client that
    // lost the end of the body fails to parse it rather than taking fewer rows.
    let last_row = changes.rfind("\"doc4\"").unwrap();
    assert!(
        changes.find("\"last_seq\"").unwrap() > last_row,
        "{changes}"
    );
    for body in [changes.trim_end(), bulk_get.trim_end()] {
        for end in 1..body.len() {
            if body.is_char_boundary(end) {
                assert!(
                    serde_json::from_str::<Value>(&body[..end]).is_err(),
                    "a prefix of {end} bytes parses: {body}"
                );
            }
        }
    }
}
