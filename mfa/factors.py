"""Which second factors a user has, and the names of the methods.

``has_mfa(user)`` is the one answer to "does this user have MFA"; every layer asks it. The
per-method verification rules live in mfa.methods (one module per method).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db import IntegrityError

from mfa.methods import recovery_codes, totp, webauthn
from mfa.models import MFAAccount, TOTPDevice


class Method(StrEnum):
    """An authentication method, as named in the API (login's ``methods``, me's ``methods``) and in
    events."""

    PASSWORD = "password"  # noqa: S105 - a method name, not a secret
    TOTP = "totp"
    WEBAUTHN = "webauthn"
    RECOVERY_CODE = "recovery_code"


# The second factors a user with MFA on may answer a challenge with, in the order offered.
SECOND_FACTORS: tuple[Method, ...] = (Method.TOTP, Method.WEBAUTHN, Method.RECOVERY_CODE)


# The user's one-to-one MFA rows by related name. A user loaded with
# ``select_related(*USER_ROWS)`` answers every factor question below without a query: the API's
# authentication does it, and so can a user manager's ``get_by_natural_key`` (authsite's does), which
# spares a password login two reads.
USER_ROWS: tuple[str, ...] = ("mfa_account", "mfa_device")


def _related_row(user: Any, model: type, query) -> Any:
    """The one-to-one row ``model`` of ``user`` (or None): no query when it was loaded with the
    user (``select_related``, as the API's authentication and the admin's user list do); otherwise
    one, never cached on the user, so an answer is never stale after MFA changes."""
    relation = model._meta.get_field("user").remote_field
    if relation.is_cached(user):
        return relation.get_cached_value(user)
    if getattr(user, "pk", None) is None:
        return None
    # [:1], not first(): one row at most, so no ORDER BY to build.
    return next(iter(query.filter(user=user)[:1]), None)


def forget_related_row(user: Any, model: type) -> None:
    """Drop the one-to-one row ``model`` cached on ``user`` (after it was deleted or changed), so
    the next ``_related_row`` reads it again."""
    relation = model._meta.get_field("user").remote_field
    if relation.is_cached(user):
        relation.delete_cached_value(user)


def totp_device_of(user: Any) -> TOTPDevice | None:
    """The user's TOTP device, pending or confirmed, or None."""
    return _related_row(user, TOTPDevice, TOTPDevice.objects)


def confirmed_totp_device_of(user: Any) -> TOTPDevice | None:
    device = totp_device_of(user)
    return device if device is not None and device.confirmed else None


def account_of(user: Any, *, create: bool = False) -> MFAAccount | None:
    """The user's MFAAccount (lockout, recovery code count, WebAuthn user handle), or None; with
    ``create``, made on first use (a concurrent creation is read back)."""
    account = _related_row(user, MFAAccount, MFAAccount.objects)
    if account is not None or not create:
        return account
    try:
        account = MFAAccount.objects.create(user=user, user_handle=new_user_handle())
    except IntegrityError:
        account = MFAAccount.objects.get(user=user)
    MFAAccount._meta.get_field("user").remote_field.set_cached_value(user, account)
    return account


def new_user_handle() -> str:
    """An account's WebAuthn user handle as stored: webauthn.new_user_handle()'s 64 random bytes,
    base64url without padding."""
    return webauthn.b64url_encode(webauthn.new_user_handle())


def confirmed_factors(user: Any) -> list[Method]:
    """The second factors ``user`` has confirmed: TOTP and/or security keys."""
    found = []
    if confirmed_totp_device_of(user) is not None:
        found.append(Method.TOTP)
    account = account_of(user)
    if account is not None and account.key_count > 0:
        found.append(Method.WEBAUTHN)
    return found


def has_mfa(user: Any) -> bool:
    """Whether ``user`` has at least one confirmed second factor."""
    return bool(confirmed_factors(user))


def second_factors_of(user: Any) -> list[Method]:
    """The methods ``user`` can answer an MFA challenge with (empty without MFA): the confirmed
    factors, then recovery codes."""
    found = confirmed_factors(user)
    return [*found, Method.RECOVERY_CODE] if found else []


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
