"""Helpers shared by the mfa tests: independent Debian tools, wrong codes, MFA logins over HTTP."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from django.db import connection
from django.urls import reverse, reverse_lazy
from rest_framework.test import APIClient

from tests.helpers import PASSWORD, totp_now

LOGIN_VERIFY = reverse_lazy("mfa:mfa-login-verify")
SETUP = reverse_lazy("mfa:mfa-setup")
VERIFY = reverse_lazy("mfa:mfa-verify")
DISABLE = reverse_lazy("mfa:mfa-disable")
RECOVERY_CODES = reverse_lazy("mfa:mfa-recovery-codes")
EVENTS = reverse_lazy("mfa:mfa-events")
ME = reverse_lazy("mfa:auth-me")


def require_tool(name: str, package: str) -> str:
    """The path of an independent command-line tool; skip without it, unless CI is set (then fail)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (Debian package {package}: apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so the independent cross-check must run")
    pytest.skip(message)


def wrong_code(secret: str, when: datetime, *, spread: int = 4) -> str:
    """Six digits that are not the code of any step within ``spread`` steps of ``when``."""
    valid = {totp_now(secret, when, k) for k in range(-spread, spread + 1)}
    for n in range(1000):
        candidate = f"{(n * 104729 + 13) % 1000000:06d}"
        if candidate not in valid:
            return candidate
    raise AssertionError("unreachable")


def mfa_token(api: APIClient, email: str, **extra) -> str:
    """Log in with the right password for a user with MFA on; return the mfa_token."""
    r = api.post(reverse("mfa:auth-login"), {"email": email, "password": PASSWORD}, format="json", **extra)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["requires_mfa"] is True, body
    return body["mfa_token"]


def verify_login(api: APIClient, token: str, code, **extra):
    return api.post(LOGIN_VERIFY, {"mfa_token": token, "code": code}, format="json", **extra)


def use_keys(settings, keys) -> None:
    """Set MFA["ENCRYPTION_KEYS"] for the test (None: keys derived from SECRET_KEY)."""
    settings.MFA = {**settings.MFA, "ENCRYPTION_KEYS": keys}


def device_of(user):
    from mfa.models import TOTPDevice

    return TOTPDevice.objects.get(user=user)


def account_of(user):
    """The user's MFAAccount: the lockout, the recovery-code count and the last TOTP step."""
    from mfa.models import MFAAccount

    return MFAAccount.objects.get(user=user)


# For thread-race test modules: a real database per thread (MongoDB, PostgreSQL).
race_marks = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite" and connection.is_in_memory_db(),
        reason="in-memory SQLite shares one locked connection between threads; races run on MongoDB, "
        "PostgreSQL and a SQLite file (DATABASE_URL=sqlite:////path)",
    ),
]


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Run each job in its own thread, all released at once by a barrier. Returns each job's
    result, or the exception it raised. Each thread closes its own database connection."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - examined by the caller
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results
