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
    }
}
