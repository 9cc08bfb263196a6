//! The attack sequences of the attack list (`attacks.md`) as data: one copy for the
//! session tests (sealpost-codec), the driver over sockets (sealpost-server) and the
//! real binary (sealpost-tests).

/// The twelve end-of-data look-alikes of the SMTP smuggling research (SEC Consult's "SMTP
/// Smuggling", hannob/smtpsmug), in the order of the attack list. Each follows the last
/// body text of a DATA transfer and is followed by a complete second transaction.
pub const SMUGGLING: [&[u8]; 12] = [
    b"\n.\n",
    b"\r.\r",
    b"\r.\n",
    b"\n.\r",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r.\r\n",
    b"\r\n.\r",
    b"\r\n\x00.\r\n",
    b"\r\n.\x00\r\n",
    b"\r\n.\r\r\n",
    b"\r\r\n.\r\r\n",
];

/// True when `bytes` holds a CR not followed by LF or an LF not preceded by CR (the
/// text around a sequence in these tests starts and ends with letters).
pub fn has_bare_line_ending(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || bytes[i - 1] != b'\r',
        _ => false,
    })
}

/// True when `bytes` holds a NUL octet.
pub fn has_nul(bytes: &[u8]) -> bool {
    bytes.contains(&0)
}

/// True when a DATA body holding `bytes` is refused whole under the server's default
/// policies: a bare CR or LF (`BareLineEndings::Reject`) or a NUL (`NulOctets::Reject`).
/// Every one of [`SMUGGLING`] is.
pub fn refused_by_default(bytes: &[u8]) -> bool {
    has_bare_line_ending(bytes) || has_nul(bytes)
}

/// A sequence as text for test messages: CR, LF and NUL written `\r`, `\n` and `\0`.
pub fn shown(sequence: &[u8]) -> String {
    String::from_utf8_lossy(sequence).replace('\n', "\\n").replace('\r', "\\r").replace('\0', "\\0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_nul_sequences_have_no_bare_line_ending() {
        let clean: Vec<String> =
            SMUGGLING.iter().filter(|s| !has_bare_line_ending(s)).map(|s| shown(s)).collect();
        assert_eq!(clean, ["\\r\\n\\0.\\r\\n", "\\r\\n.\\0\\r\\n"]);
        let nul: Vec<String> = SMUGGLING.iter().filter(|s| has_nul(s)).map(|s| shown(s)).collect();
        assert_eq!(nul, clean);
    }

    #[test]
    fn every_sequence_is_refused_by_default_and_plain_text_is_not() {
        assert!(SMUGGLING.iter().all(|s| refused_by_default(s)));
        assert!(!refused_by_default(b"Subject: x\r\n\r\n.. dot\r\n"));
        assert!(refused_by_default(b"a\0b"));
    }
}
