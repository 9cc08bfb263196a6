//! The Received trace header (RFC 5321 section 4.4, RFC 3848) the driver adds to every
//! message, and the date format it uses.

use std::fmt::Write;

use sealpost_codec::ForwardPath;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::handler::{Envelope, SessionInfo};

/// The `with` protocol of RFC 3848 (SMTP, ESMTP; S for TLS, A for AUTH; LMTP) and
/// RFC 6531 section 4.3 (UTF8SMTP, UTF8LMTP for SMTPUTF8 transactions).
///
/// ```
/// # use sealpost_server::headers::protocol_name;
/// assert_eq!(protocol_name(false, true, true, true, false), "ESMTPSA");
/// assert_eq!(protocol_name(false, true, true, false, true), "UTF8SMTPS");
/// assert_eq!(protocol_name(true, true, false, false, false), "LMTP");
/// ```
pub fn protocol_name(lmtp: bool, esmtp: bool, tls: bool, auth: bool, smtputf8: bool) -> String {
    let base = match (lmtp, esmtp, smtputf8) {
        (true, _, false) => "LMTP",
        (true, _, true) => "UTF8LMTP",
        (false, false, _) => return String::from("SMTP"),
        (false, true, false) => "ESMTP",
        (false, true, true) => "UTF8SMTP",
    };
    let mut name = String::from(base);
    if tls {
        name.push('S');
    }
    if auth {
        name.push('A');
    }
    name
}

/// The `with` protocol of a transaction in this session.
pub fn with_protocol(info: &SessionInfo, envelope: &Envelope, lmtp: bool) -> String {
    let smtputf8 = envelope.mail_parameters.smtputf8();
    protocol_name(lmtp, info.esmtp, info.tls.is_some(), info.user.is_some(), smtputf8)
}

/// The current time in RFC 5322 form, such as `Sun, 29 Nov 2026 17:05:00 +0000`.
pub fn rfc5322_now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc2822)
        .unwrap_or_else(|_| String::from("Thu, 01 Jan 1970 00:00:00 +0000"))
}

/// The Received header for a message arriving in this session, CRLF-terminated, folded
/// the way Postfix folds it:
///
/// ```text
/// Received: from client.example ([192.0.2.1])
///         by mx.example.org (sealpost) with ESMTPS id 1a2b3c
///         (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
///         for <alice@example.org>; Sun, 29 Nov 2026 17:05:00 +0000
/// ```
pub fn received(info: &SessionInfo, envelope: &Envelope, hostname: &str, lmtp: bool) -> String {
    let helo = info.helo.as_ref().map_or_else(|| String::from("unknown"), ToString::to_string);
    let ip = match info.peer.ip() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("IPv6:{v6}"),
    };
    let mut out = String::with_capacity(256);
    let _ = write!(out, "Received: from {helo} ([{ip}])\r\n");
    let _ = write!(
        out,
        "\tby {hostname} (sealpost) with {} id {}",
        with_protocol(info, envelope, lmtp),
        info.id
    );
    if let Some(tls) = &info.tls {
        let _ = write!(out, "\r\n\t({})", tls.received_clause());
    }
    if let [(ForwardPath::Mailbox(rcpt), _)] = envelope.recipients.as_slice() {
        let _ = write!(out, "\r\n\tfor <{rcpt}>");
    }
    let _ = write!(out, "; {}\r\n", rfc5322_now());
    out
}
