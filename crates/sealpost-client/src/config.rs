//! How a [`Client`](crate::Client) delivers: its name, TLS policy, credentials and
//! timeouts.

use std::fmt;
use std::time::Duration;

use sealpost_codec::Secret;
use sealpost_starttls::client::TlsPolicy;

/// The steps of a delivery, each with its own deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Resolving MX records and addresses.
    Resolve,
    /// The TCP connection.
    Connect,
    /// The server's 220 greeting.
    Greeting,
    /// EHLO/HELO (LHLO), STARTTLS, AUTH, RSET: one command and its reply.
    Command,
    /// The TLS handshake.
    Handshake,
    /// MAIL, RCPT and DATA (pipelined) and their replies.
    Envelope,
    /// Sending the message content.
    Data,
    /// The reply to the end of the data.
    DataEnd,
    /// QUIT.
    Quit,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Resolve => "resolving the destination",
            Phase::Connect => "connecting",
            Phase::Greeting => "waiting for the greeting",
            Phase::Command => "waiting for a command reply",
            Phase::Handshake => "the TLS handshake",
            Phase::Envelope => "the envelope (MAIL, RCPT, DATA)",
            Phase::Data => "sending the message",
            Phase::DataEnd => "waiting for the reply to the end of data",
            Phase::Quit => "QUIT",
        })
    }
}

/// Deadlines per phase. The defaults are the minimums of RFC 5321 section 4.5.3.2
/// (greeting 5 min, MAIL and RCPT 5 min, DATA 2 min, data block 3 min, end of data 10 min),
/// plus 30 s for resolving and connecting and 10 s for QUIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Resolving.
    pub resolve: Duration,
    /// Connecting.
    pub connect: Duration,
    /// The greeting.
    pub greeting: Duration,
    /// One command reply (EHLO, STARTTLS, AUTH).
    pub command: Duration,
    /// The TLS handshake.
    pub handshake: Duration,
    /// The envelope replies.
    pub envelope: Duration,
    /// Writing each block of message content.
    pub data: Duration,
    /// The reply to the end of data.
    pub data_end: Duration,
    /// QUIT.
    pub quit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            resolve: Duration::from_secs(30),
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(300),
            command: Duration::from_secs(300),
            handshake: Duration::from_secs(30),
            envelope: Duration::from_secs(300),
            data: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
            quit: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    /// Every phase with the same deadline (tests).
    pub fn all(deadline: Duration) -> Self {
        Timeouts {
            resolve: deadline,
            connect: deadline,
            greeting: deadline,
            command: deadline,
            handshake: deadline,
            envelope: deadline,
            data: deadline,
            data_end: deadline,
            quit: deadline,
        }
    }

    /// The deadline of a phase.
    pub fn of(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Resolve => self.resolve,
            Phase::Connect => self.connect,
            Phase::Greeting => self.greeting,
            Phase::Command => self.command,
            Phase::Handshake => self.handshake,
            Phase::Envelope => self.envelope,
            Phase::Data => self.data,
            Phase::DataEnd => self.data_end,
            Phase::Quit => self.quit,
        }
    }
}

/// A login for AUTH PLAIN or LOGIN. Sent only under TLS.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password (redacted in `Debug`).
    pub password: Secret<String>,
}

impl Credentials {
    /// A login.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { username: username.into(), password: Secret::new(password.into()) }
    }
}

/// Everything a [`Client`](crate::Client) needs to deliver.
///
/// ```
/// use sealpost_client::{Credentials, DeliveryConfig};
/// use sealpost_starttls::client::{SecurityLevel, TlsPolicy};
///
/// let config = DeliveryConfig::new("client.example.org")
///     .tls(TlsPolicy::new(SecurityLevel::Verify))
///     .credentials(Credentials::new("alice", "secret"));
/// assert_eq!(config.port, 25);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryConfig {
    /// The EHLO (and LHLO) name.
    pub helo_name: String,
    /// The TLS policy.
    pub tls: TlsPolicy,
    /// TLS from the first byte (RFC 8314, port 465) instead of STARTTLS.
    pub implicit_tls: bool,
    /// AUTH credentials (PLAIN or LOGIN, only under TLS; not used for LMTP).
    pub credentials: Option<Credentials>,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Pipeline when the server offers PIPELINING.
    pub pipelining: bool,
    /// Use BDAT when the server offers CHUNKING.
    pub chunking: bool,
    /// The port of MX hosts (25).
    pub port: u16,
}

impl DeliveryConfig {
    /// Defaults: level `may`, STARTTLS, no AUTH, pipelining and chunking when offered.
    pub fn new(helo_name: impl Into<String>) -> Self {
        DeliveryConfig {
            helo_name: helo_name.into(),
            tls: TlsPolicy::default(),
            implicit_tls: false,
            credentials: None,
            timeouts: Timeouts::default(),
            pipelining: true,
            chunking: true,
            port: 25,
        }
    }

    /// Sets the TLS policy.
    #[must_use]
    pub fn tls(mut self, policy: TlsPolicy) -> Self {
        self.tls = policy;
        self
    }

    /// Uses implicit TLS.
    #[must_use]
    pub fn implicit_tls(mut self, on: bool) -> Self {
        self.implicit_tls = on;
        self
    }

    /// Sets AUTH credentials.
    #[must_use]
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Sets the deadlines.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }
}
