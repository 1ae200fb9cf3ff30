//! Widgets shared by every page.

mod footer;
mod header;
mod nav;

pub use footer::Footer;
pub use header::{Header, NetStatus};
pub use nav::Nav;
