"""Session races over HTTP with real threads (SECURITY-CHECKS RACE-02 and the logout/all half of RACE-04).

Each thread has its own Django test Client and closes its database connection when done. Skipped on
SQLite: its in-memory test database is shared across threads through one locked connection
("database table is locked"), so it cannot show a race either way; the suite runs them on MongoDB.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse, reverse_lazy

from mfa.models import AuthSession
from tests.helpers import PASSWORD, claims
from tests.mfa.helpers import race_marks, run_together

pytestmark = race_marks

THREADS = 8
REFRESH = reverse_lazy("mfa:auth-refresh")



def in_threads(jobs: list[Callable[[Client], tuple[int, dict]]]) -> list[tuple[int, dict]]:
    """Run each job with its own test client, released together; returns (status, json)."""
    results = run_together([lambda job=job: job(Client()) for job in jobs])
    errors = [r for r in results if isinstance(r, BaseException) or r is None]
    assert not errors, errors
    return results  # type: ignore[return-value]


def post_refresh(token: str) -> Callable[[Client], tuple[int, dict]]:
    def job(client: Client) -> tuple[int, dict]:
        r = client.post(REFRESH, {"refresh": token}, content_type="application/json")
        return r.status_code, (r.json() if r.content else {})

    return job


def post_logout_all(access: str) -> Callable[[Client], tuple[int, dict]]:
    def job(client: Client) -> tuple[int, dict]:
        r = client.post(reverse("mfa:auth-logout-all"), {}, content_type="application/json",
                        HTTP_AUTHORIZATION=f"Bearer {access}")
        return r.status_code, {}

    return job


def fresh_login(email: str) -> dict:
    r = Client().post(reverse("mfa:auth-login"), {"email": email, "password": PASSWORD}, content_type="application/json")
    assert r.status_code == 200, r.content
    return r.json()


def refresh_status(token: str) -> int:
    return Client().post(REFRESH, {"refresh": token}, content_type="application/json").status_code


def me_status(access: str) -> int:
    return Client().get(reverse("mfa:auth-me"), HTTP_AUTHORIZATION=f"Bearer {access}").status_code


@pytest.mark.parametrize("round_", range(5))
def test_one_refresh_token_sent_in_parallel_succeeds_at_most_once(user, round_):
    pair = fresh_login(user.email)
    results = in_threads([post_refresh(pair["refresh"]) for _ in range(THREADS)])
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 401}, statuses
    # The losers presented a rotated token, so reuse detection ends the session (RFC 9700 4.14.2):
    # no child token of the race stays usable, and never two.
    session = AuthSession.objects.get(pk=claims(pair["access"])["sid"])
    if statuses.count(401):
        assert session.revoked_at is not None and session.revoke_reason == "refresh_reuse"
    winners = [body for status, body in results if status == 200]
    assert sum(refresh_status(body["refresh"]) == 200 for body in winners) <= 1
    assert refresh_status(pair["refresh"]) == 401


@pytest.mark.parametrize("round_", range(3))
def test_no_refresh_token_works_once_logout_all_has_returned(user, round_):
    pairs = [fresh_login(user.email) for _ in range(THREADS - 1)]
    jobs = [post_logout_all(pairs[0]["access"])] + [post_refresh(p["refresh"]) for p in pairs]
    results = in_threads(jobs)
    assert results[0][0] == 204
    minted = [body for status, body in results[1:] if status == 200]
    for token in [p["refresh"] for p in pairs] + [body["refresh"] for body in minted]:
        assert refresh_status(token) == 401
    for access in [p["access"] for p in pairs] + [body["access"] for body in minted]:
        assert me_status(access) == 401
    assert not AuthSession.objects.filter(user=user, revoked_at=None).exists()
