"""Over-HTTP helpers for the robustness tests: a small JSON client, users made through the API,
TOTP codes computed independently (pyotp), and reads of the live site's MongoDB and processes."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
import requests
from django.urls import reverse

PASSWORD = "correct horse battery staple, live"
STEP = 30

# The live site runs production settings; these lift the per-IP throttles (one client IP does
# all the traffic) and keep access tokens alive for a whole fuzzing run.
LIVE_ENV = {
    "AUTH_IP_RATE_LOGIN": "off",
    "AUTH_IP_RATE_REGISTER": "off",
    "AUTH_IP_RATE_REFRESH": "off",
    "AUTH_IP_RATE_CODE_FAILURES": "off",
    "AUTH_IP_RATE_PASSWORD_RESET": "off",
    "PASSWORD_RESET_RATE": "off",
    "AUTH_IP_RATE_PASSKEY_LOGIN": "off",
    "ACCESS_TOKEN_LIFETIME": "3600",
    # Security keys on (the site's origin as a browser would see it), so their endpoints are fuzzed
    # past the 503 that an unconfigured site answers.
    "WEBAUTHN_ORIGINS": "http://localhost:8000",
}

_ids = itertools.count()
_ids_lock = threading.Lock()


def require_own_devdb() -> None:
    """Live-site tests start their own SecantusDB; skip them when the suite targets another DB."""
    if os.environ.get("AUTHSITE_TEST_DB_FROM_FIXTURE") != "1":
        pytest.skip(
            "live-site test: runs gunicorn on its own SecantusDB, so it runs once, in the MongoDB "
            "run of the suite (DATABASE_URL points at another database here)"
        )


def unique_email(prefix: str = "u") -> str:
    with _ids_lock:
        n = next(_ids)
    return f"{prefix}{n}-{os.getpid()}-{time.monotonic_ns() % 10**9}@example.com"


@dataclass
class Reply:
    status: int
    headers: requests.structures.CaseInsensitiveDict
    content: bytes
    elapsed: float

    @property
    def json(self) -> Any:
        import json

        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Client:
    """JSON over HTTP to one live site; one keep-alive connection pool per instance (per thread).
    Paths are the site's own (``reverse("mfa:auth-me")``), appended to ``base_url``."""

    def __init__(self, base_url: str, *, timeout: float = 20.0) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.session = requests.Session()

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        url = self.base_url + path
        hdrs = {"Accept": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        r = self.session.request(
            method, url, json=body if body is not None else ({} if method != "GET" else None),
            headers=hdrs, timeout=self.timeout,
        )
        return Reply(r.status_code, r.headers, r.content, time.monotonic() - started)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def close(self) -> None:
        self.session.close()


def totp_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def current_step() -> int:
    return int(time.time()) // STEP


@dataclass
class LiveUser:
    email: str
    password: str
    id: str = ""
    access: str = ""
    refresh: str = ""
    secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)
    last_step: int = 0  # the last TOTP step the server accepted for this user

    def next_code(self) -> str | None:
        """A code for a step the server has not accepted yet and still accepts (RFC 6238 drift of
        one step), or None if the user must wait for the next step."""
        step = max(current_step(), self.last_step + 1)
        if step > current_step() + 1:
            return None
        self.last_step = step
        return totp_at(self.secret, step)


def register(client: Client, email: str | None = None, password: str = PASSWORD) -> LiveUser:
    user = LiveUser(email or unique_email(), password)
    r = client.post(reverse("register"), {"email": user.email, "password": password})
    assert r.status == 201, (r.status, r.text)
    user.id = r.json["id"]
    return user


def password_login(client: Client, user: LiveUser) -> dict:
    r = client.post(reverse("mfa:auth-login"), {"email": user.email, "password": user.password})
    assert r.status == 200, (r.status, r.text)
    return r.json


def login(client: Client, user: LiveUser) -> LiveUser:
    body = password_login(client, user)
    assert body["requires_mfa"] is False, body
    user.access, user.refresh = body["access"], body["refresh"]
    return user


def enable_mfa(client: Client, user: LiveUser) -> LiveUser:
    """Set up and confirm TOTP for a logged-in user (MFA off); keeps its session and codes."""
    r = client.post(reverse("mfa:mfa-setup"), {}, token=user.access)
    assert r.status == 200, (r.status, r.text)
    user.secret = r.json["secret"]
    user.last_step = current_step()
    r = client.post(reverse("mfa:mfa-verify"), {"code": totp_at(user.secret, user.last_step)}, token=user.access)
    assert r.status == 200, (r.status, r.text)
    user.recovery_codes = r.json["recovery_codes"]
    return user


def mfa_user(client: Client, email: str | None = None) -> LiveUser:
    """A new user with MFA on, its enrolment session's tokens, secret and recovery codes."""
    return enable_mfa(client, login(client, register(client, email)))


def mfa_token(client: Client, user: LiveUser) -> str:
    body = password_login(client, user)
    assert body["requires_mfa"] is True, body
    return body["mfa_token"]


def mfa_login(client: Client, user: LiveUser, code: str) -> Reply:
    return client.post(reverse("mfa:mfa-login-verify"), {"mfa_token": mfa_token(client, user), "code": code})


def race(
    n: int, work: Callable[[int, Client], Reply], base_url: str = "", *, clients: list[Client] | None = None
) -> list[Reply]:
    """Run ``work(i, client)`` in ``n`` threads released together by a barrier; each thread has
    its own connection (opened before the barrier), so the requests really overlap. The clients
    are new ones to ``base_url``, or ``clients`` (one per thread, e.g. to several servers)."""
    barrier = threading.Barrier(n)
    clients = clients if clients is not None else [Client(base_url) for _ in range(n)]
    assert len(clients) == n
    for c in clients:  # open the keep-alive connections before the race
        c.get(reverse("mfa:auth-me"))
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i, clients[i])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for c in clients:
        c.close()
    errors = [r for r in results if not isinstance(r, Reply)]
    assert not errors, errors
    return results


# --- The live site's database and processes --------------------------------------------------------


def mongo_db(site: Any):
    """A pymongo handle on the live site's database (short timeouts; close its client after use)."""
    from pymongo import MongoClient

    client = MongoClient(
        f"mongodb://127.0.0.1:{site.devdb_port}/?directConnection=true", serverSelectionTimeoutMS=5000
    )
    return client, client["authsite"]


def user_oid(user_id: str):
    from bson import ObjectId

    return ObjectId(user_id)


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn workers: the master's child processes (from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master_pid:
            pids.append(int(entry))
    return sorted(pids)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def established_to_port(pids: Iterable[int], port: int) -> int:
    """How many ESTABLISHED TCP connections the processes ``pids`` hold to 127.0.0.1:``port``
    (from /proc/net/tcp and tcp6; no external tool)."""
    owned: set[str] = set()
    for pid in pids:
        owned |= _socket_inodes(pid)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            remote_port = int(cols[2].rsplit(":", 1)[1], 16)
            if cols[3] == "01" and remote_port == port and cols[9] in owned:
                count += 1
    return count
