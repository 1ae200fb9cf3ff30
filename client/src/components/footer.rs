//! The footer naming the running build, so an inspector (and a test) can tell which build a
//! tablet is on after an update.

use leptos::prelude::*;

use crate::i18n::{use_i18n, Msg};
use crate::PRODUCT_NAME;

/// A free-form note set at build time (`CHASKI_BUILD_NOTE=...`), e.g. a commit or a date.
/// `option_env!` makes rustc record the variable, so cargo rebuilds when it changes.
pub const BUILD_NOTE: Option<&str> = option_env!("CHASKI_BUILD_NOTE");

/// `Chaski <version>`, then the build note when there is one.
pub fn version_line(note: Option<&str>) -> String {
    match note.map(str::trim).filter(|note| !note.is_empty()) {
        Some(note) => format!("{PRODUCT_NAME} {} · {note}", chaski_shared::VERSION),
        None => format!("{PRODUCT_NAME} {}", chaski_shared::VERSION),
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <footer class="app-footer">
            <small id="app-version" title=move || i18n.t(Msg::VersionLabel)>
                {version_line(BUILD_NOTE)}
            </small>
        </footer>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_names_the_product_and_version() {
        assert_eq!(
            version_line(None),
            format!("Chaski {}", chaski_shared::VERSION)
        );
    }

    #[test]
    fn version_line_appends_the_build_note() {
        let line = version_line(Some("build 42"));
        assert!(line.starts_with(&format!("Chaski {}", chaski_shared::VERSION)));
        assert!(line.ends_with("build 42"));
    }

    #[test]
    fn blank_build_note_is_ignored() {
        assert_eq!(version_line(Some("  ")), version_line(None));
    }
}
