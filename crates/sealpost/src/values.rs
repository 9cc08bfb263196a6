//! Values that the command line and the configuration file share: listen addresses (or
//! `off`), sizes with units, and the named policies. Each parses from the same text in
//! both places, so `--smtp off` and `address = "off"` mean the same thing.
//!
//! The library types that parse from text (security levels, fingerprints, routes,
//! ciphers) are read once, where the text comes in: clap gives each flag to its type's
//! `FromStr` (or to one of the `fn(&str) -> Result<T, String>` parsers below), and the
//! configuration file gives each key to [`parsed`], [`parsed_option`] or [`parsed_list`].
//! No string is kept to be parsed again later.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::Deserialize;

/// Deserializes a string through `T`'s `FromStr`, so a TOML value such as
/// `level = "verify"` is the library type from the moment it is read (toml's error then
/// names the line, the key and what the type said).
fn parsed<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// [`parsed`] for an optional key (`#[serde(default, deserialize_with = ...)]`).
pub(crate) fn parsed_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    parsed(deserializer).map(Some)
}

/// [`parsed`] for each string of a list.
pub(crate) fn parsed_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| text.parse().map_err(serde::de::Error::custom))
        .collect()
}

/// [`parsed`] for an optional list (`#[serde(default, deserialize_with = ...)]`), when a
/// missing key and an empty list mean different things.
pub(crate) fn parsed_list_option<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    parsed_list(deserializer).map(Some)
}

/// A domain name as the codec accepts it, in lower case: the server's host name (it goes
/// into the greeting, so this also keeps CR, LF and spaces out of every reply) and the
/// local domains. Only [`FromStr`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DomainName(String);

impl DomainName {
    /// The name, in lower case.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DomainName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        sealpost_codec::Domain::new(s)
            .map(|domain| DomainName(domain.as_str().to_ascii_lowercase()))
            .map_err(|e| format!("`{s}` is not a domain name: {e}"))
    }
}

/// A name a server certificate must carry (`--match`, `match = [...]`): a DNS name or an
/// IP address as rustls takes it, checked when read rather than at the first delivery;
/// kept as written, which is what [`TlsPolicy::match_name`] takes.
///
/// [`TlsPolicy::match_name`]: sealpost_starttls::client::TlsPolicy::match_name
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateName(pub(crate) String);

impl FromStr for CertificateName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match sealpost_starttls::rustls::pki_types::ServerName::try_from(s) {
            Ok(_) => Ok(CertificateName(s.to_owned())),
            Err(_) => Err(format!("`{s}` is neither a DNS name nor an IP address")),
        }
    }
}

/// Where a listener listens, or `off` for no listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum ListenAddr {
    /// The listener is disabled.
    Off,
    /// Listen here; port 0 picks a free port (the real one is printed at start).
    At(SocketAddr),
}

impl ListenAddr {
    /// The address, unless disabled.
    pub(crate) fn addr(self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Off => None,
            ListenAddr::At(addr) => Some(addr),
        }
    }
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(ListenAddr::Off);
        }
        // Only literal addresses: a name that resolves to several addresses would make
        // "where does it listen" depend on the resolver of the day.
        s.parse().map(ListenAddr::At).map_err(|_| {
            format!(
                "`{s}` is not a listen address; expected IP:PORT such as 127.0.0.1:2525, \
                 [::1]:2525 or 0.0.0.0:25, or `off`"
            )
        })
    }
}

impl TryFrom<String> for ListenAddr {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Off => f.write_str("off"),
            ListenAddr::At(addr) => addr.fmt(f),
        }
    }
}

/// A size in octets: a plain number, or a number with a binary unit (`k`, `M`, `G`, also
/// written `KiB`, `MiB`, `GiB`; case does not matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSize(pub(crate) u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let bad =
            || format!("`{s}` is not a size; expected a number of bytes such as 26214400 or 25M");
        let number: u64 = digits.parse().map_err(|_| bad())?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            _ => return Err(bad()),
        };
        number.checked_mul(factor).map(ByteSize).ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    /// A TOML integer, or a string with a unit.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes, or a string such as \"25M\"")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| E::custom("a size cannot be negative"))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// What `serve` does with accepted messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HandlerKind {
    /// Deliver to the Maildir under the data directory (durable, the default).
    #[default]
    Maildir,
    /// Accept and throw away (for benchmarks of the protocol path).
    Discard,
}

/// Client certificates on a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ClientCertMode {
    /// Never ask for one.
    #[default]
    Off,
    /// Ask; accept any (its fingerprint identifies the client in logs).
    Optional,
    /// Ask; accept any, and report it verified when it chains to `client_ca`.
    OptionalWithCa,
    /// Demand one that chains to `client_ca`.
    Required,
}

/// Bare CR or LF inside message data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BareLineEndingPolicy {
    /// Refuse the message (after reading it to its real end).
    #[default]
    Reject,
    /// Turn each bare CR or LF into CRLF.
    Normalize,
}

/// A NUL octet inside message data (DATA; BDAT chunks are taken as they come).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum NulPolicy {
    /// Refuse the message (after reading it to its real end).
    #[default]
    Reject,
    /// Drop each NUL from the stored content.
    Strip,
}

/// Plaintext bytes sent after STARTTLS, before the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StartTlsTrailingPolicy {
    /// Refuse the upgrade and close.
    #[default]
    Reject,
    /// Drop them and go on (what Postfix does).
    Discard,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!("off".parse::<ListenAddr>(), Ok(ListenAddr::Off));
        assert_eq!("OFF".parse::<ListenAddr>(), Ok(ListenAddr::Off));
        assert_eq!(
            "127.0.0.1:2525".parse::<ListenAddr>().unwrap().addr(),
            Some("127.0.0.1:2525".parse().unwrap())
        );
        assert_eq!("[::1]:0".parse::<ListenAddr>().unwrap().to_string(), "[::1]:0");
        let err = "localhost:25".parse::<ListenAddr>().unwrap_err();
        assert!(err.contains("expected IP:PORT"), "{err}");
        assert!("127.0.0.1".parse::<ListenAddr>().is_err(), "a port is needed");
    }

    #[test]
    fn sizes() {
        let table: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("1024", Some(1024)),
            ("10k", Some(10 * 1024)),
            ("25M", Some(25 * 1024 * 1024)),
            ("25 MiB", Some(25 * 1024 * 1024)),
            ("1G", Some(1 << 30)),
            ("", None),
            ("M", None),
            ("-1", None),
            ("12T", None),
            ("1.5M", None),
            ("99999999999999999999", None),
            ("99999999999999G", None),
        ];
        for (text, expected) in table {
            assert_eq!(text.parse::<ByteSize>().ok().map(|s| s.0), *expected, "{text:?}");
        }
    }
}

/// Where a secret (a password) comes from: `env:VAR` (an environment variable) or
/// `file:PATH` (the first line of a file). Never the secret itself, so it does not end up
/// in a configuration file, a process list or a shell history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// `env:VAR`.
    Env(String),
    /// `file:PATH`.
    File(std::path::PathBuf),
}

impl FromStr for SecretSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match (s.strip_prefix("env:"), s.strip_prefix("file:")) {
            (Some(var), _) if !var.is_empty() => Ok(SecretSource::Env(var.to_owned())),
            (_, Some(path)) if !path.is_empty() => Ok(SecretSource::File(path.into())),
            _ => Err(String::from(
                "expected env:VARIABLE or file:PATH (a password is never written out)",
            )),
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "env:{var}"),
            SecretSource::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl SecretSource {
    /// The secret: the variable's value, or the file's first line without its line end.
    pub(crate) fn read(&self) -> anyhow::Result<String> {
        use anyhow::Context;
        match self {
            SecretSource::Env(var) => std::env::var(var)
                .with_context(|| format!("{self}: the environment variable is not set")),
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{self}: cannot read the file"))?;
                Ok(text.lines().next().unwrap_or_default().to_owned())
            }
        }
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The queue's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum QueueBackend {
    /// `DATA_DIR/queue`: one node.
    #[default]
    File,
    /// A PostgreSQL database that several nodes share.
    Postgres,
}
