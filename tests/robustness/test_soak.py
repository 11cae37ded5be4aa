"""A bounded soak of mixed traffic over loopback against the live gunicorn site.

Client threads loop over realistic sequences until the time is up: register and log in, password
login of existing users, MFA login with a TOTP code (and now and then a recovery code), me, token
refresh, logout (and the logged-out token refused). Then: zero unexpected answers, the same
worker processes as at the start, worker memory (VmRSS) roughly flat and no growth in the
site's open connections to the database, both measured after a warm-up.

CI runs the short form (SOAK_SECONDS, default 30). The long form:
``SOAK_SECONDS=300 ./run tests -m soak`` (SOAK_CLIENTS sets the number of client threads, default 6).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from tests.robustness.helpers import (
    Client,
    LiveUser,
    established_to_port,
    login,
    mfa_user,
    register,
    rss_kib,
    unique_email,
    worker_pids,
)

pytestmark = [pytest.mark.slow, pytest.mark.soak]

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "6"))
WARMUP_SECONDS = min(10.0, max(4.0, SOAK_SECONDS / 5))
MFA_USERS_PER_CLIENT = 3
RSS_GROWTH_LIMIT_KIB = 30 * 1024  # or 25% of the start, whichever is larger
CONNECTION_SLACK = 2


@dataclass
class Tally:
    requests: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, op: str, reply, status: int):
        with self.lock:
            self.requests[op] += 1
            self.latencies.append(reply.elapsed)
            if reply.status != status:
                self.errors.append(f"{op}: expected {status}, got {reply.status} {reply.text[:200]}")
        return reply if reply.status == status else None


class Traffic(threading.Thread):
    """One client: its own connection, its own users (so TOTP steps are never shared)."""

    def __init__(self, base_url: str, tally: Tally, mfa_users: list[LiveUser]) -> None:
        super().__init__(daemon=True)
        self.client = Client(base_url, timeout=30)
        self.tally, self.mfa_users = tally, mfa_users
        self.plain: list[LiveUser] = []
        self.until = 0.0
        self.iterations = 0

    def run(self) -> None:
        try:
            while time.monotonic() < self.until:
                self.iteration()
                self.iterations += 1
        except Exception as exc:  # noqa: BLE001 - a client-side crash is a soak failure too
            with self.tally.lock:
                self.tally.errors.append(f"client crashed: {exc!r}")
        finally:
            self.client.close()

    def session(self, access: str, refresh: str) -> None:
        t, c = self.tally, self.client
        t.expect("me", c.get(reverse("mfa:auth-me"), token=access), 200)
        r = t.expect("refresh", c.post(reverse("mfa:auth-refresh"), {"refresh": refresh}), 200)
        if r is None:
            return
        access, refresh = r.json["access"], r.json["refresh"]
        t.expect("me", c.get(reverse("mfa:auth-me"), token=access), 200)
        t.expect("logout", c.post(reverse("mfa:auth-logout"), {}, token=access), 204)
        t.expect("me after logout", c.get(reverse("mfa:auth-me"), token=access), 401)
        t.expect("refresh after logout", c.post(reverse("mfa:auth-refresh"), {"refresh": refresh}), 401)

    def iteration(self) -> None:
        t, c, i = self.tally, self.client, self.iterations
        if i % 3 == 0 or not self.plain:  # a new account
            # (Not id(self): a finished client's id can be reused by a new one, and its addresses with it.)
            email = unique_email("soak")
            r = t.expect("register", c.post(reverse("register"), {"email": email, "password": "soak passphrase 123"}), 201)
            if r is None:
                return
            self.plain.append(LiveUser(email, "soak passphrase 123", id=r.json["id"]))
        user = self.plain[i % len(self.plain)]
        r = t.expect("login", c.post(reverse("mfa:auth-login"), {"email": user.email, "password": user.password}), 200)
        if r is not None:
            self.session(r.json["access"], r.json["refresh"])
        # an MFA login when one of this client's MFA users has a fresh TOTP step (or, every 7th
        # iteration while codes last, with a recovery code)
        for mfa in self.mfa_users:
            use_recovery = i % 7 == 6 and len(mfa.recovery_codes) > 2
            code = mfa.recovery_codes.pop() if use_recovery else mfa.next_code()
            if code is None:
                continue
            r = t.expect("login (mfa)", c.post(reverse("mfa:auth-login"), {"email": mfa.email, "password": mfa.password}), 200)
            if r is None:
                return
            r = t.expect("mfa/login/verify", c.post(reverse("mfa:mfa-login-verify"),
                                                    {"mfa_token": r.json["mfa_token"], "code": code}), 200)
            if r is not None:
                self.session(r.json["access"], r.json["refresh"])
            return


def _drive(base_url: str, tally: Tally, users: list[list[LiveUser]], seconds: float) -> int:
    threads = [Traffic(base_url, tally, users[k]) for k in range(CLIENTS)]
    until = time.monotonic() + seconds
    for t in threads:
        t.until = until
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
        assert not t.is_alive(), "a soak client did not finish"
    return sum(t.iterations for t in threads)


def _snapshot(site) -> tuple[dict[int, int], int]:
    pids = worker_pids(site.server.pid)
    return {pid: rss_kib(pid) for pid in pids}, established_to_port(pids, site.devdb_port)


def test_mixed_traffic_soak_keeps_zero_errors_flat_memory_and_connections(live):
    setup = Client(live.url, timeout=30)
    users = [[mfa_user(setup) for _ in range(MFA_USERS_PER_CLIENT)] for _ in range(CLIENTS)]
    login(setup, register(setup))
    setup.close()

    warm = Tally()
    _drive(live.url, warm, users, WARMUP_SECONDS)  # pools, caches and allocator at steady state
    assert not warm.errors, warm.errors[:10]
    rss_start, conns_start = _snapshot(live)

    tally = Tally()
    started = time.monotonic()
    iterations = _drive(live.url, tally, users, SOAK_SECONDS)
    elapsed = time.monotonic() - started
    rss_end, conns_end = _snapshot(live)

    total = sum(tally.requests.values())
    latencies = sorted(tally.latencies)
    print(
        f"\nsoak: {elapsed:.0f} s, {CLIENTS} clients, {iterations} iterations, {total} requests "
        f"({total / elapsed:.0f}/s), p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms; {dict(tally.requests)}\n"
        f"worker RSS KiB start {rss_start} end {rss_end}; DB connections {conns_start} -> {conns_end}"
    )
    assert not tally.errors, f"{len(tally.errors)} errors: {tally.errors[:10]}"
    assert tally.requests["mfa/login/verify"] > 0 and tally.requests["register"] > 0
    assert set(rss_end) == set(rss_start), "a gunicorn worker was restarted during the soak"
    for pid, start in rss_start.items():
        growth = rss_end[pid] - start
        assert growth < max(RSS_GROWTH_LIMIT_KIB, start // 4), (pid, start, rss_end[pid])
    assert conns_start > 0
    assert conns_end <= conns_start + CONNECTION_SLACK, (conns_start, conns_end)
