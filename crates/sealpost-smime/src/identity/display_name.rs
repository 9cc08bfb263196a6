//! Display names and comments that show an address in disguise.
//!
//! A reader shows the display name (and some readers a comment) in place of the address,
//! so `"bob@example.org  ." <mallory@example.net>` reads as mail from Bob. What a reader
//! renders is compared, not what was written: encoded-words (RFC 2047) and comments are
//! decoded first, then the text is normalised — Unicode NFKC (fullwidth `＠` becomes `@`),
//! lower case, white space around `@` and `.` removed — and cut into tokens at white space
//! and at the punctuation that edges them (`bob@example.org.`, `(bob@example.org),`). A
//! token is compared by its UTS #39 confusable skeleton, so letters that only look like the
//! real address's (Cyrillic `а` for Latin `a`) neither hide an address nor excuse one.

use unicode_normalization::UnicodeNormalization as _;

/// The first address-like token of `shown` that is not `address` (by skeleton), normalised.
pub(crate) fn disguised_address(shown: &str, address: &str) -> Option<String> {
    let real = skeleton(&address.to_lowercase());
    tokens(shown).into_iter().find(|token| {
        let skel = skeleton(token);
        looks_like_address(&skel) && skel != real
    })
}

/// The comments of a structured field value (RFC 5322 section 3.2.2), decoded (RFC 2047
/// section 5 allows encoded-words in comments). Quoted strings are skipped; nested comments
/// belong to the outer one. An unterminated comment is left to the address parser to
/// refuse.
pub(crate) fn comments(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    let mut text = String::new();
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth > 0 {
                text.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => {
                if depth > 0 {
                    text.push(c);
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(decode_words(&std::mem::take(&mut text)));
                } else {
                    text.push(c);
                }
            }
            _ if depth > 0 => text.push(c),
            _ => {}
        }
    }
    out
}

/// Encoded-words decoded the way mailparse decodes unstructured text.
fn decode_words(text: &str) -> String {
    let field = format!("X: {text}\r\n");
    match mailparse::parse_header(field.as_bytes()) {
        Ok((header, _)) => header.get_value(),
        Err(_) => text.to_owned(),
    }
}

/// The normalised tokens of a text a reader is shown.
fn tokens(shown: &str) -> Vec<String> {
    let normal: String = shown.nfkc().collect::<String>().to_lowercase();
    // "bob @ example . org" reads as one address: white space next to `@` and `.` goes.
    let mut joined = String::with_capacity(normal.len());
    let mut pending_space = false;
    for c in normal.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let glue = matches!(c, '@' | '.') || joined.ends_with(['@', '.']);
        if pending_space && !glue && !joined.is_empty() {
            joined.push(' ');
        }
        pending_space = false;
        joined.push(c);
    }
    joined
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '(' | ')' | ',' | ';'))
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The UTS #39 skeleton of a normalised token, lower-cased again (the confusable
/// prototypes of some lower-case letters are upper-case ones).
fn skeleton(token: &str) -> String {
    unicode_security::skeleton(token).collect::<String>().to_lowercase()
}

/// `local@domain.tld`: a non-empty local part, and a domain of at least two non-empty
/// labels.
fn looks_like_address(token: &str) -> bool {
    let Some((local, domain)) = token.rsplit_once('@') else { return false };
    !local.is_empty() && domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = "mallory@example.net";

    #[test]
    fn disguises_are_found() {
        let rows = [
            ("bob@example.org", Some("bob@example.org")),
            ("Bob    bob@example.org.  ", Some("bob@example.org")),
            ("bob@example.org, via", Some("bob@example.org")),
            ("'Bob' <bob@example.org>!", Some("bob@example.org")),
            ("BOB@EXAMPLE.ORG", Some("bob@example.org")),
            ("bob @ example . org", Some("bob@example.org")),
            ("bob\u{ff20}example.org", Some("bob@example.org")),
            ("bob\u{fe6b}example\u{ff0e}org", Some("bob@example.org")),
            // Cyrillic о in "bob": an address still, and not the real one.
            ("b\u{43e}b@example.org", Some("b\u{43e}b@example.org")),
            ("Bob", None),
            ("Bob at example dot org", None),
            ("Bob @ Example Corp.", None),
            ("mallory@example.net", None),
            ("MALLORY@example.NET.", None),
            // Look-alike letters of the real address show the real address.
            ("m\u{430}llory@example.net", None),
        ];
        for (shown, expected) in rows {
            assert_eq!(disguised_address(shown, REAL).as_deref(), expected, "{shown:?}");
        }
    }

    #[test]
    fn comments_are_read_and_decoded() {
        assert_eq!(comments("mallory@example.net (bob@example.org)"), ["bob@example.org"]);
        assert_eq!(comments("\"(not a comment)\" <m@example.net>"), Vec::<String>::new());
        assert_eq!(comments("m@example.net (a (nested) one) (\\) x)"), ["a (nested) one", ") x"]);
        assert_eq!(comments("m@example.net (=?utf-8?q?bob=40example.org?=)"), ["bob@example.org"]);
    }
}
