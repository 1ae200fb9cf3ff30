//! The office's pages: the inbox, a case, the figures ("Cifras") and administration.

mod admin;
mod case;
mod figures;
mod inbox;

pub use admin::AdminPage;
pub use case::CasePage;
pub use figures::FiguresPage;
pub use inbox::Inbox;

use chaski_client::api::ApiError;
use chaski_client::i18n::{Label, Lang};

use crate::i18n::O;

/// `2026-11-30 14:05` from an RFC 3339 stamp.
pub fn short(stamp: &str) -> String {
    stamp.get(..16).unwrap_or(stamp).replace('T', " ")
}

/// A failed call in words: the server's own reason when it gave one.
pub fn error_text(error: &ApiError, lang: Lang) -> String {
    match error {
        ApiError::Network => O::ErrNetwork.label(lang).to_string(),
        ApiError::Unauthorized => O::ErrUnauthorized.label(lang).to_string(),
        ApiError::TooManyAttempts => O::ErrTooMany.label(lang).to_string(),
        ApiError::Server(reason) => reason.clone(),
    }
}
