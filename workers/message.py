"""Turn a rendered email into the MIME message handed to the SMTP sender."""

from __future__ import annotations

import hashlib
import quopri
import re
import secrets
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr

from shared.errors import UnsafeHeader
from workers.render import RenderedEmail

_UNSAFE = re.compile(r"[\r\n\0]")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+$")


class _CachedHeaderRegistry(HeaderRegistry):
    """The stock registry builds a brand new class for every header it parses.

    That alone is about a fifth of the cost of building a message; the classes
    depend only on the header name, so they are made once per name.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


class _WirePolicy(EmailPolicy):
    """``email.policy.SMTP`` that writes short ASCII headers as they are.

    The stock policy re-parses and refolds every header on each serialization,
    which costs more than building the message. A header that is ASCII and fits
    on one line needs neither folding nor encoded words, so the result is the same.
    """

    def _fits(self, name: str, value: str) -> bool:
        limit = self.max_line_length or 998
        return (
            value.isascii()
            and len(name) + 2 + len(value) <= limit
            and "\n" not in value
            and "\r" not in value
        )

    def fold(self, name: str, value: str) -> str:
        text = str(value)
        if self._fits(name, text):
            return f"{name}: {text}{self.linesep}"
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        text = str(value)
        if self._fits(name, text):
            return f"{name}: {text}{self.linesep}".encode("ascii")
        return bytes(super().fold_binary(name, value))


# CRLF line ends, 78-column folding, 7-bit headers: what goes on the wire.
POLICY = _WirePolicy(linesep="\r\n", header_factory=_CachedHeaderRegistry())


def _check(name: str, value: str) -> str:
    if _UNSAFE.search(value):
        # The value may be attacker-supplied or carry a secret: name the header only.
        raise UnsafeHeader(f"the {name} header contains a line break or a NUL character")
    return value


def _text_part(body: str, subtype: str) -> MIMEPart:
    # Setting the headers and the encoded payload directly skips the content
    # manager's repeated header re-parsing; quoted-printable keeps the parts
    # 7-bit so no SMTP extension is needed, and stays readable in raw form.
    part = MIMEPart(policy=POLICY)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(quopri.encodestring(body.encode("utf-8")).decode("ascii"))
    return part


def build_message(
    rendered: RenderedEmail, *, mail_from: str, to: str, message_id: str, now: datetime
) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part preferred."""
    message = EmailMessage(policy=POLICY)
    message["From"] = _check("From", mail_from)
    message["To"] = _check("To", to)
    message["Subject"] = _check("Subject", rendered.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = _check("Message-ID", message_id)
    # RFC 3834: tells vacation responders and ticket systems not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message["MIME-Version"] = "1.0"
    # "=_" never occurs in quoted-printable text, so this boundary cannot collide
    # with the parts, and it is short enough to keep the header on one line.
    message["Content-Type"] = f'multipart/alternative; boundary="=_{secrets.token_hex(12)}"'
    message.set_payload([_text_part(rendered.text, "plain"), _text_part(rendered.html, "html")])
    return message


def make_message_id(key: str, mail_from: str) -> str:
    """A Message-ID that is the same for every attempt of one send, so a retry is a duplicate.

    The key (e.g. ``"<challenge id>.<send no>"``) is hashed: ids must not leak through
    mail headers, and the hash is always a valid id-left whatever the key holds.
    """
    _, at, domain = parseaddr(mail_from)[1].rpartition("@")
    domain = domain.strip().lower() if at else ""
    if domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
    if not _DOMAIN.fullmatch(domain):
        domain = "localhost"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<twostep.{digest}@{domain}>"
