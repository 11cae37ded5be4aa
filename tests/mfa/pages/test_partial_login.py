"""The partial-login middleware and browser pages, with Django's test client."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfa import sessions
from mfa.events import UNKNOWN_CLIENT
from mfa.models import AuthSession, RevokeReason, SecurityEvent, TOTPDevice, WebAuthnCredential
from tests.helpers import PASSWORD, totp_now
from tests.mfa.helpers import account_of
from tests.webauthn_authenticator import SoftAuthenticator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser() -> Client:
    return Client()


def post_json(browser: Client, name: str, body: dict | None = None):
    return browser.post(reverse(f"mfa_pages:{name}"), json.dumps(body or {}), content_type="application/json")


def sign_in(browser: Client, email: str, password: str = PASSWORD, next_url: str = ""):
    url = reverse("mfa_pages:login") + (f"?next={next_url}" if next_url else "")
    return browser.post(url, {"username": email, "password": password, "next": next_url})


def test_password_only_user_is_fully_signed_in_with_a_session_row(browser, user):
    r = sign_in(browser, user.email)
    assert r.status_code == 302
    assert browser.get(reverse("mfa_pages:home")).status_code == 200
    row = AuthSession.objects.get(user=user)
    assert row.amr == "pwd" and browser.session["mfa.sid"] == str(row.pk)


def test_mfa_user_is_half_authenticated_until_the_code(browser, user_with_mfa, clock):
    r = sign_in(browser, user_with_mfa.email)
    assert r.status_code == 302
    assert "_auth_user_id" not in browser.session
    assert browser.session["mfa.pending"]["user"] == str(user_with_mfa.user.pk)
    # every page but the challenge sends the user to the challenge
    for path in (reverse("mfa_pages:home"), reverse("mfa_pages:sessions"), "/admin/"):
        r = browser.get(path)
        assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:challenge")), path
    # API paths answer 401 JSON
    r = browser.get(reverse("mfa:auth-me"))
    assert r.status_code == 401 and r.json()["code"] in {"mfa_required", "not_authenticated"}
    assert AuthSession.objects.filter(user=user_with_mfa.user).count() == 1  # only the API one
    old_key = browser.session.session_key
    r = browser.post(reverse("mfa_pages:challenge"), {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 302
    assert browser.session.session_key != old_key  # rotated on completion
    assert browser.get(reverse("mfa_pages:home")).status_code == 200
    row = AuthSession.objects.filter(user=user_with_mfa.user).order_by("-created_at").first()
    assert row.amr == "pwd otp mfa"


def test_challenge_refuses_replay_and_wrong_codes_count(browser, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    sign_in(browser, user_with_mfa.email)
    assert browser.post(reverse("mfa_pages:challenge"), {"code": code}).status_code == 302
    other = Client()
    sign_in(other, user_with_mfa.email)
    r = other.post(reverse("mfa_pages:challenge"), {"code": code})
    assert r.status_code == 400 and "_auth_user_id" not in other.session
    for _ in range(4):
        other.post(reverse("mfa_pages:challenge"), {"code": "000000"})
    assert account_of(user_with_mfa.user).failure_count == 5
    clock.advance(10)  # locked for 30 s: even the next step's right code is refused
    r = other.post(reverse("mfa_pages:challenge"), {"code": totp_now(user_with_mfa.secret, clock.now, 1)})
    assert r.status_code == 429


def test_half_authenticated_state_expires_after_five_minutes(browser, user_with_mfa, clock):
    sign_in(browser, user_with_mfa.email)
    clock.advance(301)
    import time
    from unittest import mock

    with mock.patch("mfa.pages.state.time.time", return_value=time.time() + 301):
        r = browser.post(reverse("mfa_pages:challenge"), {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:login"))
    assert "_auth_user_id" not in browser.session


def test_a_pending_login_of_a_deactivated_user_is_dropped(browser, user_with_mfa, clock):
    """An account deactivated between the password and the code: the right code completes
    nothing, the unfinished sign-in is dropped and the browser starts over."""
    sign_in(browser, user_with_mfa.email)
    assert "mfa.pending" in browser.session
    user_with_mfa.user.is_active = False
    user_with_mfa.user.save()
    sessions_before, logins_before = AuthSession.objects.count(), SecurityEvent.objects.filter(type="login").count()
    r = browser.post(reverse("mfa_pages:challenge"), {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:login")
    assert "mfa.pending" not in browser.session and "_auth_user_id" not in browser.session
    assert AuthSession.objects.count() == sessions_before
    assert SecurityEvent.objects.filter(type="login").count() == logins_before


def test_recovery_code_completes_browser_login(browser, user_with_mfa):
    sign_in(browser, user_with_mfa.email)
    r = browser.post(reverse("mfa_pages:challenge"), {"code": user_with_mfa.recovery_codes[0]})
    assert r.status_code == 302
    assert browser.get(reverse("mfa_pages:home")).status_code == 200


def test_admin_login_goes_through_the_challenge(browser, make_user, clock, api):
    from tests.helpers import enable_mfa

    staff = make_user("staff@example.com", is_staff=True, is_superuser=True)
    mfa_user = enable_mfa(api, staff, clock)
    clock.advance(30)
    r = browser.post("/admin/login/?next=/admin/", {"username": staff.email, "password": PASSWORD, "next": "/admin/"})
    assert r.status_code == 302
    r = browser.get("/admin/")
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:challenge") + "?next=%2Fadmin%2F"
    r = browser.post(r["Location"], {"code": totp_now(mfa_user.secret, clock.now), "next": "/admin/"})
    assert r.status_code == 302 and r["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200


def test_revoking_the_session_signs_the_browser_out(browser, user):
    sign_in(browser, user.email)
    AuthSession.objects.filter(user=user).update(revoked_at="2020-01-01T00:00:00Z")
    r = browser.get(reverse("mfa_pages:home"))
    assert r.status_code == 302 and reverse("mfa_pages:login") in r["Location"]
    assert "_auth_user_id" not in browser.session


def test_an_ended_session_cannot_call_the_json_endpoints(browser, user, clock, settings):
    """Ending a browser's session row (API, admin, sessions page) signs it out of the pages' JSON
    endpoints too: a 401 JSON answer, the browser signed out, no key registered."""
    settings.MFA = {**settings.MFA, "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": ["http://localhost:8000"]}
    sign_in(browser, user.email)
    options = post_json(browser, "key_register_options").json()  # the ceremony starts while it is live
    sessions.revoke_session(
        user, browser.session["mfa.sid"], now=timezone.now(), client=UNKNOWN_CLIENT, reason=RevokeReason.REVOKED
    )
    r = post_json(browser, "key_register_verify", {
        "ceremony_id": options["ceremony_id"], "credential": SoftAuthenticator().create(options["publicKey"]),
        "name": "Blue",
    })
    assert r.status_code == 401 and r.json()["code"] == "session_ended" and r.json()["detail"]
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert "_auth_user_id" not in browser.session and "mfa.sid" not in browser.session
    assert not WebAuthnCredential.objects.exists() and account_of(user).key_count == 0
    r = post_json(browser, "key_register_options")  # signed out now: as any anonymous browser
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_browser_session_uses_the_middlewares_row_only_for_its_session_id(user):
    """Without the middleware's row (or with one kept for another session id, as after a login in
    the same request), browser_session reads the cookie's row, live or not."""
    from django.test import RequestFactory

    from mfa.pages.state import LIVE_ROW_ATTR, SID_KEY
    from mfa.pages.views import browser_session

    now = timezone.now()
    row = sessions.create_session(user, amr=["pwd"], now=now, client=UNKNOWN_CLIENT)
    other = sessions.create_session(user, amr=["pwd"], now=now, client=UNKNOWN_CLIENT)
    request = RequestFactory().get("/")
    request.session = {SID_KEY: str(row.pk)}
    assert browser_session(request).pk == row.pk
    setattr(request, LIVE_ROW_ATTR, other)
    assert browser_session(request).pk == row.pk
    sessions.revoke_session(user, str(row.pk), now=now, client=UNKNOWN_CLIENT, reason=RevokeReason.REVOKED)
    assert browser_session(request) is None
    setattr(request, LIVE_ROW_ATTR, row)  # the middleware's row for this session id is used as is
    assert browser_session(request) is row
    request.session = {}
    assert browser_session(request) is None


def test_enrol_page_shows_qr_and_secret_and_enables(browser, user, clock):
    sign_in(browser, user.email)
    r = browser.get(reverse("mfa_pages:enrol"))
    html = r.content.decode()
    assert r.status_code == 200 and 'src="data:image/svg+xml' in html
    secret = re.search(r'data-secret="([A-Z2-7]{32})"', html).group(1)
    r = browser.post(reverse("mfa_pages:enrol"), {"code": totp_now(secret, clock.now)})
    assert r.status_code == 200 and "recovery-codes.txt" in r.content.decode()
    assert "no-store" in r["Cache-Control"]
    assert TOTPDevice.objects.get(user=user).confirmed


def test_mandatory_mfa_for_staff_sends_staff_to_enrolment(browser, make_user, settings):
    settings.MFA = {**settings.MFA, "REQUIRED": "staff"}
    staff = make_user("boss@example.com", is_staff=True, is_superuser=True)
    plain = make_user("plain@example.com")
    sign_in(browser, staff.email)
    r = browser.get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:enrol"))
    assert browser.get(reverse("mfa_pages:enrol")).status_code == 200
    other = Client()
    sign_in(other, plain.email)
    assert other.get(reverse("mfa_pages:home")).status_code == 200


def test_grace_period_reminds_but_lets_through(browser, make_user, settings):
    settings.MFA = {**settings.MFA, "REQUIRED": "all", "REQUIRED_GRACE_DAYS": 7}
    u = make_user("new@example.com")
    sign_in(browser, u.email)
    r = browser.get(reverse("mfa_pages:sessions"))
    assert r.status_code == 200 and "before" in r.content.decode()


def test_api_answers_403_when_enrolment_is_required(api, make_user, settings):
    from tests.helpers import bearer, login

    settings.MFA = {**settings.MFA, "REQUIRED": "all"}
    u = make_user("api@example.com")
    access = login(api, u.email).json()["access"]
    bearer(api, access)
    r = api.get(reverse("mfa:sessions-list"))
    assert r.status_code == 403 and r.json()["code"] == "mfa_enrollment_required"
    assert api.get(reverse("mfa:auth-me")).status_code == 200
    assert api.post(reverse("mfa:mfa-setup"), {}, format="json").status_code == 200


def test_a_wrong_password_on_the_sign_in_page_is_recorded_like_the_apis(browser, user, api):
    """The page checks passwords through the API login's use case: the same login_failed event
    (with the client's address), the same counter."""
    r = browser.post(reverse("mfa_pages:login"), {"username": user.email, "password": "wrong password!"},
                     REMOTE_ADDR="203.0.113.9")
    assert r.status_code == 200 and "_auth_user_id" not in browser.session
    (event,) = SecurityEvent.objects.filter(type="login_failed")
    assert event.ip == "203.0.113.9" and event.details == {"consecutive_failures": 1, "door": "browser_login"}
    r = api.post(reverse("mfa:auth-login"), {"email": user.email, "password": "wrong password!"}, format="json")
    assert r.status_code == 401
    counts = sorted(e.details["consecutive_failures"] for e in SecurityEvent.objects.filter(type="login_failed"))
    assert counts == [1, 2]  # one counter for both doors


@pytest.mark.urls("tests.mfa.pages.urls_elsewhere")
def test_api_views_answer_json_wherever_the_host_mounts_them(browser, user_with_mfa):
    """No /api/ prefix is assumed: DRF views and @mfa_json views answer 401 JSON to a browser that
    is half-way through signing in, other pages redirect to the challenge."""
    sign_in(browser, user_with_mfa.email)
    assert "mfa.pending" in browser.session
    me = reverse("mfa:auth-me")
    assert me == "/v2/auth/me"
    for path in (me, "/data/"):
        r = browser.get(path)
        assert r.status_code == 401 and r.json()["code"] == "mfa_required", path
        assert r["WWW-Authenticate"].startswith("Bearer")
    r = browser.get("/page/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:challenge"))
