//! The crate's private readers, reachable from its fuzz targets (`fuzz/`) only: built with
//! the `fuzzing` feature, hidden from the documentation, and not part of the API (they
//! may change with any release). Each is a thin wrapper that hands back owned or borrowed
//! bytes instead of the crate's private types.

use crate::error::Result;
use crate::{asn1, mime};

/// A header field as [`split`] found it: its name and its raw bytes (folding included,
/// CRLF-terminated).
pub type RawField = (String, Vec<u8>);

/// The bytes in CRLF canonical form (every lone CR or LF becomes CRLF).
pub fn canonicalize(input: &[u8]) -> Vec<u8> {
    mime::canonicalize(input).into_owned()
}

/// Header fields and body of CRLF-canonical bytes.
pub fn split(input: &[u8]) -> Result<(Vec<RawField>, &[u8])> {
    let entity = mime::split(input)?;
    Ok((entity.fields.into_iter().map(|f| (f.name, f.raw)).collect(), entity.body))
}

/// The unfolded value of a raw header field, as the crate reads it.
pub fn field_value(raw: &[u8]) -> String {
    mime::Field { name: String::new(), raw: raw.to_vec() }.value()
}

/// The preamble, the parts and the epilogue of a multipart body, as slices of it.
pub type MultipartParts<'a> = (&'a [u8], Vec<&'a [u8]>, &'a [u8]);

/// Preamble, parts and epilogue of a multipart body.
pub fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<MultipartParts<'a>> {
    let parts = mime::split_multipart(body, boundary)?;
    Ok((parts.preamble, parts.parts, parts.epilogue))
}

/// The media type (lower case) and the boundary parameter of the fields' Content-Type,
/// and their Content-Transfer-Encoding (lower case), as the crate reads them.
pub fn content_type(fields: &[RawField]) -> (String, Option<String>, String) {
    let fields: Vec<mime::Field> = fields
        .iter()
        .map(|(name, raw)| mime::Field { name: name.clone(), raw: raw.clone() })
        .collect();
    let ct = mime::content_type(&fields);
    let boundary = ct.params.get("boundary").cloned();
    (ct.mimetype, boundary, mime::transfer_encoding(&fields))
}

/// A body decoded per its Content-Transfer-Encoding.
pub fn decode_body(encoding: &str, body: &[u8]) -> Result<Vec<u8>> {
    mime::decode_body(encoding, body)
}

/// Base64 in CRLF-terminated lines of 76 characters.
pub fn encode_base64(data: &[u8]) -> Vec<u8> {
    mime::encode_base64(data)
}

/// What signing and encrypting wrap: the outer header fields (raw, in order) and the body
/// entity with 7-bit transfer encodings.
pub fn body_entity(message: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let (outer, entity) = mime::body_entity(message)?;
    Ok((outer.into_iter().flat_map(|f| f.raw).collect(), entity))
}

/// The multipart nesting limit of [`body_entity`].
pub const MAX_MULTIPART_DEPTH: usize = mime::MAX_MULTIPART_DEPTH;

/// The capability OIDs of a DER SMIMECapabilities value.
pub fn smime_capabilities(der: &[u8]) -> Option<Vec<String>> {
    asn1::smime_capabilities(der)
}

/// A DER UTCTime or GeneralizedTime as Unix seconds.
pub fn time_to_unix(der: &[u8]) -> Option<i64> {
    asn1::time_to_unix(der)
}

/// The text of a DER UTF8String, IA5String or PrintableString.
pub fn string(der: &[u8]) -> Option<String> {
    asn1::string(der)
}

/// The issuer (DER) and serial number (big-endian magnitude) an
/// SMIMEEncryptionKeyPreference value names.
pub fn key_preference(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use der::Encode as _;
    let id = asn1::IssuerAndSerialNumber::from_key_preference(der)?;
    Some((id.issuer.to_der().ok()?, id.serial_number.as_bytes().to_vec()))
}

/// An SMIMEEncryptionKeyPreference value naming this issuer (DER) and serial number.
pub fn encode_key_preference(issuer: &[u8], serial: &[u8]) -> Option<Vec<u8>> {
    asn1::IssuerAndSerialNumber::new(issuer, serial).ok()?.to_key_preference().ok()
}
