"""The baseline twostep is compared with: a login that sends its code email inside the request.

That is how a django-otp-style portal does it (``send_mail`` in the view, a new SMTP
connection per message, on sync gunicorn workers): the same email, built by the same code,
sent to the same sink, behind the same provider latency. It keeps the code's digest in Redis
as twostep does, and nothing else. Served by ``gunicorn --workers 4 --worker-class sync
bench.baseline_app:app``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import smtplib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from shared.keys import AccountKeys
from shared.settings import load_settings
from workers.message import build_message, make_message_id
from workers.render import Renderer

settings = load_settings()
_redis = redis.Redis.from_url(settings.redis_url)
_renderer = Renderer(settings.templates_dir, settings.product_name)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``POST /v1/logins`` with ``{"account_id": ...}``: a code, its digest kept, its email sent."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    account = json.loads(environ["wsgi.input"].read(length))["account_id"]
    email, locale = (
        value.decode() if isinstance(value, bytes) else str(value or "")
        for value in _redis.hmget(AccountKeys.of(account).profile, ["email", "locale"])
    )
    code = f"{secrets.randbelow(10**6):06d}"
    challenge = secrets.token_urlsafe(16)
    ttl = settings.code_ttl_seconds
    _redis.set(f"baseline:{challenge}", hashlib.sha256(code.encode()).hexdigest(), ex=ttl)
    now = datetime.now(UTC)
    rendered = _renderer.render(
        "code",
        locale,
        {
            "code": code,
            "expires_at": now + timedelta(seconds=ttl),
            "ttl_minutes": ttl // 60,
            "client_ip": "203.0.113.9",
            "client_label": "Firefox on Linux",
            "to": email,
        },
    )
    mail = build_message(
        rendered,
        mail_from=settings.mail_from,
        to=email,
        message_id=make_message_id(challenge, settings.mail_from),
        now=now,
    )
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as connection:
        connection.sendmail(mail.sender, [mail.recipient], mail.data)
    body = json.dumps({"challenge_id": challenge}).encode()
    start_response(
        "201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
