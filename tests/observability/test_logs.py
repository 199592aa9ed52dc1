"""The log format: one JSON object per line, the request id, masked addresses, no stray fields."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import smtplib
import sys
import time
from collections.abc import Iterator

import pytest

from shared.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    json_line,
    redact,
    uvicorn_log_config,
)
from shared.requestctx import REQUEST_ID
from shared.settings import LogFormat
from tests.api_calls import make_settings

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _record(
    message: str,
    *args: object,
    name: str = "twostep.test",
    level: int = logging.INFO,
    exc_info: object = None,
    **extra: object,
) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.fixture
def request_id() -> Iterator[str]:
    token = REQUEST_ID.set("req-abc.1")
    yield "req-abc.1"
    REQUEST_ID.reset(token)


def test_a_line_is_one_json_object_with_time_level_logger_message() -> None:
    line = JsonFormatter().format(_record("hello %s", "world", level=logging.WARNING))
    assert "\n" not in line
    entry = json.loads(line)
    assert TS.match(entry["ts"]), entry["ts"]
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "twostep.test"
    assert entry["message"] == "hello world"
    assert "request_id" not in entry  # none is set outside a request or a job


def test_the_request_id_of_the_context_is_on_the_line(request_id: str) -> None:
    entry = json.loads(JsonFormatter().format(_record("in a request")))
    assert entry["request_id"] == request_id


def test_a_request_id_given_on_the_record_wins_over_the_context(request_id: str) -> None:
    entry = json.loads(JsonFormatter().format(_record("received", request_id="from-args")))
    assert entry["request_id"] == "from-args"


def test_only_allowed_extra_fields_are_written() -> None:
    record = _record("sent", outcome="sent", kind="code", to="ada@example.com", code="123456")
    entry = json.loads(JsonFormatter().format(record))
    assert entry["outcome"] == "sent"
    assert entry["kind"] == "code"
    assert "to" not in entry
    assert "code" not in entry
    assert "123456" not in json.dumps(entry)


def test_addresses_are_masked_in_messages_fields_and_exceptions() -> None:
    try:
        raise ValueError("550 <bob.smith+x@mail.example.org> no such user")
    except ValueError:
        record = _record(
            "refused %s", "ada@example.com", exc_info=sys.exc_info(), queue="to carl@example.net"
        )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "refused a**@example.com"
    assert entry["queue"] == "to c**@example.net"
    assert "Traceback" in entry["exception"]
    assert "b**@mail.example.org" in entry["exception"]
    for address in ("ada@example.com", "bob.smith+x@mail.example.org", "carl@example.net"):
        assert address not in line


def test_redact_leaves_masked_addresses_and_host_names_alone() -> None:
    assert redact("a**@example.com") == "a**@example.com"
    assert redact("celery@worker-1 ready.") == "celery@worker-1 ready."
    assert redact("to x@y.z and y@z.a") == "to x**@y.z and y**@z.a"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to jörg@exämple.com now", "to j**@exämple.com now"),
        ("to jörg.müller@example.com now", "to j**@example.com now"),
        ("<jörg@xn--exmple-cua.com>", "<j**@xn--exmple-cua.com>"),
        ("用户@例子.广告 refused", "用**@例子.广告 refused"),
        ("अजय@डाटामेल.भारत refused", "अ**@डाटामेल.भारत refused"),
        # decomposed umlauts (a letter then a combining mark)
        ("jo\u0308rg@exa\u0308mple.com", "j**@exa\u0308mple.com"),
        ("jörg@例子。广告", "j**@例子。广告"),
        ('"jörg müller"@example.com', "j**@example.com"),
        ("jörg@[192.0.2.1]", "j**@[192.0.2.1]"),
        ("ada@my_host.example.com", "a**@my_host.example.com"),
        ("550 5.1.1 <ada@example.com>: Recipient address rejected",
         "550 5.1.1 <a**@example.com>: Recipient address rejected"),
    ],
)  # fmt: skip
def test_internationalised_addresses_are_masked_to_their_first_character(
    text: str, masked: str
) -> None:
    assert redact(text) == masked


def test_addresses_inside_a_python_repr_of_bytes_are_masked() -> None:
    # str() of smtplib's SMTPRecipientsRefused: the reply is bytes, UTF-8 shown as escapes.
    reply = "550 5.1.1 <jörg@exämple.com>: Recipient address rejected".encode()
    text = str({"jörg@exämple.com": (550, reply)})
    redacted = redact(text)
    assert "jörg" not in redacted
    assert "\\xb6rg@" not in redacted
    assert redacted.count("**@") == 2


def test_a_traceback_of_an_smtp_refusal_is_logged_without_the_address() -> None:
    reply = "550 5.1.1 <jörg@exämple.com>: Recipient address rejected".encode()
    try:
        raise smtplib.SMTPRecipientsRefused({"jörg@exämple.com": (550, reply)})
    except smtplib.SMTPRecipientsRefused:
        record = _record("refused", exc_info=sys.exc_info())
    for line in (JsonFormatter().format(record), TextFormatter().format(record)):
        assert "rg@ex" not in line, line
        assert "**@" in line


def test_redact_is_idempotent_on_masked_addresses() -> None:
    for text in ("j**@exämple.com", "用**@例子.广告", "a**@[192.0.2.1]"):
        assert redact(text) == text
        assert redact(redact(text)) == text


def test_redact_stays_linear_on_long_lines_without_spaces() -> None:
    text = "x" * 200_000 + "@" + "y" * 200_000
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 0.5


def test_uvicorn_access_lines_lose_their_query_string() -> None:
    record = _record(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/v1/challenges/ch_1?token=secret-in-query",
        "1.1",
        200,
        name="uvicorn.access",
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == '127.0.0.1:5000 - "GET /v1/challenges/ch_1 HTTP/1.1" 200'
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/v1/challenges/ch_1", 200)
    assert "secret-in-query" not in json.dumps(entry)


def test_uvicorn_access_lines_lose_a_report_links_secret() -> None:
    """The "This wasn't me" page's address holds its token: the path is logged without it."""
    path = "/report/ch_" + "a" * 32 + "_" + "B" * 22 + "." + "s3cr3t-" * 6
    record = _record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200,
                     name="uvicorn.access")  # fmt: skip
    entry = json.loads(JsonFormatter().format(record))
    assert "s3cr3t" not in json.dumps(entry)
    assert entry["path"] == path.split(".", 1)[0] + ".***"


def test_text_format_is_one_readable_line_with_the_request_id(request_id: str) -> None:
    line = TextFormatter().format(_record("sent to %s", "ada@example.com"))
    assert "\n" not in line
    assert line.endswith(f"INFO twostep.test [{request_id}] sent to a**@example.com")


def test_json_line_matches_the_formatter_without_logging() -> None:
    entry = json.loads(json_line("INFO", "celery.apps.worker", "worker: Warm shutdown (ada@b.co)"))
    assert TS.match(entry["ts"])
    assert entry == {**entry, "level": "INFO", "logger": "celery.apps.worker"}
    assert entry["message"] == "worker: Warm shutdown (a**@b.co)"


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Put the root logger and uvicorn's loggers back as they were."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in names
    }
    level = logging.getLogger().level
    yield
    logging.captureWarnings(False)
    logging.getLogger().setLevel(level)
    for name, (handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers = handlers
        logger.propagate = propagate


@pytest.mark.usefixtures("clean_logging")
@pytest.mark.parametrize("log_format", [LogFormat.JSON, LogFormat.TEXT])
def test_configure_logging_sends_uvicorn_lines_through_our_format(log_format: LogFormat) -> None:
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.addHandler(logging.StreamHandler(io.StringIO()))  # as uvicorn's own config
    uvicorn_access.propagate = False
    stream = io.StringIO()
    configure_logging(make_settings(log_format=log_format, log_level="DEBUG"), stream)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "POST", "/v1/logins", "1.1", 201
    )
    logging.getLogger("twostep.api").debug("to %s", "ada@example.com")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    if log_format is LogFormat.JSON:
        first, second = (json.loads(line) for line in lines)
        assert first["logger"] == "uvicorn.access"
        assert first["status"] == 201
        assert second["message"] == "to a**@example.com"
    else:
        assert '"POST /v1/logins HTTP/1.1" 201' in lines[0]
        assert lines[1].endswith("DEBUG twostep.api to a**@example.com")


@pytest.mark.usefixtures("clean_logging")
def test_an_access_log_uvicorn_turned_off_stays_off() -> None:
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers = []  # as `uvicorn --no-access-log` leaves it
    uvicorn_access.propagate = False
    stream = io.StringIO()
    configure_logging(make_settings(log_level="DEBUG"), stream)
    assert not uvicorn_access.hasHandlers()  # what uvicorn asks before writing each line
    uvicorn_access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/", "1.1", 200)
    logging.getLogger("uvicorn.error").info("Started server process")
    [line] = stream.getvalue().splitlines()
    assert json.loads(line)["logger"] == "uvicorn.error"


def test_uvicorn_log_config_is_a_valid_dict_config(clean_logging: None) -> None:
    config = uvicorn_log_config()
    json.dumps(config)  # uvicorn --log-config reads it from a .json file
    logging.config.dictConfig(config)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler.formatter, JsonFormatter)
    assert logging.getLogger("uvicorn.access").propagate is True
