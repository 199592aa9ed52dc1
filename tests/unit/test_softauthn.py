"""The software authenticator (``tests/softauthn.py``) checked against py_webauthn's verifier.

The service verifies WebAuthn responses with py_webauthn, so these tests show two things: that
what ``SoftAuthenticator`` sends passes as a real authenticator's would, for each algorithm the
service offers; and that each of its hostile knobs produces a response the verifier refuses, so
a service test using a knob fails for the reason it means to. Some tests also pin down how
py_webauthn behaves where the service depends on it (sign counts of 0, which exception a
failure raises, padding in base64url).
"""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest
import webauthn
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidBackupFlags,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from tests.softauthn import (
    Algorithm,
    AlgorithmNotOffered,
    CredentialExcluded,
    NoCredential,
    SoftAuthenticator,
    b64url,
    unb64url,
)

RP_ID = "portal.example"
ORIGIN = "https://portal.example"
USER_ID = b"user-0001"

COSE_IDS: dict[Algorithm, COSEAlgorithmIdentifier] = {
    "ES256": COSEAlgorithmIdentifier.ECDSA_SHA_256,
    "EdDSA": COSEAlgorithmIdentifier.EDDSA,
    "RS256": COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
}
ALL_ALGS = list(COSE_IDS.values())
ALGORITHMS = list(COSE_IDS)


def registration_options(
    exclude: list[bytes] | None = None,
    algs: list[COSEAlgorithmIdentifier] | None = None,
    resident_key: ResidentKeyRequirement | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Creation options as the service would send them (JSON, parsed), and their challenge."""
    options = webauthn.generate_registration_options(
        rp_id=RP_ID,
        rp_name="Example",
        user_name="u@example.com",
        user_id=USER_ID,
        supported_pub_key_algs=algs or ALL_ALGS,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in exclude or []],
        authenticator_selection=(
            AuthenticatorSelectionCriteria(resident_key=resident_key) if resident_key else None
        ),
    )
    return json.loads(webauthn.options_to_json(options)), options.challenge


def authentication_options(allow: list[bytes]) -> tuple[dict[str, Any], bytes]:
    options = webauthn.generate_authentication_options(
        rp_id=RP_ID, allow_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in allow]
    )
    return json.loads(webauthn.options_to_json(options)), options.challenge


def register(authenticator: SoftAuthenticator, **create_kwargs: Any) -> VerifiedRegistration:
    options, challenge = registration_options()
    response = authenticator.create(options, ORIGIN, **create_kwargs)
    return webauthn.verify_registration_response(
        credential=response,
        expected_challenge=challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
    )


def authenticate(
    authenticator: SoftAuthenticator,
    public_key: bytes,
    current_count: int,
    *,
    allow: list[bytes],
    require_user_verification: bool = False,
    **get_kwargs: Any,
) -> VerifiedAuthentication:
    options, challenge = authentication_options(allow)
    response = authenticator.get(options, ORIGIN, **get_kwargs)
    return verify_assertion(response, challenge, public_key, current_count,
                            require_user_verification=require_user_verification)  # fmt: skip


def verify_assertion(
    response: dict[str, Any],
    challenge: bytes,
    public_key: bytes,
    current_count: int = 0,
    *,
    require_user_verification: bool = False,
) -> VerifiedAuthentication:
    """What the API checks of a key's answer (py_webauthn), for this RP and origin."""
    return webauthn.verify_authentication_response(
        credential=response,
        expected_challenge=challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        credential_public_key=public_key,
        credential_current_sign_count=current_count,
        require_user_verification=require_user_verification,
    )


# --- the honest path, for each algorithm ---------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_registers_and_signs_in_with_each_algorithm(algorithm: Algorithm) -> None:
    authenticator = SoftAuthenticator(algorithm=algorithm)
    options, challenge = registration_options()
    response = authenticator.create(options, ORIGIN)
    # The service receives it as the request body, a JSON string.
    registration = webauthn.verify_registration_response(
        credential=json.dumps(response),
        expected_challenge=challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )
    [credential] = authenticator.credentials
    assert registration.credential_id == credential.credential_id == unb64url(response["id"])
    assert 16 <= len(credential.credential_id) <= 32
    assert registration.sign_count == 0
    assert registration.fmt == "none"
    assert registration.user_verified
    assert registration.aaguid == "00000000-0000-0000-0000-000000000000"
    assert registration.credential_device_type == CredentialDeviceType.SINGLE_DEVICE
    assert not registration.credential_backed_up
    assert cbor2.loads(registration.credential_public_key)[3] == COSE_IDS[algorithm]
    assert response["response"]["publicKeyAlgorithm"] == COSE_IDS[algorithm]
    assert response["response"]["transports"] == ["internal"]
    assert response["authenticatorAttachment"] == "platform"

    count = registration.sign_count
    for expected in (1, 2):
        verified = authenticate(
            authenticator,
            registration.credential_public_key,
            count,
            allow=[registration.credential_id],
            require_user_verification=True,
        )
        assert verified.credential_id == registration.credential_id
        assert verified.new_sign_count == expected
        assert verified.user_verified
        count = verified.new_sign_count


def test_a_passkey_that_does_not_count_signs_in_with_zero_every_time() -> None:
    # py_webauthn accepts a response count of 0 while the stored count is 0 too: the
    # replay check only applies once either of them is above 0.
    authenticator = SoftAuthenticator(counts_signatures=False)
    registration = register(authenticator)
    for _ in range(3):
        verified = authenticate(
            authenticator, registration.credential_public_key, 0, allow=[registration.credential_id]
        )
        assert verified.new_sign_count == 0


def test_a_count_of_zero_after_a_count_above_zero_is_refused() -> None:
    authenticator = SoftAuthenticator(counts_signatures=False)
    registration = register(authenticator)
    with pytest.raises(InvalidAuthenticationResponse, match="sign count of 0"):
        authenticate(
            authenticator, registration.credential_public_key, 5, allow=[registration.credential_id]
        )


def test_a_rewound_counter_is_refused_as_a_cloned_key() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    key, cid = registration.credential_public_key, registration.credential_id
    authenticator.set_sign_count(cid, 41)
    assert authenticate(authenticator, key, 0, allow=[cid]).new_sign_count == 42
    authenticator.set_sign_count(cid, 10)
    with pytest.raises(InvalidAuthenticationResponse, match="was not greater than current"):
        authenticate(authenticator, key, 42, allow=[cid])
    # Equal is refused too: the count has to grow.
    authenticator.set_sign_count(cid, 41)
    with pytest.raises(InvalidAuthenticationResponse, match="was not greater than current"):
        authenticate(authenticator, key, 42, allow=[cid])


def test_a_security_key_reports_usb_and_cross_platform() -> None:
    authenticator = SoftAuthenticator(transports=["usb", "nfc"], aaguid=bytes(range(16)))
    options, challenge = registration_options()
    response = authenticator.create(options, ORIGIN)
    assert response["authenticatorAttachment"] == "cross-platform"
    assert response["response"]["transports"] == ["usb", "nfc"]
    registration = webauthn.verify_registration_response(
        credential=response,
        expected_challenge=challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
    )
    assert registration.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"


# --- choosing a credential ---------------------------------------------------------------


def test_get_uses_the_listed_credential_it_holds() -> None:
    authenticator = SoftAuthenticator()
    first = register(authenticator)
    second = register(authenticator)
    other = SoftAuthenticator()
    register(other)
    options, _ = authentication_options([other.credentials[0].credential_id, second.credential_id])
    response = authenticator.get(options, ORIGIN)
    assert unb64url(response["rawId"]) == second.credential_id
    # A non-discoverable credential comes back without a user handle.
    assert "userHandle" not in response["response"]
    # Asked for outright, any credential it holds signs, listed or not.
    response = authenticator.get(options, ORIGIN, credential_id=first.credential_id)
    assert unb64url(response["rawId"]) == first.credential_id


def test_get_raises_when_none_of_its_credentials_is_listed() -> None:
    authenticator = SoftAuthenticator()
    register(authenticator)
    options, _ = authentication_options([b"someone else's key"])
    with pytest.raises(NoCredential):
        authenticator.get(options, ORIGIN)
    with pytest.raises(NoCredential):
        authenticator.get(options, ORIGIN, credential_id=b"never made")
    # Listed, but made for another RP ID.
    options, _ = authentication_options([authenticator.credentials[0].credential_id])
    with pytest.raises(NoCredential):
        authenticator.get(options, "https://other.example", rp_id="other.example")


def test_an_empty_allow_list_finds_a_discoverable_credential_and_its_user() -> None:
    authenticator = SoftAuthenticator()
    register(authenticator)  # default options: residentKey absent, so not discoverable
    options, _ = authentication_options([])
    with pytest.raises(NoCredential):
        authenticator.get(options, ORIGIN)

    reg_options, challenge = registration_options(resident_key=ResidentKeyRequirement.REQUIRED)
    registration = webauthn.verify_registration_response(
        credential=authenticator.create(reg_options, ORIGIN),
        expected_challenge=challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
    )
    options, challenge = authentication_options([])
    response = authenticator.get(options, ORIGIN)
    assert unb64url(response["rawId"]) == registration.credential_id
    assert unb64url(response["response"]["userHandle"]) == USER_ID
    verify_assertion(response, challenge, registration.credential_public_key)


def test_a_new_discoverable_credential_replaces_the_old_one_for_the_same_user() -> None:
    authenticator = SoftAuthenticator(discoverable=True)
    first = register(authenticator)
    second = register(authenticator)
    assert [c.credential_id for c in authenticator.credentials] == [second.credential_id]
    assert first.credential_id != second.credential_id


# --- registration refusals ---------------------------------------------------------------


def test_an_excluded_credential_raises() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options, _ = registration_options(exclude=[b"another key", registration.credential_id])
    with pytest.raises(CredentialExcluded):
        authenticator.create(options, ORIGIN)
    assert len(authenticator.credentials) == 1
    # Another authenticator is not excluded by this one's credential.
    SoftAuthenticator().create(options, ORIGIN)


def test_an_algorithm_not_offered_raises() -> None:
    options, _ = registration_options(algs=[COSEAlgorithmIdentifier.ECDSA_SHA_256])
    with pytest.raises(AlgorithmNotOffered):
        SoftAuthenticator(algorithm="EdDSA").create(options, ORIGIN)
    # An empty pubKeyCredParams means ES256 and RS256 (WebAuthn §5.1.3).
    options["pubKeyCredParams"] = []
    SoftAuthenticator(algorithm="ES256").create(options, ORIGIN)
    with pytest.raises(AlgorithmNotOffered):
        SoftAuthenticator(algorithm="EdDSA").create(options, ORIGIN)


@pytest.mark.parametrize(
    ("create_kwargs", "origin", "message"),
    [
        ({}, "https://evil.example", "Unexpected client data origin"),
        ({"rp_id": "evil.example"}, ORIGIN, "Unexpected RP ID hash"),
        ({"challenge": b"another challenge"}, ORIGIN, "challenge was not expected"),
        ({"client_data_type": "webauthn.get"}, ORIGIN, "Unexpected client data type"),
    ],
)
def test_hostile_registrations_are_refused(
    create_kwargs: dict[str, Any], origin: str, message: str
) -> None:
    options, challenge = registration_options()
    response = SoftAuthenticator().create(options, origin, **create_kwargs)
    with pytest.raises(InvalidRegistrationResponse, match=message):
        webauthn.verify_registration_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
        )


def test_registration_without_user_verification() -> None:
    authenticator = SoftAuthenticator(user_verifying=False)
    options, challenge = registration_options()
    response = authenticator.create(options, ORIGIN)
    kwargs: dict[str, Any] = {
        "credential": response,
        "expected_challenge": challenge,
        "expected_rp_id": RP_ID,
        "expected_origin": ORIGIN,
    }
    assert not webauthn.verify_registration_response(**kwargs).user_verified
    with pytest.raises(InvalidRegistrationResponse, match="User verification is required"):
        webauthn.verify_registration_response(**kwargs, require_user_verification=True)


# --- authentication refusals -------------------------------------------------------------


@pytest.mark.parametrize(
    ("get_kwargs", "origin", "message"),
    [
        ({}, "https://evil.example", "Unexpected client data origin"),
        ({"rp_id": "evil.example"}, ORIGIN, "Unexpected RP ID hash"),
        ({"challenge": b"another challenge"}, ORIGIN, "challenge was not expected"),
        ({"client_data_type": "webauthn.create"}, ORIGIN, "Unexpected client data type"),
        ({"client_data_type": "payment.get"}, ORIGIN, "Unexpected client data type"),
    ],
)
def test_hostile_assertions_are_refused(
    get_kwargs: dict[str, Any], origin: str, message: str
) -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options, challenge = authentication_options([registration.credential_id])
    response = authenticator.get(
        options, origin, credential_id=registration.credential_id, **get_kwargs
    )
    with pytest.raises(InvalidAuthenticationResponse, match=message):
        verify_assertion(response, challenge, registration.credential_public_key)


def test_an_assertion_without_user_verification() -> None:
    authenticator = SoftAuthenticator(user_verifying=False)
    registration = register(authenticator)
    key, cid = registration.credential_public_key, registration.credential_id
    assert not authenticate(authenticator, key, 0, allow=[cid]).user_verified
    with pytest.raises(InvalidAuthenticationResponse, match="User verification is required"):
        authenticate(authenticator, key, 1, allow=[cid], require_user_verification=True)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("field", ["signature", "authenticatorData", "clientDataJSON"])
def test_a_tampered_assertion_is_refused(algorithm: Algorithm, field: str) -> None:
    authenticator = SoftAuthenticator(algorithm=algorithm)
    registration = register(authenticator)
    options, challenge = authentication_options([registration.credential_id])
    response = authenticator.get(options, ORIGIN)
    raw = bytearray(unb64url(response["response"][field]))
    if field == "clientDataJSON":
        # Still valid JSON with the right type, challenge and origin: only the signature tells.
        raw = bytearray(raw.replace(b'"crossOrigin":false', b'"crossOrigin":true'))
    else:
        raw[-1] ^= 0x01  # the last signature byte, or the sign count's low byte
    response["response"][field] = b64url(bytes(raw))
    with pytest.raises(InvalidAuthenticationResponse, match="Could not verify"):
        verify_assertion(response, challenge, registration.credential_public_key)


def test_another_credentials_key_does_not_verify() -> None:
    authenticator = SoftAuthenticator()
    first = register(authenticator)
    second = register(authenticator)
    with pytest.raises(InvalidAuthenticationResponse, match="Could not verify"):
        authenticate(authenticator, first.credential_public_key, 0, allow=[second.credential_id])


# --- backup flags ------------------------------------------------------------------------


def test_a_synced_passkey_is_multi_device_and_backed_up() -> None:
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=True, counts_signatures=False)
    registration = register(authenticator)
    assert registration.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    assert registration.credential_backed_up
    verified = authenticate(
        authenticator, registration.credential_public_key, 0, allow=[registration.credential_id]
    )
    assert verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    assert verified.credential_backed_up
    # Backup state may change between ceremonies; eligibility may not, but the verifier
    # reports each ceremony's flags as they come.
    authenticator.backed_up = False
    verified = authenticate(
        authenticator, registration.credential_public_key, 0, allow=[registration.credential_id]
    )
    assert verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    assert not verified.credential_backed_up


def test_backed_up_without_backup_eligible_raises_invalid_backup_flags() -> None:
    # Not InvalidRegistrationResponse: py_webauthn lets InvalidBackupFlags through, so a
    # service catching only the *Response exceptions would answer 500 to this.
    authenticator = SoftAuthenticator(backed_up=True)
    with pytest.raises(InvalidBackupFlags):
        register(authenticator)
    assert not issubclass(InvalidBackupFlags, InvalidRegistrationResponse)


# --- base64url ---------------------------------------------------------------------------


def test_b64url_round_trips_without_padding() -> None:
    for size in range(8):
        data = bytes(range(250, 250 + size % 6)) + b"\xfb\xff" * size
        text = b64url(data)
        assert "=" not in text
        assert "+" not in text
        assert "/" not in text
        assert unb64url(text) == data
        assert unb64url(text + "=" * (-len(text) % 4)) == data


def test_unb64url_refuses_characters_outside_the_alphabet() -> None:
    with pytest.raises(ValueError):
        unb64url("ab+/")
    with pytest.raises(ValueError):
        unb64url("ab cd")


def test_py_webauthn_takes_padded_values_but_not_a_padded_id() -> None:
    authenticator = SoftAuthenticator(algorithm="EdDSA")
    registration = register(authenticator)
    options, challenge = authentication_options([registration.credential_id])
    response = authenticator.get(options, ORIGIN)

    def padded(text: str) -> str:
        return text + "=" * (-len(text) % 4)

    # 37 bytes of authenticator data and a 64-byte signature always need "==".
    for field in ("clientDataJSON", "authenticatorData", "signature"):
        response["response"][field] = padded(response["response"][field])
    assert response["response"]["signature"].endswith("==")
    response["rawId"] = padded(response["rawId"])
    verify_assertion(response, challenge, registration.credential_public_key)

    # id is compared as text with py_webauthn's own unpadded encoding of rawId.
    response["id"] = response["id"] + "=="
    with pytest.raises(InvalidAuthenticationResponse, match="id and raw_id were not equivalent"):
        verify_assertion(response, challenge, registration.credential_public_key)
