//! EnvelopedData and AuthEnvelopedData: recipients and their key parameters.

use super::*;

/// How a recipient's key is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyTransport {
    /// RSA PKCS#1 v1.5 key transport.
    RsaPkcs1,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017, RFC 4055).
    RsaOaepSha256,
    /// ECDH (ephemeral-static) with the X9.63 KDF over SHA-256 (RFC 5753).
    EcdhSha256,
}

/// Adds a recipient to a partial EnvelopedData / AuthEnvelopedData and sets its key
/// parameters.
pub(crate) fn add_recipient(
    cms: &mut CmsContentInfoRef,
    cert: &X509Ref,
    transport: KeyTransport,
) -> Result<(), ErrorStack> {
    // SAFETY: add1 takes its own reference to the certificate; the key context belongs to
    // the RecipientInfo and is only configured.
    unsafe {
        let ri = check_ptr(CMS_add1_recipient_cert(cms.as_ptr(), cert.as_ptr(), CMS_KEY_PARAM))?;
        let ctx = check_ptr(CMS_RecipientInfo_get0_pkey_ctx(ri))?;
        let sha256 = sys::EVP_sha256();
        match transport {
            KeyTransport::RsaPkcs1 => {}
            KeyTransport::RsaOaepSha256 => {
                check(sys::EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING))?;
                // openssl-sys's wrapper takes `*mut` though OpenSSL only reads the digest.
                check(sys::EVP_PKEY_CTX_set_rsa_oaep_md(ctx, sha256.cast_mut()))?;
                check(sys::EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sha256))?;
            }
            KeyTransport::EcdhSha256 => {
                check(EVP_PKEY_CTX_set_ecdh_kdf_md(ctx, sha256))?;
            }
        }
    }
    Ok(())
}

/// A RecipientInfo (or, for key agreement, one RecipientEncryptedKey) of an
/// EnvelopedData or AuthEnvelopedData.
pub(crate) struct RecipientInfo<'a> {
    kind: RecipientKind,
    _cms: PhantomData<&'a CmsContentInfoRef>,
}

enum RecipientKind {
    Transport(*mut CMS_RecipientInfo),
    Agreement(*mut CMS_RecipientEncryptedKey),
    Other(c_int),
}

/// Every recipient of an enveloped message.
pub(crate) fn recipient_infos(cms: &CmsContentInfoRef) -> Vec<RecipientInfo<'_>> {
    let mut out = Vec::new();
    // SAFETY: get0 stacks borrowed from the live structure.
    unsafe {
        let sk = CMS_get0_RecipientInfos(cms.as_ptr());
        for i in 0..sk_len(sk) {
            let ri: *mut CMS_RecipientInfo = sk_get(sk, i).cast();
            if ri.is_null() {
                continue;
            }
            match CMS_RecipientInfo_type(ri) {
                CMS_RECIPINFO_TRANS => out
                    .push(RecipientInfo { kind: RecipientKind::Transport(ri), _cms: PhantomData }),
                CMS_RECIPINFO_AGREE => {
                    let reks = CMS_RecipientInfo_kari_get0_reks(ri);
                    for j in 0..sk_len(reks) {
                        let rek: *mut CMS_RecipientEncryptedKey = sk_get(reks, j).cast();
                        if !rek.is_null() {
                            out.push(RecipientInfo {
                                kind: RecipientKind::Agreement(rek),
                                _cms: PhantomData,
                            });
                        }
                    }
                }
                other => {
                    out.push(RecipientInfo { kind: RecipientKind::Other(other), _cms: PhantomData })
                }
            }
        }
    }
    out
}

impl RecipientInfo<'_> {
    /// How the recipient is named, or the RecipientInfo type number for kinds other than
    /// key transport and key agreement (KEK, password, other).
    pub(crate) fn id(&self) -> Result<RawCertId, i32> {
        let mut keyid = ptr::null_mut();
        let mut issuer = ptr::null_mut();
        let mut sno = ptr::null_mut();
        // SAFETY: get0 out-parameters of live structures.
        let rc = unsafe {
            match self.kind {
                RecipientKind::Transport(ri) => {
                    CMS_RecipientInfo_ktri_get0_signer_id(ri, &mut keyid, &mut issuer, &mut sno)
                }
                RecipientKind::Agreement(rek) => CMS_RecipientEncryptedKey_get0_id(
                    rek,
                    &mut keyid,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    &mut issuer,
                    &mut sno,
                ),
                RecipientKind::Other(t) => return Err(t),
            }
        };
        if rc <= 0 {
            let _ = ErrorStack::get();
            return Err(-1);
        }
        Ok(raw_id(keyid, issuer, sno))
    }

    /// Whether this recipient names `cert`.
    pub(crate) fn matches(&self, cert: &X509Ref) -> bool {
        // SAFETY: the comparisons only read both structures.
        unsafe {
            match self.kind {
                RecipientKind::Transport(ri) => {
                    CMS_RecipientInfo_ktri_cert_cmp(ri, cert.as_ptr()) == 0
                }
                RecipientKind::Agreement(rek) => {
                    CMS_RecipientEncryptedKey_cert_cmp(rek, cert.as_ptr()) == 0
                }
                RecipientKind::Other(_) => false,
            }
        }
    }
}
