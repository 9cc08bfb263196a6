//! Trace headers: Received (RFC 5321 section 4.4, RFC 3848) and Return-Path.

use std::fmt::Write;

use sealpost_codec::{ForwardPath, ReversePath};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::handler::{Envelope, SessionInfo};

/// The `with` protocol of RFC 3848: SMTP, ESMTP, with S for TLS and A for AUTH; LMTP.
pub fn with_protocol(info: &SessionInfo, lmtp: bool) -> &'static str {
    match (lmtp, info.esmtp, info.tls.is_some(), info.user.is_some()) {
        (true, _, false, false) => "LMTP",
        (true, _, true, false) => "LMTPS",
        (true, _, false, true) => "LMTPA",
        (true, _, true, true) => "LMTPSA",
        (false, false, _, _) => "SMTP",
        (false, true, false, false) => "ESMTP",
        (false, true, true, false) => "ESMTPS",
        (false, true, false, true) => "ESMTPA",
        (false, true, true, true) => "ESMTPSA",
    }
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
    let _ =
        write!(out, "\tby {hostname} (sealpost) with {} id {}", with_protocol(info, lmtp), info.id);
    if let Some(tls) = &info.tls {
        let _ = write!(out, "\r\n\t({})", tls.received_clause());
    }
    if let [(ForwardPath::Mailbox(rcpt), _)] = envelope.recipients.as_slice() {
        let _ = write!(out, "\r\n\tfor <{rcpt}>");
    }
    let _ = write!(out, "; {}\r\n", rfc5322_now());
    out
}

/// `Return-Path: <sender>` for final delivery (RFC 5321 section 4.4).
pub fn return_path(reverse_path: &ReversePath<'_>) -> String {
    format!("Return-Path: {reverse_path}\r\n")
}
