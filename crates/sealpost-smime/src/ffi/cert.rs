//! Certificate extensions the `openssl` crate does not expose.

use super::*;

/// Key usage bits (`X509_get_key_usage`), or `None` when the certificate has no keyUsage.
pub(crate) fn key_usage(cert: &X509Ref) -> Option<u32> {
    // SAFETY: the getters cache extension data inside the certificate; read-only for us.
    unsafe {
        let flags = sys::X509_get_extension_flags(cert.as_ptr());
        if flags & EXFLAG_KUSAGE == 0 { None } else { Some(sys::X509_get_key_usage(cert.as_ptr())) }
    }
}

/// Extended key usage bits (`X509_get_extended_key_usage`), or `None` without the extension.
pub(crate) fn extended_key_usage(cert: &X509Ref) -> Option<u32> {
    // SAFETY: as above.
    unsafe {
        let flags = sys::X509_get_extension_flags(cert.as_ptr());
        if flags & EXFLAG_XKUSAGE == 0 {
            None
        } else {
            Some(sys::X509_get_extended_key_usage(cert.as_ptr()))
        }
    }
}

/// The otherName entries of a subjectAltName: `(dotted OID, DER of the value)`.
pub(crate) fn other_names(cert: &X509Ref) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Some(names) = cert.subject_alt_names() else { return out };
    for name in &names {
        let mut oid: *mut sys::ASN1_OBJECT = ptr::null_mut();
        let mut value: *mut sys::ASN1_TYPE = ptr::null_mut();
        // SAFETY: get0 out-parameters borrowed from `names`, which outlives their use.
        unsafe {
            if GENERAL_NAME_get0_otherName(name.as_ptr(), &mut oid, &mut value) > 0
                && !value.is_null()
                && let Ok(der) = asn1_type_der(value)
            {
                out.push((obj_text(oid), der));
            }
        }
    }
    out
}
