//! DANE for SMTP (RFC 7672) with TLSA records (RFC 6698).
//!
//! - [`Tlsa`]: the record, from RDATA or presentation format, and certificate matching.
//!   Always available: it is what a [`DnsResolver`](crate::dns::DnsResolver) answers to a
//!   TLSA query, and it costs no dependency.
//! - `DaneVerifier` (feature `dane`): a rustls verifier that authenticates the server with
//!   usable TLSA records (DANE-TA and DANE-EE; selectors Cert and SPKI; matching types
//!   Full, SHA2-256 and SHA2-512), failing with a TLS-RPT result type (`DaneFailure`).
//! - `dane_policy` (feature `dane`): what the `dane` and `dane-only` levels do for an MX
//!   host given the DNSSEC status of its MX and TLSA answers.

#[cfg(feature = "dane")]
mod policy;
mod tlsa;
#[cfg(feature = "dane")]
mod verify;

#[cfg(feature = "dane")]
#[cfg_attr(docsrs, doc(cfg(feature = "dane")))]
pub use policy::{DaneDecision, DaneLevel, dane_policy};
pub use tlsa::{CertUsage, MatchingType, Selector, Tlsa, TlsaParseError};
#[cfg(feature = "dane")]
#[cfg_attr(docsrs, doc(cfg(feature = "dane")))]
pub use verify::{DaneFailure, DaneMatch, DaneVerifier};
