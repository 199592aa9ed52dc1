"""Every Lua script's header says what ``shared/scripts.py`` describes: its KEYS and ARGV by
name, count and order, and each answer with its fields, so neither can drift from the other
(or from the script's body)."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from shared import scripts
from shared.scripts import LUA_DIR, SCRIPTS, Script

# "KEYS[3] name", "ARGV[2..] name...": the first word after the index is the name.
ENTRY = re.compile(r"\b(KEYS|ARGV)\[(\d+)(\.\.)?\] ([a-z_]+(?:\.\.\.)?)")
ANSWER = re.compile(r'\{"(\w+)"((?:, [a-z_]+)*)\}')
RETURNED = re.compile(r"return \{'(\w+)'")
USED = re.compile(r"\b(KEYS|ARGV)\[(\d+)\]")


def header(name: str) -> str:
    lines = (LUA_DIR / f"{name}.lua").read_text().splitlines()
    return "\n".join(line for line in _leading(lines))


def body(name: str) -> str:
    lines = (LUA_DIR / f"{name}.lua").read_text().splitlines()
    return "\n".join(lines[len(list(_leading(lines))) :])


def _leading(lines: list[str]) -> list[str]:
    taken = []
    for line in lines:
        if not line.startswith("--"):
            break
        taken.append(line)
    return taken


def entries(text: str, kind: str) -> list[str]:
    found = [(int(index), name) for k, index, _, name in ENTRY.findall(text) if k == kind]
    indexes = [index for index, _ in found]
    assert indexes == list(range(1, len(found) + 1)), f"{kind} numbered {indexes}"
    return [name for _, name in found]


def answers(text: str) -> dict[str, tuple[str, ...]]:
    said: dict[str, tuple[str, ...]] = {}
    flat = " ".join(line.lstrip("-").strip() for line in text.splitlines())  # across lines
    for status, rest in ANSWER.findall(flat):
        names = tuple(part.strip() for part in rest.split(",") if part.strip())
        assert said.setdefault(status, names) == names, f"{status} said two ways"
    return said


def described_answers(script: Script) -> dict[str, tuple[str, ...]]:
    said = {}
    for status, result in script.results.items():
        names = tuple(f.name for f in fields(result))
        said[status] = names[1:] if names and names[0] in ("reason", "status") else names
    return said


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_header_names_the_described_keys_and_args_in_order(name: str) -> None:
    script = SCRIPTS[name]
    text = header(name)
    assert entries(text, "KEYS") == list(script.keys)
    assert entries(text, "ARGV") == list(script.args)
    if script.audited:
        assert "KEYS[last] audit stream; ARGV[last 5]" in text


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_header_gives_each_answer_the_fields_of_its_class(name: str) -> None:
    script = SCRIPTS[name]
    assert answers(header(name)) == described_answers(script)


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_body_answers_only_described_statuses_and_reads_only_described_slots(
    name: str,
) -> None:
    script, code = SCRIPTS[name], body(name)
    returned = set(RETURNED.findall(code))
    if script.results:
        assert returned <= set(script.results), returned - set(script.results)
        assert returned, "a script with answers returns them"
    for kind, names in (("KEYS", script.keys), ("ARGV", script.args)):
        if any(n.endswith("...") for n in names):
            continue  # the rest are read by a loop
        used = {int(index) for k, index in USED.findall(code) if k == kind}
        assert used <= set(range(1, len(names) + 1)), f"{kind} {sorted(used)} of {len(names)}"
        assert used == set(range(1, len(names) + 1)), f"{kind} described but unused"


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_pieces_in_front_are_the_ones_the_body_calls(name: str) -> None:
    script, code = SCRIPTS[name], body(name)
    assert ("same(" in code) == ("_same" in script.pieces)
    assert ("email_cap_" in code) == ("_email_cap" in script.pieces)
    assert bool(re.search(r"\baudit\(", code)) == script.audited


def test_every_script_file_is_described_and_every_description_has_a_file() -> None:
    files = {path.stem for path in LUA_DIR.glob("*.lua") if not path.stem.startswith("_")}
    pieces = {path.stem for path in LUA_DIR.glob("_*.lua")}
    assert files == set(SCRIPTS)
    assert {piece for script in SCRIPTS.values() for piece in script.pieces} | {"_audit"} == pieces


def test_a_reply_becomes_its_class_and_a_drifted_reply_fails_loudly() -> None:
    from shared import results as r

    login = SCRIPTS["login"]
    reply = [b"pending", b"a@x.io", 1, b"1900.5", b"1930", b"1", 3, b"totp", 0, b"k1=usb", b""]
    opened = login.decode(reply)
    assert opened == r.Opened("a@x.io", 1, 1900.5, 1930.0, True, 3, "totp", 0, "k1=usb", "")
    assert login.decode(["locked", 60]) == r.Refused(r.Refusal.LOCKED, 60)
    assert login.decode(["not_found"]) == r.NotFound()
    with pytest.raises(ValueError, match=r"shorter|longer"):
        login.decode(["pending", "a@x.io", 1])
    with pytest.raises(KeyError):
        login.decode(["surprise"])


def test_callers_must_name_exactly_the_described_keys_and_args() -> None:
    unlock = SCRIPTS["unlock"]
    audit = dict.fromkeys(scripts.AUDIT_ARGS, "")
    assert unlock.keys_of({"profile": "p", "guard": "g", "events": "e"}) == ["p", "g", "e"]
    assert unlock.args_of({"now": 1, **audit})[0] == 1
    with pytest.raises(TypeError, match="missing"):
        unlock.keys_of({"profile": "p", "events": "e"})
    with pytest.raises(TypeError, match="unknown"):
        unlock.args_of({"now": 1, "extra": 2, **audit})
    delete = SCRIPTS["delete_account"]
    ordered = delete.keys_of({"challenges": "c", "sends": "s", "others...": ["a", "b"]})
    assert ordered == ["c", "s", "a", "b"]
