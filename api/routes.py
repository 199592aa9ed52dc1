"""The HTTP routes: each translates the wire format, makes one service call, and answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from api.auth import require_api_key
from api.fastbody import (
    Handler,
    PathParam,
    StrictJsonRoute,
    json_response,
    read_json,
    served_by,
    validate_body,
)
from api.problems import problem_responses
from api.schemas import (
    AccountIn,
    AccountView,
    ChallengeView,
    ClientIn,
    CodeIn,
    LoginIn,
    NotRequired,
    Pending,
    RecoveryCodes,
    Reported,
    ReportIn,
    ResendIn,
    TotpEnrolment,
    TrustedBrowserList,
    TwoStepIn,
    Verified,
    VerifyIn,
)
from api.service import TwoStep
from api.store import KEEP
from shared.keys import ACCOUNT_ID_PATTERN, BROWSER_ID_PATTERN, CHALLENGE_ID_PATTERN

AccountId = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, examples=["u-42"])]
ChallengeId = Annotated[str, Path(pattern=CHALLENGE_ID_PATTERN)]
BrowserId = Annotated[str, Path(pattern=BROWSER_ID_PATTERN)]


async def service(request: Request) -> TwoStep:
    # async: a plain def dependency would run in the threadpool, on every request.
    twostep: TwoStep = request.app.state.twostep
    return twostep


Service = Annotated[TwoStep, Depends(service)]


def _fast_login() -> Handler:
    async def start_login(request: Request) -> Response:
        await require_api_key(request)
        errors: list[Any] = []
        body = validate_body(LoginIn, await read_json(request), errors)
        if body is None:
            raise RequestValidationError(errors)
        twostep: TwoStep = request.app.state.twostep
        result = await twostep.start_login(
            body.account_id, body.trusted_browser_token, body.method, body.client
        )
        return json_response(result, 200 if isinstance(result, NotRequired) else 201)

    return start_login


_CHALLENGE_ID = PathParam("challenge_id", CHALLENGE_ID_PATTERN)


def _fast_verify() -> Handler:
    async def verify(request: Request) -> Response:
        await require_api_key(request)
        value = await read_json(request)
        errors: list[Any] = []
        challenge_id = _CHALLENGE_ID.validate(request, errors)
        body = validate_body(VerifyIn, value, errors)
        if body is None or errors:
            raise RequestValidationError(errors)
        twostep: TwoStep = request.app.state.twostep
        result = await twostep.verify(
            challenge_id, body.code, body.method, body.remember_browser, body.client,
            body.credential.model_dump() if body.credential else None,
        )  # fmt: skip
        return json_response(result, 200)

    return verify


def build_v1() -> APIRouter:
    # Bodies read as the hot routes read them (api/fastbody.py): the same refusals everywhere.
    v1 = APIRouter(
        prefix="/v1", dependencies=[Depends(require_api_key)], route_class=StrictJsonRoute
    )

    # The two hot routes come first, each served by its one plain handler (api/fastbody.py
    # served_by); the functions below only describe them in /openapi.json.
    async def start_login(body: LoginIn) -> Pending | NotRequired:
        """After the password: is a second step needed? If so, open a challenge, with the
        account's preferred method unless `method` names one. Only an email challenge sends
        a code; the email cap never refuses a challenge the app or a recovery code can pass
        (`email_refused` then says why no email was sent)."""
        raise NotImplementedError  # served by _fast_login

    v1.add_api_route(
        "/logins",
        start_login,
        methods=["POST"],
        response_model=Pending,
        status_code=201,
        responses={200: {"model": NotRequired}, **problem_responses(404, 409, 429)},
        route_class_override=served_by(_fast_login()),
    )

    async def verify(challenge_id: ChallengeId, body: VerifyIn) -> Verified:
        """Check a code; the right one consumes the challenge."""
        raise NotImplementedError  # served by _fast_verify

    v1.add_api_route(
        "/challenges/{challenge_id}/verify",
        verify,
        methods=["POST"],
        response_model=Verified,
        responses=problem_responses(400, 404, 409, 429),
        route_class_override=served_by(_fast_verify()),
    )

    @v1.put(
        "/accounts/{account_id}",
        response_model=AccountView,
        status_code=200,
        responses={201: {"model": AccountView, "description": "Created"}, **problem_responses()},
    )
    async def put_account(
        account_id: AccountId, body: AccountIn, response: Response, twostep: Service
    ) -> AccountView:
        """Create (201) or update (200) the account's two-step profile. `time_zone` and
        `preferred_method` left out keep their stored values; `null` removes them."""
        given = body.model_fields_set
        created, view = await twostep.put_account(
            account_id,
            str(body.email),
            body.locale,
            body.time_zone if "time_zone" in given else KEEP,
            body.preferred_method if "preferred_method" in given else KEEP,
        )
        response.status_code = 201 if created else 200
        return view

    @v1.get("/accounts/{account_id}", response_model=AccountView, responses=problem_responses(404))
    async def get_account(account_id: AccountId, twostep: Service) -> AccountView:
        return await twostep.get_account(account_id)

    @v1.delete("/accounts/{account_id}", status_code=204, responses=problem_responses())
    async def delete_account(account_id: AccountId, twostep: Service) -> Response:
        """Remove every key the service holds for the account."""
        await twostep.delete_account(account_id)
        return Response(status_code=204)

    @v1.put(
        "/accounts/{account_id}/two-step",
        response_model=AccountView,
        responses=problem_responses(404),
    )
    async def set_two_step(account_id: AccountId, body: TwoStepIn, twostep: Service) -> AccountView:
        """The settings checkbox, applied. Off revokes all trusted browsers; both notify."""
        return await twostep.set_two_step(account_id, body.enabled, body.client)

    @v1.get(
        "/challenges/{challenge_id}", response_model=ChallengeView, responses=problem_responses(404)
    )
    async def get_challenge(challenge_id: ChallengeId, twostep: Service) -> ChallengeView:
        return await twostep.get_challenge(challenge_id)

    @v1.post(
        "/challenges/{challenge_id}/resend",
        response_model=Pending,
        responses=problem_responses(404, 429),
    )
    async def resend(
        challenge_id: ChallengeId,
        twostep: Service,
        body: Annotated[ResendIn | None, Body()] = None,
    ) -> Pending:
        """Email a new code; the previous one stops working at once. On a challenge opened
        for the app or a recovery code, this emails its first code. A refusal leaves the
        challenge open for every other method."""
        return await twostep.resend(challenge_id, body.client if body else None)

    @v1.post(
        "/challenges/{challenge_id}/report",
        response_model=Reported,
        responses=problem_responses(404, 409),
    )
    async def report(challenge_id: ChallengeId, body: ReportIn, twostep: Service) -> Reported:
        """ "This wasn't me", from a portal that shows its own page for the link in the email
        (`TWOSTEP_REPORT_URL` pointing at it): ends the challenge if it is still open (its
        code dies, resends are refused), records `login_reported` with the sign-in's IP and
        browser (so the webhook can have the portal reset the password and end sessions),
        and emails the owner what was done. Once per challenge: `409 report_used` after."""
        return await twostep.reports.report(challenge_id, body.token, body.client)

    @v1.get(
        "/accounts/{account_id}/trusted-browsers",
        response_model=TrustedBrowserList,
        responses=problem_responses(404),
    )
    async def list_browsers(account_id: AccountId, twostep: Service) -> TrustedBrowserList:
        return TrustedBrowserList(items=await twostep.list_browsers(account_id))

    @v1.delete(
        "/accounts/{account_id}/trusted-browsers/{browser_id}",
        status_code=204,
        responses=problem_responses(404),
    )
    async def revoke_browser(
        account_id: AccountId, browser_id: BrowserId, twostep: Service
    ) -> Response:
        await twostep.revoke_browser(account_id, browser_id)
        return Response(status_code=204)

    @v1.delete(
        "/accounts/{account_id}/trusted-browsers", status_code=204, responses=problem_responses(404)
    )
    async def revoke_all_browsers(account_id: AccountId, twostep: Service) -> Response:
        await twostep.revoke_all_browsers(account_id)
        return Response(status_code=204)

    @v1.post(
        "/accounts/{account_id}/totp",
        response_model=TotpEnrolment,
        status_code=201,
        responses=problem_responses(404),
    )
    async def enrol_totp(account_id: AccountId, twostep: Service) -> TotpEnrolment:
        """Start setting up an authenticator app. Nothing changes until it is confirmed."""
        return await twostep.authenticators.enrol_totp(account_id)

    @v1.post(
        "/accounts/{account_id}/totp/confirm",
        response_model=AccountView,
        responses=problem_responses(400, 404, 429),
    )
    async def confirm_totp(account_id: AccountId, body: CodeIn, twostep: Service) -> AccountView:
        """A code from the app turns it on (and replaces an app set up before)."""
        await twostep.authenticators.confirm_totp(account_id, body.code, body.client)
        return await twostep.get_account(account_id)

    @v1.delete("/accounts/{account_id}/totp", status_code=204, responses=problem_responses(404))
    async def disable_totp(account_id: AccountId, twostep: Service) -> Response:
        await twostep.authenticators.disable_totp(account_id, None)
        return Response(status_code=204)

    @v1.post(
        "/accounts/{account_id}/recovery-codes",
        response_model=RecoveryCodes,
        status_code=201,
        responses=problem_responses(404),
    )
    async def new_recovery_codes(
        account_id: AccountId,
        twostep: Service,
        body: Annotated[ClientIn | None, Body()] = None,
    ) -> RecoveryCodes:
        """Ten new single-use codes, shown this once; every earlier code stops working."""
        client = body.client if body else None
        codes = await twostep.authenticators.new_recovery_codes(account_id, client)
        return RecoveryCodes(codes=codes)

    return v1
