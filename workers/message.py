"""Turn a rendered email into the bytes, and envelope, handed to the SMTP sender."""

from __future__ import annotations

import email
import email.policy
import hashlib
import quopri
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache

from shared.errors import UnsafeHeader
from workers.render import RenderedEmail

_UNSAFE = re.compile(r"[\r\n\0]")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+$")


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A message as it goes on the wire, with its envelope."""

    sender: str
    recipient: str
    data: bytes
    smtputf8: bool = False

    def as_message(self) -> EmailMessage:
        """The message as a receiving server parses it (for tests and logs of structure)."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def _check(name: str, value: str) -> str:
    if _UNSAFE.search(value):
        # The value may be attacker-supplied or carry a secret: name the header only.
        raise UnsafeHeader(f"the {name} header contains a line break or a NUL character")
    return value


@lru_cache(maxsize=16)
def _from(mail_from: str) -> tuple[str, str]:
    """(envelope sender, From header) of a configured ``Name <address>``, parsed once."""
    name, address = parseaddr(mail_from)
    return address, formataddr((name, address), charset="utf-8")


@lru_cache(maxsize=256)
def _subject(subject: str) -> str:
    # Subjects come from the templates, one per kind and language: encode each once.
    if subject.isascii() and len(subject) <= 900:
        return subject
    # RFC 2047 encoded words, folded: French and Spanish subjects are not ASCII.
    return Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")


def _part(body: str, subtype: str) -> str:
    # Quoted-printable keeps the message 7-bit (no SMTP extension needed) and readable raw.
    encoded = quopri.encodestring(body.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{encoded}"
    )


def build_message(
    rendered: RenderedEmail, *, mail_from: str, to: str, message_id: str, now: datetime
) -> OutgoingMail:
    """A multipart/alternative message (text first, HTML preferred), written straight to
    bytes: the email package's header objects cost ten times the rendering."""
    _check("From", mail_from)
    _check("To", to)
    _check("Subject", rendered.subject)
    _check("Message-ID", message_id)
    sender, from_header = _from(mail_from)
    # "=_" never occurs in quoted-printable text, so the boundary cannot collide with a part.
    boundary = f"=_{secrets.token_hex(12)}"
    head = (
        f"From: {from_header}\r\n"
        f"To: {to}\r\n"
        f"Subject: {_subject(rendered.subject)}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {message_id}\r\n"
        # RFC 3834: tells vacation responders and ticket systems not to answer.
        "Auto-Submitted: auto-generated\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    )
    body = (
        f"--{boundary}\r\n{_part(rendered.text, 'plain')}\r\n"
        f"--{boundary}\r\n{_part(rendered.html, 'html')}\r\n"
        f"--{boundary}--\r\n"
    )
    # An address outside ASCII needs the server's SMTPUTF8; everything else is 7-bit.
    international = not to.isascii()
    data = (head + body).encode("utf-8" if international else "ascii")
    return OutgoingMail(sender=sender, recipient=to, data=data, smtputf8=international)


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
