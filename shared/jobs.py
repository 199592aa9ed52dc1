"""The jobs the API hands to the workers: queue and task names, payloads, and the broker message.

The API publishes without Celery: it builds the same protocol-2 message Celery's
``apply_async`` would and pushes it with one async Redis command, so publishing
never blocks the event loop. ``tests/integration`` proves a real worker runs it.
"""

from __future__ import annotations

import base64
import json
import os
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
# The safety net of the code jobs (api/mailqueue.py, workers/backups.py): a sorted set on the
# broker, beside the queues. Each member is a job's payload as JSON, scored by when its backup
# comes due.
CODE_BACKUPS = "twostep.codes.backups"


def backup_delay_seconds(visibility_timeout_seconds: int) -> float:
    """When a code job's backup comes due: well after the job itself normally went out, and
    before the broker would hand a job a dead worker held to another worker (visibility
    timeout)."""
    return min(45.0, visibility_timeout_seconds / 2)


# A security notice that has not gone out a day after its change is dropped: its news is
# stale (the API sets the Celery message's expiry to it, the worker stops retrying at it).
NOTICE_LIFETIME_SECONDS = 86400

NOTICE_TWO_STEP_ENABLED = "two_step_enabled"
NOTICE_TWO_STEP_DISABLED = "two_step_disabled"
NOTICE_TRUSTED_BROWSER_ADDED = "trusted_browser_added"
NOTICE_TOTP_ENABLED = "totp_enabled"
NOTICE_TOTP_DISABLED = "totp_disabled"
NOTICE_RECOVERY_CODES_GENERATED = "recovery_codes_generated"
NOTICE_RECOVERY_CODE_USED = "recovery_code_used"
NOTICE_TWO_STEP_RESET = "two_step_reset"
NOTICE_ACCOUNT_LOCKED = "account_locked"
NOTICE_WEBAUTHN_ADDED = "webauthn_added"
NOTICE_WEBAUTHN_REMOVED = "webauthn_removed"
NOTICE_LOGIN_REPORTED = "login_reported"
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
        NOTICE_ACCOUNT_LOCKED,
        NOTICE_WEBAUTHN_ADDED,
        NOTICE_WEBAUTHN_REMOVED,
        NOTICE_LOGIN_REPORTED,
    }
)


@dataclass(frozen=True, slots=True)
class CodeJob:
    """Send send number ``send_no`` of a challenge's code. The code itself is sealed; the
    job carries no address: the worker reads the account's when it claims the send (an
    older job's ``to`` and ``locale`` are ignored)."""

    challenge_id: str
    send_no: int
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
    """Tell the account's owner that something changed on their account. The job carries no
    address: the worker reads the account's address and language when it sends. ``to`` and
    ``locale`` are only those of jobs queued by an API from before, and are empty otherwise."""

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
    account_id: str = ""

    def describe(self) -> str:
        return f"notice={self.notice_id} kind={self.kind}"


Job = TypeVar("Job", CodeJob, NoticeJob)


def job_of(cls: type[Job], payload: dict[str, Any]) -> Job:
    """The job in a payload. Fields this version does not know are left out, so a worker
    not yet upgraded still runs a job published by a newer API."""
    known = {f.name for f in fields(cls)}
    return cls(**{name: value for name, value in payload.items() if name in known})


def argsrepr_of(job: CodeJob | NoticeJob) -> str:
    """What Celery logs and shows of a job's arguments: ids, never the address or the code.
    The request id lets the worker's "received" line, logged before the job is opened, be
    tied to the request (workers/logs.py reads it back)."""
    rid = f" request_id={job.request_id}" if job.request_id else ""
    return f"({job.describe()}{rid})"


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
    ' "eta": null, "expires": %(expires)s, "group": null, "group_index": null,'
    ' "retries": 0, "timelimit": [null, null], "root_id": %(id)s, "parent_id": null,'
    ' "argsrepr": %(argsrepr)s, "kwargsrepr": "{}", "origin": "twostep-api",'
    ' "ignore_result": true, "replaced_task_nesting": 0, "stamped_headers": null,'
    ' "stamps": {}},'
    ' "properties": {"correlation_id": %(id)s, "delivery_mode": 2,'
    ' "delivery_info": {"exchange": "", "routing_key": %(queue)s}, "priority": 0,'
    ' "body_encoding": "base64", "delivery_tag": %(tag)s}}'
)
_EMBED = ', {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]'


def celery_message(
    task: str,
    payload: dict[str, Any] | str,
    queue: str,
    *,
    expires_at: float | None,
    argsrepr: str,
    task_id: str | None = None,
) -> bytes:
    """The JSON that kombu's Redis transport pushes for ``apply_async(args=[payload])``.
    ``payload`` may come already encoded as JSON: a code job's is kept as it is for its
    backup (``CODE_BACKUPS``)."""
    encoded = payload if isinstance(payload, str) else json.dumps(payload)
    body = base64.b64encode(f"[[{encoded}]{_EMBED}".encode()).decode("ascii")
    # Two random (version 4) uuids from one read of the system's random source.
    random = os.urandom(32)
    task_id = task_id or str(uuid.UUID(bytes=random[:16], version=4))
    delivery_tag = str(uuid.UUID(bytes=random[16:], version=4))
    parts = {
        "body": f'"{body}"',
        "task": json.dumps(task),
        "expires": json.dumps(_iso(expires_at)) if expires_at is not None else "null",
        "queue": json.dumps(queue),
        "id": json.dumps(task_id),
        "argsrepr": json.dumps(argsrepr),
        "tag": json.dumps(delivery_tag),
    }
    return (_MESSAGE % parts).encode("utf-8")
