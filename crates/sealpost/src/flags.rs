//! Parsers for flags whose value is a library type without a `FromStr` that fits the
//! command line (a mailbox written with or without angle brackets, the DSN keywords, a
//! digest name, a calendar day). clap calls them as the arguments are read, so a bad value
//! stops the program with clap's usage error (exit code 2) naming the flag, and what the
//! rest of the program sees is already the typed value.
//!
//! Each returns `Err(String)`: clap prints it after `invalid value 'VALUE' for '--FLAG'`.

use sealpost_codec::{Mailbox, Notify, Ret, ReversePath, XText};
use sealpost_smime::Digest;
use sealpost_starttls::tlsrpt::Day;

use crate::values::SecretSource;

/// A mailbox, with or without angle brackets (`--to`).
pub(crate) fn mailbox(text: &str) -> Result<Mailbox<'static>, String> {
    let address = text.trim().trim_start_matches('<').trim_end_matches('>');
    address
        .parse::<Mailbox<'static>>()
        .map_err(|e| format!("not a valid address: {e}; expected local-part@domain"))
}

/// The envelope sender (`--from`): a mailbox, or the null sender written `""` or `<>`.
pub(crate) fn reverse_path(text: &str) -> Result<ReversePath<'static>, String> {
    match text.trim() {
        "" | "<>" => Ok(ReversePath::Null),
        _ => mailbox(text).map(ReversePath::Mailbox),
    }
}

/// `--notify NEVER` or a list of SUCCESS, FAILURE, DELAY (RFC 3461 section 4.1).
pub(crate) fn notify(list: &str) -> Result<Notify, String> {
    if list.trim().eq_ignore_ascii_case("never") {
        return Ok(Notify::Never);
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    for word in list.split(',') {
        match word.trim().to_ascii_uppercase().as_str() {
            "SUCCESS" => success = true,
            "FAILURE" => failure = true,
            "DELAY" => delay = true,
            _ => return Err(String::from("expected NEVER or a list of SUCCESS, FAILURE, DELAY")),
        }
    }
    Ok(Notify::On { success, failure, delay })
}

/// `--ret FULL` or `--ret HDRS` (RFC 3461 section 4.3), in any case.
pub(crate) fn ret(text: &str) -> Result<Ret, String> {
    match text.trim().to_ascii_uppercase().as_str() {
        "FULL" => Ok(Ret::Full),
        "HDRS" => Ok(Ret::Hdrs),
        _ => Err(String::from("expected FULL or HDRS")),
    }
}

/// `--envid`: any text, carried as xtext (RFC 3461 section 4.4).
pub(crate) fn envid(text: &str) -> Result<XText<'static>, String> {
    XText::encode(text.as_bytes()).map_err(|e| e.to_string())
}

/// `--pass` of `sealpost send`: only `env:VARIABLE`, so the password never appears in the
/// process list or a shell history.
pub(crate) fn env_secret(text: &str) -> Result<SecretSource, String> {
    match text.parse::<SecretSource>() {
        Ok(source @ SecretSource::Env(_)) => Ok(source),
        _ => Err(String::from(
            "expected env:VARIABLE (the name of an environment variable holding the \
             password), never the password itself",
        )),
    }
}

/// `cert self-signed --host`: a DNS name or an IP address, checked as it is read (rcgen
/// takes anything as a name, so a typo would only show at the first handshake); kept as
/// written, which is what the certificate generator takes.
pub(crate) fn cert_host(text: &str) -> Result<String, String> {
    if text.parse::<std::net::IpAddr>().is_ok() || sealpost_codec::Domain::new(text).is_ok() {
        Ok(text.to_owned())
    } else {
        Err(String::from("neither a DNS name nor an IP address"))
    }
}

/// `--digest`: sha256, sha384 or sha512.
pub(crate) fn digest(text: &str) -> Result<Digest, String> {
    Digest::from_name(text).ok_or_else(|| String::from("expected sha256, sha384 or sha512"))
}

/// `--day`: a calendar day written `YYYY-MM-DD` and nothing else (it names a file of the
/// TLS journal, so nothing but digits and two dashes may reach the path).
pub(crate) fn day(text: &str) -> Result<Day, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let bad = |why: &dyn std::fmt::Display| format!("expected a day as YYYY-MM-DD: {why}");
    let date = time::Date::parse(text, format).map_err(|e| bad(&e))?;
    let year = u16::try_from(date.year()).map_err(|e| bad(&e))?;
    Day::new(year, u8::from(date.month()), date.day()).map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn days_are_only_calendar_days() {
        assert_eq!(day("2026-12-07").unwrap(), Day::new(2026, 12, 7).unwrap());
        assert_eq!(day("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in [
            "",
            "2026-12-7",
            "2026-13-01",
            "2023-02-29",
            "2026-12-07/../../etc",
            "../2026-12-07",
            " 2026-12-07",
            "0000-01-01",
            "26-12-07",
            "2026/12/07",
        ] {
            let err = day(bad).unwrap_err();
            assert!(err.starts_with("expected a day as YYYY-MM-DD"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn notify_lists_parse() {
        assert_eq!(notify("never").unwrap(), Notify::Never);
        assert_eq!(
            notify("SUCCESS,delay").unwrap(),
            Notify::On { success: true, failure: false, delay: true }
        );
        assert!(notify("sometimes").is_err());
        assert!(notify("never,success").is_err(), "NEVER stands alone");
    }

    #[test]
    fn senders_recipients_and_dsn_keywords() {
        assert_eq!(reverse_path("<>").unwrap(), ReversePath::Null);
        assert_eq!(reverse_path("").unwrap(), ReversePath::Null);
        assert_eq!(mailbox("<a@b.test>").unwrap().to_string(), "a@b.test");
        assert!(mailbox("not an address").unwrap_err().contains("not a valid address"));
        assert_eq!(ret("hdrs").unwrap(), Ret::Hdrs);
        assert!(ret("some").is_err());
        assert_eq!(envid("id 1+").unwrap().as_str(), "id+201+2B");
        assert_eq!(digest("SHA-384").unwrap(), Digest::Sha384);
        assert_eq!(cert_host("::1").unwrap(), "::1");
        assert_eq!(cert_host("mx.example.test").unwrap(), "mx.example.test");
        assert!(cert_host("not a name").is_err());
        assert!(digest("md5").is_err());
    }

    #[test]
    fn passwords_come_only_from_the_environment() {
        assert_eq!(env_secret("env:PW").unwrap(), SecretSource::Env("PW".into()));
        assert!(env_secret("hunter2").is_err());
        assert!(env_secret("file:/etc/pw").is_err());
    }
}
