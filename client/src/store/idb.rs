//! [`IdbStore`]: the shared [`Store`] over the browser's IndexedDB, so an inspector's records
//! survive reloads, crashes and days without a network.
//!
//! # Schema (version 1)
//! - `docs`: key = document id, value = `{seq, rec}` where `rec` is the [`DocRecord`] as JSON;
//!   the unique index `by_seq` on `seq` is the changes feed (seq → document).
//! - `attachments`: key = digest (`md5-…`), value = the bytes (`Uint8Array`). Content-addressed,
//!   so written once and shared by every revision that names them.
//! - `locals`: key = `_local/…` id, value = the local document's JSON text.
//! - `meta`: key = counter name (`update_seq`, `doc_count`, `doc_del_count`, `list_version`),
//!   value = number.
//! - `list` (version 2): key = document id, value = `{seq, doc}` where `doc` is the list entry of
//!   the document's winner as JSON ([`super::list`]: a slim copy of an inspection or case event);
//!   the unique index `by_seq` on `seq` gives the entries changed since a sequence. Written in the
//!   same transaction as the document, so it never disagrees with the documents; rebuilt from
//!   them when `meta.list_version` is not [`LIST_VERSION`] (a store from before the index, or of
//!   an older entry shape). Checked the first time a store's list is read, not at every open:
//!   the sync loop, other regions' stores and the sign-out count never read it, and a failed
//!   rebuild is logged and leaves the list as it was rather than failing anything.
//!
//! Every rule about revisions lives in [`DocRecord`], exactly as for `MemoryStore`; this module
//! only loads and saves records. A `bulk_docs` batch is one readwrite transaction over `docs`,
//! `attachments` and `meta` that reads, decides in Rust and writes without awaiting anything but
//! IndexedDB requests (a transaction commits by itself once the event loop finds it idle), and the
//! method returns only when the transaction's `complete` event says it is committed. Local edits
//! and local documents (replication checkpoints) ask for `durability: "strict"`, so `complete`
//! means on disk, not just in the OS's cache; a replicated batch (`new_edits=false`) is
//! `relaxed` (see `bulk_docs` for what that relies on, and what a crash can cost).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::list::{self, LIST_VERSION};
use chaski_shared::doc::validate_local_id;
use chaski_shared::record::DocRecord;
use chaski_shared::rev::DEFAULT_REV_LIMIT;
use chaski_shared::sort::sort_dedup;
use chaski_shared::store::{
    open_revs_answers, revs_diff_entry, Changes, ChangesOptions, DbInfo, DocResult, GetOptions,
    OpenRev, OpenRevs, RevsDiff, RevsDiffRequest,
};
use chaski_shared::{DocId, Document, Error, LocalDoc, Result, RevId, Store};
use futures::channel::oneshot;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    Event, IdbDatabase, IdbFactory, IdbIndexParameters, IdbKeyRange, IdbObjectStore, IdbRequest,
    IdbTransaction, IdbTransactionMode,
};

/// The schema version; bump it and add a step to [`upgrade`] when the layout changes.
const SCHEMA_VERSION: u32 = 2;

const DOCS: &str = "docs";
const BY_SEQ: &str = "by_seq";
const ATTACHMENTS: &str = "attachments";
const LOCALS: &str = "locals";
const META: &str = "meta";
const LIST: &str = "list";

const UPDATE_SEQ: &str = "update_seq";
const DOC_COUNT: &str = "doc_count";
const DOC_DEL_COUNT: &str = "doc_del_count";
const LIST_VERSION_KEY: &str = "list_version";

#[wasm_bindgen]
extern "C" {
    // `IDBDatabase.transaction(names, mode, {durability})`: web-sys only exposes the options
    // argument behind `web_sys_unstable_apis`. Browsers without durability hints ignore the field.
    /// An `IDBDatabase` seen through the three-argument `transaction`.
    type DurableDb;

    #[wasm_bindgen(method, catch, js_name = transaction)]
    fn transaction_with_options(
        this: &DurableDb,
        names: &Array,
        mode: &str,
        options: &JsValue,
    ) -> std::result::Result<IdbTransaction, JsValue>;
}

/// A [`Store`] in one IndexedDB database.
pub struct IdbStore {
    db: IdbDatabase,
    name: String,
    rev_limit: usize,
    /// Whether this connection has checked the list index's version (see [`Self::list_since`]).
    list_checked: Cell<bool>,
    /// Closes this connection when another one (a newer build in another tab) wants to upgrade
    /// the schema, instead of blocking it forever.
    _on_version_change: Closure<dyn FnMut(Event)>,
}

impl Drop for IdbStore {
    fn drop(&mut self) {
        self.db.set_onversionchange(None);
        self.db.close();
    }
}

impl IdbStore {
    /// Opens (creating or upgrading as needed) the database called `name`.
    pub async fn open(name: &str) -> Result<Self> {
        let factory = factory()?;
        let request = factory
            .open_with_u32(name, SCHEMA_VERSION)
            .map_err(js_error)?;
        let upgrade_request = request.clone();
        let on_upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(
            move |event: web_sys::IdbVersionChangeEvent| {
                // Schema changes must happen synchronously inside this event; an error aborts the
                // versionchange transaction and so fails the open below.
                if let Ok(result) = upgrade_request.result() {
                    if let Ok(db) = result.dyn_into::<IdbDatabase>() {
                        let _ = upgrade(&db, event.old_version() as u32);
                    }
                }
            },
        );
        request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let opened = Request::new(&request).await;
        request.set_onupgradeneeded(None);
        drop(on_upgrade);
        let db: IdbDatabase = opened?.dyn_into().map_err(js_error)?;
        let closing = db.clone();
        let on_version_change = Closure::<dyn FnMut(Event)>::new(move |_: Event| closing.close());
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        let store = IdbStore {
            db,
            name: name.to_owned(),
            rev_limit: DEFAULT_REV_LIMIT,
            list_checked: Cell::new(false),
            _on_version_change: on_version_change,
        };
        Ok(store)
    }

    /// Rebuilds the list index from the documents unless it is there in the current version.
    async fn ensure_list(&self) -> Result<()> {
        let tx = self.read(&[META])?;
        let version = read_counter(&store(&tx, META)?, LIST_VERSION_KEY).await?;
        if version == u64::from(LIST_VERSION) {
            return Ok(());
        }
        self.rebuild_list().await
    }

    /// Replaces the list index with one derived from every stored document, in one transaction.
    /// A record that does not parse is left out (and counted in the console): one damaged
    /// record must not cost the inspector the whole list.
    pub async fn rebuild_list(&self) -> Result<()> {
        let tx = self.write(&[DOCS, LIST, META])?;
        let built = async {
            let list_store = store(&tx, LIST)?;
            list_store.clear().map_err(js_error)?;
            let all = Array::from(&request(store(&tx, DOCS)?.get_all())?.await?);
            let mut unreadable = 0;
            for value in all.iter() {
                match parse_record(&value) {
                    Ok(Some(record)) => put_entry(&list_store, &record)?,
                    Ok(None) => {}
                    Err(_) => unreadable += 1,
                }
            }
            if unreadable > 0 {
                leptos::logging::warn!(
                    "{}: {unreadable} unreadable stored records left out of the list",
                    self.name
                );
            }
            write_counter(
                &store(&tx, META)?,
                LIST_VERSION_KEY,
                u64::from(LIST_VERSION),
            )
        };
        match built.await {
            Ok(()) => committed(&tx).await,
            Err(error) => {
                let _ = tx.abort();
                Err(error)
            }
        }
    }

    /// The list entries written after sequence `since`, in sequence order, with their sequence:
    /// one `getAll` on the index, no document read. The first call on a connection makes sure
    /// the index is of the current version (rebuilding it if not); if that fails, the failure
    /// is logged and the index is read as it is.
    pub async fn list_since(&self, since: u64) -> Result<Vec<(u64, Document)>> {
        if !self.list_checked.replace(true) {
            if let Err(e) = self.ensure_list().await {
                leptos::logging::warn!("{}: the list index was not rebuilt: {e}", self.name);
            }
        }
        let tx = self.read(&[LIST])?;
        let by_seq = store(&tx, LIST)?.index(BY_SEQ).map_err(js_error)?;
        let range = IdbKeyRange::lower_bound_with_open(&JsValue::from_f64(since as f64), true)
            .map_err(js_error)?;
        let all = Array::from(&request(by_seq.get_all_with_key(&range))?.await?);
        let seq_key = JsValue::from_str("seq");
        let doc_key = JsValue::from_str("doc");
        let mut out = Vec::with_capacity(all.length() as usize);
        let mut unreadable = 0;
        for value in all.iter() {
            // Every value the `by_seq` index returns has a numeric `seq` (its key path); one
            // without, or with an entry that does not parse, is left out and counted.
            let seq = Reflect::get(&value, &seq_key).ok().and_then(|s| s.as_f64());
            let entry = Reflect::get(&value, &doc_key)
                .ok()
                .and_then(|t| t.as_string())
                .and_then(|text| list::from_text(&text));
            match (seq, entry) {
                (Some(seq), Some(entry)) => out.push((seq as u64, entry)),
                _ => unreadable += 1,
            }
        }
        if unreadable > 0 {
            leptos::logging::warn!(
                "{}: {unreadable} unreadable list entries left out of the list",
                self.name
            );
        }
        Ok(out)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the database called `name` (sign-out, tests). Open connections of this app close
    /// themselves when asked (`versionchange`), so the deletion does not wait on them.
    pub async fn delete(name: &str) -> Result<()> {
        let request = factory()?.delete_database(name).map_err(js_error)?;
        Request::new(&request).await.map(|_| ())
    }

    /// Applies a batch inside `tx`: reads, decisions, writes; the caller commits or aborts.
    async fn apply_batch(
        &self,
        tx: &IdbTransaction,
        docs: Vec<Document>,
        new_edits: bool,
    ) -> Result<Vec<DocResult>> {
        let docs_store = store(tx, DOCS)?;
        let attachments = store(tx, ATTACHMENTS)?;
        let meta = store(tx, META)?;
        let list_store = store(tx, LIST)?;
        // Reads first, all in flight at once; then every decision in Rust; then the writes.
        // Only IndexedDB requests are awaited, so the transaction stays active throughout.
        let (update_seq, doc_count, del_count) = futures::future::try_join3(
            read_counter(&meta, UPDATE_SEQ),
            read_counter(&meta, DOC_COUNT),
            read_counter(&meta, DOC_DEL_COUNT),
        )
        .await?;
        let mut ids: Vec<DocId> = docs.iter().map(|d| d.id.clone()).collect();
        sort_dedup(&mut ids);
        let mut loads = Vec::with_capacity(ids.len());
        for id in ids {
            let req = request(docs_store.get(&JsValue::from_str(id.as_str())))?;
            loads.push(async move { req.await.map(|v| (id, v)) });
        }
        let mut records: HashMap<DocId, DocRecord> = HashMap::new();
        for loaded in futures::future::join_all(loads).await {
            let (id, value) = loaded?;
            if let Some(record) = parse_record(&value)? {
                records.insert(id, record);
            }
        }

        let (mut seq, mut live, mut deleted) = (update_seq, doc_count as i64, del_count as i64);
        let mut results = Vec::with_capacity(docs.len());
        for doc in docs {
            let id = doc.id.clone();
            let sent_rev = doc.rev.clone();
            let mut record = records
                .get(&id)
                .cloned()
                .unwrap_or_else(|| DocRecord::new(id.clone()));
            let before = record.winner().map(|w| w.deleted);
            match record.update(doc, new_edits, self.rev_limit) {
                Ok(update) => {
                    if update.changed {
                        seq += 1;
                        record.seq = seq;
                        for (digest, bytes) in &update.new_attachments {
                            let bytes = Uint8Array::from(bytes.as_slice());
                            attachments
                                .put_with_key(&bytes, &JsValue::from_str(digest))
                                .map_err(js_error)?;
                        }
                        docs_store
                            .put_with_key(&record_value(&record)?, &JsValue::from_str(id.as_str()))
                            .map_err(js_error)?;
                        put_entry(&list_store, &record)?;
                        match before {
                            Some(true) => deleted -= 1,
                            Some(false) => live -= 1,
                            None => {}
                        }
                        if record.is_deleted() {
                            deleted += 1;
                        } else {
                            live += 1;
                        }
                        records.insert(id.clone(), record);
                    }
                    results.push(DocResult::written(id.into_string(), update.rev));
                }
                Err(error) => results.push(DocResult::refused(id.into_string(), sent_rev, error)),
            }
        }
        if seq != update_seq {
            write_counter(&meta, UPDATE_SEQ, seq)?;
            write_counter(&meta, DOC_COUNT, live.max(0) as u64)?;
            write_counter(&meta, DOC_DEL_COUNT, deleted.max(0) as u64)?;
        }
        Ok(results)
    }

    fn read(&self, stores: &[&str]) -> Result<IdbTransaction> {
        self.db
            .transaction_with_str_sequence(&names(stores))
            .map_err(js_error)
    }

    fn write(&self, stores: &[&str]) -> Result<IdbTransaction> {
        self.write_with(stores, "strict")
    }

    /// A readwrite transaction with the durability hint `durability` (`strict`: `complete`
    /// means on disk; `relaxed`: in the OS's hands, flushed by the next strict commit).
    fn write_with(&self, stores: &[&str], durability: &str) -> Result<IdbTransaction> {
        let options = Object::new();
        Reflect::set(&options, &"durability".into(), &durability.into()).map_err(js_error)?;
        match self
            .db
            .unchecked_ref::<DurableDb>()
            .transaction_with_options(&names(stores), "readwrite", &options)
        {
            Ok(tx) => Ok(tx),
            // Older engines reject a third argument they do not know; plain readwrite then.
            Err(_) => self
                .db
                .transaction_with_str_sequence_and_mode(
                    &names(stores),
                    IdbTransactionMode::Readwrite,
                )
                .map_err(js_error),
        }
    }
}

/// Creates or migrates the object stores from `old_version` to [`SCHEMA_VERSION`].
fn upgrade(db: &IdbDatabase, old_version: u32) -> std::result::Result<(), JsValue> {
    if old_version < 1 {
        let docs = db.create_object_store(DOCS)?;
        let unique = IdbIndexParameters::new();
        unique.set_unique(true);
        docs.create_index_with_str_and_optional_parameters(BY_SEQ, "seq", &unique)?;
        db.create_object_store(ATTACHMENTS)?;
        db.create_object_store(LOCALS)?;
        db.create_object_store(META)?;
    }
    if old_version < 2 {
        // Filled by `ensure_list` when the list is first read (an upgrade cannot await reads).
        let list = db.create_object_store(LIST)?;
        let unique = IdbIndexParameters::new();
        unique.set_unique(true);
        list.create_index_with_str_and_optional_parameters(BY_SEQ, "seq", &unique)?;
    }
    Ok(())
}

/// Writes the list entry of `record` (at its sequence), if the list shows such documents.
fn put_entry(list_store: &IdbObjectStore, record: &DocRecord) -> Result<()> {
    let Some(entry) = list::entry_of_record(record) else {
        return Ok(());
    };
    let value = Object::new();
    Reflect::set(&value, &"seq".into(), &(record.seq as f64).into()).map_err(js_error)?;
    Reflect::set(&value, &"doc".into(), &list::to_text(&entry).into()).map_err(js_error)?;
    list_store
        .put_with_key(&value, &JsValue::from_str(record.id.as_str()))
        .map(|_| ())
        .map_err(js_error)
}

fn factory() -> Result<IdbFactory> {
    // Through the global object rather than `window`, so a worker could open the store too.
    Reflect::get(&js_sys::global(), &"indexedDB".into())
        .ok()
        .filter(|f| !f.is_undefined() && !f.is_null())
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(|| Error::Internal("IndexedDB is not available in this browser".into()))
}

/// The names of this origin's IndexedDB databases (`indexedDB.databases()`); empty where the
/// browser cannot list them.
pub(super) async fn database_names() -> Vec<String> {
    let Ok(factory) = factory() else {
        return Vec::new();
    };
    let listed = js_sys::Reflect::get(&factory, &"databases".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(&factory).ok())
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
    let Some(promise) = listed else {
        return Vec::new();
    };
    let Ok(list) = wasm_bindgen_futures::JsFuture::from(promise).await else {
        return Vec::new();
    };
    Array::from(&list)
        .iter()
        .filter_map(|info| {
            js_sys::Reflect::get(&info, &"name".into())
                .ok()?
                .as_string()
        })
        .collect()
}

fn names(stores: &[&str]) -> Array {
    stores.iter().map(|s| JsValue::from_str(s)).collect()
}

fn js_error(value: JsValue) -> Error {
    let text = if let Some(e) = value.dyn_ref::<web_sys::DomException>() {
        format!("{}: {}", e.name(), e.message())
    } else if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        String::from(e.message())
    } else {
        value.as_string().unwrap_or_else(|| format!("{value:?}"))
    };
    Error::Internal(format!("IndexedDB: {text}"))
}

fn store(tx: &IdbTransaction, name: &str) -> Result<IdbObjectStore> {
    tx.object_store(name).map_err(js_error)
}

/// Resolves when an `IDBRequest` succeeds or fails. The handlers are removed when it is dropped,
/// so a late event never calls a freed closure.
struct Request {
    request: IdbRequest,
    receiver: oneshot::Receiver<std::result::Result<JsValue, JsValue>>,
    _on_success: Closure<dyn FnMut(Event)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Request {
    fn new(request: &IdbRequest) -> Self {
        let (sender, receiver) = oneshot::channel();
        let sender = Rc::new(RefCell::new(Some(sender)));
        let (ok_sender, ok_request) = (sender.clone(), request.clone());
        let on_success = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            if let Some(s) = ok_sender.borrow_mut().take() {
                let _ = s.send(ok_request.result());
            }
        });
        let err_request = request.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            if let Some(s) = sender.borrow_mut().take() {
                let error = err_request
                    .error()
                    .ok()
                    .flatten()
                    .map(JsValue::from)
                    .unwrap_or_else(|| JsValue::from_str("request failed"));
                let _ = s.send(Err(error));
            }
        });
        request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
        request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Request {
            request: request.clone(),
            receiver,
            _on_success: on_success,
            _on_error: on_error,
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        self.request.set_onsuccess(None);
        self.request.set_onerror(None);
    }
}

impl Future for Request {
    type Output = Result<JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.receiver).poll(cx) {
            Poll::Ready(Ok(Ok(value))) => Poll::Ready(Ok(value)),
            Poll::Ready(Ok(Err(error))) => Poll::Ready(Err(js_error(error))),
            Poll::Ready(Err(_)) => {
                Poll::Ready(Err(Error::Internal("IndexedDB request was dropped".into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Resolves when a transaction commits; an error or abort is an `Err`.
async fn committed(tx: &IdbTransaction) -> Result<()> {
    let (sender, receiver) = oneshot::channel::<std::result::Result<(), String>>();
    let sender = Rc::new(RefCell::new(Some(sender)));
    let done = sender.clone();
    let on_complete = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
        if let Some(s) = done.borrow_mut().take() {
            let _ = s.send(Ok(()));
        }
    });
    let failed_tx = tx.clone();
    let on_fail = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
        if let Some(s) = sender.borrow_mut().take() {
            let why = failed_tx
                .error()
                .map(|e| format!("{}: {}", e.name(), e.message()))
                .unwrap_or_else(|| "transaction aborted".into());
            let _ = s.send(Err(why));
        }
    });
    tx.set_oncomplete(Some(on_complete.as_ref().unchecked_ref()));
    tx.set_onerror(Some(on_fail.as_ref().unchecked_ref()));
    tx.set_onabort(Some(on_fail.as_ref().unchecked_ref()));
    let outcome = receiver.await;
    tx.set_oncomplete(None);
    tx.set_onerror(None);
    tx.set_onabort(None);
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(Error::Internal(format!("IndexedDB: {why}"))),
        Err(_) => Err(Error::Internal("IndexedDB transaction was dropped".into())),
    }
}

fn request(result: std::result::Result<IdbRequest, JsValue>) -> Result<Request> {
    result.map(|r| Request::new(&r)).map_err(js_error)
}

/// Reads a stored record; `None` when absent.
async fn load_record(docs: &IdbObjectStore, id: &str) -> Result<Option<DocRecord>> {
    let value = request(docs.get(&JsValue::from_str(id)))?.await?;
    parse_record(&value)
}

fn parse_record(value: &JsValue) -> Result<Option<DocRecord>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let text = Reflect::get(value, &"rec".into())
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| Error::Internal("IndexedDB: a stored record has no text".into()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Internal(format!("IndexedDB: unreadable stored record: {e}")))
}

fn record_value(record: &DocRecord) -> Result<JsValue> {
    let text = serde_json::to_string(record)
        .map_err(|e| Error::Internal(format!("cannot serialize a record: {e}")))?;
    let value = Object::new();
    Reflect::set(&value, &"seq".into(), &(record.seq as f64).into()).map_err(js_error)?;
    Reflect::set(&value, &"rec".into(), &text.into()).map_err(js_error)?;
    Ok(value.into())
}

/// Loads the bytes of `digests` (deduplicated) from the attachments store.
async fn load_attachments(
    attachments: &IdbObjectStore,
    digests: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Vec<u8>>> {
    let mut digests: Vec<String> = digests.into_iter().collect();
    sort_dedup(&mut digests);
    let mut pending = Vec::with_capacity(digests.len());
    for digest in digests {
        let req = request(attachments.get(&JsValue::from_str(&digest)))?;
        pending.push(async move { req.await.map(|v| (digest, v)) });
    }
    let mut out = HashMap::new();
    for found in futures::future::join_all(pending).await {
        let (digest, value) = found?;
        if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
            out.insert(digest, bytes.to_vec());
        }
    }
    Ok(out)
}

async fn read_counter(meta: &IdbObjectStore, key: &str) -> Result<u64> {
    let value = request(meta.get(&JsValue::from_str(key)))?.await?;
    Ok(value.as_f64().map(|n| n.max(0.0) as u64).unwrap_or(0))
}

fn write_counter(meta: &IdbObjectStore, key: &str, value: u64) -> Result<()> {
    meta.put_with_key(&JsValue::from_f64(value as f64), &JsValue::from_str(key))
        .map(|_| ())
        .map_err(js_error)
}

/// Builds `rev` of `record` shaped by `opts`, with attachment bytes from `data`.
fn open_rev(
    record: &DocRecord,
    rev: &RevId,
    opts: &GetOptions,
    data: &HashMap<String, Vec<u8>>,
) -> Result<Document> {
    let opts = GetOptions {
        rev: Some(rev.clone()),
        ..opts.clone()
    };
    record.document(&opts, |d| data.get(d).cloned())
}

impl Store for IdbStore {
    async fn info(&self) -> Result<DbInfo> {
        let tx = self.read(&[META])?;
        let meta = store(&tx, META)?;
        Ok(DbInfo {
            update_seq: read_counter(&meta, UPDATE_SEQ).await?,
            doc_count: read_counter(&meta, DOC_COUNT).await?,
            doc_del_count: read_counter(&meta, DOC_DEL_COUNT).await?,
            // "0" (one value for every creation): the browser's database is only deleted when
            // its sync session ends, so no replication runs into a re-created one. Storing a
            // value in `meta` at creation would tell creations apart if that ever changes.
            instance_start_time: "0".into(),
        })
    }

    async fn get(&self, id: &DocId, opts: &GetOptions) -> Result<Document> {
        let tx = self.read(&[DOCS, ATTACHMENTS])?;
        let record = load_record(&store(&tx, DOCS)?, id.as_str())
            .await?
            .ok_or_else(Error::missing)?;
        let data = if opts.attachments {
            let digests = record.attachment_digests(opts.rev.as_ref());
            load_attachments(&store(&tx, ATTACHMENTS)?, digests).await?
        } else {
            HashMap::new()
        };
        record.document(opts, |d| data.get(d).cloned())
    }

    async fn open_revs(
        &self,
        id: &DocId,
        revs: &OpenRevs,
        opts: &GetOptions,
    ) -> Result<Vec<OpenRev>> {
        let tx = self.read(&[DOCS, ATTACHMENTS])?;
        let record = load_record(&store(&tx, DOCS)?, id.as_str()).await?;
        // First decide which revisions answer (as MemoryStore does), then load their bytes.
        let answers = open_revs_answers(record.as_ref().map(|r| &r.tree), revs, opts.latest)?;
        let data = match (&record, opts.attachments) {
            (Some(record), true) => {
                let digests = answers
                    .iter()
                    .filter_map(|a| a.as_ref().ok())
                    .flat_map(|rev| record.attachment_digests(Some(rev)));
                load_attachments(&store(&tx, ATTACHMENTS)?, digests.collect::<Vec<_>>()).await?
            }
            _ => HashMap::new(),
        };
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            match answer {
                Err(rev) => out.push(OpenRev::Missing(rev)),
                Ok(rev) => {
                    let record = record.as_ref().ok_or_else(Error::missing)?;
                    out.push(OpenRev::Ok(open_rev(record, &rev, opts, &data)?));
                }
            }
        }
        Ok(out)
    }

    async fn bulk_docs(&self, docs: Vec<Document>, new_edits: bool) -> Result<Vec<DocResult>> {
        // The inspector's own edits (`new_edits`) are on disk before the app says "saved". What
        // a replication copies (`new_edits=false`) can be copied again, so it is `relaxed`: a
        // pull costs no disk flush per batch. The specification does not promise that a later
        // strict commit flushes earlier relaxed ones. What the code relies on is how browsers
        // store IndexedDB: Chromium appends every commit to one log (LevelDB's, or SQLite's
        // write-ahead log) in commit order, and a strict commit syncs that log, earlier relaxed
        // commits included. The checkpoint that moves past a batch is a strict commit made
        // after the batch's `complete`, so a crash that loses the batch loses the checkpoint
        // too, and the next run copies the batch again. An engine that reordered flushes could
        // keep the checkpoint and lose the batch; its documents would then come back only with
        // their next change on the server.
        let durability = if new_edits { "strict" } else { "relaxed" };
        let tx = self.write_with(&[DOCS, ATTACHMENTS, META, LIST], durability)?;
        match self.apply_batch(&tx, docs, new_edits).await {
            Ok(results) => {
                committed(&tx).await?;
                Ok(results)
            }
            Err(error) => {
                // Writes already queued must not commit half a batch.
                let _ = tx.abort();
                Err(error)
            }
        }
    }

    async fn changes(&self, opts: &ChangesOptions) -> Result<Changes> {
        let tx = self.read(&[DOCS, META])?;
        let docs = store(&tx, DOCS)?;
        let by_seq = docs.index(BY_SEQ).map_err(js_error)?;
        let range = IdbKeyRange::lower_bound_with_open(&JsValue::from_f64(opts.since as f64), true)
            .map_err(js_error)?;
        let update_seq = read_counter(&store(&tx, META)?, UPDATE_SEQ).await?;
        let limit = opts.limit.unwrap_or(usize::MAX);
        // Without a doc_ids filter the index can page by itself; with one, every later change
        // must be looked at anyway.
        let (values, total) = match (&opts.doc_ids, opts.limit) {
            (None, Some(n)) => {
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                let page = request(by_seq.get_all_with_key_and_limit(&range, n))?;
                let count = request(by_seq.count_with_key(&range))?;
                let (page, count) = futures::future::try_join(page, count).await?;
                (Array::from(&page), count.as_f64().unwrap_or(0.0) as u64)
            }
            _ => {
                let all = Array::from(&request(by_seq.get_all_with_key(&range))?.await?);
                let len = u64::from(all.length());
                (all, len)
            }
        };
        let mut results = Vec::new();
        let mut pending = 0u64;
        let mut seen = 0u64;
        for value in values.iter() {
            let Some(record) = parse_record(&value)? else {
                continue;
            };
            if let Some(ids) = &opts.doc_ids {
                if !ids.contains(record.id.as_str()) {
                    continue;
                }
            }
            seen += 1;
            if results.len() >= limit {
                pending += 1;
                continue;
            }
            let mut row = record.change(opts.style);
            if let Some(get) = opts.doc_options(row.revs.first().cloned()) {
                row.doc = Some(record.document(&get, |_| None)?);
            }
            results.push(row);
        }
        if opts.doc_ids.is_none() {
            pending = total.saturating_sub(seen);
        }
        let last_seq = match results.last() {
            Some(row) if pending > 0 => row.seq,
            _ => update_seq,
        };
        Ok(Changes {
            results,
            last_seq,
            pending,
        })
    }

    async fn revs_diff(&self, revs: &RevsDiffRequest) -> Result<RevsDiff> {
        let tx = self.read(&[DOCS])?;
        let docs = store(&tx, DOCS)?;
        let mut loads = Vec::with_capacity(revs.len());
        for (id, wanted) in revs {
            // An id that is not a valid document id cannot be stored: all of it is missing.
            let req = match DocId::parse(id.as_str()) {
                Ok(doc_id) => Some(request(docs.get(&JsValue::from_str(doc_id.as_str())))?),
                Err(_) => None,
            };
            loads.push(async move {
                let record = match req {
                    Some(req) => parse_record(&req.await?)?,
                    None => None,
                };
                Ok::<_, Error>((id, wanted, record))
            });
        }
        let mut out = RevsDiff::new();
        for loaded in futures::future::join_all(loads).await {
            let (id, wanted, record) = loaded?;
            if let Some(entry) = revs_diff_entry(record.as_ref().map(|r| &r.tree), wanted) {
                out.insert(id.clone(), entry);
            }
        }
        Ok(out)
    }

    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        validate_local_id(id)?;
        let tx = self.read(&[LOCALS])?;
        let value = request(store(&tx, LOCALS)?.get(&JsValue::from_str(id)))?.await?;
        parse_local(&value)
    }

    async fn put_local(&self, mut doc: LocalDoc) -> Result<String> {
        validate_local_id(&doc.id)?;
        let tx = self.write(&[LOCALS])?;
        let locals = store(&tx, LOCALS)?;
        let key = JsValue::from_str(&doc.id);
        let current = parse_local(&request(locals.get(&key))?.await?)?.and_then(|d| d.rev);
        if doc.rev != current {
            return Err(Error::conflict());
        }
        let rev = LocalDoc::next_rev(current.as_deref());
        doc.rev = Some(rev.clone());
        let text = doc.to_json().to_string();
        locals
            .put_with_key(&JsValue::from_str(&text), &key)
            .map_err(js_error)?;
        committed(&tx).await?;
        Ok(rev)
    }

    async fn delete_local(&self, id: &str, rev: Option<&str>) -> Result<()> {
        validate_local_id(id)?;
        let tx = self.write(&[LOCALS])?;
        let locals = store(&tx, LOCALS)?;
        let key = JsValue::from_str(id);
        let current =
            parse_local(&request(locals.get(&key))?.await?)?.ok_or_else(Error::missing)?;
        if current.rev.as_deref() != rev {
            return Err(Error::conflict());
        }
        locals.delete(&key).map_err(js_error)?;
        committed(&tx).await
    }
}

fn parse_local(value: &JsValue) -> Result<Option<LocalDoc>> {
    let Some(text) = value.as_string() else {
        return Ok(None);
    };
    let json = serde_json::from_str(&text)
        .map_err(|e| Error::Internal(format!("IndexedDB: unreadable local document: {e}")))?;
    LocalDoc::from_json(json).map(Some)
}
