"""The account-locked notice through a real worker and real SMTP, in the account's language."""

from __future__ import annotations

import asyncio
import calendar
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.integration.flow import OffsetClock, enrol, oathtool
from tests.smtpserver import MailCatcher, html_part, mails_to, text_part
from workers.render import local_datetime

pytestmark = pytest.mark.integration

SUBJECTS = {  # the product's name comes in the middle
    "en": ("Sign-in to your ", " account was locked"),
    "fr": ("La connexion à votre compte ", " a été bloquée"),
    "es": ("Se ha bloqueado el inicio de sesión en su cuenta de ", ""),
}
CHANGE_PASSWORD = {
    "en": "Change your password",
    "fr": "Changez votre mot de passe",
    "es": "Cambie su contraseña",
}


def is_lock_notice(subject: str, locale: str) -> bool:
    start, end = SUBJECTS[locale]
    return subject.startswith(start) and subject.endswith(end)


@pytest.mark.parametrize("locale", ["en", "fr", "es"])
async def test_the_lock_is_mailed_in_the_accounts_language_with_its_end(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, offset_clock: OffsetClock, locale: str
) -> None:
    address = f"locked-{locale}@example.com"
    account = f"u-locked-{locale}"
    await enrol(live_api, account, address, locale, mailbox)
    secret = (await live_api.post(f"/v1/accounts/{account}/totp")).json()["secret"]
    confirmed = await live_api.post(
        f"/v1/accounts/{account}/totp/confirm", json={"code": oathtool(secret, offset_clock())}
    )
    assert confirmed.status_code == 200
    now = offset_clock()
    taken = {oathtool(secret, now + offset) for offset in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in taken)
    login = await live_api.post("/v1/logins", json={"account_id": account, "method": "totp"})
    url = f"/v1/challenges/{login.json()['challenge_id']}/verify"
    # A wrong app code counts three failures: the fourth reaches the threshold of 10.
    for _ in range(3):
        response = await live_api.post(url, json={"code": wrong, "method": "totp"})
        assert response.json()["code"] == "invalid_code"
    locked = await live_api.post(url, json={"code": wrong, "method": "totp"})
    assert locked.json()["code"] == "account_locked"
    events = (await live_api.get(f"/v1/accounts/{account}/events?limit=20")).json()["items"]
    [lock] = [event for event in events if event["type"] == "account_locked"]

    deadline = time.monotonic() + 20
    while not [m for m in mails_to(mailbox, address) if is_lock_notice(m["Subject"], locale)]:
        assert time.monotonic() < deadline, [m["Subject"] for m in mails_to(mailbox, address)]
        await asyncio.sleep(0.05)
    [mail] = [m for m in mails_to(mailbox, address) if is_lock_notice(m["Subject"], locale)]
    assert f'lang="{locale}"' in html_part(mail)
    text = text_part(mail)
    assert CHANGE_PASSWORD[locale] in text
    locked_at = calendar.timegm(time.strptime(lock["occurred_at"], "%Y-%m-%dT%H:%M:%SZ"))
    until = datetime.fromtimestamp(locked_at + lock["details"]["seconds"], UTC)
    assert local_datetime(until, locale, None) in text  # the account has no zone: UTC, said
