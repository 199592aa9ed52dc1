"""Authenticator apps and recovery codes against real Redis, a real worker and real SMTP,
checked with independent tools: oathtool computes the codes, zbarimg reads the QR code."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.flow import OffsetClock, enrol, oathtool
from tests.smtpserver import MailCatcher, html_part, mails_to, text_part

pytestmark = pytest.mark.integration


def read_qr(svg_text: str, folder: Path) -> str:
    """What a scanner reads from the SVG: rendered by librsvg, decoded by zbar."""
    svg = folder / "qr.svg"
    png = folder / "qr.png"
    svg.write_text(svg_text)
    subprocess.run(
        ["rsvg-convert", "--zoom", "2", "-o", str(png), str(svg)], check=True, timeout=30
    )
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, timeout=30
    )
    assert decoded.returncode == 0, decoded.stderr
    return decoded.stdout.strip()


async def test_codes_from_oathtool_sign_in_once(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, offset_clock: OffsetClock
) -> None:
    await enrol(live_api, "u-app", "app@example.com", mailbox=mailbox)
    enrolment = (await live_api.post("/v1/accounts/u-app/totp")).json()
    confirm = await live_api.post(
        "/v1/accounts/u-app/totp/confirm",
        json={"code": oathtool(enrolment["secret"], offset_clock())},
    )
    assert confirm.status_code == 200, confirm.text
    assert confirm.json()["totp_enabled"] is True

    offset_clock.advance(30)  # the next time step: the confirming code is spent
    code = oathtool(enrolment["secret"], offset_clock())
    first = await live_api.post("/v1/logins", json={"account_id": "u-app", "method": "totp"})
    assert first.status_code == 201
    assert first.json()["method"] == "totp"
    assert first.json()["sent_to"] is None
    verified = await live_api.post(
        f"/v1/challenges/{first.json()['challenge_id']}/verify",
        json={"code": code, "method": "totp"},
    )
    assert verified.status_code == 200, verified.text

    second = await live_api.post("/v1/logins", json={"account_id": "u-app", "method": "totp"})
    replay = await live_api.post(
        f"/v1/challenges/{second.json()['challenge_id']}/verify",
        json={"code": code, "method": "totp"},
    )
    assert replay.status_code == 400
    assert replay.json()["code"] == "code_already_used"
    assert replay.json()["attempts_left"] == 4


async def test_the_qr_code_reads_back_as_the_otpauth_uri(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, tmp_path: Path
) -> None:
    await enrol(live_api, "u-qr", "qr@example.com", mailbox=mailbox)
    enrolment = (await live_api.post("/v1/accounts/u-qr/totp")).json()
    assert read_qr(enrolment["qr_svg"], tmp_path) == enrolment["otpauth_uri"]
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/twostep:qr%40example.com?")


WORDS = {
    "en": ("authenticator", "recovery"),
    "fr": ("authentification", "récupération"),
    "es": ("autenticación", "recuperación"),
}


@pytest.mark.parametrize("locale", ["en", "fr", "es"])
async def test_every_totp_and_recovery_notice_arrives_in_the_accounts_language(
    live_api: httpx.AsyncClient, mailbox: MailCatcher, offset_clock: OffsetClock, locale: str
) -> None:
    address = f"notices-{locale}@example.com"
    account = f"u-notices-{locale}"
    await enrol(live_api, account, address, locale, mailbox)
    secret = (await live_api.post(f"/v1/accounts/{account}/totp")).json()["secret"]
    confirmed = await live_api.post(
        f"/v1/accounts/{account}/totp/confirm", json={"code": oathtool(secret, offset_clock())}
    )
    assert confirmed.status_code == 200
    codes = (await live_api.post(f"/v1/accounts/{account}/recovery-codes")).json()["codes"]
    assert len(codes) == 10
    login = await live_api.post("/v1/logins", json={"account_id": account, "method": "totp"})
    used = await live_api.post(
        f"/v1/challenges/{login.json()['challenge_id']}/verify",
        json={"code": codes[3].upper().replace("-", " "), "method": "recovery_code"},
    )
    assert used.status_code == 200, used.text
    assert (await live_api.delete(f"/v1/accounts/{account}/totp")).status_code == 204

    deadline = time.monotonic() + 20
    while len(mails_to(mailbox, address)) < 5:
        assert time.monotonic() < deadline, [m["Subject"] for m in mails_to(mailbox, address)]
        await asyncio.sleep(0.05)
    mails = mails_to(mailbox, address)
    assert len({m["Subject"] for m in mails}) == 5  # two-step on, app on, new set, used, app off
    for mail in mails:
        assert f'lang="{locale}"' in html_part(mail)
    everything = " ".join(text_part(m).lower() for m in mails)
    for word in WORDS[locale]:
        assert word in everything
    assert any("9" in text_part(m) for m in mails)  # "9 recovery codes left"
    assert not any(code in text_part(m) for m in mails for code in codes)
