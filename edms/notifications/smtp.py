"""SMTP settings and the connection that sends the outbox's messages (smtplib; no Flask, no ORM)."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

# How the connection to the relay is protected: STARTTLS on the submission port, implicit TLS
# (SMTPS, usually port 465), or none (a relay on the same host or network only).
SECURITY_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class SmtpSettings:
    """The `[smtp]` section of the configuration; an empty host means e-mail is not configured."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = "edms@localhost"
    # PEM file of the CA that issued the relay's certificate (empty: the system's trust store).
    ca_file: str = ""
    timeout_seconds: float = 10.0
    # A failed notification is tried again by later deliveries until it has had this many attempts.
    max_attempts: int = 5

    @property
    def configured(self) -> bool:
        return bool(self.host.strip())

    def problems(self) -> list[str]:
        """What is wrong with these settings, in the words of the configuration file."""
        found = []
        if self.security not in SECURITY_MODES:
            found.append(f"smtp.security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
        if self.configured and not self.sender.strip():
            found.append("smtp.sender: the From address is required when smtp.host is set")
        if self.username and self.security == "none":
            found.append("smtp.username is set but smtp.security is none: the password would cross the network in clear")
        if self.max_attempts < 1:
            found.append("smtp.max_attempts must be at least 1")
        return found


class ConnectionFailed(Exception):
    """No connection to the relay: unreachable, or it refused the connection, TLS or sign-in."""


class SmtpConnection:
    """One connection to the relay, opened on the first message and again after a broken one."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        """Send one message; `ConnectionFailed` if no connection could be made, smtplib's errors otherwise."""
        if self._client is None:
            self._client = self._connect()
        try:
            self._client.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self._client = None  # the next message opens a new connection
            raise

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        client: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self._tls())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
                if s.security == "starttls":
                    client.starttls(context=self._tls())
            if s.username:
                client.login(s.username, s.password)
        except (smtplib.SMTPException, OSError) as exc:
            if client is not None:
                client.close()
            raise ConnectionFailed(describe_error(exc)) from exc
        return client

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file or None)


def describe_error(exc: BaseException) -> str:
    """`ConnectionRefusedError: [Errno 111] Connection refused`: the kind of error and its text."""
    return f"{type(exc).__name__}: {exc}"[:1000]
