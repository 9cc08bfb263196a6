//! serde support (feature `serde`): an envelope stored by a mail queue reads back as the
//! same validated types.
//!
//! Validated strings (addresses, xtext, keywords, values) are stored in their text form
//! and checked again by their constructors when read: a stored value that was edited into
//! something invalid is refused, never put on the wire. The parameter enums use serde's
//! derived form (`{"Size": 1024}`, `"SmtpUtf8"`, `{"EnvId": "QQ+2B314"}`), and parameter
//! lists are checked for duplicates as when they are parsed.
//!
//! | type | stored as |
//! | --- | --- |
//! | `Mailbox` | `"local@domain"` (the local part quoted where SMTP needs it) |
//! | `ReversePath` | the mailbox, or `null` for `<>` |
//! | `ForwardPath` | the mailbox, or `"Postmaster"` for `<Postmaster>` |
//! | `XText`, `Keyword`, `EsmtpValue`, `Atom`, `Text` | their text (xtext stays encoded) |
//! | `MailParameters`, `RcptParameters` | a list of parameters |
//!
//! ```
//! use sealpost_codec::{Command, ReversePath};
//!
//! let (_, command) = Command::decode(b"MAIL FROM:<a@example.org> RET=HDRS ENVID=x+2By\r\n").unwrap();
//! let Command::Mail { reverse_path, parameters } = command else { unreachable!() };
//! let json = serde_json::to_string(&(&reverse_path, &parameters)).unwrap();
//! assert_eq!(json, r#"["a@example.org",[{"Ret":"Hdrs"},{"EnvId":"x+2By"}]]"#);
//! let (path, params): (ReversePath<'static>, sealpost_codec::MailParameters<'static>) =
//!     serde_json::from_str(&json).unwrap();
//! assert_eq!((path, params), (reverse_path.into_owned(), parameters.into_owned()));
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::{
    ForwardPath, MailParameter, MailParameters, Mailbox, RcptParameter, RcptParameters,
    ReversePath, XText,
};

/// Reads a string, owned or borrowed, and hands it to `build`.
pub(crate) fn string_with<'de, D, T, E>(
    deserializer: D,
    what: &'static str,
    build: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    struct StringVisitor(&'static str);
    impl Visitor<'_> for StringVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} as a string", self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
    }
    let text = deserializer.deserialize_string(StringVisitor(what))?;
    build(text).map_err(|e| de::Error::custom(format!("invalid {what}: {e}")))
}

/// Serialize and Deserialize for a validated `Cow<str>` newtype of `types::text`.
macro_rules! string_form {
    ($name:ident) => {
        #[cfg(feature = "serde")]
        impl serde::Serialize for $name<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de, 'a> serde::Deserialize<'de> for $name<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::serde_impls::string_with(d, stringify!($name), |s| Self::new(s))
            }
        }
    };
}
pub(crate) use string_form;

impl Serialize for XText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, 'a> Deserialize<'de> for XText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_with(d, "xtext", |s| XText::new(Cow::Owned(s)))
    }
}

impl Serialize for Mailbox<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, 'a> Deserialize<'de> for Mailbox<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_with(d, "mailbox", |s| s.parse::<Mailbox<'static>>())
    }
}

impl Serialize for ReversePath<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.mailbox().serialize(s)
    }
}

impl<'de, 'a> Deserialize<'de> for ReversePath<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Mailbox<'a>>::deserialize(d)? {
            None => ReversePath::Null,
            Some(mailbox) => ReversePath::Mailbox(mailbox),
        })
    }
}

/// How `<Postmaster>` is stored: no mailbox is spelt like this (it has no `@`).
const POSTMASTER: &str = "Postmaster";

impl Serialize for ForwardPath<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ForwardPath::Postmaster => s.serialize_str(POSTMASTER),
            ForwardPath::Mailbox(m) => m.serialize(s),
        }
    }
}

impl<'de, 'a> Deserialize<'de> for ForwardPath<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_with(d, "forward path", |s| {
            if s == POSTMASTER {
                Ok(ForwardPath::Postmaster)
            } else {
                s.parse::<Mailbox<'static>>().map(ForwardPath::Mailbox)
            }
        })
    }
}

impl Serialize for MailParameters<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, 'a> Deserialize<'de> for MailParameters<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<MailParameter<'a>>::deserialize(d)?;
        MailParameters::from_vec(list).map_err(de::Error::custom)
    }
}

impl Serialize for RcptParameters<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, 'a> Deserialize<'de> for RcptParameters<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<RcptParameter<'a>>::deserialize(d)?;
        RcptParameters::from_vec(list).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Command, ForwardPath, MailParameters, RcptParameters, ReversePath};

    fn round_trip<T>(value: &T) -> T
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let json = serde_json::to_string(value).unwrap();
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn envelopes_read_back_as_the_same_types() {
        let mail = "MAIL FROM:<\"john smith\"@example.org> SIZE=100 BODY=8BITMIME SMTPUTF8 \
                    RET=FULL ENVID=QQ+2B314 REQUIRETLS MT-PRIORITY=-3 BY=120;R X-FOO=bar X-FLAG\r\n";
        let Ok((_, Command::Mail { reverse_path, parameters })) = Command::decode(mail.as_bytes())
        else {
            panic!("not MAIL")
        };
        let stored: (ReversePath<'static>, MailParameters<'static>) =
            round_trip(&(reverse_path.clone(), parameters.clone()));
        assert_eq!(stored, (reverse_path.into_owned(), parameters.into_owned()));

        let rcpt = "RCPT TO:<Postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@example.org \
                    RRVS=2026-01-01T00:00:00Z;C\r\n";
        let Ok((_, Command::Rcpt { forward_path, parameters })) = Command::decode(rcpt.as_bytes())
        else {
            panic!("not RCPT")
        };
        let stored: (ForwardPath<'static>, RcptParameters<'static>) =
            round_trip(&(forward_path.clone(), parameters.clone()));
        assert_eq!(stored, (forward_path.into_owned(), parameters.into_owned()));
        assert_eq!(serde_json::to_string(&ForwardPath::Postmaster).unwrap(), "\"Postmaster\"");
        assert_eq!(serde_json::to_string(&ReversePath::Null).unwrap(), "null");
    }

    #[test]
    fn invalid_stored_values_are_refused() {
        for (json, what) in [
            (r#""not an address""#, "mailbox"),
            (r#""a@b\r\nRSET""#, "mailbox"),
            (r#""postmaster""#, "mailbox"),
        ] {
            let err = serde_json::from_str::<ForwardPath<'static>>(json).unwrap_err();
            assert!(err.to_string().contains(what), "{json}: {err}");
        }
        let err =
            serde_json::from_str::<MailParameters<'static>>(r#"[{"EnvId":"a b"}]"#).unwrap_err();
        assert!(err.to_string().contains("xtext"), "{err}");
        let twice = r#"[{"Size":1},{"Size":2}]"#;
        assert!(serde_json::from_str::<MailParameters<'static>>(twice).is_err());
        let keyword = r#"[{"Unknown":{"keyword":"X FOO","value":null}}]"#;
        assert!(serde_json::from_str::<MailParameters<'static>>(keyword).is_err());
    }
}
