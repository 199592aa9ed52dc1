"""A whole sign-in over real processes, then everything they printed and counted is checked:
every line is JSON, the request id runs from the API into the worker, no secret is anywhere,
and the metrics of two uvicorn processes and of the worker add up."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.jobs import CODE_QUEUE, NOTICE_QUEUE
from shared.logs import uvicorn_log_config
from tests.processes import (
    API_KEY,
    SECRET_KEY,
    Process,
    RedisServer,
    free_port,
    service_env,
    start_api,
    start_worker,
    wait_for_port,
)
from tests.smtpserver import MailCatcher, mails_to, text_part

pytestmark = pytest.mark.integration

ACCOUNT = "obs-1"
EMAIL = "observed.person@example.com"
REQUEST_ID = "obs-flow.req_1"
TRUSTED_LOGINS = 8  # over fresh connections, so both uvicorn processes serve some


@dataclass
class Stack:
    api: Process
    worker: Process
    url: str
    worker_metrics_url: str
    api_metrics_dir: Path
    catcher: MailCatcher
    secrets: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("observability")
    redis = RedisServer(logs)
    catcher = MailCatcher().start()
    api_port = free_port()  # known before: the workers put it in each code email's link
    settings = {
        "redis_url": redis.url(0),
        "broker_url": redis.url(1),
        "smtp_host": catcher.host,
        "smtp_port": catcher.port,
        "resend_cooldown_seconds": 0,
        "report_url": f"http://127.0.0.1:{api_port}/report/{{token}}",
    }
    # The worker is given no PROMETHEUS_MULTIPROC_DIR: it must make its own for its children.
    worker_port = free_port()
    worker_env = service_env(**settings, worker_metrics_port=worker_port)
    worker_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = start_worker(worker_env, logs, "worker")
    wait_for_port(worker_port, proc=worker.proc)
    # The API as deployed with several processes: one metrics folder, and uvicorn's own
    # supervisor writing JSON too (it never builds the app, so only --log-config reaches it).
    api_metrics_dir = logs / "api-metrics"
    api_metrics_dir.mkdir()
    log_config = logs / "uvicorn-logging.json"
    log_config.write_text(json.dumps(uvicorn_log_config()))
    api_env = {**service_env(**settings), "PROMETHEUS_MULTIPROC_DIR": str(api_metrics_dir)}
    api, url = start_api(
        api_env, logs, "--workers", "2", "--log-config", str(log_config), port=api_port
    )
    deadline = time.monotonic() + 20
    while httpx.get(f"{url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the API never became ready"
        time.sleep(0.1)
    try:
        yield Stack(
            api, worker, url, f"http://127.0.0.1:{worker_port}/metrics", api_metrics_dir, catcher
        )
    finally:
        api.stop()
        worker.stop()
        catcher.stop()
        redis.stop()


def _client(url: str) -> httpx.Client:
    # No kept connections: each request is a new connection, which either process may take.
    limits = httpx.Limits(max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.Client(base_url=url, headers=headers, limits=limits, timeout=10)


def _codes(catcher: MailCatcher, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = []
        for text in _texts(catcher):
            found += re.findall(r"^\s*(\d{6})\s*$", text, re.MULTILINE)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} code emails")


def _texts(catcher: MailCatcher) -> list[str]:
    return [text_part(mail) for mail in mails_to(catcher, EMAIL)]


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _counter_processes(folder: Path) -> int:
    return len(list(folder.glob("counter_*.db")))


def _run_the_flow(stack: Stack) -> dict[str, int]:
    """Sign up, sign in by email code with a resend, trust the browser, make recovery codes,
    set up an app; record every secret seen on the way. Returns what it did, counted."""
    with _client(stack.url) as client:
        assert client.put(f"/v1/accounts/{ACCOUNT}", json={"email": EMAIL}).status_code == 201
        enabled = client.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True})
        assert enabled.status_code == 200
        pending = client.post(
            "/v1/logins", json={"account_id": ACCOUNT}, headers={"X-Request-ID": REQUEST_ID}
        )
        assert pending.status_code == 201, pending.text
        assert pending.headers["X-Request-ID"] == REQUEST_ID
        challenge = pending.json()["challenge_id"]
        first_code = _codes(stack.catcher, 1)[0]
        # The "This wasn't me" link, opened as a mail scanner would: its token is a secret
        # too, and it is in the address (the access log's path).
        link = re.search(r"(http://\S+/report/\S+)", "\n".join(_texts(stack.catcher)))
        assert link, _texts(stack.catcher)
        assert httpx.head(link.group(1)).status_code == 200
        assert httpx.get(link.group(1)).status_code == 200
        report_secret = link.group(1).rsplit(".", 1)[1]
        resent = client.post(f"/v1/challenges/{challenge}/resend")
        assert resent.status_code == 200, resent.text
        second_code = _codes(stack.catcher, 2)[1]
        wrong = client.post(f"/v1/challenges/{challenge}/verify", json={"code": first_code})
        assert wrong.status_code == 400, wrong.text  # the resend killed the first code
        verified = client.post(
            f"/v1/challenges/{challenge}/verify",
            json={"code": second_code, "remember_browser": True},
        )
        assert verified.status_code == 200, verified.text
        token = verified.json()["trusted_browser"]["token"]
        recovery = client.post(f"/v1/accounts/{ACCOUNT}/recovery-codes")
        assert recovery.status_code == 201, recovery.text
        enrolment = client.post(f"/v1/accounts/{ACCOUNT}/totp").json()
        totp_code = pyotp.TOTP(enrolment["secret"]).now()
        confirmed = client.post(f"/v1/accounts/{ACCOUNT}/totp/confirm", json={"code": totp_code})
        assert confirmed.status_code == 200, confirmed.text
        # Trusted logins until both uvicorn processes have counted something (each makes its
        # counter file on its first count), then as many again: the scrape must sum them.
        trusted = 0
        while _counter_processes(stack.api_metrics_dir) < 2 or trusted < TRUSTED_LOGINS:
            skipped = client.post(
                "/v1/logins", json={"account_id": ACCOUNT, "trusted_browser_token": token}
            )
            assert skipped.json() == {"status": "not_required", "reason": "trusted_browser"}
            trusted += 1
            assert trusted < 200, "one uvicorn process served every request"
    stack.secrets.update(
        {
            "first code": first_code,
            "second code": second_code,
            "trusted browser token": token,
            "TOTP secret": enrolment["secret"],
            "report link secret": report_secret,
            "TOTP code": totp_code,
            "API key": API_KEY,
            "secret key": SECRET_KEY,
            "email address": EMAIL,
        }
    )
    for number, code in enumerate(recovery.json()["codes"]):
        stack.secrets[f"recovery code {number}"] = code
        stack.secrets[f"recovery code {number}, bare"] = code.replace("-", "")
    # two_step_enabled, trusted_browser_added, recovery_codes_generated, totp_enabled
    return {"code emails": 2, "notices": 4, "trusted logins": trusted}


def test_a_full_flow_logs_json_with_the_request_id_and_counts_it(stack: Stack) -> None:
    done = _run_the_flow(stack)
    stack.catcher.wait_for(done["code emails"] + done["notices"])

    with _client(stack.url) as client:
        api = _samples(client.get("/metrics").text)
    assert _value(api, "twostep_logins_total", outcome="pending") == 1
    assert _value(api, "twostep_logins_total", outcome="trusted_browser") == done["trusted logins"]
    assert _value(api, "twostep_resends_total", outcome="pending") == 1
    assert _value(api, "twostep_verifications_total", method="email", outcome="invalid") == 1
    assert _value(api, "twostep_verifications_total", method="email", outcome="verified") == 1
    assert _value(api, "twostep_jobs_published_total", kind="code") == 2

    deadline = time.monotonic() + 10
    while True:  # the worker counts a job just after the mail server took its email
        worker = _samples(httpx.get(stack.worker_metrics_url).text)
        sent = _value(worker, "twostep_emails_total", kind="code", outcome="sent")
        if sent >= done["code emails"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sent == done["code emails"]
    for kind in (
        "two_step_enabled",
        "trusted_browser_added",
        "recovery_codes_generated",
        "totp_enabled",
    ):
        assert _value(worker, "twostep_emails_total", kind=kind, outcome="sent") == 1, kind
    emails = done["code emails"] + done["notices"]
    assert _value(worker, "twostep_smtp_send_seconds_count") == emails
    assert _value(worker, "twostep_email_delivery_seconds_count", queue=CODE_QUEUE) == 2
    assert _value(worker, "twostep_email_delivery_seconds_count", queue=NOTICE_QUEUE) == 4
    assert _value(worker, "twostep_email_delivery_seconds_sum", queue=CODE_QUEUE) > 0
    for queue in (CODE_QUEUE, NOTICE_QUEUE):
        assert ("twostep_queue_length", frozenset({("queue", queue)})) in worker
    for samples in (api, worker):
        for _name, labels in samples:
            for _label, text in labels:
                assert "@" not in text
                assert text not in stack.secrets.values()

    # Stopped as an operator stops them, so their shutdown lines are checked too.
    stack.api.stop()
    stack.worker.stop()
    lines = {
        "api": stack.api.log_path.read_text().splitlines(),
        "worker": stack.worker.log_path.read_text().splitlines(),
    }
    entries: dict[str, list[dict[str, Any]]] = {}
    for name, text_lines in lines.items():
        entries[name] = []
        for line in text_lines:
            try:
                entries[name].append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"a line of the {name} is not JSON: {line!r}")
    assert len(entries["api"]) > TRUSTED_LOGINS
    assert any(
        entry.get("request_id") == REQUEST_ID and entry.get("path") == "/v1/logins"
        for entry in entries["api"]
    )
    assert any(
        entry.get("request_id") == REQUEST_ID and "code email sent" in entry["message"]
        for entry in entries["worker"]
    ), "no worker line about the code email carries the request id"
    assert any(
        entry.get("request_id") == REQUEST_ID and entry["logger"] == "celery.app.trace"
        for entry in entries["worker"]
    ), "Celery's own line about the job does not carry the request id"

    everything = "\n".join(lines["api"] + lines["worker"])
    for what, secret in stack.secrets.items():
        pattern = rf"\b{re.escape(secret)}\b" if secret.isdigit() else re.escape(secret)
        assert not re.search(pattern, everything, re.IGNORECASE), f"the {what} was logged"
