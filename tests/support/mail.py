"""A real SMTP server on the loopback interface (aiosmtpd), keeping what it receives for the test to read."""
from __future__ import annotations

import datetime
import email
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edms.config import SmtpSettings

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on (for a relay that is down, or one about to start)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Mailbox:
    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.received: list[Received] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 Message accepted for delivery"


class MailServer:
    """`with MailServer() as relay:` listens on 127.0.0.1; `relay.received` holds each message it accepted.

    `tls_dir` turns on STARTTLS (required before MAIL) with a certificate for 127.0.0.1 written there;
    `login` requires SMTP AUTH with that (user, password); `refuse` answers 550 to those recipients.
    """

    def __init__(self, port: int | None = None, *, tls_dir: Path | None = None, login: tuple[str, str] | None = None,
                 refuse: set[str] = frozenset()) -> None:
        self.port = port or free_port()
        self.mailbox = _Mailbox(set(refuse))
        self.ca_file = ""
        options: dict = {}
        if tls_dir is not None:
            self.ca_file, context = _certificate(tls_dir)
            options.update(tls_context=context, require_starttls=True)
        if login is not None:
            options.update(authenticator=_Authenticator(*login), auth_required=True, auth_require_tls=tls_dir is not None)
        self._controller = Controller(self.mailbox, hostname=LOOPBACK, port=self.port, server_hostname="relay.test",
                                      **options)

    @property
    def received(self) -> list[Received]:
        return self.mailbox.received

    def settings(self, **changes) -> SmtpSettings:
        """The `[smtp]` settings that reach this server."""
        values = dict(host=LOOPBACK, port=self.port, security="starttls" if self.ca_file else "none",
                      ca_file=self.ca_file, sender="edms@kansai-rct.example", timeout_seconds=5.0)
        return SmtpSettings(**{**values, **changes})

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._controller.stop()


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.expected = LoginPassword(user.encode(), password.encode())

    def __call__(self, server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data == self.expected)


def _certificate(directory: Path) -> tuple[str, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's TLS context and the PEM file clients trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "relay-cert.pem", directory / "relay-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return str(cert_file), context
