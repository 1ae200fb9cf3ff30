//! Widgets shared by every page.

pub mod account;
pub mod fields;
mod footer;
mod header;
pub mod identity;
mod nav;
pub mod photos;
pub mod storage;
pub mod sync_strip;

pub use footer::Footer;
pub use header::{Header, NetStatus};
pub use nav::Nav;
