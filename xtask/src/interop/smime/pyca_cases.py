"""The Python `cryptography` side of the S/MIME cases of `cargo xtask interop`.

Usage:
  pyca_cases.py sign-detached CERT KEY CHAIN IN OUT   multipart/signed of IN (S/MIME encoding)
  pyca_cases.py sign-opaque CERT KEY CHAIN IN OUT     SignedData with IN inside (DER)
  pyca_cases.py encrypt CERT AES128|AES256 IN OUT     EnvelopedData, AES-CBC (S/MIME encoding)
  pyca_cases.py decrypt CERT KEY IN OUT               pkcs7_decrypt_smime of the message IN

IN is used byte for byte (the Binary option: no conversion of line endings). Prints one
summary line and exits 0; anything else raises (a traceback and a non-zero exit code).
"""

import sys

import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def cert(path):
    return x509.load_pem_x509_certificate(read(path))


def key(path):
    return serialization.load_pem_private_key(read(path), password=None)


def sign(args, detached):
    cert_path, key_path, chain_path, src, dst = args
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(read(src))
        .add_signer(cert(cert_path), key(key_path), hashes.SHA256())
        .add_certificate(cert(chain_path))
    )
    if detached:
        options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
        out = builder.sign(serialization.Encoding.SMIME, options)
    else:
        out = builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    write(dst, out)
    form = "detached" if detached else "opaque"
    print(f"cryptography {cryptography.__version__}: signed {form}, {len(out)} bytes")


def encrypt(args):
    cert_path, cipher, src, dst = args
    algorithm = {"AES128": algorithms.AES128, "AES256": algorithms.AES256}[cipher]
    out = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(read(src))
        .add_recipient(cert(cert_path))
        .set_content_encryption_algorithm(algorithm)
        .encrypt(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Binary])
    )
    write(dst, out)
    print(f"cryptography {cryptography.__version__}: encrypted with {cipher}-CBC, {len(out)} bytes")


def decrypt(args):
    cert_path, key_path, src, dst = args
    out = pkcs7.pkcs7_decrypt_smime(read(src), cert(cert_path), key(key_path), [])
    write(dst, out)
    print(f"cryptography {cryptography.__version__}: decrypted {len(out)} bytes")


def main():
    case, args = sys.argv[1], sys.argv[2:]
    if case == "sign-detached":
        sign(args, detached=True)
    elif case == "sign-opaque":
        sign(args, detached=False)
    elif case == "encrypt":
        encrypt(args)
    elif case == "decrypt":
        decrypt(args)
    else:
        raise SystemExit(f"unknown case {case}")


if __name__ == "__main__":
    main()
