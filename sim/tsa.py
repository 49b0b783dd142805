"""A time-stamping authority on loopback (RFC 3161), for the demo and the tests.

It makes its own test CA and TSA certificate when it starts (EC P-256: `openssl ts` cannot sign with
Ed25519), and answers each `application/timestamp-query` with `openssl ts -reply`: real tokens that any RFC 3161
verifier checks against the test CA. It can be stopped and started again on the same port, so a test can take
the authority away and bring it back.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY_BYTES = 64 * 1024
POLICY = "1.3.6.1.4.1.99999.1.1"  # a private OID: this authority vouches for nothing outside tests and demos


class TimestampAuthority:
    """`with TimestampAuthority(name) as tsa:` serves tsa.url; tsa.root_pem is the CA to trust. Given a folder,
    it keeps its certificates there and reuses them on the next start."""

    def __init__(self, name: str = "cchc-watch test TSA", port: int = 0, folder: Path | None = None) -> None:
        if shutil.which("openssl") is None:
            raise RuntimeError("the test TSA needs the openssl command: sudo apt-get install -y openssl")
        self.name = name
        self.port = port
        self._own_folder = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="cchc-tsa-")) if folder is None else folder
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # openssl rewrites its serial file on every reply
        self.replies = 0
        self.pinned_file: Path = self.folder / "ca.pem"  # where a config pins this authority's root
        if not all((self.folder / f).exists() for f in ("ca.pem", "tsa.pem", "tsa.key", "serial")):
            self._make_certificates()  # a folder that holds an authority keeps it: its old tokens still verify
        self._write_config()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def root_pem(self) -> bytes:
        return (self.folder / "ca.pem").read_bytes()

    @property
    def tsa_pem(self) -> bytes:
        return (self.folder / "tsa.pem").read_bytes()

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> TimestampAuthority:
        if self._server is not None:
            return self
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                authority._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="cchc-sim-tsa", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def close(self) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TimestampAuthority:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- serving ------------------------------------------------------------------------------------------

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if request.headers.get("Content-Type", "").split(";")[0].strip() != QUERY_TYPE:
            request.send_error(415, f"expected {QUERY_TYPE}")
            return
        if not 0 < length <= MAX_QUERY_BYTES:
            request.send_error(413 if length else 411)
            return
        query = request.rfile.read(length)
        with self._lock, tempfile.TemporaryDirectory(dir=self.folder) as work:
            query_file, reply_file = Path(work) / "q.tsq", Path(work) / "r.tsr"
            query_file.write_bytes(query)
            done = subprocess.run(
                ["openssl", "ts", "-reply", "-queryfile", str(query_file), "-config", str(self.folder / "ts.cnf"),
                 "-out", str(reply_file)],
                capture_output=True, timeout=30, check=False,
            )  # fmt: skip
            if done.returncode != 0 or not reply_file.exists():
                request.send_error(500, done.stderr.decode("utf-8", "replace")[:200])
                return
            reply = reply_file.read_bytes()
            self.replies += 1
        request.send_response(200)
        request.send_header("Content-Type", REPLY_TYPE)
        request.send_header("Content-Length", str(len(reply)))
        request.end_headers()
        request.wfile.write(reply)

    # --- certificates -------------------------------------------------------------------------------------

    def _make_certificates(self) -> None:
        now = datetime.now(UTC) - timedelta(minutes=5)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} root CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        tsa_key = ec.generate_private_key(ec.SECP256R1())
        tsa = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)]))
            .issuer_name(ca_name)
            .public_key(tsa_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=1825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            # RFC 3161 §2.3: the time-stamping purpose, and only it, marked critical.
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (self.folder / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
        key_file = self.folder / "tsa.key"
        key_file.write_bytes(
            tsa_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_file.chmod(0o600)
        (self.folder / "serial").write_text("01\n")

    def _write_config(self) -> None:
        key_file = self.folder / "tsa.key"
        # No `certs =` line: openssl would add the CA in an order strict DER parsers refuse; the reply carries the
        # TSA's own certificate (the request asks for it) and verifiers are given the root.
        (self.folder / "ts.cnf").write_text(
            "[tsa]\ndefault_tsa = tsa_config\n\n[tsa_config]\n"
            f"serial = {self.folder / 'serial'}\ncrypto_device = builtin\n"
            f"signer_cert = {self.folder / 'tsa.pem'}\nsigner_key = {key_file}\nsigner_digest = sha256\n"
            f"default_policy = {POLICY}\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n"
            "ordering = no\ntsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
        )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
