//! What a [`super::ServerSession`] offers and enforces.

use crate::command::Mechanism;
use crate::data::{BareLineEndings, NulOctets};
use crate::ehlo::Capability;

/// Whether and how STARTTLS is offered (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsOffer {
    /// No STARTTLS (the transport has no certificate, or is TLS already).
    #[default]
    None,
    /// STARTTLS is announced; plaintext mail is accepted too (an MX).
    Offered,
    /// STARTTLS is announced and required before AUTH and MAIL (submission, RFC 6409):
    /// "530 5.7.0 Must issue a STARTTLS command first".
    Required,
}

/// What to do with bytes the client sent after STARTTLS, before the handshake.
///
/// Such bytes were sent in the clear and would otherwise be read as if they came through
/// TLS (CVE-2011-0411, "STARTTLS command injection").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StartTlsTrailing {
    /// Answer "554 5.5.0" instead of 220 and close (the default).
    #[default]
    Reject,
    /// Drop them, answer 220 and report how many were dropped (what Postfix does).
    Discard,
}

/// AUTH policy (RFC 4954).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthConfig {
    /// Mechanisms announced. PLAIN and LOGIN are framed by the session
    /// ([`super::ServerEvent::Auth`]); any other is handed to the application step by
    /// step ([`super::ServerEvent::AuthStep`]).
    pub mechanisms: Vec<Mechanism<'static>>,
    /// Allow AUTH without TLS. Never on a network listener; for loopback tests only.
    pub allow_without_tls: bool,
    /// Require a successful AUTH before MAIL (submission): "530 5.7.0 Authentication
    /// required".
    pub required: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mechanisms: vec![Mechanism::PLAIN, Mechanism::LOGIN],
            allow_without_tls: false,
            required: false,
        }
    }
}

/// Configuration of a [`super::ServerSession`].
///
/// Every field has a safe default: see [`ServerConfig::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The name in the greeting and the EHLO reply.
    pub hostname: String,
    /// Text after "220 hostname " in the greeting.
    pub banner: String,
    /// LMTP (RFC 2033) instead of SMTP: LHLO, and one reply per recipient after data.
    pub lmtp: bool,
    /// Longest command line, CRLF included (RFC 5321: 512).
    pub max_line: usize,
    /// Largest message in octets, announced in SIZE; `None` for no limit.
    pub max_message_size: Option<u64>,
    /// Most recipients per transaction (RFC 5321 4.5.3.1.8 asks for at least 100);
    /// more get "452 4.5.3 Too many recipients".
    pub max_recipients: usize,
    /// Protocol errors tolerated before "421 4.7.0 Too many errors" and close.
    pub max_errors: usize,
    /// Bare CR/LF in DATA.
    pub bare_line_endings: BareLineEndings,
    /// NUL octets in a 7BIT or 8BITMIME message, by DATA or by BDAT (BINARYMIME content
    /// is taken as it comes).
    pub nul_octets: NulOctets,
    /// STARTTLS availability.
    pub tls: TlsOffer,
    /// The session starts under TLS (implicit TLS, RFC 8314).
    pub implicit_tls: bool,
    /// Bytes after STARTTLS.
    pub starttls_trailing: StartTlsTrailing,
    /// AUTH; `None` announces no AUTH.
    pub auth: Option<AuthConfig>,
    /// Announce PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// Close the session, with "554 5.5.0", when the client sends commands ahead without
    /// PIPELINING negotiated, sends more after a rejected DATA, or pipelines after the end
    /// of data without PIPELINING (the client is not waiting for replies it must wait
    /// for; smuggled commands would be read as commands).
    pub reject_improper_pipelining: bool,
    /// Announce 8BITMIME.
    pub eight_bit_mime: bool,
    /// Announce CHUNKING (BDAT).
    pub chunking: bool,
    /// Announce BINARYMIME (needs `chunking`).
    pub binary_mime: bool,
    /// Announce SMTPUTF8.
    pub smtputf8: bool,
    /// Announce DSN.
    pub dsn: bool,
    /// Announce ENHANCEDSTATUSCODES and use them in replies.
    pub enhanced_status_codes: bool,
    /// Announce REQUIRETLS (RFC 8689; only under TLS).
    pub requiretls: bool,
    /// Answer EXPN with 502 instead of an event (the default: EXPN leaks lists).
    pub disable_expn: bool,
    /// Further capabilities to announce (the application handles their parameters).
    pub extra_capabilities: Vec<Capability<'static>>,
    /// Accept MAIL/RCPT parameters the session has no type for (otherwise 555).
    pub accept_unknown_parameters: bool,
}

impl ServerConfig {
    /// A configuration with the safe defaults: 512-octet lines, 25 MiB messages, 1000
    /// recipients, 10 errors, bare CR/LF and NUL in DATA rejected, no STARTTLS (set
    /// [`TlsOffer`] when the transport has a certificate), AUTH PLAIN/LOGIN only under
    /// TLS, PIPELINING, 8BITMIME, CHUNKING, BINARYMIME, SMTPUTF8, DSN,
    /// ENHANCEDSTATUSCODES.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            hostname: hostname.into(),
            banner: "ESMTP".to_owned(),
            lmtp: false,
            max_line: crate::command::decode::DEFAULT_MAX_COMMAND_LINE,
            max_message_size: Some(25 * 1024 * 1024),
            max_recipients: 1000,
            max_errors: 10,
            bare_line_endings: BareLineEndings::Reject,
            nul_octets: NulOctets::Reject,
            tls: TlsOffer::None,
            implicit_tls: false,
            starttls_trailing: StartTlsTrailing::Reject,
            auth: Some(AuthConfig::default()),
            pipelining: true,
            reject_improper_pipelining: true,
            eight_bit_mime: true,
            chunking: true,
            binary_mime: true,
            smtputf8: true,
            dsn: true,
            enhanced_status_codes: true,
            requiretls: false,
            disable_expn: true,
            extra_capabilities: Vec::new(),
            accept_unknown_parameters: false,
        }
    }
}
