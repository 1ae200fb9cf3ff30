//! The office's two pages.

mod case;
mod inbox;

pub use case::CasePage;
pub use inbox::Inbox;
