"""JWTs: token types, claims, lifetimes, the signing key, and forged tokens (SECURITY-CHECKS TOK-01..05, 11).

Forged tokens are built by hand with PyJWT (or byte by byte) and sent to GET me: each must get a 401
(never a 500). Every forgery test first shows that the same payload, signed properly, is accepted, so a
401 can only come from the one thing the test changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from unittest import mock

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from django.urls import reverse, reverse_lazy
from django.utils import timezone

from mfa.models import AuthSession
from tests.helpers import claims, login, mfa_login, totp_now

pytestmark = pytest.mark.django_db(transaction=True)

ME = reverse_lazy("mfa:auth-me")
REFRESH = reverse_lazy("mfa:auth-refresh")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()



def header(token: str) -> dict:
    return jwt.get_unverified_header(token)


def raw_jwt(head: dict, payload: dict, signature: bytes = b"") -> str:
    """A JWT assembled byte by byte (PyJWT refuses to write some of the malformed ones)."""
    return ".".join([b64(json.dumps(head).encode()), b64(json.dumps(payload).encode()), b64(signature)])


def signing_key() -> str:
    return django_settings.SIMPLE_JWT["SIGNING_KEY"]


def sign(payload: dict, key: str | bytes | None = None, algorithm: str = "HS256", **headers) -> str:
    return jwt.encode(payload, signing_key() if key is None else key, algorithm=algorithm, headers=headers or None)


def me_status(api, token: str) -> int:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = api.get(ME)
    api.credentials()
    assert r.status_code != 500
    if r.status_code == 401:
        assert r["WWW-Authenticate"].startswith("Bearer")
    return r.status_code


@pytest.fixture
def access_claims(pair, api):
    payload = claims(pair["access"])
    assert me_status(api, sign(payload)) == 200  # the control: a proper re-signature is accepted
    return payload


# --- Token types and claims -------------------------------------------------------------------------


def test_access_refresh_and_mfa_tokens_have_distinct_types(api, clock, user_with_mfa):
    body = login(api, user_with_mfa.email).json()
    mfa_token = body["mfa_token"]
    r = api.post(
        reverse("mfa:mfa-login-verify"),
        {"mfa_token": mfa_token, "code": totp_now(user_with_mfa.secret, clock.now)},
        format="json",
    )
    assert r.status_code == 200, r.content
    types = {claims(r.json()["access"])["token_type"], claims(r.json()["refresh"])["token_type"],
             claims(mfa_token)["token_type"]}
    assert types == {"access", "refresh", "mfa"}


def test_access_and_refresh_carry_the_session_claims(pair, user, clock):
    required = {"user_id", "sid", "amr", "auth_time", "jti", "exp", "iat", "aud", "iss", "token_type"}
    access, refresh = claims(pair["access"]), claims(pair["refresh"])
    assert required <= set(access) and required <= set(refresh)
    session = AuthSession.objects.get(user=user)
    assert access["sid"] == refresh["sid"] == str(session.pk)
    assert access["user_id"] == str(user.pk) or access["user_id"] == user.pk
    assert access["amr"] == ["pwd"]
    assert access["auth_time"] == int(clock.now.timestamp())
    assert access["aud"] == django_settings.SIMPLE_JWT["AUDIENCE"]
    assert access["iss"] == django_settings.SIMPLE_JWT["ISSUER"]
    assert access["jti"] != refresh["jti"]
    assert header(pair["access"])["alg"] == "HS256"


def test_mfa_login_tokens_record_the_second_factor(api, clock, user_with_mfa):
    tokens = mfa_login(api, user_with_mfa, clock, code=user_with_mfa.recovery_codes[0])
    assert claims(tokens["access"])["amr"] == ["pwd", "otp", "rcode", "mfa"]


def test_token_payloads_hold_ids_not_personal_data(api, user_with_mfa):
    mfa_token = login(api, user_with_mfa.email).json()["mfa_token"]
    for token in (user_with_mfa.access, user_with_mfa.refresh, mfa_token):
        payload = claims(token)
        assert "email" not in payload and "name" not in payload
        assert "alice" not in json.dumps(payload)


def test_mfa_token_is_not_a_bearer_or_refresh_token(api, user_with_mfa):
    mfa_token = login(api, user_with_mfa.email).json()["mfa_token"]
    assert me_status(api, mfa_token) == 401
    assert api.post(REFRESH, {"refresh": mfa_token}, format="json").status_code == 401


def test_access_token_is_not_an_mfa_token(api, pair, clock):
    r = api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": pair["access"], "code": "123456"}, format="json")
    assert r.status_code == 401


# --- TOK-01: algorithm pinned -------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "nOnE", "NONE"])
def test_unsigned_token_is_refused(api, access_claims, alg):
    assert me_status(api, raw_jwt({"alg": alg, "typ": "JWT"}, access_claims)) == 401


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("alg", ["HS512", "HS384"])
def test_other_hmac_algorithm_with_the_same_key_is_refused(api, access_claims, alg):
    assert me_status(api, sign(access_claims, algorithm=alg)) == 401


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_asymmetric_algorithm_is_refused(api, access_claims, kind):
    key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RS256"
           else ec.generate_private_key(ec.SECP256R1()))
    assert me_status(api, sign(access_claims, key=key, algorithm=kind)) == 401


def test_hmac_with_a_public_key_as_secret_is_refused(api, access_claims):
    public_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(access_claims).encode())
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert me_status(api, f"{head}.{body}.{b64(mac)}") == 401


# --- TOK-02: tampering, stripped signatures, key material in the header --------------------------------


@pytest.mark.parametrize("variant", ["empty", "no_dot", "truncated"])
def test_token_with_stripped_signature_is_refused(api, pair, variant):
    head, body, sig = pair["access"].split(".")
    token = {"empty": f"{head}.{body}.", "no_dot": f"{head}.{body}", "truncated": f"{head}.{body}.{sig[:-4]}"}
    assert me_status(api, token[variant]) == 401


@pytest.mark.parametrize(
    "edit",
    [
        {"amr": ["pwd", "otp"]},
        {"exp": 4102444800},  # 2100-01-01
        {"user_id": "0"},
        {"sid": "00000000-0000-4000-8000-000000000000"},
    ],
    ids=["amr", "exp", "user_id", "sid"],
)
def test_edited_claims_with_the_old_signature_are_refused(api, pair, access_claims, edit):
    head, _, sig = pair["access"].split(".")
    body = b64(json.dumps({**access_claims, **edit}).encode())
    assert me_status(api, f"{head}.{body}.{sig}") == 401


def test_edited_user_id_of_another_user_is_refused(api, pair, access_claims, make_user):
    other = make_user("mallory@example.com")
    head, _, sig = pair["access"].split(".")
    body = b64(json.dumps({**access_claims, "user_id": str(other.pk)}).encode())
    assert me_status(api, f"{head}.{body}.{sig}") == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"jwk": {"kty": "oct", "k": b64(b"attacker-key" * 4)}},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"kid": "../../../../../../dev/null"},
        {"kid": "x' UNION SELECT 'attacker-key' --"},
    ],
    ids=["jwk", "jku", "x5u", "kid-path", "kid-sql"],
)
def test_key_material_named_in_the_header_is_ignored(api, access_claims, headers):
    """Signed with the attacker's key (the one in ``jwk``, behind the URL, or the empty key of
    /dev/null): the server keeps its own key, so the MAC fails, and nothing is fetched."""
    attacker_key = b"attacker-key" * 4 if "jwk" in headers or "jku" in headers or "x5u" in headers else b""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", **headers}).encode())
    body = b64(json.dumps(access_claims).encode())
    mac = hmac.new(attacker_key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    with mock.patch("urllib.request.urlopen") as urlopen:
        assert me_status(api, f"{head}.{body}.{b64(mac)}") == 401
    urlopen.assert_not_called()


def test_extra_header_does_not_change_the_key(api, access_claims):
    """The same headers on a token MAC'd with the real key are harmless: the key is fixed."""
    assert me_status(api, sign(access_claims, kid="../../../dev/null", jku="https://attacker.example/")) == 200


@pytest.mark.parametrize("garbage", ["", "a", "a.b.c", "....", "Bearer x", "\u00e9\u00e9.\u00e9.\u00e9", "x" * 5000])
def test_garbage_bearer_token_gets_401(api, garbage):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {garbage}")
    r = api.get(ME)
    assert r.status_code == 401


# --- TOK-03 and TOK-04: time, type, audience, issuer --------------------------------------------------


def test_access_token_expires_after_five_minutes(api, pair, clock):
    clock.advance(299)
    assert me_status(api, pair["access"]) == 200
    clock.advance(2)
    assert me_status(api, pair["access"]) == 401


def test_token_not_yet_valid_is_refused(api, access_claims):
    nbf = int(timezone.now().timestamp()) + 60
    assert me_status(api, sign({**access_claims, "nbf": nbf})) == 401


@pytest.mark.parametrize(
    "edit",
    [{"aud": "another-site"}, {"iss": "another-issuer"}, {"aud": None}, {"iss": None}],
    ids=["wrong-aud", "wrong-iss", "no-aud", "no-iss"],
)
def test_wrong_or_missing_audience_or_issuer_is_refused(api, access_claims, edit):
    payload = {**access_claims, **edit}
    payload = {k: v for k, v in payload.items() if v is not None}
    assert me_status(api, sign(payload)) == 401


def test_refresh_token_is_not_a_bearer_token(api, pair):
    assert me_status(api, pair["refresh"]) == 401


def test_access_token_cannot_be_refreshed(api, pair):
    r = api.post(REFRESH, {"refresh": pair["access"]}, format="json")
    assert r.status_code == 401
    # and the session is untouched: its real refresh still works
    assert api.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200


def test_forged_refresh_token_type_on_access_claims_is_refused(api, access_claims):
    """An access payload relabelled ``refresh`` and re-signed by the attacker (wrong key)."""
    forged = sign({**access_claims, "token_type": "refresh"}, key="not-the-key" * 4)
    assert api.post(REFRESH, {"refresh": forged}, format="json").status_code == 401


# --- Lifetimes and the signing key (TOK-03, TOK-05) -------------------------------------------------------


def test_default_lifetimes_are_five_minutes_and_seven_days():
    assert django_settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=5)
    assert django_settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"] == timedelta(days=7)
    assert django_settings.SIMPLE_JWT.get("LEEWAY", 0) <= 30


def test_issued_tokens_follow_the_configured_lifetimes(pair):
    access, refresh = claims(pair["access"]), claims(pair["refresh"])
    assert access["exp"] - access["iat"] == 300
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600


def test_signing_key_is_its_own_256_bit_secret():
    key = django_settings.SIMPLE_JWT["SIGNING_KEY"]
    assert key != django_settings.SECRET_KEY
    assert len(key) >= 43  # 43 URL-safe base64 characters carry 256 bits
    assert django_settings.SIMPLE_JWT["ALGORITHM"] == "HS256"


def test_token_signed_with_secret_key_is_refused(api, access_claims):
    assert me_status(api, sign(access_claims, key=django_settings.SECRET_KEY)) == 401


def test_tokens_never_outlive_the_session(api, user, clock, settings):
    settings.MFA = {**settings.MFA, "SESSION_ABSOLUTE_LIFETIME": timedelta(minutes=3)}
    r = login(api, user.email)
    assert r.status_code == 200, r.content
    session = AuthSession.objects.get(user=user)
    end = int(session.expires_at.timestamp())
    assert end == int(clock.now.timestamp()) + 180
    assert claims(r.json()["access"])["exp"] == end
    assert claims(r.json()["refresh"])["exp"] == end

    clock.advance(120)
    r = api.post(REFRESH, {"refresh": r.json()["refresh"]}, format="json")
    assert r.status_code == 200, r.content
    assert claims(r.json()["access"])["exp"] == end  # not now + 5 min
    assert claims(r.json()["refresh"])["exp"] == end

    clock.advance(60)
    assert me_status(api, r.json()["access"]) == 401
    assert api.post(REFRESH, {"refresh": r.json()["refresh"]}, format="json").status_code == 401


# --- simplejwt settings are read when a token is made or checked, not at import -----------------


def test_a_changed_simple_jwt_access_lifetime_reaches_the_tokens_mfa_issues(api, user, settings):
    """A host that changes SIMPLE_JWT (override_settings, the settings fixture) gets the new
    lifetime; mfa once kept the value it had imported."""
    before = claims(login(api, user.email).json()["access"])
    assert before["exp"] - before["iat"] == 300
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(minutes=2)}
    access = login(api, user.email).json()["access"]
    assert claims(access)["exp"] - claims(access)["iat"] == 120
    assert me_status(api, access) == 200


def test_a_changed_simple_jwt_signing_key_signs_and_checks_new_tokens(api, user, settings):
    old = login(api, user.email).json()["access"]
    new_key = "another-jwt-signing-key-" + "k" * 40
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": new_key}
    new = login(api, user.email).json()["access"]
    jwt.decode(new, new_key, algorithms=["HS256"], audience=settings.SIMPLE_JWT["AUDIENCE"])
    assert me_status(api, new) == 200
    assert me_status(api, old) == 401  # signed with the key that is no longer configured
