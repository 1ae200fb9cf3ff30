//! Field errors (what went wrong, and where, in a form the client can translate) and the small
//! JSON reader every domain parser uses to collect all of them in one pass.
//!
//! Parsers do not stop at the first problem: an inspector fixing a form wants every message at
//! once, next to its field, so each reader method records its error and returns `None`.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::time::Timestamp;

/// The JSON type a field should have had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonType {
    String,
    /// A whole, non-negative number (counts, years).
    Integer,
    Number,
    Boolean,
    Object,
    Array,
}

/// The textual format a field should have had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// RFC 3339 date-time with an offset, e.g. `2026-11-28T08:30:00-05:00`.
    Rfc3339,
    /// A person's pseudonymous code: `P-` and 3 to 6 digits, e.g. `P-001`.
    PersonCode,
    /// Standard base64 (with padding).
    Base64,
    /// `inspection:<something>`.
    InspectionId,
    /// `event:<inspection id>:<something>`.
    CaseEventId,
    /// A revision id, `N-hash`.
    RevId,
    /// An amount of UIT with at most two decimals.
    UitAmount,
    /// The sealing scheme's name ([`crate::sealed::ALG`]).
    SealAlg,
    /// A sealing key's id: `<region>-` and 16 lowercase hex digits.
    SealKeyId,
    /// A sealed value's ciphertext: HPKE's output, at least [`crate::sealed::MIN_CIPHERTEXT`]
    /// bytes (an empty plaintext) once decoded.
    SealedCiphertext,
    /// A photo that shows people: sealed on the device, with content type
    /// [`crate::sealed::SEALED_CONTENT_TYPE`].
    SealedPhoto,
    /// The bytes of a sealed attachment: [`crate::sealed::check_envelope`]'s shape.
    SealedEnvelope,
}

impl Format {
    fn en(self) -> &'static str {
        match self {
            Format::Rfc3339 => "a date and time like 2026-11-28T08:30:00-05:00",
            Format::PersonCode => "a code like P-001",
            Format::Base64 => "base64 text",
            Format::InspectionId => "an id starting with inspection:",
            Format::CaseEventId => "an id like event:<inspection id>:<event id>",
            Format::RevId => "a revision like 3-9f2c4e1a",
            Format::UitAmount => "an amount of UIT with at most two decimals, like 2.25",
            Format::SealAlg => "the sealing scheme hpke-x25519-sha256-chacha20poly1305",
            Format::SealKeyId => "a sealing key's id, like loreto-0123456789abcdef",
            Format::SealedCiphertext => {
                "a sealed ciphertext (HPKE's output: at least 48 bytes); it is truncated or not \
                 a ciphertext"
            }
            Format::SealedPhoto => {
                "sealed on the device (content type application/vnd.chaski.sealed), because the \
                 photo shows people"
            }
            Format::SealedEnvelope => "a sealed envelope as the app makes it",
        }
    }
}

/// A cross-field rule that a value broke; the field the error is attached to is the one the
/// inspector most likely has to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Women + men + other/unknown must equal the total (submitted) or not exceed it (draft).
    SexCountsSum,
    /// A sub-count (minors, indigenous, foreign) exceeds `workers.total`.
    ExceedsTotal,
    /// `minors_under_14` exceeds `minors_under_18`.
    Under14ExceedsUnder18,
    /// The nationalities listed count more people than `workers.foreign`.
    NationalitiesExceedForeign,
    /// Peru listed among the foreign nationalities.
    PeruIsNotForeign,
    /// The visit ends before it starts.
    EndBeforeStart,
    /// Child labour found but no minor counted or listed.
    ChildLabourWithoutMinors,
    /// Forced labour or trafficking found but no ILO indicator marked as seen.
    FindingWithoutIndicators,
    /// An indicator not seen carries stages or evidence.
    NotSeenButDetailed,
    /// A minor's consent given by the minor alone.
    MinorConsentBySelf,
    /// Referral targets listed while `made` is false.
    ReferralTargetsButNotMade,
    /// The event's `inspection` field differs from the inspection in its id.
    EventInspectionMismatch,
    /// A sentence on an outcome other than a conviction.
    SentenceWithoutConviction,
    /// A conviction with no sentence.
    ConvictionWithoutSentence,
    /// Location source `gps` but no GPS point.
    GpsSourceWithoutPoint,
    /// An event that supersedes itself.
    SupersedesItself,
    /// `supersedes` or `referral` names an event of another inspection.
    EventOfAnotherInspection,
    /// `consent_by` on a referral whose consent was not given.
    ConsentByWithoutConsent,
    /// A fine on a prosecution for something other than a labour infraction.
    FineWithoutInfraction,
    /// A fine on an outcome other than a conviction.
    FineWithoutConviction,
}

impl Rule {
    fn en(self) -> &'static str {
        match self {
            Rule::SexCountsSum => {
                "women, men and other/unknown must add up to workers.total (and never exceed it)"
            }
            Rule::ExceedsTotal => "must not exceed workers.total",
            Rule::Under14ExceedsUnder18 => {
                "must not exceed workers.minors_under_18 (every child under 14 is also under 18)"
            }
            Rule::NationalitiesExceedForeign => {
                "the nationalities listed count more people than workers.foreign"
            }
            Rule::PeruIsNotForeign => "Peru cannot be a foreign nationality",
            Rule::EndBeforeStart => "the visit cannot end before it starts",
            Rule::ChildLabourWithoutMinors => {
                "child labour needs at least one minor counted in workers.minors_under_18 or listed among the people found"
            }
            Rule::FindingWithoutIndicators => {
                "this finding needs at least one ILO indicator marked as seen, with its evidence"
            }
            Rule::NotSeenButDetailed => "an indicator not seen cannot have stages or evidence",
            Rule::MinorConsentBySelf => {
                "a minor's consent must be given by a guardian or an authority"
            }
            Rule::ReferralTargetsButNotMade => {
                "referral targets are listed but the referral is marked as not made"
            }
            Rule::EventInspectionMismatch => "does not match the inspection in the document id",
            Rule::SentenceWithoutConviction => "only a conviction carries a sentence",
            Rule::ConvictionWithoutSentence => "a conviction needs its sentence",
            Rule::GpsSourceWithoutPoint => "location source is gps but there is no GPS point",
            Rule::SupersedesItself => "an event cannot supersede itself",
            Rule::EventOfAnotherInspection => "must name an event of the same inspection",
            Rule::ConsentByWithoutConsent => {
                "who consented is recorded only when consent was given"
            }
            Rule::FineWithoutInfraction => "a fine in UIT goes only with a labour infraction",
            Rule::FineWithoutConviction => "only a conviction carries a fine",
        }
    }
}

/// What is wrong with a field. The client translates each code (with its parameters) into the
/// user's language; [`FieldError::message_en`] is the English wording the server sends.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ErrorCode {
    /// Missing, null or blank where a value is needed.
    Required,
    /// The JSON type is wrong.
    WrongType { expected: JsonType },
    /// Text longer than `max` characters.
    TooLong { max: usize },
    /// A list with more than `max` items.
    TooMany { max: usize },
    /// A number outside `min..=max`.
    OutOfRange { min: f64, max: f64 },
    /// A value that is not one of `allowed`.
    NotInList { allowed: &'static [&'static str] },
    /// Text that does not have the expected format.
    BadFormat { expected: Format },
    /// The same value twice in a list where each must be unique.
    Duplicate,
    /// A cross-field rule is broken.
    Inconsistent { rule: Rule },
    /// A clear name, identity number or contact detail of a person found: these must only travel
    /// inside `sealed`.
    ClearIdentity,
    /// A field this object does not allow (only where tolerating it would be unsafe).
    UnknownField,
    /// GPS latitude and longitude look swapped (they fit Peru the other way round).
    LatLonSwapped,
    /// A photo refers to an attachment the document does not carry.
    MissingAttachment,
    /// A photo attachment that is not a JPEG.
    NotJpeg,
    /// A photo attachment over `max_bytes`.
    TooLarge { max_bytes: u64 },
    /// The inspection's region is not the region of the database it is written to.
    RegionMismatch { database: String },
}

/// One problem, on one field, addressed by its JSON path (`site_name`,
/// `workers.minors_under_14`, `people[2].age_band`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    #[serde(flatten)]
    pub code: ErrorCode,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: ErrorCode) -> Self {
        FieldError {
            field: field.into(),
            code,
        }
    }

    /// The problem in English, without the field name.
    pub fn message_en(&self) -> String {
        match &self.code {
            ErrorCode::Required => "is required".into(),
            ErrorCode::WrongType { expected } => {
                let what = match expected {
                    JsonType::String => "text",
                    JsonType::Integer => "a whole number, 0 or more",
                    JsonType::Number => "a number",
                    JsonType::Boolean => "true or false",
                    JsonType::Object => "an object",
                    JsonType::Array => "a list",
                };
                format!("must be {what}")
            }
            ErrorCode::TooLong { max } => format!("must be at most {max} characters"),
            ErrorCode::TooMany { max } => format!("must have at most {max} items"),
            ErrorCode::OutOfRange { min, max } => format!("must be between {min} and {max}"),
            ErrorCode::NotInList { allowed } => format!("must be one of {}", allowed.join(", ")),
            ErrorCode::BadFormat { expected } => format!("must be {}", expected.en()),
            ErrorCode::Duplicate => "is listed twice".into(),
            ErrorCode::Inconsistent { rule } => rule.en().into(),
            ErrorCode::ClearIdentity => "names, identity numbers and contact details of people found must never be sent in clear; put them in the person's sealed identity".into(),
            ErrorCode::UnknownField => "is not allowed here".into(),
            ErrorCode::LatLonSwapped => {
                "latitude and longitude look swapped (Peru is around latitude -10, longitude -75)"
                    .into()
            }
            ErrorCode::MissingAttachment => "refers to a photo the document does not carry".into(),
            ErrorCode::NotJpeg => "must be a JPEG image (image/jpeg)".into(),
            ErrorCode::TooLarge { max_bytes } => {
                format!("must be at most {} KB", max_bytes / 1024)
            }
            ErrorCode::RegionMismatch { database } => {
                format!("does not match this database's region ({database})")
            }
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message_en())
    }
}

/// How many errors [`reason_en`] spells out before summarising the rest.
const REASON_MAX_LISTED: usize = 12;

/// One English sentence listing the fields, for the server's 400
/// `{"error": "bad_request", "reason": …}`.
pub fn reason_en(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return "The document is valid.".into();
    }
    let listed: Vec<String> = errors
        .iter()
        .take(REASON_MAX_LISTED)
        .map(|e| e.to_string())
        .collect();
    let mut reason = format!(
        "The document is not valid ({} problem{}): {}",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        listed.join("; ")
    );
    if errors.len() > REASON_MAX_LISTED {
        reason.push_str(&format!("; and {} more", errors.len() - REASON_MAX_LISTED));
    }
    reason.push('.');
    reason
}

/// The errors collected while parsing one document.
#[derive(Debug, Default)]
pub(crate) struct Errors(pub(crate) Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, field: impl Into<String>, code: ErrorCode) {
        self.0.push(FieldError::new(field, code));
    }

    pub(crate) fn require<T>(&mut self, field: impl Into<String>, value: &Option<T>) {
        if value.is_none() {
            self.push(field, ErrorCode::Required);
        }
    }

    pub(crate) fn into_result<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// A fixed set of names that a field may take (sector, region, indicator, …).
pub trait Choice: Sized + Copy + 'static {
    /// Every value's JSON name, in the order of the declaration.
    const NAMES: &'static [&'static str];
    /// The value named `name`, if any.
    fn from_name(name: &str) -> Option<Self>;
    /// This value's JSON name.
    fn name(self) -> &'static str;
}

/// Declares a [`Choice`] enum whose JSON form is its name.
macro_rules! choice {
    ($(#[$meta:meta])* pub enum $ty:ident { $($(#[$vmeta:meta])* $variant:ident = $name:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty { $($(#[$vmeta])* $variant,)+ }

        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)+];
        }

        impl $crate::domain::validate::Choice for $ty {
            const NAMES: &'static [&'static str] = &[$($name,)+];
            fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some($ty::$variant),)+ _ => None }
            }
            fn name(self) -> &'static str {
                match self { $($ty::$variant => $name,)+ }
            }
        }

        /// Parses a JSON name (a query parameter, say); the error lists the names allowed.
        impl ::std::str::FromStr for $ty {
            type Err = $crate::domain::validate::ErrorCode;
            fn from_str(name: &str) -> Result<Self, Self::Err> {
                <$ty as $crate::domain::validate::Choice>::from_name(name).ok_or(
                    $crate::domain::validate::ErrorCode::NotInList {
                        allowed: <$ty as $crate::domain::validate::Choice>::NAMES,
                    },
                )
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::domain::validate::Choice::name(*self))
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::domain::validate::Choice::name(*self))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                <$ty as $crate::domain::validate::Choice>::from_name(&name).ok_or_else(|| {
                    ::serde::de::Error::unknown_variant(
                        &name,
                        <$ty as $crate::domain::validate::Choice>::NAMES,
                    )
                })
            }
        }
    };
}
pub(crate) use choice;

/// A JSON object being read at `path` (`""` at the top of a document).
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) path: &'a str,
}

/// `parent.key`, or `key` at the top.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

impl<'a> Obj<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, path: &'a str) -> Self {
        Obj { map, path }
    }

    pub(crate) fn at(&self, key: &str) -> String {
        join(self.path, key)
    }

    /// The value of `key`; `null` counts as absent, because forms write `null` for a cleared field.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Text of at most `max` characters; blank text counts as absent.
    pub(crate) fn text(&self, key: &str, max: usize, errs: &mut Errors) -> Option<String> {
        text_value(self.get(key)?, || self.at(key), max, errs)
    }

    pub(crate) fn boolean(&self, key: &str, errs: &mut Errors) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                errs.push(
                    self.at(key),
                    ErrorCode::WrongType {
                        expected: JsonType::Boolean,
                    },
                );
                None
            }
        }
    }

    /// A whole number in `0..=max`.
    pub(crate) fn count(&self, key: &str, max: u32, errs: &mut Errors) -> Option<u32> {
        let value = self.get(key)?;
        match value.as_i64() {
            Some(n) if (0..=i64::from(max)).contains(&n) => Some(n as u32),
            Some(_) => {
                errs.push(
                    self.at(key),
                    ErrorCode::OutOfRange {
                        min: 0.0,
                        max: f64::from(max),
                    },
                );
                None
            }
            // 3.0 is a whole number written by a loose client; accept it, refuse 3.5.
            None => match value.as_f64() {
                Some(f) if f.fract() == 0.0 && (0.0..=f64::from(max)).contains(&f) => {
                    Some(f as u32)
                }
                Some(f) if f.fract() == 0.0 => {
                    errs.push(
                        self.at(key),
                        ErrorCode::OutOfRange {
                            min: 0.0,
                            max: f64::from(max),
                        },
                    );
                    None
                }
                _ => {
                    errs.push(
                        self.at(key),
                        ErrorCode::WrongType {
                            expected: JsonType::Integer,
                        },
                    );
                    None
                }
            },
        }
    }

    /// A number in `min..=max`.
    pub(crate) fn number(&self, key: &str, min: f64, max: f64, errs: &mut Errors) -> Option<f64> {
        let value = self.get(key)?;
        match value.as_f64() {
            Some(f) if (min..=max).contains(&f) => Some(f),
            Some(_) => {
                errs.push(self.at(key), ErrorCode::OutOfRange { min, max });
                None
            }
            None => {
                errs.push(
                    self.at(key),
                    ErrorCode::WrongType {
                        expected: JsonType::Number,
                    },
                );
                None
            }
        }
    }

    pub(crate) fn choice<T: Choice>(&self, key: &str, errs: &mut Errors) -> Option<T> {
        choice_value(self.get(key)?, || self.at(key), errs)
    }

    /// A list of distinct choices (at most as many as there are names).
    pub(crate) fn choices<T: Choice + PartialEq>(&self, key: &str, errs: &mut Errors) -> Vec<T> {
        let mut out: Vec<T> = Vec::new();
        for (i, item) in self.array(key, T::NAMES.len() * 2, errs).iter().enumerate() {
            if let Some(c) = choice_value::<T>(item, || index(&self.at(key), i), errs) {
                if out.contains(&c) {
                    errs.push(index(&self.at(key), i), ErrorCode::Duplicate);
                } else {
                    out.push(c);
                }
            }
        }
        out
    }

    pub(crate) fn timestamp(&self, key: &str, errs: &mut Errors) -> Option<Timestamp> {
        let text = self.text(key, 64, errs)?;
        match Timestamp::parse(&text) {
            Some(ts) => Some(ts),
            None => {
                errs.push(
                    self.at(key),
                    ErrorCode::BadFormat {
                        expected: Format::Rfc3339,
                    },
                );
                None
            }
        }
    }

    pub(crate) fn object(&self, key: &str, errs: &mut Errors) -> Option<&'a Map<String, Value>> {
        match self.get(key)? {
            Value::Object(m) => Some(m),
            _ => {
                errs.push(
                    self.at(key),
                    ErrorCode::WrongType {
                        expected: JsonType::Object,
                    },
                );
                None
            }
        }
    }

    /// The items of a list of at most `max` items; a longer list reports [`ErrorCode::TooMany`]
    /// and yields only its first `max` items, so one runaway list cannot flood the error list.
    pub(crate) fn array(&self, key: &str, max: usize, errs: &mut Errors) -> &'a [Value] {
        match self.get(key) {
            None => &[],
            Some(Value::Array(items)) => {
                if items.len() > max {
                    errs.push(self.at(key), ErrorCode::TooMany { max });
                    &items[..max]
                } else {
                    items
                }
            }
            Some(_) => {
                errs.push(
                    self.at(key),
                    ErrorCode::WrongType {
                        expected: JsonType::Array,
                    },
                );
                &[]
            }
        }
    }
}

/// `path` is only built when there is an error: parsing a valid document allocates no paths.
pub(crate) fn text_value(
    value: &Value,
    path: impl FnOnce() -> String,
    max: usize,
    errs: &mut Errors,
) -> Option<String> {
    match value {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => {
            if s.chars().count() > max {
                errs.push(path(), ErrorCode::TooLong { max });
                None
            } else {
                Some(s.clone())
            }
        }
        _ => {
            errs.push(
                path(),
                ErrorCode::WrongType {
                    expected: JsonType::String,
                },
            );
            None
        }
    }
}

pub(crate) fn choice_value<T: Choice>(
    value: &Value,
    path: impl FnOnce() -> String,
    errs: &mut Errors,
) -> Option<T> {
    match value {
        Value::String(s) => {
            let found = T::from_name(s);
            if found.is_none() {
                errs.push(path(), ErrorCode::NotInList { allowed: T::NAMES });
            }
            found
        }
        _ => {
            errs.push(
                path(),
                ErrorCode::WrongType {
                    expected: JsonType::String,
                },
            );
            None
        }
    }
}

/// The object at `path`, or a [`ErrorCode::WrongType`].
pub(crate) fn object_value<'a>(
    value: &'a Value,
    path: &str,
    errs: &mut Errors,
) -> Option<&'a Map<String, Value>> {
    match value {
        Value::Object(m) => Some(m),
        _ => {
            errs.push(
                path,
                ErrorCode::WrongType {
                    expected: JsonType::Object,
                },
            );
            None
        }
    }
}

/// Serde helper: skip empty lists in the JSON a typed value writes back.
pub(crate) fn is_empty<T>(v: &[T]) -> bool {
    v.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_en_lists_each_field_with_its_problem() {
        let reason = reason_en(&[
            FieldError::new("site_name", ErrorCode::Required),
            FieldError::new("notes", ErrorCode::TooLong { max: 10 }),
        ]);
        assert_eq!(
            reason,
            "The document is not valid (2 problems): site_name: is required; notes: must be at most 10 characters."
        );
    }

    #[test]
    fn reason_en_summarises_a_long_list() {
        let errors = vec![FieldError::new("x", ErrorCode::Required); 20];
        let reason = reason_en(&errors);
        assert!(reason.ends_with("; and 8 more."), "{reason}");
    }

    #[test]
    fn field_errors_serialize_with_code_and_parameters() {
        let e = FieldError::new("notes", ErrorCode::TooLong { max: 10 });
        assert_eq!(
            serde_json::to_value(&e).expect("json"),
            serde_json::json!({"field": "notes", "code": "too_long", "max": 10})
        );
    }

    #[test]
    fn counts_refuse_fractions_negatives_and_text_but_accept_whole_floats() {
        let map = serde_json::json!({"a": 3.0, "b": 3.5, "c": -1, "d": "3", "e": null});
        let obj = Obj::new(map.as_object().expect("object"), "w");
        let mut errs = Errors::default();
        assert_eq!(obj.count("a", 10, &mut errs), Some(3));
        assert_eq!(obj.count("b", 10, &mut errs), None);
        assert_eq!(obj.count("c", 10, &mut errs), None);
        assert_eq!(obj.count("d", 10, &mut errs), None);
        assert_eq!(obj.count("e", 10, &mut errs), None);
        let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["w.b", "w.c", "w.d"]);
    }
}
