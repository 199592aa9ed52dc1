"""The client's networking rules, against a scripted service (httpx.MockTransport) and, for
timeouts and a wrong address, real loopback sockets: which calls are sent again and after how
long, timeouts, the request id, and the errors for a wrong key or a wrong base URL."""

from __future__ import annotations

import inspect
import random
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scripted import ACCOUNT, CALLS, PENDING, Script, problem

from twostep_client import (
    OPERATIONS,
    AsyncTwoStep,
    EmailRefused,
    MailDelayed,
    Pending,
    Retry,
    TwoStep,
    TwoStepError,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    UnsupportedOperation,
)
from twostep_client.retry import retry_after_seconds

BASE_URL = "http://twostep.test"


class Highest(random.Random):
    """Jitter at its upper bound, so each wait is the largest the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


def retry(**overrides: Any) -> Retry:
    return Retry(**{"random": Highest(), **overrides})


class Client:
    """A sync or an async client over a script, called the same way, its waits recorded."""

    def __init__(self, kind: str, script: Script, **options: Any) -> None:
        self.kind = kind
        self.waits: list[float] = []
        options.setdefault("retry", retry())
        if kind == "sync":
            self.client: TwoStep | AsyncTwoStep = TwoStep(
                BASE_URL, "key", transport=script.transport(), **options
            )
            self.client._sleep = self.waits.append
        else:
            self.client = AsyncTwoStep(BASE_URL, "key", transport=script.transport(), **options)

            async def wait(seconds: float) -> None:
                self.waits.append(seconds)

            self.client._sleep = wait

    async def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        answer = getattr(self.client, name)(*args, **kwargs)
        return await answer if inspect.isawaitable(answer) else answer

    async def close(self) -> None:
        closed = self.client.close()
        if inspect.isawaitable(closed):
            await closed


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def account() -> httpx.Response:
    return httpx.Response(200, json=ACCOUNT)


def unavailable(**headers: str) -> httpx.Response:
    return problem(503, "unavailable", {"Retry-After": "1", **headers})


CONNECT_ERROR = httpx.ConnectError("[Errno 111] Connection refused")

IDEMPOTENT = sorted(
    name for name, op in OPERATIONS.items() if op.method in ("GET", "PUT", "DELETE")
)
POSTS = sorted(name for name, op in OPERATIONS.items() if op.method == "POST")


def test_every_operation_has_a_sample_call() -> None:
    assert set(CALLS) == set(OPERATIONS)


async def test_every_operation_sends_its_method_and_path(kind: str) -> None:
    script = Script([httpx.Response(599)])
    client = Client(kind, script, retry=Retry(attempts=1))
    for name, (args, kwargs) in CALLS.items():
        with pytest.raises(TwoStepError):
            await client(name, *args, **kwargs)
        request = script.requests[-1]
        operation = OPERATIONS[name]
        assert request.method == operation.method
        pattern = re.sub(r"\{[a-z_]+\}", "[^/]+", operation.template)
        assert re.fullmatch(pattern, request.url.path), (name, request.url.path)
    await client.close()


@pytest.mark.parametrize("name", IDEMPOTENT)
async def test_get_put_and_delete_are_sent_again_after_a_connection_error(
    kind: str, name: str
) -> None:
    script = Script([CONNECT_ERROR, httpx.RemoteProtocolError("closed"), httpx.Response(599)])
    client = Client(kind, script)
    args, kwargs = CALLS[name]
    with pytest.raises(Unavailable):
        await client(name, *args, **kwargs)
    assert len(script.requests) == 3
    # The same request each time, under the same request id.
    assert len({request.headers["x-request-id"] for request in script.requests}) == 1
    await client.close()


# /readyz answers 503 when the service is not ready: that is its answer, not a failure.
@pytest.mark.parametrize("name", [name for name in IDEMPOTENT if name != "readiness"])
async def test_get_put_and_delete_are_sent_again_after_a_503(kind: str, name: str) -> None:
    script = Script([unavailable(), unavailable(), httpx.Response(599)])
    client = Client(kind, script)
    args, kwargs = CALLS[name]
    with pytest.raises(Unavailable):
        await client(name, *args, **kwargs)
    assert len(script.requests) == 3
    # The same request each time, under the same request id.
    assert len({request.headers["x-request-id"] for request in script.requests}) == 1
    await client.close()


@pytest.mark.parametrize("name", POSTS)
@pytest.mark.parametrize("failure", ["connect", "503"])
async def test_a_post_is_never_sent_again(kind: str, name: str, failure: str) -> None:
    script = Script([CONNECT_ERROR if failure == "connect" else unavailable(), account()])
    client = Client(kind, script)
    args, kwargs = CALLS[name]
    with pytest.raises(Unavailable):
        await client(name, *args, **kwargs)
    assert len(script.requests) == 1
    assert client.waits == []
    await client.close()


async def test_a_retry_that_succeeds_returns_the_answer(kind: str) -> None:
    script = Script([CONNECT_ERROR, httpx.ConnectTimeout("slow"), account()])
    client = Client(kind, script)
    got = await client("get_account", "u-42")
    assert got.account_id == "u-42"
    assert len(script.requests) == 3
    await client.close()


async def test_the_waits_grow_exponentially_up_to_their_cap(kind: str) -> None:
    script = Script([CONNECT_ERROR] * 5 + [account()])
    client = Client(
        kind, script, retry=retry(attempts=6, backoff_seconds=0.1, max_backoff_seconds=0.5)
    )
    await client("get_account", "u-42")
    assert client.waits == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    await client.close()


def test_the_jitter_is_drawn_between_zero_and_the_backoff() -> None:
    policy = Retry(attempts=3, backoff_seconds=0.2, random=random.Random(7))
    waits = [policy.delay("GET", 2, CONNECT_ERROR) for _ in range(200)]
    assert all(wait is not None and 0 <= wait <= 0.4 for wait in waits)
    assert len(set(waits)) > 100  # not one fixed wait that clients would share


async def test_a_503_waits_its_retry_after_plus_the_jitter(kind: str) -> None:
    script = Script([unavailable(**{"Retry-After": "3"}), account()])
    client = Client(kind, script, retry=retry(backoff_seconds=0.1, max_retry_after_seconds=5))
    await client("get_account", "u-42")
    assert client.waits == pytest.approx([3.1])
    await client.close()


async def test_a_retry_after_longer_than_the_cap_is_raised_not_waited(kind: str) -> None:
    script = Script([unavailable(**{"Retry-After": "60"}), account()])
    client = Client(kind, script, retry=retry(max_retry_after_seconds=5))
    with pytest.raises(Unavailable) as raised:
        await client("get_account", "u-42")
    assert raised.value.retry_after == 60
    assert len(script.requests) == 1
    assert client.waits == []
    await client.close()


async def test_gives_up_after_its_attempts_with_the_last_answer(kind: str) -> None:
    script = Script([unavailable()])
    client = Client(kind, script, retry=retry(attempts=4))
    with pytest.raises(Unavailable) as raised:
        await client("put_account", "u-42", "ada@example.com")
    assert len(script.requests) == 4
    assert len(client.waits) == 3
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (
        503,
        "unavailable",
        1,
    )
    await client.close()


async def test_other_failures_are_not_sent_again(kind: str) -> None:
    # A read timeout may mean a slow service, not a dead one; a 500 is a bug, not a blip.
    script = Script([httpx.ReadTimeout("slow"), problem(500, "internal_error"), account()])
    client = Client(kind, script)
    with pytest.raises(Unavailable, match="timeout"):
        await client("get_account", "u-42")
    with pytest.raises(Unavailable) as raised:
        await client("get_account", "u-42")
    assert raised.value.code == "internal_error"
    assert len(script.requests) == 2
    await client.close()


async def test_not_ready_is_an_answer_and_not_sent_again(kind: str) -> None:
    body = {"status": "unavailable", "checks": {"redis": False, "broker": True}}
    script = Script([httpx.Response(503, json=body)])
    client = Client(kind, script)
    readiness = await client("readiness")
    assert not readiness.ready
    assert readiness.checks == {"redis": False, "broker": True}
    assert len(script.requests) == 1
    await client.close()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 27, 20, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Fri, 27 Nov 2026 20:00:30 GMT", now) == 30
    assert retry_after_seconds("Fri, 27 Nov 2026 19:00:00 GMT", now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("²") is None
    assert retry_after_seconds(None) is None


def test_a_retry_policy_needs_one_attempt() -> None:
    with pytest.raises(ValueError):
        Retry(attempts=0)


# Timeouts


async def test_the_timeouts_given_reach_every_request(kind: str) -> None:
    script = Script([account()])
    client = Client(kind, script, connect_timeout_seconds=1.5, read_timeout_seconds=7)
    await client("get_account", "u-42")
    assert script.requests[0].extensions["timeout"] == {
        "connect": 1.5,
        "read": 7,
        "write": 7,
        "pool": 7,
    }
    await client.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_service_that_does_not_answer_times_out(silent_server: str) -> None:
    twostep = TwoStep(silent_server, "key", read_timeout_seconds=0.2)
    with twostep, pytest.raises(Unavailable, match="no answer within the timeout") as raised:
        twostep.get_account("u-42")
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)


async def test_a_service_that_does_not_answer_times_out_async(silent_server: str) -> None:
    async with AsyncTwoStep(silent_server, "key", read_timeout_seconds=0.2) as twostep:
        with pytest.raises(Unavailable, match="no answer within the timeout"):
            await twostep.start_login("u-42")


# The request id


async def test_a_request_id_given_is_sent(kind: str) -> None:
    script = Script([account()])
    client = Client(kind, script)
    await client("get_account", "u-42", request_id="portal-req.7")
    assert script.requests[0].headers["x-request-id"] == "portal-req.7"
    await client.close()


@pytest.mark.parametrize("request_id", ["has space", "x" * 65, "line\nbreak", "é"])
async def test_a_request_id_the_service_would_not_keep_is_refused(
    kind: str, request_id: str
) -> None:
    script = Script([account()])
    client = Client(kind, script)
    with pytest.raises(ValueError, match="request_id"):
        await client("get_account", "u-42", request_id=request_id)
    assert script.requests == []
    await client.close()


async def test_a_request_id_is_made_for_each_call_otherwise(kind: str) -> None:
    script = Script([account()])
    client = Client(kind, script)
    await client("get_account", "u-42")
    await client("get_account", "u-42")
    made = [request.headers["x-request-id"] for request in script.requests]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in made)
    assert made[0] != made[1]
    await client.close()


async def test_an_error_carries_the_request_id(kind: str) -> None:
    script = Script(
        [
            problem(404, "account_not_found", {"X-Request-ID": "from-server"}),
            problem(404, "account_not_found"),
        ]
    )
    client = Client(kind, script)
    with pytest.raises(TwoStepError) as answered:
        await client("get_account", "u-42")
    assert answered.value.request_id == "from-server"
    with pytest.raises(TwoStepError) as sent:
        await client("get_account", "u-42", request_id="mine")
    assert sent.value.request_id == "mine"
    assert "mine" in str(sent.value)
    await client.close()


# A wrong key, a wrong base URL


async def test_a_wrong_key_says_so(kind: str) -> None:
    script = Script([problem(401, "unauthorized", {"WWW-Authenticate": "Bearer"})])
    client = Client(kind, script)
    with pytest.raises(Unauthorized, match="TWOSTEP_API_KEYS") as raised:
        await client("start_login", "u-42")
    assert raised.value.status == 401
    assert script.requests[0].headers["authorization"] == "Bearer key"
    await client.close()


async def test_a_401_without_a_problem_document_is_still_unauthorized(kind: str) -> None:
    script = Script([httpx.Response(401, text="go away")])
    client = Client(kind, script)
    with pytest.raises(Unauthorized, match="api_key"):
        await client("get_account", "u-42")
    await client.close()


async def test_another_server_s_404_page_points_at_the_base_url(kind: str) -> None:
    page = httpx.Response(404, text="<h1>Not Found</h1>", headers={"content-type": "text/html"})
    script = Script([page])
    client = Client(kind, script)
    with pytest.raises(UnexpectedResponse, match="base_url") as raised:
        await client("start_login", "u-42")
    assert raised.value.status == 404
    assert "text/html" in str(raised.value)
    await client.close()


async def test_a_success_that_is_not_twostep_s_answer_points_at_the_base_url(kind: str) -> None:
    script = Script(
        [httpx.Response(200, text="<html>welcome</html>"), httpx.Response(200, json={})]
    )
    client = Client(kind, script)
    with pytest.raises(UnexpectedResponse, match="not JSON"):
        await client("get_account", "u-42")
    with pytest.raises(UnexpectedResponse, match="shape"):
        await client("get_account", "u-42")
    await client.close()


async def test_twostep_s_own_no_such_route_is_not_a_missing_account(kind: str) -> None:
    script = Script([problem(404, "not_found")])
    client = Client(kind, script)
    with pytest.raises(UnsupportedOperation, match="base_url") as raised:
        await client("report", "ch_abc", "token")
    assert raised.value.code == "not_found"
    await client.close()


def test_nothing_listening_at_the_base_url_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    twostep = TwoStep(f"http://127.0.0.1:{port}", "key", retry=Retry(attempts=1))
    with twostep, pytest.raises(Unavailable, match="is base_url right") as raised:
        twostep.get_account("u-42")
    assert raised.value.status is None
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("base_url", ["", "twostep.test", "ftp://twostep.test", "http://"])
def test_a_base_url_that_is_not_http_is_refused_at_once(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        TwoStep(base_url, "key")


def test_an_empty_key_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="api_key"):
        TwoStep(BASE_URL, " ")


async def test_a_path_value_stays_one_segment(kind: str) -> None:
    script = Script([account()])
    client = Client(kind, script)
    await client("get_account", "../../healthz?x=1#y")
    assert script.requests[0].url.raw_path == b"/v1/accounts/..%2F..%2Fhealthz%3Fx%3D1%23y"
    await client.close()


async def test_a_base_url_with_a_path_prefixes_every_route(kind: str) -> None:
    script = Script([httpx.Response(201, json=PENDING)])
    if kind == "sync":
        with TwoStep("http://gw.test/twostep/", "key", transport=script.transport()) as twostep:
            twostep.start_login("u-42")
    else:
        async with AsyncTwoStep(
            "http://gw.test/twostep", "key", transport=script.transport()
        ) as atwostep:
            await atwostep.start_login("u-42")
    assert str(script.requests[0].url) == "http://gw.test/twostep/v1/logins"


async def test_a_login_reads_what_the_mail_queue_says(kind: str) -> None:
    """A newer server's fields: how long the code email is expected to take, and email left
    out because the mail queue is too far behind (the login went ahead with the app)."""
    went_ahead = {
        **PENDING,
        "method": "totp",
        "methods": ["email", "totp"],
        "sent_to": None,
        "email_refused": {"code": "mail_delayed", "retry_after": 90},
        "expected_delivery_seconds": None,
    }
    emailed = {**PENDING, "expected_delivery_seconds": 45}
    script = Script([httpx.Response(201, json=went_ahead), httpx.Response(200, json=emailed)])
    client = Client(kind, script)
    login = await client("start_login", "u-42")
    assert isinstance(login, Pending)
    assert login.email_refused == EmailRefused(code="mail_delayed", retry_after=90)
    assert login.expected_delivery_seconds is None
    again = await client("resend", "ch_abc")
    assert again.expected_delivery_seconds == 45
    await client.close()


async def test_mail_delayed_at_a_login_or_a_resend_is_raised_at_once(kind: str) -> None:
    script = Script([problem(503, "mail_delayed", {"Retry-After": "120"}, retry_after=120)])
    client = Client(kind, script)
    for name in ("start_login", "resend"):
        args, kwargs = CALLS[name]
        with pytest.raises(MailDelayed) as raised:
            await client(name, *args, **kwargs)
        assert raised.value.retry_after == 120
    assert len(script.requests) == 2  # each sent once: a POST is never sent again
    assert client.waits == []
    await client.close()
