//! The `_mta-sts` TXT record (RFC 8461 section 3.1).

use crate::dns::Txt;

/// A parsed `_mta-sts` TXT record: `v=STSv1; id=<1 to 32 letters and digits>`.
///
/// ```
/// use sealpost_starttls::mta_sts::StsRecord;
///
/// let r = StsRecord::parse("v=STSv1; id=20160831085700Z;").unwrap();
/// assert_eq!(r.id, "20160831085700Z");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StsRecord {
    /// The policy id: when it changes, the policy must be fetched again.
    pub id: String,
}

/// Why a TXT record is not a usable `_mta-sts` record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StsRecordError {
    /// The record does not begin with `v=STSv1`.
    #[error("the record does not begin with v=STSv1")]
    NotSts,
    /// A field is not `name=value` with a valid name and value.
    #[error("malformed field {0:?}")]
    BadField(String),
    /// The `id` field is missing.
    #[error("no id field")]
    NoId,
    /// The `id` is not 1 to 32 letters and digits.
    #[error("id {0:?} is not 1 to 32 letters and digits")]
    BadId(String),
    /// A field appears twice.
    #[error("field {0:?} appears more than once")]
    Duplicate(String),
    /// More than one TXT record begins with `v=STSv1` (section 3.1: no policy then).
    #[error("{0} TXT records begin with v=STSv1; exactly one is allowed")]
    Multiple(usize),
    /// The record is not ASCII.
    #[error("the record is not ASCII text")]
    NotAscii,
}

impl StsRecord {
    /// Parses one record's text (the character-strings already joined).
    pub fn parse(text: &str) -> Result<StsRecord, StsRecordError> {
        if !text.is_ascii() {
            return Err(StsRecordError::NotAscii);
        }
        // sts-text-record = sts-version 1*(*WSP %x3B *WSP sts-field) [%x3B]
        let trimmed = text.trim_matches(|c| c == ' ' || c == '\t');
        let body = trimmed.strip_suffix(';').unwrap_or(trimmed);
        let mut fields = body.split(';').map(|f| f.trim_matches(|c| c == ' ' || c == '\t'));
        if fields.next() != Some("v=STSv1") {
            return Err(StsRecordError::NotSts);
        }
        let mut id = None;
        let mut seen: Vec<&str> = Vec::new();
        for field in fields {
            let (name, value) =
                field.split_once('=').ok_or_else(|| StsRecordError::BadField(field.to_owned()))?;
            if !valid_field_name(name) || !valid_field_value(value) {
                return Err(StsRecordError::BadField(field.to_owned()));
            }
            if seen.contains(&name) || name == "v" {
                return Err(StsRecordError::Duplicate(name.to_owned()));
            }
            seen.push(name);
            if name == "id" {
                if value.is_empty()
                    || value.len() > 32
                    || !value.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(StsRecordError::BadId(value.to_owned()));
                }
                id = Some(value.to_owned());
            }
        }
        id.map(|id| StsRecord { id }).ok_or(StsRecordError::NoId)
    }

    /// Picks the `_mta-sts` record among the TXT records of the name: records that do not
    /// begin with `v=STSv1` are ignored; none is `Ok(None)`; several is an error.
    ///
    /// ```
    /// use sealpost_starttls::dns::Txt;
    /// use sealpost_starttls::mta_sts::StsRecord;
    ///
    /// let txt = vec![
    ///     Txt { strings: vec![b"some other record".to_vec()] },
    ///     Txt { strings: vec![b"v=STSv1; ".to_vec(), b"id=abc".to_vec()] },
    /// ];
    /// assert_eq!(StsRecord::from_txt(&txt).unwrap().unwrap().id, "abc");
    /// ```
    pub fn from_txt(records: &[Txt]) -> Result<Option<StsRecord>, StsRecordError> {
        let candidates: Vec<Vec<u8>> =
            records.iter().map(Txt::concatenated).filter(|t| t.starts_with(b"v=STSv1")).collect();
        match candidates.as_slice() {
            [] => Ok(None),
            [one] => {
                let text = std::str::from_utf8(one).map_err(|_| StsRecordError::NotAscii)?;
                StsRecord::parse(text).map(Some)
            }
            many => Err(StsRecordError::Multiple(many.len())),
        }
    }
}

/// field-name = 1*32(ALPHA / DIGIT / "_" / "-" / ".")
fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// field-value = 1*(%x21-3A / %x3C / %x3E-7E): visible characters except ";" and "=".
fn valid_field_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e))
}
