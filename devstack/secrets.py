"""The stack's keys, made once and kept in the data directory's ``secrets.env``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRETS_FILE = "secrets.env"
SECRET_NAMES = ("TWOSTEP_SECRET_KEY", "TWOSTEP_API_KEYS", "PORTAL_SESSION_SECRET")


def load_secrets(data_dir: Path) -> dict[str, str]:
    """The stack's keys: made once, then kept in ``secrets.env`` (mode 0600) across restarts."""
    path = data_dir / SECRETS_FILE
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() in SECRET_NAMES and value.strip():
                values[name.strip()] = value.strip()
    if all(name in values for name in SECRET_NAMES):
        path.chmod(0o600)
        return values
    values.setdefault("TWOSTEP_SECRET_KEY", secrets.token_urlsafe(48))
    values.setdefault("TWOSTEP_API_KEYS", "dev-" + secrets.token_urlsafe(24))
    values.setdefault("PORTAL_SESSION_SECRET", secrets.token_urlsafe(48))
    text = "# Made once by devstack and kept, so a restart keeps trusted browsers valid.\n"
    text += "".join(f"{name}={values[name]}\n" for name in SECRET_NAMES)
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(partial, path)
    return values
