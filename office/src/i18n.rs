//! The office's own words, Spanish and English, in the inspector app's scheme: each is a
//! variant with its `(Spanish, English)` pair, shown through the shared language context
//! ([`chaski_client::i18n::I18n`]), so the language chosen in either app holds in both.
//!
//! Domain values (sectors, indicators, findings, regions, validation messages) reuse the
//! inspector app's translations.

use chaski_client::i18n::{use_i18n, Label};

/// A message of the office app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum O {
    Brand,
    InboxTitle,
    FilterState,
    FilterSector,
    FilterFrom,
    FilterTo,
    FilterDistrict,
    FilterFinding,
    FilterIndicators,
    FilterText,
    FilterTextHint,
    Any,
    ColState,
    ColSite,
    ColInspector,
    ColDate,
    ColSector,
    ColPeople,
    ColWaiting,
    Days,
    Loading,
    NoRows,
    Shown,
    Prev,
    Next,
    LoadFailed,
    NotOffice,
    OpenInspectorApp,
    NoRegion,
    Region,
    BackToInbox,
    Timeline,
    TimelineEmpty,
    Superseded,
    By,
    Device,
    ChangedSinceReview,
    NothingChanged,
    Photos,
    NoPhotos,
    PhotoFailed,
    Actions,
    ActReviewed,
    ActHasIssues,
    ActReferred,
    ActReferralUpdate,
    ActProsecution,
    ActOutcome,
    Save,
    Saving,
    FixFields,
    Refused,
    Note,
    People,
    Service,
    ServiceOther,
    Consent,
    ConsentBy,
    Reference,
    Referral,
    Status,
    Reason,
    ProsecutorOffice,
    CaseNumber,
    Offence,
    FineUit,
    Outcome,
    SentenceYears,
    SentenceMonths,
    LifeSentence,
    Court,
    Supersedes,
    Gaps,
    Referrals,
    Prosecution,
    OpenIssue,
    Choose,
}

impl Label for O {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            O::Brand => ("Chaski · Oficina", "Chaski · Office"),
            O::InboxTitle => ("Bandeja de inspecciones", "Inspections inbox"),
            O::FilterState => ("Estado del caso", "Case state"),
            O::FilterSector => ("Sector", "Sector"),
            O::FilterFrom => ("Desde", "From"),
            O::FilterTo => ("Hasta", "To"),
            O::FilterDistrict => ("Distrito", "District"),
            O::FilterFinding => ("Conclusión", "Finding"),
            O::FilterIndicators => ("Indicadores (cualquiera de)", "Indicators (any of)"),
            O::FilterText => ("Buscar", "Search"),
            O::FilterTextHint => ("Lugar o código", "Site or code"),
            O::Any => ("Todos", "All"),
            O::ColState => ("Estado", "State"),
            O::ColSite => ("Lugar · código", "Site · code"),
            O::ColInspector => ("Inspector(a)", "Inspector"),
            O::ColDate => ("Visita", "Visit"),
            O::ColSector => ("Sector", "Sector"),
            O::ColPeople => ("Personas", "People"),
            O::ColWaiting => ("Espera", "Waiting"),
            O::Days => ("{n} d", "{n} d"),
            O::Loading => ("Cargando…", "Loading…"),
            O::NoRows => ("Ninguna inspección coincide.", "No inspection matches."),
            O::Shown => ("{from}–{to} de {total}", "{from}–{to} of {total}"),
            O::Prev => ("Anteriores", "Previous"),
            O::Next => ("Siguientes", "Next"),
            O::LoadFailed => ("No se pudo cargar:", "Could not load:"),
            O::NotOffice => (
                "Esta aplicación es de la oficina regional (supervisores y administradores).",
                "This app is the regional office's (supervisors and administrators).",
            ),
            O::OpenInspectorApp => (
                "Abrir la aplicación del inspector",
                "Open the inspector's app",
            ),
            O::NoRegion => (
                "Su cuenta no tiene región asignada: pida una a la oficina nacional.",
                "Your account has no region: ask the national office for one.",
            ),
            O::Region => ("Región", "Region"),
            O::BackToInbox => ("← Bandeja", "← Inbox"),
            O::Timeline => ("Historia del caso", "Case timeline"),
            O::TimelineEmpty => ("Aún no hay eventos.", "No events yet."),
            O::Superseded => (
                "corregido por un evento posterior",
                "corrected by a later event",
            ),
            O::By => ("por", "by"),
            O::Device => ("dispositivo", "device"),
            O::ChangedSinceReview => ("Cambios desde la revisión", "Changed since the review"),
            O::NothingChanged => ("Ningún campo cambió.", "No field changed."),
            O::Photos => ("Fotos", "Photos"),
            O::NoPhotos => ("Sin fotos.", "No photos."),
            O::PhotoFailed => ("No se pudo cargar la foto.", "Could not load the photo."),
            O::Actions => ("Acciones", "Actions"),
            O::ActReviewed => ("Revisado", "Reviewed"),
            O::ActHasIssues => ("Tiene observaciones", "Has issues"),
            O::ActReferred => ("Derivar personas", "Refer people"),
            O::ActReferralUpdate => ("Estado de una derivación", "Referral update"),
            O::ActProsecution => ("Denuncia en fiscalía", "Prosecution opened"),
            O::ActOutcome => ("Resultado del caso", "Case outcome"),
            O::Save => ("Registrar", "Record"),
            O::Saving => ("Registrando…", "Recording…"),
            O::FixFields => ("Corrija los campos marcados.", "Correct the fields marked."),
            O::Refused => ("El servidor no lo aceptó:", "The server refused it:"),
            O::Note => ("Nota", "Note"),
            O::People => ("Personas (códigos)", "People (codes)"),
            O::Service => ("Servicio", "Service"),
            O::ServiceOther => ("Otro servicio (cuál)", "Other service (which)"),
            O::Consent => ("Consentimiento", "Consent"),
            O::ConsentBy => ("Consentimiento dado por", "Consent given by"),
            O::Reference => (
                "Referencia de la institución",
                "Receiving institution's reference",
            ),
            O::Referral => ("Derivación", "Referral"),
            O::Status => ("Estado", "Status"),
            O::Reason => ("Motivo", "Reason"),
            O::ProsecutorOffice => ("Fiscalía", "Prosecutor's office"),
            O::CaseNumber => ("Número de caso", "Case number"),
            O::Offence => ("Delito o infracción", "Offence or infraction"),
            O::FineUit => ("Multa (UIT)", "Fine (UIT)"),
            O::Outcome => ("Resultado", "Outcome"),
            O::SentenceYears => ("Pena (años)", "Sentence (years)"),
            O::SentenceMonths => ("Pena (meses)", "Sentence (months)"),
            O::LifeSentence => ("Cadena perpetua", "Life imprisonment"),
            O::Court => ("Juzgado", "Court"),
            O::Supersedes => (
                "Corrige el evento (opcional)",
                "Corrects the event (optional)",
            ),
            O::Gaps => ("Pasos que faltan", "Missing steps"),
            O::Referrals => ("Derivaciones", "Referrals"),
            O::Prosecution => ("Proceso penal", "Prosecution"),
            O::OpenIssue => ("Observación pendiente", "Open issue"),
            O::Choose => ("Elija…", "Choose…"),
        }
    }
}

/// A reactive text for `msg`, for use directly in `view!`.
pub fn ot(msg: O) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let i18n = use_i18n();
    move || i18n.l(msg)
}

/// A table of wire codes with their names: `(code, Spanish, English)`.
pub type Codes = &'static [(&'static str, &'static str, &'static str)];

/// A wire code's name: `(code, Spanish, English)` tables for the choices of case events.
pub fn code_label(table: &[(&str, &'static str, &'static str)], code: &str, en: bool) -> String {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, es, e)| if en { *e } else { *es }.to_string())
        .unwrap_or_else(|| code.to_string())
}

/// Services a person may be referred to.
pub const SERVICES: &[(&str, &str, &str)] = &[
    ("police", "Policía (PNP)", "Police (PNP)"),
    ("prosecutor", "Fiscalía", "Prosecutor (Fiscalía)"),
    (
        "shelter",
        "Albergue (CAR / Hogar de refugio temporal)",
        "Shelter (CAR / temporary refuge)",
    ),
    ("health", "Salud", "Health"),
    ("mimp_cem", "MIMP / CEM", "MIMP / CEM"),
    ("consulate", "Consulado", "Consulate"),
    ("ngo", "ONG", "NGO"),
    ("other", "Otro", "Other"),
];

pub const CONSENTS: &[(&str, &str, &str)] = &[
    ("given", "Dado", "Given"),
    ("refused", "Rechazado", "Refused"),
    ("not_asked", "No se preguntó", "Not asked"),
];

pub const CONSENT_BY: &[(&str, &str, &str)] = &[
    ("self", "La persona", "The person"),
    ("guardian", "Tutor(a)", "Guardian"),
    ("authority", "Autoridad", "Authority"),
];

pub const REFERRAL_STATUS: &[(&str, &str, &str)] = &[
    ("sent", "Enviada", "Sent"),
    ("received", "Recibida", "Received"),
    ("attended", "Atendida", "Attended"),
    ("declined", "Rechazada", "Declined"),
];

pub const OFFENCES: &[(&str, &str, &str)] = &[
    ("cp_153", "CP art. 153 (trata)", "CP art. 153 (trafficking)"),
    (
        "cp_153a",
        "CP art. 153-A (trata agravada)",
        "CP art. 153-A (aggravated trafficking)",
    ),
    (
        "cp_153b",
        "CP art. 153-B (explotación sexual)",
        "CP art. 153-B (sexual exploitation)",
    ),
    (
        "cp_153c",
        "CP art. 153-C (esclavitud y otras formas de explotación)",
        "CP art. 153-C (slavery and other exploitation)",
    ),
    (
        "cp_168b",
        "CP art. 168-B (trabajo forzoso)",
        "CP art. 168-B (forced labour)",
    ),
    (
        "labour_infraction",
        "Infracción laboral muy grave (SUNAFIL)",
        "Very serious labour infraction (SUNAFIL)",
    ),
];

pub const OUTCOMES: &[(&str, &str, &str)] = &[
    ("conviction", "Condena", "Conviction"),
    ("acquittal", "Absolución", "Acquittal"),
    ("archived", "Archivado", "Archived"),
    ("closed", "Cerrado", "Closed"),
];

pub const KINDS: &[(&str, &str, &str)] = &[
    ("reviewed", "Revisado", "Reviewed"),
    ("has_issues", "Tiene observaciones", "Has issues"),
    ("referred", "Derivación", "Referral"),
    ("referral_update", "Estado de derivación", "Referral update"),
    (
        "prosecution_opened",
        "Denuncia en fiscalía",
        "Prosecution opened",
    ),
    ("outcome", "Resultado", "Outcome"),
];
