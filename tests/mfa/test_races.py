"""Second-factor races with real threads (SECURITY-CHECKS J RACE-01, RACE-03, and the lost-update half
of RACE-04): one code, one winner; one recovery code, one use; concurrent failures all counted.

Each thread waits on a barrier, then posts with its own Django test Client (or calls mfa.flows), and
closes its database connection when done. Skipped on SQLite: its in-memory test database is one
connection shared by all threads ("database table is locked"), so it cannot show a race either way.
MongoDB has no row locks or transactions here: these pass only through conditional writes.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from mfa import factors, flows
from mfa.events import ClientInfo
from mfa.exceptions import MFAError
from mfa.methods import recovery_codes
from mfa.models import AuthSession, MFAAccount, RecoveryCode, SecurityEvent
from tests.helpers import PASSWORD, totp_now
from tests.mfa.helpers import LOGIN_VERIFY, account_of, race_marks, run_together, wrong_code

pytestmark = race_marks

THREADS = 8
FACTS = ClientInfo(ip="192.0.2.1", user_agent="race")


def in_threads(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs together (tests.mfa.helpers.run_together): an mfa error is a result; anything
    else fails the test."""
    results = run_together(jobs)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, MFAError)]
    assert not unexpected, unexpected
    return results


def new_mfa_token(email: str) -> str:
    r = Client().post(reverse("mfa:auth-login"), {"email": email, "password": PASSWORD}, content_type="application/json")
    assert r.status_code == 200 and r.json()["requires_mfa"] is True, r.content
    return r.json()["mfa_token"]


def post_verify(token: str, code: str) -> Callable[[], int]:
    def job() -> int:
        r = Client().post(LOGIN_VERIFY, {"mfa_token": token, "code": code}, content_type="application/json")
        assert r.status_code in (200, 401, 429), r.content
        return r.status_code

    return job


def flow_verify(token: str, code: str, clock) -> Callable[[], object]:
    def job() -> object:
        return flows.complete_mfa_login(token, code, now=clock.now, client=FACTS)

    return job


def sessions_of(user) -> int:
    return AuthSession.objects.filter(user=user).count()


@pytest.mark.parametrize("round_", range(3))
def test_one_totp_code_with_one_mfa_token_succeeds_once(user_with_mfa, clock, round_):
    clock.advance(30 * round_)
    token = new_mfa_token(user_with_mfa.email)
    code = totp_now(user_with_mfa.secret, clock.now)
    before = sessions_of(user_with_mfa.user)
    statuses = in_threads([post_verify(token, code) for _ in range(THREADS)])
    assert sorted(statuses).count(200) == 1, statuses
    assert sessions_of(user_with_mfa.user) == before + 1
    assert AuthSession.objects.exclude(mfa_jti=None).count() == 1  # the token's id, recorded once


@pytest.mark.parametrize("round_", range(3))
def test_one_totp_code_with_many_mfa_tokens_of_one_user_succeeds_once(user_with_mfa, clock, round_):
    clock.advance(30 * round_)
    tokens = [new_mfa_token(user_with_mfa.email) for _ in range(THREADS)]
    code = totp_now(user_with_mfa.secret, clock.now)
    before = sessions_of(user_with_mfa.user)
    statuses = in_threads([post_verify(token, code) for token in tokens])
    assert statuses.count(200) == 1, statuses
    assert sessions_of(user_with_mfa.user) == before + 1
    # the step was written once: the winner's
    assert account_of(user_with_mfa.user).totp_last_step == int(clock.now.timestamp()) // 30


@pytest.mark.parametrize("round_", range(3))
def test_one_totp_code_through_the_flow_succeeds_once(user_with_mfa, clock, round_):
    clock.advance(30 * round_)
    tokens = [new_mfa_token(user_with_mfa.email) for _ in range(THREADS)]
    code = totp_now(user_with_mfa.secret, clock.now)
    results = in_threads([flow_verify(token, code, clock) for token in tokens])
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1, results


@pytest.mark.parametrize("round_", range(3))
def test_one_recovery_code_succeeds_once(user_with_mfa, clock, round_):
    code = user_with_mfa.recovery_codes[round_]
    left = account_of(user_with_mfa.user).recovery_codes_left
    tokens = [new_mfa_token(user_with_mfa.email) for _ in range(THREADS)]
    statuses = in_threads([post_verify(token, code.lower()) for token in tokens])
    assert statuses.count(200) == 1, statuses
    assert account_of(user_with_mfa.user).recovery_codes_left == left - 1
    assert RecoveryCode.objects.filter(user=user_with_mfa.user, used_at=None).count() == left - 1
    # the other codes are untouched
    other = user_with_mfa.recovery_codes[round_ + 5]
    clock.advance(3600)  # past any lockout the losers caused
    r = Client().post(LOGIN_VERIFY, {"mfa_token": new_mfa_token(user_with_mfa.email), "code": other},
                      content_type="application/json")
    assert r.status_code == 200, r.content


def test_one_recovery_code_with_one_mfa_token_succeeds_once(user_with_mfa, clock):
    token = new_mfa_token(user_with_mfa.email)
    code = user_with_mfa.recovery_codes[0]
    results = in_threads([flow_verify(token, code, clock) for _ in range(THREADS)])
    assert len([r for r in results if not isinstance(r, BaseException)]) == 1, results
    assert account_of(user_with_mfa.user).recovery_codes_left == 9


@pytest.fixture
def no_lockout(settings):
    # With the lockout on, threads that start after the 5th failure are refused before counting.
    settings.MFA = {**settings.MFA, "LOCKOUT_THRESHOLD": 1000}


@pytest.mark.parametrize("round_", range(2))
def test_concurrent_wrong_codes_are_all_counted(user_with_mfa, clock, no_lockout, round_):
    bad = wrong_code(user_with_mfa.secret, clock.now)
    tokens = [new_mfa_token(user_with_mfa.email) for _ in range(20)]
    results = in_threads([flow_verify(token, bad, clock) for token in tokens])
    assert all(getattr(r, "code", None) == "invalid_code" for r in results), results
    # an atomic F() increment per failure: none is lost
    assert account_of(user_with_mfa.user).failure_count == 20


def test_concurrent_wrong_codes_over_http_lock_and_never_succeed(user_with_mfa, clock):
    # With the real threshold: every attempt fails, at least 5 are counted, and the user is locked.
    tokens = [new_mfa_token(user_with_mfa.email) for _ in range(20)]
    bad = wrong_code(user_with_mfa.secret, clock.now)
    statuses = in_threads([post_verify(token, bad) for token in tokens])
    assert set(statuses) <= {401, 429} and statuses.count(401) >= 5, statuses
    device = account_of(user_with_mfa.user)
    assert device.failure_count == statuses.count(401)
    assert device.locked_until is not None


# --- Attempts are claimed before a code is evaluated (issue 12) ---------------------------------------

BURST = 16


@pytest.fixture
def evaluations(monkeypatch) -> list[int]:
    """Every TOTP code the site actually checks against the secret (flows calls totp.matching_step)."""
    from mfa.methods import totp

    calls: list[int] = []
    real = totp.matching_step

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(totp, "matching_step", counted)
    return calls


def test_a_burst_of_wrong_codes_evaluates_no_more_than_the_lockout_allows(user_with_mfa, clock, evaluations):
    """16 threads, one mfa_token, 0 failures before, threshold 5: before claims, about 12 codes were
    evaluated; now the 5th claim sets the lock and the other 11 are refused unread."""
    token = new_mfa_token(user_with_mfa.email)
    bad = wrong_code(user_with_mfa.secret, clock.now)
    results = in_threads([flow_verify(token, bad, clock) for _ in range(BURST)])
    codes = [getattr(r, "code", None) for r in results]
    assert len(evaluations) == codes.count("invalid_code") == 5, codes
    assert codes.count("mfa_locked") == BURST - 5
    device = account_of(user_with_mfa.user)
    assert device.failure_count == 5 and device.locked_until is not None
    # every evaluated failure left its event
    assert SecurityEvent.objects.filter(user=user_with_mfa.user, type="mfa_failed").count() == 5


def test_a_burst_at_99_failures_gets_one_totp_guess_then_totp_is_disabled(user_with_mfa, clock, evaluations):
    """From 99 consecutive failures a burst once evaluated 12 more TOTP codes instead of stopping at
    the 100 NIST allows; now one is evaluated, and after its lock TOTP is refused unread."""
    MFAAccount.objects.filter(user=user_with_mfa.user).update(failure_count=99)
    token = new_mfa_token(user_with_mfa.email)
    bad = wrong_code(user_with_mfa.secret, clock.now)
    results = in_threads([flow_verify(token, bad, clock) for _ in range(BURST)])
    assert len(evaluations) == 1, [getattr(r, "code", r) for r in results]
    assert account_of(user_with_mfa.user).failure_count == 100
    clock.advance(3601)
    token = new_mfa_token(user_with_mfa.email)
    with pytest.raises(MFAError) as refused:
        flows.complete_mfa_login(token, totp_now(user_with_mfa.secret, clock.now), now=clock.now, client=FACTS)
    assert refused.value.message_key == "totp_disabled" and len(evaluations) == 1



def test_concurrent_new_recovery_codes_leave_exactly_one_set(user_with_mfa, clock):
    """8 replacements at once (two tabs, a double click): each is answered with its set, and one
    whole set survives, with its count. On MongoDB the losers' transactions hit a write conflict
    (TransientTransactionError) and are run again (mfa.db.run_in_transaction); on PostgreSQL the
    account row's lock orders them. Before, MongoDB answered 7 of 8 with a database error."""
    user = user_with_mfa.user

    def replace() -> object:
        fresh = type(user).objects.get(pk=user.pk)
        return recovery_codes.replace_codes(fresh, factors.account_of(fresh))

    results = run_together([replace for _ in range(THREADS)])
    assert all(isinstance(r, list) and len(r) == 10 for r in results), results
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert account_of(user).recovery_codes_left == 10
    survivors = [
        codes for codes in results
        if recovery_codes.consume(user, account_of(user), codes[0], now=clock.now) is not None
    ]
    assert len(survivors) == 1
