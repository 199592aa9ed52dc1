"""The SMTP sender: one kept connection per worker, failures sorted transient or permanent."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl

from shared.errors import MailError, PermanentSmtpError, TransientSmtpError
from shared.logs import redact
from shared.settings import SmtpSecurity
from workers.message import OutgoingMail

_MAX_REPLY_CHARS = 200
_CLEAN_REFUSALS = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    # Servers echo the recipient ("550 5.1.1 <jörg@exämple.com>: ..."), and this text ends up
    # in log lines and retry reasons: masked here, before it leaves the sender.
    return redact(" ".join(text.split()))[:_MAX_REPLY_CHARS]


def _by_code(code: int, reply: bytes | str, where: str) -> MailError:
    message = f"{where}: SMTP {code} {_reply_text(reply)}".rstrip()
    if 400 <= code <= 499:
        return TransientSmtpError(message)
    if 500 <= code <= 599:
        return PermanentSmtpError(message)
    # A reply outside 4xx/5xx where an error was expected: the server is confused, retry later.
    return TransientSmtpError(message)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _sendmail_pipelined(
    connection: smtplib.SMTP, mail: OutgoingMail
) -> dict[str, tuple[int, bytes]]:
    """``smtplib.SMTP.sendmail`` for one recipient with PIPELINING (RFC 2920): MAIL, RCPT and
    DATA go in one write and their three replies are read after it, then the message and its
    reply: two round trips instead of four. Refusals raise what ``sendmail`` raises, and the
    connection is left as it leaves it (RSET after a refusal, closed after a 421)."""
    size = f" SIZE={len(mail.data)}" if connection.has_extn("size") else ""
    connection.send(
        f"MAIL FROM:{smtplib.quoteaddr(mail.sender)}{size}\r\n"
        f"RCPT TO:{smtplib.quoteaddr(mail.recipient)}\r\nDATA\r\n"
    )
    (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = (
        connection.getreply(),
        connection.getreply(),
        connection.getreply(),
    )
    accepted = mail_code == 250 and rcpt_code in (250, 251)
    if data_code == 354:
        if accepted:
            body = _LEADING_DOT.sub(b"..", mail.data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            connection.send(body + b".\r\n")
            code, reply = connection.getreply()
            if code == 250:
                return {}
            data_code, data_reply = code, reply
        else:  # DATA taken after a refusal: end that empty message
            connection.send(b".\r\n")
            connection.getreply()
    refusal: smtplib.SMTPException
    if mail_code != 250:
        code, refusal = mail_code, smtplib.SMTPSenderRefused(mail_code, mail_reply, mail.sender)
    elif not accepted:
        code = rcpt_code
        refusal = smtplib.SMTPRecipientsRefused({mail.recipient: (rcpt_code, rcpt_reply)})
    else:
        code, refusal = data_code, smtplib.SMTPDataError(data_code, data_reply)
    if code == 421:
        connection.close()
    else:
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            connection.rset()
    raise refusal


class SmtpSender:
    """Sends messages over one SMTP connection, opened lazily and kept between sends.

    Not thread-safe: a worker process owns exactly one sender and sends from one
    thread (Celery prefork). Use one sender per thread if that ever changes.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: SmtpSecurity,
        username: str | None,
        password: str | None,
        timeout_seconds: float,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._security = security
        self._username = username
        self._password = password
        self._timeout_seconds = timeout_seconds
        # smtplib's own default context verifies nothing; ours checks the certificate and name.
        self._ssl_context = ssl_context or ssl.create_default_context()
        # None lets smtplib use socket.getfqdn(), which can stall on a reverse DNS lookup.
        self._local_hostname = local_hostname
        self._connection: smtplib.SMTP | None = None

    @property
    def _where(self) -> str:
        return f"{self._host}:{self._port}"

    def send(self, mail: OutgoingMail) -> None:
        """Deliver ``mail`` or raise ``TransientSmtpError`` / ``PermanentSmtpError``."""
        for attempt in (1, 2):
            reused = self._connection is not None
            try:
                connection = self._connection or self._connect()
                self._connection = connection
                options = ["SMTPUTF8"] if mail.smtputf8 else []
                connection.ehlo_or_helo_if_needed()
                if not options and connection.has_extn("pipelining"):
                    refused = _sendmail_pipelined(connection, mail)
                else:
                    refused = connection.sendmail(
                        mail.sender, [mail.recipient], mail.data, mail_options=options
                    )
            except OSError as exc:  # smtplib.SMTPException is an OSError too
                error, dead = self._classify(exc)
                if dead or not isinstance(exc, _CLEAN_REFUSALS):
                    # smtplib sent RSET after a plain refusal; after anything else the
                    # connection's state is unknown, so it is not trusted again.
                    self._drop()
                if dead and reused and attempt == 1:
                    # A kept connection the server closed while idle: expected, not a failure.
                    continue
                if isinstance(exc, smtplib.SMTPException):
                    # smtplib's exception holds the reply unmasked (as bytes, which a log line
                    # shows escaped); ``error`` says what it said, masked.
                    raise error from None
                raise error from exc
            except BaseException:
                self._drop()
                raise
            if refused:
                code, reply = next(iter(refused.values()))
                raise _by_code(code, reply, self._where)
            return

    def close(self) -> None:
        """Say QUIT if the connection is still there; never raises."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    def _connect(self) -> smtplib.SMTP:
        connection: smtplib.SMTP
        if self._security is SmtpSecurity.TLS:
            connection = smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout_seconds,
                context=self._ssl_context,
            )
        else:
            connection = smtplib.SMTP(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout_seconds,
            )
        try:
            if self._security is SmtpSecurity.STARTTLS:
                connection.starttls(context=self._ssl_context)
            if self._username is not None:
                connection.login(self._username, self._password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _classify(self, exc: OSError) -> tuple[MailError, bool]:
        """The error to raise, and whether it says the connection itself is gone."""
        where = self._where
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, reply = next(iter(exc.recipients.values()), (0, b"recipient refused"))
            return _by_code(code, reply, where), False
        if isinstance(exc, smtplib.SMTPResponseException):
            # 421: the server is closing the channel (often an idle timeout).
            return _by_code(exc.smtp_code, exc.smtp_error, where), exc.smtp_code == 421
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return TransientSmtpError(f"{where}: connection closed by the server"), True
        if isinstance(exc, smtplib.SMTPException):
            # Missing STARTTLS or AUTH support and the like: configuration, not luck.
            return PermanentSmtpError(redact(f"{where}: {type(exc).__name__}: {exc}")), False
        if isinstance(exc, TimeoutError):
            # Not retried at once: the server may be slow rather than gone.
            return TransientSmtpError(f"{where}: timed out"), False
        detail = exc.strerror or getattr(exc, "reason", None) or type(exc).__name__
        return TransientSmtpError(f"{where}: connection error: {detail}"), True
