//! Why a delivery failed, and whether trying again later can help.

use std::io;
use std::time::Duration;

use sealpost_codec::Reply;
use sealpost_codec::client::ClientError;
use sealpost_starttls::TlsError;
use sealpost_starttls::tlsrpt::{Policy, ResultType};

use crate::config::Phase;

/// What went wrong. [`DeliveryError::is_permanent`] tells a bounce from a deferral.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The destination could not be resolved.
    #[error("cannot resolve {name}: {source}")]
    Resolve {
        /// The name.
        name: String,
        /// Why: the DNS resolver's error ([`DnsError`](sealpost_starttls::dns::DnsError)),
        /// the MX resolver's ([`MxError`](crate::MxError)), the system resolver's
        /// ([`std::io::Error`]), or a message when no lookup failed but no address came of it.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The domain does not exist (NXDOMAIN).
    #[error("{0} does not exist (NXDOMAIN)")]
    NoSuchDomain(String),
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    #[error("{0} accepts no mail (null MX, RFC 7505)")]
    NullMx(String),
    /// No connection: refused, unreachable, or (LMTP) no socket at the path. Temporary.
    #[error("cannot connect to {addr}: {error}")]
    Connect {
        /// The address, as [`ServerAddr`](crate::ServerAddr) shows it (`unix:PATH` for a
        /// Unix-domain socket).
        addr: String,
        /// Why.
        error: io::Error,
    },
    /// A phase took too long.
    #[error("timed out after {after:?} {phase}")]
    Timeout {
        /// The phase.
        phase: Phase,
        /// Its deadline.
        after: Duration,
    },
    /// No greeting came. An implicit-TLS port waits for the client's TLS handshake and
    /// says nothing, so this is the usual sign of a TLS mode mismatch.
    #[error(
        "no greeting within {0:?}; if this is an implicit-TLS port (such as 465), connect with \
         implicit TLS"
    )]
    NoGreeting(Duration),
    /// The server closed the connection.
    #[error("the server closed the connection while {0}")]
    Closed(Phase),
    /// Implicit TLS and the port do not agree (a plaintext port given as implicit TLS, or
    /// a port that starts TLS at once given as plaintext).
    #[error("TLS mode mismatch: {0}")]
    TlsModeMismatch(String),
    /// The level requires TLS and the server does not offer it, refuses STARTTLS, or only
    /// accepts HELO. Nothing was sent beyond EHLO/HELO and STARTTLS.
    #[error("TLS is required (level {level}) but {reason}; nothing was sent")]
    TlsRequired {
        /// The level.
        level: sealpost_starttls::client::SecurityLevel,
        /// The RFC 8460 result type (`starttls-not-supported`).
        result_type: ResultType,
        /// What the server did.
        reason: String,
    },
    /// The TLS handshake failed (certificate refused, no shared parameters, injected
    /// bytes). At level `may` the delivery is retried in clear on a new connection.
    #[error("TLS with {host} failed: {error}")]
    Tls {
        /// The host.
        host: String,
        /// Why.
        error: TlsError,
    },
    /// A policy the destination publishes (DANE TLSA records, RFC 7672, or an MTA-STS
    /// policy in mode enforce, RFC 8461) could not be met at this host: bogus or failed
    /// DNSSEC lookups, no usable TLSA records at `dane-only`, an MX host the MTA-STS policy
    /// does not list, or a certificate the policy refuses. Temporary: nothing was sent.
    #[error("{} policy of {}: {reason} ({result_type})", policy.policy_type, policy.policy_domain)]
    PolicyNotMet {
        /// The policy (for TLS-RPT).
        policy: Box<Policy>,
        /// The RFC 8460 result type.
        result_type: ResultType,
        /// What happened.
        reason: String,
    },
    /// The SMTP session failed (STARTTLS response injection, a malformed reply, 421) or
    /// refused a call (SIZE exceeded, extension not offered).
    #[error("SMTP session: {0}")]
    Protocol(ClientError),
    /// A reply that ends the session: a refused greeting, EHLO and HELO refused, or (LMTP)
    /// a refused LHLO.
    #[error("{context} refused: {reply}")]
    Refused {
        /// What was refused.
        context: &'static str,
        /// The reply.
        reply: Reply<'static>,
    },
    /// AUTH is configured but cannot be used here (no TLS, or no PLAIN/LOGIN offered
    /// under TLS); credentials are never sent in clear.
    #[error("AUTH not possible: {0}")]
    AuthUnavailable(String),
    /// The server refused the credentials.
    #[error("AUTH failed: {0}")]
    AuthFailed(Reply<'static>),
    /// The message asks for REQUIRETLS (RFC 8689) and this session cannot honour it.
    #[error("REQUIRETLS cannot be honoured: {0}")]
    RequireTls(String),
    /// Message content that the server cannot take (8-bit data without 8BITMIME).
    #[error("the message cannot be sent to this server: {0}")]
    Content(String),
    /// The message was not tried because the connection failed before it.
    #[error("not attempted: an earlier failure ended the connection")]
    NotAttempted,
    /// Reading or writing failed.
    #[error("I/O error while {phase}: {error}")]
    Io {
        /// The phase.
        phase: Phase,
        /// Why.
        error: io::Error,
    },
}

// Display already says everything (the wrapped error's text included), so no `source()`
// chain: printing the chain would repeat it.
impl From<ClientError> for DeliveryError {
    fn from(error: ClientError) -> Self {
        DeliveryError::Protocol(error)
    }
}

impl DeliveryError {
    /// True when trying again later cannot help (bounce), false for a deferral.
    ///
    /// TLS failures are temporary, as in Postfix: the peer's certificate may be fixed.
    /// A refused greeting or AUTH counts as permanent only with a 5xx code.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::NullMx(_)
            | DeliveryError::NoSuchDomain(_)
            | DeliveryError::TlsModeMismatch(_)
            | DeliveryError::AuthUnavailable(_)
            | DeliveryError::RequireTls(_)
            | DeliveryError::Content(_) => true,
            DeliveryError::Refused { reply, .. } | DeliveryError::AuthFailed(reply) => {
                reply.code().is_permanent_failure()
            }
            DeliveryError::Protocol(e) => matches!(
                e,
                ClientError::MessageTooLarge { .. }
                    | ClientError::NulInContent { .. }
                    | ClientError::NotOffered(_)
                    | ClientError::RequireTlsWithoutTls
                    | ClientError::AuthWithoutTls
            ),
            _ => false,
        }
    }

    /// The published policy (DANE or MTA-STS) that a TLS failure happened under.
    pub fn tls_policy(&self) -> Option<&Policy> {
        match self {
            DeliveryError::PolicyNotMet { policy, .. } => Some(policy),
            _ => None,
        }
    }

    /// The RFC 8460 result type, for a failure of the TLS part.
    pub fn tls_result_type(&self) -> Option<ResultType> {
        match self {
            DeliveryError::TlsRequired { result_type, .. }
            | DeliveryError::PolicyNotMet { result_type, .. } => Some(*result_type),
            DeliveryError::Tls { error, .. } => Some(error.result_type()),
            DeliveryError::Protocol(ClientError::ResponseInjection { .. }) => {
                Some(ResultType::ValidationFailure)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_starttls::client::SecurityLevel;

    fn reply(code: u16) -> Reply<'static> {
        Reply::new(code, "text").unwrap_or_else(|_| unreachable!("a valid reply code"))
    }

    #[test]
    fn permanent_and_temporary_failures() {
        let io = || io::Error::other("boom");
        let table: Vec<(DeliveryError, bool)> = vec![
            (DeliveryError::NullMx("example.org".into()), true),
            (DeliveryError::NoSuchDomain("example.org".into()), true),
            (DeliveryError::TlsModeMismatch("x".into()), true),
            (DeliveryError::AuthUnavailable("x".into()), true),
            (DeliveryError::RequireTls("x".into()), true),
            (DeliveryError::Content("x".into()), true),
            (DeliveryError::Protocol(ClientError::NulInContent { offset: 3 }), true),
            (DeliveryError::AuthFailed(reply(535)), true),
            (DeliveryError::AuthFailed(reply(454)), false),
            (DeliveryError::Refused { context: "the greeting", reply: reply(554) }, true),
            (DeliveryError::Refused { context: "the greeting", reply: reply(421) }, false),
            (ClientError::MessageTooLarge { size: 2, limit: 1 }.into(), true),
            (ClientError::NotOffered("SMTPUTF8").into(), true),
            (ClientError::ResponseInjection { trailing: 3 }.into(), false),
            (ClientError::ServiceClosing(reply(421)).into(), false),
            (DeliveryError::Connect { addr: "a".into(), error: io() }, false),
            (DeliveryError::Io { phase: Phase::Data, error: io() }, false),
            (DeliveryError::Timeout { phase: Phase::Envelope, after: Duration::ZERO }, false),
            (DeliveryError::NoGreeting(Duration::ZERO), false),
            (DeliveryError::Closed(Phase::Greeting), false),
            (DeliveryError::Tls { host: "h".into(), error: TlsError::NotTls }, false),
            (
                DeliveryError::TlsRequired {
                    level: SecurityLevel::Encrypt,
                    result_type: ResultType::StarttlsNotSupported,
                    reason: "x".into(),
                },
                false,
            ),
            (DeliveryError::NotAttempted, false),
            (
                DeliveryError::PolicyNotMet {
                    policy: Box::new(Policy::new(
                        sealpost_starttls::tlsrpt::PolicyType::Tlsa,
                        "example.org",
                    )),
                    result_type: ResultType::DnssecInvalid,
                    reason: "x".into(),
                },
                false,
            ),
        ];
        for (error, permanent) in table {
            assert_eq!(error.is_permanent(), permanent, "{error}");
        }
    }

    #[test]
    fn tls_failures_carry_their_result_type() {
        let required = DeliveryError::TlsRequired {
            level: SecurityLevel::Verify,
            result_type: ResultType::StarttlsNotSupported,
            reason: "no STARTTLS".into(),
        };
        assert_eq!(required.tls_result_type(), Some(ResultType::StarttlsNotSupported));
        let rejected = DeliveryError::Tls {
            host: "mx".into(),
            error: TlsError::CertificateRejected {
                result_type: ResultType::CertificateExpired,
                reason: sealpost_starttls::rustls::Error::InvalidCertificate(
                    sealpost_starttls::rustls::CertificateError::Expired,
                ),
            },
        };
        assert_eq!(rejected.tls_result_type(), Some(ResultType::CertificateExpired));
        assert_eq!(DeliveryError::Closed(Phase::Quit).tls_result_type(), None);
    }
}
