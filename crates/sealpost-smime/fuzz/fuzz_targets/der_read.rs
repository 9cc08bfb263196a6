//! The DER readers (`asn1.rs`: SMIMECapabilities, signing time, strings,
//! SMIMEEncryptionKeyPreference) and the certificate address reader on arbitrary bytes.
//!
//! Properties: no panic; capability OIDs are dotted numbers; a time is not before 1970; a
//! key preference that reads re-encodes to a value that reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealpost_smime::fuzzing;

fuzz_target!(|data: &[u8]| {
    if let Some(oids) = fuzzing::smime_capabilities(data) {
        for oid in oids {
            assert!(
                oid.split('.').count() >= 2
                    && oid
                        .split('.')
                        .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit())),
                "not a dotted OID: {oid:?}"
            );
        }
    }
    if let Some(t) = fuzzing::time_to_unix(data) {
        assert!(t >= 0, "a time before 1970: {t}");
    }
    let _ = fuzzing::string(data);
    if let Some((issuer, serial)) = fuzzing::key_preference(data) {
        let again = fuzzing::encode_key_preference(&issuer, &serial)
            .expect("a key preference that was read re-encodes");
        assert_eq!(fuzzing::key_preference(&again), Some((issuer, serial)));
    }
    if let Ok(cert) = sealpost_smime::openssl::x509::X509::from_der(data) {
        let _ = sealpost_smime::certificate_addresses(&cert);
        let _ = sealpost_smime::subject_of(&cert);
        let _ = sealpost_smime::fingerprint_sha256(&cert);
    }
});
