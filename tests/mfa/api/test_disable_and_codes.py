"""POST mfa/disable and mfa/recovery-codes (SECURITY-CHECKS B ENR-06/07, C REC-03, F SES-08,
A OTP-03 across endpoints)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from mfa.models import RecoveryCode, TOTPDevice
from tests.helpers import PASSWORD, bearer, login, totp_now
from tests.mfa.helpers import (
    DISABLE,
    EVENTS,
    ME,
    RECOVERY_CODES,
    SETUP,
    VERIFY,
    account_of,
    device_of,
    mfa_token,
    verify_login,
    wrong_code,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in(api, user_with_mfa):
    """``api`` with the access token of the session that enabled MFA."""
    return bearer(api, user_with_mfa.access)


def assert_mfa_still_on(mfa_user, clock):
    """Nothing lost: MFA on, all ten recovery codes unused, the current code still logs in."""
    assert device_of(mfa_user.user).confirmed and account_of(mfa_user.user).recovery_codes_left == 10
    assert RecoveryCode.objects.filter(user=mfa_user.user, used_at=None).count() == 10
    client = APIClient()
    r = verify_login(client, mfa_token(client, mfa_user.email), totp_now(mfa_user.secret, clock.now))
    assert r.status_code == 200, r.content


# --- mfa/disable -----------------------------------------------------------------------------------


def test_disable_with_wrong_password_is_400_invalid_password_and_nothing_lost(signed_in, user_with_mfa, clock):
    r = signed_in.post(DISABLE, {"password": "wrong", "code": totp_now(user_with_mfa.secret, clock.now)},
                       format="json")
    assert r.status_code == 400
    assert r.json() == {"detail": r.json()["detail"], "code": "invalid_password"}
    assert isinstance(r.json()["detail"], str)
    assert_mfa_still_on(user_with_mfa, clock)


def test_disable_with_wrong_code_is_400_invalid_code_and_nothing_lost(signed_in, user_with_mfa, clock):
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": wrong_code(user_with_mfa.secret, clock.now)},
                       format="json")
    assert r.status_code == 400
    assert set(r.json()) == {"detail", "code"} and r.json()["code"] == "invalid_code"
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": "ABCDE-FGHIJ-KLMN2"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    assert_mfa_still_on(user_with_mfa, clock)


@pytest.mark.parametrize(
    "data", [{}, {"code": "123456"}, {"password": "", "code": "123456"},
             {"password": PASSWORD, "code": None}, {"password": PASSWORD, "code": "\uff11" * 6}],
)
def test_disable_without_password_or_code_is_400_and_nothing_lost(signed_in, user_with_mfa, clock, data):
    r = signed_in.post(DISABLE, data, format="json")
    assert r.status_code == 400
    assert account_of(user_with_mfa.user).failure_count == 0  # malformed input is not an attempt
    assert_mfa_still_on(user_with_mfa, clock)


def test_disable_with_password_and_code_turns_mfa_off(signed_in, user_with_mfa, clock):
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": totp_now(user_with_mfa.secret, clock.now)},
                       format="json")
    assert r.status_code == 200, r.content
    assert r.json() == {"mfa_enabled": False}
    assert not TOTPDevice.objects.filter(user=user_with_mfa.user).exists()
    assert not RecoveryCode.objects.filter(user=user_with_mfa.user).exists()
    assert signed_in.get(ME).json()["mfa_enabled"] is False
    r = login(APIClient(), user_with_mfa.email)
    assert r.status_code == 200 and r.json()["requires_mfa"] is False


def test_disable_with_a_recovery_code_works(signed_in, user_with_mfa):
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": user_with_mfa.recovery_codes[0].lower()},
                       format="json")
    assert r.status_code == 200, r.content
    assert login(APIClient(), user_with_mfa.email).json()["requires_mfa"] is False


def test_disable_ends_other_sessions_but_not_the_calling_one(signed_in, user_with_mfa, clock):
    other = APIClient()
    r = verify_login(other, mfa_token(other, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    other_pair = r.json()
    bearer(other, other_pair["access"])
    assert other.get(ME).status_code == 200
    clock.advance(30)
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": totp_now(user_with_mfa.secret, clock.now)},
                       format="json")
    assert r.status_code == 200
    assert other.get(ME).status_code == 401
    assert APIClient().post(reverse("mfa:auth-refresh"), {"refresh": other_pair["refresh"]},
                            format="json").status_code == 401
    assert signed_in.get(ME).status_code == 200


def test_disable_needs_an_access_token(api, user_with_mfa, clock):
    r = api.post(DISABLE, {"password": PASSWORD, "code": totp_now(user_with_mfa.secret, clock.now)}, format="json")
    assert r.status_code == 401
    assert device_of(user_with_mfa.user).confirmed


def test_disable_when_mfa_is_off_is_400(api, user, clock):
    bearer(api, login(api, user.email).json()["access"])
    r = api.post(DISABLE, {"password": PASSWORD, "code": "123456"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "mfa_not_enabled"


def test_mfa_token_cannot_disable(api, user_with_mfa, clock):
    bearer(api, mfa_token(APIClient(), user_with_mfa.email))
    r = api.post(DISABLE, {"password": PASSWORD, "code": totp_now(user_with_mfa.secret, clock.now)}, format="json")
    assert r.status_code == 401
    assert device_of(user_with_mfa.user).confirmed


# --- mfa/recovery-codes ----------------------------------------------------------------------------


@pytest.fixture
def many_failures_allowed(settings):
    # Checking all ten old codes at login makes ten failures: raise the threshold for that test.
    settings.MFA = {**settings.MFA, "LOCKOUT_THRESHOLD": 100}


def test_new_recovery_codes_replace_every_old_one(signed_in, user_with_mfa, clock, many_failures_allowed):
    r = signed_in.post(RECOVERY_CODES, {"code": totp_now(user_with_mfa.secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content
    assert set(r.json()) == {"recovery_codes"}
    assert "no-store" in r["Cache-Control"]
    new = r.json()["recovery_codes"]
    assert len(new) == 10 and len(set(new)) == 10 and not set(new) & set(user_with_mfa.recovery_codes)
    client = APIClient()
    for old in user_with_mfa.recovery_codes:
        r = verify_login(client, mfa_token(client, user_with_mfa.email), old)
        assert r.status_code == 401, old
    r = verify_login(client, mfa_token(client, user_with_mfa.email), new[0])
    assert r.status_code == 200, r.content
    assert signed_in.get(ME).json()["recovery_codes_left"] == 9


def test_wrong_code_keeps_the_old_recovery_codes(signed_in, user_with_mfa, clock):
    r = signed_in.post(RECOVERY_CODES, {"code": wrong_code(user_with_mfa.secret, clock.now)}, format="json")
    assert r.status_code == 400
    assert set(r.json()) == {"detail", "code"} and r.json()["code"] == "invalid_code"
    client = APIClient()
    for old in user_with_mfa.recovery_codes[:3]:
        assert verify_login(client, mfa_token(client, user_with_mfa.email), old).status_code == 200


def test_recovery_codes_with_a_recovery_code(signed_in, user_with_mfa):
    r = signed_in.post(RECOVERY_CODES, {"code": user_with_mfa.recovery_codes[0]}, format="json")
    assert r.status_code == 200
    assert signed_in.get(ME).json()["recovery_codes_left"] == 10


def test_recovery_codes_when_mfa_is_off_is_400(api, user):
    bearer(api, login(api, user.email).json()["access"])
    r = api.post(RECOVERY_CODES, {"code": "123456"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "mfa_not_enabled"


def test_a_code_used_on_one_endpoint_is_refused_on_another(signed_in, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    assert signed_in.post(RECOVERY_CODES, {"code": code}, format="json").status_code == 200
    client = APIClient()
    assert verify_login(client, mfa_token(client, user_with_mfa.email), code).status_code == 401
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_code"


def test_a_login_code_is_refused_for_disable(signed_in, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    client = APIClient()
    assert verify_login(client, mfa_token(client, user_with_mfa.email), code).status_code == 200
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    assert device_of(user_with_mfa.user).confirmed


# --- Bad input on the endpoints that hold an access token (H INP-01..04, INP-08, INP-10) -----------


BAD_BODIES = ['{"code": ', "[]", '"123456"', "null", '{"code": NaN}', '{"code": true}', '{"code": 123456}',
              '{"code": "\\u0661\\u0662\\u0663\\u0664\\u0665\\u0666"}', '{"code": "12\\u0000456"}',
              '{"code": "\\ud800"}', '{"code": "' + "1" * 10_000 + '"}']


@pytest.mark.parametrize("path", [DISABLE, RECOVERY_CODES, VERIFY], ids=str)
def test_malformed_bodies_are_400_and_change_nothing(signed_in, user_with_mfa, clock, path):
    for body in BAD_BODIES:
        r = signed_in.post(path, body, content_type="application/json")
        assert r.status_code == 400, (path, body[:30], r.status_code, r.content[:200])
    r = signed_in.post(path, "code=123456", content_type="text/plain")
    assert r.status_code == 415
    account = account_of(user_with_mfa.user)
    assert account.failure_count == 0 and account.totp_last_step == int(clock.now.timestamp()) // 30 - 1
    assert_mfa_still_on(user_with_mfa, clock)


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer a.b", "Bearer " + "x" * 10_000, "Bearer %%%.@@@.!!!", "Token x", "Basic Zm9vOmJhcg==",
     "bearer"],
)
@pytest.mark.parametrize("path", [SETUP, DISABLE, RECOVERY_CODES, EVENTS], ids=str)
def test_bad_authorization_headers_are_401(api, user, header, path):
    method = api.get if path.endswith("events") else api.post
    r = method(path, {} if method == api.post else None, format="json", HTTP_AUTHORIZATION=header)
    assert r.status_code == 401, (header[:20], r.status_code, r.content[:200])


def test_codes_of_a_disabled_factor_are_refused_after_re_enrolment(signed_in, user_with_mfa, clock):
    from mfa.tokens import AccessToken

    # mfa's endpoints take any live session's access token, also one from before MFA was on
    assert AccessToken(user_with_mfa.access)["amr"] == ["pwd"]
    old_codes = user_with_mfa.recovery_codes
    r = signed_in.post(DISABLE, {"password": PASSWORD, "code": totp_now(user_with_mfa.secret, clock.now)},
                       format="json")
    assert r.status_code == 200
    clock.advance(30)
    new_secret = signed_in.post(SETUP, {}, format="json").json()["secret"]
    assert new_secret != user_with_mfa.secret
    r = signed_in.post(VERIFY, {"code": totp_now(new_secret, clock.now)}, format="json")
    assert r.status_code == 200
    clock.advance(30)
    client = APIClient()
    old_code = totp_now(user_with_mfa.secret, clock.now)
    assert old_code != totp_now(new_secret, clock.now)
    assert verify_login(client, mfa_token(client, user_with_mfa.email), old_code).status_code == 401
    assert verify_login(client, mfa_token(client, user_with_mfa.email), old_codes[1]).status_code == 401
    r = verify_login(client, mfa_token(client, user_with_mfa.email), totp_now(new_secret, clock.now))
    assert r.status_code == 200, r.content


def test_disable_with_the_password_alone_needs_a_recent_second_factor(signed_in, user_with_mfa, clock):
    """{password} without a code: only when this session gave a second factor in the last 5
    minutes (enrolling gave none; reauthenticate with a code does)."""
    r = signed_in.post(DISABLE, {"password": PASSWORD}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required"
    assert_mfa_still_on(user_with_mfa, clock)
    clock.advance(30)
    r = signed_in.post(reverse("mfa:auth-reauthenticate"), {"code": totp_now(user_with_mfa.secret, clock.now)},
                       format="json")
    assert r.status_code == 200, r.content
    bearer(signed_in, r.json()["access"])
    r = signed_in.post(DISABLE, {"password": PASSWORD}, format="json")
    assert r.status_code == 200 and r.json() == {"mfa_enabled": False}
