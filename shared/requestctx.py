"""The request id of the work in progress: set by the API per request and by a worker per job."""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str] = ContextVar("twostep_request_id", default="")


def request_id() -> str:
    """The current request id, or "" outside a request or a job."""
    return REQUEST_ID.get()
