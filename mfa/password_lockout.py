"""A per-identifier limit on wrong passwords, kept in the database so every worker shares it.

From the PASSWORD_LOCKOUT_THRESHOLD-th consecutive wrong password for one login identifier (a
known account or not: the answer must not tell them apart) that identifier waits
LOCKOUT_BASE_SECONDS, doubling with each further failure up to LOCKOUT_MAX_SECONDS; while it waits,
right and wrong passwords alike get LoginLocked, ``login_locked`` (NIST SP 800-63B 3.2.2; ASVS
6.3.1). It is a timed backoff, never permanent; a success clears it, and a streak is forgotten a
day after it started. The schedule is the code lockout's (mfa.lockout.backoff_seconds).

The count lives in a PasswordBackoff row, not the cache: increments are atomic on every database,
and the expiry is a column that no cache backend can shorten (Django's file cache re-saves a key
with its default timeout on ``incr``, which once let a long lock forget the streak). The key is a
keyed hash of the identifier as the password gate normalises it (mfa.password_gate), so the table
holds no address and every spelling that signs into one account shares one counter.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError
from django.db.models import F, Q

from mfa import crypto
from mfa.conf import mfa_settings
from mfa.exceptions import LoginLocked
from mfa.lockout import backoff_seconds
from mfa.models import PasswordBackoff

# A streak is forgotten a day after it started.
STREAK = timedelta(days=1)


@dataclass(frozen=True)
class Failure:
    """A wrong password counted: the consecutive count and the wait it started (0: none)."""

    count: int
    wait: int


def normalize_identifier(identifier: str) -> str:
    """The login identifier as the gate hands it to authentication: NFKC (as Django's sign-in
    form does, so a fullwidth letter is its ASCII one), surrounding spaces removed; compared without case
    for the count, so "Alice@Example.com" and "alice@example.com" share one streak."""
    return unicodedata.normalize("NFKC", identifier).strip()


def key_for(identifier: str) -> str:
    """The stored key of an identifier (a keyed hash: no address in the table)."""
    return crypto.lookup_tag(normalize_identifier(identifier).casefold(), purpose="pwfail")[:64]


def enabled() -> bool:
    return bool(mfa_settings.PASSWORD_LOCKOUT_THRESHOLD)


def ensure_allowed(identifier: str, *, now: datetime) -> bool:
    """Raise LoginLocked while ``identifier`` is backing off. Returns whether a streak is on
    record (so that a success only writes when there is something to clear)."""
    if not enabled():
        return False
    row = next(iter(
        PasswordBackoff.objects.filter(key=key_for(identifier)).values_list("locked_until", "expires_at")[:1]
    ), None)
    if row is None:
        return False
    locked_until, expires_at = row
    if expires_at <= now:
        return False
    if locked_until is not None and locked_until > now:
        raise LoginLocked((locked_until - now).total_seconds())
    return True


def _count(key: str, now: datetime) -> None:
    """Add one failure to the live streak of ``key``, or start a new one (atomic increments;
    a concurrent start loses the unique key and adds to the winner's row instead)."""
    for _attempt in range(5):
        if PasswordBackoff.objects.filter(key=key, expires_at__gt=now).update(failures=F("failures") + 1):
            return
        # None live: restart an expired row (only if it is still the expired one), or create it.
        if PasswordBackoff.objects.filter(key=key, expires_at__lte=now).update(
            failures=1, started_at=now, locked_until=None, expires_at=now + STREAK
        ):
            return
        try:
            PasswordBackoff.objects.create(key=key, failures=1, started_at=now, expires_at=now + STREAK)
            return
        except IntegrityError:
            continue
    raise RuntimeError("could not record a password failure")  # pragma: no cover - 5 lost races


def record_failure(identifier: str, *, now: datetime) -> Failure:
    """Count a wrong password for ``identifier``; start or extend its backoff when due."""
    if not enabled():
        return Failure(0, 0)
    key = key_for(identifier)
    _count(key, now)
    count = (
        next(iter(PasswordBackoff.objects.filter(key=key).values_list("failures", flat=True)[:1]), None)
        or 1
    )
    wait = backoff_seconds(count, mfa_settings.PASSWORD_LOCKOUT_THRESHOLD)
    if wait:
        until = now + timedelta(seconds=wait)
        # Never shortens a longer lock set by a concurrent failure.
        PasswordBackoff.objects.filter(key=key).filter(
            Q(locked_until=None) | Q(locked_until__lt=until)
        ).update(locked_until=until)
    return Failure(count, wait)


def clear(identifier: str) -> None:
    """Forget the streak of ``identifier`` (a correct password, or a completed password reset)."""
    PasswordBackoff.objects.filter(key=key_for(identifier)).delete()


def purge(now: datetime) -> int:
    """Delete forgotten streaks (``mfa_purge``; MongoDB's TTL index does it by itself)."""
    deleted, _ = PasswordBackoff.objects.filter(expires_at__lte=now).delete()
    return deleted
