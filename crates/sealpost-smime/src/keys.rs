//! Certificates and private keys: PEM, DER and PKCS #12; names; fingerprints.

use data_encoding::HEXUPPER;
use memchr::memmem;
use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509NameRef, X509Ref};

use crate::error::{Error, Result};

/// A certificate with its private key and the intermediate certificates to send along:
/// what signs, and what decrypts.
#[derive(Clone)]
pub struct Identity {
    /// The end-entity certificate.
    pub certificate: X509,
    /// Its private key.
    pub key: PKey<Private>,
    /// Intermediate CA certificates, leaf-most first (the end-entity certificate is not
    /// repeated here).
    pub chain: Vec<X509>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key is never printed.
        f.debug_struct("Identity")
            .field("certificate", &subject_of(&self.certificate))
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// An identity from a certificate file's bytes (PEM, possibly followed by its chain,
    /// or DER) and a private key file's bytes (PEM or DER; `password` for encrypted PEM or
    /// PKCS #8). Fails if the key does not belong to the certificate.
    ///
    /// ```
    /// # fn main() -> Result<(), sealpost_smime::Error> {
    /// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/pki");
    /// let cert = std::fs::read(dir.join("smime-alice-rsa-chain.pem")).unwrap();
    /// let key = std::fs::read(dir.join("smime-alice-rsa-key.pem")).unwrap();
    /// let alice = sealpost_smime::Identity::from_cert_and_key(&cert, &key, None)?;
    /// assert_eq!(alice.chain.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn from_cert_and_key(cert: &[u8], key: &[u8], password: Option<&[u8]>) -> Result<Self> {
        let mut certs = load_certificates(cert)?.into_iter();
        let certificate = certs.next().ok_or_else(|| Error::Credentials {
            what: "certificate".into(),
            reason: "the file holds no certificate".into(),
            source: None,
        })?;
        let key = load_private_key(key, password)?;
        let identity = Identity { certificate, key, chain: certs.collect() };
        identity.check_key()?;
        Ok(identity)
    }

    /// Adds intermediate certificates (PEM or DER bytes) to the chain.
    pub fn with_chain(mut self, chain: &[u8]) -> Result<Self> {
        let fingerprint = fingerprint_sha256(&self.certificate)?;
        for cert in load_certificates(chain)? {
            // A chain file often starts with the leaf itself: do not send it twice.
            if fingerprint_sha256(&cert)? != fingerprint {
                self.chain.push(cert);
            }
        }
        Ok(self)
    }

    /// An identity from a PKCS #12 (`.p12`, `.pfx`) file and its password.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self> {
        let bad = |reason: &str, source: Option<ErrorStack>| Error::Credentials {
            what: "PKCS #12 file".into(),
            reason: reason.into(),
            source,
        };
        let p12 = Pkcs12::from_der(der).map_err(|e| bad("it is not PKCS #12 DER", Some(e)))?;
        let parsed = p12
            .parse2(password)
            .map_err(|e| bad("it does not open (is the password right?)", Some(e)))?;
        let certificate = parsed.cert.ok_or_else(|| bad("it holds no certificate", None))?;
        let key = parsed.pkey.ok_or_else(|| bad("it holds no private key", None))?;
        let chain = parsed.ca.map(|s| s.into_iter().collect()).unwrap_or_default();
        let identity = Identity { certificate, key, chain };
        identity.check_key()?;
        Ok(identity)
    }

    fn check_key(&self) -> Result<()> {
        let public = self.certificate.public_key()?;
        if public.public_eq(&self.key) {
            Ok(())
        } else {
            Err(Error::Credentials {
                what: "private key".into(),
                reason: format!(
                    "it does not belong to the certificate {}",
                    subject_of(&self.certificate)
                ),
                source: None,
            })
        }
    }
}

/// Every certificate in `bytes`: one or more PEM blocks, or one DER certificate.
pub fn load_certificates(bytes: &[u8]) -> Result<Vec<X509>> {
    let bad = |reason: &str, source: Option<ErrorStack>| Error::Credentials {
        what: "certificate".into(),
        reason: reason.into(),
        source,
    };
    if memmem::find(bytes, b"-----BEGIN ").is_some() {
        let certs =
            X509::stack_from_pem(bytes).map_err(|e| bad("the PEM does not parse", Some(e)))?;
        if certs.is_empty() {
            return Err(bad("no PEM CERTIFICATE block found", None));
        }
        Ok(certs)
    } else {
        X509::from_der(bytes).map(|c| vec![c]).map_err(|e| bad("neither PEM nor DER", Some(e)))
    }
}

/// A private key from PEM (PKCS #8, traditional, or encrypted with `password`) or DER
/// (PKCS #8, or encrypted PKCS #8 with `password`).
pub fn load_private_key(bytes: &[u8], password: Option<&[u8]>) -> Result<PKey<Private>> {
    let pem = memmem::find(bytes, b"-----BEGIN ").is_some();
    let result = match (pem, password) {
        (true, Some(pw)) => PKey::private_key_from_pem_passphrase(bytes, pw),
        // An empty password from a callback: OpenSSL's default would prompt on the terminal.
        (true, None) => PKey::private_key_from_pem_callback(bytes, |_| Ok(0)),
        (false, Some(pw)) => PKey::private_key_from_pkcs8_passphrase(bytes, pw),
        (false, None) => PKey::private_key_from_der(bytes),
    };
    result.map_err(|e| Error::Credentials {
        what: "private key".into(),
        reason: if password.is_none() {
            "it does not parse (if it is encrypted, give its password)"
        } else {
            "it does not parse or the password is wrong"
        }
        .into(),
        source: Some(e),
    })
}

/// The SHA-256 fingerprint of a certificate's DER encoding, upper-case hex pairs joined by
/// colons (the form `openssl x509 -fingerprint -sha256` prints).
pub fn fingerprint_sha256(cert: &X509Ref) -> Result<String> {
    let digest = hash(MessageDigest::sha256(), &cert.to_der()?)?;
    Ok(digest
        .iter()
        .map(|b| HEXUPPER.encode(std::slice::from_ref(b)))
        .collect::<Vec<_>>()
        .join(":"))
}

/// A distinguished name on one line, most specific first as OpenSSL stores it:
/// `CN=Alice, O=Example`.
pub(crate) fn name_to_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let key = entry.object().nid().short_name().unwrap_or("?");
            let value = entry
                .data()
                .to_string()
                .unwrap_or_else(|_| String::from_utf8_lossy(entry.data().as_slice()).into_owned());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A certificate's subject on one line.
pub fn subject_of(cert: &X509Ref) -> String {
    name_to_string(cert.subject_name())
}
