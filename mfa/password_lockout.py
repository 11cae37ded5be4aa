"""A per-account limit on wrong passwords, shared by every worker through Django's cache.

From the PASSWORD_LOCKOUT_THRESHOLD-th consecutive wrong password for one username (known or not:
the answer must not tell them apart) that username waits LOCKOUT_BASE_SECONDS, doubling with each
further failure up to LOCKOUT_MAX_SECONDS; while it waits, right and wrong passwords alike get
LockedOut (NIST SP 800-63B 3.2.2; ASVS 6.3.1). It is a timed backoff, never permanent, and a
success clears it. The key is a keyed hash of the normalised username, so the cache holds no
email addresses. The per-IP throttles (mfa.throttling) are separate.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache

from mfa import crypto
from mfa.conf import mfa_settings
from mfa.exceptions import LockedOut


def _key(username: str) -> str:
    return "mfa:pwfail:" + crypto.lookup_tag(username.strip().lower(), purpose="pwfail")[:40]


def _wait(count: int) -> int:
    threshold = mfa_settings.PASSWORD_LOCKOUT_THRESHOLD
    if not threshold or count < threshold:
        return 0
    doublings = min(count - threshold, 32)
    return min(mfa_settings.LOCKOUT_BASE_SECONDS * 2**doublings, mfa_settings.LOCKOUT_MAX_SECONDS)


def ensure_allowed(username: str, *, now: datetime) -> None:
    """Raise LockedOut while ``username`` is backing off after wrong passwords."""
    state = cache.get(_key(username))
    if state and state.get("until", 0) > now.timestamp():
        raise LockedOut(state["until"] - now.timestamp(), "Too many failed logins. Try again later.")


def record_failure(username: str, *, now: datetime) -> int:
    """Count a wrong password for ``username``; returns the consecutive count."""
    key = _key(username)
    state = cache.get(key) or {"count": 0, "until": 0}
    state["count"] += 1
    wait = _wait(state["count"])
    if wait:
        state["until"] = now.timestamp() + wait
    # Forget the streak a day after its last failure.
    cache.set(key, state, timeout=max(86400, wait))
    return state["count"]


def clear(username: str) -> None:
    cache.delete(_key(username))
