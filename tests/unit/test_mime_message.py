"""Building the MIME message: headers, structure, header injection, deterministic ids."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from shared.errors import UnsafeHeader
from workers.message import OutgoingMail, build_message, make_message_id
from workers.render import RenderedEmail

NOW = datetime(2025, 11, 27, 22, 0, 5, tzinfo=UTC)
RENDERED = RenderedEmail(
    subject="Votre code de vérification",
    text="Votre code de vérification :\n\n482913\n\nValable 15 minutes.\n",
    html="<!DOCTYPE html><html><body><div>482913</div><p>Sécurité</p></body></html>\n",
)
FROM = "twostep <no-reply@mail.example.org>"
TO = "ann@example.org"
MESSAGE_ID = "<twostep.abc@mail.example.org>"


def build(**overrides: object) -> EmailMessage:
    """The built message, as a receiving mail server parses its bytes."""
    return build_mail(**overrides).as_message()


def build_mail(**overrides: object) -> OutgoingMail:
    kwargs: dict[str, object] = {
        "mail_from": FROM,
        "to": TO,
        "message_id": MESSAGE_ID,
        "now": NOW,
    }
    kwargs.update(overrides)
    rendered = kwargs.pop("rendered", RENDERED)
    return build_message(rendered, **kwargs)  # type: ignore[arg-type]


def content(part: EmailMessage) -> str:
    # The wire form has CRLF line ends; so does the content a receiver decodes.
    return str(part.get_content()).replace("\r\n", "\n")


def reparsed(message: EmailMessage) -> EmailMessage:
    """What a receiving mail server sees: the serialized bytes, parsed again."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_headers_are_present_and_correct() -> None:
    message = reparsed(build())

    assert message["From"] == FROM
    assert message["To"] == TO
    assert message["Subject"] == "Votre code de vérification"
    assert message["Date"] == "Thu, 27 Nov 2025 22:00:05 +0000"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == MESSAGE_ID
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["MIME-Version"] == "1.0"


def test_message_is_multipart_alternative_with_text_then_html() -> None:
    message = reparsed(build())

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    assert content(parts[0]) == RENDERED.text
    assert content(parts[1]) == RENDERED.html
    body = message.get_body(preferencelist=("html", "plain"))
    assert body is not None
    assert body.get_content_type() == "text/html"


def test_wire_form_is_seven_bit_with_crlf_line_ends() -> None:
    raw = build_mail().data

    assert raw.isascii()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_long_lines_survive_the_round_trip() -> None:
    long_html = "<p>" + "é" * 500 + "</p>\n"
    rendered = RenderedEmail(subject="s", text="t\n", html=long_html)
    raw = build_mail(rendered=rendered).data

    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    html_part = list(reparsed(build(rendered=rendered)).iter_parts())[1]
    assert content(html_part) == long_html


@pytest.mark.parametrize(
    ("field", "value", "header"),
    [
        ("to", "ann@example.org\nBcc: eve@example.org", "To"),
        ("to", "ann@example.org\r", "To"),
        ("mail_from", "x <a@b.org>\0", "From"),
        ("message_id", "<a@b>\r\nX-Evil: 1", "Message-ID"),
    ],
)
def test_header_with_line_break_or_nul_is_refused(field: str, value: str, header: str) -> None:
    with pytest.raises(UnsafeHeader, match=header) as raised:
        build(**{field: value})

    assert "eve@example.org" not in str(raised.value)
    assert "X-Evil" not in str(raised.value)


def test_subject_with_line_break_is_refused() -> None:
    rendered = RenderedEmail(subject="Hi\nBcc: eve@example.org", text="t", html="h")

    with pytest.raises(UnsafeHeader, match="Subject"):
        build(rendered=rendered)


def test_message_id_is_deterministic_and_uses_the_from_domain() -> None:
    first = make_message_id("ch_123.1", FROM)

    assert first == make_message_id("ch_123.1", FROM)
    assert first != make_message_id("ch_123.2", FROM)
    assert first.startswith("<")
    assert first.endswith("@mail.example.org>")
    assert "ch_123" not in first


def test_message_id_survives_an_odd_from_address() -> None:
    assert make_message_id("k", "no address here").endswith("@localhost>")
    assert make_message_id("k", "x <a@[192.0.2.1]>").endswith("@localhost>")
    assert make_message_id("k", "a@Exämple.org").endswith("@xn--exmple-cua.org>")


def test_message_id_is_a_valid_header() -> None:
    message_id = make_message_id("ch_123.1", FROM)

    assert reparsed(build(message_id=message_id))["Message-ID"] == message_id


def test_long_non_ascii_subject_is_folded_and_encoded() -> None:
    subject = "La vérification en deux étapes a été désactivée sur votre compte, vérifiez-le"
    rendered = RenderedEmail(subject=subject, text="t\n", html="h\n")
    raw = build_mail(rendered=rendered).data

    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert build(rendered=rendered)["Subject"] == subject
