//! SignedData: building a signer, and checking each signer on its own.

use super::*;

/// A SignerInfo inside a `CmsContentInfo` it borrows.
pub(crate) struct SignerInfo<'a> {
    ptr: *mut CMS_SignerInfo,
    _cms: PhantomData<&'a CmsContentInfoRef>,
}

/// Adds a signer to a partial SignedData (`CMS_add1_signer` with `CMS_PARTIAL`, so the
/// signature is made by [`finalize`]). `key_param` asks for the key context so that RSA-PSS
/// can be selected with [`use_rsa_pss`].
pub(crate) fn add_signer<'a>(
    cms: &'a mut CmsContentInfoRef,
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    md: MessageDigest,
    key_param: bool,
) -> Result<SignerInfo<'a>, ErrorStack> {
    let mut flags = CMS_PARTIAL | CMS_NOSMIMECAP | CMS_CADES | CMS_BINARY | CMS_NOCERTS;
    if key_param {
        flags |= CMS_KEY_PARAM;
    }
    // SAFETY: add1 takes its own references to cert and key.
    let si = check_ptr(unsafe {
        CMS_add1_signer(cms.as_ptr(), cert.as_ptr(), key.as_ptr(), md.as_ptr(), flags)
    })?;
    Ok(SignerInfo { ptr: si, _cms: PhantomData })
}

/// Selects RSASSA-PSS (salt length = digest length, MGF1 with the same digest) for a
/// signer added with `key_param`.
pub(crate) fn use_rsa_pss(si: &SignerInfo<'_>, md: MessageDigest) -> Result<(), ErrorStack> {
    // SAFETY: the context belongs to the SignerInfo; set_* only change its parameters.
    unsafe {
        let ctx = check_ptr(CMS_SignerInfo_get0_pkey_ctx(si.ptr))?;
        check(sys::EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING))?;
        check(sys::EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST))?;
        check(sys::EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md.as_ptr()))?;
    }
    Ok(())
}

/// Adds the SMIMECapabilities attribute (RFC 8551 section 2.5.2) with exactly the given
/// algorithms, in order: `(nid, key size or -1)`.
pub(crate) fn add_smime_capabilities(
    si: &SignerInfo<'_>,
    caps: &[(Nid, i32)],
) -> Result<(), ErrorStack> {
    // SAFETY: the X509_ALGOR stack is created by CMS_add_simple_smimecap, copied into the
    // attribute by CMS_add_smimecap, and freed here on every path.
    unsafe {
        let mut algs: *mut sys::stack_st_X509_ALGOR = ptr::null_mut();
        let free = |algs: *mut sys::stack_st_X509_ALGOR| {
            if !algs.is_null() {
                sys::OPENSSL_sk_pop_free(algs.cast(), Some(free_algor));
            }
        };
        for &(nid, bits) in caps {
            if CMS_add_simple_smimecap(&mut algs, nid.as_raw(), bits) <= 0 {
                free(algs);
                return Err(ErrorStack::get());
            }
        }
        let rc = CMS_add_smimecap(si.ptr, algs);
        free(algs);
        check(rc)
    }
}

unsafe extern "C" fn free_algor(p: *mut c_void) {
    // SAFETY: only called by OPENSSL_sk_pop_free on the X509_ALGOR elements of our stack.
    unsafe { sys::X509_ALGOR_free(p.cast()) }
}

/// Adds a signed attribute whose single value is the given DER (a whole TLV).
pub(crate) fn add_signed_attribute_der(
    si: &SignerInfo<'_>,
    nid: Nid,
    der: &[u8],
) -> Result<(), ErrorStack> {
    let len = c_len(der.len())?;
    // SAFETY: the attribute copies the bytes; obj is a static table entry.
    unsafe {
        let obj = sys::OBJ_nid2obj(nid.as_raw());
        if obj.is_null() {
            return Err(ErrorStack::get());
        }
        // V_ASN1_SEQUENCE: the bytes are kept as an already encoded value (tag included).
        let kind = sys::V_ASN1_SEQUENCE;
        check(CMS_signed_add1_attr_by_OBJ(si.ptr, obj, kind, der.as_ptr().cast(), len))
    }
}

/// Adds a certificate to the SignedData's certificate set.
pub(crate) fn add_certificate(
    cms: &mut CmsContentInfoRef,
    cert: &X509Ref,
) -> Result<(), ErrorStack> {
    // SAFETY: add1 takes its own reference.
    check(unsafe { CMS_add1_cert(cms.as_ptr(), cert.as_ptr()) })
}

/// Completes a partial SignedData or EnvelopedData over `data` (`CMS_final`): digests and
/// signs, or encrypts.
pub(crate) fn finalize(
    cms: &mut CmsContentInfoRef,
    data: &[u8],
    detached: bool,
) -> Result<(), ErrorStack> {
    let len = c_len(data.len())?;
    let mut flags = CMS_BINARY;
    if detached {
        flags |= CMS_DETACHED;
    }
    // SAFETY: the memory BIO reads `data`, which outlives the call; it is freed here.
    unsafe {
        let bio = check_ptr(sys::BIO_new_mem_buf(data.as_ptr().cast(), len))?;
        let rc = CMS_final(cms.as_ptr(), bio, ptr::null_mut(), flags);
        sys::BIO_free_all(bio);
        check(rc)
    }
}

// --- verification ------------------------------------------------------------------------

/// The SignerInfos of a SignedData.
pub(crate) fn signer_infos(cms: &CmsContentInfoRef) -> Vec<SignerInfo<'_>> {
    // SAFETY: get0 on a live structure; elements live as long as `cms`.
    let sk = unsafe { CMS_get0_SignerInfos(cms.as_ptr()) };
    (0..sk_len(sk))
        .map(|i| SignerInfo { ptr: sk_get(sk, i).cast(), _cms: PhantomData })
        .filter(|si| !si.ptr.is_null())
        .collect()
}

/// Finds each signer's certificate among the certificates of the SignedData and `extra`
/// (`CMS_set1_signers_certs`); afterwards [`signer_certificate`] returns it. Returns the
/// number of signers whose certificate was found.
pub(crate) fn resolve_signer_certificates(
    cms: &CmsContentInfoRef,
    extra: &StackRef<X509>,
) -> usize {
    // SAFETY: the function takes its own references to the certificates it keeps. A signer
    // whose certificate is missing is not an error here (rc < 0 also clears no state): the
    // caller reports it per signer.
    let rc = unsafe { CMS_set1_signers_certs(cms.as_ptr(), extra.as_ptr(), 0) };
    // Clear the error queue entry a missing certificate leaves behind.
    let _ = ErrorStack::get();
    usize::try_from(rc).unwrap_or(0)
}

impl SignerInfo<'_> {
    /// The signer's certificate, once resolved.
    pub(crate) fn certificate(&self) -> Option<X509> {
        let mut signer: *mut sys::X509 = ptr::null_mut();
        // SAFETY: get0 out-parameter; we take a new reference with to_owned.
        unsafe {
            CMS_SignerInfo_get0_algs(
                self.ptr,
                ptr::null_mut(),
                &mut signer,
                ptr::null_mut(),
                ptr::null_mut(),
            );
            if signer.is_null() { None } else { Some(X509Ref::from_ptr(signer).to_owned()) }
        }
    }

    /// The digest algorithm (NID and dotted OID).
    pub(crate) fn digest_algorithm(&self) -> (Nid, String) {
        let mut pdig: *mut sys::X509_ALGOR = ptr::null_mut();
        // SAFETY: get0 out-parameters, only read.
        unsafe {
            CMS_SignerInfo_get0_algs(
                self.ptr,
                ptr::null_mut(),
                ptr::null_mut(),
                &mut pdig,
                ptr::null_mut(),
            );
            algor_oid(pdig)
        }
    }

    /// The signature algorithm (NID and dotted OID).
    pub(crate) fn signature_algorithm(&self) -> (Nid, String) {
        let mut psig: *mut sys::X509_ALGOR = ptr::null_mut();
        // SAFETY: as above.
        unsafe {
            CMS_SignerInfo_get0_algs(
                self.ptr,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                &mut psig,
            );
            algor_oid(psig)
        }
    }

    /// The SignerIdentifier.
    pub(crate) fn signer_id(&self) -> Option<RawCertId> {
        let mut keyid = ptr::null_mut();
        let mut issuer = ptr::null_mut();
        let mut sno = ptr::null_mut();
        // SAFETY: get0 out-parameters.
        let rc =
            unsafe { CMS_SignerInfo_get0_signer_id(self.ptr, &mut keyid, &mut issuer, &mut sno) };
        if rc <= 0 {
            let _ = ErrorStack::get();
            return None;
        }
        Some(raw_id(keyid, issuer, sno))
    }

    /// Every value (DER of each) of the signed attribute `nid`.
    pub(crate) fn signed_attribute_values(&self, nid: Nid) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        // SAFETY: attributes and their values are borrowed (get0) and only encoded.
        unsafe {
            let obj = sys::OBJ_nid2obj(nid.as_raw());
            if obj.is_null() {
                return out;
            }
            let mut pos = -1;
            // Bounded: each iteration moves to a later attribute position.
            loop {
                pos = CMS_signed_get_attr_by_OBJ(self.ptr, obj, pos);
                if pos < 0 {
                    break;
                }
                let attr = CMS_signed_get_attr(self.ptr, pos);
                if attr.is_null() {
                    break;
                }
                for i in 0..sys::X509_ATTRIBUTE_count(attr).max(0) {
                    let t = sys::X509_ATTRIBUTE_get0_type(attr, i);
                    if !t.is_null()
                        && let Ok(der) = asn1_type_der(t)
                    {
                        out.push(der);
                    }
                }
            }
        }
        out
    }

    /// Checks the signature over the signed attributes (`CMS_SignerInfo_verify`).
    fn verify_signed_attributes(&self) -> Result<(), ErrorStack> {
        // SAFETY: operates on the live SignerInfo with its resolved public key.
        check(unsafe { CMS_SignerInfo_verify(self.ptr) })
    }
}

/// The OID of an algorithm identifier.
///
/// # Safety
/// `alg` is null or a valid X509_ALGOR.
unsafe fn algor_oid(alg: *mut sys::X509_ALGOR) -> (Nid, String) {
    if alg.is_null() {
        return (Nid::UNDEF, String::new());
    }
    let mut obj: *const sys::ASN1_OBJECT = ptr::null();
    // SAFETY: get0 out-parameter from a valid X509_ALGOR.
    unsafe {
        sys::X509_ALGOR_get0(&mut obj, ptr::null_mut(), ptr::null_mut(), alg);
    }
    (obj_nid(obj), obj_text(obj))
}

/// The outcome of checking each signer's signature over the content.
pub(crate) struct ContentCheck {
    /// The content that was digested (the eContent, or the detached bytes).
    pub(crate) content: Vec<u8>,
    /// Per signer (in SignerInfos order): the signature over the signed attributes and the
    /// message digest (or, without signed attributes, the signature over the content).
    pub(crate) signers: Vec<Result<(), ErrorStack>>,
}

/// Digests the content once for all digest algorithms of the SignedData (`CMS_dataInit`),
/// then checks each SignerInfo against it: the same steps as `CMS_verify`, but one result
/// per signer instead of one for all. Signers must have their certificates resolved.
pub(crate) fn check_signers(
    cms: &CmsContentInfoRef,
    detached: Option<&[u8]>,
) -> Result<ContentCheck, ErrorStack> {
    // SAFETY: `dcont` reads `detached`, which outlives this function. CMS_dataInit pushes
    // digest BIOs on top of it and returns the chain head (taking over dcont), or null (in
    // which case dcont is still ours). BIO_free_all releases the whole chain.
    unsafe {
        let dcont = match detached {
            Some(bytes) => {
                check_ptr(sys::BIO_new_mem_buf(bytes.as_ptr().cast(), c_len(bytes.len())?))?
            }
            None => ptr::null_mut(),
        };
        let chain = CMS_dataInit(cms.as_ptr(), dcont);
        if chain.is_null() {
            if !dcont.is_null() {
                // A lone memory BIO: freeing "all" of its chain frees just it.
                sys::BIO_free_all(dcont);
            }
            return Err(ErrorStack::get());
        }
        let mut content = Vec::with_capacity(detached.map_or(0, <[u8]>::len));
        let mut buf = vec![0u8; 64 * 1024];
        // Bounded by the size of the content: every read consumes bytes or ends the loop.
        loop {
            let n = sys::BIO_read(chain, buf.as_mut_ptr().cast(), buf.len() as c_int);
            if n <= 0 {
                break;
            }
            content.extend_from_slice(&buf[..n as usize]);
        }
        let signers = signer_infos(cms)
            .iter()
            .map(|si| {
                si.verify_signed_attributes_if_present()?;
                check(CMS_SignerInfo_verify_content(si.ptr, chain))
            })
            .collect();
        // The chain ends in dcont (a read-only view created above), so freeing it all is
        // right.
        sys::BIO_free_all(chain);
        Ok(ContentCheck { content, signers })
    }
}

impl SignerInfo<'_> {
    /// `CMS_SignerInfo_verify` applies only when there are signed attributes; without them
    /// `CMS_SignerInfo_verify_content` checks the signature over the content itself.
    fn verify_signed_attributes_if_present(&self) -> Result<(), ErrorStack> {
        // SAFETY: counts attributes of the live SignerInfo.
        let has_attrs = unsafe {
            let obj = sys::OBJ_nid2obj(Nid::PKCS9_CONTENTTYPE.as_raw());
            !obj.is_null() && CMS_signed_get_attr_by_OBJ(self.ptr, obj, -1) >= 0
        } || !self.signed_attribute_values(Nid::PKCS9_MESSAGEDIGEST).is_empty();
        if has_attrs { self.verify_signed_attributes() } else { Ok(()) }
    }
}
