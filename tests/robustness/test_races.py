"""Races over HTTP against a live gunicorn site (2 worker processes x 4 threads, MongoDB).

Each test releases 8 real threads together (threading.Barrier), each on its own keep-alive
connection, and repeats the race 3 times with fresh users. Single use is enforced by conditional
writes in the database (mfa.totp.accept_step, mfa.recovery.consume, the unique AuthSession.mfa_jti,
mfa.sessions.rotate_refresh), since select_for_update and transactions are no-ops on MongoDB
(SECURITY-CHECKS RACE-01..RACE-04; RFC 6238 5.2; RFC 9700 4.14.2; NIST 800-63B 3.1.2.2, 3.2.2).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from django.urls import reverse

from tests.robustness.helpers import (
    Client,
    Reply,
    current_step,
    login,
    mfa_token,
    mfa_user,
    mongo_db,
    race,
    register,
    totp_at,
    user_oid,
)

pytestmark = pytest.mark.slow

THREADS = 8
ROUNDS = 3


@pytest.fixture(scope="module")
def db(live) -> Iterator:
    client, database = mongo_db(live)
    yield database
    client.close()


@pytest.fixture
def client(live) -> Iterator[Client]:
    c = Client(live.url)
    yield c
    c.close()


def _race_posts(base_url: str, path: str, bodies: list[dict]) -> list[Reply]:
    """POST ``bodies[i]`` from thread i, all threads released at once."""
    return race(len(bodies), lambda i, c: c.post(path, bodies[i]), base_url)


def _codes(replies) -> Counter:
    return Counter((r.status, r.json.get("code") if r.status != 200 else "ok") for r in replies)


def _mfa_sessions(db, user) -> int:
    return db.mfa_authsession.count_documents({"user_id": user_oid(user.id), "mfa_jti": {"$ne": None}})


def _account(db, user) -> dict:
    """The user's MFA account document: the lockout, the recovery-code count, the last TOTP step."""
    return db.mfa_mfaaccount.find_one({"user_id": user_oid(user.id)})


def _refused(replies) -> bool:
    """Every answer but the winner's is a refusal the contract names (never a 5xx)."""
    allowed = {(401, "invalid_code"), (401, "invalid_mfa_token"), (429, "mfa_locked")}
    return all(r.status == 200 or (r.status, r.json.get("code")) in allowed for r in replies)


def test_one_totp_code_with_one_mfa_token_succeeds_once(live, client, db):
    for _ in range(ROUNDS):
        user = mfa_user(client)
        token, code = mfa_token(client, user), user.next_code()
        step = user.last_step
        replies = _race_posts(live.url, reverse("mfa:mfa-login-verify"), [{"mfa_token": token, "code": code}] * THREADS)
        assert [r.status for r in replies].count(200) == 1, _codes(replies)
        assert _refused(replies), _codes(replies)
        assert _mfa_sessions(db, user) == 1
        assert _account(db, user)["totp_last_step"] == step


def test_one_totp_code_with_many_mfa_tokens_of_one_user_succeeds_once(live, client, db):
    for _ in range(ROUNDS):
        user = mfa_user(client)
        tokens = [mfa_token(client, user) for _ in range(THREADS)]
        code = user.next_code()
        replies = _race_posts(live.url, reverse("mfa:mfa-login-verify"), [{"mfa_token": t, "code": code} for t in tokens])
        assert [r.status for r in replies].count(200) == 1, _codes(replies)
        assert _refused(replies), _codes(replies)
        assert _mfa_sessions(db, user) == 1


def test_one_recovery_code_succeeds_once_and_spends_only_itself(live, client, db):
    for _ in range(ROUNDS):
        user = mfa_user(client)
        tokens = [mfa_token(client, user) for _ in range(THREADS)]
        code = user.recovery_codes[0]
        replies = _race_posts(live.url, reverse("mfa:mfa-login-verify"), [{"mfa_token": t, "code": code} for t in tokens])
        winners = [r for r in replies if r.status == 200]
        assert len(winners) == 1, _codes(replies)
        assert _refused(replies), _codes(replies)
        oid = user_oid(user.id)
        assert db.mfa_recoverycode.count_documents({"user_id": oid, "used_at": {"$ne": None}}) == 1
        assert db.mfa_recoverycode.count_documents({"user_id": oid, "used_at": None}) == 9
        assert _account(db, user)["recovery_codes_left"] == 9
        me = client.get(reverse("mfa:auth-me"), token=winners[0].json["access"])
        assert me.status == 200 and me.json["recovery_codes_left"] == 9, me.text


def test_one_mfa_token_completes_at_most_one_login_even_with_different_valid_codes(live, client, db):
    """The same mfa_token, each thread with a different valid recovery code: one session at most
    (the unique mfa_jti settles it)."""
    for _ in range(ROUNDS):
        user = mfa_user(client)
        token = mfa_token(client, user)
        codes = user.recovery_codes[:THREADS]
        replies = _race_posts(live.url, reverse("mfa:mfa-login-verify"), [{"mfa_token": token, "code": c} for c in codes])
        assert [r.status for r in replies].count(200) <= 1, _codes(replies)
        assert _refused(replies), _codes(replies)
        assert _mfa_sessions(db, user) == [r.status for r in replies].count(200)
        # A request that lost the race gives its recovery code back: only the winner's is spent.
        spent = [r.status for r in replies].count(200)
        assert _account(db, user)["recovery_codes_left"] == len(user.recovery_codes) - spent
        again = client.post(reverse("mfa:mfa-login-verify"), {"mfa_token": token, "code": user.recovery_codes[-1]})
        assert again.status == 401 and again.json["code"] == "invalid_mfa_token", again.text


def test_one_refresh_token_rotates_at_most_once_and_reuse_ends_the_session(live, client, db):
    for _ in range(ROUNDS):
        user = login(client, register(client))
        refresh = user.refresh
        replies = _race_posts(live.url, reverse("mfa:auth-refresh"), [{"refresh": refresh}] * THREADS)
        winners = [r for r in replies if r.status == 200]
        assert len(winners) <= 1, _codes(replies)
        assert all(r.status in (200, 401) for r in replies), _codes(replies)
        # every loser presented a token that was no longer current: reuse, so the session is
        # revoked (RFC 9700 4.14.2) and no child token of the race stays usable
        session = db.mfa_authsession.find_one({"user_id": user_oid(user.id)})
        assert session["revoked_at"] is not None and session["revoke_reason"] == "refresh_reuse"
        for r in winners:
            assert client.post(reverse("mfa:auth-refresh"), {"refresh": r.json["refresh"]}).status == 401
            assert client.get(reverse("mfa:auth-me"), token=r.json["access"]).status == 401
        assert client.get(reverse("mfa:auth-me"), token=user.access).status == 401


def test_concurrent_wrong_codes_are_all_counted(live, client, db):
    """No lost update: the per-user failure counter equals the number of wrong codes that were
    evaluated (401); a request that arrived after the lockout began was refused unevaluated (429)."""
    for _ in range(ROUNDS):
        user = mfa_user(client)
        tokens = [mfa_token(client, user) for _ in range(THREADS)]
        valid = {totp_at(user.secret, current_step() + k) for k in range(-2, 4)}
        wrong = next(f"{n:06d}" for n in range(123456, 999999, 7919) if f"{n:06d}" not in valid)
        replies = _race_posts(live.url, reverse("mfa:mfa-login-verify"), [{"mfa_token": t, "code": wrong} for t in tokens])
        counted = [r for r in replies if r.status == 401]
        assert all(r.json["code"] == "invalid_code" for r in counted), _codes(replies)
        assert all(r.status in (401, 429) for r in replies), _codes(replies)
        assert len(counted) >= 5, _codes(replies)  # most overlap; at least the lockout threshold
        device = _account(db, user)
        assert device["failure_count"] == len(counted), (device["failure_count"], _codes(replies))
        assert device["locked_until"] is not None  # 5 or more failures start the backoff


def test_concurrent_wrong_passwords_all_count_towards_the_account_backoff(live, client):
    """12 wrong passwords at once for one account (the threshold is 10): the account must then be
    backing off, so even the right password gets 429. The live site runs the default file cache,
    which once lost concurrent counts; the backoff now counts in the database (issue 12)."""
    user = register(client)
    replies = _race_posts(live.url, reverse("mfa:auth-login"), [{"email": user.email, "password": "wrong password!"}] * 12)
    assert all(r.status in (401, 429) for r in replies), _codes(replies)
    right = client.post(reverse("mfa:auth-login"), {"email": user.email, "password": user.password})
    assert right.status == 429, (right.status, _codes(replies))
