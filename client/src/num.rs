//! Numbers to and from text through the browser's own `Number`, not Rust's float formatting and
//! parsing: those are 13 KB of wasm (about 4 KB brotli) for a few coordinates and sizes. Off
//! wasm (the host's unit tests) the standard library does the same job.

/// The shortest text that reads back as `x` (`-12.0464`, `5`), as JavaScript writes numbers.
pub fn shortest(x: f64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Number::from(x)
            .to_string_with_radix(10)
            .map(String::from)
            .unwrap_or_default()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        x.to_string()
    }
}

/// `x` with `digits` decimals (`12.3`), rounded as JavaScript's `toFixed` does.
pub fn fixed(x: f64, digits: u8) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Number::from(x)
            .to_fixed(digits)
            .map(String::from)
            .unwrap_or_default()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        format!("{x:.*}", usize::from(digits))
    }
}

/// A decimal number typed by a person (`-3.75`, `12`, `1e3`): `None` for an empty text,
/// anything else than digits, sign, point and exponent, or a value that is not finite.
pub fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
    {
        return None;
    }
    #[cfg(target_arch = "wasm32")]
    // JavaScript's unary `+`: the whole text as a number, NaN if it is not one.
    let value = wasm_bindgen::JsValue::from_str(text).unchecked_into_f64();
    #[cfg(not(target_arch = "wasm32"))]
    let value = text.parse::<f64>().unwrap_or(f64::NAN);
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_a_person_types_and_refuses_the_rest() {
        assert_eq!(parse(" -3.75 "), Some(-3.75));
        assert_eq!(parse("12"), Some(12.0));
        assert_eq!(parse("1e3"), Some(1000.0));
        assert_eq!(parse(""), None);
        assert_eq!(parse("12abc"), None);
        assert_eq!(parse("inf"), None);
        assert_eq!(parse("-"), None);
        assert_eq!(parse("1.2.3"), None);
    }

    #[test]
    fn writes_numbers_shortest_and_fixed() {
        assert_eq!(shortest(-12.0464), "-12.0464");
        assert_eq!(shortest(5.0), "5");
        assert_eq!(fixed(12.345, 1), "12.3");
        assert_eq!(fixed(7.0, 0), "7");
    }
}
