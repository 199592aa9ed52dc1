"""Codes, tokens, ids, sealing, and browser labels made and split."""

from __future__ import annotations

import re

import pytest

from shared import codes
from shared.crypto import Sealer, SealError, derive_key
from shared.keys import AccountKeys, account_tag, challenge_key, tag_of_challenge
from shared.useragent import (
    BROWSER_NAMES,
    SYSTEM_NAMES,
    UNKNOWN_BROWSER,
    LabelParts,
    browser_label,
    split_label,
)


def test_codes_are_six_ascii_digits_and_vary() -> None:
    made = {codes.new_code() for _ in range(2000)}
    assert all(re.fullmatch(r"[0-9]{6}", code) for code in made)
    assert len(made) > 1900  # 2000 draws from a million: almost no repeats


@pytest.mark.parametrize(
    ("typed", "clean"),
    [
        ("123456", "123456"),
        (" 123456 ", "123456"),
        ("\t123456\n", "123456"),
        ("123 456", "123456"),
        ("123-456", "123456"),
        ("12-3456", "123456"),
        ("000000", "000000"),
    ],
)
def test_codes_are_accepted_as_people_paste_them(typed: str, clean: str) -> None:
    assert codes.clean_email_code(typed) == clean


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345",
        "1234567",
        "12 34 56",
        "123--456",
        "123  456",
        "１２３４５６",
        "١٢٣٤٥٦",
        "12345a",
        "-123456",
        "123456-",
        "+123456",
        "123_456",
        "123.456",
    ],
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    assert codes.clean_email_code(typed) is None


def test_code_digest_is_keyed_and_bound_to_the_challenge() -> None:
    key = derive_key("k" * 40, "code-digest")
    digest = codes.code_digest(key, "ch_a", "123456")
    assert digest == codes.code_digest(key, "ch_a", "123456")
    assert digest != codes.code_digest(key, "ch_b", "123456")
    assert digest != codes.code_digest(derive_key("j" * 40, "code-digest"), "ch_a", "123456")
    assert "123456" not in digest


def test_browser_tokens_carry_256_random_bits_and_their_id() -> None:
    browser_id = codes.new_browser_id()
    token = codes.new_browser_token(browser_id)
    secret = token.split(".", 1)[1]
    assert len(secret) == 43  # 32 bytes, url-safe base64 without padding
    assert codes.browser_id_of_token(token) == browser_id
    assert codes.browser_id_of_token(token + "x") is None
    assert codes.browser_id_of_token("tb_short.abc") is None
    assert codes.browser_id_of_token("nonsense") is None
    assert codes.token_digest(token) != codes.token_digest(codes.new_browser_token(browser_id))


def test_challenge_ids_lead_to_their_accounts_keys() -> None:
    challenge_id = codes.new_challenge_id("u-42")
    assert tag_of_challenge(challenge_id) == account_tag("u-42")
    assert challenge_key(challenge_id) == AccountKeys.of("u-42").challenge(challenge_id)
    assert challenge_key("ch_nothex") is None


def test_account_ids_with_redis_unsafe_characters_stay_in_their_own_keys() -> None:
    tricky = ["a}:{b", "u:42", "u-42:profile", "{u-42}", "u-42\r\nDEL *"]
    tags = {account_tag(account) for account in [*tricky, "u-42"]}
    assert len(tags) == len(tricky) + 1
    for account in tricky:
        for key in AccountKeys.of(account).all_fixed():
            assert re.fullmatch(r"twostep:\{[0-9a-f]{32}\}:[a-z-]+", key)


def test_mask_email_keeps_the_first_letter_and_the_domain() -> None:
    assert codes.mask_email("ada@example.com") == "a**@example.com"
    assert codes.mask_email("x@y.org") == "x**@y.org"


def test_mask_email_shows_one_character_of_an_internationalised_local_part() -> None:
    assert codes.mask_email("jörg.müller@exämple.com") == "j**@exämple.com"
    assert codes.mask_email("用户@例子.广告") == "用**@例子.广告"
    assert codes.mask_email('"jörg müller"@example.com') == "j**@example.com"
    assert codes.mask_email('"a@b"@example.com') == "a**@example.com"


def test_mask_email_of_something_without_an_at_sign_shows_nothing() -> None:
    assert codes.mask_email("jörg") == "**"
    assert codes.mask_email("") == "**"


def test_sealed_values_open_only_with_their_key_and_context() -> None:
    sealer = Sealer("s" * 40)
    sealed = sealer.seal("123456", "code:ch_1:1")
    assert "123456" not in sealed
    assert sealer.open(sealed, "code:ch_1:1") == "123456"
    with pytest.raises(SealError):
        sealer.open(sealed, "code:ch_1:2")
    with pytest.raises(SealError):
        Sealer("t" * 40).open(sealed, "code:ch_1:1")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError):
        sealer.open(tampered, "code:ch_1:1")


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/156.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        ("curl/8.5.0", "curl"),
        ("", "Unknown browser"),
        (None, "Unknown browser"),
        ("something odd", "Unknown browser"),
    ],
)
def test_browser_labels_name_browser_and_system(agent: str | None, label: str) -> None:
    assert browser_label(agent) == label


@pytest.mark.parametrize("browser", [*BROWSER_NAMES, None])
@pytest.mark.parametrize("system", [*SYSTEM_NAMES, None])
def test_a_label_splits_back_into_the_browser_and_system_it_was_made_from(
    browser: str | None, system: str | None
) -> None:
    # The User-Agent parts each name matches, put together, give the label to split.
    agents = {
        "Edge": "Edg/131.0", "Opera": "OPR/114.0", "Samsung Internet": "SamsungBrowser/26.0",
        "Vivaldi": "Vivaldi/7.0", "Firefox": "Firefox/133.0", "Chrome": "Chrome/131.0",
        "Safari": "Version/18.1 Safari/605.1.15", "curl": "curl/8.5.0",
        "iOS": "(iPhone; CPU iPhone OS 18_1)", "Android": "(Linux; Android 14)",
        "ChromeOS": "(X11; CrOS x86_64)", "Windows": "(Windows NT 10.0)",
        "macOS": "(Macintosh; Intel Mac OS X 14_7)", "Linux": "(X11; Linux x86_64)",
        None: "",
    }  # fmt: skip
    # curl only counts at the start of the header, the other browsers anywhere after it.
    agent = f"{agents[browser]} {agents[system]}".strip() or "something odd"
    label = browser_label(agent)

    assert split_label(label) == LabelParts(browser, system)


def test_a_label_splits_into_product_names_none_when_unknown() -> None:
    assert split_label("Safari on macOS") == ("Safari", "macOS")
    assert split_label("Samsung Internet on Android") == ("Samsung Internet", "Android")
    assert split_label("Firefox") == ("Firefox", None)
    assert split_label("Browser on Linux") == (None, "Linux")
    assert split_label(UNKNOWN_BROWSER) == (None, None)


@pytest.mark.parametrize(
    "label",
    [
        "",
        "Netscape on BeOS",  # not a browser or system the module knows
        "Firefox on BeOS",
        "Netscape on Linux",
        "firefox on linux",  # the module spells names one way
        "Firefox on Linux ",
        "Firefox sur Linux",  # already put into another language
        "Browser",
        "Firefox on Linux on Windows",
        '<script>alert("x")</script>',
    ],
)
def test_a_label_the_module_did_not_make_does_not_split(label: str) -> None:
    assert split_label(label) is None
