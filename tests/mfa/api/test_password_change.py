"""POST password/change and the password change page (issue 12): the current password goes through
the password gate, the new one through the validators; every other session ends, the calling one
stays; the owner is told; MFA is untouched."""

from __future__ import annotations

import unicodedata

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from mfa.models import AuthSession, PasswordBackoff, SecurityEvent
from tests.helpers import PASSWORD, bearer, login
from tests.mfa.helpers import ME

pytestmark = pytest.mark.django_db(transaction=True)

CHANGE = "/api/auth/password/change"
NEW = "a completely new passphrase"


def change(api, access: str, body: dict):
    bearer(api, access)
    r = api.post(reverse("mfa:password-change"), body, format="json")
    api.credentials()
    return r


def test_the_path_is_the_documented_one():
    assert reverse("mfa:password-change") == CHANGE


def test_a_change_keeps_this_session_and_ends_every_other(api, user):
    this = login(api, user.email).json()
    other = login(api, user.email).json()
    browser = Client()
    browser.post(reverse("mfa_pages:login"), {"username": user.email, "password": PASSWORD})
    r = change(api, this["access"], {"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 204 and r.content == b""
    bearer(api, this["access"])
    assert api.get(ME).status_code == 200
    assert api.post(reverse("mfa:auth-refresh"), {"refresh": this["refresh"]}, format="json").status_code == 200
    bearer(api, other["access"])
    assert api.get(ME).status_code == 401
    assert browser.get(reverse("mfa_pages:home")).status_code == 302  # signed out
    assert AuthSession.objects.filter(user=user, revoked_at=None).count() == 1
    api.credentials()
    assert login(api, user.email).status_code == 401
    assert login(api, user.email, NEW).status_code == 200
    assert [m.subject for m in mail.outbox] == ["Your password was changed"]
    assert SecurityEvent.objects.filter(user=user, type="password_changed").count() == 1


def test_a_wrong_current_password_is_refused_and_counted(api, user, settings):
    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 2}
    pair = login(api, user.email).json()
    for _ in range(2):
        r = change(api, pair["access"], {"current_password": "wrong wrong wrong", "new_password": NEW})
        assert r.status_code == 400 and r.json()["code"] == "invalid_password"
    assert [e.details["door"] for e in SecurityEvent.objects.filter(type="login_failed")] == ["password_change"] * 2
    assert PasswordBackoff.objects.get().failures == 2
    r = change(api, pair["access"], {"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 429 and r.json()["code"] == "login_locked" and int(r["Retry-After"]) > 0
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # nothing changed


@pytest.mark.parametrize("new", ["short", "password123", "12345678901234"])
def test_a_weak_new_password_is_a_field_error_and_nothing_changes(api, user, new):
    pair = login(api, user.email).json()
    r = change(api, pair["access"], {"current_password": PASSWORD, "new_password": new})
    assert r.status_code == 400 and isinstance(r.json()["new_password"], list) and r.json()["new_password"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert AuthSession.objects.filter(user=user, revoked_at=None).count() == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"current_password": PASSWORD}, {"new_password": NEW}, {"current_password": 1, "new_password": NEW},
     {"current_password": PASSWORD, "new_password": "x" * 5000}, []],
)
def test_malformed_bodies_are_400(api, user, body):
    pair = login(api, user.email).json()
    assert change(api, pair["access"], body).status_code == 400


def test_needs_an_access_token(api, user):
    r = api.post(reverse("mfa:password-change"), {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert r.status_code == 401


def test_mfa_stays_on_and_the_next_login_still_needs_the_code(api, clock, user_with_mfa):
    from tests.helpers import mfa_login

    pair = mfa_login(api, user_with_mfa, clock)
    assert change(api, pair["access"], {"current_password": PASSWORD, "new_password": NEW}).status_code == 204
    r = login(api, user_with_mfa.email, NEW)
    assert r.json()["requires_mfa"] is True


def test_the_new_password_is_stored_nfc(api, user):
    decomposed = unicodedata.normalize("NFD", "na\u00efve caf\u00e9 r\u00e9sum\u00e9")
    pair = login(api, user.email).json()
    assert change(api, pair["access"], {"current_password": PASSWORD, "new_password": decomposed}).status_code == 204
    user.refresh_from_db()
    assert user.check_password(unicodedata.normalize("NFC", decomposed))


# --- The page -------------------------------------------------------------------------------------------


def signed_in(user) -> Client:
    browser = Client()
    r = browser.post(reverse("mfa_pages:login"), {"username": user.email, "password": PASSWORD})
    assert r.status_code == 302
    return browser


def test_the_page_changes_the_password_and_keeps_this_browser_signed_in(api, user):
    browser = signed_in(user)
    other = login(api, user.email).json()
    page = reverse("mfa_pages:password_change")
    assert page == "/account/password/change/"
    assert 'href="/account/password/change/"' in browser.get(reverse("mfa_pages:home")).content.decode()
    r = browser.post(page, {"current_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert r.status_code == 302 and r["Location"] == reverse("mfa_pages:home")
    assert browser.get(reverse("mfa_pages:home")).status_code == 200  # still signed in
    bearer(api, other["access"])
    assert api.get(ME).status_code == 401


@pytest.mark.parametrize(
    ("current", "first", "second", "field", "status"),
    [
        ("wrong wrong wrong", NEW, NEW, "current_password", 400),
        (PASSWORD, NEW, NEW + "!", "new_password2", 400),
        (PASSWORD, "short", "short", "new_password1", 400),
    ],
)
def test_page_errors_sit_next_to_their_field(user, current, first, second, field, status):
    browser = signed_in(user)
    r = browser.post(reverse("mfa_pages:password_change"),
                     {"current_password": current, "new_password1": first, "new_password2": second})
    assert r.status_code == status and r.context["form"].errors[field]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert "wrong wrong wrong" not in r.content.decode() and NEW not in r.content.decode()


def test_the_page_needs_a_signed_in_user():
    r = Client().get(reverse("mfa_pages:password_change"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:login"))


def test_the_page_is_behind_the_challenge_for_a_half_signed_in_user(user_with_mfa, clock):
    browser = Client()
    browser.post(reverse("mfa_pages:login"), {"username": user_with_mfa.email, "password": PASSWORD})
    r = browser.get(reverse("mfa_pages:password_change"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("mfa_pages:challenge"))
