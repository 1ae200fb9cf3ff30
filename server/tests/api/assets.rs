use std::io::Read;

use chaski_server::routes::assets::{IMMUTABLE, NEVER, REVALIDATE};

use crate::helpers::{fake_js, fake_wasm, spawn_app, HASHED_JS, HASHED_WASM, INDEX_HTML};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn files_are_served_with_the_content_types_browsers_require() {
    let app = spawn_app().await;
    let cases = [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        (&format!("/{HASHED_WASM}") as &str, "application/wasm"),
        (&format!("/{HASHED_JS}"), "text/javascript; charset=utf-8"),
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/sw.js", "text/javascript; charset=utf-8"),
        ("/icons/icon-192.png", "image/png"),
    ];
    for (path, expected) in cases {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), expected, "{path}");
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
    }
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_entry_points_are_never_cached() {
    let app = spawn_app().await;
    let cases = [
        (format!("/{HASHED_WASM}"), IMMUTABLE),
        (format!("/{HASHED_JS}"), IMMUTABLE),
        ("/".to_owned(), NEVER),
        ("/index.html".to_owned(), NEVER),
        ("/sw.js".to_owned(), NEVER),
        ("/settings".to_owned(), NEVER),
        ("/manifest.webmanifest".to_owned(), REVALIDATE),
        ("/icons/icon-192.png".to_owned(), REVALIDATE),
    ];
    for (path, expected) in cases {
        let response = app.get(&path).await;
        assert_eq!(header(&response, "cache-control"), expected, "{path}");
    }
    assert!(IMMUTABLE.contains("immutable") && IMMUTABLE.contains("max-age=31536000"));
    assert_eq!(NEVER, "no-store");
}

#[tokio::test]
async fn text_and_wasm_are_compressed_with_brotli_or_gzip_as_the_client_accepts() {
    let app = spawn_app().await;
    let path = format!("/{HASHED_JS}");
    let original = fake_js().into_bytes();

    // The first request gets gzip while brotli is made in the background (it takes seconds on
    // a real wasm module); a later one gets brotli.
    let first = app
        .client
        .get(app.url(&path))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&first, "content-encoding"), "gzip");
    let br = brotli_when_ready(&app, &path, "gzip, deflate, br").await;
    assert_eq!(header(&br, "vary"), "accept-encoding");
    let compressed = br.bytes().await.unwrap();
    assert!(
        compressed.len() < original.len() / 10,
        "brotli body is {} bytes",
        compressed.len()
    );
    let mut decoded = Vec::new();
    brotli::Decompressor::new(&compressed[..], 4096)
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, original);

    let gz = app
        .client
        .get(app.url(&path))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&gz, "content-encoding"), "gzip");
    let compressed = gz.bytes().await.unwrap();
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, original);

    // A client that takes only brotli gets the plain file until brotli is ready.
    let wasm_path = format!("/{HASHED_WASM}");
    let plain_wasm = app
        .client
        .get(app.url(&wasm_path))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(plain_wasm.bytes().await.unwrap(), fake_wasm());
    brotli_when_ready(&app, &wasm_path, "br").await;

    let plain = app.get(&path).await;
    assert_eq!(header(&plain, "content-encoding"), "");
    assert_eq!(plain.bytes().await.unwrap(), original);

    let png = app
        .client
        .get(app.url("/icons/icon-192.png"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&png, "content-encoding"),
        "",
        "images are already compressed"
    );
}

/// Asks until the answer comes in brotli (made in the background after the first request).
async fn brotli_when_ready(
    app: &crate::helpers::TestApp,
    path: &str,
    accept: &str,
) -> reqwest::Response {
    for _ in 0..200 {
        let response = app
            .client
            .get(app.url(path))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        if header(&response, "content-encoding") == "br" {
            return response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{path} never came in brotli");
}

#[tokio::test]
async fn api_answers_are_compressed_too() {
    let app = spawn_app().await;
    // Too small to be worth compressing: must come back plain and intact.
    let response = app
        .client
        .get(app.url("/api/health"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let encoding = header(&response, "content-encoding");
    let body = response.bytes().await.unwrap();
    let text = if encoding == "gzip" {
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut decoded)
            .unwrap();
        decoded
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    };
    assert!(text.contains("\"writable\":true"), "{text}");
}

#[tokio::test]
async fn client_routes_fall_back_to_index_html() {
    let app = spawn_app().await;
    for path in [
        "/settings",
        "/inspections/abc-123",
        "/inspections/abc-123/edit",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(response.text().await.unwrap(), INDEX_HTML, "{path}");
    }
}

#[tokio::test]
async fn a_missing_file_is_a_404_not_the_app_page() {
    let app = spawn_app().await;
    for path in [
        "/chaski-client-ffffffffffffffff.js",
        "/missing.wasm",
        "/icons/nope.png",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
    }
}

#[tokio::test]
async fn an_unchanged_file_revalidates_with_304() {
    let app = spawn_app().await;
    let first = app.get("/manifest.webmanifest").await;
    let etag = header(&first, "etag");
    assert!(etag.starts_with('"'), "{etag}");
    let again = app
        .client
        .get(app.url("/manifest.webmanifest"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_new_build_on_disk_is_served_at_once() {
    let app = spawn_app().await;
    let before = app.get("/sw.js").await;
    let old_etag = header(&before, "etag");
    assert!(before.text().await.unwrap().contains("fetch"));
    std::fs::write(
        app.static_dir.join("sw.js"),
        "// build 2, with a longer body than before",
    )
    .unwrap();
    let after = app.get("/sw.js").await;
    assert_ne!(header(&after, "etag"), old_etag);
    assert_eq!(
        after.text().await.unwrap(),
        "// build 2, with a longer body than before"
    );
}

#[tokio::test]
async fn head_requests_get_headers_without_a_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .head(app.url(&format!("/{HASHED_WASM}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-length"),
        fake_wasm().len().to_string()
    );
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn writes_to_the_app_and_paths_escaping_the_folder_are_refused() {
    let app = spawn_app().await;
    let post = app
        .client
        .post(app.url("/index.html"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(header(&post, "allow"), "GET, HEAD");
    let body: serde_json::Value = post.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");

    let climb = app.get("/icons/..%2f..%2fetc%2fpasswd").await;
    assert_eq!(climb.status(), 400);
}

#[tokio::test]
async fn paths_under_a_file_and_paths_too_long_for_the_disk_are_404_not_500() {
    let app = spawn_app().await;
    let deep = "/a".repeat(3000);
    let long_name = format!("/{}", "n".repeat(300));
    let cases = [
        format!("/{HASHED_JS}/x"),
        "/index.html/anything".to_owned(),
        "/icons/icon-192.png/x/y.txt".to_owned(),
        deep,
        long_name,
    ];
    for path in cases {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 404, "{}", &path[..path.len().min(60)]);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
    }
}

#[tokio::test]
async fn the_app_is_served_with_a_strict_csp_naming_its_own_inline_scripts() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let app = spawn_app().await;
    let boot = "import init from '/chaski-client-0123456789abcdef.js';\nawait init();\n";
    std::fs::write(
        app.static_dir.join("index.html"),
        format!("<!doctype html><html><head><script type=\"module\">{boot}</script></head></html>"),
    )
    .unwrap();
    let hash = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(boot))
    );
    for path in ["/", "/index.html", "/inspections/new"] {
        let response = app.get(path).await;
        let csp = header(&response, "content-security-policy");
        assert!(csp.contains(&hash), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    }
    let js = app.get(&format!("/{HASHED_JS}")).await;
    let csp = header(&js, "content-security-policy");
    assert!(
        csp.starts_with("default-src 'self'") && !csp.contains("sha256"),
        "{csp}"
    );
}

#[tokio::test]
async fn the_office_app_is_served_under_office_with_its_own_page_policy_and_fallback() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let app = spawn_app().await;
    // A second Trunk build in `dist/office/`, with its own inline boot script.
    let office = app.static_dir.join("office");
    std::fs::create_dir_all(&office).unwrap();
    let boot = "import init from '/office/chaski-office-0123456789abcdef.js';\nawait init();\n";
    let page =
        format!("<!doctype html><html><head><script type=\"module\">{boot}</script></head></html>");
    std::fs::write(office.join("index.html"), &page).unwrap();
    std::fs::write(office.join("chaski-office-0123456789abcdef.js"), fake_js()).unwrap();
    let hash = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(boot))
    );

    for path in [
        "/office/",
        "/office",
        "/office/case/inspection:abc",
        "/office/inbox",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control"), NEVER, "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        let csp = header(&response, "content-security-policy");
        assert!(csp.contains(&hash), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(response.text().await.unwrap(), page, "{path}");
    }
    let js = app
        .client
        .get(app.url("/office/chaski-office-0123456789abcdef.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(header(&js, "cache-control"), IMMUTABLE);
    assert_eq!(header(&js, "content-encoding"), "gzip");
    assert!(!header(&js, "content-security-policy").contains("sha256"));

    // A missing office file is a 404, not the office page; the inspector app keeps its own.
    assert_eq!(app.get("/office/missing.js").await.status(), 404);
    let inspector = app.get("/settings").await;
    assert_eq!(inspector.text().await.unwrap(), INDEX_HTML);
}

#[tokio::test]
async fn office_routes_say_so_when_the_office_app_is_not_built() {
    let app = spawn_app().await;
    let response = app.get("/office/inbox").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("office/index.html"),
        "{body}"
    );
}
