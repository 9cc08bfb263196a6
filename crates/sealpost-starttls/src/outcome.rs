//! What a TLS handshake produced, for logs, Received headers and policy decisions.

use std::fmt;

use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, ProtocolVersion};

use crate::certs::{hex_colon, sha256, spki_sha256};

/// The peer's certificate as seen in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerCertificate {
    /// SHA-256 of the DER certificate.
    pub cert_sha256: [u8; 32],
    /// SHA-256 of its SubjectPublicKeyInfo (when it parses).
    pub spki_sha256: Option<[u8; 32]>,
    /// True when it chains to the configured trust anchors.
    pub verified: bool,
    /// The DER chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

/// A summary of a TLS session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOutcome {
    /// "TLSv1.2" or "TLSv1.3".
    pub version: &'static str,
    /// The IANA name of the cipher suite, such as `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// Secret key bits of the cipher.
    pub cipher_bits: u16,
    /// The server name the client asked for (SNI).
    pub sni: Option<String>,
    /// The peer's certificate, if it sent one.
    pub peer: Option<PeerCertificate>,
}

impl TlsOutcome {
    pub(crate) fn from_connection(
        version: Option<ProtocolVersion>,
        suite: Option<CipherSuite>,
        sni: Option<&str>,
        peer_chain: Option<&[CertificateDer<'_>]>,
        verified: impl FnOnce(&[CertificateDer<'static>]) -> bool,
    ) -> Self {
        let version = match version {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "TLS",
        };
        let (cipher, cipher_bits) = suite.map_or((String::from("unknown"), 0), cipher_name);
        let peer = peer_chain.and_then(|chain| {
            let chain: Vec<CertificateDer<'static>> =
                chain.iter().map(|c| c.clone().into_owned()).collect();
            let leaf = chain.first()?;
            Some(PeerCertificate {
                cert_sha256: sha256(leaf.as_ref()),
                spki_sha256: spki_sha256(leaf),
                verified: verified(&chain),
                chain,
            })
        });
        TlsOutcome { version, cipher, cipher_bits, sni: sni.map(str::to_owned), peer }
    }

    /// The clause for a Received header, in the form Postfix uses:
    /// `using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`.
    pub fn received_clause(&self) -> String {
        format!(
            "using {} with cipher {} ({}/{} bits)",
            self.version, self.cipher, self.cipher_bits, self.cipher_bits
        )
    }
}

impl fmt::Display for TlsOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)?;
        if let Some(sni) = &self.sni {
            write!(f, " sni={sni}")?;
        }
        if let Some(peer) = &self.peer {
            let state = if peer.verified { "verified" } else { "unverified" };
            write!(f, " peer-cert={} ({state})", hex_colon(&peer.cert_sha256))?;
        }
        Ok(())
    }
}

/// The IANA name and key size of a rustls cipher suite.
fn cipher_name(suite: CipherSuite) -> (String, u16) {
    // rustls names TLS 1.3 suites "TLS13_..."; the registry and OpenSSL say "TLS_...".
    let name = format!("{suite:?}");
    let name = match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    };
    let bits = if name.contains("AES_128") { 128 } else { 256 };
    (name, bits)
}
