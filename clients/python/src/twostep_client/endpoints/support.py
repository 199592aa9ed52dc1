"""The support staff's operations (audit trail, unlock, reset) and the service's own
liveness, readiness and metrics."""

from __future__ import annotations

from twostep_client.models import Account, ClientInfo, EventPage, Health, Readiness, Unlocked
from twostep_client.operation import TEXT, Request, body, model, operation


class SupportOperations:
    @operation("GET", "/v1/accounts/{account_id}/events", model(EventPage))
    def events(
        account_id: str,
        *,
        limit: int | None = None,
        before: str | None = None,
        request_id: str | None = None,
    ) -> Request:
        """The account's audit trail, newest first, ``limit`` (1 to 200, 50 by default) at
        a time; pass the page's ``next_cursor`` as ``before`` for the next one."""
        params: dict[str, str | int] = {}
        if limit is not None:
            params["limit"] = limit
        if before is not None:
            params["before"] = before
        return Request(path={"account_id": account_id}, params=params, request_id=request_id)

    @operation("POST", "/v1/accounts/{account_id}/unlock", model(Unlocked))
    def unlock(
        account_id: str, *, client: ClientInfo | None = None, request_id: str | None = None
    ) -> Request:
        """Lift the account's lock after too many wrong codes, and forget its back-off."""
        return Request(path={"account_id": account_id}, json=body(client), request_id=request_id)

    @operation("POST", "/v1/accounts/{account_id}/two-step/reset", model(Account))
    def reset_two_step(
        account_id: str, *, client: ClientInfo | None = None, request_id: str | None = None
    ) -> Request:
        """For a user who lost their devices: two-step off, the app, recovery codes and
        trusted browsers removed, open challenges ended; the owner is emailed a notice."""
        return Request(path={"account_id": account_id}, json=body(client), request_id=request_id)

    @operation("GET", "/healthz", model(Health))
    def health(*, request_id: str | None = None) -> Request:
        """Liveness: the API process runs."""
        return Request(request_id=request_id)

    @operation("GET", "/readyz", model(Readiness, 200, 503))
    def readiness(*, request_id: str | None = None) -> Request:
        """Readiness: whether Redis and the broker answer (``Readiness.ready``). Not being
        ready is an answer here, not an error, and is not retried."""
        return Request(request_id=request_id)

    @operation("GET", "/metrics", TEXT)
    def metrics(*, request_id: str | None = None) -> Request:
        """The Prometheus text exposition."""
        return Request(request_id=request_id)
