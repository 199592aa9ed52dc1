"""The jobs the API hands to the workers: queue and task names, payloads, and the broker message.

The API publishes without Celery: it builds the same protocol-2 message Celery's
``apply_async`` would and pushes it with one async Redis command, so publishing
never blocks the event loop. ``tests/integration`` proves a real worker runs it.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from shared.webhooks import WEBHOOK_QUEUE

CODE_QUEUE = "twostep.codes"
NOTICE_QUEUE = "twostep.notices"
# Every queue the workers serve, in the order they serve them (the queue-length gauge reads
# each of them).
QUEUES = (CODE_QUEUE, NOTICE_QUEUE, WEBHOOK_QUEUE)
SEND_CODE_TASK = "twostep.send_code"
SEND_NOTICE_TASK = "twostep.send_notice"

NOTICE_TWO_STEP_ENABLED = "two_step_enabled"
NOTICE_TWO_STEP_DISABLED = "two_step_disabled"
NOTICE_TRUSTED_BROWSER_ADDED = "trusted_browser_added"
NOTICE_TOTP_ENABLED = "totp_enabled"
NOTICE_TOTP_DISABLED = "totp_disabled"
NOTICE_RECOVERY_CODES_GENERATED = "recovery_codes_generated"
NOTICE_RECOVERY_CODE_USED = "recovery_code_used"
NOTICE_TWO_STEP_RESET = "two_step_reset"
NOTICE_KINDS = frozenset(
    {
        NOTICE_TWO_STEP_ENABLED,
        NOTICE_TWO_STEP_DISABLED,
        NOTICE_TRUSTED_BROWSER_ADDED,
        NOTICE_TOTP_ENABLED,
        NOTICE_TOTP_DISABLED,
        NOTICE_RECOVERY_CODES_GENERATED,
        NOTICE_RECOVERY_CODE_USED,
        NOTICE_TWO_STEP_RESET,
    }
)


@dataclass(frozen=True, slots=True)
class CodeJob:
    """Send send number ``send_no`` of a challenge's code. The code itself is sealed."""

    challenge_id: str
    send_no: int
    to: str
    locale: str
    sealed_code: str
    expires_at: float
    client_ip: str | None = None
    client_label: str | None = None
    # Added later, so jobs queued without them still run: the API request that made the job,
    # and when the API published it (its clock), for the publish-to-SMTP delivery time.
    request_id: str = ""
    published_at: float | None = None

    def describe(self) -> str:
        return f"challenge={self.challenge_id} send={self.send_no}"


@dataclass(frozen=True, slots=True)
class NoticeJob:
    """Tell the account's owner that something changed on their account."""

    notice_id: str
    kind: str
    to: str
    locale: str
    occurred_at: float
    client_ip: str | None = None
    client_label: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    published_at: float | None = None

    def describe(self) -> str:
        return f"notice={self.notice_id} kind={self.kind}"


Job = TypeVar("Job", CodeJob, NoticeJob)


def job_of(cls: type[Job], payload: dict[str, Any]) -> Job:
    """The job in a payload. Fields this version does not know are left out, so a worker
    not yet upgraded still runs a job published by a newer API."""
    known = {f.name for f in fields(cls)}
    return cls(**{name: value for name, value in payload.items() if name in known})


def code_seal_context(challenge_id: str, send_no: int) -> str:
    """What a sealed code is bound to, so it cannot be replayed into another send."""
    return f"code:{challenge_id}:{send_no}"


_CODE_FIELDS = tuple(item.name for item in fields(CodeJob))


def payload_of(job: CodeJob | NoticeJob) -> dict[str, Any]:
    if isinstance(job, CodeJob):  # the hot path: without asdict's deep copy
        return {name: getattr(job, name) for name in _CODE_FIELDS}
    return asdict(job)


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()


# The parts of a protocol-2 message that never change, written once. The variable parts are
# each encoded with json.dumps, so the result is the same JSON document json.dumps of the whole
# dict gives (tests/integration/test_job_message_contract.py compares it with apply_async's).
_MESSAGE = (
    '{"body": %(body)s, "content-encoding": "utf-8", "content-type": "application/json",'
    ' "headers": {"lang": "py", "task": %(task)s, "id": %(id)s, "shadow": null,'
    ' "eta": %(eta)s, "expires": %(expires)s, "group": null, "group_index": null,'
    ' "retries": 0, "timelimit": [null, null], "root_id": %(id)s, "parent_id": null,'
    ' "argsrepr": %(argsrepr)s, "kwargsrepr": "{}", "origin": "twostep-api",'
    ' "ignore_result": true, "replaced_task_nesting": 0, "stamped_headers": null,'
    ' "stamps": {}},'
    ' "properties": {"correlation_id": %(id)s, "delivery_mode": 2,'
    ' "delivery_info": {"exchange": "", "routing_key": %(queue)s}, "priority": 0,'
    ' "body_encoding": "base64", "delivery_tag": %(tag)s}}'
)
_EMBED = ', {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]'


def celery_messages(
    task: str,
    payload: dict[str, Any],
    queue: str,
    *,
    expires_at: float | None,
    copies: list[tuple[str, float | None]],
    task_ids: list[str] | None = None,
) -> list[bytes]:
    """The JSON that kombu's Redis transport pushes for ``apply_async(args=[payload])``, once
    per ``(argsrepr, eta)`` in ``copies`` (with an eta, the worker holds the task until
    then). The body is encoded once for all of them: it is the costly part."""
    body = base64.b64encode(f"[[{json.dumps(payload)}]{_EMBED}".encode()).decode("ascii")
    common = {
        "body": f'"{body}"',
        "task": json.dumps(task),
        "expires": json.dumps(_iso(expires_at)) if expires_at is not None else "null",
        "queue": json.dumps(queue),
    }
    messages = []
    for index, (argsrepr, eta) in enumerate(copies):
        task_id = task_ids[index] if task_ids else str(uuid.uuid4())
        parts = {
            **common,
            "id": json.dumps(task_id),
            "eta": json.dumps(_iso(eta)) if eta is not None else "null",
            "argsrepr": json.dumps(argsrepr),
            "tag": json.dumps(str(uuid.uuid4())),
        }
        messages.append((_MESSAGE % parts).encode("utf-8"))
    return messages


def celery_message(
    task: str,
    payload: dict[str, Any],
    queue: str,
    *,
    expires_at: float | None,
    argsrepr: str,
    task_id: str | None = None,
    eta: float | None = None,
) -> bytes:
    """One message: see ``celery_messages``."""
    return celery_messages(
        task,
        payload,
        queue,
        expires_at=expires_at,
        copies=[(argsrepr, eta)],
        task_ids=[task_id] if task_id else None,
    )[0]
