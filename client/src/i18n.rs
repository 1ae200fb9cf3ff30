//! Every user-facing string of the app, in Spanish and English, as one typed table.
//!
//! A message is an enum variant and each language is an exhaustive `match`, so adding a message
//! without translating it into every language is a compile error rather than a blank on a
//! tablet in the field. The chosen language lives in a context signal ([`I18n`]) and is
//! remembered on the device.

use leptos::prelude::*;

/// `localStorage` key under which the device remembers the chosen language.
pub const STORAGE_KEY: &str = "chaski.lang";

/// A language the interface is available in. Spanish is the default: most inspectors work in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    Es,
    En,
}

impl Lang {
    /// Every language, in the order the settings page offers them.
    pub const ALL: [Lang; 2] = [Lang::Es, Lang::En];

    /// The BCP 47 tag, used for `<html lang>`, storage and `<option value>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// Parses a stored or selected tag; unknown tags are `None` so callers fall back explicitly.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|lang| lang.code() == code)
    }

    /// The language's name in itself, so a reader who does not understand the current
    /// language can still find their own.
    pub fn endonym(self) -> &'static str {
        match self {
            Lang::Es => "Español",
            Lang::En => "English",
        }
    }
}

/// A user-facing message. Add a variant here and the compiler points at every missing
/// translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    SkipToContent,
    MainNavigation,
    NavHome,
    NavSettings,
    NetOnline,
    NetOffline,
    NetStatusLabel,
    HomeTitle,
    InspectionsEmpty,
    SettingsTitle,
    LanguageLabel,
    LanguageHint,
    NotFoundTitle,
    NotFoundBody,
    BackHome,
    VersionLabel,
}

impl Msg {
    /// Every message; the tests use it to check that no translation is blank.
    pub const ALL: [Msg; 16] = [
        Msg::SkipToContent,
        Msg::MainNavigation,
        Msg::NavHome,
        Msg::NavSettings,
        Msg::NetOnline,
        Msg::NetOffline,
        Msg::NetStatusLabel,
        Msg::HomeTitle,
        Msg::InspectionsEmpty,
        Msg::SettingsTitle,
        Msg::LanguageLabel,
        Msg::LanguageHint,
        Msg::NotFoundTitle,
        Msg::NotFoundBody,
        Msg::BackHome,
        Msg::VersionLabel,
    ];

    /// The message in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Es => self.es(),
            Lang::En => self.en(),
        }
    }

    fn es(self) -> &'static str {
        match self {
            Msg::SkipToContent => "Saltar al contenido",
            Msg::MainNavigation => "Navegación principal",
            Msg::NavHome => "Inspecciones",
            Msg::NavSettings => "Ajustes",
            Msg::NetOnline => "En línea",
            Msg::NetOffline => "Sin conexión",
            Msg::NetStatusLabel => "Estado de la conexión",
            Msg::HomeTitle => "Inspecciones",
            Msg::InspectionsEmpty => "Todavía no hay inspecciones en este dispositivo.",
            Msg::SettingsTitle => "Ajustes",
            Msg::LanguageLabel => "Idioma",
            Msg::LanguageHint => "Se recuerda en este dispositivo.",
            Msg::NotFoundTitle => "Página no encontrada",
            Msg::NotFoundBody => "Esta dirección no existe en Chaski.",
            Msg::BackHome => "Volver al inicio",
            Msg::VersionLabel => "Versión de la aplicación",
        }
    }

    fn en(self) -> &'static str {
        match self {
            Msg::SkipToContent => "Skip to content",
            Msg::MainNavigation => "Main navigation",
            Msg::NavHome => "Inspections",
            Msg::NavSettings => "Settings",
            Msg::NetOnline => "Online",
            Msg::NetOffline => "Offline",
            Msg::NetStatusLabel => "Connection status",
            Msg::HomeTitle => "Inspections",
            Msg::InspectionsEmpty => "There are no inspections on this device yet.",
            Msg::SettingsTitle => "Settings",
            Msg::LanguageLabel => "Language",
            Msg::LanguageHint => "Remembered on this device.",
            Msg::NotFoundTitle => "Page not found",
            Msg::NotFoundBody => "This address does not exist in Chaski.",
            Msg::BackHome => "Back to the start",
            Msg::VersionLabel => "App version",
        }
    }
}

/// The language context: a narrow, `Copy` handle that components take from context.
#[derive(Clone, Copy, Debug)]
pub struct I18n {
    lang: RwSignal<Lang>,
}

impl I18n {
    /// Creates the context with the language remembered on the device (or Spanish), and the
    /// one effect that mirrors every change to `localStorage` and `<html lang>`.
    pub fn provide() -> I18n {
        let i18n = I18n {
            lang: RwSignal::new(stored_lang().unwrap_or_default()),
        };
        Effect::new(move |_| {
            let lang = i18n.lang.get();
            remember_lang(lang);
            if let Some(root) = document().document_element() {
                // Screen readers and hyphenation follow `<html lang>`; failing to set it only
                // degrades those, so it is not worth surfacing.
                let _ = root.set_attribute("lang", lang.code());
            }
        });
        provide_context(i18n);
        i18n
    }

    /// The current language (tracked: reading it inside a closure re-renders on change).
    pub fn lang(self) -> Lang {
        self.lang.get()
    }

    pub fn set_lang(self, lang: Lang) {
        self.lang.set(lang);
    }

    /// The message in the current language (tracked).
    pub fn t(self, msg: Msg) -> &'static str {
        msg.text(self.lang.get())
    }
}

/// The language handle provided by [`I18n::provide`] at the root of the app.
pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

/// A reactive text node for `msg`, for use directly in `view!`.
pub fn tr(msg: Msg) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let i18n = use_i18n();
    move || i18n.t(msg)
}

fn local_storage() -> Option<web_sys::Storage> {
    // Storage can be missing or refused (private mode, disabled by policy); the app then simply
    // does not remember the language.
    window().local_storage().ok().flatten()
}

fn stored_lang() -> Option<Lang> {
    let code = local_storage()?.get_item(STORAGE_KEY).ok()??;
    Lang::from_code(&code)
}

fn remember_lang(lang: Lang) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(STORAGE_KEY, lang.code());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_is_the_default_language() {
        assert_eq!(Lang::default(), Lang::Es);
    }

    #[test]
    fn language_codes_round_trip() {
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Lang::from_code("qu"), None);
    }

    #[test]
    fn every_message_is_translated_into_every_language() {
        for lang in Lang::ALL {
            for msg in Msg::ALL {
                assert!(
                    !msg.text(lang).trim().is_empty(),
                    "{msg:?} is blank in {lang:?}"
                );
            }
        }
    }

    #[test]
    fn languages_actually_differ() {
        assert_ne!(
            Msg::NetOffline.text(Lang::Es),
            Msg::NetOffline.text(Lang::En)
        );
    }
}
