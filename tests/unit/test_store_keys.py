"""The Redis key schema: one hash tag per account, and challenge ids that carry it."""

from __future__ import annotations

import re

import pytest

from shared import codes
from shared.keys import (
    CHALLENGE_ID_PATTERN,
    PREFIX,
    AccountKeys,
    account_tag,
    challenge_key,
    tag_of_challenge,
)

ODD_IDS = ["u-42", "a" * 128, "A.z_0:9@x-Y", "{u}", "x}y{z", "é", "a|b\nc"]


@pytest.mark.parametrize("account_id", ODD_IDS)
def test_every_key_of_an_account_shares_one_hash_tag(account_id: str) -> None:
    keys = AccountKeys.of(account_id)
    challenge_id = codes.new_challenge_id(account_id)
    names = [*keys.all_fixed(), keys.challenge(challenge_id)]
    tag = account_tag(account_id)
    assert re.fullmatch(r"[0-9a-f]{32}", tag)
    for name in names:
        assert name.startswith(f"{PREFIX}:{{{tag}}}:")
        # Redis Cluster hashes the text between the first "{" and the next "}".
        assert name[name.index("{") + 1 : name.index("}")] == tag
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("account_id", ODD_IDS)
def test_account_id_never_reaches_a_key_name(account_id: str) -> None:
    for name in AccountKeys.of(account_id).all_fixed():
        assert account_id not in name


def test_different_accounts_have_different_tags() -> None:
    tags = {account_tag(f"u-{n}") for n in range(1000)}
    assert len(tags) == 1000
    assert account_tag("u-42") == account_tag("u-42")


@pytest.mark.parametrize("account_id", ODD_IDS)
def test_challenge_id_leads_to_its_account_keys(account_id: str) -> None:
    challenge_id = codes.new_challenge_id(account_id)
    assert re.fullmatch(CHALLENGE_ID_PATTERN, challenge_id)
    assert tag_of_challenge(challenge_id) == account_tag(account_id)
    assert challenge_key(challenge_id) == AccountKeys.of(account_id).challenge(challenge_id)


def test_challenge_keys_of_one_account_differ() -> None:
    keys = AccountKeys.of("u-42")
    names = {keys.challenge(codes.new_challenge_id("u-42")) for _ in range(100)}
    assert len(names) == 100


@pytest.mark.parametrize(
    "challenge_id",
    [
        "",
        "ch_",
        "ch_" + "0" * 32,
        "ch_" + "0" * 31 + "_" + "A" * 23,
        "ch_" + "G" * 32 + "_" + "A" * 22,
        "ch_" + "0" * 32 + "_" + "A" * 21 + "!",
        "ch_" + "0" * 32 + "_" + "A" * 22 + "A",
        "ch_" + "0" * 32 + "_" + "A" * 22 + "\n",
        "xx_" + "0" * 32 + "_" + "A" * 22,
    ],
    ids=[
        "empty",
        "prefix",
        "no-random-part",
        "short-tag",
        "non-hex-tag",
        "bad-char",
        "too-long",
        "trailing-newline",
        "wrong-prefix",
    ],
)
def test_malformed_challenge_id_has_no_key(challenge_id: str) -> None:
    assert tag_of_challenge(challenge_id) is None
    assert challenge_key(challenge_id) is None
