//! The built PWA (Trunk's `dist`), served from the static folder.
//!
//! Why not `tower_http::services::ServeDir`: the app's first load crosses 3G or satellite
//! links, so every byte counts. Each file is compressed once, at the highest brotli and gzip
//! levels (far too slow to do per request), and kept in memory until the file changes on
//! disk. The caching rules matter as much: Trunk's content-hashed files never change and are
//! cached for a year; `index.html`, the service worker and client routes are never cached, so
//! a new build reaches tablets on their next online load.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::startup::AppState;

/// `Cache-Control` for files whose name carries a hash of their content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for the entry points that must always come fresh from the server.
pub const NEVER: &str = "no-store";
/// `Cache-Control` for other files (manifest, icons): cache, but revalidate every time.
pub const REVALIDATE: &str = "no-cache";

/// The static folder and the compressed copies of what was served from it.
pub struct Assets {
    dir: PathBuf,
    cache: Mutex<HashMap<PathBuf, Arc<Asset>>>,
}

/// One file as read from disk, with its compressed forms made on first demand.
struct Asset {
    modified: Option<SystemTime>,
    len: u64,
    content_type: &'static str,
    etag: HeaderValue,
    /// The Content-Security-Policy this file is served with (see [`content_security_policy`]).
    csp: HeaderValue,
    raw: Bytes,
    gzip: OnceLock<Option<Bytes>>,
    brotli: OnceLock<Option<Bytes>>,
    /// Set once a background brotli compression has been started (see [`encoded`]).
    brotli_started: AtomicBool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Assets {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The file at `relative`, from memory when it has not changed on disk since it was read.
    /// `None` when there is no such file.
    async fn load(&self, relative: &Path) -> Result<Option<Arc<Asset>>, ApiError> {
        let path = self.dir.join(relative);
        let meta = match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(impossible_path(relative, &err)
                    .unwrap_or_else(|| ApiError::Internal(format!("{}: {err}", path.display()))))
            }
        };
        let modified = meta.modified().ok();
        if let Some(hit) = self.cached(relative) {
            if hit.modified == modified && hit.len == meta.len() {
                return Ok(Some(hit));
            }
        }
        let raw = match tokio::fs::read(&path).await {
            Ok(raw) => Bytes::from(raw),
            // Deleted between the two calls (a deploy in progress): same as never there.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(impossible_path(relative, &err)
                    .unwrap_or_else(|| ApiError::Internal(format!("{}: {err}", path.display()))))
            }
        };
        let asset = Arc::new(Asset {
            modified,
            len: meta.len(),
            content_type: content_type(relative),
            etag: etag(&raw),
            csp: content_security_policy(&raw, content_type(relative)),
            raw,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            brotli_started: AtomicBool::new(false),
        });
        // A poisoned lock only means another request panicked mid-insert; the map is still
        // a valid cache.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(relative.to_path_buf(), Arc::clone(&asset));
        Ok(Some(asset))
    }

    fn cached(&self, relative: &Path) -> Option<Arc<Asset>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(relative)
            .cloned()
    }
}

/// A failed lookup that only says the URL can name no file: a path under a file
/// (`/app.js/x`: "Not a directory"), a name or path too long for the file system, a folder
/// where a file was expected. A 404, and not the app's shell either: no client route looks
/// like that. Anything else (permissions, I/O) is the server's fault and stays a 500.
fn impossible_path(path: &Path, err: &std::io::Error) -> Option<ApiError> {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::InvalidFilename
            | ErrorKind::InvalidInput
    )
    .then(|| {
        ApiError::NotFound(format!(
            "There is no file {} in this build of the app.",
            path.display()
        ))
    })
}

/// The fallback handler: every path that no API route claimed.
pub async fn serve(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = (
            StatusCode::METHOD_NOT_ALLOWED,
            axum::Json(serde_json::json!({
                "error": "method_not_allowed",
                "reason": format!("{} only answers GET and HEAD.", uri.path()),
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match respond(&state.assets, &method, &headers, uri.path()).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn respond(
    assets: &Assets,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
) -> Result<Response, ApiError> {
    let relative = relative_path(path)?;
    let (asset, policy) = match assets.load(&relative).await? {
        Some(asset) => (asset, cache_policy(&relative)),
        // A client route (`/settings`, `/inspections/…`): the app's index.html handles it;
        // under `/office/` the office app's own. A missing *file* (it has an extension) is a
        // real 404: answering HTML for a missing script would poison the service worker's
        // cache.
        None if !has_extension(&relative) => {
            let shell = spa_shell(&relative);
            let index = assets.load(shell).await?.ok_or_else(|| {
                ApiError::NotFound(format!(
                    "The app is not built on this server (no {} in the static folder). Build \
                     it with the README's run command.",
                    shell.display()
                ))
            })?;
            (index, NEVER)
        }
        None => {
            return Err(ApiError::NotFound(format!(
                "There is no file {path} in this build of the app."
            )))
        }
    };

    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response_headers.insert(header::ETAG, asset.etag.clone());
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response_headers.insert(header::CONTENT_SECURITY_POLICY, asset.csp.clone());
    if is_compressible(asset.content_type) {
        response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if etag_matches(headers, &asset.etag) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }

    let (encoding, body) = encoded(&asset, &accepted_encodings(headers)).await;
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    match encoding {
        Encoding::Identity => {}
        Encoding::Gzip => {
            response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Encoding::Brotli => {
            response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        }
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    };
    Ok((StatusCode::OK, response_headers, body).into_response())
}

/// The asset's bytes in the best encoding the client accepts that is ready and saves bytes.
///
/// Brotli at its best level takes seconds on a large wasm module (12 s in a debug build for
/// 1.5 MB): no tablet may wait for it. The first request after a deploy starts it in the
/// background and gets gzip (a fraction of a second) meanwhile; later requests get brotli.
async fn encoded(asset: &Arc<Asset>, accepted: &[Encoding]) -> (Encoding, Bytes) {
    if !is_compressible(asset.content_type) {
        return (Encoding::Identity, asset.raw.clone());
    }
    for &wanted in accepted {
        let compressed = match wanted {
            Encoding::Brotli => match asset.brotli.get() {
                Some(done) => done.clone(),
                None => {
                    if !asset.brotli_started.swap(true, Ordering::SeqCst) {
                        let shared = Arc::clone(asset);
                        tokio::task::spawn_blocking(move || {
                            let made = compress(&shared.raw, Encoding::Brotli);
                            let _ = shared.brotli.set(made);
                        });
                    }
                    continue;
                }
            },
            Encoding::Gzip => match asset.gzip.get() {
                Some(done) => done.clone(),
                None => {
                    // Off the async workers; two first requests may both compress, to the
                    // same bytes.
                    let shared = Arc::clone(asset);
                    let made =
                        tokio::task::spawn_blocking(move || compress(&shared.raw, Encoding::Gzip))
                            .await
                            .ok()
                            .flatten();
                    asset.gzip.get_or_init(|| made).clone()
                }
            },
            Encoding::Identity => break,
        };
        if let Some(bytes) = compressed.filter(|b| b.len() < asset.raw.len()) {
            return (wanted, bytes);
        }
    }
    (Encoding::Identity, asset.raw.clone())
}

fn compress(raw: &[u8], encoding: Encoding) -> Option<Bytes> {
    let mut out = Vec::with_capacity(raw.len() / 3);
    match encoding {
        Encoding::Brotli => {
            let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
            writer.write_all(raw).ok()?;
            writer.flush().ok()?;
        }
        Encoding::Gzip => {
            let mut writer = flate2::write::GzEncoder::new(&mut out, flate2::Compression::best());
            writer.write_all(raw).ok()?;
            writer.finish().ok()?;
        }
        Encoding::Identity => return Some(Bytes::copy_from_slice(raw)),
    }
    Some(Bytes::from(out))
}

/// Turns a URL path into a path under the static folder, refusing anything that could
/// escape it. `/` and folder paths mean their `index.html`.
fn relative_path(path: &str) -> Result<PathBuf, ApiError> {
    let decoded = percent_decode(path).ok_or_else(|| {
        ApiError::BadRequest(format!("The path {path} is not valid UTF-8 URL encoding."))
    })?;
    let mut relative = PathBuf::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." || segment.contains(['\\', '\0']) {
            return Err(ApiError::BadRequest(format!(
                "The path {path} is not allowed."
            )));
        }
        relative.push(segment);
    }
    if decoded.ends_with('/') || relative.as_os_str().is_empty() {
        relative.push("index.html");
    }
    Ok(relative)
}

fn percent_decode(path: &str) -> Option<String> {
    if !path.contains('%') {
        return Some(path.to_owned());
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The folder of the office workspace's own app (a second Trunk build, `dist/office/`), so
/// that inspectors never download its code.
pub const OFFICE_DIR: &str = "office";

/// The page that handles a client route: the office app's `office/index.html` for routes
/// under `/office` (its router reads the rest of the path), the inspector app's `index.html`
/// for every other.
fn spa_shell(relative: &Path) -> &'static Path {
    if relative.components().next() == Some(std::path::Component::Normal(OFFICE_DIR.as_ref())) {
        Path::new("office/index.html")
    } else {
        Path::new("index.html")
    }
}

fn has_extension(relative: &Path) -> bool {
    relative.extension().is_some()
}

/// How long browsers may keep a file (see the module documentation).
fn cache_policy(relative: &Path) -> &'static str {
    let name = relative
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name == "index.html" || name == "sw.js" {
        NEVER
    } else if is_content_hashed(name) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// Trunk names build outputs `<stem>-<hex hash>.<ext>` (and `<stem>-<hash>_bg.wasm`).
fn is_content_hashed(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((_, hash)) => {
            (12..=64).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

fn content_type(relative: &Path) -> &'static str {
    match relative
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => mime_guess::from_path(relative)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

fn is_compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/wasm" | "application/manifest+json" | "application/json" | "image/svg+xml"
        )
}

/// The policy every file of the app is served with; an HTML page adds the hashes of its own
/// inline scripts to `script-src`.
///
/// Scripts come only from the app's origin, or are one of the page's own inline scripts as
/// built (Trunk writes one that loads the wasm module, and `index.html` one that registers the
/// service worker; their hashes change with every build, so they are read from the file
/// served, not written down here). `'wasm-unsafe-eval'` lets the page compile its wasm module,
/// and nothing else: no `eval`, no inline event handlers, no script from elsewhere, even if
/// some text a user wrote ever reached the page as HTML. Photos are shown from `data:` URLs.
/// The app is never framed, and talks to its own server only.
pub const BASE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

fn content_security_policy(raw: &[u8], content_type: &str) -> HeaderValue {
    let hashes = if content_type.starts_with("text/html") {
        inline_script_hashes(raw)
    } else {
        Vec::new()
    };
    let policy = if hashes.is_empty() {
        BASE_CSP.to_owned()
    } else {
        let sources: String = hashes.iter().map(|h| format!(" '{h}'")).collect();
        BASE_CSP.replacen(
            "'wasm-unsafe-eval';",
            &format!("'wasm-unsafe-eval'{sources};"),
            1,
        )
    };
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static(BASE_CSP))
}

/// `sha256-<base64>` of the text of each inline `<script>` (one without `src`) of a page, as
/// CSP hashes them: the exact bytes between the opening tag and `</script`.
fn inline_script_hashes(html: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};

    let lower = html.to_ascii_lowercase();
    let mut hashes = Vec::new();
    let mut at = 0;
    while let Some(start) = find(&lower[at..], b"<script").map(|i| at + i) {
        let Some(tag_end) = find(&lower[start..], b">").map(|i| start + i) else {
            break;
        };
        let tag = &lower[start..tag_end];
        let Some(close) = find(&lower[tag_end..], b"</script").map(|i| tag_end + i) else {
            break;
        };
        // An attribute ` src=` (not `data-src=`) makes it an external script.
        let external = tag
            .windows(5)
            .any(|w| w[0].is_ascii_whitespace() && &w[1..] == b"src=");
        if !external {
            // Browsers hash the text as parsed, and parsing turns CRLF and CR into LF.
            let text = html[tag_end + 1..close]
                .iter()
                .enumerate()
                .filter(|&(i, &b)| !(b == b'\r' && html.get(tag_end + 2 + i) == Some(&b'\n')))
                .map(|(_, &b)| if b == b'\r' { b'\n' } else { b })
                .collect::<Vec<u8>>();
            hashes.push(format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&text))
            ));
        }
        at = close + b"</script".len();
    }
    hashes
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A strong validator from the content itself, so that it survives server restarts and is
/// the same on every server holding the same build.
fn etag(raw: &[u8]) -> HeaderValue {
    // FNV-1a: tiny, stable across Rust versions (unlike `DefaultHasher`), enough to tell
    // builds apart when combined with the length.
    let hash = raw.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    HeaderValue::from_str(&format!("\"{:x}-{hash:016x}\"", raw.len()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn etag_matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

/// The encodings the client takes, best first (brotli, then gzip); `q=0` refuses one.
fn accepted_encodings(headers: &HeaderMap) -> Vec<Encoding> {
    let Some(accept) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    let accepts = |name: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
        })
    };
    [(Encoding::Brotli, "br"), (Encoding::Gzip, "gzip")]
        .into_iter()
        .filter(|(_, name)| accepts(name))
        .map(|(encoding, _)| encoding)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_output_names_count_as_content_hashed() {
        assert!(is_content_hashed("chaski-client-6c1f0d8e2a4b9f10_bg.wasm"));
        assert!(is_content_hashed("chaski-client-6c1f0d8e2a4b9f10.js"));
        assert!(is_content_hashed("style-0123456789abcdef.css"));
        assert!(!is_content_hashed("manifest.webmanifest"));
        assert!(!is_content_hashed("icon-192.png"));
        assert!(!is_content_hashed("sw.js"));
    }

    #[test]
    fn paths_that_climb_out_of_the_static_folder_are_refused() {
        assert!(relative_path("/../etc/passwd").is_err());
        assert!(relative_path("/a/%2e%2e/%2e%2e/secret").is_err());
        assert!(relative_path("/bad%zz").is_err());
        assert_eq!(relative_path("/").ok(), Some(PathBuf::from("index.html")));
        assert_eq!(
            relative_path("/icons/a.png").ok(),
            Some(PathBuf::from("icons/a.png"))
        );
    }

    #[test]
    fn a_page_s_policy_allows_its_own_inline_scripts_and_nothing_else_inline() {
        use base64::Engine as _;
        use sha2::{Digest, Sha256};
        // Shaped like Trunk's output: a module script that loads the wasm, an external one.
        let page = "<html><head><SCRIPT type=\"module\">import init from '/a.js';\nawait init();</SCRIPT>\
                    <script src=\"/x.js\"></script><script>\n  navigator.serviceWorker;\n</script></head></html>";
        let hash = |text: &str| {
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text))
            )
        };
        let csp = content_security_policy(page.as_bytes(), "text/html; charset=utf-8");
        let csp = csp.to_str().unwrap();
        assert!(
            csp.contains(&hash("import init from '/a.js';\nawait init();")),
            "{csp}"
        );
        assert!(
            csp.contains(&hash("\n  navigator.serviceWorker;\n")),
            "{csp}"
        );
        assert!(
            !csp.contains(&hash("")),
            "the external script is not hashed: {csp}"
        );
        assert!(csp.contains("'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"));
        let crlf = content_security_policy(b"<script>a\r\nb\rc</script>", "text/html");
        assert!(
            crlf.to_str().unwrap().contains(&hash("a\nb\nc")),
            "{crlf:?}"
        );
        let js = content_security_policy(b"<script>x</script>", "text/javascript");
        assert_eq!(js.to_str().unwrap(), BASE_CSP);
    }

    #[test]
    fn client_routes_under_office_use_the_office_app_s_page() {
        let shell = |p: &str| spa_shell(&relative_path(p).unwrap()).to_path_buf();
        assert_eq!(shell("/office"), PathBuf::from("office/index.html"));
        assert_eq!(shell("/office/case/x"), PathBuf::from("office/index.html"));
        assert_eq!(shell("/officer"), PathBuf::from("index.html"));
        assert_eq!(shell("/settings"), PathBuf::from("index.html"));
        assert_eq!(shell("/a/office"), PathBuf::from("index.html"));
    }

    #[test]
    fn refused_encodings_are_not_chosen() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br;q=0"),
        );
        assert_eq!(accepted_encodings(&headers), vec![Encoding::Gzip]);
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br, zstd"),
        );
        assert_eq!(
            accepted_encodings(&headers),
            vec![Encoding::Brotli, Encoding::Gzip]
        );
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert_eq!(accepted_encodings(&headers), vec![]);
    }
}
