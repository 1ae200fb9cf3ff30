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

/// How a photo shows in the form.
#[derive(Clone, Debug, PartialEq)]
pub enum Thumb {
    /// Sealed: a placeholder, as the tablet cannot open it.
    Sealed,
    /// A JPEG's `data:` URL.
    Jpeg(String),
}

/// A photo as it is kept: a JPEG, or when it shows people, sealed to the region's key.
pub struct Kept {
    pub name: String,
    pub attachment: chaski_shared::Attachment,
    /// Its entry in the body's `photos`.
    pub entry: serde_json::Value,
    pub thumb: Thumb,
}

/// Why a photo was not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotKept {
    /// It could not be decoded or made small enough.
    Unreadable,
    /// It shows people and there is no key to seal it with.
    NoKey,
    /// Sealing failed.
    Seal(crate::components::identity::SealFailure),
}

/// Shrinks `file` and, when it shows people, seals it for the office (AAD: the record's id and
/// the attachment's name) before anything is stored: the JPEG of a face never reaches the
/// device's store. `key` is the region's current sealing key, if the tablet has one.
pub async fn keep(
    file: &File,
    shows_people: bool,
    key: Option<crate::api::SealKey>,
    doc_id: &str,
    taken_at: &str,
) -> Result<Kept, NotKept> {
    use chaski_shared::sealed::SEALED_CONTENT_TYPE;
    use serde_json::json;

    let id = crate::records::new_id();
    let stem = format!("photo-{}", id.as_str().trim_start_matches("inspection:"));
    // The key is checked before the work, so the inspector learns at once.
    let key = if shows_people {
        Some(key.ok_or(NotKept::NoKey)?)
    } else {
        None
    };
    let jpeg = shrink(file).await.map_err(|_| NotKept::Unreadable)?;
    match key {
        Some(key) => {
            let name = format!("{stem}.sealed");
            let sealed = crate::components::identity::seal_photo(&key, doc_id, &name, &jpeg)
                .await
                .map_err(NotKept::Seal)?;
            Ok(Kept {
                attachment: chaski_shared::Attachment::inline(SEALED_CONTENT_TYPE, sealed),
                entry: json!({"attachment": name, "taken_at": taken_at, "shows_people": true}),
                name,
                thumb: Thumb::Sealed,
            })
        }
        None => {
            let name = format!("{stem}.jpg");
            Ok(Kept {
                thumb: Thumb::Jpeg(data_url(&jpeg)),
                attachment: chaski_shared::Attachment::inline("image/jpeg", jpeg),
                entry: json!({"attachment": name, "taken_at": taken_at}),
                name,
            })
        }
    }
}

/// How a stored photo shows (a sealed one needs no bytes); `None` for a JPEG whose bytes were
/// not read.
pub fn thumb_of(att: &chaski_shared::Attachment) -> Option<Thumb> {
    if att.content_type == chaski_shared::sealed::SEALED_CONTENT_TYPE {
        return Some(Thumb::Sealed);
    }
    att.data.as_deref().map(|jpeg| Thumb::Jpeg(data_url(jpeg)))
}

/// What to tell the inspector about a photo that was not kept.
pub fn not_kept_text(why: &NotKept, lang: crate::i18n::Lang) -> String {
    use crate::components::identity::M;
    match why {
        NotKept::Unreadable => crate::i18n::Msg::PhotoFailed.text(lang).to_string(),
        NotKept::NoKey => M::PhotoNoKey.text(lang).to_string(),
        NotKept::Seal(e) => e.text(lang),
    }
}

/// "The photo shows people", asked before each capture and on by default: the next photos are
/// sealed unless the inspector turns it off for a place or an object. It turns itself on again
/// after each capture, so that forgetting it never leaves a face in clear.
#[leptos::component]
pub fn ShowsPeopleSwitch(on: leptos::prelude::RwSignal<bool>) -> impl leptos::IntoView {
    use crate::components::identity::M;
    use leptos::prelude::*;
    let i18n = crate::i18n::use_i18n();
    view! {
        <label class="chip wide" for="photo-shows-people">
            <input id="photo-shows-people" type="checkbox" prop:checked=move || on.get()
                on:change=move |ev| on.set(event_target_checked(&ev)) />
            <span>{move || M::PhotoShowsPeople.text(i18n.lang())}</span>
        </label>
        <p class="hint">{move || M::PhotoShowsPeopleHint.text(i18n.lang())}</p>
    }
}

/// The placeholder of a sealed photo: the tablet cannot open it.
#[leptos::component]
pub fn SealedPhoto() -> impl leptos::IntoView {
    use crate::components::identity::M;
    use leptos::prelude::*;
    let i18n = crate::i18n::use_i18n();
    view! {
        <div class="photo-sealed" role="img"
            aria-label=move || M::PhotoSealed.text(i18n.lang())>
            <span>{move || M::PhotoSealed.text(i18n.lang())}</span>
        </div>
    }
}
