//! The password as a [`Secret`]: a type whose `Debug` and `Display` never
//! show it, and the masking that removes it from any text before that text
//! is logged or stored, however it is spelt there (plain, percent-encoded,
//! HTML- or JSON-escaped, or a mix). Pure.

use std::fmt;

/// A password. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The password itself: only for building the request and for masking.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every spelling of the password that could show up in text
    /// with `***`: as is; percent-encoded (hex digits in either case, `+`
    /// for a space); HTML-escaped (`&amp;`, `&lt;`, `&gt;`, `&quot;`,
    /// `&apos;`, numeric `&#NN;` and `&#xHH;`); JSON-escaped (`\"`, `\\`,
    /// `\/`, `\uXXXX`, surrogate pairs); and any mix of these, character by
    /// character. Letters of the password keep their case: only the
    /// escapes' hex digits and entity names match in either case.
    pub fn mask(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let bytes = text.as_bytes();
        // Every spelling starts with the password's first byte or with an
        // ASCII escape, so only those positions (all on character
        // boundaries) are tried.
        let first = self.0.as_bytes()[0];
        let mut out = String::new();
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == first || matches!(b, b'%' | b'+' | b'&' | b'\\') {
                if let Some(end) = spelled_at(&self.0, bytes, i) {
                    out.push_str(text.get(copied..i).unwrap_or_default());
                    out.push_str("***");
                    copied = end;
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        if copied == 0 {
            return text.to_string();
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    }

    /// A reply body made printable ([`crate::reply::printable`]), masked
    /// whole, then cut to `max_chars` characters: the cut can never leave a
    /// piece of the password behind.
    pub fn mask_reply(&self, body: &[u8], max_chars: usize) -> String {
        let full = crate::reply::printable(body, usize::MAX);
        self.mask(&full)
            .chars()
            .take(max_chars)
            .collect::<String>()
            .trim()
            .to_string()
    }
}

/// Where a spelling of `secret` that starts at byte `start` of `text` ends
/// (the longest one), if there is one. Each character may be written in any
/// of the forms [`Secret::mask`] lists; the set of possible ends is carried
/// from character to character, so the work is bounded by the secret's
/// length times the few forms, never exponential.
fn spelled_at(secret: &str, text: &[u8], start: usize) -> Option<usize> {
    let mut ends = vec![start];
    let mut next = Vec::new();
    for c in secret.chars() {
        next.clear();
        for &at in &ends {
            char_forms(c, text, at, &mut next);
        }
        if next.is_empty() {
            return None;
        }
        // Each end once (a short list: no sort linked for it).
        let mut kept = 0;
        for j in 0..next.len() {
            let end = next[j];
            if !next[..kept].contains(&end) {
                next[kept] = end;
                kept += 1;
            }
        }
        next.truncate(kept);
        std::mem::swap(&mut ends, &mut next);
    }
    ends.into_iter().max().filter(|&end| end > start)
}

/// Pushes onto `ends` the end of every spelling of `c` that starts at byte
/// `at` of `text`.
fn char_forms(c: char, text: &[u8], at: usize, ends: &mut Vec<usize>) {
    let rest = text.get(at..).unwrap_or_default();
    let mut utf8 = [0u8; 4];
    let raw = c.encode_utf8(&mut utf8).as_bytes();
    // As is.
    if rest.starts_with(raw) {
        ends.push(at + raw.len());
    }
    // Percent-encoded, byte by byte.
    let mut p = 0;
    let percent = raw.iter().all(|&b| {
        let ok =
            rest.get(p) == Some(&b'%') && hex_value(rest.get(p + 1..p + 3)) == Some(u32::from(b));
        p += 3;
        ok
    });
    if percent {
        ends.push(at + p);
    }
    match rest.first() {
        Some(b'+') if c == ' ' => ends.push(at + 1),
        Some(b'&') => {
            if let Some(len) = html_entity(c, rest) {
                ends.push(at + len);
            }
        }
        Some(b'\\') => {
            if let Some(len) = json_escape(c, rest) {
                ends.push(at + len);
            }
        }
        _ => {}
    }
}

/// The value of the run of up to `max` digits in `radix` (hex in either
/// case) at the start of `digits`, and the run's length (0: no digit).
/// Values past `u32` saturate, so they match no character.
fn number(digits: &[u8], radix: u32, max: usize) -> (u32, usize) {
    let mut value: u32 = 0;
    let mut len = 0;
    for &b in digits.iter().take(max) {
        let Some(d) = char::from(b).to_digit(radix) else {
            break;
        };
        value = value.saturating_mul(radix).saturating_add(d);
        len += 1;
    }
    (value, len)
}

/// The value of exactly two hex digits (either case).
fn hex_value(digits: Option<&[u8]>) -> Option<u32> {
    match number(digits?, 16, 2) {
        (value, 2) => Some(value),
        _ => None,
    }
}

/// The length of an HTML character reference for `c` at the start of
/// `rest` (which starts with `&`): a named one for the five characters
/// HTML escapes, or a numeric one (`&#38;`, `&#x26;`; the `;` may be
/// missing after a number).
fn html_entity(c: char, rest: &[u8]) -> Option<usize> {
    let named: &[u8] = match c {
        '&' => b"&amp;",
        '<' => b"&lt;",
        '>' => b"&gt;",
        '"' => b"&quot;",
        '\'' => b"&apos;",
        _ => b"",
    };
    if !named.is_empty()
        && rest
            .get(..named.len())
            .is_some_and(|r| r.eq_ignore_ascii_case(named))
    {
        return Some(named.len());
    }
    let body = rest.strip_prefix(b"&#")?;
    let (radix, skip) = match body.first() {
        Some(b'x' | b'X') => (16, 1),
        _ => (10, 0),
    };
    let (value, n) = number(&body[skip..], radix, 12);
    if n == 0 || value != u32::from(c) {
        return None;
    }
    let len = 2 + skip + n;
    Some(if body.get(skip + n) == Some(&b';') {
        len + 1
    } else {
        len
    })
}

/// The length of a JSON escape for `c` at the start of `rest` (which
/// starts with a backslash).
fn json_escape(c: char, rest: &[u8]) -> Option<usize> {
    if matches!(c, '"' | '\\' | '/') && rest.get(1) == Some(&(c as u8)) {
        return Some(2);
    }
    let mut units = [0u16; 2];
    let mut len = 0;
    for &unit in c.encode_utf16(&mut units).iter() {
        let esc = rest.get(len..)?;
        if esc.get(..2) != Some(b"\\u") || number(&esc[2..], 16, 4) != (u32::from(unit), 4) {
            return None;
        }
        len += 6;
    }
    Some(len)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_the_letters_case_and_reads_hex_in_either_case() {
        // The old masker lower-cased the whole encoded password, letters
        // too, so "%c3%a9" matched but "Pa%c3%a9" did not.
        let s = Secret::new("Pa\u{e9} Q");
        assert_eq!(s.mask("x Pa%c3%a9%20Q y"), "x *** y");
        assert_eq!(s.mask("x Pa%C3%a9+Q y"), "x *** y");
        // Another password that differs only in case is not this one.
        assert_eq!(s.mask("pa\u{e9} q"), "pa\u{e9} q");
    }

    #[test]
    fn masking_reads_html_and_json_escapes_and_mixes() {
        let s = Secret::new("a<\"&'/\u{e9}\u{1f600}+ z");
        let forms = [
            "a&lt;&quot;&amp;&#39;/\u{e9}\u{1f600}+ z",
            "a&LT;&#34;&#x26;&apos;/&#233;&#X1F600;+ z",
            "a<\\\"&'\\/\\u00e9\\ud83d\\ude00+ z",
            "a<\\\"&'\\/\\u00E9\\uD83D\\uDE00+ z",
            "a%3C%22%26%27%2F%C3%A9%F0%9F%98%80%2B+z",
            "a%3c&quot;%26'\\/&#xe9;%f0%9f%98%80%2b%20z",
        ];
        for form in forms {
            assert_eq!(s.mask(&format!("<{form}>")), "<***>", "{form}");
        }
        // A near miss is left alone.
        assert_eq!(s.mask("a&lt;&quot;&amp;&#40;"), "a&lt;&quot;&amp;&#40;");
    }

    #[test]
    fn reply_is_masked_before_it_is_cut() {
        let s = Secret::new("Secret Pw");
        for pad in 0..20 {
            let body = format!("{}Secret%20Pw tail", "x".repeat(500 + pad));
            let text = s.mask_reply(body.as_bytes(), 512);
            assert!(!text.contains("Secret"), "{pad}: {text}");
            assert!(!text.ends_with('S'), "{pad}: {text}");
            assert!(text.chars().count() <= 512);
        }
        assert_eq!(s.mask_reply(b"  800 Secret+Pw\r\n", 512), "800 ***");
    }

    #[test]
    fn secret_masks_every_spelling() {
        let s = Secret::new("a b&c");
        let text = "raw a b&c, enc a%20b%26c, lower a%20b%26c, form a+b%26c";
        let masked = s.mask(text);
        assert_eq!(masked, "raw ***, enc ***, lower ***, form ***");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        let s = Secret::new("é/");
        assert_eq!(s.mask("x%c3%a9%2fy"), "x***y");
    }
}
