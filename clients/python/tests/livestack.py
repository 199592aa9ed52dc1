"""The real service as the live tests meet it: its settings for them, and its mailbox."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from tests.smtpserver import MailCatcher

RP_ID = "portal.test"
ORIGIN = "https://portal.test"
REPORT_URL = "https://portal.test/report/{token}"


@dataclass
class Service:
    """twostep as a portal meets it: its URL and key, and the mailbox its emails land in."""

    url: str
    api_key: str
    mailbox: MailCatcher

    def codes_to(self, address: str, count: int = 1, within: float = 20.0) -> list[str]:
        """The codes of the first ``count`` code emails to ``address``, waiting for them."""
        deadline = time.monotonic() + within
        while True:
            found = [
                code
                for text in self._texts_to(address)
                for code in re.findall(r"^\s*(\d{6})\s*$", text, re.MULTILINE)
            ]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"fewer than {count} code emails to {address}"
            time.sleep(0.05)

    def report_tokens_to(self, address: str, within: float = 20.0) -> list[str]:
        """The tokens of the "This wasn't me" links in the emails to ``address``."""
        pattern = re.escape(REPORT_URL).replace(re.escape("{token}"), r"([A-Za-z0-9._~-]+)")
        deadline = time.monotonic() + within
        while True:
            found = [t for text in self._texts_to(address) for t in re.findall(pattern, text)]
            if found:
                return found
            assert time.monotonic() < deadline, f"no report link in the emails to {address}"
            time.sleep(0.05)

    def _texts_to(self, address: str) -> list[str]:
        texts = []
        for message in list(self.mailbox.messages):
            if message["To"] == address:
                part = message.get_body(("plain",))
                assert part is not None
                texts.append(str(part.get_content()))  # type: ignore[attr-defined]
        return texts
