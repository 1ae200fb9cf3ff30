//! People found at a site (possible victims): searchable, pseudonymous fields, and one sealed
//! field for everything that identifies them.
//!
//! Names, identity numbers and contact details are the most sensitive data in the system: a
//! trafficker who reads them can find and threaten a witness. They only ever travel inside
//! [`SealedIdentity`] (encrypted on the device to the regional office's key), and a person object
//! carrying any of them in clear is refused outright, not stripped, so the device that sent it
//! learns at once.

use serde::Serialize;
use serde_json::{Map, Value};

use super::validate::{choice, index, is_empty, join, ErrorCode, Errors, Format, Obj, Rule};

/// Longest ciphertext of a sealed identity, in bytes once decoded: room for names, several
/// identity documents and a phone number, not for photos.
pub const MAX_SEALED_BYTES: usize = 4096;

/// Longest free-text note on a person, in characters.
pub const MAX_PERSON_NOTE_CHARS: usize = 1000;

choice! {
    /// An age band, coarse on purpose: exact ages identify, and the law's thresholds (14, 18)
    /// are band edges.
    pub enum AgeBand {
        Under14 = "under_14",
        From14To17 = "14_17",
        From18To24 = "18_24",
        From25To39 = "25_39",
        From40To59 = "40_59",
        From60 = "60_plus",
        Unknown = "unknown",
    }
}

impl AgeBand {
    /// Under 18.
    pub fn is_minor(self) -> bool {
        matches!(self, AgeBand::Under14 | AgeBand::From14To17)
    }
}

choice! {
    /// Sex as recorded by the team.
    pub enum Sex {
        Female = "female",
        Male = "male",
        Other = "other",
        Unknown = "unknown",
    }
}

choice! {
    /// A nationality (ISO 3166 alpha-2) among those seen in Peru's trafficking cases; anything
    /// else is `other`, with its name in free text.
    pub enum Nationality {
        Peru = "PE",
        Venezuela = "VE",
        Colombia = "CO",
        Ecuador = "EC",
        Bolivia = "BO",
        Brazil = "BR",
        China = "CN",
        Other = "other",
    }
}

choice! {
    /// An indigenous people: the main Amazonian peoples, the Andean peoples many mining workers
    /// come from, or none / unknown / other.
    pub enum IndigenousPeople {
        None = "none",
        Unknown = "unknown",
        Achuar = "achuar",
        Ashaninka = "ashaninka",
        Awajun = "awajun",
        Aymara = "aymara",
        EseEja = "ese_eja",
        Harakbut = "harakbut",
        Kichwa = "kichwa",
        KukamaKukamiria = "kukama_kukamiria",
        Matsigenka = "matsigenka",
        Quechua = "quechua",
        Shawi = "shawi",
        ShipiboKonibo = "shipibo_konibo",
        Wampis = "wampis",
        Yanesha = "yanesha",
        Yine = "yine",
        Other = "other",
    }
}

choice! {
    /// What a person found needs.
    pub enum Need {
        Medical = "medical",
        Shelter = "shelter",
        Legal = "legal",
        Psychological = "psychological",
        Other = "other",
    }
}

choice! {
    /// Where a person or a case is referred.
    pub enum ReferralTarget {
        Police = "police",
        Prosecutor = "prosecutor",
        Shelter = "shelter",
        Ngo = "ngo",
        MinistryServices = "ministry_services",
    }
}

choice! {
    /// Whether the person agreed to what was recorded and to being referred.
    pub enum ConsentStatus {
        Given = "given",
        Refused = "refused",
        NotAsked = "not_asked",
    }
}

choice! {
    /// Who gave consent: the person, or for a minor a guardian or an authority.
    pub enum ConsentBy {
        Self_ = "self",
        Guardian = "guardian",
        Authority = "authority",
    }
}

/// A pseudonymous code, `P-` and 3 to 6 digits (`P-001`), unique within its inspection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PersonCode(String);

impl PersonCode {
    /// Checks the format.
    pub fn parse(code: &str) -> Option<PersonCode> {
        let digits = code.strip_prefix("P-")?;
        if (3..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Some(PersonCode(code.to_string()))
        } else {
            None
        }
    }

    /// The `n`th code of an inspection (`P-001` for 1).
    pub fn nth(n: u32) -> PersonCode {
        PersonCode(format!("P-{n:03}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An identity sealed to a regional office's key. Only its shape and size are checked here:
/// the server stores and relays it without ever being able to open it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SealedIdentity {
    /// The sealing scheme: [`crate::sealed::ALG`].
    pub alg: String,
    /// Which of the regional office's keys it is sealed to (`loreto-0123456789abcdef`).
    pub recipient_key_id: String,
    /// The ciphertext, standard base64.
    pub ciphertext_b64: String,
}

/// Consent, and who gave it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct Consent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ConsentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_by: Option<ConsentBy>,
}

/// Whether the person was referred, and to whom.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct Referral {
    pub made: bool,
    #[serde(skip_serializing_if = "is_empty")]
    pub to: Vec<ReferralTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A person found (possible victim).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonFound {
    pub code: PersonCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_band: Option<AgeBand>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality: Option<Nationality>,
    /// The country's name when `nationality` is `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality_other: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indigenous_people: Option<IndigenousPeople>,
    /// The people's name when `indigenous_people` is `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indigenous_people_other: Option<String>,
    #[serde(skip_serializing_if = "is_empty")]
    pub needs: Vec<Need>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_notes: Option<String>,
    pub referral: Referral,
    pub consent: Consent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedIdentity>,
}

/// Keys (compared lowercased, without `_`, `-` or spaces) that can only hold identifying data,
/// in English and Spanish. Contact details and birth dates identify as surely as a name.
const CLEAR_IDENTITY_KEYS: &[&str] = &[
    "dni",
    "ce",
    "ruc",
    "passport",
    "pasaporte",
    "documentnumber",
    "docnumber",
    "documento",
    "numerodocumento",
    "nrodocumento",
    "documentoidentidad",
    "iddocument",
    "idnumber",
    "nationalid",
    "identitynumber",
    "identitydocument",
    "cedula",
    "carnet",
    "carnetextranjeria",
    "phone",
    "telephone",
    "mobile",
    "telefono",
    "celular",
    "email",
    "correo",
    "address",
    "direccion",
    "domicilio",
    "birthdate",
    "dateofbirth",
    "dob",
    "fechanacimiento",
    "fechadenacimiento",
];

/// Fragments that mark a key as a name of the person, wherever they appear in it
/// (`name`, `full_name`, `first_name`, `nombres`, `apellido_paterno`, `alias`…).
const CLEAR_NAME_FRAGMENTS: &[&str] = &["name", "nombre", "apellido", "alias", "apodo"];

/// Whether `key` names identifying data that must be sealed.
pub fn is_clear_identity_key(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    CLEAR_IDENTITY_KEYS.contains(&norm.as_str())
        || CLEAR_NAME_FRAGMENTS.iter().any(|f| norm.contains(f))
}

/// Reports every clear identity key in `map` and in the objects nested in it (except `sealed`,
/// which is checked field by field).
fn reject_clear_identity(map: &Map<String, Value>, path: &str, errs: &mut Errors) {
    for (key, value) in map {
        if key == "sealed" {
            continue;
        }
        let at = join(path, key);
        if is_clear_identity_key(key) {
            errs.push(&at, ErrorCode::ClearIdentity);
        } else if let Value::Object(inner) = value {
            reject_clear_identity(inner, &at, errs);
        }
    }
}

fn parse_sealed(map: &Map<String, Value>, path: &str, errs: &mut Errors) -> Option<SealedIdentity> {
    let o = Obj::new(map, path);
    // Unlike elsewhere, unknown fields are refused: anything next to the ciphertext would be in
    // clear, and this is exactly where a careless client would put a name.
    for key in map.keys() {
        if !matches!(key.as_str(), "alg" | "recipient_key_id" | "ciphertext_b64") {
            errs.push(o.at(key), ErrorCode::UnknownField);
        }
    }
    let alg = o.text("alg", 64, errs);
    let recipient_key_id = o.text("recipient_key_id", 128, errs);
    // Base64 is 4/3 the size of the bytes; the decoded size is checked below.
    let ciphertext = o.text("ciphertext_b64", MAX_SEALED_BYTES * 4 / 3 + 4, errs);
    errs.require(o.at("alg"), &alg);
    errs.require(o.at("recipient_key_id"), &recipient_key_id);
    errs.require(o.at("ciphertext_b64"), &ciphertext);
    if alg.as_deref().is_some_and(|a| a != crate::sealed::ALG) {
        errs.push(
            o.at("alg"),
            ErrorCode::BadFormat {
                expected: Format::SealAlg,
            },
        );
    }
    if recipient_key_id
        .as_deref()
        .is_some_and(|id| !crate::sealed::valid_key_id(id))
    {
        errs.push(
            o.at("recipient_key_id"),
            ErrorCode::BadFormat {
                expected: Format::SealKeyId,
            },
        );
    }
    if let Some(c) = &ciphertext {
        match crate::b64::decode(c).ok_or(()) {
            Ok(bytes) if bytes.len() > MAX_SEALED_BYTES => errs.push(
                o.at("ciphertext_b64"),
                ErrorCode::TooLarge {
                    max_bytes: MAX_SEALED_BYTES as u64,
                },
            ),
            Ok(bytes) if bytes.len() < crate::sealed::MIN_CIPHERTEXT => errs.push(
                o.at("ciphertext_b64"),
                ErrorCode::BadFormat {
                    expected: Format::SealedCiphertext,
                },
            ),
            Ok(_) => {}
            Err(_) => errs.push(
                o.at("ciphertext_b64"),
                ErrorCode::BadFormat {
                    expected: Format::Base64,
                },
            ),
        }
    }
    Some(SealedIdentity {
        alg: alg?,
        recipient_key_id: recipient_key_id?,
        ciphertext_b64: ciphertext?,
    })
}

impl PersonFound {
    /// Parses one person at `path` (`people[2]`); `None` when it cannot be used at all.
    pub(crate) fn parse(value: &Value, path: &str, errs: &mut Errors) -> Option<PersonFound> {
        let map = super::validate::object_value(value, path, errs)?;
        reject_clear_identity(map, path, errs);
        let o = Obj::new(map, path);
        let code = match o.text("code", 16, errs) {
            Some(text) => match PersonCode::parse(&text) {
                Some(c) => Some(c),
                None => {
                    errs.push(
                        o.at("code"),
                        ErrorCode::BadFormat {
                            expected: Format::PersonCode,
                        },
                    );
                    None
                }
            },
            // The code is how events and reports refer to the person, even in a draft.
            None => {
                errs.push(o.at("code"), ErrorCode::Required);
                None
            }
        };
        let referral = match o.object("referral", errs) {
            Some(m) => {
                let at = o.at("referral");
                let r = Obj::new(m, &at);
                Referral {
                    made: r.boolean("made", errs).unwrap_or(false),
                    to: r.choices("to", errs),
                    notes: r.text("notes", MAX_PERSON_NOTE_CHARS, errs),
                }
            }
            None => Referral::default(),
        };
        let consent = match o.object("consent", errs) {
            Some(m) => {
                let at = o.at("consent");
                let c = Obj::new(m, &at);
                Consent {
                    status: c.choice("status", errs),
                    given_by: c.choice("given_by", errs),
                }
            }
            None => Consent::default(),
        };
        let sealed = o
            .object("sealed", errs)
            .and_then(|m| parse_sealed(m, &o.at("sealed"), errs));
        let person = PersonFound {
            code: code?,
            age_band: o.choice("age_band", errs),
            sex: o.choice("sex", errs),
            nationality: o.choice("nationality", errs),
            nationality_other: o.text("nationality_other", 100, errs),
            indigenous_people: o.choice("indigenous_people", errs),
            indigenous_people_other: o.text("indigenous_people_other", 100, errs),
            needs: o.choices("needs", errs),
            needs_notes: o.text("needs_notes", MAX_PERSON_NOTE_CHARS, errs),
            referral,
            consent,
            sealed,
        };
        Some(person)
    }

    /// What a submitted record needs of a person: the figures reports count (age band, sex),
    /// and consent that would stand up in court.
    pub(crate) fn submission_rules(&self, path: &str, errs: &mut Errors) {
        let at = |k: &str| join(path, k);
        errs.require(at("age_band"), &self.age_band);
        errs.require(at("sex"), &self.sex);
        if self.nationality == Some(Nationality::Other) {
            errs.require(at("nationality_other"), &self.nationality_other);
        }
        if self.indigenous_people == Some(IndigenousPeople::Other) {
            errs.require(at("indigenous_people_other"), &self.indigenous_people_other);
        }
        if self.needs.contains(&Need::Other) {
            errs.require(at("needs_notes"), &self.needs_notes);
        }
        if self.referral.made && self.referral.to.is_empty() {
            errs.push(join(&at("referral"), "to"), ErrorCode::Required);
        }
        if !self.referral.made && !self.referral.to.is_empty() {
            errs.push(
                join(&at("referral"), "made"),
                ErrorCode::Inconsistent {
                    rule: Rule::ReferralTargetsButNotMade,
                },
            );
        }
        errs.require(join(&at("consent"), "status"), &self.consent.status);
        if self.consent.status == Some(ConsentStatus::Given) {
            let minor = self.age_band.is_some_and(AgeBand::is_minor);
            match self.consent.given_by {
                None => errs.push(join(&at("consent"), "given_by"), ErrorCode::Required),
                Some(ConsentBy::Self_) if minor => errs.push(
                    join(&at("consent"), "given_by"),
                    ErrorCode::Inconsistent {
                        rule: Rule::MinorConsentBySelf,
                    },
                ),
                Some(_) => {}
            }
        }
    }

    /// Whether this person is under 18.
    pub fn is_minor(&self) -> bool {
        self.age_band.is_some_and(AgeBand::is_minor)
    }
}

/// Parses `people`, refusing a code used twice (events and reports refer to people by it).
pub(crate) fn parse_people(items: &[Value], path: &str, errs: &mut Errors) -> Vec<PersonFound> {
    let mut people: Vec<PersonFound> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = index(path, i);
        if let Some(p) = PersonFound::parse(item, &at, errs) {
            if people.iter().any(|q| q.code == p.code) {
                errs.push(join(&at, "code"), ErrorCode::Duplicate);
            }
            people.push(p);
        }
    }
    people
}
