//! The few DER (X.690) values OpenSSL hands over as bytes (SMIMECapabilities, signing
//! time, SmtpUTF8Mailbox) and the one attribute it has no builder for
//! (SMIMEEncryptionKeyPreference), read and written with the `der` crate: every read is
//! bounds-checked and DER-strict there, not here.

use der::asn1::{
    AnyRef, ContextSpecific, GeneralizedTime, ObjectIdentifier, SequenceRef, UintRef, UtcTime,
};
use der::{
    Decode, DecodeValue, Encode, EncodeValue, Header, Length, Reader, Sequence, SliceReader, Tag,
    TagMode, TagNumber, Tagged, Writer,
};

/// The algorithm OIDs of an SMIMECapabilities value (RFC 8551 section 2.5.2):
/// `SEQUENCE OF SEQUENCE { capabilityID OBJECT IDENTIFIER, parameters ANY OPTIONAL }`.
pub(crate) fn smime_capabilities(der: &[u8]) -> Option<Vec<String>> {
    let list = <&SequenceRef>::from_der(der).ok()?;
    let mut capabilities = SliceReader::new(list.as_bytes()).ok()?;
    let mut out = Vec::new();
    while !capabilities.is_finished() {
        let capability: &SequenceRef = capabilities.decode().ok()?;
        // The parameters after the OID are not needed: read the OID alone.
        let oid: ObjectIdentifier = SliceReader::new(capability.as_bytes()).ok()?.decode().ok()?;
        out.push(oid.to_string());
    }
    Some(out)
}

/// A UTCTime or GeneralizedTime (RFC 5652 section 11.3 `SigningTime`), as Unix seconds.
pub(crate) fn time_to_unix(der: &[u8]) -> Option<i64> {
    let since_epoch = match AnyRef::from_der(der).ok()?.tag() {
        // RFC 5280 section 4.1.2.5.1: two-digit years 50..99 are 19xx (der applies it).
        Tag::UtcTime => UtcTime::from_der(der).ok()?.to_unix_duration(),
        Tag::GeneralizedTime => GeneralizedTime::from_der(der).ok()?.to_unix_duration(),
        _ => return None,
    };
    i64::try_from(since_epoch.as_secs()).ok()
}

/// The text of a UTF8String, IA5String or PrintableString. Only UTF-8 is checked, not the
/// narrower character sets of the last two: certificates in the wild put addresses with
/// "@" in PrintableStrings.
pub(crate) fn string(der: &[u8]) -> Option<String> {
    let value = AnyRef::from_der(der).ok()?;
    match value.tag() {
        Tag::Utf8String | Tag::Ia5String | Tag::PrintableString => {
            String::from_utf8(value.value().to_vec()).ok()
        }
        _ => None,
    }
}

/// `IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber
/// CertificateSerialNumber }` (RFC 5652 section 10.2.4). The issuer stays in its DER form,
/// to be compared with OpenSSL's encoding of a certificate's issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IssuerAndSerialNumber<'a> {
    pub(crate) issuer: AnyRef<'a>,
    pub(crate) serial_number: UintRef<'a>,
}

impl<'a> IssuerAndSerialNumber<'a> {
    /// From a certificate's issuer (DER) and serial number (big-endian magnitude).
    pub(crate) fn new(issuer: &'a [u8], serial: &'a [u8]) -> der::Result<Self> {
        Ok(IssuerAndSerialNumber {
            issuer: AnyRef::from_der(issuer)?,
            serial_number: UintRef::new(serial)?,
        })
    }

    /// `SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0]
    /// IssuerAndSerialNumber, ... }` (implicit tags, RFC 8551 appendix A), encoded.
    pub(crate) fn to_key_preference(self) -> der::Result<Vec<u8>> {
        ContextSpecific { tag_number: TagNumber(0), tag_mode: TagMode::Implicit, value: self }
            .to_der()
    }

    /// The issuer and serial number an SMIMEEncryptionKeyPreference value names; `None`
    /// for the other choices and for anything malformed.
    pub(crate) fn from_key_preference(der: &'a [u8]) -> Option<Self> {
        let mut reader = SliceReader::new(der).ok()?;
        let field = ContextSpecific::decode_implicit(&mut reader, TagNumber(0)).ok()??;
        Some(field.value)
    }
}

impl<'a> DecodeValue<'a> for IssuerAndSerialNumber<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let issuer: AnyRef<'a> = reader.decode()?;
        issuer.tag().assert_eq(Tag::Sequence)?;
        Ok(IssuerAndSerialNumber { issuer, serial_number: reader.decode()? })
    }
}

impl EncodeValue for IssuerAndSerialNumber<'_> {
    fn value_len(&self) -> der::Result<Length> {
        self.issuer.encoded_len()? + self.serial_number.encoded_len()?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.issuer.encode(writer)?;
        self.serial_number.encode(writer)
    }
}

impl<'a> Sequence<'a> for IssuerAndSerialNumber<'a> {}

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
        // 2049 is the last year a UTCTime names (RFC 5280 section 4.1.2.5.1).
        assert_eq!(time_to_unix(b"\x17\x0d491231235959Z"), Some(2_524_607_999));
        assert_eq!(time_to_unix(b"\x04\x0d491231235959Z"), None);
    }

    #[test]
    fn reads_oids_and_capabilities() {
        // SEQUENCE { SEQUENCE { aes256-GCM 2.16.840.1.101.3.4.1.46 },
        //            SEQUENCE { aes128-CBC 2.16.840.1.101.3.4.1.2, parameters NULL } }
        let gcm = [0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e];
        let cbc = [
            0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02, 0x05,
            0x00,
        ];
        let caps = [&[0x30, 0x1c][..], &gcm, &cbc].concat();
        assert_eq!(
            smime_capabilities(&caps),
            Some(vec!["2.16.840.1.101.3.4.1.46".to_owned(), "2.16.840.1.101.3.4.1.2".to_owned()])
        );
        assert_eq!(smime_capabilities(&caps[..caps.len() - 1]), None);
        // An OID that ends inside an arc (the continuation bit set on its last byte).
        assert_eq!(smime_capabilities(&[0x30, 0x05, 0x30, 0x03, 0x06, 0x01, 0x86]), None);
        // A capability that is not a SEQUENCE.
        assert_eq!(smime_capabilities(&[0x30, 0x02, 0x05, 0x00]), None);
    }

    #[test]
    fn reads_strings() {
        assert_eq!(string(b"\x0c\x05j\xc3\xb6rg").as_deref(), Some("j\u{f6}rg"));
        assert_eq!(string(b"\x16\x03a@b").as_deref(), Some("a@b"));
        assert_eq!(string(b"\x13\x03a@b").as_deref(), Some("a@b"));
        assert_eq!(string(b"\x04\x03a@b"), None);
        assert_eq!(string(b"\x0c\x02\xc3\x28"), None);
    }

    #[test]
    fn key_preference_round_trip() {
        // Name: SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "CA" } } }
        let issuer = [
            0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'C',
            b'A',
        ];
        // A serial whose first byte has the high bit set takes a leading zero.
        let id = IssuerAndSerialNumber::new(&issuer, &[0x00, 0x80]).unwrap();
        let encoded = id.to_key_preference().unwrap();
        assert_eq!(encoded[..2], [0xa0, 0x13]);
        assert_eq!(encoded[2..17], issuer);
        assert_eq!(encoded[17..], [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(IssuerAndSerialNumber::from_key_preference(&encoded), Some(id));
        // The other CHOICE arms ([1] RecipientKeyIdentifier, [2] SubjectKeyIdentifier).
        assert_eq!(IssuerAndSerialNumber::from_key_preference(&[0x82, 0x01, 0x00]), None);
        assert_eq!(IssuerAndSerialNumber::from_key_preference(&encoded[..18]), None);
    }
}
