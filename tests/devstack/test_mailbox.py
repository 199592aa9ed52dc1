"""The mail catcher in process: what it serves, and how much it keeps."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest

from devstack.mailbox import Mailbox, MailCatcher
from tests.processes import free_port

pytestmark = pytest.mark.integration


def _mail(to: str, subject: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "twostep <no-reply@localhost>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Your verification code is:\n\n123456\n")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    catcher = MailCatcher(Mailbox(), smtp_port=free_port(), http_port=0).start()
    yield catcher
    catcher.stop()


def test_mailbox_serves_caught_mail_as_json_and_pages(catcher: MailCatcher) -> None:
    html = "<p>Code <b>123456</b></p><script>alert('x')</script>"
    with smtplib.SMTP("127.0.0.1", catcher.smtp_port) as smtp:
        smtp.send_message(_mail("ada@example.com", "Your verification code", html))
        smtp.send_message(_mail("bob@example.com", "Two-step verification is now on"))
    with httpx.Client(base_url=f"http://127.0.0.1:{catcher.http_port}") as web:
        listed = web.get("/api/messages").json()
        assert [m["subject"] for m in listed] == [
            "Two-step verification is now on",
            "Your verification code",
        ]
        code_mail = listed[1]
        assert code_mail["to"] == "ada@example.com"
        assert code_mail["text"] == "Your verification code is:\n\n123456\n"
        assert code_mail["html"].strip() == html
        assert set(code_mail) >= {"id", "to", "subject", "date", "text", "html"}

        page = web.get("/")
        assert "Your verification code" in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        one = web.get(f"/messages/{code_mail['id']}").text
        # The HTML part only ever appears escaped, inside a sandboxed iframe.
        assert "<iframe sandbox srcdoc=" in one
        assert "<script>" not in one
        assert "&lt;script&gt;" in one
        assert web.get(f"/api/messages/{code_mail['id']}").json() == code_mail
        assert web.get("/messages/999").status_code == 404

        assert web.delete("/api/messages").status_code == 204
        assert web.get("/api/messages").json() == []


def test_mailbox_keeps_only_the_newest_messages() -> None:
    mailbox = Mailbox(capacity=3)
    for number in range(5):
        mailbox.add(_mail("a@example.com", f"mail {number}").as_bytes(), "x@y", ["a@example.com"])
    assert [mail.subject for mail in mailbox.newest_first()] == ["mail 4", "mail 3", "mail 2"]
