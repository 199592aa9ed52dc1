"""API-key authentication: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request

UNAUTHORIZED = HTTPException(
    status_code=401,
    detail="A valid API key is required.",
    headers={"WWW-Authenticate": "Bearer"},
)


class ApiKeys:
    """Holds SHA-256 digests of the keys so that every comparison has the same length."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys]

    def check(self, presented: str) -> bool:
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        # Compare with every key, always: the time taken says nothing about which one matched.
        matches = [hmac.compare_digest(digest, known) for known in self._digests]
        return any(matches)

    async def __call__(self, request: Request) -> None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.check(presented.strip()):
            raise UNAUTHORIZED


async def require_api_key(request: Request) -> None:
    """The check every /v1 route makes. The keys are the app's own (create_app puts them in
    ``app.state.api_keys``), so the routers are built once per process, whatever the app."""
    keys: ApiKeys = request.app.state.api_keys
    await keys(request)
