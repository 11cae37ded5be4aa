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
from mfa.adapter import get_adapter
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
        if count == mfa_settings.LOCKOUT_THRESHOLD:
            # The password was right (or the caller holds a session) but the codes are not: tell
            # the account owner once per streak (ASVS 6.3.5), not on every guess.
            get_adapter().notify(device.user, "mfa_locked")
    return count


TOTP_DISABLED_MESSAGE = (
    "Your authenticator app is disabled after too many wrong codes. Use a recovery code."
)


def totp_disabled(device: TOTPDevice) -> bool:
    """Whether TOTP codes are refused outright after MFA["TOTP_MAX_FAILURES"] consecutive failures
    (NIST SP 800-63B 3.2.2: no more than 100); a successful recovery code resets the count."""
    limit = mfa_settings.TOTP_MAX_FAILURES
    return bool(limit) and device.failure_count >= limit
