//! Bounds on one document's revisions: generations that would overflow, and the most
//! branches (leaves) a document may have.

use serde_json::{json, Value};

use super::{assert_error, Couch, DB};

fn branch(id: &str, i: usize) -> Value {
    let hash = format!("b{i:05}");
    json!({"_id": id, "_rev": format!("2-{hash}"), "n": i,
           "_revisions": {"start": 2, "ids": [hash, "root"]}})
}

#[tokio::test]
async fn a_revision_at_a_generation_that_would_overflow_is_refused_and_the_database_keeps_working()
{
    let couch = Couch::start().await;
    let bulk = format!("/db/{DB}/_bulk_docs");
    // The reproduction of issue #12: u64::MAX, replicated, then edited.
    let answer = couch
        .post(
            &bulk,
            json!({"new_edits": false, "docs": [{"_id": "max", "_rev": "18446744073709551615-a"}]}),
        )
        .await;
    assert_error(&answer, 400, "bad_request");
    let answer = couch
        .put(
            &format!("/db/{DB}/max"),
            json!({"_rev": "18446744073709551615-a", "v": 2}),
        )
        .await;
    assert_error(&answer, 400, "bad_request");

    // The highest generation accepted can be replicated, but not edited further.
    let highest = format!("{}-a", chaski_shared::rev::MAX_GENERATION);
    let (status, body) = couch
        .post(
            &bulk,
            json!({"new_edits": false, "docs": [{"_id": "top", "_rev": highest}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let answer = couch
        .put(&format!("/db/{DB}/top"), json!({"_rev": highest, "v": 2}))
        .await;
    assert_error(&answer, 400, "bad_request");
    assert!(
        answer.1["reason"].as_str().unwrap().contains("highest"),
        "{}",
        answer.1
    );

    // The database still takes writes, the one document still reads.
    couch.create("after", json!({"ok": true})).await;
    let (status, top) = couch.get(&format!("/db/{DB}/top")).await;
    assert_eq!(status, 200, "{top}");
    assert_eq!(top["_rev"], highest);
}

#[tokio::test]
async fn a_document_takes_at_most_a_thousand_branches_and_can_still_be_edited_at_the_limit() {
    let couch = Couch::start().await;
    let bulk = format!("/db/{DB}/_bulk_docs");
    let docs: Vec<Value> = (0..chaski_shared::record::MAX_LEAVES)
        .map(|i| branch("many", i))
        .collect();
    let (status, body) = couch
        .post(&bulk, json!({"new_edits": false, "docs": docs}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("error").is_none()),
        "all {} branches stored",
        chaski_shared::record::MAX_LEAVES
    );

    // One more branch is refused for this document only; the rest of the batch is written.
    let (status, body) = couch
        .post(
            &bulk,
            json!({"new_edits": false, "docs": [branch("many", 5000), {"_id": "other", "_rev": "1-x"}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body[0]["error"], "forbidden", "{body}");
    assert!(
        body[0]["reason"].as_str().unwrap().contains("1000"),
        "{body}"
    );
    assert!(body[1].get("error").is_none(), "{body}");

    // Sending a known branch again, and editing a branch, add no leaf: both are accepted.
    let (status, body) = couch
        .post(
            &bulk,
            json!({"new_edits": false, "docs": [branch("many", 7)]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body[0].get("error").is_none(), "{body}");
    let (_, winner) = couch.get(&format!("/db/{DB}/many")).await;
    let (status, body) = couch
        .put(
            &format!("/db/{DB}/many"),
            json!({"_rev": winner["_rev"], "resolved": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, info) = couch.get(&format!("/db/{DB}")).await;
    assert_eq!(info["doc_count"], 2);
}
