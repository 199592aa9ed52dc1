"""Security keys and passkeys (WebAuthn) through the API in process, answered by a software
authenticator (tests/softauthn.py): adding a key, the account's list, signing in with one,
and every answer that must be refused.

Every test that uses ``api`` runs on fakeredis, a real redis-server and a real Redis Cluster
(the ``state_redis`` fixture).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.api_calls import (
    ACCOUNT,
    OTHER,
    assert_problem,
    make_settings,
    new_account,
)
from tests.fakes import RecordingMailQueue
from tests.softauthn import NoCredential, SoftAuthenticator, b64url, unb64url

RP_ID = "portal.example"
ORIGIN = "https://portal.example"
KEYS = f"/v1/accounts/{ACCOUNT}/webauthn"


@pytest.fixture
def settings() -> Settings:
    return make_settings(webauthn_rp_id=RP_ID, webauthn_origins=(ORIGIN,))


async def begin(api: httpx.AsyncClient, account: str = ACCOUNT) -> dict[str, Any]:
    response = await api.post(f"/v1/accounts/{account}/webauthn/registrations")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_key(
    api: httpx.AsyncClient,
    device: SoftAuthenticator,
    name: str = "My key",
    account: str = ACCOUNT,
    origin: str = ORIGIN,
) -> httpx.Response:
    registration = await begin(api, account)
    answer = device.create(registration["public_key"], origin)
    return await api.post(
        f"/v1/accounts/{account}/webauthn/registrations/{registration['registration_id']}",
        json={"name": name, "credential": answer},
    )


async def sign_in(api: httpx.AsyncClient, account: str = ACCOUNT, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/logins", json={"account_id": account, **body})
    assert response.status_code == 201, response.text
    login: dict[str, Any] = response.json()
    return login


async def answer(
    api: httpx.AsyncClient, challenge_id: str, credential: dict[str, Any], **body: Any
) -> httpx.Response:
    return await api.post(
        f"/v1/challenges/{challenge_id}/verify",
        json={"method": "webauthn", "credential": credential, **body},
    )


@pytest.fixture
async def device(api: httpx.AsyncClient) -> SoftAuthenticator:
    """An account with two-step on and one security key (ES256)."""
    await new_account(api)
    key = SoftAuthenticator(transports=("usb", "nfc"))
    response = await add_key(api, key)
    assert response.status_code == 201, response.text
    return key


class TestAddingAKey:
    @pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
    async def test_a_key_of_each_algorithm_is_added_listed_and_announced(
        self, api: httpx.AsyncClient, mail: RecordingMailQueue, algorithm: Any
    ) -> None:
        await new_account(api)
        key = SoftAuthenticator(algorithm=algorithm, transports=("usb",))
        response = await add_key(api, key, name="Desk key")
        assert response.status_code == 201, response.text
        view = response.json()
        assert view["name"] == "Desk key"
        assert view["key_id"].startswith("sk_")
        assert view["transports"] == ["usb"]
        assert view["last_used_at"] is None
        assert view["synced"] is False
        listed = (await api.get(f"{KEYS}/credentials")).json()["items"]
        assert [item["key_id"] for item in listed] == [view["key_id"]]
        assert [n.kind for n in mail.notices][-1] == "webauthn_added"
        assert mail.notices[-1].details == {"name": "Desk key"}
        events = (await api.get(f"/v1/accounts/{ACCOUNT}/events")).json()["items"]
        assert events[0]["type"] == "webauthn_added"
        assert events[0]["details"] == {"key": view["key_id"]}

    async def test_the_options_follow_the_settings_and_exclude_the_accounts_keys(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        options = (await begin(api))["public_key"]
        assert options["rp"] == {"id": RP_ID, "name": "twostep"}
        assert options["attestation"] == "none"
        assert options["authenticatorSelection"]["residentKey"] == "preferred"
        assert options["authenticatorSelection"]["userVerification"] == "preferred"
        assert len(unb64url(options["challenge"])) == 32
        # The user handle is random, never the account id, and the same each time.
        assert ACCOUNT.encode() not in unb64url(options["user"]["id"])
        assert options["user"]["id"] == (await begin(api))["public_key"]["user"]["id"]
        excluded = [entry["id"] for entry in options["excludeCredentials"]]
        assert excluded == [b64url(device.credentials[0].credential_id)]

    async def test_a_synced_passkey_says_so(self, api: httpx.AsyncClient) -> None:
        await new_account(api)
        passkey = SoftAuthenticator(backup_eligible=True, backed_up=True)
        view = (await add_key(api, passkey)).json()
        assert view["synced"] is True
        assert view["transports"] == ["internal"]

    async def test_an_answer_from_another_origin_or_site_is_refused(
        self, api: httpx.AsyncClient
    ) -> None:
        await new_account(api)
        for origin, rp_id in (("https://evil.example", None), (ORIGIN, "evil.example")):
            registration = await begin(api)
            created = SoftAuthenticator().create(registration["public_key"], origin, rp_id=rp_id)
            url = f"{KEYS}/registrations/{registration['registration_id']}"
            response = await api.post(url, json={"name": "k", "credential": created})
            assert_problem(response, 400, "webauthn_refused")
        assert (await api.get(f"{KEYS}/credentials")).json()["items"] == []

    async def test_a_registration_is_used_once(self, api: httpx.AsyncClient) -> None:
        await new_account(api)
        registration = await begin(api)
        created = SoftAuthenticator().create(registration["public_key"], ORIGIN)
        url = f"{KEYS}/registrations/{registration['registration_id']}"
        assert (await api.post(url, json={"name": "k", "credential": created})).status_code == 201
        again = await api.post(url, json={"name": "k", "credential": created})
        assert_problem(again, 404, "registration_not_found")

    async def test_an_account_holds_at_most_ten_keys(self, api: httpx.AsyncClient) -> None:
        await new_account(api)
        for n in range(10):
            assert (await add_key(api, SoftAuthenticator(), name=f"k{n}")).status_code == 201
        refused = await api.post(f"{KEYS}/registrations")
        assert_problem(refused, 409, "security_key_limit")

    async def test_malformed_answers_are_422_never_500(self, api: httpx.AsyncClient) -> None:
        await new_account(api)
        registration = await begin(api)
        good = SoftAuthenticator().create(registration["public_key"], ORIGIN)
        url = f"{KEYS}/registrations/{registration['registration_id']}"
        broken_cbor = {**good, "response": {**good["response"], "attestationObject": "AAEC"}}
        response = await api.post(url, json={"name": "k", "credential": broken_cbor})
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["field"] == "body.credential"
        for credential in ({}, {"id": "!!", "response": {}}, {"id": 3}, {"response": "x"}):
            registration = await begin(api)
            url = f"{KEYS}/registrations/{registration['registration_id']}"
            response = await api.post(url, json={"name": "k", "credential": credential})
            assert response.status_code == 422, (credential, response.text)

    async def test_an_account_that_does_not_exist_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.post(f"/v1/accounts/{OTHER}/webauthn/registrations")
        assert_problem(response, 404, "account_not_found")


class TestTheAccountsKeys:
    async def test_a_key_is_renamed_and_removed_with_a_notice(
        self, api: httpx.AsyncClient, device: SoftAuthenticator, mail: RecordingMailQueue
    ) -> None:
        (item,) = (await api.get(f"{KEYS}/credentials")).json()["items"]
        url = f"{KEYS}/credentials/{item['key_id']}"
        renamed = await api.patch(url, json={"name": "  Office key "})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Office key"
        assert (await api.delete(url)).status_code == 204
        assert mail.notices[-1].kind == "webauthn_removed"
        assert mail.notices[-1].details == {"name": "Office key"}
        assert (await api.get(f"{KEYS}/credentials")).json()["items"] == []
        assert_problem(await api.delete(url), 404, "security_key_not_found")
        login = await sign_in(api)
        assert "webauthn" not in login["methods"]
        assert login["webauthn"] is None

    @pytest.mark.parametrize("how", ["two-step off", "support reset", "account deleted"])
    async def test_turning_two_step_off_a_reset_or_deleting_removes_the_keys(
        self, api: httpx.AsyncClient, device: SoftAuthenticator, how: str
    ) -> None:
        if how == "two-step off":
            response = await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": False})
        elif how == "support reset":
            response = await api.post(f"/v1/accounts/{ACCOUNT}/two-step/reset")
        else:
            response = await api.delete(f"/v1/accounts/{ACCOUNT}")
        assert response.is_success, response.text
        if how == "account deleted":
            await new_account(api)
        else:
            enabled = await api.put(f"/v1/accounts/{ACCOUNT}/two-step", json={"enabled": True})
            assert enabled.is_success, enabled.text
        assert (await api.get(f"{KEYS}/credentials")).json()["items"] == []
        assert "webauthn" not in (await sign_in(api))["methods"]


class TestSigningIn:
    async def test_a_login_offers_the_key_and_its_answer_signs_in(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        login = await sign_in(api)
        assert login["method"] == "email"  # no preference: a key is one click away
        assert login["methods"] == ["email", "webauthn"]
        options = login["webauthn"]
        assert options["rpId"] == RP_ID
        assert len(unb64url(options["challenge"])) == 32
        (allowed,) = options["allowCredentials"]
        assert allowed["id"] == b64url(device.credentials[0].credential_id)
        assert sorted(allowed["transports"]) == ["nfc", "usb"]
        response = await answer(api, login["challenge_id"], device.get(options, ORIGIN))
        assert response.status_code == 200, response.text
        assert response.json()["account_id"] == ACCOUNT
        (item,) = (await api.get(f"{KEYS}/credentials")).json()["items"]
        assert item["last_used_at"] is not None
        events = (await api.get(f"/v1/accounts/{ACCOUNT}/events")).json()["items"]
        assert events[0]["type"] == "verified"
        assert events[0]["details"]["method"] == "webauthn"

    async def test_the_preferred_key_sends_no_email(
        self, api: httpx.AsyncClient, device: SoftAuthenticator, mail: RecordingMailQueue
    ) -> None:
        await api.put(
            f"/v1/accounts/{ACCOUNT}",
            json={"email": "u1@example.com", "preferred_method": "webauthn"},
        )
        sent = len(mail.codes)
        login = await sign_in(api)
        assert login["method"] == "webauthn"
        assert login["sent_to"] is None
        assert len(mail.codes) == sent
        ok = await answer(api, login["challenge_id"], device.get(login["webauthn"], ORIGIN))
        assert ok.status_code == 200, ok.text

    async def test_a_key_remembers_the_browser(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        login = await sign_in(api)
        credential = device.get(login["webauthn"], ORIGIN)
        response = await answer(api, login["challenge_id"], credential, remember_browser=True)
        token = response.json()["trusted_browser"]["token"]
        again = await api.post(
            "/v1/logins", json={"account_id": ACCOUNT, "trusted_browser_token": token}
        )
        assert again.json() == {"status": "not_required", "reason": "trusted_browser"}

    async def test_an_answer_is_good_once(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        login = await sign_in(api)
        credential = device.get(login["webauthn"], ORIGIN)
        assert (await answer(api, login["challenge_id"], credential)).status_code == 200
        replayed = await answer(api, login["challenge_id"], credential)
        assert_problem(replayed, 404, "challenge_not_found")

    async def test_an_answer_to_another_challenge_is_refused_and_counted(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        first, second = await sign_in(api), await sign_in(api)
        credential = device.get(first["webauthn"], ORIGIN)
        refused = await answer(api, second["challenge_id"], credential)
        problem = assert_problem(refused, 400, "invalid_assertion")
        assert problem["attempts_left"] == 4
        assert (await answer(api, first["challenge_id"], credential)).status_code == 200

    @pytest.mark.parametrize("wrong", ["origin", "rp_id", "challenge", "type"])
    async def test_an_answer_that_fails_a_check_counts_as_a_wrong_code(
        self, api: httpx.AsyncClient, device: SoftAuthenticator, wrong: str
    ) -> None:
        login = await sign_in(api)
        options = login["webauthn"]
        cid = device.credentials[0].credential_id
        if wrong == "origin":
            credential = device.get(options, "https://evil.example")
        elif wrong == "rp_id":
            credential = device.get(options, ORIGIN, rp_id="evil.example", credential_id=cid)
        elif wrong == "challenge":
            credential = device.get(options, ORIGIN, challenge=b"\x01" * 32)
        else:
            credential = device.get(options, ORIGIN, client_data_type="webauthn.create")
        problem = assert_problem(
            await answer(api, login["challenge_id"], credential), 400, "invalid_assertion"
        )
        assert problem["attempts_left"] == 4
        events = (await api.get(f"/v1/accounts/{ACCOUNT}/events")).json()["items"]
        assert events[0]["type"] == "verification_failed"

    async def test_a_key_not_registered_or_of_another_account_is_refused(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        await new_account(api, OTHER, "other@example.com")
        other_key = SoftAuthenticator()
        assert (await add_key(api, other_key, account=OTHER)).status_code == 201
        stranger = SoftAuthenticator()
        login = await sign_in(api)
        with pytest.raises(NoCredential):
            stranger.get(login["webauthn"], ORIGIN)  # a browser offers only allowed keys
        for key in (stranger, other_key):
            if key is stranger:
                key.create({"rp": {"id": RP_ID}, "user": {"id": "AA"}, "challenge": "AA"}, ORIGIN)
            credential = key.get(
                login["webauthn"], ORIGIN, credential_id=key.credentials[-1].credential_id
            )
            refused = await answer(api, login["challenge_id"], credential)
            assert_problem(refused, 400, "invalid_assertion")

    async def test_a_counter_that_goes_back_is_refused_as_a_possible_clone(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        login = await sign_in(api)
        assert (
            await answer(api, login["challenge_id"], device.get(login["webauthn"], ORIGIN))
        ).status_code == 200
        cid = device.credentials[0].credential_id
        device.set_sign_count(cid, 0)  # the next answer says 1: not past the last one
        login = await sign_in(api)
        refused = await answer(api, login["challenge_id"], device.get(login["webauthn"], ORIGIN))
        assert_problem(refused, 400, "invalid_assertion")
        events = (await api.get(f"/v1/accounts/{ACCOUNT}/events")).json()["items"]
        assert events[0]["type"] == "verification_failed"
        assert events[0]["details"]["reason"] == "sign_count_went_back"

    async def test_a_key_that_keeps_no_counter_signs_in_every_time(
        self, api: httpx.AsyncClient
    ) -> None:
        await new_account(api)
        passkey = SoftAuthenticator(counts_signatures=False, backup_eligible=True)
        assert (await add_key(api, passkey)).status_code == 201
        for _ in range(2):
            login = await sign_in(api)
            ok = await answer(api, login["challenge_id"], passkey.get(login["webauthn"], ORIGIN))
            assert ok.status_code == 200, ok.text

    async def test_malformed_answers_are_422_and_not_counted(
        self, api: httpx.AsyncClient, device: SoftAuthenticator
    ) -> None:
        login = await sign_in(api)
        good = device.get(login["webauthn"], ORIGIN)
        response = good["response"]
        for credential in (
            {},
            {"id": "!!"},
            {**good, "response": {**response, "authenticatorData": "AA"}},
            {**good, "response": {**response, "clientDataJSON": b64url(b"{not json")}},
            {**good, "response": "x"},
        ):
            bad = await answer(api, login["challenge_id"], credential)
            assert bad.status_code == 422, (credential, bad.text)
        for body in ({"method": "webauthn"}, {"method": "webauthn", "code": "123456"}):
            bad = await api.post(f"/v1/challenges/{login['challenge_id']}/verify", json=body)
            assert bad.status_code == 422, bad.text
        state = (await api.get(f"/v1/challenges/{login['challenge_id']}")).json()
        assert state["attempts_left"] == 5
        assert (await answer(api, login["challenge_id"], good)).status_code == 200

    async def test_asking_for_a_key_where_there_is_none_is_a_409(
        self, api: httpx.AsyncClient
    ) -> None:
        await new_account(api)
        response = await api.post("/v1/logins", json={"account_id": ACCOUNT, "method": "webauthn"})
        assert_problem(response, 409, "method_not_available")
        login = await sign_in(api)
        elsewhere = SoftAuthenticator()
        elsewhere.create({"rp": {"id": RP_ID}, "user": {"id": "AA"}, "challenge": "AA"}, ORIGIN)
        credential = elsewhere.get(
            {"rpId": RP_ID, "challenge": "AA"},
            ORIGIN,
            credential_id=elsewhere.credentials[0].credential_id,
        )
        refused = await answer(api, login["challenge_id"], credential)
        assert_problem(refused, 409, "method_not_available")


class TestUserVerificationRequired:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings(
            webauthn_rp_id=RP_ID, webauthn_origins=(ORIGIN,), webauthn_user_verification="required"
        )

    async def test_a_key_that_did_not_verify_its_user_is_refused(
        self, api: httpx.AsyncClient
    ) -> None:
        await new_account(api)
        lax = SoftAuthenticator(user_verifying=False)
        response = await add_key(api, lax)
        assert_problem(response, 400, "webauthn_refused")
        key = SoftAuthenticator()
        assert (await add_key(api, key)).status_code == 201
        key.user_verifying = False  # the same key, now answering without checking its user
        login = await sign_in(api)
        refused = await answer(api, login["challenge_id"], key.get(login["webauthn"], ORIGIN))
        assert_problem(refused, 400, "invalid_assertion")


class TestNotConfigured:
    @pytest.fixture
    def settings(self) -> Settings:
        return make_settings()

    async def test_keys_are_off_without_a_relying_party(self, api: httpx.AsyncClient) -> None:
        await new_account(api)
        response = await api.post(f"{KEYS}/registrations")
        assert_problem(response, 409, "webauthn_not_configured")
        assert (await sign_in(api))["webauthn"] is None
