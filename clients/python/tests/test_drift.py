"""The client against the server's own ``/openapi.json`` (the app built in process), both ways:
every operation of the schema is a method of the client and every method an operation of the
schema; each answer's status is the same; every field of a model the client reads is in the
schema's model, with a type the client can read whatever the server sends there, required
only where the schema requires it; and every field of the schema's model is in the client's.

This is the one place the client's tests import the server (to build its schema); the client
itself never does."""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from twostep_client import OPERATIONS
from twostep_client.operation import Operation

Schema = dict[str, Any]


@pytest.fixture(scope="module")
def schema() -> Schema:
    from api.main import create_app
    from tests.api_calls import make_settings

    document: Schema = create_app(make_settings()).openapi()
    return document


# The server's pages for an account's owner in a browser ("This wasn't me"), not the API a
# portal's backend calls: the client has no method for them.
END_USER_PAGES = "End-user pages"


def server_operations(schema: Schema) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if END_USER_PAGES not in op.get("tags", ())
    }


def client_operations() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for name, operation in OPERATIONS.items():
        found.setdefault((operation.method, operation.template), []).append(name)
    return found


def test_every_operation_of_the_schema_has_a_method(schema: Schema) -> None:
    missing = server_operations(schema) - set(client_operations())
    assert not missing, f"operations of /openapi.json without a client method: {sorted(missing)}"


def test_every_method_is_an_operation_of_the_schema(schema: Schema) -> None:
    extra = {
        f"{name} ({method} {path})"
        for (method, path), names in client_operations().items()
        if (method, path) not in server_operations(schema)
        for name in names
    }
    assert not extra, f"client methods the server's /openapi.json does not have: {sorted(extra)}"


def shared_operations(schema: Schema) -> list[tuple[str, Operation[Any, Any]]]:
    ops = server_operations(schema)
    return sorted((name, op) for name, op in OPERATIONS.items() if (op.method, op.template) in ops)


def test_every_answer_matches_the_schema(schema: Schema) -> None:
    problems: list[str] = []
    for name, operation in shared_operations(schema):
        responses = schema["paths"][operation.template][operation.method.lower()]["responses"]
        server = {int(status): answer for status, answer in responses.items() if status[0] == "2"}
        client = {status: m for status, m in operation.reader.models.items() if status < 300}
        if set(server) != set(client):
            problems.append(f"{name}: success statuses {sorted(client)}, server {sorted(server)}")
        for status in set(server) & set(client):
            body = server[status].get("content", {}).get("application/json", {}).get("schema")
            model = client[status]
            if not body:
                continue  # no JSON described (204, text, /readyz): nothing to compare
            if model is None:
                problems.append(f"{name} {status}: the server describes a body the client drops")
                continue
            problems += compare_model(model, body, schema, f"{name} {status} {model.__name__}")
    assert not problems, "client and server disagree:\n" + "\n".join(problems)


# Reading a JSON Schema as what the server may send, and a type as what the client can read.


def resolve(node: Schema, schema: Schema) -> Schema:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def branches(node: Schema, schema: Schema) -> list[Schema]:
    """Each shape a value may take: the members of an anyOf or oneOf, resolved."""
    node = resolve(node, schema)
    members = node.get("anyOf") or node.get("oneOf")
    if members:
        return [leaf for member in members for leaf in branches(member, schema)]
    return [node]


def kind_of(node: Schema) -> str:
    kind = node.get("type")
    if kind is None and ("properties" in node or "additionalProperties" in node):
        return "object"
    return str(kind) if kind is not None else "any"


def options_of(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return [annotation]


def reads(annotation: Any, node: Schema, schema: Schema, where: str) -> list[str]:
    """What keeps ``annotation`` from reading every value ``node`` allows."""
    problems: list[str] = []
    for branch in branches(node, schema):
        kind = kind_of(branch)
        attempts = [
            read_one(option, branch, kind, schema, where) for option in options_of(annotation)
        ]
        if not any(attempt == [] for attempt in attempts):
            # The closest option's reasons (one of the same JSON kind), else a plain mismatch.
            near = [attempt for attempt in attempts if attempt and attempt[0] != _MISMATCH]
            problems += (
                near[0]
                if near
                else [f"{where}: the server may send {kind}, the client reads {annotation}"]
            )
    return problems


_MISMATCH = "kind"


def read_one(option: Any, branch: Schema, kind: str, schema: Schema, where: str) -> list[str]:
    if option is Any:
        return []
    origin = get_origin(option)
    if kind == "null":
        return [] if option is type(None) else [_MISMATCH]
    if kind == "string":
        if option in (str, datetime):
            return []
        if origin is Literal:
            sent = branch.get("enum") or ([branch["const"]] if "const" in branch else None)
            if sent is None or not set(sent) <= set(get_args(option)):
                sent_text = sent or "any string"
                return [f"{where}: the server may send {sent_text}, the client reads {option}"]
            return []
        return [_MISMATCH]
    if kind == "integer":
        return [] if option in (int, float) else [_MISMATCH]
    if kind == "number":
        return [] if option is float else [_MISMATCH]
    if kind == "boolean":
        return [] if option is bool else [_MISMATCH]
    if kind == "array":
        if origin is not list:
            return [_MISMATCH]
        return reads(get_args(option)[0], branch.get("items", {}), schema, f"{where}[]")
    if kind == "object":
        if isinstance(option, type) and issubclass(option, BaseModel):
            return compare_model(option, branch, schema, where)
        if origin is not dict:
            return [_MISMATCH]
        values = branch.get("additionalProperties", True)
        value_type = get_args(option)[1]
        if values is True or values == {}:
            return (
                []
                if value_type is Any
                else [f"{where}: values of any type, the client reads {option}"]
            )
        return reads(value_type, values, schema, f"{where}.*") if isinstance(values, dict) else []
    return [] if kind == "any" and option is Any else [_MISMATCH]


def compare_model(model: type[BaseModel], node: Schema, schema: Schema, where: str) -> list[str]:
    node = resolve(node, schema)
    properties: Schema = node.get("properties", {})
    required = set(node.get("required", []))
    others = node.get("additionalProperties")
    problems: list[str] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        here = f"{where}.{key}"
        if key in properties:
            problems += reads(field.annotation, properties[key], schema, here)
        elif isinstance(others, dict):
            problems += reads(field.annotation, others, schema, here)
        else:
            problems.append(f"{here}: the client reads a field the server's model does not have")
            continue
        if field.is_required() and key not in required:
            problems.append(f"{here}: required by the client, not by the server's model")
    known = {field.alias or name for name, field in model.model_fields.items()}
    problems += [
        f"{where}.{key}: a field of the server's model the client does not read"
        for key in properties
        if key not in known
    ]
    return problems


# The comparison itself, on models made to disagree.


class _Server(BaseModel):
    a: str
    b: int | None = None
    c: list[str]


def _schema_of(*models: type[BaseModel]) -> Schema:
    return {"components": {"schemas": {m.__name__: m.model_json_schema() for m in models}}}


def test_the_comparison_finds_each_kind_of_drift() -> None:
    schema = _schema_of(_Server)
    ref = {"$ref": "#/components/schemas/_Server"}

    class Same(BaseModel):
        a: str
        b: int | None = None
        c: list[str]

    class Drifted(BaseModel):
        a: Literal["x"]  # the server sends any string
        b: int  # the server may send null, and may leave it out
        c: list[int]  # the server sends strings
        d: str  # the server has no such field

    assert compare_model(Same, ref, schema, "Same") == []
    found = compare_model(Drifted, ref, schema, "Drifted")
    for expected in ("Drifted.a:", "Drifted.b: the server may send null", "Drifted.b: required",
                     "Drifted.c[]:", "Drifted.d: the client reads a field"):  # fmt: skip
        assert any(problem.startswith(expected) for problem in found), (expected, found)

    class Missing(BaseModel):
        a: str

    assert compare_model(Missing, ref, schema, "Missing") == [
        "Missing.b: a field of the server's model the client does not read",
        "Missing.c: a field of the server's model the client does not read",
    ]
