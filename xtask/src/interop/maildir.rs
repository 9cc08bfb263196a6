//! What the server stored: the files in a Maildir's `new/`, found by a marker that only one
//! case puts in its message (a Message-Id or a subject), and their trace headers.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::exec::POLL;

/// One mailbox: `maildir/<domain>/<local>/`.
pub(crate) struct Mailbox {
    root: PathBuf,
}

/// One stored message.
pub(crate) struct Stored {
    /// Its file.
    pub(crate) path: PathBuf,
    /// Its bytes, exactly as stored.
    pub(crate) bytes: Vec<u8>,
}

impl Mailbox {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The mailbox folder (for messages).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The number of files in `new/` (0 when the Maildir does not exist yet).
    pub(crate) fn count(&self) -> usize {
        std::fs::read_dir(self.root.join("new")).map_or(0, Iterator::count)
    }

    /// Every message in `new/`.
    pub(crate) fn messages(&self) -> Result<Vec<Stored>> {
        let new = self.root.join("new");
        let Ok(entries) = std::fs::read_dir(&new) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            out.push(Stored { path, bytes });
        }
        Ok(out)
    }

    /// The messages that contain `marker`.
    pub(crate) fn with_marker(&self, marker: &str) -> Result<Vec<Stored>> {
        let mut found = self.messages()?;
        found.retain(|m| m.text().contains(marker));
        Ok(found)
    }

    /// The one message with `marker`, already there (the server answers 250 only after
    /// the message is durable).
    pub(crate) fn one(&self, marker: &str) -> Result<Stored> {
        self.wait_for(marker, Duration::ZERO)
    }

    /// Waits at most `limit` for exactly one message with `marker`.
    pub(crate) fn wait_for(&self, marker: &str, limit: Duration) -> Result<Stored> {
        let deadline = Instant::now() + limit;
        loop {
            let mut found = self.with_marker(marker)?;
            match found.len() {
                1 => return Ok(found.remove(0)),
                0 if Instant::now() < deadline => std::thread::sleep(POLL * 5),
                0 => bail!(
                    "no message with {marker:?} in {} ({} other files)",
                    self.root.join("new").display(),
                    self.count()
                ),
                n => bail!("{n} messages with {marker:?} in {}: expected one", self.root.display()),
            }
        }
    }

    /// Fails if any message holds `marker`.
    pub(crate) fn expect_none(&self, marker: &str) -> Result<()> {
        let found = self.with_marker(marker)?;
        if let Some(first) = found.first() {
            bail!(
                "{} message(s) with {marker:?} stored, e.g. {}",
                found.len(),
                first.path.display()
            );
        }
        Ok(())
    }

    /// Waits at most `limit` until `new/` holds at least `n` files; returns the count.
    pub(crate) fn wait_count(&self, n: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let count = self.count();
            if count >= n || Instant::now() >= deadline {
                return count;
            }
            std::thread::sleep(POLL * 5);
        }
    }
}

impl Stored {
    /// The bytes as text (lossy: the checks look for ASCII markers and UTF-8 headers).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The first `Received:` header (the one this server added), unfolded.
    pub(crate) fn received(&self) -> Result<String> {
        self.headers("Received").into_iter().next().with_context(|| {
            format!("{} has no Received header:\n{}", self.path.display(), self.header_block())
        })
    }

    /// The header section: up to the first empty line. Lines end in CRLF as sealpost
    /// stores them, or in LF as Dovecot's Maildir does.
    fn header_block(&self) -> String {
        let text = self.text();
        let end = ["\r\n\r\n", "\n\n"]
            .iter()
            .filter_map(|blank| text.find(blank))
            .min()
            .unwrap_or(text.len());
        text[..end].to_owned()
    }

    /// Every `name:` header (case-insensitive), in order, each unfolded to one line.
    pub(crate) fn headers(&self, name: &str) -> Vec<String> {
        let block = self.header_block();
        let mut found: Vec<String> = Vec::new();
        let mut current: Option<String> = None;
        for line in block.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
            if line.starts_with([' ', '\t']) {
                if let Some(header) = current.as_mut() {
                    header.push(' ');
                    header.push_str(line.trim());
                }
                continue;
            }
            found.extend(current.take());
            let matches =
                line.split_once(':').is_some_and(|(field, _)| field.eq_ignore_ascii_case(name));
            current = matches.then(|| line.to_owned());
        }
        found.extend(current);
        found
    }

    /// Checks that this server's Received header names `protocol` (RFC 3848: SMTP, ESMTP,
    /// ESMTPS, ESMTPSA, ...; RFC 6531: UTF8SMTP, ...) and has a TLS clause exactly when the protocol says TLS;
    /// returns `with PROTOCOL` and the TLS clause (the parts that do not change per run).
    pub(crate) fn expect_protocol(&self, protocol: &str) -> Result<String> {
        let received = self.received()?;
        if !received.contains(&format!(" with {protocol} id ")) {
            bail!("expected `with {protocol}` in the Received header: {received}");
        }
        // ESMTPS, UTF8SMTPS, LMTPS...: the S right after SMTP/LMTP says TLS.
        let base = protocol
            .strip_prefix("UTF8")
            .or_else(|| protocol.strip_prefix('E'))
            .unwrap_or(protocol);
        let tls_expected = base
            .strip_prefix("SMTP")
            .or_else(|| base.strip_prefix("LMTP"))
            .is_some_and(|rest| rest.starts_with('S'));
        let clause = received.find("(using TLSv1.").map(|start| {
            let rest = &received[start..];
            // The clause ends where its parentheses balance.
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find_map(|(i, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(i + 1)
                })
                .unwrap_or(rest.len());
            &rest[..end]
        });
        match (tls_expected, clause) {
            (true, Some(clause)) => Ok(format!("with {protocol} {clause}")),
            (false, None) => Ok(format!("with {protocol}")),
            _ => bail!("the TLS clause does not fit `with {protocol}`: {received}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(text: &str) -> Stored {
        Stored { path: PathBuf::from("x"), bytes: text.as_bytes().to_vec() }
    }

    #[test]
    fn the_received_header_is_unfolded_and_checked() {
        let m = stored(
            "Return-Path: <a@b.test>\r\nReceived: from c ([127.0.0.1])\r\n\tby mail.test \
             (sealpost) with ESMTPS id 1a\r\n\t(using TLSv1.3 with cipher X (256/256 bits))\r\n\t\
             for <u@mail.test>; Sun, 29 Nov 2026 17:05:00 +0000\r\nSubject: s\r\n\r\nbody\r\n",
        );
        assert!(m.received().unwrap().ends_with("+0000"));
        assert_eq!(
            m.expect_protocol("ESMTPS").unwrap(),
            "with ESMTPS (using TLSv1.3 with cipher X (256/256 bits))"
        );
        assert!(m.expect_protocol("ESMTP").is_err());
        assert!(m.expect_protocol("ESMTPSA").is_err());
        let plain = stored(
            "Received: from c ([127.0.0.1])\r\n\tby m (sealpost) with ESMTP id 2; d\r\n\r\n",
        );
        assert_eq!(plain.expect_protocol("ESMTP").unwrap(), "with ESMTP");
        assert!(plain.expect_protocol("ESMTPS").is_err());
        assert!(stored("Subject: x\r\n\r\nReceived: no\r\n").received().is_err());
    }

    #[test]
    fn headers_are_found_with_lf_line_ends_too() {
        let m = stored(
            "Return-Path: <>\nReceived: from a\n\tby lmtp.dove.test with LMTP\n\
             received: from b ([127.0.0.1])\n\tby dove.test (sealpost)\nSubject: s\n\n\
             Received: in the body\n",
        );
        assert_eq!(
            m.headers("Received"),
            [
                "Received: from a by lmtp.dove.test with LMTP",
                "received: from b ([127.0.0.1]) by dove.test (sealpost)"
            ]
        );
        assert_eq!(m.headers("return-path"), ["Return-Path: <>"]);
        assert!(m.headers("To").is_empty());
        assert_eq!(m.received().unwrap(), "Received: from a by lmtp.dove.test with LMTP");
    }
}
