"""Policy-management signing material for the SDK compatibility suite.

Writes, into the directory given as the only argument, self-signed
certificates with PKCS#8 PEM keys, as Microsoft's SDK samples generate them:
rsa.key/rsa.pem, rsa2.key/rsa2.pem and rsa3.key/rsa3.pem (RSA-2048), ec.key/ec.pem (P-256).
Uses the `cryptography` package the Python SDK depends on anyway.
"""

import datetime
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def write(out: pathlib.Path, name: str, key) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Attesta compat {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (out / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (out / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    write(out, "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    write(out, "rsa2", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    write(out, "rsa3", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    write(out, "ec", ec.generate_private_key(ec.SECP256R1()))


if __name__ == "__main__":
    main()
