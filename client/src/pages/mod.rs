//! One module per route of the app.

mod home;
mod not_found;
mod settings;

pub use home::Home;
pub use not_found::NotFound;
pub use settings::Settings;
