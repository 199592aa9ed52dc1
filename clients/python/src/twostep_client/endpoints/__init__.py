"""Every operation of the API, gathered on one class both clients derive from."""

from __future__ import annotations

from typing import Any

from twostep_client.endpoints.accounts import KEEP, AccountOperations, Keep
from twostep_client.endpoints.keys import KeyOperations
from twostep_client.endpoints.logins import LoginOperations
from twostep_client.endpoints.support import SupportOperations
from twostep_client.operation import Operation


class Endpoints(AccountOperations, LoginOperations, KeyOperations, SupportOperations):
    """One method per operation of the API (``OPERATIONS`` lists them)."""


# name -> operation, for the drift test and for readers: each one's method, path and models.
OPERATIONS: dict[str, Operation[Any, Any]] = {
    name: value
    for cls in Endpoints.__mro__
    for name, value in vars(cls).items()
    if isinstance(value, Operation)
}

__all__ = ["KEEP", "OPERATIONS", "Endpoints", "Keep"]
