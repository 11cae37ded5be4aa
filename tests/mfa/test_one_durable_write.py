"""One durable write per second-factor attempt where the database makes it cheap (issue 16;
mfa.lockout.counted, mfa.db.attempts_in_one_transaction).

On PostgreSQL a login's claim, its TOTP step or recovery code, its session row and its audit events
commit together, once; a refused attempt commits its count and its failure event, once; a login
that fails before its commit leaves nothing, not even a spent step. Commits are counted where they
happen: ``connection.commit`` (an atomic block's) plus every write statement run outside one.

On SQLite each write is its own commit, on purpose (one writer lock for the file: BENCHMARKS.md
measured a transaction there at about 40% less throughput and four times the p99), and on MongoDB
Django's ``atomic`` is a no-op; there the compare-and-set writes carry the guarantees
(tests/mfa/test_races.py). The tests that hold on every backend run on all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import connection
from django.urls import reverse

from mfa import db, flows, lockout, signals
from mfa.adapter import DefaultMFAAdapter
from mfa.events import ClientInfo
from mfa.exceptions import MFAError
from mfa.models import AuthSession, SecurityEvent
from tests.helpers import login, totp_now
from tests.mfa.helpers import account_of, wrong_code

pytestmark = pytest.mark.django_db(transaction=True)

one_transaction = pytest.mark.skipif(
    not db.attempts_in_one_transaction(),
    reason="one transaction per attempt on PostgreSQL; SQLite and MongoDB commit each write",
)

WRITES = ("insert", "update", "delete")
FACTS = ClientInfo(ip="192.0.2.9", user_agent="one-write")


class Commits:
    def __init__(self) -> None:
        self.explicit = 0  # atomic blocks committed
        self.autocommitted: list[str] = []  # write statements outside any transaction

    @property
    def total(self) -> int:
        return self.explicit + len(self.autocommitted)


@contextmanager
def commits() -> Iterator[Commits]:
    seen = Commits()
    real_commit = connection.commit

    def commit() -> None:
        seen.explicit += 1
        real_commit()

    def statement(execute, sql, params, many, context):
        if not connection.in_atomic_block and sql.lstrip().lower().startswith(WRITES):
            seen.autocommitted.append(sql[:80])
        return execute(sql, params, many, context)

    with mock.patch.object(connection, "commit", commit), connection.execute_wrapper(statement):
        yield seen


def verify(api, token: str, code: str):
    return api.post(reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": code}, format="json")


@one_transaction
def test_a_totp_login_commits_once(api, user_with_mfa, clock):
    token = login(api, user_with_mfa.email).json()["mfa_token"]

    with commits() as seen:
        r = verify(api, token, totp_now(user_with_mfa.secret, clock.now))

    assert r.status_code == 200, r.content
    assert (seen.explicit, seen.autocommitted) == (1, []), seen.autocommitted
    assert AuthSession.objects.filter(user=user_with_mfa.user, amr__contains="otp").exists()
    assert SecurityEvent.objects.filter(user=user_with_mfa.user, type="login").count() == 2  # setup's + this


@one_transaction
def test_a_wrong_code_commits_its_count_and_event_once(api, user_with_mfa, clock):
    token = login(api, user_with_mfa.email).json()["mfa_token"]

    with commits() as seen:
        r = verify(api, token, wrong_code(user_with_mfa.secret, clock.now))

    assert r.status_code == 401 and r.json()["code"] == "invalid_code", r.content
    assert seen.total == 1, seen.autocommitted
    # raised after the commit: the count and the event stay
    assert account_of(user_with_mfa.user).failure_count == 1
    assert SecurityEvent.objects.filter(user=user_with_mfa.user, type="mfa_failed").count() == 1


@one_transaction
def test_a_recovery_code_login_commits_once(api, user_with_mfa, clock):
    token = login(api, user_with_mfa.email).json()["mfa_token"]

    with commits() as seen:
        r = verify(api, token, user_with_mfa.recovery_codes[0])

    assert r.status_code == 200, r.content
    assert seen.total == 1, seen.autocommitted
    assert account_of(user_with_mfa.user).recovery_codes_left == 9


def test_the_lockout_email_is_sent_after_the_commit(api, user_with_mfa, clock, settings):
    """Not while the attempt holds SQLite's writer lock (or PostgreSQL's row lock)."""
    settings.MFA = {**getattr(settings, "MFA", {}), "LOCKOUT_THRESHOLD": 2}
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    sent_inside: list[bool] = []
    real_send = DefaultMFAAdapter.send_notification

    def send(self, user, address, subject, body):
        sent_inside.append(connection.in_atomic_block)
        return real_send(self, user, address, subject, body)

    with mock.patch.object(DefaultMFAAdapter, "send_notification", send):
        for _ in range(2):
            verify(api, token, wrong_code(user_with_mfa.secret, clock.now))

    assert sent_inside == [False]
    assert account_of(user_with_mfa.user).locked_until is not None


@one_transaction
def test_a_login_that_fails_before_its_commit_leaves_nothing(user_with_mfa, clock):
    """A crash after the session insert (here: a login signal receiver raising) rolls back the
    session, the login event, the spent TOTP step and the claim: the same code then works."""
    code = totp_now(user_with_mfa.secret, clock.now)
    token = login_token(user_with_mfa.email)
    before = account_of(user_with_mfa.user)

    def crash(**_kwargs):
        raise RuntimeError("the process died before the commit")

    signals.login_succeeded.connect(crash, dispatch_uid="test-crash")
    try:
        with pytest.raises(RuntimeError):
            flows.complete_mfa_login(token, code, now=clock.now, client=FACTS)
    finally:
        signals.login_succeeded.disconnect(dispatch_uid="test-crash")

    after = account_of(user_with_mfa.user)
    assert (after.totp_last_step, after.failure_count) == (before.totp_last_step, before.failure_count)
    assert not AuthSession.objects.filter(mfa_jti__isnull=False).exists()
    assert SecurityEvent.objects.filter(user=user_with_mfa.user, type="login").count() == 1  # setup's
    pair = flows.complete_mfa_login(token, code, now=clock.now, client=FACTS)
    assert pair.session.mfa_jti is not None


def test_a_used_mfa_token_loses_without_spending_the_recovery_code(user_with_mfa, clock):
    """The unique mfa_jti insert fails inside the transaction: the recovery code it consumed is
    rolled back with it (not given back afterwards), and the attempt is not counted."""
    token = login_token(user_with_mfa.email)
    flows.complete_mfa_login(token, totp_now(user_with_mfa.secret, clock.now), now=clock.now, client=FACTS)
    spare = user_with_mfa.recovery_codes[1]
    # Skip the first read's used-token check, as a request that read before the winner committed.
    read_before_the_winner = mock.patch.object(
        flows, "user_of_mfa_token", lambda _t: (user_with_mfa.user, jti_of(token))
    )
    with read_before_the_winner, pytest.raises(MFAError) as lost:
        flows.complete_mfa_login(token, spare, now=clock.now, client=FACTS)

    assert lost.value.code == "invalid_mfa_token"
    account = account_of(user_with_mfa.user)
    assert (account.recovery_codes_left, account.failure_count) == (10, 0)
    clock.advance(30)
    assert flows.complete_mfa_login(login_token(user_with_mfa.email), spare, now=clock.now, client=FACTS)


@pytest.fixture
def atomic_requests():
    """A host site that runs every view in a transaction (DATABASES ATOMIC_REQUESTS)."""
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    try:
        yield
    finally:
        connection.settings_dict["ATOMIC_REQUESTS"] = False


def test_a_site_with_atomic_requests_still_keeps_every_wrong_code(api, user_with_mfa, clock, atomic_requests):
    """The refusal is an answer, not an error that rolls the view's transaction back: the count
    and the event commit with it, so the lockout cannot be reset by the site's settings."""
    token = login(api, user_with_mfa.email).json()["mfa_token"]
    bad = wrong_code(user_with_mfa.secret, clock.now)

    answers = [verify(api, token, bad) for _ in range(6)]

    assert [r.status_code for r in answers] == [401] * 5 + [429], [r.content for r in answers]
    assert account_of(user_with_mfa.user).failure_count == 5
    assert SecurityEvent.objects.filter(user=user_with_mfa.user, type="mfa_failed").count() == 5


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite choice")
def test_on_sqlite_an_attempt_holds_no_transaction(user_with_mfa, clock):
    """SQLite's writer lock is taken per statement, never across an attempt's Python work."""
    inside: list[bool] = []
    with lockout.counted():
        inside.append(connection.in_atomic_block)
    real_claim = lockout.claim_attempt

    def claim(account, *, now):
        inside.append(connection.in_atomic_block)
        return real_claim(account, now=now)

    with mock.patch.object(lockout, "claim_attempt", claim):
        flows.complete_mfa_login(
            login_token(user_with_mfa.email), totp_now(user_with_mfa.secret, clock.now), now=clock.now,
            client=FACTS,
        )
    assert inside == [False, False]


def login_token(email: str) -> str:
    from rest_framework.test import APIClient

    return login(APIClient(), email).json()["mfa_token"]


def jti_of(mfa_token: str) -> str:
    from mfa import tokens

    return str(tokens.MFAToken(mfa_token)["jti"])
