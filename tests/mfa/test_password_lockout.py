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


def test_a_streak_is_forgotten_a_day_after_it_started(api, user, clock, settings):
    """Counted from the streak's first failure, not its last: failures spread over a day never
    add up to a lock (password_lockout.STREAK)."""
    from mfa.models import SecurityEvent

    def counts() -> list[int]:
        events = SecurityEvent.objects.filter(type="login_failed").order_by("created_at", "id")
        return [e.details["consecutive_failures"] for e in events]

    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 5}
    _fail(api, user.email, 1)
    clock.advance(23 * 3600)
    _fail(api, user.email, 1)
    clock.advance(3600 - 1)  # one second before the day is over: still the same streak
    _fail(api, user.email, 1)
    assert counts() == [1, 2, 3]
    clock.advance(2)
    _fail(api, user.email, 1)
    assert counts() == [1, 2, 3, 1]


def test_a_failure_never_shortens_a_longer_lock_set_meanwhile(settings, clock, monkeypatch):
    """Between a failure's increment and its lock update a concurrent failure may have set a longer
    lock: the update keeps it (password_lockout.record_failure)."""
    from datetime import timedelta

    from django.utils import timezone

    from mfa import password_lockout
    from mfa.models import PasswordBackoff

    settings.MFA = {**settings.MFA, "PASSWORD_LOCKOUT_THRESHOLD": 3, "LOCKOUT_BASE_SECONDS": 30}
    now = timezone.now()  # the frozen clock: whole seconds, as every database stores them
    for _ in range(2):
        password_lockout.record_failure("racer@example.com", now=now)
    longer = now + timedelta(hours=1)
    real_count = password_lockout._count

    def count_then_a_concurrent_lock(key, at):
        real_count(key, at)
        PasswordBackoff.objects.filter(key=key).update(locked_until=longer)

    monkeypatch.setattr(password_lockout, "_count", count_then_a_concurrent_lock)
    failure = password_lockout.record_failure("racer@example.com", now=now)
    assert failure == password_lockout.Failure(3, 30)
    assert PasswordBackoff.objects.get().locked_until == longer
    monkeypatch.setattr(password_lockout, "_count", real_count)
    # A shorter lock in the row is extended as usual.
    PasswordBackoff.objects.update(locked_until=now + timedelta(seconds=5))
    password_lockout.record_failure("racer@example.com", now=now)
    assert PasswordBackoff.objects.get().locked_until == now + timedelta(seconds=60)
