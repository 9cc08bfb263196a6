//! What the test PKI contains: one entry per certificate, with what `openssl verify` must
//! say about it. Generation, the README and the checks all read this table.

use rcgen::{ExtendedKeyUsagePurpose as Eku, KeyUsagePurpose as Ku};

use super::keys::KeyKind;

/// A calendar date (UTC midnight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ymd(pub(crate) i32, pub(crate) u8, pub(crate) u8);

impl std::fmt::Display for Ymd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0, self.1, self.2)
    }
}

/// Start of the normal validity period.
const FROM: Ymd = Ymd(2024, 1, 1);
/// End of the normal validity period: long enough that no test breaks by the calendar.
const UNTIL: Ymd = Ymd(2124, 1, 1);

/// Who signs a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signer {
    /// The certificate's own key.
    SelfSigned,
    /// `root-ca`.
    Root,
    /// `intermediate-ca`.
    Intermediate,
    /// `rogue-root-ca`, which nothing trusts.
    RogueRoot,
}

impl Signer {
    /// The file stem of the signing certificate.
    pub(crate) fn name(self) -> Option<&'static str> {
        match self {
            Signer::SelfSigned => None,
            Signer::Root => Some("root-ca"),
            Signer::Intermediate => Some("intermediate-ca"),
            Signer::RogueRoot => Some("rogue-root-ca"),
        }
    }
}

/// CA or end entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// basicConstraints cA=TRUE, with this path length limit if any.
    Ca { path_len: Option<u8> },
    /// basicConstraints cA=FALSE.
    Leaf,
}

/// A subject alternative name.
#[derive(Clone, Copy, Debug)]
pub(crate) enum San {
    /// dNSName.
    Dns(&'static str),
    /// iPAddress.
    Ip(&'static str),
    /// rfc822Name (an email address).
    Email(&'static str),
}

/// What `openssl verify` must answer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expect {
    /// Verification succeeds.
    Ok,
    /// Verification fails with this X509_V_ERR code and message.
    Error(u32, &'static str),
}

/// One `openssl verify` run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Check {
    /// The trusted certificates (`-CAfile`).
    pub(crate) ca_file: &'static str,
    /// Further options, such as `-purpose sslserver -verify_hostname mail.test`.
    pub(crate) options: &'static [&'static str],
    /// Verify as of this date instead of now (`-attime`).
    pub(crate) at: Option<Ymd>,
    /// The answer.
    pub(crate) expect: Expect,
}

/// One certificate of the test PKI (written as `<name>.pem`, key as `<name>-key.pem`).
#[derive(Debug)]
pub(crate) struct Spec {
    /// File stem.
    pub(crate) name: &'static str,
    /// Subject common name (the organization is always "sealpost tests").
    pub(crate) common_name: &'static str,
    /// Key type.
    pub(crate) key: KeyKind,
    /// Issuer.
    pub(crate) signer: Signer,
    /// CA or leaf.
    pub(crate) role: Role,
    /// notBefore.
    pub(crate) not_before: Ymd,
    /// notAfter.
    pub(crate) not_after: Ymd,
    /// subjectAltName entries.
    pub(crate) sans: &'static [San],
    /// keyUsage bits (critical).
    pub(crate) key_usages: &'static [Ku],
    /// extendedKeyUsage purposes.
    pub(crate) ekus: &'static [Eku],
    /// What tests use it for.
    pub(crate) purpose: &'static str,
    /// What `openssl verify` must say about it.
    pub(crate) checks: &'static [Check],
}

impl Spec {
    /// Whether the intermediate signs it, so that a `-chain.pem` is written too.
    pub(crate) fn has_chain(&self) -> bool {
        self.signer == Signer::Intermediate && self.role == Role::Leaf
    }
}

const CA_KU: &[Ku] = &[Ku::KeyCertSign, Ku::CrlSign];
const SERVER_KU: &[Ku] = &[Ku::DigitalSignature, Ku::KeyEncipherment];
const CLIENT_KU: &[Ku] = &[Ku::DigitalSignature];
const SMIME_RSA_KU: &[Ku] = &[Ku::DigitalSignature, Ku::ContentCommitment, Ku::KeyEncipherment];
const SMIME_EC_KU: &[Ku] = &[Ku::DigitalSignature, Ku::KeyAgreement];

const SERVER_NAMES: &[San] =
    &[San::Dns("mail.test"), San::Dns("localhost"), San::Ip("127.0.0.1"), San::Ip("::1")];

const BUNDLE: &str = "ca-bundle.pem";

const fn ok(options: &'static [&'static str]) -> Check {
    Check { ca_file: BUNDLE, options, at: None, expect: Expect::Ok }
}

const fn fails(options: &'static [&'static str], code: u32, message: &'static str) -> Check {
    Check { ca_file: BUNDLE, options, at: None, expect: Expect::Error(code, message) }
}

const SERVER_MAIL_TEST: &[&str] = &["-purpose", "sslserver", "-verify_hostname", "mail.test"];
const EXPIRED: (u32, &str) = (10, "certificate has expired");
const NOT_YET_VALID: (u32, &str) = (9, "certificate is not yet valid");
const SELF_SIGNED: (u32, &str) = (18, "self-signed certificate");
const NO_ISSUER: (u32, &str) = (20, "unable to get local issuer certificate");
const WRONG_PURPOSE: (u32, &str) = (26, "unsupported certificate purpose");
const HOSTNAME_MISMATCH: (u32, &str) = (62, "hostname mismatch");
const EMAIL_MISMATCH: (u32, &str) = (63, "email address mismatch");

/// Checks shared by the four good S/MIME leaves of `address`.
macro_rules! smime_checks {
    ($address:literal, $other:literal, rsa) => {
        &[
            ok(&["-purpose", "smimesign", "-verify_email", $address]),
            ok(&["-purpose", "smimeencrypt", "-verify_email", $address]),
            fails(
                &["-purpose", "smimesign", "-verify_email", $other],
                EMAIL_MISMATCH.0,
                EMAIL_MISMATCH.1,
            ),
        ]
    };
    ($address:literal, $other:literal, ec) => {
        &[
            ok(&["-purpose", "smimesign", "-verify_email", $address]),
            fails(
                &["-purpose", "smimesign", "-verify_email", $other],
                EMAIL_MISMATCH.0,
                EMAIL_MISMATCH.1,
            ),
        ]
    };
}

/// A good S/MIME leaf signed by the intermediate.
macro_rules! smime_leaf {
    ($name:literal, $cn:literal, $address:literal, $other:literal, rsa, $purpose:literal) => {
        Spec {
            name: $name,
            common_name: $cn,
            key: KeyKind::Rsa2048,
            signer: Signer::Intermediate,
            role: Role::Leaf,
            not_before: FROM,
            not_after: UNTIL,
            sans: &[San::Email($address)],
            key_usages: SMIME_RSA_KU,
            ekus: &[Eku::EmailProtection],
            purpose: $purpose,
            checks: smime_checks!($address, $other, rsa),
        }
    };
    ($name:literal, $cn:literal, $address:literal, $other:literal, ec, $purpose:literal) => {
        Spec {
            name: $name,
            common_name: $cn,
            key: KeyKind::EcdsaP256,
            signer: Signer::Intermediate,
            role: Role::Leaf,
            not_before: FROM,
            not_after: UNTIL,
            sans: &[San::Email($address)],
            key_usages: SMIME_EC_KU,
            ekus: &[Eku::EmailProtection],
            purpose: $purpose,
            checks: smime_checks!($address, $other, ec),
        }
    };
}

/// The whole test PKI, issuers before what they sign.
pub(crate) const SPECS: &[Spec] = &[
    Spec {
        name: "root-ca",
        common_name: "sealpost Test Root CA",
        key: KeyKind::Rsa2048,
        signer: Signer::SelfSigned,
        role: Role::Ca { path_len: None },
        not_before: FROM,
        not_after: UNTIL,
        sans: &[],
        key_usages: CA_KU,
        ekus: &[],
        purpose: "The trust anchor. `ca-bundle.pem` holds exactly this certificate; \
                  tests trust that file and nothing else.",
        checks: &[ok(&[])],
    },
    Spec {
        name: "intermediate-ca",
        common_name: "sealpost Test Intermediate CA",
        key: KeyKind::Rsa2048,
        signer: Signer::Root,
        role: Role::Ca { path_len: Some(0) },
        not_before: FROM,
        not_after: UNTIL,
        sans: &[],
        key_usages: CA_KU,
        ekus: &[],
        purpose: "Issues every leaf below except the self-signed and unknown-CA ones. \
                  Servers send it in their chain; it is not a trust anchor.",
        checks: &[ok(&[])],
    },
    Spec {
        name: "rogue-root-ca",
        common_name: "sealpost Rogue Root CA",
        key: KeyKind::Rsa2048,
        signer: Signer::SelfSigned,
        role: Role::Ca { path_len: None },
        not_before: FROM,
        not_after: UNTIL,
        sans: &[],
        key_usages: CA_KU,
        ekus: &[],
        purpose: "A root that nothing trusts; it issues `server-unknown-ca.pem`.",
        checks: &[
            fails(&[], SELF_SIGNED.0, SELF_SIGNED.1),
            Check { ca_file: "rogue-root-ca.pem", options: &[], at: None, expect: Expect::Ok },
        ],
    },
    Spec {
        name: "server",
        common_name: "mail.test",
        key: KeyKind::Rsa2048,
        signer: Signer::Intermediate,
        role: Role::Leaf,
        not_before: FROM,
        not_after: UNTIL,
        sans: SERVER_NAMES,
        key_usages: SERVER_KU,
        ekus: &[Eku::ServerAuth],
        purpose: "The good TLS server certificate: serve `server-chain.pem` with \
                  `server-key.pem`, connect as `mail.test`, `localhost`, 127.0.0.1 or ::1.",
        checks: &[
            ok(SERVER_MAIL_TEST),
            ok(&["-purpose", "sslserver", "-verify_hostname", "localhost"]),
            ok(&["-purpose", "sslserver", "-verify_ip", "127.0.0.1"]),
            ok(&["-purpose", "sslserver", "-verify_ip", "::1"]),
            fails(
                &["-purpose", "sslserver", "-verify_hostname", "other.test"],
                HOSTNAME_MISMATCH.0,
                HOSTNAME_MISMATCH.1,
            ),
        ],
    },
    Spec {
        name: "client",
        common_name: "client.test",
        key: KeyKind::Rsa2048,
        signer: Signer::Intermediate,
        role: Role::Leaf,
        not_before: FROM,
        not_after: UNTIL,
        sans: &[San::Dns("client.test")],
        key_usages: CLIENT_KU,
        ekus: &[Eku::ClientAuth],
        purpose: "TLS client certificate (clientAuth only): present `client-chain.pem` \
                  with `client-key.pem` to a server that asks for one.",
        checks: &[
            ok(&["-purpose", "sslclient"]),
            fails(&["-purpose", "sslserver"], WRONG_PURPOSE.0, WRONG_PURPOSE.1),
        ],
    },
    smime_leaf!(
        "smime-alice-rsa",
        "Alice (RSA)",
        "alice@example.org",
        "bob@example.org",
        rsa,
        "S/MIME sign and encrypt as / to alice@example.org (RSA)."
    ),
    smime_leaf!(
        "smime-alice-ec",
        "Alice (EC)",
        "alice@example.org",
        "bob@example.org",
        ec,
        "S/MIME sign (ECDSA) and encrypt (ECDH key agreement) as / to alice@example.org."
    ),
    smime_leaf!(
        "smime-bob-rsa",
        "Bob (RSA)",
        "bob@example.org",
        "alice@example.org",
        rsa,
        "S/MIME sign and encrypt as / to bob@example.org (RSA)."
    ),
    smime_leaf!(
        "smime-bob-ec",
        "Bob (EC)",
        "bob@example.org",
        "alice@example.org",
        ec,
        "S/MIME sign (ECDSA) and encrypt (ECDH key agreement) as / to bob@example.org."
    ),
    Spec {
        name: "server-expired",
        common_name: "mail.test",
        key: KeyKind::Rsa2048,
        signer: Signer::Intermediate,
        role: Role::Leaf,
        not_before: Ymd(2024, 1, 1),
        not_after: Ymd(2025, 1, 1),
        sans: SERVER_NAMES,
        key_usages: SERVER_KU,
        ekus: &[Eku::ServerAuth],
        purpose: "Like `server.pem` but expired: validity lies entirely in the past.",
        checks: &[
            fails(SERVER_MAIL_TEST, EXPIRED.0, EXPIRED.1),
            Check {
                ca_file: BUNDLE,
                options: SERVER_MAIL_TEST,
                at: Some(Ymd(2024, 7, 1)),
                expect: Expect::Ok,
            },
        ],
    },
    Spec {
        name: "server-not-yet-valid",
        common_name: "mail.test",
        key: KeyKind::Rsa2048,
        signer: Signer::Intermediate,
        role: Role::Leaf,
        not_before: Ymd(2100, 1, 1),
        not_after: UNTIL,
        sans: SERVER_NAMES,
        key_usages: SERVER_KU,
        ekus: &[Eku::ServerAuth],
        purpose: "Like `server.pem` but not valid before 2100.",
        checks: &[
            fails(SERVER_MAIL_TEST, NOT_YET_VALID.0, NOT_YET_VALID.1),
            Check {
                ca_file: BUNDLE,
                options: SERVER_MAIL_TEST,
                at: Some(Ymd(2100, 7, 1)),
                expect: Expect::Ok,
            },
        ],
    },
    Spec {
        name: "server-wrong-name",
        common_name: "other.test",
        key: KeyKind::Rsa2048,
        signer: Signer::Intermediate,
        role: Role::Leaf,
        not_before: FROM,
        not_after: UNTIL,
        sans: &[San::Dns("other.test")],
        key_usages: SERVER_KU,
        ekus: &[Eku::ServerAuth],
        purpose: "A valid server certificate for `other.test` only: connecting as \
                  `mail.test` must fail on the name.",
        checks: &[
            fails(SERVER_MAIL_TEST, HOSTNAME_MISMATCH.0, HOSTNAME_MISMATCH.1),
            ok(&["-purpose", "sslserver", "-verify_hostname", "other.test"]),
        ],
    },
    Spec {
        name: "server-self-signed",
        common_name: "mail.test",
        key: KeyKind::Rsa2048,
        signer: Signer::SelfSigned,
        role: Role::Leaf,
        not_before: FROM,
        not_after: UNTIL,
        sans: &[San::Dns("mail.test")],
        key_usages: SERVER_KU,
        ekus: &[Eku::ServerAuth],
        purpose: "A self-signed server certificate for `mail.test`: fails against the \
                  bundle, passes when pinned as its own trust anchor.",
        checks: &[
            fails(SERVER_MAIL_TEST, SELF_SIGNED.0, SELF_SIGNED.1),
            Check {
                ca_file: "server-self-signed.pem",
                options: SERVER_MAIL_TEST,
                at: None,
                expect: Expect::Ok,
            },
        ],
    },
    Spec {
        name: "server-unknown-ca",
        common_name: "mail.test",
        key: KeyKind::Rsa2048,
        signer: Signer::RogueRoot,
        role: Role::Leaf,
        not_before: FROM,
        not_after: UNTIL,
        sans: SERVER_NAMES,
        key_usages: SERVER_KU,
        ekus: &[Eku::ServerAuth],
        purpose: "Like `server.pem` but issued by `rogue-root-ca.pem`: the chain does \
                  not reach the trusted root.",
        checks: &[
            fails(SERVER_MAIL_TEST, NO_ISSUER.0, NO_ISSUER.1),
            Check {
                ca_file: "rogue-root-ca.pem",
                options: SERVER_MAIL_TEST,
                at: None,
                expect: Expect::Ok,
            },
        ],
    },
    Spec {
        name: "smime-alice-wrong-eku",
        common_name: "Alice (wrong EKU)",
        key: KeyKind::Rsa2048,
        signer: Signer::Intermediate,
        role: Role::Leaf,
        not_before: FROM,
        not_after: UNTIL,
        sans: &[San::Email("alice@example.org")],
        key_usages: SMIME_RSA_KU,
        ekus: &[Eku::ServerAuth],
        purpose: "Alice's address and S/MIME key usage, but extended key usage serverAuth \
                  only (no emailProtection): an S/MIME verifier must reject it.",
        checks: &[
            fails(
                &["-purpose", "smimesign", "-verify_email", "alice@example.org"],
                WRONG_PURPOSE.0,
                WRONG_PURPOSE.1,
            ),
            ok(&["-verify_email", "alice@example.org"]),
        ],
    },
    Spec {
        name: "smime-alice-wrong-ku",
        common_name: "Alice (wrong key usage)",
        key: KeyKind::Rsa2048,
        signer: Signer::Intermediate,
        role: Role::Leaf,
        not_before: FROM,
        not_after: UNTIL,
        sans: &[San::Email("alice@example.org")],
        key_usages: &[Ku::KeyCertSign],
        ekus: &[Eku::EmailProtection],
        purpose: "Alice's address and emailProtection, but key usage keyCertSign only (no \
                  digitalSignature, no keyEncipherment): an S/MIME verifier must reject it.",
        checks: &[
            fails(
                &["-purpose", "smimesign", "-verify_email", "alice@example.org"],
                WRONG_PURPOSE.0,
                WRONG_PURPOSE.1,
            ),
            ok(&["-verify_email", "alice@example.org"]),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_issuers_come_first() {
        for (index, spec) in SPECS.iter().enumerate() {
            assert!(
                SPECS[..index].iter().all(|earlier| earlier.name != spec.name),
                "{} appears twice",
                spec.name
            );
            if let Some(issuer) = spec.signer.name() {
                let position = SPECS.iter().position(|s| s.name == issuer);
                assert!(
                    position.is_some_and(|p| p < index),
                    "{} is signed by {issuer}, which must come before it",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn every_certificate_has_a_check_that_passes() {
        for spec in SPECS {
            assert!(
                spec.checks.iter().any(|c| matches!(c.expect, Expect::Ok)),
                "{} has no passing check, so a broken chain would go unnoticed",
                spec.name
            );
        }
    }
}
