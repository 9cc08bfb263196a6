//! Just enough DER (X.690) to read the few attribute values OpenSSL hands over as bytes
//! (SMIMECapabilities, signing time, SmtpUTF8Mailbox) and to write the one attribute it
//! has no builder for (SMIMEEncryptionKeyPreference). Every read is bounds-checked.

/// A tag-length-value read from the front of `input`: `(tag, content, rest)`.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    // High-tag-number form (tag & 0x1f == 0x1f) never occurs in what we read.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The dotted text of an OBJECT IDENTIFIER's content octets.
pub(crate) fn oid_text(content: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, &b) in content.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match value {
                    0..=39 => (0, value),
                    40..=79 => (1, value - 40),
                    _ => (2, value - 80),
                };
                arcs.push(first);
                arcs.push(second);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == content.len() {
            return None;
        }
    }
    if arcs.is_empty() {
        return None;
    }
    Some(arcs.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

/// The algorithm OIDs of an SMIMECapabilities value (RFC 8551 section 2.5.2):
/// `SEQUENCE OF SEQUENCE { capabilityID OBJECT IDENTIFIER, parameters ANY OPTIONAL }`.
pub(crate) fn smime_capabilities(der: &[u8]) -> Option<Vec<String>> {
    let (tag, mut seq, _) = read_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let mut out = Vec::new();
    // Bounded: every iteration consumes at least two bytes of `seq`.
    while !seq.is_empty() {
        let (tag, cap, rest) = read_tlv(seq)?;
        seq = rest;
        if tag != 0x30 {
            return None;
        }
        let (tag, oid, _) = read_tlv(cap)?;
        if tag != 0x06 {
            return None;
        }
        out.push(oid_text(oid)?);
    }
    Some(out)
}

/// A UTCTime (tag 0x17) or GeneralizedTime (tag 0x18) in Zulu form, as Unix seconds.
pub(crate) fn time_to_unix(der: &[u8]) -> Option<i64> {
    let (tag, content, _) = read_tlv(der)?;
    let text = std::str::from_utf8(content).ok()?;
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(0..2)?.parse().ok()?;
            // RFC 5280 section 4.1.2.5.1: two-digit years 50..99 are 19xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(0..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day, hour, minute) = (field(0)?, field(2)?, field(4)?, field(6)?);
    let second = if rest.len() >= 10 { field(8)? } else { 0 };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The text of a UTF8String (tag 0x0c), IA5String (0x16) or PrintableString (0x13).
pub(crate) fn string(der: &[u8]) -> Option<String> {
    let (tag, content, _) = read_tlv(der)?;
    match tag {
        0x0c | 0x16 | 0x13 => String::from_utf8(content.to_vec()).ok(),
        _ => None,
    }
}

/// Encodes a tag-length-value.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// An INTEGER from big-endian unsigned magnitude bytes.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = magnitude.iter().take_while(|&&b| b == 0).count();
        &magnitude[skip.min(magnitude.len().saturating_sub(1))..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(0x02, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_times() {
        assert_eq!(time_to_unix(b"\x17\x0d700101000000Z"), Some(0));
        assert_eq!(time_to_unix(b"\x18\x0f20240101000000Z"), Some(1_704_067_200));
        assert_eq!(time_to_unix(b"\x17\x0d991231235959Z"), Some(946_684_799));
        assert_eq!(time_to_unix(b"\x17\x0d991331235959Z"), None);
        assert_eq!(time_to_unix(b"\x17\x05"), None);
    }

    #[test]
    fn reads_oids_and_capabilities() {
        // aes256-GCM 2.16.840.1.101.3.4.1.46
        let oid = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e];
        assert_eq!(oid_text(&oid).as_deref(), Some("2.16.840.1.101.3.4.1.46"));
        let cap = tlv(0x30, &tlv(0x06, &oid));
        let caps = tlv(0x30, &[cap.clone(), cap].concat());
        assert_eq!(smime_capabilities(&caps).map(|c| c.len()), Some(2));
        assert_eq!(smime_capabilities(&caps[..caps.len() - 1]), None);
        assert_eq!(oid_text(&[0x86]), None);
    }

    #[test]
    fn writes_lengths_and_integers() {
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[0x00, 0x01]), [0x02, 0x01, 0x01]);
        assert_eq!(unsigned_integer(&[]), [0x02, 0x01, 0x00]);
    }
}
