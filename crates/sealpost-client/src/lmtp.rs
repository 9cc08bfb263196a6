//! Where LMTP (RFC 2033) delivery goes: a mailbox server (Dovecot's LMTP, for example) on
//! a TCP port or a Unix-domain socket.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::route::Route;

/// The LMTP server of [`Client::deliver_lmtp`](crate::Client::deliver_lmtp).
///
/// Parsed from `HOST:PORT`, `[HOST]:PORT`, `[IPv6]:PORT` (as [`Route`]) or `unix:PATH`,
/// and deserialized from the same strings (for `[delivery] lmtp = "unix:/run/dovecot/lmtp"`
/// in a configuration file). Displayed the same way.
///
/// ```
/// use sealpost_client::LmtpTarget;
///
/// let tcp: LmtpTarget = "127.0.0.1:24".parse().unwrap();
/// assert_eq!(tcp, LmtpTarget::Tcp { host: "127.0.0.1".into(), port: 24 });
/// let v6: LmtpTarget = "[::1]:24".parse().unwrap();
/// assert_eq!(v6.to_string(), "[::1]:24");
/// let unix: LmtpTarget = "unix:/run/dovecot/lmtp".parse().unwrap();
/// assert_eq!(unix, LmtpTarget::Unix("/run/dovecot/lmtp".into()));
/// assert_eq!(unix.to_string(), "unix:/run/dovecot/lmtp");
/// assert!("/run/dovecot/lmtp".parse::<LmtpTarget>().is_err(), "unix: says it is a path");
/// assert!("unix:".parse::<LmtpTarget>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LmtpTarget {
    /// A TCP port (LMTP's is 24). The configured TLS policy applies: STARTTLS when offered
    /// at level `may`, required at the levels that require TLS.
    Tcp {
        /// A DNS name or IP address.
        host: String,
        /// The port.
        port: u16,
    },
    /// A Unix-domain stream socket, such as Dovecot's `/run/dovecot/lmtp`. Never under
    /// TLS, whatever the configured level: the socket does not leave the machine.
    Unix(PathBuf),
}

impl fmt::Display for LmtpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LmtpTarget::Tcp { host, port } => {
                Route::Host { host: host.clone(), port: *port }.fmt(f)
            }
            LmtpTarget::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A string that is not an [`LmtpTarget`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LMTP server {0:?}: expected HOST:PORT, [HOST]:PORT, [IPv6]:PORT or unix:PATH")]
pub struct BadLmtpTarget(pub String);

impl FromStr for LmtpTarget {
    type Err = BadLmtpTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(BadLmtpTarget(s.to_owned()));
            }
            return Ok(LmtpTarget::Unix(PathBuf::from(path)));
        }
        match s.parse::<Route>() {
            Ok(Route::Host { host, port }) => Ok(LmtpTarget::Tcp { host, port }),
            _ => Err(BadLmtpTarget(s.to_owned())),
        }
    }
}

impl<'de> serde::Deserialize<'de> for LmtpTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for LmtpTarget {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        let tcp = |h: &str, p| Some(LmtpTarget::Tcp { host: h.into(), port: p });
        let unix = |p: &str| Some(LmtpTarget::Unix(p.into()));
        let table = [
            ("127.0.0.1:24", tcp("127.0.0.1", 24), "127.0.0.1:24"),
            ("[::1]:24", tcp("::1", 24), "[::1]:24"),
            ("[mailbox.internal]:2424", tcp("mailbox.internal", 2424), "mailbox.internal:2424"),
            ("mailbox.internal:24", tcp("mailbox.internal", 24), "mailbox.internal:24"),
            ("unix:/run/dovecot/lmtp", unix("/run/dovecot/lmtp"), "unix:/run/dovecot/lmtp"),
            (
                "unix:private/dovecot-lmtp",
                unix("private/dovecot-lmtp"),
                "unix:private/dovecot-lmtp",
            ),
            ("unix:", None, ""),
            ("/run/dovecot/lmtp", None, ""),
            ("::1:24", None, ""),
            ("mailbox.internal", None, ""),
            ("mailbox.internal:lmtp", None, ""),
            ("", None, ""),
        ];
        for (input, want, shown) in table {
            let got = input.parse::<LmtpTarget>();
            assert_eq!(got.as_ref().ok(), want.as_ref(), "{input}");
            match got {
                Ok(target) => {
                    assert_eq!(target.to_string(), shown, "{input}");
                    assert_eq!(target.to_string().parse::<LmtpTarget>().as_ref(), Ok(&target));
                }
                Err(e) => assert_eq!(e, BadLmtpTarget(input.to_owned())),
            }
        }
    }

    #[test]
    fn targets_deserialize_from_strings() {
        #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
        struct Delivery {
            lmtp: LmtpTarget,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Config {
            delivery: Delivery,
        }
        let read = |text: &str| toml::from_str::<Config>(text).map(|c| c.delivery.lmtp);
        assert_eq!(
            read("[delivery]\nlmtp = \"unix:/run/dovecot/lmtp\"\n").unwrap(),
            LmtpTarget::Unix("/run/dovecot/lmtp".into())
        );
        assert_eq!(
            read("[delivery]\nlmtp = \"127.0.0.1:24\"\n").unwrap(),
            LmtpTarget::Tcp { host: "127.0.0.1".into(), port: 24 }
        );
        let error = read("[delivery]\nlmtp = \"dovecot\"\n").unwrap_err().to_string();
        assert!(error.contains("unix:PATH"), "{error}");
        let delivery = Delivery { lmtp: LmtpTarget::Tcp { host: "::1".into(), port: 24 } };
        let text = toml::to_string(&delivery).unwrap();
        assert_eq!(text, "lmtp = \"[::1]:24\"\n");
        assert_eq!(toml::from_str::<Delivery>(&text).unwrap(), delivery);
    }
}
