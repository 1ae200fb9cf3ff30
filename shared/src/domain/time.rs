//! RFC 3339 timestamps and time-ordered document ids, by hand: a date library would cost the
//! browser bundle more than these hundred lines, and ids take their entropy from the caller so
//! `shared` needs no random-number source on wasm.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::doc::DocId;

/// An RFC 3339 date-time as the device wrote it (kept verbatim, so a round trip changes nothing),
/// with its instant in UTC milliseconds for comparisons.
#[derive(Clone, Debug)]
pub struct Timestamp {
    text: String,
    utc_ms: i64,
}

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`/`z` and a space for `T` are accepted
    /// as RFC 3339 allows. A leap second (`:60`) is refused: no device clock produces one.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let digits = b.get(range)?;
            if digits.iter().all(u8::is_ascii_digit) {
                Some(
                    digits
                        .iter()
                        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
                )
            } else {
                None
            }
        };
        let year = num(0..4)?;
        let month = num(5..7)?;
        let day = num(8..10)?;
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let mut i = 19;
        let mut millis = 0;
        if b[i] == b'.' {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start || i - start > 9 {
                return None;
            }
            let frac = num(start..start + (i - start).min(3))?;
            millis = frac * 10i64.pow(3 - (i - start).min(3) as u32);
        }
        let offset_min = match b.get(i..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let off = h * 60 + m;
                if *sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let local_s = days * 86_400 + hour * 3600 + minute * 60 + second;
        let utc_ms = (local_s - offset_min * 60) * 1000 + millis;
        Some(Timestamp {
            text: text.to_string(),
            utc_ms,
        })
    }

    /// The instant in UTC milliseconds since 1970.
    pub fn utc_ms(&self) -> i64 {
        self.utc_ms
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The UTC timestamp for milliseconds since 1970, e.g. `2026-11-28T13:30:00.000Z`.
    pub fn from_utc_ms(utc_ms: i64) -> Timestamp {
        let (y, mo, d, h, mi, s) = civil(utc_ms.div_euclid(1000));
        Timestamp {
            text: format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
                utc_ms.rem_euclid(1000)
            ),
            utc_ms,
        }
    }
}

/// Equal when they name the same instant, whatever the offset they were written with.
impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.utc_ms == other.utc_ms
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.utc_ms.cmp(&other.utc_ms)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day, hour, minute, second) of seconds since 1970 in UTC (Hinnant's
/// `civil_from_days`).
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Prefix of inspection ids.
pub const INSPECTION_PREFIX: &str = "inspection:";
/// Prefix of case event ids.
pub const EVENT_PREFIX: &str = "event:";

/// `yyyymmddThhmmssZ-<16 hex digits>`: sorts by creation time (to the second) and the 64 random
/// bits keep two tablets from ever choosing the same id offline.
pub fn time_ordered_key(utc_ms: i64, entropy: [u8; 8]) -> String {
    let (y, mo, d, h, mi, s) = civil(utc_ms.div_euclid(1000));
    let mut key = format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z-");
    for byte in entropy {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// A new inspection id, `inspection:20261128T083000Z-9f2c…`. The caller supplies the clock and
/// 8 random bytes (`crypto.getRandomValues` in the browser, the OS on the server).
pub fn new_inspection_id(utc_ms: i64, entropy: [u8; 8]) -> DocId {
    DocId::parse(format!(
        "{INSPECTION_PREFIX}{}",
        time_ordered_key(utc_ms, entropy)
    ))
    .expect("a time-ordered inspection id is a valid document id")
}

/// A new case event id for `inspection`: `event:<inspection id>:<time-ordered key>`, so that
/// every event of an inspection sorts together and in order.
pub fn new_event_id(inspection: &DocId, utc_ms: i64, entropy: [u8; 8]) -> DocId {
    DocId::parse(format!(
        "{EVENT_PREFIX}{inspection}:{}",
        time_ordered_key(utc_ms, entropy)
    ))
    .expect("an event id built from a valid inspection id is a valid document id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_offsets_compare_as_instants() {
        let lima = Timestamp::parse("2026-11-28T08:30:00-05:00").expect("lima");
        let utc = Timestamp::parse("2026-11-28T13:30:00Z").expect("utc");
        assert_eq!(lima, utc);
        assert_eq!(lima.as_str(), "2026-11-28T08:30:00-05:00", "kept verbatim");
        let later = Timestamp::parse("2026-11-28T13:30:00.5Z").expect("fraction");
        assert!(later > utc);
        assert_eq!(later.utc_ms() - utc.utc_ms(), 500);
    }

    #[test]
    fn timestamps_refuse_impossible_dates_and_missing_offsets() {
        for bad in [
            "2026-11-28T08:30:00",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T08:30:60Z",
            "2026-11-28",
            "28/11/2026 08:30",
            "2026-11-28T08:30:00.Z",
            "2026-11-28T08:30:00+5:00",
            "2026-11-28T08:30:00Zjunk",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad:?} should be refused");
        }
        assert!(
            Timestamp::parse("2024-02-29T00:00:00Z").is_some(),
            "leap day"
        );
    }

    #[test]
    fn utc_ms_round_trips_through_text() {
        for ms in [0, 1_764_318_600_123, 951_782_400_000, -86_400_000] {
            let ts = Timestamp::from_utc_ms(ms);
            assert_eq!(Timestamp::parse(ts.as_str()).expect("parse").utc_ms(), ms);
        }
        assert_eq!(
            Timestamp::from_utc_ms(0).as_str(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn new_ids_sort_by_time_and_carry_the_entropy() {
        let t = Timestamp::parse("2026-11-28T13:30:05Z")
            .expect("ts")
            .utc_ms();
        let a = new_inspection_id(t, [0xab; 8]);
        assert_eq!(a.as_str(), "inspection:20261128T133005Z-abababababababab");
        let b = new_inspection_id(t + 1000, [0; 8]);
        assert!(a < b);
        let e = new_event_id(&a, t, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            e.as_str(),
            "event:inspection:20261128T133005Z-abababababababab:20261128T133005Z-0102030405060708"
        );
    }
}
