//! The CMS functions of OpenSSL 3 that the `openssl` crate does not bind, behind a small
//! safe surface. This is the only module of the crate with `unsafe` code.
//!
//! Every function here takes the `openssl` crate's owned or borrowed types, passes their
//! pointers to one OpenSSL call, and turns the result back into owned Rust values
//! (`Vec<u8>`, `X509`, `ErrorStack`) before returning, so no raw pointer leaves this module
//! except inside the lifetime-bound handles `signed::SignerInfo` and
//! `enveloped::RecipientInfo`, which borrow the `CmsContentInfo` they point into.
//! Split by concern: `signed` (SignedData), `enveloped` ((Auth)EnvelopedData), `cert`
//! (certificate extensions).
//!
//! Ownership rules followed (OpenSSL 3.0 manual pages): `get0` results are borrowed from
//! their parent and never freed here; `get1` results are owned and wrapped (or freed) here;
//! `add1` functions take their own reference.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_uint, c_void};
use std::marker::PhantomData;
use std::ptr;

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::cms::CmsContentInfoRef;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKeyRef, Private};
use openssl::stack::{Stack, StackRef};
use openssl::x509::{X509, X509Ref};
use openssl_sys as sys;

// Flags and constants openssl-sys exports; re-exported under their C names so the
// submodules read like OpenSSL's manual pages.
pub(crate) use sys::{
    CMS_BINARY, CMS_DETACHED, CMS_KEY_PARAM, CMS_NOCERTS, CMS_NOSMIMECAP, CMS_PARTIAL,
    EXFLAG_KUSAGE, EXFLAG_XKUSAGE, RSA_PKCS1_OAEP_PADDING, RSA_PKCS1_PSS_PADDING,
};

// What openssl-sys 0.9 does not export (checked against its sources): declared here with
// the values of OpenSSL 3's headers.

/// `CMS_CADES`: add the ESS signingCertificateV2 attribute (RFC 5035).
pub(crate) const CMS_CADES: c_uint = 0x100000;

/// `CMS_RECIPINFO_TRANS`, `CMS_RECIPINFO_AGREE`.
const CMS_RECIPINFO_TRANS: c_int = 0;
const CMS_RECIPINFO_AGREE: c_int = 1;

/// `RSA_PSS_SALTLEN_DIGEST`: salt as long as the digest (RFC 4056's recommendation).
const RSA_PSS_SALTLEN_DIGEST: c_int = -1;

#[allow(non_camel_case_types)]
enum CMS_SignerInfo {}
#[allow(non_camel_case_types)]
enum CMS_RecipientInfo {}
#[allow(non_camel_case_types)]
enum CMS_RecipientEncryptedKey {}
#[allow(non_camel_case_types)]
enum CMS_OtherKeyAttribute {}

unsafe extern "C" {
    fn CMS_add1_signer(
        cms: *mut sys::CMS_ContentInfo,
        signer: *mut sys::X509,
        pk: *mut sys::EVP_PKEY,
        md: *const sys::EVP_MD,
        flags: c_uint,
    ) -> *mut CMS_SignerInfo;
    fn CMS_add1_cert(cms: *mut sys::CMS_ContentInfo, cert: *mut sys::X509) -> c_int;
    fn CMS_final(
        cms: *mut sys::CMS_ContentInfo,
        data: *mut sys::BIO,
        dcont: *mut sys::BIO,
        flags: c_uint,
    ) -> c_int;
    fn CMS_SignerInfo_get0_pkey_ctx(si: *mut CMS_SignerInfo) -> *mut sys::EVP_PKEY_CTX;
    fn CMS_add_smimecap(si: *mut CMS_SignerInfo, algs: *mut sys::stack_st_X509_ALGOR) -> c_int;
    fn CMS_add_simple_smimecap(
        algs: *mut *mut sys::stack_st_X509_ALGOR,
        algnid: c_int,
        keysize: c_int,
    ) -> c_int;
    fn CMS_signed_add1_attr_by_OBJ(
        si: *mut CMS_SignerInfo,
        obj: *const sys::ASN1_OBJECT,
        type_: c_int,
        bytes: *const c_void,
        len: c_int,
    ) -> c_int;
    fn CMS_get0_SignerInfos(cms: *mut sys::CMS_ContentInfo) -> *mut sys::OPENSSL_STACK;
    fn CMS_set1_signers_certs(
        cms: *mut sys::CMS_ContentInfo,
        certs: *mut sys::stack_st_X509,
        flags: c_uint,
    ) -> c_int;
    fn CMS_SignerInfo_get0_algs(
        si: *mut CMS_SignerInfo,
        pk: *mut *mut sys::EVP_PKEY,
        signer: *mut *mut sys::X509,
        pdig: *mut *mut sys::X509_ALGOR,
        psig: *mut *mut sys::X509_ALGOR,
    );
    fn CMS_SignerInfo_get0_signer_id(
        si: *mut CMS_SignerInfo,
        keyid: *mut *mut sys::ASN1_OCTET_STRING,
        issuer: *mut *mut sys::X509_NAME,
        sno: *mut *mut sys::ASN1_INTEGER,
    ) -> c_int;
    fn CMS_SignerInfo_verify(si: *mut CMS_SignerInfo) -> c_int;
    fn CMS_SignerInfo_verify_content(si: *mut CMS_SignerInfo, chain: *mut sys::BIO) -> c_int;
    fn CMS_dataInit(cms: *mut sys::CMS_ContentInfo, icont: *mut sys::BIO) -> *mut sys::BIO;
    fn CMS_get1_certs(cms: *mut sys::CMS_ContentInfo) -> *mut sys::stack_st_X509;
    fn CMS_get0_type(cms: *const sys::CMS_ContentInfo) -> *const sys::ASN1_OBJECT;
    fn CMS_get0_content(cms: *mut sys::CMS_ContentInfo) -> *mut *mut sys::ASN1_OCTET_STRING;
    fn CMS_signed_get_attr_by_OBJ(
        si: *const CMS_SignerInfo,
        obj: *const sys::ASN1_OBJECT,
        lastpos: c_int,
    ) -> c_int;
    fn CMS_signed_get_attr(si: *const CMS_SignerInfo, loc: c_int) -> *mut sys::X509_ATTRIBUTE;
    fn CMS_get0_RecipientInfos(cms: *mut sys::CMS_ContentInfo) -> *mut sys::OPENSSL_STACK;
    fn CMS_RecipientInfo_type(ri: *mut CMS_RecipientInfo) -> c_int;
    fn CMS_RecipientInfo_ktri_get0_signer_id(
        ri: *mut CMS_RecipientInfo,
        keyid: *mut *mut sys::ASN1_OCTET_STRING,
        issuer: *mut *mut sys::X509_NAME,
        sno: *mut *mut sys::ASN1_INTEGER,
    ) -> c_int;
    fn CMS_RecipientInfo_ktri_cert_cmp(ri: *mut CMS_RecipientInfo, cert: *mut sys::X509) -> c_int;
    fn CMS_RecipientInfo_kari_get0_reks(ri: *mut CMS_RecipientInfo) -> *mut sys::OPENSSL_STACK;
    fn CMS_RecipientEncryptedKey_get0_id(
        rek: *mut CMS_RecipientEncryptedKey,
        keyid: *mut *mut sys::ASN1_OCTET_STRING,
        tm: *mut *mut sys::ASN1_GENERALIZEDTIME,
        other: *mut *mut CMS_OtherKeyAttribute,
        issuer: *mut *mut sys::X509_NAME,
        sno: *mut *mut sys::ASN1_INTEGER,
    ) -> c_int;
    fn CMS_RecipientEncryptedKey_cert_cmp(
        rek: *mut CMS_RecipientEncryptedKey,
        cert: *mut sys::X509,
    ) -> c_int;
    fn CMS_add1_recipient_cert(
        cms: *mut sys::CMS_ContentInfo,
        recip: *mut sys::X509,
        flags: c_uint,
    ) -> *mut CMS_RecipientInfo;
    fn CMS_RecipientInfo_get0_pkey_ctx(ri: *mut CMS_RecipientInfo) -> *mut sys::EVP_PKEY_CTX;
    fn EVP_PKEY_CTX_set_ecdh_kdf_md(ctx: *mut sys::EVP_PKEY_CTX, md: *const sys::EVP_MD) -> c_int;
    fn GENERAL_NAME_get0_otherName(
        gen_: *const sys::GENERAL_NAME,
        poid: *mut *mut sys::ASN1_OBJECT,
        pvalue: *mut *mut sys::ASN1_TYPE,
    ) -> c_int;
}

/// Turns an OpenSSL return code into a result (1 is success).
fn check(rc: c_int) -> Result<(), ErrorStack> {
    if rc > 0 { Ok(()) } else { Err(ErrorStack::get()) }
}

/// Turns an OpenSSL pointer result into a result (null is failure).
fn check_ptr<T>(p: *mut T) -> Result<*mut T, ErrorStack> {
    if p.is_null() { Err(ErrorStack::get()) } else { Ok(p) }
}

/// A length for a C `int`, or an error for inputs larger than OpenSSL's memory BIOs take.
fn c_len(len: usize) -> Result<c_int, ErrorStack> {
    c_int::try_from(len).map_err(|_| {
        // Pushing nothing: the caller maps an empty stack to "input too large".
        ErrorStack::get()
    })
}

/// The dotted OID (or OpenSSL's short name when `numeric` is false) of an object pointer.
fn obj_text(obj: *const sys::ASN1_OBJECT) -> String {
    if obj.is_null() {
        return String::new();
    }
    let mut buf = [0u8; 128];
    // SAFETY: `buf` is writable for its length; OBJ_obj2txt NUL-terminates within it.
    let n = unsafe { sys::OBJ_obj2txt(buf.as_mut_ptr().cast(), buf.len() as c_int, obj, 1) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The NID of an object pointer (`NID_undef`, 0, for unknown objects).
fn obj_nid(obj: *const sys::ASN1_OBJECT) -> Nid {
    if obj.is_null() {
        return Nid::UNDEF;
    }
    // SAFETY: obj is a valid ASN1_OBJECT borrowed from a live structure.
    Nid::from_raw(unsafe { sys::OBJ_obj2nid(obj) })
}

/// The number of elements of an OpenSSL stack (0 for a null stack).
fn sk_len(sk: *const sys::OPENSSL_STACK) -> usize {
    if sk.is_null() {
        return 0;
    }
    // SAFETY: sk is a valid stack borrowed from a live structure.
    usize::try_from(unsafe { sys::OPENSSL_sk_num(sk) }).unwrap_or(0)
}

/// Element `i` of an OpenSSL stack.
fn sk_get(sk: *const sys::OPENSSL_STACK, i: usize) -> *mut c_void {
    let Ok(i) = c_int::try_from(i) else { return ptr::null_mut() };
    // SAFETY: callers only pass indexes below `sk_len(sk)`.
    unsafe { sys::OPENSSL_sk_value(sk, i) }
}

/// The DER encoding of an `ASN1_TYPE` value (the whole TLV).
fn asn1_type_der(t: *mut sys::ASN1_TYPE) -> Result<Vec<u8>, ErrorStack> {
    // SAFETY: two-pass i2d: first the length with a null output, then into a buffer of
    // exactly that length.
    unsafe {
        let len = sys::i2d_ASN1_TYPE(t, ptr::null_mut());
        let len = usize::try_from(len).map_err(|_| ErrorStack::get())?;
        let mut out = vec![0u8; len];
        let mut p = out.as_mut_ptr();
        let written = sys::i2d_ASN1_TYPE(t, &mut p);
        if usize::try_from(written).ok() != Some(len) {
            return Err(ErrorStack::get());
        }
        Ok(out)
    }
}

/// An issuer and serial number, or a subject key identifier: how CMS names a certificate
/// (RFC 5652 section 5.3 SignerIdentifier, section 6.2.1 RecipientIdentifier).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RawCertId {
    /// Issuer name (DER and one-line text) and serial number (hex).
    IssuerSerial {
        /// The issuer's distinguished name, as text.
        issuer: String,
        /// The serial number in upper-case hex.
        serial: String,
    },
    /// The subjectKeyIdentifier bytes.
    KeyId(Vec<u8>),
}

/// Builds a [`RawCertId`] from the out-parameters of a `get0_..._id` call.
fn raw_id(
    keyid: *mut sys::ASN1_OCTET_STRING,
    issuer: *mut sys::X509_NAME,
    sno: *mut sys::ASN1_INTEGER,
) -> RawCertId {
    // SAFETY: the pointers are borrowed from a live CMS structure (get0) or null.
    unsafe {
        if !keyid.is_null() {
            let s = openssl::asn1::Asn1StringRef::from_ptr(keyid.cast());
            return RawCertId::KeyId(s.as_slice().to_vec());
        }
        let issuer = if issuer.is_null() {
            String::new()
        } else {
            crate::keys::name_to_string(openssl::x509::X509NameRef::from_ptr(issuer))
        };
        let serial = if sno.is_null() {
            String::new()
        } else {
            openssl::asn1::Asn1IntegerRef::from_ptr(sno)
                .to_bn()
                .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))
                .unwrap_or_default()
        };
        RawCertId::IssuerSerial { issuer, serial }
    }
}

// --- content info ------------------------------------------------------------------------

/// The content type of a ContentInfo, as a dotted OID.
pub(crate) fn content_type_oid(cms: &CmsContentInfoRef) -> String {
    // SAFETY: get0 on a live structure; the result is only read.
    obj_text(unsafe { CMS_get0_type(cms.as_ptr()) })
}

/// Whether a SignedData carries eContent (opaque form) rather than being detached.
pub(crate) fn has_econtent(cms: &CmsContentInfoRef) -> bool {
    // SAFETY: CMS_get0_content returns a pointer into the structure (or null); we only test
    // the pointed-to pointer for null.
    unsafe {
        let pos = CMS_get0_content(cms.as_ptr());
        !pos.is_null() && !(*pos).is_null()
    }
}

/// The certificates carried in a SignedData (`CMS_get1_certs`), owned.
pub(crate) fn certificates(cms: &CmsContentInfoRef) -> Result<Stack<X509>, ErrorStack> {
    // SAFETY: get1 returns a new stack holding new references (or null when none).
    unsafe {
        let sk = CMS_get1_certs(cms.as_ptr());
        if sk.is_null() {
            let _ = ErrorStack::get();
            Stack::new()
        } else {
            Ok(Stack::from_ptr(sk))
        }
    }
}

mod cert;
mod enveloped;
mod signed;

pub(crate) use cert::{extended_key_usage, key_usage, other_names};
pub(crate) use enveloped::{KeyTransport, add_recipient, recipient_infos};
pub(crate) use signed::{
    SignerInfo, add_certificate, add_signed_attribute_der, add_signer, add_smime_capabilities,
    check_signers, finalize, resolve_signer_certificates, signer_infos, use_rsa_pss,
};
