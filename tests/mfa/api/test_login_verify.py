"""The half-authenticated login: POST login with MFA on, then POST mfa/login/verify
(SECURITY-CHECKS A OTP-02..06, C REC-04/05, D MFA-01, MFA-03..07, MFA-09, H INP-01..08)."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from mfa.methods import recovery_codes
from mfa.models import AuthSession, RecoveryCode
from mfa.tokens import AccessToken
from tests.helpers import PASSWORD, bearer, enable_mfa, login, totp_now
from tests.mfa.helpers import LOGIN_VERIFY, ME, account_of, mfa_token, verify_login, wrong_code

pytestmark = pytest.mark.django_db(transaction=True)


def sessions_of(user) -> int:
    return AuthSession.objects.filter(user=user).count()


@pytest.fixture
def bob(make_user, clock):
    return enable_mfa(APIClient(), make_user("bob@example.com"), clock)


# --- Step one: login (MFA-01) ----------------------------------------------------------------------


def test_login_with_mfa_on_returns_only_the_challenge(api, user_with_mfa):
    user = user_with_mfa.user
    before_sessions = AuthSession.objects.count()
    last_login = get_user_model().objects.get(pk=user.pk).last_login
    r = login(api, user_with_mfa.email)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"requires_mfa", "mfa_token", "methods"}
    assert body["requires_mfa"] is True
    assert body["methods"] == ["totp", "recovery_code"]
    assert isinstance(body["mfa_token"], str) and body["mfa_token"]
    assert AuthSession.objects.count() == before_sessions
    assert not r.cookies
    assert "no-store" in r["Cache-Control"]
    assert get_user_model().objects.get(pk=user.pk).last_login == last_login


def test_wrong_password_with_mfa_on_does_not_reveal_mfa(api, user_with_mfa, make_user):
    wrong = api.post(reverse("mfa:auth-login"), {"email": user_with_mfa.email, "password": "nope"}, format="json")
    unknown = api.post(reverse("mfa:auth-login"), {"email": "ghost@example.com", "password": "nope"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert "mfa" not in wrong.content.decode().lower()


# --- Step two: success ----------------------------------------------------------------------------


def test_totp_code_completes_login_with_amr_pwd_otp(api, user_with_mfa, clock):
    before = sessions_of(user_with_mfa.user)
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"access", "refresh"}
    assert "no-store" in r["Cache-Control"]
    assert AccessToken(body["access"])["amr"] == ["pwd", "otp", "mfa"]
    assert sessions_of(user_with_mfa.user) == before + 1
    bearer(api, body["access"])
    assert api.get(ME).status_code == 200


def test_user_without_mfa_gets_amr_pwd_only(api, user):
    r = login(api, user.email)
    assert r.json()["requires_mfa"] is False
    assert AccessToken(r.json()["access"])["amr"] == ["pwd"]


@pytest.mark.parametrize("shape", ["upper", "lower", "lower-no-dashes", "spaced"])
def test_recovery_code_completes_login_with_amr_rcode(api, user_with_mfa, shape):
    code = user_with_mfa.recovery_codes[0]
    sent = {
        "upper": code,
        "lower": code.lower(),
        "lower-no-dashes": code.replace("-", "").lower(),
        "spaced": " " + code.replace("-", " ").lower() + " ",
    }[shape]
    r = verify_login(api, mfa_token(api, user_with_mfa.email), sent)
    assert r.status_code == 200, r.content
    assert AccessToken(r.json()["access"])["amr"] == ["pwd", "otp", "rcode", "mfa"]
    bearer(api, r.json()["access"])
    assert api.get(ME).json()["recovery_codes_left"] == 9


def test_recovery_code_is_single_use(api, user_with_mfa):
    code = user_with_mfa.recovery_codes[1]
    assert verify_login(api, mfa_token(api, user_with_mfa.email), code).status_code == 200
    before = sessions_of(user_with_mfa.user)
    r = verify_login(api, mfa_token(api, user_with_mfa.email), code.lower())
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_code"
    assert sessions_of(user_with_mfa.user) == before
    assert account_of(user_with_mfa.user).recovery_codes_left == 9


def test_recovery_code_is_no_password_and_no_refresh_token(api, user_with_mfa):
    code = user_with_mfa.recovery_codes[2]
    r = api.post(reverse("mfa:auth-login"), {"email": user_with_mfa.email, "password": code}, format="json")
    assert r.status_code == 401
    r = api.post(reverse("mfa:auth-refresh"), {"refresh": code}, format="json")
    assert r.status_code == 401
    assert RecoveryCode.objects.filter(user=user_with_mfa.user, used_at=None).count() == 10


# --- Replay and the drift window (OTP-02..04, OTP-06) ----------------------------------------------


def test_totp_code_replayed_with_a_new_mfa_token_is_refused(api, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    assert verify_login(api, mfa_token(api, user_with_mfa.email), code).status_code == 200
    before = sessions_of(user_with_mfa.user)
    r = verify_login(api, mfa_token(api, user_with_mfa.email), code)
    assert r.status_code == 401 and "access" not in r.json()
    assert sessions_of(user_with_mfa.user) == before


def test_codes_one_step_either_side_are_accepted_two_steps_refused(api, user_with_mfa, clock):
    clock.advance(60)  # the enrolment step is now T-3: T-2 is refused by the window, not as a replay
    secret = user_with_mfa.secret
    valid = {totp_now(secret, clock.now, k) for k in (-1, 0, 1)}
    for offset in (-2, 2):
        code = totp_now(secret, clock.now, offset)
        if code in valid:  # a one-in-a-million collision would make the case meaningless
            continue
        r = verify_login(api, mfa_token(api, user_with_mfa.email), code)
        assert r.status_code == 401, offset
    assert account_of(user_with_mfa.user).failure_count == 2
    for offset in (-1, 1):
        r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(secret, clock.now, offset))
        assert r.status_code == 200, (offset, r.content)


def test_current_step_code_refused_after_the_next_step_was_accepted(api, user_with_mfa, clock):
    secret = user_with_mfa.secret
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(secret, clock.now, 1))
    assert r.status_code == 200
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(secret, clock.now))
    assert r.status_code == 401
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(secret, clock.now, -1))
    assert r.status_code == 401


def test_client_supplied_time_is_ignored(api, user_with_mfa, clock):
    secret = user_with_mfa.secret
    future = clock.now.timestamp() + 300
    token = mfa_token(api, user_with_mfa.email)
    r = api.post(
        LOGIN_VERIFY,
        {"mfa_token": token, "code": totp_now(secret, clock.now, 10), "timestamp": future, "time": future,
         "now": future, "step": int(future) // 30},
        format="json", HTTP_DATE="Tue, 15 Nov 2094 08:12:31 GMT",
    )
    assert r.status_code == 401
    last_step = account_of(user_with_mfa.user).totp_last_step
    r = api.post(
        LOGIN_VERIFY,
        {"mfa_token": token, "code": totp_now(secret, clock.now), "timestamp": 0},
        format="json", HTTP_DATE="Thu, 01 Jan 1970 00:00:00 GMT",
    )
    assert r.status_code == 200
    assert account_of(user_with_mfa.user).totp_last_step == last_step + 1


def test_failed_attempt_does_not_move_the_last_step(api, user_with_mfa, clock):
    before = account_of(user_with_mfa.user).totp_last_step
    r = verify_login(api, mfa_token(api, user_with_mfa.email), wrong_code(user_with_mfa.secret, clock.now))
    assert r.status_code == 401
    assert account_of(user_with_mfa.user).totp_last_step == before


# --- The mfa_token (MFA-03..06) ---------------------------------------------------------------------


def test_mfa_token_is_single_use(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    assert verify_login(api, token, totp_now(user_with_mfa.secret, clock.now)).status_code == 200
    clock.advance(30)
    before = sessions_of(user_with_mfa.user)
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 401
    assert sessions_of(user_with_mfa.user) == before


def test_used_mfa_token_spends_no_recovery_code_and_no_step(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    assert verify_login(api, token, totp_now(user_with_mfa.secret, clock.now)).status_code == 200
    clock.advance(30)
    last_step = account_of(user_with_mfa.user).totp_last_step
    r = verify_login(api, token, user_with_mfa.recovery_codes[0])
    assert r.status_code == 401
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 401
    # nothing lost: the recovery code and the current step still work with a fresh mfa_token
    assert account_of(user_with_mfa.user).recovery_codes_left == 10
    assert account_of(user_with_mfa.user).totp_last_step == last_step
    r = verify_login(api, mfa_token(api, user_with_mfa.email), user_with_mfa.recovery_codes[0])
    assert r.status_code == 200, r.content
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_expired_mfa_token_is_refused(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    clock.advance(301)
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 401
    assert r.json()["code"] != "invalid_code"
    # the code was not spent: a new login in the same step succeeds with it
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200


def test_mfa_token_still_valid_just_before_five_minutes(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    clock.advance(299)
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_wrong_code_does_not_use_up_the_mfa_token(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    assert verify_login(api, token, wrong_code(user_with_mfa.secret, clock.now)).status_code == 401
    assert verify_login(api, token, "ABCDE-FGHIJ-KLMN2").status_code == 401
    assert not AuthSession.objects.exclude(mfa_jti=None).exists()
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_alices_mfa_token_with_bobs_code_is_refused(api, user_with_mfa, bob, clock):
    token = mfa_token(api, user_with_mfa.email)
    clock.advance(30)
    bobs_code = totp_now(bob.secret, clock.now)
    assert bobs_code not in {totp_now(user_with_mfa.secret, clock.now, k) for k in (-1, 0, 1)}
    assert verify_login(api, token, bobs_code).status_code == 401
    assert verify_login(api, token, bob.recovery_codes[0]).status_code == 401
    assert RecoveryCode.objects.filter(user=bob.user, used_at=None).count() == 10
    # Bob's code is still good for Bob
    assert verify_login(api, mfa_token(api, bob.email), bobs_code).status_code == 200


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict:
    seg = _segments(token)[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def test_mfa_token_with_edited_payload_is_refused(api, user_with_mfa, bob, clock):
    token = mfa_token(api, user_with_mfa.email)
    header, _, signature = _segments(token)
    payload = _payload(token)
    payload["user_id"] = str(bob.user.pk) if isinstance(payload["user_id"], str) else bob.user.pk
    forged = ".".join([header, _b64(json.dumps(payload).encode()), signature])
    clock.advance(30)
    before = sessions_of(bob.user)
    assert verify_login(api, forged, totp_now(bob.secret, clock.now)).status_code == 401
    payload = _payload(token)
    payload["exp"] += 3600
    forged = ".".join([header, _b64(json.dumps(payload).encode()), signature])
    assert verify_login(api, forged, totp_now(user_with_mfa.secret, clock.now)).status_code == 401
    assert sessions_of(bob.user) == before


def test_mfa_token_with_edited_signature_is_refused(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    header, payload, signature = _segments(token)
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
    for forged in (f"{header}.{payload}.{flipped}", f"{header}.{payload}.", f"{header}.{payload}"):
        assert verify_login(api, forged, totp_now(user_with_mfa.secret, clock.now)).status_code == 401
    assert verify_login(api, token, totp_now(user_with_mfa.secret, clock.now)).status_code == 200


def test_mfa_token_issued_before_a_password_change_is_refused(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    user = get_user_model().objects.get(pk=user_with_mfa.user.pk)
    user.set_password("a brand new password 123")
    user.save()
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 401
    assert account_of(user).failure_count == 0


def test_mfa_token_is_no_bearer_token_and_no_refresh_token(api, user_with_mfa):
    token = mfa_token(api, user_with_mfa.email)
    bearer(api, token)
    assert api.get(ME).status_code == 401
    api.credentials()
    assert api.post(reverse("mfa:auth-refresh"), {"refresh": token}, format="json").status_code == 401


def test_access_or_refresh_jwt_is_no_mfa_token(api, user_with_mfa, user, clock):
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    pair = r.json()
    clock.advance(30)
    for other in (pair["access"], pair["refresh"], user_with_mfa.access, user_with_mfa.refresh):
        r = verify_login(api, other, totp_now(user_with_mfa.secret, clock.now))
        assert r.status_code == 401
    assert account_of(user_with_mfa.user).failure_count == 0


# --- Error bodies (MFA-09) --------------------------------------------------------------------------


def test_wrong_code_is_401_with_www_authenticate_and_an_exact_body(api, user_with_mfa, clock):
    r = verify_login(api, mfa_token(api, user_with_mfa.email), wrong_code(user_with_mfa.secret, clock.now))
    assert r.status_code == 401
    assert r.has_header("WWW-Authenticate")
    body = r.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "invalid_code" and isinstance(body["detail"], str) and body["detail"]


def test_wrong_recovery_code_gets_the_same_body(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    totp_wrong = verify_login(api, token, wrong_code(user_with_mfa.secret, clock.now))
    rcode_wrong = verify_login(api, token, "ABCDE-FGHIJ-KLMN2")
    assert totp_wrong.status_code == rcode_wrong.status_code == 401
    assert totp_wrong.json() == rcode_wrong.json()


# --- Bad input (H): 400, never 500, never counted, nothing lost -----------------------------------


MALFORMED_CODES = [
    True, False, None, [], {}, ["123456"], {"code": "123456"}, 123456, 123456.0, 1e6,
    "12345", "1234567", "", "   ", "x" * 10_000, "1" * 10_000,
    "\u0661\u0662\u0663\u0664\u0665\u0666", "\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6",
    "\uff11\uff12\uff13\uff14\uff15\uff16", "\u00b9\u00b2\u00b3\u2074\u2075\u2076",
    "\u200b123456", "123\x00456", "\x00", "123-456", "ABCDE-FGHIJ-KLMN1",
]


def test_malformed_codes_are_400_and_never_count(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    for code in MALFORMED_CODES:
        r = verify_login(api, token, code)
        assert r.status_code == 400, (repr(code)[:40], r.status_code, r.content[:200])
        assert "code" in r.json(), r.json()
    account = account_of(user_with_mfa.user)
    assert account.failure_count == 0 and account.locked_until is None
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_number_code_is_refused_even_when_it_is_the_right_code(api, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    token = mfa_token(api, user_with_mfa.email)
    r = api.post(LOGIN_VERIFY, f'{{"mfa_token": "{token}", "code": {int(code)}}}',
                 content_type="application/json")
    assert r.status_code == 400
    assert verify_login(api, token, code).status_code == 200


def test_five_digits_never_match_a_code_with_a_leading_zero(api, user_with_mfa, clock, monkeypatch):
    from mfa.methods import totp

    monkeypatch.setattr(totp, "code_at", lambda secret, step: "012345")
    token = mfa_token(api, user_with_mfa.email)
    assert verify_login(api, token, "12345").status_code == 400
    assert verify_login(api, token, "012345").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        '{"code": ', "[]", '"123456"', "", "null", "123456", '{"mfa_token": "x", "code": NaN}',
        '{"mfa_token": "\\ud800", "code": "123456"}',
    ],
)
def test_malformed_json_bodies_are_400(api, user_with_mfa, body):
    r = api.post(LOGIN_VERIFY, body, content_type="application/json")
    assert r.status_code == 400, (body, r.content)
    assert account_of(user_with_mfa.user).failure_count == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_non_json_content_types_are_415(api, user_with_mfa, content_type):
    r = api.post(LOGIN_VERIFY, "mfa_token=x&code=123456", content_type=content_type)
    assert r.status_code == 415


@pytest.mark.parametrize(
    "data",
    [{}, {"code": "123456"}, {"mfa_token": "x"}, {"mfa_token": None, "code": "123456"},
     {"mfa_token": "", "code": "123456"}, {"mfa_token": "x", "code": None}, {"mfa_token": "x", "code": ""}],
)
def test_missing_null_or_empty_fields_are_400_per_field(api, data):
    r = api.post(LOGIN_VERIFY, data, format="json")
    assert r.status_code == 400
    body = r.json()
    missing = {"mfa_token", "code"} - {k for k, v in data.items() if v}
    assert missing and missing <= set(body), body
    assert all(isinstance(body[field], list) and body[field] for field in missing)


def test_long_or_nul_mfa_token_is_400(api, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    for token in ("x" * 10_000, "ey\x00J", "a.b.c" * 2000):
        r = verify_login(api, token, code)
        assert r.status_code == 400, r.content[:200]
    assert verify_login(api, mfa_token(api, user_with_mfa.email), code).status_code == 200


def test_oversized_body_is_400(api, user_with_mfa):
    r = api.post(LOGIN_VERIFY, {"mfa_token": "x" * 3_000_000, "code": "123456"}, format="json")
    assert r.status_code == 400, r.status_code


def test_extra_fields_are_ignored(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    r = api.post(
        LOGIN_VERIFY,
        {"mfa_token": token, "code": totp_now(user_with_mfa.secret, clock.now), "amr": ["pwd", "otp", "hwk"],
         "user_id": "x", "is_staff": True},
        format="json",
    )
    assert r.status_code == 200
    assert AccessToken(r.json()["access"])["amr"] == ["pwd", "otp", "mfa"]


def test_normalised_recovery_code_forms_name_one_code(api, user_with_mfa):
    # only case, spaces and dashes are forgiven (REC-05): a look-alike is not the code
    code = user_with_mfa.recovery_codes[5]
    lookalike = code.replace("-", "_")
    assert recovery_codes.normalize(lookalike) is None
    assert verify_login(api, mfa_token(api, user_with_mfa.email), lookalike).status_code == 400
    assert account_of(user_with_mfa.user).recovery_codes_left == 10


def test_login_verify_needs_no_access_token_and_ignores_one(api, user_with_mfa, clock):
    bearer(api, "garbage.token.value")
    r = verify_login(api, mfa_token(APIClient(), user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_password_login_still_hashes_for_mfa_users(api, user_with_mfa):
    r = api.post(reverse("mfa:auth-login"), {"email": user_with_mfa.email, "password": PASSWORD + "x"}, format="json")
    assert r.status_code == 401
    assert "mfa_token" not in r.json()
