//! Photos from the camera or the gallery, shrunk on the device to a JPEG of about 120 KB, never
//! more than 200 KB.
//!
//! A phone camera's 4 MB photo would take minutes over a satellite link and fill a cheap
//! tablet's storage; a 1280-pixel JPEG at moderate quality is still legible evidence (a ledger
//! of debts, a padlocked door). The canvas does the work, so no image crate ships in the wasm.

use chaski_shared::domain::inspection::MAX_PHOTO_BYTES;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CanvasRenderingContext2d, File, HtmlCanvasElement, ImageBitmap};

/// Longest side of a stored photo, in pixels, before any further reduction.
pub const MAX_SIDE: f64 = 1280.0;
/// The size aimed at: well under the limit, so a day's photos sync over a poor link.
pub const TARGET_BYTES: u64 = 120 * 1024;

/// Decodes `file`, scales it down and re-encodes it as JPEG until it fits [`MAX_PHOTO_BYTES`].
/// Returns the JPEG bytes.
pub async fn shrink(file: &File) -> Result<Vec<u8>, JsValue> {
    let window = leptos::prelude::window();
    let bitmap: ImageBitmap = JsFuture::from(window.create_image_bitmap_with_blob(file)?)
        .await?
        .unchecked_into();
    let (w, h) = (f64::from(bitmap.width()), f64::from(bitmap.height()));
    if w < 1.0 || h < 1.0 {
        return Err(JsValue::from_str("empty image"));
    }
    let mut scale = (MAX_SIDE / w.max(h)).min(1.0);
    let canvas: HtmlCanvasElement = leptos::prelude::document()
        .create_element("canvas")?
        .unchecked_into();
    // Quality first, then size: a smaller sharp photo reads better than a large blurry one
    // only below quality ~0.5, so size shrinks once quality has gone that low.
    for _ in 0..8 {
        let (cw, ch) = ((w * scale).round().max(1.0), (h * scale).round().max(1.0));
        canvas.set_width(cw as u32);
        canvas.set_height(ch as u32);
        let ctx: CanvasRenderingContext2d = canvas
            .get_context("2d")?
            .ok_or_else(|| JsValue::from_str("no 2d context"))?
            .unchecked_into();
        ctx.draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, cw, ch)?;
        // The first quality that reaches the target; failing that, the lowest one if it is
        // within the limit; only then a smaller picture.
        let mut within_limit = None;
        for quality in [0.8, 0.7, 0.6, 0.5] {
            let url =
                canvas.to_data_url_with_type_and_encoder_options("image/jpeg", &quality.into())?;
            let b64 = url.split_once(',').map_or("", |(_, b)| b).to_owned();
            let bytes = (b64.len() as u64) * 3 / 4;
            if bytes <= TARGET_BYTES {
                bitmap.close();
                return decode_base64(&b64);
            }
            if bytes <= MAX_PHOTO_BYTES {
                within_limit = Some(b64);
            }
        }
        if let Some(b64) = within_limit {
            bitmap.close();
            return decode_base64(&b64);
        }
        scale *= 0.75;
    }
    bitmap.close();
    Err(JsValue::from_str("photo could not be made small enough"))
}

/// Bytes from base64 through the browser's `atob` (no base64 crate in the bundle for this).
pub fn decode_base64(b64: &str) -> Result<Vec<u8>, JsValue> {
    let binary = leptos::prelude::window().atob(b64)?;
    Ok(binary.chars().map(|c| c as u32 as u8).collect())
}

/// A `data:` URL for JPEG bytes, for a thumbnail.
pub fn data_url(bytes: &[u8]) -> String {
    let binary: String = bytes.iter().map(|&b| char::from(b)).collect();
    let b64 = leptos::prelude::window().btoa(&binary).unwrap_or_default();
    format!("data:image/jpeg;base64,{b64}")
}
