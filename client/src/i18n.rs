//! Every user-facing string of the app, in Spanish and English, as one typed table.
//!
//! A message is an enum variant and each language is an exhaustive `match`, so adding a message
//! without translating it into every language is a compile error rather than a blank on a
//! tablet in the field. The chosen language lives in a context signal ([`I18n`]) and is
//! remembered on the device.

use chaski_shared::domain::{
    AccessMode, AgeBand, CaseState, Companion, ConsentBy, ConsentStatus, ErrorCode, Finding,
    Format, Indicator, IndigenousPeople, JsonType, Nationality, Need, ReferralTarget, Region, Rule,
    Sector, Sex, Stage, Status,
};
use leptos::prelude::*;

use crate::num;

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
    NavNew,
    SignInTitle,
    SignInIntro,
    LoginName,
    LoginPassword,
    LoginDevice,
    LoginDeviceHint,
    LoginSubmit,
    LoginBusy,
    LoginBadCredentials,
    LoginNeedsNetwork,
    LoginTooMany,
    LoginServerError,
    LoginMissing,
    SignedInAs,
    Logout,
    LogoutUnsynced,
    OrphanedRecords,
    NoRegion,
    WorkingRegion,
    RegionFixedHint,
    LogoutErasing,
    LogoutDiscard,
    LogoutTypeToConfirm,
    LogoutConfirmWord,
    Cancel,
    SessionExpired,
    StoreOpening,
    StoreFailed,
    Search,
    SearchPlaceholder,
    AllRegions,
    AllSectors,
    AllStatuses,
    FilterNotSynced,
    FilterConflict,
    ListCount,
    ListMore,
    NoMatches,
    Untitled,
    SyncLocalOnly,
    SyncSynced,
    SyncConflict,
    SyncRejected,
    StatusDraft,
    StatusSubmitted,
    NewTitle,
    EditTitle,
    NotFoundRecord,
    SecSite,
    SecVisit,
    SecWorkers,
    SecIndicators,
    SecFindings,
    SecPeople,
    SecPhotos,
    SecNotes,
    Choose,
    FSiteName,
    FSector,
    FSectorOther,
    FRegion,
    FDistrict,
    FLocality,
    FGps,
    GpsGet,
    GpsBusy,
    GpsFailed,
    GpsAccuracy,
    GpsManual,
    FLat,
    FLon,
    FAccess,
    FAccessNotes,
    FVisitStart,
    FVisitEnd,
    FTeam,
    TeamAdd,
    FTeamMember,
    Remove,
    FAccompanied,
    FAccompaniedNotes,
    FTotal,
    FWomen,
    FMen,
    FOtherSex,
    FUnder18,
    FUnder14,
    FIndigenous,
    FForeign,
    FNationalities,
    NationalityAdd,
    FCount,
    FCountryName,
    FSeen,
    FStages,
    FEvidence,
    FFindings,
    NoNames,
    PersonAdd,
    FCode,
    FAgeBand,
    FSex,
    FNationality,
    FNationalityOther,
    FIndigenousPeople,
    FIndigenousOther,
    FNeeds,
    FNeedsNotes,
    FReferralMade,
    FReferralTo,
    FConsent,
    FConsentBy,
    PhotoAdd,
    PhotoBusy,
    PhotoFailed,
    PhotoAlt,
    FNotes,
    Saved,
    Saving,
    SaveFailed,
    Review,
    SummaryTitle,
    SummaryProblems,
    SummaryReady,
    Submit,
    BackToForm,
    ReadOnly,
    EditSubmitted,
    EditConfirm,
    EditYes,
    SyncStripLabel,
    SyncNothingPending,
    SyncLast,
    SyncNever,
    SyncNow,
    SyncRunning,
    SyncFailed,
    SyncUnavailable,
    ConflictTitle,
    ConflictIntro,
    ConflictField,
    ConflictVersion,
    ConflictResolve,
    ConflictOpen,
    ConflictEmpty,
    ConflictSame,
    StorageTitle,
    StoragePersistent,
    StorageNotPersistent,
    StorageAsk,
    StorageUsage,
    StorageUnknown,
    ClientErrorsTitle,
    ClientErrorsIntro,
    ClientErrorsNone,
    ClientErrorSent,
    ClientErrorUnsent,
    ConflictKeepBoth,
    ConflictMine,
    ConflictNoneMine,
    ConflictThisDevice,
    ConflictChooseAll,
    RowEdited,
    RowVisit,
    StorageWarnShort,
    StorageWarnDismiss,
    PhotoBusyMany,
    SyncNothingToSend,
    StorageInstall,
    Yes,
    No,
    OfficeTitle,
    OfficeAccount,
    OfficeOpen,
    IssuesBy,
    IssuesFix,
    IssuesFixHint,
}

impl Msg {
    /// Every message; the tests use it to check that no translation is blank.
    pub const ALL: [Msg; 194] = [
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
        Msg::NavNew,
        Msg::SignInTitle,
        Msg::SignInIntro,
        Msg::LoginName,
        Msg::LoginPassword,
        Msg::LoginDevice,
        Msg::LoginDeviceHint,
        Msg::LoginSubmit,
        Msg::LoginBusy,
        Msg::LoginBadCredentials,
        Msg::LoginNeedsNetwork,
        Msg::LoginTooMany,
        Msg::LoginServerError,
        Msg::LoginMissing,
        Msg::SignedInAs,
        Msg::Logout,
        Msg::LogoutUnsynced,
        Msg::OrphanedRecords,
        Msg::NoRegion,
        Msg::WorkingRegion,
        Msg::RegionFixedHint,
        Msg::LogoutErasing,
        Msg::LogoutDiscard,
        Msg::LogoutTypeToConfirm,
        Msg::LogoutConfirmWord,
        Msg::Cancel,
        Msg::SessionExpired,
        Msg::StoreOpening,
        Msg::StoreFailed,
        Msg::Search,
        Msg::SearchPlaceholder,
        Msg::AllRegions,
        Msg::AllSectors,
        Msg::AllStatuses,
        Msg::FilterNotSynced,
        Msg::FilterConflict,
        Msg::ListCount,
        Msg::ListMore,
        Msg::NoMatches,
        Msg::Untitled,
        Msg::SyncLocalOnly,
        Msg::SyncSynced,
        Msg::SyncConflict,
        Msg::SyncRejected,
        Msg::StatusDraft,
        Msg::StatusSubmitted,
        Msg::NewTitle,
        Msg::EditTitle,
        Msg::NotFoundRecord,
        Msg::SecSite,
        Msg::SecVisit,
        Msg::SecWorkers,
        Msg::SecIndicators,
        Msg::SecFindings,
        Msg::SecPeople,
        Msg::SecPhotos,
        Msg::SecNotes,
        Msg::Choose,
        Msg::FSiteName,
        Msg::FSector,
        Msg::FSectorOther,
        Msg::FRegion,
        Msg::FDistrict,
        Msg::FLocality,
        Msg::FGps,
        Msg::GpsGet,
        Msg::GpsBusy,
        Msg::GpsFailed,
        Msg::GpsAccuracy,
        Msg::GpsManual,
        Msg::FLat,
        Msg::FLon,
        Msg::FAccess,
        Msg::FAccessNotes,
        Msg::FVisitStart,
        Msg::FVisitEnd,
        Msg::FTeam,
        Msg::TeamAdd,
        Msg::FTeamMember,
        Msg::Remove,
        Msg::FAccompanied,
        Msg::FAccompaniedNotes,
        Msg::FTotal,
        Msg::FWomen,
        Msg::FMen,
        Msg::FOtherSex,
        Msg::FUnder18,
        Msg::FUnder14,
        Msg::FIndigenous,
        Msg::FForeign,
        Msg::FNationalities,
        Msg::NationalityAdd,
        Msg::FCount,
        Msg::FCountryName,
        Msg::FSeen,
        Msg::FStages,
        Msg::FEvidence,
        Msg::FFindings,
        Msg::NoNames,
        Msg::PersonAdd,
        Msg::FCode,
        Msg::FAgeBand,
        Msg::FSex,
        Msg::FNationality,
        Msg::FNationalityOther,
        Msg::FIndigenousPeople,
        Msg::FIndigenousOther,
        Msg::FNeeds,
        Msg::FNeedsNotes,
        Msg::FReferralMade,
        Msg::FReferralTo,
        Msg::FConsent,
        Msg::FConsentBy,
        Msg::PhotoAdd,
        Msg::PhotoBusy,
        Msg::PhotoFailed,
        Msg::PhotoAlt,
        Msg::FNotes,
        Msg::Saved,
        Msg::Saving,
        Msg::SaveFailed,
        Msg::Review,
        Msg::SummaryTitle,
        Msg::SummaryProblems,
        Msg::SummaryReady,
        Msg::Submit,
        Msg::BackToForm,
        Msg::ReadOnly,
        Msg::EditSubmitted,
        Msg::EditConfirm,
        Msg::EditYes,
        Msg::SyncStripLabel,
        Msg::SyncNothingPending,
        Msg::SyncLast,
        Msg::SyncNever,
        Msg::SyncNow,
        Msg::SyncRunning,
        Msg::SyncFailed,
        Msg::SyncUnavailable,
        Msg::ConflictTitle,
        Msg::ConflictIntro,
        Msg::ConflictField,
        Msg::ConflictVersion,
        Msg::ConflictResolve,
        Msg::ConflictOpen,
        Msg::ConflictEmpty,
        Msg::ConflictSame,
        Msg::StorageTitle,
        Msg::StoragePersistent,
        Msg::StorageNotPersistent,
        Msg::StorageAsk,
        Msg::StorageUsage,
        Msg::StorageUnknown,
        Msg::ClientErrorsTitle,
        Msg::ClientErrorsIntro,
        Msg::ClientErrorsNone,
        Msg::ClientErrorSent,
        Msg::ClientErrorUnsent,
        Msg::ConflictKeepBoth,
        Msg::ConflictMine,
        Msg::ConflictNoneMine,
        Msg::ConflictThisDevice,
        Msg::ConflictChooseAll,
        Msg::RowEdited,
        Msg::RowVisit,
        Msg::StorageWarnShort,
        Msg::StorageWarnDismiss,
        Msg::PhotoBusyMany,
        Msg::SyncNothingToSend,
        Msg::StorageInstall,
        Msg::Yes,
        Msg::No,
        Msg::OfficeTitle,
        Msg::OfficeAccount,
        Msg::OfficeOpen,
        Msg::IssuesBy,
        Msg::IssuesFix,
        Msg::IssuesFixHint,
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
            Msg::NavNew => "Nueva inspección",
            Msg::SignInTitle => "Iniciar sesión",
            Msg::SignInIntro => "Inicie sesión una vez con conexión; después Chaski funciona sin red en este dispositivo.",
            Msg::LoginName => "Usuario",
            Msg::LoginPassword => "Contraseña",
            Msg::LoginDevice => "Nombre de este dispositivo",
            Msg::LoginDeviceHint => "Por ejemplo «Tablet 07 Puerto Maldonado». Sirve para bloquearlo si se pierde.",
            Msg::LoginSubmit => "Iniciar sesión",
            Msg::LoginBusy => "Iniciando sesión…",
            Msg::LoginBadCredentials => "Usuario o contraseña incorrectos.",
            Msg::LoginNeedsNetwork => "Sin conexión con el servidor. Para iniciar sesión necesita red (oficina, satélite o 3G).",
            Msg::LoginTooMany => "Demasiados intentos. Espere unos minutos y vuelva a intentar.",
            Msg::LoginServerError => "El servidor rechazó el inicio de sesión:",
            Msg::LoginMissing => "Complete usuario, contraseña y nombre del dispositivo.",
            Msg::SignedInAs => "Sesión de",
            Msg::Logout => "Cerrar sesión",
            Msg::OrphanedRecords => "{n} inspecciones de {region} siguen en este dispositivo sin enviar: usted ya no trabaja en esa región y no aparecen en la lista. Pida a la oficina que se la vuelva a asignar para enviarlas.",
            Msg::NoRegion => "Esta cuenta no tiene ninguna región asignada: pida a la oficina que le asigne una.",
            Msg::WorkingRegion => "Región de trabajo",
            Msg::RegionFixedHint => "La inspección se guarda en la región de trabajo. Para registrar en otra región, cámbiela arriba, junto a su nombre.",
            Msg::LogoutErasing => "Borrando los datos de este dispositivo…",
            Msg::LogoutUnsynced => "Hay {n} inspecciones que aún no se han enviado al servidor. Si cierra sesión ahora se perderán en este dispositivo. Sincronice primero.",
            Msg::LogoutDiscard => "Cerrar sesión y perder {n} inspecciones",
            Msg::LogoutTypeToConfirm => "Para confirmar, escriba BORRAR:",
            Msg::LogoutConfirmWord => "BORRAR",
            Msg::Cancel => "Cancelar",
            Msg::SessionExpired => "Su sesión ya no es válida en el servidor. Sus registros siguen en este dispositivo; inicie sesión de nuevo para sincronizarlos.",
            Msg::StoreOpening => "Abriendo los datos del dispositivo…",
            Msg::StoreFailed => "No se pudieron abrir los datos de este dispositivo:",
            Msg::Search => "Buscar",
            Msg::SearchPlaceholder => "Sitio, distrito o localidad",
            Msg::AllRegions => "Todas las regiones",
            Msg::AllSectors => "Todos los sectores",
            Msg::AllStatuses => "Todos los estados",
            Msg::FilterNotSynced => "Sin sincronizar",
            Msg::FilterConflict => "Con conflicto",
            Msg::ListCount => "{shown} de {total}",
            Msg::ListMore => "Mostrar más",
            Msg::NoMatches => "Ninguna inspección coincide con la búsqueda.",
            Msg::Untitled => "(sitio sin nombre)",
            Msg::SyncLocalOnly => "Solo en este dispositivo",
            Msg::SyncSynced => "Sincronizada",
            Msg::SyncConflict => "Conflicto: elija una versión",
            Msg::SyncRejected => "Rechazada por el servidor",
            Msg::StatusDraft => "Borrador",
            Msg::StatusSubmitted => "Terminada",
            Msg::NewTitle => "Nueva inspección",
            Msg::EditTitle => "Inspección",
            Msg::NotFoundRecord => "Esta inspección no está en este dispositivo.",
            Msg::SecSite => "Sitio y ubicación",
            Msg::SecVisit => "Visita y equipo",
            Msg::SecWorkers => "Trabajadores encontrados",
            Msg::SecIndicators => "Indicadores de trabajo forzoso (OIT)",
            Msg::SecFindings => "Hallazgos",
            Msg::SecPeople => "Personas encontradas",
            Msg::SecPhotos => "Fotos",
            Msg::SecNotes => "Notas",
            Msg::Choose => "— elegir —",
            Msg::FSiteName => "Nombre del sitio",
            Msg::FSector => "Sector",
            Msg::FSectorOther => "¿Qué sector?",
            Msg::FRegion => "Región",
            Msg::FDistrict => "Distrito",
            Msg::FLocality => "Localidad, caserío o referencia",
            Msg::FGps => "Coordenadas",
            Msg::GpsGet => "Tomar ubicación GPS",
            Msg::GpsBusy => "Buscando señal GPS…",
            Msg::GpsFailed => "No hay señal GPS. Escriba las coordenadas a mano (por ejemplo del GPS del equipo).",
            Msg::GpsAccuracy => "precisión ± {n} m",
            Msg::GpsManual => "escritas a mano",
            Msg::FLat => "Latitud",
            Msg::FLon => "Longitud",
            Msg::FAccess => "Cómo se llegó",
            Msg::FAccessNotes => "Detalles del acceso",
            Msg::FVisitStart => "Inicio de la visita",
            Msg::FVisitEnd => "Fin de la visita",
            Msg::FTeam => "Equipo",
            Msg::TeamAdd => "Añadir integrante",
            Msg::FTeamMember => "Nombre o usuario del integrante",
            Msg::Remove => "Quitar",
            Msg::FAccompanied => "Acompañados por",
            Msg::FAccompaniedNotes => "Detalles (institución, nombres de cargo)",
            Msg::FTotal => "Total de trabajadores",
            Msg::FWomen => "Mujeres",
            Msg::FMen => "Hombres",
            Msg::FOtherSex => "Otro / no se sabe",
            Msg::FUnder18 => "Menores de 18 años",
            Msg::FUnder14 => "Menores de 14 años",
            Msg::FIndigenous => "Indígenas",
            Msg::FForeign => "Extranjeros",
            Msg::FNationalities => "Nacionalidades de los extranjeros",
            Msg::NationalityAdd => "Añadir nacionalidad",
            Msg::FCount => "Cantidad",
            Msg::FCountryName => "Nombre del país",
            Msg::FSeen => "Observado",
            Msg::FStages => "Cuándo",
            Msg::FEvidence => "Evidencia (qué se vio o escuchó)",
            Msg::FFindings => "Conclusiones del equipo",
            Msg::NoNames => "Nunca escriba nombres, DNI ni teléfonos: use solo el código. La identidad se registra aparte, cifrada.",
            Msg::PersonAdd => "Añadir persona",
            Msg::FCode => "Código",
            Msg::FAgeBand => "Edad",
            Msg::FSex => "Sexo",
            Msg::FNationality => "Nacionalidad",
            Msg::FNationalityOther => "¿Qué país?",
            Msg::FIndigenousPeople => "Pueblo indígena",
            Msg::FIndigenousOther => "¿Qué pueblo?",
            Msg::FNeeds => "Necesidades",
            Msg::FNeedsNotes => "Detalles de las necesidades",
            Msg::FReferralMade => "Se derivó",
            Msg::FReferralTo => "Derivada a",
            Msg::FConsent => "Consentimiento",
            Msg::FConsentBy => "Consentimiento dado por",
            Msg::PhotoAdd => "Tomar o elegir foto",
            Msg::PhotoBusy => "Reduciendo la foto…",
            Msg::PhotoFailed => "No se pudo usar esta imagen.",
            Msg::PhotoAlt => "Foto de la inspección",
            Msg::FNotes => "Notas libres",
            Msg::Saved => "Guardado en este dispositivo",
            Msg::Saving => "Guardando…",
            Msg::SaveFailed => "¡No se pudo guardar! No cierre la aplicación:",
            Msg::Review => "Revisar y terminar",
            Msg::SummaryTitle => "Resumen antes de terminar",
            Msg::SummaryProblems => "Corrija esto antes de terminar:",
            Msg::SummaryReady => "Todo está completo. Al terminarla, la inspección queda protegida contra cambios y lista para enviarse a la oficina con la próxima sincronización.",
            Msg::Submit => "Terminar inspección",
            Msg::BackToForm => "Volver al formulario",
            Msg::ReadOnly => "Inspección terminada: solo lectura.",
            Msg::EditSubmitted => "Editar",
            Msg::EditConfirm => "Esta inspección ya está terminada. Si la modifica, volverá a borrador y tendrá que terminarla de nuevo para enviarla. El cambio quedará registrado. ¿Seguro que quiere modificarla?",
            Msg::EditYes => "Sí, modificar",
            Msg::SyncStripLabel => "Estado de sincronización",
            Msg::SyncNothingPending => "Todo sincronizado",
            Msg::SyncLast => "Última sincronización: {t}",
            Msg::SyncNever => "Nunca sincronizado",
            Msg::SyncNow => "Sincronizar ahora",
            Msg::SyncRunning => "Sincronizando… {done} de {total}",
            Msg::SyncFailed => "La última sincronización falló:",
            Msg::SyncUnavailable => "La sincronización todavía no está disponible en esta versión.",
            Msg::ConflictTitle => "Versiones en conflicto",
            Msg::ConflictIntro => "Esta inspección se modificó en dos dispositivos. Elija, campo por campo, el valor correcto.",
            Msg::ConflictField => "Campo",
            Msg::ConflictVersion => "Versión {n}",
            Msg::ConflictResolve => "Guardar la versión elegida",
            Msg::ConflictOpen => "Resolver conflicto",
            Msg::ConflictEmpty => "(vacío)",
            Msg::ConflictSame => "Las versiones solo difieren en campos internos.",
            Msg::StorageTitle => "Almacenamiento del dispositivo",
            Msg::StoragePersistent => "El navegador guardará los datos de Chaski de forma permanente.",
            Msg::StorageNotPersistent => "Atención: el navegador NO garantiza conservar los datos. Si falta espacio podría borrar inspecciones no sincronizadas. Sincronice a menudo, instale Chaski en la pantalla de inicio y vuelva a pedirlo.",
            Msg::StorageAsk => "Pedir almacenamiento permanente",
            Msg::StorageUsage => "En uso: {used} de {quota} disponibles",
            Msg::StorageUnknown => "El navegador no informa cuánto espacio se usa.",
            Msg::ClientErrorsTitle => "Errores de la aplicación",
            Msg::ClientErrorsIntro => "Fallos internos de la aplicación en este dispositivo (los últimos 20). Se envían a la oficina con la siguiente sincronización.",
            Msg::ClientErrorsNone => "Ninguno.",
            Msg::ClientErrorSent => "enviado",
            Msg::ClientErrorUnsent => "por enviar",
            Msg::ConflictKeepBoth => "Conservar ambas",
            Msg::ConflictMine => "Marcada de antemano: la versión de este dispositivo ({device}). Cambie lo que haga falta.",
            Msg::ConflictNoneMine => "Ninguna versión se hizo en este dispositivo: elija un valor en cada fila.",
            Msg::ConflictThisDevice => "este dispositivo",
            Msg::ConflictChooseAll => "Elija un valor en cada fila antes de guardar.",
            Msg::RowEdited => "editada {t}",
            Msg::RowVisit => "Visita: {t}",
            Msg::StorageWarnShort => "Este navegador podría borrar los datos si le falta espacio. Instale Chaski en la pantalla de inicio y vuelva a pedir almacenamiento permanente en Ajustes.",
            Msg::StorageWarnDismiss => "Ocultar por hoy",
            Msg::PhotoBusyMany => "Reduciendo fotos: {done} de {total} listas…",
            Msg::SyncNothingToSend => "Nada por enviar",
            Msg::StorageInstall => "Instalar Chaski",
            Msg::Yes => "Sí",
            Msg::No => "No",
            Msg::OfficeTitle => "Oficina regional",
            Msg::OfficeAccount => "Su cuenta es de la oficina regional: la revisión y el seguimiento de los casos están en la aplicación de la oficina.",
            Msg::OfficeOpen => "Abrir la oficina",
            Msg::IssuesBy => "Escrita por {by} el {at}",
            Msg::IssuesFix => "Corregir y volver a enviar",
            Msg::IssuesFixHint => "Corrija lo que pide la nota y vuelva a enviar la inspección: la oficina la verá como reenviada.",
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
            Msg::NavNew => "New inspection",
            Msg::SignInTitle => "Sign in",
            Msg::SignInIntro => "Sign in once while online; after that Chaski works without a network on this device.",
            Msg::LoginName => "User name",
            Msg::LoginPassword => "Password",
            Msg::LoginDevice => "Name of this device",
            Msg::LoginDeviceHint => "For example “Tablet 07 Puerto Maldonado”. Used to block it if it is lost.",
            Msg::LoginSubmit => "Sign in",
            Msg::LoginBusy => "Signing in…",
            Msg::LoginBadCredentials => "Wrong user name or password.",
            Msg::LoginNeedsNetwork => "Cannot reach the server. Signing in needs a network (office, satellite or 3G).",
            Msg::LoginTooMany => "Too many attempts. Wait a few minutes and try again.",
            Msg::LoginServerError => "The server refused the sign-in:",
            Msg::LoginMissing => "Fill in user name, password and device name.",
            Msg::SignedInAs => "Signed in as",
            Msg::Logout => "Sign out",
            Msg::OrphanedRecords => "{n} inspections from {region} are still on this device, not sent: you no longer work in that region and they are not in the list. Ask the office to assign it to you again to send them.",
            Msg::NoRegion => "This account has no region assigned: ask the office to assign one.",
            Msg::WorkingRegion => "Working region",
            Msg::RegionFixedHint => "The inspection is kept in the working region. To record in another region, change it at the top, next to your name.",
            Msg::LogoutErasing => "Erasing this device's data…",
            Msg::LogoutUnsynced => "{n} inspections have not been sent to the server yet. Signing out now would lose them on this device. Sync first.",
            Msg::LogoutDiscard => "Sign out and lose {n} inspections",
            Msg::LogoutTypeToConfirm => "To confirm, type DELETE:",
            Msg::LogoutConfirmWord => "DELETE",
            Msg::Cancel => "Cancel",
            Msg::SessionExpired => "Your session is no longer valid on the server. Your records are still on this device; sign in again to sync them.",
            Msg::StoreOpening => "Opening the device's data…",
            Msg::StoreFailed => "The data on this device could not be opened:",
            Msg::Search => "Search",
            Msg::SearchPlaceholder => "Site, district or locality",
            Msg::AllRegions => "All regions",
            Msg::AllSectors => "All sectors",
            Msg::AllStatuses => "All statuses",
            Msg::FilterNotSynced => "Not synced",
            Msg::FilterConflict => "With a conflict",
            Msg::ListCount => "{shown} of {total}",
            Msg::ListMore => "Show more",
            Msg::NoMatches => "No inspection matches the search.",
            Msg::Untitled => "(unnamed site)",
            Msg::SyncLocalOnly => "Only on this device",
            Msg::SyncSynced => "Synced",
            Msg::SyncConflict => "Conflict: choose a version",
            Msg::SyncRejected => "Rejected by the server",
            Msg::StatusDraft => "Draft",
            Msg::StatusSubmitted => "Finished",
            Msg::NewTitle => "New inspection",
            Msg::EditTitle => "Inspection",
            Msg::NotFoundRecord => "This inspection is not on this device.",
            Msg::SecSite => "Site and location",
            Msg::SecVisit => "Visit and team",
            Msg::SecWorkers => "Workers found",
            Msg::SecIndicators => "Forced labour indicators (ILO)",
            Msg::SecFindings => "Findings",
            Msg::SecPeople => "People found",
            Msg::SecPhotos => "Photos",
            Msg::SecNotes => "Notes",
            Msg::Choose => "— choose —",
            Msg::FSiteName => "Site name",
            Msg::FSector => "Sector",
            Msg::FSectorOther => "Which sector?",
            Msg::FRegion => "Region",
            Msg::FDistrict => "District",
            Msg::FLocality => "Locality, hamlet or landmark",
            Msg::FGps => "Coordinates",
            Msg::GpsGet => "Get GPS location",
            Msg::GpsBusy => "Looking for a GPS fix…",
            Msg::GpsFailed => "No GPS fix. Type the coordinates by hand (for example from the team's GPS unit).",
            Msg::GpsAccuracy => "accuracy ± {n} m",
            Msg::GpsManual => "typed by hand",
            Msg::FLat => "Latitude",
            Msg::FLon => "Longitude",
            Msg::FAccess => "How the site was reached",
            Msg::FAccessNotes => "Access details",
            Msg::FVisitStart => "Visit start",
            Msg::FVisitEnd => "Visit end",
            Msg::FTeam => "Team",
            Msg::TeamAdd => "Add member",
            Msg::FTeamMember => "Member's name or user",
            Msg::Remove => "Remove",
            Msg::FAccompanied => "Accompanied by",
            Msg::FAccompaniedNotes => "Details (institution, positions)",
            Msg::FTotal => "Total workers",
            Msg::FWomen => "Women",
            Msg::FMen => "Men",
            Msg::FOtherSex => "Other / unknown",
            Msg::FUnder18 => "Under 18",
            Msg::FUnder14 => "Under 14",
            Msg::FIndigenous => "Indigenous",
            Msg::FForeign => "Foreign nationals",
            Msg::FNationalities => "Nationalities of foreign nationals",
            Msg::NationalityAdd => "Add nationality",
            Msg::FCount => "Count",
            Msg::FCountryName => "Country name",
            Msg::FSeen => "Seen",
            Msg::FStages => "When",
            Msg::FEvidence => "Evidence (what was seen or heard)",
            Msg::FFindings => "The team's conclusions",
            Msg::NoNames => "Never write names, ID numbers or phone numbers: use only the code. Identity is recorded separately, encrypted.",
            Msg::PersonAdd => "Add person",
            Msg::FCode => "Code",
            Msg::FAgeBand => "Age",
            Msg::FSex => "Sex",
            Msg::FNationality => "Nationality",
            Msg::FNationalityOther => "Which country?",
            Msg::FIndigenousPeople => "Indigenous people",
            Msg::FIndigenousOther => "Which people?",
            Msg::FNeeds => "Needs",
            Msg::FNeedsNotes => "Details of the needs",
            Msg::FReferralMade => "Referred",
            Msg::FReferralTo => "Referred to",
            Msg::FConsent => "Consent",
            Msg::FConsentBy => "Consent given by",
            Msg::PhotoAdd => "Take or choose a photo",
            Msg::PhotoBusy => "Shrinking the photo…",
            Msg::PhotoFailed => "This image could not be used.",
            Msg::PhotoAlt => "Inspection photo",
            Msg::FNotes => "Free notes",
            Msg::Saved => "Saved on this device",
            Msg::Saving => "Saving…",
            Msg::SaveFailed => "Could not save! Do not close the app:",
            Msg::Review => "Review and finish",
            Msg::SummaryTitle => "Summary before finishing",
            Msg::SummaryProblems => "Fix this before finishing:",
            Msg::SummaryReady => "Everything is complete. Once finished, the inspection is protected against changes and ready to go to the office with the next sync.",
            Msg::Submit => "Finish inspection",
            Msg::BackToForm => "Back to the form",
            Msg::ReadOnly => "Finished inspection: read only.",
            Msg::EditSubmitted => "Edit",
            Msg::EditConfirm => "This inspection is already finished. If you change it, it goes back to draft and must be finished again to be sent. The change will be recorded. Do you really want to change it?",
            Msg::EditYes => "Yes, change it",
            Msg::SyncStripLabel => "Sync status",
            Msg::SyncNothingPending => "Everything synced",
            Msg::SyncLast => "Last sync: {t}",
            Msg::SyncNever => "Never synced",
            Msg::SyncNow => "Sync now",
            Msg::SyncRunning => "Syncing… {done} of {total}",
            Msg::SyncFailed => "The last sync failed:",
            Msg::SyncUnavailable => "Syncing is not available in this version yet.",
            Msg::ConflictTitle => "Conflicting versions",
            Msg::ConflictIntro => "This inspection was changed on two devices. Choose the right value, field by field.",
            Msg::ConflictField => "Field",
            Msg::ConflictVersion => "Version {n}",
            Msg::ConflictResolve => "Save the chosen version",
            Msg::ConflictOpen => "Resolve the conflict",
            Msg::ConflictEmpty => "(empty)",
            Msg::ConflictSame => "The versions differ only in internal fields.",
            Msg::StorageTitle => "Storage on this device",
            Msg::StoragePersistent => "The browser will keep Chaski's data permanently.",
            Msg::StorageNotPersistent => "Warning: the browser does NOT promise to keep the data. When space runs low it could delete inspections that have not synced. Sync often, install Chaski on the home screen and ask again.",
            Msg::StorageAsk => "Ask for permanent storage",
            Msg::StorageUsage => "In use: {used} of {quota} available",
            Msg::StorageUnknown => "The browser does not report how much space is used.",
            Msg::ClientErrorsTitle => "App errors",
            Msg::ClientErrorsIntro => "Internal failures of the app on this device (the last 20). They are sent to the office with the next sync.",
            Msg::ClientErrorsNone => "None.",
            Msg::ClientErrorSent => "sent",
            Msg::ClientErrorUnsent => "not sent yet",
            Msg::ConflictKeepBoth => "Keep both",
            Msg::ConflictMine => "Marked in advance: this device's version ({device}). Change what needs changing.",
            Msg::ConflictNoneMine => "No version was made on this device: choose a value in every row.",
            Msg::ConflictThisDevice => "this device",
            Msg::ConflictChooseAll => "Choose a value in every row before saving.",
            Msg::RowEdited => "edited {t}",
            Msg::RowVisit => "Visit: {t}",
            Msg::StorageWarnShort => "This browser could delete the data when space runs low. Install Chaski on the home screen, then ask again for permanent storage in Settings.",
            Msg::StorageWarnDismiss => "Hide for today",
            Msg::PhotoBusyMany => "Shrinking photos: {done} of {total} done…",
            Msg::SyncNothingToSend => "Nothing to send",
            Msg::StorageInstall => "Install Chaski",
            Msg::Yes => "Yes",
            Msg::No => "No",
            Msg::OfficeTitle => "Regional office",
            Msg::OfficeAccount => "Your account belongs to the regional office: review and case follow-up are in the office app.",
            Msg::OfficeOpen => "Open the office app",
            Msg::IssuesBy => "Written by {by} on {at}",
            Msg::IssuesFix => "Correct and submit again",
            Msg::IssuesFixHint => "Correct what the note asks and submit the inspection again: the office will see it as resubmitted.",
        }
    }
}

/// Things the app counts, each with its singular and plural in every language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noun {
    Worker,
    IndicatorSeen,
    Person,
    Photo,
    /// Records in conflict, waiting for a person to choose.
    Conflict,
    /// Records the server refused.
    Rejected,
    /// Records not yet on the server.
    ToSync,
}

impl Noun {
    /// `(singular, plural)` in `lang`.
    fn forms(self, lang: Lang) -> (&'static str, &'static str) {
        match (self, lang) {
            (Noun::Worker, Lang::Es) => ("trabajador", "trabajadores"),
            (Noun::Worker, Lang::En) => ("worker", "workers"),
            (Noun::IndicatorSeen, Lang::Es) => ("indicador observado", "indicadores observados"),
            (Noun::IndicatorSeen, Lang::En) => ("indicator seen", "indicators seen"),
            (Noun::Person, Lang::Es) => ("persona", "personas"),
            (Noun::Person, Lang::En) => ("person", "people"),
            (Noun::Photo, Lang::Es) => ("foto", "fotos"),
            (Noun::Photo, Lang::En) => ("photo", "photos"),
            (Noun::Conflict, Lang::Es) => ("conflicto por resolver", "conflictos por resolver"),
            (Noun::Conflict, Lang::En) => ("conflict to resolve", "conflicts to resolve"),
            (Noun::Rejected, Lang::Es) => {
                ("rechazada por el servidor", "rechazadas por el servidor")
            }
            (Noun::Rejected, Lang::En) => ("rejected by the server", "rejected by the server"),
            (Noun::ToSync, Lang::Es) => ("por sincronizar", "por sincronizar"),
            (Noun::ToSync, Lang::En) => ("to sync", "to sync"),
        }
    }
}

/// `n` and the noun, singular for exactly one (both languages put zero in the plural).
pub fn counted(n: u64, noun: Noun, lang: Lang) -> String {
    let (one, many) = noun.forms(lang);
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Fills `{name}` placeholders of a translated message.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A domain value's name in the interface. Each implementation is one exhaustive `match`
/// returning `(Spanish, English)`, so a new sector or indicator cannot reach a tablet untranslated.
pub trait Label: Copy {
    fn pair(self) -> (&'static str, &'static str);
    fn label(self, lang: Lang) -> &'static str {
        let (es, en) = self.pair();
        match lang {
            Lang::Es => es,
            Lang::En => en,
        }
    }
}

impl Label for Region {
    fn pair(self) -> (&'static str, &'static str) {
        // Place names are Spanish in both languages.
        (self.name_es(), self.name_es())
    }
}

impl Label for CaseState {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            CaseState::AwaitingReview => ("Por revisar", "Awaiting review"),
            CaseState::HasIssues => ("Tiene observaciones", "Has issues"),
            CaseState::Resubmitted => ("Reenviada", "Resubmitted"),
            CaseState::Reviewed => ("Revisada", "Reviewed"),
            CaseState::Referred => ("Derivada", "Referred"),
            CaseState::InProsecution => ("En fiscalía", "In prosecution"),
            CaseState::Closed => ("Cerrada", "Closed"),
        }
    }
}

impl Label for Sector {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Sector::GoldMining => ("Minería aurífera (informal)", "Gold mining (informal)"),
            Sector::Logging => ("Tala / madera", "Logging"),
            Sector::Agriculture => ("Agricultura", "Agriculture"),
            Sector::BrickMaking => ("Ladrilleras", "Brick making"),
            Sector::DomesticWork => ("Trabajo doméstico", "Domestic work"),
            Sector::BarsAndNightclubs => ("Bares y discotecas", "Bars and nightclubs"),
            Sector::Fishing => ("Pesca", "Fishing"),
            Sector::Textile => ("Textil", "Textile"),
            Sector::Other => ("Otro", "Other"),
        }
    }
}

impl Label for Status {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Status::Draft => ("Borrador", "Draft"),
            Status::Submitted => ("Terminada", "Finished"),
        }
    }
}

impl Label for AccessMode {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            AccessMode::RiverBoat => ("Bote / río", "River boat"),
            AccessMode::Road => ("Carretera", "Road"),
            AccessMode::OnFoot => ("A pie", "On foot"),
            AccessMode::Air => ("Aéreo", "Air"),
            AccessMode::Other => ("Otro", "Other"),
        }
    }
}

impl Label for Companion {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Companion::Police => ("Policía", "Police"),
            Companion::Prosecutor => ("Fiscalía", "Prosecutor"),
            Companion::Ngo => ("ONG", "NGO"),
            Companion::Ombudsman => ("Defensoría del Pueblo", "Ombudsman"),
            Companion::Other => ("Otro", "Other"),
        }
    }
}

impl Label for Finding {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Finding::ForcedLabour => ("Trabajo forzoso", "Forced labour"),
            Finding::ChildLabour => ("Trabajo infantil", "Child labour"),
            Finding::SexualExploitation => ("Explotación sexual", "Sexual exploitation"),
            Finding::TraffickingSuspected => ("Sospecha de trata", "Trafficking suspected"),
        }
    }
}

impl Label for Indicator {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Indicator::AbuseOfVulnerability => {
                ("Abuso de vulnerabilidad", "Abuse of vulnerability")
            }
            Indicator::Deception => ("Engaño", "Deception"),
            Indicator::RestrictionOfMovement => {
                ("Restricción de movimiento", "Restriction of movement")
            }
            Indicator::Isolation => ("Aislamiento", "Isolation"),
            Indicator::PhysicalAndSexualViolence => {
                ("Violencia física y sexual", "Physical and sexual violence")
            }
            Indicator::IntimidationAndThreats => {
                ("Intimidación y amenazas", "Intimidation and threats")
            }
            Indicator::RetentionOfIdentityDocuments => (
                "Retención de documentos de identidad",
                "Retention of identity documents",
            ),
            Indicator::WithholdingOfWages => ("Retención de salarios", "Withholding of wages"),
            Indicator::DebtBondage => ("Servidumbre por deudas", "Debt bondage"),
            Indicator::AbusiveWorkingAndLivingConditions => (
                "Condiciones de trabajo y de vida abusivas",
                "Abusive working and living conditions",
            ),
            Indicator::ExcessiveOvertime => {
                ("Horas extraordinarias excesivas", "Excessive overtime")
            }
        }
    }
}

impl Label for Stage {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Stage::Recruitment => ("Reclutamiento", "Recruitment"),
            Stage::DuringWork => ("Durante el trabajo", "During work"),
            Stage::WhenTryingToLeave => ("Al intentar irse", "When trying to leave"),
        }
    }
}

impl Label for AgeBand {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            AgeBand::Under14 => ("Menor de 14", "Under 14"),
            AgeBand::From14To17 => ("14 a 17", "14 to 17"),
            AgeBand::From18To24 => ("18 a 24", "18 to 24"),
            AgeBand::From25To39 => ("25 a 39", "25 to 39"),
            AgeBand::From40To59 => ("40 a 59", "40 to 59"),
            AgeBand::From60 => ("60 o más", "60 or more"),
            AgeBand::Unknown => ("No se sabe", "Unknown"),
        }
    }
}

impl Label for Sex {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Sex::Female => ("Mujer", "Female"),
            Sex::Male => ("Hombre", "Male"),
            Sex::Other => ("Otro", "Other"),
            Sex::Unknown => ("No se sabe", "Unknown"),
        }
    }
}

impl Label for Nationality {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Nationality::Peru => ("Perú", "Peru"),
            Nationality::Venezuela => ("Venezuela", "Venezuela"),
            Nationality::Colombia => ("Colombia", "Colombia"),
            Nationality::Ecuador => ("Ecuador", "Ecuador"),
            Nationality::Bolivia => ("Bolivia", "Bolivia"),
            Nationality::Brazil => ("Brasil", "Brazil"),
            Nationality::China => ("China", "China"),
            Nationality::Other => ("Otro país", "Another country"),
        }
    }
}

impl Label for IndigenousPeople {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            IndigenousPeople::None => ("Ninguno", "None"),
            IndigenousPeople::Unknown => ("No se sabe", "Unknown"),
            IndigenousPeople::Achuar => ("Achuar", "Achuar"),
            IndigenousPeople::Ashaninka => ("Asháninka", "Asháninka"),
            IndigenousPeople::Awajun => ("Awajún", "Awajún"),
            IndigenousPeople::Aymara => ("Aimara", "Aymara"),
            IndigenousPeople::EseEja => ("Ese Eja", "Ese Eja"),
            IndigenousPeople::Harakbut => ("Harakbut", "Harakbut"),
            IndigenousPeople::Kichwa => ("Kichwa", "Kichwa"),
            IndigenousPeople::KukamaKukamiria => ("Kukama Kukamiria", "Kukama Kukamiria"),
            IndigenousPeople::Matsigenka => ("Matsigenka", "Matsigenka"),
            IndigenousPeople::Quechua => ("Quechua", "Quechua"),
            IndigenousPeople::Shawi => ("Shawi", "Shawi"),
            IndigenousPeople::ShipiboKonibo => ("Shipibo-Konibo", "Shipibo-Konibo"),
            IndigenousPeople::Wampis => ("Wampis", "Wampis"),
            IndigenousPeople::Yanesha => ("Yanesha", "Yanesha"),
            IndigenousPeople::Yine => ("Yine", "Yine"),
            IndigenousPeople::Other => ("Otro", "Other"),
        }
    }
}

impl Label for Need {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Need::Medical => ("Atención médica", "Medical"),
            Need::Shelter => ("Albergue", "Shelter"),
            Need::Legal => ("Asesoría legal", "Legal"),
            Need::Psychological => ("Apoyo psicológico", "Psychological"),
            Need::Other => ("Otra", "Other"),
        }
    }
}

impl Label for ReferralTarget {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            ReferralTarget::Police => ("Policía", "Police"),
            ReferralTarget::Prosecutor => ("Fiscalía", "Prosecutor"),
            ReferralTarget::Shelter => ("Albergue", "Shelter"),
            ReferralTarget::Ngo => ("ONG", "NGO"),
            ReferralTarget::MinistryServices => ("Servicios del Ministerio", "Ministry services"),
        }
    }
}

impl Label for ConsentStatus {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            ConsentStatus::Given => ("Dado", "Given"),
            ConsentStatus::Refused => ("Negado", "Refused"),
            ConsentStatus::NotAsked => ("No se preguntó", "Not asked"),
        }
    }
}

impl Label for ConsentBy {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            ConsentBy::Self_ => ("La persona", "The person"),
            ConsentBy::Guardian => ("Tutor o familiar", "Guardian"),
            ConsentBy::Authority => ("Autoridad", "Authority"),
        }
    }
}

impl Label for Rule {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Rule::SexCountsSum => ("Mujeres + hombres + otro deben sumar el total.", "Women + men + other must add up to the total."),
            Rule::ExceedsTotal => ("No puede ser mayor que el total de trabajadores.", "Cannot exceed the total of workers."),
            Rule::Under14ExceedsUnder18 => ("No puede ser mayor que los menores de 18 (todo menor de 14 también es menor de 18).", "Cannot exceed the under-18s (every child under 14 is also under 18)."),
            Rule::NationalitiesExceedForeign => ("Las nacionalidades suman más personas que los extranjeros.", "The nationalities count more people than the foreign nationals."),
            Rule::PeruIsNotForeign => ("Perú no puede ser una nacionalidad extranjera.", "Peru cannot be a foreign nationality."),
            Rule::EndBeforeStart => ("La visita no puede terminar antes de empezar.", "The visit cannot end before it starts."),
            Rule::ChildLabourWithoutMinors => ("Trabajo infantil requiere al menos un menor contado o registrado.", "Child labour needs at least one minor counted or listed."),
            Rule::FindingWithoutIndicators => ("Esta conclusión requiere al menos un indicador observado, con su evidencia.", "This finding needs at least one indicator seen, with its evidence."),
            Rule::NotSeenButDetailed => ("Un indicador no observado no puede tener etapas ni evidencia.", "An indicator not seen cannot have stages or evidence."),
            Rule::MinorConsentBySelf => ("El consentimiento de un menor lo da un tutor o una autoridad.", "A minor's consent is given by a guardian or an authority."),
            Rule::ReferralTargetsButNotMade => ("Hay destinos de derivación pero la derivación figura como no hecha.", "Referral targets are listed but the referral is marked as not made."),
            Rule::EventInspectionMismatch => ("No coincide con la inspección.", "Does not match the inspection."),
            Rule::SentenceWithoutConviction => ("Solo una condena lleva sentencia.", "Only a conviction carries a sentence."),
            Rule::ConvictionWithoutSentence => ("Una condena necesita su sentencia.", "A conviction needs its sentence."),
            Rule::GpsSourceWithoutPoint => ("La fuente es GPS pero no hay punto GPS.", "The source is GPS but there is no GPS point."),
            Rule::SupersedesItself => ("Un evento no puede corregirse a sí mismo.", "An event cannot supersede itself."),
            Rule::EventOfAnotherInspection => ("Debe ser un evento de la misma inspección.", "Must be an event of the same inspection."),
            Rule::ConsentByWithoutConsent => ("Quién consintió se registra solo si se dio el consentimiento.", "Who consented is recorded only when consent was given."),
            Rule::FineWithoutInfraction => ("La multa en UIT corresponde solo a una infracción laboral.", "A fine in UIT goes only with a labour infraction."),
            Rule::FineWithoutConviction => ("Solo una condena lleva multa.", "Only a conviction carries a fine."),
        }
    }
}

/// A validation error in the user's language, to show next to its field.
pub fn error_text(code: &ErrorCode, lang: Lang) -> String {
    let pick = |es: &str, en: &str| match lang {
        Lang::Es => es.to_string(),
        Lang::En => en.to_string(),
    };
    match code {
        ErrorCode::Required => pick("Obligatorio.", "Required."),
        ErrorCode::WrongType { expected } => match expected {
            JsonType::Integer => pick(
                "Escriba un número entero (0 o más).",
                "Type a whole number (0 or more).",
            ),
            JsonType::Number => pick("Escriba un número.", "Type a number."),
            _ => pick("Valor no válido.", "Invalid value."),
        },
        ErrorCode::TooLong { max } => match lang {
            Lang::Es => format!("Máximo {max} caracteres."),
            Lang::En => format!("At most {max} characters."),
        },
        ErrorCode::TooMany { max } => match lang {
            Lang::Es => format!("Máximo {max} elementos."),
            Lang::En => format!("At most {max} items."),
        },
        ErrorCode::OutOfRange { min, max } => match lang {
            Lang::Es => format!(
                "Debe estar entre {} y {}.",
                num::shortest(*min),
                num::shortest(*max)
            ),
            Lang::En => format!(
                "Must be between {} and {}.",
                num::shortest(*min),
                num::shortest(*max)
            ),
        },
        ErrorCode::NotInList { .. } => pick(
            "Elija un valor de la lista.",
            "Choose a value from the list.",
        ),
        ErrorCode::BadFormat { expected } => match expected {
            Format::Rfc3339 => pick("Fecha y hora no válidas.", "Invalid date and time."),
            Format::PersonCode => pick("Use un código como P-001.", "Use a code like P-001."),
            Format::UitAmount => pick(
                "Un monto en UIT con hasta dos decimales, como 2.25.",
                "An amount of UIT with at most two decimals, like 2.25.",
            ),
            _ => pick("Formato no válido.", "Invalid format."),
        },
        ErrorCode::Duplicate => pick("Está repetido.", "Listed twice."),
        ErrorCode::Inconsistent { rule } => rule.label(lang).to_string(),
        ErrorCode::ClearIdentity => pick(
            "Nombres, documentos y contactos de las personas nunca se escriben aquí.",
            "Names, ID numbers and contact details of people never go here.",
        ),
        ErrorCode::UnknownField => pick("Campo no permitido.", "Field not allowed."),
        ErrorCode::LatLonSwapped => pick(
            "Latitud y longitud parecen invertidas (Perú está cerca de latitud -10, longitud -75).",
            "Latitude and longitude look swapped (Peru is near latitude -10, longitude -75).",
        ),
        ErrorCode::MissingAttachment => pick(
            "Falta el archivo de la foto.",
            "The photo's file is missing.",
        ),
        ErrorCode::NotJpeg => pick("La foto debe ser JPEG.", "The photo must be a JPEG."),
        ErrorCode::TooLarge { max_bytes } => match lang {
            Lang::Es => format!("La foto supera {} KB.", max_bytes / 1024),
            Lang::En => format!("The photo exceeds {} KB.", max_bytes / 1024),
        },
        ErrorCode::RegionMismatch { .. } => pick(
            "La región no corresponde a la base de datos de destino.",
            "The region does not match the target database.",
        ),
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

    /// The message with its `{name}` placeholders filled (tracked).
    pub fn f(self, msg: Msg, args: &[(&str, &str)]) -> String {
        fill(self.t(msg), args)
    }

    /// A domain value's name in the current language (tracked).
    pub fn l(self, value: impl Label) -> &'static str {
        value.label(self.lang.get())
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

    #[test]
    fn counts_use_the_singular_for_one_only() {
        assert_eq!(counted(1, Noun::Person, Lang::Es), "1 persona");
        assert_eq!(counted(1, Noun::Photo, Lang::En), "1 photo");
        assert_eq!(counted(0, Noun::Photo, Lang::Es), "0 fotos");
        assert_eq!(counted(3, Noun::Person, Lang::En), "3 people");
        assert_eq!(
            counted(1, Noun::Conflict, Lang::Es),
            "1 conflicto por resolver"
        );
    }
}
