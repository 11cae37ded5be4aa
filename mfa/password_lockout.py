"""A per-account limit on wrong passwords, shared by every worker through Django's cache.

From the PASSWORD_LOCKOUT_THRESHOLD-th consecutive wrong password for one username (known or not:
the answer must not tell them apart) that username waits LOCKOUT_BASE_SECONDS, doubling with each
further failure up to LOCKOUT_MAX_SECONDS; while it waits, right and wrong passwords alike get
LoginLocked, ``login_locked`` (NIST SP 800-63B 3.2.2; ASVS 6.3.1). It is a timed backoff, never
permanent, and a success clears it. The schedule is the code lockout's (mfa.lockout.backoff_seconds).
The key is a keyed hash of the normalised username, so the cache holds no email addresses. The
per-IP throttles (mfa.api.throttling) are separate.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache

from mfa import crypto
from mfa.conf import mfa_settings
from mfa.exceptions import LoginLocked
from mfa.lockout import backoff_seconds

# A streak is forgotten a day after it started.
STREAK_SECONDS = 86400


def _key(username: str) -> str:
    return "mfa:pwfail:" + crypto.lookup_tag(username.strip().lower(), purpose="pwfail")[:40]


def _wait(count: int) -> int:
    return backoff_seconds(count, mfa_settings.PASSWORD_LOCKOUT_THRESHOLD)


def ensure_allowed(username: str, *, now: datetime) -> None:
    """Raise LoginLocked while ``username`` is backing off after wrong passwords."""
    until = cache.get(_key(username) + ":until")
    if until and until > now.timestamp():
        raise LoginLocked(until - now.timestamp())


def record_failure(username: str, *, now: datetime) -> int:
    """Count a wrong password for ``username``; returns the consecutive count.

    The count is a cache ``incr`` (atomic in Redis and in the local-memory cache), so concurrent
    failures are not lost there; the file cache's increment is a read then a write.
    """
    key = _key(username)
    cache.add(key + ":count", 0, timeout=STREAK_SECONDS)
    try:
        count = cache.incr(key + ":count")
    except ValueError:  # expired between add and incr
        cache.set(key + ":count", 1, timeout=STREAK_SECONDS)
        count = 1
    wait = _wait(count)
    if wait:
        cache.set(key + ":until", now.timestamp() + wait, timeout=wait + 60)
    return count


def clear(username: str) -> None:
    key = _key(username)
    cache.delete_many([key + ":count", key + ":until"])
