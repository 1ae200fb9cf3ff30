//! One module per route of the app.

mod conflicts;
mod home;
mod inspection;
mod login;
mod not_found;
mod office;
mod settings;

pub use conflicts::{differences, merge, Conflicts};
pub use home::Home;
pub use inspection::{InspectionEdit, InspectionNew, InspectionReadOnly, AUTOSAVE_MS};
pub use login::Login;
pub use not_found::NotFound;
pub use office::{OfficeAccount, OFFICE_URL};
pub use settings::Settings;
