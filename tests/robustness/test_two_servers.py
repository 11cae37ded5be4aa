"""Two app servers behind one load balancer: two gunicorn sites on their own ports, sharing one
MongoDB (SecantusDB) and one Redis, driven alternately over HTTP.

What must hold with N servers, because each piece of state lives in a shared store: sessions,
the TOTP code lockout and the password backoff are database rows changed by conditional writes;
the per-IP throttle history is in Django's cache, which is Redis when REDIS_URL is set. Both sites
trust one proxy hop (TRUSTED_PROXIES=1), as behind a load balancer, so each scenario chooses its
client address with X-Forwarded-For and the scenarios don't share per-IP counts.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.helpers import PASSWORD, start_devdb, start_redis, stop_devdb, totp_now
from tests.live import LiveSite, free_port, live_site
from tests.mfa.helpers import require_tool, wrong_code
from tests.robustness.helpers import Client, Reply, mfa_token, mfa_user, race, register, require_own_devdb

pytestmark = pytest.mark.slow

LOGIN_RATE = 4  # per minute and client IP, on both servers together
_addresses = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())
_addresses_lock = threading.Lock()


def new_address() -> str:
    with _addresses_lock:
        return next(_addresses)


class ProxiedClient(Client):
    """A client as the load balancer forwards it: X-Forwarded-For is ``address``, or a new address
    for every request when it is None (so per-IP limits stay out of scenarios that don't test them)."""

    def __init__(self, base_url: str, address: str | None = None) -> None:
        super().__init__(base_url)
        self.address = address

    def call(self, method, path, body=None, *, token=None, headers=None) -> Reply:
        forwarded = {"X-Forwarded-For": self.address or new_address(), **(headers or {})}
        return super().call(method, path, body, token=token, headers=forwarded)


@dataclass
class TwoSites:
    a: LiveSite
    b: LiveSite
    redis_port: int

    def clients(self, address: str | None = None) -> tuple[ProxiedClient, ProxiedClient]:
        return ProxiedClient(self.a.url, address), ProxiedClient(self.b.url, address)


@pytest.fixture(scope="module")
def sites() -> Iterator[TwoSites]:
    require_own_devdb()
    require_tool("redis-server", "redis-server")  # skipped without it, failed in CI
    devdb, devdb_port = start_devdb("--memory")
    redis_port = free_port()
    redis = None
    try:
        redis = start_redis(redis_port)
        env = {
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "TRUSTED_PROXIES": "1",
            "AUTH_IP_RATE_LOGIN": f"{LOGIN_RATE}/min",
        }
        database_url = f"mongodb://127.0.0.1:{devdb_port}/authsite?directConnection=true"
        with (
            live_site(database_url=database_url, extra_env=env, workers=1, threads=4) as a,
            live_site(database_url=database_url, extra_env=env, workers=1, threads=4) as b,
        ):
            yield TwoSites(a, b, redis_port)
    finally:
        if redis is not None:
            stop_devdb(redis)  # terminate, then kill: the same for any child process
        stop_devdb(devdb)


def _reply(r: Reply) -> tuple[int, str]:
    return r.status, (r.json.get("code", "") if r.content and r.status != 204 else "")


def test_a_session_revoked_on_one_server_is_refused_on_the_other_at_once(sites):
    a, b = sites.clients()
    user = register(a, password=PASSWORD)
    r = a.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD})
    assert r.status == 200, r.text
    access, refresh = r.json["access"], r.json["refresh"]
    assert b.get(reverse("mfa:auth-me"), token=access).status == 200

    assert b.post(reverse("mfa:auth-logout"), token=access).status == 204

    assert _reply(a.get(reverse("mfa:auth-me"), token=access))[0] == 401
    assert _reply(a.post(reverse("mfa:auth-refresh"), {"refresh": refresh}))[0] == 401


def test_wrong_codes_alternating_between_servers_lock_the_account_on_both(sites):
    a, b = sites.clients()
    user = mfa_user(a)  # robustness helper: its own password, TOTP set up and confirmed
    wrong = wrong_code(user.secret, datetime.now(UTC))
    replies = []
    for i in range(5):  # the threshold (MFA["LOCKOUT_THRESHOLD"]): 3 on one server, 2 on the other
        client = (a, b)[i % 2]
        replies.append(_reply(client.post(
            reverse("mfa:mfa-login-verify"), {"mfa_token": mfa_token(client, user), "code": wrong})))
    assert replies == [(401, "invalid_code")] * 5

    right = totp_now(user.secret, datetime.now(UTC))
    for client in (a, b):
        r = client.post(reverse("mfa:mfa-login-verify"), {"mfa_token": mfa_token(client, user), "code": right})
        assert _reply(r) == (429, "mfa_locked"), r.text


def test_wrong_passwords_alternating_between_servers_start_the_backoff_on_both(sites):
    a, b = sites.clients()
    user = register(a, password=PASSWORD)
    for i in range(10):  # MFA["PASSWORD_LOCKOUT_THRESHOLD"]: 5 on each server
        r = (a, b)[i % 2].post(reverse("mfa:auth-login"), {"email": user.email, "password": "wrong password!"})
        assert _reply(r) == (401, "invalid_credentials"), r.text

    for client in (a, b):
        r = client.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD})
        assert _reply(r) == (429, "login_locked"), r.text
        assert "access" not in r.json


def test_the_per_ip_login_limit_counts_requests_to_both_servers(sites):
    import redis

    address = new_address()
    a, b = sites.clients(address)
    body = {"email": "nobody-two-servers@example.com", "password": "wrong password!"}
    replies = [_reply((a, b)[i % 2].post(reverse("mfa:auth-login"), body)) for i in range(LOGIN_RATE)]
    assert replies == [(401, "invalid_credentials")] * LOGIN_RATE  # 2 per server: under the limit

    for client in (a, b):
        r = client.post(reverse("mfa:auth-login"), body)
        assert _reply(r) == (429, "throttled"), r.text
        assert int(r.headers["Retry-After"]) > 0
    # another client address is not limited, on either server
    other_a, other_b = sites.clients(new_address())
    assert other_a.post(reverse("mfa:auth-login"), body).status == 401
    assert other_b.post(reverse("mfa:auth-login"), body).status == 401
    # the count is in Redis, the one store both servers read
    store = redis.Redis(host="127.0.0.1", port=sites.redis_port)
    try:
        assert any(address.encode() in key for key in store.keys("*throttle*login*"))
    finally:
        store.close()


def test_a_refresh_race_across_both_servers_lets_at_most_one_win_and_reuse_ends_the_session(sites):
    a, b = sites.clients()
    user = register(a, password=PASSWORD)
    r = a.post(reverse("mfa:auth-login"), {"email": user.email, "password": PASSWORD})
    access, refresh = r.json["access"], r.json["refresh"]
    threads_n = 8
    clients = [ProxiedClient((sites.a.url, sites.b.url)[i % 2]) for i in range(threads_n)]
    replies = race(
        threads_n, lambda _i, c: c.post(reverse("mfa:auth-refresh"), {"refresh": refresh}), clients=clients
    )

    winners = [r for r in replies if r.status == 200]
    assert len(winners) <= 1, [_reply(r) for r in replies]
    assert all(r.status in (200, 401) for r in replies), [_reply(r) for r in replies]
    # the losers presented a rotated token: reuse, so the session ended (RFC 9700 4.14.2), for
    # the winner's new tokens too, on both servers
    for client in (a, b):
        assert client.get(reverse("mfa:auth-me"), token=access).status == 401
        for w in winners:
            assert client.get(reverse("mfa:auth-me"), token=w.json["access"]).status == 401
            assert client.post(reverse("mfa:auth-refresh"), {"refresh": w.json["refresh"]}).status == 401
