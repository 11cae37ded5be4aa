"""POST reauthenticate and step-up (issue 12): a code moves the session's second-factor time (what
RecentSecondFactor and the built-in step-up read), a password only auth_time; refusals are 403
``reauthentication_required``."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mfa.models import AuthSession, SecurityEvent
from tests.helpers import PASSWORD, bearer, claims, login, mfa_login, totp_now
from tests.mfa.helpers import RECOVERY_CODES, wrong_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.mfa.api.urls_permissions")]

REAUTH = "/api/auth/reauthenticate"
STEP_UP = "/host/step-up"


def reauth(api, access: str, body: dict):
    bearer(api, access)
    r = api.post(reverse("mfa:auth-reauthenticate"), body, format="json")
    api.credentials()
    return r


def step_up(api, access: str):
    bearer(api, access)
    r = api.get(STEP_UP)
    api.credentials()
    return r


def refreshed(api, pair: dict) -> dict:
    """A new pair for the session (access tokens live 5 minutes; the session lives on)."""
    r = api.post(reverse("mfa:auth-refresh"), {"refresh": pair["refresh"]}, format="json")
    assert r.status_code == 200, r.content
    return r.json()


def test_the_path_is_the_documented_one():
    assert reverse("mfa:auth-reauthenticate") == REAUTH


def test_a_code_unlocks_step_up_for_the_same_session(api, clock, user_with_mfa):
    first = mfa_login(api, user_with_mfa, clock)
    clock.advance(600)
    pair = refreshed(api, first)
    r = step_up(api, pair["access"])
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required"
    clock.step_start()
    r = reauth(api, pair["access"], {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 200, r.content
    assert set(r.json()) == {"access"}  # no refresh token
    new = claims(r.json()["access"])
    old = claims(pair["access"])
    assert new["sid"] == old["sid"] and new["auth_time"] == int(clock.now.timestamp()) > old["auth_time"]
    assert step_up(api, r.json()["access"]).status_code == 200
    # The time is the session's: its other live access tokens pass too, and a refresh keeps it.
    r2 = api.post(reverse("mfa:auth-refresh"), {"refresh": pair["refresh"]}, format="json")
    assert claims(r2.json()["access"])["auth_time"] == new["auth_time"]
    assert step_up(api, r2.json()["access"]).status_code == 200
    clock.advance(301)
    later = refreshed(api, r2.json())
    assert step_up(api, later["access"]).json()["code"] == "reauthentication_required"
    event = SecurityEvent.objects.get(type="reauthenticated")
    assert event.details["second_factor"] is True and event.details["session_id"] == old["sid"]


def test_a_recovery_code_also_reauthenticates_and_is_used_up(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    clock.advance(200)
    code = user_with_mfa.recovery_codes[0]
    assert reauth(api, pair["access"], {"code": code}).status_code == 200
    r = reauth(api, pair["access"], {"code": code})
    assert r.status_code == 400 and r.json()["code"] == "invalid_code"


def test_a_user_with_mfa_must_give_a_code_not_the_password(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    r = reauth(api, pair["access"], {"password": PASSWORD})
    assert r.status_code == 400 and r.json()["code"] == "code_required"


def test_wrong_codes_count_towards_the_code_lockout(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    bad = wrong_code(user_with_mfa.secret, clock.now)
    for _ in range(5):
        r = reauth(api, pair["access"], {"code": bad})
        assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    r = reauth(api, pair["access"], {"code": totp_now(user_with_mfa.secret, clock.now, 1)})
    assert r.status_code == 429 and r.json()["code"] == "mfa_locked"


def test_a_password_moves_auth_time_but_never_counts_as_a_second_factor(api, clock, user):
    pair = login(api, user.email).json()
    clock.advance(120)
    r = reauth(api, pair["access"], {"password": PASSWORD})
    assert r.status_code == 200, r.content
    assert claims(r.json()["access"])["auth_time"] == int(clock.now.timestamp())
    assert claims(r.json()["access"])["amr"] == ["pwd"]
    assert step_up(api, r.json()["access"]).json()["code"] == "reauthentication_required"
    session = AuthSession.objects.get(user=user)
    assert session.second_factor_at is None and session.auth_time == clock.now


def test_a_wrong_password_counts_in_the_password_backoff(api, clock, user, settings):
    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 2}
    pair = login(api, user.email).json()
    for _ in range(2):
        r = reauth(api, pair["access"], {"password": "wrong password here"})
        assert r.status_code == 400 and r.json()["code"] == "invalid_password"
    assert [e.details["door"] for e in SecurityEvent.objects.filter(type="login_failed")] == ["reauthenticate"] * 2
    r = reauth(api, pair["access"], {"password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "login_locked" and "Retry-After" in r


def test_a_user_without_mfa_cannot_send_a_code(api, user):
    pair = login(api, user.email).json()
    r = reauth(api, pair["access"], {"code": "123456"})
    assert r.status_code == 400 and r.json()["code"] == "mfa_not_enabled"


@pytest.mark.parametrize(
    "body", [{}, {"code": 123456}, {"code": "12345"}, {"password": None}, {"code": ["123456"]}, []]
)
def test_malformed_bodies_are_field_errors(api, user, body):
    pair = login(api, user.email).json()
    r = reauth(api, pair["access"], body)
    assert r.status_code == 400, r.content
    # DRF field errors: {"field": [...]} (a non-object body: {"non_field_errors": [...]})
    errors = r.json()
    assert errors and all(isinstance(v, list) and v for v in errors.values()), errors


def test_needs_a_live_session(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    bearer(api, pair["access"])
    assert api.post(reverse("mfa:auth-logout"), {}, format="json").status_code == 204
    r = reauth(api, pair["access"], {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 401
    assert reauth(api, "not.a.token", {"code": "123456"}).status_code == 401


def test_recovery_codes_accept_an_empty_body_within_five_minutes_of_a_second_factor(api, clock, user_with_mfa):
    pair = mfa_login(api, user_with_mfa, clock)
    bearer(api, pair["access"])
    clock.advance(299)
    r = api.post(RECOVERY_CODES, {}, format="json")
    assert r.status_code == 200 and len(r.json()["recovery_codes"]) == 10
    clock.advance(2)
    pair = refreshed(api, pair)
    bearer(api, pair["access"])
    r = api.post(RECOVERY_CODES, {}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "reauthentication_required"
    clock.step_start()
    access = reauth(api, pair["access"], {"code": totp_now(user_with_mfa.secret, clock.now)}).json()["access"]
    bearer(api, access)
    assert api.post(RECOVERY_CODES, {}, format="json").status_code == 200
    # The code in the body still works as before.
    clock.step_start()
    r = api.post(RECOVERY_CODES, {"code": totp_now(user_with_mfa.secret, clock.now)}, format="json")
    assert r.status_code == 200
