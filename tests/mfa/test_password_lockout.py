"""The per-account limit on wrong passwords (NIST SP 800-63B 3.2.2, ASVS 6.3.1; check BRU-05)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True)


def _fail(api, email: str, times: int) -> list[int]:
    return [login(api, email, "wrong password!").status_code for _ in range(times)]


def test_tenth_wrong_password_starts_a_backoff_that_refuses_even_the_right_one(api, user, clock):
    assert _fail(api, user.email, 10) == [401] * 10
    r = login(api, user.email)
    assert r.status_code == 429
    # Its own code, told apart from the code lockout's mfa_locked (CHANGELOG, Unreleased).
    assert r.json() == {"detail": "Too many failed logins. Try again later.", "code": "login_locked"}
    assert int(r["Retry-After"]) == 30


def test_backoff_doubles_then_ends_and_a_success_clears_it(api, user, clock):
    _fail(api, user.email, 10)
    clock.advance(31)
    assert login(api, user.email, "wrong password!").status_code == 401  # 11th: 60 s now
    r = login(api, user.email)
    assert r.status_code == 429 and int(r["Retry-After"]) == 60
    clock.advance(61)
    assert login(api, user.email).status_code == 200
    assert _fail(api, user.email, 9) == [401] * 9  # the streak started again from zero
    assert login(api, user.email).status_code == 200


def test_unknown_email_backs_off_the_same_way(api, user, clock):
    """The answer never tells a known account from an unknown one."""
    known = [*_fail(api, user.email, 10), login(api, user.email).status_code]
    unknown = [*_fail(api, "nobody@example.com", 10), login(api, "nobody@example.com").status_code]
    assert known == unknown == [401] * 10 + [429]


def test_the_limit_is_per_account_and_case_insensitive(api, make_user, clock):
    a = make_user("a@example.com")
    b = make_user("b@example.com")
    _fail(api, "A@Example.com", 10)
    assert login(api, a.email).status_code == 429
    assert login(api, b.email).status_code == 200


def test_browser_sign_in_shares_the_backoff(user, clock):
    browser = Client()
    for _ in range(10):
        r = browser.post(reverse("mfa_pages:login"), {"username": user.email, "password": "wrong password!"})
        assert r.status_code == 200
    r = browser.post(reverse("mfa_pages:login"), {"username": user.email, "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed sign-ins" in r.content.decode()
    assert "_auth_user_id" not in browser.session


def test_threshold_zero_turns_it_off(api, user, clock, settings):
    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 0}
    _fail(api, user.email, 15)
    assert login(api, user.email).status_code == 200
