"""A development mail catcher: an aiosmtpd SMTP server and a web page to read what it caught."""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import html
import itertools
import json
import re
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

SMTP_HOST = "127.0.0.1"
MAX_MESSAGES = 500
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
REFRESH_SECONDS = 3

# The page's own markup is static; the email's HTML is shown only inside a sandboxed
# srcdoc iframe, which inherits this policy too: no scripts, no remote images (no tracking
# pixels), inline styles allowed so the email looks as designed.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STYLE = (
    "body{font:15px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem;"
    "border-bottom:1px solid #ddd}pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}"
    "iframe{width:100%;height:32rem;border:1px solid #ddd}a{color:#0645ad}"
)


@dataclass(frozen=True)
class Mail:
    """One caught message, parsed once when it arrives."""

    id: str
    received: datetime
    sender: str
    to: str
    subject: str
    text: str
    html: str
    raw: bytes

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "date": self.received.isoformat(),
            "text": self.text,
            "html": self.html,
        }


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    if part is None:
        return ""
    try:
        # SMTP delivers CRLF line ends; readers (and regexes in tests) expect plain newlines.
        return str(part.get_content()).replace("\r\n", "\n")
    except (LookupError, ValueError):
        # An unknown charset or a broken encoding: show what is there rather than nothing.
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        return text.replace("\r\n", "\n")


def parse_mail(mail_id: str, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> Mail:
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return Mail(
        id=mail_id,
        received=datetime.now(UTC),
        sender=str(message["From"] or mail_from),
        to=str(message["To"] or ", ".join(rcpt_tos)),
        subject=str(message["Subject"] or ""),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        raw=raw,
    )


class Mailbox:
    """The newest ``capacity`` messages, shared by the SMTP thread and the web threads."""

    def __init__(self, capacity: int = MAX_MESSAGES) -> None:
        self._lock = threading.Lock()
        self._mails: deque[Mail] = deque(maxlen=capacity)
        self._ids = itertools.count(1)

    def add(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> Mail:
        with self._lock:
            mail = parse_mail(str(next(self._ids)), raw, mail_from, rcpt_tos)
            self._mails.append(mail)
        return mail

    def newest_first(self) -> list[Mail]:
        with self._lock:
            return list(reversed(self._mails))

    def get(self, mail_id: str) -> Mail | None:
        with self._lock:
            return next((mail for mail in self._mails if mail.id == mail_id), None)

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()


class _SmtpHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        mail = self._mailbox.add(bytes(raw), str(envelope.mail_from), list(envelope.rcpt_tos))
        print(f"caught mail {mail.id} to {mail.to}: {mail.subject}", flush=True)
        return "250 Message accepted"


def _page(title: str, body: str, *, refresh: bool = False) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def render_list(mails: list[Mail], smtp_port: int) -> str:
    rows = "".join(
        f"<tr><td>{mail.received.astimezone():%H:%M:%S}</td><td>{html.escape(mail.to)}</td>"
        f'<td><a href="/messages/{mail.id}">{html.escape(mail.subject or "(no subject)")}</a>'
        "</td></tr>"
        for mail in mails
    )
    table = (
        f"<table><tr><th>Time</th><th>To</th><th>Subject</th></tr>{rows}</table>"
        if mails
        else f"<p>No mail yet. Whatever is sent to SMTP 127.0.0.1:{smtp_port} shows up here.</p>"
    )
    clear = '<form method="post" action="/clear"><button>Delete all</button></form>'
    return _page(
        "Mailbox",
        f"<h1>Mailbox</h1><p>{len(mails)} message(s), newest first.</p>{clear}{table}",
        refresh=True,
    )


def render_mail(mail: Mail) -> str:
    headers = "".join(
        f"<tr><th>{name}</th><td>{html.escape(value)}</td></tr>"
        for name, value in (
            ("From", mail.sender),
            ("To", mail.to),
            ("Subject", mail.subject),
            ("Received", f"{mail.received.astimezone():%Y-%m-%d %H:%M:%S}"),
        )
    )
    parts = f"<h2>Text</h2><pre>{html.escape(mail.text) or '(no text part)'}</pre>"
    if mail.html:
        # An empty sandbox attribute: no scripts, no forms, no same-origin access.
        parts += f'<h2>HTML</h2><iframe sandbox srcdoc="{html.escape(mail.html)}"></iframe>'
    else:
        parts += "<h2>HTML</h2><p>(no HTML part)</p>"
    links = f'<p><a href="/">All messages</a> · <a href="/messages/{mail.id}/raw">Source</a></p>'
    title = mail.subject or "(no subject)"
    return _page(title, f"{links}<h1>{html.escape(title)}</h1><table>{headers}</table>{parts}")


class _WebHandler(BaseHTTPRequestHandler):
    server_version = "devstack-mailbox"

    def __init__(self, *args: Any, mailbox: Mailbox, smtp_port: int, **kwargs: Any) -> None:
        # Set before the base class, whose constructor handles the request.
        self.mailbox = mailbox
        self.smtp_port = smtp_port
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            self._send(render_list(self.mailbox.newest_first(), self.smtp_port), "text/html")
        elif path == "/api/messages":
            self._json([mail.as_json() for mail in self.mailbox.newest_first()])
        elif found := re.fullmatch(r"/(api/messages|messages)/(\d+)(/raw)?", path):
            mail = self.mailbox.get(found[2])
            if mail is None:
                self._send("no such message\n", "text/plain", HTTPStatus.NOT_FOUND)
            elif found[3]:
                self._send(mail.raw.decode("utf-8", "replace"), "text/plain")
            elif found[1] == "api/messages":
                self._json(mail.as_json())
            else:
                self._send(render_mail(mail), "text/html")
        else:
            self._send("not found\n", "text/plain", HTTPStatus.NOT_FOUND)

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path != "/api/messages":
            self._send("not found\n", "text/plain", HTTPStatus.NOT_FOUND)
            return
        self.mailbox.clear()
        self.send_response(HTTPStatus.NO_CONTENT)
        self.end_headers()

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/clear":
            self._send("not found\n", "text/plain", HTTPStatus.NOT_FOUND)
            return
        self.mailbox.clear()
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", "/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _json(self, value: object) -> None:
        self._send(json.dumps(value), "application/json")

    def _send(self, body: str, media_type: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{media_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if media_type == "text/html":
            self.send_header("Content-Security-Policy", _CSP)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The list page refreshes itself every few seconds: logging each request would
        # bury the other processes' output in the launcher's terminal.
        return


class MailCatcher:
    """The SMTP server and the web page over one ``Mailbox``; ``start`` returns once both listen."""

    def __init__(
        self, mailbox: Mailbox, *, smtp_port: int, http_port: int, http_host: str = "127.0.0.1"
    ) -> None:
        self.mailbox = mailbox
        self.smtp_port = smtp_port
        self._web = ThreadingHTTPServer(
            (http_host, http_port), partial(_WebHandler, mailbox=mailbox, smtp_port=smtp_port)
        )
        self._web.daemon_threads = True
        self.http_port = int(self._web.server_address[1])
        self._smtp = Controller(
            _SmtpHandler(mailbox),
            hostname=SMTP_HOST,
            port=smtp_port,
            data_size_limit=MAX_MESSAGE_BYTES,
        )
        self._web_thread = threading.Thread(
            target=self._web.serve_forever, name="mailbox-web", daemon=True
        )

    def start(self) -> MailCatcher:
        try:
            self._smtp.start()
        except BaseException:
            self._web.server_close()
            raise
        self._web_thread.start()
        return self

    def stop(self) -> None:
        self._web.shutdown()
        self._web.server_close()
        self._smtp.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.mailbox", description="Catch mail over SMTP; read it in a browser."
    )
    parser.add_argument("--smtp-port", type=int, default=1025, help="SMTP port on 127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8025, help="port of the web page")
    parser.add_argument("--host", default="127.0.0.1", help="address of the web page")
    args = parser.parse_args(argv)
    try:
        catcher = MailCatcher(
            Mailbox(), smtp_port=args.smtp_port, http_port=args.http_port, http_host=args.host
        ).start()
    except OSError as exc:
        print(f"mailbox cannot start: {exc}", flush=True)
        return 1
    print(
        f"SMTP on {SMTP_HOST}:{catcher.smtp_port}, mail to read on"
        f" http://{args.host}:{catcher.http_port}",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
    return 0


if __name__ == "__main__":
    # The launcher stops its children with SIGTERM: make it a clean stop like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
