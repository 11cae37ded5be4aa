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

from mfa import signals
from mfa.conf import mfa_settings
from mfa.events import Client, emit
from mfa.exceptions import LockedOut
from mfa.models import TOTPDevice


def ensure_not_locked(device: TOTPDevice, *, now: datetime) -> None:
    """Raise LockedOut if the device's user is inside a backoff period."""
    if device.locked_until is not None and device.locked_until > now:
        raise LockedOut((device.locked_until - now).total_seconds())


def wait_seconds(failure_count: int) -> int:
    """Seconds of lockout after ``failure_count`` consecutive failures (0 below the threshold)."""
    threshold = mfa_settings.LOCKOUT_THRESHOLD
    if failure_count < threshold:
        return 0
    doublings = min(failure_count - threshold, 32)
    return min(mfa_settings.LOCKOUT_BASE_SECONDS * 2**doublings, mfa_settings.LOCKOUT_MAX_SECONDS)


def record_failure(device: TOTPDevice, *, now: datetime, client: Client, method: str) -> int:
    """Count one wrong code (an atomic increment: concurrent failures are never lost).

    Returns the new consecutive failure count; starts or extends the lockout when it is due.
    """
    TOTPDevice.objects.filter(pk=device.pk).update(failure_count=F("failure_count") + 1)
    count = (
        TOTPDevice.objects.filter(pk=device.pk).values_list("failure_count", flat=True).first()
        or 0
    )
    device.failure_count = count
    emit(signals.mfa_failed, "mfa_failed", device.user, client, method=method, failure_count=count)
    wait = wait_seconds(count)
    if wait:
        until = now + timedelta(seconds=wait)
        TOTPDevice.objects.filter(pk=device.pk).update(locked_until=until)
        device.locked_until = until
        emit(signals.mfa_locked, "mfa_locked", device.user, client, retry_after=wait)
    return count
