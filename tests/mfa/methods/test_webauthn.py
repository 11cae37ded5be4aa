"""WebAuthn rules (mfa.methods.webauthn) driven by the software authenticator: options as the
browser's JSON helpers take them, registration and assertion round trips for a plain key and a
passkey, every refusal the issue lists, malformed input ending only as InvalidCredential, the
settings and the origin check mfa.E005."""

from __future__ import annotations

import copy
import json
from http import HTTPStatus

import pytest

from mfa.checks import check_webauthn_origins
from mfa.exceptions import CounterRegression, InvalidCredential, WebAuthnNotConfigured
from mfa.methods import webauthn
from mfa.methods.webauthn import RelyingParty
from tests.authsite.helpers import PRODUCTION, run_with_settings
from tests.webauthn_authenticator import SoftAuthenticator, b64url, unb64url

RP = RelyingParty(id="localhost", name="AuthSite", origins=("http://localhost:8000",))
USER_HANDLE = bytes(range(64))


def register(auth: SoftAuthenticator, *, passkey: bool, rp: RelyingParty = RP):
    challenge = webauthn.new_challenge()
    options = webauthn.registration_options(
        rp, challenge=challenge, user_handle=USER_HANDLE, user_name="ada@example.com",
        display_name="Ada", exclude=[], passkey=passkey,
    )
    answer = auth.create(options)
    return answer, webauthn.verify_registration(rp, credential=answer, challenge=challenge, passkey=passkey)


def assertion_options(allow=None, uv="preferred"):
    challenge = webauthn.new_challenge()
    return challenge, webauthn.authentication_options(RP, challenge=challenge, allow=allow or [],
                                                     user_verification=uv)


def authenticate(auth, new, *, sign_count=None, require_uv=False, allow=True, **get):
    allow_list = [(new.credential_id, new.transports)] if allow else []
    challenge, options = assertion_options(allow_list, "required" if require_uv else "preferred")
    answer = auth.get(options, **get)
    return answer, webauthn.verify_authentication(
        RP, credential=answer, challenge=challenge, public_key=new.public_key,
        sign_count=new.sign_count if sign_count is None else sign_count,
        backup_eligible=new.backup_eligible, require_uv=require_uv,
    )


# --- Options ------------------------------------------------------------------------------------------


def test_registration_options_for_a_plain_key_are_level3_json():
    challenge = b"c" * 32
    options = webauthn.registration_options(
        RP, challenge=challenge, user_handle=USER_HANDLE, user_name="ada@example.com", display_name="Ada",
        exclude=[(b"old-key", ["usb", "nfc"]), (b"other", ["some-future-transport"])], passkey=False,
    )
    json.dumps(options)  # plain JSON, ready for parseCreationOptionsFromJSON
    assert options["challenge"] == b64url(challenge)
    assert options["rp"] == {"id": "localhost", "name": "AuthSite"}
    assert options["user"] == {"id": b64url(USER_HANDLE), "name": "ada@example.com", "displayName": "Ada"}
    assert options["excludeCredentials"] == [
        {"id": b64url(b"old-key"), "type": "public-key", "transports": ["usb", "nfc"]},
        {"id": b64url(b"other"), "type": "public-key"},  # unknown transports are only hints
    ]
    assert options["authenticatorSelection"]["residentKey"] == "discouraged"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["timeout"] == 300_000
    assert options["extensions"] == {"credProps": True}


def test_registration_options_for_a_passkey_require_a_resident_key_and_uv():
    options = webauthn.registration_options(
        RP, challenge=b"c" * 32, user_handle=USER_HANDLE, user_name="ada", display_name="", exclude=[],
        passkey=True,
    )
    selection = options["authenticatorSelection"]
    assert selection["residentKey"] == "required" and selection["userVerification"] == "required"
    assert options["excludeCredentials"] == [] and options["user"]["displayName"] == "ada"


def test_authentication_options_for_a_second_factor_and_for_passkey_login():
    challenge = b"d" * 32
    second = webauthn.authentication_options(RP, challenge=challenge, allow=[(b"k1", ["usb"])],
                                             user_verification="preferred")
    assert second["challenge"] == b64url(challenge) and second["rpId"] == "localhost"
    assert second["allowCredentials"] == [{"id": b64url(b"k1"), "type": "public-key", "transports": ["usb"]}]
    assert second["userVerification"] == "preferred"
    passkey = webauthn.authentication_options(RP, challenge=challenge, allow=[], user_verification="required")
    assert passkey["allowCredentials"] == [] and passkey["userVerification"] == "required"
    with pytest.raises(ValueError, match="user_verification"):
        webauthn.authentication_options(RP, challenge=challenge, allow=[], user_verification="always")


def test_challenges_and_user_handles_are_fresh_random_bytes():
    assert len(webauthn.new_challenge()) == 32 and webauthn.new_challenge() != webauthn.new_challenge()
    assert len(webauthn.new_user_handle()) == 64 and webauthn.new_user_handle() != webauthn.new_user_handle()


# --- Round trips --------------------------------------------------------------------------------------


def test_plain_security_key_registers_and_signs_in():
    auth = SoftAuthenticator(uv=False, resident=False)
    answer, new = register(auth, passkey=False)
    assert new.credential_id == unb64url(answer["rawId"]) and new.sign_count == 0
    assert new.transports == ["usb"] and new.aaguid == "00000000-0000-0000-0000-000000000000"
    assert (new.backup_eligible, new.backed_up, new.discoverable) == (False, False, False)
    assert webauthn.credential_id_of(answer) == new.credential_id

    answer, result = authenticate(auth, new)
    assert result == webauthn.Assertion(new_sign_count=1, user_verified=False, backed_up=False)
    assert webauthn.user_handle_of(answer) is None
    _, again = authenticate(auth, new, sign_count=result.new_sign_count)
    assert again.new_sign_count == 2


def test_passkey_registers_and_signs_in_without_allow_list_returning_the_user_handle():
    auth = SoftAuthenticator(backup_eligible=True, backed_up=True)
    _, new = register(auth, passkey=True)
    assert new.discoverable and new.backup_eligible and new.backed_up
    answer, result = authenticate(auth, new, require_uv=True, allow=False)
    assert result.user_verified and result.backed_up
    assert webauthn.user_handle_of(answer) == USER_HANDLE
    assert webauthn.credential_id_hash(webauthn.credential_id_of(answer)) == webauthn.credential_id_hash(
        new.credential_id)


def test_cred_props_make_a_plain_registration_discoverable():
    _, new = register(SoftAuthenticator(resident=True), passkey=False)
    assert new.discoverable and new.transports == ["internal"]


def test_synced_passkey_counter_zero_to_zero_is_accepted():
    auth = SoftAuthenticator(backup_eligible=True)
    auth.counter = 0
    _, new = register(auth, passkey=True)
    for _ in range(3):
        _, result = authenticate(auth, new, require_uv=True)
        assert result.new_sign_count == 0


def test_credential_id_hash_is_sha256_hex():
    assert webauthn.credential_id_hash(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


# --- Refusals: registration ----------------------------------------------------------------------------


def refused_registration(auth, *, passkey=False, challenge=None, mutate=None, rp=RP):
    real = webauthn.new_challenge()
    options = webauthn.registration_options(rp, challenge=real, user_handle=USER_HANDLE, user_name="ada",
                                            display_name="Ada", exclude=[], passkey=passkey)
    answer = auth.create(options)
    if mutate:
        mutate(answer)
    with pytest.raises(InvalidCredential) as caught:
        webauthn.verify_registration(rp, credential=answer, challenge=challenge or real, passkey=passkey)
    assert caught.value.reason
    return caught.value


def test_registration_from_another_origin_is_refused():
    error = refused_registration(SoftAuthenticator(origin="https://evil.example"))
    assert "origin" in error.reason


def test_registration_for_another_rp_id_is_refused():
    error = refused_registration(SoftAuthenticator(rp_id="evil.example"))
    assert "RP ID hash" in error.reason


def test_registration_with_another_challenge_is_refused():
    error = refused_registration(SoftAuthenticator(), challenge=webauthn.new_challenge())
    assert "challenge" in error.reason


def test_registration_cross_origin_is_refused():
    auth = SoftAuthenticator()
    auth.cross_origin = True
    assert "crossOrigin" in refused_registration(auth).reason


def test_registration_backed_up_without_backup_eligible_is_refused():
    error = refused_registration(SoftAuthenticator(backup_eligible=False, backed_up=True))
    assert "InvalidBackupFlags" in error.reason


def test_passkey_registration_without_uv_is_refused_and_plain_key_without_uv_is_not():
    assert "verif" in refused_registration(SoftAuthenticator(uv=False), passkey=True).reason
    register(SoftAuthenticator(uv=False), passkey=False)  # raises if refused


def test_registration_answer_given_as_an_assertion_is_refused():
    auth = SoftAuthenticator()
    register(auth, passkey=True)
    challenge, options = assertion_options()
    with pytest.raises(InvalidCredential):
        webauthn.verify_registration(RP, credential=auth.get(options), challenge=challenge, passkey=True)


def test_registration_whose_raw_id_is_not_the_attested_id_is_refused():
    def swap(answer):
        answer["id"] = answer["rawId"] = b64url(b"another id")
    assert refused_registration(SoftAuthenticator(), mutate=swap).reason


# --- Refusals: authentication --------------------------------------------------------------------------


def refused_assertion(auth, new, *, exception=InvalidCredential, **kwargs):
    with pytest.raises(exception) as caught:
        authenticate(auth, new, **kwargs)
    assert caught.value.reason
    return caught.value


def test_assertion_from_another_origin_is_refused():
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=False)
    auth.origin = "http://localhost:8001"
    assert "origin" in refused_assertion(auth, new).reason


def test_assertion_with_another_rp_id_hash_is_refused():
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=False)
    auth.rp_id = "example.com"
    assert "RP ID hash" in refused_assertion(auth, new).reason


def test_assertion_for_another_challenge_is_refused():
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=False)
    _, options = assertion_options()
    answer = auth.get(options)
    with pytest.raises(InvalidCredential) as caught:
        webauthn.verify_authentication(RP, credential=answer, challenge=webauthn.new_challenge(),
                                       public_key=new.public_key, sign_count=0, backup_eligible=False, require_uv=False)
    assert "challenge" in caught.value.reason


def test_counter_going_back_is_a_counter_regression():
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=False)
    _, first = authenticate(auth, new)  # count 1
    auth.counter = 1  # a clone replays the same count
    error = refused_assertion(auth, new, sign_count=first.new_sign_count, exception=CounterRegression)
    assert (error.stored, error.received) == (1, 1) and isinstance(error, InvalidCredential)
    auth.counter = 0  # a counter that fell back to zero after counting
    error = refused_assertion(auth, new, sign_count=5, exception=CounterRegression)
    assert (error.stored, error.received) == (5, 0)
    assert error.code == "invalid_credential"


def test_counter_regression_is_only_reported_for_a_good_signature():
    auth, other = SoftAuthenticator(), SoftAuthenticator()
    _, new = register(auth, passkey=False)
    _, stranger = register(other, passkey=False)
    other.counter = 1
    challenge, options = assertion_options()
    answer = other.get(options, credential_id=stranger.credential_id)
    with pytest.raises(InvalidCredential) as caught:
        webauthn.verify_authentication(RP, credential=answer, challenge=challenge, public_key=new.public_key,
                                       sign_count=9, backup_eligible=False, require_uv=False)
    assert not isinstance(caught.value, CounterRegression)


def test_assertion_without_uv_is_refused_when_required_and_accepted_otherwise():
    auth = SoftAuthenticator(uv=False)
    _, new = register(auth, passkey=False)
    assert "verif" in refused_assertion(auth, new, require_uv=True).reason
    _, result = authenticate(auth, new, require_uv=False)
    assert not result.user_verified


def test_assertion_cross_origin_is_refused():
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=True)
    auth.cross_origin = True
    assert "crossOrigin" in refused_assertion(auth, new).reason


@pytest.mark.parametrize("value", [True, "false", 1, "yes"])
def test_any_cross_origin_but_false_is_refused(value):
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=True)
    auth.cross_origin = value
    assert "crossOrigin" in refused_assertion(auth, new).reason


def test_a_top_origin_is_refused_at_registration_and_assertion():
    """clientDataJSON.topOrigin says an iframe ran the ceremony inside another page (WebAuthn L3
    5.8.1): refused even with crossOrigin false, as this site never runs one in an iframe."""
    auth = SoftAuthenticator()
    auth.top_origin = "https://evil.example"
    assert "topOrigin" in refused_registration(auth).reason
    auth.top_origin = None
    _, new = register(auth, passkey=True)
    auth.top_origin = "http://localhost:8000"  # even this site's own origin as the top page
    assert "topOrigin" in refused_assertion(auth, new).reason


def test_assertion_backed_up_without_backup_eligible_is_refused():
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=True)
    auth.backed_up = True
    assert "InvalidBackupFlags" in refused_assertion(auth, new).reason


@pytest.mark.parametrize("registered_be", [False, True])
def test_assertion_whose_backup_eligibility_differs_from_the_registered_one_is_refused(registered_be):
    """WebAuthn L3 7.2: BE is fixed at creation. A flip would also turn the login's amr from "hwk"
    to "swk" or back, which is read from the stored value."""
    auth = SoftAuthenticator(backup_eligible=registered_be)
    _, new = register(auth, passkey=True)
    assert new.backup_eligible is registered_be
    authenticate(auth, new)  # unchanged: accepted
    auth.backup_eligible = not registered_be
    assert "BE flag" in refused_assertion(auth, new).reason


def test_assertion_signed_by_another_credential_is_refused():
    auth = SoftAuthenticator()
    _, mine = register(auth, passkey=False)
    _, theirs = register(auth, passkey=False)
    challenge, options = assertion_options()
    answer = auth.get(options, credential_id=theirs.credential_id)
    with pytest.raises(InvalidCredential) as caught:
        webauthn.verify_authentication(RP, credential=answer, challenge=challenge, public_key=mine.public_key,
                                       sign_count=0, backup_eligible=False, require_uv=False)
    assert "signature" in caught.value.reason


def test_tampered_authenticator_data_breaks_the_signature():
    auth = SoftAuthenticator(uv=False)
    _, new = register(auth, passkey=False)
    challenge, options = assertion_options()
    answer = auth.get(options)
    data = bytearray(unb64url(answer["response"]["authenticatorData"]))
    data[32] |= 0x04  # claim UV after signing
    answer["response"]["authenticatorData"] = b64url(bytes(data))
    with pytest.raises(InvalidCredential) as caught:
        webauthn.verify_authentication(RP, credential=answer, challenge=challenge, public_key=new.public_key,
                                       sign_count=0, backup_eligible=False, require_uv=True)
    assert "signature" in caught.value.reason


def test_omitted_user_handle_reads_as_none():
    auth = SoftAuthenticator()
    _, new = register(auth, passkey=True)
    auth.omit_user_handle = True
    answer, result = authenticate(auth, new, require_uv=True, allow=False)
    assert webauthn.user_handle_of(answer) is None and result.user_verified


def test_user_handle_of_refuses_malformed_and_oversized_handles():
    for value in [5, ["x"], "!!", b64url(bytes(65)), "A"]:
        with pytest.raises(InvalidCredential):
            webauthn.user_handle_of({"response": {"userHandle": value}})
    assert webauthn.user_handle_of({"response": {"userHandle": None}}) is None


# --- Malformed input ends as InvalidCredential, never another exception ---------------------------------


def _valid_pair():
    auth = SoftAuthenticator()
    reg_challenge = webauthn.new_challenge()
    options = webauthn.registration_options(RP, challenge=reg_challenge, user_handle=USER_HANDLE,
                                            user_name="ada", display_name="Ada", exclude=[], passkey=True)
    registration = auth.create(options)
    new = webauthn.verify_registration(RP, credential=registration, challenge=reg_challenge, passkey=True)
    challenge, options = assertion_options()
    return registration, reg_challenge, auth.get(options), challenge, new


REGISTRATION, REG_CHALLENGE, ASSERTION, AUTH_CHALLENGE, NEW = _valid_pair()

NASTY_VALUES = [
    None, True, 0, -1, 2**70, 1.5, float("nan"), "", " ", "=", "A", "AB=", "A===", "AAAA====", "not base64!",
    "é", "\x00", "\ud800", "A" * 200_000, [], [None], {}, {"a": 1}, b"bytes", [[[[[]]]]],
]


def _paths(value, prefix=()):
    """Every key path in a JSON-like value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))


def _replaced(document, path, value):
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def _removed(document, path):
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copied


def readers(registration, assertion):
    """A call of every function that reads what a browser sent: each malformed-input test runs
    them all, so a new reader added here is covered by every one of them."""
    return (
        lambda: webauthn.verify_registration(RP, credential=registration, challenge=REG_CHALLENGE, passkey=False),
        lambda: webauthn.verify_authentication(RP, credential=assertion, challenge=AUTH_CHALLENGE,
                                               public_key=NEW.public_key, sign_count=0, backup_eligible=False, require_uv=False),
        lambda: webauthn.credential_id_of(assertion),
        lambda: webauthn.user_handle_of(assertion),
    )


def verify_both(registration, assertion):
    """Run every reader over possibly malformed input; only InvalidCredential may come out."""
    for call in readers(registration, assertion):
        try:
            call()
        except InvalidCredential as exc:
            assert exc.code == "invalid_credential" and exc.reason
        # any other exception fails the test


@pytest.mark.parametrize("value", NASTY_VALUES, ids=lambda v: repr(v)[:20])
def test_whole_credential_malformed_raises_only_invalid_credential(value):
    for call in readers(value, value):
        with pytest.raises(InvalidCredential):
            call()


@pytest.mark.parametrize("value", NASTY_VALUES, ids=lambda v: repr(v)[:20])
def test_every_field_replaced_by_a_nasty_value_raises_only_invalid_credential(value):
    for path in _paths(REGISTRATION):
        verify_both(_replaced(REGISTRATION, path, value), ASSERTION)
    for path in _paths(ASSERTION):
        verify_both(REGISTRATION, _replaced(ASSERTION, path, value))


def test_every_field_removed_raises_only_invalid_credential():
    for path in _paths(REGISTRATION):
        verify_both(_removed(REGISTRATION, path), ASSERTION)
    for path in _paths(ASSERTION):
        verify_both(REGISTRATION, _removed(ASSERTION, path))


def _encoded(document, path, raw: bytes):
    return _replaced(document, path, b64url(raw))


CBOR_AND_JSON_GARBAGE = [
    b"", b"\x00", b"\xff" * 40, b"\xa0", b"\x9f" * 1000, b"\xbf" * 1000, b"\x5b" + b"\xff" * 8,
    b"\xa1\x61a\xd9\xd9\xf7\x00", b"{}", b"[]", b"null", b'{"type":"webauthn.get"}', b"[" * 5000,
    b'{"type":"webauthn.create","challenge":5,"origin":"x"}', b'{"type":1,"challenge":"","origin":null}',
    b"\xa3cfmtdnonegattStmt\xa0hauthData\x40",  # authData empty
    b"\xa3cfmtfpackedgattStmt\xa0hauthData\x40",
    b"\x81" * 40_000 + b"\x00",  # nested deeper than any decoder should recurse
]


@pytest.mark.parametrize("raw", CBOR_AND_JSON_GARBAGE, ids=lambda v: repr(v)[:24])
def test_binary_fields_holding_garbage_raise_only_invalid_credential(raw):
    for key in ("clientDataJSON", "attestationObject"):
        verify_both(_encoded(REGISTRATION, ("response", key), raw), ASSERTION)
    for key in ("clientDataJSON", "authenticatorData", "signature", "userHandle"):
        verify_both(REGISTRATION, _encoded(ASSERTION, ("response", key), raw))


def test_truncated_binary_fields_raise_only_invalid_credential():
    for document, keys in ((REGISTRATION, ("clientDataJSON", "attestationObject")),
                           (ASSERTION, ("clientDataJSON", "authenticatorData", "signature"))):
        for key in keys:
            raw = unb64url(document["response"][key])
            for cut in (1, 16, 37, len(raw) // 2, len(raw) - 1):
                changed = _encoded(document, ("response", key), raw[:cut])
                if document is REGISTRATION:
                    verify_both(changed, ASSERTION)
                else:
                    verify_both(REGISTRATION, changed)


def test_a_json_string_instead_of_an_object_is_refused():
    with pytest.raises(InvalidCredential):
        webauthn.verify_registration(RP, credential=json.dumps(REGISTRATION), challenge=REG_CHALLENGE,
                                     passkey=False)


def test_b64url_decode_is_strict():
    assert webauthn.b64url_decode("YWJj") == b"abc" == webauthn.b64url_decode("YWJj")
    assert webauthn.b64url_decode("YWI") == b"ab" == webauthn.b64url_decode("YWI=")
    for bad in ["YW Jj", "YWJj\n", "YW+j", "YW/j", "Y", "YWI==", "=YWJ", None, 5]:
        with pytest.raises(InvalidCredential):
            webauthn.b64url_decode(bad)
    with pytest.raises(InvalidCredential):
        webauthn.b64url_decode("A" * 12, max_chars=8)


try:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is a dev dependency (tests/robustness); the cases above still run
    given = None

if given is not None:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
        | st.sampled_from(["public-key", "", "AAAA", b64url(b"x" * 40)]),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=12,
    )
    fuzz_settings = hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

    @fuzz_settings
    @given(value=json_values)
    def test_property_any_json_as_a_credential_raises_only_invalid_credential(value):
        verify_both(value, value)

    @fuzz_settings
    @given(reg_path=st.sampled_from(list(_paths(REGISTRATION))), auth_path=st.sampled_from(list(_paths(ASSERTION))),
           value=json_values, raw=st.binary(max_size=300))
    def test_property_a_valid_credential_with_one_field_changed_raises_only_invalid_credential(
            reg_path, auth_path, value, raw):
        verify_both(_replaced(REGISTRATION, reg_path, value), _replaced(ASSERTION, auth_path, value))
        verify_both(_encoded(REGISTRATION, reg_path, raw), _encoded(ASSERTION, auth_path, raw))


# --- Errors --------------------------------------------------------------------------------------------


def test_errors_have_their_codes_statuses_and_messages():
    error = InvalidCredential(reason="secret detail")
    assert (error.code, error.status_code) == ("invalid_credential", HTTPStatus.BAD_REQUEST)
    assert error.detail == "The security key's answer could not be verified."
    assert "secret detail" not in error.detail
    missing = WebAuthnNotConfigured()
    assert (missing.code, missing.status_code) == ("webauthn_not_configured", HTTPStatus.SERVICE_UNAVAILABLE)
    assert missing.detail != "The request could not be completed."


# --- Settings and the system check ----------------------------------------------------------------------


def test_relying_party_is_none_without_origins_and_debug_off(settings):
    settings.DEBUG = False
    settings.MFA = {**settings.MFA, "WEBAUTHN_ORIGINS": None}
    assert webauthn.relying_party() is None


def test_relying_party_defaults_to_localhost_8000_with_debug_on(settings):
    settings.DEBUG = True
    settings.MFA = {**settings.MFA, "WEBAUTHN_ORIGINS": None, "WEBAUTHN_RP_ID": "localhost",
                    "ISSUER": "My Site", "WEBAUTHN_RP_NAME": None}
    assert webauthn.relying_party() == RelyingParty("localhost", "My Site", ("http://localhost:8000",))
    assert check_webauthn_origins() == []


def test_relying_party_from_settings(settings):
    settings.DEBUG = False
    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_RP_NAME": "Example",
                    "WEBAUTHN_ORIGINS": ["https://example.com", "https://app.example.com"]}
    assert webauthn.relying_party() == RelyingParty(
        "example.com", "Example", ("https://example.com", "https://app.example.com"))
    assert check_webauthn_origins() == []


def test_relying_party_name_falls_back_to_the_site_name(settings):
    settings.MFA = {**settings.MFA, "ISSUER": None, "WEBAUTHN_RP_NAME": None,
                    "WEBAUTHN_ORIGINS": ["http://localhost:8000"]}
    assert webauthn.relying_party().name == "authsite"  # the package of ROOT_URLCONF


def test_a_single_origin_string_counts_as_one_origin(settings):
    settings.MFA = {**settings.MFA, "WEBAUTHN_ORIGINS": "https://example.com", "WEBAUTHN_RP_ID": "example.com"}
    assert webauthn.relying_party().origins == ("https://example.com",)
    assert check_webauthn_origins() == []


def e005(settings, rp_id, origins):
    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": rp_id, "WEBAUTHN_ORIGINS": origins}
    messages = check_webauthn_origins()
    assert all(m.id == "mfa.E005" and m.hint for m in messages)
    return [m.msg for m in messages]


@pytest.mark.parametrize(("rp_id", "origins"), [
    ("localhost", ["http://localhost:8000", "http://localhost"]),
    ("example.com", ["https://example.com", "https://login.example.com", "https://a.b.example.com:8443"]),
    ("app.localhost", ["http://app.localhost:3000"]),
    ("example.com", ["android:apk-key-hash:" + "a" * 43]),
])
def test_origins_under_the_rp_id_pass_the_check(settings, rp_id, origins):
    assert e005(settings, rp_id, origins) == []


@pytest.mark.parametrize(("rp_id", "origins", "says"), [
    ("example.com", ["http://example.com"], "https"),
    ("example.com", ["https://example.org"], "neither"),
    ("example.com", ["https://notexample.com"], "neither"),
    ("example.com", ["https://example.com.evil.net"], "neither"),
    ("login.example.com", ["https://example.com"], "neither"),
    ("example.com", ["https://example.com/"], "as a browser writes it"),
    ("example.com", ["https://example.com:443"], "as a browser writes it"),
    ("example.com", ["https://EXAMPLE.com"], "as a browser writes it"),
    ("example.com", ["https://example.com/login"], "as a browser writes it"),
    ("example.com", ["example.com"], "as a browser writes it"),
    ("127.0.0.1", ["http://127.0.0.1:8000"], "IP address"),
    ("::1", ["http://[::1]:8000"], "IP address"),
    ("https://example.com", ["https://example.com"], "host name"),
    ("example.com:443", ["https://example.com"], "host name"),
    ("", ["https://example.com"], "non-empty"),
    (None, ["https://example.com"], "non-empty"),
])
def test_the_check_refuses_origins_outside_the_rp_id_and_bad_rp_ids(settings, rp_id, origins, says):
    messages = e005(settings, rp_id, origins)
    assert len(messages) == 1 and says in messages[0], messages


def test_the_check_reports_each_bad_origin(settings):
    assert len(e005(settings, "example.com", ["https://example.com", "http://x.example.com", "https://a.net"])) == 2


def test_the_check_is_quiet_when_webauthn_is_not_configured(settings):
    settings.DEBUG = False
    assert e005(settings, "localhost", None) == []


def test_manage_py_check_reports_e005(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": ["http://example.com"]}
    with pytest.raises(SystemCheckError, match=r"mfa\.E005"):
        call_command("check")


READ_WEBAUTHN_SETTINGS = """
import json
from django.conf import settings
m = settings.MFA
print(json.dumps({k: m[k] for k in ("WEBAUTHN_RP_ID", "WEBAUTHN_RP_NAME", "WEBAUTHN_ORIGINS", "PASSKEY_LOGIN")}
                 | {"rate": m["IP_RATES"]["passkey_login"]}))
"""


def webauthn_env_settings(**variables: str) -> dict:
    proc = run_with_settings(["-c", READ_WEBAUTHN_SETTINGS], **{**PRODUCTION, **variables})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_authsite_reads_webauthn_settings_from_the_environment():
    assert webauthn_env_settings() == {
        "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_RP_NAME": None, "WEBAUTHN_ORIGINS": None,
        "PASSKEY_LOGIN": False, "rate": "30/min",
    }
    assert webauthn_env_settings(
        WEBAUTHN_RP_ID="example.com", WEBAUTHN_RP_NAME="Example", MFA_PASSKEY_LOGIN="1",
        WEBAUTHN_ORIGINS="https://example.com, https://app.example.com", AUTH_IP_RATE_PASSKEY_LOGIN="off",
    ) == {
        "WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_RP_NAME": "Example",
        "WEBAUTHN_ORIGINS": ["https://example.com", "https://app.example.com"], "PASSKEY_LOGIN": True,
        "rate": None,
    }
