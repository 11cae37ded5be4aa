"""The per-user lockout for wrong codes, kept in the database so every worker shares it.

Every wrong code counts, TOTP and recovery guesses together, whatever the endpoint and whichever
mfa_token was used (RFC 4226 7.3: "across login sessions"). From the LOCKOUT_THRESHOLD-th
consecutive failure the user waits LOCKOUT_BASE_SECONDS, doubling with each further failure up to
LOCKOUT_MAX_SECONDS; while locked every attempt, a right code included, is refused. Only a success
resets the counter (in the same conditional write that records the success).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F

from mfa.adapter import get_adapter
from mfa.conf import mfa_settings
from mfa.events import ClientInfo, emit
from mfa.exceptions import LockedOut
from mfa.models import EventType, TOTPDevice


def backoff_seconds(failure_count: int, threshold: int | None) -> int:
    """The wait after ``failure_count`` consecutive failures: 0 below ``threshold`` (0 or None: no
    backoff), then LOCKOUT_BASE_SECONDS doubling with each further failure up to
    LOCKOUT_MAX_SECONDS. The one schedule of the code lockout and the password backoff."""
    if not threshold or failure_count < threshold:
        return 0
    doublings = min(failure_count - threshold, 32)
    return min(mfa_settings.LOCKOUT_BASE_SECONDS * 2**doublings, mfa_settings.LOCKOUT_MAX_SECONDS)


def ensure_not_locked(device: TOTPDevice, *, now: datetime) -> None:
    """Raise LockedOut if the device's user is inside a backoff period."""
    if device.locked_until is not None and device.locked_until > now:
        raise LockedOut((device.locked_until - now).total_seconds())


def wait_seconds(failure_count: int) -> int:
    """Seconds of code lockout after ``failure_count`` consecutive failures (never off: a
    threshold below 1 counts as 1)."""
    return backoff_seconds(failure_count, max(1, mfa_settings.LOCKOUT_THRESHOLD or 1))


def record_failure(device: TOTPDevice, *, now: datetime, client: ClientInfo, method: str) -> int:
    """Count one wrong code (an atomic increment: concurrent failures are never lost).

    Returns the new consecutive failure count; starts or extends the lockout when it is due.
    """
    TOTPDevice.objects.filter(pk=device.pk).update(failure_count=F("failure_count") + 1)
    count = (
        TOTPDevice.objects.filter(pk=device.pk).values_list("failure_count", flat=True).first()
        or 0
    )
    device.failure_count = count
    emit(EventType.MFA_FAILED, device.user, client, method=str(method), failure_count=count)
    wait = wait_seconds(count)
    if wait:
        until = now + timedelta(seconds=wait)
        TOTPDevice.objects.filter(pk=device.pk).update(locked_until=until)
        device.locked_until = until
        emit(EventType.MFA_LOCKED, device.user, client, retry_after=wait)
        if count == mfa_settings.LOCKOUT_THRESHOLD:
            # The password was right (or the caller holds a session) but the codes are not: tell
            # the account owner once per streak (ASVS 6.3.5), not on every guess.
            get_adapter().notify(device.user, EventType.MFA_LOCKED)
    return count


def totp_disabled(device: TOTPDevice) -> bool:
    """Whether TOTP codes are refused outright after MFA["TOTP_MAX_FAILURES"] consecutive failures
    (NIST SP 800-63B 3.2.2: no more than 100); a successful recovery code resets the count."""
    limit = mfa_settings.TOTP_MAX_FAILURES
    return bool(limit) and device.failure_count >= limit
