//! Key generation for the test PKI.

use anyhow::{Result, anyhow};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

/// The key types the test PKI uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// RSA, 2048-bit modulus, exponent 65537; signs with sha256WithRSAEncryption.
    Rsa2048,
    /// ECDSA on NIST P-256; signs with ecdsa-with-SHA256.
    EcdsaP256,
}

impl KeyKind {
    /// A fresh key pair of this kind, usable by rcgen for signing.
    pub(crate) fn generate(self) -> Result<KeyPair> {
        match self {
            // ring, rcgen's signing backend, cannot generate RSA keys: the pure-Rust `rsa`
            // crate does, and ring signs with it once it is handed over as PKCS#8.
            KeyKind::Rsa2048 => {
                let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
                    .map_err(|err| anyhow!("generating an RSA-2048 key: {err}"))?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|err| anyhow!("encoding the RSA key as PKCS#8: {err}"))?;
                Ok(KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256)?)
            }
            KeyKind::EcdsaP256 => Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?),
        }
    }

    /// How the README names this key type.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "RSA-2048",
            KeyKind::EcdsaP256 => "ECDSA P-256",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_requested_algorithm_and_export_as_pkcs8() {
        for (kind, algorithm) in
            [(KeyKind::Rsa2048, &PKCS_RSA_SHA256), (KeyKind::EcdsaP256, &PKCS_ECDSA_P256_SHA256)]
        {
            let key = kind.generate().unwrap();
            assert_eq!(key.algorithm(), algorithm, "{kind:?}");
            assert!(
                key.serialize_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"),
                "{kind:?} is not PKCS#8"
            );
        }
    }
}
