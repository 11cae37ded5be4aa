"""The account pages other than sign-in: new recovery codes, disable, sessions (test client)."""

import pytest
from django.test import Client

from mfa.models import AuthSession, TOTPDevice
from tests.helpers import PASSWORD, totp_now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in(user_with_mfa, clock) -> Client:
    browser = Client()
    browser.post("/account/login/", {"username": user_with_mfa.email, "password": PASSWORD})
    r = browser.post("/account/challenge/", {"code": user_with_mfa.recovery_codes[-1]})
    assert r.status_code == 302
    return browser


def test_regenerate_page_refuses_a_wrong_code_then_shows_new_codes(signed_in, user_with_mfa, clock):
    r = signed_in.post("/account/recovery-codes/", {"code": "000000"})
    assert r.status_code == 400 and "Invalid code." in r.content.decode()
    r = signed_in.post("/account/recovery-codes/", {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 200 and r.content.decode().count("<li>") >= 10
    assert user_with_mfa.recovery_codes[0] not in r.content.decode()


def test_disable_page_needs_the_password_and_a_code(signed_in, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    r = signed_in.post("/account/disable/", {"password": "wrong password!", "code": code})
    assert r.status_code == 400 and "Invalid password." in r.content.decode()
    assert TOTPDevice.objects.filter(user=user_with_mfa.user, confirmed=True).exists()
    r = signed_in.post("/account/disable/", {"password": PASSWORD, "code": code})
    assert r.status_code == 302
    assert not TOTPDevice.objects.filter(user=user_with_mfa.user).exists()
    assert signed_in.get("/account/").status_code == 200  # the calling session survives


def test_lockout_shows_on_the_page_with_429(signed_in, user_with_mfa):
    TOTPDevice.objects.filter(user=user_with_mfa.user).update(failure_count=4)
    assert signed_in.post("/account/recovery-codes/", {"code": "000000"}).status_code == 400
    r = signed_in.post("/account/recovery-codes/", {"code": "000000"})
    assert r.status_code == 429 and "Too many wrong attempts" in r.content.decode()


def test_sessions_page_ends_another_session(signed_in, user_with_mfa):
    other = AuthSession.objects.filter(user=user_with_mfa.user, mfa_jti=None, amr="pwd").first()
    assert other is not None  # the API session from enrolment
    r = signed_in.get("/account/sessions/")
    assert r.status_code == 200 and "This session" in r.content.decode()
    r = signed_in.post(f"/account/sessions/{other.pk}/end/")
    assert r.status_code == 302
    other.refresh_from_db()
    assert other.revoked_at is not None
    r = signed_in.post("/account/sessions/00000000-0000-0000-0000-000000000000/end/", follow=True)
    assert "not found" in r.content.decode()
