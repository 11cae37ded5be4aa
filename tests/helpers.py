"""Plain helpers shared by the tests (no fixtures: those live in tests/conftest.py).

The suite's password, the SecantusDB launcher (``start_devdb``/``stop_devdb``, also used by
tests.live and the benchmarks), an in-memory Redis (``start_redis``), API logins, token claims
and Bearer credentials, the frozen ``Clock`` the ``clock`` fixture drives, TOTP codes computed
independently (pyotp), and users with MFA on.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import jwt
import pyotp
from django.urls import reverse

if TYPE_CHECKING:  # annotations only: importing DRF's test module needs settings (the benchmarks
    # import this module before they have any)
    from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"devdb: listening on ([\d.]+):(\d+)")
PASSWORD = "correct horse battery staple"


def start_devdb(*args: str, timeout: float = 30.0) -> tuple[subprocess.Popen, int]:
    """Start ``python -m authsite.devdb`` (SecantusDB) and return it with its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "authsite.devdb", "--port", "0", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = READY.search(line)
        if match:
            return proc, int(match.group(2))
    proc.kill()
    raise RuntimeError("SecantusDB (authsite.devdb) did not start")


def stop_devdb(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_redis(port: int, timeout: float = 20.0) -> subprocess.Popen:
    """Start Debian's ``redis-server`` on 127.0.0.1:``port``, in memory only (no RDB snapshot, no
    append-only file), and wait until it answers PING. Stop it with ``stop_devdb``."""
    import redis

    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            try:
                if client.ping():
                    return proc
            except redis.ConnectionError:
                time.sleep(0.1)
    finally:
        client.close()
    proc.kill()
    raise RuntimeError("redis-server did not answer in time")


def login(api: APIClient, email: str, password: str = PASSWORD):
    return api.post(reverse("mfa:auth-login"), {"email": email, "password": password}, format="json")


def claims(token: str) -> dict:
    """A JWT's claims, read without checking the signature (the tests check what mfa issued)."""
    return jwt.decode(token, options={"verify_signature": False})


def bearer(api: APIClient, access: str) -> APIClient:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


class Clock:
    """Freezes the time the site sees (Django's timezone.now and simplejwt's clock)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(seconds=seconds)

    def step_start(self) -> None:
        """Move to the first second of the next 30 s TOTP step."""
        ts = int(self.now.timestamp())
        self.set(datetime.fromtimestamp(ts - ts % 30 + 30, UTC))


def totp_now(secret: str, when: datetime, offset_steps: int = 0) -> str:
    """The code an authenticator app shows at ``when`` (pyotp, independent of mfa.totp)."""
    return pyotp.TOTP(secret).at(when, counter_offset=offset_steps)


class MFAUser:
    """A user with MFA enabled over the API: its secret, recovery codes and a session."""

    def __init__(self, user, secret: str, recovery_codes: list[str], access: str, refresh: str):
        self.user, self.secret, self.recovery_codes = user, secret, recovery_codes
        self.access, self.refresh = access, refresh
        self.email = user.email


def enable_mfa(api: APIClient, user, clock: Clock) -> MFAUser:
    """Log in, set up TOTP and confirm it with a code for the current step."""
    r = login(api, user.email)
    assert r.status_code == 200, r.content
    access, refresh = r.json()["access"], r.json()["refresh"]
    bearer(api, access)
    r = api.post(reverse("mfa:mfa-setup"), {}, format="json")
    assert r.status_code == 200, r.content
    secret = r.json()["secret"]
    r = api.post(reverse("mfa:mfa-verify"), {"code": totp_now(secret, clock.now)}, format="json")
    assert r.status_code == 200, r.content
    api.credentials()
    return MFAUser(user, secret, r.json()["recovery_codes"], access, refresh)


def mfa_login(api: APIClient, mfa_user: MFAUser, clock: Clock, code: str | None = None) -> dict:
    """Log in with the password, then the current TOTP code (or ``code``); returns the tokens."""
    token = login(api, mfa_user.email).json()["mfa_token"]
    r = api.post(
        reverse("mfa:mfa-login-verify"),
        {"mfa_token": token, "code": code or totp_now(mfa_user.secret, clock.now)},
        format="json",
    )
    assert r.status_code == 200, r.content
    return r.json()


RESET_LINK = re.compile(r"https?://\S+/account/password/reset/([A-Za-z0-9_-]+)/([A-Za-z0-9-]+)/")


def reset_link(body: str) -> tuple[str, str, str]:
    """The one reset link of a reset email's text: (url, uid, token). Fails unless exactly one."""
    found = RESET_LINK.findall(body)
    urls = [m.group(0) for m in RESET_LINK.finditer(body)]
    assert len(urls) == 1, body
    return urls[0], found[0][0], found[0][1]


def wait_for_background() -> None:
    """Wait until the jobs queued after a response (mfa.background: reset emails) have run."""
    from mfa import background

    assert background.wait_idle(timeout=30), "mfa.background did not finish in time"


class FailingEmailBackend:
    """An EMAIL_BACKEND whose every send fails as an unreachable SMTP server would."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages) -> int:
        raise ConnectionRefusedError("no mail server (test)")
