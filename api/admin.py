"""The support staff's routes: an account's audit trail, unlocking, and resetting two-step.

They use the same API keys as the portal's backend: the portal decides which of its staff
may press which button, and each action lands in the account's audit trail.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from api.auth import require_api_key
from api.fastbody import StrictJsonRoute
from api.problems import problem_responses
from api.routes import AccountId, Service
from api.schemas import EVENT_CURSOR_PATTERN, AccountView, AuditEventPage, ClientIn, Unlocked

OptionalClient = Annotated[ClientIn | None, Body()]
PROBLEMS = problem_responses(404)


def build_admin() -> APIRouter:
    admin = APIRouter(
        prefix="/v1",
        dependencies=[Depends(require_api_key)],
        tags=["support"],
        route_class=StrictJsonRoute,
    )

    @admin.get("/accounts/{account_id}/events", response_model=AuditEventPage, responses=PROBLEMS)
    async def events(
        account_id: AccountId,
        twostep: Service,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        before: Annotated[str | None, Query(pattern=EVENT_CURSOR_PATTERN)] = None,
    ) -> AuditEventPage:
        """The account's audit trail, newest first; `before` pages back in time. The trail
        keeps the last `TWOSTEP_AUDIT_MAX_EVENTS` events of the account."""
        items, cursor = await twostep.events(account_id, limit, before)
        return AuditEventPage(items=items, next_cursor=cursor)

    @admin.post("/accounts/{account_id}/unlock", response_model=Unlocked, responses=PROBLEMS)
    async def unlock(
        account_id: AccountId, twostep: Service, body: OptionalClient = None
    ) -> Unlocked:
        """Lift the account's lock after too many wrong codes, and forget its back-off."""
        was_locked = await twostep.unlock(account_id, body.client if body else None)
        return Unlocked(account_id=account_id, was_locked=was_locked)

    @admin.post(
        "/accounts/{account_id}/two-step/reset", response_model=AccountView, responses=PROBLEMS
    )
    async def reset_two_step(
        account_id: AccountId, twostep: Service, body: OptionalClient = None
    ) -> AccountView:
        """For a user who lost their devices: two-step off, the authenticator app, recovery
        codes and trusted browsers removed. The account's owner gets a security notice."""
        return await twostep.reset_two_step(account_id, body.client if body else None)

    return admin
