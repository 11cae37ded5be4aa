"""Which second factors a user has, and the names of the methods.

``has_mfa(user)`` is the one answer to "does this user have MFA"; every layer asks it. The
per-method verification rules live in mfa.methods (one module per method).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from mfa.methods import recovery_codes, totp
from mfa.models import TOTPDevice


class Method(StrEnum):
    """An authentication method, as named in the API (login's ``methods``) and in events."""

    PASSWORD = "password"  # noqa: S105 - a method name, not a secret
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


# The second factors a user with MFA on may answer a challenge with, in the order offered.
SECOND_FACTORS: tuple[Method, ...] = (Method.TOTP, Method.RECOVERY_CODE)


def totp_device_of(user: Any) -> TOTPDevice | None:
    """The user's TOTP device, pending or confirmed, or None.

    No query when the device was loaded with the user (``select_related("mfa_device")``, as the
    API's authentication and the admin's user list do); otherwise one, never cached on the user,
    so an answer is never stale after MFA changes.
    """
    relation = TOTPDevice._meta.get_field("user").remote_field  # user.mfa_device
    if relation.is_cached(user):
        return relation.get_cached_value(user)
    if getattr(user, "pk", None) is None:
        return None
    # [:1], not first(): one row at most, so no ORDER BY to build.
    return next(iter(TOTPDevice.objects.filter(user=user)[:1]), None)


def confirmed_totp_device_of(user: Any) -> TOTPDevice | None:
    device = totp_device_of(user)
    return device if device is not None and device.confirmed else None


def has_mfa(user: Any) -> bool:
    """Whether ``user`` has a confirmed second factor."""
    return confirmed_totp_device_of(user) is not None


def second_factors_of(user: Any) -> list[Method]:
    """The methods ``user`` can answer an MFA challenge with (empty without MFA)."""
    return list(SECOND_FACTORS) if has_mfa(user) else []


def parse_code(value: Any, *, allow_recovery_code: bool = True) -> str | None:
    """The canonical form of a code a user typed: six ASCII digits (TOTP), or, if allowed, a
    recovery code (upper case, no spaces or dashes). None when it can be neither.

    The one parser behind the API's code fields and the pages' code forms.
    """
    six = totp.normalize_code(value)
    if six is not None:
        return six
    if allow_recovery_code:
        return recovery_codes.normalize(value)
    return None
