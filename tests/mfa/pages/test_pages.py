"""The account pages other than sign-in: new recovery codes, disable, sessions (test client)."""

import pytest
from django.test import Client
from django.urls import reverse

from mfa.models import AuthSession, MFAAccount, TOTPDevice
from tests.helpers import PASSWORD, totp_now

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in(user_with_mfa, clock) -> Client:
    browser = Client()
    browser.post(reverse("mfa_pages:login"), {"username": user_with_mfa.email, "password": PASSWORD})
    r = browser.post(reverse("mfa_pages:challenge"), {"code": user_with_mfa.recovery_codes[-1]})
    assert r.status_code == 302
    return browser


def test_regenerate_page_refuses_a_wrong_code_then_shows_new_codes(signed_in, user_with_mfa, clock):
    r = signed_in.post(reverse("mfa_pages:regenerate"), {"code": "000000"})
    assert r.status_code == 400 and "Invalid code." in r.content.decode()
    r = signed_in.post(reverse("mfa_pages:regenerate"), {"code": totp_now(user_with_mfa.secret, clock.now)})
    assert r.status_code == 200 and r.content.decode().count("<li>") >= 10
    assert user_with_mfa.recovery_codes[0] not in r.content.decode()


def test_disable_page_needs_the_password_and_a_code(signed_in, user_with_mfa, clock):
    code = totp_now(user_with_mfa.secret, clock.now)
    r = signed_in.post(reverse("mfa_pages:disable"), {"password": "wrong password!", "code": code})
    assert r.status_code == 400 and "Invalid password." in r.content.decode()
    assert TOTPDevice.objects.filter(user=user_with_mfa.user, confirmed=True).exists()
    r = signed_in.post(reverse("mfa_pages:disable"), {"password": PASSWORD, "code": code})
    assert r.status_code == 302
    assert not TOTPDevice.objects.filter(user=user_with_mfa.user).exists()
    assert signed_in.get(reverse("mfa_pages:home")).status_code == 200  # the calling session survives


def test_lockout_shows_on_the_page_with_429(signed_in, user_with_mfa):
    MFAAccount.objects.filter(user=user_with_mfa.user).update(failure_count=4)
    assert signed_in.post(reverse("mfa_pages:regenerate"), {"code": "000000"}).status_code == 400
    r = signed_in.post(reverse("mfa_pages:regenerate"), {"code": "000000"})
    assert r.status_code == 429 and "Too many wrong attempts" in r.content.decode()


def test_sessions_page_ends_another_session(signed_in, user_with_mfa):
    other = AuthSession.objects.filter(user=user_with_mfa.user, mfa_jti=None, amr="pwd").first()
    assert other is not None  # the API session from enrolment
    r = signed_in.get(reverse("mfa_pages:sessions"))
    assert r.status_code == 200 and "This session" in r.content.decode()
    r = signed_in.post(reverse("mfa_pages:end_session", kwargs={"session_id": other.pk}))
    assert r.status_code == 302
    other.refresh_from_db()
    assert other.revoked_at is not None
    r = signed_in.post(reverse("mfa_pages:end_session", kwargs={"session_id": "00000000-0000-0000-0000-000000000000"}),
                       follow=True)
    assert "not found" in r.content.decode()
