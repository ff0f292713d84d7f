//! Classifying the service's reply.
//!
//! Pure: no I/O. No public source documents what `update.php` answers, so
//! [`classify`] runs one ordered table that is easy to extend: the HTTP
//! status first, then a leading numeric code (the sibling record API's
//! `800`, `300`, `305`, …), then keywords, matched as whole words and not
//! after a negation ("unblocked" and "not blocked" are not "blocked"). A
//! UTF-8 byte order mark and surrounding white space are ignored. A 2xx
//! reply that nothing matches is [`Verdict::Unconfirmed`]: it was sent and
//! is recorded as registered, so it is never re-sent in a loop. A body
//! longer than [`MAX_CLASSIFIED_BYTES`] (the service's replies are one
//! short line; a body cut short by the transport's cap is longer) is never
//! read as success: its outcome is unknown ([`Verdict::Failed`], so the
//! address is retried after the backoff).

#![forbid(unsafe_code)]

/// What a reply means, grouped by whose move it is next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The service confirmed the update.
    Accepted,
    /// A 2xx reply the table does not recognise: sent, outcome unknown,
    /// counted as registered.
    Unconfirmed,
    /// The user must fix something (login, domain, missing field).
    Rejected(&'static str),
    /// The service says stop: the account or client is blocked.
    Blocked(&'static str),
    /// Try later: a server error, a redirect, an unexpected status.
    Failed(&'static str),
}

/// Leading numeric codes of the service's record API.
const CODES: &[(u32, Verdict)] = &[
    (800, Verdict::Accepted),
    (300, Verdict::Rejected("invalid login")),
    (305, Verdict::Rejected("domain not found on the account")),
    (310, Verdict::Rejected("record problem")),
    (200, Verdict::Rejected("insufficient information")),
    (400, Verdict::Rejected("no domain name given")),
    (100, Verdict::Rejected("account balance insufficient")),
];

/// The longest body classified; anything longer is unknown.
pub const MAX_CLASSIFIED_BYTES: usize = 4096;

const TOO_LONG: Verdict = Verdict::Failed("reply too long; outcome unknown");

const BLOCKED: Verdict = Verdict::Blocked("the service says the account or client is blocked");
const ABUSE: Verdict = Verdict::Blocked("the service reports abuse");
const INVALID: Verdict = Verdict::Rejected("the service says something is invalid");
const DENIED: Verdict = Verdict::Rejected("the service denied the update");
const INCORRECT: Verdict = Verdict::Rejected("the service says something is incorrect");
const FAILURE: Verdict = Verdict::Rejected("the service reports a failure");
const ERROR: Verdict = Verdict::Rejected("the service reports an error");

/// Words looked for (case-insensitively, whole words) when no code
/// matched; the table's order decides, so "blocked" outranks "error".
const KEYWORDS: &[(&str, Verdict)] = &[
    ("blocked", BLOCKED),
    ("abuse", ABUSE),
    ("abusive", ABUSE),
    ("invalid", INVALID),
    ("denied", DENIED),
    ("incorrect", INCORRECT),
    ("fail", FAILURE),
    ("failed", FAILURE),
    ("failure", FAILURE),
    ("error", ERROR),
];

/// Words that turn the keyword right after them around ("not blocked").
const NEGATIONS: &[&str] = &["not", "no", "never", "without", "isn't", "wasn't"];

/// Classifies a reply from its HTTP status and its body as received (any
/// length; bytes that are not UTF-8 are replaced).
pub fn classify_body(status: u16, body: &[u8]) -> Verdict {
    // Decoding only ever lengthens a body, so `classify` sees it too long.
    classify(status, &String::from_utf8_lossy(body))
}

/// Classifies a reply from its HTTP status and its whole body text; a
/// body longer than [`MAX_CLASSIFIED_BYTES`] is unknown.
pub fn classify(status: u16, body: &str) -> Verdict {
    if body.len() > MAX_CLASSIFIED_BYTES && !(300..=399).contains(&status) {
        return TOO_LONG;
    }
    let body = body.trim();
    let body = body.strip_prefix('\u{feff}').unwrap_or(body).trim();
    match status {
        300..=399 => return Verdict::Failed("redirect (not followed)"),
        200..=299 => {}
        _ => {
            if let Some(v @ Verdict::Blocked(_)) = by_keyword(body) {
                return v;
            }
            return match status {
                401 => Verdict::Rejected("HTTP 401: login refused"),
                403 => Verdict::Rejected("HTTP 403: forbidden"),
                429 => Verdict::Blocked("HTTP 429: too many requests"),
                400..=499 => Verdict::Failed("unexpected HTTP client error"),
                500..=599 => Verdict::Failed("server error"),
                _ => Verdict::Failed("unexpected HTTP status"),
            };
        }
    }
    if let Some(code) = leading_code(body) {
        if let Some((_, v)) = CODES.iter().find(|(c, _)| *c == code) {
            return *v;
        }
    }
    by_keyword(body).unwrap_or(Verdict::Unconfirmed)
}

fn by_keyword(body: &str) -> Option<Verdict> {
    let lower = body.to_ascii_lowercase();
    // Words: runs of ASCII letters, digits and apostrophes; anything else
    // (non-ASCII included) separates them. The earliest table entry said
    // (not right after a negation) wins.
    let mut best: Option<usize> = None;
    let mut previous = "";
    for word in lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        if !NEGATIONS.contains(&previous) {
            if let Some(i) = KEYWORDS.iter().position(|(k, _)| *k == word) {
                best = Some(best.map_or(i, |b| b.min(i)));
            }
        }
        previous = word;
    }
    best.map(|i| KEYWORDS[i].1)
}

/// The number a reply starts with (after white space), if it stands alone:
/// followed by the end, white space or punctuation.
fn leading_code(body: &str) -> Option<u32> {
    let trimmed = body.trim_start();
    let end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let digits = &trimmed[..end];
    // A letter or digit, or any non-ASCII character (to be safe, without
    // linking Unicode tables), makes the number part of a word.
    let glued = trimmed[end..].starts_with(|c: char| c.is_ascii_alphanumeric() || !c.is_ascii());
    if digits.is_empty() || digits.len() > 6 || glued {
        return None;
    }
    digits.parse().ok()
}

/// Makes a reply printable: decodes lossily, masks nothing (the caller masks
/// the password), drops control characters other than newline and tab, and
/// keeps at most `max_chars` characters.
pub fn printable(body: &[u8], max_chars: usize) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    macro_rules! replies {
        ($($name:ident: $status:literal, $body:literal => $want:pat_param,)*) => {$(
            #[test]
            fn $name() {
                let got = classify($status, $body);
                assert!(matches!(got, $want), "{} {:?} -> {got:?}", $status, $body);
            }
        )*};
    }

    replies! {
        code_800_ok: 200, "800 OK" => Accepted,
        code_800_bare: 200, "800" => Accepted,
        code_800_leading_space: 200, "\r\n  800 Updated\n" => Accepted,
        code_300_login: 200, "300 Invalid login" => Rejected("invalid login"),
        code_305_domain: 200, "305" => Rejected("domain not found on the account"),
        code_310_record: 200, "310 record problem" => Rejected(_),
        code_200_info: 200, "200 Insufficient information" => Rejected("insufficient information"),
        code_400_no_domain: 200, "400" => Rejected("no domain name given"),
        code_100_balance: 200, "100 balance" => Rejected(_),
        code_8000_not_800: 200, "8000 things" => Unconfirmed,
        code_800x_not_code: 200, "800x" => Unconfirmed,
        code_800_glued_to_non_ascii_not_code: 200, "800\u{e9}t\u{e9}" => Unconfirmed,
        code_800_then_punctuation: 200, "800, OK." => Accepted,
        unknown_code_falls_to_keywords: 200, "999 blocked" => Blocked(_),
        keyword_blocked: 200, "Your account has been BLOCKED" => Blocked(_),
        keyword_abuse: 200, "abuse detected" => Blocked(_),
        keyword_invalid: 200, "Invalid password" => Rejected(_),
        keyword_denied: 200, "Access denied" => Rejected(_),
        keyword_incorrect: 200, "incorrect details" => Rejected(_),
        keyword_fail: 200, "Update failed" => Rejected(_),
        keyword_error: 200, "ERROR" => Rejected(_),
        blocked_outranks_error: 200, "error: blocked for abuse" => Blocked(_),
        unblocked_is_not_blocked: 200, "Your account was unblocked" => Unconfirmed,
        not_blocked_is_not_blocked: 200, "Client not blocked" => Unconfirmed,
        no_error_is_not_error: 200, "no error" => Unconfirmed,
        nonblocking_is_not_blocked: 200, "nonblocking mode" => Unconfirmed,
        errorless_is_not_error: 200, "errorless" => Unconfirmed,
        blocked_after_punctuation: 200, "status:blocked." => Blocked(_),
        bom_then_code: 200, "\u{feff}800 OK" => Accepted,
        bom_space_then_code: 200, "\u{feff} \r\n 800\r\n" => Accepted,
        bom_then_blocked: 200, "\u{feff}blocked" => Blocked(_),
        plain_ok_is_unconfirmed: 200, "OK" => Unconfirmed,
        empty_is_unconfirmed: 200, "" => Unconfirmed,
        html_is_unconfirmed: 204, "<html><body>Thanks</body></html>" => Unconfirmed,
        redirect_301: 301, "" => Failed(_),
        redirect_302_even_with_800: 302, "800" => Failed(_),
        status_401: 401, "" => Rejected(_),
        status_403: 403, "Forbidden" => Rejected(_),
        status_403_blocked: 403, "blocked" => Blocked(_),
        status_429: 429, "" => Blocked(_),
        status_404: 404, "Not Found" => Failed(_),
        status_500: 500, "Internal error" => Failed("server error"),
        status_503_blocked_body: 503, "client blocked" => Blocked(_),
        status_100_odd: 100, "" => Failed(_),
        status_600_odd: 600, "800" => Failed(_),
    }

    #[test]
    fn every_status_classifies_without_panic() {
        for status in 0..=1000u16 {
            for body in ["", "800", "blocked", "x"] {
                let _ = classify(status, body);
            }
        }
    }

    #[test]
    fn an_over_long_body_is_never_success() {
        let mut body = b"800 OK\n".to_vec();
        body.resize(MAX_CLASSIFIED_BYTES + 1, b' ');
        assert!(matches!(classify_body(200, &body), Failed(_)));
        assert!(matches!(
            classify(200, &String::from_utf8(body.clone()).unwrap()),
            Failed(_)
        ));
        body.truncate(MAX_CLASSIFIED_BYTES);
        assert_eq!(classify_body(200, &body), Accepted);
        assert!(matches!(
            classify_body(200, &vec![b'x'; 64 * 1024]),
            Failed(_)
        ));
    }

    #[test]
    fn printable_bounds_and_cleans() {
        assert_eq!(printable(b"800 OK\r\n", 100), "800 OK");
        assert_eq!(printable(b"a\x00b\x1bc", 100), "abc");
        assert_eq!(printable(&[0xff, b'x'], 100), "\u{fffd}x");
        assert_eq!(printable("ééé".as_bytes(), 2), "éé");
    }
}
