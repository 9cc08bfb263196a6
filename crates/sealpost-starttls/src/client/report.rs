//! What an outbound connection got in terms of TLS: the level asked for, whether the
//! server was authenticated, the session, and on failure the RFC 8460 result type.

use std::fmt;

use crate::certs::hex_colon;
use crate::client::SecurityLevel;
use crate::outcome::TlsOutcome;
use crate::tlsrpt::{Policy, ResultType};

/// How far the server was trusted, in the words Postfix logs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trust {
    /// TLS, and the certificate passed the level's check (fingerprint, verify, secure or a
    /// plugged-in verifier).
    Verified,
    /// TLS, but the certificate was not checked (may, encrypt): safe from eavesdroppers,
    /// not from an active attacker.
    Untrusted,
    /// No TLS.
    None,
}

impl Trust {
    /// `verified`, `untrusted` or `none`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Trust::Verified => "verified",
            Trust::Untrusted => "untrusted",
            Trust::None => "none",
        }
    }
}

impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS summary of one outbound connection, for logs, reports and TLS-RPT.
///
/// ```
/// use sealpost_starttls::client::{OutboundTls, SecurityLevel, Trust};
/// use sealpost_starttls::tlsrpt::ResultType;
///
/// let clear = OutboundTls::plaintext(
///     SecurityLevel::May,
///     Some(ResultType::StarttlsNotSupported),
///     "the server does not offer STARTTLS",
/// );
/// assert_eq!(clear.trust, Trust::None);
/// assert_eq!(
///     clear.to_string(),
///     "none (level may; starttls-not-supported: the server does not offer STARTTLS)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboundTls {
    /// The level the policy asked for.
    pub level: SecurityLevel,
    /// Verified, untrusted or none.
    pub trust: Trust,
    /// The TLS session, when there is one.
    pub session: Option<TlsOutcome>,
    /// Why TLS did not happen or failed (RFC 8460 section 4.3).
    pub failure: Option<ResultType>,
    /// The details of the failure, for people.
    pub detail: Option<String>,
    /// The TLS session was resumed from the destination's cache (an abbreviated
    /// handshake; the certificate was checked when the session was first made).
    pub resumed: bool,
    /// The published policy the connection was held to (DANE TLSA records or an MTA-STS
    /// policy), for TLS-RPT; `None` when only local configuration applied
    /// (`no-policy-found`).
    pub policy: Option<Policy>,
}

impl OutboundTls {
    /// A connection without TLS.
    pub fn plaintext(
        level: SecurityLevel,
        failure: Option<ResultType>,
        detail: impl Into<String>,
    ) -> Self {
        let detail = detail.into();
        OutboundTls {
            level,
            trust: Trust::None,
            session: None,
            failure,
            detail: (!detail.is_empty()).then_some(detail),
            resumed: false,
            policy: None,
        }
    }

    /// A connection under TLS.
    pub fn established(level: SecurityLevel, session: TlsOutcome, verified: bool) -> Self {
        OutboundTls {
            level,
            trust: if verified { Trust::Verified } else { Trust::Untrusted },
            session: Some(session),
            failure: None,
            detail: None,
            resumed: false,
            policy: None,
        }
    }

    /// True under TLS.
    pub fn is_tls(&self) -> bool {
        self.session.is_some()
    }
}

impl fmt::Display for OutboundTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.trust)?;
        if let Some(session) = &self.session {
            write!(f, " {} {}", session.version, session.cipher)?;
            if self.resumed {
                f.write_str(" resumed")?;
            }
            if let Some(peer) = &session.peer {
                write!(f, " cert-sha256={}", hex_colon(&peer.cert_sha256))?;
                if let Some(spki) = &peer.spki_sha256 {
                    write!(f, " spki-sha256={}", hex_colon(spki))?;
                }
            }
        }
        write!(f, " (level {}", self.level)?;
        if let Some(policy) = &self.policy {
            write!(f, "; policy {}", policy.policy_type)?;
        }
        match (&self.failure, &self.detail) {
            (Some(failure), Some(detail)) => write!(f, "; {failure}: {detail}")?,
            (Some(failure), None) => write!(f, "; {failure}")?,
            (None, Some(detail)) => write!(f, "; {detail}")?,
            (None, None) => {}
        }
        f.write_str(")")
    }
}
