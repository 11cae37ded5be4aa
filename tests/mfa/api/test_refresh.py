"""POST token/refresh: rotation, reuse detection, session limits, dead users, bad bodies (TOK-06..10, SES-07)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse_lazy

from mfa import signals
from mfa.models import AuthSession, SecurityEvent
from tests.helpers import claims, login, mfa_login

pytestmark = pytest.mark.django_db(transaction=True)

ME = reverse_lazy("mfa:auth-me")
REFRESH = reverse_lazy("mfa:auth-refresh")



def refresh(api, token):
    return api.post(REFRESH, {"refresh": token}, format="json")


def me_status(api, access: str) -> int:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    status = api.get(ME).status_code
    api.credentials()
    return status


@pytest.fixture
def strict_profile(settings):
    """The README's NIST AAL2 profile: 24 h absolute, 1 h idle."""
    settings.MFA = {
        **settings.MFA,
        "SESSION_ABSOLUTE_LIFETIME": timedelta(hours=24),
        "SESSION_IDLE_TIMEOUT": timedelta(hours=1),
    }


# --- Rotation (TOK-06, TOK-10, TOK-11) ------------------------------------------------------------------


def test_refresh_returns_a_new_pair_and_is_never_cached(api, pair, clock):
    clock.advance(10)
    r = refresh(api, pair["refresh"])
    assert r.status_code == 200, r.content
    assert set(r.json()) == {"access", "refresh"}
    assert r["Cache-Control"] == "no-store"
    assert claims(r.json()["refresh"])["jti"] != claims(pair["refresh"])["jti"]
    assert claims(r.json()["access"])["jti"] != claims(pair["access"])["jti"]
    assert me_status(api, r.json()["access"]) == 200
    assert not r.cookies


def test_rotated_refresh_token_stops_working(api, pair):
    assert refresh(api, pair["refresh"]).status_code == 200
    r = refresh(api, pair["refresh"])
    assert r.status_code == 401
    assert r.json()["code"] == "token_not_valid"
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_refresh_keeps_sid_amr_and_auth_time(api, clock, user_with_mfa):
    tokens = mfa_login(api, user_with_mfa, clock)
    first = claims(tokens["access"])
    token = tokens["refresh"]
    for _ in range(3):
        clock.advance(240)
        r = refresh(api, token)
        assert r.status_code == 200, r.content
        token = r.json()["refresh"]
        for new in (claims(r.json()["access"]), claims(token)):
            assert (new["sid"], new["amr"], new["auth_time"]) == (first["sid"], ["pwd", "otp", "mfa"], first["auth_time"])
            assert new["user_id"] == first["user_id"]
        assert AuthSession.objects.filter(pk=first["sid"], revoked_at=None).exists()


def test_refresh_of_a_password_only_session_never_raises_assurance(api, pair):
    r = refresh(api, pair["refresh"])
    assert claims(r.json()["access"])["amr"] == ["pwd"]


def test_refresh_updates_last_used_but_not_the_session_end(api, pair, user, clock):
    session = AuthSession.objects.get(user=user)
    clock.advance(600)
    assert refresh(api, pair["refresh"]).status_code == 200
    session.refresh_from_db()
    assert session.last_used_at == clock.now
    assert session.expires_at == clock.now - timedelta(seconds=600) + timedelta(days=7)


# --- Reuse detection (TOK-07, RFC 9700 4.14.2) ------------------------------------------------------------


def test_reused_refresh_token_revokes_the_whole_session(api, pair, user):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.refresh_reuse_detected.connect(receiver)
    try:
        new = refresh(api, pair["refresh"]).json()
        assert me_status(api, new["access"]) == 200
        assert refresh(api, pair["refresh"]).status_code == 401  # R0 again: theft
    finally:
        signals.refresh_reuse_detected.disconnect(receiver)

    assert refresh(api, new["refresh"]).status_code == 401  # R1 died with the session
    assert me_status(api, new["access"]) == 401  # and its access token, at once
    assert me_status(api, pair["access"]) == 401
    session = AuthSession.objects.get(user=user)
    assert session.revoked_at is not None and session.revoke_reason == "refresh_reuse"
    events = SecurityEvent.objects.filter(user=user, type="refresh_reuse")
    assert events.count() == 1
    assert events.get().details["session_id"] == str(session.pk)
    assert len(received) == 1
    assert received[0]["user"] == user and received[0]["session_id"] == str(session.pk)
    assert not any(pair["refresh"] in str(v) or new["refresh"] in str(v) for v in received[0].values())


def test_reuse_in_one_session_leaves_other_sessions_alone(api, user):
    victim = login(api, user.email).json()
    other = login(api, user.email).json()
    refresh(api, victim["refresh"])
    assert refresh(api, victim["refresh"]).status_code == 401
    assert me_status(api, other["access"]) == 200
    assert refresh(api, other["refresh"]).status_code == 200


# --- Session limits (TOK-08, SES-07) ------------------------------------------------------------------------


def test_refreshing_every_five_minutes_stops_at_the_absolute_lifetime(api, user, clock, strict_profile):
    start = clock.now
    token = login(api, user.email).json()["refresh"]
    while clock.now < start + timedelta(hours=24) - timedelta(minutes=5):
        clock.advance(300)
        r = refresh(api, token)
        assert r.status_code == 200, (clock.now - start, r.content)
        token = r.json()["refresh"]
        assert claims(token)["exp"] <= int((start + timedelta(hours=24)).timestamp())
    clock.advance(300)
    assert clock.now == start + timedelta(hours=24)
    assert refresh(api, token).status_code == 401
    assert me_status(api, r.json()["access"]) == 401


def test_idle_session_cannot_be_refreshed(api, user, clock, strict_profile):
    token = login(api, user.email).json()["refresh"]
    clock.advance(59 * 60)
    r = refresh(api, token)
    assert r.status_code == 200  # activity within the hour resets the idle timer
    clock.advance(61 * 60)
    assert refresh(api, r.json()["refresh"]).status_code == 401


def test_new_login_resets_both_timers(api, user, clock, strict_profile):
    clock.advance(25 * 3600)
    r = login(api, user.email)
    assert refresh(api, r.json()["refresh"]).status_code == 200


# --- Dead users (TOK-09) ----------------------------------------------------------------------------------


def test_deactivated_user_cannot_refresh(api, pair, user):
    user.is_active = False
    user.save()
    assert refresh(api, pair["refresh"]).status_code == 401
    assert me_status(api, pair["access"]) == 401


def test_deactivation_revokes_sessions_for_good(api, pair, user):
    user.is_active = False
    user.save()
    user.is_active = True
    user.save()
    assert refresh(api, pair["refresh"]).status_code == 401
    assert me_status(api, pair["access"]) == 401
    assert AuthSession.objects.get(user=user).revoke_reason == "user_deactivated"


def test_deleted_user_cannot_refresh(api, pair, user):
    user.delete()
    r = refresh(api, pair["refresh"])
    assert r.status_code == 401
    assert me_status(api, pair["access"]) == 401


def test_password_change_ends_sessions(api, pair, user):
    user.set_password("a brand new passphrase 42")
    user.save()
    assert refresh(api, pair["refresh"]).status_code == 401
    assert me_status(api, pair["access"]) == 401


# --- Bad bodies (never 500) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"refresh": None},
        {"refresh": 12345},
        {"refresh": True},
        {"refresh": ["a.b.c"]},
        {"refresh": {"a": 1}},
        {"refresh": ""},
        {"refresh": "x" * 10_000},
        {"refresh": "garbage"},
        {"refresh": "a.b.c"},
        [],
        "just a string",
    ],
    ids=["missing", "null", "number", "bool", "list", "object", "empty", "10k", "garbage", "abc", "array",
         "string"],
)
def test_malformed_refresh_body_is_refused_without_a_crash(api, pair, body):
    r = api.post(REFRESH, body, format="json")
    assert r.status_code in (400, 401), r.content
    assert refresh(api, pair["refresh"]).status_code == 200  # nothing was revoked


def test_non_json_refresh_body_is_refused(api):
    r = api.post(REFRESH, "refresh=abc", content_type="application/x-www-form-urlencoded")
    assert r.status_code in (400, 401, 415)
    r = api.post(REFRESH, "{not json", content_type="application/json")
    assert r.status_code == 400
    # a NUL and a lone surrogate, escaped in otherwise valid JSON
    r = api.post(REFRESH, '{"refresh": "a\\u0000.b\\udcff.c"}', content_type="application/json")
    assert r.status_code in (400, 401)
