"""Sessions over HTTP: listing, ending one, logout, logout/all, audit, Python API (SES-01..06, SES-08)."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse, reverse_lazy
from django.utils import timezone

from mfa import sessions
from mfa.events import UNKNOWN_CLIENT
from mfa.models import AuthSession, RevokeReason, SecurityEvent
from tests.helpers import PASSWORD, claims, login, totp_now

pytestmark = pytest.mark.django_db(transaction=True)

ME = reverse_lazy("mfa:auth-me")
REFRESH = reverse_lazy("mfa:auth-refresh")
SESSIONS = reverse_lazy("mfa:sessions-list")



def as_(api, access: str | None):
    api.credentials(**({"HTTP_AUTHORIZATION": f"Bearer {access}"} if access else {}))
    return api


def me_status(api, access: str) -> int:
    status = as_(api, access).get(ME).status_code
    as_(api, None)
    return status


def refresh_status(api, token: str) -> int:
    as_(api, None)
    return api.post(REFRESH, {"refresh": token}, format="json").status_code


def new_login(api, email: str, agent: str = "pytest") -> dict:
    as_(api, None)
    r = api.post(reverse("mfa:auth-login"), {"email": email, "password": PASSWORD}, format="json", HTTP_USER_AGENT=agent)
    assert r.status_code == 200, r.content
    return r.json()


def alive(api, pair: dict) -> bool:
    """The session behind ``pair`` still works: its access token is accepted (refresh is not spent)."""
    return me_status(api, pair["access"]) == 200


# --- SES-01: one new session per login ------------------------------------------------------------------


def test_each_login_starts_a_new_session_with_a_random_uuid(api, user):
    pairs = [new_login(api, user.email) for _ in range(3)]
    sids = [claims(p["access"])["sid"] for p in pairs]
    assert len(set(sids)) == 3
    rows = AuthSession.objects.filter(user=user)
    assert rows.count() == 3
    for sid in sids:
        parsed = uuid.UUID(sid)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122  # 122 random bits
        assert rows.filter(pk=parsed, revoked_at=None).exists()
    assert len({claims(p["refresh"])["jti"] for p in pairs}) == 3  # a new refresh family each
    assert all(alive(api, p) for p in pairs)


# --- SES-02: GET sessions --------------------------------------------------------------------------------


def test_sessions_list_is_a_bare_array_of_the_callers_live_sessions(api, user, make_user):
    first = new_login(api, user.email, agent="Phone/1.0")
    current = new_login(api, user.email, agent="Laptop/2.0")
    other_user = make_user("bob@example.com")
    new_login(api, other_user.email)
    ended = new_login(api, user.email)
    assert as_(api, ended["access"]).post(reverse("mfa:auth-logout"), {}, format="json").status_code == 204

    r = as_(api, current["access"]).get(SESSIONS)
    assert r.status_code == 200
    assert r["Cache-Control"] == "no-store"
    body = r.json()
    assert isinstance(body, list) and len(body) == 2
    for row in body:
        assert set(row) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}
    by_id = {row["id"]: row for row in body}
    assert set(by_id) == {claims(first["access"])["sid"], claims(current["access"])["sid"]}
    assert [row["current"] for row in body].count(True) == 1
    mine = by_id[claims(current["access"])["sid"]]
    assert mine["current"] is True and mine["user_agent"] == "Laptop/2.0" and mine["ip"] == "127.0.0.1"
    assert by_id[claims(first["access"])["sid"]]["user_agent"] == "Phone/1.0"
    text = r.content.decode()
    assert current["refresh"] not in text and claims(current["refresh"])["jti"] not in text


def test_sessions_list_needs_a_token(api):
    r = api.get(SESSIONS)
    assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Bearer")


# --- SES-03, SES-04: DELETE sessions/{id} ---------------------------------------------------------------


def test_deleting_another_own_session_ends_it_at_once(api, user):
    doomed = new_login(api, user.email)
    caller = new_login(api, user.email)
    sid = claims(doomed["access"])["sid"]
    r = as_(api, caller["access"]).delete(reverse("mfa:sessions-detail", kwargs={"pk": sid}))
    assert r.status_code == 204 and r.content == b""
    assert me_status(api, doomed["access"]) == 401
    assert refresh_status(api, doomed["refresh"]) == 401
    assert alive(api, caller)
    assert refresh_status(api, caller["refresh"]) == 200
    assert AuthSession.objects.get(pk=sid).revoke_reason == "revoked"


def test_deleting_another_users_session_is_404_and_revokes_nothing(api, user, make_user):
    bob = make_user("bob@example.com")
    victim = new_login(api, bob.email)
    attacker = new_login(api, user.email)
    r = as_(api, attacker["access"]).delete(reverse("mfa:sessions-detail", kwargs={"pk": claims(victim["access"])["sid"]}))
    assert r.status_code == 404
    assert alive(api, victim) and refresh_status(api, victim["refresh"]) == 200
    assert not AuthSession.objects.exclude(revoked_at=None).exists()


@pytest.mark.parametrize(
    "session_id",
    [str(uuid.uuid4()), "not-a-uuid", "1", "' or 1=1 --", "%00", "a" * 300, str(uuid.uuid4()).upper()],
    ids=["random-uuid", "word", "int", "sql", "nul", "long", "upper-random"],
)
def test_deleting_an_unknown_session_id_is_404(api, user, session_id):
    pair = new_login(api, user.email)
    # appended as is, not through reverse(): "%00" must reach the site as a NUL byte
    r = as_(api, pair["access"]).delete(f"{SESSIONS}/{session_id}")
    assert r.status_code == 404
    assert alive(api, pair)


def test_deleting_an_already_ended_session_is_404(api, user):
    doomed = new_login(api, user.email)
    caller = new_login(api, user.email)
    path = reverse("mfa:sessions-detail", kwargs={"pk": claims(doomed["access"])["sid"]})
    assert as_(api, caller["access"]).delete(path).status_code == 204
    assert as_(api, caller["access"]).delete(path).status_code == 404


# --- SES-05: logout ------------------------------------------------------------------------------------------


def test_logout_ends_the_current_session_only(api, user):
    other = new_login(api, user.email)
    pair = new_login(api, user.email)
    r = as_(api, pair["access"]).post(reverse("mfa:auth-logout"), {}, format="json")
    assert r.status_code == 204 and r.content == b""
    assert me_status(api, pair["access"]) == 401
    assert refresh_status(api, pair["refresh"]) == 401
    r = as_(api, pair["access"]).post(reverse("mfa:auth-logout"), {}, format="json")
    assert r.status_code == 401
    assert alive(api, other)
    assert AuthSession.objects.get(pk=claims(pair["access"])["sid"]).revoke_reason == "logout"


def test_logout_needs_a_token(api):
    assert api.post(reverse("mfa:auth-logout"), {}, format="json").status_code == 401
    assert api.post(reverse("mfa:auth-logout-all"), {}, format="json").status_code == 401


# --- SES-06: logout/all -------------------------------------------------------------------------------------


def test_logout_all_ends_every_session_of_the_user_only(api, user, make_user):
    pairs = [new_login(api, user.email) for _ in range(3)]
    bob = new_login(api, make_user("bob@example.com").email)
    r = as_(api, pairs[0]["access"]).post(reverse("mfa:auth-logout-all"), {}, format="json")
    assert r.status_code == 204 and r.content == b""
    for pair in pairs:
        assert me_status(api, pair["access"]) == 401
        assert refresh_status(api, pair["refresh"]) == 401
    assert alive(api, bob) and refresh_status(api, bob["refresh"]) == 200
    assert as_(api, pairs[0]["access"]).post(reverse("mfa:auth-logout-all"), {}, format="json").status_code == 401


# --- Cookies, audit, Python API ------------------------------------------------------------------------------


def test_api_responses_set_no_cookies(api, user):
    as_(api, None)
    r = login(api, user.email)
    assert not r.cookies
    pair = r.json()
    responses = [
        api.post(REFRESH, {"refresh": pair["refresh"]}, format="json"),
        as_(api, pair["access"]).get(ME),
        api.get(SESSIONS),
        api.post(reverse("mfa:auth-logout"), {}, format="json"),
        api.get(ME),  # a 401
    ]
    for r in responses:
        assert not r.cookies, (r.status_code, r.cookies)
        assert "Set-Cookie" not in r


def test_logins_logouts_and_revocations_are_audited(api, user):
    a = new_login(api, user.email)
    b = new_login(api, user.email)
    c = new_login(api, user.email)
    assert SecurityEvent.objects.filter(user=user, type="login").count() == 3
    login_event = SecurityEvent.objects.filter(user=user, type="login").first()
    assert login_event.ip == "127.0.0.1" and login_event.details["amr"] == ["pwd"]

    as_(api, c["access"]).delete(reverse("mfa:sessions-detail", kwargs={"pk": claims(a["access"])["sid"]}))
    as_(api, c["access"]).post(reverse("mfa:auth-logout"), {}, format="json")
    as_(api, b["access"]).post(reverse("mfa:auth-logout-all"), {}, format="json")

    reasons = {
        (e.type, e.details.get("reason"))
        for e in SecurityEvent.objects.filter(user=user).exclude(type="login")
    }
    assert reasons == {("session_revoked", "revoked"), ("session_revoked", "logout"), ("sessions_revoked", "logout_all")}
    revoked = SecurityEvent.objects.get(user=user, type="session_revoked", details__reason="revoked")
    assert revoked.details["session_id"] == claims(a["access"])["sid"]
    for event in SecurityEvent.objects.filter(user=user):
        text = str(event.details)
        assert all(p[k] not in text for p in (a, b, c) for k in ("access", "refresh"))


def test_revoke_user_sessions_is_usable_from_python(api, user):
    keep = new_login(api, user.email)
    ended = [new_login(api, user.email) for _ in range(2)]
    count = sessions.revoke_user_sessions(
        user, now=timezone.now(), client=UNKNOWN_CLIENT, reason=RevokeReason.ADMIN, keep_session_id=claims(keep["access"])["sid"]
    )
    assert count == 2
    for pair in ended:
        assert me_status(api, pair["access"]) == 401
    assert alive(api, keep)
    assert sessions.revoke_user_sessions(user, now=timezone.now(), client=UNKNOWN_CLIENT, reason=RevokeReason.ADMIN) == 1
    assert me_status(api, keep["access"]) == 401


# --- SES-08 (MFA changes end the other sessions) -----------------------------------------------------------------


def test_enabling_and_disabling_mfa_end_other_sessions_but_not_the_callers(api, user, clock):
    other = new_login(api, user.email)
    caller = new_login(api, user.email)
    secret = as_(api, caller["access"]).post(reverse("mfa:mfa-setup"), {}, format="json").json()["secret"]
    r = api.post(reverse("mfa:mfa-verify"), {"code": totp_now(secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content
    assert me_status(api, other["access"]) == 401 and refresh_status(api, other["refresh"]) == 401
    assert alive(api, caller)

    other = new_login(api, user.email)  # now an mfa_token, so start one more session through MFA
    clock.advance(30)
    r = api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": other["mfa_token"], "code": totp_now(secret, clock.now)},
                 format="json")
    assert r.status_code == 200, r.content
    other = r.json()
    clock.advance(30)
    r = as_(api, caller["access"]).post(
        reverse("mfa:mfa-disable"), {"password": PASSWORD, "code": totp_now(secret, clock.now)}, format="json"
    )
    assert r.status_code == 200, r.content
    assert me_status(api, other["access"]) == 401 and refresh_status(api, other["refresh"]) == 401
    assert alive(api, caller)
