"""The per-user lockout for wrong codes, and the per-IP code-failure throttle
(SECURITY-CHECKS G BRU-01..04; RFC 4226 7.3: "across login sessions")."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.helpers import PASSWORD, bearer, enable_mfa, login, totp_now
from tests.mfa.helpers import (
    DISABLE,
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


def fail(api, mfa_user, clock, token=None, **extra):
    """One wrong TOTP code at mfa/login/verify; returns the response."""
    token = token or mfa_token(api, mfa_user.email)
    return verify_login(api, token, wrong_code(mfa_user.secret, clock.now), **extra)


def assert_locked(r, retry_after: int):
    assert r.status_code == 429, r.content
    assert r["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["code"] == "mfa_locked" and isinstance(body["detail"], str)
    assert "access" not in body
    assert abs(int(r["Retry-After"]) - retry_after) <= 1, r["Retry-After"]


def test_fifth_consecutive_failure_locks_even_the_right_code_out(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    for i in range(4):
        assert fail(api, user_with_mfa, clock, token).status_code == 401, i
    assert account_of(user_with_mfa.user).locked_until is None
    assert fail(api, user_with_mfa, clock, token).status_code == 401
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert_locked(r, 30)
    r = verify_login(api, token, user_with_mfa.recovery_codes[0])
    assert_locked(r, 30)
    assert account_of(user_with_mfa.user).recovery_codes_left == 10
    clock.advance(10)
    assert_locked(verify_login(api, token, totp_now(user_with_mfa.secret, clock.now)), 20)


def test_four_failures_do_not_lock(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    for _ in range(4):
        assert fail(api, user_with_mfa, clock, token).status_code == 401
    r = verify_login(api, token, totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_wait_doubles_after_each_further_failure(api, user_with_mfa, clock):
    for _ in range(5):
        fail(api, user_with_mfa, clock)
    clock.advance(30)
    token = mfa_token(api, user_with_mfa.email)
    assert fail(api, user_with_mfa, clock, token).status_code == 401  # the 6th failure
    assert_locked(verify_login(api, token, totp_now(user_with_mfa.secret, clock.now)), 60)
    clock.advance(60)
    assert fail(api, user_with_mfa, clock, token).status_code == 401  # the 7th
    assert_locked(verify_login(api, token, totp_now(user_with_mfa.secret, clock.now)), 120)


def test_wait_is_capped_at_one_hour(api, user_with_mfa, clock):
    waits = []
    for _ in range(5):
        fail(api, user_with_mfa, clock)
    for _ in range(9):  # failures 6..14
        retry = int(verify_login(api, mfa_token(api, user_with_mfa.email), "000000")["Retry-After"])
        waits.append(retry)
        clock.advance(retry)
        assert fail(api, user_with_mfa, clock).status_code == 401
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert_locked(r, 3600)


def test_lockout_ends_and_a_success_resets_the_count(api, user_with_mfa, clock):
    for _ in range(5):
        fail(api, user_with_mfa, clock)
    clock.advance(30)
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content
    account = account_of(user_with_mfa.user)
    assert account.failure_count == 0 and account.locked_until is None
    clock.advance(30)
    for _ in range(4):
        assert fail(api, user_with_mfa, clock).status_code == 401
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert r.status_code == 200, r.content


def test_recovery_code_success_resets_the_count(api, user_with_mfa, clock):
    for _ in range(4):
        fail(api, user_with_mfa, clock)
    r = verify_login(api, mfa_token(api, user_with_mfa.email), user_with_mfa.recovery_codes[0])
    assert r.status_code == 200
    assert account_of(user_with_mfa.user).failure_count == 0


def test_failures_across_fresh_mfa_tokens_count_together(api, user_with_mfa, clock):
    for _ in range(5):
        assert fail(api, user_with_mfa, clock, mfa_token(APIClient(), user_with_mfa.email)).status_code == 401
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
    assert_locked(r, 30)


def test_totp_and_recovery_guesses_share_one_counter(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    for _ in range(3):
        assert fail(api, user_with_mfa, clock, token).status_code == 401
    for guess in ("ABCDE-FGHIJ-KLMN2", "ZZZZZ-ZZZZZ-ZZZZZ"):
        assert verify_login(api, token, guess).status_code == 401
    assert account_of(user_with_mfa.user).failure_count == 5
    assert_locked(verify_login(api, token, user_with_mfa.recovery_codes[0]), 30)


def test_recovery_guesses_alone_lock(api, user_with_mfa, clock):
    token = mfa_token(api, user_with_mfa.email)
    for i in range(5):
        assert verify_login(api, token, f"ABCDE-FGHIJ-KLMN{i + 2}").status_code == 401
    assert_locked(verify_login(api, token, totp_now(user_with_mfa.secret, clock.now)), 30)


def test_wrong_codes_on_pending_verify_count(api, user, clock):
    r = login(api, user.email)
    bearer(api, r.json()["access"])
    secret = api.post(SETUP, {}, format="json").json()["secret"]
    for _ in range(5):
        r = api.post(VERIFY, {"code": wrong_code(secret, clock.now)}, format="json")
        assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    assert account_of(user).failure_count == 5
    assert_locked(api.post(VERIFY, {"code": totp_now(secret, clock.now)}, format="json"), 30)
    assert not device_of(user).confirmed


def test_wrong_codes_on_disable_and_recovery_codes_count_with_login(api, user_with_mfa, clock):
    bearer(api, user_with_mfa.access)
    bad = wrong_code(user_with_mfa.secret, clock.now)
    for _ in range(2):
        r = api.post(DISABLE, {"password": PASSWORD, "code": bad}, format="json")
        assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    for _ in range(2):
        r = api.post(RECOVERY_CODES, {"code": bad}, format="json")
        assert r.status_code == 400 and r.json()["code"] == "invalid_code"
    assert account_of(user_with_mfa.user).failure_count == 4
    assert fail(api, user_with_mfa, clock, mfa_token(APIClient(), user_with_mfa.email)).status_code == 401
    good = totp_now(user_with_mfa.secret, clock.now)
    assert_locked(verify_login(APIClient(), mfa_token(APIClient(), user_with_mfa.email), good), 30)
    assert_locked(api.post(DISABLE, {"password": PASSWORD, "code": good}, format="json"), 30)
    assert_locked(api.post(RECOVERY_CODES, {"code": good}, format="json"), 30)
    assert device_of(user_with_mfa.user).confirmed  # nothing lost


def test_forwarded_for_values_do_not_matter(api, user_with_mfa, clock):
    for i in range(5):
        r = fail(api, user_with_mfa, clock, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}", REMOTE_ADDR=f"198.51.100.{i}")
        assert r.status_code == 401
    r = verify_login(APIClient(), mfa_token(APIClient(), user_with_mfa.email),
                     totp_now(user_with_mfa.secret, clock.now), HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert_locked(r, 30)


def test_counter_lives_in_the_database(api, user_with_mfa, clock):
    for expected in range(1, 4):
        fail(api, user_with_mfa, clock)
        assert account_of(user_with_mfa.user).failure_count == expected
    cache.clear()  # no process-local state: a worker restart loses nothing
    for _ in range(2):
        fail(api, user_with_mfa, clock)
    account = account_of(user_with_mfa.user)
    assert account.failure_count == 5 and account.locked_until is not None
    cache.clear()
    assert_locked(verify_login(APIClient(), mfa_token(APIClient(), user_with_mfa.email),
                               totp_now(user_with_mfa.secret, clock.now)), 30)


def test_lockout_is_per_user(api, user_with_mfa, make_user, clock):
    bob = enable_mfa(APIClient(), make_user("bob@example.com"), clock)
    clock.advance(30)
    for _ in range(5):
        fail(api, user_with_mfa, clock)
    r = verify_login(api, mfa_token(api, bob.email), totp_now(bob.secret, clock.now))
    assert r.status_code == 200, r.content


def test_locked_attempts_are_not_counted_again(api, user_with_mfa, clock):
    for _ in range(5):
        fail(api, user_with_mfa, clock)
    for _ in range(3):
        assert_locked(fail(api, user_with_mfa, clock), 30)
    assert account_of(user_with_mfa.user).failure_count == 5


# --- Per-IP code-failure throttle (AUTH_IP_RATE_CODE_FAILURES) --------------------------------------


@pytest.fixture
def code_failure_rate(settings):
    settings.MFA = {**settings.MFA, "IP_RATES": {**settings.MFA["IP_RATES"], "code_failures": "3/min"}}
    cache.clear()
    yield
    cache.clear()


def test_ip_throttle_refuses_the_fourth_request_from_one_ip(code_failure_rate, api, user_with_mfa,
                                                             make_user, clock):
    bob = enable_mfa(APIClient(), make_user("bob@example.com"), clock)
    clock.advance(30)
    cache.clear()  # enabling Bob made no failure, but start from a clean slate anyway
    for _ in range(3):
        assert fail(api, user_with_mfa, clock, REMOTE_ADDR="192.0.2.7").status_code == 401
    # The 4th request from that IP is throttled, whoever it is for and whatever the code.
    bobs_token = mfa_token(APIClient(), bob.email)
    r = verify_login(APIClient(), bobs_token, totp_now(bob.secret, clock.now), REMOTE_ADDR="192.0.2.7")
    assert r.status_code == 429
    assert "Retry-After" in r
    assert r.json()["code"] != "mfa_locked"
    # The per-user lockout is a separate thing: Alice has 3 failures and is not locked; Bob has none.
    assert account_of(user_with_mfa.user).failure_count == 3
    assert account_of(user_with_mfa.user).locked_until is None
    assert account_of(bob.user).failure_count == 0
    # From another IP, Bob's code works.
    r = verify_login(APIClient(), bobs_token, totp_now(bob.secret, clock.now), REMOTE_ADDR="192.0.2.8")
    assert r.status_code == 200, r.content


def test_ip_throttle_counts_only_failures(code_failure_rate, api, user_with_mfa, clock):
    for _ in range(4):
        r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now))
        assert r.status_code == 200
        clock.advance(30)
    for _ in range(4):
        assert verify_login(api, mfa_token(api, user_with_mfa.email), "12").status_code == 400  # malformed
    for _ in range(3):
        assert fail(api, user_with_mfa, clock).status_code == 401
    assert fail(api, user_with_mfa, clock).status_code == 429


def test_user_lockout_applies_across_ips_whatever_the_ip_throttle(code_failure_rate, api, user_with_mfa, clock):
    for i in range(5):
        assert fail(api, user_with_mfa, clock, REMOTE_ADDR=f"192.0.2.{i + 20}").status_code == 401
    r = verify_login(api, mfa_token(api, user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now),
                     REMOTE_ADDR="192.0.2.99")
    assert_locked(r, 30)
