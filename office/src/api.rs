//! The office's calls to the server: the inbox, a case, writing an event, and a photo.
//! Everything goes through the inspector app's one `fetch` wrapper ([`chaski_client::api`]), so
//! a refusal carries the server's reason in the same way.

use chaski_client::api::{call, ApiError};
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// The inbox's filters, as the server reads them from the query string.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InboxQuery {
    pub states: Vec<String>,
    pub sector: String,
    pub from: String,
    pub to: String,
    pub district: String,
    pub finding: String,
    pub indicators: Vec<String>,
    pub text: String,
    pub offset: usize,
}

/// Rows asked for at a time.
pub const PAGE: usize = 50;

impl InboxQuery {
    /// `state=…&sector=…&offset=0&limit=50`, each value URL-encoded.
    pub fn query_string(&self) -> String {
        let mut parts: Vec<(&str, &str)> = Vec::new();
        for s in &self.states {
            parts.push(("state", s));
        }
        for (key, value) in [
            ("sector", &self.sector),
            ("from", &self.from),
            ("to", &self.to),
            ("district", &self.district),
            ("finding", &self.finding),
        ] {
            if !value.is_empty() {
                parts.push((key, value));
            }
        }
        for i in &self.indicators {
            parts.push(("indicator", i));
        }
        let text = self.text.trim();
        if !text.is_empty() {
            parts.push(("q", text));
        }
        let mut out: Vec<String> = parts
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        out.push(format!("offset={}", self.offset));
        out.push(format!("limit={PAGE}"));
        out.join("&")
    }
}

/// One line of the inbox.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct InboxRow {
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub inspector: String,
    #[serde(default)]
    pub visit_date: String,
    #[serde(default)]
    pub sector: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub site_name: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub people_found: u64,
    #[serde(default)]
    pub waiting_days: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Facets {
    #[serde(default)]
    pub districts: Vec<String>,
}

/// A page of the inbox.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct InboxPage {
    pub total: usize,
    #[serde(default)]
    pub offset: usize,
    pub rows: Vec<InboxRow>,
    #[serde(default)]
    pub facets: Facets,
}

/// `GET /api/office/{db}/inbox?…`.
pub async fn inbox(token: &str, db: &str, query: &InboxQuery) -> Result<InboxPage, ApiError> {
    let url = format!("/api/office/{db}/inbox?{}", query.query_string());
    let text = call("GET", &url, Some(token), None).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::Server(e.to_string()))
}

/// A case as the server gives it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CaseAnswer {
    pub inspection: Value,
    #[serde(default)]
    pub events: Vec<Value>,
    #[serde(default)]
    pub changed_since_review: Vec<String>,
}

/// `GET /api/office/{db}/case/{id}`.
pub async fn case(token: &str, db: &str, id: &str) -> Result<CaseAnswer, ApiError> {
    let url = format!("/api/office/{db}/case/{}", encode(id));
    let text = call("GET", &url, Some(token), None).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::Server(e.to_string()))
}

/// `PUT /db/{db}/{id}`: writes a new event document.
pub async fn put_doc(token: &str, db: &str, id: &str, body: &Value) -> Result<(), ApiError> {
    let url = format!("/db/{db}/{}", encode(id));
    call("PUT", &url, Some(token), Some(&body.to_string()))
        .await
        .map(|_| ())
}

/// A photo (`GET /db/{db}/{id}/{name}`) as a `data:` URL: an `<img>` cannot send the token.
pub async fn photo(token: &str, db: &str, id: &str, name: &str) -> Result<String, ApiError> {
    let bytes = attachment_bytes(token, db, id, name).await?;
    Ok(chaski_client::components::photos::data_url(&bytes))
}

/// An attachment's bytes (`GET /db/{db}/{id}/{name}`), or the refusal with the server's reason.
pub async fn attachment_bytes(
    token: &str,
    db: &str,
    id: &str,
    name: &str,
) -> Result<Vec<u8>, ApiError> {
    let url = format!("/db/{db}/{}/{}", encode(id), encode(name));
    let response = get_ok(token, &url).await?;
    let buffer = JsFuture::from(response.array_buffer().map_err(|_| ApiError::Network)?)
        .await
        .map_err(|_| ApiError::Network)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// A `GET` with the token whose body the caller reads itself (bytes, a blob): the response of a
/// 2xx answer, else the refusal as [`call`] words it.
async fn get_ok(token: &str, url: &str) -> Result<Response, ApiError> {
    let init = RequestInit::new();
    init.set_method("GET");
    let request = Request::new_with_str_and_init(url, &init).map_err(|_| ApiError::Network)?;
    let _ = request
        .headers()
        .set("Authorization", &format!("Bearer {token}"));
    let response: Response = JsFuture::from(leptos::prelude::window().fetch_with_request(&request))
        .await
        .map_err(|_| ApiError::Network)?
        .unchecked_into();
    if response.ok() {
        return Ok(response);
    }
    let text = match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Err(refusal(response.status(), &text))
}

/// A refused answer (not 2xx) in the pages' terms, the table of [`chaski_client::api::call`],
/// for the calls that read the status or the body themselves: a `403` for the region's keys,
/// the `201` of an opening, bytes.
pub use chaski_client::api::refusal;

/// An answer's JSON; one that does not parse is an error in words, never an empty value.
pub fn parse(text: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::Server(format!("The server's answer could not be read: {e}")))
}

/// URL-encodes one path segment or query value.
pub fn encode(value: &str) -> String {
    String::from(js_sys::encode_uri_component(value))
}

/// The Cifras page's choices, as `GET /api/figures` and the exports read them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FiguresQuery {
    pub from: String,
    pub to: String,
    /// One region's database name, or empty for every region the user may see.
    pub region: String,
    /// Small cells as "<5".
    pub public: bool,
}

impl FiguresQuery {
    /// `from=…&to=…&region=…[&public=1][&by=…]`, each value URL-encoded; what is empty is left
    /// out (the server's defaults).
    pub fn query_string(&self, by: Option<&str>) -> String {
        let mut out: Vec<String> = [
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("region", self.region.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
        if self.public {
            out.push("public=1".to_string());
        }
        if let Some(by) = by {
            out.push(format!("by={by}"));
        }
        out.join("&")
    }
}

/// `GET /api/figures?…`, kept as JSON: the page reads it leniently (see [`crate::figures`]).
pub async fn figures(token: &str, query: &FiguresQuery, by: &str) -> Result<Value, ApiError> {
    let url = format!("/api/figures?{}", query.query_string(Some(by)));
    let text = call("GET", &url, Some(token), None).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::Server(e.to_string()))
}

/// Downloads `url` with the token (an `<a href>` cannot send it) and hands the file to the
/// browser as `filename`.
pub async fn download(token: &str, url: &str, filename: &str) -> Result<(), ApiError> {
    let response = get_ok(token, url).await?;
    let blob: web_sys::Blob = JsFuture::from(response.blob().map_err(|_| ApiError::Network)?)
        .await
        .map_err(|_| ApiError::Network)?
        .unchecked_into();
    save_blob(&blob, filename);
    Ok(())
}

/// Offers `text` to the user as a file named `filename` (a CSV made in the browser). A byte
/// order mark leads, so that spreadsheet programs read the accents as UTF-8.
pub fn save_text(filename: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&format!("\u{FEFF}{text}")));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    if let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) {
        save_blob(&blob, filename);
    }
}

/// Saves a blob through a temporary `blob:` URL and a download link.
fn save_blob(blob: &web_sys::Blob, filename: &str) {
    let Ok(url) = web_sys::Url::create_object_url_with_blob(blob) else {
        return;
    };
    let document = leptos::prelude::document();
    if let (Ok(element), Some(body)) = (document.create_element("a"), document.body()) {
        let link: web_sys::HtmlAnchorElement = element.unchecked_into();
        link.set_href(&url);
        link.set_download(filename);
        let _ = body.append_child(&link);
        link.click();
        link.remove();
    }
    // The download has started from the URL by then; a minute is plenty on a slow disk.
    leptos::prelude::set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(60),
    );
}

/// A user as `GET /api/admin/users` lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminUser {
    pub name: String,
    pub role: String,
    pub regions: Vec<String>,
    pub disabled: bool,
}

/// A device's token as `GET /api/admin/tokens` lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminToken {
    pub id: String,
    pub user: String,
    pub device: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked: bool,
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub at: String,
    pub by: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// A relay's status (`GET /api/relay`).
#[derive(Clone, Debug, PartialEq)]
pub struct RelayStatus {
    pub name: String,
    pub db: String,
    pub target: String,
    pub direction: String,
    pub state: String,
    pub last_success: Option<String>,
    pub pending: Option<u64>,
    pub last_error: Option<String>,
}

// The admin lists are read from `serde_json::Value` by hand rather than with derived
// deserializers: one generic instantiation per type cost the office's first load more than
// these few lines.

/// A text field (a number or `true` as its text; missing or `null` as empty).
fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn opt_text(v: &Value, key: &str) -> Option<String> {
    Some(text(v, key)).filter(|t| !t.is_empty())
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The items of a JSON array (none when it is not one).
fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

impl AdminUser {
    pub fn list(v: &Value) -> Vec<AdminUser> {
        items(v)
            .map(|u| AdminUser {
                name: text(u, "name"),
                role: text(u, "role"),
                regions: items(u.get("regions").unwrap_or(&Value::Null))
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect(),
                disabled: flag(u, "disabled"),
            })
            .collect()
    }
}

impl AdminToken {
    pub fn list(v: &Value) -> Vec<AdminToken> {
        items(v)
            .map(|t| AdminToken {
                id: text(t, "id"),
                user: text(t, "user"),
                device: text(t, "device"),
                created_at: text(t, "created_at"),
                expires_at: text(t, "expires_at"),
                revoked: flag(t, "revoked"),
            })
            .collect()
    }
}

impl LogEntry {
    pub fn list(v: &Value) -> Vec<LogEntry> {
        items(v)
            .map(|e| LogEntry {
                at: text(e, "at"),
                by: text(e, "by"),
                action: text(e, "action"),
                target: text(e, "target"),
                detail: text(e, "detail"),
            })
            .collect()
    }
}

impl RelayStatus {
    pub fn list(v: &Value) -> Vec<RelayStatus> {
        items(v)
            .map(|r| RelayStatus {
                name: text(r, "name"),
                db: text(r, "db"),
                target: text(r, "target"),
                direction: text(r, "direction"),
                state: text(r, "state"),
                last_success: opt_text(r, "last_success"),
                pending: r.get("pending").and_then(Value::as_u64),
                last_error: opt_text(r, "last_error"),
            })
            .collect()
    }
}

/// A `GET` of JSON.
pub async fn get_value(token: &str, url: &str) -> Result<Value, ApiError> {
    parse(&call("GET", url, Some(token), None).await?)
}

/// A `POST` or `PATCH` of a JSON body; the answer is not needed (the page reloads its lists).
pub async fn send_json(token: &str, method: &str, url: &str, body: &Value) -> Result<(), ApiError> {
    call(method, url, Some(token), Some(&body.to_string()))
        .await
        .map(|_| ())
}

/// What was opened, for `POST /api/log/opening`.
#[derive(Clone, Debug, PartialEq)]
pub struct Opening {
    pub db: String,
    pub doc_id: String,
    pub person_code: Option<String>,
    pub attachment: Option<String>,
    pub key_id: String,
}

/// `POST /api/log/opening`: the custody log records the opening; `Ok(index)` once the entry is
/// durable (`201 {"index": N}`). The office shows nothing it opened before this answers, and
/// takes no other answer for a recorded opening.
pub async fn log_opening(token: &str, opening: &Opening) -> Result<u64, ApiError> {
    let mut body = serde_json::json!({
        "db": opening.db,
        "doc_id": opening.doc_id,
        "key_id": opening.key_id,
    });
    if let Some(p) = &opening.person_code {
        body["person_code"] = Value::String(p.clone());
    }
    if let Some(a) = &opening.attachment {
        body["attachment"] = Value::String(a.clone());
    }
    let (status, text) = chaski_client::api::fetch_text(
        "POST",
        "/api/log/opening",
        Some(token),
        Some(&body.to_string()),
    )
    .await
    .map_err(|_| ApiError::Network)?;
    if status != 201 {
        return Err(if (200..300).contains(&status) {
            ApiError::Server(format!(
                "The custody log answered {status}, not 201: the opening is not known to be recorded."
            ))
        } else {
            refusal(status, &text)
        });
    }
    parse(&text)?
        .get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::Server("The custody log's answer names no entry index.".into()))
}

/// An opening as the custody log holds it (an `identity_opened` entry).
#[derive(Clone, Debug, PartialEq)]
pub struct OpeningEntry {
    pub index: u64,
    pub at: String,
    pub user: String,
    /// The device's token id.
    pub device: String,
    /// The person's code, or the photo's attachment name, as the entry names it.
    pub what: String,
    /// `what` is a photo (an attachment).
    pub photo: bool,
}

impl OpeningEntry {
    /// An `identity_opened` entry of the custody log, `{"index": N, "entry": {...}}` as the log's
    /// API gives each row; `None` for any other kind of entry. The server writes the person's code
    /// as `person` and a photo's name as `attachment`, the device as its `token_id`.
    pub fn from_row(row: &Value) -> Option<OpeningEntry> {
        let e = row.get("entry")?;
        if e.get("kind").and_then(Value::as_str) != Some("identity_opened") {
            return None;
        }
        let attachment = opt_text(e, "attachment");
        Some(OpeningEntry {
            index: row.get("index").and_then(Value::as_u64)?,
            at: text(e, "at"),
            user: text(e, "user"),
            device: text(e, "token_id"),
            photo: attachment.is_some(),
            what: attachment.unwrap_or_else(|| text(e, "person")),
        })
    }
}

/// `GET /api/log/openings?db=D&id=ID`: the openings of document `id` in `db`, newest first,
/// from the custody log's index of openings (one request, whatever the log's length).
pub async fn openings(token: &str, db: &str, id: &str) -> Result<Vec<OpeningEntry>, ApiError> {
    let url = format!("/api/log/openings?db={}&id={}", encode(db), encode(id));
    let value = get_value(token, &url).await?;
    let rows = value
        .get("openings")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::Server("The custody log's answer lists no openings.".into()))?;
    rows.iter()
        .map(|row| {
            // The row itself is not repeated: it names a person's opener.
            OpeningEntry::from_row(row).ok_or_else(|| {
                let index = row.get("index").and_then(Value::as_u64);
                ApiError::Server(format!(
                    "The custody log listed an entry that is not an opening (index {index:?})."
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_worded_as_the_inspector_apps_call_words_it() {
        // chaski_client::api::call's table: no answer and the gateway errors the service
        // worker gives offline are "no network", not a server's refusal.
        for status in [0, 502, 503, 504] {
            assert_eq!(refusal(status, ""), ApiError::Network, "{status}");
        }
        assert_eq!(refusal(401, "{}"), ApiError::Unauthorized);
        assert_eq!(refusal(429, "{}"), ApiError::TooManyAttempts);
        assert_eq!(
            refusal(404, r#"{"error":"not_found","reason":"missing"}"#),
            ApiError::Server("missing".into())
        );
    }

    #[test]
    fn an_answer_that_is_not_json_is_an_error_in_words() {
        assert_eq!(
            parse(r#"{"keys":[]}"#).unwrap()["keys"],
            serde_json::json!([])
        );
        let ApiError::Server(why) = parse("<html>").unwrap_err() else {
            panic!("not a server error");
        };
        assert!(
            why.starts_with("The server's answer could not be read"),
            "{why}"
        );
    }

    #[test]
    fn an_opening_names_the_person_or_the_photo_and_other_entries_are_skipped() {
        let person = serde_json::json!({"index": 7, "entry": {
            "at": "2026-12-01T06:00:00Z", "db": "loreto", "id": "inspection:a",
            "key_id": "loreto-0123456789abcdef", "kind": "identity_opened", "person": "P-001",
            "token_id": "t1", "user": "sara"}});
        let o = OpeningEntry::from_row(&person).unwrap();
        assert_eq!((o.index, o.what.as_str(), o.photo), (7, "P-001", false));
        assert_eq!((o.user.as_str(), o.device.as_str()), ("sara", "t1"));
        let mut photo = person.clone();
        photo["entry"]["attachment"] = "personas-1.sealed".into();
        photo["entry"].as_object_mut().unwrap().remove("person");
        let o = OpeningEntry::from_row(&photo).unwrap();
        assert_eq!((o.what.as_str(), o.photo), ("personas-1.sealed", true));
        let mut other = person.clone();
        other["entry"]["kind"] = "revision".into();
        assert_eq!(OpeningEntry::from_row(&other), None);
    }
}
