"""The connection that sends the outbox's messages (smtplib; no Flask, no ORM); its settings are
edms.config.SmtpSettings."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from edms.config import SmtpSettings


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
