"""The SMTP sender against a real SMTP server on loopback: delivery, reuse, failures, reconnects."""

from __future__ import annotations

import smtplib
import socket
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared.errors import PermanentSmtpError, TransientSmtpError
from shared.settings import SmtpSecurity
from tests.smtpserver import MailCatcher
from workers.message import OutgoingMail, build_message, make_message_id
from workers.render import RenderedEmail
from workers.smtp import SmtpSender

pytestmark = pytest.mark.integration

FROM = "twostep <no-reply@example.org>"


@pytest.fixture(params=[False, True], ids=["plain", "pipelining"])
def catcher(request: pytest.FixtureRequest) -> Iterator[MailCatcher]:
    """Each test against a server that offers PIPELINING (the sender then sends MAIL, RCPT
    and DATA in one write) and one that does not (smtplib's own exchange)."""
    with MailCatcher(pipelining=request.param) as server:
        yield server


def make_sender(server: MailCatcher, **overrides: object) -> SmtpSender:
    options: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": SmtpSecurity.NONE,
        "username": None,
        "password": None,
        "timeout_seconds": 5.0,
        "local_hostname": "worker.test",
    }
    options.update(overrides)
    return SmtpSender(**options)  # type: ignore[arg-type]


@pytest.fixture
def sender(catcher: MailCatcher) -> Iterator[SmtpSender]:
    smtp = make_sender(catcher)
    yield smtp
    smtp.close()


def mail(n: int, to: str = "ann@example.org") -> OutgoingMail:
    rendered = RenderedEmail(
        subject=f"Message {n}",
        text=f"Votre code : {n:06d}\n",
        html=f"<p>Votre code&nbsp;: <b>{n:06d}</b></p>\n",
    )
    return build_message(
        rendered,
        mail_from=FROM,
        to=to,
        message_id=make_message_id(f"challenge.{n}", FROM),
        now=datetime.now(UTC),
    )


def test_sent_messages_arrive_intact(catcher: MailCatcher, sender: SmtpSender) -> None:
    sender.send(mail(1))

    [received] = catcher.wait_for(1)
    assert received["Subject"] == "Message 1"
    assert received["To"] == "ann@example.org"
    assert received["Message-ID"] == make_message_id("challenge.1", FROM)
    text = received.get_body(preferencelist=("plain",))
    assert text is not None
    assert "000001" in text.get_content()


def test_one_connection_serves_many_sends(catcher: MailCatcher, sender: SmtpSender) -> None:
    for n in range(5):
        sender.send(mail(n))

    assert len(catcher.wait_for(5)) == 5
    assert catcher.connections == 1


def test_4xx_reply_is_transient_and_the_connection_is_kept(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    sender.send(mail(1))
    catcher.fail_next(451, text="4.3.0 try again later")

    with pytest.raises(TransientSmtpError, match="451") as raised:
        sender.send(mail(2))
    sender.send(mail(3))

    assert "4.3.0 try again later" in str(raised.value)
    assert "000002" not in str(raised.value)
    assert [m["Subject"] for m in catcher.wait_for(2)] == ["Message 1", "Message 3"]
    assert catcher.refused == 1
    assert catcher.connections == 1


def test_5xx_reply_is_permanent(catcher: MailCatcher, sender: SmtpSender) -> None:
    catcher.fail_next(550, text="5.1.1 mailbox unavailable")

    with pytest.raises(PermanentSmtpError, match="550"):
        sender.send(mail(1))

    assert catcher.messages == []
    assert catcher.refused == 1


def test_random_failures_are_reproducible(catcher: MailCatcher, sender: SmtpSender) -> None:
    catcher.fail_randomly(451, probability=0.5, seed=7)
    outcomes = []
    for n in range(20):
        try:
            sender.send(mail(n))
            outcomes.append(True)
        except TransientSmtpError:
            outcomes.append(False)

    assert 0 < outcomes.count(False) < 20
    assert catcher.refused == outcomes.count(False)
    assert len(catcher.messages) == outcomes.count(True)


def test_server_restart_between_sends_is_transparent(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    sender.send(mail(1))
    catcher.stop()
    catcher.start()

    sender.send(mail(2))

    assert [m["Subject"] for m in catcher.wait_for(2)] == ["Message 1", "Message 2"]
    assert catcher.connections == 2


def test_connection_cut_during_data_is_retried_once_on_a_new_connection(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    sender.send(mail(1))
    catcher.drop_connection_next()

    sender.send(mail(2))

    assert [m["Subject"] for m in catcher.wait_for(2)] == ["Message 1", "Message 2"]
    assert catcher.connections == 2


def test_connection_cut_on_a_fresh_connection_is_transient(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    catcher.drop_connection_next()

    with pytest.raises(TransientSmtpError):
        sender.send(mail(1))
    sender.send(mail(2))

    assert [m["Subject"] for m in catcher.wait_for(1)] == ["Message 2"]


def test_two_cuts_in_a_row_give_up_after_one_retry(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    sender.send(mail(1))
    catcher.drop_connection_next()
    catcher.drop_connection_next()

    with pytest.raises(TransientSmtpError):
        sender.send(mail(2))

    assert catcher.connections == 2


def test_server_down_is_transient_and_quick() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = SmtpSender(
        host="127.0.0.1",
        port=port,
        security=SmtpSecurity.NONE,
        username=None,
        password=None,
        timeout_seconds=5.0,
        local_hostname="worker.test",
    )

    started = time.monotonic()
    with pytest.raises(TransientSmtpError, match="connection error"):
        smtp.send(mail(1))

    assert time.monotonic() - started < 1.0


def test_server_gone_for_good_after_a_send_is_transient(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    sender.send(mail(1))
    catcher.stop()

    with pytest.raises(TransientSmtpError):
        sender.send(mail(2))


def test_login_with_the_right_password_sends() -> None:
    with MailCatcher(auth=("worker", "s3cret-pass")) as server:
        smtp = make_sender(server, username="worker", password="s3cret-pass")
        smtp.send(mail(1))
        smtp.close()

        assert len(server.wait_for(1)) == 1


def test_login_refused_is_permanent_and_does_not_echo_the_password() -> None:
    with MailCatcher(auth=("worker", "s3cret-pass")) as server:
        smtp = make_sender(server, username="worker", password="wrong-pass")

        with pytest.raises(PermanentSmtpError, match="535") as raised:
            smtp.send(mail(1))

        assert "wrong-pass" not in str(raised.value)
        assert server.messages == []


def test_close_is_polite_and_the_sender_reopens_afterwards(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    sender.send(mail(1))
    sender.close()
    sender.close()
    sender.send(mail(2))

    assert len(catcher.wait_for(2)) == 2
    assert catcher.connections == 2


def test_wait_for_reports_what_arrived_on_timeout(catcher: MailCatcher, sender: SmtpSender) -> None:
    sender.send(mail(1))

    with pytest.raises(AssertionError, match="Message 1"):
        catcher.wait_for(2, timeout=0.2)


@pytest.mark.parametrize(
    ("command", "code", "text", "error"),
    [
        ("RCPT", 550, "no such user", PermanentSmtpError),
        ("MAIL", 451, "greylisted", TransientSmtpError),
    ],
    ids=["recipient-refused", "sender-refused"],
)
def test_a_refused_envelope_is_sorted_by_code_and_the_connection_serves_the_next_send(
    catcher: MailCatcher,
    sender: SmtpSender,
    command: str,
    code: int,
    text: str,
    error: type[Exception],
) -> None:
    catcher.refuse_next(command, code, text)
    with pytest.raises(error, match=f"SMTP {code} {text}"):
        sender.send(mail(1))
    sender.send(mail(2))
    [message] = catcher.wait_for(1)
    assert message["Subject"] == "Message 2"
    assert catcher.connections == 1


def test_lines_starting_with_a_dot_arrive_unchanged(
    catcher: MailCatcher, sender: SmtpSender
) -> None:
    body = b"Subject: dots\r\nTo: ann@example.org\r\n\r\n.\r\n..two\r\n.end"
    sender.send(OutgoingMail("no-reply@example.org", "ann@example.org", body))
    [message] = catcher.wait_for(1)
    assert message.get_payload().splitlines() == [".", "..two", ".end"]


def test_a_server_offering_pipelining_gets_mail_rcpt_and_data_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes: list[bytes | str] = []
    original = smtplib.SMTP.send

    def recorded(self: smtplib.SMTP, data: bytes | str) -> None:
        writes.append(data)
        original(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", recorded)
    with MailCatcher(pipelining=True) as server:
        sender = make_sender(server)
        sender.send(mail(1))
        sender.close()
        assert len(server.wait_for(1)) == 1
    envelope = [w for w in writes if isinstance(w, str) and w.startswith("MAIL FROM:")]
    assert len(envelope) == 1
    assert envelope[0].endswith("RCPT TO:<ann@example.org>\r\nDATA\r\n")


def _everything_said_about(error: BaseException) -> str:
    """The error as a log line with its traceback would show it, before any masking."""
    return "".join(traceback.format_exception(error))


@pytest.mark.parametrize(
    ("to", "command"),
    [
        ("jörg@exämple.com", "RCPT"),
        ("jörg.müller@example.com", "RCPT"),
        ("joerg.mueller@example.com", "RCPT"),
        ("joerg.mueller@example.com", "DATA"),
    ],
)
def test_a_reply_that_echoes_the_recipient_leaves_the_sender_masked(
    catcher: MailCatcher, sender: SmtpSender, to: str, command: str
) -> None:
    reply = f"5.1.1 <{to}>: Recipient address rejected"
    if command == "DATA":
        catcher.fail_next(550, text=reply)
    else:
        catcher.refuse_next(command, 550, reply)

    with pytest.raises(PermanentSmtpError) as raised:
        sender.send(mail(1, to=to))

    local, _, domain = to.partition("@")
    said = _everything_said_about(raised.value)
    assert f"SMTP 550 5.1.1 <{local[0]}**@{domain}>: Recipient address rejected" in str(
        raised.value
    )
    assert local not in said
    assert local.encode("utf-8").decode("ascii", "backslashreplace") not in said
    assert local.encode("utf-8").hex() not in said
